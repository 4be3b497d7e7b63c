-- The effect journal: every externally visible write (a comment, a pull request, a check run, a
-- review) under its idempotency key. 'intent' is written before the call and 'done' with the
-- resulting id after it, so a re-run knows the effect happened (done), may have happened
-- (intent: look for it on the forge before repeating), or never started (no row).
CREATE TABLE forge_effects (
    repo        TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('intent', 'done')),
    external_id INTEGER,
    url         TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (repo, key)
);
