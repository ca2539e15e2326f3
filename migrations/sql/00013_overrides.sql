-- +goose Up
-- Logged overrides (issue #4): an attorney's record that a person gave
-- direct consent to more debt-collection calls than Reg F's frequency limits
-- allow (rule R1, 12 CFR 1006.14(b)(3)(i)), or that a live solicitation call
-- falls under an exception of CT Rule of Professional Conduct 7.3 (rule E1:
-- the person is a lawyer, family, or has a close or prior professional
-- relationship). Each row proves who logged it, when, for which number and
-- why. Both tables are append-only: an override ends by expiring or by a
-- withdrawal row, never by an UPDATE or DELETE. Every insert is written to
-- the hash-chained audit log in the same transaction.
CREATE TABLE overrides (
    id            bigserial PRIMARY KEY,
    -- The number in E.164 form, inside the NANP.
    phone         text NOT NULL CHECK (phone ~ '^\+1[0-9]{10}$'),
    kind          text NOT NULL CHECK (kind IN ('regf_direct_consent', 'solicitation_exception')),
    -- The relationship behind a solicitation exception; NULL for Reg F.
    relationship  text CHECK (relationship IN ('lawyer', 'family', 'close_personal', 'prior_professional')),
    -- What the person said, or what the relationship is.
    note          text NOT NULL CHECK (char_length(btrim(note)) >= 10),
    evidence      text NOT NULL DEFAULT '',
    evidence_hash text NOT NULL DEFAULT '',
    -- An attorney (checked by the trigger below when the row is written).
    logged_by     bigint NOT NULL REFERENCES users (id),
    -- Where it was logged: the web page or the command line.
    via           text NOT NULL CHECK (via IN ('web', 'cli')),
    -- Set by the trigger below to the database's clock: never backdated.
    logged_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- NULL: no expiry. A Reg F direct consent always expires, at most seven
    -- days after it was logged (12 CFR 1006.14(b)(3)(i)).
    expires_at    timestamptz,
    UNIQUE (id, phone),
    CONSTRAINT overrides_relationship_kind CHECK ((kind = 'solicitation_exception') = (relationship IS NOT NULL)),
    CONSTRAINT overrides_expires_after_logged CHECK (expires_at IS NULL OR expires_at > logged_at),
    CONSTRAINT overrides_regf_seven_days CHECK (kind <> 'regf_direct_consent'
        OR (expires_at IS NOT NULL AND expires_at <= logged_at + interval '7 days'))
);
CREATE INDEX overrides_phone_idx ON overrides (phone, logged_at);

-- A withdrawal ends one override from withdrawn_at on. The phone repeats the
-- override's (the foreign key keeps them equal) so that the audit log names
-- the number of every withdrawal.
CREATE TABLE override_withdrawals (
    id           bigserial PRIMARY KEY,
    override_id  bigint NOT NULL UNIQUE,
    phone        text NOT NULL,
    reason       text NOT NULL CHECK (char_length(btrim(reason)) > 0),
    withdrawn_by bigint NOT NULL REFERENCES users (id),
    via          text NOT NULL CHECK (via IN ('web', 'cli')),
    withdrawn_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    FOREIGN KEY (override_id, phone) REFERENCES overrides (id, phone)
);

-- Only an enabled attorney may log or withdraw an override, and the time of
-- either is the database's clock, so that neither can be backdated. A Reg F
-- direct consent logged without an expiry expires seven days later.
-- +goose StatementBegin
CREATE FUNCTION heed_override_write() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    who bigint;
    r text;
    off boolean;
BEGIN
    IF TG_TABLE_NAME = 'overrides' THEN
        who := NEW.logged_by;
        NEW.logged_at := clock_timestamp();
        IF NEW.kind = 'regf_direct_consent' AND NEW.expires_at IS NULL THEN
            NEW.expires_at := NEW.logged_at + interval '7 days';
        END IF;
    ELSE
        who := NEW.withdrawn_by;
        NEW.withdrawn_at := clock_timestamp();
    END IF;
    SELECT role, disabled INTO r, off FROM users WHERE id = who FOR SHARE;
    IF r IS DISTINCT FROM 'attorney' OR off THEN
        RAISE EXCEPTION 'user % is not an enabled attorney: only attorneys may log or withdraw overrides', who
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER overrides_write BEFORE INSERT ON overrides FOR EACH ROW EXECUTE FUNCTION heed_override_write();
CREATE TRIGGER override_withdrawals_write BEFORE INSERT ON override_withdrawals FOR EACH ROW EXECUTE FUNCTION heed_override_write();

CREATE TRIGGER overrides_append_only BEFORE UPDATE OR DELETE ON overrides FOR EACH ROW EXECUTE FUNCTION heed_append_only();
CREATE TRIGGER override_withdrawals_append_only BEFORE UPDATE OR DELETE ON override_withdrawals FOR EACH ROW EXECUTE FUNCTION heed_append_only();
CREATE TRIGGER overrides_no_truncate BEFORE TRUNCATE ON overrides FOR EACH STATEMENT EXECUTE FUNCTION heed_append_only();
CREATE TRIGGER override_withdrawals_no_truncate BEFORE TRUNCATE ON override_withdrawals FOR EACH STATEMENT EXECUTE FUNCTION heed_append_only();

CREATE TRIGGER overrides_audit AFTER INSERT ON overrides FOR EACH ROW EXECUTE FUNCTION heed_audit();
CREATE TRIGGER override_withdrawals_audit AFTER INSERT ON override_withdrawals FOR EACH ROW EXECUTE FUNCTION heed_audit();

-- +goose Down
DROP TABLE override_withdrawals;
DROP TABLE overrides;
DROP FUNCTION heed_override_write();
