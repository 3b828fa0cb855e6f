//! Carries out a plan's actions on the homeserver, resolving the rooms the
//! plan creates as it goes.

use std::collections::BTreeMap;
use std::sync::Mutex;

use matrix_sync_core::plan::{Action, PlannedJoinRule, RoomRef};
use matrix_sync_core::rooms::{HISTORY_VISIBILITY, RoomKey};
use ruma::OwnedRoomId;
use serde_json::json;

use crate::rooms::{CreatedRoom, MEGOLM, Moderation, NewRoom, join_rule_content};
use crate::{AppserviceClient, HomeserverError};

pub struct Applier<'a> {
    client: &'a AppserviceClient,
    /// Rooms created so far (actions of one layer run at once, so behind a lock).
    created: Mutex<BTreeMap<RoomKey, OwnedRoomId>>,
}

impl<'a> Applier<'a> {
    pub fn new(client: &'a AppserviceClient) -> Self {
        Self { client, created: Mutex::default() }
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

    fn created(&self) -> std::sync::MutexGuard<'_, BTreeMap<RoomKey, OwnedRoomId>> {
        self.created.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies one action. Returns the room a creation made (or found), which
    /// the caller records at once so a crash right after loses nothing.
    pub async fn apply(&self, action: &Action) -> Result<Option<CreatedRoom>, HomeserverError> {
        let c = self.client;
        match action {
            Action::CreateRoom { key, name, is_space, is_direct, join_rule, encrypted, parent, power, invite } => {
                let restricted_to = match join_rule {
                    PlannedJoinRule::Invite => None,
                    PlannedJoinRule::Restricted { space } => Some(self.room_id(space)?),
                };
                let parent = parent.as_ref().map(|p| self.room_id(p)).transpose()?;
                let alias_localpart = key.alias_localpart();
                let marker = format!("{}/{}", key.scope, key.role.as_str());
                let created = c
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
                self.created().insert(*key, created.room_id.clone());
                return Ok(Some(created));
            }
            Action::SetName { room, name, .. } => {
                c.put_state(&self.room_id(room)?, "m.room.name", "", json!({ "name": name })).await?;
            }
            Action::SetHistoryVisibility { room, .. } => {
                let content = json!({ "history_visibility": HISTORY_VISIBILITY });
                c.put_state(&self.room_id(room)?, "m.room.history_visibility", "", content).await?;
            }
            Action::SetJoinRule { room, rule, .. } => {
                let restricted_to = match rule {
                    PlannedJoinRule::Invite => None,
                    PlannedJoinRule::Restricted { space } => Some(self.room_id(space)?),
                };
                let content = join_rule_content(restricted_to.as_deref());
                c.put_state(&self.room_id(room)?, "m.room.join_rules", "", content).await?;
            }
            Action::EnableEncryption { room } => {
                let content = json!({ "algorithm": MEGOLM });
                c.put_state(&self.room_id(room)?, "m.room.encryption", "", content).await?;
            }
            Action::SetPowerLevels { room, power, .. } => {
                let content = serde_json::to_value(power)
                    .map_err(|e| HomeserverError::Protocol { endpoint: "state.power_levels", detail: e.to_string() })?;
                c.put_state(&self.room_id(room)?, "m.room.power_levels", "", content).await?;
            }
            Action::LinkChild { parent, child, .. } => {
                let via = json!({ "via": [c.ids().server_name().as_str()], "suggested": true });
                let child = self.room_id(child)?;
                c.put_state(&self.room_id(parent)?, "m.space.child", child.as_str(), via).await?;
            }
            Action::LinkParent { child, parent, .. } => {
                let via = json!({ "via": [c.ids().server_name().as_str()], "canonical": true });
                let parent = self.room_id(parent)?;
                c.put_state(&self.room_id(child)?, "m.space.parent", parent.as_str(), via).await?;
            }
            Action::Unban { room, user } => c.moderate(&self.room_id(room)?, Moderation::Unban, user).await?,
            Action::Invite { room, user } => c.moderate(&self.room_id(room)?, Moderation::Invite, user).await?,
            Action::Kick { room, user } => c.moderate(&self.room_id(room)?, Moderation::Kick, user).await?,
            Action::Join { room, user } => c.join_as(&self.room_id(room)?, user).await?,
        }
        Ok(None)
    }
}
