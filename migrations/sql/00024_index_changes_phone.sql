-- +goose NO TRANSACTION
-- +goose Up
-- A number's changes in the log: an attempt's record reads them to tell
-- the consents, revocations and do-not-call entries its decision saw.
-- Built without blocking the writes that log changes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS index_changes_phone_idx ON index_changes (phone);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS index_changes_phone_idx;
