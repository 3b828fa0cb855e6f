//! The rooms a scope owns on the homeserver, and their deterministic
//! identities: each room carries an alias in the appservice's exclusive
//! namespace, so a creation that is retried after a crash finds the room it
//! made instead of making a second one.

use crate::Scope;

/// Which of its scope's rooms a room is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoomRole {
    /// A community's or council's Space.
    Space,
    /// A community's General room.
    General,
    /// A council's discussion room.
    Discussion,
    /// The direct chat of two users.
    Direct,
}

/// A role as stored.
impl TryFrom<String> for RoomRole {
    type Error = crate::stored::UnknownValue;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or_else(|| crate::stored::UnknownValue::new("room role", value))
    }
}

impl RoomRole {
    /// The stored name (`space`, `general`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            RoomRole::Space => "space",
            RoomRole::General => "general",
            RoomRole::Discussion => "discussion",
            RoomRole::Direct => "direct",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "space" => Some(RoomRole::Space),
            "general" => Some(RoomRole::General),
            "discussion" => Some(RoomRole::Discussion),
            "direct" => Some(RoomRole::Direct),
            _ => None,
        }
    }
}

/// A room by what it is for, before or after it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomKey {
    /// The scope the room serves.
    pub scope: Scope,
    /// What it is for there.
    pub role: RoomRole,
}

/// The prefix of every alias the service reserves (see the registration).
pub const ALIAS_PREFIX: &str = "_matrix_sync_";

/// Every room's `m.room.history_visibility`: members read what was said
/// since they were first in the room, nobody outside reads anything. Set at
/// creation and never changed, so any other value is drift.
pub const HISTORY_VISIBILITY: &str = "shared";

impl RoomKey {
    /// The room for `role` of `scope`.
    pub fn new(scope: Scope, role: RoomRole) -> Self {
        Self { scope, role }
    }

    /// The localpart of the room's alias: `_matrix_sync_{kind}_{uuid}_{role}`.
    pub fn alias_localpart(&self) -> String {
        format!("{ALIAS_PREFIX}{}_{}_{}", self.scope.kind(), self.scope.id().simple(), self.role.as_str())
    }

    /// The full alias on a server.
    pub fn alias(&self, server_name: &str) -> String {
        format!("#{}:{server_name}", self.alias_localpart())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn aliases_are_deterministic_and_distinct() {
        let id = Uuid::parse_str("550e8400-e29b-41d4-a716-446655440000").unwrap();
        let space = RoomKey::new(Scope::Community(id), RoomRole::Space);
        assert_eq!(
            space.alias("example.org"),
            "#_matrix_sync_community_550e8400e29b41d4a716446655440000_space:example.org"
        );
        let general = RoomKey::new(Scope::Community(id), RoomRole::General);
        let council = RoomKey::new(Scope::Council(id), RoomRole::Space);
        assert_ne!(space.alias_localpart(), general.alias_localpart());
        assert_ne!(space.alias_localpart(), council.alias_localpart());
        for role in [RoomRole::Space, RoomRole::General, RoomRole::Discussion, RoomRole::Direct] {
            assert_eq!(RoomRole::parse(role.as_str()), Some(role));
        }
    }
}
