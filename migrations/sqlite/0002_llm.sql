-- The model layer. Costs are integer nano-USD (1e-9 USD) so sums are exact: one cached token of a
-- cheap model costs a few hundredths of a micro-dollar.

-- One row per attempt of a task on a model: what routing learns from.
CREATE TABLE llm_attempts (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id             TEXT NOT NULL,
    task_kind           TEXT NOT NULL,
    complexity          TEXT NOT NULL,
    installation        TEXT NOT NULL,
    repo                TEXT,
    model               TEXT NOT NULL,
    tier                TEXT NOT NULL,
    rung                INTEGER NOT NULL,
    reason              TEXT NOT NULL,      -- why routing chose this model
    started_at          BIGINT NOT NULL,
    finished_at         BIGINT,
    outcome             TEXT,               -- 'succeeded' | 'failed' | 'error' | 'blocked'; NULL while running
    detail              TEXT,
    input_tokens        BIGINT NOT NULL DEFAULT 0,
    output_tokens       BIGINT NOT NULL DEFAULT 0,
    cached_input_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens  BIGINT NOT NULL DEFAULT 0,
    cost_nusd           BIGINT NOT NULL DEFAULT 0,
    latency_ms          BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX llm_attempts_by_task ON llm_attempts (task_id);

-- The spend ledger: one row per HTTP call to a model, failed ones included (at zero cost).
CREATE TABLE llm_calls (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    at                  BIGINT NOT NULL,
    installation        TEXT NOT NULL,
    repo                TEXT,
    task_id             TEXT NOT NULL,
    task_kind           TEXT NOT NULL,
    attempt_id          INTEGER REFERENCES llm_attempts (id),
    model               TEXT NOT NULL,
    tier                TEXT NOT NULL,
    input_tokens        BIGINT NOT NULL,
    output_tokens       BIGINT NOT NULL,
    cached_input_tokens BIGINT NOT NULL,
    cache_write_tokens  BIGINT NOT NULL,
    cost_nusd           BIGINT NOT NULL,
    latency_ms          BIGINT NOT NULL,
    outcome             TEXT NOT NULL,      -- 'ok' or the error kind
    error               TEXT
);
CREATE INDEX llm_calls_by_installation ON llm_calls (installation, at);
CREATE INDEX llm_calls_by_task ON llm_calls (task_id);
CREATE INDEX llm_calls_by_time ON llm_calls (at);
