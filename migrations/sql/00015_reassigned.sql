-- +goose Up
-- Answers of the FCC's Reassigned Numbers Database (rule F15), imported by
-- the firm: for a number and a date, whether the number has been
-- permanently disconnected since that date ('yes', 'no' or 'no_data'), and
-- when the database answered. With the firm setting check_reassigned on,
-- a 'yes' makes every consent obtained before the answer not count: the
-- disconnection happened at some moment up to then. Append-only and
-- audited, like the consent ledger.
CREATE TABLE reassigned_checks (
    id          bigserial PRIMARY KEY,
    phone       text NOT NULL CHECK (phone ~ '^\+1[2-9][0-9]{2}[2-9][0-9]{6}$'),
    asked_date  date NOT NULL,
    result      text NOT NULL CHECK (result IN ('yes', 'no', 'no_data')),
    answered_at timestamptz NOT NULL,
    source      text NOT NULL DEFAULT '',
    imported_at timestamptz NOT NULL DEFAULT now(),
    CHECK (answered_at >= asked_date)
);
CREATE INDEX reassigned_checks_phone ON reassigned_checks (phone, answered_at) WHERE result = 'yes';

CREATE TRIGGER reassigned_checks_append_only BEFORE UPDATE OR DELETE ON reassigned_checks FOR EACH ROW EXECUTE FUNCTION heed_append_only();
CREATE TRIGGER reassigned_checks_no_truncate BEFORE TRUNCATE ON reassigned_checks FOR EACH STATEMENT EXECUTE FUNCTION heed_append_only();
CREATE TRIGGER reassigned_checks_audit AFTER INSERT ON reassigned_checks FOR EACH ROW EXECUTE FUNCTION heed_audit();

-- +goose Down
DROP TABLE reassigned_checks;
