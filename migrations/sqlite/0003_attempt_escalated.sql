-- Whether an attempt was an escalation (an earlier attempt of the task had failed). Routing learns
-- first attempts and escalations apart: escalated tasks are harder than their kind's average.
ALTER TABLE llm_attempts ADD COLUMN escalated BOOLEAN NOT NULL DEFAULT FALSE;
