package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/account"
	"github.com/heed-dialer/heed/internal/phone"
)

func pathID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "No such campaign.")
	}
	return id, nil
}

func canRun(u *account.User) bool {
	return u != nil && (u.Role == account.RoleAdmin || u.Role == account.RoleParalegal)
}

func (s *Server) campaignsPage(c echo.Context) error {
	list, err := s.cfg.Campaigns.List(c.Request().Context())
	if err != nil {
		return err
	}
	p := page{Title: "Campaigns", Data: list}
	// Attorneys and admins, who answer for the calls, see the last
	// nightly check here when it found something, or when a night was
	// missed since (none before the first).
	if u, ok := c.Get(userKey).(account.User); ok && slices.Contains(reviewerRoles, u.Role) {
		checks, err := s.cfg.Campaigns.Checks(c.Request().Context(), 1)
		switch {
		case err != nil:
			s.cfg.Log.Error("campaigns page: nightly checks", "err", err)
		case len(checks) == 0:
		case checks[0].Found > 0:
			p.Check = &checks[0]
		case checks[0].Day < campaign.LastCheckedDay(s.cfg.Now(), s.zone()):
			p.CheckSince = checks[0].Day
		}
	}
	return s.render(c, http.StatusOK, "campaigns", p)
}

type newCampaignData struct {
	// Editing is the draft campaign the form edits; nil for a new one.
	Editing *campaign.Campaign
	// CopyOf names the campaign a new one's form was filled from.
	CopyOf string
	Lists  []campaign.ContactList
	Form   campaignForm
	AMD    []amdField
	Errors campaign.FieldErrors
	// TimeZones are offered in the time zone field; any IANA name is accepted.
	TimeZones []string
	Days      []dayOption
	// AMDOpen unfolds the AMD thresholds when one of them is wrong.
	AMDOpen bool
	// CallerIDs are the firm's current caller IDs, the numbers the form
	// offers (rule F11), and CallerID the one the form holds, in E.164
	// when it reads as a number. OtherCallerID says the form holds a
	// number that is not one of them (a draft's caller ID since retired),
	// which the form shows, marked, rather than drop it.
	CallerIDs     []campaign.CallerID
	CallerID      string
	OtherCallerID bool
	// CanDeclare says the user may declare caller IDs (an admin).
	CanDeclare bool
}

// campaignForm is the new-campaign form as typed, so that a refused form
// comes back with every value as it was. Retry delays are in minutes.
type campaignForm struct {
	Name, Purpose, Message, CallerID                                 string
	ListID                                                           int64
	MaxConcurrent, RingSeconds                                       string
	MaxAttempts, RetryBusy, RetryNoAnswer, RetryFailed, RetryMachine string
	Callback, CallsPerSecond, TransferTo                             string
	Record, InjuryMatter                                             bool
	// RemoveAudio is the edit form's removal of the draft's recording.
	RemoveAudio                                        bool
	TimeZone, StartsAt, EndsAt, WindowStart, WindowEnd string
	Days                                               map[string]bool
	AMD                                                map[string]string
	// AMDOff turns answering-machine detection off for the campaign.
	AMDOff bool
}

// amdField is one answering-machine detection threshold of the form.
type amdField struct {
	Key, Label, Value, Error string
	Max                      int
}

// dayOption is one day-of-the-week checkbox.
type dayOption struct {
	Value, Label string
	Checked      bool
}

// amdFields are the AMD thresholds, by their JSON names, as the form shows
// them, with the setter of each.
var amdFields = []struct {
	key, label string
	max        int
	set        func(*dialer.AMDSettings, int)
	get        func(dialer.AMDSettings) int
}{
	{"initial_silence_ms", "Initial silence (ms)", 10000, func(a *dialer.AMDSettings, v int) { a.InitialSilence = v }, func(a dialer.AMDSettings) int { return a.InitialSilence }},
	{"greeting_ms", "Greeting (ms)", 10000, func(a *dialer.AMDSettings, v int) { a.Greeting = v }, func(a dialer.AMDSettings) int { return a.Greeting }},
	{"after_greeting_silence_ms", "Silence after greeting (ms)", campaign.MaxAfterGreetingSilence, func(a *dialer.AMDSettings, v int) { a.AfterGreetingSilence = v }, func(a dialer.AMDSettings) int { return a.AfterGreetingSilence }},
	{"total_analysis_time_ms", "Total analysis time (ms)", 30000, func(a *dialer.AMDSettings, v int) { a.TotalAnalysisTime = v }, func(a dialer.AMDSettings) int { return a.TotalAnalysisTime }},
	{"min_word_length_ms", "Minimum word length (ms)", campaign.MaxMinWordLength, func(a *dialer.AMDSettings, v int) { a.MinWordLength = v }, func(a dialer.AMDSettings) int { return a.MinWordLength }},
	{"between_words_silence_ms", "Silence between words (ms)", 1000, func(a *dialer.AMDSettings, v int) { a.BetweenWordsSilence = v }, func(a dialer.AMDSettings) int { return a.BetweenWordsSilence }},
	{"max_words", "Maximum words", 20, func(a *dialer.AMDSettings, v int) { a.MaxWords = v }, func(a dialer.AMDSettings) int { return a.MaxWords }},
	{"silence_threshold", "Silence threshold (energy, 1-32767)", 32767, func(a *dialer.AMDSettings, v int) { a.SilenceThreshold = v }, func(a dialer.AMDSettings) int { return a.SilenceThreshold }},
	{"max_word_length_ms", "Maximum word length (ms)", 10000, func(a *dialer.AMDSettings, v int) { a.MaxWordLength = v }, func(a dialer.AMDSettings) int { return a.MaxWordLength }},
}

