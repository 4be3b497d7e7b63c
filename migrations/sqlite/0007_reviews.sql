-- Orion's memory of each pull request it reviews: the last head it reviewed (so a push is
-- reviewed incrementally) and every finding it raised with what became of it (so a finding is
-- never posted twice, and one a human resolved, dismissed or disputed never comes back).
CREATE TABLE pr_reviews (
    repo        TEXT    NOT NULL,
    pr          INTEGER NOT NULL,
    head_sha    TEXT    NOT NULL,
    reviewed_at INTEGER NOT NULL,
    PRIMARY KEY (repo, pr)
);

CREATE TABLE review_findings (
    repo        TEXT    NOT NULL,
    pr          INTEGER NOT NULL,
    fingerprint TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    line        INTEGER,
    severity    TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    state       TEXT    NOT NULL
        CHECK (state IN ('open', 'resolved', 'dismissed', 'disputed', 'addressed')),
    -- The inline comment that carries it; NULL when it could only go in the summary.
    comment_id  INTEGER,
    review_id   INTEGER,
    head_sha    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (repo, pr, fingerprint)
);

CREATE INDEX review_findings_by_comment ON review_findings (repo, comment_id);
CREATE INDEX review_findings_by_review ON review_findings (repo, review_id);
