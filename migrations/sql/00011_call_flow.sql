-- +goose Up
-- The call flow tells answered calls apart: confirmed (key 1), no_response,
-- transferred (key 2, connected to the office), abandoned (key 2, no one at
-- the office answered). Each attempt keeps its answering-machine detection
-- result, its recording and where it was transferred.
ALTER TABLE attempts DROP CONSTRAINT attempts_outcome_check;
ALTER TABLE attempts ADD CONSTRAINT attempts_outcome_check
    CHECK (outcome IN ('', 'blocked', 'deferred', 'answered', 'busy', 'no_answer', 'failed', 'unknown', 'opted_out', 'machine',
                       'confirmed', 'no_response', 'transferred', 'abandoned'));
ALTER TABLE attempts ADD COLUMN amd text NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN recording text NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN transfer_to text NOT NULL DEFAULT '';
-- The retry delay after an answering machine (also made by the campaign
-- settings migration; whichever runs first adds it).
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS retry_machine_s integer NOT NULL DEFAULT 86400;

-- +goose Down
ALTER TABLE attempts DROP COLUMN transfer_to;
ALTER TABLE attempts DROP COLUMN recording;
ALTER TABLE attempts DROP COLUMN amd;
ALTER TABLE attempts DROP CONSTRAINT attempts_outcome_check;
ALTER TABLE attempts ADD CONSTRAINT attempts_outcome_check
    CHECK (outcome IN ('', 'blocked', 'deferred', 'answered', 'busy', 'no_answer', 'failed', 'unknown', 'opted_out', 'machine'));
