-- +goose Up
-- The firm's settings (consent.FirmPolicy), versioned: every save is a new
-- row with the next version number, and the current policy is the newest
-- row. Rows are append-only, every save is written to the audit log, and
-- every save notifies 'heed_settings' with its version so that every heed
-- process rebuilds its policy engine; all three happen in the saving
-- transaction.
CREATE TABLE firm_settings (
    id       bigserial PRIMARY KEY,
    version  integer NOT NULL UNIQUE CHECK (version > 0),
    policy   jsonb NOT NULL,
    saved_by bigint NOT NULL REFERENCES users (id),
    saved_at timestamptz NOT NULL DEFAULT now(),
    note     text NOT NULL DEFAULT ''
);

-- +goose StatementBegin
CREATE FUNCTION heed_settings_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('heed_settings', NEW.version::text);
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER firm_settings_append_only BEFORE UPDATE OR DELETE ON firm_settings FOR EACH ROW EXECUTE FUNCTION heed_append_only();
CREATE TRIGGER firm_settings_no_truncate BEFORE TRUNCATE ON firm_settings FOR EACH STATEMENT EXECUTE FUNCTION heed_append_only();
CREATE TRIGGER firm_settings_audit AFTER INSERT ON firm_settings FOR EACH ROW EXECUTE FUNCTION heed_audit();
CREATE TRIGGER firm_settings_notify AFTER INSERT ON firm_settings FOR EACH ROW EXECUTE FUNCTION heed_settings_notify();

-- +goose Down
DROP TRIGGER firm_settings_notify ON firm_settings;
DROP TRIGGER firm_settings_audit ON firm_settings;
DROP TRIGGER firm_settings_no_truncate ON firm_settings;
DROP TRIGGER firm_settings_append_only ON firm_settings;
DROP FUNCTION heed_settings_notify();
DROP TABLE firm_settings;
