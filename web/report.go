package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/heed-dialer/heed/campaign"
)

// reportData is what the calls report template shows.
type reportData struct {
	// From and To are the period as asked for, to refill the form.
	From, To string
	Report   *campaign.CallsReport
	// Checks are the last nightly checks, newest first.
	Checks []campaign.Check
}

// shownChecks is how many nightly checks the report page lists.
const shownChecks = 14

// callsReport reads the period of a calls report request (from and to,
// dates in the firm's zone or RFC 3339 instants) and makes the report.
func (s *Server) callsReport(c echo.Context) (campaign.CallsReport, error) {
	from, to, err := campaign.ReportPeriod(c.QueryParam("from"), c.QueryParam("to"), s.zone(), s.cfg.Now())
	if err != nil {
		return campaign.CallsReport{}, err // ErrInvalid: 422 (statusOf)
	}
	return s.cfg.Campaigns.CallsReport(c.Request().Context(), from, to)
}

// reportPage shows the calls report: what heed decided in the period, the
// opt-outs and consents it recorded, and every allowed call checked
// against the records.
func (s *Server) reportPage(c echo.Context) error {
	d := reportData{From: c.QueryParam("from"), To: c.QueryParam("to")}
	r, err := s.callsReport(c)
	if code, msg := statusOf(err); err != nil && code == http.StatusUnprocessableEntity {
		return s.render(c, code, "report", page{Title: "Calls report", Error: msg, Data: d})
	}
	if err != nil {
		return err
	}
	d.Report = &r
	if d.Checks, err = s.cfg.Campaigns.Checks(c.Request().Context(), shownChecks); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "report", page{Title: "Calls report", Data: d})
}

// apiReport answers the calls report as JSON.
func (s *Server) apiReport(c echo.Context) error {
	r, err := s.callsReport(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// apiChecks answers the last nightly calls checks, newest first, as JSON.
func (s *Server) apiChecks(c echo.Context) error {
	checks, err := s.cfg.Campaigns.Checks(c.Request().Context(), shownChecks)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, checks)
}
