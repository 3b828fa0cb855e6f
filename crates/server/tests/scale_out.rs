#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! Scale-out: two `matrix-sync serve` processes on one PostgreSQL database
//! and one homeserver share the work. Writes go to either; the homeserver
//! pushes to the one at the registration's address; jobs, the retention
//! sweeper and the anti-entropy pass run in both. Nothing is done twice,
//! and everything converges.

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use common::wanted::{Wanted, put_member, synced};
use common::{Api, ServiceProcess, eventually, free_port, pg_url};
use matrix_sync_testkit::{EncryptedUser, LocalHomeserver, UserClient};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

const APP_URL: &str = "https://app.example.org";

/// One of the processes: the shared database, a data folder (the bot's
/// device) of its own, and `listen`.
async fn serve(hs: &LocalHomeserver, schema: &str, data: &std::path::Path, listen: &str, log: Stdio) -> ServiceProcess {
    let mut vars: BTreeMap<String, String> = hs.settings.clone();
    vars.insert("DATABASE_URL".into(), pg_url());
    vars.insert("MATRIX_SYNC_DB_SCHEMA".into(), schema.into());
    vars.insert("MATRIX_SYNC_DATA_DIR".into(), data.display().to_string());
    vars.insert("MATRIX_SYNC_LISTEN".into(), listen.into());
    vars.insert("MATRIX_SYNC_APP_URL".into(), APP_URL.into());
    vars.insert("MATRIX_SYNC_RETENTION".into(), "3s".into());
    vars.insert("MATRIX_SYNC_ANTI_ENTROPY".into(), "5s".into());
    vars.insert("RUST_LOG".into(), "warn,matrix_sync_engine::reconcile::request=info".into());
    ServiceProcess::start(&vars, log).await
}

/// Runs SQL on the test database server.
fn psql(sql: &str) {
    let status =
        std::process::Command::new("psql").args([pg_url().as_str(), "-q", "-v", "ON_ERROR_STOP=1", "-c", sql]).status();
    assert!(status.is_ok_and(|s| s.success()), "psql: {sql}");
}

