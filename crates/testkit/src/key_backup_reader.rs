//! Reads a member's key backup the way their new device would: decrypts a
//! backed-up room key with the backup's private key, then a room message
//! with that key. Proves a device made later can read what came before it.

use matrix_sdk_crypto::store::types::BackupDecryptionKey;
use matrix_sdk_crypto::vodozemac::megolm::{ExportedSessionKey, InboundGroupSession, MegolmMessage, SessionConfig};
use serde_json::Value;

/// The backup public key (unpadded base64) that belongs to a private key.
pub fn backup_public_key(private_key: &str) -> Result<String, String> {
    let key = BackupDecryptionKey::from_base64(private_key).map_err(|e| e.to_string())?;
    Ok(key.megolm_v1_public_key().to_base64())
}

/// The room key in one backed-up session (`KeyBackupData` JSON), opened with
/// the backup's private key: the exported megolm session key.
pub fn open_backed_up_key(private_key: &str, key_data: &Value) -> Result<String, String> {
    let key = BackupDecryptionKey::from_base64(private_key).map_err(|e| e.to_string())?;
    let data = &key_data["session_data"];
    let field = |name: &str| data[name].as_str().ok_or_else(|| format!("no session_data.{name}"));
    let plain = key.decrypt_v1(field("ephemeral")?, field("mac")?, field("ciphertext")?).map_err(|e| e.to_string())?;
    let room_key: Value = serde_json::from_str(&plain).map_err(|e| e.to_string())?;
    room_key["session_key"].as_str().map(str::to_owned).ok_or_else(|| "no session_key".into())
}

/// Decrypts an `m.room.encrypted` event's content with an exported session
/// key: the event's cleartext JSON.
pub fn decrypt_with_session_key(session_key: &str, encrypted_content: &Value) -> Result<Value, String> {
    let key = ExportedSessionKey::from_base64(session_key).map_err(|e| e.to_string())?;
    let mut session = InboundGroupSession::import(&key, SessionConfig::version_1());
    let ciphertext = encrypted_content["ciphertext"].as_str().ok_or("no ciphertext")?;
    let message = MegolmMessage::from_base64(ciphertext).map_err(|e| e.to_string())?;
    let decrypted = session.decrypt(&message).map_err(|e| e.to_string())?;
    serde_json::from_slice(&decrypted.plaintext).map_err(|e| e.to_string())
}
