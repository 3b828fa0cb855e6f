//! One reconcile of one scope: load its desired state, observe the
//! homeserver, plan, apply, record. Called by the workers.

mod community;
mod observe;

use matrix_sync_core::Scope;
use matrix_sync_matrix::HomeserverError;
use matrix_sync_store::StoreError;

use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Homeserver(#[from] HomeserverError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored desired state is invalid: {0}")]
    Invalid(String),
    #[error("scopes of kind `{0}` are not reconciled by this version")]
    Unsupported(&'static str),
}

impl From<crate::provision::ProvisionError> for ReconcileError {
    fn from(e: crate::provision::ProvisionError) -> Self {
        match e {
            crate::provision::ProvisionError::Homeserver(e) => e.into(),
            crate::provision::ProvisionError::Store(e) => e.into(),
        }
    }
}

pub async fn reconcile(state: &AppState, scope: Scope) -> Result<(), ReconcileError> {
    match scope {
        Scope::Community(id) => community::reconcile(state, id).await,
        Scope::User(id) => {
            crate::provision::provision_user(state, id, None).await?;
            Ok(())
        }
        other => Err(ReconcileError::Unsupported(other.kind())),
    }
}