/// `matrix_sync_reconciles_total{name="ok"}` of one process.
async fn reconciles_done(api: &Api) -> f64 {
    api.metrics()
        .await
        .lines()
        .filter(|l| l.starts_with("matrix_sync_reconciles_total") && l.contains("name=\"ok\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn two_processes_on_one_database_share_the_work_without_duplicates() {
    let hs = LocalHomeserver::for_tests();
    let schema = format!("scale_{}", Uuid::new_v4().simple());
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    // The first at the registration's address (it gets the pushes), the
    // second beside it.
    let first = serve(&hs, &schema, dirs[0].path(), hs.get("MATRIX_SYNC_LISTEN"), Stdio::inherit()).await;
    let second_log = dirs[1].path().join("serve.log");
    let log = Stdio::from(std::fs::File::create(&second_log).unwrap());
    let second = serve(&hs, &schema, dirs[1].path(), &format!("127.0.0.1:{}", free_port()), log).await;
    let token = hs.get("MATRIX_SYNC_API_TOKEN");
    let apis = [first.api(token), second.api(token)];

    // Six communities, created through either process, then a burst of
    // trust changes and newcomers spread over both.
    let mut wanted: Vec<Wanted> = (0..6).map(|_| Wanted::new(4)).collect();
    for (i, w) in wanted.iter().enumerate() {
        let api = &apis[i % 2];
        api.success(Method::PUT, &format!("/v1/communities/{}", w.community), Some(json!({ "name": "Shared" }))).await;
        for (user, trust) in &w.trust {
            api.success(
                Method::PUT,
                &format!("/v1/communities/{}/members/{user}", w.community),
                Some(json!({ "trust_score": trust })),
            )
            .await;
        }
    }
    for i in 0..36 {
        let w = &mut wanted[i % 6];
        let (user, trust) = w.next_write(i);
        let (status, body) = put_member(&apis[i % 2], w.community, user, trust).await.unwrap();
        assert!(status.is_success(), "{body}");
        w.trust.insert(user, trust);
    }
    for (i, w) in wanted.iter().enumerate() {
        synced(&apis[(i + 1) % 2], w.community, Duration::from_secs(120)).await;
    }
    for w in &wanted {
        w.assert_on_homeserver(&hs).await;
    }
    // Both processes reconciled.
    for api in &apis {
        assert!(reconciles_done(api).await > 0.0, "{} did no work", api.base);
    }

    // Requests accepted through either process: one DM per pair, one bot
    // message per request, readable by the requester, whichever process's
    // bot device sent it.
    let (requester, owner) = (*wanted[0].trust.keys().next().unwrap(), *wanted[0].trust.keys().nth(1).unwrap());
    let device = EncryptedUser::login(&hs, &hs.matrix_id(requester)).await;
    let mut rooms = Vec::new();
    let requests = [Uuid::new_v4(), Uuid::new_v4()];
    for (i, request) in requests.iter().enumerate() {
        let accept = json!({ "community_id": wanted[0].community, "requester_id": requester, "owner_id": owner });
        let answer =
            apis[i].success(Method::POST, &format!("/v1/requests/{request}/accept?wait=30"), Some(accept)).await;
        assert_eq!(answer["status"], "synced", "{answer}");
        rooms.push(answer["matrix_room_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(rooms[0], rooms[1], "one DM per pair");
    for request in requests {
        let link = format!("{APP_URL}/requests/{request}");
        let seen = device.wait_for_message(&rooms[0], &link, Duration::from_secs(30)).await.expect("the bot's message");
        assert!(seen.decrypted, "{seen:?}");
    }
    let notices = device.messages(&rooms[0]).await.into_iter().filter(|m| m.msgtype == "m.notice").count();
    assert_eq!(notices, 2, "one message per request");

    // A change made by hand reaches the process at the registration's
    // address as a push; whichever process takes the job reverts it.
    let w = &wanted[1];
    let admin = *w.trust.keys().next().unwrap();
    apis[1]
        .success(
            Method::PUT,
            &format!("/v1/communities/{}/members/{admin}?wait=30", w.community),
            Some(json!({ "trust_score": w.trust[&admin], "role": "admin" })),
        )
        .await;
    let status = apis[0].success(Method::GET, &format!("/v1/communities/{}", w.community), None).await;
    let general = status["matrix_room_id"].as_str().unwrap().to_owned();
    let admin_client = UserClient::login(&hs, &hs.matrix_id(admin)).await.unwrap();
    let victim = hs.matrix_id(*w.trust.keys().nth(1).unwrap());
    let mut levels = admin_client.state(&general, "m.room.power_levels", "").await.unwrap();
    let want = levels["users"][&victim].clone();
    levels["users"][&victim] = json!(75);
    admin_client.put_state(&general, "m.room.power_levels", "", levels).await.unwrap();
    eventually("the raise by hand is reverted", Duration::from_secs(30), || async {
        admin_client.state(&general, "m.room.power_levels", "").await.is_ok_and(|l| l["users"][&victim] == want)
    })
    .await;

    // Both sweepers see a hard delete come due: the rooms are deleted once.
    let gone = wanted[2].community;
    apis[0].success(Method::DELETE, &format!("/v1/communities/{gone}"), None).await;
    eventually("the community is hard-deleted", Duration::from_secs(60), || async {
        apis[1].call(Method::GET, &format!("/v1/communities/{gone}"), None).await.1["status"] == "deleted"
    })
    .await;
    let audit = apis[1].success(Method::GET, &format!("/v1/audit?community_id={gone}&limit=500"), None).await;
    let deleted = audit["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "room_deleted").count();
    assert_eq!(deleted, 2, "the Space and the General room, each deleted once: {audit}");

    // The first process dies between sending a request's message and
    // recording it (the record is put back by hand: not sent, set out by a
    // device that is gone). The second process, whose bot is another
    // device, takes the request over and finds the message in the room
    // instead of sending it twice.
    first.kill();
    let taken_over = requests[0];
    psql(&format!(
        "UPDATE {schema}.accepted_requests SET message_sent_at = NULL, message_event_id = NULL, \
         message_device = 'GONE' WHERE id = '{taken_over}'"
    ));
    let accept = json!({ "community_id": wanted[0].community, "requester_id": requester, "owner_id": owner });
    let answer =
        apis[1].success(Method::POST, &format!("/v1/requests/{taken_over}/accept?wait=30"), Some(accept)).await;
    assert_eq!(answer["status"], "synced", "{answer}");
    device.client.sync_once(Default::default()).await.unwrap();
    let notices = device.messages(&rooms[0]).await.into_iter().filter(|m| m.msgtype == "m.notice").count();
    assert_eq!(notices, 2, "the message taken over was found, not sent again");
    let log = std::fs::read_to_string(&second_log).unwrap();
    assert!(log.contains("context message was sent before, by another process"), "{log}");

    second.terminate();
    matrix_sync_store::PgStore::drop_schema(&pg_url(), &schema).await.unwrap();
}
