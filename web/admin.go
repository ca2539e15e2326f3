package web

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

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

type dncData struct {
	Entries  []dnc.InternalEntry
	Lists    []dnc.Installed
	Registry bool
	Summary  string
	Garbage  []dnc.Rejection
	Limit    string
	Today    string
}

func (s *Server) renderDNC(c echo.Context, status int, msg string) error {
	return s.renderDNCData(c, status, msg, dncData{})
}

func (s *Server) renderDNCData(c echo.Context, status int, msg string, d dncData) error {
	ctx := c.Request().Context()
	entries, err := s.cfg.DNC.ListInternal(ctx, 500)
	if err != nil {
		return err
	}
	d.Entries = entries
	if s.cfg.Registry != nil {
		if d.Lists, err = s.cfg.Registry.Installed(ctx); err != nil {
			return err
		}
		d.Registry = true
	}
	d.Limit = sizeString(s.cfg.UploadLimit)
	d.Today = time.Now().Format(time.DateOnly)
	return s.render(c, status, "dnc", page{Title: "Do-not-call lists", Error: msg, Data: d})
}

// importDNC imports an uploaded list file, all or nothing, exactly as
// `heed dnc import` does.
func (s *Server) importDNC(c echo.Context) error {
	ctx := c.Request().Context()
	list, err := dnc.ParseList(c.FormValue("list"))
	if err != nil {
		return s.renderDNC(c, http.StatusUnprocessableEntity, "Choose a list: internal, national, litigator or state:XX.")
	}
	if list != dnc.Internal && s.cfg.Registry == nil {
		return s.renderDNC(c, http.StatusUnprocessableEntity, "Registry lists are not enabled on this server.")
	}
	var asOf time.Time
	if v := c.FormValue("as_of"); v != "" {
		if asOf, err = time.Parse(time.DateOnly, v); err != nil {
			return s.renderDNC(c, http.StatusUnprocessableEntity, fmt.Sprintf("%q is not a date (YYYY-MM-DD).", v))
		}
	}
	if list != dnc.Internal && asOf.IsZero() {
		return s.renderDNC(c, http.StatusUnprocessableEntity, "Give the date the registry data is current as of.")
	}
	fh, err := c.FormFile("file")
	if err != nil {
		if strings.Contains(err.Error(), "request body too large") {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge)
		}
		return s.renderDNC(c, http.StatusUnprocessableEntity, "Choose a file to upload.")
	}
	f, err := fh.Open()
	if err != nil {
		return fmt.Errorf("open upload: %w", err)
	}
	defer f.Close()
	li := dnc.ListImport{List: list, AsOf: asOf, Changes: c.FormValue("changes") == "on", UserID: currentUser(c).ID,
		Options: dnc.ImportOptions{PhoneColumn: c.FormValue("phone_column")}}
	res, err := dnc.ImportList(ctx, s.cfg.Registry, s.cfg.DNC, li, dnc.Input{Name: filepath.Base(fh.Filename), R: f})
	var ge *dnc.GarbageError
	switch {
	case errors.As(err, &ge):
		return s.renderDNCData(c, http.StatusUnprocessableEntity, fmt.Sprintf("Nothing was imported: %d line(s) are not phone numbers.", ge.Report.Rejected),
			dncData{Garbage: ge.Report.Examples})
	case errors.Is(err, dnc.ErrNothingRead), errors.Is(err, dnc.ErrUnsupportedInput), errors.Is(err, dnc.ErrOutOfRange):
		return s.renderDNC(c, http.StatusUnprocessableEntity, "Nothing was imported: "+err.Error()+".")
	case err != nil:
		return err
	}
	s.flash(c, "Imported. "+res.Summary(list)+".")
	return c.Redirect(http.StatusSeeOther, "/admin/dnc")
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
