-- +goose Up
-- The type of a contact's line, as the firm knows it (from a carrier
-- lookup, say): wireless, landline or unknown. The gate counts unknown as
-- wireless; informational robocalls to a known landline may go without
-- consent, at most three in 30 days (rule F3).
ALTER TABLE contacts ADD COLUMN line_type text NOT NULL DEFAULT 'unknown'
    CHECK (line_type IN ('wireless', 'landline', 'unknown'));

-- +goose Down
ALTER TABLE contacts DROP COLUMN line_type;
