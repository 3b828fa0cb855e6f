//! The engine against the in-memory homeserver: convergence, drift repair,
//! retries, crash recovery, lifecycle and direct chats, in milliseconds.
//! The same behaviours are tested against a real Synapse in
//! `crates/server/tests`; these run without one.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::time::Duration;

use matrix_sync_core::Scope;
use matrix_sync_core::UserRef;
use matrix_sync_core::observed::Membership;
use matrix_sync_core::power::CommunityRole;
use matrix_sync_core::rooms::{RoomKey, RoomRole};
use matrix_sync_engine::Homeserver;
use matrix_sync_engine::clock::now_millis;
use matrix_sync_engine::commands::{self, CommandError, CommunityWrite, ProfileInput};
use matrix_sync_engine::reconcile::reconcile;
use matrix_sync_store::{Debounce, DirectRecord, Transaction};
use ruma::OwnedUserId;
use serde_json::json;
use uuid::Uuid;

mod common;
use common::{World, ids};

#[tokio::test]
async fn a_community_converges_and_a_second_reconcile_reads_and_writes_nothing() {
    let w = World::new().await;
    let (admin, moderator, newcomer) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let id = w
        .community(&[
            (admin, 0, CommunityRole::Admin),
            (moderator, 30, CommunityRole::Member),
            (newcomer, 0, CommunityRole::Member),
        ])
        .await;
    assert!(w.run_until_done(&w.engine, Scope::Community(id), Duration::from_secs(10)).await);

    let space = RoomKey::new(Scope::Community(id), RoomRole::Space);
    let general = RoomKey::new(Scope::Community(id), RoomRole::General);
    let ids = ids();
    for key in [space, general] {
        let room = w.homeserver.room(&key).expect("the room exists");
        for user in [admin, moderator, newcomer] {
            assert_eq!(room.membership_of(&ids.user(user)), Some(Membership::Join), "{key:?}");
        }
    }
    assert_eq!(w.level(&general, &ids.user(admin)), Some(100));
    assert_eq!(w.level(&general, &ids.user(moderator)), Some(50));
    assert_eq!(w.level(&general, &ids.user(newcomer)), None, "level 0 is the default, not listed");
    assert!(w.homeserver.room(&general).unwrap().parents.contains(&w.homeserver.room(&space).unwrap().room_id));
    for user in [admin, moderator, newcomer] {
        assert!(w.homeserver.has_account(&ids.user(user)), "provisioned");
    }
    let actions = w.audit_actions(id).await;
    assert_eq!(actions.iter().filter(|a| *a == "room_created").count(), 2, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "member_joined").count(), 6, "{actions:?}");

    // New rooms are read once (the model cannot know the ids the
    // homeserver gave them), then served from the cache.
    let writes = w.homeserver.calls("apply");
    reconcile(&w.engine, Scope::Community(id)).await.unwrap();
    assert_eq!(w.homeserver.calls("apply"), writes, "in sync: nothing to do");
    let reads = w.homeserver.calls("room_state");
    reconcile(&w.engine, Scope::Community(id)).await.unwrap();
    assert_eq!(w.homeserver.calls("room_state"), reads, "the rooms come from the cache");
    assert_eq!(w.homeserver.calls("apply"), writes);
}

#[tokio::test]
async fn a_trust_change_moves_only_that_members_level() {
    let w = World::new().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let id = w.community(&[(a, 0, CommunityRole::Member), (b, 0, CommunityRole::Member)]).await;
    reconcile(&w.engine, Scope::Community(id)).await.unwrap();
    let writes = w.homeserver.calls("apply");

    w.put_member(id, a, 30, CommunityRole::Member).await;
    reconcile(&w.engine, Scope::Community(id)).await.unwrap();
    let ids = ids();
    for role in [RoomRole::Space, RoomRole::General] {
        let key = RoomKey::new(Scope::Community(id), role);
        assert_eq!(w.level(&key, &ids.user(a)), Some(50));
        assert_eq!(w.level(&key, &ids.user(b)), None);
    }
    assert_eq!(w.homeserver.calls("apply") - writes, 2, "one power-levels event per room");
    assert!(w.audit_actions(id).await.contains(&"power_level_changed".to_owned()));
}

