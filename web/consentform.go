package web

import (
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heed-dialer/heed/consent"
)

// oneConsentForm is the form that records one consent, as sent, to refill
// it.
type oneConsentForm struct {
	Phone, Kind, Scope, Channel string
	// ObtainedAt and ExpiresAt are datetime-local values read in Zone;
	// ExpiresAt may be empty.
	ObtainedAt, ExpiresAt, Zone string
	Source, Evidence            string
}

// localLayouts are the forms a datetime-local field sends.
var localLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05"}

// consent reads the form into a consent to record, its times in its zone,
// one of zones; what it cannot read is in the field errors, by the
// ledger's field names.
func (f oneConsentForm) consent(zones []string) (consent.NewConsent, consent.FieldErrors) {
	fe := consent.FieldErrors{}
	in := consent.NewConsent{Phone: f.Phone, Scope: consent.Purpose(f.Scope), Channel: consent.Channel(f.Channel),
		Source: f.Source, Evidence: strings.ReplaceAll(f.Evidence, "\r\n", "\n")}
	var err error
	if in.Kind, err = consent.ParseConsentKind(f.Kind); err != nil {
		fe["kind"] = "choose pec (oral or written) or pewc (signed, written)"
	}
	loc, err := zoneOf(zones, f.Zone)
	if err != nil {
		fe["zone"] = err.Error()
		return in, fe
	}
	if in.ObtainedAt, err = parseLocal(f.ObtainedAt, loc); err != nil {
		fe["obtained_at"] = "when the consent was given: " + err.Error()
	}
	if f.ExpiresAt != "" {
		if in.ExpiresAt, err = parseLocal(f.ExpiresAt, loc); err != nil {
			fe["expires_at"] = "when the consent expires: " + err.Error()
		}
	}
	return in, fe
}

// zoneOf returns the zone named z, which must be one of zones.
func zoneOf(zones []string, z string) (*time.Location, error) {
	if !slices.Contains(zones, z) {
		return nil, fmt.Errorf("choose a time zone from the list, not %q", z)
	}
	loc, err := time.LoadLocation(z)
	if err != nil {
		return nil, fmt.Errorf("time zone %s: %w", z, err)
	}
	return loc, nil
}

// parseLocal reads a datetime-local value in loc. A time the zone's
// clocks skipped, or showed twice, when they changed is refused: it names
// no instant, or two.
func parseLocal(v string, loc *time.Location) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, errors.New("a date and time is required")
	}
	for _, l := range localLayouts {
		t, err := time.ParseInLocation(l, v, loc)
		if err != nil {
			continue
		}
		wall := t.Format(l)
		switch {
		case wall != v:
			return time.Time{}, fmt.Errorf("%s did not happen in %s: the clocks skipped it", v, loc)
		case t.Add(-time.Hour).Format(l) == wall || t.Add(time.Hour).Format(l) == wall:
			return time.Time{}, fmt.Errorf("%s happened twice in %s, when the clocks went back: give it in UTC", v, loc)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time such as 2026-01-05T14:30", v)
}

// oneConsentPath is the one-consent form's route.
const oneConsentPath = "/admin/consents/one"

// addOneConsent records one consent from the form, with its document when
// one is attached, and shows the number's page. A form with any error
// comes back with every error beside its field, and nothing is recorded.
func (s *Server) addOneConsent(c echo.Context) error {
	f := oneConsentForm{Phone: strings.TrimSpace(c.FormValue("phone")), Kind: c.FormValue("kind"), Scope: c.FormValue("scope"),
		Channel: c.FormValue("channel"), ObtainedAt: c.FormValue("obtained_at"), ExpiresAt: strings.TrimSpace(c.FormValue("expires_at")),
		Zone: c.FormValue("zone"), Source: c.FormValue("source"), Evidence: c.FormValue("evidence")}
	in, fe := f.consent(s.zones())
	fh, err := c.FormFile("document")
	switch {
	case errors.Is(err, http.ErrNotMultipart):
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "Send the form as multipart/form-data, as the consents page does.")
	case err == nil && fh.Size > s.documentLimit():
		fe["document"] = "the document is larger than " + sizeString(s.documentLimit())
	case err == nil:
		doc, err := readDocument(fh)
		var dfe consent.FieldErrors
		switch {
		case errors.As(err, &dfe):
			fe["document"] = dfe["document"]
		case err != nil:
			return err
		default:
			in.Document = &doc
		}
	case errors.Is(err, http.ErrMissingFile):
	default:
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return err
		}
		if overBound(err) {
			return tooLarge(s.documentLimit(), err)
		}
		return fmt.Errorf("consent document: %w", err)
	}
	// Every field the ledger would refuse too, beside the form's own
	// errors, so that one round corrects them all.
	for k, v := range s.cfg.Consents.Check(in) {
		if _, ok := fe[k]; !ok && !(k == "obtained_at" && in.ObtainedAt.IsZero() && fe["zone"] != "") {
			fe[k] = v
		}
	}
	if len(fe) == 0 {
		in.CapturedBy = currentUser(c).ID
		rec, err := s.cfg.Consents.AddConsent(c.Request().Context(), in)
		if err == nil {
			s.flash(c, fmt.Sprintf("Consent %d recorded for %s: %s for %s by %s.", rec.ID, rec.Phone, rec.Kind, rec.Scope, rec.Channel))
			return c.Redirect(http.StatusSeeOther, "/numbers?phone="+url.QueryEscape(rec.Phone.String()))
		}
		if !errors.As(err, &fe) {
			return err
		}
	}
	return s.renderConsentsPage(c, http.StatusUnprocessableEntity, "Nothing was recorded: correct the fields marked below.", "",
		consentsForm{Kind: "consents", Zone: s.firmZone()}, nil, f, fe)
}

// documentLimit is the size of the largest document the one-consent form
// takes: the upload limit, at most consent.MaxDocumentBytes.
func (s *Server) documentLimit() int64 { return min(s.cfg.UploadLimit, consent.MaxDocumentBytes) }

// readDocument reads an uploaded document, at most consent.MaxDocumentBytes
// and one byte, and returns it as consent.NewDocument does.
func readDocument(fh *multipart.FileHeader) (consent.Document, error) {
	r, err := fh.Open()
	if err != nil {
		return consent.Document{}, fmt.Errorf("open document: %w", err)
	}
	defer r.Close()
	return consent.ReadDocument(fh.Filename, r)
}

// consentDocument sends consent id's document, as an attachment, to
// attorneys and admins.
func (s *Server) consentDocument(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "No such consent.")
	}
	d, err := s.cfg.Consents.Document(c.Request().Context(), id)
	if errors.Is(err, consent.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "That consent has no document.")
	}
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": d.Name}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set(echo.HeaderCacheControl, "private, no-store")
	h.Set("ETag", `"`+d.SHA256+`"`)
	return c.Blob(http.StatusOK, d.ContentType, d.Body)
}
