package web

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/account"
)

// The firm settings page: admins change the firm policy, attorneys read it.
// Every setting is shown with the floor it may tighten but never loosen.

// settingsForm is the form as typed, kept whole so that a refused save
// shows every value again.
type settingsForm struct {
	Windows         map[string]string // purpose → "HH:MM–HH:MM", "" for the default
	CapMax          map[string]string // rule code → max calls, "" for the floor
	CapPeriod       map[string]string // rule code → period in days, "" for the floor
	NoSunday        bool
	Holidays        string
	ResidentialPEC  bool
	NationalDays    string
	AbandonPct      string
	MinRingSeconds  string
	Scope           string
	CheckReassigned bool
	Note            string
}

type windowRow struct {
	Purpose, Field, Current, Floor, Value string
}

type capRow struct {
	Rule, Title, Field, Current, Floor, Max, Period string
}

type settingsData struct {
	Editable bool
	Version  int
	Current  consent.FirmPolicy
	Windows  []windowRow
	Caps     []capRow
	Form     settingsForm
	Errors   map[string]string
	// Floors and current values of the single settings.
	NationalFloor, NationalCurrent string
	AbandonFloor, AbandonCurrent   string
	MinRingFloor, MinRingCurrent   string
	ScopeCurrent, HolidaysCurrent  string
	History                        []consent.SettingsVersion
}

func (s *Server) settingsStore() *consent.SettingsStore { return consent.NewSettingsStore(s.cfg.DB) }

func (s *Server) settingsPage(c echo.Context) error {
	store := s.settingsStore()
	p, _, err := store.Current(c.Request().Context())
	if err != nil {
		return err
	}
	return s.renderSettings(c, http.StatusOK, "", formOf(p), nil)
}

// renderSettings renders the page with the form f and its field errors.
func (s *Server) renderSettings(c echo.Context, status int, msg string, f settingsForm, errs map[string]string) error {
	ctx := c.Request().Context()
	store := s.settingsStore()
	cur, version, err := store.Current(ctx)
	if err != nil {
		return err
	}
	hist, err := store.History(ctx)
	if err != nil {
		return err
	}
	fl := consent.Floors(store.Packs)
	d := settingsData{
		Editable: currentUser(c).Role == account.RoleAdmin,
		Version:  version, Current: cur, Form: f, Errors: errs, History: hist,
		NationalFloor:   consent.FormatDuration(fl.NationalMaxAge) + " (F8)",
		NationalCurrent: orDefault(cur.NationalMaxAge != 0, consent.FormatDuration(cur.NationalMaxAge), consent.FormatDuration(fl.NationalMaxAge)),
		AbandonFloor:    fmt.Sprintf("at most %s (H2; the law's F10: %s)", pct(fl.AbandonTarget), pct(fl.AbandonFloor)),
		AbandonCurrent:  orDefault(cur.AbandonTarget != 0, pct(cur.AbandonTarget), pct(fl.AbandonTarget)),
		MinRingFloor:    fmt.Sprintf("at least %s (H3; the law's F10: %s)", fl.MinRing, fl.MinRingFloor),
		MinRingCurrent:  orDefault(cur.MinRing != 0, cur.MinRing.String(), fl.MinRing.String()),
		ScopeCurrent:    orDefault(cur.RevocationScope != 0, cur.RevocationScope.String(), "all"),
		HolidaysCurrent: orDefault(len(cur.Holidays) > 0, strings.Join(cur.Holidays, ", "), "none"),
	}
	if d.Errors == nil {
		d.Errors = map[string]string{}
	}
	for _, pu := range consent.Purposes() {
		fw := fl.Windows[pu]
		w, ok := cur.Windows[pu]
		if !ok {
			w = fw.Window
		}
		d.Windows = append(d.Windows, windowRow{
			Purpose: string(pu), Field: "window_" + string(pu), Current: dash(w),
			Floor: dash(fw.Window) + " (" + strings.Join(fw.Rules, "/") + ")", Value: f.Windows[string(pu)],
		})
	}
	for _, fc := range fl.Caps {
		c, ok := cur.Caps[fc.Rule]
		if !ok {
			c = fc.Cap
		}
		d.Caps = append(d.Caps, capRow{
			Rule: fc.Rule, Title: fc.Title, Field: "cap_" + fc.Rule,
			Current: capString(c), Floor: "at most " + capString(fc.Cap) + " (" + fc.Rule + ")",
			Max: f.CapMax[fc.Rule], Period: f.CapPeriod[fc.Rule],
		})
	}
	return s.render(c, status, "settings", page{Title: "Firm settings", Error: msg, Data: d})
}

