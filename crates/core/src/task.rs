//! A task is what one job of the queue does: reconcile a scope's rooms,
//! bring a user's homeserver profile to what the platform says, or deliver
//! one message notice to the platform's webhook. The queue holds at most
//! one job per task.

use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

use crate::Scope;

/// What one job does (its text form is `kind:uuid`; a reconcile's is its
/// scope's, so jobs stored before tasks existed still read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Task {
    /// Reconcile a scope's rooms.
    Reconcile(Scope),
    /// A platform user's profile on the homeserver: display name and avatar.
    Profile(Uuid),
    /// One notice to the platform's webhook (the id of its delivery row).
    Webhook(Uuid),
}

impl Task {
    /// The kind, as in the text form.
    pub fn kind(&self) -> &'static str {
        match self {
            Task::Reconcile(scope) => scope.kind(),
            Task::Profile(_) => "profile",
            Task::Webhook(_) => "webhook",
        }
    }

    /// The id: the scope's, the user's, or the delivery's.
    pub fn id(&self) -> Uuid {
        match self {
            Task::Reconcile(scope) => scope.id(),
            Task::Profile(id) | Task::Webhook(id) => *id,
        }
    }

    /// The scope, if the task reconciles one.
    pub fn scope(&self) -> Option<Scope> {
        match self {
            Task::Reconcile(scope) => Some(*scope),
            Task::Profile(_) | Task::Webhook(_) => None,
        }
    }
}

impl From<Scope> for Task {
    fn from(scope: Scope) -> Self {
        Task::Reconcile(scope)
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Task::Reconcile(scope) => scope.fmt(f),
            Task::Profile(user) => write!(f, "profile:{}", user.hyphenated()),
            Task::Webhook(id) => write!(f, "webhook:{}", id.hyphenated()),
        }
    }
}

/// Not the text form of a task.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a task (expected `community|council|request|direct|profile|webhook:<uuid>`)")]
pub struct TaskParseError(String);

impl FromStr for Task {
    type Err = TaskParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(scope) = s.parse::<Scope>() {
            return Ok(Task::Reconcile(scope));
        }
        let err = || TaskParseError(s.to_owned());
        let (kind, id) = s.split_once(':').ok_or_else(err)?;
        let id = Uuid::try_parse(id).map_err(|_| err())?;
        match kind {
            "profile" => Ok(Task::Profile(id)),
            "webhook" => Ok(Task::Webhook(id)),
            _ => Err(err()),
        }
    }
}

/// A task as stored (its text form).
impl TryFrom<String> for Task {
    type Error = TaskParseError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn text_form_round_trips(bytes in any::<[u8; 16]>(), kind in 0u8..6) {
            let id = Uuid::from_bytes(bytes);
            let task = match kind {
                0 => Task::Reconcile(Scope::Community(id)),
                1 => Task::Reconcile(Scope::Council(id)),
                2 => Task::Reconcile(Scope::Direct(id)),
                3 => Task::Reconcile(Scope::Request(id)),
                4 => Task::Profile(id),
                _ => Task::Webhook(id),
            };
            prop_assert_eq!(task.to_string().parse::<Task>(), Ok(task));
        }
    }

    #[test]
    fn a_reconcile_reads_as_its_scope() {
        let id = "550e8400-e29b-41d4-a716-446655440000";
        assert_eq!(
            format!("community:{id}").parse::<Task>(),
            Ok(Task::Reconcile(Scope::Community(id.parse().unwrap())))
        );
        assert!(format!("user:{id}").parse::<Task>().is_err());
        assert!("profile:nope".parse::<Task>().is_err());
    }
}
