use std::sync::Arc;

use matrix_sync_matrix::AppserviceClient;
use matrix_sync_store::Store;
use tokio::sync::Notify;

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
    pub wakeup: Arc<Notify>,
}
