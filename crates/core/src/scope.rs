//! A scope is the unit of reconciliation: the job queue holds at most one
//! pending job per scope (its `Task::Reconcile`), and a worker reconciles
//! one scope at a time.

use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// What one job reconciles (its text form is `kind:uuid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// A community: its Space, its General room and their members.
    Community(Uuid),
    /// A council: its Space, its discussion room and their members.
    Council(Uuid),
    /// An accepted request: its coordination DM and the bot's message.
    Request(Uuid),
    /// The direct chat of a pair of users (the id is the pair's).
    Direct(Uuid),
}

impl Scope {
    /// The kind, as in the text form.
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Community(_) => "community",
            Scope::Council(_) => "council",
            Scope::Request(_) => "request",
            Scope::Direct(_) => "direct",
        }
    }

    /// The id of the community, council, request or pair.
    pub fn id(&self) -> Uuid {
        match self {
            Scope::Community(id) | Scope::Council(id) | Scope::Request(id) | Scope::Direct(id) => *id,
        }
    }
}

/// The stable text form stored in the job queue: `kind:uuid`.
impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.id().hyphenated())
    }
}

/// Not the text form of a scope.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a scope (expected `community|council|request|direct:<uuid>`)")]
pub struct ScopeParseError(String);

/// A scope as stored (its text form).
impl TryFrom<String> for Scope {
    type Error = ScopeParseError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl FromStr for Scope {
    type Err = ScopeParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ScopeParseError(s.to_owned());
        let (kind, id) = s.split_once(':').ok_or_else(err)?;
        let id = Uuid::try_parse(id).map_err(|_| err())?;
        match kind {
            "community" => Ok(Scope::Community(id)),
            "council" => Ok(Scope::Council(id)),
            "request" => Ok(Scope::Request(id)),
            "direct" => Ok(Scope::Direct(id)),
            _ => Err(err()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn text_form_round_trips(bytes in any::<[u8; 16]>(), kind in 0u8..4) {
            let id = Uuid::from_bytes(bytes);
            let scope = match kind {
                0 => Scope::Community(id),
                1 => Scope::Council(id),
                2 => Scope::Direct(id),
                _ => Scope::Request(id),
            };
            prop_assert_eq!(scope.to_string().parse::<Scope>(), Ok(scope));
        }
    }

    #[test]
    fn rejects_unknown_kinds_and_bad_ids() {
        assert!("room:550e8400-e29b-41d4-a716-446655440000".parse::<Scope>().is_err());
        // A profile is a task, not a scope (`task.rs`).
        assert!("profile:550e8400-e29b-41d4-a716-446655440000".parse::<Scope>().is_err());
        assert!("community:nope".parse::<Scope>().is_err());
        assert!("community".parse::<Scope>().is_err());
    }
}
