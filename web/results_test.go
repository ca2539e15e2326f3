package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
)

// TestCampaignContactsPage checks the page, CSV and API of a campaign's
// contacts with their results, for the attorney who reviews them.
func TestCampaignContactsPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var listID, campaignID int64
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('Docket') RETURNING id`).Scan(&listID))
	_, err := b.db.Exec(ctx, `INSERT INTO contacts (list_id, name, phone, external_ref) VALUES
		($1, 'Ann Lee', '+18605550101', 'M-1'), ($1, 'Bob <b>Stone</b>', '+18605550102', ''), ($1, 'Cid Moss', '+18605550103', '')`, listID)
	require.NoError(t, err)
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status)
		VALUES ('Hearings', 'informational', $1, 'Hello', '+18605550100', 'running') RETURNING id`, listID).Scan(&campaignID))
	_, err = b.db.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id, state)
		SELECT $1, id, CASE WHEN name = 'Cid Moss' THEN 'pending' ELSE 'done' END FROM contacts WHERE list_id = $2`, campaignID, listID)
	require.NoError(t, err)
	_, err = b.db.Exec(ctx, `INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome, dtmf)
		SELECT $1, id, 1, phone, '+18605550100', CASE WHEN name = 'Ann Lee' THEN 'allow' ELSE 'deny' END,
		       CASE WHEN name = 'Ann Lee' THEN '{}'::text[] ELSE '{dnc.internal}' END, 'p', '{}',
		       CASE WHEN name = 'Ann Lee' THEN 'ended' ELSE 'blocked' END, CASE WHEN name = 'Ann Lee' THEN 'confirmed' ELSE 'blocked' END,
		       CASE WHEN name = 'Ann Lee' THEN '1' ELSE '' END
		  FROM contacts WHERE list_id = $2 AND name <> 'Cid Moss'`, campaignID, listID)
	require.NoError(t, err)

	atty := b.browser(t)
	code, _ := atty.signin("atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	base := fmt.Sprintf("/campaigns/%d/contacts", campaignID)
	code, body, _ := atty.get(fmt.Sprintf("/campaigns/%d", campaignID))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `<a href="`+base+`" id="contacts-link">Contacts and their results</a>`)
	require.Contains(t, body, `<a href="`+base+`?result=reached" id="results-reached">Reached <b>1</b></a>`)
	require.Contains(t, body, `id="results-open">Still to call <b>1</b></a>`)
	require.NotContains(t, body, `id="results-not_reached"`, "no contact was left unreached")

	code, body, _ = atty.get(base)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "3 contacts; the campaign is running.")
	require.Contains(t, body, `id="result-confirmed">Confirmed <b>1</b>`)
	require.Contains(t, body, `id="result-blocked">Blocked by the rules <b>1</b>`)
	require.Contains(t, body, `id="result-not_called">Not called yet <b>1</b>`)
	require.Contains(t, body, "Bob &lt;b&gt;Stone&lt;/b&gt;", "names are escaped")
	require.Contains(t, body, "allow, confirmed, keys 1")
	require.Contains(t, body, "deny, blocked (dnc.internal)")
	ann, bob, cid := strings.Index(body, "Ann Lee"), strings.Index(body, "Bob &lt;b&gt;"), strings.Index(body, "Cid Moss")
	require.True(t, ann > 0 && ann < bob && bob < cid, "by name")

	code, body, _ = atty.get(base + "?result=reached")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "Showing 1: Reached.")
	require.Contains(t, body, "Ann Lee")
	require.NotContains(t, body, "Cid Moss")
	require.Contains(t, body, `<a href="`+base+`?result=reached" id="filter-reached" class="current">`)
	code, body, _ = atty.get(base + "?result=open&q=moss")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "Showing 1: Still to call, matching &ldquo;moss&rdquo;.")
	require.Contains(t, body, `<a id="export-contacts" href="`+base+`.csv?result=open&amp;q=moss">`)
	code, body, _ = atty.get(base + "?result=blocked&q=zed")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "No contact matches.")
	code, body, _ = atty.get(base + "?per_page=1&page=2")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "Page 2 of 3")
	require.Contains(t, body, "Bob &lt;b&gt;")
	require.NotContains(t, body, "Ann Lee")
	for path, want := range map[string]int{
		"?result=nope": http.StatusBadRequest, "?page=4&per_page=1": http.StatusBadRequest, "?page=x": http.StatusBadRequest,
		"?per_page=501": http.StatusBadRequest,
	} {
		code, _, _ = atty.get(base + path)
		require.Equal(t, want, code, path)
	}
	code, _, _ = atty.get("/campaigns/999999/contacts")
	require.Equal(t, http.StatusNotFound, code)

	code, body, h := atty.get(base + ".csv?result=blocked")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, fmt.Sprintf(`attachment; filename="campaign-%d-contacts.csv"`, campaignID), h.Get("Content-Disposition"))
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, "result", recs[0][6])
	require.Equal(t, []string{"Bob <b>Stone</b>", "blocked", "dnc.internal"}, []string{recs[1][1], recs[1][6], recs[1][13]})
	code, _, _ = atty.get(base + ".csv?result=nope")
	require.Equal(t, http.StatusBadRequest, code)

	// The API, for any role; none without a token.
	code, out := b.api(t, b.token(t, "atty@firm.test"), "GET", fmt.Sprintf("/api/v1/campaigns/%d/contacts?result=reached", campaignID), "")
	require.Equal(t, http.StatusOK, code, out)
	var page struct {
		Counts struct {
			Total   int `json:"total"`
			Filters []struct {
				Result string `json:"result"`
				Count  int    `json:"count"`
			} `json:"filters"`
		} `json:"counts"`
		Matching int `json:"matching"`
		Contacts []struct {
			Name   string `json:"name"`
			Result string `json:"result"`
			Calls  int    `json:"calls"`
			Last   struct {
				DTMF string `json:"dtmf"`
			} `json:"last_attempt"`
		} `json:"contacts"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &page))
	require.Equal(t, 3, page.Counts.Total)
	require.Equal(t, 1, page.Matching)
	require.Len(t, page.Contacts, 1)
	require.Equal(t, "Ann Lee", page.Contacts[0].Name)
	require.Equal(t, "confirmed", page.Contacts[0].Result)
	require.Equal(t, 1, page.Contacts[0].Calls)
	require.Equal(t, "1", page.Contacts[0].Last.DTMF)
	code, _ = b.api(t, "", "GET", fmt.Sprintf("/api/v1/campaigns/%d/contacts", campaignID), "")
	require.Equal(t, http.StatusUnauthorized, code)
	code, out = b.api(t, b.token(t, "para@firm.test"), "GET", fmt.Sprintf("/api/v1/campaigns/%d/contacts.csv?q=ann", campaignID), "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, 2, strings.Count(out, "\n"), "the header and Ann")

	anon := b.browser(t)
	code, _, h = anon.get(base)
	require.Equal(t, http.StatusSeeOther, code, "signed out")
	require.Contains(t, h.Get("Location"), "/signin")

	// Cid's hearing is cancelled: a paralegal withdraws him from the
	// campaign; attorneys may not.
	var cidID int64
	require.NoError(t, b.db.QueryRow(ctx, `SELECT id FROM contacts WHERE list_id = $1 AND name = 'Cid Moss'`, listID).Scan(&cidID))
	skip := fmt.Sprintf("%s/%d/skip", base, cidID)
	_, body, _ = atty.get(base)
	require.NotContains(t, body, fmt.Sprintf(`id="skip-%d"`, cidID), "attorneys review; they do not run campaigns")
	code, _, _ = atty.post(skip, url.Values{"_csrf": {atty.csrf(base)}})
	require.Equal(t, http.StatusForbidden, code)
	para := b.browser(t)
	code, _ = para.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	_, body, _ = para.get(base + "?result=open")
	require.Contains(t, body, fmt.Sprintf(`id="skip-%d">Don't call</button>`, cidID))
	code, _, _ = para.post(skip, url.Values{"note": {"hearing cancelled"}})
	require.Equal(t, http.StatusForbidden, code, "no CSRF token")
	code, _, _ = para.post(skip, url.Values{"_csrf": {para.csrf(base)}, "note": {strings.Repeat("x", 201)}})
	require.Equal(t, http.StatusUnprocessableEntity, code, "a note too long")
	code, _, h = para.post(skip, url.Values{"_csrf": {para.csrf(base)}, "note": {"hearing\ncancelled"}, "result": {"open"}, "q": {"moss"}, "page": {"2"}})
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, base+"?q=moss&result=open", h.Get("Location"), "back to the list it came from, from its start: the contact left the filter, and its page may be gone")
	_, body, _ = para.get(base + "?result=skipped")
	require.Contains(t, body, "Skipped: the contact will not be called in this campaign.")
	require.Contains(t, body, "Skipped: not to be called<br><span class=\"muted skip\">by para@firm.test, ")
	require.Contains(t, body, ": hearing cancelled</span>", "the note, on one line")
	require.NotContains(t, body, fmt.Sprintf(`id="skip-%d"`, cidID))
	code, out = b.api(t, b.token(t, "para@firm.test"), "POST", fmt.Sprintf("/api/v1/campaigns/%d/contacts/%d/skip", campaignID, cidID), `{"note":"again"}`)
	require.Equal(t, http.StatusOK, code, out)
	require.JSONEq(t, fmt.Sprintf(`{"campaign_id":%d,"contact_id":%d,"result":"skipped"}`, campaignID, cidID), out)
	var annID int64
	require.NoError(t, b.db.QueryRow(ctx, `SELECT id FROM contacts WHERE list_id = $1 AND name = 'Ann Lee'`, listID).Scan(&annID))
	code, out = b.api(t, b.token(t, "para@firm.test"), "POST", fmt.Sprintf("/api/v1/campaigns/%d/contacts/%d/skip", campaignID, annID), "")
	require.Equal(t, http.StatusConflict, code, "Ann is done with: %s", out)
	code, out = b.api(t, b.token(t, "para@firm.test"), "POST", fmt.Sprintf("/api/v1/campaigns/%d/contacts/%d/skip", campaignID, annID), "{")
	require.Equal(t, http.StatusBadRequest, code, out)
}

