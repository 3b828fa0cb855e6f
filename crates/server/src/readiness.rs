//! Whether the service can work: its database and its homeserver answer.
//! A check's outcome is reused for a few seconds and one check runs at a
//! time, so readiness probes cannot multiply requests to the homeserver.

use std::time::{Duration, Instant};

use matrix_sync_matrix::AppserviceClient;
use matrix_sync_store::Store;

/// How long readiness waits for each dependency.
const READY_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a readiness check's outcome is reused: probes every second from
/// several orchestrators then cost the homeserver one request per interval.
const READY_CACHE: Duration = Duration::from_secs(3);

/// The last readiness check, shared by every caller; one check at a time.
#[derive(Default)]
pub struct ReadinessCache {
    last: tokio::sync::Mutex<Option<(Instant, Checked)>>,
}

#[derive(Clone)]
pub struct Checked {
    pub database: Result<(), String>,
    pub homeserver: Result<(), String>,
}

impl ReadinessCache {
    /// The last outcome if it is recent, else a new check (one at a time).
    pub async fn check(&self, store: &dyn Store, homeserver: &AppserviceClient) -> Checked {
        // Held while checking: callers meanwhile wait for this check.
        let mut last = self.last.lock().await;
        if let Some((at, checked)) = last.as_ref()
            && at.elapsed() < READY_CACHE
        {
            return checked.clone();
        }
        let database = async {
            match tokio::time::timeout(READY_TIMEOUT, store.ping()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("no answer in time".to_owned()),
            }
        };
        let homeserver = async {
            match tokio::time::timeout(READY_TIMEOUT, homeserver.whoami(None)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("no answer in time".to_owned()),
            }
        };
        let (database, homeserver) = tokio::join!(database, homeserver);
        let checked = Checked { database, homeserver };
        *last = Some((Instant::now(), checked.clone()));
        checked
    }
}
