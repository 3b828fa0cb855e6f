//! How platform identities map to Matrix identities.
//!
//! A platform user is a UUID (the identity provider's user id); their Matrix id
//! is `@{uuid}:{server_name}` with the lowercase, hyphenated UUID. The
//! appservice's user namespace is exactly those localparts.

use ruma::{OwnedServerName, OwnedUserId, ServerName, UserId};
use uuid::Uuid;

/// A malformed server name or user id, or one outside what the service may use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    /// Not a server name.
    #[error("`{0}` is not a valid Matrix server name")]
    ServerName(String),
    /// Not a user id.
    #[error("`{0}` is not a valid Matrix user id")]
    UserId(String),
    /// The bot is a user of another server.
    #[error("the bot `{bot}` must be a user on `{server}`")]
    BotOnOtherServer {
        /// The bot's id.
        bot: String,
        /// This server.
        server: String,
    },
    /// The bot's localpart is a platform user's.
    #[error("the bot's localpart `{0}` must not be UUID-shaped (those belong to platform users)")]
    BotIsPlatformUser(String),
    /// Neither a UUID nor a Matrix id.
    #[error("`{0}` is neither a platform user's UUID nor a full Matrix user id (`@name:server`)")]
    UserRef(String),
    /// A user of this server outside the platform's namespace.
    #[error("`{0}` is on this homeserver but is not a platform user (their localpart is not a UUID)")]
    LocalNonPlatformUser(String),
}

/// A user as the API names them: a platform user by UUID, or a user of
/// another homeserver by full Matrix id (federation: invited, never
/// provisioned).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserRef {
    /// A platform user, by UUID.
    Platform(Uuid),
    /// A user of another homeserver, by Matrix id.
    Remote(OwnedUserId),
}

/// The namespace of remote users' keys (a fixed, random UUID): rows about a
/// remote user are keyed by the name-based UUID of their Matrix id.
const REMOTE_USER_NAMESPACE: Uuid = Uuid::from_u128(0x1f6b_8c3a_57d2_4e91_a0c4_3d7e_95b2_6a18);

impl UserRef {
    /// The key the store files the user under: the platform UUID, or for a
    /// remote user the name-based UUID of their Matrix id.
    pub fn key(&self) -> Uuid {
        match self {
            UserRef::Platform(id) => *id,
            UserRef::Remote(user) => Uuid::new_v5(&REMOTE_USER_NAMESPACE, user.as_str().as_bytes()),
        }
    }

    /// Whether the user is on another homeserver.
    pub fn is_remote(&self) -> bool {
        matches!(self, UserRef::Remote(_))
    }

    /// How the API names the user in answers: the UUID, or the Matrix id.
    pub fn api_id(&self) -> String {
        match self {
            UserRef::Platform(id) => id.hyphenated().to_string(),
            UserRef::Remote(user) => user.to_string(),
        }
    }
}

/// The mapping between platform users and Matrix users on one homeserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixIds {
    server_name: OwnedServerName,
    bot: OwnedUserId,
    manager: OwnedUserId,
}

impl MatrixIds {
    /// The ids on `server_name` with the bot `bot_user_id` (its managing identity is
    /// `@<bot>-appservice`).
    pub fn new(server_name: &str, bot_user_id: &str) -> Result<Self, IdError> {
        let server_name = ServerName::parse(server_name).map_err(|_| IdError::ServerName(server_name.to_owned()))?;
        let bot = UserId::parse(bot_user_id).map_err(|_| IdError::UserId(bot_user_id.to_owned()))?;
        if bot.server_name() != server_name {
            return Err(IdError::BotOnOtherServer { bot: bot.to_string(), server: server_name.to_string() });
        }
        if Uuid::try_parse(bot.localpart()).is_ok() {
            return Err(IdError::BotIsPlatformUser(bot.localpart().to_owned()));
        }
        let manager = UserId::parse(format!("@{}-appservice:{}", bot.localpart(), server_name))
            .map_err(|_| IdError::UserId(bot_user_id.to_owned()))?;
        Ok(Self { server_name, bot, manager })
    }

    /// This homeserver's name.
    pub fn server_name(&self) -> &ServerName {
        &self.server_name
    }

