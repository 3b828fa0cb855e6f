//! Launches the real service in-process on port 0, against the local Synapse
//! that `dev/synapse.sh start test` runs, with a database of its own.

#![allow(dead_code)]

pub mod wanted;

use std::collections::BTreeMap;

use matrix_sync::state::AppState;
use matrix_sync::{App, Config, Source};
use matrix_sync_testkit::LocalHomeserver;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub fn pg_url() -> String {
    std::env::var("MATRIX_SYNC_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Only one app at a time can listen where the registration tells the
/// homeserver to push; tests in one binary take turns (binaries run one
/// after another).
static PUSH_PORT: std::sync::LazyLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
    std::sync::LazyLock::new(Default::default);

pub struct TestApp {
    push_port: Option<tokio::sync::OwnedMutexGuard<()>>,
    pub base: String,
    pub hs: LocalHomeserver,
    pub http: reqwest::Client,
    pub state: AppState,
    pub settings: BTreeMap<String, String>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), matrix_sync::StartError>>>,
    dir: tempfile::TempDir,
    schema: Option<String>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Db::Sqlite, &[]).await
    }

    /// Starts the service with the local homeserver's settings, a fresh
    /// database and `overrides` on top.
    pub async fn spawn_with(db: Db, overrides: &[(&str, &str)]) -> Self {
        Self::spawn_on(LocalHomeserver::for_tests(), db, overrides).await
    }

    /// As `spawn_with`, against the homeserver `hs`.
    pub async fn spawn_on(hs: LocalHomeserver, db: Db, overrides: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = hs.settings.clone();
        settings.insert("MATRIX_SYNC_LISTEN".into(), "127.0.0.1:0".into());
        settings.insert("MATRIX_SYNC_DATA_DIR".into(), dir.path().join("data").display().to_string());
        let schema = match db {
            Db::Sqlite => {
                settings.insert("DATABASE_URL".into(), format!("sqlite://{}/matrix-sync.db", dir.path().display()));
                None
            }
            Db::Postgres => {
                let schema = format!("it_{}", uuid::Uuid::new_v4().simple());
                settings.insert("DATABASE_URL".into(), pg_url());
                settings.insert("MATRIX_SYNC_DB_SCHEMA".into(), schema.clone());
                Some(schema)
            }
        };
        for (k, v) in overrides {
            settings.insert((*k).to_owned(), (*v).to_owned());
        }
        Self::start(hs, settings, dir, schema).await
    }

    /// Starts the service on the address in the registration, so the
    /// homeserver's pushes (appservice transactions, pings) reach it.
    pub async fn spawn_receiving_pushes(overrides: &[(&str, &str)]) -> Self {
        Self::spawn_receiving_pushes_on(LocalHomeserver::for_tests(), Db::Sqlite, overrides).await
    }

    /// As `spawn_receiving_pushes`, against the homeserver `hs`.
    pub async fn spawn_receiving_pushes_on(hs: LocalHomeserver, db: Db, overrides: &[(&str, &str)]) -> Self {
        let guard = PUSH_PORT.clone().lock_owned().await;
        let listen = hs.get("MATRIX_SYNC_LISTEN").to_owned();
        let mut all = vec![("MATRIX_SYNC_LISTEN", listen.as_str())];
        all.extend_from_slice(overrides);
        let mut app = Self::spawn_on(hs, db, &all).await;
        app.push_port = Some(guard);
        app
    }

    async fn start(
        hs: LocalHomeserver,
        settings: BTreeMap<String, String>,
        dir: tempfile::TempDir,
        schema: Option<String>,
    ) -> Self {
        let source = Source::from_pairs(settings.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let config = Config::load(&source).expect("test configuration");
        let app = App::build(config).await.expect("the service starts");
        let base = format!("http://{}", app.local_addr());
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel();
        let handle = tokio::spawn(app.run(async {
            let _ = rx.await;
        }));
        Self {
            push_port: None,
            base,
            hs,
            http: reqwest::Client::new(),
            state,
            settings,
            shutdown: Some(tx),
            handle: Some(handle),
            dir,
            schema,
        }
    }

    /// Stops the service gracefully and starts it again on the same database.
    pub async fn restart(mut self) -> Self {
        self.shutdown_and_wait().await;
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        let schema = self.schema.take();
        let mut app = Self::start(self.hs.clone(), self.settings.clone(), dir, schema).await;
        app.push_port = self.push_port.take();
        app
    }

    /// As `restart`, with `overrides` on top of the settings it ran with.
    pub async fn restart_with(mut self, overrides: &[(&str, &str)]) -> Self {
        for (k, v) in overrides {
            self.settings.insert((*k).to_owned(), (*v).to_owned());
        }
        self.restart().await
    }

    async fn shutdown_and_wait(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.unwrap().unwrap();
        }
    }

    /// Stops the service and removes its database.
    pub async fn stop(mut self) {
        self.shutdown_and_wait().await;
        if let Some(schema) = self.schema.take() {
            matrix_sync_store::PgStore::drop_schema(&pg_url(), &schema).await.unwrap();
        }
    }

    pub fn api_token(&self) -> &str {
        self.hs.get("MATRIX_SYNC_API_TOKEN")
    }

    /// The `/v1` API with the API token.
    pub fn api(&self) -> Api {
        Api { http: self.http.clone(), base: self.base.clone(), token: self.api_token().to_owned() }
    }

    /// A `/v1` call with the API token; the answer's status and JSON body.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.api().call(method, path, body).await
    }

    /// A raw request with whatever headers the test sets.
    pub fn raw(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }
}

