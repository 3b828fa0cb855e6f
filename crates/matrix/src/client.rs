//! Plain client-server requests made as the application service: with the
//! `as_token`, acting for a namespace user with `?user_id=`. matrix-sdk has no
//! appservice mode, so this is our own small client with explicit timeouts,
//! rate-limit handling and a metric for every request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use matrix_sync_core::MatrixIds;
use reqwest::{Method, StatusCode};
use ruma::UserId;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

use crate::{HomeserverError, HomeserverMetrics};

#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// A request that has not been answered by then fails as a timeout.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// How often a rate-limited request is retried after the wait the
    /// homeserver asked for, before it fails as rate-limited.
    pub rate_limit_retries: u32,
    /// The longest single wait honoured; a longer `retry_after_ms` fails the
    /// request instead, leaving the wait to the job queue's backoff.
    pub max_rate_limit_wait: Duration,
    /// Requests in flight at once, across every task of the process: enough
    /// to keep the homeserver busy, few enough not to queue inside it.
    pub max_in_flight: usize,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            rate_limit_retries: 5,
            max_rate_limit_wait: Duration::from_secs(30),
            max_in_flight: 8,
        }
    }
}

#[derive(Clone)]
pub struct AppserviceClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    as_token: SecretString,
    ids: MatrixIds,
    settings: ClientSettings,
    metrics: HomeserverMetrics,
    in_flight: tokio::sync::Semaphore,
    /// Who administers each room this process has met (its creator).
    pub(crate) admins: std::sync::Mutex<std::collections::HashMap<ruma::OwnedRoomId, ruma::OwnedUserId>>,
}

pub(crate) enum Auth<'a> {
    None,
    Appservice,
    User(&'a SecretString),
}

pub(crate) struct Request<'a> {
    pub endpoint: &'static str,
    pub method: Method,
    pub path: &'a [&'a str],
    /// Act as this namespace user (`?user_id=`).
    pub as_user: Option<&'a UserId>,
    /// Further query parameters.
    pub query: &'a [(&'a str, &'a str)],
    pub body: Option<Value>,
    pub auth: Auth<'a>,
}

