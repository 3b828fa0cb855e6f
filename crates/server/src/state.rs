use std::sync::Arc;

use matrix_sync_engine::Engine;
use matrix_sync_matrix::AppserviceClient;

use crate::config::Config;
use crate::metrics::Metrics;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    /// The reconciler: the handlers record desired state through it, and
    /// read the store it holds.
    pub engine: Arc<Engine>,
    /// The homeserver client itself, for what only the HTTP side does with
    /// it: signing users in and checking readiness.
    pub homeserver: AppserviceClient,
    pub metrics: Arc<Metrics>,
    /// Verifies identity-provider tokens for `/v1/sessions`, when configured.
    pub verifier: Option<Arc<crate::oidc::TokenVerifier>>,
    /// The last readiness check, reused for a few seconds.
    pub readiness: Arc<crate::readiness::ReadinessCache>,
}
