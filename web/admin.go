package web

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/account"
	"github.com/heed-dialer/heed/internal/phone"
)

type usersData struct {
	Users []account.User
	// NewPassword is a password just set by a reset, shown once, for
	// PasswordFor; Reset says what else the reset did.
	NewPassword, PasswordFor, Reset string
	// Self is the signed-in admin's id: their own row has no disable or
	// role controls.
	Self int64
}

func (s *Server) usersPage(c echo.Context) error {
	return s.renderUsers(c, http.StatusOK, "", usersData{})
}

func (s *Server) renderUsers(c echo.Context, status int, msg string, d usersData) error {
	users, err := s.cfg.Accounts.List(c.Request().Context())
	if err != nil {
		return err
	}
	d.Users, d.Self = users, currentUser(c).ID
	return s.render(c, status, "users", page{Title: "Users", Error: msg, Data: d})
}

func (s *Server) createUser(c echo.Context) error {
	role, err := account.ParseRole(c.FormValue("role"))
	if err != nil {
		return s.renderUsers(c, http.StatusUnprocessableEntity, "Choose a role: admin, attorney or paralegal.", usersData{})
	}
	u, err := s.cfg.Accounts.As(currentUser(c).ID).Create(c.Request().Context(), c.FormValue("email"), role, c.FormValue("password"))
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
	u, err := s.pathUser(c)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(c.FormValue("name"))
	if name == "" {
		name = "web, by " + currentUser(c).Email
	}
	tok, err := s.cfg.Accounts.As(currentUser(c).ID).CreateToken(c.Request().Context(), u.ID, name)
	if err != nil {
		return err
	}
	return s.renderUser(c, http.StatusOK, "", userData{NewToken: tok}, u)
}

// pathUser loads the user the path's :id names.
func (s *Server) pathUser(c echo.Context) (account.User, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return account.User{}, echo.NewHTTPError(http.StatusNotFound, "No such user.")
	}
	return s.cfg.Accounts.Get(c.Request().Context(), id)
}

// userData is a user's page: their account and API tokens.
type userData struct {
	User     account.User
	Tokens   []account.Token
	NewToken string
	Self     bool
}

func (s *Server) userPage(c echo.Context) error {
	u, err := s.pathUser(c)
	if err != nil {
		return err
	}
	return s.renderUser(c, http.StatusOK, "", userData{}, u)
}

func (s *Server) renderUser(c echo.Context, status int, msg string, d userData, u account.User) error {
	toks, err := s.cfg.Accounts.Tokens(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	d.User, d.Tokens, d.Self = u, toks, u.ID == currentUser(c).ID
	return s.render(c, status, "user", page{Title: u.Email, Error: msg, Data: d})
}

// changeUser applies an admin's change to the user the path names: a role,
// disabling, enabling or a password reset. The users page says what was
// done, or why it was refused.
func (s *Server) changeUser(c echo.Context) error {
	u, err := s.pathUser(c)
	if err != nil {
		return err
	}
	ctx, as := c.Request().Context(), s.cfg.Accounts.As(currentUser(c).ID)
	var (
		done string
		d    usersData
	)
	switch c.Param("change") {
	case "role":
		role, perr := account.ParseRole(c.FormValue("role"))
		if perr != nil {
			return s.renderUsers(c, http.StatusUnprocessableEntity, "Choose a role: admin, attorney or paralegal.", usersData{})
		}
		u, err = as.SetRole(ctx, u.ID, role)
		done = fmt.Sprintf("%s is now %s.", u.Email, role)
	case "disable":
		u, err = as.SetDisabled(ctx, u.ID, true)
		done = fmt.Sprintf("Disabled %s: they are signed out and their API tokens stop working.", u.Email)
	case "enable":
		u, err = as.SetDisabled(ctx, u.ID, false)
		done = fmt.Sprintf("Enabled %s.", u.Email)
	case "password":
		pw := account.RandomPassword()
		var revoked int
		u, revoked, err = as.SetPassword(ctx, u.ID, pw)
		d = usersData{NewPassword: pw, PasswordFor: u.Email, Reset: "Every session of theirs is signed out" + tokensRevoked(revoked) + "."}
	default:
		return echo.NewHTTPError(http.StatusNotFound, "No such change.")
	}
	switch {
	case errors.Is(err, account.ErrSelf):
		return s.renderUsers(c, http.StatusConflict, "Not on your own account: another admin must disable you or change your role, and you change your password on your account page.", usersData{})
	case errors.Is(err, account.ErrNotAdmin):
		return echo.NewHTTPError(http.StatusForbidden, "Only an enabled admin may change users.")
	case errors.Is(err, account.ErrLastAdmin):
		return s.renderUsers(c, http.StatusConflict, "heed must keep at least one enabled admin: make another user an admin first.", usersData{})
	case err != nil:
		return err
	case d.NewPassword != "":
		// The failed sign-ins that may have locked the account out are
		// forgotten with its old password. Should the database refuse,
		// the new password is shown all the same (it is shown only once),
		// and the failures age out.
		if err := s.limits.forget(c.Request().Context(), accountKey(u.Email)); err != nil {
			s.cfg.Log.Error("web: a password reset could not forget the account's failed sign-ins", "user_id", u.ID, "err", err)
		}
		// Shown once, on this page, not through a redirect.
		return s.renderUsers(c, http.StatusOK, "", d)
	}
	s.flash(c, done)
	return c.Redirect(http.StatusSeeOther, "/admin/users")
}

// tokensRevoked says, after a password reset, how many API tokens it
// revoked: ", and their 2 API tokens were revoked"; "" for none.
func tokensRevoked(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return ", and their API token was revoked (issue a new one for what used it)"
	}
	return fmt.Sprintf(", and their %d API tokens were revoked (issue new ones for what used them)", n)
}

