//! When each of a plan's actions may be sent. The plan is an ordered list,
//! but only some of its order matters: a room exists before anyone joins
//! it or it is linked; a user's memberships happen in plan order (they join
//! a Space before a room restricted to its members); a room's state changes
//! happen in plan order with its memberships. Everything else may overlap,
//! so actions are grouped into layers: each layer runs at once, after the
//! one before it, which keeps the homeserver busy instead of waiting on each
//! answer in turn.

use std::collections::BTreeMap;

use crate::plan::{Action, PlannedJoinRule, RoomRef};

/// The plan's action indices, by layer; within a layer in plan order.
pub fn layers(actions: &[Action]) -> Vec<Vec<usize>> {
    let mut tracker = Tracker::default();
    let mut layers: Vec<Vec<usize>> = Vec::new();
    for (i, action) in actions.iter().enumerate() {
        let layer = tracker.place(action);
        if layers.len() <= layer {
            layers.resize_with(layer + 1, Vec::new);
        }
        layers[layer].push(i);
    }
    layers
}

/// The highest layer so far of what later actions must follow, per room and
/// per user. Rooms are named by id, or by alias for rooms the plan creates.
#[derive(Default)]
struct Tracker {
    /// The layer that creates a room.
    created: BTreeMap<String, usize>,
    /// The room's creation and state changes other than Space links.
    state: BTreeMap<String, usize>,
    /// Anything in the room.
    any: BTreeMap<String, usize>,
    /// The user's memberships, in any room.
    user: BTreeMap<String, usize>,
}

fn name(room: &RoomRef) -> String {
    match room {
        RoomRef::Existing(id) => id.to_string(),
        RoomRef::New(key) => key.alias_localpart(),
    }
}

fn after(layer: Option<&usize>) -> usize {
    layer.map_or(0, |l| l + 1)
}

impl Tracker {
    fn created(&self, room: &RoomRef) -> usize {
        after(self.created.get(&name(room)))
    }

    fn bump(map: &mut BTreeMap<String, usize>, key: String, layer: usize) {
        let slot = map.entry(key).or_insert(layer);
        *slot = (*slot).max(layer);
    }

    fn place(&mut self, action: &Action) -> usize {
        match action {
            Action::CreateRoom { key, join_rule, parent, .. } => {
                let space = match join_rule {
                    PlannedJoinRule::Restricted { space } => self.created(space),
                    PlannedJoinRule::Invite => 0,
                };
                let layer = space.max(parent.as_ref().map_or(0, |p| self.created(p)));
                let room = key.alias_localpart();
                self.created.insert(room.clone(), layer);
                Self::bump(&mut self.state, room.clone(), layer);
                Self::bump(&mut self.any, room, layer);
                layer
            }
            // Links are distinct state keys: they only need both rooms.
            Action::LinkChild { parent: a, child: b, .. } | Action::LinkParent { child: a, parent: b, .. } => {
                let layer = self.created(a).max(self.created(b));
                Self::bump(&mut self.any, name(a), layer);
                layer
            }
            Action::Join { room, user }
            | Action::Invite { room, user }
            | Action::Kick { room, user }
            | Action::Unban { room, user } => {
                let room = name(room);
                let layer = after(self.state.get(&room)).max(after(self.user.get(user.as_str())));
                Self::bump(&mut self.any, room, layer);
                Self::bump(&mut self.user, user.to_string(), layer);
                layer
            }
            Action::SetName { room, .. }
            | Action::SetHistoryVisibility { room, .. }
            | Action::SetJoinRule { room, .. }
            | Action::EnableEncryption { room }
            | Action::SetPowerLevels { room, .. } => {
                let space = match action {
                    Action::SetJoinRule { rule: PlannedJoinRule::Restricted { space }, .. } => self.created(space),
                    _ => 0,
                };
                let room = name(room);
                let layer = after(self.any.get(&room)).max(space);
                Self::bump(&mut self.state, room.clone(), layer);
                Self::bump(&mut self.any, room, layer);
                layer
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{community_with_council, ids};
    use crate::observed::ObservedScope;
    use crate::plan::plan;

    fn from_scratch(members: u128) -> Vec<Action> {
        plan(&community_with_council(members, 3), &ObservedScope::default(), &ids())
    }

    fn shape(actions: &[Action]) -> Vec<Vec<&'static str>> {
        layers(actions).iter().map(|l| l.iter().map(|i| actions[*i].name()).collect()).collect()
    }

    #[test]
    fn a_new_community_goes_in_five_layers() {
        let actions = from_scratch(2);
        assert_eq!(
            shape(&actions),
            [
                vec!["create_room"],                                             // the Space
                vec!["join", "join", "create_room", "create_room"],              // Space joins, General, council Space
                vec!["link_child", "join", "join", "link_child", "create_room"], // General joins, council room
                vec!["join", "join", "link_child"],                              // council Space joins
                vec!["join", "join"],                                            // council room joins
            ]
        );
        let mut all: Vec<usize> = layers(&actions).into_iter().flatten().collect();
        all.sort_unstable();
        assert_eq!(all, (0..actions.len()).collect::<Vec<_>>(), "every action once");
    }

    #[test]
    fn a_room_s_state_and_memberships_keep_their_order() {
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
            Action::Kick { room: room(1), user: user(1) },
            Action::Kick { room: room(1), user: user(2) },
            Action::Invite { room: room(2), user: user(1) },
            Action::Join { room: room(2), user: user(1) },
            levels(1),
        ];
        // Both rooms' levels first; then the kicks and the invitation (the
        // kicked user's next membership waits); then the join and room 1's
        // new levels, after its kicks.
        assert_eq!(layers(&actions), [vec![0, 1], vec![2, 3], vec![4, 6], vec![5]]);
    }
}
