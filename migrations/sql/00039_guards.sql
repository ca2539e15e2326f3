-- +goose Up
-- Guards on what heed never changes, so that every decision stays provable.
-- Each refusal raises restrict_violation with a message that says what was
-- refused and why. The database's owner can still turn a guard off (ALTER
-- TABLE ... DISABLE TRIGGER), which no heed process does; what such an
-- owner then changes in the audited tables still shows in the audit log's
-- hash chain.
--
-- An attempt is the record of a decision: what was decided (decision,
-- decided_until, reasons, pack, consent_id), what it was decided from
-- (decision_input, phone, caller_id, campaign_id, contact_id, attempt_no)
-- and when (created_at), written before any call is placed. None of those
-- ever changes. The columns that follow a call as it goes (status,
-- outcome, the times, channel_id, asterisk, hangup_cause, dtmf, amd,
-- recording, transfer_to, looked_at, last_look, reconcile, reconciled_at,
-- not_placed) change while the call is in flight, and never once the
-- attempt is finished (status blocked, deferred or ended): heed writes them
-- only to attempts in flight, and an ended call rewritten as called off or
-- not placed would leave the calls report (which checks every allowed call
-- placed) no call to check. Attempts are never deleted.
-- +goose StatementBegin
CREATE FUNCTION heed_attempts_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'attempt %: attempts are never deleted: each is the record of a decision', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    SELECT string_agg(n.key, ', ' ORDER BY n.key) INTO changed
      FROM jsonb_each(to_jsonb(NEW)) n JOIN jsonb_each(to_jsonb(OLD)) o USING (key)
     WHERE n.value IS DISTINCT FROM o.value
       AND n.key IN ('id', 'campaign_id', 'contact_id', 'attempt_no', 'phone', 'caller_id', 'decision', 'decided_until',
                     'reasons', 'pack', 'consent_id', 'decision_input', 'created_at');
    IF changed IS NOT NULL THEN
        RAISE EXCEPTION 'attempt %: its decision and what it was made from are never changed (refused: %)', OLD.id, changed
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.status IN ('blocked', 'deferred', 'ended') THEN
        SELECT string_agg(n.key, ', ' ORDER BY n.key) INTO changed
          FROM jsonb_each(to_jsonb(NEW)) n JOIN jsonb_each(to_jsonb(OLD)) o USING (key)
         WHERE n.value IS DISTINCT FROM o.value;
        RAISE EXCEPTION 'attempt %: a finished attempt (status %) is never changed (refused: %)', OLD.id, OLD.status, changed
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
-- The WHEN clause keeps the function off the pacer's updates of calls in
-- flight; the function says what was refused.
CREATE TRIGGER attempts_guard BEFORE UPDATE ON attempts FOR EACH ROW
    WHEN ((OLD.status IN ('blocked', 'deferred', 'ended') AND OLD.* IS DISTINCT FROM NEW.*)
          OR (OLD.id, OLD.campaign_id, OLD.contact_id, OLD.attempt_no, OLD.phone, OLD.caller_id, OLD.decision, OLD.decided_until,
              OLD.reasons, OLD.pack, OLD.consent_id, OLD.decision_input, OLD.created_at)
             IS DISTINCT FROM
             (NEW.id, NEW.campaign_id, NEW.contact_id, NEW.attempt_no, NEW.phone, NEW.caller_id, NEW.decision, NEW.decided_until,
              NEW.reasons, NEW.pack, NEW.consent_id, NEW.decision_input, NEW.created_at))
    EXECUTE FUNCTION heed_attempts_guard();
CREATE TRIGGER attempts_no_delete BEFORE DELETE ON attempts FOR EACH ROW EXECUTE FUNCTION heed_attempts_guard();

-- Tables heed never deletes from: the records the audit log, the calls
-- report and an attempt's record rely on, and what they name (a campaign's
-- deletion took its attempts with it, ON DELETE CASCADE, unaudited). An
-- internal do-not-call entry is taken off by setting removed_at, a user is
-- disabled, an API token revoked; campaign_targets (a draft's targets are
-- replaced), sessions, web_keys, installation and River's and goose's own
-- tables are left alone. The audit log and the change log are
-- append-only: heed never changes their rows either.
-- +goose StatementBegin
CREATE FUNCTION heed_never_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION '% is append-only: its rows are never changed', TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END IF;
    RAISE EXCEPTION '%: % refused: heed never deletes these rows (they are records its audit log and calls report rely on)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER campaigns_no_delete BEFORE DELETE ON campaigns FOR EACH ROW EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER contact_lists_no_delete BEFORE DELETE ON contact_lists FOR EACH ROW EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER contacts_no_delete BEFORE DELETE ON contacts FOR EACH ROW EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER dnc_internal_no_delete BEFORE DELETE ON dnc_internal FOR EACH ROW EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER dnc_lists_no_delete BEFORE DELETE ON dnc_lists FOR EACH ROW EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER dnc_list_installs_no_delete BEFORE DELETE ON dnc_list_installs FOR EACH ROW EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER users_no_delete BEFORE DELETE ON users FOR EACH ROW EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER api_tokens_no_delete BEFORE DELETE ON api_tokens FOR EACH ROW EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER calls_checks_no_delete BEFORE DELETE ON calls_checks FOR EACH ROW EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER index_changes_append_only BEFORE UPDATE OR DELETE ON index_changes FOR EACH ROW EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER attempts_no_truncate BEFORE TRUNCATE ON attempts FOR EACH STATEMENT EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER campaigns_no_truncate BEFORE TRUNCATE ON campaigns FOR EACH STATEMENT EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER contact_lists_no_truncate BEFORE TRUNCATE ON contact_lists FOR EACH STATEMENT EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER contacts_no_truncate BEFORE TRUNCATE ON contacts FOR EACH STATEMENT EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER dnc_internal_no_truncate BEFORE TRUNCATE ON dnc_internal FOR EACH STATEMENT EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER dnc_lists_no_truncate BEFORE TRUNCATE ON dnc_lists FOR EACH STATEMENT EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER dnc_list_installs_no_truncate BEFORE TRUNCATE ON dnc_list_installs FOR EACH STATEMENT EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER users_no_truncate BEFORE TRUNCATE ON users FOR EACH STATEMENT EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER api_tokens_no_truncate BEFORE TRUNCATE ON api_tokens FOR EACH STATEMENT EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER calls_checks_no_truncate BEFORE TRUNCATE ON calls_checks FOR EACH STATEMENT EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER index_changes_no_truncate BEFORE TRUNCATE ON index_changes FOR EACH STATEMENT EXECUTE FUNCTION heed_never_deleted();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION heed_never_deleted();

