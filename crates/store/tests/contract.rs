#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! The store contract: every test here runs against SQLite and PostgreSQL.
//! PostgreSQL comes from `MATRIX_SYNC_TEST_POSTGRES_URL` (default: the local
//! server, trust auth); each test works in a schema of its own.
//!
//! Over 500 lines on purpose: it is the one contract both backends keep, and
//! one file is what makes a test written here run on both.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use matrix_sync_core::{Backoff, Scope};
use matrix_sync_store::Elevated;
use matrix_sync_store::{
    AuditFilter, CommunityRecord, CouncilMemberRecord, CouncilRecord, Debounce, DirectRecord, FailOutcome,
    KeyBackupRecord, MemberRecord, NewAuditEntry, NewMessage, NewUserMapping, PgStore, ProfileWrite, RequestRecord,
    RoomRecord, SessionRecord, SqliteStore, Store, Transaction,
};
use uuid::Uuid;

use matrix_sync_core::rooms::RoomRole;
use matrix_sync_store::prelude::*;

const LEASE: i64 = 30_000;

fn pg_url() -> String {
    std::env::var("MATRIX_SYNC_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A store for one test, and how to clean it up afterwards.
struct Backend {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

impl Backend {
    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/nested/store.db", dir.path().display());
        let store = SqliteStore::connect(&url).await.unwrap();
        Self { store: Arc::new(store), _dir: Some(dir), schema: None }
    }

    async fn postgres() -> Self {
        let schema = format!("contract_{}", Uuid::new_v4().simple());
        let store = PgStore::connect(&pg_url(), &schema)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {} is needed for the contract tests: {e}", pg_url()));
        Self { store: Arc::new(store), _dir: None, schema: Some(schema) }
    }

    async fn finish(self) {
        self.store.close().await;
        if let Some(schema) = self.schema {
            PgStore::drop_schema(&pg_url(), &schema).await.unwrap();
        }
    }
}

/// Declares one contract test per backend.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let backend = super::Backend::sqlite().await;
                    super::$name(backend.store.clone()).await;
                    backend.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let backend = super::Backend::postgres().await;
                    super::$name(backend.store.clone()).await;
                    backend.finish().await;
                }
            )*
        }
    };
}

contract!(
    user_mapping_is_idempotent,
    enqueue_coalesces_one_job_per_scope,
    claim_honours_run_at_and_lease,
    expired_lease_is_claimed_again,
    complete_removes_or_keeps_a_newer_generation,
    failures_back_off_then_die_and_can_be_revived,
    release_does_not_count_an_attempt,
    a_stale_worker_cannot_finish_a_job,
    racing_workers_claim_each_job_once,
    transactions_are_taken_once,
    a_reused_transaction_id_with_new_events_is_taken_in,
    periodic_passes_never_hurry_a_failing_job,
    concurrent_promotions_never_overfill_the_power_levels,
    communities_are_upserted_with_their_reconcile,
    members_are_kept_per_community,
    remote_users_are_members_never_provisioned,
    rooms_are_recorded_per_scope_and_role,
    audit_is_filtered_and_newest_first,
    councils_and_their_members,
    requests_are_accepted_once,
    deletion_restore_and_purge,
    chat_sessions_are_kept_per_user,
    a_key_backup_is_recorded_once_per_user,
    profiles_keep_what_a_write_leaves_out_and_enqueue_only_changes,
    a_message_is_recorded_for_the_webhook_once,
);

fn community() -> Scope {
    Scope::Community(Uuid::new_v4())
}

async fn user_mapping_is_idempotent(store: Arc<dyn Store>) {
    let user = Uuid::new_v4();
    assert_eq!(store.user_mapping(user).await.unwrap(), None);
    let first_at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
    let new = NewUserMapping {
        user_id: user,
        matrix_user_id: format!("@{user}:example.org"),
        display_name: Some("Alice".into()),
        provisioned_at: first_at,
    };
    let first = store.upsert_user_mapping(&new).await.unwrap();
    assert_eq!(first.user_id, user);
    assert_eq!(first.provisioned_at, first_at);

    let again = store
        .upsert_user_mapping(&NewUserMapping {
            display_name: None,
            provisioned_at: first_at + chrono::Duration::hours(1),
            ..new.clone()
        })
        .await
        .unwrap();
    assert_eq!(again, first, "a repeat keeps the record as it was");

    let renamed =
        store.upsert_user_mapping(&NewUserMapping { display_name: Some("Alice B".into()), ..new }).await.unwrap();
    assert_eq!(renamed.display_name.as_deref(), Some("Alice B"));
    assert_eq!(renamed.id, first.id);
    assert_eq!(store.user_mapping(user).await.unwrap(), Some(renamed));
}

async fn enqueue_coalesces_one_job_per_scope(store: Arc<dyn Store>) {
    let scope = community();
    store.enqueue(scope.into(), 5_000, 1_000).await.unwrap();
    store.enqueue(scope.into(), 9_000, 1_100).await.unwrap();
    store.enqueue(scope.into(), 3_000, 1_200).await.unwrap();
    let job = store.job_for(scope.into()).await.unwrap().unwrap();
    assert_eq!(job.generation, 2);
    assert_eq!(job.run_at, 3_000, "the earliest requested run wins");
    assert_eq!(store.queue_depth().await.unwrap().pending, 1);
}

async fn claim_honours_run_at_and_lease(store: Arc<dyn Store>) {
    let (a, b) = (community(), community());
    store.enqueue(a.into(), 2_000, 0).await.unwrap();
    store.enqueue(b.into(), 1_000, 0).await.unwrap();
    assert!(store.claim(500, LEASE).await.unwrap().is_none(), "nothing is due yet");

    let first = store.claim(2_500, LEASE).await.unwrap().unwrap();
    assert_eq!(first.task.scope().unwrap(), b, "the most overdue job comes first");
    assert_eq!(first.attempts, 1);
    let second = store.claim(2_500, LEASE).await.unwrap().unwrap();
    assert_eq!(second.task.scope().unwrap(), a);
    assert!(store.claim(2_600, LEASE).await.unwrap().is_none(), "both are leased");
}

