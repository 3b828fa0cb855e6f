//! A homeserver in memory, for engine tests that need no Synapse. Rooms
//! change as `core::simulate` says each action changes them (the model the
//! planner's property tests check plans against); accounts, profiles,
//! account data and key backups are maps. It accepts every request a
//! correct plan makes; it does not enforce join rules or power levels.
//!
//! Tests drive it like a hostile world: [`FakeHomeserver::edit_room`]
//! changes a room as someone else would (drift), [`FakeHomeserver::set_down`]
//! makes every request time out, and [`FakeHomeserver::stall_after`] makes
//! a plan's action hang forever, so that dropping the engine then is a
//! crash in the middle of a plan.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;
use matrix_sync_core::MatrixIds;
use matrix_sync_core::observed::{ObservedRoom, ObservedScope};
use matrix_sync_core::plan::Action;
use matrix_sync_core::rooms::RoomKey;
use matrix_sync_core::simulate::try_apply;
use matrix_sync_matrix::{CreatedRoom, HomeserverError, Registered};
use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use secrecy::SecretString;
use serde_json::Value;

use crate::homeserver::{Homeserver, PlanRooms};

/// The upload limit the fake homeserver announces (1 MiB).
pub const FAKE_UPLOAD_LIMIT: u64 = 1024 * 1024;

/// A homeserver in memory; see the module.
pub struct FakeHomeserver {
    ids: MatrixIds,
    world: Mutex<World>,
}

#[derive(Default)]
struct World {
    /// Every room that has an alias, by the key its alias is made from.
    rooms: ObservedScope,
    /// Rooms taken away: purged, or abandoned (their alias released).
    erased: BTreeSet<OwnedRoomId>,
    accounts: BTreeSet<OwnedUserId>,
    display_names: BTreeMap<OwnedUserId, String>,
    avatars: BTreeMap<OwnedUserId, String>,
    /// Uploaded files by their `mxc://` URI: content type and size.
    media: BTreeMap<String, (String, usize)>,
    account_data: BTreeMap<(OwnedUserId, String), Value>,
    /// Backup versions by user, and the room keys put into each.
    backups: BTreeMap<OwnedUserId, BTreeMap<String, BTreeSet<String>>>,
    next_backup: u64,
    /// Requests made, by method name.
    calls: BTreeMap<&'static str, u64>,
    down: bool,
    /// Plan actions still allowed before every further one hangs.
    actions_before_stall: Option<usize>,
}