impl AppserviceClient {
    pub fn new(
        base: Url,
        as_token: SecretString,
        ids: MatrixIds,
        settings: ClientSettings,
        metrics: HomeserverMetrics,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(settings.connect_timeout)
            .user_agent(concat!("matrix-sync/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let in_flight = tokio::sync::Semaphore::new(settings.max_in_flight.max(1));
        let admins = std::sync::Mutex::default();
        Ok(Self { inner: Arc::new(Inner { http, base, as_token, ids, settings, metrics, in_flight, admins }) })
    }

    pub fn ids(&self) -> &MatrixIds {
        &self.inner.ids
    }

    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    pub(crate) fn admins(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<ruma::OwnedRoomId, ruma::OwnedUserId>> {
        self.inner.admins.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn settings(&self) -> &ClientSettings {
        &self.inner.settings
    }

    pub fn metrics(&self) -> &HomeserverMetrics {
        &self.inner.metrics
    }

    /// Sends one request, honouring rate limits, and records its outcome.
    pub(crate) async fn send(&self, req: Request<'_>) -> Result<Value, HomeserverError> {
        self.send_within(req, self.inner.settings.request_timeout).await
    }

    /// [`send`](Self::send) for a request the homeserver needs longer for
    /// than usual (it must not be abandoned half done).
    pub(crate) async fn send_within(&self, req: Request<'_>, timeout: Duration) -> Result<Value, HomeserverError> {
        self.send_payload(req, None, timeout).await
    }

    /// [`send`](Self::send) with a body that is not JSON (a media upload):
    /// `raw` is its content type and bytes, sent in place of `req.body`.
    pub(crate) async fn send_raw(
        &self,
        req: Request<'_>,
        content_type: &str,
        bytes: bytes::Bytes,
    ) -> Result<Value, HomeserverError> {
        self.send_payload(req, Some((content_type, bytes)), self.inner.settings.request_timeout).await
    }

    async fn send_payload(
        &self,
        req: Request<'_>,
        raw: Option<(&str, bytes::Bytes)>,
        timeout: Duration,
    ) -> Result<Value, HomeserverError> {
        let inner = &self.inner;
        let url = self.url(req.path, req.as_user, req.query)?;
        let mut waits = 0;
        loop {
            let mut builder = inner.http.request(req.method.clone(), url.clone()).timeout(timeout);
            builder = match &req.auth {
                Auth::None => builder,
                Auth::Appservice => builder.bearer_auth(inner.as_token.expose_secret()),
                Auth::User(token) => builder.bearer_auth(token.expose_secret()),
            };
            if let Some((content_type, bytes)) = &raw {
                // Cloning `Bytes` shares the buffer: a retry re-sends it.
                builder = builder.header(reqwest::header::CONTENT_TYPE, *content_type).body(bytes.clone());
            } else if let Some(body) = &req.body {
                builder = builder.json(body);
            }
            let (result, seconds) = {
                // Never closed, so acquiring only waits.
                let _permit = inner.in_flight.acquire().await;
                let started = Instant::now();
                (self.answer(req.endpoint, builder).await, started.elapsed().as_secs_f64())
            };
            match result {
                Ok(value) => {
                    inner.metrics.record(req.endpoint, "ok", seconds);
                    return Ok(value);
                }
                Err(e) => {
                    inner.metrics.record(req.endpoint, e.outcome(), seconds);
                    if let HomeserverError::RateLimited { retry_after_ms, .. } = e {
                        let wait = Duration::from_millis(retry_after_ms);
                        if waits < inner.settings.rate_limit_retries && wait <= inner.settings.max_rate_limit_wait {
                            waits += 1;
                            tracing::debug!(endpoint = req.endpoint, retry_after_ms, "rate-limited; waiting");
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                    }
                    return Err(e);
                }
            }
        }
    }

    async fn answer(&self, endpoint: &'static str, builder: reqwest::RequestBuilder) -> Result<Value, HomeserverError> {
        let map_send = |source: reqwest::Error| {
            if source.is_timeout() {
                HomeserverError::Timeout { endpoint }
            } else {
                HomeserverError::Unreachable { endpoint, source }
            }
        };
        let response = builder.send().await.map_err(map_send)?;
        let status = response.status();
        let retry_after_header = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(|secs| secs.saturating_mul(1000));
        let bytes = response.bytes().await.map_err(map_send)?;
        let body: Value = if bytes.is_empty() {
            json!({})
        } else {
            match serde_json::from_slice(&bytes) {
                Ok(v) => v,
                Err(_) if !status.is_success() => json!({}),
                Err(e) => {
                    return Err(HomeserverError::Protocol { endpoint, detail: format!("invalid JSON: {e}") });
                }
            }
        };
        if status.is_success() {
            return Ok(body);
        }
        let errcode = body.get("errcode").and_then(Value::as_str).unwrap_or("M_UNKNOWN").to_owned();
        if status == StatusCode::TOO_MANY_REQUESTS || errcode == "M_LIMIT_EXCEEDED" {
            let retry_after_ms =
                body.get("retry_after_ms").and_then(Value::as_u64).or(retry_after_header).unwrap_or(1_000);
            return Err(HomeserverError::RateLimited { endpoint, retry_after_ms });
        }
        Err(HomeserverError::Refused {
            endpoint,
            status,
            errcode,
            message: body.get("error").and_then(Value::as_str).unwrap_or_default().to_owned(),
        })
    }

    fn url(&self, path: &[&str], as_user: Option<&UserId>, query: &[(&str, &str)]) -> Result<Url, HomeserverError> {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|()| HomeserverError::Protocol {
                endpoint: "url",
                detail: format!("{} cannot be a base URL", self.inner.base),
            })?
            .pop_if_empty()
            .extend(path);
        if let Some(user) = as_user {
            url.query_pairs_mut().append_pair("user_id", user.as_str());
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }
}
