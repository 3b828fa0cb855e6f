//! Platform users' Matrix accounts.

use matrix_sync_store::UserMapping;
use uuid::Uuid;

use super::CommandError;
use crate::Engine;
use crate::provision::{ProvisionError, provision_user};
use crate::rules;

/// Why a user could not be provisioned.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A rule refused the write, or the store failed.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The homeserver refused or did not answer.
    #[error(transparent)]
    Provision(#[from] ProvisionError),
}

/// Provisions a platform user's Matrix account now (registered, display
/// name set when given and different, then recorded); idempotent.
pub async fn put_user(engine: &Engine, user: Uuid, display_name: Option<&str>) -> Result<UserMapping, UserError> {
    let display_name = rules::display_name(display_name).map_err(CommandError::from)?;
    Ok(provision_user(engine, user, display_name.as_deref()).await?)
}