// timeZones are the zones the form suggests.
var timeZones = []string{"America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
	"America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico"}

// weekDays are the form's day checkboxes, Monday first.
var weekDays = []dayOption{{"mon", "Mon", false}, {"tue", "Tue", false}, {"wed", "Wed", false}, {"thu", "Thu", false},
	{"fri", "Fri", false}, {"sat", "Sat", false}, {"sun", "Sun", false}}

func defaultCampaignForm() campaignForm {
	r := campaign.DefaultRetry
	f := campaignForm{Purpose: "informational", MaxConcurrent: "10", RingSeconds: "25",
		MaxAttempts: strconv.Itoa(r.MaxAttempts), RetryBusy: strconv.Itoa(r.BusySeconds / 60), RetryNoAnswer: strconv.Itoa(r.NoAnswerSecs / 60),
		RetryFailed: strconv.Itoa(r.FailedSeconds / 60), RetryMachine: strconv.Itoa(r.MachineSeconds / 60),
		CallsPerSecond: "0", TimeZone: campaign.DefaultTimeZone, Days: map[string]bool{}, AMD: map[string]string{}}
	for _, d := range weekDays {
		f.Days[d.Value] = true
	}
	return f
}

func (s *Server) newCampaignData(c echo.Context, f campaignForm, fe campaign.FieldErrors) (newCampaignData, error) {
	lists, err := s.cfg.Campaigns.Lists(c.Request().Context())
	if err != nil {
		return newCampaignData{}, err
	}
	ids, err := s.cfg.Campaigns.CurrentCallerIDs(c.Request().Context())
	if err != nil {
		return newCampaignData{}, err
	}
	d := newCampaignData{Lists: lists, Form: f, Errors: fe, TimeZones: timeZones, CallerIDs: ids, CallerID: strings.TrimSpace(f.CallerID),
		CanDeclare: currentUser(c).Role == account.RoleAdmin}
	if n, err := phone.Parse(d.CallerID); err == nil {
		d.CallerID = n.String()
	}
	d.OtherCallerID = d.CallerID != "" && !slices.ContainsFunc(ids, func(k campaign.CallerID) bool { return k.Phone.String() == d.CallerID })
	for _, a := range amdFields {
		d.AMD = append(d.AMD, amdField{Key: a.key, Label: a.label, Value: f.AMD[a.key], Error: fe["amd."+a.key], Max: a.max})
		d.AMDOpen = d.AMDOpen || fe["amd."+a.key] != ""
	}
	for _, w := range weekDays {
		w.Checked = f.Days[w.Value]
		d.Days = append(d.Days, w)
	}
	return d, nil
}

func (s *Server) newCampaignPage(c echo.Context) error {
	f, copyOf := defaultCampaignForm(), ""
	if from := c.QueryParam("from"); from != "" {
		// A new campaign filled from another: the same settings, for a new
		// list or date.
		id, err := strconv.ParseInt(from, 10, 64)
		if err != nil {
			return echo.NewHTTPError(http.StatusNotFound, "No such campaign.")
		}
		src, err := s.cfg.Campaigns.Get(c.Request().Context(), id)
		if err != nil {
			return err
		}
		f, copyOf = campaignFormOf(src), src.Name
		f.Name = "Copy of " + src.Name
	}
	d, err := s.newCampaignData(c, f, nil)
	if err != nil {
		return err
	}
	d.CopyOf = copyOf
	return s.render(c, http.StatusOK, "campaign_new", page{Title: "New campaign", Data: d})
}

