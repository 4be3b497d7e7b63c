-- Tasks for Linear issues. `tracker` says where the request lives: 'github' (the issue `issue`
-- of `repo`) or 'linear:<team key>' (Linear's issue <team key>-<issue>, carried out in `repo`),
-- with the Linear issue's ids and links as JSON in `linear`.
ALTER TABLE tasks ADD COLUMN tracker TEXT NOT NULL DEFAULT 'github';
ALTER TABLE tasks ADD COLUMN linear TEXT;

DROP INDEX tasks_one_active_per_issue;
CREATE UNIQUE INDEX tasks_one_active_per_issue ON tasks (repo, tracker, issue)
    WHERE state NOT IN ('done', 'blocked', 'failed', 'cancelled');
-- A Linear issue has one unfinished task whatever repository it maps to: a changed mapping
-- must not start a second one elsewhere.
CREATE UNIQUE INDEX tasks_one_active_per_linear_issue ON tasks (tracker, issue)
    WHERE tracker <> 'github' AND state NOT IN ('done', 'blocked', 'failed', 'cancelled');

-- The newest `updatedAt` (Unix ms) seen per Linear issue and the delivery that brought it: a
-- delivery older than it (out of order) or as old from another delivery (a duplicate) changes
-- nothing, while a retry of that same delivery's job still acts.
CREATE TABLE linear_issue_versions (
    issue_id   TEXT    PRIMARY KEY,
    updated_at INTEGER NOT NULL,
    delivery   TEXT    NOT NULL
);