async fn expired_lease_is_claimed_again(store: Arc<dyn Store>) {
    let scope = community();
    store.enqueue(scope.into(), 0, 0).await.unwrap();
    let crashed = store.claim(0, LEASE).await.unwrap().unwrap();
    assert!(store.claim(LEASE - 1, LEASE).await.unwrap().is_none());
    // The worker that held it died; once the lease runs out another takes it.
    let recovered = store.claim(LEASE + 1, LEASE).await.unwrap().unwrap();
    assert_eq!(recovered.id, crashed.id);
    assert_eq!(recovered.attempts, 2, "the lost attempt counts");
    assert_ne!(recovered.lease_token, crashed.lease_token);
    // Renewing keeps it from a third worker.
    assert!(store.renew(&recovered, 2 * LEASE, LEASE).await.unwrap());
    assert!(store.claim(2 * LEASE + 2, LEASE).await.unwrap().is_none());
}

async fn complete_removes_or_keeps_a_newer_generation(store: Arc<dyn Store>) {
    let scope = community();
    store.enqueue(scope.into(), 0, 0).await.unwrap();
    let job = store.claim(10, LEASE).await.unwrap().unwrap();
    store.complete(&job, 20).await.unwrap();
    assert!(store.job_for(scope.into()).await.unwrap().is_none());

    store.enqueue(scope.into(), 30, 30).await.unwrap();
    let job = store.claim(40, LEASE).await.unwrap().unwrap();
    // New desired state arrives while the job runs.
    store.enqueue(scope.into(), 50, 50).await.unwrap();
    store.complete(&job, 60).await.unwrap();
    let again = store.claim(70, LEASE).await.unwrap().expect("runs once more");
    assert_eq!(again.task.scope().unwrap(), scope);
    assert_eq!(again.attempts, 1);
    store.complete(&again, 80).await.unwrap();
    assert!(store.job_for(scope.into()).await.unwrap().is_none());
}

async fn failures_back_off_then_die_and_can_be_revived(store: Arc<dyn Store>) {
    let backoff = Backoff { base: Duration::from_millis(100), cap: Duration::from_millis(1_000), max_attempts: 3 };
    let scope = community();
    store.enqueue(scope.into(), 0, 0).await.unwrap();

    // The delay doubles, with the jitter the policy gives this job (within
    // the upper half of each delay).
    let retry_at = |job: &matrix_sync_store::Job, now: i64| {
        let delay = i64::try_from(backoff.jittered_delay(job.attempts as u32, job.id as u64).as_millis()).unwrap();
        assert!((backoff.delay(job.attempts as u32).as_millis() as i64 / 2..).contains(&delay));
        FailOutcome::RetryAt(now + delay)
    };
    let job = store.claim(0, LEASE).await.unwrap().unwrap();
    let first = retry_at(&job, 0);
    assert_eq!(store.fail(&job, "boom 1", 0, &backoff).await.unwrap(), first);
    let FailOutcome::RetryAt(due) = first else { unreachable!() };
    assert!(store.claim(due - 1, LEASE).await.unwrap().is_none(), "backing off");
    let job = store.claim(due, LEASE).await.unwrap().unwrap();
    let second = retry_at(&job, 100);
    assert_eq!(store.fail(&job, "boom 2", 100, &backoff).await.unwrap(), second);
    let job = store.claim(300, LEASE).await.unwrap().unwrap();
    assert_eq!(store.fail(&job, "boom 3", 300, &backoff).await.unwrap(), FailOutcome::Dead);

    let dead = store.job_for(scope.into()).await.unwrap().unwrap();
    assert!(dead.dead);
    assert_eq!(dead.last_error.as_deref(), Some("boom 3"));
    assert!(store.claim(1_000_000, LEASE).await.unwrap().is_none(), "dead jobs are not run");
    let depth = store.queue_depth().await.unwrap();
    assert_eq!((depth.pending, depth.dead), (0, 1));
    let listed = store.dead_jobs(10).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0].id, listed[0].task.scope().unwrap(), listed[0].attempts), (dead.id, scope, 3));
    assert_eq!(listed[0].last_error.as_deref(), Some("boom 3"));

    // Other scopes are not blocked by it.
    let other = community();
    store.enqueue(other.into(), 0, 0).await.unwrap();
    assert_eq!(store.claim(400, LEASE).await.unwrap().unwrap().task.scope().unwrap(), other);

    // An operator revives it.
    let retried = store.retry_dead_job(dead.id, 500).await.unwrap().expect("revived");
    assert_eq!(
        (retried.id, retried.task.scope().unwrap(), retried.attempts, retried.dead, retried.run_at),
        (dead.id, scope, 0, false, 500)
    );
    assert!(store.retry_dead_job(dead.id, 500).await.unwrap().is_none(), "no longer dead");
    assert!(store.dead_jobs(10).await.unwrap().is_empty());
    let revived = store.claim(500, LEASE).await.unwrap().unwrap();
    assert_eq!((revived.task.scope().unwrap(), revived.attempts), (scope, 1));
    assert_eq!(store.fail(&revived, "boom 4", 500, &backoff).await.unwrap(), retry_at(&revived, 500));

    // So does new desired state for the scope, once dead again.
    let job = store.claim(600, LEASE).await.unwrap().unwrap();
    store.fail(&job, "boom 5", 600, &backoff).await.unwrap();
    let job = store.claim(800, LEASE).await.unwrap().unwrap();
    assert_eq!(store.fail(&job, "boom 6", 800, &backoff).await.unwrap(), FailOutcome::Dead);
    store.enqueue(scope.into(), 900, 900).await.unwrap();
    let job = store.claim(900, LEASE).await.unwrap().unwrap();
    assert_eq!((job.task.scope().unwrap(), job.attempts), (scope, 1));
}

async fn release_does_not_count_an_attempt(store: Arc<dyn Store>) {
    let scope = community();
    store.enqueue(scope.into(), 0, 0).await.unwrap();
    let job = store.claim(0, LEASE).await.unwrap().unwrap();
    store.release(&job, 1).await.unwrap();
    let again = store.claim(2, LEASE).await.unwrap().expect("released jobs are claimable at once");
    assert_eq!(again.attempts, 1);
}

