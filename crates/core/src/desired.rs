//! What the homeserver should look like for one scope, derived from the
//! platform's records. Pure data: built here, compared by the planner.

use std::collections::{BTreeMap, BTreeSet};

use ruma::OwnedUserId;
use uuid::Uuid;

use crate::Scope;
use crate::power::{CommunityRole, CouncilRole, PowerLevels, TrustLevels, community_level, council_level};
use crate::rooms::{RoomKey, RoomRole};

/// How users get into a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DesiredJoinRule {
    /// Only by invitation (Spaces, council rooms, DMs).
    Invite,
    /// Anyone who is a member of this Space may join (the General room).
    Restricted {
        /// The Space.
        space: RoomKey,
    },
}

/// One room as it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredRoom {
    /// Which room of which scope.
    pub key: RoomKey,
    /// `None` for direct chats: clients name them after the other person.
    pub name: Option<String>,
    /// A direct chat (`is_direct` on its invitations).
    pub direct: bool,
    /// Archived (soft-deleted, or chat turned off): read-only for members,
    /// nobody new admitted, and not created if it does not exist.
    pub archived: bool,
    /// A Space (`m.space` creation type).
    pub is_space: bool,
    /// Who may join.
    pub join_rule: DesiredJoinRule,
    /// End-to-end encrypted (for good, once on).
    pub encrypted: bool,
    /// The Space this room belongs to (linked both ways).
    pub parent: Option<RoomKey>,
    /// Users who should be joined.
    pub members: BTreeSet<OwnedUserId>,
    /// The whole power-levels content.
    pub power: PowerLevels,
}

/// A scope's rooms, parents before children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredScope {
    /// The rooms, each parent before its children.
    pub rooms: Vec<DesiredRoom>,
    /// Users of other homeservers the platform has named for this scope
    /// (members now or before): like the service's own users, they are
    /// removed from its rooms where they are not wanted. Remote users
    /// someone else invited are left alone.
    pub managed_remote: BTreeSet<OwnedUserId>,
}

/// A community's settings (the specification's `communities.config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommunityConfig {
    /// `matrixEnabled`: `false` archives the rooms.
    pub matrix_enabled: bool,
    /// `matrixGeneralChatEncrypted`.
    pub general_encrypted: bool,
    /// Always true: council rooms are always encrypted.
    pub council_encrypted: bool,
}

impl Default for CommunityConfig {
    fn default() -> Self {
        Self { matrix_enabled: true, general_encrypted: false, council_encrypted: true }
    }
}

/// A community as the platform states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Community {
    /// The platform's id.
    pub id: Uuid,
    /// The name of its Space.
    pub name: String,
    /// Its settings.
    pub config: CommunityConfig,
    /// Its trust → power-level table.
    pub trust_levels: TrustLevels,
    /// Soft-deleted: archived until restored or hard-deleted.
    pub deleted: bool,
}

impl Community {
    /// A soft-deleted community, or one whose chat was turned off, keeps its
    /// rooms archived.
    pub fn archived(&self) -> bool {
        self.deleted || !self.config.matrix_enabled
    }
}

/// A member of a community.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunityMember {
    /// Their Matrix id.
    pub user: OwnedUserId,
    /// Their trust score.
    pub trust: u64,
    /// Their role (an admin is at level 100 whatever the trust).
    pub role: CommunityRole,
}

/// A council of a community, with its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Council {
    /// The platform's id.
    pub id: Uuid,
    /// The name of its Space and discussion room.
    pub name: String,
    /// Soft-deleted: archived until restored or hard-deleted.
    pub deleted: bool,
    /// Council members (who must also be community members) and their roles.
    pub members: BTreeMap<OwnedUserId, CouncilRole>,
}

/// The name of every community's General room.
pub const GENERAL_ROOM_NAME: &str = "General";

