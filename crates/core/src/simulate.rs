//! A model of what the homeserver does with each action, for testing the
//! planner: applying a plan to observed state must yield a state whose plan
//! is empty.

use std::collections::BTreeMap;

use ruma::{OwnedRoomId, OwnedUserId, RoomId};

use crate::observed::{Membership, ObservedJoinRule, ObservedMember, ObservedRoom, ObservedScope};
use crate::plan::{Action, PlannedJoinRule, RoomRef};
use crate::rooms::RoomKey;

pub fn apply(observed: &ObservedScope, actions: &[Action], bot: &OwnedUserId) -> ObservedScope {
    let mut state = observed.clone();
    for action in actions {
        let id_of = |state: &ObservedScope, r: &RoomRef| -> OwnedRoomId {
            match r {
                RoomRef::Existing(id) => id.clone(),
                RoomRef::New(key) => state.rooms[key].room_id.clone(),
            }
        };
        match action {
            Action::CreateRoom { key, name, join_rule, encrypted, parent, power, invite, .. } => {
                let room_id = RoomId::parse(format!("!{}:sim", key.alias_localpart())).unwrap();
                let join_rule = rule(&state, join_rule, &id_of);
                let mut members = BTreeMap::from([(bot.clone(), member(Membership::Join, bot))]);
                for user in invite {
                    members.insert(user.clone(), member(Membership::Invite, bot));
                }
                let parents = parent.iter().map(|p| id_of(&state, p)).collect();
                state.rooms.insert(
                    *key,
                    ObservedRoom {
                        room_id,
                        name: name.clone(),
                        join_rule: Some(join_rule),
                        encrypted: *encrypted,
                        power: Some(power.clone()),
                        power_sender: Some(bot.clone()),
                        members,
                        children: Default::default(),
                        parents,
                    },
                );
            }
            Action::SetName { room, name } => room_mut(&mut state, room, &id_of).name = Some(name.clone()),
            Action::SetJoinRule { room, rule: r, .. } => {
                let r = rule(&state, r, &id_of);
                room_mut(&mut state, room, &id_of).join_rule = Some(r);
            }
            Action::EnableEncryption { room } => room_mut(&mut state, room, &id_of).encrypted = true,
            Action::SetPowerLevels { room, power, .. } => {
                let r = room_mut(&mut state, room, &id_of);
                r.power = Some(power.clone());
                r.power_sender = Some(bot.clone());
            }
            Action::LinkChild { parent, child } => {
                let child = id_of(&state, child);
                room_mut(&mut state, parent, &id_of).children.insert(child);
            }
            Action::LinkParent { child, parent } => {
                let parent = id_of(&state, parent);
                room_mut(&mut state, child, &id_of).parents.insert(parent);
            }
            Action::Unban { room, user } | Action::Kick { room, user } => {
                room_mut(&mut state, room, &id_of).members.insert(user.clone(), member(Membership::Leave, bot));
            }
            Action::Invite { room, user } => {
                room_mut(&mut state, room, &id_of).members.insert(user.clone(), member(Membership::Invite, bot));
            }
            Action::Join { room, user } => {
                room_mut(&mut state, room, &id_of).members.insert(user.clone(), member(Membership::Join, user));
            }
        }
    }
    state
}

fn member(membership: Membership, sender: &OwnedUserId) -> ObservedMember {
    ObservedMember { membership, sender: sender.clone() }
}

fn rule(
    state: &ObservedScope,
    rule: &PlannedJoinRule,
    id_of: &impl Fn(&ObservedScope, &RoomRef) -> OwnedRoomId,
) -> ObservedJoinRule {
    match rule {
        PlannedJoinRule::Invite => ObservedJoinRule::Invite,
        PlannedJoinRule::Restricted { space } => ObservedJoinRule::Restricted([id_of(state, space)].into()),
    }
}

fn room_mut<'a>(
    state: &'a mut ObservedScope,
    room: &RoomRef,
    id_of: &impl Fn(&ObservedScope, &RoomRef) -> OwnedRoomId,
) -> &'a mut ObservedRoom {
    let id = id_of(state, room);
    let key: RoomKey =
        *state.rooms.iter().find(|(_, r)| r.room_id == id).map(|(k, _)| k).unwrap_or_else(|| panic!("no room {id}"));
    state.rooms.get_mut(&key).unwrap()
}
