//! `make soak`: ten minutes (`BENCH_SCALE` scales them) of steady mixed
//! load on one service on PostgreSQL: trust changes, members coming and
//! going, council changes, accepted requests (DMs and the bot's encrypted
//! message), status and audit reads. Every 30 s it samples the service's
//! memory, open files and sockets. It passes when no call failed, the
//! community converged at the end, and the last third of the samples stays
//! within a small margin of the first third's peak (flat, not growing).
//!
//! `SOAK_MINUTES=60 make soak` runs that long *without new data*: the
//! newcomers are a fixed few who come and go, and the accepted requests a
//! fixed few accepted again, so no user, room or DM is added after the first
//! minutes. Memory that still grows then is a leak, not the data growing.

use std::time::{Duration, Instant};

use rand::SeedableRng;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::dataset::{Platform, Shape};
use crate::env::BenchEnv;
use crate::quiet;
use crate::service::{self, Db, Service};

const SAMPLE_EVERY: Duration = Duration::from_secs(30);
/// Calls per second of the mixed load.
const RATE: u64 = 20;

#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Sample {
    at_s: f64,
    rss_mb: f64,
    open_files: usize,
    sockets: usize,
    calls: u64,
    errors: u64,
}

impl Sample {
    /// The service as it stands, `started` being the start of the load.
    fn of(service: &Service, started: Instant, calls: u64, errors: u64) -> Self {
        let (open_files, sockets) = open_files(service.pid());
        Self { at_s: started.elapsed().as_secs_f64(), rss_mb: service.rss_mb(), open_files, sockets, calls, errors }
    }
}

/// (open files, of which sockets) of a process.
fn open_files(pid: u32) -> (usize, usize) {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return (0, 0) };
    let targets: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|t| t.display().to_string())
        .collect();
    let sockets = targets.iter().filter(|t| t.starts_with("socket:")).count();
    (targets.len(), sockets)
}

pub struct SoakOutcome {
    pub report: Value,
    pub passed: bool,
}

/// How long the soak runs and whether its load adds data as it goes.
#[derive(Debug, Clone, Copy)]
pub struct SoakLength {
    pub minutes: u64,
    /// New members and new requests (DMs) all along, or a fixed few again.
    pub new_data: bool,
}

impl SoakLength {
    /// `SOAK_MINUTES` (a fixed data set), else ten minutes scaled by
    /// `BENCH_SCALE` with new data.
    pub fn from_env(env: &BenchEnv) -> Result<Self, String> {
        match std::env::var("SOAK_MINUTES") {
            Ok(minutes) => match minutes.trim().parse::<u64>() {
                Ok(minutes) if minutes > 0 => Ok(Self { minutes, new_data: false }),
                _ => Err(format!("SOAK_MINUTES must be a whole number of minutes above 0, not {minutes:?}")),
            },
            Err(_) => Ok(Self { minutes: env.scaled(10, 1) as u64, new_data: true }),
        }
    }
}

/// How many newcomers and requests a soak without new data goes round.
const FIXED_POOL: usize = 4;

