//! The rules a write of desired state obeys, whether it comes through the
//! API or from `import`: one function for each, called by the
//! commands (`commands/`). The API answers a refusal with its status
//! and stable code; `import` names the place in the file.

use matrix_sync_core::power::{TrustLevel, TrustLevels, power_levels_capacity, remote_entry_places};
use uuid::Uuid;

/// The longest name, in characters.
pub const MAX_NAME: usize = 255;

/// The longest display name, in characters (Synapse's own limit).
pub const MAX_DISPLAY_NAME: usize = 256;

/// The longest request title, in characters.
pub const MAX_TITLE: usize = 255;

/// Why a write is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// `400`: an empty, too long or control-character name.
    #[error("name must be 1 to {MAX_NAME} characters without control characters")]
    InvalidName,
    /// `422`: trust below 0.
    #[error("trust_score must be 0 or more, not {0}")]
    NegativeTrustScore(i64),
    /// `422`: council rooms unencrypted.
    #[error("council rooms are always end-to-end encrypted; matrixCouncilChatsEncrypted cannot be false")]
    UnencryptedCouncils,
    /// `409`: the General room's encryption turned off.
    #[error("the General room is encrypted; encryption cannot be turned off")]
    EncryptionCannotBeDisabled,
    /// `422`: a trust table `TrustLevels::new` refuses.
    #[error("{0}")]
    InvalidTrustLevels(String),
    /// `409`: under an archived community or council.
    #[error("{kind} {id} is archived; restore it first")]
    Archived {
        /// `community` or `council`.
        kind: &'static str,
        /// Its id.
        id: Uuid,
    },
    /// `410`: under a hard-deleted one.
    #[error("{kind} {id} was deleted for good")]
    AlreadyDeleted {
        /// `community` or `council`.
        kind: &'static str,
        /// Its id.
        id: Uuid,
    },
    /// `409`: a council moved to another community.
    #[error("council {council} belongs to community {community}")]
    CouncilInAnotherCommunity {
        /// The council.
        council: Uuid,
        /// The community it was made in.
        community: Uuid,
    },
    /// `400`: an empty or too long display name, or one with control characters.
    #[error("display_name must be 1 to {MAX_DISPLAY_NAME} characters without control characters")]
    InvalidDisplayName,
    /// `400`: an avatar URL that is not an `http(s)://` or `mxc://` URL.
    #[error("avatar_url must be an http, https or mxc URL of at most {MAX_AVATAR_URL} characters")]
    InvalidAvatarUrl,
    /// `400`: a sign-in's picture that is not on the homeserver already:
    /// the service fetches pictures only from the platform's own writes
    /// (never a URL a browser names, which could point inside the network).
    #[error("avatar_url at sign-in must be an mxc:// URI (pictures from elsewhere come through the platform's writes)")]
    SignInAvatarNotMxc,
    /// `422`: a profile for a user of another homeserver (their own
    /// homeserver keeps it).
    #[error("{0} is a user of another homeserver: their name and picture are their homeserver's")]
    RemoteProfile(String),
    /// `400`: a request title too long or with control characters.
    #[error("title must be at most {MAX_TITLE} characters without control characters")]
    InvalidTitle,
    /// `422`: the two users of a request or a direct chat are one.
    #[error("{0}")]
    SameUser(&'static str),
    /// `409`: a request accepted before for other users.
    #[error("request {0} was accepted before for other users")]
    RequestConflict(Uuid),
    /// `409`: a restore of what is not deleted.
    #[error("{kind} {id} is not deleted")]
    NotDeleted {
        /// `community` or `council`.
        kind: &'static str,
        /// Its id.
        id: Uuid,
    },
    /// `409`: a restore once the hard delete is due or under way.
    #[error("{kind} {id} is being deleted for good (its retention ended); it cannot be restored")]
    Purging {
        /// `community` or `council`.
        kind: &'static str,
        /// Its id.
        id: Uuid,
    },
    /// `410`: a restore once the hard delete is done.
    #[error("{kind} {id} was deleted for good after its retention; it cannot be restored")]
    Purged {
        /// `community` or `council`.
        kind: &'static str,
        /// Its id.
        id: Uuid,
    },
    /// `422`: a council of a community not recorded.
    #[error("community {0} is not known; create it first")]
    UnknownCommunity(Uuid),
    /// `422`: a council member who is not in the community.
    #[error("user {user} is not a member of community {community}")]
    NotACommunityMember {
        /// The user as the API names them.
        user: String,
        /// The council's community.
        community: Uuid,
    },
    #[error(
        "a room's power levels can list at most {capacity} members above level 0 on this server (a user of another homeserver with a long id counts as several); this change would make it {total}"
    )]
    /// `422`: more members above level 0 than one power-levels event holds.
    PowerLevelsFull {
        /// The places one power-levels event holds on this server.
        capacity: usize,
        /// The places the change would take.
        total: usize,
    },
}

