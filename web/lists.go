package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/phone"
	"github.com/heed-dialer/heed/internal/sheet"
)

type listsData struct {
	Lists  []campaign.ContactList
	Report *campaign.ImportReport
	// Rejected is the report's rejected rows, at most maxReportRows of
	// them; MoreRejected counts those not shown.
	Rejected     []campaign.RowError
	MoreRejected int
	// Updated is the report's updated rows, at most maxReportRows of them;
	// MoreUpdated counts those not shown.
	Updated     []campaign.RowError
	MoreUpdated int
	Form        listsForm
	Limit       string
}

// listsForm is what the upload form was sent with, shown again with the
// report.
type listsForm struct {
	List, Columns string
	// Existing is what to do with the rows whose number is already on the
	// list: "" refuses the file, "skip" skips them, "update" updates the
	// contacts.
	Existing string
	DryRun   bool
}

func (s *Server) listsPage(c echo.Context) error {
	return s.renderLists(c, http.StatusOK, "", "", listsForm{}, nil)
}

// uploadList imports a CSV or XLSX file of contacts into a list, all or
// nothing, or only checks it (dry run), and shows the report.
func (s *Server) uploadList(c echo.Context) error {
	ctx := c.Request().Context()
	form := listsForm{List: strings.TrimSpace(c.FormValue("list")), Columns: strings.TrimSpace(c.FormValue("columns")),
		DryRun: c.FormValue("dry_run") != "", Existing: c.FormValue("existing")}
	if form.Existing != "" && form.Existing != "skip" && form.Existing != "update" {
		return echo.NewHTTPError(http.StatusBadRequest, "existing: want skip or update")
	}
	fh, err := s.formFile(c, "file")
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return err
		}
		return s.renderLists(c, http.StatusUnprocessableEntity, "Choose a CSV or XLSX file to upload.", "", form, nil)
	}
	format, err := sheet.FormatOf(fh.Filename)
	if err != nil {
		return s.renderLists(c, http.StatusUnprocessableEntity, fmt.Sprintf("%s is not a CSV or XLSX file.", fh.Filename), "", form, nil)
	}
	cols, err := sheet.ParseColumnMap(form.Columns)
	if err != nil {
		return s.renderLists(c, http.StatusUnprocessableEntity, "Check the form: "+err.Error()+".", "", form, nil)
	}
	f, err := fh.Open()
	if err != nil {
		return fmt.Errorf("open upload: %w", err)
	}
	defer f.Close()
	rep, err := s.cfg.Campaigns.ImportContacts(ctx, form.List, f,
		campaign.ImportOptions{Format: format, Columns: cols, DryRun: form.DryRun, SkipExisting: form.Existing == "skip",
			UpdateExisting: form.Existing == "update", UserID: currentUser(c).ID})
	var ie *campaign.ImportError
	if errors.As(err, &ie) {
		return s.renderLists(c, http.StatusUnprocessableEntity, "Nothing was imported: fix the rows below and upload the file again.", "", form, &ie.Report)
	}
	if errors.Is(err, campaign.ErrInvalid) {
		return s.renderLists(c, http.StatusUnprocessableEntity, "Give the list a name.", "", form, nil)
	}
	if err != nil {
		return err
	}
	if rep.DryRun {
		return s.renderLists(c, http.StatusOK, "", fmt.Sprintf("Check only, nothing was written: the file is valid, and importing it would add %d contacts to %q (%d rows read%s).",
			rep.NewContacts(), rep.List, rep.Rows, existingCounts(&rep, "to skip", "to update")), form, &rep)
	}
	s.flash(c, fmt.Sprintf("Imported %d contacts into %q%s.", rep.Imported, rep.List, existingCounts(&rep, "skipped", "updated")))
	return c.Redirect(http.StatusSeeOther, "/lists")
}

// existingCounts describes what an import did, or would do, with the rows
// whose number was already on the list: ", 2 already on the list skipped"
// or ", 3 already on the list updated and 1 unchanged", or "" when there
// were none.
func existingCounts(rep *campaign.ImportReport, skipped, updated string) string {
	switch {
	case len(rep.Skipped) > 0:
		return fmt.Sprintf(", %d already on the list %s", len(rep.Skipped), skipped)
	case len(rep.Updated) > 0 || rep.Unchanged > 0:
		return fmt.Sprintf(", %d already on the list %s and %d unchanged", len(rep.Updated), updated, rep.Unchanged)
	}
	return ""
}

func (s *Server) renderLists(c echo.Context, status int, msg, flash string, form listsForm, rep *campaign.ImportReport) error {
	lists, err := s.cfg.Campaigns.Lists(c.Request().Context())
	if err != nil {
		return err
	}
	d := listsData{Lists: lists, Report: rep, Form: form, Limit: sizeString(s.cfg.UploadLimit)}
	if rep != nil {
		d.Rejected, d.MoreRejected = firstRows(rep.Rejected)
		d.Updated, d.MoreUpdated = firstRows(rep.Updated)
	}
	return s.render(c, status, "lists", page{Title: "Contact lists", Error: msg, Flash: flash, Data: d})
}

