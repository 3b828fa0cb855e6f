//! Helpers shared by the integration tests and the demo: the settings of the
//! local homeserver that `dev/synapse.sh` started, and a plain Matrix client
//! that acts as one user with their own access token, to check what a user
//! really sees. It deliberately shares no code with the service.

#![recursion_limit = "256"]
// Test support: a panic with its message is how a failed set-up is reported.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod encrypted_user;
mod flaky_proxy;
mod homeserver;
mod homeserver_process;
mod idp;
mod key_backup_reader;
mod user_client;

pub use encrypted_user::{EncryptedUser, SeenMessage};
pub use flaky_proxy::{Faults, FlakyProxy, ProxyCounts};
pub use homeserver::{LocalHomeserver, workspace_root};
pub use homeserver_process::HomeserverProcess;
pub use idp::{AUDIENCE, TestIdentityProvider, now_secs};
pub use key_backup_reader::{backup_public_key, decrypt_with_session_key, open_backed_up_key};
pub use user_client::{MatrixError, UserClient, encode as encode_segment};
