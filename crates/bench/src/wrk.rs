//! Load from a second process: wrk (Debian's package) sends member upserts
//! at a steady rate while the service's memory is sampled. wrk has no rate
//! option; each connection waits `connections / rate` between requests (its
//! `delay` hook, in whole milliseconds), less the 1–3 ms a request takes,
//! which holds the rate within a few percent: many connections make that
//! cycle long, so the rounding and the latency matter little. The wait is
//! drawn at random around that mean (half to one and a half times it):
//! with one fixed wait the connections, all started at once, would stay in
//! step and send their requests in bursts of fifty, not a steady stream.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::dataset::CommunityData;
use crate::env::BenchEnv;
use crate::service::{Service, rss_mb};

pub struct WrkFigures {
    pub requests: u64,
    pub duration_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    pub peak_rss_mb: f64,
}

const CONNECTIONS: usize = 50;
/// What a request takes, roughly (subtracted from each connection's cycle).
const LATENCY_MS: usize = 1;

pub async fn run(
    env: &BenchEnv,
    service: &Service,
    community: &CommunityData,
    rate: usize,
    duration_s: usize,
) -> Result<WrkFigures, String> {
    let script = env.work.join("upsert.lua");
    let members: Vec<String> = community.members.iter().map(|m| format!("\"{}\"", m.user)).collect();
    let delay_ms = (1000 * CONNECTIONS / rate).saturating_sub(LATENCY_MS).max(1);
    std::fs::write(&script, lua(&members, &community.id.to_string(), &env.api_token, delay_ms))
        .map_err(|e| format!("{}: {e}", script.display()))?;
    let pid = service.pid();
    // The largest resident size seen, in kB.
    let peak = Arc::new(AtomicU64::new(0));
    let sampled = peak.clone();
    let sampling = tokio::spawn(async move {
        loop {
            sampled.fetch_max((rss_mb(pid) * 1024.0) as u64, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let base = service.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("wrk")
            .args(["-t2", &format!("-c{CONNECTIONS}"), &format!("-d{duration_s}s"), "--timeout", "5s", "-s"])
            .arg(&script)
            .arg(&base)
            .output()
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("wrk: {e} (install Debian's wrk: dev/bench.sh does)"))?;
    sampling.abort();
    let peak_rss_mb = (peak.load(Ordering::Relaxed) as f64 / 1024.0).max(rss_mb(pid));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("{\"requests\""))
        .ok_or_else(|| format!("wrk printed no summary: {stdout}{}", String::from_utf8_lossy(&output.stderr)))?;
    let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let us = |k: &str| v[k].as_f64().unwrap_or(0.0);
    let errors = ["errors_connect", "errors_read", "errors_write", "errors_status", "errors_timeout"]
        .iter()
        .map(|k| v[*k].as_u64().unwrap_or(0))
        .sum();
    Ok(WrkFigures {
        requests: v["requests"].as_u64().unwrap_or(0),
        duration_s: us("duration_us") / 1e6,
        p50_ms: us("p50_us") / 1e3,
        p99_ms: us("p99_us") / 1e3,
        max_ms: us("max_us") / 1e3,
        errors,
        peak_rss_mb,
    })
}

fn lua(members: &[String], community: &str, token: &str, delay_ms: usize) -> String {
    format!(
        r#"local members = {{ {members} }}
local headers = {{ ["Authorization"] = "Bearer {token}", ["Content-Type"] = "application/json" }}
math.randomseed(os.time())
request = function()
  local user = members[math.random(#members)]
  local body = '{{"trust_score":' .. math.random(0, 59) .. '}}'
  return wrk.format("PUT", "/v1/communities/{community}/members/" .. user, headers, body)
end
delay = function() return math.random({lo}, {hi}) end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{{"requests":%d,"duration_us":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"#,
        members = members.join(", "),
        lo = delay_ms / 2,
        hi = delay_ms + delay_ms / 2,
    )
}