-- An API token stays the token it was issued as: to whom (user_id), its
-- hash, who issued it and when. Moving it to another user, or giving it
-- another hash, is refused: revoke it and issue a new one. Every other
-- change is audited, as issuing and revoking were, except its use
-- (last_used_at alone).
-- +goose StatementBegin
CREATE FUNCTION heed_api_tokens_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'API token %: its user, hash, issuer and issue time are never changed: revoke it and issue a new one', OLD.id
        USING ERRCODE = 'restrict_violation';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER api_tokens_guard BEFORE UPDATE OF id, user_id, token_hash, created_at, created_by ON api_tokens FOR EACH ROW
    WHEN ((OLD.id, OLD.user_id, OLD.token_hash, OLD.created_at, OLD.created_by) IS DISTINCT FROM (NEW.id, NEW.user_id, NEW.token_hash, NEW.created_at, NEW.created_by))
    EXECUTE FUNCTION heed_api_tokens_guard();
DROP TRIGGER api_tokens_audit ON api_tokens;
CREATE TRIGGER api_tokens_audit AFTER INSERT ON api_tokens FOR EACH ROW EXECUTE FUNCTION heed_audit();
CREATE TRIGGER api_tokens_update_audit AFTER UPDATE ON api_tokens FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
    EXECUTE FUNCTION heed_audit();

-- Who took an internal do-not-call entry off (NULL: the heed command, run
-- on the server, or an entry taken off before heed recorded it). The
-- audit log's row of the removal holds it.
ALTER TABLE dnc_internal
    ADD COLUMN removed_by bigint REFERENCES users (id),
    ADD CONSTRAINT dnc_internal_removed_by_check CHECK (removed_by IS NULL OR removed_at IS NOT NULL);

-- The audit log's writes refuse a transaction that is not READ COMMITTED.
-- The function reads the latest hash once it holds the log's lock; at
-- REPEATABLE READ or SERIALIZABLE that read sees the transaction's
-- snapshot, taken before the lock, which may miss a row another writer
-- committed meanwhile: two rows would then name the same previous hash, a
-- fork verify reports as tampering for good. Otherwise as in 00023.
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

-- +goose Down
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
ALTER TABLE dnc_internal DROP CONSTRAINT dnc_internal_removed_by_check, DROP COLUMN removed_by;
DROP TRIGGER api_tokens_update_audit ON api_tokens;
DROP TRIGGER api_tokens_audit ON api_tokens;
CREATE TRIGGER api_tokens_audit AFTER INSERT OR UPDATE OF revoked_at ON api_tokens FOR EACH ROW EXECUTE FUNCTION heed_audit();
DROP TRIGGER api_tokens_guard ON api_tokens;
DROP FUNCTION heed_api_tokens_guard();
DROP TRIGGER audit_log_no_truncate ON audit_log;
DROP TRIGGER index_changes_no_truncate ON index_changes;
DROP TRIGGER calls_checks_no_truncate ON calls_checks;
DROP TRIGGER api_tokens_no_truncate ON api_tokens;
DROP TRIGGER users_no_truncate ON users;
DROP TRIGGER dnc_list_installs_no_truncate ON dnc_list_installs;
DROP TRIGGER dnc_lists_no_truncate ON dnc_lists;
DROP TRIGGER dnc_internal_no_truncate ON dnc_internal;
DROP TRIGGER contacts_no_truncate ON contacts;
DROP TRIGGER contact_lists_no_truncate ON contact_lists;
DROP TRIGGER campaigns_no_truncate ON campaigns;
DROP TRIGGER attempts_no_truncate ON attempts;
DROP TRIGGER audit_log_append_only ON audit_log;
DROP TRIGGER index_changes_append_only ON index_changes;
DROP TRIGGER calls_checks_no_delete ON calls_checks;
DROP TRIGGER api_tokens_no_delete ON api_tokens;
DROP TRIGGER users_no_delete ON users;
DROP TRIGGER dnc_list_installs_no_delete ON dnc_list_installs;
DROP TRIGGER dnc_lists_no_delete ON dnc_lists;
DROP TRIGGER dnc_internal_no_delete ON dnc_internal;
DROP TRIGGER contacts_no_delete ON contacts;
DROP TRIGGER contact_lists_no_delete ON contact_lists;
DROP TRIGGER campaigns_no_delete ON campaigns;
DROP FUNCTION heed_never_deleted();
DROP TRIGGER attempts_no_delete ON attempts;
DROP TRIGGER attempts_guard ON attempts;
DROP FUNCTION heed_attempts_guard();
