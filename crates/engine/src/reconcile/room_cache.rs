//! The rooms' state as this process last saw or left it, so that a
//! reconcile need not read a room back from the homeserver when nothing but
//! the service itself has changed it (a trust storm then costs only the
//! power-levels events).
//!
//! An entry is only used at the version of its scope it was taken at. The
//! version (in the database, so shared by every process) moves on whenever
//! the rooms may have changed: after the service applies a plan to them, and
//! when the homeserver pushes an event in them that the bot did not send.
//! An entry also expires after `ttl`, so a push that never arrived costs at
//! most that long.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use matrix_sync_core::observed::ObservedRoom;
use ruma::{OwnedRoomId, RoomId};

/// Rooms' observed state by room id, each with the scope version it holds for.
pub struct RoomCache {
    rooms: Mutex<HashMap<OwnedRoomId, Cached>>,
    ttl: Duration,
}

struct Cached {
    version: i64,
    room: ObservedRoom,
    /// When the homeserver was last read for this room (a state the service
    /// derived from its own changes keeps the age of the read it started from).
    read_at: Instant,
}

impl RoomCache {
    /// A cache whose entries live `ttl` (zero turns it off).
    pub fn new(ttl: Duration) -> Self {
        Self { rooms: Mutex::default(), ttl }
    }

    fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<OwnedRoomId, Cached>> {
        self.rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The room's state at `version`, with when it was read, if known and fresh.
    pub fn get(&self, room_id: &RoomId, version: i64) -> Option<(ObservedRoom, Instant)> {
        let mut rooms = self.rooms();
        match rooms.get(room_id) {
            Some(c) if c.version == version && c.read_at.elapsed() < self.ttl => Some((c.room.clone(), c.read_at)),
            Some(_) => {
                rooms.remove(room_id);
                None
            }
            None => None,
        }
    }

    /// Keeps a room's state at `version`, read from the homeserver at `read_at`.
    pub fn put(&self, room: ObservedRoom, version: i64, read_at: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        self.rooms().insert(room.room_id.clone(), Cached { version, room, read_at });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.rooms().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> ObservedRoom {
        ObservedRoom {
            room_id: "!r:example.org".try_into().unwrap(),
            name: Some(name.into()),
            name_sender: None,
            history_visibility: None,
            join_rule: None,
            encrypted: false,
            power: None,
            power_sender: None,
            members: Default::default(),
            children: Default::default(),
            parents: Default::default(),
            unlinked_by: Default::default(),
        }
    }

    #[test]
    fn an_entry_serves_only_its_version_and_only_while_fresh() {
        let cache = RoomCache::new(Duration::from_secs(60));
        let id: OwnedRoomId = "!r:example.org".try_into().unwrap();
        cache.put(room("a"), 3, Instant::now());
        assert_eq!(cache.get(&id, 3).map(|(r, _)| r.name), Some(Some("a".into())));
        assert!(cache.get(&id, 4).is_none(), "the rooms changed since");
        assert_eq!(cache.len(), 0, "a stale entry is dropped");

        let old = Instant::now().checked_sub(Duration::from_secs(61)).unwrap();
        cache.put(room("b"), 4, old);
        assert!(cache.get(&id, 4).is_none(), "read too long ago");

        let off = RoomCache::new(Duration::ZERO);
        off.put(room("c"), 1, Instant::now());
        assert!(off.get(&id, 1).is_none(), "a zero lifetime turns the cache off");
    }
}
