-- Conditional GitHub reads: the last answer to a list page, kept with its ETag so the next read
-- asks "changed since?" (If-None-Match). GitHub answers 304 Not Modified, free of rate limit,
-- when nothing changed, and the page is read from here instead.
CREATE TABLE github_read_cache (
    -- Whose view (app, installation:<id>, token: GitHub's answer depends on who asks) and the
    -- path and query below the API root: `installation:42 /repos/o/r/pulls?state=open&per_page=100`.
    key        TEXT    PRIMARY KEY,
    etag       TEXT    NOT NULL,
    body       BLOB    NOT NULL,
    -- The path of the page after it (GitHub's Link rel="next"), if any.
    next_page  TEXT,
    -- Unix ms this copy was last confirmed current (a 200 or a 304).
    checked_at INTEGER NOT NULL
);
CREATE INDEX github_read_cache_checked ON github_read_cache (checked_at);
