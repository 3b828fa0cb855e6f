//! What the homeserver says a scope's rooms look like before a plan: read
//! from the homeserver, or from the process's room cache while nothing
//! foreign has changed those rooms since (`crates/engine/src/reconcile/room_cache.rs`).

use std::collections::{BTreeMap, BTreeSet};

use ruma::{OwnedRoomId, OwnedUserId};

use crate::power::PowerLevels;
use crate::rooms::RoomKey;

/// A membership state (`m.room.member`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// `invite`.
    Invite,
    /// `join`.
    Join,
    /// `leave`.
    Leave,
    /// `ban`.
    Ban,
    /// `knock`.
    Knock,
}

impl Membership {
    /// From the event's `membership`; `None` for an unknown one.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "invite" => Some(Membership::Invite),
            "join" => Some(Membership::Join),
            "leave" => Some(Membership::Leave),
            "ban" => Some(Membership::Ban),
            "knock" => Some(Membership::Knock),
            _ => None,
        }
    }
}

/// A user's membership in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedMember {
    /// Their membership.
    pub membership: Membership,
    /// Who made the membership what it is (the user themselves, or someone
    /// who invited, kicked or banned them).
    pub sender: OwnedUserId,
}

/// A room's join rule as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObservedJoinRule {
    /// `invite`.
    Invite,
    /// `restricted` with the rooms whose members may join.
    Restricted(BTreeSet<OwnedRoomId>),
    /// Any other rule (`public`, `knock`, …).
    Other(String),
}

/// A room's state, as far as the service manages it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedRoom {
    /// The room.
    pub room_id: OwnedRoomId,
    /// `m.room.name`, if set.
    pub name: Option<String>,
    /// Who set the current name.
    pub name_sender: Option<OwnedUserId>,
    /// `m.room.history_visibility`, if set.
    pub history_visibility: Option<String>,
    /// `m.room.join_rules`, if set.
    pub join_rule: Option<ObservedJoinRule>,
    /// Whether `m.room.encryption` is set.
    pub encrypted: bool,
    /// `m.room.power_levels`, if set.
    pub power: Option<PowerLevels>,
    /// Who sent the current power levels.
    pub power_sender: Option<OwnedUserId>,
    /// Every user with a membership, by id.
    pub members: BTreeMap<OwnedUserId, ObservedMember>,
    /// `m.space.child` links (with a non-empty `via`).
    pub children: BTreeSet<OwnedRoomId>,
    /// `m.space.parent` links.
    pub parents: BTreeSet<OwnedRoomId>,
    /// Links (either kind) emptied, by state key, and who emptied them.
    pub unlinked_by: BTreeMap<OwnedRoomId, OwnedUserId>,
}

impl ObservedRoom {
    /// The user's membership, if any.
    pub fn membership_of(&self, user: &ruma::UserId) -> Option<Membership> {
        self.members.get(user).map(|m| m.membership)
    }
}

/// A scope's rooms that exist, by key. A key that is missing has no room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedScope {
    /// The rooms that exist, by key.
    pub rooms: BTreeMap<RoomKey, ObservedRoom>,
}
