//! Plain client-server requests made as the application service: with the
//! `as_token`, acting for a namespace user with `?user_id=`. matrix-sdk has no
//! appservice mode, so this is our own small client with explicit timeouts,
//! rate-limit handling and a metric for every request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use matrix_sync_core::MatrixIds;
use reqwest::{Method, StatusCode};
use ruma::{OwnedUserId, UserId};
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
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            rate_limit_retries: 5,
            max_rate_limit_wait: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    Created,
    AlreadyExisted,
}

/// A Matrix session minted for a user through the appservice login.
#[derive(Debug, Clone)]
pub struct UserSession {
    pub user_id: OwnedUserId,
    pub access_token: SecretString,
    pub device_id: String,
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
}

enum Auth<'a> {
    None,
    Appservice,
    User(&'a SecretString),
}

struct Request<'a> {
    endpoint: &'static str,
    method: Method,
    path: &'a [&'a str],
    /// Act as this namespace user (`?user_id=`).
    as_user: Option<&'a UserId>,
    body: Option<Value>,
    auth: Auth<'a>,
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
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                as_token,
                ids,
                settings,
                metrics,
            }),
        })
    }

    pub fn ids(&self) -> &MatrixIds {
        &self.inner.ids
    }

    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    pub fn metrics(&self) -> &HomeserverMetrics {
        &self.inner.metrics
    }

    /// Registers a user in the appservice's namespace. A user that exists
    /// already is not an error: registration is idempotent.
    pub async fn register(&self, localpart: &str) -> Result<Registered, HomeserverError> {
        let result = self
            .send(Request {
                endpoint: "register",
                method: Method::POST,
                path: &["_matrix", "client", "v3", "register"],
                as_user: None,
                body: Some(json!({
                    "type": "m.login.application_service",
                    "username": localpart,
                    "inhibit_login": true,
                })),
                auth: Auth::Appservice,
            })
            .await;
        match result {
            Ok(_) => Ok(Registered::Created),
            Err(e) if e.errcode() == Some("M_USER_IN_USE") => Ok(Registered::AlreadyExisted),
            Err(e) => Err(e),
        }
    }

    /// The user's display name as the homeserver has it.
    pub async fn display_name(&self, user: &UserId) -> Result<Option<String>, HomeserverError> {
        let result = self
            .send(Request {
                endpoint: "profile.displayname.get",
                method: Method::GET,
                path: &[
                    "_matrix",
                    "client",
                    "v3",
                    "profile",
                    user.as_str(),
                    "displayname",
                ],
                as_user: Some(user),
                body: None,
                auth: Auth::Appservice,
            })
            .await;
        match result {
            Ok(v) => Ok(v
                .get("displayname")
                .and_then(Value::as_str)
                .map(str::to_owned)),
            Err(e) if e.errcode() == Some("M_NOT_FOUND") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets a user's display name, acting as them. Only called when it
    /// differs: every change is a membership event in each of their rooms.
    pub async fn set_display_name(&self, user: &UserId, name: &str) -> Result<(), HomeserverError> {
        self.send(Request {
            endpoint: "profile.displayname.set",
            method: Method::PUT,
            path: &[
                "_matrix",
                "client",
                "v3",
                "profile",
                user.as_str(),
                "displayname",
            ],
            as_user: Some(user),
            body: Some(json!({ "displayname": name })),
            auth: Auth::Appservice,
        })
        .await
        .map(drop)
    }

    /// Mints an access token for a namespace user (`m.login.application_service`).
    /// Passing the `device_id` of an earlier session reuses that device instead
    /// of piling up new ones.
    pub async fn login(
        &self,
        user: &UserId,
        device_id: Option<&str>,
        device_name: &str,
    ) -> Result<UserSession, HomeserverError> {
        let mut body = json!({
            "type": "m.login.application_service",
            "identifier": { "type": "m.id.user", "user": user.localpart() },
            "initial_device_display_name": device_name,
        });
        if let Some(device_id) = device_id {
            body["device_id"] = json!(device_id);
        }
        let v = self
            .send(Request {
                endpoint: "login",
                method: Method::POST,
                path: &["_matrix", "client", "v3", "login"],
                as_user: None,
                body: Some(body),
                auth: Auth::Appservice,
            })
            .await?;
        let field = |name: &str| {
            v.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| HomeserverError::Protocol {
                    endpoint: "login",
                    detail: format!("no `{name}` in the login answer"),
                })
        };
        let user_id = UserId::parse(field("user_id")?).map_err(|e| HomeserverError::Protocol {
            endpoint: "login",
            detail: format!("invalid user_id: {e}"),
        })?;
        Ok(UserSession {
            user_id,
            access_token: SecretString::from(field("access_token")?),
            device_id: field("device_id")?,
        })
    }

    /// Who the homeserver says the appservice token (optionally acting as
    /// `as_user`) is. Proves the homeserver is up and knows the registration.
    pub async fn whoami(&self, as_user: Option<&UserId>) -> Result<OwnedUserId, HomeserverError> {
        let v = self
            .send(Request {
                endpoint: "whoami",
                method: Method::GET,
                path: &["_matrix", "client", "v3", "account", "whoami"],
                as_user,
                body: None,
                auth: Auth::Appservice,
            })
            .await?;
        parse_whoami(&v)
    }

    /// Who a user's access token belongs to.
    pub async fn whoami_with_token(
        &self,
        token: &SecretString,
    ) -> Result<OwnedUserId, HomeserverError> {
        let v = self
            .send(Request {
                endpoint: "whoami",
                method: Method::GET,
                path: &["_matrix", "client", "v3", "account", "whoami"],
                as_user: None,
                body: None,
                auth: Auth::User(token),
            })
            .await?;
        parse_whoami(&v)
    }

    /// The homeserver's supported versions; needs no token.
    pub async fn versions(&self) -> Result<Value, HomeserverError> {
        self.send(Request {
            endpoint: "versions",
            method: Method::GET,
            path: &["_matrix", "client", "versions"],
            as_user: None,
            body: None,
            auth: Auth::None,
        })
        .await
    }

    /// Sends one request, honouring rate limits, and records its outcome.
    async fn send(&self, req: Request<'_>) -> Result<Value, HomeserverError> {
        let inner = &self.inner;
        let url = self.url(req.path, req.as_user)?;
        let mut waits = 0;
        loop {
            let mut builder = inner.http.request(req.method.clone(), url.clone());
            builder = match &req.auth {
                Auth::None => builder,
                Auth::Appservice => builder.bearer_auth(inner.as_token.expose_secret()),
                Auth::User(token) => builder.bearer_auth(token.expose_secret()),
            };
            if let Some(body) = &req.body {
                builder = builder.json(body);
            }
            let started = Instant::now();
            let result = self.answer(req.endpoint, builder).await;
            let seconds = started.elapsed().as_secs_f64();
            match result {
                Ok(value) => {
                    inner.metrics.record(req.endpoint, "ok", seconds);
                    return Ok(value);
                }
                Err(e) => {
                    inner.metrics.record(req.endpoint, e.outcome(), seconds);
                    if let HomeserverError::RateLimited { retry_after_ms, .. } = e {
                        let wait = Duration::from_millis(retry_after_ms);
                        if waits < inner.settings.rate_limit_retries
                            && wait <= inner.settings.max_rate_limit_wait
                        {
                            waits += 1;
                            tracing::debug!(
                                endpoint = req.endpoint,
                                retry_after_ms,
                                "rate-limited; waiting"
                            );
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                    }
                    return Err(e);
                }
            }
        }
    }

    async fn answer(
        &self,
        endpoint: &'static str,
        builder: reqwest::RequestBuilder,
    ) -> Result<Value, HomeserverError> {
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
                    return Err(HomeserverError::Protocol {
                        endpoint,
                        detail: format!("invalid JSON: {e}"),
                    });
                }
            }
        };
        if status.is_success() {
            return Ok(body);
        }
        let errcode = body
            .get("errcode")
            .and_then(Value::as_str)
            .unwrap_or("M_UNKNOWN")
            .to_owned();
        if status == StatusCode::TOO_MANY_REQUESTS || errcode == "M_LIMIT_EXCEEDED" {
            let retry_after_ms = body
                .get("retry_after_ms")
                .and_then(Value::as_u64)
                .or(retry_after_header)
                .unwrap_or(1_000);
            return Err(HomeserverError::RateLimited {
                endpoint,
                retry_after_ms,
            });
        }
        Err(HomeserverError::Refused {
            endpoint,
            status,
            errcode,
            message: body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
    }

    fn url(&self, path: &[&str], as_user: Option<&UserId>) -> Result<Url, HomeserverError> {
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
        Ok(url)
    }
}

fn parse_whoami(v: &Value) -> Result<OwnedUserId, HomeserverError> {
    v.get("user_id")
        .and_then(Value::as_str)
        .and_then(|s| UserId::parse(s).ok())
        .ok_or_else(|| HomeserverError::Protocol {
            endpoint: "whoami",
            detail: "no valid user_id in the answer".into(),
        })
}