// saveSettings saves a new version of the firm policy. A value that does
// not parse, or that loosens a floor, is shown next to its field with every
// typed value kept; nothing is saved.
func (s *Server) saveSettings(c echo.Context) error {
	f := readSettingsForm(c)
	p, errs := f.policy()
	if len(errs) > 0 {
		return s.renderSettings(c, http.StatusUnprocessableEntity, "Not saved: correct the fields marked below.", f, errs)
	}
	v, err := s.settingsStore().Save(c.Request().Context(), p, currentUser(c).ID, strings.TrimSpace(f.Note))
	if errors.Is(err, consent.ErrLoosensFloor) || errors.Is(err, consent.ErrInvalidPolicy) {
		errs, rest := fieldErrors(err)
		msg := "Not saved: a setting would loosen a floor; see the fields marked below."
		if !errors.Is(err, consent.ErrLoosensFloor) {
			msg = "Not saved: correct the fields marked below."
		}
		if len(rest) > 0 {
			msg += " " + strings.Join(rest, " ")
		}
		return s.renderSettings(c, http.StatusUnprocessableEntity, msg, f, errs)
	}
	if err != nil {
		return err
	}
	s.flash(c, fmt.Sprintf("Saved the firm settings as version %d.", v))
	return c.Redirect(http.StatusSeeOther, "/admin/settings")
}

func readSettingsForm(c echo.Context) settingsForm {
	f := settingsForm{
		Windows: map[string]string{}, CapMax: map[string]string{}, CapPeriod: map[string]string{},
		NoSunday: c.FormValue("no_sunday") != "", Holidays: c.FormValue("holidays"),
		ResidentialPEC: c.FormValue("residential_pec") != "", NationalDays: c.FormValue("national_max_age_days"),
		AbandonPct: c.FormValue("abandon_target_pct"), MinRingSeconds: c.FormValue("min_ring_seconds"),
		Scope: c.FormValue("revocation_scope"), CheckReassigned: c.FormValue("check_reassigned") != "",
		Note: c.FormValue("note"),
	}
	for _, pu := range []string{"informational", "telemarketing", "debt_collection", "solicitation"} {
		f.Windows[pu] = c.FormValue("window_" + pu)
	}
	for _, fc := range consent.Floors(nil).Caps {
		f.CapMax[fc.Rule] = c.FormValue("cap_" + fc.Rule + "_max")
		f.CapPeriod[fc.Rule] = c.FormValue("cap_" + fc.Rule + "_period")
	}
	return f
}

// formOf returns the form showing policy p.
func formOf(p consent.FirmPolicy) settingsForm {
	f := settingsForm{
		Windows: map[string]string{}, CapMax: map[string]string{}, CapPeriod: map[string]string{},
		NoSunday: p.NoSunday, Holidays: strings.Join(p.Holidays, "\n"), ResidentialPEC: p.ResidentialNeedsPEC,
		Scope: p.RevocationScope.String(), CheckReassigned: p.CheckReassigned,
	}
	for pu, w := range p.Windows {
		f.Windows[string(pu)] = dash(w)
	}
	for code, c := range p.Caps {
		f.CapMax[code] = strconv.Itoa(c.Max)
		if c.Period%(24*time.Hour) == 0 {
			f.CapPeriod[code] = strconv.FormatInt(int64(c.Period/(24*time.Hour)), 10)
		} else {
			f.CapPeriod[code] = consent.FormatDuration(c.Period)
		}
	}
	if p.NationalMaxAge != 0 {
		f.NationalDays = strings.TrimSuffix(consent.FormatDuration(p.NationalMaxAge), "d")
	}
	if p.AbandonTarget != 0 {
		f.AbandonPct = strconv.FormatFloat(p.AbandonTarget*100, 'f', -1, 64)
	}
	if p.MinRing != 0 {
		f.MinRingSeconds = strconv.FormatFloat(p.MinRing.Seconds(), 'f', -1, 64)
	}
	return f
}

