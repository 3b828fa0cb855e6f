//! The workers: claim a due job, do its task (reconcile a scope, apply a
//! profile, deliver a webhook notice) while keeping the lease alive, then
//! complete it or record the failure for a retry with backoff. On shutdown
//! a job in progress is released, not lost.

use std::sync::Arc;
use std::time::Duration;

use matrix_sync_core::{Backoff, Task};
use matrix_sync_store::{FailOutcome, Job, StoreError};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::Engine;
use crate::clock::now_millis;
use crate::reconcile::reconcile;

/// A claimed job is the worker's for this long unless renewed.
const LEASE_MS: i64 = 60_000;
const RENEW_EVERY: Duration = Duration::from_secs(20);
/// The longest an idle worker sleeps before looking again (other processes
/// may have enqueued work it was not woken for).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// One worker: claims and reconciles jobs until `cancel`.
pub async fn run(engine: Arc<Engine>, cancel: CancellationToken) {
    let backoff = engine.settings.backoff;
    while !cancel.is_cancelled() {
        match engine.store.claim(now_millis(), LEASE_MS).await {
            Ok(Some(job)) => process(&engine, &cancel, &backoff, job).await,
            Ok(None) => idle(&engine, &cancel).await,
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim a job; retrying");
                tokio::select! {
                    () = cancel.cancelled() => {}
                    () = tokio::time::sleep(IDLE_POLL) => {}
                }
            }
        }
    }
}

/// Sleeps until the next job is due, work due now is announced, or shutdown.
async fn idle(engine: &Engine, cancel: &CancellationToken) {
    let wait = match engine.store.next_run_at().await {
        Ok(Some(at)) => Duration::from_millis(u64::try_from(at - now_millis()).unwrap_or(0)).min(IDLE_POLL),
        _ => IDLE_POLL,
    };
    if wait.is_zero() {
        return;
    }
    let mut deadline = tokio::time::Instant::now() + wait;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = engine.wakeup.notified() => {
                // Work due later (a debounced write) moves the wake-up
                // earlier without a look at the queue now.
                let until_due = engine.wakeup.until_due();
                if until_due.is_zero() {
                    return;
                }
                deadline = deadline.min(tokio::time::Instant::now() + until_due);
            }
            () = tokio::time::sleep_until(deadline) => return,
        }
    }
}

/// Does what a job is for.
async fn run_task(engine: &Engine, task: Task) -> Result<(), crate::ReconcileError> {
    match task {
        Task::Reconcile(scope) => reconcile(engine, scope).await,
        Task::Profile(user) => crate::profile::apply(engine, user).await,
        Task::Webhook(delivery) => crate::webhook::deliver(engine, delivery).await,
    }
}

/// How a claimed job's reconcile ended.
enum Outcome {
    Done(Result<(), crate::ReconcileError>),
    ShuttingDown,
    LeaseLost,
}

async fn process(engine: &Engine, cancel: &CancellationToken, backoff: &Backoff, job: Job) {
    let span = tracing::info_span!("job", task = %job.task, attempt = job.attempts);
    async {
        let work = run_task(engine, job.task);
        tokio::pin!(work);
        let mut renew = tokio::time::interval(RENEW_EVERY);
        renew.tick().await;
        let result = loop {
            tokio::select! {
                result = &mut work => break Outcome::Done(result),
                () = cancel.cancelled() => break Outcome::ShuttingDown,
                _ = renew.tick() => match engine.store.renew(&job, now_millis(), LEASE_MS).await {
                    Ok(true) => {}
                    // Another worker (perhaps in another process) has the
                    // job now: two must never reconcile one scope at once.
                    Ok(false) => break Outcome::LeaseLost,
                    // The database is away: keep working; the lease runs
                    // until its end, and the outcome is written with retries.
                    Err(e) => tracing::warn!(error = %e, "cannot renew the lease"),
                },
            }
        };
        let now = now_millis();
        match result {
            Outcome::LeaseLost => {
                tracing::warn!("lost the lease; stopped, the worker holding it now carries on");
            }
            Outcome::ShuttingDown => {
                // Shutting down: one try; the lease's expiry is the fallback.
                if let Err(e) = engine.store.release(&job, now).await {
                    tracing::warn!(error = %e, "cannot release the job; it is retried after its lease");
                }
            }
            Outcome::Done(Ok(())) => {
                engine.metrics.count_reconcile("ok");
                if let Err(e) = persist(cancel, || engine.store.complete(&job, now)).await {
                    tracing::warn!(error = %e, "cannot mark the job done; it runs again after its lease");
                }
            }
            Outcome::Done(Err(e)) => {
                let error = e.to_string();
                match persist(cancel, || engine.store.fail(&job, &error, now, backoff)).await {
                    Ok(FailOutcome::Dead) => {
                        engine.metrics.count_reconcile("dead");
                        tracing::error!(error, "reconcile failed for the last time; the job is dead");
                    }
                    Ok(FailOutcome::RetryAt(at)) => {
                        engine.metrics.count_reconcile("retry");
                        tracing::warn!(error, retry_in_ms = at - now, "reconcile failed; will retry");
                    }
                    Ok(FailOutcome::LeaseLost) => tracing::warn!(error, "reconcile failed after the lease was lost"),
                    Err(store_error) => tracing::warn!(error, %store_error, "cannot record the failure"),
                }
            }
        }
    }
    .instrument(span)
    .await;
}