/// A community's or council's name, trimmed.
pub fn name(raw: &str) -> Result<String, Refusal> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_NAME || trimmed.chars().any(char::is_control) {
        return Err(Refusal::InvalidName);
    }
    Ok(trimmed.to_owned())
}

/// A member's trust score: well-formed when negative, and not allowed.
pub fn trust_score(score: i64) -> Result<i64, Refusal> {
    if score < 0 {
        return Err(Refusal::NegativeTrustScore(score));
    }
    Ok(score)
}

/// `matrixCouncilChatsEncrypted`: only `true` (or absent) is allowed.
pub fn council_encryption(requested: Option<bool>) -> Result<(), Refusal> {
    if requested == Some(false) {
        return Err(Refusal::UnencryptedCouncils);
    }
    Ok(())
}

/// Whether the General room is to be encrypted: once it is, it stays.
pub fn general_encryption(was_encrypted: bool, requested: Option<bool>) -> Result<bool, Refusal> {
    if was_encrypted && requested == Some(false) {
        return Err(Refusal::EncryptionCannotBeDisabled);
    }
    Ok(requested.unwrap_or(was_encrypted))
}

/// A display name, trimmed, when one is given.
pub fn display_name(raw: Option<&str>) -> Result<Option<String>, Refusal> {
    let Some(name) = raw else { return Ok(None) };
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_DISPLAY_NAME || trimmed.chars().any(char::is_control) {
        return Err(Refusal::InvalidDisplayName);
    }
    Ok(Some(trimmed.to_owned()))
}

/// The longest avatar URL taken.
pub const MAX_AVATAR_URL: usize = 2048;

/// An avatar URL, when one is given: `http(s)://` (the service fetches it)
/// or `mxc://` (already on a homeserver).
pub fn avatar_url(raw: Option<&str>) -> Result<Option<String>, Refusal> {
    let Some(raw) = raw else { return Ok(None) };
    let raw = raw.trim();
    let parsed = url::Url::parse(raw).map_err(|_| Refusal::InvalidAvatarUrl)?;
    let fits = raw.len() <= MAX_AVATAR_URL && parsed.host_str().is_some_and(|h| !h.is_empty());
    if !fits || !matches!(parsed.scheme(), "http" | "https" | "mxc") {
        return Err(Refusal::InvalidAvatarUrl);
    }
    Ok(Some(raw.to_owned()))
}

/// A sign-in's picture, when one is given: only `mxc://`.
pub fn sign_in_avatar_url(raw: Option<&str>) -> Result<Option<String>, Refusal> {
    let url = avatar_url(raw)?;
    if url.as_deref().is_some_and(|u| !u.starts_with("mxc://")) {
        return Err(Refusal::SignInAvatarNotMxc);
    }
    Ok(url)
}

/// A request's title, trimmed (an empty one is none).
pub fn title(raw: Option<&str>) -> Result<Option<String>, Refusal> {
    let title = raw.map(str::trim).filter(|t| !t.is_empty());
    if title.is_some_and(|t| t.chars().count() > MAX_TITLE || t.chars().any(char::is_control)) {
        return Err(Refusal::InvalidTitle);
    }
    Ok(title.map(str::to_owned))
}

