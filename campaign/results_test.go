package campaign

import (
	"bytes"
	"context"
	"encoding/csv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dialer"
)

// resultsCampaign makes a campaign whose nine contacts each have another
// result, and returns its id and the contacts' ids by name.
func resultsCampaign(t *testing.T, s *Service) (int64, map[string]int64) {
	t.Helper()
	ctx := context.Background()
	listID := importList(t, s, "results", `name,phone,external_ref
Ann Confirmed,8605550101,M-1
Bob Blocked,8605550102,
Cid New,8605550103,
Dee Deferred,8605550104,
Eve Busy,8605550105,
Fay Ringing,8605550106,
Gus Late,8605550107,=SUM(A1)
Hal Machine,8605550108,
Ida Abandoned,8605550109,
`)
	c, err := s.Create(ctx, NewCampaign{Name: "Hearings", Purpose: "informational", ListID: listID, CallerID: "860-555-0100", Message: "Hello."}, 0)
	require.NoError(t, err)
	ids := map[string]int64{}
	rows, err := s.db.Query(ctx, `SELECT name, id FROM contacts WHERE list_id = $1`, listID)
	require.NoError(t, err)
	for rows.Next() {
		var (
			name string
			id   int64
		)
		require.NoError(t, rows.Scan(&name, &id))
		ids[name] = id
	}
	require.NoError(t, rows.Err())
	attempt := func(name, decision, status, outcome, dtmf string) {
		t.Helper()
		_, err := s.db.Exec(ctx, `
			INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, decided_until, reasons, pack, decision_input, status, outcome, dtmf)
			SELECT $1, c.id, (SELECT count(*) + 1 FROM attempts a WHERE a.contact_id = c.id), c.phone, '+18605550100', $3,
			       CASE WHEN $3 = 'defer' THEN '2026-12-01T14:00:00Z'::timestamptz END,
			       CASE WHEN $3 = 'allow' THEN '{}'::text[] ELSE '{window.outside}' END, 'p', '{}', $4, $5, $6
			  FROM contacts c WHERE c.id = $2`, c.ID, ids[name], decision, status, outcome, dtmf)
		require.NoError(t, err)
	}
	state := func(name, state string) {
		t.Helper()
		_, err := s.db.Exec(ctx, `UPDATE campaign_targets SET state = $3, next_attempt_at = '2099-12-01T14:00:00Z' WHERE campaign_id = $1 AND contact_id = $2`,
			c.ID, ids[name], state)
		require.NoError(t, err)
	}
	attempt("Ann Confirmed", "allow", "ended", "busy", "")
	attempt("Ann Confirmed", "allow", "ended", "confirmed", "1")
	state("Ann Confirmed", "done")
	attempt("Bob Blocked", "allow", "ended", "no_answer", "")
	attempt("Bob Blocked", "deny", "blocked", "blocked", "")
	state("Bob Blocked", "done")
	attempt("Dee Deferred", "defer", "deferred", "deferred", "")
	state("Dee Deferred", "pending")
	attempt("Eve Busy", "allow", "ended", "busy", "")
	state("Eve Busy", "pending")
	attempt("Fay Ringing", "allow", "ringing", "", "")
	state("Fay Ringing", "dialing")
	attempt("Gus Late", "allow", "ended", "no_answer", "")
	state("Gus Late", "expired")
	attempt("Hal Machine", "allow", "ended", "machine", "")
	state("Hal Machine", "done")
	attempt("Ida Abandoned", "allow", "ended", "abandoned", "2")
	state("Ida Abandoned", "done")
	return c.ID, ids
}

