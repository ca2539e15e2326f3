package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/web"
)

func TestCallsReportPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	listID := insertList(t, b, "report", "Ann Lee", "Bob Moss")
	var campaignID, bad int64
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status)
		VALUES ('Hearings', 'informational', $1, 'Hello', '+18605550100', 'running') RETURNING id`, listID).Scan(&campaignID))
	_, err := b.db.Exec(ctx, `INSERT INTO dnc_internal (phone, method, source, added_at) VALUES ('+18605550101', 'staff', 'asked', now() - interval '3 hours')`)
	require.NoError(t, err)
	// Ann's call was allowed after her opt-out; Bob's was denied, then
	// allowed for 03:00 in Connecticut, by its request, under heed's
	// default policy.
	pack := consent.PackVersion(nil, consent.FirmPolicy{})
	const request = `{"purpose":"informational","method":"prerecorded","line":"landline","at":%q}`
	require.NoError(t, b.db.QueryRow(ctx, `
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome, created_at)
		SELECT $1, id, 1, phone, '+18605550100', 'allow', '{}', $4, $3, 'ended', 'answered', now() - interval '1 hour'
		  FROM contacts WHERE list_id = $2 AND phone = '+18605550101' RETURNING id`, campaignID, listID, fmt.Sprintf(request, "2026-11-16T15:00:00Z"), pack).Scan(&bad))
	_, err = b.db.Exec(ctx, `
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome, created_at)
		SELECT $1, id, 1, phone, '+18605550100', 'deny', '{consent.missing}', 'p', '{}', 'blocked', 'blocked', now() - interval '1 hour'
		  FROM contacts WHERE list_id = $2 AND phone = '+18605550102'`, campaignID, listID)
	require.NoError(t, err)
	// Its dialer's clock read two hours ahead when it placed the call.
	var night int64
	require.NoError(t, b.db.QueryRow(ctx, `
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome, created_at, originated_at)
		SELECT $1, id, 2, phone, '+18605550100', 'allow', '{}', $4, $3, 'ended', 'no_answer', now() - interval '30 minutes', now() + interval '90 minutes'
		  FROM contacts WHERE list_id = $2 AND phone = '+18605550102' RETURNING id`, campaignID, listID, fmt.Sprintf(request, "2026-11-16T08:00:00Z"), pack).Scan(&night))

	atty := b.browser(t)
	code, _ := atty.signin("atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, body, _ := atty.get("/campaigns")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `<a href="/reports/calls">Calls report</a>`)
	require.NotContains(t, body, `id="check-alert"`, "no night checked yet")
	// Two nights checked: the last found something, which attorneys and
	// admins see on the campaigns page.
	_, err = b.db.Exec(ctx, `INSERT INTO calls_checks (day, checked, found, calls, had, report) VALUES
		('2026-11-25', 40, 0, 0, 0, '{}'), ('2026-11-26', 38, 2, 1, 1, '{}')`)
	require.NoError(t, err)
	_, body, _ = atty.get("/campaigns")
	require.Contains(t, body, `<div class="error" role="alert" id="check-alert">The nightly check of 2026-11-26 found 2 finding(s) about 1 allowed call(s), 1 about what the gate had: <a href="/reports/calls?from=2026-11-26&amp;to=2026-11-26">see the calls report</a>.</div>`)
	code, body, _ = atty.get("/reports/calls")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "2 finding(s) about 2 of 2 allowed call(s); 1 finding(s) about what the gate had when it allowed the call.")
	require.Contains(t, body, "not kept for this call")
	require.Contains(t, body, fmt.Sprintf(`<a href="/campaigns/%d/attempts/%d">%d</a>`, campaignID, bad, bad))
	require.Contains(t, body, "<code>dnc.internal</code>")
	require.Contains(t, body, ": staff: asked</td>")
	require.Contains(t, body, "<code>rule</code></td><td>defer until 2026-11-16 13:00:00 UTC: window.outside under federal@")
	require.Contains(t, body, "the call's own")
	require.Contains(t, body, `<p id="clock-apart">1 allowed call(s) were placed by a dialer clock more than a minute apart from the database's (at most 2h0m0s)`)
	require.NotContains(t, body, `id="registry-unchecked"`, "the registry lists are checked, and none is installed")
	require.Contains(t, body, `<a href="/numbers?phone=%2b18605550101">`)
	require.Contains(t, body, "<code>consent.missing</code> 1")
	require.Contains(t, body, "staff 1", "the entry added in the period")
	require.Contains(t, body, `<td><a href="/reports/calls?from=2026-11-26&amp;to=2026-11-26">2026-11-26</a></td><td>38</td><td><b class="decision-deny">2</b> about 1 call(s)</td>`)
	require.Contains(t, body, `<td><a href="/reports/calls?from=2026-11-25&amp;to=2026-11-25">2026-11-25</a></td><td>40</td><td>none</td>`)

	code, body, _ = atty.get("/reports/calls?from=2026-01-01&to=2026-01-31")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "No finding: none of the 0 allowed call(s)")
	require.Contains(t, body, `value="2026-01-01"`, "the period comes back in the form")
	require.Contains(t, body, `<p id="period-shown">Attempts decided from 2026-01-01 00:00:00 EST to just before 2026-02-01 00:00:00 EST.</p>`,
		"the 31st is included; the 1st of February is the bound")
	require.Contains(t, body, `<td id="look-refused"><span class="muted">none</span></td>`, "no call called off at its last look")
	code, body, _ = atty.get("/reports/calls?from=soon")
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, "want a date such as 2026-11-01")
	code, body, _ = atty.get("/reports/calls?from=2026-02-01&to=2026-01-01")
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, "the period ends before it starts")

	para := b.browser(t)
	code, _ = para.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	_, body, _ = para.get("/campaigns")
	require.NotContains(t, body, `id="check-alert"`, "paralegals do not see the calls report")
	code, _, _ = para.get("/reports/calls")
	require.Equal(t, http.StatusForbidden, code)

	code, out := b.api(t, b.token(t, "admin@firm.test"), "GET", "/api/v1/reports/calls", "")
	require.Equal(t, http.StatusOK, code, out)
	var r struct {
		Decisions map[string]int   `json:"decisions"`
		Found     int              `json:"found"`
		Findings  []map[string]any `json:"findings"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, map[string]int{"allow": 2, "deny": 1}, r.Decisions)
	require.Equal(t, 2, r.Found)
	require.Equal(t, []any{float64(night), float64(bad)}, []any{r.Findings[0]["attempt_id"], r.Findings[1]["attempt_id"]}, "newest first")
	require.NotContains(t, r.Findings[0], "record_id", "a re-decided call names no record")
	require.NotContains(t, r.Findings[0], "recorded_at")
	require.Contains(t, r.Findings[1], "record_id")
	code, _ = b.api(t, b.token(t, "para@firm.test"), "GET", "/api/v1/reports/calls", "")
	require.Equal(t, http.StatusForbidden, code)
	code, out = b.api(t, b.token(t, "atty@firm.test"), "GET", "/api/v1/reports/checks", "")
	require.Equal(t, http.StatusOK, code, out)
	var checks []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &checks))
	require.Len(t, checks, 2)
	require.Equal(t, map[string]any{"day": "2026-11-26", "ran_at": checks[0]["ran_at"], "allowed_checked": float64(38), "found": float64(2),
		"found_calls": float64(1), "found_had": float64(1)}, checks[0])
	code, _ = b.api(t, b.token(t, "para@firm.test"), "GET", "/api/v1/reports/checks", "")
	require.Equal(t, http.StatusForbidden, code)
	code, _ = b.api(t, b.token(t, "admin@firm.test"), "GET", "/api/v1/reports/calls?to=x", "")
	require.Equal(t, http.StatusUnprocessableEntity, code)
}

// Attorneys and admins see on the campaigns page that the nightly check
// missed a night.
func TestNightlyCheckMissed(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	var now atomic.Pointer[time.Time] // set here, read by the server
	at := func(t time.Time) { now.Store(&t) }
	at(time.Date(2026, 11, 27, 10, 0, 0, 0, ny))
	b := setupWith(t, func(_ *pgxpool.Pool, cfg *web.Config) {
		cfg.Now = func() time.Time { return *now.Load() }
		cfg.TimeZone = ny
	})
	atty := b.browser(t)
	code, _ := atty.signin("atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	_, body, _ := atty.get("/campaigns")
	require.NotContains(t, body, `id="check-missed"`, "no night checked yet: a new installation")
	_, err = b.db.Exec(context.Background(), `INSERT INTO calls_checks (day, checked, found, calls, had, report) VALUES ('2026-11-25', 3, 0, 0, 0, '{}')`)
	require.NoError(t, err)
	_, body, _ = atty.get("/campaigns")
	require.Contains(t, body, `id="check-missed">The nightly calls check has not run since it checked 2026-11-25`)
	_, err = b.db.Exec(context.Background(), `INSERT INTO calls_checks (day, checked, found, calls, had, report) VALUES ('2026-11-26', 3, 0, 0, 0, '{}')`)
	require.NoError(t, err)
	_, body, _ = atty.get("/campaigns")
	require.NotContains(t, body, `id="check-missed"`)
	require.NotContains(t, body, `id="check-alert"`)
	// At 04:30 the night's check may still be running: the day before
	// yesterday is enough.
	at(time.Date(2026, 11, 28, 4, 30, 0, 0, ny))
	_, body, _ = atty.get("/campaigns")
	require.NotContains(t, body, `id="check-missed"`)
	at(time.Date(2026, 11, 28, 5, 30, 0, 0, ny))
	_, body, _ = atty.get("/campaigns")
	require.Contains(t, body, `id="check-missed">The nightly calls check has not run since it checked 2026-11-26`)
}