// campaignFormOf is the campaign form filled with cp's settings.
func campaignFormOf(cp campaign.Campaign) campaignForm {
	itoa := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	f := campaignForm{Name: cp.Name, Purpose: string(cp.Purpose), Message: cp.Message, CallerID: cp.CallerID, ListID: cp.ListID,
		MaxConcurrent: strconv.Itoa(cp.MaxConcurrent), RingSeconds: strconv.Itoa(cp.RingSeconds),
		MaxAttempts: strconv.Itoa(cp.Retry.MaxAttempts), RetryBusy: minutesOf(cp.Retry.BusySeconds),
		RetryNoAnswer: minutesOf(cp.Retry.NoAnswerSecs), RetryFailed: minutesOf(cp.Retry.FailedSeconds),
		RetryMachine: minutesOf(cp.Retry.MachineSeconds), CallsPerSecond: strconv.FormatFloat(cp.CallsPerSecond, 'f', -1, 64),
		TransferTo: cp.TransferTo, Record: cp.Record, InjuryMatter: cp.InjuryMatter, TimeZone: cp.Schedule.TimeZone,
		WindowStart: cp.Schedule.WindowStart, WindowEnd: cp.Schedule.WindowEnd, Days: map[string]bool{}, AMD: map[string]string{}, AMDOff: cp.AMD.Off}
	if cp.Callback != cp.CallerID {
		f.Callback = cp.Callback
	}
	// The form's datetime-local fields hold local times without an offset,
	// to the second when there are seconds.
	local := func(s string) string {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return s
		}
		if t.Second() != 0 {
			return t.Format("2006-01-02T15:04:05")
		}
		return t.Format("2006-01-02T15:04")
	}
	f.StartsAt, f.EndsAt = local(cp.Schedule.StartsAt), local(cp.Schedule.EndsAt)
	for _, d := range cp.Schedule.Days {
		f.Days[d] = true
	}
	if len(cp.Schedule.Days) == 0 {
		for _, d := range weekDays {
			f.Days[d.Value] = true
		}
	}
	for _, a := range amdFields {
		f.AMD[a.key] = itoa(a.get(cp.AMD))
	}
	return f
}

// minutesOf is a delay in seconds as the form's minutes: 0.75 for 45 s.
func minutesOf(seconds int) string {
	return strconv.FormatFloat(float64(seconds)/60, 'f', -1, 64)
}

// draft loads the campaign the path names, answering 409 unless it is a
// draft, the only campaigns that may be edited.
func (s *Server) draft(c echo.Context) (campaign.Campaign, error) {
	id, err := pathID(c)
	if err != nil {
		return campaign.Campaign{}, err
	}
	cp, err := s.cfg.Campaigns.Get(c.Request().Context(), id)
	if err != nil {
		return cp, err
	}
	if cp.Status != campaign.StatusDraft {
		return cp, echo.NewHTTPError(http.StatusConflict, fmt.Sprintf("This campaign is %s: only a draft can be edited. Copy it into a new campaign instead.", cp.Status))
	}
	return cp, nil
}

func (s *Server) editCampaignPage(c echo.Context) error {
	cp, err := s.draft(c)
	if err != nil {
		return err
	}
	d, err := s.newCampaignData(c, campaignFormOf(cp), nil)
	if err != nil {
		return err
	}
	d.Editing = &cp
	return s.render(c, http.StatusOK, "campaign_new", page{Title: "Edit " + cp.Name, Data: d})
}

