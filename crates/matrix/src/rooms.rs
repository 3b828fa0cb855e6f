//! Rooms as their administrator and the platform's users see them:
//! reading a room's state fresh, creating rooms with all their initial
//! state in one request, changing state and memberships.
//!
//! A room's administrator is its creator: the managing identity (the
//! appservice's sender, which has no encryption device) for every room it
//! makes, and the bot for rooms made before the manager took over. Which
//! one a room has is learned from its state and remembered.

use std::collections::{BTreeMap, BTreeSet};

use matrix_sync_core::observed::{Membership, ObservedJoinRule, ObservedMember, ObservedRoom};
use matrix_sync_core::power::PowerLevels;
use matrix_sync_core::rooms::HISTORY_VISIBILITY;
use reqwest::Method;
use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use serde_json::{Value, json};

use crate::client::{Auth, Request};
use crate::{AppserviceClient, HomeserverError};

/// The room version every room is created with: the creator outranks every
/// power level, so the service can always demote an admin.
pub const ROOM_VERSION: &str = "12";
pub const MEGOLM: &str = "m.megolm.v1.aes-sha2";
/// How much longer a `createRoom` may take for each invitation it carries.
const INVITE_TIME: std::time::Duration = std::time::Duration::from_millis(250);

/// A room `create_room` made, or found already made under its alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedRoom {
    pub room_id: OwnedRoomId,
    /// It existed before this request (an earlier, interrupted creation):
    /// its state is whatever that left, not what was asked for now.
    pub adopted: bool,
}

/// Everything a new room carries from its first event.
#[derive(Debug, Clone)]
pub struct NewRoom<'a> {
    pub alias_localpart: &'a str,
    /// `None` for direct chats.
    pub name: Option<&'a str>,
    pub is_space: bool,
    /// `None`: invite-only; `Some(space)`: restricted to the Space's members.
    pub restricted_to: Option<&'a RoomId>,
    pub encrypted: bool,
    pub parent: Option<&'a RoomId>,
    pub power: &'a PowerLevels,
    pub invite: &'a [OwnedUserId],
    /// A marker in the creation content naming what the room is for.
    pub marker: &'a str,
    pub is_direct: bool,
}

pub fn join_rule_content(restricted_to: Option<&RoomId>) -> Value {
    match restricted_to {
        None => json!({ "join_rule": "invite" }),
        Some(space) => json!({
            "join_rule": "restricted",
            "allow": [{ "type": "m.room_membership", "room_id": space }],
        }),
    }
}

