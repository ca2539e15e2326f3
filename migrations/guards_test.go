package migrations_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/dbtest"
)

// refused checks that statement q, run on db, is refused by a guard of
// migration 00039: a restrict_violation whose message holds want.
func refused(t *testing.T, db *pgxpool.Pool, want, q string, args ...any) {
	t.Helper()
	_, err := db.Exec(context.Background(), q, args...)
	var pe *pgconn.PgError
	require.True(t, errors.As(err, &pe), "%s: want it refused, got %v", q, err)
	require.Equal(t, "23001", pe.Code, "%s: %s", q, pe.Message)
	require.Contains(t, pe.Message, want, q)
}

// exec runs statement q on db and returns how many rows it touched.
func exec(t *testing.T, db *pgxpool.Pool, q string, args ...any) int64 {
	t.Helper()
	tag, err := db.Exec(context.Background(), q, args...)
	require.NoError(t, err, q)
	return tag.RowsAffected()
}

// one runs query q on db, which returns one int64.
func one(t *testing.T, db *pgxpool.Pool, q string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, db.QueryRow(context.Background(), q, args...).Scan(&n), q)
	return n
}

// guardWorld is a campaign of two contacts with an allowed call that
// ended, a denied attempt and one attempt in flight per lifecycle step.
type guardWorld struct {
	campaign, otherCampaign, contact, otherContact, consent int64
	ended, blocked                                          int64
}

func newGuardWorld(t *testing.T, db *pgxpool.Pool) guardWorld {
	t.Helper()
	var w guardWorld
	list := one(t, db, `INSERT INTO contact_lists (name) VALUES ('Docket') RETURNING id`)
	w.contact = one(t, db, `INSERT INTO contacts (list_id, name, phone) VALUES ($1, 'Ann', '+18605550101') RETURNING id`, list)
	w.otherContact = one(t, db, `INSERT INTO contacts (list_id, name, phone) VALUES ($1, 'Bob', '+18605550102') RETURNING id`, list)
	w.campaign = one(t, db, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status)
		VALUES ('Hearings', 'informational', $1, 'Hello', '+18605550100', 'running') RETURNING id`, list)
	w.otherCampaign = one(t, db, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status)
		VALUES ('Other', 'informational', $1, 'Hello', '+18605550100', 'running') RETURNING id`, list)
	w.consent = one(t, db, `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source)
		VALUES ('+18605550101', 'pec', 'informational', 'voice', now() - interval '1 day', 'intake form') RETURNING id`)
	w.ended = w.attempt(t, db, 1, "allow", "ended", "answered")
	w.blocked = w.attempt(t, db, 2, "deny", "blocked", "blocked")
	return w
}

// attempt records attempt n of the campaign's first contact, as the pacer
// does.
func (w guardWorld) attempt(t *testing.T, db *pgxpool.Pool, n int, decision, status, outcome string) int64 {
	t.Helper()
	return one(t, db, `
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome, ended_at)
		VALUES ($1, $2, $3, '+18605550101', '+18605550100', $4, CASE $4 WHEN 'deny' THEN '{consent.missing}'::text[] ELSE '{}' END, 'p@1',
		        '{"phone":"+18605550101","purpose":"informational"}', $5, $6, CASE $5 WHEN 'originating' THEN NULL ELSE now() END)
		RETURNING id`, w.campaign, w.contact, n, decision, status, outcome)
}

