//! What the engine needs of a homeserver, as one trait: read a room's
//! state, carry out a plan's actions, provision accounts, write account
//! data, erase rooms, fill key backups. [`AppserviceClient`] implements it
//! with client-server requests; `FakeHomeserver` (`fake_homeserver.rs`)
//! with the homeserver model the planner is checked against, for tests that
//! need no Synapse.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use matrix_sync_core::MatrixIds;
use matrix_sync_core::observed::ObservedRoom;
use matrix_sync_core::plan::{Action, PlannedJoinRule, RoomRef};
use matrix_sync_core::rooms::{HISTORY_VISIBILITY, RoomKey};
use matrix_sync_matrix::{
    AppserviceClient, CreatedRoom, HomeserverError, MEGOLM, Moderation, NewRoom, Registered, join_rule_content,
};
use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use secrecy::SecretString;
use serde_json::{Value, json};

/// The homeserver as the engine sees it. Every method acts as the service
/// (the managing identity, or a platform user through the appservice).
#[async_trait]
pub trait Homeserver: Send + Sync {
    /// The Matrix ids of the service's users and rooms on this homeserver.
    fn ids(&self) -> &MatrixIds;

    /// A room's current state, as its administrator reads it.
    async fn room_state(&self, room_id: &RoomId) -> Result<ObservedRoom, HomeserverError>;
    /// The room an alias names, if any.
    async fn resolve_alias(&self, alias: &str) -> Result<Option<OwnedRoomId>, HomeserverError>;
    /// Carries out one action of a plan. `rooms` resolves the rooms earlier
    /// actions of the same plan created. Returns the room a creation made
    /// (or found made already, `adopted`).
    async fn apply(&self, action: &Action, rooms: &PlanRooms) -> Result<Option<CreatedRoom>, HomeserverError>;
    /// The room's administrator invites a user (the bot, to speak there).
    async fn invite(&self, room_id: &RoomId, user: &UserId) -> Result<(), HomeserverError>;
    /// Who administers the room: the managing identity, or the bot for
    /// rooms made before the manager took over.
    async fn admin_of(&self, room_id: &RoomId) -> Result<OwnedUserId, HomeserverError>;
    /// Removes a room and its history through the homeserver's admin API.
    async fn purge_room(&self, admin_token: &SecretString, room_id: &RoomId) -> Result<(), HomeserverError>;
    /// Without an admin token: every member removed and the alias released.
    async fn abandon_room(&self, room_id: &RoomId, alias: &str) -> Result<(), HomeserverError>;

    /// Registers a user of the appservice's namespace (idempotent).
    async fn register(&self, localpart: &str) -> Result<Registered, HomeserverError>;
    /// The user's display name, if set.
    async fn display_name(&self, user: &UserId) -> Result<Option<String>, HomeserverError>;
    /// Sets the user's display name (a membership event in each of their rooms).
    async fn set_display_name(&self, user: &UserId, name: &str) -> Result<(), HomeserverError>;
    /// The user's avatar (`mxc://`), if set.
    async fn avatar_url(&self, user: &UserId) -> Result<Option<String>, HomeserverError>;
    /// Sets the user's avatar (like the display name, an event per room).
    async fn set_avatar_url(&self, user: &UserId, mxc: &str) -> Result<(), HomeserverError>;
    /// The largest upload the homeserver takes, if it says.
    async fn upload_limit(&self) -> Result<Option<u64>, HomeserverError>;
    /// Uploads a file as the user; its `mxc://` URI.
    async fn upload_media(
        &self,
        user: &UserId,
        content_type: &str,
        file_name: &str,
        bytes: bytes::Bytes,
    ) -> Result<String, HomeserverError>;
    /// A user's global account data of one type, acting as them.
    async fn account_data(&self, user: &UserId, event_type: &str) -> Result<Option<Value>, HomeserverError>;
    /// Replaces a user's global account data of one type, acting as them.
    async fn set_account_data(&self, user: &UserId, event_type: &str, content: Value) -> Result<(), HomeserverError>;

