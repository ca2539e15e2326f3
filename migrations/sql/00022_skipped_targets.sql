-- +goose Up
-- A paralegal can withdraw a contact from a running or paused campaign
-- (the hearing was cancelled, the client already confirmed): its target
-- is 'skipped', with who withdrew it, when and why, and the pacer never
-- records an attempt for it again.
ALTER TABLE campaign_targets DROP CONSTRAINT campaign_targets_state_check;
ALTER TABLE campaign_targets ADD CONSTRAINT campaign_targets_state_check
    CHECK (state IN ('pending', 'dialing', 'done', 'expired', 'skipped'));
ALTER TABLE campaign_targets
    ADD COLUMN skipped_at timestamptz,
    ADD COLUMN skipped_by bigint REFERENCES users (id),
    ADD COLUMN skip_note  text NOT NULL DEFAULT '';

-- +goose Down
UPDATE campaign_targets SET state = 'done' WHERE state = 'skipped';
ALTER TABLE campaign_targets DROP COLUMN skipped_at, DROP COLUMN skipped_by, DROP COLUMN skip_note;
ALTER TABLE campaign_targets DROP CONSTRAINT campaign_targets_state_check;
ALTER TABLE campaign_targets ADD CONSTRAINT campaign_targets_state_check
    CHECK (state IN ('pending', 'dialing', 'done', 'expired'));
