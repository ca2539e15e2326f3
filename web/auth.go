package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"github.com/heed-dialer/heed/internal/account"
)

const (
	userKey       = "heed.user"
	sessionUserID = "user_id"
	// sessionVersion is the user's SessionVersion when they signed in: a
	// password change since ends the session.
	sessionVersion = "session_version"
)

// The sign-in limits. heed counts failed sign-ins per account (the email
// typed, whether or not a user has it, so that a refusal reveals
// nothing) and per client (clientKey), in a sliding window of 15 minutes,
// in the database (signinLimits), for every heed process alike: 10 per
// account stop a password from being guessed while its owner, who
// mistypes a few times, is rarely refused; 30 per client leave room for an
// office behind one address and stop one client from trying many
// accounts. A sign-in that would pass a limit is refused (429) before its
// password is checked. A successful sign-in is not counted, against its
// account or its client, and leaves the failures before it counted.
var (
	signinAccountLimit = rateLimit{Max: 10, Per: 15 * time.Minute}
	signinClientLimit  = rateLimit{Max: 30, Per: 15 * time.Minute}
)

// passwordChecks bounds the password checks run at once (sign-ins and
// password changes): each is an argon2id verification of 64 MiB, so 4
// take 256 MiB at most. Others wait their turn.
const passwordChecks = 4

func (s *Server) signinForm(c echo.Context) error {
	return s.render(c, http.StatusOK, "signin", page{Title: "Sign in"})
}

// signin checks an email and password, within the sign-in limits, and
// starts the user's session.
func (s *Server) signin(c echo.Context) error {
	ctx := c.Request().Context()
	email, client := c.FormValue("email"), clientKey(c)
	acct := accountKey(email)
	// A browser the account signed in from before is not held to the
	// account's limit: someone guessing its password elsewhere cannot
	// keep its owner out. It is still held to its client's.
	limited := acct
	if s.knownDevice(c, acct) {
		limited = ""
	}
	try, wait, by, err := s.limits.take(ctx, client, limited)
	if err != nil {
		return limitsDown(c, err)
	}
	switch by {
	case byClient:
		return s.signinRefused(c, email, fmt.Sprintf("Too many failed sign-ins have come from your network: heed takes at most %d in %s.",
			signinClientLimit.Max, humanDuration(signinClientLimit.Per)), wait)
	case byAccount:
		return s.signinRefused(c, email, fmt.Sprintf("Too many failed sign-ins for this account: heed takes at most %d wrong passwords for an account in %s, "+
			"except from a browser it signed in from before.", signinAccountLimit.Max, humanDuration(signinAccountLimit.Per)), wait)
	}
	var u account.User
	err = s.checkPasswords(ctx, func() (err error) {
		u, err = s.authenticate(ctx, email, c.FormValue("password"))
		return err
	})
	if errors.Is(err, account.ErrBadCredentials) {
		who := s.signinAccount(ctx, email)
		s.cfg.Log.Info("web: failed sign-in", append(who, "client", client)...)
		if try.filled(accountLimit) {
			s.cfg.Log.Warn("web: sign-in limit reached; the account's sign-ins are refused for a while", append(who, "client", client)...)
		}
		if try.filled(clientLimit) {
			s.cfg.Log.Warn("web: sign-in limit reached; the client's sign-ins are refused for a while", "client", client)
		}
		return s.render(c, http.StatusUnauthorized, "signin", page{Title: "Sign in", Error: "Wrong email or password.", Data: email})
	}
	// Not a wrong password: the attempt does not count.
	s.giveBack(ctx, try)
	if err != nil {
		return err
	}
	s.rememberDevice(c, acct)
	if err := s.sessions.RenewToken(ctx); err != nil {
		return err
	}
	s.sessions.Put(ctx, sessionUserID, u.ID)
	s.sessions.Put(ctx, sessionVersion, u.SessionVersion)
	return c.Redirect(http.StatusSeeOther, "/campaigns")
}

// signinAccount returns the log attributes that name the account a failed
// sign-in was for: its email and user id when a user has the email typed,
// and only that none has otherwise. What was typed is not logged then: it
// is often a password typed into the wrong field.
func (s *Server) signinAccount(ctx context.Context, email string) []any {
	if s.cfg.Accounts == nil {
		return nil
	}
	u, err := s.cfg.Accounts.ByEmail(ctx, email)
	switch {
	case err == nil:
		return []any{"email", u.Email, "user_id", u.ID}
	case errors.Is(err, account.ErrNotFound):
		return []any{"email", "(no such user)"}
	}
	s.cfg.Log.Warn("web: failed sign-in: look the user up", "err", err)
	return []any{"email", "(not looked up)"}
}

// deviceCookie names the cookie by which a browser an account signed in
// from is known again (knownDevice).
const deviceCookie = "heed_device"

// deviceFor is the device cookie's value for the account acct: a MAC of
// it under the server's key, which a browser gets only by signing in.
func (s *Server) deviceFor(acct string) string {
	m := hmac.New(sha256.New, s.deviceKey)
	m.Write([]byte(acct))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// deviceKeyName names the device key in the web_keys table.
const deviceKeyName = "device"

// DeviceKey returns the key that signs the device cookies (Config.DeviceKey)
// kept in the database: the first caller makes it, at random, and every
// heed process reads the same one after.
func DeviceKey(ctx context.Context, db *pgxpool.Pool) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("web: device key: %w", err)
	}
	// A process that made the key while this statement ran is not seen
	// by its snapshot (no row): the next statement reads its key.
	for try := 0; ; try++ {
		var key []byte
		err := db.QueryRow(ctx, `WITH made AS (
			INSERT INTO web_keys (name, key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING key)
			SELECT key FROM made UNION ALL SELECT key FROM web_keys WHERE name = $1`, deviceKeyName, fresh).Scan(&key)
		switch {
		case err == nil:
			return key, nil
		case !errors.Is(err, pgx.ErrNoRows) || try == 2:
			return nil, fmt.Errorf("web: device key: %w", err)
		}
	}
}

