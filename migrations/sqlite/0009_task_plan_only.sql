-- `/orion plan`: the task stops once its plan is posted; a later `/orion implement` on the
-- issue starts from that plan instead of planning again.
ALTER TABLE tasks ADD COLUMN plan_only BOOLEAN NOT NULL DEFAULT FALSE;
