//! `remedy serve`: continuous remediation. Work comes from the System Log (polled, the default) or
//! from Okta Event Hooks; each unit goes through the library pipeline (collect → evaluate → plan →
//! apply) exactly as `remedy plan` and `remedy apply` would, under an autonomy policy, rate guards
//! and a kill switch; waiting subjects are re-checked on a schedule and on the hub events that may
//! end their wait. State lives in one SQLite store (`store.rs`) beside the plans, journals and audit
//! log in the state directory, so a restart, or a SIGKILL, loses nothing and repeats nothing.
//!
//! - `config.rs`: the `service` and `remediations` sections of `remedy.yaml`;
//! - `store.rs`: the durable state (cursors, events, work, approvals, changes, control);
//! - `events.rs`: which events start work and which end waits;
//! - `poll.rs`: System Log polling with a durable cursor; `hook.rs`: the event hook endpoint;
//! - `worker.rs`: events → work → plan → apply, with the policy and guards;
//! - `metrics.rs`: Prometheus metrics; `http.rs`: health, readiness, metrics and the hook routes;
//! - `console.rs`: the review console (signed-in pages on the same listener), when configured.
//!
//! It does not decide what to do (the rulebook does, through `engine` and `plan`), nor change Okta
//! itself (`apply` does).

pub mod config;
mod console;
pub mod events;
pub mod hook;
mod http;
pub mod latency;
pub mod metrics;
pub mod poll;
pub mod store;
mod worker;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

pub use config::{
    Autonomy, Policy, RateGuard, Remediation, ServeConfig, ServeConfigError, SourceMode,
};
use metrics::Metrics;
pub use store::{Approval, Store, StoreError, Work, WorkState};

use crate::okta::OktaClient;
use crate::pipeline::{catalogue, OrgDirectory};
use crate::rulebook::SubjectKind;

