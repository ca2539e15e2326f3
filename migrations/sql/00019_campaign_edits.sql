-- +goose Up
-- A draft campaign may be edited. edits counts the edits, so that starting
-- a campaign can tell that the settings its launch checks passed are still
-- the campaign's when it starts it, and an editor's form filled before
-- another edit is refused. updated_by names the last editor, so that the
-- audit log's row of an edit says who made it.
ALTER TABLE campaigns
    ADD COLUMN edits integer NOT NULL DEFAULT 0,
    ADD COLUMN updated_by bigint REFERENCES users (id);

-- +goose Down
ALTER TABLE campaigns DROP COLUMN updated_by, DROP COLUMN edits;
