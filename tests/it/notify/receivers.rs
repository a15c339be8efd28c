//! Two local receivers on 127.0.0.1:0, both in the test process: a webhook (axum) that records every
//! request (path, `X-Idempotency-Key`, JSON body) and answers from a script (a status, or hanging
//! until the client goes away), and an SMTP server that speaks enough of the protocol for lettre's
//! plain transport (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and keeps each message's text.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// How the webhook answers one request.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    Status(u16),
    /// Never answer (the request stays open until the client is gone).
    Hang,
}

/// One request the webhook received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub key: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct HookState {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Reply>>,
    otherwise: Mutex<Option<Reply>>,
}

/// A webhook receiver.
#[derive(Clone)]
pub struct Hook {
    base: String,
    state: Arc<HookState>,
}

impl Hook {
    /// Starts a receiver answering 200 to everything.
    pub async fn start() -> Hook {
        let state = Arc::new(HookState::default());
        let app = Router::new()
            .route("/{*path}", post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Hook { base, state }
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// The next requests get these answers, in order; after them, [`Hook::otherwise`]'s (200 unless
    /// set).
    pub fn script(&self, replies: &[Reply]) {
        self.state
            .script
            .lock()
            .unwrap()
            .extend(replies.iter().copied());
    }

    pub fn otherwise(&self, reply: Reply) {
        *self.state.otherwise.lock().unwrap() = Some(reply);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }
}

async fn receive(
    State(state): State<Arc<HookState>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    state.received.lock().unwrap().push(Received {
        path,
        key: headers
            .get("x-idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: serde_json::from_str(&body).unwrap_or(Value::String(body)),
    });
    let reply = state.script.lock().unwrap().pop_front();
    let reply = reply
        .or(*state.otherwise.lock().unwrap())
        .unwrap_or(Reply::Status(200));
    match reply {
        Reply::Status(s) => StatusCode::from_u16(s).unwrap(),
        Reply::Hang => std::future::pending().await,
    }
}

/// An SMTP receiver; every message's DATA (headers and body, CRLF line ends) in order.
#[derive(Clone)]
pub struct Smtp {
    pub port: u16,
    messages: Arc<Mutex<Vec<Mail>>>,
}

/// One message as the SMTP receiver got it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl Smtp {
    pub async fn start() -> Smtp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let store = messages.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(session(socket, store.clone()));
            }
        });
        Smtp { port, messages }
    }

    pub fn messages(&self) -> Vec<Mail> {
        self.messages.lock().unwrap().clone()
    }
}

/// One SMTP session, bounded: at most 1000 lines, each read line at most 64 KiB.
async fn session(socket: tokio::net::TcpStream, store: Arc<Mutex<Vec<Mail>>>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    if !say(&mut write, "220 receiver.test ESMTP ready\r\n").await {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    for _ in 0..1000 {
        let mut line = String::new();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) if line.len() > 65536 => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        let answer = if upper.starts_with("EHLO") {
            "250-receiver.test\r\n250 8BITMIME\r\n".to_string()
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            "250 ok\r\n".to_string()
        } else if upper.starts_with("RSET") {
            from.clear();
            to.clear();
            "250 ok\r\n".to_string()
        } else if upper.starts_with("MAIL FROM:") {
            from = command[10..].trim().to_string();
            "250 ok\r\n".to_string()
        } else if upper.starts_with("RCPT TO:") {
            to.push(command[8..].trim().to_string());
            "250 ok\r\n".to_string()
        } else if upper == "DATA" {
            if !say(&mut write, "354 end with <CRLF>.<CRLF>\r\n").await {
                return;
            }
            let mut data = String::new();
            loop {
                let mut l = String::new();
                match lines.read_line(&mut l).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if l == ".\r\n" {
                    break;
                }
                // Dot-stuffing undone.
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                if data.len() > 1024 * 1024 {
                    return;
                }
            }
            store.lock().unwrap().push(Mail {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            });
            "250 queued\r\n".to_string()
        } else if upper == "QUIT" {
            // The session ends whether or not the client reads the goodbye.
            say(&mut write, "221 bye\r\n").await;
            return;
        } else {
            "502 not implemented\r\n".to_string()
        };
        if !say(&mut write, &answer).await {
            return;
        }
    }
}

/// Writes one reply; `false` when the client is gone.
async fn say(w: &mut tokio::net::tcp::OwnedWriteHalf, text: &str) -> bool {
    w.write_all(text.as_bytes()).await.is_ok()
}