impl AppserviceClient {
    /// Who administers a room (its creator): remembered from the room's
    /// state, else asked once. The manager, unless the room predates it
    /// (made by the bot), which shows as the manager not being in it.
    pub async fn admin_of(&self, room_id: &RoomId) -> Result<OwnedUserId, HomeserverError> {
        if let Some(admin) = self.admins().get(room_id) {
            return Ok(admin.clone());
        }
        let mut last = None;
        for candidate in [self.ids().manager(), self.ids().bot()] {
            match self.get_state_as(room_id, "m.room.create", candidate).await {
                Ok(_) => {
                    self.admins().insert(room_id.to_owned(), candidate.to_owned());
                    return Ok(candidate.to_owned());
                }
                Err(e) if e.errcode() == Some("M_FORBIDDEN") => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(HomeserverError::Protocol { endpoint: "rooms.state", detail: "no administrator".into() }))
    }

    async fn get_state_as(&self, room_id: &RoomId, event_type: &str, user: &UserId) -> Result<Value, HomeserverError> {
        self.send(Request {
            endpoint: "rooms.state.get",
            method: Method::GET,
            path: &["_matrix", "client", "v3", "rooms", room_id.as_str(), "state", event_type, ""],
            as_user: Some(user),
            query: &[],
            body: None,
            auth: Auth::Appservice,
        })
        .await
    }

    /// The room an alias points to, if it exists.
    pub async fn resolve_alias(&self, alias: &str) -> Result<Option<OwnedRoomId>, HomeserverError> {
        let result = self
            .send(Request {
                endpoint: "directory.get",
                method: Method::GET,
                path: &["_matrix", "client", "v3", "directory", "room", alias],
                as_user: Some(self.ids().manager()),
                query: &[],
                body: None,
                auth: Auth::Appservice,
            })
            .await;
        match result {
            Ok(v) => v["room_id"].as_str().and_then(|id| RoomId::parse(id).ok()).map(Some).ok_or_else(|| {
                HomeserverError::Protocol { endpoint: "directory.get", detail: "no room_id for the alias".into() }
            }),
            Err(e) if e.errcode() == Some("M_NOT_FOUND") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The room's current state, read fresh as its administrator.
    pub async fn room_state(&self, room_id: &RoomId) -> Result<ObservedRoom, HomeserverError> {
        let admin = self.admins().get(room_id).cloned();
        let v = match admin {
            Some(admin) => self.all_state_as(room_id, &admin).await?,
            // Not met yet: the manager's, unless the room predates it.
            None => match self.all_state_as(room_id, self.ids().manager()).await {
                Err(e) if e.errcode() == Some("M_FORBIDDEN") => self.all_state_as(room_id, self.ids().bot()).await?,
                other => other?,
            },
        };
        let events = v.as_array().ok_or_else(|| HomeserverError::Protocol {
            endpoint: "rooms.state",
            detail: "the state is not a list of events".into(),
        })?;
        let creator = events
            .iter()
            .find(|e| e["type"] == "m.room.create")
            .and_then(|e| e["sender"].as_str())
            .and_then(|s| UserId::parse(s).ok())
            .filter(|creator| self.ids().is_service(creator));
        if let Some(creator) = creator {
            self.admins().insert(room_id.to_owned(), creator);
        }
        Ok(observed_room(room_id, events))
    }

    async fn all_state_as(&self, room_id: &RoomId, user: &UserId) -> Result<Value, HomeserverError> {
        self.send(Request {
            endpoint: "rooms.state",
            method: Method::GET,
            path: &["_matrix", "client", "v3", "rooms", room_id.as_str(), "state"],
            as_user: Some(user),
            query: &[],
            body: None,
            auth: Auth::Appservice,
        })
        .await
    }

    /// Creates a room as the manager with all its initial state. If its alias is
    /// taken, an earlier attempt created it: that room is returned instead,
    /// so a retried creation never makes a second room.
    pub async fn create_room(&self, room: &NewRoom<'_>) -> Result<CreatedRoom, HomeserverError> {
        let server = self.ids().server_name().to_string();
        let mut initial_state = vec![
            json!({ "type": "m.room.join_rules", "state_key": "", "content": join_rule_content(room.restricted_to) }),
            json!({ "type": "m.room.history_visibility", "state_key": "", "content": { "history_visibility": HISTORY_VISIBILITY } }),
            json!({ "type": "m.room.guest_access", "state_key": "", "content": { "guest_access": "forbidden" } }),
        ];
        if room.encrypted {
            initial_state
                .push(json!({ "type": "m.room.encryption", "state_key": "", "content": { "algorithm": MEGOLM } }));
        }
        if room.is_direct {
            // The alias (in the directory) makes the chat recoverable after a
            // crash; as the canonical alias, clients would show it as the
            // chat's name instead of the other person's.
            initial_state.push(json!({ "type": "m.room.canonical_alias", "state_key": "", "content": {} }));
        }
        if let Some(parent) = room.parent {
            initial_state.push(json!({
                "type": "m.space.parent", "state_key": parent,
                "content": { "via": [server], "canonical": true },
            }));
        }
        let mut creation_content = json!({ "org.matrix_sync.room": room.marker });
        if room.is_space {
            creation_content["type"] = json!("m.space");
        }
        let mut body = json!({
            "room_version": ROOM_VERSION,
            "preset": "private_chat",
            "visibility": "private",
            "room_alias_name": room.alias_localpart,
            "creation_content": creation_content,
            "power_level_content_override": room.power,
            "initial_state": initial_state,
            "invite": room.invite,
            "is_direct": room.is_direct,
        });
        if let Some(name) = room.name {
            body["name"] = json!(name);
        }
        // The homeserver sends the invitations one by one before it answers
        // (about ten a second), and gives up on those left when the client
        // does: allow for them.
        let timeout =
            self.settings().request_timeout + INVITE_TIME * u32::try_from(room.invite.len()).unwrap_or(u32::MAX);
        let result = self
            .send_within(
                Request {
                    endpoint: "createRoom",
                    method: Method::POST,
                    path: &["_matrix", "client", "v3", "createRoom"],
                    as_user: Some(self.ids().manager()),
                    query: &[],
                    body: Some(body),
                    auth: Auth::Appservice,
                },
                timeout,
            )
            .await;
        match result {
            Ok(v) => v["room_id"]
                .as_str()
                .and_then(|id| RoomId::parse(id).ok())
                .map(|room_id| {
                    self.admins().insert(room_id.clone(), self.ids().manager().to_owned());
                    CreatedRoom { room_id, adopted: false }
                })
                .ok_or_else(|| HomeserverError::Protocol {
                    endpoint: "createRoom",
                    detail: "no room_id in the answer".into(),
                }),
            Err(e) if e.errcode() == Some("M_ROOM_IN_USE") => {
                let alias = format!("#{}:{}", room.alias_localpart, server);
                let room_id = self.resolve_alias(&alias).await?.ok_or(e)?;
                Ok(CreatedRoom { room_id, adopted: true })
            }
            Err(e) => Err(e),
        }
    }

    /// Sets a state event as the room's administrator.
    pub async fn put_state(
        &self,
        room_id: &RoomId,
        event_type: &str,
        state_key: &str,
        content: Value,
    ) -> Result<(), HomeserverError> {
        let admin = self.admin_of(room_id).await?;
        self.send(Request {
            endpoint: state_endpoint(event_type),
            method: Method::PUT,
            path: &["_matrix", "client", "v3", "rooms", room_id.as_str(), "state", event_type, state_key],
            as_user: Some(&admin),
            query: &[],
            body: Some(content),
            auth: Auth::Appservice,
        })
        .await
        .map(drop)
    }

    /// A membership change made by the room's administrator (`invite`,
    /// `kick`, `unban`).
    pub async fn moderate(&self, room_id: &RoomId, verb: Moderation, user: &UserId) -> Result<(), HomeserverError> {
        let admin = self.admin_of(room_id).await?;
        let mut body = json!({ "user_id": user });
        if verb == Moderation::Kick {
            body["reason"] = json!("no longer a member on the platform");
        }
        let result = self
            .send(Request {
                endpoint: verb.endpoint(),
                method: Method::POST,
                path: &["_matrix", "client", "v3", "rooms", room_id.as_str(), verb.as_str()],
                as_user: Some(&admin),
                query: &[],
                body: Some(body),
                auth: Auth::Appservice,
            })
            .await;
        match result {
            // Already invited or joined: the invitation's purpose is served.
            Err(e) if verb == Moderation::Invite && e.errcode() == Some("M_FORBIDDEN") && already_in_room(&e) => Ok(()),
            other => other.map(drop),
        }
    }

    /// The user joins the room, the service acting for them.
    pub async fn join_as(&self, room_id: &RoomId, user: &UserId) -> Result<(), HomeserverError> {
        self.send(Request {
            endpoint: "join",
            method: Method::POST,
            path: &["_matrix", "client", "v3", "join", room_id.as_str()],
            as_user: Some(user),
            query: &[],
            body: Some(json!({})),
            auth: Auth::Appservice,
        })
        .await
        .map(drop)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moderation {
    Invite,
    Kick,
    Unban,
}

impl Moderation {
    fn as_str(self) -> &'static str {
        match self {
            Moderation::Invite => "invite",
            Moderation::Kick => "kick",
            Moderation::Unban => "unban",
        }
    }

    fn endpoint(self) -> &'static str {
        match self {
            Moderation::Invite => "rooms.invite",
            Moderation::Kick => "rooms.kick",
            Moderation::Unban => "rooms.unban",
        }
    }
}

fn already_in_room(e: &HomeserverError) -> bool {
    matches!(e, HomeserverError::Refused { message, .. } if message.contains("already in the room") || message.contains("is already"))
}

fn state_endpoint(event_type: &str) -> &'static str {
    match event_type {
        "m.room.power_levels" => "state.power_levels",
        "m.room.join_rules" => "state.join_rules",
        "m.room.encryption" => "state.encryption",
        "m.room.name" => "state.name",
        "m.room.history_visibility" => "state.history_visibility",
        "m.space.child" => "state.space_child",
        "m.space.parent" => "state.space_parent",
        _ => "state.other",
    }
}

/// Reads the parts of a room's state the planner compares.
pub fn observed_room(room_id: &RoomId, events: &[Value]) -> ObservedRoom {
    let mut room = ObservedRoom {
        room_id: room_id.to_owned(),
        name: None,
        name_sender: None,
        history_visibility: None,
        join_rule: None,
        encrypted: false,
        power: None,
        power_sender: None,
        members: BTreeMap::new(),
        children: BTreeSet::new(),
        parents: BTreeSet::new(),
        unlinked_by: BTreeMap::new(),
    };
    for event in events {
        let content = &event["content"];
        let state_key = event["state_key"].as_str().unwrap_or_default();
        let sender = event["sender"].as_str().and_then(|s| UserId::parse(s).ok());
        match event["type"].as_str().unwrap_or_default() {
            "m.room.name" => {
                room.name = content["name"].as_str().map(str::to_owned);
                room.name_sender = sender;
            }
            "m.room.history_visibility" => {
                room.history_visibility = content["history_visibility"].as_str().map(str::to_owned);
            }
            "m.room.join_rules" => {
                room.join_rule = content["join_rule"].as_str().map(|rule| match rule {
                    "invite" => ObservedJoinRule::Invite,
                    "restricted" => ObservedJoinRule::Restricted(
                        content["allow"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|a| a["type"] == "m.room_membership")
                            .filter_map(|a| a["room_id"].as_str().and_then(|id| RoomId::parse(id).ok()))
                            .collect(),
                    ),
                    other => ObservedJoinRule::Other(other.to_owned()),
                });
            }
            "m.room.encryption" => room.encrypted = content["algorithm"].as_str().is_some(),
            "m.room.power_levels" => {
                room.power = serde_json::from_value::<PowerLevels>(content.clone()).ok();
                room.power_sender = sender;
            }
            "m.room.member" => {
                let (Ok(user), Some(membership), Some(sender)) =
                    (UserId::parse(state_key), content["membership"].as_str().and_then(Membership::parse), sender)
                else {
                    continue;
                };
                room.members.insert(user, ObservedMember { membership, sender });
            }
            kind @ ("m.space.child" | "m.space.parent") => {
                let Ok(linked_room) = RoomId::parse(state_key) else { continue };
                if content["via"].as_array().is_some_and(|via| !via.is_empty()) {
                    let links = if kind == "m.space.child" { &mut room.children } else { &mut room.parents };
                    links.insert(linked_room);
                } else if let Some(sender) = sender {
                    room.unlinked_by.insert(linked_room, sender);
                }
            }
            _ => {}
        }
    }
    room
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_state_events() {
        let room_id = RoomId::parse("!r:example.org").unwrap();
        let events = vec![
            json!({"type": "m.room.name", "state_key": "", "sender": "@bot:example.org", "content": {"name": "General"}}),
            json!({"type": "m.room.join_rules", "state_key": "", "sender": "@bot:example.org",
                   "content": {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": "!s:example.org"}]}}),
            json!({"type": "m.room.encryption", "state_key": "", "sender": "@bot:example.org", "content": {"algorithm": MEGOLM}}),
            json!({"type": "m.room.history_visibility", "state_key": "", "sender": "@admin:example.org", "content": {"history_visibility": "world_readable"}}),
            json!({"type": "m.room.power_levels", "state_key": "", "sender": "@admin:example.org",
                   "content": {"users": {"@a:example.org": 50}, "invite": 25}}),
            json!({"type": "m.room.member", "state_key": "@a:example.org", "sender": "@a:example.org", "content": {"membership": "join"}}),
            json!({"type": "m.room.member", "state_key": "@b:example.org", "sender": "@bot:example.org", "content": {"membership": "leave"}}),
            json!({"type": "m.space.parent", "state_key": "!s:example.org", "sender": "@bot:example.org", "content": {"via": ["example.org"]}}),
            json!({"type": "m.space.child", "state_key": "!gone:example.org", "sender": "@bot:example.org", "content": {}}),
        ];
        let room = observed_room(&room_id, &events);
        assert_eq!(room.name.as_deref(), Some("General"));
        assert_eq!(
            room.join_rule,
            Some(ObservedJoinRule::Restricted([RoomId::parse("!s:example.org").unwrap()].into()))
        );
        assert!(room.encrypted);
        assert_eq!(room.power.as_ref().map(|p| p.invite), Some(25));
        assert_eq!(room.power_sender.as_deref().map(UserId::as_str), Some("@admin:example.org"));
        assert_eq!(room.members.len(), 2);
        assert_eq!(room.parents.len(), 1);
        assert!(room.children.is_empty(), "a child link without via is removed");
        let unlinked = RoomId::parse("!gone:example.org").unwrap();
        assert_eq!(room.unlinked_by.get(&unlinked).map(|u| u.as_str()), Some("@bot:example.org"));
        assert_eq!(room.name_sender.as_deref().map(UserId::as_str), Some("@bot:example.org"));
        assert_eq!(room.history_visibility.as_deref(), Some("world_readable"));
    }
}
