package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/account"
	"github.com/heed-dialer/heed/internal/phone"
)

// overrideForm is the form to log an override, as sent, to refill it.
type overrideForm struct {
	Phone, Kind, Relationship, Note, Evidence, Expires string
}

// overrideRow is one override as the page lists it.
type overrideRow struct {
	consent.Override
	// Status is "active", "expired" or "withdrawn", now.
	Status string
	// Active says it can be withdrawn.
	Active bool
}

// overridesData is what the overrides template shows.
type overridesData struct {
	Rows []overrideRow
	// Number filters the list; "" shows every number.
	Number string
	// CanLog says the user is an attorney, who may log and withdraw.
	CanLog bool
	Form   overrideForm
	// Fields maps form fields to what is wrong with them.
	Fields map[string]string
	// WithdrawID and WithdrawReason refill a withdrawal that was refused.
	WithdrawID     int64
	WithdrawReason string
	Kinds          []consent.OverrideKind
	Relationships  []consent.Relationship
	MinNote        int
	Zone           string
}

// overrideStore is the store the overrides pages read and write.
func (s *Server) overrideStore() *consent.OverrideStore { return consent.NewOverrideStore(s.cfg.DB) }

// overridesPage lists the logged overrides, newest first, optionally of one
// number; attorneys also get the form to log one.
func (s *Server) overridesPage(c echo.Context) error {
	return s.renderOverrides(c, http.StatusOK, "", overridesData{Number: strings.TrimSpace(c.QueryParam("number")),
		Form: overrideForm{Kind: string(consent.OverrideRegFDirectConsent)}})
}

func (s *Server) renderOverrides(c echo.Context, status int, msg string, d overridesData) error {
	var filter phone.Number
	if d.Number != "" {
		n, err := phone.Parse(d.Number)
		if err != nil {
			status, msg = http.StatusUnprocessableEntity, fmt.Sprintf("%q is not a valid phone number; showing every number.", d.Number)
		}
		filter = n
	}
	list, err := s.overrideStore().List(c.Request().Context(), filter)
	if err != nil {
		return err
	}
	now := time.Now()
	d.Rows = make([]overrideRow, len(list))
	for i, o := range list {
		d.Rows[i] = overrideRow{Override: o, Status: o.Status(now), Active: o.ActiveAt(now)}
	}
	d.CanLog = currentUser(c).Role == account.RoleAttorney
	d.Kinds, d.Relationships, d.MinNote = consent.OverrideKinds, consent.Relationships, consent.MinOverrideNote
	d.Zone = s.zone().String()
	return s.render(c, status, "overrides", page{Title: "Overrides", Error: msg, Data: d})
}

// parseExpiry reads the form's expiry: empty, RFC 3339, or a browser's
// datetime-local value in loc, the firm's time zone, which the page names
// (parseLocal: a time its clocks skipped or showed twice is refused).
func parseExpiry(v string, loc *time.Location) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return parseLocal(v, loc)
}

// logOverride records an override by the signed-in attorney. Bad input
// re-renders the form with what was typed and what is wrong.
func (s *Server) logOverride(c echo.Context) error {
	form := overrideForm{Phone: strings.TrimSpace(c.FormValue("phone")), Kind: c.FormValue("kind"), Relationship: c.FormValue("relationship"),
		Note: c.FormValue("note"), Evidence: c.FormValue("evidence"), Expires: strings.TrimSpace(c.FormValue("expires"))}
	d := overridesData{Form: form}
	in := consent.NewOverride{Phone: form.Phone, Kind: consent.OverrideKind(form.Kind), Note: form.Note, Evidence: form.Evidence,
		LoggedBy: currentUser(c).ID, Via: consent.ViaWeb}
	if in.Kind == consent.OverrideSolicitationException {
		in.Relationship = consent.Relationship(form.Relationship)
	}
	expires, err := parseExpiry(form.Expires, s.zone())
	if err != nil {
		d.Fields = map[string]string{"expires_at": err.Error() + "; pick one with the date picker or write 2026-12-01T17:00:00-05:00"}
		return s.renderOverrides(c, http.StatusUnprocessableEntity, "Nothing was logged: check the expiry.", d)
	}
	in.ExpiresAt = expires
	o, err := s.overrideStore().Log(c.Request().Context(), in)
	var fe consent.OverrideErrors
	if errors.As(err, &fe) {
		d.Fields = fe
		return s.renderOverrides(c, http.StatusUnprocessableEntity, "Nothing was logged: "+fe.Error()+".", d)
	}
	if err != nil {
		return err
	}
	what := "Reg F direct consent"
	if o.Kind == consent.OverrideSolicitationException {
		what = "solicitation exception (" + string(o.Relationship) + ")"
	}
	until := "with no expiry"
	if !o.ExpiresAt.IsZero() {
		until = "until " + o.ExpiresAt.In(s.zone()).Format("2006-01-02 15:04 MST")
	}
	s.flash(c, fmt.Sprintf("Logged override %d: %s for %s, %s.", o.ID, what, o.Phone, until))
	return c.Redirect(http.StatusSeeOther, "/overrides")
}

// withdrawOverride ends an override from now on, by the signed-in attorney.
func (s *Server) withdrawOverride(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "No such override.")
	}
	reason := c.FormValue("reason")
	o, err := s.overrideStore().Withdraw(c.Request().Context(), id, currentUser(c).ID, reason, consent.ViaWeb)
	var fe consent.OverrideErrors
	switch {
	case errors.As(err, &fe):
		return s.renderOverrides(c, http.StatusUnprocessableEntity, fmt.Sprintf("Override %d was not withdrawn: %s.", id, fe.Error()),
			overridesData{WithdrawID: id, WithdrawReason: reason, Form: overrideForm{Kind: string(consent.OverrideRegFDirectConsent)}})
	case errors.Is(err, consent.ErrAlreadyWithdrawn):
		return s.renderOverrides(c, http.StatusConflict, fmt.Sprintf("Override %d was already withdrawn.", id),
			overridesData{Form: overrideForm{Kind: string(consent.OverrideRegFDirectConsent)}})
	case err != nil:
		return err
	}
	s.flash(c, fmt.Sprintf("Withdrew override %d for %s.", o.ID, o.Phone))
	return c.Redirect(http.StatusSeeOther, "/overrides")
}
