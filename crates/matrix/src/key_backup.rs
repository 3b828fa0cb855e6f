//! Server-side key backup (`/room_keys`) of the platform's users, made and
//! filled by the service acting as them, and the devices of their chat
//! sessions.

use reqwest::Method;
use ruma::{RoomId, UserId};
use serde_json::{Value, json};

use crate::client::{Auth, Request};
use crate::{AppserviceClient, HomeserverError};

/// The only backup algorithm clients implement.
pub const BACKUP_ALGORITHM: &str = "m.megolm_backup.v1.curve25519-aes-sha2";

/// A user's latest key backup as the homeserver has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupVersion {
    pub version: String,
    /// `auth_data.public_key`, unpadded base64 (`None` for another algorithm).
    pub public_key: Option<String>,
}

impl AppserviceClient {
    /// Creates a key backup for the user with this Curve25519 public key
    /// (unpadded base64) and answers its version. It becomes the user's
    /// latest backup, which is the one clients use.
    pub async fn create_key_backup(&self, user: &UserId, public_key: &str) -> Result<String, HomeserverError> {
        let v = self
            .send(Request {
                endpoint: "room_keys.version.create",
                method: Method::POST,
                path: &["_matrix", "client", "v3", "room_keys", "version"],
                as_user: Some(user),
                query: &[],
                body: Some(json!({ "algorithm": BACKUP_ALGORITHM, "auth_data": { "public_key": public_key } })),
                auth: Auth::Appservice,
            })
            .await?;
        v.get("version").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| HomeserverError::Protocol {
            endpoint: "room_keys.version.create",
            detail: "no version in the answer".into(),
        })
    }

    /// The user's latest key backup, if they have one.
    pub async fn latest_key_backup(&self, user: &UserId) -> Result<Option<BackupVersion>, HomeserverError> {
        let result = self
            .send(Request {
                endpoint: "room_keys.version.get",
                method: Method::GET,
                path: &["_matrix", "client", "v3", "room_keys", "version"],
                as_user: Some(user),
                query: &[],
                body: None,
                auth: Auth::Appservice,
            })
            .await;
        match result {
            Ok(v) => {
                let version = v.get("version").and_then(Value::as_str).ok_or_else(|| HomeserverError::Protocol {
                    endpoint: "room_keys.version.get",
                    detail: "no version in the answer".into(),
                })?;
                let public_key = (v.get("algorithm").and_then(Value::as_str) == Some(BACKUP_ALGORITHM))
                    .then(|| v["auth_data"]["public_key"].as_str().map(str::to_owned))
                    .flatten();
                Ok(Some(BackupVersion { version: version.to_owned(), public_key }))
            }
            Err(e) if e.errcode() == Some("M_NOT_FOUND") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes one of the user's backups (with its keys); one that is gone
    /// already is not an error.
    pub async fn delete_key_backup(&self, user: &UserId, version: &str) -> Result<(), HomeserverError> {
        let result = self
            .send(Request {
                endpoint: "room_keys.version.delete",
                method: Method::DELETE,
                path: &["_matrix", "client", "v3", "room_keys", "version", version],
                as_user: Some(user),
                query: &[],
                body: None,
                auth: Auth::Appservice,
            })
            .await;
        match result {
            Err(e) if e.errcode() == Some("M_NOT_FOUND") => Ok(()),
            other => other.map(drop),
        }
    }

    /// Stores one room key (a `KeyBackupData`, already encrypted to the
    /// backup's public key) in the user's backup. The homeserver keeps the
    /// better of two copies of a session, so a repeat is harmless.
    pub async fn put_room_key(
        &self,
        user: &UserId,
        version: &str,
        room_id: &RoomId,
        session_id: &str,
        key_data: Value,
    ) -> Result<(), HomeserverError> {
        self.send(Request {
            endpoint: "room_keys.keys.put",
            method: Method::PUT,
            path: &["_matrix", "client", "v3", "room_keys", "keys", room_id.as_str(), session_id],
            as_user: Some(user),
            query: &[("version", version)],
            body: Some(key_data),
            auth: Auth::Appservice,
        })
        .await
        .map(drop)
    }

    /// Whether the user has a device with this id on the homeserver.
    pub async fn device_exists(&self, user: &UserId, device_id: &str) -> Result<bool, HomeserverError> {
        let result = self
            .send(Request {
                endpoint: "devices.get",
                method: Method::GET,
                path: &["_matrix", "client", "v3", "devices", device_id],
                as_user: Some(user),
                query: &[],
                body: None,
                auth: Auth::Appservice,
            })
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.errcode() == Some("M_NOT_FOUND") => Ok(false),
            Err(e) => Err(e),
        }
    }
}