async fn a_stale_worker_cannot_finish_a_job(store: Arc<dyn Store>) {
    let scope = community();
    store.enqueue(scope.into(), 0, 0).await.unwrap();
    let stale = store.claim(0, LEASE).await.unwrap().unwrap();
    let current = store.claim(LEASE + 1, LEASE).await.unwrap().unwrap();
    assert!(!store.renew(&stale, LEASE + 2, LEASE).await.unwrap());
    assert_eq!(store.fail(&stale, "late", LEASE + 2, &Backoff::default()).await.unwrap(), FailOutcome::LeaseLost);
    store.complete(&stale, LEASE + 3).await.unwrap();
    let job = store.job_for(scope.into()).await.unwrap().expect("still held by the current worker");
    assert_eq!(job.lease_token, current.lease_token);
    assert_eq!(job.last_error, None);
    store.complete(&current, LEASE + 4).await.unwrap();
    assert!(store.job_for(scope.into()).await.unwrap().is_none());
}

async fn racing_workers_claim_each_job_once(store: Arc<dyn Store>) {
    let scopes: Vec<Scope> = (0..60).map(|_| community()).collect();
    for s in &scopes {
        store.enqueue((*s).into(), 0, 0).await.unwrap();
    }
    let mut workers = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        workers.push(tokio::spawn(async move {
            let mut done = Vec::new();
            while let Some(job) = store.claim(1, LEASE).await.unwrap() {
                done.push(job.task.scope().unwrap());
                tokio::task::yield_now().await;
                store.complete(&job, 2).await.unwrap();
            }
            done
        }));
    }
    let mut seen = Vec::new();
    for w in workers {
        seen.extend(w.await.unwrap());
    }
    assert_eq!(seen.len(), scopes.len(), "every job ran exactly once");
    let unique: HashSet<_> = seen.into_iter().collect();
    assert_eq!(unique, scopes.into_iter().collect());
    assert_eq!(store.queue_depth().await.unwrap().pending, 0);
}

fn txn<'a>(txn_id: &'a str, digest: &'a str, event_count: usize) -> Transaction<'a> {
    Transaction { txn_id, digest, event_count }
}

async fn transactions_are_taken_once(store: Arc<dyn Store>) {
    let (a, b) = (community(), Scope::Council(Uuid::new_v4()));
    assert!(store.accept_transaction(&txn("txn-1", "d1", 3), &[a, b], &[], 10).await.unwrap());
    assert!(!store.accept_transaction(&txn("txn-1", "d1", 3), &[a, b], &[], 20).await.unwrap());
    let job = store.job_for(a.into()).await.unwrap().unwrap();
    assert_eq!(job.generation, 0, "the replay enqueued nothing");
    assert!(store.job_for(b.into()).await.unwrap().is_some());
    assert!(store.accept_transaction(&txn("txn-2", "d2", 0), &[], &[], 30).await.unwrap());
}

/// A homeserver whose database was restored counts its transactions from
/// an earlier number again: the same id with other events is new, and old
/// ids are forgotten by age.
async fn a_reused_transaction_id_with_new_events_is_taken_in(store: Arc<dyn Store>) {
    let a = community();
    assert!(store.accept_transaction(&txn("7", "before", 1), &[], &[], 10).await.unwrap());
    assert!(store.accept_transaction(&txn("7", "after", 2), &[a], &[], 20).await.unwrap(), "new events, reused id");
    assert!(store.job_for(a.into()).await.unwrap().is_some(), "and routed");
    assert!(!store.accept_transaction(&txn("7", "after", 2), &[a], &[], 30).await.unwrap(), "its replay is not");
    assert!(store.accept_transaction(&txn("8", "x", 0), &[], &[], 40).await.unwrap());
    assert_eq!(store.prune_transactions(20).await.unwrap(), 0, "nothing received before 20 is left");
    assert_eq!(store.prune_transactions(35).await.unwrap(), 1);
    assert!(!store.accept_transaction(&txn("8", "x", 0), &[], &[], 50).await.unwrap(), "a recent one is kept");
    assert!(store.accept_transaction(&txn("7", "after", 2), &[], &[], 60).await.unwrap(), "a forgotten one is new");
}

/// Anti-entropy and the retention sweeper come back on their own: they
/// never hurry a job that is backing off after a failure, never revive a
/// dead one; a write still does both.
async fn periodic_passes_never_hurry_a_failing_job(store: Arc<dyn Store>) {
    let backoff = Backoff { base: Duration::from_millis(1_000), cap: Duration::from_millis(10_000), max_attempts: 2 };
    let scope = community();
    store.enqueue_periodic(scope.into(), 100, 0).await.unwrap();
    assert_eq!(store.job_for(scope.into()).await.unwrap().unwrap().run_at, 100);
    store.enqueue_periodic(scope.into(), 50, 0).await.unwrap();
    assert_eq!(store.job_for(scope.into()).await.unwrap().unwrap().run_at, 50, "a first attempt may come earlier");

    let job = store.claim(50, LEASE).await.unwrap().unwrap();
    store.enqueue_periodic(scope.into(), 60, 60).await.unwrap();
    let FailOutcome::RetryAt(due) = store.fail(&job, "boom", 70, &backoff).await.unwrap() else { panic!("retried") };
    assert!(due >= 570, "backing off, not hurried by the pass while it ran: {due}");
    store.enqueue_periodic(scope.into(), 80, 80).await.unwrap();
    assert_eq!(store.job_for(scope.into()).await.unwrap().unwrap().run_at, due, "the backoff stands");
    assert!(store.claim(due - 1, LEASE).await.unwrap().is_none());

    let job = store.claim(due, LEASE).await.unwrap().unwrap();
    assert_eq!(store.fail(&job, "boom", due, &backoff).await.unwrap(), FailOutcome::Dead);
    store.enqueue_periodic(scope.into(), due + 1, due + 1).await.unwrap();
    assert!(store.job_for(scope.into()).await.unwrap().unwrap().dead, "a pass does not revive a dead job");
    store.enqueue(scope.into(), due + 2, due + 2).await.unwrap();
    assert!(!store.job_for(scope.into()).await.unwrap().unwrap().dead, "a write does");
}

#[tokio::test]
async fn sqlite_keeps_everything_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store.db", dir.path().display());
    let scope = community();
    {
        let store = SqliteStore::connect(&url).await.unwrap();
        store.enqueue(scope.into(), 0, 0).await.unwrap();
        assert!(store.accept_transaction(&txn("txn-9", "d", 1), &[], &[], 0).await.unwrap());
        store.close().await;
    }
    let store = SqliteStore::connect(&url).await.unwrap();
    assert!(store.job_for(scope.into()).await.unwrap().is_some());
    assert!(!store.accept_transaction(&txn("txn-9", "d", 1), &[], &[], 1).await.unwrap(), "replay after restart");
}

