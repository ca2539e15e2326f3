-- +goose NO TRANSACTION
-- +goose Up
-- A contact's attempts, latest first: the contact list page shows each
-- contact's last call. Built without blocking the attempts being recorded.
CREATE INDEX CONCURRENTLY IF NOT EXISTS attempts_contact_idx ON attempts (contact_id, id);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS attempts_contact_idx;
