//! What a room of the service's is for, in the platform's words: the kind
//! and the platform id a notice or an unread count names.

use matrix_sync_core::Scope;
use matrix_sync_core::rooms::RoomRole;
use matrix_sync_store::{RoomRecord, StoreError};
use uuid::Uuid;

use crate::Engine;

/// What a room of the service's is for, as the platform names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomPurpose {
    /// `general`, `council`, `dm`, or `space` (a community's or council's).
    pub kind: &'static str,
    /// The community, the council, or the latest request a DM coordinates
    /// (`None` for a DM no request made).
    pub scope_id: Option<Uuid>,
}

impl RoomPurpose {
    /// The purpose of a room the service made.
    pub async fn of(engine: &Engine, room: &RoomRecord) -> Result<Self, StoreError> {
        let kind = match room.role {
            RoomRole::Space => "space",
            RoomRole::General => "general",
            RoomRole::Discussion => "council",
            RoomRole::Direct => "dm",
        };
        let scope_id = match room.scope {
            Scope::Community(id) | Scope::Council(id) | Scope::Request(id) => Some(id),
            Scope::Direct(pair) => engine.store.requests_of_pair(pair).await?.first().map(|r| r.id),
        };
        Ok(Self { kind, scope_id })
    }
}
