//! Removing rooms for good at the end of retention: purged through Synapse's
//! admin API when an admin token is configured (the messages are gone from
//! the server), otherwise abandoned (everyone removed, the alias released,
//! the bot gone; the history stays on the server until it purges empty
//! rooms itself).

use std::time::{Duration, Instant};

use reqwest::Method;
use ruma::RoomId;
use secrecy::SecretString;
use serde_json::json;

use crate::client::{Auth, Request};
use crate::rooms::Moderation;
use crate::{AppserviceClient, HomeserverError};

/// How long a purge may take before the job tries again later.
const PURGE_WAIT: Duration = Duration::from_secs(60);

impl AppserviceClient {
    /// Deletes and purges a room with Synapse's admin API, waiting until the
    /// purge is complete. A room the server no longer knows is already gone.
    pub async fn purge_room(&self, admin_token: &SecretString, room_id: &RoomId) -> Result<(), HomeserverError> {
        let started = self
            .send(Request {
                endpoint: "admin.rooms.delete",
                method: Method::DELETE,
                path: &["_synapse", "admin", "v2", "rooms", room_id.as_str()],
                as_user: None,
                query: &[],
                body: Some(json!({ "purge": true, "block": false })),
                auth: Auth::User(admin_token),
            })
            .await;
        let delete_id = match started {
            Ok(v) => v["delete_id"].as_str().map(str::to_owned).ok_or_else(|| HomeserverError::Protocol {
                endpoint: "admin.rooms.delete",
                detail: "no delete_id in the answer".into(),
            })?,
            Err(e) if e.errcode() == Some("M_NOT_FOUND") => return Ok(()),
            Err(e) => return Err(e),
        };
        let deadline = Instant::now() + PURGE_WAIT;
        loop {
            let status = self
                .send(Request {
                    endpoint: "admin.rooms.delete_status",
                    method: Method::GET,
                    path: &["_synapse", "admin", "v2", "rooms", "delete_status", &delete_id],
                    as_user: None,
                    query: &[],
                    body: None,
                    auth: Auth::User(admin_token),
                })
                .await?;
            match status["status"].as_str() {
                Some("complete") => return Ok(()),
                Some("failed") => {
                    return Err(HomeserverError::Protocol {
                        endpoint: "admin.rooms.delete_status",
                        detail: format!("the purge failed: {}", status["error"]),
                    });
                }
                _ if Instant::now() >= deadline => {
                    return Err(HomeserverError::Timeout { endpoint: "admin.rooms.delete_status" });
                }
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    /// Without an admin token: removes everyone, releases the room's alias
    /// and has its administrator leave. Members can no longer see or enter
    /// the room.
    pub async fn abandon_room(&self, room_id: &RoomId, alias: &str) -> Result<(), HomeserverError> {
        let state = match self.room_state(room_id).await {
            Ok(state) => state,
            // The service is no longer in it: abandoned before.
            Err(e) if matches!(e.errcode(), Some("M_FORBIDDEN" | "M_NOT_FOUND")) => return Ok(()),
            Err(e) => return Err(e),
        };
        let admin = self.admin_of(room_id).await?;
        for (user, member) in &state.members {
            let present = matches!(
                member.membership,
                matrix_sync_core::observed::Membership::Join | matrix_sync_core::observed::Membership::Invite
            );
            if present && user != &admin {
                self.moderate(room_id, Moderation::Kick, user).await?;
            }
        }
        let released = self
            .send(Request {
                endpoint: "directory.delete",
                method: Method::DELETE,
                path: &["_matrix", "client", "v3", "directory", "room", alias],
                as_user: Some(&admin),
                query: &[],
                body: None,
                auth: Auth::Appservice,
            })
            .await;
        match released {
            Ok(_) => {}
            Err(e) if e.errcode() == Some("M_NOT_FOUND") => {}
            Err(e) => return Err(e),
        }
        self.send(Request {
            endpoint: "rooms.leave",
            method: Method::POST,
            path: &["_matrix", "client", "v3", "rooms", room_id.as_str(), "leave"],
            as_user: Some(&admin),
            query: &[],
            body: Some(json!({})),
            auth: Auth::Appservice,
        })
        .await
        .map(drop)
    }
}
