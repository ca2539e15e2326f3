-- +goose Up
-- Admins manage users: disable and enable them, change their roles, reset
-- their passwords and revoke their API tokens. updated_by names the admin
-- who last changed a user (NULL: the heed command, run on the server), so
-- that the audit log's row for the change says who made it. A password
-- change bumps session_version: the user's sessions signed in before it end.
ALTER TABLE users
    ADD COLUMN updated_by bigint REFERENCES users (id),
    ADD COLUMN session_version integer NOT NULL DEFAULT 0;
ALTER TABLE api_tokens
    ADD COLUMN created_by bigint REFERENCES users (id),
    ADD COLUMN revoked_by bigint REFERENCES users (id);

-- Issuing and revoking API tokens join the audit log (without the token's
-- hash; a token's use, which sets last_used_at, does not).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION heed_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    prev text;
    r audit_log%ROWTYPE;
    d jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(1751475557, 2);
    SELECT hash INTO prev FROM audit_log ORDER BY seq DESC LIMIT 1;
    IF prev IS NULL THEN
        prev := repeat('0', 64);
    END IF;
    d := to_jsonb(NEW);
    IF TG_TABLE_NAME = 'users' THEN
        d := d - 'password_hash';
    ELSIF TG_TABLE_NAME = 'api_tokens' THEN
        d := d - 'token_hash' - 'last_used_at';
    END IF;
    r.seq := nextval(pg_get_serial_sequence('audit_log', 'seq'));
    r.at := clock_timestamp();
    r.tbl := TG_TABLE_NAME;
    r.op := lower(TG_OP);
    r.row_id := NEW.id;
    r.details := d;
    r.prev_hash := prev;
    r.hash := encode(sha256(convert_to(
        prev || '|' || r.seq || '|' || (extract(epoch FROM r.at) * 1000000)::bigint || '|' || r.tbl || '|' || r.op || '|' || r.row_id || '|' || r.details::text,
        'UTF8')), 'hex');
    INSERT INTO audit_log VALUES (r.*);
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER api_tokens_audit AFTER INSERT OR UPDATE OF revoked_at ON api_tokens FOR EACH ROW EXECUTE FUNCTION heed_audit();

-- +goose Down
DROP TRIGGER api_tokens_audit ON api_tokens;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION heed_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    prev text;
    r audit_log%ROWTYPE;
    d jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(1751475557, 2);
    SELECT hash INTO prev FROM audit_log ORDER BY seq DESC LIMIT 1;
    IF prev IS NULL THEN
        prev := repeat('0', 64);
    END IF;
    d := to_jsonb(NEW);
    IF TG_TABLE_NAME = 'users' THEN
        d := d - 'password_hash';
    END IF;
    r.seq := nextval(pg_get_serial_sequence('audit_log', 'seq'));
    r.at := clock_timestamp();
    r.tbl := TG_TABLE_NAME;
    r.op := lower(TG_OP);
    r.row_id := NEW.id;
    r.details := d;
    r.prev_hash := prev;
    r.hash := encode(sha256(convert_to(
        prev || '|' || r.seq || '|' || (extract(epoch FROM r.at) * 1000000)::bigint || '|' || r.tbl || '|' || r.op || '|' || r.row_id || '|' || r.details::text,
        'UTF8')), 'hex');
    INSERT INTO audit_log VALUES (r.*);
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
ALTER TABLE api_tokens DROP COLUMN revoked_by, DROP COLUMN created_by;
ALTER TABLE users DROP COLUMN session_version, DROP COLUMN updated_by;
