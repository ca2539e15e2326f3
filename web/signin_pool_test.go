package web_test

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/web"
)

// TestRefusedSigninsSpareThePool: a client already refused by the sign-in
// limits (30 failures in 15 minutes) keeps posting /signin,
// unauthenticated, from 64 connections at once, 20 times each, on a
// server whose pool has heed serve's 20 connections, which it shares with
// the dialer. Every answer is a refusal (429, with Retry-After), no
// password is checked and nothing is counted; and the refusals take at
// most web.SigninChecks connections from the pool in all: the checks the
// database refused before the server remembered its refusal. (From the
// review: each refused request ran a transaction, 2484 acquisitions for
// 2444 refusals, queued on the client's advisory lock each holding a
// connection, and the pool was fully taken in 36 of 40 probes.) The
// server's clock stands still here, so the refusal is believed
// throughout; once it is due to be checked again (web.SigninRecheck), the
// database is asked, and its word stands: here another process has since
// given the client's checks back (deleted its rows), and the client is
// let in.
func TestRefusedSigninsSpareThePool(t *testing.T) {
	t.Parallel()
	var now atomic.Pointer[time.Time]
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	now.Store(&start)
	var pool *pgxpool.Pool
	var checks func() int
	b := setupServer(t, func(db *pgxpool.Pool, cfg *web.Config) {
		pc := db.Config().Copy()
		pc.MaxConns = 20 // heed serve's default (cmd/heed/admin.go defaultMaxConns)
		var err error
		pool, err = pgxpool.NewWithConfig(context.Background(), pc)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		cfg.DB = pool
		cfg.Now = func() time.Time { return *now.Load() }
	}, func(s *web.Server) { checks = web.CountAuthentications(s) })
	ctx := context.Background()
	// The client (httptest: 127.0.0.1) has failed 30 times already.
	_, err := b.db.Exec(ctx, `INSERT INTO signin_failures (kind, key, at) SELECT 'client', '127.0.0.1', now() FROM generate_series(1, 30)`)
	require.NoError(t, err)

	const flooders, each = 64, 20
	var (
		refused, others, retry atomic.Int64
		wg                     sync.WaitGroup
	)
	browsers := make([]*browser, flooders)
	tokens := make([]string, flooders)
	for i := range browsers {
		browsers[i] = b.browser(t)
		tokens[i] = browsers[i].csrf("/signin")
	}
	acquiredBefore := pool.Stat().AcquireCount()
	for i := range flooders {
		wg.Go(func() {
			for range each {
				code, _, h := browsers[i].post("/signin", url.Values{"_csrf": {tokens[i]}, "email": {"admin@firm.test"}, "password": {password}})
				if code == http.StatusTooManyRequests {
					refused.Add(1)
				} else {
					others.Add(1)
				}
				if h.Get("Retry-After") != "" {
					retry.Add(1)
				}
			}
		})
	}
	wg.Wait()
	acquired := pool.Stat().AcquireCount() - acquiredBefore
	t.Logf("refused sign-ins %d (other answers %d), pool acquisitions meanwhile %d", refused.Load(), others.Load(), acquired)
	require.Equal(t, int64(flooders*each), refused.Load(), "every request was refused")
	require.Equal(t, int64(flooders*each), retry.Load(), "each saying when to try again")
	require.Zero(t, checks(), "no password checked")
	require.LessOrEqual(t, acquired, int64(web.SigninChecks), "refused, unauthenticated sign-ins take no more of the dialer's pool than the checks run at once")
	require.Equal(t, 30, count(t, b.db, `SELECT count(*) FROM signin_failures`), "nothing counted")

	// Another process gives the client's checks back: this server goes
	// on believing its refusal until it is due to ask again.
	_, err = b.db.Exec(ctx, `DELETE FROM signin_failures`)
	require.NoError(t, err)
	br := b.browser(t)
	code, _, _ := br.post("/signin", url.Values{"_csrf": {br.csrf("/signin")}, "email": {"admin@firm.test"}, "password": {password}})
	require.Equal(t, http.StatusTooManyRequests, code, "remembered")
	later := start.Add(web.SigninRecheck)
	now.Store(&later)
	code, _, _ = br.post("/signin", url.Values{"_csrf": {br.csrf("/signin")}, "email": {"admin@firm.test"}, "password": {password}})
	require.Equal(t, http.StatusSeeOther, code, "asked the database again")
	require.Equal(t, 1, checks())
}

// TestSigninChecksBusy: a sign-in that finds the server's sign-in limit
// checks all running and their queue full is refused at once, 503 with
// Retry-After, without taking a connection from the pool, checking its
// password or counting anything; once they are free, the same sign-in
// goes through.
func TestSigninChecksBusy(t *testing.T) {
	t.Parallel()
	var pool *pgxpool.Pool
	var checks func() int
	var release func()
	b := setupServer(t, func(db *pgxpool.Pool, cfg *web.Config) {
		var err error
		pool, err = pgxpool.NewWithConfig(context.Background(), db.Config().Copy())
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		cfg.DB = pool
	}, func(s *web.Server) {
		checks = web.CountAuthentications(s)
		release = web.FillSigninChecks(s)
	})
	br := b.browser(t)
	tok := br.csrf("/signin")
	before := pool.Stat().AcquireCount()
	code, body, h := br.post("/signin", url.Values{"_csrf": {tok}, "email": {"para@firm.test"}, "password": {password}})
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "heed is busy checking other sign-ins; please try again in a moment.")
	require.Equal(t, "1", h.Get("Retry-After"))
	require.Equal(t, before, pool.Stat().AcquireCount(), "no connection taken")
	require.Zero(t, checks())
	require.Zero(t, count(t, b.db, `SELECT count(*) FROM signin_failures`))

	release()
	code, _, _ = br.post("/signin", url.Values{"_csrf": {tok}, "email": {"para@firm.test"}, "password": {password}})
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, 1, checks())
}