/// Why the service could not start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ServeConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Orgs(#[from] crate::pipeline::OrgError),
    #[error("remediation `{name}`: {message}")]
    Remediation { name: String, message: String },
    #[error("no org named `{0}` is configured")]
    UnknownOrg(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("refusing to listen on {0}, which is not a loopback address, without TLS: set `service.tlsCert` and `service.tlsKey`, or pass --insecure-listen behind a TLS-terminating proxy")]
    InsecureListen(SocketAddr),
    #[error("TLS termination is not built into this release: listen on loopback behind a TLS-terminating proxy (with --insecure-listen for a non-loopback address)")]
    TlsUnsupported,
    #[error("org `{org}` refused the service's credentials, the service stopped: {message}")]
    Refused { org: String, message: String },
    #[error("the review console cannot start: {0}")]
    Console(String),
    #[error("planning failed: {0}")]
    Plan(String),
    #[error("applying failed, the service stopped: {0}")]
    Apply(String),
    #[error(transparent)]
    NotifyConfig(#[from] crate::notify::NotifyConfigError),
    #[error(transparent)]
    Notify(#[from] crate::notify::NotifyError),
    #[error("cannot write `{path}`: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// How the service runs besides its config.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Listen on a non-loopback address without TLS (behind a proxy), acknowledged in the log.
    pub insecure_listen: bool,
}

/// What every task of the service shares.
pub(crate) struct Shared {
    pub config: ServeConfig,
    pub store: Store,
    pub metrics: Metrics,
    /// One client per configured org the remediations use (shared, so rate-limit buckets are too).
    pub orgs: BTreeMap<String, OktaClient>,
    pub remediations: Vec<worker::Running>,
    /// Wakes the worker when events arrive.
    pub wake: Notify,
    /// Tells every task to stop.
    pub shutdown: watch::Sender<bool>,
    /// Tells a running apply to start no new subject.
    pub cancel: Arc<AtomicBool>,
    /// Set once every task started; cleared when stopping.
    pub ready: AtomicBool,
    /// The `notifications` sinks, when the config has them: approvals needed, failures, guards hit,
    /// plans written, and the rulebooks' `notify` steps.
    pub notifier: Option<Arc<crate::notify::Notifier>>,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// Counts `offered` events from `source` of which `added` were new, and wakes the worker when
    /// some were.
    fn stored(&self, source: &str, org: &str, offered: usize, added: usize) {
        let labels = metrics::SourceLabels {
            source: source.into(),
            org: org.to_string(),
        };
        self.metrics
            .events_received
            .get_or_create(&labels)
            .inc_by(added as u64);
        self.metrics
            .events_duplicate
            .get_or_create(&labels)
            .inc_by(offered.saturating_sub(added) as u64);
        if added > 0 {
            tracing::debug!(source, org, new = added, "events stored");
            self.wake.notify_one();
        }
    }
}

/// A started service: its address, and how to stop it.
pub struct Service {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tasks: tokio::task::JoinSet<Result<(), ServeError>>,
}

impl Service {
    /// Loads the remediations, opens the store, binds the listener and starts the tasks.
    pub async fn start(config: ServeConfig, opts: ServeOptions) -> Result<Service, ServeError> {
        if config.tls.is_some() {
            return Err(ServeError::TlsUnsupported);
        }
        if !config.listen.ip().is_loopback() {
            if !opts.insecure_listen {
                return Err(ServeError::InsecureListen(config.listen));
            }
            tracing::warn!(addr = %config.listen, "listening on a non-loopback address without TLS (--insecure-listen): put a TLS-terminating proxy in front");
        }
        let directory = OrgDirectory::load(Some(&config.path))?;
        let mut orgs = BTreeMap::new();
        let mut remediations = Vec::new();
        for r in &config.remediations {
            let rb = catalogue::load(&r.rules).map_err(|e| ServeError::Remediation {
                name: r.name.clone(),
                message: e.to_string(),
            })?;
            if rb.subjects.kind != SubjectKind::Org2orgAssignment {
                return Err(ServeError::Remediation {
                    name: r.name.clone(),
                    message: "the service runs `org2org_assignment` rulebooks (work comes from provisioning failures); run `user` rulebooks with `remedy plan` and `remedy apply`".into(),
                });
            }
            let hub = r.hub.clone().unwrap_or_else(|| rb.subjects.hub.clone());
            let spoke = r.spoke.clone().unwrap_or_else(|| rb.subjects.spoke.clone());
            for org in [&hub, &spoke] {
                if !orgs.contains_key(org) {
                    orgs.insert(org.clone(), directory.client(org)?);
                }
            }
            remediations.push(worker::Running {
                config: r.clone(),
                hub,
                spoke,
                guard_raised: AtomicBool::new(false),
            });
        }
        let notifier = match crate::notify::read_config(&config.path)? {
            Some(n) => Some(Arc::new(crate::notify::Notifier::new(n)?)),
            None => None,
        };
        let store = Store::open(&config.state_dir)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServeError::Listen {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            config,
            store,
            metrics: Metrics::new(),
            orgs,
            remediations,
            wake: Notify::new(),
            shutdown,
            cancel: Arc::new(AtomicBool::new(false)),
            ready: AtomicBool::new(false),
            notifier,
        });
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(http::serve(shared.clone(), listener));
        if shared.config.sources.contains(&SourceMode::Poll) {
            for (org, client) in &shared.orgs {
                let lookback = lookback(&shared, org);
                tasks.spawn(poll::run(shared.clone(), client.clone(), lookback));
            }
        }
        shared.ready.store(true, Ordering::SeqCst);
        tracing::info!(%addr, remediations = shared.remediations.len(), sources = ?shared.config.sources, "remedy serve is running");
        Ok(Service {
            shared,
            addr,
            tasks,
        })
    }

    /// The address the HTTP endpoints listen on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs until `stop` resolves or a task fails; then stops gracefully: no new work is taken, a
    /// running apply starts no new subject and finishes its steps in flight, the journal records
    /// them. Returns the error that stopped the service, if one did.
    ///
    /// The work loop runs on the caller's task (an apply run borrows across awaits in a way that is
    /// not `Send`); polling and HTTP run on their own tasks.
    pub async fn run_until(
        mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), ServeError> {
        let worker = run_worker(self.shared.clone());
        tokio::pin!(worker);
        let mut worker_done = false;
        let failed = tokio::select! {
            _ = stop => None,
            res = &mut worker => {
                worker_done = true;
                res.err()
            }
            res = self.tasks.join_next() => match res {
                Some(Ok(Err(e))) => Some(e),
                Some(Err(join)) => Some(ServeError::Apply(format!("a service task ended: {join}"))),
                _ => None,
            },
        };
        tracing::info!("stopping: no new work is taken; work in flight finishes");
        self.shared.ready.store(false, Ordering::SeqCst);
        self.shared.cancel.store(true, Ordering::SeqCst);
        self.shared.shutdown.send_replace(true);
        self.shared.wake.notify_one();
        let mut first = failed;
        if !worker_done {
            if let Err(e) = worker.await {
                first.get_or_insert(e);
            }
        }
        while let Some(res) = self.tasks.join_next().await {
            if let Ok(Err(e)) = res {
                first.get_or_insert(e);
            }
        }
        match first {
            Some(e) => Err(e),
            None => {
                tracing::info!("stopped");
                Ok(())
            }
        }
    }
}

/// How far back a first poll of `org` reads: the longest System Log window of the rulebooks that
/// read it, so failures already in the log are picked up at the first start.
fn lookback(shared: &Shared, org: &str) -> chrono::Duration {
    shared
        .remediations
        .iter()
        .filter(|r| r.spoke == org || r.hub == org)
        .filter_map(|r| catalogue::load(&r.config.rules).ok())
        .filter_map(|rb| chrono::Duration::from_std(rb.subjects.since).ok())
        .max()
        .unwrap_or(chrono::Duration::days(1))
}

/// The work loop: ingest events, run each remediation's cycle, refresh gauges; wakes on new events
/// and at least every second (for due waits and retries).
async fn run_worker(shared: Arc<Shared>) -> Result<(), ServeError> {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        worker::ingest(&shared)?;
        for r in &shared.remediations {
            if shared.stopping() {
                return Ok(());
            }
            worker::cycle(&shared, r).await?;
        }
        worker::refresh_gauges(&shared)?;
        tokio::select! {
            _ = shutdown.changed() => return Ok(()),
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