/// How long a job's outcome is tried again while the database is away (a
/// restart takes seconds), before the lease's expiry has to stand in.
const PERSIST_FOR: Duration = Duration::from_secs(20);
const PERSIST_EVERY: Duration = Duration::from_millis(500);

/// Records a job's outcome, trying again while the database is unreachable:
/// without it, a database restart would hold finished work back until the
/// lease expired and then run it again.
async fn persist<T, F, Fut>(cancel: &CancellationToken, mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let started = tokio::time::Instant::now();
    loop {
        match op().await {
            Err(e) if e.is_unavailable() && started.elapsed() < PERSIST_FOR && !cancel.is_cancelled() => {
                tracing::warn!(error = %e, "the database is unavailable; recording the job's outcome again shortly");
                tokio::time::sleep(PERSIST_EVERY).await;
            }
            result => return result,
        }
    }
}

/// Every so often, reconcile every scope even without a change: this repairs
/// drift whose push never arrived. Scopes are spread over the interval. A
/// job backing off or dead keeps its course (writes and pushes still wake
/// it; a dead one is retried through the jobs API).
pub async fn anti_entropy(engine: Arc<Engine>, cancel: CancellationToken) {
    let every = engine.settings.anti_entropy;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        // Every community (with its councils) and every direct chat (its
        // members, and `m.direct` of both), spread over the first half of
        // the period so a pass is not one burst.
        let scopes = match (engine.store.community_ids().await, engine.store.direct_pair_ids().await) {
            (Ok(communities), Ok(directs)) => communities
                .into_iter()
                .map(matrix_sync_core::Scope::Community)
                .chain(directs.into_iter().map(matrix_sync_core::Scope::Direct))
                .collect::<Vec<_>>(),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "anti-entropy: cannot list the scopes");
                continue;
            }
        };
        let now = now_millis();
        let spread = i64::try_from(every.as_millis() / 2).unwrap_or(i64::MAX);
        let count = i64::try_from(scopes.len().max(1)).unwrap_or(1);
        for (i, scope) in (0i64..).zip(scopes.iter()) {
            let run_at = now + spread * i / count;
            if let Err(e) = engine.store.enqueue_periodic((*scope).into(), run_at, now).await {
                tracing::warn!(error = %e, "anti-entropy: cannot enqueue");
            }
        }
        tracing::debug!(scopes = scopes.len(), "anti-entropy pass enqueued");
        engine.wakeup.notify_waiters();
    }
}

/// How long an appservice transaction id is remembered: a homeserver
/// replays an unacknowledged transaction within minutes, not a week.
const TRANSACTION_MEMORY_MS: i64 = 7 * 24 * 3_600_000;

/// Hard deletes come due while nothing else happens: look for them, and
/// enqueue each community's or council's job (one per scope, so a failing
/// council purge backs off alone). With several processes on one database
/// each may enqueue the same scope; the queue keeps one job per scope and
/// one worker runs it, so nothing is deleted twice. A job backing off after
/// a failure keeps its backoff: the sweeper never retries it sooner. Old
/// appservice transaction ids are forgotten on the way.
pub async fn retention_sweeper(engine: Arc<Engine>, cancel: CancellationToken) {
    // Often enough for short retentions, and at least once a minute.
    let every = (engine.settings.retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let now = now_millis();
        match engine.store.due_hard_deletes(now).await {
            Ok(due) if !due.is_empty() => {
                for scope in due {
                    if let Err(e) = engine.store.enqueue_periodic(scope.into(), now, now).await {
                        tracing::warn!(error = %e, "retention sweeper: cannot enqueue");
                    }
                }
                engine.wakeup.notify_waiters();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention sweeper: cannot look for due hard deletes"),
        }
        match engine.store.prune_transactions(now - TRANSACTION_MEMORY_MS).await {
            Ok(0) => {}
            Ok(pruned) => tracing::debug!(pruned, "forgot old appservice transaction ids"),
            Err(e) => tracing::warn!(error = %e, "retention sweeper: cannot prune transaction ids"),
        }
    }
}