/// A community's rooms: its Space and General room, with every member
/// joined to both at the level their trust (or admin role) earns, and for
/// each council a Space nested in the community's with an encrypted,
/// invite-only discussion room, for the council's members only.
pub fn community_rooms(community: &Community, members: &[CommunityMember], councils: &[Council]) -> DesiredScope {
    let archived = community.archived();
    let scope = Scope::Community(community.id);
    let space = RoomKey::new(scope, RoomRole::Space);
    let general = RoomKey::new(scope, RoomRole::General);
    let levels: BTreeMap<OwnedUserId, i64> =
        members.iter().map(|m| (m.user.clone(), community_level(&community.trust_levels, m.trust, m.role))).collect();
    let joined: BTreeSet<OwnedUserId> = members.iter().map(|m| m.user.clone()).collect();
    let mut rooms = vec![
        DesiredRoom {
            key: space,
            name: Some(room_name(&community.name, archived)),
            direct: false,
            archived,
            is_space: true,
            join_rule: DesiredJoinRule::Invite,
            encrypted: false,
            parent: None,
            members: joined.clone(),
            power: room_power(levels.clone(), archived),
        },
        DesiredRoom {
            key: general,
            name: Some(room_name(GENERAL_ROOM_NAME, archived)),
            direct: false,
            archived,
            is_space: false,
            join_rule: if archived { DesiredJoinRule::Invite } else { DesiredJoinRule::Restricted { space } },
            encrypted: community.config.general_encrypted,
            parent: Some(space),
            members: joined,
            power: room_power(levels, archived),
        },
    ];
    for council in councils {
        rooms.extend(council_rooms(community, members, council, space));
    }
    DesiredScope { rooms, managed_remote: BTreeSet::new() }
}

/// What an archived room is called: it says so.
fn room_name(name: &str, archived: bool) -> String {
    if archived { format!("{name} (archived)") } else { name.to_owned() }
}

fn room_power(levels: BTreeMap<OwnedUserId, i64>, archived: bool) -> PowerLevels {
    if archived { PowerLevels::archived(levels) } else { PowerLevels::for_room(levels) }
}

fn council_rooms(
    community: &Community,
    members: &[CommunityMember],
    council: &Council,
    community_space: RoomKey,
) -> [DesiredRoom; 2] {
    let scope = Scope::Council(council.id);
    let space = RoomKey::new(scope, RoomRole::Space);
    let levels: BTreeMap<OwnedUserId, i64> = members
        .iter()
        .filter_map(|m| {
            let council_role = council.members.get(&m.user)?;
            Some((m.user.clone(), council_level(&community.trust_levels, m.trust, m.role, *council_role)))
        })
        .collect();
    let joined: BTreeSet<OwnedUserId> = levels.keys().cloned().collect();
    let archived = community.archived() || council.deleted;
    let room = |key, name: String, is_space, parent| DesiredRoom {
        key,
        name: Some(room_name(&name, archived)),
        direct: false,
        archived,
        is_space,
        join_rule: DesiredJoinRule::Invite,
        encrypted: true,
        parent: Some(parent),
        members: joined.clone(),
        power: room_power(levels.clone(), archived),
    };
    [
        room(space, council.name.clone(), true, community_space),
        room(RoomKey::new(scope, RoomRole::Discussion), format!("{} discussion", council.name), false, space),
    ]
}

/// The pair id of two users' direct chat: the same whichever order they
/// are given in.
pub fn pair_id(a: &ruma::UserId, b: &ruma::UserId) -> Uuid {
    let (first, second) = ordered_pair(a, b);
    Uuid::new_v5(&PAIR_NAMESPACE, format!("{first}\n{second}").as_bytes())
}

/// A pair of users in the one order the service stores and names them by.
pub fn ordered_pair<'a>(a: &'a ruma::UserId, b: &'a ruma::UserId) -> (&'a ruma::UserId, &'a ruma::UserId) {
    if a <= b { (a, b) } else { (b, a) }
}

/// The namespace of pair ids (a fixed, random UUID).
const PAIR_NAMESPACE: Uuid = Uuid::from_u128(0x6d2f_1c1e_9a47_4f0b_8d8e_52a3_0c6e_91d4);

/// The encrypted direct chat of two users: invite-only, both joined.
pub fn direct_room(a: &ruma::UserId, b: &ruma::UserId) -> DesiredScope {
    let key = RoomKey::new(Scope::Direct(pair_id(a, b)), RoomRole::Direct);
    DesiredScope {
        managed_remote: BTreeSet::new(),
        rooms: vec![DesiredRoom {
            key,
            name: None,
            direct: true,
            archived: false,
            is_space: false,
            join_rule: DesiredJoinRule::Invite,
            encrypted: true,
            parent: None,
            members: [a.to_owned(), b.to_owned()].into(),
            power: PowerLevels::for_room(BTreeMap::new()),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_the_same_in_either_order() {
        let a: OwnedUserId = "@a:example.org".try_into().unwrap();
        let b: OwnedUserId = "@b:example.org".try_into().unwrap();
        let c: OwnedUserId = "@c:example.org".try_into().unwrap();
        assert_eq!(pair_id(&a, &b), pair_id(&b, &a));
        assert_ne!(pair_id(&a, &b), pair_id(&a, &c));
        let dm = direct_room(&a, &b);
        assert!(dm.rooms[0].encrypted && dm.rooms[0].direct && dm.rooms[0].name.is_none());
        assert_eq!(dm.rooms[0].members.len(), 2);
    }
}
