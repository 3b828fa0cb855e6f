//! The matrix-sync engine: keeps a homeserver in agreement with the
//! platform's desired state. Each write is a [command](commands), which
//! checks the [rules] and records the change with a job for its scope in one
//! store write; the [workers](worker) claim jobs and [reconcile] them
//! (observe the rooms, plan with `core::plan`, apply through the
//! [`Homeserver`]), and record what they did in the [audit] trail.
//! [Pushed events](push) and periodic passes enqueue the same jobs, so drift
//! repair and crash recovery take the same path.
//!
//! The engine knows nothing of HTTP: `crates/server` builds an [`Engine`]
//! from its configuration, serves the API over it, and starts its
//! background work with [`Engine::spawn_background`].

#![warn(missing_docs)]

pub mod audit;
pub mod clock;
pub mod commands;
pub mod fake_homeserver;
pub mod homeserver;
pub mod key_backup;
pub mod locks;
pub mod metrics;
pub mod profile;
pub mod provision;
pub mod purpose;
pub mod push;
pub mod reconcile;
pub mod rules;
pub mod wakeup;
pub mod webhook;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use matrix_sync_core::Backoff;
use matrix_sync_store::Store;
use secrecy::SecretString;
use tokio::sync::OnceCell;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use url::Url;

pub use homeserver::{Homeserver, PlanRooms};
pub use metrics::EngineMetrics;
pub use reconcile::ReconcileError;

/// What the engine is told by configuration.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Reconcile workers in this process.
    pub workers: usize,
    /// How often every scope is reconciled without a change.
    pub anti_entropy: Duration,
    /// Retries of a failed reconcile.
    pub backoff: Backoff,
    /// How long archived scopes are kept before their hard delete.
    pub retention: Duration,
    /// The homeserver admin's token: rooms are purged with it, abandoned
    /// without it.
    pub admin_token: Option<SecretString>,
    /// The platform's URL, for links in the bot's messages.
    pub app_url: Option<Url>,
    /// Seals members' key-backup keys; `None`: key backup is off.
    pub backup_secret: Option<SecretString>,
    /// Where notices of new messages go; `None`: nowhere.
    pub webhook: Option<webhook::WebhookSettings>,
}

/// The reconciler and what it shares between its workers. Cheap to share
/// behind an `Arc`.
pub struct Engine {
    /// Desired state, the job queue, rooms, audit: everything durable.
    pub store: Arc<dyn Store>,
    /// The homeserver the rooms live on.
    pub homeserver: Arc<dyn Homeserver>,
    /// What configuration told the engine.
    pub settings: EngineSettings,
    /// Reconciles, actions and refusals counted.
    pub metrics: EngineMetrics,
    /// Wakes idle workers when new work is enqueued in this process.
    pub wakeup: wakeup::Wakeup,
    /// Rooms' state as last seen or left by this process.
    pub room_cache: reconcile::room_cache::RoomCache,
    /// Members' key backups (made, sealed, opened, filled with the bot's keys).
    pub key_backups: key_backup::KeyBackups,
    /// The bot's encrypted messaging, once its device is set up (started by
    /// the service, which owns the bot's store and settings).
    pub bot: OnceCell<matrix_sync_bot::Bot>,
    /// One read-change-write of a user's account data at a time.
    pub account_data_locks: locks::KeyedLocks,
    /// Requests to the platform: its webhook, its users' pictures.
    pub outbound: reqwest::Client,
}

/// The client for requests to the platform: bounded in time, a few
/// redirects at most.
fn outbound_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("matrix-sync/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

impl Engine {
    /// An engine on a store and a homeserver; nothing runs until [`Engine::spawn_background`].
    pub fn new(store: Arc<dyn Store>, homeserver: Arc<dyn Homeserver>, settings: EngineSettings) -> Self {
        // A cached room outlives at most one anti-entropy pass: a push that
        // never arrived is caught by the next pass after that.
        let cache_ttl = settings.anti_entropy / 2;
        Self {
            store,
            homeserver,
            metrics: EngineMetrics::default(),
            wakeup: wakeup::Wakeup::default(),
            room_cache: reconcile::room_cache::RoomCache::new(cache_ttl),
            key_backups: key_backup::KeyBackups::new(settings.backup_secret.as_ref()),
            bot: OnceCell::new(),
            account_data_locks: locks::KeyedLocks::default(),
            outbound: outbound_client(),
            settings,
        }
    }

    /// Starts the workers, the anti-entropy passes and the retention
    /// sweeper; they stop when `cancel` is cancelled.
    pub fn spawn_background(self: &Arc<Self>, cancel: &CancellationToken, tasks: &mut JoinSet<()>) {
        for _ in 0..self.settings.workers {
            tasks.spawn(worker::run(self.clone(), cancel.clone()));
        }
        tasks.spawn(worker::anti_entropy(self.clone(), cancel.clone()));
        tasks.spawn(worker::retention_sweeper(self.clone(), cancel.clone()));
    }
}
