//! The four scenarios of `make bench`. Each sets up what it needs through
//! the service's own paths (the import, the API), measures, and returns its
//! figures as JSON.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use matrix_sync_core::power::{CommunityRole, TrustLevels, community_level, power_levels_capacity};
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::baseline;
use crate::dataset::{CommunityData, Platform, Shape};
use crate::env::BenchEnv;
use crate::quiet;
use crate::service::{self, Db, Service};

fn rng() -> StdRng {
    StdRng::seed_from_u64(17)
}

fn num(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(0.0)
}

/// A fresh database of `kind` with `platform` imported into it (the homeserver
/// brought there), and the import's report.
fn imported(env: &BenchEnv, kind: &str, run: &str, platform: &Platform) -> Result<(Db, Value), String> {
    let db = Db::fresh(kind, env, run)?;
    let report = service::import(env, &db, &format!("{run}-import"), &platform.import_file())?;
    Ok((db, report))
}

/// Scenario 1: onboarding by import, on both databases, against the raw baseline.
pub async fn onboarding(env: &BenchEnv) -> Result<Value, String> {
    let members = env.scaled(50, 4);
    let shape =
        Shape { communities: env.scaled(10, 2), members, councils: 2, council_members: 8.min(members), min_trust: 0 };
    let mut rng = rng();
    // The baseline first: the homeserver's database grows with each run, so
    // if the order favours anyone, it favours the baseline.
    quiet::settle("the raw baseline").await;
    eprintln!("onboarding: the raw baseline…");
    let base = baseline::run(env, &Platform::generate(shape, &mut rng)).await?;
    let mut runs = Vec::new();
    for kind in ["sqlite", "postgres"] {
        let platform = Platform::generate(shape, &mut rng);
        quiet::settle(&format!("onboarding on {kind}")).await;
        eprintln!("onboarding on {kind}: {} communities × {members} members…", shape.communities);
        let (_, report) = imported(env, kind, &format!("onboarding-{kind}"), &platform)?;
        runs.push(json!({
            "db": kind,
            "wall_s": num(&report, "wall_s"),
            "requests_made": report["requests_made"],
            "requests_minimal": report["requests_minimal"],
            "minimal": report["minimal"],
            "requests_by_endpoint": report["requests_by_endpoint"],
        }));
    }
    let first = &runs[0];
    Ok(json!({
        "communities": shape.communities,
        "members_per_community": members,
        "councils_per_community": shape.councils,
        "council_members": shape.council_members,
        "concurrency": env.concurrency,
        "requests_made": first["requests_made"],
        "requests_minimal": first["requests_minimal"],
        "minimal": first["minimal"],
        "wall_s": first["wall_s"],
        "baseline_wall_s": base.wall_s,
        "baseline_requests": base.requests,
        "runs": runs,
    }))
}

/// The power levels of a room as the homeserver has them (read as the bot).
async fn homeserver_levels(env: &BenchEnv, room_id: &str) -> Result<Value, String> {
    let mut url = env.homeserver_url.clone();
    url.path_segments_mut().map_err(|()| "homeserver URL".to_owned())?.extend([
        "_matrix",
        "client",
        "v3",
        "rooms",
        room_id,
        "state",
        "m.room.power_levels",
        "",
    ]);
    url.query_pairs_mut().append_pair("user_id", env.ids.manager().as_str());
    let resp = reqwest::Client::new().get(url).bearer_auth(&env.as_token).send().await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("power levels of {room_id}: {}", resp.status()));
    }
    resp.json().await.map_err(|e| e.to_string())
}

fn expected_levels(env: &BenchEnv, c: &CommunityData) -> BTreeMap<String, i64> {
    let levels = TrustLevels::default();
    c.members
        .iter()
        .map(|m| {
            let role = if m.admin { CommunityRole::Admin } else { CommunityRole::Member };
            let level = community_level(&levels, u64::try_from(m.trust).unwrap_or(0), role);
            (env.ids.user(m.user).to_string(), level)
        })
        .collect()
}

fn levels_match(want: &BTreeMap<String, i64>, have: &Value) -> bool {
    want.iter().all(|(user, level)| have["users"][user].as_i64().unwrap_or(0) == *level)
}

