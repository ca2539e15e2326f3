package web_test

import (
	"fmt"
	"log/slog"
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

// TestSignInLimits: failed sign-ins are limited per account (10 in 15
// minutes) and per client address (30 in 15 minutes); a sign-in past a
// limit is refused (429, saying when to try again) without its password
// being checked, even the right one; a successful sign-in clears its
// account's count and does not count against its client; the windows
// slide on the server's clock; failures are logged with the client key.
func TestSignInLimits(t *testing.T) {
	t.Parallel()
	var now atomic.Pointer[time.Time]
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	now.Store(&start)
	advance := func(d time.Duration) {
		next := now.Load().Add(d)
		now.Store(&next)
	}
	log := &logBuffer{}
	var checks func() int
	b := setupServer(t, func(db *pgxpool.Pool, cfg *web.Config) {
		trustLoopback(db, cfg)
		cfg.Now = func() time.Time { return *now.Load() }
		cfg.Log = slog.New(slog.NewTextHandler(log, nil))
	}, func(s *web.Server) { checks = web.CountAuthentications(s) })
	br := b.browser(t)
	signin := func(from, email, pw string) (int, string, http.Header) {
		t.Helper()
		return br.postFrom(from, "/signin", url.Values{"_csrf": {br.csrf("/signin")}, "email": {email}, "password": {pw}})
	}

	// Per account: 10 failures, from as many addresses; then even the
	// right password is refused, unchecked, for any spelling of the email.
	for i := range 10 {
		code, body, _ := signin(fmt.Sprintf("198.51.100.%d", i+1), "para@firm.test", "not the password")
		require.Equal(t, http.StatusUnauthorized, code, body)
	}
	require.Equal(t, 10, checks())
	for _, email := range []string{"para@firm.test", " PARA@firm.test "} {
		code, body, h := signin("198.51.100.11", email, password)
		require.Equal(t, http.StatusTooManyRequests, code, email)
		require.Contains(t, body, "Too many failed sign-ins for this account: heed takes at most 10 wrong passwords for an account in 15 minutes. Please try again in 15 minutes.")
		require.Equal(t, "900", h.Get("Retry-After"))
	}
	require.Equal(t, 10, checks(), "a refused sign-in runs no password check")
	code, _, _ := signin("198.51.100.11", "atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code, "another account is not limited")
	require.Contains(t, log.String(), "sign-in limit reached; the account's sign-ins are refused for a while")

	advance(10 * time.Minute)
	code, body, h := signin("198.51.100.11", "para@firm.test", password)
	require.Equal(t, http.StatusTooManyRequests, code)
	require.Contains(t, body, "Please try again in 5 minutes.")
	require.Equal(t, "300", h.Get("Retry-After"))
	advance(5 * time.Minute)
	code, _, _ = signin("198.51.100.11", "para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code, "the failures have left the window")

	// A success clears the account's count: 9 failures, a success, then
	// 10 more failures before a refusal.
	for i := range 9 {
		code, _, _ := signin("198.51.100.12", "atty@firm.test", fmt.Sprintf("wrong %d", i))
		require.Equal(t, http.StatusUnauthorized, code)
	}
	code, _, _ = signin("198.51.100.13", "atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	for i := range 10 {
		code, _, _ := signin("198.51.100.14", "atty@firm.test", fmt.Sprintf("wrong again %d", i))
		require.Equal(t, http.StatusUnauthorized, code, "failure %d after the success", i+1)
	}
	code, _, _ = signin("198.51.100.14", "atty@firm.test", password)
	require.Equal(t, http.StatusTooManyRequests, code)

	// Per client: 30 failures, on accounts that need not exist; a
	// success among them does not count.
	const office = "2001:db8:5:6::10"
	for i := range 29 {
		code, _, _ := signin(office, fmt.Sprintf("nobody%d@firm.test", i), password)
		require.Equal(t, http.StatusUnauthorized, code)
	}
	code, _, _ = signin(office, "admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, _, _ = signin(office, "nobody29@firm.test", password)
	require.Equal(t, http.StatusUnauthorized, code, "the 30th failure")
	before := checks()
	code, body, h = signin("2001:db8:5:6::99", "admin@firm.test", password)
	require.Equal(t, http.StatusTooManyRequests, code, "the same /64")
	require.Contains(t, body, "Too many failed sign-ins have come from your network: heed takes at most 30 in 15 minutes. Please try again in 15 minutes.")
	require.Equal(t, "900", h.Get("Retry-After"))
	require.Equal(t, before, checks(), "a refused sign-in runs no password check")
	code, _, _ = signin("2001:db8:5:7::10", "admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code, "another client is not limited")
	require.Contains(t, log.String(), `msg="web: failed sign-in" email=nobody0@firm.test client=2001:db8:5:6::/64`, "logged with the client key")

	// Attempts made at once pass a limit no more than one after another:
	// each counts from when it is taken up, not when its check ends.
	tok := br.csrf("/signin")
	codes := make(chan int, 20)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			code, _, _ := br.postFrom(fmt.Sprintf("203.0.113.%d", i+1), "/signin",
				url.Values{"_csrf": {tok}, "email": {"admin@firm.test"}, "password": {"a guess"}})
			codes <- code
		})
	}
	wg.Wait()
	close(codes)
	seen := map[int]int{}
	for code := range codes {
		seen[code]++
	}
	require.Equal(t, map[int]int{http.StatusUnauthorized: 10, http.StatusTooManyRequests: 10}, seen)
}
