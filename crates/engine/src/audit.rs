//! The audit trail: every room created, member joined or removed, power
//! level changed and drift reverted is stored (for `GET /v1/audit`) and
//! logged as a structured event.

use matrix_sync_core::MatrixIds;
use matrix_sync_core::plan::{Action, LevelChange, Lifecycle};
use matrix_sync_core::power::ADMIN_LEVEL;
use matrix_sync_core::rooms::HISTORY_VISIBILITY;
use matrix_sync_store::{NewAuditEntry, Store, StoreError};
use uuid::Uuid;

/// Where an entry belongs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditScope {
    /// The community the entry is about, if any.
    pub community_id: Option<Uuid>,
    /// The council the entry is about, if any.
    pub council_id: Option<Uuid>,
}

/// Why a level changed: a drift repair, a role (admin is the role's level),
/// or trust.
fn level_cause(change: &LevelChange, drift: bool) -> &'static str {
    if drift {
        "drift"
    } else if change.old == ADMIN_LEVEL || change.new == ADMIN_LEVEL {
        "role"
    } else {
        "trust"
    }
}

/// What a user of another homeserver's entry says: the service invites
/// them; joining is theirs to do.
const REMOTE_INVITED: &str = "invited: a user of another homeserver, who joins from their own server";

/// The entries an applied action leaves. `room_id` is the room it acted on.
pub fn entries_for(action: &Action, room_id: &str, scope: AuditScope, ids: &MatrixIds, at: i64) -> Vec<NewAuditEntry> {
    let base = |action: &str, cause: &str| NewAuditEntry {
        at,
        action: action.to_owned(),
        community_id: scope.community_id,
        council_id: scope.council_id,
        room_id: Some(room_id.to_owned()),
        cause: Some(cause.to_owned()),
        ..NewAuditEntry::default()
    };
    match action {
        Action::CreateRoom { key, name, .. } => vec![NewAuditEntry {
            detail: Some(match name {
                Some(name) => format!("{} \"{name}\"", key.role.as_str()),
                None => key.role.as_str().to_owned(),
            }),
            ..base("room_created", "lifecycle")
        }],
        // A local user's arrival is their join; a remote user's, as far as
        // the service goes, their invitation.
        Action::Invite { user, .. } if ids.is_remote(user) => vec![NewAuditEntry {
            user_id: Some(user.to_string()),
            detail: Some(REMOTE_INVITED.into()),
            ..base("member_joined", "lifecycle")
        }],
        Action::SetPowerLevels { changes, drift, lifecycle, .. } => {
            let mut entries = Vec::new();
            match lifecycle {
                Some(Lifecycle::Archived) => entries.push(NewAuditEntry {
                    detail: Some("read-only: only admins and the bot may post; nobody may join".into()),
                    ..base("room_archived", "lifecycle")
                }),
                Some(Lifecycle::Restored) => entries.push(base("room_restored", "lifecycle")),
                None => {}
            }
            if *drift {
                entries.push(NewAuditEntry {
                    detail: Some("power levels changed outside the service were restored".into()),
                    ..base("drift_reverted", "drift")
                });
            }
            entries.extend(changes.iter().map(|c| NewAuditEntry {
                user_id: Some(c.user.to_string()),
                old_level: Some(c.old),
                new_level: Some(c.new),
                ..base("power_level_changed", level_cause(c, *drift))
            }));
            entries
        }
        Action::SetJoinRule { drift: true, .. } => {
            vec![NewAuditEntry { detail: Some("join rule restored".into()), ..base("drift_reverted", "drift") }]
        }
        Action::SetName { name, drift: true, .. } => vec![NewAuditEntry {
            detail: Some(format!("name restored to \"{name}\"")),
            ..base("drift_reverted", "drift")
        }],
        Action::SetHistoryVisibility { was, .. } => vec![NewAuditEntry {
            detail: Some(format!(
                "history visibility restored to {HISTORY_VISIBILITY} (was {})",
                was.as_deref().unwrap_or("unset")
            )),
            ..base("drift_reverted", "drift")
        }],
        Action::LinkChild { drift: true, .. } => {
            vec![NewAuditEntry { detail: Some("Space child link restored".into()), ..base("drift_reverted", "drift") }]
        }
        Action::LinkParent { drift: true, .. } => {
            vec![NewAuditEntry { detail: Some("Space parent link restored".into()), ..base("drift_reverted", "drift") }]
        }
        Action::Join { user, .. } => {
            vec![NewAuditEntry { user_id: Some(user.to_string()), ..base("member_joined", "lifecycle") }]
        }
        Action::Kick { user, .. } => {
            vec![NewAuditEntry { user_id: Some(user.to_string()), ..base("member_removed", "lifecycle") }]
        }
        _ => Vec::new(),
    }
}

/// Stores the entries and logs each one.
pub async fn record(store: &dyn Store, entries: &[NewAuditEntry]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    store.append_audit(entries).await?;
    for e in entries {
        tracing::info!(
            target: "matrix_sync::audit",
            action = e.action,
            community_id = e.community_id.map(|id| id.to_string()),
            council_id = e.council_id.map(|id| id.to_string()),
            room_id = e.room_id,
            user_id = e.user_id,
            old_level = e.old_level,
            new_level = e.new_level,
            cause = e.cause,
            detail = e.detail,
            "audit"
        );
    }
    Ok(())
}

/// The entry a hard-deleted room leaves.
pub fn room_deleted(room_id: &str, scope: AuditScope, detail: &str, at: i64) -> NewAuditEntry {
    NewAuditEntry {
        at,
        action: "room_deleted".into(),
        community_id: scope.community_id,
        council_id: scope.council_id,
        room_id: Some(room_id.to_owned()),
        cause: Some("lifecycle".into()),
        detail: Some(detail.to_owned()),
        ..NewAuditEntry::default()
    }
}
