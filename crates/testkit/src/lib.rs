//! Helpers shared by the integration tests and the demo: the settings of the
//! local homeserver that `dev/synapse.sh` started, and a plain Matrix client
//! that acts as one user with their own access token, to check what a user
//! really sees. It deliberately shares no code with the service.

mod homeserver;
mod user_client;

pub use homeserver::LocalHomeserver;
pub use user_client::{MatrixError, UserClient, encode as encode_segment};