/// A role the service never writes (a hand edit, a newer version's) is a
/// corrupt row, never read as some default role.
#[tokio::test]
async fn an_unknown_role_in_the_database_is_corrupt_never_a_default() {
    use matrix_sync_core::power::CommunityRole;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store.db", dir.path().display());
    let store = SqliteStore::connect(&url).await.unwrap();
    let (c, u) = (Uuid::new_v4(), Uuid::new_v4());
    store.put_community(&community_record(c, "C"), 0).await.unwrap();
    let member = MemberRecord { user_id: u, trust_score: 40, role: CommunityRole::Admin };
    store.put_member(c, &member, Debounce { quiet_ms: 0, max_wait_ms: 0 }, 0).await.unwrap();
    assert_eq!(store.member(c, u).await.unwrap(), Some(member));
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE community_members SET role = 'wizard'").execute(&pool).await.unwrap();
    pool.close().await;
    assert!(
        matches!(store.member(c, u).await, Err(matrix_sync_store::StoreError::Corrupt(_))),
        "an unknown role is reported"
    );
}

#[tokio::test]
async fn postgres_keeps_its_tables_in_its_own_schema() {
    let schema = format!("contract_{}", Uuid::new_v4().simple());
    let store = PgStore::connect(&pg_url(), &schema).await.unwrap();
    store.enqueue(community().into(), 0, 0).await.unwrap();
    store.close().await;
    let pool = sqlx::PgPool::connect(&pg_url()).await.unwrap();
    let tables: Vec<(String,)> =
        sqlx::query_as("SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1")
            .bind(&schema)
            .fetch_all(&pool)
            .await
            .unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.0.as_str()).collect();
    assert!(names.contains(&"jobs") && names.contains(&"matrix_user_mappings"), "{names:?}");
    pool.close().await;
    PgStore::drop_schema(&pg_url(), &schema).await.unwrap();
    assert!(matches!(
        PgStore::connect(&pg_url(), "Bad;Schema").await,
        Err(matrix_sync_store::StoreError::InvalidSchema(_))
    ));
}

fn community_record(id: Uuid, name: &str) -> CommunityRecord {
    CommunityRecord::desired(id, name.to_owned(), true, false, matrix_sync_core::power::TrustLevels::default())
}

async fn communities_are_upserted_with_their_reconcile(store: Arc<dyn Store>) {
    let id = Uuid::new_v4();
    assert_eq!(store.community(id).await.unwrap(), None);
    let first = store.put_community(&community_record(id, "Makers"), 100).await.unwrap();
    assert_eq!((first.created_at, first.updated_at), (100, 100));
    assert!(store.job_for(Scope::Community(id).into()).await.unwrap().is_some(), "reconcile enqueued");
    let updated = store
        .put_community(&CommunityRecord { general_encrypted: true, ..community_record(id, "Makers & Co") }, 200)
        .await
        .unwrap();
    assert_eq!((updated.created_at, updated.updated_at), (100, 200), "created_at is kept");
    assert_eq!(updated.name, "Makers & Co");
    assert!(updated.general_encrypted);
    assert_eq!(store.community(id).await.unwrap(), Some(updated));
    assert!(store.community_ids().await.unwrap().contains(&id));
}

async fn members_are_kept_per_community(store: Arc<dyn Store>) {
    let (c, other) = (Uuid::new_v4(), Uuid::new_v4());
    store.put_community(&community_record(c, "C"), 0).await.unwrap();
    store.put_community(&community_record(other, "O"), 0).await.unwrap();
    let job = store.claim(0, LEASE).await.unwrap().unwrap();
    store.complete(&job, 0).await.unwrap();
    let job = store.claim(0, LEASE).await.unwrap().unwrap();
    store.complete(&job, 0).await.unwrap();

    let (a, b, admin) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let m = |user_id, trust_score, role: &str| MemberRecord {
        user_id,
        trust_score,
        role: matrix_sync_core::power::CommunityRole::parse(role).unwrap(),
    };
    let debounce = Debounce { quiet_ms: 490, max_wait_ms: 1_000 };
    store.put_member(c, &m(a, 3, "member"), debounce, 10).await.unwrap();
    store.put_member(c, &m(b, 40, "member"), debounce, 20).await.unwrap();
    store.put_member(c, &m(admin, 0, "admin"), debounce, 30).await.unwrap();
    store.put_member(other, &m(a, 99, "member"), debounce, 30).await.unwrap();
    let job = store.job_for(Scope::Community(c).into()).await.unwrap().unwrap();
    assert_eq!((job.run_at, job.generation), (520, 2), "member writes coalesce into one job, after the last");

    store.put_member(c, &m(a, 16, "member"), debounce, 900).await.unwrap();
    let job = store.job_for(Scope::Community(c).into()).await.unwrap().unwrap();
    assert_eq!(job.run_at, 1_010, "a steady stream waits no longer than the maximum after the first write");
    store.enqueue(Scope::Community(c).into(), 100, 950).await.unwrap();
    let job = store.job_for(Scope::Community(c).into()).await.unwrap().unwrap();
    assert_eq!(job.run_at, 100, "an enqueue for now is not held back by the debounce");
    let running = store.claim(950, LEASE).await.unwrap().unwrap();
    store.put_member(c, &m(b, 41, "member"), debounce, 3_000).await.unwrap();
    store.complete(&running, 3_100).await.unwrap();
    let job = store.job_for(Scope::Community(c).into()).await.unwrap().unwrap();
    assert_eq!(job.run_at, 3_490, "a write during a run is reconciled once quiet after it");
    store.put_member(c, &m(b, 42, "member"), debounce, 4_000).await.unwrap();
    let job = store.job_for(Scope::Community(c).into()).await.unwrap().unwrap();
    assert_eq!(job.run_at, 4_100, "the longest wait counts from the end of the run");
    // The write answers with the job's last error while it keeps failing.
    let backoff = Backoff { base: Duration::from_millis(100), cap: Duration::from_millis(1_000), max_attempts: 9 };
    for _ in 0..2 {
        let job = store.claim(10_000, LEASE).await.unwrap().unwrap();
        if job.task.scope().unwrap() == Scope::Community(c) {
            store.fail(&job, "boom", 10_000, &backoff).await.unwrap();
        } else {
            store.complete(&job, 10_000).await.unwrap();
        }
    }
    let last_error = store.put_member(c, &m(b, 43, "member"), debounce, 10_001).await.unwrap();
    assert_eq!(last_error.as_deref(), Some("boom"));
    assert_eq!(store.put_member(other, &m(b, 1, "member"), debounce, 10_001).await.unwrap(), None);
    assert_eq!(store.member(c, a).await.unwrap(), Some(m(a, 16, "member")));
    assert_eq!(store.members(c).await.unwrap().len(), 3);
    assert_eq!(store.count_elevated_members(c, 5, Uuid::nil()).await.unwrap(), 3);
    assert_eq!(store.count_elevated_members(c, 30, Uuid::nil()).await.unwrap(), 2);
    assert_eq!(store.count_elevated_members(c, 30, b).await.unwrap(), 1);

    assert!(store.remove_member(c, a, 50).await.unwrap());
    assert!(!store.remove_member(c, a, 60).await.unwrap());
    assert_eq!(store.member(c, a).await.unwrap(), None);
    assert_eq!(store.member(other, a).await.unwrap().map(|m| m.trust_score), Some(99));

    let mut unprovisioned = store.unprovisioned_members(c).await.unwrap();
    unprovisioned.sort();
    let mut want = vec![b, admin];
    want.sort();
    assert_eq!(unprovisioned, want);
    store
        .upsert_user_mapping(&NewUserMapping {
            user_id: b,
            matrix_user_id: format!("@{b}:x"),
            display_name: None,
            provisioned_at: Utc::now(),
        })
        .await
        .unwrap();
    assert_eq!(store.unprovisioned_members(c).await.unwrap(), vec![admin]);
}