/// A trust → power-level table, checked.
pub fn trust_levels(levels: Vec<TrustLevel>) -> Result<TrustLevels, Refusal> {
    TrustLevels::new(levels).map_err(|e| Refusal::InvalidTrustLevels(e.to_string()))
}

/// A write to (or under) a community or council: refused once it is
/// hard-deleted (`410`), and while it is archived (`409`: restore it first).
pub fn live(kind: &'static str, id: Uuid, purged_at: Option<i64>, deleted_at: Option<i64>) -> Result<(), Refusal> {
    if purged_at.is_some() {
        return Err(Refusal::AlreadyDeleted { kind, id });
    }
    if deleted_at.is_some() {
        return Err(Refusal::Archived { kind, id });
    }
    Ok(())
}

/// How many places of a power-levels event the members above level 0
/// take: one per user of this server, and as many as a remote user's id
/// needs (`remote`: their Matrix ids).
pub fn power_level_places<'a>(server: &str, local: usize, remote: impl IntoIterator<Item = &'a str>) -> usize {
    remote.into_iter().map(|user| remote_entry_places(user, server)).fold(local, usize::saturating_add)
}

/// Members above level 0 taking `places` still fit in one power-levels event.
pub fn power_levels_fit(server: &str, places: usize) -> Result<(), Refusal> {
    let capacity = power_levels_capacity(server);
    if places > capacity {
        return Err(Refusal::PowerLevelsFull { capacity, total: places });
    }
    Ok(())
}

/// A council stays in the community it was made in.
pub fn council_in(council: Uuid, recorded_community: Uuid, community: Uuid) -> Result<(), Refusal> {
    if recorded_community != community {
        return Err(Refusal::CouncilInAnotherCommunity { council, community: recorded_community });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded_and_free_of_control_characters() {
        assert_eq!(name("  Garden ").unwrap(), "Garden");
        assert_eq!(name(""), Err(Refusal::InvalidName));
        assert_eq!(name("   "), Err(Refusal::InvalidName));
        assert_eq!(name("a\u{7}b"), Err(Refusal::InvalidName));
        assert_eq!(name("line\nbreak"), Err(Refusal::InvalidName));
        assert!(name(&"é".repeat(MAX_NAME)).is_ok());
        assert_eq!(name(&"é".repeat(MAX_NAME + 1)), Err(Refusal::InvalidName));
    }

    #[test]
    fn power_levels_hold_a_bounded_number_of_places() {
        let server = "example.org";
        let capacity = power_levels_capacity(server);
        assert_eq!(power_levels_fit(server, capacity), Ok(()));
        assert_eq!(
            power_levels_fit(server, capacity + 1),
            Err(Refusal::PowerLevelsFull { capacity, total: capacity + 1 })
        );
        // A remote user with a long id takes more than one place.
        let long = format!("@{}:{}", "x".repeat(200), "elsewhere.example");
        assert_eq!(power_level_places(server, 3, []), 3);
        assert!(power_level_places(server, 3, [long.as_str()]) > 4);
    }

    #[test]
    fn encryption_only_goes_one_way() {
        assert_eq!(general_encryption(false, None), Ok(false));
        assert_eq!(general_encryption(false, Some(true)), Ok(true));
        assert_eq!(general_encryption(true, None), Ok(true));
        assert_eq!(general_encryption(true, Some(false)), Err(Refusal::EncryptionCannotBeDisabled));
        assert_eq!(council_encryption(Some(false)), Err(Refusal::UnencryptedCouncils));
        assert_eq!(council_encryption(None), Ok(()));
    }

    #[test]
    fn deleted_parents_refuse_writes_archived_first_then_for_good() {
        let id = Uuid::nil();
        assert_eq!(live("community", id, None, None), Ok(()));
        assert_eq!(live("community", id, None, Some(1)), Err(Refusal::Archived { kind: "community", id }));
        assert_eq!(live("council", id, Some(2), Some(1)), Err(Refusal::AlreadyDeleted { kind: "council", id }));
    }
}