    /// Makes a server-side key backup for the user; returns its version.
    async fn create_key_backup(&self, user: &UserId, public_key: &str) -> Result<String, HomeserverError>;
    /// Deletes one of the user's key backups.
    async fn delete_key_backup(&self, user: &UserId, version: &str) -> Result<(), HomeserverError>;
    /// Puts one room key (encrypted for the backup) into the user's backup.
    async fn put_room_key(
        &self,
        user: &UserId,
        version: &str,
        room_id: &RoomId,
        session_id: &str,
        key_data: Value,
    ) -> Result<(), HomeserverError>;
}

/// The rooms a plan created so far, by key (actions of one layer run at
/// once, so behind a lock).
#[derive(Default)]
pub struct PlanRooms {
    created: Mutex<BTreeMap<RoomKey, OwnedRoomId>>,
}

impl PlanRooms {
    fn created(&self) -> std::sync::MutexGuard<'_, BTreeMap<RoomKey, OwnedRoomId>> {
        self.created.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes a room the plan created.
    pub fn insert(&self, key: RoomKey, room_id: OwnedRoomId) {
        self.created().insert(key, room_id);
    }

    /// The id of a room the plan refers to.
    pub fn room_id(&self, room: &RoomRef) -> Result<OwnedRoomId, HomeserverError> {
        match room {
            RoomRef::Existing(id) => Ok(id.clone()),
            RoomRef::New(key) => self.created().get(key).cloned().ok_or_else(|| HomeserverError::Protocol {
                endpoint: "plan",
                detail: format!("room {} is used before it is created", key.alias_localpart()),
            }),
        }
    }
}

#[async_trait]
impl Homeserver for AppserviceClient {
    fn ids(&self) -> &MatrixIds {
        AppserviceClient::ids(self)
    }

    async fn room_state(&self, room_id: &RoomId) -> Result<ObservedRoom, HomeserverError> {
        AppserviceClient::room_state(self, room_id).await
    }

    async fn resolve_alias(&self, alias: &str) -> Result<Option<OwnedRoomId>, HomeserverError> {
        AppserviceClient::resolve_alias(self, alias).await
    }

    async fn apply(&self, action: &Action, rooms: &PlanRooms) -> Result<Option<CreatedRoom>, HomeserverError> {
        match action {
            Action::CreateRoom { key, name, is_space, is_direct, join_rule, encrypted, parent, power, invite } => {
                let restricted_to = match join_rule {
                    PlannedJoinRule::Invite => None,
                    PlannedJoinRule::Restricted { space } => Some(rooms.room_id(space)?),
                };
                let parent = parent.as_ref().map(|p| rooms.room_id(p)).transpose()?;
                let alias_localpart = key.alias_localpart();
                let marker = format!("{}/{}", key.scope, key.role.as_str());
                let created = self
                    .create_room(&NewRoom {
                        alias_localpart: &alias_localpart,
                        name: name.as_deref(),
                        is_space: *is_space,
                        restricted_to: restricted_to.as_deref(),
                        encrypted: *encrypted,
                        parent: parent.as_deref(),
                        power,
                        invite,
                        marker: &marker,
                        is_direct: *is_direct,
                    })
                    .await?;
                return Ok(Some(created));
            }
            Action::SetName { room, name, .. } => {
                self.put_state(&rooms.room_id(room)?, "m.room.name", "", json!({ "name": name })).await?;
            }
            Action::SetHistoryVisibility { room, .. } => {
                let content = json!({ "history_visibility": HISTORY_VISIBILITY });
                self.put_state(&rooms.room_id(room)?, "m.room.history_visibility", "", content).await?;
            }
            Action::SetJoinRule { room, rule, .. } => {
                let restricted_to = match rule {
                    PlannedJoinRule::Invite => None,
                    PlannedJoinRule::Restricted { space } => Some(rooms.room_id(space)?),
                };
                let content = join_rule_content(restricted_to.as_deref());
                self.put_state(&rooms.room_id(room)?, "m.room.join_rules", "", content).await?;
            }
            Action::EnableEncryption { room } => {
                let content = json!({ "algorithm": MEGOLM });
                self.put_state(&rooms.room_id(room)?, "m.room.encryption", "", content).await?;
            }
            Action::SetPowerLevels { room, power, .. } => {
                let content = serde_json::to_value(power)
                    .map_err(|e| HomeserverError::Protocol { endpoint: "state.power_levels", detail: e.to_string() })?;
                self.put_state(&rooms.room_id(room)?, "m.room.power_levels", "", content).await?;
            }
            Action::LinkChild { parent, child, .. } => {
                let via = json!({ "via": [self.ids().server_name().as_str()], "suggested": true });
                let child = rooms.room_id(child)?;
                self.put_state(&rooms.room_id(parent)?, "m.space.child", child.as_str(), via).await?;
            }
            Action::LinkParent { child, parent, .. } => {
                let via = json!({ "via": [self.ids().server_name().as_str()], "canonical": true });
                let parent = rooms.room_id(parent)?;
                self.put_state(&rooms.room_id(child)?, "m.space.parent", parent.as_str(), via).await?;
            }
            Action::Unban { room, user } => self.moderate(&rooms.room_id(room)?, Moderation::Unban, user).await?,
            Action::Invite { room, user } => self.moderate(&rooms.room_id(room)?, Moderation::Invite, user).await?,
            Action::Kick { room, user } => self.moderate(&rooms.room_id(room)?, Moderation::Kick, user).await?,
            Action::Join { room, user } => self.join_as(&rooms.room_id(room)?, user).await?,
        }
        Ok(None)
    }

