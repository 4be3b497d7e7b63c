-- Automatic fix rounds on Orion's own pull requests (a critical finding in Orion's review of
-- its own change sends it back to a dev agent), bounded by review.auto_fix_rounds.
ALTER TABLE pr_reviews ADD COLUMN auto_fixes INTEGER NOT NULL DEFAULT 0;
