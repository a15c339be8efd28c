//! `remedy serve` and the commands that talk to a running service through its store: `approvals`,
//! `approve`, `deny`, `pause`, `resume`. The service itself is `crate::serve`'s.

use std::path::Path;

use serde_json::json;

use super::print;
use super::{CliError, Exit, Output, ServeArgs, ServiceArgs};
use crate::serve::{ServeConfig, ServeOptions, Service, Store};

/// A control command.
pub enum Control {
    List {
        service: ServiceArgs,
        all: bool,
    },
    Decide {
        id: i64,
        approve: bool,
        reason: Option<String>,
        service: ServiceArgs,
    },
    Pause {
        paused: bool,
        service: ServiceArgs,
    },
}

/// Runs the service until SIGTERM or Ctrl-C; exits 0 after a graceful stop.
pub fn serve(args: &ServeArgs) -> Result<Exit, CliError> {
    let env = |k: &str| std::env::var(k).ok();
    let config = ServeConfig::load(&args.config, &env)?;
    let opts = ServeOptions {
        insecure_listen: args.insecure_listen,
    };
    print::block_on(async move {
        let service = Service::start(config, opts).await?;
        // The address on stdout, so a supervisor or a test started with port 0 can find it.
        print::text(&format!("listening on http://{}\n", service.addr()))?;
        service.run_until(stop_signal()).await?;
        Ok::<_, CliError>(())
    })??;
    Ok(Exit::Ok)
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; stopping on Ctrl-C only");
                tokio::signal::ctrl_c().await.ok();
            }
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.ok();
}

fn operator(service: &ServiceArgs) -> String {
    service
        .operator
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("USERNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

fn store(service: &ServiceArgs) -> Result<(Store, std::path::PathBuf), CliError> {
    let dir = ServeConfig::state_dir_of(&service.config)?;
    Ok((Store::open_existing(&dir)?, dir))
}

/// The plan id a service plan's file name carries (`<time>-<plan id>.json`).
fn plan_id(plan: &str) -> String {
    Path::new(plan)
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.split_once('-'))
        .map(|(_, id)| id.to_string())
        .unwrap_or_default()
}

pub fn control(command: Control, output: Output) -> Result<Exit, CliError> {
    match command {
        Control::List { service, all } => {
            let (store, _) = store(&service)?;
            let approvals = store.approvals(all)?;
            if output == Output::Json {
                print::serialized(&json!({ "ok": true, "approvals": approvals }))?;
                return Ok(Exit::Ok);
            }
            if approvals.is_empty() {
                print::text("no approvals pending\n")?;
            }
            for a in approvals {
                let decided = match (&a.decided_by, &a.reason) {
                    (Some(by), Some(r)) => format!(" by {by}: {r}"),
                    (Some(by), None) => format!(" by {by}"),
                    _ => String::new(),
                };
                print::text(&format!(
                    "#{:<5} {:<9} {:<14} {:<32} {}  (plan {}, asked {}){decided}\n",
                    a.id,
                    a.state,
                    a.remediation,
                    a.subject,
                    a.actions,
                    plan_id(&a.plan),
                    a.requested
                ))?;
            }
            Ok(Exit::Ok)
        }
        Control::Decide {
            id,
            approve,
            reason,
            service,
        } => {
            let (store, dir) = store(&service)?;
            let who = operator(&service);
            let a = store.decide(id, approve, &who, reason.as_deref())?;
            let result = match &a.reason {
                Some(r) => format!("{}: {r}", a.state),
                None => a.state.clone(),
            };
            crate::apply::record_decision(
                &dir.join("audit.jsonl"),
                &plan_id(&a.plan),
                &who,
                &a.subject,
                approve,
                &format!("approval #{id} ({})", a.actions),
                &result,
            )?;
            if output == Output::Json {
                print::serialized(&json!({ "ok": true, "approval": a }))?;
            } else {
                print::text(&format!(
                    "approval #{id} {} by {who}: {} ({})\n",
                    a.state, a.subject, a.actions
                ))?;
            }
            Ok(Exit::Ok)
        }
        Control::Pause { paused, service } => {
            let (store, _) = store(&service)?;
            let who = operator(&service);
            store.set_paused(paused, &who)?;
            let what = if paused {
                "paused: the service changes nothing until `remedy resume`"
            } else {
                "resumed: the service applies again"
            };
            if output == Output::Json {
                print::serialized(&json!({ "ok": true, "paused": paused, "by": who }))?;
            } else {
                print::text(&format!("{what} (by {who})\n"))?;
            }
            Ok(Exit::Ok)
        }
    }
}
