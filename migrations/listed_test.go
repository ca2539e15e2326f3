package migrations_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestRevocationsListed runs migration 00034's statement again on a
// database holding revocations imported before imports put numbers on the
// internal do-not-call list, and checks which numbers it lists: those
// whose latest revocation of every purpose has no entry in force and no
// entry taken off since it was recorded, dated as that revocation.
func TestRevocationsListed(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	stmt := upStatement(t, "sql/00034_revocations_listed.sql")
	for _, q := range []string{
		// A: revoked twice, never listed: listed, as the later.
		`INSERT INTO revocations (phone, revoked_at, method, source) VALUES ('+18605550101', '2025-01-01T12:00:00Z', 'email', 'first'), ('+18605550101', '2025-03-01T12:00:00Z', 'letter', 'second')`,
		// B: revoked for telemarketing only: not listed.
		`INSERT INTO revocations (phone, revoked_at, method, scope) VALUES ('+18605550102', '2025-01-01T12:00:00Z', 'email', 'telemarketing')`,
		// C: listed, and taken off by an admin once the revocation was
		// recorded: not listed again.
		`INSERT INTO revocations (phone, revoked_at, method) VALUES ('+18605550103', '2025-01-01T12:00:00Z', 'email')`,
		`INSERT INTO dnc_internal (phone, added_at, method, source, removed_at) VALUES ('+18605550103', '2025-01-01T12:00:00Z', 'email', '', clock_timestamp())`,
		// D: taken off, then a letter dated before the removal recorded
		// after it (the admin never saw it): listed.
		`INSERT INTO dnc_internal (phone, added_at, method, source, removed_at) VALUES ('+18605550104', '2024-01-01T12:00:00Z', 'staff', '', '2025-09-01T12:00:00Z')`,
		`INSERT INTO revocations (phone, revoked_at, method) VALUES ('+18605550104', '2025-06-01T12:00:00Z', 'letter')`,
		// E: an entry in force: no second one.
		`INSERT INTO dnc_internal (phone, added_at, method, source) VALUES ('+18605550105', '2024-01-01T12:00:00Z', 'ivr', '')`,
		`INSERT INTO revocations (phone, revoked_at, method) VALUES ('+18605550105', '2025-01-01T12:00:00Z', 'email')`,
	} {
		_, err := db.Exec(ctx, q)
		require.NoError(t, err, q)
	}
	for range 2 { // a second run changes nothing
		_, err := db.Exec(ctx, stmt)
		require.NoError(t, err)
	}
	got := texts(t, db, `SELECT phone || ' ' || to_char(added_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' ' || method || ' ' || source
		FROM dnc_internal WHERE removed_at IS NULL ORDER BY phone, added_at`)
	require.Equal(t, []string{
		"+18605550101 2025-03-01 letter second",
		"+18605550104 2025-06-01 letter ",
		"+18605550105 2024-01-01 ivr ",
	}, got)
	var logged int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM index_changes WHERE index = 'dnc' AND op = 'add' AND phone IN ('+18605550101', '+18605550104')`).Scan(&logged))
	require.Equal(t, 2, logged, "the gate's indexes learn of each entry")
}

// TestEntriesRevoked runs migration 00037's statement again on a database
// holding internal do-not-call entries made before heed wrote a revocation
// with each, and checks which entries it revokes as of their instant:
// those in force with no revocation of every purpose at or after them.
func TestEntriesRevoked(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	stmt := upStatement(t, "sql/00037_entries_revoked.sql")
	var admin int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO users (email, role, password_hash) VALUES ('a@firm.test', 'admin', 'x') RETURNING id`).Scan(&admin))
	for _, q := range []string{
		// A: uploaded, never revoked: revoked as of its entry, by its
		// adder, by staff (an upload's entries say import, which no
		// person revokes by).
		`INSERT INTO dnc_internal (phone, added_at, method, source, added_by) VALUES ('+18605550101', '2025-01-01T12:00:00Z', 'import', 'old list.csv', ` + strconv.FormatInt(admin, 10) + `)`,
		// B: an entry with its revocation at its instant: nothing more.
		`INSERT INTO dnc_internal (phone, added_at, method) VALUES ('+18605550102', '2025-01-01T12:00:00Z', 'ivr')`,
		`INSERT INTO revocations (phone, revoked_at, method) VALUES ('+18605550102', '2025-01-01T12:00:00Z', 'ivr')`,
		// C: revoked for telemarketing only, after the entry: revoked.
		`INSERT INTO dnc_internal (phone, added_at, method) VALUES ('+18605550103', '2025-01-01T12:00:00Z', 'staff')`,
		`INSERT INTO revocations (phone, revoked_at, method, scope) VALUES ('+18605550103', '2025-02-01T12:00:00Z', 'email', 'telemarketing')`,
		// D: revoked before the entry only: revoked as of the entry, by
		// the entry's method.
		`INSERT INTO revocations (phone, revoked_at, method) VALUES ('+18605550104', '2024-01-01T12:00:00Z', 'email')`,
		`INSERT INTO dnc_internal (phone, added_at, method) VALUES ('+18605550104', '2025-01-01T12:00:00Z', 'web')`,
		// E: revoked after the entry: nothing more.
		`INSERT INTO dnc_internal (phone, added_at, method) VALUES ('+18605550105', '2025-01-01T12:00:00Z', 'staff')`,
		`INSERT INTO revocations (phone, revoked_at, method) VALUES ('+18605550105', '2025-03-01T12:00:00Z', 'letter')`,
		// F: taken off: left alone.
		`INSERT INTO dnc_internal (phone, added_at, method, removed_at) VALUES ('+18605550106', '2025-01-01T12:00:00Z', 'staff', '2025-02-01T12:00:00Z')`,
	} {
		_, err := db.Exec(ctx, q)
		require.NoError(t, err, q)
	}
	for range 2 { // a second run changes nothing
		_, err := db.Exec(ctx, stmt)
		require.NoError(t, err)
	}
	got := texts(t, db, `SELECT r.phone || ' ' || to_char(r.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' ' || r.method || ' ' || r.scope || '|' ||
		r.source || '|' || (r.recorded_by IS NOT NULL) FROM revocations r ORDER BY r.phone, r.revoked_at, r.id`)
	var idA, idC, idD int64
	require.NoError(t, db.QueryRow(ctx, `SELECT (SELECT id FROM dnc_internal WHERE phone = '+18605550101'), (SELECT id FROM dnc_internal WHERE phone = '+18605550103'),
		(SELECT id FROM dnc_internal WHERE phone = '+18605550104')`).Scan(&idA, &idC, &idD))
	entry := func(id int64) string { return "do-not-call entry " + strconv.FormatInt(id, 10) }
	require.Equal(t, []string{
		"+18605550101 2025-01-01 staff |" + entry(idA) + ": old list.csv|true",
		"+18605550102 2025-01-01 ivr ||false",
		"+18605550103 2025-01-01 staff |" + entry(idC) + "|false",
		"+18605550103 2025-02-01 email telemarketing||false",
		"+18605550104 2024-01-01 email ||false",
		"+18605550104 2025-01-01 web |" + entry(idD) + "|false",
		"+18605550105 2025-03-01 letter ||false",
	}, got)
	var logged int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM index_changes WHERE index = 'consent' AND phone IN ('+18605550101', '+18605550103', '+18605550104')`).Scan(&logged))
	require.Equal(t, 5, logged, "the gate's indexes learn of each revocation (the test's own two, and the migration's three)")
}

// upStatement returns the Up statement of the migration file at path.
func upStatement(t *testing.T, path string) string {
	t.Helper()
	up, err := os.ReadFile(path)
	require.NoError(t, err)
	stmt, _, ok := strings.Cut(strings.SplitN(string(up), "-- +goose Up", 2)[1], "-- +goose Down")
	require.True(t, ok)
	return stmt
}

// texts returns the one text column of query q's rows.
func texts(t *testing.T, db *pgxpool.Pool, q string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), q)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return got
}
