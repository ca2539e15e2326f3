-- +goose Up
-- The firm's caller IDs (rule F11: always send a valid number that
-- accepts do-not-call requests during business hours; never block caller
-- ID, never spoof). heed cannot tell who owns a number, so an admin
-- declares each number the firm owns, with the attestation they affirmed:
-- that the number is the firm's and takes do-not-call requests during
-- business hours. A campaign may send only a current one (campaign
-- creation, edits, starts, and heed's start re-check running campaigns).
--
-- No number is declared here. Campaigns saved before this migration keep
-- their caller IDs, and heed's next start pauses every running one whose
-- number an admin has not declared: declaring their numbers here would
-- bless a spoofed one (an audit found a contact's own number, and a
-- Jamaican one, accepted as caller IDs).
--
-- A caller ID is never deleted and never edited: it is retired
-- (retired_at, retired_by), once, and a number retired by mistake is
-- declared again, attested again, as a new row. Only an enabled admin may
-- declare or retire one, and both times are the database's clock, so that
-- neither can be backdated. Each declaration and retirement is a row of the
-- hash-chained audit log.
CREATE TABLE caller_ids (
    id          bigserial PRIMARY KEY,
    -- E.164, inside the NANP; campaign.Service refuses the numbers that are
    -- not of the United States, 900 and 976 numbers and N11 codes.
    phone       text NOT NULL CHECK (phone ~ '^\+1[2-9][0-9]{2}[2-9][0-9]{6}$'),
    label       text NOT NULL CHECK (char_length(btrim(label)) BETWEEN 1 AND 100),
    -- The statement the admin affirmed, word for word.
    attestation text NOT NULL CHECK (char_length(btrim(attestation)) > 0),
    added_by    bigint NOT NULL REFERENCES users (id),
    added_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    retired_at  timestamptz,
    retired_by  bigint REFERENCES users (id),
    CONSTRAINT caller_ids_retired_by CHECK ((retired_at IS NULL) = (retired_by IS NULL))
);
-- A number is a current caller ID at most once.
CREATE UNIQUE INDEX caller_ids_current ON caller_ids (phone) WHERE retired_at IS NULL;

-- +goose StatementBegin
CREATE FUNCTION heed_caller_ids_write() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    who bigint;
    r text;
    off boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.retired_at IS NOT NULL OR NEW.retired_by IS NOT NULL THEN
            RAISE EXCEPTION 'caller ID %: a caller ID is declared current; it is retired afterwards', NEW.phone
                USING ERRCODE = 'restrict_violation';
        END IF;
        who := NEW.added_by;
        NEW.added_at := clock_timestamp();
    ELSE
        IF NEW IS NOT DISTINCT FROM OLD THEN
            RETURN NEW;
        END IF;
        IF OLD.retired_at IS NOT NULL THEN
            RAISE EXCEPTION 'caller ID % (%) was retired at %: a retired caller ID is never changed; declare the number again', OLD.id, OLD.phone, OLD.retired_at
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF (NEW.id, NEW.phone, NEW.label, NEW.attestation, NEW.added_by, NEW.added_at)
           IS DISTINCT FROM (OLD.id, OLD.phone, OLD.label, OLD.attestation, OLD.added_by, OLD.added_at) THEN
            RAISE EXCEPTION 'caller ID % (%): a caller ID is never edited, only retired: retire it and declare the number again', OLD.id, OLD.phone
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF NEW.retired_at IS NULL AND NEW.retired_by IS NULL THEN
            RETURN NEW;
        END IF;
        IF NEW.retired_at IS NULL OR NEW.retired_by IS NULL THEN
            RAISE EXCEPTION 'caller ID % (%): a retirement sets when (retired_at) and the admin who retires it (retired_by)', OLD.id, OLD.phone
                USING ERRCODE = 'restrict_violation';
        END IF;
        who := NEW.retired_by;
        NEW.retired_at := clock_timestamp();
    END IF;
    SELECT role, disabled INTO r, off FROM users WHERE id = who FOR SHARE;
    IF r IS DISTINCT FROM 'admin' OR off THEN
        RAISE EXCEPTION 'user % is not an enabled admin: only admins declare or retire the firm''s caller IDs', who
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER caller_ids_write BEFORE INSERT OR UPDATE ON caller_ids FOR EACH ROW EXECUTE FUNCTION heed_caller_ids_write();
CREATE TRIGGER caller_ids_no_delete BEFORE DELETE ON caller_ids FOR EACH ROW EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER caller_ids_no_truncate BEFORE TRUNCATE ON caller_ids FOR EACH STATEMENT EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER caller_ids_audit AFTER INSERT ON caller_ids FOR EACH ROW EXECUTE FUNCTION heed_audit();
CREATE TRIGGER caller_ids_update_audit AFTER UPDATE ON caller_ids FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION heed_audit();

-- +goose Down
DROP TABLE caller_ids;
DROP FUNCTION heed_caller_ids_write();