async fn remote_users_are_members_never_provisioned(store: Arc<dyn Store>) {
    let debounce = Debounce { quiet_ms: 0, max_wait_ms: 0 };
    let (c, other) = (Uuid::new_v4(), Uuid::new_v4());
    for id in [c, other] {
        store.put_community(&community_record(id, "C"), 1_000).await.unwrap();
    }
    let (remote, local) = (Uuid::new_v4(), Uuid::new_v4());
    let matrix_id = "@bob:remote.example:8448";
    store.put_remote_member(c, remote, matrix_id, 1_000).await.unwrap();
    store.put_remote_member(c, remote, matrix_id, 2_000).await.unwrap(); // idempotent
    let member =
        |user| MemberRecord { user_id: user, trust_score: 20, role: matrix_sync_core::power::CommunityRole::Member };
    store.put_member(c, &member(remote), debounce, 1_000).await.unwrap();
    store.put_member(c, &member(local), debounce, 1_000).await.unwrap();
    // Named in one community only: elsewhere the key means nothing.
    store.put_member(other, &member(remote), debounce, 1_000).await.unwrap();

    assert_eq!(store.unprovisioned_members(c).await.unwrap(), vec![local]);
    assert_eq!(store.unprovisioned_members(other).await.unwrap(), vec![remote]);
    assert_eq!(store.remote_members(c).await.unwrap(), vec![(remote, matrix_id.to_owned())]);
    assert_eq!(store.remote_members(other).await.unwrap(), vec![]);
    assert_eq!(store.elevated_remote_members(c, 5, Uuid::nil()).await.unwrap(), vec![matrix_id.to_owned()]);
    assert_eq!(store.elevated_remote_members(c, 21, Uuid::nil()).await.unwrap(), Vec::<String>::new());
    assert_eq!(store.elevated_remote_members(c, 5, remote).await.unwrap(), Vec::<String>::new());

    // Removed from the community, still named by it (so removed from its rooms).
    assert!(store.remove_member(c, remote, 2_000).await.unwrap());
    assert_eq!(store.remote_members(c).await.unwrap(), vec![(remote, matrix_id.to_owned())]);
}

async fn rooms_are_recorded_per_scope_and_role(store: Arc<dyn Store>) {
    let scope = community();
    let room =
        |id: &str, role: &str| RoomRecord { room_id: id.to_owned(), scope, role: RoomRole::parse(role).unwrap() };
    assert_eq!(store.scope_version(scope).await.unwrap(), 0);
    assert_eq!(store.bump_scope_version(scope).await.unwrap(), 1);
    assert_eq!(store.bump_scope_version(scope).await.unwrap(), 2);
    assert_eq!(store.scope_version(scope).await.unwrap(), 2);
    assert_eq!(store.scope_version(Scope::Community(Uuid::new_v4())).await.unwrap(), 0, "per scope");
    assert!(!store.has_room_intent(scope, RoomRole::Space).await.unwrap());
    store.record_room_intent(scope, RoomRole::Space, 0).await.unwrap();
    store.record_room_intent(scope, RoomRole::Space, 1).await.unwrap();
    assert!(store.has_room_intent(scope, RoomRole::Space).await.unwrap(), "a creation was started");
    store.record_room(&room("!space:x", "space"), 0).await.unwrap();
    assert!(!store.has_room_intent(scope, RoomRole::Space).await.unwrap(), "recording the room clears the intent");
    store.record_room(&room("!general:x", "general"), 0).await.unwrap();
    store.record_room(&room("!general:x", "general"), 1).await.unwrap();
    assert_eq!(store.rooms_of(scope).await.unwrap(), vec![room("!general:x", "general"), room("!space:x", "space")]);
    // A room found again under another id replaces the record.
    store.record_room(&room("!general2:x", "general"), 2).await.unwrap();
    assert_eq!(store.rooms_of(scope).await.unwrap().len(), 2);
    let other = Scope::Council(Uuid::new_v4());
    store.record_room(&RoomRecord { room_id: "!c:x".into(), scope: other, role: RoomRole::Space }, 0).await.unwrap();
    let ids = ["!space:x", "!general2:x", "!c:x", "!unknown:x", "!general:x"].map(str::to_owned);
    let known = store.known_rooms(&ids).await.unwrap();
    let rooms: Vec<&str> = known.iter().map(|r| r.room_id.as_str()).collect();
    assert_eq!(rooms, ["!space:x", "!general2:x", "!c:x"], "unknown and replaced rooms left out");
    let mut found: Vec<Scope> = known.iter().map(|r| r.scope).collect();
    found.sort();
    found.dedup();
    let mut want = vec![scope, other];
    want.sort();
    assert_eq!(found, want);
}

