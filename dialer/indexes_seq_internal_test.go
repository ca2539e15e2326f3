package dialer

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/dbtest"
)

// A change committed between a sync's two reads (the internal list's,
// then the consent ledger's) leaves the internal list's position below
// the log's top; the next sync that finds nothing new raises it, so the
// position the gate reports (Seq) reaches the log's top and the last
// look's exact guard holds.
func TestIndexesSeqCatchesUp(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	_, err := db.Exec(ctx, `INSERT INTO dnc_internal (phone, method) VALUES ('+18605550101', 'staff')`)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550102', 'pec', 'informational', 'voice', now(), 'form')`)
	require.NoError(t, err)
	ix := NewIndexes(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, ix.Load(ctx))
	var top int64
	require.NoError(t, db.QueryRow(ctx, `SELECT max(seq) FROM index_changes`).Scan(&top))
	require.Equal(t, top, ix.Seq())

	// As if the consent had committed between the two reads.
	ix.mu.Lock()
	ix.dncSeq = top - 1
	ix.seq.Store(top - 1)
	ix.mu.Unlock()
	require.NoError(t, ix.Sync(ctx))
	require.Equal(t, top, ix.Seq(), "nothing new: both indexes hold the log to its top")
}
