package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/phone"
)

// Previewer decides a call of each purpose as the pacing loop would,
// recording nothing (dialer.Pacer.PreviewEach).
type Previewer interface {
	PreviewEach(ctx context.Context, pv dialer.Preview, purposes []consent.Purpose) ([]dialer.PreviewResult, error)
}

// maxNumberQuery bounds a looked-up number as typed, in bytes: the longest
// way of writing a number is far shorter.
const maxNumberQuery = 64

// numberRecord is everything heed holds of one number, and what the gate
// would decide for a call to it now: a number's page and its API answer.
type numberRecord struct {
	campaign.NumberHistory
	// Places is where the engine places the number's called party, from
	// the address of As when there is one, with the local time of At in
	// each zone; nil when it cannot.
	Places *campaign.Places `json:"places"`
	// Now holds the gate's decision for a call now, for each purpose, as
	// for the contact As (the newest contact with the number) or, without
	// one, for the number alone; nil when the page has no gate.
	Now []numberDecision `json:"now"`
	// As is the contact whose address and person the decisions used.
	As *campaign.NumberContact `json:"as_contact"`
	// At is the instant of the decisions.
	At time.Time `json:"at"`
	// Lists are the do-not-call lists of the gate's index holding the
	// number now; nil, as Now, when the page has no gate.
	Lists []numberList `json:"dnc_lists"`
	// Overrides counts the attorneys' logged overrides of the number.
	Overrides int `json:"overrides"`
}

// numberDecision is the gate's decision for a call of one purpose now,
// with its grounds.
type numberDecision struct {
	Purpose  consent.Purpose  `json:"purpose"`
	Decision consent.Decision `json:"decision"`
	Grounds  []consent.Ground `json:"grounds"`
	// Calls counts the calls the decision's caps counted.
	Calls int `json:"calls_counted"`
}

// numberList is a do-not-call list that holds a number.
type numberList struct {
	// List is the list's name as heed dnc import takes it: national,
	// internal, litigator, state:CT.
	List string `json:"list"`
	// AsOf is the date of the list's copy, when known.
	AsOf   *time.Time `json:"as_of,omitempty"`
	Source string     `json:"source"`
}

// numberLists is lists as a number's record shows them.
func numberLists(lists []dnc.Meta) []numberList {
	out := make([]numberList, len(lists))
	for i, m := range lists {
		out[i] = numberList{List: m.List.String(), Source: m.Source}
		if !m.AsOf.IsZero() {
			out[i].AsOf = &m.AsOf
		}
	}
	return out
}

// numberData is what the number template shows.
type numberData struct {
	// Query is the number as typed; Record is nil until one is read.
	Query  string
	Record *numberRecord
	// CanSeeOverrides and CanOpenLists say the user may open the
	// overrides page and the contact lists' pages.
	CanSeeOverrides, CanOpenLists bool
}

// numberPage looks a number up: the contacts with it, every attempt to
// call it, its consents, revocations, do-not-call entries and lists, and
// what the gate would decide for a call of each purpose now.
func (s *Server) numberPage(c echo.Context) error {
	d := numberData{Query: strings.TrimSpace(c.QueryParam("phone"))}
	role := currentUser(c).Role
	d.CanSeeOverrides, d.CanOpenLists = slices.Contains(reviewerRoles, role), slices.Contains(runnerRoles, role)
	if d.Query == "" {
		return s.render(c, http.StatusOK, "number", page{Title: "Look up a number", Data: d})
	}
	n, err := parseNumberQuery(d.Query)
	if err != nil {
		if len(d.Query) > maxNumberQuery {
			d.Query = ""
		}
		return s.render(c, http.StatusUnprocessableEntity, "number", page{Title: "Look up a number",
			Error: err.Error() + ": write it as 860-555-0101 or +18605550101.", Data: d})
	}
	r, err := s.numberRecord(c.Request().Context(), n)
	if err != nil {
		return err
	}
	d.Record = &r
	return s.render(c, http.StatusOK, "number", page{Title: n.String(), Data: d})
}

// apiNumber answers a number's record as JSON: GET /api/v1/numbers/{phone}.
func (s *Server) apiNumber(c echo.Context) error {
	// Echo does not unescape path parameters: "%2B1860..." is the "+".
	raw, err := url.PathUnescape(c.Param("phone"))
	if err != nil {
		raw = c.Param("phone")
	}
	n, err := parseNumberQuery(raw)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error()+": write it in E.164, such as +18605550101 (the + escaped as %2B)")
	}
	r, err := s.numberRecord(c.Request().Context(), n)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// parseNumberQuery reads a number as someone typed it, or says, without
// repeating more than its start, why it cannot. A number typed with a "+"
// but without its 1 ("+203 555 0199") is the North American number meant,
// as the opt-out paths read it (phone.ParseMeant).
func parseNumberQuery(q string) (phone.Number, error) {
	if len(q) > maxNumberQuery {
		return "", fmt.Errorf("%q... is too long to be a phone number", q[:16])
	}
	n, err := phone.ParseMeant(q)
	if err != nil {
		return "", fmt.Errorf("%q is not a phone number heed can read", q)
	}
	return n, nil
}

// numberRecord gathers n's record.
func (s *Server) numberRecord(ctx context.Context, n phone.Number) (numberRecord, error) {
	h, err := s.cfg.Campaigns.NumberHistory(ctx, n)
	if err != nil {
		return numberRecord{}, err
	}
	r := numberRecord{NumberHistory: h, At: s.cfg.Now()}
	overrides, err := s.overrideStore().List(ctx, n)
	if err != nil {
		return numberRecord{}, fmt.Errorf("number %s: %w", n, err)
	}
	r.Overrides = len(overrides)
	var (
		state, zip, person string
		accident           time.Time
		line               consent.LineType
	)
	if len(h.Contacts) > 0 {
		r.As = &h.Contacts[0]
		state, zip, person, accident, line = r.As.State, r.As.ZIP, r.As.PersonRef, r.As.AccidentAt(), r.As.LineType
	}
	var e *consent.Engine
	if l := s.cfg.Campaigns.Launch; l != nil && l.Engine != nil {
		e = l.Engine()
	}
	if e != nil {
		if loc, err := e.Locate(n, state, zip); err == nil {
			r.Places = campaign.PlacesOf(loc, r.At)
		} else if !errors.Is(err, phone.ErrNotNANP) && !errors.Is(err, phone.ErrInvalid) {
			return numberRecord{}, fmt.Errorf("number %s: place it: %w", n, err)
		}
	}
	if s.cfg.Preview == nil {
		return r, nil
	}
	res, err := s.cfg.Preview.PreviewEach(ctx, dialer.Preview{Phone: n, State: state, ZIP: zip, Person: person, At: r.At, AccidentAt: accident, ContactLine: line}, consent.Purposes())
	if err != nil {
		return numberRecord{}, fmt.Errorf("number %s: %w", n, err)
	}
	r.Now = make([]numberDecision, len(res))
	for i, pr := range res {
		req := pr.Request
		nd := numberDecision{Purpose: req.Purpose, Decision: pr.Decision, Calls: len(req.History), Grounds: []consent.Ground{}}
		if e != nil && len(pr.Decision.Reasons) > 0 && e.Version() == pr.Decision.Pack {
			nd.Grounds = e.Grounds(req.Input(), pr.Decision.Reasons)
		}
		r.Now[i] = nd
	}
	r.Lists = numberLists(res[0].Lists)
	return r, nil
}
