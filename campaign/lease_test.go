package campaign_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/dbtest"
)

// TestLeasesKeepOffThePool: running campaigns hold their leases on a pool
// of their own, so that more campaigns than the main pool has connections
// leave it every one of them (before, 17 running campaigns took the
// default 20 connections' last free ones, and every pacing loop then
// waited forever for one). A lease is one run's at a time, and is free
// again once released, or once its connection is gone.
func TestLeasesKeepOffThePool(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.New(t)
	cfg := db.Config().Copy()
	cfg.MaxConns = 8
	lp, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(lp.Close)
	leases := campaign.NewLeases(lp)

	var releases []*campaign.Lease
	for id := int64(1); id <= 6; id++ {
		lease, err := leases.Take(ctx, id)
		require.NoError(t, err, "campaign %d", id)
		require.NoError(t, lease.Held(ctx), "campaign %d", id)
		releases = append(releases, lease)
	}
	require.Zero(t, db.Stat().AcquiredConns(), "no lease holds a connection of the main pool")
	require.EqualValues(t, 6, lp.Stat().AcquiredConns())

	_, err = leases.Take(ctx, 3)
	require.ErrorIs(t, err, campaign.ErrLeaseHeld, "one run of a campaign at a time")
	var held bool
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) = 6 FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&held))
	require.True(t, held, "six advisory locks, one per campaign")

	releases[2].Release()
	require.ErrorIs(t, releases[2].Held(ctx), dialer.ErrHoldLost, "released")
	lease, err := leases.Take(ctx, 3)
	require.NoError(t, err, "released, the lease is free")
	lease.Release()
	for i, r := range releases {
		if i != 2 {
			r.Release()
		}
	}
	require.Zero(t, lp.Stat().AcquiredConns(), "every connection back")
	for id := int64(1); id <= 6; id++ {
		lease, err := leases.Take(ctx, id)
		require.False(t, errors.Is(err, campaign.ErrLeaseHeld), "campaign %d's lease was given back", id)
		require.NoError(t, err)
		lease.Release()
	}
}

// TestRunRetry: a failed campaign run is tried again within seconds at
// first and never more than a minute later, however many times it has
// failed; River's default would wait the failures' fourth power in
// seconds (over 20 minutes after six).
func TestRunRetry(t *testing.T) {
	t.Parallel()
	w := &campaign.RunWorker{}
	for _, tc := range []struct {
		failures int
		wait     time.Duration
	}{{0, 2 * time.Second}, {1, 2 * time.Second}, {3, 8 * time.Second}, {5, 32 * time.Second}, {6, time.Minute}, {99, time.Minute}, {5000, time.Minute}} {
		job := &river.Job[campaign.RunArgs]{JobRow: &rivertype.JobRow{Errors: make([]rivertype.AttemptError, tc.failures)}}
		before := time.Now()
		got := w.NextRetry(job)
		require.WithinRange(t, got, before.Add(tc.wait), time.Now().Add(tc.wait), "after %d failures", tc.failures)
	}
	require.GreaterOrEqual(t, campaign.RunArgs{}.InsertOpts().MaxAttempts, 10_000, "a week of minutes")
}

// TestLeaseOutlivesIdleSessionTimeout: a server that ends idle sessions
// (idle_session_timeout) does not end a lease's, which sits idle while
// its run dials: the lease's session turns the timeout off. Held says
// whether the session still holds the lease.
func TestLeaseOutlivesIdleSessionTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.New(t)
	cfg := db.Config().Copy()
	cfg.ConnConfig.RuntimeParams["idle_session_timeout"] = "200ms"
	lp, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(lp.Close)
	lease, err := campaign.NewLeases(lp).Take(ctx, 7)
	require.NoError(t, err)
	defer lease.Release()
	time.Sleep(700 * time.Millisecond)
	require.NoError(t, lease.Held(ctx), "the lease's session outlived the timeout")

	var pid int
	require.NoError(t, db.QueryRow(ctx, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = 7
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&pid))
	_, err = db.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid)
	require.NoError(t, err)
	require.ErrorIs(t, lease.Held(ctx), dialer.ErrHoldLost, "its session ended")
}
