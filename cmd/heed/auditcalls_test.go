package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/dbtest"
)

func TestCLIAuditCalls(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	env := map[string]string{"DATABASE_URL": url}
	out, _, err := runHeed(env, "audit", "calls")
	require.NoError(t, err, out)
	require.Contains(t, out, "decisions:                  none")
	require.Contains(t, out, "checked 0 allowed call(s) against the records: 0 finding(s)")

	// A number on the internal list, and an allowed call to it an hour
	// later, in the default period.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `
		WITH l AS (INSERT INTO contact_lists (name) VALUES ('l') RETURNING id),
		     k AS (INSERT INTO contacts (list_id, name, phone) SELECT id, 'Ann', '+18605550101' FROM l RETURNING id, list_id),
		     c AS (INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status) SELECT 'Hearings', 'informational', list_id, 'Hi', '+18605550100', 'running' FROM k RETURNING id),
		     d AS (INSERT INTO dnc_internal (phone, method, source, added_at) VALUES ('+18605550101', 'ivr', 'pressed 9', now() - interval '2 hours'))
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, created_at)
		SELECT c.id, k.id, 1, '+18605550101', '+18605550100', 'allow', '{}', $1,
		       '{"purpose":"informational","method":"prerecorded","line":"landline","at":"2026-11-16T15:00:00Z"}', 'ended', now() - interval '1 hour' FROM c, k`,
		consent.PackVersion(nil, consent.FirmPolicy{}))
	require.NoError(t, err)
	out, _, err = runHeed(env, "audit", "calls")
	require.ErrorIs(t, err, errFindings, "a finding fails the command, for a scheduled check")
	require.Equal(t, 3, exitCode(err), "told apart from a report that could not run")
	require.Contains(t, out, "decisions:                  allow 1")
	require.Contains(t, out, "internal do-not-call added: ivr 1")
	require.Contains(t, out, "1 finding(s) in 1 call(s), 0 of them about what the gate had")
	require.Regexp(t, `attempt \d+ \(campaign \d+, Hearings\) to \+18605550101 decided .*: dnc.internal, record \d+ \(ivr: pressed 9\), recorded .*; heed did not keep what the gate had read then`, out)
	require.NotContains(t, out, "registry lists", "no copy is installed: the call was checked against none")

	// A national copy installed, which the call's gate read, and a
	// directory without its file: the report runs, and says so.
	_, err = conn.Exec(ctx, `INSERT INTO dnc_list_installs (list, version, as_of, count, source) VALUES ('national', 1, now(), 0, 'test')`)
	require.NoError(t, err)
	forgeAttempts(t, conn, `UPDATE attempts SET decision_input = decision_input || '{"lists": {"national": 1}}'`)
	out, _, err = runHeed(env, "audit", "calls", "--dnc-dir", filepath.Join(t.TempDir(), "none"))
	require.ErrorIs(t, err, errFindings)
	require.Contains(t, out, "1 of them not checked against the registry lists: a copy's file in --dnc-dir could not be read")

	// The same call, as its request has it, at 22:00 in Connecticut.
	// Its dialer's clock read two hours ahead when it placed the call.
	forgeAttempts(t, conn, `UPDATE attempts SET decision_input = jsonb_set(decision_input, '{at}', '"2026-11-17T03:00:00Z"'),
		originated_at = created_at + interval '2 hours'`)
	out, _, err = runHeed(env, "audit", "calls")
	require.ErrorIs(t, err, errFindings)
	require.Contains(t, out, "2 finding(s) in 1 call(s), 1 of them about what the gate had")
	require.Contains(t, out, "1 of them placed with the dialer's clock and the database's more than 1m0s apart (at most 2h0m0s)")
	require.Regexp(t, `attempt \d+ \(campaign \d+, Hearings\) to \+18605550101 decided .*: rule, re-decided defer until 2026-11-17 13:00:00 UTC: window.outside under federal@`, out)

	require.Regexp(t, `: rule, re-decided defer until .*; the gate had its records\n`, out)

	out, _, err = runHeed(env, "audit", "calls", "--json", "--from", "2026-01-01")
	require.ErrorIs(t, err, errFindings)
	var r struct {
		Found    int `json:"found"`
		Findings []struct {
			Kind string `json:"kind"`
		} `json:"findings"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	require.Equal(t, 2, r.Found)
	require.Equal(t, []string{"dnc.internal", "rule"}, []string{r.Findings[0].Kind, r.Findings[1].Kind}, "a call's findings of the records first")

	// A period before the call finds nothing.
	out, _, err = runHeed(env, "audit", "calls", "--from", "2026-01-01", "--to", "2026-01-31")
	require.NoError(t, err, out)
	require.Contains(t, out, "calls decided from 2026-01-01 00:00 EST to just before 2026-02-01 00:00 EST")

	for _, args := range [][]string{{"--from", "yesterday"}, {"--from", "2026-02-01", "--to", "2026-01-01"}, {"--time-zone", "Mars/Base"}} {
		_, _, err = runHeed(env, append([]string{"audit", "calls"}, args...)...)
		require.ErrorIs(t, err, errUsage, "%v", args)
	}
}

// forgeAttempts runs q, which rewrites attempts as heed never does (an
// attempt's decision, or a finished attempt): a fixture made by hand, with
// the guard that refuses it (migration 00039) turned off for the
// statement, as the database's owner could.
func forgeAttempts(t *testing.T, conn *pgx.Conn, q string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, s := range []string{`ALTER TABLE attempts DISABLE TRIGGER attempts_guard`, q, `ALTER TABLE attempts ENABLE TRIGGER attempts_guard`} {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	}))
}
