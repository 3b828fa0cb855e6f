#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! No device of the service's holds members' room keys: rooms are made and
//! administered by the managing identity, which has no device; the bot's
//! device is in a DM only while it sends its message there.

mod common;

use std::time::Duration;

use common::{TestApp, ok};
use matrix_sync_testkit::{EncryptedUser, UserClient, encode_segment};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// The devices the homeserver lists for a user (`/keys/query`).
async fn devices_of(client: &UserClient, user: &str) -> Vec<String> {
    let answer = client
        .request(Method::POST, "/_matrix/client/v3/keys/query", Some(json!({ "device_keys": { user: [] } })))
        .await
        .unwrap();
    answer["device_keys"][user].as_object().map(|d| d.keys().cloned().collect()).unwrap_or_default()
}

async fn joined(client: &UserClient, room: &str) -> Vec<String> {
    let answer =
        client.get(&format!("/_matrix/client/v3/rooms/{}/joined_members", encode_segment(room))).await.unwrap();
    answer["joined"].as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn members_keys_never_reach_a_service_device() {
    let app =
        TestApp::spawn_with(common::Db::Sqlite, &[("MATRIX_SYNC_APP_URL", "https://communities.example.org")]).await;
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let (community, _) = common::community_with(&app, json!({ "name": "Makers" }), &[(alice, 10), (bob, 10)]).await;
    let (_, k) = common::council_with(&app, community, &[alice, bob]).await;
    let council_room = k["matrix_room_id"].as_str().unwrap().to_owned();
    let alice_device = EncryptedUser::login(&app.hs, &app.hs.matrix_id(alice)).await;
    let bob_device = EncryptedUser::login(&app.hs, &app.hs.matrix_id(bob)).await;
    let accept = json!({ "community_id": community, "requester_id": bob, "owner_id": alice, "title": "Saw" });
    let request = Uuid::new_v4();
    let accepted = ok(&app, Method::POST, &format!("/v1/requests/{request}/accept?wait=30"), Some(accept)).await;
    let dm = accepted["matrix_room_id"].as_str().unwrap().to_owned();
    let link = format!("https://communities.example.org/requests/{request}");
    assert!(
        bob_device.wait_for_message(&dm, &link, Duration::from_secs(30)).await.expect("the bot's message").decrypted
    );

    // Members write in their DM and in the council room; each reads the
    // other (Alice's client learns Bob's devices from his message first).
    let in_dm = format!("Tuesday at 6? {}", Uuid::new_v4());
    bob_device.send_text(&dm, &in_dm).await;
    assert!(alice_device.wait_for_message(&dm, &in_dm, Duration::from_secs(30)).await.unwrap().decrypted);
    let in_council = format!("Budget draft {}", Uuid::new_v4());
    alice_device.send_text(&council_room, &in_council).await;
    assert!(bob_device.wait_for_message(&council_room, &in_council, Duration::from_secs(30)).await.unwrap().decrypted);

    // The rooms' members as the homeserver reports them: the members and
    // the manager, never the bot.
    let manager = UserClient::manager(&app.hs);
    let bot = app.hs.get("MATRIX_BOT_USER_ID").to_owned();
    for room in [&council_room, &dm] {
        let members = joined(&manager, room).await;
        assert!(members.contains(&manager.user_id), "the manager administers {room}: {members:?}");
        assert!(!members.contains(&bot), "the bot is not in {room}: {members:?}");
    }
    // The manager has no device to be handed a key; the bot's device (one
    // of the bot's, as every test service made its own) is in no room of
    // the members'.
    let alice_plain = common::login(&app, alice).await;
    assert_eq!(devices_of(&alice_plain, &manager.user_id).await, Vec::<String>::new());
    let service_bot = app.state.engine.bot.get().expect("the bot runs");
    assert!(devices_of(&alice_plain, &bot).await.contains(&service_bot.device_id().unwrap()));
    // The DM's history shows the bot came, spoke and left.
    let dm_members = manager.all_state(&dm).await.unwrap();
    let bot_membership: Vec<&Value> =
        dm_members.iter().filter(|e| e["type"] == "m.room.member" && e["state_key"] == bot.as_str()).collect();
    assert_eq!(bot_membership[0]["content"]["membership"], "leave", "{bot_membership:?}");

    // And what the bot's crypto store holds: its own key in the DM, no
    // member's key of either room.
    for room in [&council_room, &dm] {
        let room_id = ruma::RoomId::parse(room.as_str()).unwrap();
        assert_eq!(service_bot.foreign_room_keys(&room_id).await.unwrap(), 0, "members' keys in {room}");
    }
    app.stop().await;
}
