-- +goose Up
-- updated_by names a draft campaign's last editor, so that the audit log's
-- row of an edit says who made it. (IF NOT EXISTS: a database may have it
-- from an earlier version of 00019.)
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS updated_by bigint REFERENCES users (id);

-- +goose Down
ALTER TABLE campaigns DROP COLUMN IF EXISTS updated_by;