// TestAttemptsGuard checks that an attempt's decision, and what it was
// made from, can never be changed, that a finished attempt can never be
// changed at all, that no attempt can be deleted, and that every update
// heed makes of a call in flight (campaign/progress.go, recover.go) still
// goes through.
func TestAttemptsGuard(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	w := newGuardWorld(t, db)
	flight := w.attempt(t, db, 3, "allow", "originating", "")

	const decided = "its decision and what it was made from are never changed"
	for col, set := range map[string]string{
		"id":             `id = id + 1000`,
		"campaign_id":    `campaign_id = $2`,
		"contact_id":     `contact_id = $3`,
		"attempt_no":     `attempt_no = attempt_no + 10`,
		"phone":          `phone = '+18605550199'`,
		"caller_id":      `caller_id = '+18605550198'`,
		"decision":       `decision = CASE decision WHEN 'deny' THEN 'allow' ELSE 'deny' END`,
		"decided_until":  `decided_until = now()`,
		"reasons":        `reasons = '{dnc.internal}'`,
		"pack":           `pack = 'federal@2025.1'`,
		"consent_id":     `consent_id = $4`,
		"decision_input": `decision_input = decision_input || '{"line":"landline"}'`,
		"created_at":     `created_at = created_at - interval '1 day'`,
	} {
		for _, id := range []int64{flight, w.ended, w.blocked} {
			refused(t, db, decided+" (refused: "+col+")", `UPDATE attempts SET `+set+` WHERE id = $1 AND $2::bigint IS NOT NULL AND $3::bigint IS NOT NULL AND $4::bigint IS NOT NULL`,
				id, w.otherCampaign, w.otherContact, w.consent)
		}
	}
	// The audit's example: an allowed call rewritten as refused.
	refused(t, db, decided+" (refused: decision, reasons)",
		`UPDATE attempts SET decision = 'deny', reasons = '{dnc.internal}', outcome = 'blocked' WHERE id = $1`, w.ended)

	// A finished attempt: no column changes, the lifecycle's included.
	for _, q := range []string{
		`UPDATE attempts SET outcome = 'called_off', not_placed = 'no Asterisk was up' WHERE id = $1`,
		`UPDATE attempts SET status = CASE status WHEN 'ended' THEN 'blocked' ELSE 'ended' END, outcome = 'answered', originated_at = NULL WHERE id = $1`,
		`UPDATE attempts SET ended_at = ended_at + interval '1 hour' WHERE id = $1`,
		`UPDATE attempts SET last_look = '{"decision":{"decision":"deny"}}', looked_at = now() WHERE id = $1`,
		`UPDATE attempts SET reconcile = 'gone', reconciled_at = now() WHERE id = $1`,
	} {
		refused(t, db, "a finished attempt (status ended) is never changed", q, w.ended)
		refused(t, db, "a finished attempt (status blocked) is never changed", q, w.blocked)
	}
	exec(t, db, `UPDATE attempts SET outcome = outcome WHERE id = $1`, w.ended) // changes nothing: let through

	// Every update heed makes of a call in flight.
	require.EqualValues(t, 1, exec(t, db, `
		UPDATE attempts SET looked_at = clock_timestamp(), last_look = '{"decision":{"decision":"allow"},"index_top":3,"campaign_running":true}'
		 WHERE id = $1 AND status = 'originating'`, flight))
	require.EqualValues(t, 1, exec(t, db, `UPDATE attempts SET status = 'ringing', originated_at = now(), channel_id = 'heed-x-1', asterisk = 'asterisk-1'
		WHERE id = $1 AND status = 'originating'`, flight))
	require.EqualValues(t, 1, exec(t, db, `UPDATE attempts SET status = 'answered', answered_at = now(), channel_id = 'heed-x-1', asterisk = 'asterisk-1',
		originated_at = coalesce(originated_at, now()) WHERE id = $1 AND status IN ('originating', 'ringing')`, flight))
	require.EqualValues(t, 1, exec(t, db, `UPDATE attempts SET status = 'ended', outcome = 'confirmed', hangup_cause = 16, dtmf = '1', ended_at = now(),
		channel_id = 'heed-x-1', asterisk = 'asterisk-1', amd = 'HUMAN', recording = 'r.wav', transfer_to = '' WHERE id = $1 AND status <> 'ended'`, flight))
	orphan := w.attempt(t, db, 4, "allow", "originating", "")
	exec(t, db, `UPDATE attempts SET status = 'answered', answered_at = now() WHERE id = $1`, orphan)
	require.EqualValues(t, 1, exec(t, db, `UPDATE attempts SET status = 'ended', outcome = 'unknown', ended_at = now(), reconcile = 'gone', reconciled_at = now()
		WHERE id = $1 AND status IN ('originating', 'ringing', 'answered')`, orphan))
	notPlaced := w.attempt(t, db, 5, "allow", "originating", "")
	require.EqualValues(t, 1, exec(t, db, `UPDATE attempts SET not_placed = 'its message could not be spoken' WHERE id = $1 AND status = 'originating'`, notPlaced))
	require.EqualValues(t, 1, exec(t, db, `UPDATE attempts SET status = 'ended', outcome = 'called_off', ended_at = now(), not_placed = 'no Asterisk was up'
		WHERE id = $1 AND status = 'originating'`, notPlaced))
	calledOff := w.attempt(t, db, 6, "allow", "originating", "")
	require.EqualValues(t, 1, exec(t, db, `UPDATE attempts SET looked_at = clock_timestamp(), last_look = '{"decision":{"decision":"deny"}}',
		status = 'ended', outcome = 'called_off', ended_at = clock_timestamp() WHERE id = $1 AND status = 'originating'`, calledOff))
	require.EqualValues(t, 1, one(t, db, `SELECT count(*) FROM attempts WHERE id = $1 AND status = 'ended' AND outcome = 'confirmed' AND dtmf = '1'
		AND last_look IS NOT NULL AND answered_at IS NOT NULL AND decision = 'allow' AND pack = 'p@1'`, flight))

	// No attempt is ever deleted: not by itself, not by its campaign.
	refused(t, db, "attempts are never deleted", `DELETE FROM attempts WHERE id = $1`, w.ended)
	refused(t, db, "campaigns: DELETE refused", `DELETE FROM campaigns WHERE id = $1`, w.campaign)
	refused(t, db, "attempts: TRUNCATE refused", `TRUNCATE attempts CASCADE`)
	require.EqualValues(t, 6, one(t, db, `SELECT count(*) FROM attempts`))
	require.EqualValues(t, 1, one(t, db, `SELECT count(*) FROM attempts WHERE id = $1 AND decision = 'allow' AND outcome = 'answered'`, w.ended))
}