impl FakeHomeserver {
    /// An empty homeserver for the service's ids.
    pub fn new(ids: MatrixIds) -> Self {
        Self { ids, world: Mutex::default() }
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts the call and fails it while the homeserver is down.
    fn call(&self, endpoint: &'static str) -> Result<std::sync::MutexGuard<'_, World>, HomeserverError> {
        let mut world = self.world();
        *world.calls.entry(endpoint).or_default() += 1;
        if world.down {
            return Err(HomeserverError::Timeout { endpoint });
        }
        Ok(world)
    }

    /// While down, every request times out.
    pub fn set_down(&self, down: bool) {
        self.world().down = down;
    }

    /// After `actions` more plan actions, every further one is carried out
    /// but never answered.
    pub fn stall_after(&self, actions: usize) {
        self.world().actions_before_stall = Some(actions);
    }

    /// Answers every action again.
    pub fn stop_stalling(&self) {
        self.world().actions_before_stall = None;
    }

    /// How many requests of one kind were made (`room_state`, `apply`, …).
    pub fn calls(&self, endpoint: &str) -> u64 {
        self.world().calls.get(endpoint).copied().unwrap_or(0)
    }

    /// Every room with its alias, by key.
    pub fn rooms(&self) -> ObservedScope {
        self.world().rooms.clone()
    }

    /// The room made for `key`, if any.
    pub fn room(&self, key: &RoomKey) -> Option<ObservedRoom> {
        self.world().rooms.rooms.get(key).cloned()
    }

    /// Whether the room was purged or abandoned.
    pub fn erased(&self, room_id: &RoomId) -> bool {
        self.world().erased.contains(room_id)
    }

    /// Changes a room as someone other than the service would.
    pub fn edit_room(&self, key: &RoomKey, edit: impl FnOnce(&mut ObservedRoom)) {
        if let Some(room) = self.world().rooms.rooms.get_mut(key) {
            edit(room);
        }
    }

    /// Whether the user's account exists.
    pub fn has_account(&self, user: &UserId) -> bool {
        self.world().accounts.contains(user)
    }

    /// The user's display name and avatar as set.
    pub fn profile(&self, user: &UserId) -> (Option<String>, Option<String>) {
        let world = self.world();
        (world.display_names.get(user).cloned(), world.avatars.get(user).cloned())
    }

    /// The content type and size of an uploaded file.
    pub fn media(&self, mxc: &str) -> Option<(String, usize)> {
        self.world().media.get(mxc).cloned()
    }

    /// One plan action, as the homeserver model says it changes the rooms.
    fn carry_out(ids: &MatrixIds, world: &mut World, action: &Action) -> Result<Option<CreatedRoom>, HomeserverError> {
        if let Action::CreateRoom { key, .. } = action
            && let Some(existing) = world.rooms.rooms.get(key)
        {
            // The alias is taken: an earlier, interrupted creation made it.
            return Ok(Some(CreatedRoom { room_id: existing.room_id.clone(), adopted: true }));
        }
        // Rooms the plan made are in the world by their key, which is how
        // the model resolves them.
        let manager = ids.manager().to_owned();
        world.rooms = try_apply(&world.rooms, std::slice::from_ref(action), &manager)
            .ok_or_else(|| Self::not_found("apply", action.name()))?;
        Ok(match action {
            Action::CreateRoom { key, .. } => {
                world.rooms.rooms.get(key).map(|room| CreatedRoom { room_id: room.room_id.clone(), adopted: false })
            }
            _ => None,
        })
    }

    fn not_found(endpoint: &'static str, what: &str) -> HomeserverError {
        HomeserverError::Refused {
            endpoint,
            status: reqwest::StatusCode::NOT_FOUND,
            errcode: "M_NOT_FOUND".into(),
            message: format!("{what} not found"),
        }
    }
}

#[async_trait]
impl Homeserver for FakeHomeserver {
    fn ids(&self) -> &MatrixIds {
        &self.ids
    }

    async fn room_state(&self, room_id: &RoomId) -> Result<ObservedRoom, HomeserverError> {
        let world = self.call("room_state")?;
        let room = world.rooms.rooms.values().find(|r| r.room_id == room_id).cloned();
        room.ok_or_else(|| Self::not_found("room_state", room_id.as_str()))
    }

    async fn resolve_alias(&self, alias: &str) -> Result<Option<OwnedRoomId>, HomeserverError> {
        let world = self.call("resolve_alias")?;
        let server = self.ids.server_name().as_str();
        Ok(world.rooms.rooms.iter().find(|(key, _)| key.alias(server) == alias).map(|(_, r)| r.room_id.clone()))
    }

    async fn apply(&self, action: &Action, _rooms: &PlanRooms) -> Result<Option<CreatedRoom>, HomeserverError> {
        let (created, stalled) = {
            let mut world = self.call("apply")?;
            let stalled = match &mut world.actions_before_stall {
                Some(0) => true,
                Some(left) => {
                    *left -= 1;
                    false
                }
                None => false,
            };
            (Self::carry_out(&self.ids, &mut world, action)?, stalled)
        };
        if stalled {
            // Carried out, but the answer never comes back: what a process
            // killed while waiting for it leaves behind.
            std::future::pending::<()>().await;
        }
        Ok(created)
    }

    async fn invite(&self, room_id: &RoomId, user: &UserId) -> Result<(), HomeserverError> {
        let mut world = self.call("invite")?;
        let manager = self.ids.manager().to_owned();
        let room = world.rooms.rooms.values_mut().find(|r| r.room_id == room_id);
        let room = room.ok_or_else(|| Self::not_found("invite", room_id.as_str()))?;
        room.members.insert(
            user.to_owned(),
            matrix_sync_core::observed::ObservedMember {
                membership: matrix_sync_core::observed::Membership::Invite,
                sender: manager,
            },
        );
        Ok(())
    }

    async fn admin_of(&self, _room_id: &RoomId) -> Result<OwnedUserId, HomeserverError> {
        drop(self.call("admin_of")?);
        Ok(self.ids.manager().to_owned())
    }

    async fn purge_room(&self, _admin_token: &SecretString, room_id: &RoomId) -> Result<(), HomeserverError> {
        let mut world = self.call("purge_room")?;
        world.rooms.rooms.retain(|_, r| r.room_id != room_id);
        world.erased.insert(room_id.to_owned());
        Ok(())
    }

    async fn abandon_room(&self, room_id: &RoomId, _alias: &str) -> Result<(), HomeserverError> {
        let mut world = self.call("abandon_room")?;
        world.rooms.rooms.retain(|_, r| r.room_id != room_id);
        world.erased.insert(room_id.to_owned());
        Ok(())
    }

    async fn register(&self, localpart: &str) -> Result<Registered, HomeserverError> {
        let mut world = self.call("register")?;
        let user = UserId::parse(format!("@{localpart}:{}", self.ids.server_name()))
            .map_err(|e| HomeserverError::Protocol { endpoint: "register", detail: e.to_string() })?;
        Ok(if world.accounts.insert(user) { Registered::Created } else { Registered::AlreadyExisted })
    }

    async fn display_name(&self, user: &UserId) -> Result<Option<String>, HomeserverError> {
        Ok(self.call("display_name")?.display_names.get(user).cloned())
    }

    async fn set_display_name(&self, user: &UserId, name: &str) -> Result<(), HomeserverError> {
        self.call("set_display_name")?.display_names.insert(user.to_owned(), name.to_owned());
        Ok(())
    }

    async fn avatar_url(&self, user: &UserId) -> Result<Option<String>, HomeserverError> {
        Ok(self.call("avatar_url")?.avatars.get(user).cloned())
    }

    async fn set_avatar_url(&self, user: &UserId, mxc: &str) -> Result<(), HomeserverError> {
        self.call("set_avatar_url")?.avatars.insert(user.to_owned(), mxc.to_owned());
        Ok(())
    }

    async fn upload_limit(&self) -> Result<Option<u64>, HomeserverError> {
        drop(self.call("upload_limit")?);
        Ok(Some(FAKE_UPLOAD_LIMIT))
    }

    async fn upload_media(
        &self,
        _user: &UserId,
        content_type: &str,
        _file_name: &str,
        bytes: bytes::Bytes,
    ) -> Result<String, HomeserverError> {
        let mut world = self.call("upload_media")?;
        let mxc = format!("mxc://{}/media{}", self.ids.server_name(), world.media.len() + 1);
        world.media.insert(mxc.clone(), (content_type.to_owned(), bytes.len()));
        Ok(mxc)
    }

    async fn account_data(&self, user: &UserId, event_type: &str) -> Result<Option<Value>, HomeserverError> {
        Ok(self.call("account_data")?.account_data.get(&(user.to_owned(), event_type.to_owned())).cloned())
    }

    async fn set_account_data(&self, user: &UserId, event_type: &str, content: Value) -> Result<(), HomeserverError> {
        self.call("set_account_data")?.account_data.insert((user.to_owned(), event_type.to_owned()), content);
        Ok(())
    }

    async fn create_key_backup(&self, user: &UserId, _public_key: &str) -> Result<String, HomeserverError> {
        let mut world = self.call("create_key_backup")?;
        world.next_backup += 1;
        let version = world.next_backup.to_string();
        world.backups.entry(user.to_owned()).or_default().insert(version.clone(), BTreeSet::new());
        Ok(version)
    }

    async fn delete_key_backup(&self, user: &UserId, version: &str) -> Result<(), HomeserverError> {
        let mut world = self.call("delete_key_backup")?;
        if let Some(backups) = world.backups.get_mut(user) {
            backups.remove(version);
        }
        Ok(())
    }

    async fn put_room_key(
        &self,
        user: &UserId,
        version: &str,
        _room_id: &RoomId,
        session_id: &str,
        _key_data: Value,
    ) -> Result<(), HomeserverError> {
        let mut world = self.call("put_room_key")?;
        let backup = world.backups.get_mut(user).and_then(|b| b.get_mut(version));
        backup.ok_or_else(|| Self::not_found("put_room_key", version))?.insert(session_id.to_owned());
        Ok(())
    }
}
