//! The homeserver side of matrix-sync: the application-service client that
//! acts for the platform's users, and the registration the homeserver needs.

mod accounts;
mod client;
mod erase;
mod error;
mod key_backup;
mod media;
mod metrics;
mod registration;
mod rooms;
mod unread;

pub use accounts::{Registered, UserSession};
pub use client::{AppserviceClient, ClientSettings};
pub use error::HomeserverError;
pub use key_backup::{BACKUP_ALGORITHM, BackupVersion};
pub use metrics::{CallLabels, HomeserverMetrics};
pub use registration::Registration;
pub use rooms::{CreatedRoom, MEGOLM, Moderation, NewRoom, ROOM_VERSION, join_rule_content, observed_room};
pub use unread::UnreadRoom;
