-- +goose NO TRANSACTION
-- +goose Up
-- A campaign's attempts by contact, latest last: the campaign's contacts
-- page reads each contact's latest attempt in the campaign. Built without
-- blocking the attempts being recorded.
CREATE INDEX CONCURRENTLY IF NOT EXISTS attempts_campaign_contact_idx ON attempts (campaign_id, contact_id, id);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS attempts_campaign_contact_idx;