// TestNeverDeleted checks that no row of the tables heed never deletes
// from can be deleted or truncated, that the audit log and the change log
// are append-only, and that a draft campaign's targets, which heed does
// delete, still can be.
func TestNeverDeleted(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	w := newGuardWorld(t, db)
	user := one(t, db, `INSERT INTO users (email, role, password_hash) VALUES ('a@firm.test', 'admin', 'x') RETURNING id`)
	exec(t, db, `INSERT INTO api_tokens (user_id, name, token_hash) VALUES ($1, 'ci', '\x01')`, user)
	exec(t, db, `INSERT INTO dnc_internal (phone, method, source) VALUES ('+18605550101', 'staff', 'asked')`)
	exec(t, db, `INSERT INTO dnc_lists (list, version, as_of, count, file, source) VALUES ('national', 1, now(), 0, 'national-1.dnc', 'test')`)
	exec(t, db, `INSERT INTO dnc_list_installs (list, version, as_of, count, source) VALUES ('national', 1, now(), 0, 'test')`)
	exec(t, db, `INSERT INTO calls_checks (day, checked, found, calls, had, report) VALUES (current_date, 0, 0, 0, 0, '{}')`)
	exec(t, db, `INSERT INTO campaign_targets (campaign_id, contact_id) VALUES ($1, $2)`, w.campaign, w.contact)

	tables := []string{"campaigns", "contact_lists", "contacts", "dnc_internal", "dnc_lists", "dnc_list_installs", "users", "api_tokens",
		"calls_checks", "index_changes", "audit_log", "attempts"}
	counts := map[string]int64{}
	for _, tbl := range tables {
		counts[tbl] = one(t, db, `SELECT count(*) FROM `+tbl)
		require.NotZero(t, counts[tbl], tbl)
		want := tbl + ": DELETE refused: heed never deletes these rows"
		if tbl == "attempts" {
			want = "attempts are never deleted"
		}
		refused(t, db, want, `DELETE FROM `+tbl)
		refused(t, db, tbl+": TRUNCATE refused", `TRUNCATE `+tbl+` CASCADE`)
	}
	refused(t, db, "audit_log is append-only: its rows are never changed", `UPDATE audit_log SET details = '{}' WHERE seq = (SELECT min(seq) FROM audit_log)`)
	refused(t, db, "index_changes is append-only: its rows are never changed", `UPDATE index_changes SET phone = '+18605550199'`)
	refused(t, db, "dnc_list_installs is append-only: its rows are never changed", `UPDATE dnc_list_installs SET sha256 = repeat('0', 64)`)
	for _, tbl := range tables {
		require.Equal(t, counts[tbl], one(t, db, `SELECT count(*) FROM `+tbl), tbl)
	}
	// What heed changes in place, it still can.
	exec(t, db, `UPDATE dnc_internal SET removed_at = now(), removed_by = $1`, user)
	exec(t, db, `UPDATE users SET disabled = true, updated_by = $1`, user)
	exec(t, db, `UPDATE campaigns SET status = 'paused' WHERE id = $1`, w.campaign)
	exec(t, db, `INSERT INTO calls_checks (day, checked, found, calls, had, report) VALUES (current_date, 1, 0, 0, 0, '{}')
		ON CONFLICT (day) DO UPDATE SET checked = EXCLUDED.checked`)
	require.EqualValues(t, 1, exec(t, db, `DELETE FROM campaign_targets WHERE campaign_id = $1`, w.campaign))
}

