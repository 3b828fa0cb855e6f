//! What a user has not read, as the homeserver counts it: the per-room
//! notification counts of a sync made as them that asks for nothing else.

use reqwest::Method;
use ruma::{OwnedRoomId, UserId};
use serde_json::{Value, json};

use crate::HomeserverError;
use crate::client::{AppserviceClient, Auth, Request};

/// One joined room's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadRoom {
    /// The room.
    pub room_id: OwnedRoomId,
    /// Messages that notify (by default every message) since the user's
    /// read receipt.
    pub notifications: u64,
    /// Of those, the ones that mention the user (highlights).
    pub highlights: u64,
}

/// A sync filter that leaves out all but one small event per room: the
/// rooms' counts remain. (Synapse leaves out a room whose answer would be
/// empty, counts included, so each keeps its `m.room.create`.) Synapse
/// keeps a sync's answer for two minutes and gives it to the same request
/// again: `nonce`, a sender no event has, makes each request a new one.
fn counts_only_filter(nonce: &str) -> Value {
    let nothing = json!({ "not_types": ["*"] });
    json!({
        "presence": nothing,
        "account_data": nothing,
        "room": {
            "state": { "types": ["m.room.create"], "not_senders": [format!("@{nonce}:invalid")] },
            "timeline": { "limit": 0 },
            "ephemeral": nothing,
            "account_data": nothing,
        },
    })
}

impl AppserviceClient {
    /// The unread counts of every room the user has joined, acting as them
    /// (an initial sync, filtered down to the counts; their presence is
    /// left alone).
    pub async fn unread_counts(&self, user: &UserId) -> Result<Vec<UnreadRoom>, HomeserverError> {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let filter = counts_only_filter(&format!("unread-{nonce}")).to_string();
        let sync = self
            .send(Request {
                endpoint: "sync.unread",
                method: Method::GET,
                path: &["_matrix", "client", "v3", "sync"],
                as_user: Some(user),
                query: &[("filter", &filter), ("timeout", "0"), ("set_presence", "offline")],
                body: None,
                auth: Auth::Appservice,
            })
            .await?;
        let joined = sync.pointer("/rooms/join").and_then(Value::as_object);
        let mut rooms: Vec<UnreadRoom> = joined
            .into_iter()
            .flatten()
            .filter_map(|(room_id, room)| {
                let count = |key: &str| room.pointer(&format!("/unread_notifications/{key}")).and_then(Value::as_u64);
                Some(UnreadRoom {
                    room_id: room_id.parse().ok()?,
                    notifications: count("notification_count").unwrap_or(0),
                    highlights: count("highlight_count").unwrap_or(0),
                })
            })
            .collect();
        rooms.sort_by(|a, b| a.room_id.cmp(&b.room_id));
        Ok(rooms)
    }
}