#[tokio::test]
async fn drift_pushed_by_the_homeserver_is_reverted_and_audited() {
    let w = World::new().await;
    let member = Uuid::new_v4();
    let id = w.community(&[(member, 0, CommunityRole::Member)]).await;
    reconcile(&w.engine, Scope::Community(id)).await.unwrap();

    let general = RoomKey::new(Scope::Community(id), RoomRole::General);
    let mallory: OwnedUserId = "@mallory:example.org".try_into().unwrap();
    let user = ids().user(member);
    w.homeserver.edit_room(&general, |room| {
        let power = room.power.as_mut().unwrap();
        power.users.insert(user.clone(), 100);
        room.power_sender = Some(mallory.clone());
    });
    let room_id = w.homeserver.room(&general).unwrap().room_id;
    let event =
        json!({"room_id": room_id, "type": "m.room.power_levels", "sender": mallory, "state_key": "", "content": {}});
    let txn = Transaction { txn_id: "1", digest: "d1", event_count: 1 };
    assert!(matrix_sync_engine::push::take_transaction(&w.engine, &txn, &[event]).await.unwrap());
    assert!(w.store.job_for(Scope::Community(id).into()).await.unwrap().is_some(), "the push enqueued the community");

    assert!(w.run_until_done(&w.engine, Scope::Community(id), Duration::from_secs(10)).await);
    assert_eq!(w.level(&general, &user), None, "the raise was reverted");
    assert!(w.audit_actions(id).await.contains(&"drift_reverted".to_owned()));
}

#[tokio::test]
async fn a_homeserver_that_is_down_delays_the_work_and_loses_none_of_it() {
    let w = World::new().await;
    w.homeserver.set_down(true);
    let id = w.community(&[(Uuid::new_v4(), 0, CommunityRole::Member)]).await;
    assert!(!w.run_until_done(&w.engine, Scope::Community(id), Duration::from_millis(300)).await);
    let job = w.store.job_for(Scope::Community(id).into()).await.unwrap().expect("still queued");
    assert!(job.attempts >= 2, "retried with backoff: {job:?}");
    assert!(job.last_error.as_deref().unwrap_or_default().contains("did not answer in time"), "{job:?}");
    assert!(w.engine.metrics.reconciles("retry") >= 2);

    w.homeserver.set_down(false);
    assert!(w.run_until_done(&w.engine, Scope::Community(id), Duration::from_secs(10)).await);
    assert_eq!(w.homeserver.rooms().rooms.len(), 2, "each room made once");
}

#[tokio::test]
async fn a_crash_in_the_middle_of_a_plan_is_finished_without_a_second_room() {
    let w = World::new().await;
    let id = w.community(&[(Uuid::new_v4(), 0, CommunityRole::Member)]).await;
    // The Space is made and answered; the General room is made but its
    // answer never comes: the process dies waiting.
    w.homeserver.stall_after(1);
    let stuck = tokio::time::timeout(Duration::from_millis(200), reconcile(&w.engine, Scope::Community(id))).await;
    // The timeout dropped the reconcile where it hung: the crash.
    assert!(stuck.is_err(), "the reconcile hangs on the unanswered creation");
    assert_eq!(w.homeserver.rooms().rooms.len(), 2, "the homeserver made both rooms");
    assert_eq!(w.store.rooms_of(Scope::Community(id)).await.unwrap().len(), 1, "only the Space was recorded");

    w.homeserver.stop_stalling();
    let restarted = w.restarted();
    reconcile(&restarted, Scope::Community(id)).await.unwrap();
    assert!(w.homeserver.calls("resolve_alias") >= 1, "the unrecorded room is looked up by its alias");
    assert_eq!(w.homeserver.rooms().rooms.len(), 2, "no second General room");
    assert_eq!(w.store.rooms_of(Scope::Community(id)).await.unwrap().len(), 2, "both recorded now");
    let writes = w.homeserver.calls("apply");
    reconcile(&restarted, Scope::Community(id)).await.unwrap();
    assert_eq!(w.homeserver.calls("apply"), writes, "in sync");
}

#[tokio::test]
async fn an_archived_community_is_read_only_and_purged_when_its_retention_ends() {
    let w = World::new().await;
    let member = Uuid::new_v4();
    let id = w.community(&[(member, 0, CommunityRole::Member)]).await;
    reconcile(&w.engine, Scope::Community(id)).await.unwrap();
    let general = RoomKey::new(Scope::Community(id), RoomRole::General);
    let room_id = w.homeserver.room(&general).unwrap().room_id;

    let now = now_millis();
    assert!(w.store.set_deletion(Scope::Community(id), Some(now), Some(now + 3_600_000), now).await.unwrap());
    reconcile(&w.engine, Scope::Community(id)).await.unwrap();
    let power = w.homeserver.room(&general).unwrap().power.unwrap();
    assert!(power.events_default > 0, "only admins and the bot may post: {power:?}");
    assert!(w.audit_actions(id).await.contains(&"room_archived".to_owned()));

    // Retention over: the hard delete is due now.
    let now = now_millis();
    assert!(w.store.set_deletion(Scope::Community(id), Some(now), Some(now), now).await.is_ok());
    reconcile(&w.engine, Scope::Community(id)).await.unwrap();
    assert!(w.homeserver.erased(&room_id), "purged with the admin token");
    assert!(w.homeserver.rooms().rooms.is_empty());
    assert!(w.store.community(id).await.unwrap().unwrap().purged_at.is_some());
    let deleted = w.audit_actions(id).await.iter().filter(|a| *a == "room_deleted").count();
    assert_eq!(deleted, 2, "each room audited once");
}

