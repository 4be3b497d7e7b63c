//! Async locks by key, created on demand and forgotten when unused: one task run at a time per
//! task, one attempt at a time per GitHub effect.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::OwnedMutexGuard;

/// A lock per key. Entries whose lock nobody holds or waits for are dropped on the next call,
/// so the map stays as small as the work in flight.
#[derive(Debug)]
pub struct KeyedLocks<K> {
    locks: Mutex<HashMap<K, Weak<tokio::sync::Mutex<()>>>>,
}

impl<K> Default for KeyedLocks<K> {
    fn default() -> Self {
        Self {
            locks: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash> KeyedLocks<K> {
    /// Waits for `key`'s lock and holds it until the guard drops.
    pub async fn lock(&self, key: K) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().expect("keyed locks poisoned");
            locks.retain(|_, weak| weak.strong_count() > 0);
            match locks.get(&key).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(key, Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_per_key_and_other_keys_are_free() {
        let locks = KeyedLocks::default();
        let held = locks.lock("a").await;
        // Another key is not blocked.
        drop(locks.lock("b").await);
        // The same key is, until released.
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), locks.lock("a"));
        assert!(waiting.await.is_err());
        drop(held);
        drop(locks.lock("a").await);
        assert!(
            locks.locks.lock().unwrap().len() <= 1,
            "unused entries are dropped"
        );
    }
}
