package main

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/dbtest"
)

// cliUsers makes a database of the test's own with the users (email,
// role) added by heed user add, and returns the environment heed commands
// run with on it, a connection to it, and a counter of a query's rows.
func cliUsers(t *testing.T, users ...[2]string) (map[string]string, *pgx.Conn, func(sql string) int) {
	t.Helper()
	url := dbtest.URL(t)
	env := map[string]string{"DATABASE_URL": url, "HEED_USER_PASSWORD": "long enough password"}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(ctx) })
	count := func(sql string) int {
		t.Helper()
		var n int
		require.NoError(t, conn.QueryRow(ctx, sql).Scan(&n))
		return n
	}
	for _, u := range users {
		_, _, err := runHeed(env, "user", "add", "--email", u[0], "--role", u[1])
		require.NoError(t, err)
	}
	return env, conn, count
}

func TestCLIOverride(t *testing.T) {
	t.Parallel()
	env, _, count := cliUsers(t, [2]string{"atty@firm.test", "attorney"}, [2]string{"para@firm.test", "paralegal"}, [2]string{"admin@firm.test", "admin"})
	var err error
	add := func(extra ...string) (string, error) {
		args := append([]string{"override", "add", "--number", "860-555-0101", "--kind", "regf_direct_consent",
			"--note", "Asked on the phone for daily calls this week."}, extra...)
		out, _, err := runHeed(env, args...)
		return out, err
	}

	// Only attorneys may log.
	for _, who := range []string{"para@firm.test", "admin@firm.test"} {
		_, err := add("--by", who)
		require.ErrorIs(t, err, consent.ErrNotAttorney, who)
		require.ErrorContains(t, err, who)
	}
	_, err = add("--by", "nobody@firm.test")
	require.ErrorIs(t, err, errNoSuchUser)
	require.Zero(t, count(`SELECT count(*) FROM overrides`))

	// Usage and validation errors.
	_, err = add()
	require.ErrorIs(t, err, errUsage)
	require.ErrorContains(t, err, "--by required")
	_, err = add("--by", "atty@firm.test", "--expires", "tomorrow")
	require.ErrorIs(t, err, errUsage)
	require.ErrorContains(t, err, "want RFC3339")
	_, err = add("--by", "atty@firm.test", "--number", "555-01")
	require.ErrorIs(t, err, consent.ErrInvalidOverride)
	require.ErrorContains(t, err, `phone "555-01" is not a valid phone number`)
	_, err = add("--by", "atty@firm.test", "--kind", "solicitation_exception")
	require.ErrorIs(t, err, consent.ErrInvalidOverride)
	require.ErrorContains(t, err, "needs one of lawyer, family, close_personal, prior_professional")
	_, err = add("--by", "atty@firm.test", "--expires", time.Now().Add(10*24*time.Hour).Format(time.RFC3339))
	require.ErrorContains(t, err, "at most 7 consecutive days")
	require.Zero(t, count(`SELECT count(*) FROM overrides`))

	// An attorney logs both kinds.
	out, err := add("--by", "ATTY@firm.test")
	require.NoError(t, err)
	require.Regexp(t, `^logged override 1: regf_direct_consent for \+18605550101 by atty@firm.test at \S+, expires \S+\n$`, out)
	out, _, err = runHeed(env, "override", "add", "--number", "(203) 555-0102", "--kind", "solicitation_exception", "--relationship", "lawyer",
		"--note", "Opposing counsel in the Smith matter.", "--evidence", "bar number 123456", "--by", "atty@firm.test")
	require.NoError(t, err)
	require.Contains(t, out, "logged override 2: solicitation_exception (lawyer) for +12035550102 by atty@firm.test")
	require.Contains(t, out, "expires never")
	require.Equal(t, 2, count(`SELECT count(*) FROM overrides WHERE via = 'cli'`))

	out, _, err = runHeed(env, "override", "list")
	require.NoError(t, err)
	require.Regexp(t, `(?s)^ID\s+PHONE\s+KIND\s+STATUS.*\n2\s+\+12035550102\s+solicitation_exception \(lawyer\)\s+active.*\n1\s+\+18605550101\s+regf_direct_consent\s+active`, out)
	require.Contains(t, out, "atty@firm.test (cli)")
	out, _, err = runHeed(env, "override", "list", "--number", "860.555.0101")
	require.NoError(t, err)
	require.Contains(t, out, "+18605550101")
	require.NotContains(t, out, "+12035550102")
	_, _, err = runHeed(env, "override", "list", "--number", "not a number")
	require.ErrorIs(t, err, errUsage)

	// Withdrawal, by an attorney only.
	_, _, err = runHeed(env, "override", "withdraw", "--id", "2", "--reason", "became a client", "--by", "para@firm.test")
	require.ErrorIs(t, err, consent.ErrNotAttorney)
	out, _, err = runHeed(env, "override", "withdraw", "--id", "2", "--reason", "became a client", "--by", "atty@firm.test")
	require.NoError(t, err)
	require.Contains(t, out, "withdrew override 2 for +12035550102 at ")
	_, _, err = runHeed(env, "override", "withdraw", "--id", "2", "--reason", "again", "--by", "atty@firm.test")
	require.ErrorIs(t, err, consent.ErrAlreadyWithdrawn)
	out, _, err = runHeed(env, "override", "list", "--number", "203-555-0102")
	require.NoError(t, err)
	require.Regexp(t, `withdrawn \(\S+ by atty@firm.test: became a client\)`, out)

	// The audit log holds every write and verifies.
	require.Equal(t, 3, count(`SELECT count(*) FROM audit_log WHERE tbl IN ('overrides', 'override_withdrawals')`))
	out, _, err = runHeed(env, "audit", "verify")
	require.NoError(t, err)
	require.Contains(t, out, "audit log intact: 6 entries", "three users, two overrides, one withdrawal")

	_, stderr, err := runHeed(env, "override")
	require.ErrorIs(t, err, errUsage)
	require.Empty(t, stderr)
	out, _, err = runHeed(env, "help")
	require.NoError(t, err)
	require.Contains(t, out, "heed override add --number N --kind K")
}