// TestAPITokenGuard checks that a token can be neither moved to another
// user nor given another hash (nor another issuer or issue time), and that
// every change still allowed but its use is audited.
func TestAPITokenGuard(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	para := one(t, db, `INSERT INTO users (email, role, password_hash) VALUES ('para@firm.test', 'paralegal', 'x') RETURNING id`)
	admin := one(t, db, `INSERT INTO users (email, role, password_hash) VALUES ('admin@firm.test', 'admin', 'x') RETURNING id`)
	tok := one(t, db, `INSERT INTO api_tokens (user_id, name, token_hash, created_by) VALUES ($1, 'ci', '\x01', $2) RETURNING id`, para, admin)
	audited := func() int64 {
		return one(t, db, `SELECT count(*) FROM audit_log WHERE tbl = 'api_tokens' AND row_id = $1`, tok)
	}
	require.EqualValues(t, 1, audited(), "issuing it")

	const never = "its user, hash, issuer and issue time are never changed: revoke it and issue a new one"
	refused(t, db, never, `UPDATE api_tokens SET user_id = $2 WHERE id = $1`, tok, admin)
	refused(t, db, never, `UPDATE api_tokens SET token_hash = '\x02' WHERE id = $1`, tok)
	refused(t, db, never, `UPDATE api_tokens SET created_by = $2 WHERE id = $1`, tok, para)
	refused(t, db, never, `UPDATE api_tokens SET created_at = created_at - interval '1 day' WHERE id = $1`, tok)
	refused(t, db, never, `UPDATE api_tokens SET id = id + 1 WHERE id = $1`, tok)
	refused(t, db, "api_tokens: DELETE refused", `DELETE FROM api_tokens WHERE id = $1`, tok)
	require.EqualValues(t, para, one(t, db, `SELECT user_id FROM api_tokens WHERE id = $1`, tok))

	// Its use (internal/account's UserByToken) is not audited; a rename
	// and a revocation are, with what they changed.
	exec(t, db, `UPDATE api_tokens SET last_used_at = now() WHERE id = $1`, tok)
	exec(t, db, `UPDATE api_tokens SET user_id = user_id, token_hash = token_hash WHERE id = $1`, tok) // changes nothing
	require.EqualValues(t, 1, audited())
	exec(t, db, `UPDATE api_tokens SET name = 'deploy' WHERE id = $1`, tok)
	require.EqualValues(t, 2, audited())
	require.EqualValues(t, 1, one(t, db, `SELECT count(*) FROM audit_log WHERE tbl = 'api_tokens' AND op = 'update' AND details->>'name' = 'deploy'
		AND NOT details ? 'token_hash' AND NOT details ? 'last_used_at'`))
	// The update's row says what it replaced (00042), the secrets left out.
	require.EqualValues(t, 1, one(t, db, `SELECT count(*) FROM audit_log WHERE tbl = 'api_tokens' AND op = 'update' AND details->>'name' = 'deploy'
		AND details->'before' ? 'name' AND NOT details->'before' ? 'token_hash' AND NOT details->'before' ? 'last_used_at'`))
	exec(t, db, `UPDATE api_tokens SET revoked_at = now(), revoked_by = $2 WHERE id = $1`, tok, admin)
	require.EqualValues(t, 3, audited())
	exec(t, db, `UPDATE api_tokens SET revoked_by = $2 WHERE id = $1`, tok, para)
	require.EqualValues(t, 4, audited(), "the revoker changed alone")

	// A password change is audited without either hash.
	exec(t, db, `UPDATE users SET password_hash = 'another-hash' WHERE id = $1`, admin)
	require.EqualValues(t, 1, one(t, db, `SELECT count(*) FROM audit_log WHERE tbl = 'users' AND op = 'update' AND row_id = $1
		AND details->'before' = '{}'::jsonb AND NOT details ? 'password_hash'`, admin), "the change replaced nothing the log shows")
}
