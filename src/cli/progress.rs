//! Progress of a live collection on stderr: a spinner on a terminal; off a terminal (CI, cron) plain
//! lines, one per phase and at most one every few seconds while pages and subjects are read; nothing
//! with `--quiet` or `--output json`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{print, Output};
use crate::collect::Progress;

/// How often a plain progress line may repeat within one phase.
const PERIOD: Duration = Duration::from_secs(5);

/// Where progress goes.
pub enum CollectProgress {
    Off,
    Spinner {
        bar: indicatif::ProgressBar,
        pages: AtomicUsize,
    },
    Lines {
        pages: AtomicUsize,
        /// When the last line was printed.
        last: Mutex<Option<Instant>>,
    },
}

impl CollectProgress {
    pub fn new(quiet: bool, output: Output) -> CollectProgress {
        if quiet || output != Output::Text {
            CollectProgress::Off
        } else if print::stderr_is_terminal() {
            CollectProgress::Spinner {
                bar: spinner(),
                pages: AtomicUsize::new(0),
            }
        } else {
            CollectProgress::Lines {
                pages: AtomicUsize::new(0),
                last: Mutex::new(None),
            }
        }
    }

    /// Tells of `p`.
    pub fn report(&self, p: Progress) {
        match self {
            CollectProgress::Off => {}
            CollectProgress::Spinner { bar, pages } => bar.set_message(message(&p, pages)),
            CollectProgress::Lines { pages, last } => {
                let text = message(&p, pages);
                let Ok(mut last) = last.lock() else { return };
                let due = match p {
                    Progress::Phase(_) => true,
                    Progress::Subject { done, total } if done == total => true,
                    _ => last.is_none_or(|t| t.elapsed() >= PERIOD),
                };
                if due {
                    eprintln!("collecting: {text}");
                    *last = Some(Instant::now());
                }
            }
        }
    }

    pub fn finish(&self) {
        if let CollectProgress::Spinner { bar, .. } = self {
            bar.finish_and_clear();
        }
    }
}

fn message(p: &Progress, pages: &AtomicUsize) -> String {
    match p {
        Progress::Phase(m) => m.to_string(),
        Progress::Page { items } => {
            let n = pages.fetch_add(1, Ordering::Relaxed) + 1;
            format!("page {n} ({items} items)")
        }
        Progress::Subject { done, total } => format!("subjects {done}/{total}"),
    }
}

fn spinner() -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::new_spinner();
    b.enable_steady_tick(Duration::from_millis(120));
    b.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    b
}
