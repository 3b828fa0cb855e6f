//! The planner: a pure function from desired and observed state to the
//! ordered actions that bring the homeserver to the desired state.
//! Applying a plan and planning again yields nothing to do.

use std::collections::BTreeSet;

use ruma::{OwnedRoomId, OwnedUserId, UserId};

use crate::MatrixIds;
use crate::desired::{DesiredJoinRule, DesiredRoom, DesiredScope};
use crate::observed::{Membership, ObservedJoinRule, ObservedRoom, ObservedScope};
use crate::power::PowerLevels;
use crate::rooms::{HISTORY_VISIBILITY, RoomKey};

/// A room in a plan: one that exists, or one the plan creates first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomRef {
    /// A room that exists.
    Existing(OwnedRoomId),
    /// The room the plan creates for this key.
    New(RoomKey),
}

/// A join rule to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedJoinRule {
    /// `invite`.
    Invite,
    /// `restricted` to a Space's members.
    Restricted {
        /// The Space.
        space: RoomRef,
    },
}

/// A room entering or leaving the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// Made read-only.
    Archived,
    /// Made writable again.
    Restored,
}

/// One user's level changing in one room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelChange {
    /// Whose level.
    pub user: OwnedUserId,
    /// Before.
    pub old: i64,
    /// After.
    pub new: i64,
}

/// One request to the homeserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create the room with all its state in one request: name, join rule,
    /// encryption, power levels, its parent link, and invitations.
    CreateRoom {
        /// What the room is for (its alias comes from it).
        key: RoomKey,
        /// Its name; `None` for a direct chat.
        name: Option<String>,
        /// A Space.
        is_space: bool,
        /// A direct chat (`is_direct` on the invitations).
        is_direct: bool,
        /// Who may join.
        join_rule: PlannedJoinRule,
        /// End-to-end encrypted from the start.
        encrypted: bool,
        /// The Space it belongs to.
        parent: Option<RoomRef>,
        /// Its power levels.
        power: PowerLevels,
        /// Users invited with the creation.
        invite: Vec<OwnedUserId>,
    },
    /// Set the name; `drift` when the current one was set outside the
    /// service.
    SetName {
        /// The room.
        room: RoomRef,
        /// The name.
        name: String,
        /// The current name was set outside the service.
        drift: bool,
    },
    /// Set the history visibility back to [`HISTORY_VISIBILITY`]: the
    /// service never changes it, so any other value is drift (`was`).
    SetHistoryVisibility {
        /// The room.
        room: RoomRef,
        /// What it was.
        was: Option<String>,
    },
    /// Set the join rule; `drift` when it was changed outside the service
    /// (not as part of archiving or restoring the room).
    SetJoinRule {
        /// The room.
        room: RoomRef,
        /// The rule.
        rule: PlannedJoinRule,
        /// It was changed outside the service.
        drift: bool,
    },
    /// Turn on end-to-end encryption (it cannot be turned off).
    EnableEncryption {
        /// The room.
        room: RoomRef,
    },
    /// Replace the power levels. `drift` when the current ones were not
    /// written by the service.
    SetPowerLevels {
        /// The room.
        room: RoomRef,
        /// The whole new content.
        power: PowerLevels,
        /// Whose level changes, for the audit.
        changes: Vec<LevelChange>,
        /// The current ones were not written by the service.
        drift: bool,
        /// Set when the room is being archived or restored.
        lifecycle: Option<Lifecycle>,
    },
    /// `m.space.child` in the parent; `drift` when someone outside the
    /// service removed it.
    LinkChild {
        /// The Space.
        parent: RoomRef,
        /// The room in it.
        child: RoomRef,
        /// Someone outside the service removed it.
        drift: bool,
    },
    /// `m.space.parent` in the child; `drift` as for [`Action::LinkChild`].
    LinkParent {
        /// The room.
        child: RoomRef,
        /// Its Space.
        parent: RoomRef,
        /// Someone outside the service removed it.
        drift: bool,
    },
    /// Lift a ban the service did not set.
    Unban {
        /// The room.
        room: RoomRef,
        /// The user.
        user: OwnedUserId,
    },
    /// Invite a user (one of another homeserver, or into an invite-only room).
    Invite {
        /// The room.
        room: RoomRef,
        /// The user.
        user: OwnedUserId,
    },
    /// The user joins, the service acting for them.
    Join {
        /// The room.
        room: RoomRef,
        /// The user.
        user: OwnedUserId,
    },
    /// Remove a user who is no longer wanted in the room.
    Kick {
        /// The room.
        room: RoomRef,
        /// The user.
        user: OwnedUserId,
    },
}

impl Action {
    /// The existing (or just created) room the action changes; `None` for a
    /// creation.
    pub fn room(&self) -> Option<&RoomRef> {
        match self {
            Action::CreateRoom { .. } => None,
            Action::SetName { room, .. }
            | Action::SetHistoryVisibility { room, .. }
            | Action::SetJoinRule { room, .. }
            | Action::EnableEncryption { room }
            | Action::SetPowerLevels { room, .. }
            | Action::Unban { room, .. }
            | Action::Invite { room, .. }
            | Action::Join { room, .. }
            | Action::Kick { room, .. } => Some(room),
            Action::LinkChild { parent, .. } => Some(parent),
            Action::LinkParent { child, .. } => Some(child),
        }
    }