func TestCampaignContacts(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	ctx := context.Background()
	id, ids := resultsCampaign(t, s)

	p, err := s.CampaignContacts(ctx, id, ResultQuery{})
	require.NoError(t, err)
	require.Equal(t, "Hearings", p.Campaign.Name)
	require.Equal(t, 9, p.Results.Total)
	require.Equal(t, []ResultCount{
		{"confirmed", "Confirmed", 1},
		{"abandoned", "Asked for the office, not connected", 1},
		{"machine", "Answering machine", 1},
		{"expired", "Not reached before the end", 1},
		{"blocked", "Blocked by the rules", 1},
		{"calling", "Being called", 1},
		{"retry", "To be called again", 1},
		{"deferred", "Deferred by the rules", 1},
		{"not_called", "Not called yet", 1},
	}, p.Results.Results)
	require.Equal(t, []ResultCount{{"reached", "Reached", 2}, {"not_reached", "Not reached", 2}, {"open", "Still to call", 4}}, p.Results.Filters)
	require.Equal(t, 9, p.Matching)
	require.Len(t, p.Contacts, 9)
	byName := map[string]CampaignContact{}
	var names []string
	for _, c := range p.Contacts {
		byName[c.Name] = c
		names = append(names, c.Name)
	}
	require.Equal(t, []string{"Ann Confirmed", "Bob Blocked", "Cid New", "Dee Deferred", "Eve Busy", "Fay Ringing", "Gus Late", "Hal Machine", "Ida Abandoned"}, names)
	ann := byName["Ann Confirmed"]
	require.Equal(t, ids["Ann Confirmed"], ann.ID)
	require.Equal(t, "confirmed", ann.Result)
	require.Equal(t, 2, ann.Calls)
	require.Equal(t, 2, ann.Attempts)
	require.Nil(t, ann.Next, "done: not due again")
	require.NotNil(t, ann.Last)
	require.Equal(t, "1", ann.Last.DTMF)
	require.Equal(t, "M-1", ann.ExternalRef)
	bob := byName["Bob Blocked"]
	require.Equal(t, "blocked", bob.Result)
	require.Equal(t, 1, bob.Calls, "the blocked attempt placed no call")
	require.Equal(t, 2, bob.Attempts)
	require.Equal(t, []string{"window.outside"}, bob.Last.Reasons)
	require.Nil(t, byName["Cid New"].Last)
	require.Equal(t, "not_called", byName["Cid New"].Result)
	require.NotNil(t, byName["Cid New"].Next, "pending: due")
	dee := byName["Dee Deferred"]
	require.Equal(t, "deferred", dee.Result)
	require.Equal(t, 0, dee.Calls)
	require.Equal(t, time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC), dee.Last.Until.UTC())
	require.Equal(t, time.Date(2099, 12, 1, 14, 0, 0, 0, time.UTC), dee.Next.UTC())
	require.Equal(t, "retry", byName["Eve Busy"].Result)
	require.Equal(t, "calling", byName["Fay Ringing"].Result)
	require.Nil(t, byName["Fay Ringing"].Next, "dialing: not due")
	require.Equal(t, "expired", byName["Gus Late"].Result)

	keep := func(q ResultQuery) []string {
		t.Helper()
		p, err := s.CampaignContacts(ctx, id, q)
		require.NoError(t, err)
		require.Equal(t, 9, p.Results.Total, "the counts are the campaign's, whatever the filter")
		require.Equal(t, len(p.Contacts), p.Matching)
		var out []string
		for _, c := range p.Contacts {
			out = append(out, c.Name)
		}
		return out
	}
	require.Equal(t, []string{"Ann Confirmed", "Ida Abandoned"}, keep(ResultQuery{Result: FilterReached}))
	require.Equal(t, []string{"Gus Late", "Hal Machine"}, keep(ResultQuery{Result: FilterNotReached}))
	require.Equal(t, []string{"Cid New", "Dee Deferred", "Eve Busy", "Fay Ringing"}, keep(ResultQuery{Result: FilterOpen}))
	require.Equal(t, []string{"Bob Blocked"}, keep(ResultQuery{Result: "blocked"}))
	require.Empty(t, keep(ResultQuery{Result: "transferred"}), "a known result no contact has")
	require.Equal(t, []string{"Eve Busy"}, keep(ResultQuery{Result: FilterOpen, Search: "555-0105"}))
	require.Equal(t, []string{"Ann Confirmed"}, keep(ResultQuery{Search: "m-1"}))
	require.Empty(t, keep(ResultQuery{Result: FilterReached, Search: "Eve"}))

	_, err = s.CampaignContacts(ctx, id, ResultQuery{Result: "busy2"})
	require.ErrorIs(t, err, ErrFilter)
	_, err = s.CampaignContacts(ctx, 999999, ResultQuery{})
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.CampaignContacts(ctx, 999999, ResultQuery{Result: "busy2", Page: -1})
	require.ErrorIs(t, err, ErrNotFound, "no such campaign comes before a bad query")
	p, err = s.CampaignContacts(ctx, id, ResultQuery{PageSize: 4, Page: 3})
	require.NoError(t, err)
	require.Equal(t, 3, p.Pages)
	require.Len(t, p.Contacts, 1)
	require.Equal(t, "Ida Abandoned", p.Contacts[0].Name)
	for _, q := range []ResultQuery{{PageSize: 4, Page: 4}, {PageSize: MaxContactPageSize + 1}, {Page: -1}} {
		_, err = s.CampaignContacts(ctx, id, q)
		require.ErrorIs(t, err, ErrPage, "%+v", q)
	}

	// The CSV: every contact the filter keeps, without pages, with
	// formula-looking cells quoted.
	_, err = s.db.Exec(ctx, `UPDATE contacts SET name = '=Gus Late' WHERE id = $1`, ids["Gus Late"])
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, s.ExportCampaignContacts(ctx, id, ResultQuery{Result: FilterNotReached, PageSize: 1}, &buf))
	recs, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 3)
	require.Equal(t, resultsCSVHeader, recs[0])
	gus := map[string]string{}
	for _, rec := range recs[1:] {
		if rec[2] == "+18605550107" {
			for i, h := range recs[0] {
				gus[h] = rec[i]
			}
		}
	}
	require.Equal(t, "'=Gus Late", gus["name"], "a name a spreadsheet would read as a formula")
	require.Equal(t, "'=SUM(A1)", gus["external_ref"])
	require.Equal(t, "expired", gus["result"])
	require.Equal(t, "1", gus["calls"])
	require.Equal(t, "no_answer", gus["last_outcome"])
	require.Equal(t, "+18605550107", gus["phone"])
	require.ElementsMatch(t, []string{"'=Gus Late", "Hal Machine"}, []string{recs[1][1], recs[2][1]})
	buf.Reset()
	_, err = s.db.Exec(ctx, `UPDATE contacts SET accident_date = '2026-01-02' WHERE id = $1`, ids["Ann Confirmed"])
	require.NoError(t, err)
	require.NoError(t, s.ExportCampaignContacts(ctx, id, ResultQuery{Search: "ann"}, &buf))
	recs, err = csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, []string{"accident_date", "2026-01-02"}, []string{recs[0][22], recs[1][22]}, "the contact's accident date")
	require.Equal(t, []string{"line_type", "unknown"}, []string{recs[0][23], recs[1][23]}, "and its line type, last")
	require.Equal(t, []string{"Ann Confirmed", "confirmed", "2", "2", "allow", "confirmed", "1"},
		[]string{recs[1][1], recs[1][6], recs[1][7], recs[1][8], recs[1][10], recs[1][11], recs[1][12]})
	require.ErrorIs(t, s.ExportCampaignContacts(ctx, id, ResultQuery{Result: "x"}, &buf), ErrFilter)
	require.ErrorIs(t, s.ExportCampaignContacts(ctx, 999999, ResultQuery{}, &buf), ErrNotFound)

	r, err := s.CampaignResults(ctx, id)
	require.NoError(t, err)
	require.Equal(t, p.Results, r)
	r, err = s.CampaignResults(ctx, 999999)
	require.NoError(t, err)
	require.Zero(t, r.Total)

	// Cancelled, the campaign calls no one still to call: they are not
	// reached, with no next call; a call in progress finishes.
	_, err = s.Cancel(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []string{"Fay Ringing"}, keep(ResultQuery{Result: FilterOpen}))
	require.Equal(t, []string{"Cid New", "Dee Deferred", "Eve Busy"}, keep(ResultQuery{Result: ResultCancelled}))
	require.Equal(t, []string{"=Gus Late", "Cid New", "Dee Deferred", "Eve Busy", "Hal Machine"}, keep(ResultQuery{Result: FilterNotReached}), "renamed above")
	p, err = s.CampaignContacts(ctx, id, ResultQuery{Result: ResultCancelled})
	require.NoError(t, err)
	for _, c := range p.Contacts {
		require.Nil(t, c.Next, "%s: never called again", c.Name)
	}
	require.Contains(t, p.Results.Results, ResultCount{ResultCancelled, "Not called: the campaign was cancelled", 3})
	require.Contains(t, p.Results.Filters, ResultCount{FilterOpen, "Still to call", 1})

	// A message never spoken, failed after its tries: an attempt, no call.
	_, err = s.db.Exec(ctx, `INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome, not_placed)
		SELECT $1, id, 9, phone, '+18605550100', 'allow', '{}', 'p', '{}', 'ended', 'failed', 'its message could not be spoken' FROM contacts WHERE id = $2`,
		id, ids["Eve Busy"])
	require.NoError(t, err)
	p, err = s.CampaignContacts(ctx, id, ResultQuery{Search: "Eve"})
	require.NoError(t, err)
	require.Len(t, p.Contacts, 1)
	require.Equal(t, []int{1, 2}, []int{p.Contacts[0].Calls, p.Contacts[0].Attempts}, "one call placed, two attempts")
}

