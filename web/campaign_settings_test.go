package web_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/heed-dialer/heed/campaign"
)

// postForm posts a multipart form with repeated fields and an empty audio
// upload, as the browser sends the new-campaign form.
func (br *browser) postForm(path string, form url.Values) (int, string) {
	br.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, vs := range form {
		for _, v := range vs {
			require.NoError(br.t, w.WriteField(k, v))
		}
	}
	_, err := w.CreateFormFile("audio", "")
	require.NoError(br.t, err)
	require.NoError(br.t, w.Close())
	req, err := http.NewRequest("POST", br.base+path, &buf)
	require.NoError(br.t, err)
	req.Header.Set("Content-Type", w.FormDataContentType())
	code, body, _ := br.do(req)
	return code, body
}

func insertList(t *testing.T, b *testBundle, name string, contacts ...string) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ($1) RETURNING id`, name).Scan(&id))
	for i, c := range contacts {
		_, err := b.db.Exec(ctx, `INSERT INTO contacts (list_id, name, phone, place, appointment_at) VALUES ($1, $2, $3, $4, '2026-12-01T14:30:00Z')`,
			id, c, fmt.Sprintf("+1860555%04d", 101+i), map[bool]string{true: "Room 4", false: ""}[i == 0])
		require.NoError(t, err)
	}
	return id
}

func TestNewCampaignFormSettings(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	listID := insertList(t, b, "hearings", "Ann Lee", "Bob Moss")
	br := b.browser(t)
	code, _ := br.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, page, _ := br.get("/campaigns/new")
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{`id="callback"`, `id="transfer_to"`, `id="record"`, `name="calls_per_second" type="number" min="0" max="50" step="any" value="0"`,
		`id="retry_machine" name="retry_machine" type="number" min="0" max="10080" step="any" value="1440"`, `name="time_zone" type="text" list="time-zones" value="America/New_York"`,
		`id="day-mon" checked`, `id="amd_greeting_ms"`, "{first_name}",
		// AMD's bounds for rule F10 (campaign.MaxAfterGreetingSilence, MaxMinWordLength).
		`name="amd_after_greeting_silence_ms" type="number" min="0" max="1500"`, `name="amd_min_word_length_ms" type="number" min="0" max="200"`} {
		require.Contains(t, page, want)
	}
	tok := csrfRE.FindStringSubmatch(page)[1]
	form := func() url.Values {
		return url.Values{"_csrf": {tok}, "name": {"Hearings"}, "purpose": {"informational"}, "list_id": {fmt.Sprint(listID)},
			"message": {"Hello {first_name}, your hearing is {date} at {time}."}, "caller_id": {"860-555-0100"},
			"callback": {"203-555-0188"}, "transfer_to": {"front-desk"}, "record": {"on"}, "calls_per_second": {"1.5"},
			"max_concurrent": {"5"}, "ring_seconds": {"25"}, "max_attempts": {"2"}, "retry_busy": {"10"}, "retry_no_answer": {"120"},
			"retry_failed": {"30"}, "retry_machine": {"60"}, "time_zone": {"America/Chicago"}, "starts_at": {"2099-11-30T08:00"},
			"ends_at": {"2099-12-04T18:00"}, "window_start": {"09:00"}, "window_end": {"17:30"}, "days": {"mon", "wed", "fri"},
			"amd_greeting_ms": {"1200"}, "amd_max_words": {""}}
	}

	t.Run("Invalid", func(t *testing.T) {
		f := form()
		f.Set("message", "Hello {firstname}")
		f.Set("calls_per_second", "fast")
		f.Set("amd_greeting_ms", "abc")
		f.Set("amd_max_words", "99")
		f.Set("callback", "900-555-0100")
		f.Set("window_start", "22:00")
		f.Set("window_end", "06:00")
		f.Set("retry_machine", "soon")
		f.Set("injury_matter", "on")
		code, body := br.postForm("/campaigns", f)
		require.Equal(t, http.StatusUnprocessableEntity, code)
		for _, want := range []string{
			"only a solicitation can be about personal-injury or wrongful-death matters",
			`id="injury_matter" name="injury_matter" type="checkbox" value="on" checked`,
			"unknown placeholder {firstname}",
			"must be a number, such as 2 or 0.5",
			"must not be a premium-rate 900 number",
			"must be after the window&#39;s start (a window cannot cross midnight)",
			"0 (the default) or between 1 and 20",
			`<details id="amd" open>`,
			// Everything typed comes back.
			`value="fast"`, `value="abc"`, `value="soon"`, `value="900-555-0100"`, "Hello {firstname}</textarea>", `value="America/Chicago"`,
			`value="2099-11-30T08:00"`, `id="day-wed" checked`, `id="record" name="record" type="checkbox" value="on" checked`,
		} {
			require.Contains(t, body, want)
		}
		require.Equal(t, 1, strings.Count(body, "must be a whole number"), "amd greeting")
		require.Contains(t, body, "must be a number of minutes", "the machine retry")
		require.NotContains(t, body, `id="day-tue" checked`)
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM campaigns`), "nothing is stored")
	})
	t.Run("ContactsLackAField", func(t *testing.T) {
		f := form()
		f.Set("message", "See you at {place}.")
		code, body := br.postForm("/campaigns", f)
		require.Equal(t, http.StatusUnprocessableEntity, code)
		require.Contains(t, body, "the message uses {place}, but 1 contact(s) of the list have no place: Bob Moss (&#43;18605550102)")
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM campaigns`))
	})
	t.Run("Valid", func(t *testing.T) {
		code, body := br.postForm("/campaigns", form())
		require.Equal(t, http.StatusSeeOther, code, body)
		var (
			id                              int64
			callback, transfer, tz, amd     string
			record                          bool
			cps                             float64
			machine, winStart, winEnd, days int
		)
		require.NoError(t, b.db.QueryRow(ctx, `SELECT id, callback, transfer_to, record, calls_per_second, amd::text, retry_machine_s,
			time_zone, window_start_min, window_end_min, window_days FROM campaigns`).
			Scan(&id, &callback, &transfer, &record, &cps, &amd, &machine, &tz, &winStart, &winEnd, &days))
		require.Equal(t, "+12035550188", callback)
		require.Equal(t, "front-desk", transfer)
		require.True(t, record)
		require.Equal(t, 1.5, cps)
		require.JSONEq(t, `{"greeting_ms": 1200}`, amd)
		require.Equal(t, 3600, machine)
		require.Equal(t, "America/Chicago", tz)
		require.Equal(t, 9*60, winStart)
		require.Equal(t, 17*60+30, winEnd)
		require.Equal(t, 1<<1|1<<3|1<<5, days)
		code, page, _ := br.get(fmt.Sprintf("/campaigns/%d", id))
		require.Equal(t, http.StatusOK, code)
		for _, want := range []string{"&#43;12035550188", "front-desk", "Recording</span> on", "Calls per second</span> 1.5", "machine 3600 s",
			"Mon, Wed, Fri, 09:00-17:30 (America/Chicago), from Mon Nov 30 2099 08:00, until Fri Dec 4 2099 18:00", "greeting_ms 1200"} {
			require.Contains(t, page, want)
		}

		// The draft's edit form comes back with every setting as stored,
		// in the form's own units; the same form saved, renamed, keeps them.
		stored := func() string {
			var row string
			require.NoError(t, b.db.QueryRow(ctx, `SELECT concat_ws('|', purpose, list_id, message_text, caller_id, callback, transfer_to, record,
				calls_per_second, amd::text, max_concurrent, ring_seconds, max_attempts, retry_busy_s, retry_no_answer_s, retry_failed_s,
				retry_machine_s, time_zone, starts_at, ends_at, window_start_min, window_end_min, window_days) FROM campaigns WHERE id = $1`, id).Scan(&row))
			return row
		}
		before := stored()
		code, edit, _ := br.get(fmt.Sprintf("/campaigns/%d/edit", id))
		require.Equal(t, http.StatusOK, code)
		for _, want := range []string{fmt.Sprintf(`action="/campaigns/%d/edit"`, id), `value="Hearings"`, `value="&#43;12035550188"`, `value="front-desk"`,
			`id="record" name="record" type="checkbox" value="on" checked`, `value="1.5"`, `id="max_concurrent" name="max_concurrent" type="number" min="1" max="500" value="5"`,
			`name="retry_busy" type="number" min="0" max="10080" step="any" value="10"`, `name="retry_no_answer" type="number" min="0" max="10080" step="any" value="120"`,
			`name="retry_machine" type="number" min="0" max="10080" step="any" value="60"`, `value="America/Chicago"`, `value="2099-11-30T08:00"`, `value="2099-12-04T18:00"`,
			`value="09:00"`, `value="17:30"`, `id="day-wed" checked`, `name="amd_greeting_ms" type="number" min="0" max="10000" value="1200"`, `id="save"`} {
			require.Contains(t, edit, want)
		}
		require.NotContains(t, edit, `id="day-tue" checked`)
		f := form()
		f.Set("name", "Hearings, December")
		code, body = br.postForm(fmt.Sprintf("/campaigns/%d/edit", id), f)
		require.Equal(t, http.StatusSeeOther, code, body)
		require.Equal(t, before, stored())
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM campaigns WHERE name = 'Hearings, December' AND edits = 1`))
		f.Set("message", "See you at {place}.")
		code, body = br.postForm(fmt.Sprintf("/campaigns/%d/edit", id), f)
		require.Equal(t, http.StatusUnprocessableEntity, code)
		require.Contains(t, body, "Bob Moss (&#43;18605550102)")
		require.Contains(t, body, `id="save"`, "the edit form comes back")
		require.Equal(t, before, stored())

		// A copy is a new campaign's form, filled the same.
		code, cp, _ := br.get(fmt.Sprintf("/campaigns/new?from=%d", id))
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, cp, `action="/campaigns"`)
		require.Contains(t, cp, `value="Copy of Hearings, December"`)
		require.Contains(t, cp, `value="2099-11-30T08:00"`)
		require.Contains(t, cp, `Filled from &ldquo;Hearings, December&rdquo;`)

		// Started, it is no longer a draft.
		_, err := b.db.Exec(ctx, `UPDATE campaigns SET status = 'running' WHERE id = $1`, id)
		require.NoError(t, err)
		code, _, _ = br.get(fmt.Sprintf("/campaigns/%d/edit", id))
		require.Equal(t, http.StatusConflict, code)
		code, _ = br.postForm(fmt.Sprintf("/campaigns/%d/edit", id), form())
		require.Equal(t, http.StatusConflict, code)
		require.Equal(t, before, stored())
		atty := b.browser(t)
		code, _ = atty.signin("atty@firm.test", password)
		require.Equal(t, http.StatusSeeOther, code)
		code, _, _ = atty.get(fmt.Sprintf("/campaigns/%d/edit", id))
		require.Equal(t, http.StatusForbidden, code)
	})
}

