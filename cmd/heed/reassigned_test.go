package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/account"
	"github.com/heed-dialer/heed/internal/dbtest"
)

// TestReassignedNumbers imports Reassigned Numbers Database answers and
// checks rule F15 through `heed check`, the dialer's own path: off by
// default; once the firm turns the check on, a number reported
// disconnected loses every consent obtained before that answer.
func TestReassignedNumbers(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	env := map[string]string{"DATABASE_URL": url}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = account.NewService(pool).Create(ctx, "admin@firm.test", account.RoleAdmin, "long enough password")
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES
		('+18605550101', 'pec', 'informational', 'voice', '2026-01-05T12:00:00Z', 'intake'),
		('+18605550102', 'pec', 'informational', 'voice', '2026-01-05T12:00:00Z', 'intake')`)
	require.NoError(t, err)
	rows := func() int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM reassigned_checks`).Scan(&n))
		return n
	}
	check := func(number, at string) checkJSON {
		t.Helper()
		out, stderr, err := runHeed(env, "check", "--json", "--number", number, "--purpose", "informational", "--at", at)
		require.NoError(t, err, stderr)
		var got checkJSON
		require.NoError(t, json.Unmarshal([]byte(out), &got), out)
		return got
	}

	// Bad lines refuse the whole file, each named.
	bad := writeFile(t, "bad.csv", "phone,date,result,answered_at\n860-555-0101,2026-01-05,yes,2026-11-20\n+442071234567,2026-01-05,yes,\n860-555-0102,Jan 5,no,\n860-555-0102,2026-01-05,maybe,\n860-555-0102,2026-01-05,no,2026-01-01\n")
	_, stderr, err := runHeed(env, "consent", "reassigned", bad)
	require.Error(t, err)
	for _, want := range []string{"bad.csv:3: ", "NANP numbers only", "bad.csv:4: date \"Jan 5\"", "bad.csv:5: result \"maybe\"", "bad.csv:6: answered_at is before"} {
		require.Contains(t, stderr, want)
	}
	require.Zero(t, rows(), "nothing imported")

	good := writeFile(t, "rnd.csv", "phone,date,result,answered_at\n860-555-0101,2026-01-05,yes,2026-11-20\n860-555-0102,2026-01-05,no,2026-11-20\n")
	out, stderr, err := runHeed(env, "consent", "reassigned", "--dry-run", good)
	require.NoError(t, err, stderr)
	require.Contains(t, out, "would import 2")
	require.Zero(t, rows(), "a dry run writes nothing")
	out, stderr, err = runHeed(env, "consent", "reassigned", good)
	require.NoError(t, err, stderr)
	require.Contains(t, out, "imported 2")
	_, err = pool.Exec(ctx, `UPDATE reassigned_checks SET result = 'no'`)
	require.Error(t, err, "the answers are append-only")

	const at = "2026-12-01T15:00:00-05:00"
	require.Equal(t, "allow", check("860-555-0101", at).Decision, "F15 is off until the firm turns it on")

	policy := writeFile(t, "policy.json", `{"check_reassigned": true}`)
	_, stderr, err = runHeed(env, "settings", "set", "--file", policy, "--by", "admin@firm.test", "--note", "use the RND")
	require.NoError(t, err, stderr)
	got := check("860-555-0101", at)
	require.Equal(t, "deny", got.Decision)
	require.Equal(t, []string{"consent.missing"}, got.Reasons, "the consent predates the reported disconnection")
	require.Equal(t, "allow", check("860-555-0102", at).Decision, "not disconnected")
	require.Equal(t, "allow", check("860-555-0101", "2026-11-19T15:00:00-05:00").Decision, "before the database answered, heed could not know")

	// A consent given after the answer (the number's new subscriber) counts.
	_, err = pool.Exec(ctx, `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550101', 'pec', 'informational', 'voice', '2026-11-25T12:00:00Z', 'new subscriber')`)
	require.NoError(t, err)
	require.Equal(t, "allow", check("860-555-0101", at).Decision)
}
