-- +goose Up
-- A call in which the callee pressed the opt-out key ends as opted_out.
ALTER TABLE attempts DROP CONSTRAINT attempts_outcome_check;
ALTER TABLE attempts ADD CONSTRAINT attempts_outcome_check
    CHECK (outcome IN ('', 'blocked', 'deferred', 'answered', 'busy', 'no_answer', 'failed', 'unknown', 'opted_out'));

-- +goose Down
ALTER TABLE attempts DROP CONSTRAINT attempts_outcome_check;
ALTER TABLE attempts ADD CONSTRAINT attempts_outcome_check
    CHECK (outcome IN ('', 'blocked', 'deferred', 'answered', 'busy', 'no_answer', 'failed', 'unknown'));
