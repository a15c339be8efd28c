//! The background activity of a running simulator, for testing a long-running service offline: the
//! trickle of new failing assignments, users completing their resets, and event hook deliveries.
//!
//! Owns their shared state (`Activity`, kept in `Shared`) and the tasks `Sim::start` spawns for them.
//! What each does is in `trickle`, `resets` and `hooks`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::hooks::{self, HookRecords};
use super::model::{now, OrgName};
use super::resets::Resets;
use super::runtime::{lock, Shared};
use super::tap::LogTap;
use super::trickle::{self, Trickle};
use super::SimConfig;

/// How often the clock task adds trickled assignments and completes due resets.
const TICK: Duration = Duration::from_millis(20);

/// State of the background activity.
#[derive(Debug)]
pub(crate) struct Activity {
    pub trickle: Mutex<Trickle>,
    pub hooks: HookRecords,
    trickle_per_minute: u32,
    complete_resets_after: Option<Duration>,
}

impl Activity {
    pub(crate) fn new(config: &SimConfig) -> Self {
        Activity {
            trickle: Mutex::new(Trickle::new(config.seed)),
            hooks: HookRecords::new(config.event_hooks.hooks.len()),
            trickle_per_minute: config.trickle_per_minute,
            complete_resets_after: config.complete_resets_after,
        }
    }
}

/// Spawns the clock task (when the trickle or reset completion is on) and one task per event hook.
pub(crate) fn spawn(shared: &Arc<Shared>, config: &SimConfig) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    let activity = &shared.activity;
    if activity.trickle_per_minute > 0 || activity.complete_resets_after.is_some() {
        tasks.push(tokio::spawn(clock(Arc::clone(shared))));
    }
    for (index, hook) in config.event_hooks.hooks.iter().enumerate() {
        let task = hooks::HookTask {
            index,
            hook: hook.clone(),
            duplicate_rate: config.event_hooks.duplicate_rate,
            timeout: config.event_hooks.timeout,
            seed: config.seed,
        };
        tasks.push(tokio::spawn(hooks::run(Arc::clone(shared), task)));
    }
    tasks
}

/// Adds trickled assignments as the clock makes them due and completes resets as they fall due.
async fn clock(shared: Arc<Shared>) {
    let started = Instant::now();
    let per_minute = shared.activity.trickle_per_minute;
    let mut generation = shared.generation();
    let new_resets = |shared: &Shared| {
        shared
            .activity
            .complete_resets_after
            .map(|after| Resets::new(after, LogTap::at_end(shared.read_world().org(OrgName::Hub))))
    };
    let mut resets = new_resets(&shared);
    let mut trickling = per_minute > 0;
    loop {
        tokio::time::sleep(TICK).await;
        if shared.generation() != generation {
            generation = shared.generation();
            resets = new_resets(&shared);
        }
        let due = lock(&shared.activity.trickle).due(per_minute, started.elapsed());
        if trickling && due > 0 {
            match trickle::add(&shared, due) {
                Ok(made) => tracing::debug!(added = made.len(), "trickle"),
                Err(e) => {
                    tracing::error!(error = %e, "trickle stopped");
                    trickling = false;
                }
            }
        }
        if let Some(resets) = resets.as_mut() {
            for id in resets.complete_due(&shared, now()) {
                tracing::debug!(user = %id, "a user completed a password reset");
            }
        }
    }
}
