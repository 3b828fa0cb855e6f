//! Properties of the planner, on generated communities and homeserver states.

use std::collections::BTreeMap;

use proptest::prelude::*;
use ruma::OwnedUserId;
use uuid::Uuid;

use crate::MatrixIds;
use crate::desired::{Community, CommunityConfig, CommunityMember, Council, DesiredScope, community_rooms};
use crate::observed::{Membership, ObservedJoinRule, ObservedMember, ObservedScope};
use crate::plan::{Action, plan};
use crate::power::{CommunityRole, CouncilRole, TrustLevels};
use crate::simulate::apply;

fn ids() -> MatrixIds {
    MatrixIds::new("example.org", "@matrix-sync:example.org").unwrap()
}

/// Member `n`: a platform user, or every seventh a user of another
/// homeserver (federation), so every property covers both.
fn user(n: u8) -> OwnedUserId {
    if n % 7 == 6 {
        return format!("@user{n}:remote.example:8448").try_into().unwrap();
    }
    ids().user(Uuid::from_u128(u128::from(n) + 1))
}

fn community(members: &[(u8, u64, bool)], name: &str, encrypted: bool) -> DesiredScope {
    with_councils(members, name, encrypted, None)
}

fn with_councils(members: &[(u8, u64, bool)], name: &str, encrypted: bool, seed: Option<u8>) -> DesiredScope {
    lifecycle(members, name, encrypted, seed, false, false)
}

/// Councils picked from the members by `seed`: two councils, each with the
/// members the seed selects, in roles the seed spreads.
fn lifecycle(
    members: &[(u8, u64, bool)],
    name: &str,
    encrypted: bool,
    seed: Option<u8>,
    deleted: bool,
    council_deleted: bool,
) -> DesiredScope {
    let councils: Vec<Council> = match seed {
        None => Vec::new(),
        Some(seed) => (0..2u8)
            .map(|k| Council {
                id: Uuid::from_u128(1000 + u128::from(k)),
                name: format!("Council {k}"),
                deleted: council_deleted && k == 0,
                members: members
                    .iter()
                    .filter(|(n, _, _)| (n ^ seed ^ k) % 3 == 0)
                    .map(|(n, _, _)| {
                        let role = [CouncilRole::Member, CouncilRole::Moderator, CouncilRole::Admin]
                            [usize::from(n.wrapping_add(seed) % 3)];
                        (user(*n), role)
                    })
                    .collect(),
            })
            .collect(),
    };
    let c = Community {
        id: Uuid::from_u128(42),
        name: name.to_owned(),
        config: CommunityConfig { general_encrypted: encrypted, ..CommunityConfig::default() },
        trust_levels: TrustLevels::default(),
        deleted,
    };
    let members: Vec<CommunityMember> = members
        .iter()
        .map(|(n, trust, admin)| CommunityMember {
            user: user(*n),
            trust: *trust,
            role: if *admin { CommunityRole::Admin } else { CommunityRole::Member },
        })
        .collect();
    let mut scope = community_rooms(&c, &members, &councils);
    // Every remote user the generated members can be was named before.
    scope.managed_remote = (0..30u8).map(user).filter(|u| ids().is_remote(u)).collect();
    scope
}

fn members_strategy() -> impl Strategy<Value = Vec<(u8, u64, bool)>> {
    prop::collection::btree_map(0u8..30, (0u64..60, prop::bool::weighted(0.1)), 0..12)
        .prop_map(|m| m.into_iter().map(|(n, (t, a))| (n, t, a)).collect())
}

/// Someone other than the service changes things on the homeserver.
#[derive(Debug, Clone)]
enum Tamper {
    RaiseLevel(u8, i64),
    Leave(u8),
    Kicked(u8),
    Banned(u8),
    OpenJoinRule,
    Rename,
    DropChildLink,
    WorldReadable,
    OutsiderJoins(u8),
}