    /// The bot: the user with an end-to-end encryption device that sends
    /// the service's messages, in a room only while it speaks there.
    pub fn bot(&self) -> &UserId {
        &self.bot
    }

    /// The managing identity: the appservice's sender, which creates and
    /// administers every room (as room version 12's creator it outranks
    /// every admin). It never syncs and has no device, so no member's
    /// client can ever hand it a room key.
    pub fn manager(&self) -> &UserId {
        &self.manager
    }

    /// Whether a user is one of the service's own identities (the manager,
    /// or the bot, which created and administers rooms made before the
    /// manager did).
    pub fn is_service(&self, user: &UserId) -> bool {
        user == self.bot || user == self.manager
    }

    /// The Matrix id of a platform user: `@{uuid}:{server}`.
    #[allow(clippy::expect_used)]
    pub fn user(&self, user: Uuid) -> OwnedUserId {
        // A lowercase hyphenated UUID is always a valid localpart and the
        // server name was validated in `new`, so parsing cannot fail.
        UserId::parse(format!("@{}:{}", user.hyphenated(), self.server_name))
            .expect("a UUID localpart on a validated server name is a valid user id")
    }

    /// The Matrix id of a user the API names.
    pub fn matrix_id(&self, user: &UserRef) -> OwnedUserId {
        match user {
            UserRef::Platform(id) => self.user(*id),
            UserRef::Remote(user) => user.clone(),
        }
    }

    /// Reads a user as the API takes them: a platform user's UUID, or a full
    /// Matrix id. A Matrix id on this server must be a platform user's (the
    /// service manages no one else here); one on another server is remote.
    pub fn parse_user(&self, raw: &str) -> Result<UserRef, IdError> {
        if !raw.starts_with('@') {
            return match Uuid::try_parse(raw) {
                Ok(id) if raw.len() == 36 => Ok(UserRef::Platform(id)),
                _ => Err(IdError::UserRef(raw.chars().take(64).collect())),
            };
        }
        let user = UserId::parse(raw)
            .ok()
            .filter(|u| !u.localpart().is_empty())
            .ok_or_else(|| IdError::UserRef(raw.chars().take(300).collect()))?;
        if user.server_name() != self.server_name {
            return Ok(UserRef::Remote(user));
        }
        self.platform_user(&user).map(UserRef::Platform).ok_or_else(|| IdError::LocalNonPlatformUser(user.to_string()))
    }

    /// Whether a Matrix id is on another homeserver.
    pub fn is_remote(&self, user: &UserId) -> bool {
        user.server_name() != self.server_name
    }

    /// The localpart the appservice registers for a platform user.
    pub fn localpart(user: Uuid) -> String {
        user.hyphenated().to_string()
    }

    /// The platform user behind a Matrix id, if it is one of ours.
    pub fn platform_user(&self, user_id: &UserId) -> Option<Uuid> {
        if user_id.server_name() != self.server_name {
            return None;
        }
        let uuid = Uuid::try_parse(user_id.localpart()).ok()?;
        // Only the canonical lowercase hyphenated spelling is in our namespace.
        (uuid.hyphenated().to_string() == user_id.localpart()).then_some(uuid)
    }

    /// The regular expression of the appservice's user namespace:
    /// UUID-shaped localparts on this server (not exclusive, so that the
    /// homeserver counts their unread messages; registration is closed).
    pub fn user_namespace_regex(&self) -> String {
        format!(
            "@[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}:{}",
            regex_escape(self.server_name.as_str())
        )
    }

    /// The regular expression matching the bot exactly.
    pub fn bot_regex(&self) -> String {
        regex_escape(self.bot.as_str())
    }

    /// The appservice's sender localpart: a name the namespace reserves that
    /// is not the bot (Synapse refuses `/sync` to the sender, and the bot
    /// must sync to speak end-to-end encryption).
    pub fn sender_localpart(&self) -> String {
        self.manager.localpart().to_owned()
    }

    /// The regular expression of the room aliases the service reserves, which
    /// give every room it creates a deterministic, recoverable identity.
    pub fn alias_namespace_regex(&self) -> String {
        format!("#_matrix_sync_.*:{}", regex_escape(self.server_name.as_str()))
    }
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> MatrixIds {
        MatrixIds::new("example.org", "@matrix-sync:example.org").unwrap()
    }

