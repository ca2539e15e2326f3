-- +goose Up
-- A hash-chained audit log of consent, do-not-call, user and campaign
-- changes. Each row's hash covers the previous row's hash and the row's own
-- content, so editing or deleting any row breaks the chain from there on;
-- `heed audit verify` recomputes it. Rows are written by triggers, in the
-- same transaction as the change, under a lock that keeps the chain linear.
CREATE TABLE audit_log (
    seq        bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    tbl        text NOT NULL,
    op         text NOT NULL,
    row_id     bigint NOT NULL,
    details    jsonb NOT NULL,
    prev_hash  text NOT NULL,
    hash       text NOT NULL
);

-- +goose StatementBegin
CREATE FUNCTION heed_audit() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER consents_audit AFTER INSERT OR UPDATE ON consents FOR EACH ROW EXECUTE FUNCTION heed_audit();
CREATE TRIGGER revocations_audit AFTER INSERT OR UPDATE ON revocations FOR EACH ROW EXECUTE FUNCTION heed_audit();
CREATE TRIGGER dnc_internal_audit AFTER INSERT OR UPDATE ON dnc_internal FOR EACH ROW EXECUTE FUNCTION heed_audit();
CREATE TRIGGER campaigns_audit AFTER INSERT OR UPDATE ON campaigns FOR EACH ROW EXECUTE FUNCTION heed_audit();
CREATE TRIGGER users_audit AFTER INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION heed_audit();

-- +goose Down
DROP TRIGGER users_audit ON users;
DROP TRIGGER campaigns_audit ON campaigns;
DROP TRIGGER dnc_internal_audit ON dnc_internal;
DROP TRIGGER revocations_audit ON revocations;
DROP TRIGGER consents_audit ON consents;
DROP FUNCTION heed_audit();
DROP TABLE audit_log;
