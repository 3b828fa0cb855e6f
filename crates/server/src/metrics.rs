//! Prometheus metrics: HTTP requests, the job queue's depth (read from the
//! store at scrape time, so it is right with several processes) and every
//! homeserver request by endpoint and outcome.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use matrix_sync_matrix::HomeserverMetrics;
use matrix_sync_store::Store;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<RouteLabels, Histogram>,
    pub jobs_pending: Gauge,
    pub jobs_dead: Gauge,
    pub homeserver: HomeserverMetrics,
}

impl Metrics {
    pub fn new(homeserver: HomeserverMetrics, engine: &matrix_sync_engine::EngineMetrics) -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0])
        });
        let jobs_pending = Gauge::default();
        let jobs_dead = Gauge::default();
        registry.register("matrix_sync_http_requests", "HTTP requests served", http_requests.clone());
        registry.register(
            "matrix_sync_http_request_duration_seconds",
            "Time to answer HTTP requests",
            http_duration.clone(),
        );
        registry.register("matrix_sync_jobs_pending", "Reconcile jobs waiting or running", jobs_pending.clone());
        registry.register("matrix_sync_jobs_dead", "Reconcile jobs that used up their attempts", jobs_dead.clone());
        engine.register(&mut registry);
        homeserver.register(&mut registry);
        Self { registry, http_requests, http_duration, jobs_pending, jobs_dead, homeserver }
    }

    /// The text exposition, with the queue depth read fresh from the store.
    pub async fn render(&self, store: &dyn Store) -> Result<String, std::fmt::Error> {
        match store.queue_depth().await {
            Ok(depth) => {
                self.jobs_pending.set(depth.pending);
                self.jobs_dead.set(depth.dead);
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the job queue depth for /metrics"),
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The `method` label: the standard methods by name, anything else (any
/// token a client makes up is a valid method) as `other`, so made-up
/// methods cannot add series without limit.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Counts and times every request by its route template (not its path, so
/// ids do not multiply the series).
pub async fn track_http(State(m): State<std::sync::Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method()).to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    m.http_requests
        .get_or_create(&HttpLabels { method, route: route.clone(), status: response.status().as_u16() })
        .inc();
    m.http_duration.get_or_create(&RouteLabels { route }).observe(started.elapsed().as_secs_f64());
    response
}