async fn audit_is_filtered_and_newest_first(store: Arc<dyn Store>) {
    let (c, other) = (Uuid::new_v4(), Uuid::new_v4());
    let entry = |at, community: Uuid, action: &str| NewAuditEntry {
        at,
        action: action.to_owned(),
        community_id: Some(community),
        room_id: Some("!r:x".into()),
        user_id: Some("@u:x".into()),
        old_level: Some(0),
        new_level: Some(50),
        cause: Some("trust".into()),
        ..NewAuditEntry::default()
    };
    store
        .append_audit(&[
            entry(10, c, "room_created"),
            entry(20, other, "room_created"),
            entry(30, c, "power_level_changed"),
        ])
        .await
        .unwrap();
    let all = store.audit(AuditFilter { community_id: Some(c), since: None, limit: 10 }).await.unwrap();
    let actions: Vec<&str> = all.iter().map(|e| e.entry.action.as_str()).collect();
    assert_eq!(actions, ["power_level_changed", "room_created"]);
    assert_eq!(all[0].entry, entry(30, c, "power_level_changed"));
    let recent = store.audit(AuditFilter { community_id: Some(c), since: Some(15), limit: 10 }).await.unwrap();
    assert_eq!(recent.len(), 1);
    let limited = store.audit(AuditFilter { community_id: None, since: None, limit: 2 }).await.unwrap();
    assert_eq!(limited.len(), 2);
    assert!(limited[0].id > limited[1].id);
}

async fn councils_and_their_members(store: Arc<dyn Store>) {
    let c = Uuid::new_v4();
    store.put_community(&community_record(c, "C"), 0).await.unwrap();
    let job = store.claim(0, LEASE).await.unwrap().unwrap();
    store.complete(&job, 0).await.unwrap();
    let council = CouncilRecord::desired(Uuid::new_v4(), c, "Disputes".into());
    let stored = store.put_council(&council, 10).await.unwrap();
    assert_eq!((stored.created_at, stored.name.as_str()), (10, "Disputes"));
    assert!(
        store.job_for(Scope::Community(c).into()).await.unwrap().is_some(),
        "the community reconciles its councils"
    );
    let renamed = store.put_council(&CouncilRecord { name: "Mediation".into(), ..council.clone() }, 20).await.unwrap();
    assert_eq!((renamed.created_at, renamed.updated_at), (10, 20));
    assert_eq!(store.councils_of(c).await.unwrap(), vec![renamed.clone()]);
    assert_eq!(store.council(council.id).await.unwrap(), Some(renamed));

    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    for u in [a, b] {
        let debounce = Debounce { quiet_ms: 0, max_wait_ms: 0 };
        store
            .put_member(
                c,
                &MemberRecord { user_id: u, trust_score: 0, role: matrix_sync_core::power::CommunityRole::Member },
                debounce,
                0,
            )
            .await
            .unwrap();
    }
    let cm = |user_id, role: &str| CouncilMemberRecord {
        user_id,
        role: matrix_sync_core::power::CouncilRole::parse(role).unwrap(),
    };
    store.put_council_member(&council, &cm(a, "member"), 30).await.unwrap();
    store.put_council_member(&council, &cm(b, "moderator"), 30).await.unwrap();
    store.put_council_member(&council, &cm(a, "admin"), 40).await.unwrap();
    let mut members = store.council_members(council.id).await.unwrap();
    members.sort_by_key(|m| m.user_id);
    let mut want = vec![cm(a, "admin"), cm(b, "moderator")];
    want.sort_by_key(|m| m.user_id);
    assert_eq!(members, want);
    assert!(store.remove_council_member(&council, b, 50).await.unwrap());
    assert!(!store.remove_council_member(&council, b, 50).await.unwrap());
    // Leaving the community means leaving its councils.
    assert!(store.remove_member(c, a, 60).await.unwrap());
    assert!(store.council_members(council.id).await.unwrap().is_empty());
}

async fn requests_are_accepted_once(store: Arc<dyn Store>) {
    let pair = Uuid::new_v4();
    let direct = DirectRecord { pair_id: pair, user_a: "@a:x".into(), user_b: "@b:x".into() };
    let request = RequestRecord {
        id: Uuid::new_v4(),
        community_id: Uuid::new_v4(),
        requester: "@a:x".into(),
        owner: "@b:x".into(),
        title: Some("A table".into()),
        pair_id: pair,
        accepted_at: 0,
        message_event_id: None,
        message_sent_at: None,
    };
    let first = store.accept_request(&request, &direct, 100).await.unwrap();
    assert_eq!(first.accepted_at, 100);
    assert_eq!(store.direct(pair).await.unwrap(), Some(direct.clone()));
    let later = RequestRecord { id: Uuid::new_v4(), ..request.clone() };
    store.accept_request(&later, &direct, 120).await.unwrap();
    let of_pair: Vec<Uuid> = store.requests_of_pair(pair).await.unwrap().iter().map(|r| r.id).collect();
    assert_eq!(of_pair, [later.id, request.id], "the latest accepted first");
    let job = store.job_for(Scope::Request(request.id).into()).await.unwrap().unwrap();
    assert_eq!(store.swap_message_device(request.id, "DEVICEA").await.unwrap(), None);
    assert_eq!(store.swap_message_device(request.id, "DEVICEA").await.unwrap().as_deref(), Some("DEVICEA"));
    assert_eq!(store.swap_message_device(request.id, "DEVICEB").await.unwrap().as_deref(), Some("DEVICEA"));
    assert_eq!(store.swap_message_device(request.id, "DEVICEB").await.unwrap().as_deref(), Some("DEVICEB"));
    store.mark_request_message_sent(request.id, "$ev", 150).await.unwrap();
    let again = store
        .accept_request(&RequestRecord { title: Some("changed".into()), ..request.clone() }, &direct, 200)
        .await
        .unwrap();
    assert_eq!(again.accepted_at, 100, "the first acceptance stands");
    assert_eq!(again.title.as_deref(), Some("A table"));
    assert_eq!(again.message_event_id.as_deref(), Some("$ev"));
    let same_job = store.job_for(Scope::Request(request.id).into()).await.unwrap().unwrap();
    assert_eq!(same_job.generation, job.generation, "a sent message is not sent again");

    let other_pair = Uuid::new_v4();
    store
        .put_direct(&DirectRecord { pair_id: other_pair, user_a: "@c:x".into(), user_b: "@d:x".into() }, 0)
        .await
        .unwrap();
    assert!(store.job_for(Scope::Direct(other_pair).into()).await.unwrap().is_some());
    // Anti-entropy finds every pair, each once, however it was recorded.
    store
        .put_direct(&DirectRecord { pair_id: other_pair, user_a: "@c:x".into(), user_b: "@d:x".into() }, 5)
        .await
        .unwrap();
    let mut want = vec![pair, other_pair];
    want.sort();
    assert_eq!(store.direct_pair_ids().await.unwrap(), want);
}

