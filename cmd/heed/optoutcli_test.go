package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tomorrowAt11 is 11:00 New York time tomorrow, RFC 3339: within calling
// hours, after anything the tests record today.
func tomorrowAt11(t *testing.T) string {
	t.Helper()
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	y, m, d := time.Now().In(ny).AddDate(0, 0, 1).Date()
	return time.Date(y, m, d, 11, 0, 0, 0, ny).Format(time.RFC3339)
}

// TestCLIOptOutPlusWithoutOne: `heed dnc add "+203 555 0199"` and a
// revocation import row "+2035550199" (each also valid, as written, as
// an Egyptian number) take the opt-out of the North American number
// meant, and say so; `heed check` then refuses a reminder robocall to
// its landline, which needs no consent.
func TestCLIOptOutPlusWithoutOne(t *testing.T) {
	t.Parallel()
	env, conn := cliDatabase(t)
	ctx := context.Background()
	count := func(sql string) int {
		t.Helper()
		var n int
		require.NoError(t, conn.QueryRow(ctx, sql).Scan(&n))
		return n
	}
	denied := func(number string) {
		t.Helper()
		out, _, err := runHeed(env, "check", "--number", number, "--purpose", "informational", "--line", "landline", "--at", tomorrowAt11(t), "--json")
		require.NoError(t, err)
		require.Contains(t, out, `"decision":"deny"`, number)
		require.Contains(t, out, `"dnc.internal"`, number)
	}

	out, stderr, err := runHeed(env, "dnc", "add", "--method", "letter", "+203 555 0199")
	require.NoError(t, err)
	require.Contains(t, stderr, `note: "+203 555 0199" has a + but not the country code 1: read as the North American number +1 203-555-0199`)
	require.Contains(t, out, "+12035550199 is on the internal do-not-call list")
	require.Equal(t, 1, count(`SELECT count(*) FROM revocations WHERE phone = '+12035550199' AND method = 'letter'`))
	require.Equal(t, 1, count(`SELECT count(*) FROM dnc_internal WHERE phone = '+12035550199'`))
	denied("+12035550199")

	revs := writeFile(t, "revocations.csv", "phone,revoked_at,method,source\n"+
		"860-555-0181,"+time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)+",email,\n"+
		"+2032345678,"+time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)+",email,asked by email\n")
	out, stderr, err = runHeed(env, "consent", "import", "--revocations", revs)
	require.NoError(t, err)
	require.Contains(t, out, "imported 2 revocations")
	require.Contains(t, out, "put 2 numbers on the internal do-not-call list")
	require.Contains(t, stderr, `revocations.csv:3: note: phone "+2032345678" has a + but not the country code 1: read as the North American number +1 203-234-5678`)
	require.NotContains(t, stderr, "revocations.csv:2:")
	require.Equal(t, 1, count(`SELECT count(*) FROM revocations WHERE phone = '+12032345678' AND source = 'asked by email'`))
	denied("+12032345678")

	require.Zero(t, count(`SELECT count(*) FROM revocations WHERE phone NOT LIKE '+1%'`), "nothing for the foreign readings")
	require.Zero(t, count(`SELECT count(*) FROM dnc_internal WHERE phone NOT LIKE '+1%'`))
}
