use std::sync::Arc;

use matrix_sync_matrix::AppserviceClient;
use matrix_sync_store::Store;
use tokio::sync::OnceCell;

use crate::config::Config;
use crate::metrics::Metrics;

/// What every handler and worker shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub homeserver: AppserviceClient,
    pub metrics: Arc<Metrics>,
    /// Wakes idle workers when new work is enqueued in this process.
    pub wakeup: Arc<crate::wakeup::Wakeup>,
    /// Verifies identity-provider tokens for `/v1/sessions`, when configured.
    pub verifier: Option<Arc<crate::oidc::TokenVerifier>>,
    /// Rooms' state as last seen or left by this process.
    pub room_cache: Arc<crate::reconcile::room_cache::RoomCache>,
    /// Members' key backups (made, sealed, opened, filled with the bot's keys).
    pub key_backups: Arc<crate::key_backup::KeyBackups>,
    /// The last readiness check, reused for a few seconds.
    pub readiness: Arc<crate::readiness::ReadinessCache>,
    /// The bot's encrypted messaging, once its device is set up.
    pub bot: Arc<OnceCell<matrix_sync_bot::Bot>>,
    /// One read-change-write of a user's account data at a time.
    pub account_data_locks: Arc<KeyedLocks>,
}

/// A fixed set of locks a key is hashed onto: one writer per key at a time
/// (two keys may share a lock, which only serialises them), in constant
/// memory however many keys there are.
pub struct KeyedLocks {
    stripes: Vec<tokio::sync::Mutex<()>>,
}

impl KeyedLocks {
    pub fn new(stripes: usize) -> Self {
        Self { stripes: (0..stripes.max(1)).map(|_| tokio::sync::Mutex::new(())).collect() }
    }

    pub async fn lock(&self, key: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let hash = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(key);
        let stripe = usize::try_from(hash % self.stripes.len() as u64).unwrap_or(0);
        self.stripes[stripe].lock().await
    }
}

impl Default for KeyedLocks {
    fn default() -> Self {
        Self::new(64)
    }
}