// TestReachedFollowsTheDialer keeps the results that the "reached" filter
// keeps the dialer's outcomes that reached a person, and only those.
func TestReachedFollowsTheDialer(t *testing.T) {
	t.Parallel()
	for _, r := range resultOrder {
		require.Equal(t, dialer.Outcome(r.Result).Reached(), r.Filter == FilterReached, r.Result)
	}
}

// TestNextCallFollowsTheSchedule: a contact's next call is shown when the
// campaign may call it, as the pacing loop calls: not at a retry time
// outside the calling window or days, nor in the past, nor after the end.
func TestNextCallFollowsTheSchedule(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	ctx := context.Background()
	listID := importList(t, s, "sched", "name,phone\nAnn,8605550101\nBob,8605550102\nCid,8605550103\n")
	c, err := s.Create(ctx, NewCampaign{Name: "Weekdays", Purpose: "informational", ListID: listID, CallerID: "860-555-0100", Message: "Hello.",
		Schedule: &Schedule{TimeZone: "America/New_York", WindowStart: "09:00", WindowEnd: "17:00", Days: []string{"mon", "tue", "wed", "thu", "fri"},
			EndsAt: "2099-12-20T17:00:00-05:00"}}, 0)
	require.NoError(t, err)
	due := func(name, at string) {
		t.Helper()
		_, err := s.db.Exec(ctx, `UPDATE campaign_targets t SET next_attempt_at = $3 FROM contacts k
			WHERE t.campaign_id = $1 AND k.id = t.contact_id AND k.name = $2`, c.ID, name, at)
		require.NoError(t, err)
	}
	due("Ann", "2099-12-04T18:30:00-05:00")                                           // a Friday evening retry: Monday at nine
	due("Bob", "2099-12-21T10:00:00-05:00")                                           // after the end: never
	due("Cid", "2000-01-01T00:00:00Z")                                                // long due: from now, in the window
	s.now = func() time.Time { return time.Date(2099, 12, 2, 20, 0, 0, 0, time.UTC) } // Wednesday 15:00 in New York
	p, err := s.CampaignContacts(ctx, c.ID, ResultQuery{})
	require.NoError(t, err)
	next := map[string]*time.Time{}
	for _, k := range p.Contacts {
		next[k.Name] = k.Next
	}
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	require.NotNil(t, next["Ann"])
	require.Equal(t, time.Date(2099, 12, 7, 9, 0, 0, 0, ny), next["Ann"].In(ny))
	require.Nil(t, next["Bob"], "the campaign ends first")
	require.NotNil(t, next["Cid"])
	require.Equal(t, time.Date(2099, 12, 2, 15, 0, 0, 0, ny), next["Cid"].In(ny), "now: the window is open")

	var buf bytes.Buffer
	require.NoError(t, s.ExportCampaignContacts(ctx, c.ID, ResultQuery{Search: "Ann"}, &buf))
	recs, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"next_call_at", "2099-12-07T14:00:00Z"}, []string{recs[0][14], recs[1][14]}, "and so does the export")
}
