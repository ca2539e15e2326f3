-- +goose Up
-- A registry list install (national, state, litigator) joins the change
-- log: one row (index 'dnc', op 'install', ref_id the dnc_list_installs
-- row, phone '') in the install's transaction, under the log's lock, so
-- that its seq commits in order with every other change. A process whose
-- indexes report a position at or past it has loaded that copy (or a
-- newer one): the pacer's exact last look, which is recorded only when
-- the log holds nothing past the indexes' position, then covers installs
-- as it covers opt-outs. The numbers stay in the snapshot file; the row
-- only names the install. Installs made before this migration are not
-- logged: every process loads the current copies when it starts.
ALTER TABLE index_changes
    DROP CONSTRAINT index_changes_op_check,
    ADD CONSTRAINT index_changes_op_check CHECK (op IN ('add', 'remove', 'consent', 'revocation', 'install'));

-- As in 00002, with a branch for dnc_list_installs.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION heed_index_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s bigint;
    kind text;
    operation text;
    number text := '';
BEGIN
    IF TG_TABLE_NAME = 'dnc_internal' THEN
        kind := 'dnc';
        number := NEW.phone;
        IF TG_OP = 'INSERT' THEN
            operation := CASE WHEN NEW.removed_at IS NULL THEN 'add' ELSE 'remove' END;
        ELSIF NEW.removed_at IS DISTINCT FROM OLD.removed_at THEN
            operation := CASE WHEN NEW.removed_at IS NULL THEN 'add' ELSE 'remove' END;
        ELSE
            RETURN NEW;
        END IF;
    ELSIF TG_TABLE_NAME = 'dnc_list_installs' THEN
        kind := 'dnc';
        operation := 'install';
    ELSIF TG_TABLE_NAME = 'consents' THEN
        kind := 'consent';
        operation := 'consent';
        number := NEW.phone;
    ELSE
        kind := 'consent';
        operation := 'revocation';
        number := NEW.phone;
    END IF;
    PERFORM pg_advisory_xact_lock(1751475557, 1);
    INSERT INTO index_changes (index, phone, op, ref_id) VALUES (kind, number, operation, NEW.id) RETURNING seq INTO s;
    PERFORM pg_notify('heed_index', s::text);
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

-- Named after dnc_list_installs_audit, so it runs after it: the audit
-- log's lock, then the change log's, as for every other audited change.
CREATE TRIGGER dnc_list_installs_index_change AFTER INSERT ON dnc_list_installs FOR EACH ROW EXECUTE FUNCTION heed_index_change();

-- +goose Down
DROP TRIGGER dnc_list_installs_index_change ON dnc_list_installs;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION heed_index_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s bigint;
    kind text;
    operation text;
BEGIN
    IF TG_TABLE_NAME = 'dnc_internal' THEN
        kind := 'dnc';
        IF TG_OP = 'INSERT' THEN
            operation := CASE WHEN NEW.removed_at IS NULL THEN 'add' ELSE 'remove' END;
        ELSIF NEW.removed_at IS DISTINCT FROM OLD.removed_at THEN
            operation := CASE WHEN NEW.removed_at IS NULL THEN 'add' ELSE 'remove' END;
        ELSE
            RETURN NEW;
        END IF;
    ELSIF TG_TABLE_NAME = 'consents' THEN
        kind := 'consent';
        operation := 'consent';
    ELSE
        kind := 'consent';
        operation := 'revocation';
    END IF;
    PERFORM pg_advisory_xact_lock(1751475557, 1);
    INSERT INTO index_changes (index, phone, op, ref_id) VALUES (kind, NEW.phone, operation, NEW.id) RETURNING seq INTO s;
    PERFORM pg_notify('heed_index', s::text);
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
-- The install rows stay (the change log is append-only), and so does the
-- constraint that allows them.
