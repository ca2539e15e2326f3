-- +goose Up
-- A draft campaign may be edited. edits counts the edits, so that starting
-- a campaign can tell that the settings its launch checks passed are still
-- the campaign's when it starts it.
ALTER TABLE campaigns ADD COLUMN edits integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE campaigns DROP COLUMN edits;
