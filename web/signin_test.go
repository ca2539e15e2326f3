package web_test

import (
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/logbuf"
	"github.com/heed-dialer/heed/web"
)

// TestSignInLimits: failed sign-ins are limited per account (10 in 15
// minutes) and per client address (30 in 15 minutes); a sign-in past a
// limit is refused (429, saying when to try again) without its password
// being checked, even the right one; a successful sign-in clears its
// account's count and does not count against its client; the windows
// slide on the database's clock; failures are logged with the client key.
func TestSignInLimits(t *testing.T) {
	t.Parallel()
	var now atomic.Pointer[time.Time]
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	now.Store(&start)
	log := &logbuf.Buffer{}
	var checks func() int
	b := setupServer(t, func(db *pgxpool.Pool, cfg *web.Config) {
		trustLoopback(db, cfg)
		cfg.Now = func() time.Time { return *now.Load() }
		cfg.Log = slog.New(slog.NewTextHandler(log, nil))
	}, func(s *web.Server) { checks = web.CountAuthentications(s) })
	advance := func(d time.Duration) { elapse(t, b.db, &now, d) }
	// Each sign-in from a browser of its own, which no account signed in
	// from before (those are not held to the account's limit, below).
	signinWith := func(br *browser, from, email, pw string) (int, string, http.Header) {
		t.Helper()
		return br.postFrom(from, "/signin", url.Values{"_csrf": {br.csrf("/signin")}, "email": {email}, "password": {pw}})
	}
	signin := func(from, email, pw string) (int, string, http.Header) {
		t.Helper()
		return signinWith(b.browser(t), from, email, pw)
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
		require.Contains(t, body, "Too many failed sign-ins for this account: heed takes at most 10 wrong passwords for an account in 15 minutes, except from a browser it signed in from before. Please try again in 15 minutes.")
		retryAfterNear(t, h, 900)
	}
	require.Equal(t, 10, checks(), "a refused sign-in runs no password check")
	code, _, _ := signin("198.51.100.11", "atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code, "another account is not limited")
	require.Contains(t, log.String(), "sign-in limit reached; the account's sign-ins are refused for a while")

	advance(10 * time.Minute)
	code, body, h := signin("198.51.100.11", "para@firm.test", password)
	require.Equal(t, http.StatusTooManyRequests, code)
	require.Contains(t, body, "Please try again in 5 minutes.")
	retryAfterNear(t, h, 300)
	advance(5 * time.Minute)
	code, _, _ = signin("198.51.100.11", "para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code, "the failures have left the window")

	advance(15 * time.Minute)
	// A success gives back its own attempt, not the failures before it,
	// which may be another client's guesses: 9 failures, a success, and
	// the 10th failure fills the account's window.
	for i := range 9 {
		code, _, _ := signin("198.51.100.12", "atty@firm.test", fmt.Sprintf("wrong %d", i))
		require.Equal(t, http.StatusUnauthorized, code)
	}
	own := b.browser(t)
	code, _, _ = signinWith(own, "198.51.100.13", "atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, _, _ = signin("198.51.100.14", "atty@firm.test", "wrong again")
	require.Equal(t, http.StatusUnauthorized, code)
	code, _, _ = signin("198.51.100.14", "atty@firm.test", password)
	require.Equal(t, http.StatusTooManyRequests, code)

	// The browser the account signed in from is not held to its limit:
	// someone guessing its password elsewhere cannot keep its owner out.
	// A forged mark, or another account's, counts for nothing.
	code, _, _ = signinWith(own, "198.51.100.13", "atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code, "its owner's browser")
	forged := b.browser(t)
	u, err := url.Parse(b.srv.URL)
	require.NoError(t, err)
	forged.c.Jar.SetCookies(u, []*http.Cookie{{Name: "heed_device", Value: "AAAA"}})
	code, _, _ = signinWith(forged, "198.51.100.15", "atty@firm.test", password)
	require.Equal(t, http.StatusTooManyRequests, code, "a forged mark")
	code, _, _ = signinWith(own, "198.51.100.13", "para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code, "para's account is not limited now")
	code, _, _ = signinWith(own, "198.51.100.13", "atty@firm.test", password)
	require.Equal(t, http.StatusTooManyRequests, code, "the browser is para's now")

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
	retryAfterNear(t, h, 900)
	require.Equal(t, before, checks(), "a refused sign-in runs no password check")
	code, _, _ = signin("2001:db8:5:7::10", "admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code, "another client is not limited")
	require.Contains(t, log.String(), `msg="web: failed sign-in" email="(no such user)" client=2001:db8:5:6::/64`, "logged with the client key")
	require.NotContains(t, log.String(), "nobody0", "an email no user has is not logged: it may be a password")
	require.Regexp(t, `msg="web: failed sign-in" email=para@firm.test user_id=\d+ client=198.51.100.1\n`, log.String(), "a user's failure names the user")

	// Attempts made at once pass a limit no more than one after another:
	// each counts from when it is taken up, not when its check ends.
	br := b.browser(t)
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

// TestPasswordChangeLimits: a wrong current password on the account page
// counts as a failed sign-in, so a session left open is no way to guess
// the password; and an admin's reset of the password forgets the failed
// sign-ins that locked the account.
func TestPasswordChangeLimits(t *testing.T) {
	t.Parallel()
	b := setupWith(t, trustLoopback)
	para := b.browser(t)
	code, _ := para.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	change := func(current string) (int, string) {
		t.Helper()
		code, body, _ := para.postFrom("198.51.100.70", "/account/password", url.Values{"_csrf": {para.csrf("/account")},
			"current_password": {current}, "new_password": {"a new password 1"}, "confirm_password": {"a new password 1"}})
		return code, body
	}
	for i := range 10 {
		code, body := change(fmt.Sprintf("guess %d", i))
		require.Equal(t, http.StatusUnprocessableEntity, code, body)
		require.Contains(t, body, "Your current password is wrong.")
	}
	code, body := change(password)
	require.Equal(t, http.StatusTooManyRequests, code, "the right one too, unchecked")
	require.Contains(t, body, "Too many wrong passwords have been tried for this account or from your network. Please try again in 15 minutes.")
	other := b.browser(t)
	code, _, _ = other.postFrom("198.51.100.71", "/signin", url.Values{"_csrf": {other.csrf("/signin")}, "email": {"para@firm.test"}, "password": {password}})
	require.Equal(t, http.StatusTooManyRequests, code, "and so is a sign-in from a new browser")

	admin := b.browser(t)
	code, _ = admin.signin("admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	paraID := count(t, b.db, `SELECT id FROM users WHERE email = 'para@firm.test'`)
	code, body, _ = admin.post(fmt.Sprintf("/admin/users/%d/password", paraID), url.Values{"_csrf": {admin.csrf("/admin/users")}})
	require.Equal(t, http.StatusOK, code, body)
	m := regexp.MustCompile(`<code id="new-password">([^<]+)</code>`).FindStringSubmatch(body)
	require.Len(t, m, 2, body)
	fresh := b.browser(t)
	code, _, _ = fresh.postFrom("198.51.100.72", "/signin", url.Values{"_csrf": {fresh.csrf("/signin")}, "email": {"para@firm.test"}, "password": {html.UnescapeString(m[1])}})
	require.Equal(t, http.StatusSeeOther, code, "the reset forgot the failures")
}

// TestDeviceKnownByEveryServer: the device key is kept in the database
// (web.DeviceKey), so a browser an account signed in from on one heed
// server is known on another (or the same after a restart) and is not held
// to the account's limit there; a mark signed with another key is not.
func TestDeviceKnownByEveryServer(t *testing.T) {
	t.Parallel()
	var cfg web.Config
	var key []byte
	a := setupServer(t, func(db *pgxpool.Pool, c *web.Config) {
		trustLoopback(db, c)
		var err error
		key, err = web.DeviceKey(t.Context(), db)
		require.NoError(t, err)
		c.DeviceKey = key
		cfg = *c
	}, nil)
	again, err := web.DeviceKey(t.Context(), a.db)
	require.NoError(t, err)
	require.Len(t, key, 32)
	require.Equal(t, key, again, "made once, then read")
	require.Equal(t, 1, count(t, a.db, `SELECT count(*) FROM web_keys`))

	// Another server on the same database, and one with a key of its own.
	serve := func(c web.Config) string {
		s, err := web.New(c)
		require.NoError(t, err)
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	b := serve(cfg)
	cfg.DeviceKey = nil
	other := serve(cfg)

	own := a.browser(t)
	code, _ := own.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	// The browser's cookies go to every server on 127.0.0.1, whatever its
	// port; its session's is dropped so that it signs in again.
	signinAt := func(base string, br *browser, from, pw string) int {
		t.Helper()
		br.base = base
		code, _, _ := br.postFrom(from, "/signin", url.Values{"_csrf": {br.csrf("/signin")}, "email": {"para@firm.test"}, "password": {pw}})
		return code
	}
	for i := range 10 {
		require.Equal(t, http.StatusUnauthorized, signinAt(b, a.browser(t), fmt.Sprintf("198.51.100.%d", 80+i), "a guess"))
	}
	require.Equal(t, http.StatusTooManyRequests, signinAt(b, a.browser(t), "198.51.100.90", password), "a new browser is held to the limit")
	require.Equal(t, http.StatusSeeOther, signinAt(b, own, "198.51.100.91", password), "the browser para signed in from on the other server")

	// The failures counted on b are the database's, so the account is at
	// its limit on the server with another key too (TestSignInLimitsShared).
	require.Equal(t, http.StatusTooManyRequests, signinAt(other, own, "198.51.100.92", password), "a server with another key does not know it")
}

// TestSignInLimitsShared: the sign-in limits are counted in the database,
// so two heed web servers on one database (as behind a load balancer)
// share them, and a restarted server (a new one) keeps them: failures on
// either server add up to the account's 10 and the client's 30, a sign-in
// past a limit is refused on every server without its password being
// checked, and checks made at once on both servers pass a limit no more
// than one after another. In memory, each server allowed 10 and 30 of its
// own, and a restart none counted. Counts that left the window are
// pruned from the table.
func TestSignInLimitsShared(t *testing.T) {
	t.Parallel()
	var now atomic.Pointer[time.Time]
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	now.Store(&start)
	var cfg web.Config
	a := setupServer(t, func(db *pgxpool.Pool, c *web.Config) {
		trustLoopback(db, c)
		c.Now = func() time.Time { return *now.Load() }
		cfg = *c
	}, nil)
	var checks []func() int
	serve := func() string {
		s, err := web.New(cfg)
		require.NoError(t, err)
		checks = append(checks, web.CountAuthentications(s))
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	one, two := serve(), serve()
	checked := func() int {
		n := 0
		for _, c := range checks {
			n += c()
		}
		return n
	}
	signinAt := func(base, from, email, pw string) int {
		t.Helper()
		br := a.browser(t)
		br.base = base
		code, _, _ := br.postFrom(from, "/signin", url.Values{"_csrf": {br.csrf("/signin")}, "email": {email}, "password": {pw}})
		return code
	}

	// Per account: 5 failures on each server, from as many addresses.
	for i := range 10 {
		require.Equal(t, http.StatusUnauthorized, signinAt([]string{one, two}[i%2], fmt.Sprintf("198.51.100.%d", i+1), "para@firm.test", "a guess"))
	}
	require.Equal(t, 10, checked())
	require.Equal(t, http.StatusTooManyRequests, signinAt(one, "198.51.100.20", "para@firm.test", password), "10 failures in all")
	require.Equal(t, http.StatusTooManyRequests, signinAt(two, "198.51.100.21", "para@firm.test", password))
	restarted := serve()
	require.Equal(t, http.StatusTooManyRequests, signinAt(restarted, "198.51.100.22", "para@firm.test", password), "kept across a restart")
	require.Equal(t, 10, checked(), "a refused sign-in runs no password check, on any server")
	require.Equal(t, http.StatusSeeOther, signinAt(two, "198.51.100.23", "atty@firm.test", password), "another account is not limited")

	// Per client: 15 failures on each server from one /64, on accounts
	// that need not exist.
	const office = "2001:db8:9:1::10"
	for i := range 30 {
		require.Equal(t, http.StatusUnauthorized, signinAt([]string{one, two}[i%2], office, fmt.Sprintf("nobody%d@firm.test", i), "a guess"))
	}
	require.Equal(t, http.StatusTooManyRequests, signinAt(restarted, "2001:db8:9:1::99", "admin@firm.test", password), "30 failures in all")

	// Checks made at once, half on each server, on an account with no
	// failures yet: exactly 10 are checked, and the rest refused.
	before := checked()
	codes := make(chan int, 20)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			codes <- signinAt([]string{one, two}[i%2], fmt.Sprintf("203.0.113.%d", i+1), "atty@firm.test", "a guess")
		})
	}
	wg.Wait()
	close(codes)
	seen := map[int]int{}
	for code := range codes {
		seen[code]++
	}
	require.Equal(t, map[int]int{http.StatusUnauthorized: 10, http.StatusTooManyRequests: 10}, seen)
	require.Equal(t, before+10, checked())

	// Once they have left the window, the counts are pruned.
	require.Positive(t, count(t, a.db, `SELECT count(*) FROM signin_failures`))
	elapse(t, a.db, &now, 16*time.Minute)
	require.Equal(t, http.StatusSeeOther, signinAt(one, "198.51.100.30", "para@firm.test", password), "the failures have left the window")
	require.Zero(t, count(t, a.db, `SELECT count(*) FROM signin_failures`), "pruned, and a success leaves no count")
}

// TestSignInWhenLimitsCannotCount: when the database cannot count a
// sign-in against the limits (here its table is away), no password is
// checked, even the right one: the sign-in is refused with 503, saying to
// try again, rather than let through uncounted.
func TestSignInWhenLimitsCannotCount(t *testing.T) {
	t.Parallel()
	var checks func() int
	b := setupServer(t, trustLoopback, func(s *web.Server) { checks = web.CountAuthentications(s) })
	_, err := b.db.Exec(t.Context(), `ALTER TABLE signin_failures RENAME TO signin_failures_away`)
	require.NoError(t, err)
	br := b.browser(t)
	code, body, _ := br.postFrom("198.51.100.40", "/signin", url.Values{"_csrf": {br.csrf("/signin")}, "email": {"para@firm.test"}, "password": {password}})
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "heed cannot check passwords just now; please try again in a moment.")
	require.Zero(t, checks(), "no password checked")

	_, err = b.db.Exec(t.Context(), `ALTER TABLE signin_failures_away RENAME TO signin_failures`)
	require.NoError(t, err)
	code, _, _ = br.postFrom("198.51.100.40", "/signin", url.Values{"_csrf": {br.csrf("/signin")}, "email": {"para@firm.test"}, "password": {password}})
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, 1, checks())
}

// elapse makes d pass for the sign-in limits: the failures counted so far
// become d older on the database's clock, which their windows are on, and
// the servers' clock now moves on by d.
func elapse(t *testing.T, db *pgxpool.Pool, now *atomic.Pointer[time.Time], d time.Duration) {
	t.Helper()
	_, err := db.Exec(t.Context(), `UPDATE signin_failures SET at = at - $1::bigint * interval '1 microsecond'`, d.Microseconds())
	require.NoError(t, err)
	next := now.Load().Add(d)
	now.Store(&next)
}

// retryAfterNear asserts that a refusal's Retry-After is want seconds,
// less the time the test took since the failure that fills the window
// was counted on the database's clock (under a minute).
func retryAfterNear(t *testing.T, h http.Header, want int) {
	t.Helper()
	got, err := strconv.Atoi(h.Get("Retry-After"))
	require.NoError(t, err, h.Get("Retry-After"))
	require.LessOrEqual(t, got, want)
	require.Greater(t, got, want-60)
}
