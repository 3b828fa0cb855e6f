//! Provisioning a platform user's Matrix account: registered through the
//! appservice, display name set when given, and only then recorded, so a
//! homeserver that is down leaves nothing half-written in the database.

use chrono::Utc;
use matrix_sync_matrix::HomeserverError;
use matrix_sync_store::{NewUserMapping, StoreError, UserMapping};
use uuid::Uuid;

use crate::Engine;

/// Why an account could not be provisioned.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The homeserver refused or did not answer.
    #[error(transparent)]
    Homeserver(#[from] HomeserverError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Registers the user (idempotently), sets their display name when given
/// and different, then records the mapping.
#[tracing::instrument(skip(engine, display_name), fields(matrix_user_id))]
pub async fn provision_user(
    engine: &Engine,
    user: Uuid,
    display_name: Option<&str>,
) -> Result<UserMapping, ProvisionError> {
    let hs = &engine.homeserver;
    let matrix_user_id = hs.ids().user(user);
    tracing::Span::current().record("matrix_user_id", matrix_user_id.as_str());

    let registered = hs.register(matrix_user_id.localpart()).await?;
    let mapping = name_provisioned_user(engine, user, display_name).await?;
    tracing::info!(?registered, "user provisioned");
    Ok(mapping)
}

/// Sets the display name of a user whose account exists, when given and
/// different, and records the mapping (with the name).
pub async fn name_provisioned_user(
    engine: &Engine,
    user: Uuid,
    display_name: Option<&str>,
) -> Result<UserMapping, ProvisionError> {
    let hs = &engine.homeserver;
    let matrix_user_id = hs.ids().user(user);
    if let Some(name) = display_name {
        // Each change is a membership event in every room of the user:
        // only write it when it differs.
        if hs.display_name(&matrix_user_id).await?.as_deref() != Some(name) {
            hs.set_display_name(&matrix_user_id, name).await?;
        }
    }
    Ok(engine
        .store
        .upsert_user_mapping(&NewUserMapping {
            user_id: user,
            matrix_user_id: matrix_user_id.to_string(),
            display_name: display_name.map(str::to_owned),
            provisioned_at: Utc::now(),
        })
        .await?)
}
