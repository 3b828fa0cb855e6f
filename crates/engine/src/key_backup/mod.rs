//! The key backups the platform holds for its members
//! (`MATRIX_SYNC_KEY_BACKUP=platform`): one server-side backup per user,
//! made by the service acting as them, whose private key the service keeps
//! sealed and hands only to the signed-in user. Every device a member signs
//! in on uploads the room keys it receives and restores the rest, and the
//! bot puts the key of each message it sends into its recipients' backups,
//! so a device made later reads what came before it.

mod seal;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use matrix_sync_matrix::HomeserverError;
use matrix_sync_store::{KeyBackupRecord, Store, StoreError};
use ruma::RoomId;
use secrecy::SecretString;
use uuid::Uuid;

pub use seal::{SealError, Sealer};

use crate::Homeserver;
use crate::clock::now_millis;

/// Why a backup could not be made, opened or filled.
#[derive(Debug, thiserror::Error)]
pub enum KeyBackupError {
    /// A homeserver request failed.
    #[error(transparent)]
    Homeserver(#[from] HomeserverError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A sealed key did not open.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The bot could not export its room key.
    #[error(transparent)]
    Bot(#[from] matrix_sync_bot::BotError),
}

/// A user's backup as the signed-in user gets it.
#[derive(Debug)]
pub struct OpenBackup {
    /// The backup's version on the homeserver.
    pub version: String,
    /// Unpadded base64 of the Curve25519 private key.
    pub private_key: SecretString,
}

/// Members' key backups: made on first use, their keys sealed at rest.
pub struct KeyBackups {
    /// `None` when key backup is off.
    sealer: Option<Sealer>,
    /// One creation at a time per user in this process (another process
    /// racing is resolved by the store: the first backup recorded wins).
    creating: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
}

impl KeyBackups {
    /// Key backup is on with a secret to seal the keys with, off without.
    pub fn new(secret: Option<&SecretString>) -> Self {
        Self { sealer: secret.map(Sealer::new), creating: Mutex::default() }
    }

    /// Whether key backup is on (`MATRIX_SYNC_KEY_BACKUP=platform`).
    pub fn enabled(&self) -> bool {
        self.sealer.is_some()
    }

    /// The user's backup, opened for them: made now if they have none.
    /// `None` when key backup is off.
    pub async fn open_for(
        &self,
        store: &dyn Store,
        homeserver: &dyn Homeserver,
        user: Uuid,
    ) -> Result<Option<OpenBackup>, KeyBackupError> {
        let Some(sealer) = &self.sealer else { return Ok(None) };
        let record = self.ensure(sealer, store, homeserver, user).await?;
        let private_key = sealer.open(user, &record.sealed_private_key)?;
        Ok(Some(OpenBackup { version: record.version, private_key }))
    }

    /// Puts one of the bot's room keys into each user's backup (made now if
    /// they have none), so their devices, made before or after, read the
    /// bot's messages of that session. Nothing when key backup is off.
    pub async fn share_bot_room_key(
        &self,
        store: &dyn Store,
        homeserver: &dyn Homeserver,
        bot: &matrix_sync_bot::Bot,
        room_id: &RoomId,
        session_id: &str,
        users: &[Uuid],
    ) -> Result<(), KeyBackupError> {
        let Some(sealer) = &self.sealer else { return Ok(()) };
        for &user in users {
            let backup = self.ensure(sealer, store, homeserver, user).await?;
            let key_data = bot.room_key_for_backup(room_id, session_id, &backup.public_key).await?;
            let matrix_user = homeserver.ids().user(user);
            homeserver.put_room_key(&matrix_user, &backup.version, room_id, session_id, key_data).await?;
        }
        Ok(())
    }

    async fn ensure(
        &self,
        sealer: &Sealer,
        store: &dyn Store,
        homeserver: &dyn Homeserver,
        user: Uuid,
    ) -> Result<KeyBackupRecord, KeyBackupError> {
        if let Some(record) = store.key_backup(user).await? {
            return Ok(record);
        }
        let lock = {
            let mut creating = self.creating.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            creating.entry(user).or_default().clone()
        };
        let _creating = lock.lock().await;
        let recorded = self.create(sealer, store, homeserver, user).await;
        self.creating.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&user);
        recorded
    }

    async fn create(
        &self,
        sealer: &Sealer,
        store: &dyn Store,
        homeserver: &dyn Homeserver,
        user: Uuid,
    ) -> Result<KeyBackupRecord, KeyBackupError> {
        // Made by whoever held the lock before us.
        if let Some(record) = store.key_backup(user).await? {
            return Ok(record);
        }
        let matrix_user = homeserver.ids().user(user);
        let pair = matrix_sync_bot::new_backup_key();
        let version = homeserver.create_key_backup(&matrix_user, &pair.public_key).await?;
        let ours = KeyBackupRecord {
            user_id: user,
            version: version.clone(),
            public_key: pair.public_key,
            sealed_private_key: sealer.seal(user, &pair.private_key),
            created_at: now_millis(),
        };
        let recorded = store.insert_key_backup(&ours).await?;
        if recorded.version != version {
            // Another process recorded its backup first. Clients use the
            // latest backup, which ours now is: take ours away again.
            homeserver.delete_key_backup(&matrix_user, &version).await?;
        }
        tracing::info!(user_id = %user, version = recorded.version, "key backup made");
        Ok(recorded)
    }
}