    async fn invite(&self, room_id: &RoomId, user: &UserId) -> Result<(), HomeserverError> {
        self.moderate(room_id, Moderation::Invite, user).await
    }

    async fn admin_of(&self, room_id: &RoomId) -> Result<OwnedUserId, HomeserverError> {
        AppserviceClient::admin_of(self, room_id).await
    }

    async fn purge_room(&self, admin_token: &SecretString, room_id: &RoomId) -> Result<(), HomeserverError> {
        AppserviceClient::purge_room(self, admin_token, room_id).await
    }

    async fn abandon_room(&self, room_id: &RoomId, alias: &str) -> Result<(), HomeserverError> {
        AppserviceClient::abandon_room(self, room_id, alias).await
    }

    async fn register(&self, localpart: &str) -> Result<Registered, HomeserverError> {
        AppserviceClient::register(self, localpart).await
    }

    async fn display_name(&self, user: &UserId) -> Result<Option<String>, HomeserverError> {
        AppserviceClient::display_name(self, user).await
    }

    async fn set_display_name(&self, user: &UserId, name: &str) -> Result<(), HomeserverError> {
        AppserviceClient::set_display_name(self, user, name).await
    }

    async fn avatar_url(&self, user: &UserId) -> Result<Option<String>, HomeserverError> {
        AppserviceClient::avatar_url(self, user).await
    }

    async fn set_avatar_url(&self, user: &UserId, mxc: &str) -> Result<(), HomeserverError> {
        AppserviceClient::set_avatar_url(self, user, mxc).await
    }

    async fn upload_limit(&self) -> Result<Option<u64>, HomeserverError> {
        AppserviceClient::upload_limit(self).await
    }

    async fn upload_media(
        &self,
        user: &UserId,
        content_type: &str,
        file_name: &str,
        bytes: bytes::Bytes,
    ) -> Result<String, HomeserverError> {
        AppserviceClient::upload_media(self, user, content_type, file_name, bytes).await
    }

    async fn account_data(&self, user: &UserId, event_type: &str) -> Result<Option<Value>, HomeserverError> {
        AppserviceClient::account_data(self, user, event_type).await
    }

    async fn set_account_data(&self, user: &UserId, event_type: &str, content: Value) -> Result<(), HomeserverError> {
        AppserviceClient::set_account_data(self, user, event_type, content).await
    }

    async fn create_key_backup(&self, user: &UserId, public_key: &str) -> Result<String, HomeserverError> {
        AppserviceClient::create_key_backup(self, user, public_key).await
    }

    async fn delete_key_backup(&self, user: &UserId, version: &str) -> Result<(), HomeserverError> {
        AppserviceClient::delete_key_backup(self, user, version).await
    }

    async fn put_room_key(
        &self,
        user: &UserId,
        version: &str,
        room_id: &RoomId,
        session_id: &str,
        key_data: Value,
    ) -> Result<(), HomeserverError> {
        AppserviceClient::put_room_key(self, user, version, room_id, session_id, key_data).await
    }
}
