//! Key-backup keys (`m.megolm_backup.v1.curve25519-aes-sha2`): a new key
//! pair for a member's backup, and a room key encrypted to a backup's
//! public key, ready to upload.

use matrix_sdk_crypto::backups::MegolmV1BackupKey;
use matrix_sdk_crypto::olm::InboundGroupSession;
use matrix_sdk_crypto::store::types::BackupDecryptionKey;
use secrecy::SecretString;
use serde_json::Value;

/// A new backup key pair, both halves in unpadded base64 (as clients and
/// `auth_data.public_key` expect them).
pub struct BackupKeyPair {
    pub private_key: SecretString,
    pub public_key: String,
}

impl std::fmt::Debug for BackupKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupKeyPair").field("public_key", &self.public_key).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackupKeyError {
    #[error("the backup's public key is not valid: {0}")]
    PublicKey(String),
    #[error("the room key cannot be encrypted for the backup: {0}")]
    Encrypt(String),
}

/// A fresh random backup key pair.
pub fn new_backup_key() -> BackupKeyPair {
    let key = BackupDecryptionKey::new();
    BackupKeyPair {
        public_key: key.megolm_v1_public_key().to_base64(),
        private_key: SecretString::from(key.to_base64()),
    }
}

/// The `KeyBackupData` (JSON) of a room key, encrypted to the backup whose
/// public key is given: the body of `PUT /room_keys/keys/{room}/{session}`.
pub(crate) async fn encrypt_for_backup(
    session: InboundGroupSession,
    public_key: &str,
) -> Result<Value, BackupKeyError> {
    let key = MegolmV1BackupKey::from_base64(public_key).map_err(|e| BackupKeyError::PublicKey(e.to_string()))?;
    let data = key.encrypt(session).await.map_err(|e| BackupKeyError::Encrypt(e.to_string()))?;
    serde_json::to_value(data).map_err(|e| BackupKeyError::Encrypt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn a_new_pair_is_unpadded_base64_and_its_halves_match() {
        let pair = new_backup_key();
        assert_eq!(pair.public_key.len(), 43, "32 bytes, unpadded");
        assert_eq!(pair.private_key.expose_secret().len(), 43);
        let private = BackupDecryptionKey::from_base64(pair.private_key.expose_secret()).unwrap();
        assert_eq!(private.megolm_v1_public_key().to_base64(), pair.public_key);
        assert_ne!(new_backup_key().public_key, pair.public_key);
        assert!(!format!("{pair:?}").contains(pair.private_key.expose_secret()), "Debug hides the private key");
    }
}
