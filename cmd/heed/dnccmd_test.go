package main

import (
	"archive/zip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/dbtest"
)

// TestCLIDNCRegistry imports registry files in the FTC layouts, checks them
// through `heed dnc check` and `heed check`, and refuses garbage whole.
func TestCLIDNCRegistry(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": dbtest.URL(t), "HEED_DNC_DIR": t.TempDir()}
	dir := t.TempDir()
	// One area code's file, zipped, in the "area code,number" layout with CRLF and a header.
	zipPath := filepath.Join(dir, "860.zip")
	zf, err := os.Create(zipPath)
	require.NoError(t, err)
	zw := zip.NewWriter(zf)
	w, err := zw.Create("860.txt")
	require.NoError(t, err)
	_, err = w.Write([]byte("AreaCode,PhoneNumber\r\n860,5550101\r\n860,5550102\r\n\r\n860,5550103\r\n"))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, zf.Close())
	// Another area code's file, one 10-digit number per line.
	flat := writeFile(t, "203.txt", "2035550104\n2035550105\n")
	asOf := time.Now().AddDate(0, 0, -3).Format(time.DateOnly)

	_, _, err = runHeed(env, "dnc", "import", "--list", "national", zipPath)
	require.ErrorIs(t, err, errUsage, "a registry import needs its as-of date")

	garbage := writeFile(t, "bad.txt", "2035550106\nnot a number\n")
	_, stderr, err := runHeed(env, "dnc", "import", "--quiet", "--list", "national", "--as-of", asOf, garbage)
	require.ErrorContains(t, err, "1 garbage line(s) (at most 0 allowed); nothing was imported")
	require.Contains(t, stderr, "bad.txt:2:")
	out, _, err := runHeed(env, "dnc", "stats")
	require.NoError(t, err)
	require.NotContains(t, out, "national", "a refused import installs nothing")

	out, _, err = runHeed(env, "dnc", "import", "--quiet", "--list", "national", "--as-of", asOf, zipPath, flat)
	require.NoError(t, err)
	require.Contains(t, out, "national version 1: 5 numbers (")
	require.Contains(t, out, "as of "+asOf)

	out, _, err = runHeed(env, "dnc", "check", "860-555-0102")
	require.NoError(t, err)
	require.Contains(t, out, "+18605550102: national (registry copy as of "+asOf+", version 1)")
	out, _, err = runHeed(env, "dnc", "check", "860-555-0199")
	require.NoError(t, err)
	require.Contains(t, out, "on no do-not-call list")

	// A change list: one deletion, one addition.
	changes := writeFile(t, "changes.txt", "-8605550101\n+8605550199\n")
	out, _, err = runHeed(env, "dnc", "import", "--quiet", "--list", "national", "--changes", "--as-of", asOf, changes)
	require.NoError(t, err)
	require.Contains(t, out, "national version 2: 5 numbers")
	require.Contains(t, out, "1 added, 1 removed")
	out, _, err = runHeed(env, "dnc", "check", "860-555-0101")
	require.NoError(t, err)
	require.Contains(t, out, "on no do-not-call list")

	// The gate: telemarketing to a registered number is refused without
	// written consent (F8), and allowed with it.
	consents := writeFile(t, "c.csv", "phone,kind,scope,channel,obtained_at,source\n860-555-0102,pewc,telemarketing,voice,2026-01-05,signed\n860-555-0101,pewc,telemarketing,voice,2026-01-05,signed\n860-555-0103,pec,telemarketing,voice,2026-01-05,oral\n")
	_, _, err = runHeed(env, "consent", "import", consents)
	require.NoError(t, err)
	at := time.Now().Format("2006-01-02") + "T10:00:00-05:00"
	out, _, err = runHeed(env, "check", "--number", "860-555-0103", "--purpose", "telemarketing", "--at", at)
	require.NoError(t, err)
	require.Contains(t, out, "decision:  deny")
	require.Contains(t, out, "dnc.national")
	out, _, err = runHeed(env, "check", "--number", "860-555-0102", "--purpose", "telemarketing", "--at", at)
	require.NoError(t, err)
	require.Contains(t, out, "decision:  allow", "PEWC allows calling a registered number (F8)")
	out, _, err = runHeed(env, "check", "--number", "860-555-0101", "--purpose", "telemarketing", "--at", at)
	require.NoError(t, err)
	require.Contains(t, out, "decision:  allow", "no longer registered after the change list")

	// Connecticut's sales-call window, 09:00-20:00, at its edges (with a
	// fresh registry copy and written consent on file), and the area-code
	// presumption: a CT number is held to CT's rules whatever the address.
	day := time.Now().AddDate(0, 0, 1).Format("2006-01-02")
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	edge := func(hm string) string {
		tm, err := time.ParseInLocation("2006-01-02 15:04", day+" "+hm, ny)
		require.NoError(t, err)
		return tm.Format(time.RFC3339)
	}
	for _, tc := range []struct{ at, want string }{
		{"08:59", "decision:  defer"}, {"09:00", "decision:  allow"}, {"19:59", "decision:  allow"}, {"20:00", "decision:  defer"},
	} {
		out, _, err = runHeed(env, "check", "--number", "860-555-0101", "--purpose", "telemarketing", "--state", "NY", "--at", edge(tc.at))
		require.NoError(t, err)
		require.Contains(t, out, tc.want, "CT telemarketing at %s local", tc.at)
	}
	out, _, err = runHeed(env, "check", "--number", "860-555-0101", "--purpose", "telemarketing", "--at", edge("08:59"))
	require.NoError(t, err)
	nine, err := time.ParseInLocation("2006-01-02 15:04", day+" 09:00", ny)
	require.NoError(t, err)
	require.Contains(t, out, "until:     "+nine.UTC().Format(time.RFC3339), "deferred to the earliest lawful moment")

	// Rule E1: a recorded solicitation about a personal-injury matter waits
	// 40 days after the accident (counted from the end of its date in
	// UTC-11), and is refused without an accident date.
	_, _, err = runHeed(env, "consent", "import", writeFile(t, "s.csv", "phone,kind,scope,channel,obtained_at,source\n860-555-0101,pewc,solicitation,voice,2026-01-05,signed\n"))
	require.NoError(t, err)
	out, _, err = runHeed(env, "check", "--number", "860-555-0101", "--purpose", "solicitation", "--at", at)
	require.NoError(t, err)
	require.Contains(t, out, "decision:  allow", "a solicitation about no accident")
	out, _, err = runHeed(env, "check", "--number", "860-555-0101", "--purpose", "solicitation", "--injury", "--at", at)
	require.NoError(t, err)
	require.Contains(t, out, "decision:  deny\nreasons:   ethics.solicitation\n", "an injury matter without an accident date")
	atT, err := time.Parse(time.RFC3339, at)
	require.NoError(t, err)
	recent := atT.AddDate(0, 0, -10).Format(time.DateOnly)
	out, _, err = runHeed(env, "check", "--number", "860-555-0101", "--purpose", "solicitation", "--injury", "--accident", recent, "--at", at)
	require.NoError(t, err)
	d, err := time.Parse(time.DateOnly, recent)
	require.NoError(t, err)
	// The wait ends at 11:00 UTC on day 41, before Connecticut's sales
	// window opens at 09:00 local: the call waits for both.
	clear := d.AddDate(0, 0, 41).Add(11 * time.Hour)
	opens := time.Date(clear.Year(), clear.Month(), clear.Day(), 9, 0, 0, 0, ny)
	require.True(t, opens.After(clear))
	require.Contains(t, out, "decision:  defer\nuntil:     "+opens.UTC().Format(time.RFC3339)+"\nreasons:   ethics.solicitation\n")
	out, _, err = runHeed(env, "check", "--number", "860-555-0101", "--purpose", "solicitation", "--injury", "--accident", atT.AddDate(0, 0, -45).Format(time.DateOnly), "--at", at)
	require.NoError(t, err)
	require.Contains(t, out, "decision:  allow", "45 days after the accident")
	_, _, err = runHeed(env, "check", "--number", "860-555-0101", "--purpose", "solicitation", "--accident", "last week")
	require.ErrorIs(t, err, errUsage)

	// A registry copy older than 31 days stops telemarketing.
	old := time.Now().AddDate(0, 0, -32).Format(time.DateOnly)
	_, _, err = runHeed(env, "dnc", "import", "--quiet", "--list", "national", "--as-of", old, flat)
	require.NoError(t, err)
	out, _, err = runHeed(env, "check", "--number", "860-555-0101", "--purpose", "telemarketing", "--at", at)
	require.NoError(t, err)
	require.Contains(t, out, "dnc.national_stale")

	// The internal list from one number per line. Each number listed is an
	// opt-out: its consents before are revoked (a written one of 0112's
	// here), and one given after lifts the entry for what it covers.
	conn, err := pgx.Connect(t.Context(), env["DATABASE_URL"])
	require.NoError(t, err)
	defer conn.Close(t.Context())
	_, err = conn.Exec(t.Context(), `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source, evidence)
		VALUES ('+18605550112', 'pewc', 'informational', 'voice', '2026-01-05T12:00:00Z', 'engagement letter', 'signed')`)
	require.NoError(t, err)
	internal := writeFile(t, "internal.txt", "8605550111\n8605550112\n")
	out, _, err = runHeed(env, "dnc", "import", "--quiet", "--list", "internal", internal)
	require.NoError(t, err)
	require.Contains(t, out, "internal list: 2 added, 0 removed")
	var revoked int
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(*) FROM revocations v JOIN dnc_internal d ON d.phone = v.phone AND d.added_at = v.revoked_at
		WHERE v.method = 'staff' AND v.scope = '' AND v.source = 'internal list import: internal.txt'`).Scan(&revoked))
	require.Equal(t, 2, revoked, "a revocation of every purpose with each entry, at its instant")
	// The next 16:00 UTC (11:00 or 12:00 in Connecticut) after the
	// entries, inside the calling window whatever time the test runs.
	now := time.Now().UTC()
	next := time.Date(now.Year(), now.Month(), now.Day(), 16, 0, 0, 0, time.UTC)
	if !next.After(now.Add(time.Minute)) {
		next = next.AddDate(0, 0, 1)
	}
	later := next.Format(time.RFC3339)
	out, _, err = runHeed(env, "check", "--number", "860-555-0112", "--purpose", "informational", "--at", later, "--json")
	require.NoError(t, err)
	require.Contains(t, out, `"decision":"deny"`)
	_, err = conn.Exec(t.Context(), `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source)
		VALUES ('+18605550112', 'pec', 'informational', 'voice', now() + interval '1 second', 'asked to be called again')`)
	require.NoError(t, err)
	out, _, err = runHeed(env, "check", "--number", "860-555-0112", "--purpose", "informational", "--at", later)
	require.NoError(t, err)
	require.Contains(t, out, "decision:  allow", "the later consent lifts the entry, though a written one came before it")
	require.Contains(t, out, "lifts:     the internal do-not-call entry made ")
	out, _, err = runHeed(env, "dnc", "check", "860-555-0111")
	require.NoError(t, err)
	require.Contains(t, out, "+18605550111: internal since")
	// Taken off with a change list, as the README tells an admin to when a
	// person asks to be called again.
	out, _, err = runHeed(env, "dnc", "import", "--quiet", "--list", "internal", "--changes", writeFile(t, "lift.txt", "-8605550111\n"))
	require.NoError(t, err)
	require.Contains(t, out, "internal list: 0 added, 1 removed")
	out, _, err = runHeed(env, "dnc", "check", "860-555-0112")
	require.NoError(t, err)
	require.Contains(t, out, "+18605550112: internal since", "the other entry stays")
	out, _, err = runHeed(env, "dnc", "stats")
	require.NoError(t, err)
	require.Contains(t, out, "internal")
	require.Contains(t, out, "national")
}
