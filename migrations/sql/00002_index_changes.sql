-- +goose Up
-- The change log that keeps every heed process's in-memory indexes current.
-- Each write to a source table adds a row here in the same transaction and
-- notifies 'heed_index'; processes apply rows in seq order and record the
-- seq they have reached. Writers take a transaction-scoped advisory lock
-- before taking a seq, so seqs commit in order: a reader that has seen seq N
-- can never later find a committed row below N.
CREATE TABLE index_changes (
    seq        bigserial PRIMARY KEY,
    index      text NOT NULL CHECK (index IN ('dnc', 'consent')),
    phone      text NOT NULL,
    op         text NOT NULL CHECK (op IN ('add', 'remove', 'consent', 'revocation')),
    ref_id     bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose StatementBegin
CREATE FUNCTION heed_index_change() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER dnc_internal_index_change AFTER INSERT OR UPDATE ON dnc_internal FOR EACH ROW EXECUTE FUNCTION heed_index_change();
CREATE TRIGGER consents_index_change AFTER INSERT ON consents FOR EACH ROW EXECUTE FUNCTION heed_index_change();
CREATE TRIGGER revocations_index_change AFTER INSERT ON revocations FOR EACH ROW EXECUTE FUNCTION heed_index_change();

-- +goose Down
DROP TRIGGER revocations_index_change ON revocations;
DROP TRIGGER consents_index_change ON consents;
DROP TRIGGER dnc_internal_index_change ON dnc_internal;
DROP FUNCTION heed_index_change();
DROP TABLE index_changes;
