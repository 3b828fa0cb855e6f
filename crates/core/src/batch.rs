//! Which of a plan's actions may be sent to the homeserver at once. The plan
//! is an ordered list, and most of its order matters (a room exists before
//! anyone joins it; a user joins a Space before a room restricted to its
//! members). But a run of joins into one room, or of state changes to
//! different rooms, is independent: sending it concurrently keeps the
//! homeserver busy instead of waiting on each answer in turn.

use std::collections::BTreeSet;

use crate::plan::{Action, RoomRef};

/// Splits `actions` into consecutive batches, in order; the actions of one
/// batch may run concurrently, and a batch starts only after the previous
/// one is done.
pub fn batches(actions: &[Action]) -> Vec<&[Action]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut batch = Batch::default();
    for (i, action) in actions.iter().enumerate() {
        if !batch.admits(action) {
            out.push(&actions[start..i]);
            start = i;
            batch = Batch::default();
        }
        batch.add(action);
    }
    if start < actions.len() {
        out.push(&actions[start..]);
    }
    out
}

/// What the batch being built holds.
#[derive(Default)]
struct Batch<'a> {
    kind: Option<&'static str>,
    /// Membership changes: their one room and the users already in the batch.
    room: Option<&'a RoomRef>,
    users: BTreeSet<&'a str>,
    /// Room state changes: the rooms already in the batch (a handful).
    rooms: Vec<&'a RoomRef>,
}

impl<'a> Batch<'a> {
    fn admits(&self, action: &Action) -> bool {
        let Some(kind) = self.kind else {
            return true;
        };
        if kind != action.name() {
            return false;
        }
        match action {
            // One membership per user, all in the same room.
            Action::Join { room, user }
            | Action::Invite { room, user }
            | Action::Kick { room, user }
            | Action::Unban { room, user } => self.room == Some(room) && !self.users.contains(user.as_str()),
            // One state change per room.
            Action::SetPowerLevels { room, .. } | Action::SetName { room, .. } => !self.rooms.contains(&room),
            // Creations refer to each other; the rest is rare. One at a time.
            Action::CreateRoom { .. }
            | Action::SetJoinRule { .. }
            | Action::EnableEncryption { .. }
            | Action::LinkChild { .. }
            | Action::LinkParent { .. } => false,
        }
    }

    fn add(&mut self, action: &'a Action) {
        self.kind = Some(action.name());
        match action {
            Action::Join { room, user }
            | Action::Invite { room, user }
            | Action::Kick { room, user }
            | Action::Unban { room, user } => {
                self.room = Some(room);
                self.users.insert(user.as_str());
            }
            Action::SetPowerLevels { room, .. } | Action::SetName { room, .. } => {
                self.rooms.push(room);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MatrixIds;
    use crate::desired::{Community, CommunityConfig, CommunityMember, Council, community_rooms};
    use crate::observed::ObservedScope;
    use crate::plan::plan;
    use crate::power::{CommunityRole, CouncilRole, TrustLevels};
    use uuid::Uuid;

    fn from_scratch(members: u128) -> Vec<Action> {
        let ids = MatrixIds::new("example.org", "@matrix-sync:example.org").unwrap();
        let members: Vec<CommunityMember> = (0..members)
            .map(|n| CommunityMember { user: ids.user(Uuid::from_u128(n + 1)), trust: 10, role: CommunityRole::Member })
            .collect();
        let council = Council {
            id: Uuid::from_u128(900),
            name: "K".into(),
            deleted: false,
            members: members.iter().take(3).map(|m| (m.user.clone(), CouncilRole::Member)).collect(),
        };
        let community = Community {
            id: Uuid::from_u128(1000),
            name: "C".into(),
            config: CommunityConfig::default(),
            trust_levels: TrustLevels::default(),
            deleted: false,
        };
        plan(&community_rooms(&community, &members, &[council]), &ObservedScope::default(), &ids)
    }

    #[test]
    fn the_joins_into_one_room_go_together() {
        let actions = from_scratch(5);
        let shape: Vec<(usize, &str)> = batches(&actions).iter().map(|b| (b.len(), b[0].name())).collect();
        // Space, its 5 joins; General, its link, 5 joins; the council Space,
        // link, 3 joins; the council room, link, 3 joins.
        assert_eq!(
            shape,
            [
                (1, "create_room"),
                (5, "join"),
                (1, "create_room"),
                (1, "link_child"),
                (5, "join"),
                (1, "create_room"),
                (1, "link_child"),
                (3, "join"),
                (1, "create_room"),
                (1, "link_child"),
                (3, "join"),
            ]
        );
        let flattened: Vec<&Action> = batches(&actions).into_iter().flatten().collect();
        assert_eq!(flattened, actions.iter().collect::<Vec<_>>(), "the order is kept");
    }

    #[test]
    fn state_changes_go_together_only_in_different_rooms() {
        let room = |n: u8| RoomRef::Existing(format!("!r{n}:example.org").try_into().unwrap());
        let levels = |n| Action::SetPowerLevels {
            room: room(n),
            power: crate::power::PowerLevels::for_room(Default::default()),
            changes: Vec::new(),
            drift: false,
            lifecycle: None,
        };
        let user = |n: u8| ruma::OwnedUserId::try_from(format!("@u{n}:example.org")).unwrap();
        let actions = vec![
            levels(1),
            levels(2),
            levels(1),
            Action::Kick { room: room(1), user: user(1) },
            Action::Kick { room: room(1), user: user(2) },
            Action::Kick { room: room(2), user: user(1) },
            Action::Invite { room: room(2), user: user(1) },
            Action::Join { room: room(2), user: user(1) },
        ];
        let sizes: Vec<usize> = batches(&actions).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [2, 1, 2, 1, 1, 1]);
    }
}
