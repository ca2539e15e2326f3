-- +goose Up
-- The last look: once a line is free and right before a call is placed,
-- the pacer asks the gate again, at that instant, with indexes that hold
-- every change committed before the look. The
-- attempt keeps when that was by the database's clock (looked_at), and
-- the look itself (last_look: the dialer's instant, the decision, the
-- change-log position the indexes had applied and the log's top then). A
-- call the last look refuses is never placed: its attempt ends as
-- called off, and its target moves on as the look decided.
ALTER TABLE attempts ADD COLUMN looked_at timestamptz;
ALTER TABLE attempts ADD COLUMN last_look jsonb;
ALTER TABLE attempts DROP CONSTRAINT attempts_outcome_check;
ALTER TABLE attempts ADD CONSTRAINT attempts_outcome_check
    CHECK (outcome IN ('', 'blocked', 'deferred', 'answered', 'busy', 'no_answer', 'failed', 'unknown', 'opted_out', 'machine',
                       'confirmed', 'no_response', 'transferred', 'abandoned', 'called_off'));

-- +goose Down
ALTER TABLE attempts DROP CONSTRAINT attempts_outcome_check;
ALTER TABLE attempts ADD CONSTRAINT attempts_outcome_check
    CHECK (outcome IN ('', 'blocked', 'deferred', 'answered', 'busy', 'no_answer', 'failed', 'unknown', 'opted_out', 'machine',
                       'confirmed', 'no_response', 'transferred', 'abandoned'));
ALTER TABLE attempts DROP COLUMN last_look;
ALTER TABLE attempts DROP COLUMN looked_at;