    /// Whether later actions may depend on this one, so that its failure
    /// must stop them. Nothing depends on a remote user's invitation (the
    /// service never joins for them), so their server being unreachable
    /// holds up nothing else.
    pub fn holds_up_later_actions(&self, ids: &MatrixIds) -> bool {
        !matches!(self, Action::Invite { user, .. } if ids.is_remote(user))
    }

    /// A short name, for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Action::CreateRoom { .. } => "create_room",
            Action::SetName { .. } => "set_name",
            Action::SetHistoryVisibility { .. } => "set_history_visibility",
            Action::SetJoinRule { .. } => "set_join_rule",
            Action::EnableEncryption { .. } => "enable_encryption",
            Action::SetPowerLevels { .. } => "set_power_levels",
            Action::LinkChild { .. } => "link_child",
            Action::LinkParent { .. } => "link_parent",
            Action::Unban { .. } => "unban",
            Action::Invite { .. } => "invite",
            Action::Join { .. } => "join",
            Action::Kick { .. } => "kick",
        }
    }
}

/// Plans the actions that make `observed` match `desired`. Rooms are handled
/// in the desired order (parents first), and within a room: state, then
/// links, then memberships, so a user joins a Space before a room that is
/// restricted to its members.
///
/// Users in the service's namespace (and remote users the platform named)
/// who are in a room but not wanted there are removed; anyone else a member
/// invited is left alone. A member who left a room of their own accord is
/// not pulled back in. Users of other homeservers are invited, never joined:
/// joining is theirs to do.
pub fn plan(desired: &DesiredScope, observed: &ObservedScope, ids: &MatrixIds) -> Vec<Action> {
    let mut actions = Vec::new();
    let room_ref = |key: &RoomKey| match observed.rooms.get(key) {
        Some(room) => RoomRef::Existing(room.room_id.clone()),
        None => RoomRef::New(*key),
    };
    let planned_rule = |rule: &DesiredJoinRule| match rule {
        DesiredJoinRule::Invite => PlannedJoinRule::Invite,
        DesiredJoinRule::Restricted { space } => PlannedJoinRule::Restricted { space: room_ref(space) },
    };

    // Rooms this plan creates, so children can link to them.
    let mut creating = BTreeSet::new();
    for want in &desired.rooms {
        let this = room_ref(&want.key);
        // A parent that neither exists nor is being created (an archived
        // Space that never was) cannot be linked to.
        let parent =
            want.parent.filter(|p| observed.rooms.contains_key(p) || creating.contains(p)).as_ref().map(room_ref);
        if !observed.rooms.contains_key(&want.key) && !want.archived {
            creating.insert(want.key);
        }
        match observed.rooms.get(&want.key) {
            // An archived room that never existed is not made just to be archived.
            None if want.archived => {}
            None => {
                // Local users only: a remote user's invitation needs their
                // server, and one that cannot be reached must not fail the
                // room's creation (they are invited on their own below).
                let invite = match want.join_rule {
                    DesiredJoinRule::Invite => want.members.iter().filter(|u| !ids.is_remote(u)).cloned().collect(),
                    DesiredJoinRule::Restricted { .. } => Vec::new(),
                };
                actions.push(Action::CreateRoom {
                    key: want.key,
                    name: want.name.clone(),
                    is_space: want.is_space,
                    is_direct: want.direct,
                    join_rule: planned_rule(&want.join_rule),
                    encrypted: want.encrypted,
                    parent: parent.clone(),
                    power: want.power.clone(),
                    invite,
                });
                if let Some(parent) = parent {
                    actions.push(Action::LinkChild { parent, child: this.clone(), drift: false });
                }
                for user in &want.members {
                    // Remote users are invited whatever the join rule: the
                    // service cannot join for them, and a restricted room's
                    // rule needs a Space membership they may not have yet.
                    let (room, user) = (this.clone(), user.clone());
                    actions.push(if ids.is_remote(&user) {
                        Action::Invite { room, user }
                    } else {
                        Action::Join { room, user }
                    });
                }
            }
            Some(have) => {
                plan_state(want, have, &this, planned_rule(&want.join_rule), ids, &mut actions);
                plan_links(want, have, &this, parent, observed, ids, &mut actions);
                plan_members(want, have, &this, &desired.managed_remote, ids, &mut actions);
            }
        }
    }
    actions
}