// policy parses the form. Errors are keyed by field.
func (f settingsForm) policy() (consent.FirmPolicy, map[string]string) {
	errs := map[string]string{}
	var p consent.FirmPolicy
	for pu, v := range f.Windows {
		if strings.TrimSpace(v) == "" {
			continue
		}
		w, err := consent.ParseWindow(v)
		if err != nil {
			errs["window_"+pu] = fmt.Sprintf("%q is not a window: write HH:MM–HH:MM, such as 09:00–20:00.", v)
			continue
		}
		if p.Windows == nil {
			p.Windows = map[consent.Purpose]consent.Window{}
		}
		p.Windows[consent.Purpose(pu)] = w
	}
	floors := map[string]consent.Cap{}
	for _, fc := range consent.Floors(nil).Caps {
		floors[fc.Rule] = fc.Cap
	}
	codes := make([]string, 0, len(f.CapMax))
	for code := range f.CapMax {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		ms, ps := strings.TrimSpace(f.CapMax[code]), strings.TrimSpace(f.CapPeriod[code])
		if ms == "" && ps == "" {
			continue
		}
		c := floors[code]
		if ms != "" {
			n, err := strconv.Atoi(ms)
			if err != nil || n < 1 {
				errs["cap_"+code] = fmt.Sprintf("Max %q: give a whole number of calls, 1 or more.", ms)
				continue
			}
			c.Max = n
		}
		if ps != "" {
			if _, err := strconv.Atoi(ps); err == nil {
				ps += "d"
			}
			d, err := consent.ParseDuration(ps)
			if err != nil || d <= 0 {
				errs["cap_"+code] = fmt.Sprintf("Period %q: give a whole number of days.", f.CapPeriod[code])
				continue
			}
			if d > consent.MaxCapPeriod {
				errs["cap_"+code] = fmt.Sprintf("Period %q: at most %s; heed reads %s of call history.", f.CapPeriod[code],
					consent.FormatDuration(consent.MaxCapPeriod), consent.FormatDuration(consent.MaxCapPeriod))
				continue
			}
			c.Period = d
		}
		if p.Caps == nil {
			p.Caps = map[string]consent.Cap{}
		}
		p.Caps[code] = consent.Cap{Max: c.Max, Period: c.Period}
	}
	p.NoSunday, p.ResidentialNeedsPEC, p.CheckReassigned = f.NoSunday, f.ResidentialPEC, f.CheckReassigned
	for _, h := range strings.FieldsFunc(f.Holidays, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' || r == ';' }) {
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			errs["holidays"] = fmt.Sprintf("%q is not a date: write YYYY-MM-DD, one per line.", h)
			continue
		}
		p.Holidays = append(p.Holidays, h)
	}
	if v := strings.TrimSpace(f.NationalDays); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs["national_max_age"] = fmt.Sprintf("%q: give a whole number of days, 1 or more.", v)
		} else {
			p.NationalMaxAge = time.Duration(n) * 24 * time.Hour
		}
	}
	if v := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f.AbandonPct), "%")); v != "" {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || x <= 0 || x >= 100 {
			errs["abandon_target"] = fmt.Sprintf("%q: give a percentage above 0, such as 1.5.", f.AbandonPct)
		} else {
			p.AbandonTarget = x / 100
		}
	}
	if v := strings.TrimSpace(f.MinRingSeconds); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > int(consent.MaxRing/time.Second) {
			errs["min_ring"] = fmt.Sprintf("%q: give a whole number of seconds, from 1 to %d.", v, int(consent.MaxRing/time.Second))
		} else {
			p.MinRing = time.Duration(n) * time.Second
		}
	}
	scope, err := consent.ParseRevocationScope(f.Scope)
	if err != nil {
		errs["revocation_scope"] = "Choose all or purpose."
	}
	p.RevocationScope = scope
	if len(f.Note) > consent.MaxSettingsNote {
		errs["note"] = fmt.Sprintf("The note is too long: at most %d characters.", consent.MaxSettingsNote)
	}
	return p, errs
}

// fieldErrors sorts the errors of a refused save by the form field they
// concern; the ones that concern no field are returned apart.
func fieldErrors(err error) (map[string]string, []string) {
	errs := map[string]string{}
	var rest []string
	var walk func(error)
	walk = func(e error) {
		if fe, ok := e.(*consent.FloorError); ok {
			field := settingField(fe.Setting)
			if prev := errs[field]; prev != "" {
				errs[field] = prev + " " + fe.Error()
			} else {
				errs[field] = fe.Error()
			}
			return
		}
		if u, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range u.Unwrap() {
				walk(x)
			}
			return
		}
		if u, ok := e.(interface{ Unwrap() error }); ok {
			// A wrapper ("firm settings: save: %w") around the joined errors
			// or around a FloorError: look inside.
			inner := u.Unwrap()
			_, multi := inner.(interface{ Unwrap() []error })
			var fe *consent.FloorError
			if multi || errors.As(inner, &fe) {
				walk(inner)
				return
			}
		}
		rest = append(rest, e.Error())
	}
	walk(err)
	return errs, rest
}

// settingField maps a FloorError's setting ("window.telemarketing",
// "caps.R1", "min_ring") to the form field it shows next to.
func settingField(setting string) string {
	if pu, ok := strings.CutPrefix(setting, "window."); ok {
		return "window_" + pu
	}
	if code, ok := strings.CutPrefix(setting, "caps."); ok {
		return "cap_" + code
	}
	return setting
}

func dash(w consent.Window) string { return strings.Replace(w.String(), "-", "–", 1) }

func capString(c consent.Cap) string {
	return fmt.Sprintf("%d per %s", c.Max, consent.FormatDuration(c.Period))
}

func pct(x float64) string { return strconv.FormatFloat(x*100, 'f', -1, 64) + "%" }

func orDefault(set bool, v, def string) string {
	if set {
		return v
	}
	return def + " (default)"
}
