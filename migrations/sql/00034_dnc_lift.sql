-- +goose Up
-- Lifting an internal do-not-call entry (rule F12: a consent given after
-- an opt-out restores calling): an admin lifts the number's entries once
-- the person has consented again, and the entry keeps who lifted it and
-- why, in the audit log too.
ALTER TABLE dnc_internal ADD COLUMN removed_by bigint REFERENCES users (id);
ALTER TABLE dnc_internal ADD COLUMN removal_note text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE dnc_internal DROP COLUMN removal_note;
ALTER TABLE dnc_internal DROP COLUMN removed_by;
