//! A platform user's profile on the homeserver: the display name and the
//! picture the platform gave (`Task::Profile`). The picture is fetched from
//! the platform's URL once and uploaded to the homeserver as the user; a
//! later write with the same URL uploads nothing. What cannot be fetched
//! (not found, not an image, too large) is recorded and left until the URL
//! changes: a missing picture must not hold up the name.

use bytes::Bytes;
use matrix_sync_store::UserProfile;
use uuid::Uuid;

use crate::Engine;
use crate::clock::now_millis;
use crate::provision::{name_provisioned_user, provision_user};
use crate::reconcile::ReconcileError;

/// The largest picture taken, whatever the homeserver allows.
pub const MAX_AVATAR_BYTES: u64 = 5 * 1024 * 1024;

/// The picture types taken (what every Matrix client shows).
const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// Brings the user's homeserver profile to the recorded one: their account
/// exists, their display name and picture are the platform's.
pub async fn apply(engine: &Engine, user: Uuid) -> Result<(), ReconcileError> {
    let Some(profile) = engine.store.profile(user).await? else {
        return Ok(());
    };
    let name = profile.display_name.as_deref();
    // An account made before (by its community's reconcile) is not
    // registered again.
    if engine.store.user_mapping(user).await?.is_some() {
        name_provisioned_user(engine, user, name).await?;
    } else {
        provision_user(engine, user, name).await?;
    }
    let Some(mxc) = avatar_mxc(engine, &profile).await? else {
        return Ok(());
    };
    let matrix_user = engine.homeserver.ids().user(user);
    if engine.homeserver.avatar_url(&matrix_user).await?.as_deref() != Some(mxc.as_str()) {
        engine.homeserver.set_avatar_url(&matrix_user, &mxc).await?;
        tracing::info!(user_id = %user, "avatar set");
    }
    Ok(())
}

/// The picture as the homeserver has it: given as `mxc://`, uploaded
/// before from the same URL, or fetched and uploaded now. `None`: no
/// picture, or one that cannot be used.
async fn avatar_mxc(engine: &Engine, profile: &UserProfile) -> Result<Option<String>, ReconcileError> {
    let Some(url) = profile.avatar_url.as_deref() else {
        return Ok(None);
    };
    if url.starts_with("mxc://") {
        return Ok(Some(url.to_owned()));
    }
    if profile.avatar_source.as_deref() == Some(url) {
        return Ok(profile.avatar_mxc.clone());
    }
    let limit = engine.homeserver.upload_limit().await?.unwrap_or(MAX_AVATAR_BYTES).min(MAX_AVATAR_BYTES);
    let mxc = match fetch_image(&engine.outbound, url, limit).await {
        Ok((content_type, bytes)) => {
            let matrix_user = engine.homeserver.ids().user(profile.user_id);
            Some(engine.homeserver.upload_media(&matrix_user, &content_type, "avatar", bytes).await?)
        }
        Err(FetchError::Unusable(why)) => {
            tracing::warn!(user_id = %profile.user_id, why, "the avatar URL cannot be used; keeping no picture");
            None
        }
        Err(FetchError::Unreachable(why)) => {
            return Err(ReconcileError::Invalid(format!("the avatar could not be fetched ({why}); retrying")));
        }
    };
    engine.store.record_avatar(profile.user_id, url, mxc.as_deref(), now_millis()).await?;
    Ok(mxc)
}

/// Why a picture was not fetched.
#[derive(Debug)]
enum FetchError {
    /// The URL answers, but not with a picture that can be used: final
    /// until the URL changes.
    Unusable(String),
    /// No answer (network, 5xx): worth a retry.
    Unreachable(String),
}

/// Fetches an image of at most `limit` bytes; its content type and bytes.
async fn fetch_image(http: &reqwest::Client, url: &str, limit: u64) -> Result<(String, Bytes), FetchError> {
    let response = http.get(url).send().await.map_err(|e| FetchError::Unreachable(e.without_url().to_string()))?;
    let status = response.status();
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(FetchError::Unreachable(format!("HTTP {status}")));
    }
    if !status.is_success() {
        return Err(FetchError::Unusable(format!("HTTP {status}")));
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !IMAGE_TYPES.contains(&content_type.as_str()) {
        return Err(FetchError::Unusable(format!("content type `{content_type}` is not a picture")));
    }
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(FetchError::Unusable(format!("larger than {limit} bytes")));
    }
    // Read with the limit: a server may not say the length, or lie about it.
    let mut body = Vec::new();
    let mut response = response;
    while let Some(chunk) = response.chunk().await.map_err(|e| FetchError::Unreachable(e.without_url().to_string()))? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(FetchError::Unusable(format!("larger than {limit} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((content_type, Bytes::from(body)))
}