fn plan_state(
    want: &DesiredRoom,
    have: &ObservedRoom,
    this: &RoomRef,
    rule: PlannedJoinRule,
    ids: &MatrixIds,
    actions: &mut Vec<Action>,
) {
    let foreign = |sender: Option<&OwnedUserId>| sender.is_some_and(|s| !ids.is_service(s));
    if let Some(name) = &want.name
        && have.name.as_ref() != Some(name)
    {
        let drift = foreign(have.name_sender.as_ref());
        actions.push(Action::SetName { room: this.clone(), name: name.clone(), drift });
    }
    if have.history_visibility.as_deref() != Some(HISTORY_VISIBILITY) {
        actions.push(Action::SetHistoryVisibility { room: this.clone(), was: have.history_visibility.clone() });
    }
    let rule_matches = match (&rule, &have.join_rule) {
        (PlannedJoinRule::Invite, Some(ObservedJoinRule::Invite)) => true,
        (
            PlannedJoinRule::Restricted { space: RoomRef::Existing(space) },
            Some(ObservedJoinRule::Restricted(allow)),
        ) => allow.len() == 1 && allow.contains(space),
        _ => false,
    };
    if !rule_matches {
        let archiving = have.power.as_ref().is_some_and(PowerLevels::is_archived) != want.archived;
        actions.push(Action::SetJoinRule { room: this.clone(), rule, drift: !archiving });
    }
    // Encryption cannot be turned off; the API refuses to ask for that.
    if want.encrypted && !have.encrypted {
        actions.push(Action::EnableEncryption { room: this.clone() });
    }
    if have.power.as_ref() != Some(&want.power) {
        let empty = PowerLevels::for_room(Default::default());
        let old = have.power.as_ref().unwrap_or(&empty);
        let users: BTreeSet<&OwnedUserId> = old.users.keys().chain(want.power.users.keys()).collect();
        let changes = users
            .into_iter()
            .filter_map(|user| {
                let (o, n) = (old.level_of(user), want.power.level_of(user));
                (o != n).then(|| LevelChange { user: user.clone(), old: o, new: n })
            })
            .collect();
        let drift = have.power_sender.as_deref().is_some_and(|s| !ids.is_service(s));
        let lifecycle = match (old.is_archived(), want.power.is_archived()) {
            (false, true) => Some(Lifecycle::Archived),
            (true, false) => Some(Lifecycle::Restored),
            _ => None,
        };
        actions.push(Action::SetPowerLevels {
            room: this.clone(),
            power: want.power.clone(),
            changes,
            drift,
            lifecycle,
        });
    }
}

fn plan_links(
    want: &DesiredRoom,
    have: &ObservedRoom,
    this: &RoomRef,
    parent: Option<RoomRef>,
    observed: &ObservedScope,
    ids: &MatrixIds,
    actions: &mut Vec<Action>,
) {
    let (Some(parent_key), Some(parent_ref)) = (want.parent, parent) else { return };
    // Leave the links of an archived room as they are.
    if want.archived {
        return;
    }
    let parent_room = observed.rooms.get(&parent_key);
    let foreign = |sender: Option<&OwnedUserId>| sender.is_some_and(|s| !ids.is_service(s));
    let child_linked = parent_room.is_some_and(|p| p.children.contains(&have.room_id));
    if !child_linked {
        let drift = foreign(parent_room.and_then(|p| p.unlinked_by.get(&have.room_id)));
        actions.push(Action::LinkChild { parent: parent_ref.clone(), child: this.clone(), drift });
    }
    let parent_linked = parent_room.is_some_and(|p| have.parents.contains(&p.room_id));
    if !parent_linked {
        let drift = parent_room.is_some_and(|p| foreign(have.unlinked_by.get(&p.room_id)));
        actions.push(Action::LinkParent { child: this.clone(), parent: parent_ref, drift });
    }
}

fn plan_members(
    want: &DesiredRoom,
    have: &ObservedRoom,
    this: &RoomRef,
    managed_remote: &BTreeSet<OwnedUserId>,
    ids: &MatrixIds,
    actions: &mut Vec<Action>,
) {
    // An archived room admits nobody new; removed members still leave.
    let admitting = if want.archived { &BTreeSet::new() } else { &want.members };
    for user in admitting {
        let remote = ids.is_remote(user);
        let must_invite = remote || matches!(want.join_rule, DesiredJoinRule::Invite);
        let current = have.members.get(user);
        let left_by_choice = |sender: &UserId| sender == &**user;
        let admit = |actions: &mut Vec<Action>| {
            if must_invite {
                actions.push(Action::Invite { room: this.clone(), user: user.clone() });
            }
            if !remote {
                actions.push(Action::Join { room: this.clone(), user: user.clone() });
            }
        };
        match current.map(|m| (m.membership, &m.sender)) {
            Some((Membership::Join, _)) => {}
            // A remote user's invitation waits for them to accept it.
            Some((Membership::Invite, _)) if remote => {}
            Some((Membership::Invite, _)) => actions.push(Action::Join { room: this.clone(), user: user.clone() }),
            Some((Membership::Leave, sender)) if left_by_choice(sender) => {}
            Some((Membership::Ban, _)) => {
                actions.push(Action::Unban { room: this.clone(), user: user.clone() });
                admit(actions);
            }
            None | Some((Membership::Leave | Membership::Knock, _)) => admit(actions),
        }
    }
    for (user, member) in &have.members {
        let present = matches!(member.membership, Membership::Join | Membership::Invite | Membership::Knock);
        let managed = ids.platform_user(user).is_some() || managed_remote.contains(user);
        if present && !want.members.contains(user) && managed {
            actions.push(Action::Kick { room: this.clone(), user: user.clone() });
        }
    }
}