// revokeToken revokes one of the path's user's API tokens.
func (s *Server) revokeToken(c echo.Context) error {
	u, err := s.pathUser(c)
	if err != nil {
		return err
	}
	tid, err := strconv.ParseInt(c.Param("tid"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "No such API token.")
	}
	t, err := s.cfg.Accounts.As(currentUser(c).ID).RevokeToken(c.Request().Context(), u.ID, tid)
	if errors.Is(err, account.ErrTokenNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such API token.")
	}
	if err != nil {
		return err
	}
	s.flash(c, fmt.Sprintf("Revoked the API token %q of %s.", t.Name, u.Email))
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/users/%d", u.ID))
}

// accountPage is a user's own page: their password.
func (s *Server) accountPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "account", page{Title: "Your account"})
}

// changePassword changes the signed-in user's own password. Their other
// sessions end; this one stays.
func (s *Server) changePassword(c echo.Context) error {
	ctx := c.Request().Context()
	next := c.FormValue("new_password")
	if next != c.FormValue("confirm_password") {
		return s.render(c, http.StatusUnprocessableEntity, "account", page{Title: "Your account", Error: "The new password and its confirmation differ."})
	}
	// A wrong current password counts as a failed sign-in, against the
	// same limits: a session left open is no way to guess the password.
	client := clientKey(c)
	try, wait, by, err := s.limits.take(ctx, client, accountKey(currentUser(c).Email))
	if err != nil {
		return limitsDown(c, err)
	}
	if by != byNone {
		return s.passwordRefused(c, wait)
	}
	var u account.User
	err = s.checkPasswords(ctx, func() (err error) {
		u, err = s.cfg.Accounts.ChangePassword(ctx, currentUser(c).ID, c.FormValue("current_password"), next)
		return err
	})
	if !errors.Is(err, account.ErrBadCredentials) {
		s.giveBack(ctx, try)
	}
	switch {
	case errors.Is(err, account.ErrBadCredentials):
		s.cfg.Log.Info("web: wrong current password on a password change", "email", currentUser(c).Email, "client", client)
		return s.render(c, http.StatusUnprocessableEntity, "account", page{Title: "Your account", Error: "Your current password is wrong."})
	case errors.Is(err, account.ErrInvalid):
		return s.render(c, http.StatusUnprocessableEntity, "account", page{Title: "Your account", Error: fmt.Sprintf("The new password needs at least %d characters.", account.MinPassword)})
	case err != nil:
		return err
	}
	if err := s.sessions.RenewToken(ctx); err != nil {
		return fmt.Errorf("renew session: %w", err)
	}
	s.sessions.Put(ctx, sessionVersion, u.SessionVersion)
	s.flash(c, "Your password is changed; your other sessions are signed out.")
	return c.Redirect(http.StatusSeeOther, "/account")
}

// passwordRefused answers a password change refused by the sign-in
// limits: 429, saying when to try again, with Retry-After.
func (s *Server) passwordRefused(c echo.Context, wait time.Duration) error {
	retryAfter(c, wait)
	return s.render(c, http.StatusTooManyRequests, "account", page{Title: "Your account",
		Error: "Too many wrong passwords have been tried for this account or from your network. Please try again in " + humanDuration(wait) + "."})
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
	fh, err := s.formFile(c, "file")
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return err
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
		return s.renderDNCData(c, http.StatusUnprocessableEntity, fmt.Sprintf("Nothing was imported: %d line(s) were refused; the first of them are below, each with why.", ge.Report.Rejected),
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
	// A number typed with a "+" but without the 1 ("+203 555 0199") is
	// the North American number the person meant (phone.ParseMeant).
	n, err := phone.ParseMeant(c.FormValue("phone"))
	if err != nil {
		return s.renderDNC(c, http.StatusUnprocessableEntity, fmt.Sprintf("%q is not a valid phone number.", c.FormValue("phone")))
	}
	source := strings.TrimSpace(c.FormValue("source"))
	if utf8.RuneCountInString(source) > maxDNCSource {
		return s.renderDNC(c, http.StatusUnprocessableEntity, fmt.Sprintf("The source has more than %d characters.", maxDNCSource))
	}
	method, err := consent.ParseEnteredMethod(c.FormValue("method"))
	if err != nil {
		return s.renderDNC(c, http.StatusUnprocessableEntity, err.Error()+".")
	}
	// As the list page's "Do not call": taken at once, even during an
	// import, then recorded as a revocation of every consent and the
	// internal entry.
	taken, err := s.takeOptOut(c.Request().Context(), campaign.OptOut{Phone: n, Method: string(method), Source: source, By: currentUser(c).ID})
	switch {
	case err != nil:
		s.cfg.Log.Error("web: admin do-not-call entry not taken", "phone", n, "err", err)
		return s.renderDNC(c, http.StatusServiceUnavailable, n.String()+" may not have been added: heed could not confirm it with its database. Look the number up on the Numbers page, and add it again if it is not there.")
	case !taken.Recorded:
		s.flash(c, n.String()+" will not be called again. The database is busy, so its revocation and do-not-call entry are written in a moment.")
	case taken.Listed:
		s.flash(c, n.String()+" was already on the list; the request is recorded as a revocation of any consent.")
	default:
		s.flash(c, n.String()+" will not be called again.")
	}
	return c.Redirect(http.StatusSeeOther, "/admin/dnc")
}

// maxDNCSource is the longest source, in characters, a single do-not-call
// entry takes.
const maxDNCSource = 200
