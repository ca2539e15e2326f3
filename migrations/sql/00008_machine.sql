-- +goose Up
-- A call answered by an answering machine, left the voicemail message.
ALTER TABLE attempts DROP CONSTRAINT attempts_outcome_check;
ALTER TABLE attempts ADD CONSTRAINT attempts_outcome_check
    CHECK (outcome IN ('', 'blocked', 'deferred', 'answered', 'busy', 'no_answer', 'failed', 'unknown', 'opted_out', 'machine'));

-- +goose Down
ALTER TABLE attempts DROP CONSTRAINT attempts_outcome_check;
ALTER TABLE attempts ADD CONSTRAINT attempts_outcome_check
    CHECK (outcome IN ('', 'blocked', 'deferred', 'answered', 'busy', 'no_answer', 'failed', 'unknown', 'opted_out'));
