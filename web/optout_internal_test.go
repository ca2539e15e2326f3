package web

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/internal/phone"
)

// TestOptOutOutlivesItsRequest: an opt-out whose request ends (the
// person's browser leaves) before it is written is written all the same.
func TestOptOutOutlivesItsRequest(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	s := &Server{cfg: Config{DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, s.recordOptOut(ctx, phone.Number("+18605550120"), "hung up"))
	for _, q := range []string{
		`SELECT count(*) FROM optout_requests WHERE phone = '+18605550120' AND recorded_at IS NOT NULL`,
		`SELECT count(*) FROM revocations WHERE phone = '+18605550120' AND source = 'public opt-out page: hung up'`,
		`SELECT count(*) FROM dnc_internal WHERE phone = '+18605550120'`,
	} {
		var n int
		require.NoError(t, db.QueryRow(context.Background(), q).Scan(&n))
		require.Equal(t, 1, n, q)
	}
}