/// Twelve members promoted at once into room for three: the count and the
/// write are one transaction per promotion, so exactly three get in.
async fn concurrent_promotions_never_overfill_the_power_levels(store: Arc<dyn Store>) {
    let c = Uuid::new_v4();
    store.put_community(&community_record(c, "C"), 0).await.unwrap();
    let promotions: Vec<_> = (0..12)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let member = MemberRecord {
                    user_id: Uuid::new_v4(),
                    trust_score: 50,
                    role: matrix_sync_core::power::CommunityRole::Member,
                };
                let fits = |e: &Elevated| e.count < 3;
                let debounce = Debounce { quiet_ms: 0, max_wait_ms: 0 };
                store.put_elevated_member(c, &member, 30, &fits, debounce, i).await.unwrap()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for promotion in promotions {
        outcomes.push(promotion.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 3, "{outcomes:?}");
    assert!(outcomes.iter().filter_map(|o| o.as_ref().err()).all(|e| e.count == 3));
    assert_eq!(store.count_elevated_members(c, 30, Uuid::nil()).await.unwrap(), 3);
    assert_eq!(store.members(c).await.unwrap().len(), 3, "nothing refused was written");
}

fn council_record(community_id: Uuid) -> CouncilRecord {
    CouncilRecord::desired(Uuid::new_v4(), community_id, "K".into())
}

async fn deletion_restore_and_purge(store: Arc<dyn Store>) {
    let c = Uuid::new_v4();
    store.put_community(&community_record(c, "C"), 0).await.unwrap();
    let council = council_record(c);
    store.put_council(&council, 0).await.unwrap();
    while let Some(job) = store.claim(0, LEASE).await.unwrap() {
        store.complete(&job, 0).await.unwrap();
    }
    assert!(store.set_deletion(Scope::Community(c), Some(100), Some(1_000), 100).await.unwrap());
    let stored = store.community(c).await.unwrap().unwrap();
    assert_eq!((stored.deleted_at, stored.hard_delete_at), (Some(100), Some(1_000)));
    assert!(store.job_for(Scope::Community(c).into()).await.unwrap().is_some());
    assert!(store.due_hard_deletes(999).await.unwrap().is_empty());
    assert_eq!(store.due_hard_deletes(1_000).await.unwrap(), vec![Scope::Community(c)]);

    // Restored before it was due, then the council alone deleted: it is due
    // on its own.
    assert!(store.set_deletion(Scope::Community(c), None, None, 200).await.unwrap());
    assert!(store.due_hard_deletes(5_000).await.unwrap().is_empty());
    assert!(store.set_deletion(Scope::Council(council.id), Some(300), Some(2_000), 300).await.unwrap());
    assert_eq!(store.due_hard_deletes(2_000).await.unwrap(), vec![Scope::Council(council.id)]);
    assert!(!store.set_deletion(Scope::Council(council.id), None, None, 2_000).await.unwrap(), "due: no restore");

    // Only a due one starts purging, only a purging one is marked purged,
    // and a purge once begun resumes.
    assert!(!store.mark_purged(Scope::Council(council.id), 1_900).await.unwrap());
    assert!(!store.begin_purge(Scope::Council(council.id), 1_999).await.unwrap());
    assert!(store.begin_purge(Scope::Council(council.id), 2_000).await.unwrap());
    assert!(store.begin_purge(Scope::Council(council.id), 2_050).await.unwrap(), "resumed");
    assert_eq!(store.council(council.id).await.unwrap().unwrap().purging_at, Some(2_000));
    assert!(
        !store.set_deletion(Scope::Council(council.id), None, None, 1_500).await.unwrap(),
        "purging: no restore, even by a clock that lags"
    );
    assert_eq!(store.due_hard_deletes(2_060).await.unwrap(), vec![Scope::Council(council.id)], "unfinished");

    let room = RoomRecord { room_id: "!k:x".into(), scope: Scope::Council(council.id), role: RoomRole::Space };
    store.record_room(&room, 0).await.unwrap();
    assert!(store.mark_purged(Scope::Council(council.id), 2_100).await.unwrap());
    assert!(!store.mark_purged(Scope::Council(council.id), 2_200).await.unwrap(), "once");
    assert!(store.rooms_of(Scope::Council(council.id)).await.unwrap().is_empty());
    assert_eq!(store.council(council.id).await.unwrap().unwrap().purged_at, Some(2_100));
    assert!(store.due_hard_deletes(9_000).await.unwrap().is_empty());
    assert!(
        !store.set_deletion(Scope::Council(council.id), None, None, 3_000).await.unwrap(),
        "a purged council stays deleted"
    );
    assert!(!store.set_deletion(Scope::Community(Uuid::new_v4()), Some(1), Some(2), 3_000).await.unwrap());

    // A community's purge takes its live councils with it at once.
    let live = council_record(c);
    store.put_council(&live, 3_000).await.unwrap();
    assert!(store.set_deletion(Scope::Community(c), Some(4_000), Some(5_000), 4_000).await.unwrap());
    assert!(store.begin_purge(Scope::Community(c), 5_000).await.unwrap());
    assert_eq!(store.council(live.id).await.unwrap().unwrap().purging_at, Some(5_000));
    assert!(!store.set_deletion(Scope::Community(c), None, None, 4_500).await.unwrap());
    assert!(!store.set_deletion(Scope::Council(live.id), Some(5_100), Some(9_000), 5_100).await.unwrap());
    assert_eq!(store.due_hard_deletes(5_200).await.unwrap(), vec![Scope::Community(c)], "its councils go with it");

    let kept = RoomRecord { room_id: "!g:x".into(), scope: Scope::Community(c), role: RoomRole::General };
    store.record_room(&kept, 0).await.unwrap();
    assert!(store.forget_room("!g:x").await.unwrap());
    assert!(!store.forget_room("!g:x").await.unwrap(), "another eraser came first");
}

async fn chat_sessions_are_kept_per_user(store: Arc<dyn Store>) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    store.record_session(a, "DEV1", 10).await.unwrap();
    store.record_session(a, "DEV2", 20).await.unwrap();
    store.record_session(a, "DEV1", 30).await.unwrap();
    store.record_session(b, "DEV3", 40).await.unwrap();
    let session = |device_id: &str, created_at, last_used_at| SessionRecord {
        device_id: device_id.to_owned(),
        created_at,
        last_used_at,
    };
    assert_eq!(store.sessions(a).await.unwrap(), vec![session("DEV1", 10, 30), session("DEV2", 20, 20)]);
    assert!(store.touch_session(a, "DEV2", 50).await.unwrap());
    assert!(!store.touch_session(a, "DEV3", 50).await.unwrap(), "another user's device is not this user's");
    assert!(!store.touch_session(a, "NONE", 50).await.unwrap());
    assert_eq!(store.sessions(a).await.unwrap(), vec![session("DEV1", 10, 30), session("DEV2", 20, 50)]);
    assert_eq!(store.sessions(b).await.unwrap(), vec![session("DEV3", 40, 40)], "untouched by the other user's calls");
    assert!(store.forget_session(a, "DEV1").await.unwrap());
    assert!(!store.forget_session(a, "DEV1").await.unwrap());
    assert!(!store.touch_session(a, "DEV1", 60).await.unwrap(), "a forgotten device is no session");
    assert_eq!(store.sessions(a).await.unwrap().len(), 1);
    assert_eq!(store.sessions(b).await.unwrap().len(), 1);
}