fn tamper_strategy() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (0u8..30, 1i64..100).prop_map(|(u, l)| Tamper::RaiseLevel(u, l)),
        (0u8..30).prop_map(Tamper::Leave),
        (0u8..30).prop_map(Tamper::Kicked),
        (0u8..30).prop_map(Tamper::Banned),
        Just(Tamper::OpenJoinRule),
        Just(Tamper::Rename),
        Just(Tamper::DropChildLink),
        Just(Tamper::WorldReadable),
        (0u8..30).prop_map(Tamper::OutsiderJoins),
    ]
}

fn tamper(state: &mut ObservedScope, t: &Tamper, room_index: usize) {
    let admin: OwnedUserId = "@someone:example.org".try_into().unwrap();
    let count = state.rooms.len().max(1);
    let Some(room) = state.rooms.values_mut().nth(room_index % count) else { return };
    let set = |room: &mut crate::observed::ObservedRoom, u: u8, m: Membership, sender: &OwnedUserId| {
        room.members.insert(user(u), ObservedMember { membership: m, sender: sender.clone() });
    };
    match t {
        Tamper::RaiseLevel(u, level) => {
            if let Some(p) = room.power.as_mut() {
                p.users.insert(user(*u), *level);
                room.power_sender = Some(admin);
            }
        }
        Tamper::Leave(u) => {
            if room.members.contains_key(&user(*u)) {
                set(room, *u, Membership::Leave, &user(*u));
            }
        }
        Tamper::Kicked(u) => set(room, *u, Membership::Leave, &admin),
        Tamper::Banned(u) => set(room, *u, Membership::Ban, &admin),
        Tamper::OpenJoinRule => room.join_rule = Some(ObservedJoinRule::Other("public".into())),
        Tamper::Rename => {
            room.name = Some("renamed by hand".into());
            room.name_sender = Some(admin);
        }
        Tamper::DropChildLink => {
            for child in std::mem::take(&mut room.children) {
                room.unlinked_by.insert(child, admin.clone());
            }
        }
        Tamper::WorldReadable => room.history_visibility = Some("world_readable".into()),
        Tamper::OutsiderJoins(u) => set(room, *u, Membership::Join, &user(*u)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// From any earlier state (another member list, then hand-made changes),
    /// applying the plan converges: planning again finds nothing to do.
    #[test]
    fn applying_a_plan_converges(
        before in members_strategy(),
        after in members_strategy(),
        tampering in prop::collection::vec((tamper_strategy(), 0usize..6), 0..6),
        encrypted_before in any::<bool>(),
        renamed in any::<bool>(),
        councils_before in prop::option::of(any::<u8>()),
        councils_after in prop::option::of(any::<u8>()),
        deleted_before in prop::bool::weighted(0.2),
        deleted_after in prop::bool::weighted(0.3),
        council_deleted in any::<bool>(),
    ) {
        let ids = ids();
        let bot: OwnedUserId = ids.bot().to_owned();
        let old = lifecycle(&before, "Old name", encrypted_before, councils_before, deleted_before, false);
        let mut state = apply(&ObservedScope::default(), &plan(&old, &ObservedScope::default(), &ids), &bot);
        for (t, room) in &tampering {
            tamper(&mut state, t, *room);
        }
        let new = lifecycle(&after, if renamed { "New name" } else { "Old name" }, true, councils_after, deleted_after, council_deleted);
        let actions = plan(&new, &state, &ids);
        let converged = apply(&state, &actions, &bot);
        let again = plan(&new, &converged, &ids);
        prop_assert!(again.is_empty(), "left over: {again:?}");

        // The actions of a layer run at once: any order within a layer ends
        // in the same state (here, each layer backwards).
        let reordered: Vec<_> = crate::schedule::layers(&actions)
            .into_iter()
            .flat_map(|layer| layer.into_iter().rev())
            .map(|i| actions[i].clone())
            .collect();
        prop_assert_eq!(&apply(&state, &reordered, &bot), &converged, "the order within a layer mattered");

        // Every wanted member is joined (a remote one at least invited),
        // unless they left of their own accord or the room is archived
        // (which admits nobody new).
        for room in &new.rooms {
            let Some(have) = converged.rooms.get(&room.key) else {
                prop_assert!(room.archived, "only archived rooms may be missing");
                continue;
            };
            prop_assert_eq!(have.power.as_ref(), Some(&room.power));
            if room.archived {
                continue;
            }
            for u in &room.members {
                let m = have.members.get(u).unwrap();
                prop_assert!(
                    m.membership == Membership::Join
                        || (m.membership == Membership::Invite && ids.is_remote(u))
                        || (m.membership == Membership::Leave && &m.sender == u),
                    "{u} is {m:?}"
                );
            }
        }
    }

    #[test]
    fn planning_is_deterministic(members in members_strategy(), tampering in prop::collection::vec((tamper_strategy(), 0usize..2), 0..4)) {
        let ids = ids();
        let desired = community(&members, "C", false);
        let mut state = apply(&ObservedScope::default(), &plan(&desired, &ObservedScope::default(), &ids), &ids.bot().to_owned());
        for (t, room) in &tampering {
            tamper(&mut state, t, *room);
        }
        prop_assert_eq!(plan(&desired, &state, &ids), plan(&desired, &state, &ids));
    }

    /// A burst of trust changes, however long, is one power-levels event
    /// per room when it is reconciled once.
    #[test]
    fn a_burst_of_trust_changes_is_one_power_levels_event_per_room(
        members in members_strategy(),
        changes in prop::collection::vec((0usize..12, 0u64..60), 1..50),
    ) {
        let ids = ids();
        let bot: OwnedUserId = ids.bot().to_owned();
        let desired = community(&members, "C", false);
        let state = apply(&ObservedScope::default(), &plan(&desired, &ObservedScope::default(), &ids), &bot);
        let mut now = members.clone();
        for (i, trust) in changes {
            if let Some(m) = now.get_mut(i) {
                m.1 = trust;
            }
        }
        let actions = plan(&community(&now, "C", false), &state, &ids);
        let per_room = actions.iter().filter(|a| matches!(a, Action::SetPowerLevels { .. })).count();
        prop_assert!(per_room <= 2);
        let only_levels = actions.iter().all(|a| matches!(a, Action::SetPowerLevels { .. }));
        prop_assert!(only_levels, "{:?}", actions);
    }
}

#[test]
fn a_new_community_is_created_in_one_pass_with_the_fewest_requests() {
    let ids = ids();
    let desired = community(&[(1, 0, false), (2, 40, false), (3, 0, true)], "Makers", false);
    let actions = plan(&desired, &ObservedScope::default(), &ids);
    let names: Vec<&str> = actions.iter().map(Action::name).collect();
    // Space (with invitations), three joins; General, its child link, three joins.
    assert_eq!(names, ["create_room", "join", "join", "join", "create_room", "link_child", "join", "join", "join"]);
    let Action::CreateRoom { power, invite, .. } = &actions[0] else { panic!() };
    assert_eq!(invite.len(), 3);
    assert_eq!(power.users, BTreeMap::from([(user(2), 50), (user(3), 100)]));
}

#[test]
fn drift_is_recognised_by_its_sender() {
    let ids = ids();
    let bot: OwnedUserId = ids.bot().to_owned();
    let desired = community(&[(1, 0, false), (2, 0, true)], "C", false);
    let mut state = apply(&ObservedScope::default(), &plan(&desired, &ObservedScope::default(), &ids), &bot);
    tamper(&mut state, &Tamper::RaiseLevel(1, 50), 0);
    let actions = plan(&desired, &state, &ids);
    let [Action::SetPowerLevels { drift, changes, .. }] = actions.as_slice() else { panic!("{actions:?}") };
    assert!(drift);
    assert_eq!(changes.len(), 1);
    assert_eq!((changes[0].old, changes[0].new), (50, 0));
}

/// Every change made outside the service that it reverts is marked as
/// drift, so it is audited `drift_reverted`: names, history visibility and
/// Space links as much as levels and join rules.
#[test]
fn names_history_visibility_and_links_changed_by_hand_are_drift() {
    let ids = ids();
    let bot: OwnedUserId = ids.bot().to_owned();
    let desired = with_councils(&[(1, 0, false), (2, 0, true)], "C", false, Some(1));
    let fresh = apply(&ObservedScope::default(), &plan(&desired, &ObservedScope::default(), &ids), &bot);
    assert!(plan(&desired, &fresh, &ids).is_empty());
    let space = *fresh.rooms.keys().find(|k| k.role == crate::rooms::RoomRole::Space).unwrap();
    for t in [Tamper::Rename, Tamper::WorldReadable, Tamper::DropChildLink] {
        let mut state = fresh.clone();
        let index = state.rooms.keys().position(|k| *k == space).unwrap();
        tamper(&mut state, &t, index);
        let actions = plan(&desired, &state, &ids);
        assert!(!actions.is_empty(), "{t:?}");
        for action in &actions {
            let drift = match action {
                Action::SetName { drift, .. } | Action::LinkChild { drift, .. } => *drift,
                Action::SetHistoryVisibility { was, .. } => was.as_deref() == Some("world_readable"),
                other => panic!("{t:?}: {other:?}"),
            };
            assert!(drift, "{t:?}: {action:?}");
        }
    }
    // The platform's own rename is no drift.
    let renamed = with_councils(&[(1, 0, false), (2, 0, true)], "Renamed", false, Some(1));
    let actions = plan(&renamed, &fresh, &ids);
    assert!(actions.iter().all(|a| matches!(a, Action::SetName { drift: false, .. })), "{actions:?}");
}

#[test]
fn removed_platform_users_are_kicked_but_outsiders_stay() {
    let ids = ids();
    let bot: OwnedUserId = ids.bot().to_owned();
    let before = community(&[(1, 0, false), (2, 0, false)], "C", false);
    let mut state = apply(&ObservedScope::default(), &plan(&before, &ObservedScope::default(), &ids), &bot);
    let outsider: OwnedUserId = "@guest:elsewhere.org".try_into().unwrap();
    for room in state.rooms.values_mut() {
        room.members
            .insert(outsider.clone(), ObservedMember { membership: Membership::Join, sender: outsider.clone() });
    }
    let after = community(&[(1, 0, false)], "C", false);
    let actions = plan(&after, &state, &ids);
    let kicks: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Kick { user, .. } => Some(user.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(kicks, vec![user(2), user(2)]);
}

#[test]
fn remote_users_are_invited_never_joined_and_removed_only_when_known() {
    let ids = ids();
    let bot: OwnedUserId = ids.bot().to_owned();
    let remote = user(6);
    assert!(ids.is_remote(&remote));
    let desired = community(&[(1, 0, false), (6, 40, false)], "C", false);
    let actions = plan(&desired, &ObservedScope::default(), &ids);
    let names: Vec<&str> = actions.iter().map(Action::name).collect();
    // The remote user is invited to both rooms (the restricted General
    // room too), after each is made, and joins neither: that is theirs to do.
    assert_eq!(names, ["create_room", "join", "invite", "create_room", "link_child", "join", "invite"]);
    for action in &actions {
        match action {
            Action::CreateRoom { invite, power, .. } => {
                assert!(!invite.contains(&remote), "their server could fail the creation: {invite:?}");
                assert_eq!(power.level_of(&remote), 50, "their trust earns them the same level");
            }
            Action::Join { user, .. } => assert_ne!(user, &remote),
            Action::Invite { user, .. } => assert_eq!(user, &remote),
            _ => {}
        }
    }
    assert!(actions.iter().all(|a| a.holds_up_later_actions(&ids) != matches!(a, Action::Invite { .. })));
    let mut state = apply(&ObservedScope::default(), &actions, &bot);
    assert!(plan(&desired, &state, &ids).is_empty(), "an open invitation is all the service can do");
    for room in state.rooms.values() {
        assert_eq!(room.membership_of(&remote), Some(Membership::Invite));
    }
    // They accept; later the platform removes them.
    for room in state.rooms.values_mut() {
        room.members.insert(remote.clone(), ObservedMember { membership: Membership::Join, sender: remote.clone() });
    }
    assert!(plan(&desired, &state, &ids).is_empty());
    let mut after = community(&[(1, 0, false)], "C", false);
    after.managed_remote.clear();
    let kicks = |after: &DesiredScope| {
        plan(after, &state, &ids).iter().filter(|a| matches!(a, Action::Kick { user, .. } if user == &remote)).count()
    };
    assert_eq!(kicks(&after), 0, "a remote user the community never named was invited by someone else");
    after.managed_remote.insert(remote.clone());
    assert_eq!(kicks(&after), 2);
}

#[test]
fn a_remote_user_who_was_kicked_is_invited_again() {
    let ids = ids();
    let bot: OwnedUserId = ids.bot().to_owned();
    let remote = user(13);
    let desired = community(&[(13, 0, false)], "C", false);
    let mut state = apply(&ObservedScope::default(), &plan(&desired, &ObservedScope::default(), &ids), &bot);
    for room in state.rooms.values_mut() {
        room.members.insert(remote.clone(), ObservedMember { membership: Membership::Leave, sender: bot.clone() });
    }
    let actions = plan(&desired, &state, &ids);
    let names: Vec<&str> = actions.iter().map(Action::name).collect();
    assert_eq!(names, ["invite", "invite"]);
}

#[test]
fn councils_nest_in_the_community_space_and_are_encrypted() {
    let ids = ids();
    let desired = with_councils(&[(0, 40, false), (3, 0, false), (1, 0, false)], "C", false, Some(0));
    assert_eq!(desired.rooms.len(), 6);
    let community_space = desired.rooms[0].key;
    let council_space = &desired.rooms[2];
    let discussion = &desired.rooms[3];
    assert_eq!(council_space.parent, Some(community_space));
    assert_eq!(discussion.parent, Some(council_space.key));
    assert!(council_space.is_space && discussion.encrypted && !discussion.is_space);
    assert_eq!(discussion.join_rule, crate::desired::DesiredJoinRule::Invite);
    // Member 1 is not on council 0; members 0 and 3 are.
    assert!(!discussion.members.contains(&user(1)));
    assert!(discussion.members.contains(&user(0)) && discussion.members.contains(&user(3)));
    // Both are plain council members: member 0 keeps the 50 their trust of
    // 40 earns, member 3 (trust 0) is at 0.
    assert_eq!(discussion.power.level_of(&user(0)), 50);
    assert_eq!(discussion.power.level_of(&user(3)), 0);
    let actions = plan(&desired, &ObservedScope::default(), &ids);
    let creates = actions.iter().filter(|a| matches!(a, Action::CreateRoom { .. })).count();
    assert_eq!(creates, 6);
}

#[test]
fn archiving_and_restoring_touch_only_levels_rules_and_names() {
    let ids = ids();
    let bot: OwnedUserId = ids.bot().to_owned();
    let members = [(1, 40, false), (2, 0, true)];
    let live = lifecycle(&members, "C", false, Some(1), false, false);
    let state = apply(&ObservedScope::default(), &plan(&live, &ObservedScope::default(), &ids), &bot);
    let archived = lifecycle(&members, "C", false, Some(1), true, false);
    let actions = plan(&archived, &state, &ids);
    assert!(
        actions
            .iter()
            .all(|a| matches!(a, Action::SetPowerLevels { .. } | Action::SetName { .. } | Action::SetJoinRule { .. })),
        "{actions:?}"
    );
    let archives = actions
        .iter()
        .filter(|a| matches!(a, Action::SetPowerLevels { lifecycle: Some(crate::plan::Lifecycle::Archived), changes, .. } if changes.is_empty()))
        .count();
    assert_eq!(archives, archived.rooms.len(), "every room archived, nobody's level changed");
    let state = apply(&state, &actions, &bot);
    let restored = plan(&live, &state, &ids);
    let restores = restored
        .iter()
        .filter(|a| matches!(a, Action::SetPowerLevels { lifecycle: Some(crate::plan::Lifecycle::Restored), .. }))
        .count();
    assert_eq!(restores, live.rooms.len());
    assert!(plan(&live, &apply(&state, &restored, &bot), &ids).is_empty());
    // A community deleted before its rooms were made gets none.
    assert!(plan(&archived, &ObservedScope::default(), &ids).is_empty());
}
