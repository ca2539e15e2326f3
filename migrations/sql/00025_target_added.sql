-- +goose Up
-- When each contact became a campaign's target, and who added it when it
-- came after the campaign started (AddNewContacts): the record of which
-- contacts an addition added. Existing targets take their campaign's
-- creation time.
ALTER TABLE campaign_targets
    ADD COLUMN added_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN added_by bigint REFERENCES users (id);
UPDATE campaign_targets t SET added_at = c.created_at FROM campaigns c WHERE c.id = t.campaign_id;

-- +goose Down
ALTER TABLE campaign_targets DROP COLUMN added_by, DROP COLUMN added_at;
