//! The effect journal: which externally visible writes Orion has made, by idempotency key.
//!
//! It answers one question for a job that may be a re-run: has this effect happened? `Done`
//! means yes (with the forge's id for it); `Intent` means a call was started and its outcome
//! is unknown (the process died, or GitHub answered a 5xx), so the forge must be searched
//! before anything is repeated; no entry means it never started.

use std::sync::Arc;

use sqlx::Row;

use crate::locks::KeyedLocks;
use crate::store::{Store, now_ms};

/// A forge object an effect created: a comment id, a pull request number, a check run id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectRef {
    pub id: u64,
    /// Where a human sees it (`html_url`).
    pub url: Option<String>,
}

/// What the journal knows about one effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Intent { attempts: u32 },
    Done(EffectRef),
}

/// The journal over Orion's database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Journal {
    store: Store,
    /// One lock per effect in progress: two jobs making the same effect at once (two event jobs
    /// answering the same user) must not both find "no entry" and both post.
    locks: Arc<KeyedLocks<(String, String)>>,
}

impl Journal {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            locks: Arc::default(),
        }
    }

    /// Holds the effect `key` of `repo` for the caller until the guard drops. Within one process
    /// (Orion runs one per database) this serialises every attempt at the same effect.
    pub async fn claim(&self, repo: &str, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        self.locks.lock((repo.to_owned(), key.to_owned())).await
    }

    pub async fn get(&self, repo: &str, key: &str) -> anyhow::Result<Option<Entry>> {
        let row = sqlx::query(
            "SELECT state, external_id, url, attempts FROM forge_effects WHERE repo = $1 AND key = $2",
        )
        .bind(repo)
        .bind(key)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.map(|r| {
            let state: String = r.get("state");
            if state == "done" {
                Entry::Done(EffectRef {
                    id: r.get::<i64, _>("external_id") as u64,
                    url: r.get("url"),
                })
            } else {
                Entry::Intent {
                    attempts: r.get::<i64, _>("attempts") as u32,
                }
            }
        }))
    }

    /// Records that the effect is about to be attempted (before the forge call).
    pub async fn intend(&self, repo: &str, key: &str, kind: &str) -> anyhow::Result<()> {
        let now = now_ms();
        let query = sqlx::query(
            "INSERT INTO forge_effects (repo, key, kind, state, attempts, created_at, updated_at)
             VALUES ($1, $2, $3, 'intent', 1, $4, $4)
             ON CONFLICT (repo, key) DO UPDATE
             SET state = 'intent', attempts = attempts + 1, updated_at = $4",
        )
        .bind(repo)
        .bind(key)
        .bind(kind)
        .bind(now);
        self.store.write_one(query).await?;
        Ok(())
    }

    /// Records the effect's result (after the forge call, or after finding it there).
    pub async fn done(
        &self,
        repo: &str,
        key: &str,
        kind: &str,
        effect: &EffectRef,
    ) -> anyhow::Result<()> {
        let now = now_ms();
        let query = sqlx::query(
            "INSERT INTO forge_effects
                 (repo, key, kind, state, external_id, url, attempts, created_at, updated_at)
             VALUES ($1, $2, $3, 'done', $4, $5, 0, $6, $6)
             ON CONFLICT (repo, key) DO UPDATE
             SET state = 'done', external_id = $4, url = $5, updated_at = $6",
        )
        .bind(repo)
        .bind(key)
        .bind(kind)
        .bind(effect.id as i64)
        .bind(effect.url.as_deref())
        .bind(now);
        self.store.write_one(query).await?;
        Ok(())
    }

    /// Forgets an effect whose object is gone from the forge (a human deleted the status
    /// comment), so the next write creates it again.
    pub async fn forget(&self, repo: &str, key: &str) -> anyhow::Result<()> {
        let query = sqlx::query("DELETE FROM forge_effects WHERE repo = $1 AND key = $2")
            .bind(repo)
            .bind(key);
        self.store.write_one(query).await?;
        Ok(())
    }
}
