//! Reading the service's own values back from their text form (as the
//! store keeps them): anything else is an error, never a default.

/// A text that is none of a type's values.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("`{value}` is not a {what}")]
pub struct UnknownValue {
    /// What was expected (`community member role`, …).
    pub what: &'static str,
    /// What was found.
    pub value: String,
}

impl UnknownValue {
    pub(crate) fn new(what: &'static str, value: String) -> Self {
        Self { what, value }
    }
}

#[cfg(test)]
mod tests {
    use crate::Scope;
    use crate::power::{CommunityRole, CouncilRole, TrustLevels};
    use crate::rooms::RoomRole;

    #[test]
    fn stored_values_read_back_and_nothing_else_does() {
        assert_eq!(CommunityRole::try_from("admin".to_owned()), Ok(CommunityRole::Admin));
        assert_eq!(CouncilRole::try_from("moderator".to_owned()), Ok(CouncilRole::Moderator));
        assert_eq!(RoomRole::try_from("general".to_owned()), Ok(RoomRole::General));
        let scope = Scope::Community(uuid::Uuid::nil());
        assert_eq!(Scope::try_from(scope.to_string()), Ok(scope));
        let table = serde_json::to_string(&TrustLevels::default()).unwrap();
        assert_eq!(TrustLevels::try_from(table).unwrap(), TrustLevels::default());

        let unknown = CommunityRole::try_from("owner".to_owned()).unwrap_err();
        assert_eq!(unknown.to_string(), "`owner` is not a community member role");
        assert!(RoomRole::try_from(String::new()).is_err());
        assert!(Scope::try_from("user:00000000-0000-0000-0000-000000000000".to_owned()).is_err());
        assert!(TrustLevels::try_from(r#"[{"min_trust": 5, "power_level": 10}]"#.to_owned()).is_err(), "no floor");
    }
}
