//! How platform identities map to Matrix identities.
//!
//! A platform user is a UUID (the identity provider's user id); their Matrix id
//! is `@{uuid}:{server_name}` with the lowercase, hyphenated UUID. The
//! appservice's exclusive namespace is exactly those localparts.

use ruma::{OwnedServerName, OwnedUserId, ServerName, UserId};
use uuid::Uuid;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("`{0}` is not a valid Matrix server name")]
    ServerName(String),
    #[error("`{0}` is not a valid Matrix user id")]
    UserId(String),
    #[error("the bot `{bot}` must be a user on `{server}`")]
    BotOnOtherServer { bot: String, server: String },
    #[error("the bot's localpart `{0}` must not be UUID-shaped (those belong to platform users)")]
    BotIsPlatformUser(String),
}

/// The mapping between platform users and Matrix users on one homeserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixIds {
    server_name: OwnedServerName,
    bot: OwnedUserId,
}

impl MatrixIds {
    pub fn new(server_name: &str, bot_user_id: &str) -> Result<Self, IdError> {
        let server_name = ServerName::parse(server_name).map_err(|_| IdError::ServerName(server_name.to_owned()))?;
        let bot = UserId::parse(bot_user_id).map_err(|_| IdError::UserId(bot_user_id.to_owned()))?;
        if bot.server_name() != server_name {
            return Err(IdError::BotOnOtherServer { bot: bot.to_string(), server: server_name.to_string() });
        }
        if Uuid::try_parse(bot.localpart()).is_ok() {
            return Err(IdError::BotIsPlatformUser(bot.localpart().to_owned()));
        }
        Ok(Self { server_name, bot })
    }

    pub fn server_name(&self) -> &ServerName {
        &self.server_name
    }

    pub fn bot(&self) -> &UserId {
        &self.bot
    }

    /// The Matrix id of a platform user: `@{uuid}:{server}`.
    #[allow(clippy::expect_used)]
    pub fn user(&self, user: Uuid) -> OwnedUserId {
        // A lowercase hyphenated UUID is always a valid localpart and the
        // server name was validated in `new`, so parsing cannot fail.
        UserId::parse(format!("@{}:{}", user.hyphenated(), self.server_name))
            .expect("a UUID localpart on a validated server name is a valid user id")
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

    /// The regular expression of the appservice's exclusive user namespace:
    /// UUID-shaped localparts on this server.
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
        format!("{}-appservice", self.bot.localpart())
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

    fn ids_for(server: &str) -> MatrixIds {
        MatrixIds::new(server, &format!("@matrix-sync:{server}")).unwrap()
    }
}
