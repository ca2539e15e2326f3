-- +goose Up
-- Opt-outs as they are taken: a key press during a call, the public
-- opt-out page, a staff entry. Taking one is a short insert here that waits
-- for nothing: no change-log or audit-log lock, both of which a long import
-- holds for its whole transaction. From its next sync on, every heed
-- process's gate refuses a number with an opt-out taken but not yet
-- recorded (recorded_at NULL) as if it were on the internal do-not-call
-- list. Recording it writes the revocation and the do-not-call entry, dated
-- when it was taken, through the change log and the audit log, and sets
-- recorded_at in the same transaction, under this row's lock: once only,
-- whichever process records it. Rows are never deleted, and only ever
-- marked recorded, once.
CREATE TABLE optout_requests (
    id            bigserial PRIMARY KEY,
    phone         text NOT NULL,
    taken_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    method        text NOT NULL,
    source        text NOT NULL DEFAULT '',
    taken_by      bigint REFERENCES users (id),
    -- The call whose key press it is: one opt-out per call, however many
    -- times a retry takes it.
    attempt_id    bigint UNIQUE REFERENCES attempts (id),
    recorded_at   timestamptz,
    revocation_id bigint, -- the revocation recorded (revocations are append-only)
    -- The internal do-not-call entry recorded, unless one was in force.
    dnc_id        bigint,
    -- Whether the number already had an internal do-not-call entry in
    -- force when the opt-out was recorded (then no second one is added).
    listed        boolean,
    CHECK ((recorded_at IS NULL) = (revocation_id IS NULL) AND (recorded_at IS NULL) = (listed IS NULL))
);
CREATE INDEX optout_requests_pending_idx ON optout_requests (phone) WHERE recorded_at IS NULL;
-- The calls report finds the request of a record it reports.
CREATE INDEX optout_requests_revocation_idx ON optout_requests (revocation_id) WHERE revocation_id IS NOT NULL;
CREATE INDEX optout_requests_dnc_idx ON optout_requests (dnc_id) WHERE dnc_id IS NOT NULL;

-- +goose StatementBegin
CREATE FUNCTION heed_optout_request_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'opt-out request %: opt-out requests are never deleted', OLD.id;
    END IF;
    IF OLD.recorded_at IS NOT NULL OR NEW.recorded_at IS NULL OR (NEW.dnc_id IS NOT NULL AND NEW.listed)
       OR (NEW.id, NEW.phone, NEW.taken_at, NEW.method, NEW.source, NEW.taken_by, NEW.attempt_id)
          IS DISTINCT FROM (OLD.id, OLD.phone, OLD.taken_at, OLD.method, OLD.source, OLD.taken_by, OLD.attempt_id) THEN
        RAISE EXCEPTION 'opt-out request %: a request is only ever marked recorded, once', OLD.id;
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER optout_requests_guard BEFORE UPDATE OR DELETE ON optout_requests
    FOR EACH ROW EXECUTE FUNCTION heed_optout_request_guard();
CREATE TRIGGER optout_requests_no_truncate BEFORE TRUNCATE ON optout_requests
    FOR EACH STATEMENT EXECUTE FUNCTION heed_append_only();

-- Processes following the change log sync on this notification, as on a
-- change's.
-- +goose StatementBegin
CREATE FUNCTION heed_optout_request_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('heed_index', '0');
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER optout_requests_notify AFTER INSERT ON optout_requests
    FOR EACH ROW EXECUTE FUNCTION heed_optout_request_notify();

-- +goose Down
DROP TRIGGER optout_requests_notify ON optout_requests;
DROP FUNCTION heed_optout_request_notify();
DROP TRIGGER optout_requests_no_truncate ON optout_requests;
DROP TRIGGER optout_requests_guard ON optout_requests;
DROP FUNCTION heed_optout_request_guard();
DROP TABLE optout_requests;
