#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! Faults injected into real processes: the homeserver paused and
//! restarted, the service killed, PostgreSQL restarted, during bursts of
//! writes. Faults delay work; they never lose or duplicate it. These tests
//! run against a homeserver of their own (`dev/synapse.sh start faults`), so
//! no other test sees it stop, and take turns.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use common::wanted::{Wanted, put_member, synced};
use common::{Api, Db, ServiceProcess, TestApp};
use matrix_sync_testkit::{Faults, FlakyProxy, HomeserverProcess, LocalHomeserver, ProxyCounts};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// One fault at a time: they share the homeserver and the database server.
static TURN: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(Default::default);

fn fault_homeserver() -> (LocalHomeserver, HomeserverProcess) {
    let hs = LocalHomeserver::for_fault_tests();
    let process = HomeserverProcess::of(&hs);
    (hs, process)
}

/// Sends a burst of writes; every one must be answered, and quickly, whatever
/// the homeserver is doing.
async fn burst(api: &Api, wanted: &mut Wanted, writes: usize) {
    for i in 0..writes {
        let (user, trust) = wanted.next_write(i);
        let started = Instant::now();
        let (status, body) = put_member(api, wanted.community, user, trust).await.expect("the API answers");
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert!(started.elapsed() < Duration::from_secs(2), "a write took {:?}", started.elapsed());
        wanted.trust.insert(user, trust);
    }
}

