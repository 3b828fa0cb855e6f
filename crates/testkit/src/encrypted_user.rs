//! An independent end-to-end encrypted client acting as one user, with a
//! device and keys of its own: what a user's chat app would be. Used to check
//! that the bot's messages really decrypt on a member's device.

use std::time::{Duration, Instant};

use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::{RequestConfig, SyncSettings};
use matrix_sdk::deserialized_responses::TimelineEventKind;
use matrix_sdk::room::MessagesOptions;
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use matrix_sdk::ruma::events::{AnySyncMessageLikeEvent, AnySyncTimelineEvent, SyncMessageLikeEvent};
use matrix_sdk::ruma::{OwnedDeviceId, OwnedUserId, RoomId, UInt};
use matrix_sdk::{Client, SessionMeta, SessionTokens};

use crate::{LocalHomeserver, UserClient};

/// A message as the user's device sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenMessage {
    pub sender: String,
    pub msgtype: String,
    pub body: String,
    /// Whether it arrived encrypted and was decrypted on this device.
    pub decrypted: bool,
}

pub struct EncryptedUser {
    pub client: Client,
    pub user_id: String,
    _store: tempfile::TempDir,
}

impl EncryptedUser {
    /// Logs in with a new device (through the appservice login, as the
    /// platform's users do) and uploads its keys.
    pub async fn login(hs: &LocalHomeserver, user_id: &str) -> Self {
        let plain = UserClient::login(hs, user_id).await.expect("appservice login");
        let store = tempfile::tempdir().expect("temp dir");
        let client = Client::builder()
            .homeserver_url(hs.url())
            .sqlite_store(store.path(), None)
            .request_config(RequestConfig::new().timeout(Duration::from_secs(30)).retry_limit(3))
            .build()
            .await
            .expect("client");
        client
            .restore_session(MatrixSession {
                meta: SessionMeta {
                    user_id: OwnedUserId::try_from(plain.user_id.as_str()).expect("user id"),
                    device_id: OwnedDeviceId::from(plain.device_id.as_str()),
                },
                tokens: SessionTokens { access_token: plain.access_token.clone(), refresh_token: None },
            })
            .await
            .expect("restore session");
        client.sync_once(SyncSettings::default().timeout(Duration::ZERO)).await.expect("first sync uploads keys");
        Self { client, user_id: plain.user_id, _store: store }
    }

    pub fn device_id(&self) -> String {
        self.client.device_id().map(ToString::to_string).unwrap_or_default()
    }

    /// The room's recent messages as this device reads them (decrypting
    /// what it can), oldest first.
    pub async fn messages(&self, room_id: &str) -> Vec<SeenMessage> {
        let Ok(room_id) = RoomId::parse(room_id) else { return Vec::new() };
        let Some(room) = self.client.get_room(&room_id) else { return Vec::new() };
        let mut options = MessagesOptions::backward();
        options.limit = UInt::from(50u32);
        let Ok(page) = room.messages(options).await else { return Vec::new() };
        let mut seen: Vec<SeenMessage> = page
            .chunk
            .iter()
            .filter_map(|event| {
                let decrypted = matches!(event.kind, TimelineEventKind::Decrypted(_));
                match event.raw().deserialize().ok()? {
                    AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomMessage(
                        SyncMessageLikeEvent::Original(m),
                    )) => Some(SeenMessage {
                        sender: m.sender.to_string(),
                        msgtype: m.content.msgtype().to_owned(),
                        body: m.content.body().to_owned(),
                        decrypted,
                    }),
                    _ => None,
                }
            })
            .collect();
        seen.reverse();
        seen
    }

    /// Syncs until a message containing `needle` can be read in the room.
    pub async fn wait_for_message(&self, room_id: &str, needle: &str, timeout: Duration) -> Option<SeenMessage> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let _ = self.client.sync_once(SyncSettings::default().timeout(Duration::from_millis(500))).await;
            if let Some(found) = self.messages(room_id).await.into_iter().find(|m| m.body.contains(needle)) {
                return Some(found);
            }
        }
        None
    }

    /// Sends a text message as this user (encrypted if the room is).
    pub async fn send_text(&self, room_id: &str, text: &str) -> String {
        let room_id = RoomId::parse(room_id).expect("room id");
        let room = match self.client.get_room(&room_id) {
            Some(room) if room.state() == matrix_sdk::RoomState::Joined => room,
            _ => self.client.join_room_by_id(&room_id).await.expect("join"),
        };
        let sent = room.send(RoomMessageEventContent::text_plain(text)).await.expect("send");
        sent.response.event_id.to_string()
    }
}
