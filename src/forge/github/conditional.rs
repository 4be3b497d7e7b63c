//! Conditional reads: the lists the heartbeat walks on every tick (labelled issues, open pull
//! requests, check runs) are read with the ETag of the copy Orion already holds. An unchanged
//! page comes back as 304 Not Modified, which GitHub does not count against the rate limit, and
//! is read from the copy; so scanning an idle repository costs almost no quota. Copies live in
//! the database (`github_read_cache`), so they outlast restarts and `orion heartbeat --once`
//! shares them with `orion serve`.

use sqlx::Row;

use crate::store::{Store, now_ms};

/// Copies not confirmed for this long are dropped by [`ReadCache::prune`].
pub const KEEP_MS: i64 = 14 * 24 * 3_600_000;

/// The stored copies of conditional reads.
#[derive(Clone, Debug)]
pub struct ReadCache {
    store: Store,
}

/// One stored page.
pub(crate) struct Stored {
    pub etag: String,
    pub body: Vec<u8>,
    pub next_page: Option<String>,
}

/// What reading a list cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadCost {
    /// Requests sent.
    pub requests: u32,
    /// Of them, answered 304 Not Modified (no rate limit spent).
    pub not_modified: u32,
}

impl std::ops::AddAssign for ReadCost {
    fn add_assign(&mut self, other: Self) {
        self.requests += other.requests;
        self.not_modified += other.not_modified;
    }
}

impl ReadCache {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The copy kept under `key` (whose view, and the path), if any. A database failure reads as no copy: the request is
    /// then simply unconditional.
    pub(crate) async fn get(&self, key: &str) -> Option<Stored> {
        let row = sqlx::query("SELECT etag, body, next_page FROM github_read_cache WHERE key = $1")
            .bind(key)
            .fetch_optional(self.store.pool())
            .await;
        match row {
            Ok(row) => row.map(|r| Stored {
                etag: r.get("etag"),
                body: r.get("body"),
                next_page: r.get("next_page"),
            }),
            Err(e) => {
                tracing::warn!(key, error = %e, "reading the GitHub read cache");
                None
            }
        }
    }

    /// Keeps `copy` as the current answer under `key`.
    pub(crate) async fn put(&self, key: &str, copy: &Stored) {
        let written = self
            .store
            .write_one(
                sqlx::query(
                    "INSERT INTO github_read_cache (key, etag, body, next_page, checked_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (key) DO UPDATE
                     SET etag = $2, body = $3, next_page = $4, checked_at = $5",
                )
                .bind(key)
                .bind(&copy.etag)
                .bind(&copy.body)
                .bind(&copy.next_page)
                .bind(now_ms()),
            )
            .await;
        if let Err(e) = written {
            tracing::warn!(key, error = %e, "writing the GitHub read cache");
        }
    }

    /// Notes that the copy under `key` was confirmed current.
    pub(crate) async fn touch(&self, key: &str) {
        let written = self
            .store
            .write_one(
                sqlx::query("UPDATE github_read_cache SET checked_at = $2 WHERE key = $1")
                    .bind(key)
                    .bind(now_ms()),
            )
            .await;
        if let Err(e) = written {
            tracing::warn!(key, error = %e, "writing the GitHub read cache");
        }
    }

    /// Drops copies nobody asked for in [`KEEP_MS`] (closed pull requests' check runs, repositories
    /// no longer installed); returns how many.
    pub async fn prune(&self) -> anyhow::Result<u64> {
        self.store
            .write_one(
                sqlx::query("DELETE FROM github_read_cache WHERE checked_at < $1")
                    .bind(now_ms() - KEEP_MS),
            )
            .await
    }
}
