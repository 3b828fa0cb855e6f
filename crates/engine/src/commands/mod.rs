//! The writes of desired state, for the HTTP handlers and `import` alike:
//! each checks every rule (`crate::rules`: validation, capacity, role
//! defaults, archived parents) against what is recorded, then records the
//! change with its job in one store write and wakes the workers. A caller
//! parses its input into the plain arguments here and turns the outcome
//! into its own answer; no rule is applied anywhere else.

mod community;
mod council;
mod lifecycle;
mod requests;
mod users;

pub use community::{
    CommunityWrite, MemberWritten, check_community, put_community, put_member, remove_member, stored_community,
};
pub use council::{CouncilWrite, check_council, live_council, put_council, put_council_member, remove_council_member};
pub use lifecycle::{delete_community, delete_council, restore_community, restore_council};
pub use requests::{RequestWrite, accept_request, put_direct};
pub use users::{ProfileInput, check_member_profile, profile_from_sign_in, put_member_profile, put_profile, put_user};

use matrix_sync_matrix::HomeserverError;
use matrix_sync_store::StoreError;

use crate::rules::Refusal;

/// Why a command changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A rule refused the write.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// What the write names, or acts under, is not recorded.
    #[error("{0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The homeserver refused or did not answer (a write that acts on it
    /// at once: provisioning a user).
    #[error(transparent)]
    Homeserver(#[from] HomeserverError),
}

impl From<crate::provision::ProvisionError> for CommandError {
    fn from(e: crate::provision::ProvisionError) -> Self {
        match e {
            crate::provision::ProvisionError::Homeserver(e) => e.into(),
            crate::provision::ProvisionError::Store(e) => e.into(),
        }
    }
}
