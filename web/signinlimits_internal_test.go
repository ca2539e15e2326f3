package web

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/dbtest"
)

// TestSigninLimitsTakeAtOnce: checks of one account taken at the same
// moment by two heed processes (two pools on one database, each with its
// own signinLimits), from 40 clients, are counted no more than the
// account's limit allows: exactly 10 are counted and 30 refused, however
// they interleave; and giving one back lets exactly one more in, at once
// in the process that gave it back, and in the other once its memory of
// the refusal is due to be checked again (signinRecheck).
func TestSigninLimitsTakeAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.URL(t)
	var limits []*signinLimits
	var clocks [2]atomic.Pointer[time.Time]
	for i := range 2 {
		start := time.Now()
		clocks[i].Store(&start)
		cfg, err := pgxpool.ParseConfig(url)
		require.NoError(t, err)
		cfg.MaxConns = 20
		db, err := pgxpool.NewWithConfig(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(db.Close)
		limits = append(limits, newSigninLimits(db, func() time.Time { return *clocks[i].Load() }))
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

	// Each process refused at least 10, and remembers it.
	require.NoError(t, limits[1].giveBack(ctx, counted[0]))
	_, _, by, err := limits[0].take(ctx, "198.51.100.200", acct)
	require.NoError(t, err)
	require.Equal(t, byAccount, by, "the other process believes its refusal until it is due to ask again")
	later := clocks[0].Load().Add(signinRecheck)
	clocks[0].Store(&later)
	_, _, by, err = limits[0].take(ctx, "198.51.100.200", acct)
	require.NoError(t, err)
	require.Equal(t, byNone, by, "one given back, one more in")
	_, _, by, err = limits[1].take(ctx, "198.51.100.201", acct)
	require.NoError(t, err)
	require.Equal(t, byAccount, by)

	// In the process that gave it back, at once.
	require.NoError(t, limits[1].giveBack(ctx, counted[1]))
	_, _, by, err = limits[1].take(ctx, "198.51.100.202", acct)
	require.NoError(t, err)
	require.Equal(t, byNone, by, "given back here: no refusal remembered")
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
	behind := newSigninLimits(db, func() time.Time { return time.Now().Add(-20 * time.Minute) })
	ahead := newSigninLimits(db, func() time.Time { return time.Now().Add(20 * time.Minute) })
	acct := accountKey("para@firm.test")
	failAccount(t, behind, acct)
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

// failAccount takes the account limit's failures of acct through l, each
// from a client of its own, none refused.
func failAccount(t *testing.T, l *signinLimits, acct string) {
	t.Helper()
	for i := range signinAccountLimit.Max {
		_, _, by, err := l.take(context.Background(), fmt.Sprintf("198.51.100.%d", i+1), acct)
		require.NoError(t, err)
		require.Equal(t, byNone, by)
	}
}

// TestSigninLimitsForgetRefusals: an admin's reset of a password (forget)
// lets the account in at once in the process that made it, though that
// process remembers refusing it (its clock stands still here, so the
// refusal would be believed throughout); in another process, once its
// memory is due to be checked again (signinRecheck). ForgetSignInFailures
// (heed user password) forgets the account's failures too.
func TestSigninLimitsForgetRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.New(t)
	start := time.Now()
	var clock atomic.Pointer[time.Time]
	clock.Store(&start)
	here := newSigninLimits(db, func() time.Time { return *clock.Load() })
	there := newSigninLimits(db, func() time.Time { return *clock.Load() })
	acct := accountKey("para@firm.test")
	fill := func() {
		t.Helper()
		failAccount(t, here, acct)
		for _, l := range []*signinLimits{here, there} {
			_, _, by, err := l.take(ctx, "198.51.100.99", acct)
			require.NoError(t, err)
			require.Equal(t, byAccount, by)
		}
	}
	fill()
	require.NoError(t, here.forget(ctx, acct))
	_, _, by, err := here.take(ctx, "198.51.100.99", acct)
	require.NoError(t, err)
	require.Equal(t, byNone, by, "forgotten here, at once")
	_, _, by, err = there.take(ctx, "198.51.100.99", acct)
	require.NoError(t, err)
	require.Equal(t, byAccount, by, "remembered there")
	later := start.Add(signinRecheck)
	clock.Store(&later)
	_, _, by, err = there.take(ctx, "198.51.100.99", acct)
	require.NoError(t, err)
	require.Equal(t, byNone, by, "there, once due to ask again")

	_, err = db.Exec(ctx, `DELETE FROM signin_failures`)
	require.NoError(t, err)
	fill()
	require.NoError(t, ForgetSignInFailures(ctx, db, " PARA@firm.test"))
	var rows int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM signin_failures WHERE kind = 'account'`).Scan(&rows))
	require.Zero(t, rows)
}

// TestSigninLimitsLockTimeout: a check that waits on another's lock on
// its key (here a connection that holds it and does not let go) gives up
// at the lock timeout, counting nothing, rather than hold its connection
// for as long as the other holds the lock.
func TestSigninLimitsLockTimeout(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := dbtest.New(t)
	holder, err := db.Acquire(ctx)
	require.NoError(t, err)
	defer holder.Release()
	const client = "198.51.100.7"
	_, err = holder.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, clientLimit.class, client)
	require.NoError(t, err)
	_, _, _, err = newSigninLimits(db, time.Now).take(ctx, client, "")
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr, "%v", err)
	require.Equal(t, "55P03", pgErr.Code, "lock_not_available")
	var rows int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM signin_failures`).Scan(&rows))
	require.Zero(t, rows)
}