/// Scenario 2: a trust storm: many changes in 2 s to one community with councils.
pub async fn storm(env: &BenchEnv) -> Result<Value, String> {
    let members = env.scaled(300, 10);
    let shape = Shape { communities: 1, members, councils: 5, council_members: 8.min(members), min_trust: 0 };
    let mut rng = rng();
    let mut platform = Platform::generate(shape, &mut rng);
    eprintln!("storm: setting up a community of {members} members with 5 councils…");
    let (db, _) = imported(env, "postgres", "storm", &platform)?;
    let service = Service::start(env, &db, "storm").await?;
    let c = platform.communities[0].id;
    let status = service.synced(&format!("/v1/communities/{}", c), Duration::from_secs(120)).await?;
    let general = status["matrix_room_id"].as_str().ok_or("no General room")?.to_owned();
    // The storm hits a service in its steady state: it has reconciled the
    // community since the homeserver last pushed a change to its rooms (the
    // set-up's joins reach it as a backlog of pushes once it listens), so
    // its room cache holds them. Changes it waits for, until one needs no
    // request at all.
    quiet::settle("the storm").await;
    let admin = platform.communities[0].members[0].user;
    let path = format!("/v1/communities/{c}/members/{admin}?wait=30");
    for _ in 0..20 {
        let before = service.homeserver_requests().await?;
        service.call(Method::PUT, &path, Some(json!({ "trust_score": 0 }))).await?;
        if service::delta(&before, &service.homeserver_requests().await?).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let before_desired = platform.communities[0].desired(&env.ids);

    let changes = env.scaled(2000, 50);
    let window = Duration::from_secs(2);
    // Lanes own disjoint members, so each member's changes arrive in order
    // and the last one sent is the one that counts.
    let lanes = 20.min(members - 1);
    let mut plan: Vec<Vec<(Uuid, i64)>> = vec![Vec::new(); lanes];
    for i in 0..changes {
        let lane = i % lanes;
        let pool: Vec<usize> = (1..members).filter(|m| m % lanes == lane).collect();
        let m = pool[rng.random_range(0..pool.len())];
        let trust = rng.random_range(0..60);
        platform.communities[0].members[m].trust = trust;
        plan[lane].push((platform.communities[0].members[m].user, trust));
    }
    let before = service.homeserver_requests().await?;
    eprintln!("storm: {changes} trust changes in {window:?}…");
    let started = Instant::now();
    let sent = futures_util::future::join_all(plan.iter().map(|lane| {
        let service = &service;
        async move {
            let every = window.as_secs_f64() / lane.len().max(1) as f64;
            for (k, (user, trust)) in lane.iter().enumerate() {
                let at = Duration::from_secs_f64(every * k as f64);
                tokio::time::sleep(at.saturating_sub(started.elapsed())).await;
                let path = format!("/v1/communities/{c}/members/{user}");
                service.call(Method::PUT, &path, Some(json!({ "trust_score": trust }))).await?;
            }
            Ok::<(), String>(())
        }
    }))
    .await;
    let last_change = Instant::now();
    let sent_in = started.elapsed().as_secs_f64();
    sent.into_iter().collect::<Result<Vec<_>, _>>()?;

    let want = expected_levels(env, &platform.communities[0]);
    loop {
        let status = service.call(Method::GET, &format!("/v1/communities/{c}"), None).await?;
        if status["status"] == "synced" && levels_match(&want, &homeserver_levels(env, &general).await?) {
            break;
        }
        if last_change.elapsed() > Duration::from_secs(120) {
            return Err("the storm did not converge within 120 s".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let converge = last_change.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let made = service::delta(&before, &service.homeserver_requests().await?);
    let after_desired = platform.communities[0].desired(&env.ids);
    let rooms = after_desired.rooms.len();
    let rooms_changed = after_desired
        .rooms
        .iter()
        .filter(|r| before_desired.rooms.iter().find(|b| b.key == r.key).is_none_or(|b| b.power != r.power))
        .count();
    service.stop();
    Ok(json!({
        "members": members,
        "councils": 5,
        "changes": changes,
        "sent_in_s": sent_in,
        "rooms": rooms,
        "rooms_changed": rooms_changed,
        "power_level_events": made.get("state.power_levels").copied().unwrap_or(0),
        "requests_made": made.values().sum::<u64>(),
        "requests_minimal": rooms_changed,
        "requests_by_endpoint": made,
        "converge_after_last_s": converge,
    }))
}

/// Scenario 3: member upserts at a steady rate, measured by wrk, on both databases.
pub async fn api_load(env: &BenchEnv) -> Result<Value, String> {
    let rate = 500;
    let duration = env.scaled(30, 5);
    let mut out = Vec::new();
    for kind in ["sqlite", "postgres"] {
        let mut rng = rng();
        let members = env.scaled(50, 5);
        let shape = Shape { communities: 1, members, councils: 0, council_members: 0, min_trust: 0 };
        let platform = Platform::generate(shape, &mut rng);
        let run = format!("api-load-{kind}");
        eprintln!("API load on {kind}: setting up…");
        let (db, _) = imported(env, kind, &run, &platform)?;
        let service = Service::start(env, &db, &run).await?;
        let c = &platform.communities[0];
        service.synced(&format!("/v1/communities/{}", c.id), Duration::from_secs(120)).await?;
        quiet::settle(&format!("the API load on {kind}")).await;
        let idle_rss = service.rss_mb();
        eprintln!("API load on {kind}: {rate} requests/s for {duration} s…");
        let figures = crate::wrk::run(env, &service, c, rate, duration).await?;
        out.push(json!({
            "db": kind,
            "rate": rate,
            "duration_s": duration,
            "idle_rss_mb": idle_rss,
            "rss_mb": figures.peak_rss_mb,
            "requests": figures.requests,
            "achieved_rate": figures.requests as f64 / figures.duration_s,
            "p50_ms": figures.p50_ms,
            "p99_ms": figures.p99_ms,
            "max_ms": figures.max_ms,
            "errors": figures.errors,
        }));
        service.stop();
    }
    let worst = |key: &str| out.iter().map(|r| num(r, key)).fold(0.0, f64::max);
    Ok(json!({
        "rate": rate,
        "duration_s": duration,
        "p50_ms": worst("p50_ms"),
        "p99_ms": worst("p99_ms"),
        "errors": out.iter().map(|r| r["errors"].as_u64().unwrap_or(0)).sum::<u64>(),
        "rss_mb": worst("rss_mb"),
        "idle_rss_mb": worst("idle_rss_mb"),
        "runs": out,
    }))
}

/// Scenario 4: one community of growing size, everyone above level 0 (the largest
/// power-levels events), then the power-levels size limit.
pub async fn growth(env: &BenchEnv) -> Result<(Value, Value), String> {
    let mut rng = rng();
    let mut points = Vec::new();
    let mut largest = None;
    for n in [100, 300, 1000] {
        let members = env.scaled(n, 5);
        let shape = Shape { communities: 1, members, councils: 0, council_members: 0, min_trust: 5 };
        let platform = Platform::generate(shape, &mut rng);
        let run = format!("growth-{n}");
        quiet::settle(&format!("growth to {members} members")).await;
        eprintln!("growth: one community of {members} members…");
        let (db, report) = imported(env, "sqlite", &run, &platform)?;
        points.push(json!({
            "members": members,
            "wall_s": num(&report, "wall_s"),
            "requests_made": report["requests_made"],
            "requests_minimal": report["requests_minimal"],
        }));
        largest = Some((db, platform));
    }
    let (db, platform) = largest.ok_or("no growth point")?;
    let limit = power_limit(env, &db, &platform.communities[0]).await?;
    Ok((Value::Array(points), limit))
}

/// The largest community's real power-levels event on the homeserver, and
/// what the API answers when one more member above level 0 would not fit.
async fn power_limit(env: &BenchEnv, db: &Db, grown: &CommunityData) -> Result<Value, String> {
    let capacity = power_levels_capacity(env.ids.server_name().as_str());
    let service = Service::start(env, db, "power-limit").await?;
    let status = service.synced(&format!("/v1/communities/{}", grown.id), Duration::from_secs(60)).await?;
    let general = status["matrix_room_id"].as_str().ok_or("no General room")?;
    let levels = homeserver_levels(env, general).await?;
    let event_bytes = levels.to_string().len();
    let listed = levels["users"].as_object().map_or(0, |u| u.len());

    // A community with chat turned off: the API's limit is the same, and
    // filling it costs the homeserver no joins.
    let c = Uuid::new_v4();
    let body = json!({ "name": "Power limit", "config": { "matrixEnabled": false } });
    service.call(Method::PUT, &format!("/v1/communities/{c}"), Some(body)).await?;
    let mut accepted = 0;
    let refusal = loop {
        let path = format!("/v1/communities/{c}/members/{}", Uuid::new_v4());
        match service.call(Method::PUT, &path, Some(json!({ "trust_score": 50 }))).await {
            Ok(_) => accepted += 1,
            Err(e) => break e,
        }
        if accepted > capacity + 10 {
            break "no refusal".to_owned();
        }
    };
    service.stop();
    Ok(json!({
        "capacity": capacity,
        "event_size_limit": matrix_sync_core::power::EVENT_SIZE_LIMIT,
        "largest_room_members_listed": listed,
        "largest_room_event_bytes": event_bytes,
        "bytes_per_member": if listed > 0 { event_bytes as f64 / listed as f64 } else { 0.0 },
        "members_accepted_above_level_0": accepted,
        "refusal": refusal,
    }))
}
