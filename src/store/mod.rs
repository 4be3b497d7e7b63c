//! The SQL store: the one type through which Orion reaches its database.
//!
//! SQLite in WAL mode is the default (one file, nothing to run). The SQL is kept portable — Unix-ms
//! integers for time, `ON CONFLICT … DO NOTHING`, `RETURNING` — so a PostgreSQL backend can sit
//! behind the same methods for scale-out.

mod ingest;
mod status;

use std::str::FromStr;
use std::time::Duration;

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqliteConnection, SqlitePool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

pub use ingest::{DeliveryRecord, Ingest, IngestOutcome};
pub use status::{DeadJob, RecentDelivery, StatusReport};

use crate::config::{StoreConfig, Synchronous};

/// Current time as Unix milliseconds, the one time format in the database.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    /// One connection for all of this process's writes: it keeps its page cache warm (a write on
    /// another connection would invalidate it) and it is what the gate below hands out.
    write_pool: SqlitePool,
    /// SQLite admits one writer at a time and makes the others sleep and retry (1, 2, 5 … 100 ms),
    /// in no order. Queueing this process's writers here instead — first come, first served —
    /// keeps a webhook's commit from sleeping behind job bookkeeping: under load that turned a
    /// millisecond ack into a second. (Other processes on the same file still use the busy timeout.)
    write_gate: Arc<Mutex<()>>,
    /// Background writers (job bookkeeping) queue here before the gate, so at most one of them is
    /// ever ahead of a webhook's commit in the gate: an acknowledgement waits for one job update
    /// at most, not for every worker's.
    background: Arc<Semaphore>,
}

/// A write transaction holding the write gate until it commits or is dropped.
pub struct WriteTx {
    // Declared before the guard so the transaction is dropped (rolled back) first.
    tx: Transaction<'static, Sqlite>,
    _gate: OwnedMutexGuard<()>,
    _background: Option<OwnedSemaphorePermit>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

/// Derefs to the connection, so `&mut *tx` is an executor.
impl Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// Whether opening may create a missing database (`serve` does; `status` should say it is missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    CreateIfMissing,
    MustExist,
}

impl Store {
    /// Opens (or creates) the database and applies the embedded migrations.
    pub async fn open(config: &StoreConfig, mode: OpenMode) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(&config.url)
            .with_context(|| format!("while reading store.url {:?}", config.url))?
            .create_if_missing(mode == OpenMode::CreateIfMissing)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match config.synchronous {
                Synchronous::Full => SqliteSynchronous::Full,
                Synchronous::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let write_pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("while opening the database {}", config.url))?;
        let pool = SqlitePoolOptions::new()
            .max_connections(config.max_connections)
            .connect_with(options)
            .await
            .with_context(|| format!("while opening the database {}", config.url))?;
        sqlx::migrate!("migrations/sqlite")
            .run(&write_pool)
            .await
            .context("while applying database migrations")?;
        Ok(Self {
            pool,
            write_pool,
            write_gate: Arc::new(Mutex::new(())),
            background: Arc::new(Semaphore::new(1)),
        })
    }

    /// For reads. Writes go through [`Store::begin_write`].
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Begins a write transaction once this process's earlier writers are done. For writes a
    /// client is waiting on (webhook ingest).
    pub async fn begin_write(&self) -> anyhow::Result<WriteTx> {
        self.begin(None).await
    }

    /// Runs one write statement in its own transaction (behind the write gate); the rows it
    /// changed. For single-statement writes that need no reads in between.
    pub async fn write_one<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> anyhow::Result<u64> {
        let mut tx = self.begin_write().await?;
        let done = query.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Like [`Store::begin_write`], for writes nobody is waiting on (the queue's own bookkeeping):
    /// they yield to foreground writes.
    pub async fn begin_background_write(&self) -> anyhow::Result<WriteTx> {
        let permit = self
            .background
            .clone()
            .acquire_owned()
            .await
            .expect("the background semaphore is never closed");
        self.begin(Some(permit)).await
    }

    async fn begin(&self, background: Option<OwnedSemaphorePermit>) -> anyhow::Result<WriteTx> {
        let gate = self.write_gate.clone().lock_owned().await;
        let tx = self
            .write_pool
            .begin()
            .await
            .context("while starting a write transaction")?;
        Ok(WriteTx {
            tx,
            _gate: gate,
            _background: background,
        })
    }

    /// For `/healthz`: the database answers a query.
    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .context("while pinging the database")?;
        Ok(())
    }

    pub async fn setting(&self, key: &str) -> anyhow::Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .with_context(|| format!("while reading setting {key}"))?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Stores `value` under `key`, replacing what was there.
    pub async fn set_setting(&self, key: &str, value: &str) -> anyhow::Result<()> {
        self.write_one(
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE SET value = $2, updated_at = $3",
            )
            .bind(key)
            .bind(value)
            .bind(now_ms()),
        )
        .await
        .with_context(|| format!("while writing setting {key}"))?;
        Ok(())
    }

    /// Stores `value` under `key` unless a value is already there, and returns the value in force
    /// plus whether it was just written. Two processes racing get the same answer.
    pub async fn setting_or_insert(
        &self,
        key: &str,
        value: &str,
    ) -> anyhow::Result<(String, bool)> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .with_context(|| format!("while writing setting {key}"))?
        .rows_affected()
            == 1;
        tx.commit().await?;
        let current = self
            .setting(key)
            .await?
            .with_context(|| format!("setting {key} vanished after insert"))?;
        Ok((current, inserted))
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.write_pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn settings_insert_once() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig {
            url: format!("sqlite://{}", dir.path().join("t.db").display()),
            ..StoreConfig::default()
        };
        let store = Store::open(&config, OpenMode::CreateIfMissing)
            .await
            .unwrap();
        assert_eq!(
            store.setting_or_insert("k", "a").await.unwrap(),
            ("a".to_owned(), true)
        );
        assert_eq!(
            store.setting_or_insert("k", "b").await.unwrap(),
            ("a".to_owned(), false)
        );
        store.close().await;

        let missing = StoreConfig {
            url: format!("sqlite://{}", dir.path().join("none.db").display()),
            ..StoreConfig::default()
        };
        assert!(Store::open(&missing, OpenMode::MustExist).await.is_err());
    }
}
