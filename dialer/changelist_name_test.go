package dialer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/internal/phone"
)

// TestInternalChangeListNameNeverDeletes: an internal-list change import
// whose lines carry no +/- takes no deletion from its file's name. One
// named "Fidelity-optouts.txt" (whose "del" once made every line a
// removal) adds its numbers, and the gate refuses them; one named
// "deletes.txt" is refused whole and removes nothing; a line marked "-"
// still removes. A registry change list named "deletes.txt" still
// deletes, as the FTC names its deletion files.
func TestInternalChangeListNameNeverDeletes(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	g, at := realGate(t, db), weekdayAt(t, 11)
	_, err := db.Exec(ctx, `INSERT INTO dnc_internal (phone, method, source) VALUES ('+18605550161', 'ivr', 'pressed 9')`)
	require.NoError(t, err)
	require.NoError(t, g.Sync(ctx))
	verdict := func(p phone.Number) consent.Verdict {
		t.Helper()
		require.NoError(t, g.Sync(ctx))
		return g.Check(ctx, dialer.Request{Phone: p, Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded,
			Line: consent.LineLandline, At: at}).Verdict
	}
	store := dnc.NewPGStore(db)
	changes := dnc.ListImport{List: dnc.Internal, Changes: true}

	res, err := dnc.ImportList(ctx, nil, store, changes, dnc.Input{Name: "Fidelity-optouts.txt", R: strings.NewReader("8605550161\n8605550162\n")})
	require.NoError(t, err)
	require.Equal(t, 1, res.Added, res.Summary(dnc.Internal))
	require.Zero(t, res.Removed, res.Summary(dnc.Internal))
	for _, p := range []phone.Number{"+18605550161", "+18605550162"} {
		require.Equal(t, consent.Deny, verdict(p), p)
	}

	_, err = dnc.ImportList(ctx, nil, store, changes, dnc.Input{Name: "deletes.txt", R: strings.NewReader("8605550161\n8605550162\n")})
	var ge *dnc.GarbageError
	require.ErrorAs(t, err, &ge)
	require.EqualValues(t, 2, ge.Report.Rejected)
	require.Contains(t, ge.Report.Examples[0].Reason, "an opt-out is removed only by a line marked -")
	require.Equal(t, 2, countRows(t, db, `SELECT count(*) FROM dnc_internal WHERE removed_at IS NULL AND phone IN ('+18605550161', '+18605550162')`))

	res, err = dnc.ImportList(ctx, nil, store, changes, dnc.Input{Name: "deletes.txt", R: strings.NewReader("-8605550162\n")})
	require.NoError(t, err)
	require.Equal(t, 1, res.Removed, res.Summary(dnc.Internal))
	require.Equal(t, 1, countRows(t, db, `SELECT count(*) FROM dnc_internal WHERE removed_at IS NULL AND phone IN ('+18605550161', '+18605550162')`))

	// The national registry's change list named deletes.txt deletes.
	reg := dnc.NewRegistry(db, t.TempDir())
	asOf := time.Now().UTC().Truncate(24 * time.Hour)
	_, err = dnc.ImportList(ctx, reg, store, dnc.ListImport{List: dnc.National, AsOf: asOf},
		dnc.Input{Name: "national.txt", R: strings.NewReader("2035550171\n2035550172\n")})
	require.NoError(t, err)
	res, err = dnc.ImportList(ctx, reg, store, dnc.ListImport{List: dnc.National, AsOf: asOf, Changes: true},
		dnc.Input{Name: "deletes.txt", R: strings.NewReader("2035550171\n")})
	require.NoError(t, err)
	require.Equal(t, 1, res.Removed, res.Summary(dnc.National))
	_, set, _, err := reg.Current(ctx, dnc.National)
	require.NoError(t, err)
	require.False(t, set.Contains(2035550171))
	require.True(t, set.Contains(2035550172))
}

// countRows runs a count query.
func countRows(t *testing.T, db *pgxpool.Pool, sql string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(context.Background(), sql).Scan(&n))
	return n
}
