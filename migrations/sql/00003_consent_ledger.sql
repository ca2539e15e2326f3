-- +goose Up
-- The purpose a revocation is limited to, or '' for every purpose (heed's
-- default, rule F13). The index reports both the latest revocation of the
-- number and the latest one that covers a purpose; the firm policy decides
-- which one counts.
ALTER TABLE revocations
    ADD COLUMN scope text NOT NULL DEFAULT ''
    CHECK (scope IN ('', 'informational', 'telemarketing', 'debt_collection', 'solicitation'));

-- Imports look for records already on file by number.
CREATE INDEX revocations_phone_revoked_idx ON revocations (phone, revoked_at);

-- Consents and revocations are append-only: a correction is a new record,
-- and the history stays provable (rules F9, F19). Rows older than the
-- retention period are removed, if ever, by a migration that lifts this.
-- +goose StatementBegin
CREATE FUNCTION heed_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: record a correction as a new row', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER consents_append_only BEFORE UPDATE OR DELETE ON consents FOR EACH ROW EXECUTE FUNCTION heed_append_only();
CREATE TRIGGER revocations_append_only BEFORE UPDATE OR DELETE ON revocations FOR EACH ROW EXECUTE FUNCTION heed_append_only();
CREATE TRIGGER consents_no_truncate BEFORE TRUNCATE ON consents FOR EACH STATEMENT EXECUTE FUNCTION heed_append_only();
CREATE TRIGGER revocations_no_truncate BEFORE TRUNCATE ON revocations FOR EACH STATEMENT EXECUTE FUNCTION heed_append_only();

-- +goose Down
DROP TRIGGER revocations_no_truncate ON revocations;
DROP TRIGGER consents_no_truncate ON consents;
DROP TRIGGER revocations_append_only ON revocations;
DROP TRIGGER consents_append_only ON consents;
DROP FUNCTION heed_append_only();
DROP INDEX revocations_phone_revoked_idx;
ALTER TABLE revocations DROP COLUMN scope;