// TestAddNewContactsPage adds contacts imported after a campaign started
// to it, from its page and from the API.
func TestAddNewContactsPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	listID := insertList(t, b, "late", "Ann Lee", "Bob Moss")
	tok := b.token(t, "para@firm.test")
	code, body := b.api(t, tok, "POST", "/api/v1/campaigns", fmt.Sprintf(`{"name":"Hearings","purpose":"informational",
		"list_id":%d,"message":"Hello.","caller_id":"860-555-0100"}`, listID))
	require.Equal(t, http.StatusCreated, code, body)
	var created struct {
		ID int64 `json:"id"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	page := fmt.Sprintf("/campaigns/%d", created.ID)
	add := func(name, ph string) {
		t.Helper()
		_, err := b.db.Exec(ctx, `INSERT INTO contacts (list_id, name, phone) VALUES ($1, $2, $3)`, listID, name, ph)
		require.NoError(t, err)
	}

	para := b.browser(t)
	code, _ = para.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	_, body, _ = para.get(fmt.Sprintf("/lists/%d", listID))
	require.Contains(t, body, "2026-12-01 09:30:00 EST", "times in the firm's zone, saying which")
	add("Cid Roe", "+18605550301")
	_, body, _ = para.get(page)
	require.Contains(t, body, "1 contact(s) were imported into the list since this draft was saved: Start adds them.")
	require.NotContains(t, body, `id="add-contacts"`)
	code, body = b.api(t, tok, "POST", "/api/v1"+page+"/start", "")
	require.Equal(t, http.StatusOK, code, body)
	var by int64
	require.NoError(t, b.db.QueryRow(ctx, `SELECT (details->>'updated_by')::bigint FROM audit_log WHERE tbl = 'campaigns' AND row_id = $1 ORDER BY seq DESC LIMIT 1`, created.ID).Scan(&by))
	require.Equal(t, b.userID(t, "para@firm.test"), by, "the audit log names who started it")
	require.Equal(t, 3, count(t, b.db, `SELECT count(*) FROM campaign_targets WHERE campaign_id = $1`, created.ID))

	add("Dee Poe", "+18605550302")
	_, body, _ = para.get(page)
	require.Contains(t, body, "1 contact(s) were imported into the list after this campaign started; it does not call them.")
	require.Contains(t, body, `<button type="submit" id="add-contacts">Add them to this campaign</button>`)

	atty := b.browser(t)
	code, _ = atty.signin("atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	_, body, _ = atty.get(page)
	require.Contains(t, body, "1 contact(s) of the list are not in this campaign.")
	require.NotContains(t, body, `id="add-contacts"`)
	code, _, _ = atty.post(page+"/add_contacts", url.Values{"_csrf": {atty.csrf(page)}})
	require.Equal(t, http.StatusForbidden, code, "attorneys do not run campaigns")
	code, _, _ = para.post(page+"/add_contacts", url.Values{})
	require.Equal(t, http.StatusForbidden, code, "no CSRF token")
	require.Equal(t, 3, count(t, b.db, `SELECT count(*) FROM campaign_targets WHERE campaign_id = $1`, created.ID))

	code, _, h := para.post(page+"/add_contacts", url.Values{"_csrf": {para.csrf(page)}})
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, page, h.Get("Location"))
	_, body, _ = para.get(page)
	require.Contains(t, body, "Added 1 contact(s) to the campaign. It is running and calls them within its calling hours.")
	require.NotContains(t, body, `id="new-contacts"`)
	require.Equal(t, 4, count(t, b.db, `SELECT count(*) FROM campaign_targets WHERE campaign_id = $1`, created.ID))

	// The API.
	add("Eve Doe", "+18605550303")
	code, body = b.api(t, b.token(t, "atty@firm.test"), "POST", "/api/v1"+page+"/add_contacts", "")
	require.Equal(t, http.StatusForbidden, code, body)
	code, body = b.api(t, tok, "POST", "/api/v1"+page+"/add_contacts", "")
	require.Equal(t, http.StatusOK, code, body)
	var added struct {
		Added    int `json:"added"`
		Campaign struct {
			Status string `json:"status"`
			Counts struct {
				Targets int `json:"targets"`
				New     int `json:"new_contacts"`
			} `json:"counts"`
		} `json:"campaign"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &added))
	require.Equal(t, 1, added.Added)
	require.Equal(t, "running", added.Campaign.Status)
	require.Equal(t, 5, added.Campaign.Counts.Targets)
	require.Equal(t, 0, added.Campaign.Counts.New)
	// Once its schedule has ended, the page no longer offers to add them.
	add("Fay Moe", "+18605550304")
	_, err := b.db.Exec(ctx, `UPDATE campaigns SET starts_at = now() - interval '2 days', ends_at = now() - interval '1 hour' WHERE id = $1`, created.ID)
	require.NoError(t, err)
	_, body, _ = para.get(page)
	require.Contains(t, body, "1 contact(s) of the list are not in this campaign. Its schedule has no calling time left: copy it into a new campaign to call them.")
	require.NotContains(t, body, `id="add-contacts"`)
	code, body = b.api(t, tok, "POST", "/api/v1"+page+"/add_contacts", "")
	require.Equal(t, http.StatusConflict, code, body)
	code, body = b.api(t, tok, "POST", "/api/v1"+page+"/cancel", "")
	require.Equal(t, http.StatusOK, code, body)
	code, body = b.api(t, tok, "POST", "/api/v1"+page+"/add_contacts", "")
	require.Equal(t, http.StatusConflict, code, body)
	require.Contains(t, body, "add contacts to a cancelled campaign")
}