#[tokio::test]
async fn the_homeserver_paused_or_restarted_mid_burst_delays_work_but_loses_and_duplicates_nothing() {
    let _turn = TURN.lock().await;
    let (hs, process) = fault_homeserver();
    let app = TestApp::spawn_receiving_pushes_on(hs.clone(), Db::Sqlite, &[]).await;
    let api = app.api();
    for restart in [false, true] {
        let mut wanted = Wanted::new(4);
        wanted.create(&api).await;
        // A community that does not exist yet, created while the homeserver is away.
        let mut newcomer = Wanted::new(2);
        if restart {
            process.stop().await;
        } else {
            process.pause();
        }
        burst(&api, &mut wanted, 24).await;
        let (status, body) = api
            .call(Method::PUT, &format!("/v1/communities/{}", newcomer.community), Some(json!({ "name": "Faults" })))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        burst(&api, &mut newcomer, 4).await;
        // The service keeps trying while the homeserver is away.
        tokio::time::sleep(Duration::from_secs(3)).await;
        if restart {
            process.start().await;
        } else {
            process.resume();
        }
        for w in [&wanted, &newcomer] {
            synced(&api, w.community, Duration::from_secs(90)).await;
            w.assert_on_homeserver(&hs).await;
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_slow_and_flaky_homeserver_is_converged_on_with_timeouts_and_the_asked_for_waits() {
    let _turn = TURN.lock().await;
    let (hs, _) = fault_homeserver();
    // Every chunk slowed; every 7th request reset, every 5th answered 429,
    // every 11th never answered at all.
    let faults = Faults {
        latency: Duration::from_millis(20),
        reset_every: Some(7),
        rate_limit_every: Some(5),
        retry_after_ms: 300,
        swallow_every: Some(11),
    };
    let proxy = FlakyProxy::start(hs.url(), faults).await;
    let app = TestApp::spawn_receiving_pushes_on(
        hs.clone(),
        Db::Sqlite,
        &[
            ("MATRIX_HOMESERVER_URL", &proxy.url()),
            ("MATRIX_SYNC_HOMESERVER_TIMEOUT", "2s"),
            ("MATRIX_SYNC_RETRY_BASE", "200ms"),
            ("MATRIX_SYNC_RETRY_CAP", "2s"),
        ],
    )
    .await;
    let api = app.api();
    let mut wanted = Wanted::new(5);
    let started = Instant::now();
    wanted.create_within(&api, Duration::from_secs(180)).await;
    burst(&api, &mut wanted, 12).await;
    synced(&api, wanted.community, Duration::from_secs(180)).await;
    eprintln!(
        "converged through the flaky proxy in {:.1} s: {} requests, {} reset, {} answered 429, {} never answered",
        started.elapsed().as_secs_f64(),
        proxy.count(|c: &ProxyCounts| &c.requests),
        proxy.count(|c: &ProxyCounts| &c.resets),
        proxy.count(|c: &ProxyCounts| &c.rate_limited),
        proxy.count(|c: &ProxyCounts| &c.swallowed),
    );
    // Every kind of fault happened, and a request never answered did not
    // hold the work up (it timed out after 2 s and was tried again).
    assert!(proxy.count(|c: &ProxyCounts| &c.resets) > 0);
    assert!(proxy.count(|c: &ProxyCounts| &c.rate_limited) > 0);
    assert!(proxy.count(|c: &ProxyCounts| &c.swallowed) > 0);
    proxy.set(Faults::default());
    wanted.assert_on_homeserver(&hs).await;
    app.stop().await;
}

/// The service on the fault homeserver, at the registration's address.
async fn serve(hs: &LocalHomeserver, database_url: &str, data_dir: &Path) -> ServiceProcess {
    let mut vars = hs.settings.clone();
    vars.insert("DATABASE_URL".into(), database_url.into());
    vars.insert("MATRIX_SYNC_DATA_DIR".into(), data_dir.display().to_string());
    ServiceProcess::start(&vars, Stdio::inherit()).await
}

#[tokio::test]
async fn the_service_killed_mid_burst_loses_no_acknowledged_write_and_duplicates_nothing() {
    let _turn = TURN.lock().await;
    let (hs, _) = fault_homeserver();
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/matrix-sync.db", dir.path().display());
    let data_dir = dir.path().join("data");
    let api = Api::new(&format!("http://{}", hs.get("MATRIX_SYNC_LISTEN")), hs.get("MATRIX_SYNC_API_TOKEN"));
    for kill_after_ms in [50u64, 400, 1500] {
        let service = serve(&hs, &database_url, &data_dir).await;
        // Creation, members and trust changes in flight when the kill comes.
        let mut wanted = Wanted::new(6);
        let (status, _) = api
            .call(Method::PUT, &format!("/v1/communities/{}", wanted.community), Some(json!({ "name": "Faults" })))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let mut unanswered = Vec::new();
        let started = Instant::now();
        let mut killer = Some(service);
        for i in 0..40 {
            if started.elapsed() >= Duration::from_millis(kill_after_ms)
                && let Some(service) = killer.take()
            {
                service.kill();
            }
            let (user, trust) = if i < wanted.trust.len() {
                let (u, t) = wanted.trust.iter().nth(i).unwrap();
                (*u, *t)
            } else {
                wanted.next_write(i)
            };
            match put_member(&api, wanted.community, user, trust).await {
                Some((status, body)) => {
                    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
                    wanted.trust.insert(user, trust);
                }
                // Not acknowledged: the platform sends it again later.
                None => unanswered.push((user, trust)),
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        if let Some(service) = killer.take() {
            service.kill();
        }
        let service = serve(&hs, &database_url, &data_dir).await;
        for (user, trust) in unanswered {
            let (status, body) = put_member(&api, wanted.community, user, trust).await.unwrap();
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
            wanted.trust.insert(user, trust);
        }
        synced(&api, wanted.community, Duration::from_secs(90)).await;
        wanted.assert_on_homeserver(&hs).await;
        service.kill();
    }
}

#[tokio::test]
async fn postgres_restarted_under_the_service_is_reconnected_to_and_work_goes_on() {
    let _turn = TURN.lock().await;
    let (hs, _) = fault_homeserver();
    let app = TestApp::spawn_receiving_pushes_on(hs.clone(), Db::Postgres, &[]).await;
    let api = app.api();
    let mut wanted = Wanted::new(4);
    wanted.create(&api).await;

    let script = matrix_sync_testkit::workspace_root().join("dev/postgres.sh");
    let restart = tokio::task::spawn_blocking(move || Command::new(script).arg("restart").status().unwrap());
    // Writes while the database goes away and comes back: each is either
    // taken (2xx) or refused as `database_unavailable` (503), never lost
    // silently; refused ones are sent again.
    let mut refused = 0;
    for i in 0..30 {
        let (user, trust) = wanted.next_write(i);
        loop {
            let (status, body) = put_member(&api, wanted.community, user, trust).await.expect("the API answers");
            if status.is_success() {
                break;
            }
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
            assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
            refused += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        wanted.trust.insert(user, trust);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(restart.await.unwrap().success(), "dev/postgres.sh restart failed");
    eprintln!("{refused} writes refused while PostgreSQL restarted");
    synced(&api, wanted.community, Duration::from_secs(90)).await;
    wanted.assert_on_homeserver(&hs).await;
    let (status, _) = api.call(Method::GET, "/readyz", None).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}
