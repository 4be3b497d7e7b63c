-- Implement tasks: one per issue at a time, with every phase's result persisted so a crash or
-- restart resumes from the last completed step instead of starting over.
CREATE TABLE tasks (
    id            INTEGER PRIMARY KEY,
    repo          TEXT    NOT NULL,
    issue         INTEGER NOT NULL,
    installation  INTEGER,
    -- queued | triaging | awaiting_input | planning | executing | verifying | reviewing
    -- | opening_pr | done | blocked | failed | cancelled
    state         TEXT    NOT NULL,
    requested_by  TEXT    NOT NULL,
    title         TEXT    NOT NULL,
    triage        TEXT,            -- JSON (implement::plan::Triage)
    plan          TEXT,            -- JSON (implement::plan::Plan)
    branch        TEXT,
    pr_number     INTEGER,
    pr_url        TEXT,
    rounds        INTEGER NOT NULL DEFAULT 0,   -- test-fix rounds used since the last review
    review_rounds INTEGER NOT NULL DEFAULT 0,   -- self-review fix rounds used
    tests         TEXT,            -- the last test run's verdict and output, for the PR body
    withheld      TEXT,            -- workflow files changed but not pushed, one per line
    detail        TEXT,            -- why it is blocked / failed / awaiting input
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    finished_at   INTEGER
);
-- At most one unfinished task per issue: a second trigger finds the running one.
CREATE UNIQUE INDEX tasks_one_active_per_issue ON tasks (repo, issue)
    WHERE state NOT IN ('done', 'blocked', 'failed', 'cancelled');

CREATE TABLE task_steps (
    task_id     INTEGER NOT NULL REFERENCES tasks (id),
    step_id     TEXT    NOT NULL,
    state       TEXT    NOT NULL,   -- pending | running | done | failed
    model       TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    commit_sha  TEXT,
    summary     TEXT,
    error       TEXT,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (task_id, step_id)
);
