//! Keyed mutual exclusion in constant memory.

/// A fixed set of locks a key is hashed onto: one writer per key at a time
/// (two keys may share a lock, which only serialises them), in constant
/// memory however many keys there are.
pub struct KeyedLocks {
    stripes: Vec<tokio::sync::Mutex<()>>,
}

impl KeyedLocks {
    /// `stripes` locks (at least one).
    pub fn new(stripes: usize) -> Self {
        Self { stripes: (0..stripes.max(1)).map(|_| tokio::sync::Mutex::new(())).collect() }
    }

    /// Waits for the lock `key` hashes onto.
    pub async fn lock(&self, key: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let hash = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(key);
        let stripe = usize::try_from(hash % self.stripes.len() as u64).unwrap_or(0);
        self.stripes[stripe].lock().await
    }
}

impl Default for KeyedLocks {
    fn default() -> Self {
        Self::new(64)
    }
}
