//! One reconcile of one scope: load its desired engine, observe the
//! homeserver, plan, apply, record. Called by the workers.

mod apply;
mod community;
mod converge;
mod direct;
mod erase;
mod observe;
mod request;
pub mod room_cache;

use matrix_sync_core::Scope;
use matrix_sync_matrix::HomeserverError;
use matrix_sync_store::StoreError;

use crate::Engine;

/// Why a reconcile failed; the job is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// A homeserver request failed.
    #[error(transparent)]
    Homeserver(#[from] HomeserverError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// What is stored cannot be planned from.
    #[error("the stored desired state is invalid: {0}")]
    Invalid(String),
    /// Another writer kept changing what we write (account data).
    #[error("another writer keeps replacing {0}; retrying later")]
    Contended(String),
    /// The bot's device is not set up yet.
    #[error("the bot has not started yet (its device is being set up)")]
    BotNotReady,
    #[error(
        "another bot device (a process that stopped) set out to send the request's message, and a message of the bot's in the room cannot be read here yet; not sending it twice"
    )]
    /// A message may have been sent by another device; not sending it twice.
    MessageUnconfirmed,
    /// The bot failed to send or read.
    #[error(transparent)]
    Bot(#[from] matrix_sync_bot::BotError),
    /// A member's key backup failed.
    #[error("a member's key backup: {0}")]
    KeyBackup(#[from] crate::key_backup::KeyBackupError),
    /// The platform's webhook did not take a notice.
    #[error("the webhook: {0}")]
    Webhook(String),
}

impl From<crate::provision::ProvisionError> for ReconcileError {
    fn from(e: crate::provision::ProvisionError) -> Self {
        match e {
            crate::provision::ProvisionError::Homeserver(e) => e.into(),
            crate::provision::ProvisionError::Store(e) => e.into(),
        }
    }
}

/// Reconciles one scope: the job a worker claimed.
pub async fn reconcile(engine: &Engine, scope: Scope) -> Result<(), ReconcileError> {
    match scope {
        Scope::Community(id) => community::reconcile(engine, id).await,
        // A council's job is its hard delete; its rooms otherwise are part
        // of its community's plan.
        Scope::Council(id) => match engine.store.council(id).await? {
            Some(council) if council.purged_at.is_some() => Ok(()),
            Some(council) if erase::erase_council(engine, id, council.community_id).await? => Ok(()),
            Some(council) => community::reconcile(engine, council.community_id).await,
            None => Ok(()),
        },
        Scope::Direct(pair) => direct::reconcile(engine, pair).await,
        Scope::Request(id) => request::reconcile(engine, id).await,
    }
}

/// The scope whose job reconciles a room's scope: councils are reconciled
/// with their community, so that one job (never two at once) plans for it.
pub async fn job_scope(engine: &Engine, scope: Scope) -> Result<Scope, matrix_sync_store::StoreError> {
    Ok(match scope {
        Scope::Council(id) => match engine.store.council(id).await? {
            Some(council) => Scope::Community(council.community_id),
            None => scope,
        },
        other => other,
    })
}