#[tokio::test]
async fn a_direct_chat_is_encrypted_joined_by_both_and_listed_in_their_m_direct() {
    let w = World::new().await;
    let ids = ids();
    let (a, b) = (ids.user(Uuid::new_v4()), ids.user(Uuid::new_v4()));
    let pair = matrix_sync_core::desired::pair_id(&a, &b);
    let (first, second) = matrix_sync_core::desired::ordered_pair(&a, &b);
    let direct = DirectRecord { pair_id: pair, user_a: first.to_string(), user_b: second.to_string() };
    w.store.put_direct(&direct, now_millis()).await.unwrap();
    let done = w.run_until_done(&w.engine, Scope::Direct(pair), Duration::from_secs(10)).await;
    assert!(done, "{:?}", w.store.job_for(Scope::Direct(pair).into()).await);

    let room = w.homeserver.room(&RoomKey::new(Scope::Direct(pair), RoomRole::Direct)).expect("made");
    assert!(room.encrypted);
    assert_eq!(room.membership_of(&a), Some(Membership::Join));
    assert_eq!(room.membership_of(&b), Some(Membership::Join));
    for (user, other) in [(&a, &b), (&b, &a)] {
        let direct = w.homeserver.account_data(user, "m.direct").await.unwrap().expect("m.direct written");
        assert_eq!(direct[other.as_str()], json!([room.room_id]), "{direct}");
    }

    // A client that drops the entry gets it back on the next pass.
    w.homeserver.set_account_data(&a, "m.direct", json!({})).await.unwrap();
    reconcile(&w.engine, Scope::Direct(pair)).await.unwrap();
    let direct = w.homeserver.account_data(&a, "m.direct").await.unwrap().unwrap();
    assert_eq!(direct[b.as_str()], json!([room.room_id]));
}

#[tokio::test]
async fn commands_refuse_what_the_rules_refuse_and_write_nothing() {
    use matrix_sync_core::power::CouncilRole;
    use matrix_sync_engine::commands::CouncilWrite;
    use matrix_sync_engine::rules::Refusal;

    let w = World::new().await;
    let engine = &w.engine;
    let (member, stranger) = (Uuid::new_v4(), Uuid::new_v4());
    let at_once = Debounce { quiet_ms: 0, max_wait_ms: 0 };
    let write = CommunityWrite { name: "  Gardeners ".into(), ..CommunityWrite::default() };
    let id = Uuid::new_v4();
    let stored = commands::put_community(engine, id, &write).await.unwrap();
    assert_eq!(stored.name, "Gardeners", "names are trimmed");

    let unknown = commands::put_member(engine, Uuid::new_v4(), &UserRef::Platform(member), 0, None, at_once).await;
    assert!(matches!(unknown, Err(CommandError::NotFound(_))), "{unknown:?}");
    let negative = commands::put_member(engine, id, &UserRef::Platform(member), -1, None, at_once).await;
    assert!(matches!(negative, Err(CommandError::Refused(Refusal::NegativeTrustScore(-1)))), "{negative:?}");
    let written = commands::put_member(engine, id, &UserRef::Platform(member), 5, None, at_once).await.unwrap();
    assert_eq!(written.member.role, CommunityRole::Member, "a new member's role is member");

    let off = CommunityWrite { general_encrypted: Some(true), ..write.clone() };
    commands::put_community(engine, id, &off).await.unwrap();
    let back = CommunityWrite { general_encrypted: Some(false), ..write.clone() };
    let refused = commands::put_community(engine, id, &back).await;
    assert!(matches!(refused, Err(CommandError::Refused(Refusal::EncryptionCannotBeDisabled))), "{refused:?}");
    let no_councils = CommunityWrite { council_encrypted: Some(false), ..write.clone() };
    let refused = commands::put_community(engine, Uuid::new_v4(), &no_councils).await;
    assert!(matches!(refused, Err(CommandError::Refused(Refusal::UnencryptedCouncils))), "{refused:?}");

    let council = Uuid::new_v4();
    let orphan =
        commands::put_council(engine, council, &CouncilWrite { community_id: Uuid::new_v4(), name: "C".into() }).await;
    assert!(matches!(orphan, Err(CommandError::Refused(Refusal::UnknownCommunity(_)))), "{orphan:?}");
    commands::put_council(engine, council, &CouncilWrite { community_id: id, name: "Council".into() }).await.unwrap();
    let outsider = commands::put_council_member(engine, council, &UserRef::Platform(stranger), None).await;
    assert!(matches!(outsider, Err(CommandError::Refused(Refusal::NotACommunityMember { .. }))), "{outsider:?}");
    let (_, role) = commands::put_council_member(engine, council, &UserRef::Platform(member), None).await.unwrap();
    assert_eq!(role, CouncilRole::Member);

    let other = commands::put_community(engine, Uuid::new_v4(), &write).await.unwrap();
    let moved =
        commands::put_council(engine, council, &CouncilWrite { community_id: other.id, name: "C".into() }).await;
    assert!(matches!(moved, Err(CommandError::Refused(Refusal::CouncilInAnotherCommunity { .. }))), "{moved:?}");

    // Archived: every write under it waits for its restore.
    let now = now_millis();
    w.store.set_deletion(Scope::Community(id), Some(now), Some(now + 3_600_000), now).await.unwrap();
    let archived = commands::put_member(engine, id, &UserRef::Platform(member), 9, None, at_once).await;
    assert!(matches!(archived, Err(CommandError::Refused(Refusal::Archived { .. }))), "{archived:?}");
    let archived = commands::put_council_member(engine, council, &UserRef::Platform(member), None).await;
    assert!(matches!(archived, Err(CommandError::Refused(Refusal::Archived { .. }))), "{archived:?}");
    assert_eq!(w.store.member(id, member).await.unwrap().unwrap().trust_score, 5, "nothing written");
}

