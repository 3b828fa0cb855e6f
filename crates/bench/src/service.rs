//! The service as it runs in production: the `matrix-sync` binary in its own
//! process (so its memory is its own), on a fresh database of either kind,
//! against the benchmark's Synapse.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::env::BenchEnv;

/// The service's database for one run.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(PathBuf),
    /// A schema of its own in the local PostgreSQL server.
    Postgres(String),
}

impl Db {
    /// A fresh, empty database named after the run.
    pub fn fresh(kind: &str, env: &BenchEnv, run: &str) -> Result<Self, String> {
        match kind {
            "sqlite" => {
                let path = env.work.join(format!("{run}.db"));
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                Ok(Db::Sqlite(path))
            }
            "postgres" => {
                let schema = format!("bench_{}", run.replace('-', "_"));
                psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
                Ok(Db::Postgres(schema))
            }
            other => Err(format!("unknown database kind {other}")),
        }
    }

    fn vars(&self) -> Vec<(&'static str, String)> {
        match self {
            Db::Sqlite(path) => vec![("DATABASE_URL", format!("sqlite://{}", path.display()))],
            Db::Postgres(schema) => vec![
                ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
                ("MATRIX_SYNC_DB_SCHEMA", schema.clone()),
            ],
        }
    }
}

fn psql(sql: &str) -> Result<(), String> {
    let status = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-q", "-c", sql])
        .env("PGOPTIONS", "-c client_min_messages=warning")
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("psql: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("psql failed: {sql}")) }
}

fn command(env: &BenchEnv, db: &Db, run: &str) -> Command {
    let mut cmd = Command::new(&env.bin);
    cmd.env_clear();
    for key in ["PATH", "HOME", "RUST_BACKTRACE"] {
        if let Ok(v) = std::env::var(key) {
            cmd.env(key, v);
        }
    }
    cmd.envs(&env.vars);
    cmd.envs(db.vars());
    cmd.env("MATRIX_SYNC_DATA_DIR", env.work.join(format!("{run}-data")));
    cmd.env("RUST_LOG", "warn");
    cmd.env("MATRIX_SYNC_HOMESERVER_CONCURRENCY", env.concurrency.to_string());
    cmd
}

fn log_file(env: &BenchEnv, run: &str) -> Result<std::fs::File, String> {
    let path = env.work.join(format!("{run}.log"));
    std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))
}

/// `matrix-sync import FILE --report`: its summary.
pub fn import(env: &BenchEnv, db: &Db, run: &str, file: &Value) -> Result<Value, String> {
    let path = env.work.join(format!("{run}.json"));
    let report = env.work.join(format!("{run}.report.json"));
    std::fs::write(&path, file.to_string()).map_err(|e| e.to_string())?;
    let log = log_file(env, run)?;
    let status = command(env, db, run)
        .arg("import")
        .arg(&path)
        .arg("--report")
        .arg(&report)
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .status()
        .map_err(|e| format!("{}: {e}", env.bin.display()))?;
    if !status.success() {
        return Err(format!("the import {run} failed; see {}", env.work.join(format!("{run}.log")).display()));
    }
    let text = std::fs::read_to_string(&report).map_err(|e| format!("{}: {e}", report.display()))?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

/// `matrix-sync serve`, stopped (SIGTERM, then waited for) when dropped.
pub struct Service {
    child: Child,
    pub base: String,
    pub http: reqwest::Client,
    token: String,
}

impl Service {
    pub async fn start(env: &BenchEnv, db: &Db, run: &str) -> Result<Self, String> {
        let log = log_file(env, run)?;
        let child = command(env, db, run)
            .arg("serve")
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{}: {e}", env.bin.display()))?;
        let service = Self {
            child,
            base: format!("http://{}", env.listen),
            http: reqwest::Client::new(),
            token: env.api_token.clone(),
        };
        let started = Instant::now();
        loop {
            if let Ok(r) = service.http.get(format!("{}/readyz", service.base)).send().await
                && r.status().is_success()
            {
                return Ok(service);
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(format!("the service did not become ready; see {run}.log"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory, in MB.
    pub fn rss_mb(&self) -> f64 {
        rss_mb(self.pid())
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() { Ok(body) } else { Err(format!("{path}: {status} {body}")) }
    }

    /// Polls a resource's status (`/v1/communities/…`, `/v1/councils/…`)
    /// until it is `synced`.
    pub async fn synced(&self, path: &str, within: Duration) -> Result<Value, String> {
        let started = Instant::now();
        loop {
            let status = self.call(reqwest::Method::GET, path, None).await?;
            if status["status"] == "synced" {
                return Ok(status);
            }
            if started.elapsed() > within {
                return Err(format!("{path} not synced after {within:?}: {status}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Homeserver requests made so far, by endpoint (from `/metrics`).
    pub async fn homeserver_requests(&self) -> Result<BTreeMap<String, u64>, String> {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        Ok(parse_requests(&text))
    }

    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.terminate();
        }
    }
}

pub fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// `matrix_sync_homeserver_requests_total{endpoint="join",outcome="ok"} 5`
/// lines, summed by endpoint.
fn parse_requests(text: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("matrix_sync_homeserver_requests_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let endpoint = labels
            .split(',')
            .find_map(|l| l.strip_prefix("endpoint=\""))
            .map(|e| e.trim_end_matches('"').to_owned())
            .unwrap_or_default();
        let n = value.trim().parse::<f64>().unwrap_or(0.0) as u64;
        *out.entry(endpoint).or_default() += n;
    }
    out
}

/// What was made between two snapshots.
pub fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after.iter().map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0))).filter(|(_, v)| *v > 0).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn requests_are_summed_by_endpoint() {
        let text = "# TYPE matrix_sync_homeserver_requests counter\n\
            matrix_sync_homeserver_requests_total{endpoint=\"join\",outcome=\"ok\"} 5\n\
            matrix_sync_homeserver_requests_total{endpoint=\"join\",outcome=\"timeout\"} 1\n\
            matrix_sync_homeserver_requests_total{endpoint=\"createRoom\",outcome=\"ok\"} 2\n";
        let by = super::parse_requests(text);
        assert_eq!(by.get("join"), Some(&6));
        assert_eq!(by.get("createRoom"), Some(&2));
    }
}