// updateCampaign saves the edit form of a draft campaign. Its recording
// stays unless another is uploaded or the form removes it.
func (s *Server) updateCampaign(c echo.Context) error {
	cp, err := s.draft(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ed := campaign.Edit{By: currentUser(c).ID}
	if n, err := strconv.Atoi(c.FormValue("edits")); err == nil {
		// A form filled before another edit is refused before anything
		// else, so that a mistake in it cannot bring it back filled with
		// the other edit's count.
		if n != cp.Edits {
			return echo.NewHTTPError(http.StatusConflict, "Someone else saved this campaign after you opened it: open Edit again to see their changes.")
		}
		ed.Edits = &n
	}
	form, in, fe := formCampaign(c)
	audio, err := s.importAudio(c)
	if errors.Is(err, dialer.ErrBadAudio) {
		fe["audio"] = "could not read the recording: upload a WAV or MP3 file"
	} else if err != nil {
		return err
	}
	ed.KeepAudio = audio == "" && !form.RemoveAudio
	in.Audio = audio
	editErr := func(fe campaign.FieldErrors) error {
		d, err := s.newCampaignData(c, form, fe)
		if err != nil {
			return err
		}
		d.Editing = &cp
		return s.render(c, http.StatusUnprocessableEntity, "campaign_new", page{Title: "Edit " + cp.Name,
			Error: "Please correct the fields marked below.", Data: d})
	}
	if len(fe) > 0 {
		if err := s.allFieldErrors(ctx, in, fe); err != nil {
			return err
		}
		return editErr(fe)
	}
	saved, err := s.cfg.Campaigns.Update(ctx, cp.ID, in, ed)
	if errors.As(err, &fe) {
		return editErr(fe)
	}
	if errors.Is(err, campaign.ErrInvalidTransition) {
		return echo.NewHTTPError(http.StatusConflict, "This campaign is no longer a draft: only a draft can be edited.")
	}
	if errors.Is(err, campaign.ErrEditConflict) {
		return echo.NewHTTPError(http.StatusConflict, "Someone else saved this campaign after you opened it: open Edit again to see their changes.")
	}
	if err != nil {
		return err
	}
	s.flash(c, fmt.Sprintf("Campaign %q saved, with %d contacts.", saved.Name, saved.Counts.Targets))
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/campaigns/%d", saved.ID))
}

// allFieldErrors adds to fe, the form's own mistakes, every other mistake
// of in, so that the form is fixed in one go. It returns Validate's other
// errors.
func (s *Server) allFieldErrors(ctx context.Context, in campaign.NewCampaign, fe campaign.FieldErrors) error {
	var more campaign.FieldErrors
	err := s.cfg.Campaigns.Validate(ctx, in)
	if !errors.As(err, &more) {
		return err
	}
	for k, v := range more {
		if _, ok := fe[k]; !ok {
			fe[k] = v
		}
	}
	return nil
}

// formCampaign reads the new-campaign form. Numbers that do not parse are
// reported in the returned FieldErrors, under the keys Create uses.
func formCampaign(c echo.Context) (campaignForm, campaign.NewCampaign, campaign.FieldErrors) {
	fe := campaign.FieldErrors{}
	v := func(name string) string { return strings.TrimSpace(c.FormValue(name)) }
	f := campaignForm{
		Name: c.FormValue("name"), Purpose: c.FormValue("purpose"), Message: c.FormValue("message"), CallerID: c.FormValue("caller_id"),
		MaxConcurrent: v("max_concurrent"), RingSeconds: v("ring_seconds"),
		MaxAttempts: v("max_attempts"), RetryBusy: v("retry_busy"), RetryNoAnswer: v("retry_no_answer"), RetryFailed: v("retry_failed"),
		RetryMachine: v("retry_machine"), Callback: c.FormValue("callback"), CallsPerSecond: v("calls_per_second"),
		TransferTo: c.FormValue("transfer_to"), Record: c.FormValue("record") != "", RemoveAudio: c.FormValue("remove_audio") != "",
		TimeZone: v("time_zone"), StartsAt: v("starts_at"), EndsAt: v("ends_at"), WindowStart: v("window_start"), WindowEnd: v("window_end"),
		Days: map[string]bool{}, AMD: map[string]string{}, InjuryMatter: c.FormValue("injury_matter") != "", AMDOff: c.FormValue("amd_off") != "",
	}
	f.ListID, _ = strconv.ParseInt(c.FormValue("list_id"), 10, 64)
	in := campaign.NewCampaign{Name: f.Name, Purpose: f.Purpose, Message: f.Message, CallerID: f.CallerID, ListID: f.ListID,
		Callback: f.Callback, TransferTo: f.TransferTo, Record: f.Record, InjuryMatter: f.InjuryMatter}
	// whole reads a whole number; empty means def.
	whole := func(text, key string, def int, what string) int {
		if text == "" {
			return def
		}
		n, err := strconv.Atoi(text)
		if err != nil {
			fe[key] = "must be a whole number" + what
			return def
		}
		return n
	}
	in.MaxConcurrent = whole(f.MaxConcurrent, "max_concurrent", 0, "")
	in.RingSeconds = whole(f.RingSeconds, "ring_seconds", 0, " of seconds")
	// minutes reads a delay in minutes, which may have a fraction (a
	// delay set in seconds through the API shows as 0.75), as seconds;
	// empty means def seconds.
	minutes := func(text, key string, def int) int {
		if text == "" {
			return def
		}
		m, err := strconv.ParseFloat(text, 64)
		switch {
		case err != nil || math.IsNaN(m) || math.IsInf(m, 0):
			fe[key] = "must be a number of minutes"
			return def
		case m < 0 || m > 7*24*60:
			fe[key] = "must be between 0 and 10080 minutes (7 days)"
			return def
		case m > 0 && math.Round(m*60) == 0:
			fe[key] = "must be 0 (never) or at least a second (0.0167 minutes)"
			return def
		}
		return int(math.Round(m * 60))
	}
	d := campaign.DefaultRetry
	retry := campaign.RetryRules{
		MaxAttempts:    whole(f.MaxAttempts, "retry.max_attempts", d.MaxAttempts, ""),
		BusySeconds:    minutes(f.RetryBusy, "retry.busy_s", d.BusySeconds),
		NoAnswerSecs:   minutes(f.RetryNoAnswer, "retry.no_answer_s", d.NoAnswerSecs),
		FailedSeconds:  minutes(f.RetryFailed, "retry.failed_s", d.FailedSeconds),
		MachineSeconds: minutes(f.RetryMachine, "retry.machine_s", d.MachineSeconds),
	}
	in.Retry = &retry
	if f.CallsPerSecond != "" {
		cps, err := strconv.ParseFloat(f.CallsPerSecond, 64)
		if err != nil {
			fe["calls_per_second"] = "must be a number, such as 2 or 0.5"
		}
		in.CallsPerSecond = cps
	}
	for _, a := range amdFields {
		f.AMD[a.key] = v("amd_" + a.key)
		a.set(&in.AMD, whole(f.AMD[a.key], "amd."+a.key, 0, ""))
	}
	in.AMD.Off = f.AMDOff
	sched := campaign.Schedule{TimeZone: f.TimeZone, StartsAt: f.StartsAt, EndsAt: f.EndsAt, WindowStart: f.WindowStart, WindowEnd: f.WindowEnd}
	for _, d := range c.Request().Form["days"] {
		f.Days[d] = true
		sched.Days = append(sched.Days, d)
	}
	in.Schedule = &sched
	return f, in, fe
}

// importAudio converts the optional recorded message of the new-campaign
// form and returns its media name, or "" when none was uploaded.
func (s *Server) importAudio(c echo.Context) (string, error) {
	fh, err := s.formFile(c, "audio")
	var he *echo.HTTPError
	switch {
	case errors.Is(err, http.ErrMissingFile) || (err == nil && fh.Size == 0):
		return "", nil
	case errors.As(err, &he):
		return "", he
	case err != nil:
		return "", fmt.Errorf("%w: %v", dialer.ErrBadAudio, err)
	}
	src, err := fh.Open()
	if err != nil {
		return "", fmt.Errorf("open upload: %w", err)
	}
	defer src.Close()
	ext := strings.ToLower(filepath.Ext(fh.Filename))
	if ext != ".wav" && ext != ".mp3" {
		return "", fmt.Errorf("%w: %s", dialer.ErrBadAudio, fh.Filename)
	}
	tmp, err := os.CreateTemp("", "heed-upload-*"+ext)
	if err != nil {
		return "", fmt.Errorf("upload temp file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return "", fmt.Errorf("save upload: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("save upload: %w", err)
	}
	return s.cfg.Media.Import(c.Request().Context(), tmp.Name())
}

func (s *Server) createCampaign(c echo.Context) error {
	ctx := c.Request().Context()
	form, in, fe := formCampaign(c)
	audio, err := s.importAudio(c)
	if errors.Is(err, dialer.ErrBadAudio) {
		fe["audio"] = "could not read the recording: upload a WAV or MP3 file"
	} else if err != nil {
		return err
	}
	in.Audio = audio
	if len(fe) > 0 {
		if err := s.allFieldErrors(ctx, in, fe); err != nil {
			return err
		}
		return s.newCampaignError(c, form, fe)
	}
	created, err := s.cfg.Campaigns.Create(ctx, in, currentUser(c).ID)
	if errors.As(err, &fe) {
		return s.newCampaignError(c, form, fe)
	}
	if err != nil {
		return err
	}
	s.flash(c, fmt.Sprintf("Campaign %q created with %d contacts.", created.Name, created.Counts.Targets))
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/campaigns/%d", created.ID))
}

func (s *Server) newCampaignError(c echo.Context, f campaignForm, fe campaign.FieldErrors) error {
	d, err := s.newCampaignData(c, f, fe)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusUnprocessableEntity, "campaign_new", page{Title: "New campaign",
		Error: "Please correct the fields marked below.", Data: d})
}

type campaignData struct {
	Campaign campaign.Campaign
	Attempts []campaign.Attempt
	CanRun   bool
	// Schedule says in words when the campaign calls.
	Schedule string
	// AMD lists the answering-machine thresholds that are not the default.
	AMD []string
	// Results counts the campaign's contacts by result.
	Results campaign.Results
	// CallingLeft says whether the campaign's schedule has calling time
	// left, for contacts added to it.
	CallingLeft bool
}

// scheduleText says in words when a campaign calls: "Mon, Tue, Wed,
// 09:00-17:00 (America/Chicago), from Mon Nov 30 2026 08:00 until ...".
func scheduleText(s campaign.Schedule) string {
	var b strings.Builder
	if len(s.Days) == 0 {
		b.WriteString("every day")
	} else {
		days := make([]string, len(s.Days))
		for i, d := range s.Days {
			days[i] = strings.ToUpper(d[:1]) + d[1:]
		}
		b.WriteString(strings.Join(days, ", "))
	}
	if s.WindowStart != "" {
		fmt.Fprintf(&b, ", %s-%s", s.WindowStart, s.WindowEnd)
	} else {
		b.WriteString(", all day")
	}
	fmt.Fprintf(&b, " (%s)", s.TimeZone)
	local := func(v string) string {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return v
		}
		return t.Format("Mon Jan 2 2006 15:04")
	}
	if s.StartsAt != "" {
		b.WriteString(", from " + local(s.StartsAt))
	}
	if s.EndsAt != "" {
		b.WriteString(", until " + local(s.EndsAt))
	}
	return b.String()
}

