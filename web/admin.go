package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/account"
	"github.com/heed-dialer/heed/internal/phone"
)

type usersData struct {
	Users    []account.User
	NewToken string
	TokenFor string
}

func (s *Server) usersPage(c echo.Context) error {
	return s.renderUsers(c, http.StatusOK, "", usersData{})
}

func (s *Server) renderUsers(c echo.Context, status int, msg string, d usersData) error {
	users, err := s.cfg.Accounts.List(c.Request().Context())
	if err != nil {
		return err
	}
	d.Users = users
	return s.render(c, status, "users", page{Title: "Users", Error: msg, Data: d})
}

func (s *Server) createUser(c echo.Context) error {
	role, err := account.ParseRole(c.FormValue("role"))
	if err != nil {
		return s.renderUsers(c, http.StatusUnprocessableEntity, "Choose a role: admin, attorney or paralegal.", usersData{})
	}
	u, err := s.cfg.Accounts.Create(c.Request().Context(), c.FormValue("email"), role, c.FormValue("password"))
	switch {
	case errors.Is(err, account.ErrExists):
		return s.renderUsers(c, http.StatusConflict, "A user with that email already exists.", usersData{})
	case errors.Is(err, account.ErrInvalid):
		return s.renderUsers(c, http.StatusUnprocessableEntity, "Give a valid email and a password of at least 10 characters.", usersData{})
	case err != nil:
		return err
	}
	s.flash(c, fmt.Sprintf("Created %s (%s).", u.Email, u.Role))
	return c.Redirect(http.StatusSeeOther, "/admin/users")
}

func (s *Server) createToken(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "No such user.")
	}
	ctx := c.Request().Context()
	u, err := s.cfg.Accounts.Get(ctx, id)
	if err != nil {
		return err
	}
	tok, err := s.cfg.Accounts.CreateToken(ctx, u.ID, "web, by "+currentUser(c).Email)
	if err != nil {
		return err
	}
	return s.renderUsers(c, http.StatusOK, "", usersData{NewToken: tok, TokenFor: u.Email})
}

func (s *Server) dncPage(c echo.Context) error {
	return s.renderDNC(c, http.StatusOK, "")
}

func (s *Server) renderDNC(c echo.Context, status int, msg string) error {
	entries, err := s.cfg.DNC.ListInternal(c.Request().Context(), 500)
	if err != nil {
		return err
	}
	return s.render(c, status, "dnc", page{Title: "Internal do-not-call list", Error: msg, Data: entries})
}

func (s *Server) addDNC(c echo.Context) error {
	n, err := phone.Parse(c.FormValue("phone"))
	if err != nil {
		return s.renderDNC(c, http.StatusUnprocessableEntity, fmt.Sprintf("%q is not a valid phone number.", c.FormValue("phone")))
	}
	_, err = s.cfg.DNC.AddInternal(c.Request().Context(), n, currentUser(c).ID, "staff", c.FormValue("source"))
	if errors.Is(err, dnc.ErrAlreadyListed) {
		return s.renderDNC(c, http.StatusConflict, n.String()+" is already on the list.")
	}
	if err != nil {
		return err
	}
	s.flash(c, n.String()+" will not be called again.")
	return c.Redirect(http.StatusSeeOther, "/admin/dnc")
}