pub async fn soak(env: &BenchEnv, length: SoakLength) -> Result<SoakOutcome, String> {
    let duration = Duration::from_secs(60 * length.minutes);
    let shape = Shape { communities: 1, members: 50, councils: 2, council_members: 8, min_trust: 0 };
    let mut rng = rand::rngs::StdRng::seed_from_u64(23);
    let platform = Platform::generate(shape, &mut rng);
    eprintln!("soak: setting up a community of 50 members with 2 councils…");
    let db = Db::fresh("postgres", env, "soak")?;
    service::import(env, &db, "soak-import", &platform.import_file())?;
    let service = Service::start(env, &db, "soak").await?;
    let c = &platform.communities[0];
    quiet::settle("the soak").await;
    eprintln!(
        "soak: {RATE} mixed calls/s for {} min, {}…",
        length.minutes,
        if length.new_data { "with new members and requests" } else { "on a fixed data set" }
    );
    // Without new data, the newcomers and requests come from fixed pools.
    let newcomer_pool: Vec<Uuid> = (0..FIXED_POOL).map(|_| Uuid::new_v4()).collect();
    let request_pool: Vec<Uuid> = (0..FIXED_POOL).map(|_| Uuid::new_v4()).collect();

    let started = Instant::now();
    let mut samples = Vec::new();
    let (mut calls, mut errors, mut first_errors) = (0u64, 0u64, Vec::new());
    let mut next_sample = Duration::ZERO;
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / RATE));
    let mut newcomers: Vec<Uuid> = Vec::new();
    let mut i: u64 = 0;
    while started.elapsed() < duration {
        if started.elapsed() >= next_sample {
            samples.push(Sample::of(&service, started, calls, errors));
            next_sample += SAMPLE_EVERY;
        }
        tick.tick().await;
        i += 1;
        let member = |k: u64| c.members[(k as usize) % c.members.len()].user;
        let council = &c.councils[(i as usize / 200) % c.councils.len()];
        let (method, path, body) = match i % 200 {
            // A newcomer joins, and the one before leaves again.
            0 => {
                let user =
                    if length.new_data { Uuid::new_v4() } else { newcomer_pool[(i / 200) as usize % FIXED_POOL] };
                newcomers.push(user);
                (Method::PUT, format!("/v1/communities/{}/members/{user}", c.id), Some(json!({ "trust_score": 20 })))
            }
            100 if newcomers.len() > 1 => {
                let user = newcomers.remove(0);
                (Method::DELETE, format!("/v1/communities/{}/members/{user}", c.id), None)
            }
            // A council member leaves and comes back.
            50 => (Method::DELETE, format!("/v1/councils/{}/members/{}", council.id, council.members[0]), None),
            60 => (Method::PUT, format!("/v1/councils/{}/members/{}", council.id, council.members[0]), Some(json!({}))),
            // A request is accepted: a DM (a new pair each time) and the
            // bot's message.
            // Without new data, one of a few requests is accepted again
            // (with the same pair: an idempotent replay).
            150 => {
                let (request, k) = if length.new_data {
                    (Uuid::new_v4(), i / 200)
                } else {
                    let k = (i / 200) % FIXED_POOL as u64;
                    (request_pool[k as usize], k)
                };
                (
                    Method::POST,
                    format!("/v1/requests/{request}/accept"),
                    Some(
                        json!({ "community_id": c.id, "requester_id": member(k), "owner_id": member(k + 1), "title": "Soak" }),
                    ),
                )
            }
            k if k % 10 == 0 => (Method::GET, format!("/v1/communities/{}", c.id), None),
            k if k % 10 == 5 => (Method::GET, format!("/v1/audit?community_id={}&limit=20", c.id), None),
            _ => {
                let trust = (i * 7) % 60;
                let user = member(i * 13);
                (Method::PUT, format!("/v1/communities/{}/members/{user}", c.id), Some(json!({ "trust_score": trust })))
            }
        };
        calls += 1;
        if let Err(e) = service.call(method, &path, body).await {
            errors += 1;
            if first_errors.len() < 5 {
                first_errors.push(e);
            }
        }
    }
    samples.push(Sample::of(&service, started, calls, errors));

    // Converged at the end: the community and its councils synced.
    let settle_started = Instant::now();
    let paths = std::iter::once(format!("/v1/communities/{}", c.id))
        .chain(c.councils.iter().map(|k| format!("/v1/councils/{}", k.id)));
    let converged = async {
        for path in paths {
            service.synced(&path, Duration::from_secs(120).saturating_sub(settle_started.elapsed())).await?;
        }
        Ok::<_, String>(settle_started.elapsed().as_secs_f64())
    }
    .await
    .inspect_err(|e| eprintln!("soak: {e}"))
    .ok();
    service.stop();

    let third = (samples.len() / 3).max(1);
    let peak = |s: &[Sample], f: fn(&Sample) -> f64| s.iter().map(f).fold(0.0, f64::max);
    let (early, late) = (&samples[..third], &samples[samples.len() - third..]);
    let grew = |f: fn(&Sample) -> f64, margin: f64| peak(late, f) > peak(early, f) * 1.1 + margin;
    let rss_grew = grew(|s| s.rss_mb, 5.0);
    let files_grew = grew(|s| s.open_files as f64, 5.0);
    let sockets_grew = grew(|s| s.sockets as f64, 3.0);
    let passed = errors == 0 && converged.is_some() && !rss_grew && !files_grew && !sockets_grew;
    let report = json!({
        "duration_s": duration.as_secs(),
        "new_data": length.new_data,
        "rate": RATE,
        "calls": calls,
        "errors": errors,
        "first_errors": first_errors,
        "converged_after_s": converged,
        "rss_grew": rss_grew,
        "open_files_grew": files_grew,
        "sockets_grew": sockets_grew,
        "passed": passed,
        "samples": samples,
    });
    Ok(SoakOutcome { report, passed })
}

/// The soak's figures as a Markdown table, a row per sample.
pub fn markdown(report: &Value) -> String {
    let mut out = String::from("| at | RSS | open files | sockets | calls | errors |\n|---|---|---|---|---|---|\n");
    for s in report["samples"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "| {:.0} s | {:.1} MB | {} | {} | {} | {} |\n",
            s["at_s"].as_f64().unwrap_or(0.0),
            s["rss_mb"].as_f64().unwrap_or(0.0),
            s["open_files"],
            s["sockets"],
            s["calls"],
            s["errors"],
        ));
    }
    let verdict = |key: &str| if report[key].as_bool() == Some(true) { "grew" } else { "flat" };
    out.push_str(&format!(
        "\n{} min{}: {} calls, {} errors; memory {}, open files {}, sockets {}; converged {} after the load. {}\n",
        report["duration_s"].as_u64().unwrap_or(0) / 60,
        if report["new_data"].as_bool() == Some(false) { " on a fixed data set" } else { " with new data" },
        report["calls"],
        report["errors"],
        verdict("rss_grew"),
        verdict("open_files_grew"),
        verdict("sockets_grew"),
        report["converged_after_s"].as_f64().map_or("never (120 s)".to_owned(), |s| format!("{s:.1} s")),
        if report["passed"].as_bool() == Some(true) { "PASSED" } else { "FAILED" },
    ));
    out
}