    #[test]
    fn user_id_is_lowercase_hyphenated_uuid() {
        let u = Uuid::parse_str("550E8400-E29B-41D4-A716-446655440000").unwrap();
        assert_eq!(ids().user(u).as_str(), "@550e8400-e29b-41d4-a716-446655440000:example.org");
    }

    #[test]
    fn platform_user_round_trips_and_rejects_foreign_ids() {
        let u = Uuid::new_v4();
        let ids = ids();
        assert_eq!(ids.platform_user(&ids.user(u)), Some(u));
        let other = UserId::parse(format!("@{u}:elsewhere.org")).unwrap();
        assert_eq!(ids.platform_user(&other), None);
        assert_eq!(ids.platform_user(ids.bot()), None);
        let simple = UserId::parse(format!("@{}:example.org", u.simple())).unwrap();
        assert_eq!(ids.platform_user(&simple), None);
    }

    #[test]
    fn bot_must_be_on_the_server_and_not_uuid_shaped() {
        assert!(matches!(MatrixIds::new("example.org", "@bot:other.org"), Err(IdError::BotOnOtherServer { .. })));
        let uuid_bot = format!("@{}:example.org", Uuid::new_v4());
        assert!(matches!(MatrixIds::new("example.org", &uuid_bot), Err(IdError::BotIsPlatformUser(_))));
        assert!(matches!(MatrixIds::new("exa mple", "@bot:exa mple"), Err(IdError::ServerName(_))));
        assert!(matches!(MatrixIds::new("example.org", "bot"), Err(IdError::UserId(_))));
    }

    #[test]
    fn namespace_regex_escapes_the_server_name() {
        let ids = MatrixIds::new("localhost:8448", "@matrix-sync:localhost:8448").unwrap();
        assert!(ids.user_namespace_regex().ends_with(":localhost:8448"));
        let ids = ids_for("chat.example.org");
        assert!(ids.user_namespace_regex().ends_with(":chat\\.example\\.org"));
        assert_eq!(ids.bot_regex(), "@matrix-sync:chat\\.example\\.org");
        assert_eq!(ids.sender_localpart(), "matrix-sync-appservice");
    }

    #[test]
    fn users_are_uuids_or_full_matrix_ids() {
        let ids = ids();
        let u = Uuid::new_v4();
        assert_eq!(ids.parse_user(&u.to_string()), Ok(UserRef::Platform(u)));
        assert_eq!(ids.parse_user(&u.to_string().to_uppercase()), Ok(UserRef::Platform(u)));
        assert_eq!(ids.parse_user(ids.user(u).as_str()), Ok(UserRef::Platform(u)));
        let remote = ids.parse_user("@bob:other.org:8448").unwrap();
        assert!(remote.is_remote());
        assert_eq!(remote.api_id(), "@bob:other.org:8448");
        assert_eq!(ids.matrix_id(&remote).as_str(), "@bob:other.org:8448");
        assert!(matches!(ids.parse_user("@alice:example.org"), Err(IdError::LocalNonPlatformUser(_))));
        assert!(matches!(ids.parse_user(ids.bot().as_str()), Err(IdError::LocalNonPlatformUser(_))));
        for bad in ["", "bob", "@bob", "@:x", &u.simple().to_string(), "not a uuid at all"] {
            assert!(matches!(ids.parse_user(bad), Err(IdError::UserRef(_))), "{bad}");
        }
    }

    #[test]
    fn a_remote_users_key_is_stable_and_never_their_uuid_localpart() {
        let ids = ids();
        let u = Uuid::new_v4();
        let remote = ids.parse_user(&format!("@{u}:other.org")).unwrap();
        assert_ne!(remote.key(), u);
        assert_eq!(remote.key(), ids.parse_user(&format!("@{u}:other.org")).unwrap().key());
        assert_ne!(remote.key(), ids.parse_user(&format!("@{u}:third.org")).unwrap().key());
    }

    fn ids_for(server: &str) -> MatrixIds {
        MatrixIds::new(server, &format!("@matrix-sync:{server}")).unwrap()
    }
}