// amdText lists the AMD thresholds that are set, as "greeting_ms 1200".
func amdText(a dialer.AMDSettings) []string {
	var out []string
	for _, f := range amdFields {
		if v := f.get(a); v != 0 {
			out = append(out, fmt.Sprintf("%s %d", f.key, v))
		}
	}
	return out
}

func (s *Server) campaignData(c echo.Context) (campaignData, error) {
	id, err := pathID(c)
	if err != nil {
		return campaignData{}, err
	}
	ctx := c.Request().Context()
	cp, err := s.cfg.Campaigns.Get(ctx, id)
	if err != nil {
		return campaignData{}, err
	}
	attempts, err := s.cfg.Campaigns.Attempts(ctx, id, 500)
	if err != nil {
		return campaignData{}, err
	}
	results, err := s.cfg.Campaigns.CampaignResults(ctx, id)
	if err != nil {
		return campaignData{}, err
	}
	u := currentUser(c)
	return campaignData{Campaign: cp, Attempts: attempts, CanRun: canRun(&u), Schedule: scheduleText(cp.Schedule), AMD: amdText(cp.AMD), Results: results,
		CallingLeft: cp.CallingLeft(time.Now())}, nil
}

func (s *Server) campaignPage(c echo.Context) error {
	d, err := s.campaignData(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "campaign", page{Title: d.Campaign.Name, Data: d})
}