func TestCampaignAPISettings(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	listID := insertList(t, b, "api", "Ann Lee")
	tok := b.token(t, "admin@firm.test")
	call := func(body string) (int, string) { return b.api(t, tok, "POST", "/api/v1/campaigns", body) }
	code, body := call(fmt.Sprintf(`{"name":"x","purpose":"informational","list_id":%d,"message":"Hi","caller_id":"860-555-0100",
		"callback":"900-555-0100","calls_per_second":60,"transfer_to":"front desk","amd":{"max_words":0,"greeting_ms":20000},
		"retry":{"max_attempts":3,"machine_s":5},"schedule":{"time_zone":"Nowhere/City","window_start":"9","days":["someday"]}}`, listID))
	require.Equal(t, http.StatusUnprocessableEntity, code)
	var bad struct {
		Fields map[string]string `json:"fields"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &bad))
	for _, f := range []string{"callback", "calls_per_second", "transfer_to", "amd.greeting_ms", "retry.machine_s",
		"schedule.time_zone", "schedule.window_start", "schedule.days"} {
		require.Contains(t, bad.Fields, f)
	}
	require.Len(t, bad.Fields, 8)

	code, body = call(fmt.Sprintf(`{"name":"Hearings","purpose":"informational","list_id":%d,"message":"Hi {first_name}, {place} on {date}.",
		"caller_id":"860-555-0100","calls_per_second":0.5,"transfer_to":"860 555 0142","record":true,"amd":{"total_analysis_time_ms":4000},
		"schedule":{"time_zone":"America/Denver","starts_at":"2099-01-04","window_start":"08:30","window_end":"16:00","days":["tue"]}}`, listID))
	require.Equal(t, http.StatusCreated, code, body)
	var c campaign.Campaign
	require.NoError(t, json.Unmarshal([]byte(body), &c))
	require.Equal(t, "+18605550100", c.Callback, "the callback defaults to the caller ID")
	require.Equal(t, 0.5, c.CallsPerSecond)
	require.Equal(t, "+18605550142", c.TransferTo)
	require.True(t, c.Record)
	require.Equal(t, 4000, c.AMD.TotalAnalysisTime)
	require.Equal(t, 86400, c.Retry.MachineSeconds)
	require.Equal(t, campaign.Schedule{TimeZone: "America/Denver", StartsAt: "2099-01-04T00:00:00-07:00", WindowStart: "08:30", WindowEnd: "16:00",
		Days: []string{"tue"}}, c.Schedule)
	require.Contains(t, body, `"by_outcome":{}`)
	require.Contains(t, body, `"reached":0`)

	// PUT replaces a draft's settings; invalid ones are refused with their
	// fields, and a started campaign cannot be edited.
	put := func(body string) (int, string) {
		return b.api(t, tok, "PUT", fmt.Sprintf("/api/v1/campaigns/%d", c.ID), body)
	}
	edited := fmt.Sprintf(`{"name":"Hearings, Tuesday","purpose":"informational","list_id":%d,"message":"Hi {first_name}.","caller_id":"860-555-0100","ring_seconds":30}`, listID)
	code, body = put(edited)
	require.Equal(t, http.StatusOK, code, body)
	var e campaign.Campaign
	require.NoError(t, json.Unmarshal([]byte(body), &e))
	require.Equal(t, c.ID, e.ID)
	require.Equal(t, "Hearings, Tuesday", e.Name)
	require.Equal(t, 30, e.RingSeconds)
	require.Equal(t, campaign.Schedule{TimeZone: "America/New_York"}, e.Schedule, "every setting is replaced")
	code, body = put(`{"name":""}`)
	require.Equal(t, http.StatusUnprocessableEntity, code, body)
	require.Contains(t, body, `"name"`)
	code, body = put(`{"name":"` + strings.Repeat("x", 1<<20) + `"}`)
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	require.JSONEq(t, `{"error":"The upload is too large: the limit is 1 MiB."}`, body, "the API's own limit, not the upload limit")
	_, err := b.db.Exec(ctx, `UPDATE campaigns SET status = 'paused' WHERE id = $1`, c.ID)
	require.NoError(t, err)
	code, _ = put(edited)
	require.Equal(t, http.StatusConflict, code)
}

func TestCampaignPageCounts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	listID := insertList(t, b, "counts", "Ann", "Bob", "Cid", "Dee")
	var campaignID int64
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status)
		VALUES ('Counted', 'informational', $1, 'Hello', '+18605550100', 'completed') RETURNING id`, listID).Scan(&campaignID))
	_, err := b.db.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id, state)
		SELECT $1, id, CASE WHEN name = 'Dee' THEN 'expired' ELSE 'done' END FROM contacts WHERE list_id = $2`, campaignID, listID)
	require.NoError(t, err)
	_, err = b.db.Exec(ctx, `INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, status, outcome)
		SELECT $1, id, 1, phone, '+18605550100', 'allow', 'ended', CASE name WHEN 'Ann' THEN 'answered' WHEN 'Bob' THEN 'opted_out' ELSE 'machine' END
		  FROM contacts WHERE list_id = $2`, campaignID, listID)
	require.NoError(t, err)
	atty := b.browser(t)
	code, _ := atty.signin("atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, body, _ := atty.get(fmt.Sprintf("/campaigns/%d/attempts", campaignID))
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{`Reached <b id="reached">2</b>`, `Expired <b id="expired">1</b>`, `Opted out <b id="outcome-opted_out">1</b>`,
		`Answered <b id="outcome-answered">1</b>`, `Machine <b id="outcome-machine">2</b>`, "1 contact(s) were not reached before the campaign's end"} {
		require.Contains(t, body, want)
	}
	code, body, _ = atty.get("/campaigns")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "<th>Reached</th>")
	require.Contains(t, body, "<td>4</td><td>4</td><td>2</td><td>0</td><td>1</td>", "contacts, attempts, reached, blocked, expired")
}

// formFields returns what a browser would send for the page's form with
// the given action: its inputs, checked boxes, selected options and text
// areas, as rendered.
func formFields(t *testing.T, page, action string) url.Values {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	require.NoError(t, err)
	attr := func(n *html.Node, key string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == key {
				return a.Val, true
			}
		}
		return "", false
	}
	var form *html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "form" {
			if a, _ := attr(n, "action"); a == action {
				form = n
			}
		}
	}
	require.NotNil(t, form, "no form to %s", action)
	out := url.Values{}
	for n := range form.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		name, ok := attr(n, "name")
		if !ok {
			continue
		}
		switch n.Data {
		case "input":
			typ, _ := attr(n, "type")
			_, checked := attr(n, "checked")
			switch {
			case typ == "file":
			case (typ == "checkbox" || typ == "radio") && !checked:
			default:
				v, _ := attr(n, "value")
				out.Add(name, v)
			}
		case "textarea":
			var b strings.Builder
			for c := range n.ChildNodes() {
				b.WriteString(c.Data)
			}
			out.Add(name, b.String())
		case "select":
			first, chosen := "", ""
			for o := range n.Descendants() {
				if o.Type != html.ElementNode || o.Data != "option" {
					continue
				}
				v, ok := attr(o, "value")
				if !ok && o.FirstChild != nil {
					v = o.FirstChild.Data
				}
				if first == "" {
					first = v
				}
				if _, sel := attr(o, "selected"); sel {
					chosen = v
				}
			}
			out.Add(name, cmp.Or(chosen, first))
		}
	}
	return out
}

// TestEditFormRoundTrip: a draft created through the API with settings the
// form shows in its own units (a 45-second retry, a start at 8:00:30, AMD
// thresholds, days) comes back in its edit form such that saving the form
// unchanged, but for the name, stores the same settings.
func TestEditFormRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	listID := insertList(t, b, "hearings", "Ann Lee", "Bob Moss")
	paraID := b.userID(t, "para@firm.test")
	code, body := b.api(t, b.token(t, "para@firm.test"), "POST", "/api/v1/campaigns", fmt.Sprintf(`{"name":"Hearings","purpose":"debt_collection",
		"list_id":%d,"message":"Hi {first_name}, about {date}.","caller_id":"860-555-0100","callback":"203-555-0188","calls_per_second":0.25,
		"max_concurrent":3,"ring_seconds":40,"transfer_to":"front-desk","record":true,"amd":{"greeting_ms":1300,"max_words":4},
		"retry":{"max_attempts":4,"busy_s":45,"no_answer_s":5400,"failed_s":0,"machine_s":86400},
		"schedule":{"time_zone":"America/Denver","starts_at":"2099-01-04T08:00:30","ends_at":"2099-02-01","window_start":"08:30","window_end":"16:00","days":["tue","sat"]}}`, listID))
	require.Equal(t, http.StatusCreated, code, body)
	var created campaign.Campaign
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	stored := func() string {
		var row string
		require.NoError(t, b.db.QueryRow(ctx, `SELECT concat_ws('|', purpose, list_id, message_text, message_audio, caller_id, callback, transfer_to,
			record, calls_per_second, amd::text, max_concurrent, ring_seconds, max_attempts, retry_busy_s, retry_no_answer_s, retry_failed_s,
			retry_machine_s, time_zone, starts_at, ends_at, window_start_min, window_end_min, window_days) FROM campaigns WHERE id = $1`, created.ID).Scan(&row))
		return row
	}
	before := stored()

	br := b.browser(t)
	code, _ = br.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, page, _ := br.get(fmt.Sprintf("/campaigns/%d/edit", created.ID))
	require.Equal(t, http.StatusOK, code)
	f := formFields(t, page, fmt.Sprintf("/campaigns/%d/edit", created.ID))
	require.Equal(t, "0.75", f.Get("retry_busy"), "45 seconds")
	require.Equal(t, "2099-01-04T08:00:30", f.Get("starts_at"))
	require.Equal(t, []string{"tue", "sat"}, f["days"])
	f.Set("name", "Hearings, January")
	code, body = br.postForm(fmt.Sprintf("/campaigns/%d/edit", created.ID), f)
	require.Equal(t, http.StatusSeeOther, code, body)
	require.Equal(t, before, stored())
	require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM campaigns WHERE name = 'Hearings, January' AND updated_by = $1`, paraID))

	// The same form again was filled before that edit: refused, even with
	// a mistake in it (which must not bring it back filled anew).
	code, _ = br.postForm(fmt.Sprintf("/campaigns/%d/edit", created.ID), f)
	require.Equal(t, http.StatusConflict, code)
	f.Set("ring_seconds", "x")
	code, _ = br.postForm(fmt.Sprintf("/campaigns/%d/edit", created.ID), f)
	require.Equal(t, http.StatusConflict, code)
	require.Equal(t, before, stored())

	// Retry delays out of range, or too small to be a second, are refused.
	code, page, _ = br.get(fmt.Sprintf("/campaigns/%d/edit", created.ID))
	require.Equal(t, http.StatusOK, code)
	f = formFields(t, page, fmt.Sprintf("/campaigns/%d/edit", created.ID))
	f.Set("retry_busy", "0.004")
	f.Set("retry_failed", "20000")
	code, body = br.postForm(fmt.Sprintf("/campaigns/%d/edit", created.ID), f)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, "must be 0 (never) or at least a second")
	require.Contains(t, body, "must be between 0 and 10080 minutes")
	require.Equal(t, before, stored())
}