/// The `/v1` API as the platform calls it, wherever the service runs (in
/// this process, or as a process of its own).
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    pub base: String,
    token: String,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Self {
        Self { http: reqwest::Client::new(), base: base.to_owned(), token: token.to_owned() }
    }

    /// The same API with another bearer token.
    pub fn with_token(&self, token: &str) -> Self {
        Self { token: token.to_owned(), ..self.clone() }
    }

    /// A call; `None` when the service did not answer at all (killed, say).
    pub async fn try_call(&self, method: Method, path: &str, body: Option<Value>) -> Option<(StatusCode, Value)> {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        Some(read(req.send().await.ok()?).await)
    }

    /// A call the service must answer: its status and JSON body.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.try_call(method, path, body).await.unwrap_or_else(|| panic!("{path}: no answer"))
    }

    /// The Prometheus metrics text (`/metrics` needs no token).
    pub async fn metrics(&self) -> String {
        self.http.get(format!("{}/metrics", self.base)).send().await.unwrap().text().await.unwrap()
    }

    /// A call that must succeed (any 2xx); its body.
    pub async fn success(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.call(method, path, body).await;
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }
}

/// A `/v1` call that must answer 200; its body.
pub async fn ok(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, body) = app.call(method, path, body).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// Asserts a JSON error of the API's shape with this status and code.
#[track_caller]
pub fn assert_error(answer: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(answer.0, status, "{:?}", answer.1);
    assert_eq!(answer.1["error"]["code"], code, "{:?}", answer.1);
    assert!(answer.1["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{:?}", answer.1);
}

/// A community made from `body` (`name`, `config`…), synced, with these
/// members at these trust scores: its id and status.
pub async fn community_with(app: &TestApp, body: Value, members: &[(uuid::Uuid, i64)]) -> (uuid::Uuid, Value) {
    let id = uuid::Uuid::new_v4();
    let status = ok(app, Method::PUT, &format!("/v1/communities/{id}?wait=30"), Some(body)).await;
    for (user, trust) in members {
        let path = format!("/v1/communities/{id}/members/{user}?wait=30");
        ok(app, Method::PUT, &path, Some(serde_json::json!({ "trust_score": trust }))).await;
    }
    (id, status)
}

/// A council "Stewards" of the community, synced, with these members: its
/// id and status.
pub async fn council_with(app: &TestApp, community: uuid::Uuid, members: &[uuid::Uuid]) -> (uuid::Uuid, Value) {
    let id = uuid::Uuid::new_v4();
    let body = serde_json::json!({ "community_id": community, "name": "Stewards" });
    let status = ok(app, Method::PUT, &format!("/v1/councils/{id}?wait=30"), Some(body)).await;
    for user in members {
        ok(app, Method::PUT, &format!("/v1/councils/{id}/members/{user}?wait=30"), Some(serde_json::json!({}))).await;
    }
    (id, status)
}

/// The rooms a community has on the homeserver, found through the service's
/// managing identity (which is in every room it made).
pub async fn rooms_marked_for(
    manager: &matrix_sync_testkit::UserClient,
    community: uuid::Uuid,
) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for room in manager.joined_rooms().await.unwrap() {
        let create = manager.state(&room, "m.room.create", "").await.unwrap();
        if let Some(marker) = create["org.matrix_sync.room"].as_str()
            && marker.starts_with(&format!("community:{community}/"))
        {
            found.push((marker.to_owned(), room));
        }
    }
    found.sort();
    found
}

/// `matrix-sync serve` as a process of its own (so it can be killed, and its
/// log read), with exactly `vars` as its environment (and `PATH`); its log
/// goes to `log`. Killed when dropped.
pub struct ServiceProcess {
    child: std::process::Child,
    pub base: String,
}

impl ServiceProcess {
    pub async fn start(vars: &BTreeMap<String, String>, log: std::process::Stdio) -> Self {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_matrix-sync"));
        cmd.arg("serve").env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).envs(vars);
        if !vars.contains_key("RUST_LOG") {
            cmd.env("RUST_LOG", "warn");
        }
        let child =
            cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(log).spawn().unwrap();
        let base = format!("http://{}", vars["MATRIX_SYNC_LISTEN"]);
        let started = std::time::Instant::now();
        while !reqwest::get(format!("{base}/healthz")).await.is_ok_and(|r| r.status().is_success()) {
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "the service did not start");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Self { child, base }
    }

    /// Its `/v1` API with `token`.
    pub fn api(&self, token: &str) -> Api {
        Api::new(&self.base, token)
    }

    /// SIGKILL: no shutdown, no last writes.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, and waits for the graceful shutdown.
    pub fn terminate(mut self) {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        self.child.wait().unwrap();
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on loopback (for a service process's own address).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until `check` passes (the service converges in the background).
pub async fn eventually<F, Fut>(what: &str, timeout: std::time::Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// A user's own client, logged in as them.
pub async fn login(app: &TestApp, user: uuid::Uuid) -> matrix_sync_testkit::UserClient {
    matrix_sync_testkit::UserClient::login(&app.hs, &app.hs.matrix_id(user)).await.unwrap()
}