// attemptsPartial re-renders the live part of the campaign page for htmx polling.
func (s *Server) attemptsPartial(c echo.Context) error {
	d, err := s.campaignData(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	p := page{Data: d}
	p.CSRF, _ = c.Get(middleware.DefaultCSRFConfig.ContextKey).(string)
	if u, ok := c.Get(userKey).(account.User); ok {
		p.User = &u
	}
	if err := s.pages["campaign"].ExecuteTemplate(&buf, "live", p); err != nil {
		return fmt.Errorf("web: render live: %w", err)
	}
	return c.HTMLBlob(http.StatusOK, buf.Bytes())
}

func (s *Server) startCampaign(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if _, err := s.cfg.Campaigns.Start(actorContext(c), id); err != nil {
		return err
	}
	s.flash(c, "Campaign started.")
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/campaigns/%d", id))
}

func (s *Server) cancelCampaign(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if _, err := s.cfg.Campaigns.Cancel(actorContext(c), id); err != nil {
		return err
	}
	s.flash(c, "Campaign cancelled. Calls in progress will finish; no other call will be placed.")
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/campaigns/%d", id))
}

// addNewContacts makes the contacts imported into a running, paused or
// completed campaign's list since it started its targets.
func (s *Server) addNewContacts(c echo.Context) error {
	n, cp, err := s.addContacts(c)
	if err != nil {
		return err
	}
	switch {
	case n == 0:
		s.flash(c, "The list has no contact this campaign does not call already.")
	case cp.Status == campaign.StatusPaused:
		s.flash(c, fmt.Sprintf("Added %d contact(s) to the campaign. It calls them when it resumes.", n))
	default:
		s.flash(c, fmt.Sprintf("Added %d contact(s) to the campaign. It is running and calls them within its calling hours.", n))
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/campaigns/%d", cp.ID))
}

// addContacts adds the contacts imported into the path's campaign's list
// since it started (Service.AddNewContacts) for the request's user, and
// returns how many, and the campaign as it is then.
func (s *Server) addContacts(c echo.Context) (int, campaign.Campaign, error) {
	id, err := pathID(c)
	if err != nil {
		return 0, campaign.Campaign{}, err
	}
	ctx := c.Request().Context()
	n, err := s.cfg.Campaigns.AddNewContacts(ctx, id, currentUser(c).ID)
	if err != nil {
		return 0, campaign.Campaign{}, err
	}
	cp, err := s.cfg.Campaigns.Get(ctx, id)
	return n, cp, err
}

// exportAttempts sends a campaign's attempts and outcomes as CSV.
func (s *Server) exportAttempts(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := s.cfg.Campaigns.ExportAttempts(c.Request().Context(), id, &buf); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="campaign-%d-attempts.csv"`, id))
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

func (s *Server) pauseCampaign(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if _, err := s.cfg.Campaigns.Pause(actorContext(c), id); err != nil {
		return err
	}
	s.flash(c, "Campaign paused. Calls in progress will finish.")
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/campaigns/%d", id))
}

// resultQuery reads a campaign contacts query (result, q, page, per_page)
// from the request, answering 400 for a malformed page.
func resultQuery(c echo.Context) (campaign.ResultQuery, error) {
	q, err := contactsQuery(c)
	if err != nil {
		return campaign.ResultQuery{}, err
	}
	return campaign.ResultQuery{Result: c.QueryParam("result"), Search: q.Search, Page: q.Page, PageSize: q.PageSize}, nil
}

// campaignContacts reads a page of a campaign's contacts with their
// results, answering 404 for no such campaign and 400 for an unknown
// result or a page out of range.
func (s *Server) campaignContacts(c echo.Context) (campaign.ResultPage, error) {
	id, err := pathID(c)
	if err != nil {
		return campaign.ResultPage{}, err
	}
	q, err := resultQuery(c)
	if err != nil {
		return campaign.ResultPage{}, err
	}
	p, err := s.cfg.Campaigns.CampaignContacts(c.Request().Context(), id, q)
	return p, resultError(err)
}

// resultError turns the campaign contacts' query errors into 400s.
func resultError(err error) error {
	switch {
	case errors.Is(err, campaign.ErrFilter):
		return echo.NewHTTPError(http.StatusBadRequest, "result: unknown (see the campaign's contacts page for the results)")
	case errors.Is(err, campaign.ErrPage):
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("page: out of range (1 to %d contacts a page, and no page past the last)", campaign.MaxContactPageSize))
	}
	return err
}

// resultsData is what the campaign contacts page shows.
type resultsData struct {
	campaign.ResultPage
	// Label is the wording of the page's result filter.
	Label string
	// Prev and Next are the neighbouring pages' numbers.
	Prev, Next int
	// CanSkip says whether the user may withdraw the campaign's contacts
	// now: a paralegal or admin, while the campaign runs or is paused.
	CanSkip bool
	// CanRestore says whether the user may put withdrawn contacts back
	// now: a paralegal or admin, while the campaign runs, is paused or is
	// completed, and its schedule has calling time left.
	CanRestore bool
}

// campaignContactsPage shows a campaign's contacts with what became of
// each, a page at a time, filtered by result and searched.
func (s *Server) campaignContactsPage(c echo.Context) error {
	p, err := s.campaignContacts(c)
	if err != nil {
		return err
	}
	u := currentUser(c)
	st := p.Campaign.Status
	d := resultsData{ResultPage: p, Label: campaign.ResultLabel(p.Result), Prev: p.Page - 1, Next: p.Page + 1,
		CanSkip: canRun(&u) && (st == campaign.StatusRunning || st == campaign.StatusPaused),
		CanRestore: canRun(&u) && p.Campaign.CallingLeft &&
			(st == campaign.StatusRunning || st == campaign.StatusPaused || st == campaign.StatusCompleted)}
	return s.render(c, http.StatusOK, "results", page{Title: p.Campaign.Name + ": contacts", Data: d})
}

// apiCampaignContacts answers a page of a campaign's contacts as JSON.
func (s *Server) apiCampaignContacts(c echo.Context) error {
	p, err := s.campaignContacts(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// exportCampaignContacts sends a campaign's contacts that the query keeps,
// one CSV row each with its result.
func (s *Server) exportCampaignContacts(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	q, err := resultQuery(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := s.cfg.Campaigns.ExportCampaignContacts(c.Request().Context(), id, q, &buf); err != nil {
		return resultError(err)
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="campaign-%d-contacts.csv"`, id))
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// attemptID reads the attempt id of the path, answering 404 for one that
// cannot be.
func attemptID(c echo.Context) (int64, error) {
	aid, err := strconv.ParseInt(c.Param("aid"), 10, 64)
	if err != nil || aid <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "no such attempt")
	}
	return aid, nil
}

