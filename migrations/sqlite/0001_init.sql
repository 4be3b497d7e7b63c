-- Orion's durable state. Times are Unix milliseconds (BIGINT) so the same schema reads the same on
-- PostgreSQL; the only SQLite-specific spelling is the autoincrement primary keys.

-- Small key/value settings Orion itself owns, e.g. the generated GitHub webhook secret.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Every delivery Orion accepted or could not read. The unique key is the dedupe: a redelivery
-- finds its row and creates nothing.
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    event       TEXT NOT NULL,
    repo        TEXT,
    outcome     TEXT NOT NULL,          -- 'accepted' | 'unreadable'
    error       TEXT,
    body        BLOB,                   -- kept only for unreadable deliveries, for inspection
    received_at BIGINT NOT NULL,
    UNIQUE (source, delivery_id)
);
CREATE INDEX deliveries_by_time ON deliveries (received_at);

CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE,
    state            TEXT NOT NULL,     -- 'queued' | 'running' | 'done' | 'dead'
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    run_after        BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    last_error       TEXT,
    delivery         INTEGER REFERENCES deliveries (id),
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    finished_at      BIGINT
);
CREATE INDEX jobs_due ON jobs (state, run_after);
CREATE INDEX jobs_leases ON jobs (state, lease_expires_at);

-- One row per attempt: who ran it, when, and how it ended ('done', 'retry', 'dead', 'released',
-- 'lease_expired'; NULL while running). This is the history `orion status` and tests read.
CREATE TABLE job_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id      INTEGER NOT NULL REFERENCES jobs (id),
    attempt     INTEGER NOT NULL,
    worker      TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    outcome     TEXT,
    error       TEXT
);
CREATE INDEX job_runs_by_job ON job_runs (job_id);
