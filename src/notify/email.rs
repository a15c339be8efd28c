//! The e-mail sink: one plain-text message per attempt over SMTP with `lettre` (STARTTLS required,
//! implicit TLS, or plain to a loopback host for local tests), credentials read from the environment.
//! The delivery key is the message's `Message-ID`, so a mail system or a person can spot a resend.

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::config::{EmailTarget, Security};
use super::{Attempt, Event};

/// An SMTP transport and envelope ready to send.
pub(super) struct Email {
    pub(super) transport: AsyncSmtpTransport<Tokio1Executor>,
    pub(super) from: Mailbox,
    pub(super) to: Vec<Mailbox>,
}

impl Email {
    /// Builds the transport; `credentials` were read from the environment by the caller.
    pub(super) fn new(
        target: &EmailTarget,
        credentials: Option<(String, String)>,
        timeout: std::time::Duration,
    ) -> Result<Email, String> {
        let builder = match target.security {
            Security::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&target.host)
                    .map_err(|e| format!("cannot set up TLS for `{}`: {e}", target.host))?
            }
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&target.host)
                .map_err(|e| format!("cannot set up TLS for `{}`: {e}", target.host))?,
            Security::Plain => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(target.host.as_str())
            }
        };
        let mut builder = builder.port(target.port).timeout(Some(timeout));
        if let Some((user, password)) = credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        let mailbox = |a: &str| {
            a.parse::<Mailbox>()
                .map_err(|e| format!("address `{a}`: {e}"))
        };
        Ok(Email {
            transport: builder.build(),
            from: mailbox(&target.from)?,
            to: target
                .to
                .iter()
                .map(|a| mailbox(a))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The message this sink sends for `event`.
    pub(super) fn message(&self, event: &Event, key: &str) -> Result<Message, String> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(event.headline())
            .message_id(Some(format!("<{key}@okta-remedy>")))
            .date(event.time.into())
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
            .body(event.text())
            .map_err(|e| format!("cannot build the message: {e}"))
    }

    /// One attempt: `Ok` with the server's answer.
    pub(super) async fn send(&self, event: &Event, key: &str) -> Result<String, Attempt> {
        let message = self.message(event, key).map_err(Attempt::Final)?;
        match self.transport.send(message).await {
            Ok(response) => Ok(format!("SMTP {}", response.code())),
            // A 5xx answer is the server's final no; anything else (4xx, network, TLS, timeout) may
            // pass.
            Err(e) if e.is_permanent() => Err(Attempt::Final(e.to_string())),
            Err(e) => Err(Attempt::Retry(e.to_string())),
        }
    }
}