// attemptRecord reads the record of the path's attempt.
func (s *Server) attemptRecord(c echo.Context) (campaign.AttemptRecord, error) {
	id, err := pathID(c)
	if err != nil {
		return campaign.AttemptRecord{}, err
	}
	aid, err := attemptID(c)
	if err != nil {
		return campaign.AttemptRecord{}, err
	}
	r, err := s.cfg.Campaigns.AttemptRecord(c.Request().Context(), id, aid)
	if errors.Is(err, campaign.ErrNotFound) {
		return r, echo.NewHTTPError(http.StatusNotFound, "no such attempt in this campaign")
	}
	return r, err
}

// attemptPage shows everything heed kept of one attempt: the decision,
// its grounds and inputs, the records it relied on, and the call.
func (s *Server) attemptPage(c echo.Context) error {
	r, err := s.attemptRecord(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "attempt", page{Title: fmt.Sprintf("Attempt %d", r.ID), Data: r})
}

// apiAttempt answers one attempt's record as JSON.
func (s *Server) apiAttempt(c echo.Context) error {
	r, err := s.attemptRecord(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// actorContext returns the request's context naming its user as the
// author of the campaign changes made with it.
func actorContext(c echo.Context) context.Context {
	return campaign.WithActor(c.Request().Context(), currentUser(c).ID)
}

// campaignContact reads the path's campaign and contact, answering 404
// for a contact id that cannot be.
func campaignContact(c echo.Context) (id, contactID int64, err error) {
	if id, err = pathID(c); err != nil {
		return 0, 0, err
	}
	contactID, err = strconv.ParseInt(c.Param("cid"), 10, 64)
	if err != nil || contactID <= 0 {
		return 0, 0, echo.NewHTTPError(http.StatusNotFound, "No such contact in this campaign.")
	}
	return id, contactID, nil
}

// skipRequest reads the path's campaign and contact, and the note, of a
// withdrawal.
func skipRequest(c echo.Context, note string) (id, contactID int64, clean string, err error) {
	if id, contactID, err = campaignContact(c); err != nil {
		return 0, 0, "", err
	}
	// SkipContact bounds the note (campaign.MaxSkipNote); cleanNote only
	// cuts at the opt-out page's longer bound.
	return id, contactID, cleanNote(note), nil
}

// contactsBack returns the page of campaign id's contacts that the form
// came from, with its result filter, search and page. A contact changed
// by the form leaves a result filter other than stays: the page, which
// may be gone, is then left out.
func contactsBack(c echo.Context, id int64, stays string) string {
	back := url.Values{}
	for _, k := range []string{"result", "q", "page", "per_page"} {
		if v := c.FormValue(k); v != "" {
			back.Set(k, v)
		}
	}
	if r := back.Get("result"); r != "" && r != stays {
		back.Del("page")
	}
	to := fmt.Sprintf("/campaigns/%d/contacts", id)
	if len(back) > 0 {
		to += "?" + back.Encode()
	}
	return to
}

// skipContact withdraws a contact from a running or paused campaign, from
// its contacts page, and returns to the page the request came from.
func (s *Server) skipContact(c echo.Context) error {
	id, contactID, note, err := skipRequest(c, c.FormValue("note"))
	if err != nil {
		return err
	}
	if err := s.cfg.Campaigns.SkipContact(c.Request().Context(), id, contactID, currentUser(c).ID, note); err != nil {
		return err
	}
	s.flash(c, "Skipped: the contact will not be called in this campaign.")
	return c.Redirect(http.StatusSeeOther, contactsBack(c, id, campaign.ResultSkipped))
}

// apiSkipContact is skipContact for the API, with the note in a JSON
// body ({"note": "..."}, optional).
func (s *Server) apiSkipContact(c echo.Context) error {
	var body struct {
		Note string `json:"note"`
	}
	if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		return echo.NewHTTPError(http.StatusBadRequest, "body: want {\"note\": \"...\"} or nothing: "+err.Error())
	}
	id, contactID, note, err := skipRequest(c, body.Note)
	if err != nil {
		return err
	}
	if err := s.cfg.Campaigns.SkipContact(c.Request().Context(), id, contactID, currentUser(c).ID, note); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"campaign_id": id, "contact_id": contactID, "result": campaign.ResultSkipped})
}

// restoreContact puts a contact withdrawn by mistake back in its campaign,
// from the campaign's contacts page, and returns to the page the request
// came from.
func (s *Server) restoreContact(c echo.Context) error {
	id, _, err := s.restore(c)
	if err != nil {
		return err
	}
	s.flash(c, "Put back: this campaign will call the contact again; the rules still decide each call.")
	// Put back, the contact is still to be called (campaign.FilterOpen).
	return c.Redirect(http.StatusSeeOther, contactsBack(c, id, campaign.FilterOpen))
}

// apiRestoreContact is restoreContact for the API.
func (s *Server) apiRestoreContact(c echo.Context) error {
	id, contactID, err := s.restore(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"campaign_id": id, "contact_id": contactID, "restored": true})
}

// restore puts the path's contact back in the path's campaign
// (Service.RestoreContact) for the request's user, and returns their ids.
func (s *Server) restore(c echo.Context) (id, contactID int64, err error) {
	if id, contactID, err = campaignContact(c); err != nil {
		return 0, 0, err
	}
	if err := s.cfg.Campaigns.RestoreContact(c.Request().Context(), id, contactID, currentUser(c).ID); err != nil {
		return 0, 0, err
	}
	return id, contactID, nil
}
