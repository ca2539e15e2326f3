package web

import (
	"errors"
	"net/http"
	"slices"
	"strings"

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

func (s *Server) signinForm(c echo.Context) error {
	return s.render(c, http.StatusOK, "signin", page{Title: "Sign in"})
}

func (s *Server) signin(c echo.Context) error {
	ctx := c.Request().Context()
	u, err := s.cfg.Accounts.Authenticate(ctx, c.FormValue("email"), c.FormValue("password"))
	if errors.Is(err, account.ErrBadCredentials) {
		s.cfg.Log.Info("web: failed sign-in", "email", c.FormValue("email"), "client", clientKey(c))
		return s.render(c, http.StatusUnauthorized, "signin", page{Title: "Sign in", Error: "Wrong email or password.", Data: c.FormValue("email")})
	}
	if err != nil {
		return err
	}
	if err := s.sessions.RenewToken(ctx); err != nil {
		return err
	}
	s.sessions.Put(ctx, sessionUserID, u.ID)
	s.sessions.Put(ctx, sessionVersion, u.SessionVersion)
	return c.Redirect(http.StatusSeeOther, "/campaigns")
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
