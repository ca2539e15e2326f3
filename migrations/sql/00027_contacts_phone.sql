-- +goose NO TRANSACTION
-- +goose Up
-- A number's contacts in every list: a number's page lists them. The
-- (list_id, phone) key cannot serve a search by phone alone. Built without
-- blocking imports.
CREATE INDEX CONCURRENTLY IF NOT EXISTS contacts_phone_idx ON contacts (phone);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS contacts_phone_idx;
