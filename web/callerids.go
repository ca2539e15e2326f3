package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/heed-dialer/heed/campaign"
)

// The firm's caller IDs page (admins): the numbers campaigns may send as
// their caller ID (rule F11), each declared by an admin with the
// attestation that it is the firm's and takes do-not-call requests during
// business hours, and retired, never deleted.

// callerIDForm is the declaration form as sent, to refill it.
type callerIDForm struct {
	Number, Label string
	Attest        bool
}

// callerIDsData is what the caller IDs template shows.
type callerIDsData struct {
	Current, Retired []campaign.CallerID
	Form             callerIDForm
	// Fields maps form fields to what is wrong with them.
	Fields      campaign.FieldErrors
	Attestation string
}

func (s *Server) callerIDsPage(c echo.Context) error {
	return s.renderCallerIDs(c, http.StatusOK, "", callerIDsData{})
}

func (s *Server) renderCallerIDs(c echo.Context, status int, msg string, d callerIDsData) error {
	all, err := s.cfg.Campaigns.CallerIDs(c.Request().Context())
	if err != nil {
		return err
	}
	for _, k := range all {
		if k.Current() {
			d.Current = append(d.Current, k)
		} else {
			d.Retired = append(d.Retired, k)
		}
	}
	d.Attestation = campaign.CallerIDAttestation
	return s.render(c, status, "callerids", page{Title: "Caller IDs", Error: msg, Data: d})
}

// addCallerID declares a number one of the firm's caller IDs, as the
// signed-in admin. A wrong field comes back beside the form, filled in;
// nothing is stored.
func (s *Server) addCallerID(c echo.Context) error {
	form := callerIDForm{Number: strings.TrimSpace(c.FormValue("number")), Label: c.FormValue("label"), Attest: c.FormValue("attest") != ""}
	k, err := s.cfg.Campaigns.AddCallerID(c.Request().Context(), campaign.NewCallerID{Number: form.Number, Label: form.Label, Attest: form.Attest},
		currentUser(c).ID)
	var fe campaign.FieldErrors
	if errors.As(err, &fe) {
		return s.renderCallerIDs(c, http.StatusUnprocessableEntity, "Nothing was declared: correct the fields marked below.",
			callerIDsData{Form: form, Fields: fe})
	}
	if err != nil {
		return err
	}
	s.flash(c, fmt.Sprintf("Declared %s (%s) one of the firm's caller IDs.", k.Phone.Display(), k.Label))
	return c.Redirect(http.StatusSeeOther, campaign.CallerIDsPage)
}

// callerIDPathID reads the caller ID id of the path.
func callerIDPathID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "No such caller ID.")
	}
	return id, nil
}

// retireCallerID retires a caller ID, as the signed-in admin: the running
// campaigns that send it are paused, and the page says which.
func (s *Server) retireCallerID(c echo.Context) error {
	id, err := callerIDPathID(c)
	if err != nil {
		return err
	}
	r, err := s.cfg.Campaigns.RetireCallerID(c.Request().Context(), id, currentUser(c).ID)
	if errors.Is(err, campaign.ErrCallerIDRetired) {
		return s.renderCallerIDs(c, http.StatusConflict, fmt.Sprintf("Caller ID %d was retired already.", id), callerIDsData{})
	}
	if err != nil {
		return err
	}
	s.flash(c, retirementText(r))
	return c.Redirect(http.StatusSeeOther, campaign.CallerIDsPage)
}

// retirementText says what a retirement did, in a sentence or three.
func retirementText(r campaign.Retirement) string {
	msg := fmt.Sprintf("Retired %s (%s): campaigns can no longer send it.", r.CallerID.Phone.Display(), r.CallerID.Label)
	if len(r.Paused) > 0 {
		msg += fmt.Sprintf(" Paused the %d running campaign(s) that sent it: %s.", len(r.Paused), campaignNames(r.Paused))
	}
	if len(r.Held) > 0 {
		msg += fmt.Sprintf(" %d draft or paused campaign(s) name it and cannot start with it: %s.", len(r.Held), campaignNames(r.Held))
	}
	return msg
}

// campaignNames writes campaigns' names for a sentence: "Hearings",
// "Hearings" and "Deposits".
func campaignNames(refs []campaign.CampaignRef) string {
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = strconv.Quote(r.Name)
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// apiCallerIDs lists the firm's caller IDs, current and retired.
func (s *Server) apiCallerIDs(c echo.Context) error {
	list, err := s.cfg.Campaigns.CallerIDs(c.Request().Context())
	if err != nil {
		return err
	}
	if list == nil {
		list = []campaign.CallerID{}
	}
	return c.JSON(http.StatusOK, map[string]any{"caller_ids": list, "attestation": campaign.CallerIDAttestation})
}

// apiAddCallerID declares a number one of the firm's caller IDs, as the
// token's admin: {"number","label","attest":true}.
func (s *Server) apiAddCallerID(c echo.Context) error {
	var in campaign.NewCallerID
	if err := c.Bind(&in); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, `the body must be a JSON caller ID: {"number","label","attest":true}: `+err.Error())
	}
	k, err := s.cfg.Campaigns.AddCallerID(c.Request().Context(), in, currentUser(c).ID)
	var fe campaign.FieldErrors
	if errors.As(err, &fe) {
		return c.JSON(http.StatusUnprocessableEntity, map[string]any{"error": "invalid caller ID", "fields": fe})
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, k)
}

// apiRetireCallerID retires a caller ID, as the token's admin, and
// answers the retirement: the caller ID, and the campaigns it paused and
// those it holds.
func (s *Server) apiRetireCallerID(c echo.Context) error {
	id, err := callerIDPathID(c)
	if err != nil {
		return err
	}
	r, err := s.cfg.Campaigns.RetireCallerID(c.Request().Context(), id, currentUser(c).ID)
	if err != nil {
		return err
	}
	if r.Paused == nil {
		r.Paused = []campaign.CampaignRef{}
	}
	if r.Held == nil {
		r.Held = []campaign.CampaignRef{}
	}
	return c.JSON(http.StatusOK, r)
}