// contactsData is a page of a list's contacts, with the neighbouring pages'
// numbers.
type contactsData struct {
	campaign.ContactPage
	Prev, Next int
}

// contactsQuery reads a page of contacts' query parameters: q, page and
// per_page.
func contactsQuery(c echo.Context) (campaign.ContactQuery, error) {
	q := campaign.ContactQuery{Search: c.QueryParam("q")}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"page", &q.Page}, {"per_page", &q.PageSize}} {
		v := c.QueryParam(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return q, echo.NewHTTPError(http.StatusBadRequest, p.name+": want a whole number from 1")
		}
		*p.dst = n
	}
	return q, nil
}

// listContacts reads a page of a list's contacts, answering 404 for no
// such list and 400 for a page out of range.
func (s *Server) listContacts(c echo.Context) (campaign.ContactPage, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return campaign.ContactPage{}, echo.NewHTTPError(http.StatusNotFound, "No such list.")
	}
	q, err := contactsQuery(c)
	if err != nil {
		return campaign.ContactPage{}, err
	}
	p, err := s.cfg.Campaigns.ListContacts(c.Request().Context(), id, q)
	switch {
	case errors.Is(err, campaign.ErrNotFound):
		return p, echo.NewHTTPError(http.StatusNotFound, "No such list.")
	case errors.Is(err, campaign.ErrPage):
		return p, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("page: out of range (1 to %d contacts a page, and no page past the last)", campaign.MaxContactPageSize))
	}
	return p, err
}

// contactsPage shows a list's contacts, a page at a time, with a search.
func (s *Server) contactsPage(c echo.Context) error {
	p, err := s.listContacts(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "contacts", page{Title: p.List.Name, Data: contactsData{ContactPage: p, Prev: p.Page - 1, Next: p.Page + 1}})
}

// optOutContact puts a contact's number on the internal do-not-call list,
// as a paralegal does when the person asks on the phone not to be called:
// every campaign, on every list, stops calling the number at once. The
// entry names the list, the contact, the user and their note. It returns
// to the page of the list the request came from.
func (s *Server) optOutContact(c echo.Context) error {
	listID, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || listID <= 0 {
		return echo.NewHTTPError(http.StatusNotFound, "No such list.")
	}
	contactID, err := strconv.ParseInt(c.FormValue("contact"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "No such contact.")
	}
	ctx := c.Request().Context()
	l, ct, err := s.cfg.Campaigns.ListContact(ctx, listID, contactID)
	if errors.Is(err, campaign.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such contact on this list.")
	}
	if err != nil {
		return err
	}
	n, err := phone.Parse(ct.Phone)
	if err != nil {
		return fmt.Errorf("contact %d's phone %q: %w", ct.ID, ct.Phone, err)
	}
	if utf8.RuneCountInString(c.FormValue("note")) > 200 {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "The note has more than 200 characters.")
	}
	note := cleanNote(c.FormValue("note"))
	source := fmt.Sprintf("contact %d %q on list %d %q, by %s", ct.ID, ct.Name, l.ID, l.Name, currentUser(c).Email)
	if note != "" {
		source += ": " + note
	}
	// As a key press or the opt-out page: a revocation of every consent
	// for the number, and the internal do-not-call entry.
	taken, err := s.takeOptOut(ctx, campaign.OptOut{Phone: n, Method: string(consent.RevokedByStaff), Source: source, By: currentUser(c).ID})
	switch {
	case err != nil:
		return err
	case !taken.Recorded:
		s.flash(c, fmt.Sprintf("%s (%s) is opted out: no campaign will call the number again. The database is busy, so its revocation and do-not-call entry are written in a moment.", ct.Name, n))
	case taken.Listed:
		s.flash(c, fmt.Sprintf("%s (%s) was already on the do-not-call list; the request is recorded as a revocation of any consent.", ct.Name, n))
	default:
		s.flash(c, fmt.Sprintf("%s (%s) is on the do-not-call list: no campaign will call the number again.", ct.Name, n))
	}
	back := url.Values{}
	for _, k := range []string{"q", "page", "per_page"} {
		if v := c.FormValue(k); v != "" {
			back.Set(k, v)
		}
	}
	to := fmt.Sprintf("/lists/%d", l.ID)
	if len(back) > 0 {
		to += "?" + back.Encode()
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// apiListContacts answers a page of a list's contacts.
func (s *Server) apiListContacts(c echo.Context) error {
	p, err := s.listContacts(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}
