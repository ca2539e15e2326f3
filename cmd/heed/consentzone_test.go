package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCLIDateOnlyRevocationInTheFirmsZone: a consent captured at 20:00
// New York time, and a revocation of the same day that staff log by its
// date only (the person emailed later that evening). `heed consent import
// --revocations` reads the date as the end of that day in the firm's
// zone (--time-zone, New York by default), so the revocation beats the
// consent and the gate refuses the number; read in UTC, the day would
// end at 18:59:59 in New York, before the consent.
func TestCLIDateOnlyRevocationInTheFirmsZone(t *testing.T) {
	t.Parallel()
	env, conn := cliDatabase(t)
	ctx := context.Background()
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	y, m, d := time.Now().In(ny).AddDate(0, 0, -3).Date()
	evening := time.Date(y, m, d, 20, 0, 0, 0, ny)
	day := evening.Format(time.DateOnly)
	numbers := []string{"860-555-0166", "860-555-0167", "860-555-0168"}
	consents := "phone,kind,scope,channel,obtained_at,source\n"
	for _, n := range numbers {
		consents += fmt.Sprintf("%s,pec,informational,voice,%s,intake call\n", n, evening.Format(time.RFC3339))
	}
	_, _, err = runHeed(env, "consent", "import", writeFile(t, "consents.csv", consents))
	require.NoError(t, err)
	revoke := func(n string, flags ...string) {
		t.Helper()
		file := writeFile(t, "revocations.csv", "phone,revoked_at,method,source\n"+n+","+day+",email,email received that evening\n")
		_, _, err := runHeed(env, append(append([]string{"consent", "import", "--revocations"}, flags...), file)...)
		require.NoError(t, err)
	}
	check := func(n string) string {
		t.Helper()
		y, m, d := time.Now().In(ny).AddDate(0, 0, 1).Date()
		out, _, err := runHeed(env, "check", "--number", n, "--purpose", "informational", "--line", "wireless",
			"--at", time.Date(y, m, d, 11, 0, 0, 0, ny).Format(time.RFC3339), "--json")
		require.NoError(t, err)
		return out
	}
	revokedAt := func(n string) time.Time {
		t.Helper()
		var at time.Time
		require.NoError(t, conn.QueryRow(ctx, `SELECT revoked_at FROM revocations WHERE phone = '+1' || regexp_replace($1, '-', '', 'g')`, n).Scan(&at))
		return at.In(ny)
	}
	endOfDay := time.Date(y, m, d, 23, 59, 59, 999999000, ny)

	revoke(numbers[0], "--time-zone", "America/New_York")
	require.True(t, endOfDay.Equal(revokedAt(numbers[0])), "got %s", revokedAt(numbers[0]))
	require.Contains(t, check(numbers[0]), `"decision":"deny"`)

	revoke(numbers[1]) // the firm's zone by default
	require.True(t, endOfDay.Equal(revokedAt(numbers[1])), "got %s", revokedAt(numbers[1]))
	require.Contains(t, check(numbers[1]), `"decision":"deny"`)

	revoke(numbers[2], "--time-zone", "UTC") // what the import did before it took a zone
	require.Equal(t, "18:59:59", revokedAt(numbers[2]).Format(time.TimeOnly))
	require.Contains(t, check(numbers[2]), `"decision":"allow"`, "a consent given after the revocation lifts it")

	_, _, err = runHeed(env, "consent", "import", "--revocations", "--time-zone", "Mars/Olympus", writeFile(t, "r.csv", "phone,revoked_at,method\n"))
	require.ErrorIs(t, err, errUsage)
}
