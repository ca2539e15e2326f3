-- +goose Up
-- A contact withdrawn from a campaign (its target skipped, with who, when
-- and why) joins the hash-chained audit log: it is a decision not to call.
-- A target has no id of its own; its audit row is named by its contact.
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
    -- A campaign's target has no id of its own: its row is its contact's.
    r.row_id := coalesce((d->>'id')::bigint, (d->>'contact_id')::bigint);
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
CREATE TRIGGER campaign_targets_skip_audit AFTER UPDATE OF state ON campaign_targets FOR EACH ROW
    WHEN (NEW.state = 'skipped' AND OLD.state IS DISTINCT FROM 'skipped') EXECUTE FUNCTION heed_audit();

-- +goose Down
DROP TRIGGER campaign_targets_skip_audit ON campaign_targets;
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
