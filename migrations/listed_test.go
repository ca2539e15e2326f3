package migrations_test

import (
	"context"
	"os"
	"strings"
	"testing"

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
	up, err := os.ReadFile("sql/00034_revocations_listed.sql")
	require.NoError(t, err)
	stmt, _, ok := strings.Cut(strings.SplitN(string(up), "-- +goose Up", 2)[1], "-- +goose Down")
	require.True(t, ok)
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
		_, err = db.Exec(ctx, stmt)
		require.NoError(t, err)
	}
	rows, err := db.Query(ctx, `SELECT phone || ' ' || to_char(added_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' ' || method || ' ' || source
		FROM dnc_internal WHERE removed_at IS NULL ORDER BY phone, added_at`)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		got = append(got, s)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{
		"+18605550101 2025-03-01 letter second",
		"+18605550104 2025-06-01 letter ",
		"+18605550105 2024-01-01 ivr ",
	}, got)
	var logged int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM index_changes WHERE index = 'dnc' AND op = 'add' AND phone IN ('+18605550101', '+18605550104')`).Scan(&logged))
	require.Equal(t, 2, logged, "the gate's indexes learn of each entry")
}
