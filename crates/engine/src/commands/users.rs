//! Platform users' Matrix accounts and profiles (display name, picture).

use matrix_sync_core::UserRef;
use matrix_sync_store::{ProfileWrite, UserMapping, UserProfile};
use uuid::Uuid;

use super::CommandError;
use crate::Engine;
use crate::clock::now_millis;
use crate::provision::provision_user;
use crate::rules::{self, Refusal};

/// A profile as a write gives it (unchecked); `None` keeps what is recorded.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProfileInput<'a> {
    /// The display name.
    pub display_name: Option<&'a str>,
    /// The picture: an `http(s)://` URL the service fetches once, or `mxc://`.
    pub avatar_url: Option<&'a str>,
}

impl ProfileInput<'_> {
    /// Whether the write gives anything.
    pub fn is_empty(&self) -> bool {
        self.display_name.is_none() && self.avatar_url.is_none()
    }

    /// The checked write.
    fn checked(&self) -> Result<ProfileWrite, CommandError> {
        Ok(ProfileWrite {
            display_name: rules::display_name(self.display_name)?,
            avatar_url: rules::avatar_url(self.avatar_url)?,
        })
    }
}

/// Provisions a platform user's Matrix account now (registered, display
/// name set when given and different, then recorded) and records the
/// profile; the picture follows in the background (the profile task).
/// Idempotent.
pub async fn put_user(engine: &Engine, user: Uuid, profile: ProfileInput<'_>) -> Result<UserMapping, CommandError> {
    let write = profile.checked()?;
    let mapping = provision_user(engine, user, write.display_name.as_deref()).await?;
    if !profile.is_empty() {
        record(engine, user, &write).await?;
    }
    Ok(mapping)
}

/// Records a user's profile as the platform gives it (a member write's
/// `display_name` and `avatar_url`); the profile task brings the
/// homeserver to it. Nothing is written when the write gives nothing.
pub async fn put_profile(engine: &Engine, user: Uuid, profile: ProfileInput<'_>) -> Result<(), CommandError> {
    if profile.is_empty() {
        return Ok(());
    }
    let write = profile.checked()?;
    record(engine, user, &write).await.map(drop)
}

/// Checks a member write's profile without recording it: before the
/// member is written (and by an import, before it writes anything). A user
/// of another homeserver has their homeserver's profile.
pub fn check_member_profile(user: &UserRef, profile: ProfileInput<'_>) -> Result<(), CommandError> {
    if profile.is_empty() {
        return Ok(());
    }
    if let UserRef::Remote(id) = user {
        return Err(Refusal::RemoteProfile(id.to_string()).into());
    }
    profile.checked().map(drop)
}

/// Records a member write's profile (checked before with
/// [`check_member_profile`]).
pub async fn put_member_profile(
    engine: &Engine,
    user: &UserRef,
    profile: ProfileInput<'_>,
) -> Result<(), CommandError> {
    match user {
        UserRef::Platform(id) => put_profile(engine, *id, profile).await,
        UserRef::Remote(_) => Ok(()),
    }
}

/// The profile a sign-in brings: what the page gives (`given`, checked:
/// a bad value is refused, and a picture must be `mxc://` already) and the
/// identity provider's name (`idp_name`, used only when the page gives
/// none, and ignored when unusable). It only fills in what the platform has
/// not given: the platform's own writes decide, a sign-in makes sure no one
/// is shown by their id. Returns the name this sign-in gave, to provision with.
pub async fn profile_from_sign_in(
    engine: &Engine,
    user: Uuid,
    given: ProfileInput<'_>,
    idp_name: Option<&str>,
) -> Result<Option<String>, CommandError> {
    let given = ProfileWrite {
        display_name: rules::display_name(given.display_name)?,
        avatar_url: rules::sign_in_avatar_url(given.avatar_url)?,
    };
    let recorded = engine.store.profile(user).await?;
    // A name recorded before profiles were (on the mapping) counts too.
    let named = match recorded.as_ref().and_then(|p| p.display_name.clone()) {
        Some(name) => Some(name),
        None => engine.store.user_mapping(user).await?.and_then(|m| m.display_name),
    };
    let fill = ProfileWrite {
        display_name: match &named {
            Some(_) => None,
            None => given.display_name.or_else(|| rules::display_name(idp_name).ok().flatten()),
        },
        avatar_url: given.avatar_url.filter(|_| recorded.as_ref().is_none_or(|p| p.avatar_url.is_none())),
    };
    // Only a name recorded now is set with the sign-in: one recorded before
    // is on the homeserver already (its profile task set it), and checking
    // it again would cost every sign-in a request.
    let new_name = fill.display_name.clone();
    if fill != ProfileWrite::default() {
        record(engine, user, &fill).await?;
    }
    Ok(new_name)
}

async fn record(engine: &Engine, user: Uuid, write: &ProfileWrite) -> Result<UserProfile, CommandError> {
    let profile = engine.store.put_profile(user, write, now_millis()).await?;
    engine.wakeup.notify_waiters();
    Ok(profile)
}