#[tokio::test]
async fn restores_requests_and_users_follow_their_rules() {
    use matrix_sync_engine::commands::RequestWrite;
    use matrix_sync_engine::rules::Refusal;

    let w = World::new().await;
    let engine = &w.engine;
    let id = Uuid::new_v4();
    commands::put_community(engine, id, &CommunityWrite { name: "C".into(), ..CommunityWrite::default() })
        .await
        .unwrap();
    let not_deleted = commands::restore_community(engine, id).await;
    assert!(matches!(not_deleted, Err(CommandError::Refused(Refusal::NotDeleted { .. }))), "{not_deleted:?}");
    commands::delete_community(engine, id).await.unwrap();
    commands::delete_community(engine, id).await.unwrap(); // a second delete changes nothing
    commands::restore_community(engine, id).await.unwrap();
    assert!(w.store.community(id).await.unwrap().unwrap().deleted_at.is_none(), "restored");

    // Retention over: too late to restore.
    let now = now_millis();
    w.store.set_deletion(Scope::Community(id), Some(now), Some(now), now).await.unwrap();
    let purging = commands::restore_community(engine, id).await;
    assert!(matches!(purging, Err(CommandError::Refused(Refusal::Purging { .. }))), "{purging:?}");

    let ids = ids();
    let (a, b) = (ids.user(Uuid::new_v4()), ids.user(Uuid::new_v4()));
    let same = commands::put_direct(engine, &a, &a).await;
    assert!(matches!(same, Err(CommandError::Refused(Refusal::SameUser(_)))), "{same:?}");
    let request = Uuid::new_v4();
    let write =
        RequestWrite { community_id: id, requester: a.clone(), owner: b.clone(), title: Some(" Oak table ".into()) };
    let stored = commands::accept_request(engine, request, &write).await.unwrap();
    assert_eq!(stored.title.as_deref(), Some("Oak table"));
    let again = commands::accept_request(engine, request, &write).await.unwrap();
    assert_eq!(again.pair_id, stored.pair_id, "accepting again changes nothing");
    let other = RequestWrite { owner: ids.user(Uuid::new_v4()), ..write.clone() };
    let conflict = commands::accept_request(engine, request, &other).await;
    assert!(matches!(conflict, Err(CommandError::Refused(Refusal::RequestConflict(_)))), "{conflict:?}");
    let bad_title = RequestWrite { title: Some("a\u{7}b".into()), ..write };
    let refused = commands::accept_request(engine, Uuid::new_v4(), &bad_title).await;
    assert!(matches!(refused, Err(CommandError::Refused(Refusal::InvalidTitle))), "{refused:?}");

    let user = Uuid::new_v4();
    let blank = commands::put_user(engine, user, ProfileInput { display_name: Some("  "), avatar_url: None }).await;
    assert!(matches!(blank, Err(CommandError::Refused(Refusal::InvalidDisplayName))), "{blank:?}");
    assert!(!w.homeserver.has_account(&ids.user(user)), "nothing provisioned");
    let mapping =
        commands::put_user(engine, user, ProfileInput { display_name: Some(" Ada "), avatar_url: None }).await.unwrap();
    assert_eq!(mapping.display_name.as_deref(), Some("Ada"));
    assert!(w.homeserver.has_account(&ids.user(user)));
}