// TestAttemptPage shows a blocked attempt's record: its decision, the
// grounds of its reasons, what the gate was asked, and the number's
// records at the time.
func TestAttemptPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	e, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	listID := insertList(t, b, "why", "Ann Lee")
	var campaignID, attemptID, otherID int64
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status)
		VALUES ('Hearings', 'informational', $1, 'Hello', '+18605550100', 'running') RETURNING id`, listID).Scan(&campaignID))
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id)
		VALUES ('Other', 'informational', $1, 'Hello', '+18605550100') RETURNING id`, listID).Scan(&otherID))
	_, err = b.db.Exec(ctx, `INSERT INTO dnc_internal (phone, method, source, added_at) VALUES ('+18605550101', 'staff', 'asked on the phone <b>', now() - interval '1 day')`)
	require.NoError(t, err)
	// And an opt-out pressed an hour before, whose records wait.
	_, err = b.db.Exec(ctx, `INSERT INTO optout_requests (phone, method, source, taken_at) VALUES ('+18605550101', 'ivr', 'pressed 9 on a call', now() - interval '1 hour')`)
	require.NoError(t, err)
	require.NoError(t, b.db.QueryRow(ctx, `
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome, ended_at)
		SELECT $1, id, 1, phone, '+18605550100', 'deny', '{dnc.internal}', $2,
		       '{"phone":"+18605550101","purpose":"informational","method":"prerecorded","state":"CT","zip":"06103","at":"2026-11-27T15:00:00Z","lists":{"national":4}}',
		       'blocked', 'blocked', now()
		  FROM contacts WHERE list_id = $3 RETURNING id`, campaignID, e.Version(), listID).Scan(&attemptID))
	// The national registry copy its gate read.
	_, err = b.db.Exec(ctx, `INSERT INTO dnc_list_installs (list, version, as_of, count, source, installed_at)
		VALUES ('national', 3, '2026-10-01', 10, 'old', '2026-10-02'), ('national', 4, '2026-11-01', 12, 'registry download', '2026-11-02T12:00:00Z')`)
	require.NoError(t, err)
	path := fmt.Sprintf("/campaigns/%d/attempts/%d", campaignID, attemptID)

	atty := b.browser(t)
	code, _ := atty.signin("atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	_, body, _ := atty.get(fmt.Sprintf("/campaigns/%d", campaignID))
	require.Contains(t, body, `<a href="`+path+`"`, "the campaign's attempts link to their records")
	code, body, _ = atty.get(path)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, fmt.Sprintf("Attempt %d: Ann Lee, &#43;18605550101", attemptID))
	require.Contains(t, body, "{\n  &#34;at&#34;: &#34;2026-11-27T15:00:00Z&#34;,", "the stored input, indented")
	require.Contains(t, body, `<span class="decision-deny" id="verdict">deny</span>`)
	require.Contains(t, body, "<code>dnc.internal</code></td><td>on the firm&#39;s own do-not-call list, or opted out</td>")
	require.Contains(t, body, "<b>F9</b> Internal (company) do-not-call list")
	require.Contains(t, body, "America/New_York: Fri 2026-11-27 10:00:00 EST")
	require.Contains(t, body, "State packs: CT")
	require.Contains(t, body, "asked on the phone &lt;b&gt;", "the entry's source, escaped")
	require.Contains(t, body, `<table id="optouts">`)
	require.Contains(t, body, "<td>ivr</td><td>pressed 9 on a call</td><td><span class=\"muted\">not yet</span></td>", "the opt-out waiting")
	require.Contains(t, body, "The decision relied on no consent record.")
	require.Contains(t, body, "Registry list copies the gate read: <b>national</b> version 4, current as of 2026-11-01 00:00:00 UTC (12 numbers, installed 2026-11-02 12:00:00 UTC).")
	require.Contains(t, body, "No call was placed.")
	require.NotContains(t, body, `id="last-look"`, "a denied attempt has no last look")

	// An allowed call the last look called off: the entry reached heed as
	// it waited for a line.
	var offID int64
	require.NoError(t, b.db.QueryRow(ctx, `
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome, ended_at,
		                      looked_at, last_look)
		SELECT $1, id, 2, phone, '+18605550100', 'allow', '{}', $2,
		       '{"phone":"+18605550101","purpose":"informational","method":"prerecorded","state":"CT","zip":"06103","at":"2026-11-27T15:00:00Z"}',
		       'ended', 'called_off', now(), '2026-11-27T15:00:09Z',
		       '{"at":"2026-11-27T15:00:08Z","decision":{"decision":"deny","until":null,"reasons":["dnc.internal"],"pack":"p","consent_id":null},"index_seq":41,"index_top":42}'
		  FROM contacts WHERE list_id = $3 RETURNING id`, campaignID, e.Version(), listID).Scan(&offID))
	code, body, _ = atty.get(fmt.Sprintf("/campaigns/%d/attempts/%d", campaignID, offID))
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "Asked again right before the call was placed, once a line was free: 2026-11-27 15:00:09 UTC (the dialer's clock: 2026-11-27 15:00:08 UTC), with the lists up to change 41 of heed's change log:")
	require.Contains(t, body, `<b class="decision-deny">deny</b> <code>dnc.internal</code>.`)
	require.Contains(t, body, "The call was called off: it was never placed.")
	_, body, _ = atty.get(fmt.Sprintf("/campaigns/%d", campaignID))
	require.Contains(t, body, `called_off <span class="muted">(last look: deny dnc.internal)</span>`, "the attempts list says why")
	_, body, _ = atty.get(fmt.Sprintf("/campaigns/%d/attempts.csv", campaignID))
	require.Contains(t, body, ",deny dnc.internal,\n", "and so does the export, in its called_off column (no audio: the last is empty)")
	require.Contains(t, body, ",ended_at,called_off,audio_started_ms\n")

	// An allowed call that could not be placed: no Asterisk was up.
	var notID int64
	require.NoError(t, b.db.QueryRow(ctx, `
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome, ended_at, not_placed)
		SELECT $1, id, 3, phone, '+18605550100', 'allow', '{}', $2,
		       '{"phone":"+18605550101","purpose":"informational","method":"prerecorded","state":"CT","zip":"06103","at":"2026-11-27T15:10:00Z"}',
		       'ended', 'called_off', now(), 'no Asterisk was up'
		  FROM contacts WHERE list_id = $3 RETURNING id`, campaignID, e.Version(), listID).Scan(&notID))
	code, body, _ = atty.get(fmt.Sprintf("/campaigns/%d/attempts/%d", campaignID, notID))
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `<td id="not-placed">no Asterisk was up: the call was never placed, counts as no call, and the contact stayed due</td>`)
	require.Contains(t, body, `id="last-look">No last look is recorded: the call could not be placed (no Asterisk was up).</p>`)
	require.NotContains(t, body, `id="accident"`, "not a solicitation about an accident")
	// A message never spoken, after the tries allowed: failed, and still
	// never placed.
	var mutedID int64
	require.NoError(t, b.db.QueryRow(ctx, `
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome, ended_at, not_placed)
		SELECT $1, id, 90, phone, '+18605550100', 'allow', '{}', $2, '{"phone":"+18605550101","purpose":"informational","at":"2026-11-27T15:10:00Z"}',
		       'ended', 'failed', now(), 'its message could not be spoken'
		  FROM contacts WHERE list_id = $3 RETURNING id`, campaignID, e.Version(), listID).Scan(&mutedID))
	_, body, _ = atty.get(fmt.Sprintf("/campaigns/%d/attempts/%d", campaignID, mutedID))
	require.Contains(t, body, `<td id="not-placed">its message could not be spoken: the call was never placed; after the tries allowed, it counts as a failed call toward the campaign's retries and maximum, and toward no cap</td>`)
	require.Contains(t, body, `<p class="muted" id="attempt-no">Attempt 90 for this contact in the campaign (its refusals, deferrals and calls not placed count too)`)

	// An answered call: the record says when heed's audio began, by
	// Asterisk's clock (with detection: its time included), and so does
	// the export, in its last column; a call never placed says nothing
	// of it.
	require.NotContains(t, body, `id="audio-started"`)
	for i, c := range []struct {
		amd, want string
	}{
		{"", `<td id="audio-started">0.023 s after the answer <span class="muted">(Asterisk's clock)</span></td>`},
		{"HUMAN HUMAN", `<td id="audio-started">1.985 s after the answer <span class="muted">(Asterisk's clock; detection's time included)</span></td>`},
		{"silent", `<td id="audio-started">never: the call ended before any of heed's audio played</td>`},
	} {
		var ms *int
		if v, ok := map[string]int{"": 23, "HUMAN HUMAN": 1985}[c.amd]; ok {
			ms = &v
		}
		var heardID int64
		require.NoError(t, b.db.QueryRow(ctx, `
			INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome,
			                      answered_at, ended_at, amd, audio_started_ms, audio_known)
			SELECT $1, id, 92 + $6::int, phone, '+18605550100', 'allow', '{}', $2, '{"phone":"+18605550101","purpose":"informational","at":"2026-11-27T15:10:00Z"}',
			       'ended', 'no_response', now(), now(), CASE WHEN $4 = 'silent' THEN '' ELSE $4 END, $5, true
			  FROM contacts WHERE list_id = $3 RETURNING id`, campaignID, e.Version(), listID, c.amd, ms, i).Scan(&heardID))
		_, body, _ = atty.get(fmt.Sprintf("/campaigns/%d/attempts/%d", campaignID, heardID))
		require.Contains(t, body, c.want)
		_, body, _ = atty.get(fmt.Sprintf("/campaigns/%d/attempts.csv", campaignID))
		if ms == nil {
			require.Contains(t, body, ",no_response,,,,,false,")
			continue
		}
		require.Contains(t, body, fmt.Sprintf(",no_response,,,%s,,false,", c.amd))
		require.Contains(t, body, fmt.Sprintf(",%d\n", *ms))
	}

	// A solicitation about an injury matter: the record shows the accident
	// the 40 days counted from.
	var injuryID int64
	require.NoError(t, b.db.QueryRow(ctx, `
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome, ended_at, not_placed)
		SELECT campaign_id, contact_id, 91, phone, caller_id, decision, reasons, pack,
		       decision_input || '{"injury_matter":true,"accident_at":"2026-10-02T11:00:00Z"}', status, outcome, ended_at, not_placed
		  FROM attempts WHERE id = $1 RETURNING id`, notID).Scan(&injuryID))
	_, body, _ = atty.get(fmt.Sprintf("/campaigns/%d/attempts/%d", campaignID, injuryID))
	require.Contains(t, body, `<td id="accident">a solicitation about a personal-injury or wrongful-death matter; the 40 days count from the end of the accident's date (UTC-11): 2026-10-02 11:00:00 UTC</td>`)
	_, body, _ = atty.get(fmt.Sprintf("/campaigns/%d", campaignID))
	require.Contains(t, body, `called_off <span class="muted">(not placed: no Asterisk was up)</span>`)
	_, body, _ = atty.get(fmt.Sprintf("/campaigns/%d/attempts.csv", campaignID))
	require.Contains(t, body, ",not placed: no Asterisk was up,\n")

	for _, p := range []string{fmt.Sprintf("/campaigns/%d/attempts/%d", otherID, attemptID), fmt.Sprintf("/campaigns/%d/attempts/999999", campaignID),
		fmt.Sprintf("/campaigns/%d/attempts/x", campaignID)} {
		code, _, _ = atty.get(p)
		require.Equal(t, http.StatusNotFound, code, p)
	}
	code, out := b.api(t, b.token(t, "para@firm.test"), "GET", "/api/v1"+path, "")
	require.Equal(t, http.StatusOK, code, out)
	var rec struct {
		Decision string `json:"decision"`
		Grounds  []struct {
			Reason string `json:"reason"`
			Rules  []struct {
				Code string `json:"code"`
			} `json:"rules"`
		} `json:"grounds"`
		DNC []struct {
			Source string `json:"source"`
		} `json:"dnc_internal"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rec))
	require.Equal(t, "deny", rec.Decision)
	require.Len(t, rec.Grounds, 1)
	require.Equal(t, "F9", rec.Grounds[0].Rules[0].Code)
	require.Len(t, rec.DNC, 1)
	anon := b.browser(t)
	code, _, _ = anon.get(path)
	require.Equal(t, http.StatusSeeOther, code)
}

// TestRestoreContactPage puts contacts withdrawn by mistake back in their
// campaign, from its contacts page and from the API.
func TestRestoreContactPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	paraID := b.userID(t, "para@firm.test")
	var listID, campaignID int64
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('Docket') RETURNING id`).Scan(&listID))
	_, err := b.db.Exec(ctx, `INSERT INTO contacts (list_id, name, phone) VALUES
		($1, 'Ann Lee', '+18605550101'), ($1, 'Cid Moss', '+18605550103'), ($1, 'Dee Moss', '+18605550104'), ($1, 'Eve Roe', '+18605550105')`, listID)
	require.NoError(t, err)
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status)
		VALUES ('Hearings', 'informational', $1, 'Hello', '+18605550100', 'running') RETURNING id`, listID).Scan(&campaignID))
	_, err = b.db.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id, state, skipped_at, skipped_by, skip_note)
		SELECT $1, id, CASE WHEN name = 'Ann Lee' THEN 'done' ELSE 'skipped' END, CASE WHEN name = 'Ann Lee' THEN NULL ELSE now() END,
		       CASE WHEN name = 'Ann Lee' THEN NULL ELSE $3::bigint END, CASE WHEN name = 'Cid Moss' THEN 'hearing cancelled' ELSE '' END
		  FROM contacts WHERE list_id = $2`, campaignID, listID, paraID)
	require.NoError(t, err)
	ids := map[string]int64{}
	for _, n := range []string{"Ann Lee", "Cid Moss", "Dee Moss", "Eve Roe"} {
		var id int64
		require.NoError(t, b.db.QueryRow(ctx, `SELECT id FROM contacts WHERE list_id = $1 AND name = $2`, listID, n).Scan(&id))
		ids[n] = id
	}
	base := fmt.Sprintf("/campaigns/%d/contacts", campaignID)
	restore := func(name string) string { return fmt.Sprintf("%s/%d/restore", base, ids[name]) }
	button := func(name string) string {
		return fmt.Sprintf(`id="restore-%d">Call in this campaign again</button>`, ids[name])
	}
	skipped := func(name string) bool {
		t.Helper()
		return count(t, b.db, `SELECT count(*) FROM campaign_targets WHERE campaign_id = $1 AND contact_id = $2 AND state = 'skipped'`, campaignID, ids[name]) == 1
	}

	// Attorneys review: no button, and their request is refused.
	atty := b.browser(t)
	code, _ := atty.signin("atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, body, _ := atty.get(base + "?result=skipped")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "Skipped: not to be called")
	require.NotContains(t, body, fmt.Sprintf(`id="restore-%d"`, ids["Cid Moss"]))
	code, _, _ = atty.post(restore("Cid Moss"), url.Values{"_csrf": {atty.csrf(base)}})
	require.Equal(t, http.StatusForbidden, code)
	require.True(t, skipped("Cid Moss"))

	// Admins and paralegals see it; the page no longer says a withdrawal
	// cannot be undone.
	admin := b.browser(t)
	code, _ = admin.signin("admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	_, body, _ = admin.get(base + "?result=skipped")
	require.Contains(t, body, button("Cid Moss"))
	para := b.browser(t)
	code, _ = para.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	_, body, _ = para.get(base + "?result=skipped")
	require.Contains(t, body, button("Cid Moss"))
	require.Contains(t, body, "Call in this campaign again puts a withdrawn contact back, due when it was due before (a retry delay still holds) or at once; the rules still decide each of its calls.")
	require.NotContains(t, body, "cannot be undone")
	require.NotContains(t, body, fmt.Sprintf(`id="restore-%d"`, ids["Ann Lee"]), "Ann was not withdrawn")

	code, _, _ = para.post(restore("Cid Moss"), url.Values{})
	require.Equal(t, http.StatusForbidden, code, "no CSRF token")
	require.True(t, skipped("Cid Moss"))

	// Put back from the skipped contacts, page 2 of a search: back to the
	// search from its start, for Cid has left the filter.
	code, _, h := para.post(restore("Cid Moss"), url.Values{"_csrf": {para.csrf(base)}, "result": {"skipped"}, "q": {"moss"}, "page": {"2"}, "per_page": {"1"}})
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, base+"?per_page=1&q=moss&result=skipped", h.Get("Location"))
	require.False(t, skipped("Cid Moss"))
	require.Equal(t, int(paraID), count(t, b.db, `SELECT restored_by FROM campaign_targets WHERE campaign_id = $1 AND contact_id = $2`, campaignID, ids["Cid Moss"]))
	_, body, _ = para.get(base + "?result=open")
	require.Contains(t, body, "Put back: this campaign will call the contact again; the rules still decide each call.")
	require.Contains(t, body, `Not called yet<br><span class="muted restored">withdrawn by para@firm.test, `)
	require.Contains(t, body, ": hearing cancelled; put back by para@firm.test, ", "who withdrew him, why, and who put him back")
	require.Contains(t, body, fmt.Sprintf(`id="skip-%d">Don't call</button>`, ids["Cid Moss"]), "he can be withdrawn again")
	require.NotContains(t, body, fmt.Sprintf(`id="restore-%d"`, ids["Cid Moss"]))
	_, body, _ = para.get(base + "?result=skipped")
	require.NotContains(t, body, "Cid Moss", "not shown as skipped")

	// An admin puts Dee back from the contacts still to call: the page
	// stays, for she is still among them.
	code, _, h = admin.post(restore("Dee Moss"), url.Values{"_csrf": {admin.csrf(base)}, "result": {"open"}, "page": {"1"}})
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, base+"?page=1&result=open", h.Get("Location"))
	require.False(t, skipped("Dee Moss"))

	// The CSV shows them to be called, with the withdrawal they had and
	// who put them back.
	code, body, _ = para.get(base + ".csv?q=moss")
	require.Equal(t, http.StatusOK, code)
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 3)
	require.Equal(t, []string{"skipped_at", "restored_by"}, []string{recs[0][15], recs[0][21]})
	require.Equal(t, []string{"Cid Moss", "not_called", "para@firm.test"}, []string{recs[1][1], recs[1][6], recs[1][21]})
	require.NotEmpty(t, recs[1][15], "the withdrawal it undid")
	require.Equal(t, []string{"Dee Moss", "admin@firm.test"}, []string{recs[2][1], recs[2][21]})

	// The API, for admins and paralegals.
	apiRestore := func(email, name string) (int, string) {
		return b.api(t, b.token(t, email), "POST", fmt.Sprintf("/api/v1/campaigns/%d/contacts/%d/restore", campaignID, ids[name]), "")
	}
	code, out := apiRestore("atty@firm.test", "Eve Roe")
	require.Equal(t, http.StatusForbidden, code, out)
	require.True(t, skipped("Eve Roe"))
	code, out = apiRestore("para@firm.test", "Eve Roe")
	require.Equal(t, http.StatusOK, code, out)
	require.JSONEq(t, fmt.Sprintf(`{"campaign_id":%d,"contact_id":%d,"restored":true}`, campaignID, ids["Eve Roe"]), out)
	require.False(t, skipped("Eve Roe"))
	code, out = apiRestore("para@firm.test", "Eve Roe")
	require.Equal(t, http.StatusOK, code, "already put back: nothing to do: %s", out)
	code, out = apiRestore("para@firm.test", "Ann Lee")
	require.Equal(t, http.StatusConflict, code, out)
	require.Contains(t, out, "is done in this campaign, not withdrawn")
	code, out = b.api(t, b.token(t, "para@firm.test"), "POST", fmt.Sprintf("/api/v1/campaigns/%d/contacts/999999/restore", campaignID), "")
	require.Equal(t, http.StatusNotFound, code, out)
	code, out = b.api(t, b.token(t, "para@firm.test"), "POST", fmt.Sprintf("/api/v1/campaigns/%d/contacts/x/restore", campaignID), "")
	require.Equal(t, http.StatusNotFound, code, out)
	code, _ = b.api(t, "", "POST", fmt.Sprintf("/api/v1/campaigns/%d/contacts/%d/restore", campaignID, ids["Eve Roe"]), "")
	require.Equal(t, http.StatusUnauthorized, code)

	// Completed because the contacts left were withdrawn: a contact can be
	// put back while the schedule has calling time left; it runs again.
	_, err = b.db.Exec(ctx, `UPDATE campaign_targets SET state = 'skipped' WHERE campaign_id = $1 AND contact_id = $2`, campaignID, ids["Eve Roe"])
	require.NoError(t, err)
	_, err = b.db.Exec(ctx, `UPDATE campaigns SET status = 'completed', completed_at = now() WHERE id = $1`, campaignID)
	require.NoError(t, err)
	_, body, _ = para.get(base + "?result=skipped")
	require.Contains(t, body, button("Eve Roe"))
	require.Contains(t, body, "Call in this campaign again puts a withdrawn contact back, due when it was due before (a retry delay still holds) or at once, and the campaign runs again;")
	require.NotContains(t, body, "Don't call withdraws", "a completed campaign withdraws no one")
	_, err = b.db.Exec(ctx, `UPDATE campaigns SET starts_at = now() - interval '2 days', ends_at = now() - interval '1 hour' WHERE id = $1`, campaignID)
	require.NoError(t, err)
	_, body, _ = para.get(base + "?result=skipped")
	require.Contains(t, body, "Eve Roe")
	require.NotContains(t, body, fmt.Sprintf(`id="restore-%d"`, ids["Eve Roe"]), "no calling time left")
	require.NotContains(t, body, `id="skip-help"`)
	code, _, _ = para.post(restore("Eve Roe"), url.Values{"_csrf": {para.csrf(base)}})
	require.Equal(t, http.StatusConflict, code)
	require.True(t, skipped("Eve Roe"))
}
