//! The tracing subscriber: what the library logs (Okta calls, retries, rate-limit waits, token
//! refreshes) goes to stderr, as text or JSON lines. `RUST_LOG` chooses the levels when set; else
//! `remedy -v` (info), `-vv` (debug), `-vvv` (trace); with neither, only warnings and errors are shown.
//! Secrets never reach it: the client logs no header or token (`okta::secret`).

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The filter for `verbose` `-v` flags, unless `RUST_LOG` is set.
fn filter(verbose: u8) -> EnvFilter {
    if let Ok(f) = EnvFilter::try_from_default_env() {
        return f;
    }
    EnvFilter::new(match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    })
}

/// Installs the subscriber for this process.
pub fn install(verbose: u8, format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(verbose))
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    if let Err(e) = installed {
        eprintln!("warning: logging is off: {e}");
    }
}