async fn a_key_backup_is_recorded_once_per_user(store: Arc<dyn Store>) {
    let user = Uuid::new_v4();
    assert_eq!(store.key_backup(user).await.unwrap(), None);
    let first = KeyBackupRecord {
        user_id: user,
        version: "3".into(),
        public_key: "pub-a".into(),
        sealed_private_key: "sealed-a".into(),
        created_at: 10,
    };
    assert_eq!(store.insert_key_backup(&first).await.unwrap(), first);
    let racing = KeyBackupRecord { version: "4".into(), public_key: "pub-b".into(), created_at: 11, ..first.clone() };
    assert_eq!(store.insert_key_backup(&racing).await.unwrap(), first, "the first one recorded stays");
    assert_eq!(store.key_backup(user).await.unwrap(), Some(first));
    assert_eq!(store.key_backup(Uuid::new_v4()).await.unwrap(), None);
}

async fn profiles_keep_what_a_write_leaves_out_and_enqueue_only_changes(store: Arc<dyn Store>) {
    let user = Uuid::new_v4();
    let task = matrix_sync_core::Task::Profile(user);
    assert_eq!(store.profile(user).await.unwrap(), None);
    let named = ProfileWrite { display_name: Some("Ada".into()), avatar_url: None };
    let first = store.put_profile(user, &named, 10).await.unwrap();
    assert_eq!((first.display_name.as_deref(), first.avatar_url.as_deref()), (Some("Ada"), None));
    let job = store.claim(10, LEASE).await.unwrap().expect("the profile task is due");
    assert_eq!(job.task, task);
    store.complete(&job, 11).await.unwrap();

    // The same write again: nothing to do.
    store.put_profile(user, &named, 20).await.unwrap();
    assert!(store.job_for(task).await.unwrap().is_none(), "an unchanged profile enqueues nothing");
    // A picture only: the name stays.
    let pictured = ProfileWrite { display_name: None, avatar_url: Some("https://example.org/ada.png".into()) };
    let second = store.put_profile(user, &pictured, 30).await.unwrap();
    assert_eq!(second.display_name.as_deref(), Some("Ada"));
    assert_eq!(second.avatar_url.as_deref(), Some("https://example.org/ada.png"));
    assert!(store.job_for(task).await.unwrap().is_some());

    store.record_avatar(user, "https://example.org/ada.png", Some("mxc://x/ada"), 40).await.unwrap();
    let recorded = store.profile(user).await.unwrap().unwrap();
    assert_eq!(
        (recorded.avatar_source.as_deref(), recorded.avatar_mxc.as_deref()),
        (Some("https://example.org/ada.png"), Some("mxc://x/ada"))
    );
    store.record_avatar(user, "https://example.org/gone.png", None, 50).await.unwrap();
    let unusable = store.profile(user).await.unwrap().unwrap();
    assert_eq!((unusable.avatar_source.as_deref(), unusable.avatar_mxc), (Some("https://example.org/gone.png"), None));
}

fn message(event_id: &str) -> NewMessage {
    NewMessage { event_id: event_id.into(), room_id: "!r:x".into(), sender: "@a:x".into(), origin_server_ts: 5 }
}

async fn a_message_is_recorded_for_the_webhook_once(store: Arc<dyn Store>) {
    assert!(store.accept_transaction(&txn("1", "d1", 2), &[], &[message("$a"), message("$b")], 10).await.unwrap());
    // A later transaction with one of them again (a homeserver that restarted).
    assert!(store.accept_transaction(&txn("2", "d2", 1), &[], &[message("$a")], 20).await.unwrap());
    let mut deliveries = Vec::new();
    while let Some(job) = store.claim(30, LEASE).await.unwrap() {
        let matrix_sync_core::Task::Webhook(id) = job.task else { panic!("not a webhook task: {job:?}") };
        deliveries.push(store.delivery(id).await.unwrap().unwrap());
        store.complete(&job, 30).await.unwrap();
    }
    let mut events: Vec<&str> = deliveries.iter().map(|d| d.event_id.as_str()).collect();
    events.sort();
    assert_eq!(events, ["$a", "$b"], "one delivery per event");
    let first = &deliveries[0];
    assert_eq!((first.room_id.as_str(), first.sender.as_str(), first.origin_server_ts), ("!r:x", "@a:x", 5));
    assert_eq!(first.delivered_at, None);
    store.mark_delivered(first.id, 40).await.unwrap();
    store.mark_delivered(first.id, 50).await.unwrap();
    assert_eq!(store.delivery(first.id).await.unwrap().unwrap().delivered_at, Some(40), "the first delivery counts");
    // Forgotten with the transactions of their time.
    store.prune_transactions(15).await.unwrap();
    assert_eq!(store.delivery(first.id).await.unwrap(), None);
}
