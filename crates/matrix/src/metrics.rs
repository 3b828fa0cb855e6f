use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub endpoint: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub endpoint: &'static str,
}

/// Every request the service makes to the homeserver, by endpoint and
/// outcome, and how long they took. The request counts are also the figure
/// the performance work compares with the minimal request set.
#[derive(Clone)]
pub struct HomeserverMetrics {
    pub calls: Family<CallLabels, Counter>,
    pub duration: Family<EndpointLabels, Histogram>,
    /// Requests by endpoint, whatever the outcome, for counts and reports
    /// (a Prometheus family cannot be listed).
    by_endpoint: Arc<Mutex<BTreeMap<&'static str, u64>>>,
}

impl Default for HomeserverMetrics {
    fn default() -> Self {
        Self {
            calls: Family::default(),
            by_endpoint: Arc::default(),
            duration: Family::new_with_constructor(|| {
                Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
            }),
        }
    }
}

impl HomeserverMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "matrix_sync_homeserver_requests",
            "Requests made to the homeserver, by endpoint and outcome",
            self.calls.clone(),
        );
        registry.register(
            "matrix_sync_homeserver_request_duration_seconds",
            "Time the homeserver took to answer, by endpoint",
            self.duration.clone(),
        );
    }

    pub(crate) fn record(&self, endpoint: &'static str, outcome: &'static str, seconds: f64) {
        self.calls.get_or_create(&CallLabels { endpoint, outcome }).inc();
        *self.tally().entry(endpoint).or_default() += 1;
        self.duration.get_or_create(&EndpointLabels { endpoint }).observe(seconds);
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, u64>> {
        self.by_endpoint.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many requests have been made in all.
    pub fn total(&self) -> u64 {
        self.tally().values().sum()
    }

    /// How many requests have been made, by endpoint.
    pub fn by_endpoint(&self) -> BTreeMap<&'static str, u64> {
        self.tally().clone()
    }

    /// How many requests have been made to an endpoint, whatever the outcome.
    pub fn count(&self, endpoint: &'static str) -> u64 {
        self.tally().get(endpoint).copied().unwrap_or(0)
    }
}
