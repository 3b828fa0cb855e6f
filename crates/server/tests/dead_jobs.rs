#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! A reconcile that keeps failing goes dead after its attempts, with its
//! error in the status, `/v1/jobs/dead` and `/metrics`; it blocks no other
//! community; an operator retries it once the cause is mended.

mod common;

use std::time::{Duration, Instant};

use common::{Db, TestApp, assert_error, ok};
use matrix_sync_testkit::{UserClient, encode_segment};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// The homeserver's admin: blocks and unblocks rooms, lists their members.
fn admin(app: &TestApp) -> UserClient {
    UserClient::with_token(&app.hs, "@synapse-admin:localhost", app.hs.get("MATRIX_ADMIN_ACCESS_TOKEN"))
}

async fn block(app: &TestApp, room: &str, block: bool) {
    admin(app)
        .request(
            Method::PUT,
            &format!("/_synapse/admin/v1/rooms/{}/block", encode_segment(room)),
            Some(json!({ "block": block })),
        )
        .await
        .unwrap();
}

async fn members(app: &TestApp, room: &str) -> Vec<String> {
    let answer = admin(app).get(&format!("/_synapse/admin/v1/rooms/{}/members", encode_segment(room))).await.unwrap();
    answer["members"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_owned()).collect()
}

async fn dead_jobs(app: &TestApp) -> Vec<Value> {
    ok(app, Method::GET, "/v1/jobs/dead", None).await["jobs"].as_array().unwrap().clone()
}

async fn metric(app: &TestApp, name: &str) -> String {
    app.api().metrics().await.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_failing_reconcile_goes_dead_blocks_nothing_else_and_can_be_retried() {
    let app = TestApp::spawn_with(
        Db::Sqlite,
        &[("MATRIX_SYNC_MAX_ATTEMPTS", "3"), ("MATRIX_SYNC_RETRY_BASE", "100ms"), ("MATRIX_SYNC_RETRY_CAP", "200ms")],
    )
    .await;
    let (blocked, other, newcomer) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let general =
        ok(&app, Method::PUT, &format!("/v1/communities/{blocked}?wait=30"), Some(json!({ "name": "Blocked" }))).await
            ["matrix_room_id"]
            .as_str()
            .unwrap()
            .to_owned();
    // The homeserver's operator blocks the General room: nobody can join it.
    block(&app, &general, true).await;
    let (status, _) = app
        .call(Method::PUT, &format!("/v1/communities/{blocked}/members/{newcomer}"), Some(json!({ "trust_score": 20 })))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // Another community goes on meanwhile.
    ok(&app, Method::PUT, &format!("/v1/communities/{other}?wait=30"), Some(json!({ "name": "Other" }))).await;
    ok(
        &app,
        Method::PUT,
        &format!("/v1/communities/{other}/members/{newcomer}?wait=30"),
        Some(json!({ "trust_score": 20 })),
    )
    .await;

    let started = Instant::now();
    let dead = loop {
        let jobs = dead_jobs(&app).await;
        if let Some(job) = jobs.into_iter().find(|j| j["resource_id"] == blocked.to_string()) {
            break job;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the job did not go dead within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(dead["kind"], "community");
    assert_eq!(dead["state"], "dead");
    assert_eq!(dead["attempts"], 3);
    let error = dead["last_error"].as_str().unwrap();
    assert!(error.contains("403"), "{error}");
    let status = ok(&app, Method::GET, &format!("/v1/communities/{blocked}"), None).await;
    assert_eq!(status["status"], "error");
    assert_eq!(status["last_error"], error);
    assert_eq!(metric(&app, "matrix_sync_jobs_dead").await, "matrix_sync_jobs_dead 1");
    let newcomer_id = app.hs.matrix_id(newcomer);
    assert!(!members(&app, &general).await.contains(&newcomer_id));
    // Dead means no more attempts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(dead_jobs(&app).await.iter().find(|j| j["id"] == dead["id"]).unwrap()["attempts"], 3);

    // Mended and retried, it converges.
    block(&app, &general, false).await;
    let id = dead["id"].as_i64().unwrap();
    let (status, retried) = app.call(Method::POST, &format!("/v1/jobs/{id}/retry"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{retried}");
    assert_eq!(
        (retried["id"].as_i64(), retried["state"].as_str(), retried["attempts"].as_i64()),
        (Some(id), Some("pending"), Some(0))
    );
    let started = Instant::now();
    while ok(&app, Method::GET, &format!("/v1/communities/{blocked}"), None).await["status"] != "synced" {
        assert!(started.elapsed() < Duration::from_secs(30), "not synced 30 s after the retry");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(members(&app, &general).await.contains(&newcomer_id));
    assert!(dead_jobs(&app).await.is_empty());
    assert_eq!(metric(&app, "matrix_sync_jobs_dead").await, "matrix_sync_jobs_dead 0");

    // Only dead jobs can be retried, by a valid id.
    assert_error(
        &app.call(Method::POST, &format!("/v1/jobs/{id}/retry"), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    for bad in ["0", "-1", "abc", "99999999999999999999"] {
        assert_error(
            &app.call(Method::POST, &format!("/v1/jobs/{bad}/retry"), None).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        );
    }
    assert_error(&app.call(Method::GET, "/v1/jobs/dead?limit=0", None).await, StatusCode::BAD_REQUEST, "bad_request");
    let (status, _) = app.raw(Method::GET, "/v1/jobs/dead").send().await.map(|r| (r.status(), ())).unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}
