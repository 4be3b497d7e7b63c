-- Times the strategic tier revised a task's plan after steps failed (bounded: one revision).
ALTER TABLE tasks ADD COLUMN replans INTEGER NOT NULL DEFAULT 0;
