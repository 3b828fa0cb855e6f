//! Platform users' Matrix accounts.

use matrix_sync_store::UserMapping;
use uuid::Uuid;

use super::CommandError;
use crate::Engine;
use crate::provision::provision_user;
use crate::rules;

/// Provisions a platform user's Matrix account now (registered, display
/// name set when given and different, then recorded); idempotent.
pub async fn put_user(engine: &Engine, user: Uuid, display_name: Option<&str>) -> Result<UserMapping, CommandError> {
    let display_name = rules::display_name(display_name)?;
    Ok(provision_user(engine, user, display_name.as_deref()).await?)
}
