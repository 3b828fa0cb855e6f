//! A model of what the homeserver does with each action. The planner's
//! tests check that applying a plan yields a state whose plan is empty; the
//! service uses it to know the state of rooms it has just changed without
//! reading them back.

use std::collections::BTreeMap;

use ruma::{OwnedRoomId, OwnedUserId, RoomId};

use crate::observed::{Membership, ObservedJoinRule, ObservedMember, ObservedRoom, ObservedScope};
use crate::plan::{Action, PlannedJoinRule, RoomRef};
use crate::rooms::HISTORY_VISIBILITY;

/// [`try_apply`] for tests, where the model must follow every plan.
#[cfg(test)]
pub fn apply(observed: &ObservedScope, actions: &[Action], actor: &OwnedUserId) -> ObservedScope {
    try_apply(observed, actions, actor).expect("every room the plan refers to is known")
}

/// The state after `actions`, or `None` when an action refers to a room the
/// state does not hold (the model cannot follow it).
pub fn try_apply(observed: &ObservedScope, actions: &[Action], actor: &OwnedUserId) -> Option<ObservedScope> {
    let mut state = observed.clone();
    for action in actions {
        let id_of = |state: &ObservedScope, r: &RoomRef| -> Option<OwnedRoomId> {
            match r {
                RoomRef::Existing(id) => Some(id.clone()),
                RoomRef::New(key) => state.rooms.get(key).map(|room| room.room_id.clone()),
            }
        };
        match action {
            Action::CreateRoom { key, name, join_rule, encrypted, parent, power, invite, .. } => {
                let room_id = RoomId::parse(format!("!{}:sim", key.alias_localpart())).ok()?;
                let join_rule = rule(&state, join_rule, &id_of)?;
                let mut members = BTreeMap::from([(actor.clone(), member(Membership::Join, actor))]);
                for user in invite {
                    members.insert(user.clone(), member(Membership::Invite, actor));
                }
                let parents = parent.iter().map(|p| id_of(&state, p)).collect::<Option<_>>()?;
                state.rooms.insert(
                    *key,
                    ObservedRoom {
                        room_id,
                        name: name.clone(),
                        name_sender: name.as_ref().map(|_| actor.clone()),
                        history_visibility: Some(HISTORY_VISIBILITY.to_owned()),
                        join_rule: Some(join_rule),
                        encrypted: *encrypted,
                        power: Some(power.clone()),
                        power_sender: Some(actor.clone()),
                        members,
                        children: Default::default(),
                        parents,
                        unlinked_by: Default::default(),
                    },
                );
            }
            Action::SetName { room, name, .. } => {
                let r = room_mut(&mut state, room, &id_of)?;
                r.name = Some(name.clone());
                r.name_sender = Some(actor.clone());
            }
            Action::SetHistoryVisibility { room, .. } => {
                room_mut(&mut state, room, &id_of)?.history_visibility = Some(HISTORY_VISIBILITY.to_owned());
            }
            Action::SetJoinRule { room, rule: r, .. } => {
                let r = rule(&state, r, &id_of)?;
                room_mut(&mut state, room, &id_of)?.join_rule = Some(r);
            }
            Action::EnableEncryption { room } => room_mut(&mut state, room, &id_of)?.encrypted = true,
            Action::SetPowerLevels { room, power, .. } => {
                let r = room_mut(&mut state, room, &id_of)?;
                r.power = Some(power.clone());
                r.power_sender = Some(actor.clone());
            }
            Action::LinkChild { parent, child, .. } => {
                let child = id_of(&state, child)?;
                let r = room_mut(&mut state, parent, &id_of)?;
                r.unlinked_by.remove(&child);
                r.children.insert(child);
            }
            Action::LinkParent { child, parent, .. } => {
                let parent = id_of(&state, parent)?;
                let r = room_mut(&mut state, child, &id_of)?;
                r.unlinked_by.remove(&parent);
                r.parents.insert(parent);
            }
            Action::Unban { room, user } | Action::Kick { room, user } => {
                room_mut(&mut state, room, &id_of)?.members.insert(user.clone(), member(Membership::Leave, actor));
            }
            Action::Invite { room, user } => {
                room_mut(&mut state, room, &id_of)?.members.insert(user.clone(), member(Membership::Invite, actor));
            }
            Action::Join { room, user } => {
                room_mut(&mut state, room, &id_of)?.members.insert(user.clone(), member(Membership::Join, user));
            }
        }
    }
    Some(state)
}

fn member(membership: Membership, sender: &OwnedUserId) -> ObservedMember {
    ObservedMember { membership, sender: sender.clone() }
}

fn rule(
    state: &ObservedScope,
    rule: &PlannedJoinRule,
    id_of: &impl Fn(&ObservedScope, &RoomRef) -> Option<OwnedRoomId>,
) -> Option<ObservedJoinRule> {
    Some(match rule {
        PlannedJoinRule::Invite => ObservedJoinRule::Invite,
        PlannedJoinRule::Restricted { space } => ObservedJoinRule::Restricted([id_of(state, space)?].into()),
    })
}

fn room_mut<'a>(
    state: &'a mut ObservedScope,
    room: &RoomRef,
    id_of: &impl Fn(&ObservedScope, &RoomRef) -> Option<OwnedRoomId>,
) -> Option<&'a mut ObservedRoom> {
    let id = id_of(state, room)?;
    state.rooms.values_mut().find(|r| r.room_id == id)
}