// knownDevice reports whether the request comes from a browser that
// signed in to the account acct before.
func (s *Server) knownDevice(c echo.Context, acct string) bool {
	ck, err := c.Cookie(deviceCookie)
	return err == nil && hmac.Equal([]byte(ck.Value), []byte(s.deviceFor(acct)))
}

// rememberDevice marks the browser as one the account acct signed in
// from, for 90 days.
func (s *Server) rememberDevice(c echo.Context, acct string) {
	c.SetCookie(&http.Cookie{Name: deviceCookie, Value: s.deviceFor(acct), Path: "/", MaxAge: 90 * 24 * 60 * 60,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
}

// The limit that refused a password check (signinLimits.take).
const (
	byNone = iota
	byClient
	byAccount
)

// limitsDown answers a sign-in or password change whose sign-in limits
// could not be checked (the database failed, or too many checks were
// running or waiting: errSigninBusy): 503, with no password checked, and
// a Retry-After of a second when busy.
func limitsDown(c echo.Context, err error) error {
	if errors.Is(err, errSigninBusy) {
		c.Response().Header().Set("Retry-After", "1")
		return echo.NewHTTPError(http.StatusServiceUnavailable, "heed is busy checking other sign-ins; please try again in a moment.").SetInternal(err)
	}
	return echo.NewHTTPError(http.StatusServiceUnavailable, "heed cannot check passwords just now; please try again in a moment.").SetInternal(err)
}

// giveBack uncounts a password check that was no wrong password, even
// when the request has ended meanwhile. Should the database refuse, the
// check stays counted as a failure, which is logged: the sign-in itself
// stands.
func (s *Server) giveBack(ctx context.Context, t passwordTry) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.limits.giveBack(ctx, t); err != nil {
		s.cfg.Log.Warn("web: a password check that was no wrong password stays counted against the sign-in limits", "err", err)
	}
}

// retryAfter sets a 429's Retry-After to wait, in whole seconds.
func retryAfter(c echo.Context, wait time.Duration) {
	c.Response().Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
}

// signinRefused answers a sign-in refused by a limit: 429, saying why and
// when to try again, with Retry-After.
func (s *Server) signinRefused(c echo.Context, email, why string, wait time.Duration) error {
	retryAfter(c, wait)
	return s.render(c, http.StatusTooManyRequests, "signin", page{Title: "Sign in", Data: email,
		Error: why + " Please try again in " + humanDuration(wait) + "."})
}

// accountKey names the account an email signs in to for the sign-in
// limits, as Authenticate finds it (trimmed, in any case): a hash, so that
// the limits keep no emails and a long one takes no more room.
func accountKey(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return string(sum[:])
}

// checkPasswords runs check, which checks a password, once one of
// passwordChecks is free, waiting with ctx.
func (s *Server) checkPasswords(ctx context.Context, check func() error) error {
	if err := s.passwords.Acquire(ctx, 1); err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "heed is busy checking other passwords; please try again in a moment.").SetInternal(err)
	}
	defer s.passwords.Release(1)
	return check()
}

func (s *Server) signout(c echo.Context) error {
	if err := s.sessions.Destroy(c.Request().Context()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/signin")
}

// require loads the signed-in user and checks their role. With no roles it
// only requires a signed-in user.
func (s *Server) require(roles ...account.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx := c.Request().Context()
			id := s.sessions.GetInt64(ctx, sessionUserID)
			if id == 0 {
				return s.toSignin(c)
			}
			u, err := s.cfg.Accounts.Get(ctx, id)
			if errors.Is(err, account.ErrNotFound) || (err == nil && (u.Disabled || s.sessions.GetInt(ctx, sessionVersion) != u.SessionVersion)) {
				_ = s.sessions.Destroy(ctx)
				return s.toSignin(c)
			}
			if err != nil {
				return err
			}
			c.Set(userKey, u)
			if len(roles) > 0 && !slices.Contains(roles, u.Role) {
				return echo.NewHTTPError(http.StatusForbidden, "Your role ("+string(u.Role)+") may not do this.")
			}
			return next(c)
		}
	}
}

func (s *Server) toSignin(c echo.Context) error {
	if c.Request().Header.Get("HX-Request") == "true" {
		c.Response().Header().Set("HX-Redirect", "/signin")
		return c.NoContent(http.StatusUnauthorized)
	}
	if c.Request().Method != http.MethodGet {
		return echo.NewHTTPError(http.StatusUnauthorized, "Sign in first.")
	}
	return c.Redirect(http.StatusSeeOther, "/signin")
}

// apiAuth authenticates /api/v1 requests by their bearer token.
func (s *Server) apiAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return echo.NewHTTPError(http.StatusUnauthorized, "an API token is required: Authorization: Bearer heed_...")
		}
		u, err := s.cfg.Accounts.UserByToken(c.Request().Context(), strings.TrimSpace(tok))
		if err != nil {
			return err
		}
		c.Set(userKey, u)
		return next(c)
	}
}

// apiRole checks the API caller's role.
func apiRole(roles ...account.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u, _ := c.Get(userKey).(account.User)
			if !slices.Contains(roles, u.Role) {
				return echo.NewHTTPError(http.StatusForbidden, "role "+string(u.Role)+" may not do this")
			}
			return next(c)
		}
	}
}

func currentUser(c echo.Context) account.User {
	u, _ := c.Get(userKey).(account.User)
	return u
}
