package web

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/dbtest"
)

// TestSigninLimitsTakeAtOnce: checks of one account taken at the same
// moment by two heed processes (two pools on one database, each with its
// own signinLimits), from 40 clients, are counted no more than the
// account's limit allows: exactly 10 are counted and 30 refused, however
// they interleave; and giving one back lets exactly one more in.
func TestSigninLimitsTakeAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.URL(t)
	var limits []*signinLimits
	for range 2 {
		cfg, err := pgxpool.ParseConfig(url)
		require.NoError(t, err)
		cfg.MaxConns = 20
		db, err := pgxpool.NewWithConfig(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(db.Close)
		limits = append(limits, &signinLimits{db: db, now: time.Now})
	}
	acct := accountKey("para@firm.test")
	const n = 40
	var (
		mu      sync.Mutex
		counted []passwordTry
		refused int
		wg      sync.WaitGroup
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			try, wait, by, err := limits[i%2].take(ctx, fmt.Sprintf("198.51.100.%d", i+1), acct)
			require.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			switch by {
			case byNone:
				counted = append(counted, try)
			case byAccount:
				require.Positive(t, wait)
				refused++
			default:
				t.Errorf("refused by %d", by)
			}
		})
	}
	close(start)
	wg.Wait()
	require.Len(t, counted, signinAccountLimit.Max)
	require.Equal(t, n-signinAccountLimit.Max, refused)
	var rows int
	require.NoError(t, limits[0].db.QueryRow(ctx, `SELECT count(*) FROM signin_failures WHERE kind = 'account'`).Scan(&rows))
	require.Equal(t, signinAccountLimit.Max, rows)
	filled := 0
	for _, c := range counted {
		if c.filled(accountLimit) {
			filled++
		}
	}
	require.Equal(t, 1, filled, "one check, the 10th, filled the limit")

	require.NoError(t, limits[1].giveBack(ctx, counted[0]))
	_, _, by, err := limits[0].take(ctx, "198.51.100.200", acct)
	require.NoError(t, err)
	require.Equal(t, byNone, by, "one given back, one more in")
	_, _, by, err = limits[1].take(ctx, "198.51.100.201", acct)
	require.NoError(t, err)
	require.Equal(t, byAccount, by)
}

// TestSigninLimitsOnTheDatabaseClock: two heed processes whose hosts'
// clocks are 20 minutes apart count the same failures: the one behind
// fills an account's limit, and the one ahead (which, on its own clock,
// saw those rows as older than every window, and pruned them) refuses the
// account as well, deleting none of them; and the one behind refuses it
// too. The rows and the windows are on the database's clock.
func TestSigninLimitsOnTheDatabaseClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.New(t)
	behind := &signinLimits{db: db, now: func() time.Time { return time.Now().Add(-20 * time.Minute) }}
	ahead := &signinLimits{db: db, now: func() time.Time { return time.Now().Add(20 * time.Minute) }}
	acct := accountKey("para@firm.test")
	for i := range signinAccountLimit.Max {
		_, _, by, err := behind.take(ctx, fmt.Sprintf("198.51.100.%d", i+1), acct)
		require.NoError(t, err)
		require.Equal(t, byNone, by)
	}
	for _, l := range []*signinLimits{ahead, behind} {
		_, wait, by, err := l.take(ctx, "198.51.100.99", acct)
		require.NoError(t, err)
		require.Equal(t, byAccount, by, "the failures counted on the host behind")
		require.Greater(t, wait, signinAccountLimit.Per-time.Minute, "until the first failure leaves the window, on the database's clock")
		require.LessOrEqual(t, wait, signinAccountLimit.Per)
	}
	var rows int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM signin_failures WHERE kind = 'account'`).Scan(&rows))
	require.Equal(t, signinAccountLimit.Max, rows, "none pruned")
}
