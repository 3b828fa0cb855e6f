//! Backup private keys at rest: sealed with XChaCha20-Poly1305 under a key
//! derived (HKDF-SHA256) from `MATRIX_SYNC_BACKUP_SECRET`. The user's id is
//! the associated data, so a sealed key copied into another user's row does
//! not open there. Whoever reads the database alone learns no key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

/// Marks the format, so a later one can be told apart.
const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;
/// What the derived key is for: another use of the same secret derives
/// another key.
const KEY_INFO: &[u8] = b"matrix-sync key backup private keys v1";

/// Why a sealed key does not open.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// Not a sealed key of a known format.
    #[error("a sealed backup key is malformed")]
    Malformed,
    /// Sealed under another secret, or for another user.
    #[error(
        "a sealed backup key does not open: MATRIX_SYNC_BACKUP_SECRET is not the one it was sealed with, or the row was altered"
    )]
    WrongSecret,
}

/// Seals and opens backup private keys under the key derived from the secret.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// The sealer for `MATRIX_SYNC_BACKUP_SECRET`.
    pub fn new(secret: &SecretString) -> Self {
        let hkdf = hkdf::Hkdf::<sha2::Sha256>::new(None, secret.expose_secret().as_bytes());
        let mut key = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit: this cannot fail.
        if hkdf.expand(KEY_INFO, &mut key).is_err() {
            unreachable!("HKDF output of 32 bytes");
        }
        Self { cipher: XChaCha20Poly1305::new(&key.into()) }
    }

    /// Seals a user's backup private key (a fresh nonce each time).
    pub fn seal(&self, user: Uuid, private_key: &SecretString) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload { msg: private_key.expose_secret().as_bytes(), aad: user.as_bytes() };
        let Ok(ciphertext) = self.cipher.encrypt(&XNonce::from(nonce), payload) else {
            unreachable!("XChaCha20-Poly1305 encrypts any message under 256 GiB");
        };
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        format!("{PREFIX}{}", STANDARD_NO_PAD.encode(sealed))
    }

    /// Opens what [`Sealer::seal`] sealed for the same user.
    pub fn open(&self, user: Uuid, sealed: &str) -> Result<SecretString, SealError> {
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|b64| STANDARD_NO_PAD.decode(b64).ok())
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or(SealError::Malformed)?;
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| SealError::Malformed)?;
        let plain = self
            .cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: user.as_bytes() })
            .map_err(|_| SealError::WrongSecret)?;
        String::from_utf8(plain).map(SecretString::from).map_err(|_| SealError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s)
    }

    #[test]
    fn a_sealed_key_opens_with_the_same_secret_for_the_same_user_only() {
        let sealer = Sealer::new(&secret("a-long-secret-of-at-least-32-characters"));
        let user = Uuid::new_v4();
        let key = secret("m8JvV2m0yUQ9U8W0cT3V4n8qZk1b2c3d4e5f6g7h8i9");
        let sealed = sealer.seal(user, &key);
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains(key.expose_secret()), "the key does not show through");
        assert_eq!(sealer.open(user, &sealed).unwrap().expose_secret(), key.expose_secret());
        assert_ne!(sealer.seal(user, &key), sealed, "a fresh nonce each time");

        assert_eq!(sealer.open(Uuid::new_v4(), &sealed).unwrap_err(), SealError::WrongSecret, "another user's row");
        let other = Sealer::new(&secret("another-long-secret-of-32-characters-or-more"));
        assert_eq!(other.open(user, &sealed).unwrap_err(), SealError::WrongSecret);
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(sealer.open(user, std::str::from_utf8(&altered).unwrap()).unwrap_err(), SealError::WrongSecret);
        for bad in ["", "v1:", "v1:not base64!", "v2:AAAA", "v1:AAAA"] {
            assert_eq!(sealer.open(user, bad).unwrap_err(), SealError::Malformed, "{bad:?}");
        }
    }
}
