-- +goose Up
-- A contact's attempts, latest first: the contact list page shows each
-- contact's last call.
CREATE INDEX attempts_contact_idx ON attempts (contact_id, id);

-- +goose Down
DROP INDEX attempts_contact_idx;
