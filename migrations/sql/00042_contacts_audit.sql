-- +goose Up
-- A change to a contact joins the hash-chained audit log: its state, ZIP,
-- line type and accident date feed the gate's decisions, and its other
-- fields what a message says. An import that updates contacts names who
-- ran it (updated_by) and when (updated_at). Contacts as first imported
-- are not audited row by row (a list may hold hundreds of thousands):
-- each attempt keeps the fields it was decided on
-- (attempts.decision_input).
--
-- Every audited update, of a contact or of any other audited table, now
-- holds under "before" the values it replaced (the fields whose values
-- differ, secrets left out as from the row itself), so that the log shows
-- what a change undid, not only what it left.
ALTER TABLE contacts
    ADD COLUMN updated_by bigint REFERENCES users (id),
    ADD COLUMN updated_at timestamptz;

-- As in 00039, with the values an update replaced.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION heed_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    prev text;
    r audit_log%ROWTYPE;
    d jsonb;
    o jsonb;
BEGIN
    -- (PostgreSQL runs READ UNCOMMITTED as READ COMMITTED.)
    IF current_setting('transaction_isolation') NOT IN ('read committed', 'read uncommitted') THEN
        RAISE EXCEPTION 'audit log: % of % refused: audited writes run at READ COMMITTED, not %, or the chain could fork', lower(TG_OP), TG_TABLE_NAME, upper(current_setting('transaction_isolation'))
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    PERFORM pg_advisory_xact_lock(1751475557, 2);
    SELECT hash INTO prev FROM audit_log ORDER BY seq DESC LIMIT 1;
    IF prev IS NULL THEN
        prev := repeat('0', 64);
    END IF;
    d := to_jsonb(NEW);
    o := CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) END;
    IF TG_TABLE_NAME = 'users' THEN
        d := d - 'password_hash';
        o := o - 'password_hash';
    ELSIF TG_TABLE_NAME = 'api_tokens' THEN
        d := d - 'token_hash' - 'last_used_at';
        o := o - 'token_hash' - 'last_used_at';
    END IF;
    IF o IS NOT NULL THEN
        -- What an update replaced: the fields whose values differ.
        d := d || jsonb_build_object('before', (SELECT coalesce(jsonb_object_agg(x.key, x.value), '{}'::jsonb)
                                                  FROM jsonb_each(o) x WHERE x.value IS DISTINCT FROM d->x.key));
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

CREATE TRIGGER contacts_update_audit AFTER UPDATE ON contacts FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION heed_audit();

-- +goose Down
DROP TRIGGER contacts_update_audit ON contacts;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION heed_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    prev text;
    r audit_log%ROWTYPE;
    d jsonb;
BEGIN
    -- (PostgreSQL runs READ UNCOMMITTED as READ COMMITTED.)
    IF current_setting('transaction_isolation') NOT IN ('read committed', 'read uncommitted') THEN
        RAISE EXCEPTION 'audit log: % of % refused: audited writes run at READ COMMITTED, not %, or the chain could fork', lower(TG_OP), TG_TABLE_NAME, upper(current_setting('transaction_isolation'))
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
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
ALTER TABLE contacts DROP COLUMN updated_at, DROP COLUMN updated_by;
