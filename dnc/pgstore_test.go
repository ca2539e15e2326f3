package dnc_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestImportInternalRemovedBy takes internal entries off with change
// imports and checks that each removal names who made it (removed_by: the
// admin, or no one for the heed command) in the entry and in the audit
// log's row of the removal, and that the entry stays.
func TestImportInternalRemovedBy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.New(t)
	var adder, remover int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO users (email, role, password_hash) VALUES ('adder@firm.test', 'admin', 'x') RETURNING id`).Scan(&adder))
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO users (email, role, password_hash) VALUES ('remover@firm.test', 'admin', 'x') RETURNING id`).Scan(&remover))
	st := dnc.NewPGStore(db)
	added, _, err := st.ImportInternal(ctx, []uint64{8605550101, 8605550102}, nil, adder, "optouts.csv")
	require.NoError(t, err)
	require.Equal(t, 2, added)

	_, removed, err := st.ImportInternal(ctx, nil, []uint64{8605550101}, remover, "lift.csv")
	require.NoError(t, err)
	require.Equal(t, 1, removed)
	_, removed, err = st.ImportInternal(ctx, nil, []uint64{8605550102}, 0, "cli-lift.csv") // the heed command
	require.NoError(t, err)
	require.Equal(t, 1, removed)

	for _, want := range []struct {
		phone string
		by    *int64
	}{{"+18605550101", &remover}, {"+18605550102", nil}} {
		var by, auditBy, addedBy *int64
		var removedAt bool
		require.NoError(t, db.QueryRow(ctx, `SELECT removed_by, added_by, removed_at IS NOT NULL FROM dnc_internal WHERE phone = $1`, want.phone).
			Scan(&by, &addedBy, &removedAt))
		require.True(t, removedAt, want.phone)
		require.Equal(t, want.by, by, want.phone)
		require.Equal(t, &adder, addedBy, "the entry still names its adder")
		require.NoError(t, db.QueryRow(ctx, `SELECT (details->>'removed_by')::bigint FROM audit_log
			WHERE tbl = 'dnc_internal' AND op = 'update' AND details->>'phone' = $1 AND details->>'removed_at' IS NOT NULL`, want.phone).Scan(&auditBy))
		require.Equal(t, want.by, auditBy, "the audit log's row of the removal of %s", want.phone)
	}
	entries, err := st.ListInternal(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, entries, "both taken off")
}
