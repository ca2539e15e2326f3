package campaign

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/phone"
)

// reportWorld is a campaign with contacts, and a way to record its
// attempts as the pacer does, for the calls report's tests.
type reportWorld struct {
	t      *testing.T
	s      *Service
	ctx    context.Context
	c      Campaign
	listID int64
	n      int
}

func newReportWorld(t *testing.T, contacts string) *reportWorld {
	s, _ := newService(t)
	ctx := context.Background()
	listID := importList(t, s, "rep", "name,phone\n"+contacts)
	c, err := s.Create(ctx, NewCampaign{Name: "Hearings", Purpose: "informational", ListID: listID, CallerID: "860-555-0100", Message: "Hello."}, 0)
	require.NoError(t, err)
	return &reportWorld{t: t, s: s, ctx: ctx, c: c, listID: listID}
}

// exec runs a statement.
func (w *reportWorld) exec(sql string, args ...any) {
	w.t.Helper()
	_, err := w.s.db.Exec(w.ctx, sql, args...)
	require.NoError(w.t, err)
}

// forge runs a statement that rewrites attempts (forgeAttempts).
func (w *reportWorld) forge(sql string, args ...any) {
	w.t.Helper()
	forgeAttempts(w.t, w.s.db, sql, args...)
}

// forgeAttempts runs a statement that rewrites attempts as heed never does
// (an attempt's decision, or a finished attempt): a fixture made by hand,
// with the guard that refuses it (migration 00039) turned off for the
// statement, as the database's owner could.
func forgeAttempts(t testing.TB, db *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
	_, err = tx.Exec(ctx, `ALTER TABLE attempts DISABLE TRIGGER attempts_guard`)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, sql, args...)
	require.NoError(t, err, sql)
	_, err = tx.Exec(ctx, `ALTER TABLE attempts ENABLE TRIGGER attempts_guard`)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
}

// id runs a statement returning one id.
func (w *reportWorld) id(sql string, args ...any) int64 {
	w.t.Helper()
	var id int64
	require.NoError(w.t, w.s.db.QueryRow(w.ctx, sql, args...).Scan(&id))
	return id
}

// seq is the change log's last position.
func (w *reportWorld) seq() int64 { return w.id(`SELECT coalesce(max(seq), 0) FROM index_changes`) }

// consent records a consent of phone, obtained at obtained.
func (w *reportWorld) consent(phone string, obtained time.Time) int64 {
	w.t.Helper()
	r, err := consent.NewLedger(w.s.db).AddConsent(w.ctx, consent.NewConsent{Phone: phone, Kind: consent.ConsentPEC, Scope: consent.PurposeInformational,
		Channel: consent.ChannelVoice, ObtainedAt: obtained, Source: "intake form"})
	require.NoError(w.t, err)
	return r.ID
}

// revoke records a revocation of phone, of scope (or every purpose).
func (w *reportWorld) revoke(phone string, at time.Time, scope consent.Purpose) int64 {
	w.t.Helper()
	r, err := consent.NewLedger(w.s.db).AddRevocation(w.ctx, consent.NewRevocation{Phone: phone, RevokedAt: at, Method: consent.RevokedByEmail, Scope: scope})
	require.NoError(w.t, err)
	return r.ID
}

// attempt records an attempt to phone, recorded at at, the gate having
// read the log up to seen (0: not kept) with top its last position then.
func (w *reportWorld) attempt(phone, decision string, reasons []string, consentID *int64, at time.Time, seen, top int64) int64 {
	w.t.Helper()
	w.n++
	const req = `"phone":%q,"purpose":"informational","method":"prerecorded","line":"landline"`
	input := fmt.Sprintf(`{`+req+`,"at":%q}`, phone, at.Add(-time.Hour).Format(time.RFC3339Nano)) // the dialer's clock, an hour behind
	if seen > 0 {
		input = fmt.Sprintf(`{`+req+`,"at":%q,"index_seq":%d,"index_top":%d}`, phone, at.Add(time.Hour).Format(time.RFC3339Nano), seen, top) // an hour ahead
	}
	return w.id(`
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, consent_id, decision_input, status, created_at)
		SELECT $1, k.id, $9, k.phone, '+18605550100', $2, $3, 'p', $4, $5, CASE $2 WHEN 'allow' THEN 'ended' WHEN 'deny' THEN 'blocked' ELSE 'deferred' END, $6
		  FROM contacts k WHERE k.list_id = $7 AND k.phone = $8 RETURNING id`,
		w.c.ID, decision, reasons, consentID, input, at, w.listID, phone, w.n)
}

// look records an allowing last look at attempt id, 40 s after it was
// recorded, with the indexes at seq and the log's top at top, relying on
// consent consentID (0: none), and the call's outcome.
func (w *reportWorld) look(id int64, outcome string, seq, top, consentID int64) {
	w.t.Helper()
	w.forge(`UPDATE attempts SET looked_at = created_at + interval '40 seconds', outcome = $2,
		last_look = jsonb_build_object('at', created_at + interval '40 seconds',
		                               'decision', jsonb_build_object('decision', 'allow', 'until', null, 'reasons', '[]'::jsonb, 'pack', 'p', 'consent_id', $5::bigint),
		                               'index_seq', $3::bigint, 'index_top', $4::bigint)
		WHERE id = $1`, id, outcome, seq, top, consentID)
}

// foundRow is what the tests compare of a finding.
type foundRow struct {
	kind    string
	attempt int64
	record  int64
	gate    string
	detail  string
}

// rowsOf returns what the tests compare of findings.
func rowsOf(fs []Finding) []foundRow {
	var out []foundRow
	for _, f := range fs {
		out = append(out, foundRow{f.Kind, f.AttemptID, f.Record, f.Gate, f.Detail})
	}
	return out
}

func TestCallsReport(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Ann,8605550101\nBob,8605550102\nCy,8605550103\nDee,8605550104\nEve,8605550105\nGil,8605550107\nHal,8605550108\nIvy,8605550109\nJo,8605550110\nKim,8605550111\n")
	jan := time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC)
	day := time.Date(2026, 11, 16, 15, 0, 0, 0, time.UTC)
	ann, bob, dee, eve, jo, kim := w.consent("8605550101", jan), w.consent("8605550102", jan), w.consent("8605550104", jan),
		w.consent("8605550105", jan), w.consent("8605550110", jan), w.consent("8605550111", jan)
	// Cy's consent is dated after his call (straight into the table: the
	// ledger refuses one from the future); Hal's expired before his.
	cy := w.id(`INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550103', 'pec', 'informational', 'voice', $1, 'form') RETURNING id`,
		day.Add(3*time.Hour))
	halExpiring := w.id(`INSERT INTO consents (phone, kind, scope, channel, obtained_at, source, expires_at) VALUES ('+18605550108', 'pec', 'informational', 'voice', $1, 'form', $2) RETURNING id`,
		jan.Add(time.Hour), day)
	// Gil opted out in June (a revocation of every purpose and an
	// internal entry) and consented again in July, which lifts both.
	w.consent("8605550107", jan)
	w.revoke("8605550107", time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC), "")
	w.exec(`INSERT INTO dnc_internal (phone, method, source, added_at) VALUES ('+18605550107', 'ivr', 'pressed 9', '2026-06-01T15:00:00Z')`)
	gil := w.consent("8605550107", time.Date(2026, 7, 1, 15, 0, 0, 0, time.UTC))
	// Ann has been on the internal list since Nov 1; Kim was on it until
	// the very instant of her call.
	annEntry := w.id(`INSERT INTO dnc_internal (phone, method, source, added_at) VALUES ('+18605550101', 'ivr', 'pressed 9', '2026-11-01T15:00:00Z') RETURNING id`)
	w.exec(`INSERT INTO dnc_internal (phone, method, source, added_at, removed_at) VALUES ('+18605550111', 'staff', 'typo', '2026-11-05T15:00:00Z', $1)`, day.Add(9*time.Hour))
	// Jo revoked an hour after her call, and the gate had it already.
	joRev := w.revoke("8605550110", day.Add(8*time.Hour), "")
	seen := w.seq()
	// Ivy's entry was committed while her call was being decided.
	ivyEntry := w.id(`INSERT INTO dnc_internal (phone, method, source, added_at) VALUES ('+18605550109', 'staff', 'asked', $1) RETURNING id`, day)
	top := w.seq()
	// Bob's revocation of every purpose, dated Nov 10, was entered after
	// his call; Dee's covers telemarketing only, which under heed's default
	// policy reaches every purpose; Eve's too, under a firm policy limiting
	// revocations to their purpose.
	bobRev := w.revoke("8605550102", time.Date(2026, 11, 10, 15, 0, 0, 0, time.UTC), "")
	deeRev := w.revoke("8605550104", time.Date(2026, 11, 10, 15, 0, 0, 0, time.UTC), consent.PurposeTelemarketing)
	w.revoke("8605550105", time.Date(2026, 11, 10, 15, 0, 0, 0, time.UTC), consent.PurposeTelemarketing)
	admin := w.id(`INSERT INTO users (email, role, password_hash) VALUES ('a@firm.test', 'admin', 'x') RETURNING id`)
	w.exec(`INSERT INTO firm_settings (version, policy, saved_by, saved_at) VALUES (1, '{"revocation_scope": "purpose"}', $1, $2)`, admin, day.Add(4*time.Hour+30*time.Minute))

	annCall := w.attempt("+18605550101", "allow", []string{}, &ann, day, seen, top)
	bobCall := w.attempt("+18605550102", "allow", []string{}, &bob, day.Add(time.Hour), seen, top)
	cyCall := w.attempt("+18605550103", "allow", []string{}, &cy, day.Add(2*time.Hour), seen, top)
	deeCall := w.attempt("+18605550104", "allow", []string{}, &dee, day.Add(4*time.Hour), seen, top)
	w.attempt("+18605550105", "allow", []string{}, &eve, day.Add(5*time.Hour), seen, top)
	gilCall := w.attempt("+18605550107", "allow", []string{}, &gil, day.Add(6*time.Hour), seen, top)
	halCall := w.attempt("+18605550108", "allow", []string{}, &halExpiring, day.Add(time.Minute), 0, 0)
	ivyCall := w.attempt("+18605550109", "allow", []string{}, nil, day.Add(7*time.Hour), seen, top)
	joCall := w.attempt("+18605550110", "allow", []string{}, &jo, day.Add(7*time.Hour+time.Minute), top, top)
	w.attempt("+18605550111", "allow", []string{}, &kim, day.Add(9*time.Hour), 0, 0)
	// Dee pressed 9 ten seconds into her call: not a finding.
	w.exec(`INSERT INTO dnc_internal (phone, method, source, added_at) VALUES ('+18605550104', 'ivr', 'pressed 9', $1)`, day.Add(4*time.Hour+10*time.Second))
	w.attempt("+18605550101", "deny", []string{"dnc.internal"}, nil, day.Add(10*time.Hour), seen, top)
	w.attempt("+18605550104", "defer", []string{"window.outside"}, nil, day.Add(11*time.Hour), seen, top)
	// Before the period: not counted, not checked.
	w.attempt("+18605550101", "allow", []string{}, &ann, day.Add(-48*time.Hour), seen, top)
	w.exec(`INSERT INTO dnc_internal (phone, method, source) VALUES ('+18605550199', 'staff', 'asked')`)

	// Ann and Bob were withdrawn today, and Bob put back.
	w.exec(`UPDATE campaign_targets SET skipped_at = now(), restored_at = CASE WHEN contact_id = (SELECT id FROM contacts WHERE list_id = $2 AND phone = '+18605550102') THEN now() END
		WHERE campaign_id = $1 AND contact_id IN (SELECT id FROM contacts WHERE list_id = $2 AND phone IN ('+18605550101', '+18605550102'))`, w.c.ID, w.listID)
	from, to := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC), time.Now().Add(24*time.Hour)
	r, err := w.s.CallsReport(w.ctx, from, to)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"allow": 10, "deny": 1, "defer": 1}, r.Decisions)
	require.Equal(t, map[string]int{"": 10}, r.Outcomes)
	require.Equal(t, map[string]map[string]int{"deny": {"dnc.internal": 1}, "defer": {"window.outside": 1}}, r.Reasons)
	require.Equal(t, map[string]int{"email": 5}, r.OptOuts, "the revocations recorded in the period, whenever dated")
	require.Equal(t, map[string]int{"staff": 2, "ivr": 1}, r.DNCAdded, "entries dated before the period are not counted")
	require.Equal(t, 10, r.Consents)
	require.Equal(t, 2, r.Withdrawn)
	require.Equal(t, 1, r.PutBack)
	require.Equal(t, 10, r.Checked)

	for _, f := range r.Findings {
		require.Equal(t, "Hearings", f.Campaign)
	}
	findings := rowsOf(r.Findings)
	require.Equal(t, []foundRow{
		{FindingRevoked, joCall, joRev, GateHad, "revoked 2026-11-16 23:00:00 UTC by email"},
		{FindingDNC, ivyCall, ivyEntry, GateLate, "staff: asked"},
		{FindingRevoked, deeCall, deeRev, GateAfter, "revoked 2026-11-10 15:00:00 UTC by email (telemarketing only)"},
		{FindingConsentTime, cyCall, cy, GateHad, "obtained 2026-11-16 18:00:00 UTC"},
		{FindingRevoked, bobCall, bobRev, GateAfter, "revoked 2026-11-10 15:00:00 UTC by email"},
		{FindingConsentTime, halCall, halExpiring, GateUnknown, "expired 2026-11-16 15:00:00 UTC"},
		{FindingDNC, annCall, annEntry, GateHad, "ivr: pressed 9"},
	}, findings, "newest first; Eve (her firm's policy then), Gil (consent again after his opt-out and its entry), Kim (taken off at the instant) and Dee's key press are not findings")
	require.Equal(t, 7, r.Found)
	require.Equal(t, 7, r.Calls)
	require.Equal(t, 3, r.Had)
	require.True(t, r.Findings[len(r.Findings)-1].DecidedAt.Equal(day), "when the attempt was recorded, by the database's clock: %s", r.Findings[6].DecidedAt)

	// The attempt records say which consent lifted an entry (Gil's) and
	// which did not (Ann's, given before hers).
	rec, err := w.s.AttemptRecord(w.ctx, w.c.ID, gilCall)
	require.NoError(t, err)
	require.Len(t, rec.DNC, 1)
	require.Equal(t, gil, rec.LiftedBy)
	rec, err = w.s.AttemptRecord(w.ctx, w.c.ID, annCall)
	require.NoError(t, err)
	require.Len(t, rec.DNC, 1)
	require.Zero(t, rec.LiftedBy)

	// A period with only Eve's call.
	r, err = w.s.CallsReport(w.ctx, day.Add(5*time.Hour), day.Add(5*time.Hour+time.Second))
	require.NoError(t, err)
	require.Equal(t, 1, r.Checked)
	require.Zero(t, r.Found)
	require.Empty(t, r.Findings)
	require.NotNil(t, r.Findings)

	// From the day the law makes every revocation reach every purpose,
	// Eve's firm's policy no longer limits hers.
	later := consent.RevokeAllFloorFrom().Add(16 * time.Hour) // 11:00 in Connecticut
	w.attempt("+18605550105", "allow", []string{}, &eve, later, seen, top)
	r, err = w.s.CallsReport(w.ctx, later, later.Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, 1, r.Found)
	require.Equal(t, FindingRevoked, r.Findings[0].Kind)

	_, err = w.s.CallsReport(w.ctx, to, from)
	require.ErrorIs(t, err, ErrPeriod)
}

// A report lists the newest findings and counts them all.
func TestCallsReportCutsFindings(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Ann,8605550101\n")
	w.exec(`INSERT INTO dnc_internal (phone, method, source, added_at) VALUES ('+18605550101', 'ivr', 'pressed 9', '2026-11-01T15:00:00Z')`)
	base := time.Date(2026, 11, 16, 15, 0, 0, 0, time.UTC)
	ann := w.consent("8605550101", base.AddDate(0, -1, 0))
	w.exec(`
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, consent_id, decision_input, status, created_at)
		SELECT $1, k.id, g, k.phone, '+18605550100', 'allow', '{}', 'p', $5, '{"method":"prerecorded"}', 'ended', $2::timestamptz + g * interval '1 second'
		  FROM contacts k, generate_series(1, $3::int) g WHERE k.list_id = $4`, w.c.ID, base, MaxReportFindings+1, w.listID, ann)
	r, err := w.s.CallsReport(w.ctx, base, base.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, MaxReportFindings+1, r.Found)
	require.Equal(t, MaxReportFindings+1, r.Calls)
	require.Len(t, r.Findings, MaxReportFindings)
	require.True(t, r.Findings[0].DecidedAt.Equal(base.Add(time.Duration(MaxReportFindings+1)*time.Second)), "newest first")
	require.True(t, r.Findings[MaxReportFindings-1].DecidedAt.Equal(base.Add(2*time.Second)), "the oldest is left out")
}

func TestReportPeriod(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	now := time.Date(2026, 11, 27, 15, 30, 0, 0, time.UTC) // 10:30 in New York
	for _, c := range []struct {
		from, to   string
		start, end string
	}{
		{"", "", "2026-10-28T00:00:00-04:00", "2026-11-27T15:30:00Z"},
		{"2026-11-01", "2026-11-01", "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00"}, // clocks fall back: 25 hours
		{"2026-03-08", "2026-03-08", "2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00"}, // spring forward: 23 hours
		{"", "2026-10-15", "2026-09-16T00:00:00-04:00", "2026-10-16T00:00:00-04:00"},           // 30 days to the 15th, included
		{"2026-11-20T12:00:00Z", "2026-11-21T12:00:00Z", "2026-11-20T12:00:00Z", "2026-11-21T12:00:00Z"},
	} {
		start, end, err := ReportPeriod(c.from, c.to, ny, now)
		require.NoError(t, err, "%+v", c)
		want := func(s string) time.Time {
			v, err := time.Parse(time.RFC3339, s)
			require.NoError(t, err)
			return v
		}
		require.True(t, start.Equal(want(c.start)), "%+v: start %s", c, start)
		require.True(t, end.Equal(want(c.end)), "%+v: end %s", c, end)
	}
	_, _, err = ReportPeriod("yesterday", "", ny, now)
	require.ErrorIs(t, err, ErrInvalid)
	_, _, err = ReportPeriod("", "2026-13-01", ny, now)
	require.ErrorIs(t, err, ErrInvalid)
	_, _, err = ReportPeriod("2026-11-03", "2026-11-01", ny, now)
	require.ErrorIs(t, err, ErrPeriod)
	require.ErrorContains(t, err, "from 2026-11-03T00:00:00-05:00 to 2026-11-02T00:00:00-05:00")
}

// call records an allowed call to phone, recorded at rec, with its pack and
// decision input as the pacer writes them (req holds the input's fields
// beside phone and at, with the dialer's clock a minute behind).
func (w *reportWorld) call(phone string, rec time.Time, pack, req string) int64 {
	w.t.Helper()
	w.n++
	input := fmt.Sprintf(`{"phone":%q,"at":%q,%s}`, phone, rec.Add(-time.Minute).Format(time.RFC3339Nano), req)
	return w.id(`
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, created_at, originated_at)
		SELECT $1, k.id, $2, k.phone, '+18605550100', 'allow', '{}', $3, $4, 'ended', $5, $5 FROM contacts k WHERE k.list_id = $6 AND k.phone = $7 RETURNING id`,
		w.c.ID, w.n, pack, input, rec, w.listID, phone)
}

// history renders calls as a decision input's history (Attempt's JSON).
func history(calls ...time.Time) string {
	parts := make([]string, len(calls))
	for i, c := range calls {
		parts[i] = fmt.Sprintf(`{"At":%q,"Purpose":"informational","Method":"prerecorded","Conversation":false}`, c.Format(time.RFC3339Nano))
	}
	return `"history":[` + strings.Join(parts, ",") + `]`
}

// The report re-decides every allowed call from the records with the
// engine of the policy it was decided under: as its request was recorded,
// at the instant it was placed, then with the calls recorded before it in
// place of its history.
func TestCallsReportRedecides(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Ann,8605550101\nBob,8605550102\nCy,8605550103\nDee,8605550104\nDee,8605550124\nEve,8605550105\nFay,8605550106\n"+
		"Gus,8605550107\nHal,8605550108\nIda,8605550109\nIvan,8605550110\nJan,8605550111\nKai,8605550112\nLou,8605550113\nMo,8605550114\n"+
		"Ned,8605550115\nNed,8605550125\nOz,8605550116\nPat,8605550117\nQuinn,8605550118\nZed,8605550127\nYul,8605550128\nKay,8605550130\nLia,8605550131\nMax,8605550132\n")
	day := time.Date(2026, 11, 16, 15, 0, 0, 0, time.UTC) // 10:00 in Connecticut
	pack := consent.PackVersion(nil, consent.FirmPolicy{})
	const landline = `"purpose":"informational","method":"prerecorded","line":"landline"`
	// Informational robocalls to a landline without consent: three in 30
	// days (cap.residential), each decided with the calls before it.
	prior := func(phone string, lie bool) []time.Time {
		var at []time.Time
		for i, d := range []int{-9, -6, -3} {
			h := history(at...)
			if lie && i > 0 {
				h = history()
			}
			w.call(phone, day.AddDate(0, 0, d), pack, landline+","+h)
			at = append(at, day.AddDate(0, 0, d))
		}
		return at
	}
	// Ann's fourth was allowed with the three in its history: the gate
	// had them.
	annCalls := prior("+18605550101", false)
	ann := w.call("+18605550101", day, pack, landline+","+history(annCalls...))
	// Bob's fourth listed only his latest call; his second and third
	// listed none, and were within the cap all the same.
	bobCalls := prior("+18605550102", true)
	bob := w.call("+18605550102", day.Add(time.Minute), pack, landline+","+history(bobCalls[2]))
	// Cy's call was decided at 21:30 in Connecticut, after the federal
	// 08:00-21:00 window.
	cy := w.call("+18605550103", time.Date(2026, 11, 17, 2, 31, 0, 0, time.UTC), pack, landline)
	// Dee has two numbers: her second was called three times, and the
	// call to her first counted her numbers but listed none of them.
	for _, d := range []int{-8, -5, -2} {
		w.call("+18605550124", day.AddDate(0, 0, d), pack, landline)
	}
	dee := w.call("+18605550104", day.Add(2*time.Minute), pack,
		landline+`,"history_of":{"person_ref":"dee","numbers":["+18605550104","+18605550124"]}`)
	// Eve's three earlier attempts in the month were denied or deferred,
	// and her three calls more than 31 days before: none counts.
	w.attempt("+18605550105", "deny", []string{"dnc.internal"}, nil, day.AddDate(0, 0, -3), 0, 0)
	w.attempt("+18605550105", "defer", []string{"window.outside"}, nil, day.AddDate(0, 0, -2), 0, 0)
	w.attempt("+18605550105", "deny", []string{"dnc.internal"}, nil, day.AddDate(0, 0, -1), 0, 0)
	w.call("+18605550105", day.AddDate(0, 0, -40), pack, landline)
	w.call("+18605550105", day.AddDate(0, 0, -35), pack, landline)
	w.call("+18605550105", day.AddDate(0, 0, -33), pack, landline)
	w.call("+18605550105", day.Add(3*time.Minute), pack, landline)

	// Debt collection: Ivan spoke on a call two days ago, which his next
	// call's request listed as no conversation (rule R2's seven quiet
	// days); Jan's earlier call was answered, and ended only after his
	// next was decided: his person was on the line, and the gate had the
	// call still going on in hand (an open call, which it waits for).
	dc, err := w.s.Create(w.ctx, NewCampaign{Name: "Balances", Purpose: "debt_collection", ListID: w.listID, CallerID: "860-555-0100", Message: "Hello."}, 0)
	require.NoError(t, err)
	const debt = `"purpose":"debt_collection","method":"live","line":"landline"`
	spoke := w.call("+18605550110", day.AddDate(0, 0, -2), pack, debt)
	w.forge(`UPDATE attempts SET campaign_id = $2, outcome = 'answered', answered_at = created_at, ended_at = created_at + interval '2 minutes' WHERE id = $1`, spoke, dc.ID)
	ivan := w.call("+18605550110", day.Add(4*time.Minute), pack, debt+","+history(day.AddDate(0, 0, -2)))
	w.forge(`UPDATE attempts SET campaign_id = $2 WHERE id = $1`, ivan, dc.ID)
	talking := w.call("+18605550111", day.Add(5*time.Minute), pack, debt)
	w.forge(`UPDATE attempts SET campaign_id = $2, outcome = 'answered', answered_at = created_at, ended_at = created_at + interval '10 minutes' WHERE id = $1`, talking, dc.ID)
	jan := w.call("+18605550111", day.Add(7*time.Minute), pack, debt+","+history(day.Add(5*time.Minute)))
	w.forge(`UPDATE attempts SET campaign_id = $2 WHERE id = $1`, jan, dc.ID)

	// Zed's earlier call ended thirty seconds before his next was decided,
	// which listed it as no conversation: its end may not have been
	// written yet.
	spokeLate := w.call("+18605550127", day.Add(12*time.Minute), pack, debt)
	w.forge(`UPDATE attempts SET campaign_id = $2, outcome = 'answered', answered_at = created_at, ended_at = $3 WHERE id = $1`,
		spokeLate, dc.ID, day.Add(13*time.Minute+30*time.Second))
	zed := w.call("+18605550127", day.Add(15*time.Minute), pack, debt+","+history(day.Add(12*time.Minute)))
	w.forge(`UPDATE attempts SET campaign_id = $2 WHERE id = $1`, zed, dc.ID)
	// Kay's earlier call too, and her next call's request listed it still
	// open, past the 15 minutes an open call holds a person: its end, too,
	// may have been written after the history was read. Lia's earlier call
	// was answered and left open by a stopped process, and recovery closed
	// it a day later, its outcome unknown: a conversation, which ended at
	// the latest 15 minutes after it was placed, not when recovery ran.
	openLate := w.call("+18605550130", day.Add(20*time.Minute), pack, debt)
	w.forge(`UPDATE attempts SET campaign_id = $2, outcome = 'answered', answered_at = created_at, ended_at = $3 WHERE id = $1`,
		openLate, dc.ID, day.Add(38*time.Minute+30*time.Second))
	kay := w.call("+18605550130", day.Add(40*time.Minute), pack, debt+","+strings.Replace(history(day.Add(20*time.Minute)), `}]`, `,"Open":true}]`, 1))
	w.forge(`UPDATE attempts SET campaign_id = $2 WHERE id = $1`, kay, dc.ID)
	recovered := w.call("+18605550131", day.AddDate(0, 0, -8).Add(time.Hour), pack, debt)
	w.forge(`UPDATE attempts SET campaign_id = $2, outcome = 'unknown', answered_at = created_at, ended_at = created_at + interval '1 day' WHERE id = $1`,
		recovered, dc.ID)
	lia := w.call("+18605550131", day.Add(50*time.Minute), pack, debt+","+history(day.AddDate(0, 0, -8).Add(time.Hour)))
	w.forge(`UPDATE attempts SET campaign_id = $2 WHERE id = $1`, lia, dc.ID)
	// Max's earlier call was recovered too, hours later; it ended at the
	// latest 15 minutes after it was placed, thirty seconds before his next
	// was decided, which listed it as no conversation: that end is late.
	gone := w.call("+18605550132", day.Add(60*time.Minute), pack, debt)
	w.forge(`UPDATE attempts SET campaign_id = $2, outcome = 'unknown', answered_at = created_at, ended_at = created_at + interval '3 hours' WHERE id = $1`,
		gone, dc.ID)
	maxCall := w.call("+18605550132", day.Add(76*time.Minute+30*time.Second), pack, debt+","+history(day.Add(60*time.Minute)))
	w.forge(`UPDATE attempts SET campaign_id = $2 WHERE id = $1`, maxCall, dc.ID)

	// Kai's call was decided for 20:58:30 and placed at 21:00:30. Yul's
	// too, but its placing was never written: its time is its answer's.
	kaiAt := time.Date(2026, 11, 17, 1, 59, 30, 0, time.UTC)
	kai := w.call("+18605550112", kaiAt, pack, landline)
	w.forge(`UPDATE attempts SET originated_at = $2 WHERE id = $1`, kai, kaiAt.Add(time.Minute))
	yul := w.call("+18605550128", kaiAt.Add(time.Second), pack, landline)
	w.forge(`UPDATE attempts SET originated_at = $2, answered_at = $2 WHERE id = $1`, yul, kaiAt.Add(time.Minute))
	// Lou's call to his mobile relied on his consent to sales calls; Mo's
	// on his consent to reminders.
	const mobile = `"purpose":"informational","method":"prerecorded","line":"wireless"`
	lou := w.call("+18605550113", day.Add(8*time.Minute), pack, mobile)
	louConsent := w.id(`INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550113', 'pewc', 'telemarketing', 'voice', $1, 'form') RETURNING id`, day.AddDate(0, -1, 0))
	mo := w.call("+18605550114", day.Add(9*time.Minute), pack, mobile)
	w.forge(`UPDATE attempts SET consent_id = CASE id WHEN $1 THEN $2::bigint ELSE $4::bigint END WHERE id IN ($1, $3)`, lou, louConsent, mo,
		w.consent("8605550114", day.AddDate(0, -1, 0)))
	// Ned's numbers were called in one batch, his second a moment before
	// his first, both decided on the two earlier calls to his second. The
	// pacer holds back a target whose history counts a number its batch
	// has called, so his first is a finding: with the batch's call to his
	// second, it was his fourth in 30 days.
	for _, d := range []int{-6, -4} {
		w.call("+18605550125", day.AddDate(0, 0, d), pack, landline)
	}
	batch := day.Add(10 * time.Minute)
	w.call("+18605550125", batch, pack, landline+","+history(day.AddDate(0, 0, -6), day.AddDate(0, 0, -4)))
	w.forge(`UPDATE attempts SET decision_input = jsonb_set(decision_input, '{at}', to_jsonb($1::timestamptz)) WHERE created_at = $2`, batch, batch)
	ned := w.call("+18605550115", batch.Add(time.Second), pack, landline+","+history(day.AddDate(0, 0, -6), day.AddDate(0, 0, -4))+
		`,"history_of":{"person_ref":"ned","numbers":["+18605550115","+18605550125"]}`)
	w.forge(`UPDATE attempts SET decision_input = jsonb_set(decision_input, '{at}', to_jsonb($1::timestamptz)) WHERE id = $2`, batch, ned)
	// Pat's sales call, with his written consent, was placed with a
	// national registry copy installed ten days before, dated the day
	// before that.
	w.exec(`INSERT INTO dnc_list_installs (list, version, as_of, count, source, installed_at) VALUES ('national', 1, $1, 0, 'test', $2)`,
		day.AddDate(0, 0, -11), day.AddDate(0, 0, -10))
	tm, err := w.s.Create(w.ctx, NewCampaign{Name: "Offers", Purpose: "telemarketing", ListID: w.listID, CallerID: "860-555-0100", Message: "Hello."}, 0)
	require.NoError(t, err)
	w.forge(`UPDATE attempts SET campaign_id = $2, consent_id = $3 WHERE id = $1`,
		w.call("+18605550117", day.Add(15*time.Minute), pack, `"purpose":"telemarketing","method":"live","line":"landline"`), tm.ID,
		w.id(`INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550117', 'pewc', 'telemarketing', 'voice', $1, 'form') RETURNING id`,
			day.AddDate(0, -1, 0)))
	// Quinn's call in the sales campaign was decided as a reminder.
	quinn := w.call("+18605550118", day.Add(16*time.Minute), pack, landline)
	w.forge(`UPDATE attempts SET campaign_id = $2 WHERE id = $1`, quinn, tm.ID)
	// Oz's dialer clock was two hours ahead of the database's when it
	// placed his call.
	oz := w.call("+18605550116", day.Add(11*time.Minute), pack, landline)
	w.forge(`UPDATE attempts SET originated_at = created_at + interval '2 hours' WHERE id = $1`, oz)

	// From noon the firm calls clients from 10:00 only (v1); v2, saved by
	// an older heed, calls from 07:00, which this one refuses.
	admin := w.id(`INSERT INTO users (email, role, password_hash) VALUES ('a@firm.test', 'admin', 'x') RETURNING id`)
	noon := day.Add(2 * time.Hour)
	w.exec(`INSERT INTO firm_settings (version, policy, saved_by, saved_at) VALUES (1, '{"windows": {"informational": "10:00-20:00"}}', $1, $2),
		(2, '{"windows": {"informational": "07:00-20:00"}}', $1, $3)`, admin, noon, noon.Add(time.Hour))
	v1 := consent.PackVersion(nil, consent.FirmPolicy{Version: "v1",
		Windows: map[consent.Purpose]consent.Window{consent.PurposeInformational: {Start: 10 * time.Hour, End: 20 * time.Hour}}})
	v2 := consent.PackVersion(nil, consent.FirmPolicy{Version: "v2",
		Windows: map[consent.Purpose]consent.Window{consent.PurposeInformational: {Start: 7 * time.Hour, End: 20 * time.Hour}}})
	// Fay's call at 09:35 the next day was decided under heed's defaults
	// (a dialer that had not yet loaded v1): the law allows it. Gus's was
	// decided under v1, which does not. Hal's under a pack of another
	// release and Ida's under v2 are not decided again.
	next := day.AddDate(0, 0, 1).Add(-25 * time.Minute)
	w.call("+18605550106", next, pack, landline)
	gus := w.call("+18605550107", next.Add(time.Second), v1, landline)
	w.call("+18605550108", next.Add(2*time.Second), "federal@2025.1", landline)
	w.call("+18605550109", next.Add(3*time.Second), v2, landline)

	r, err := w.s.CallsReport(w.ctx, day.AddDate(0, 0, -60), day.AddDate(0, 0, 2))
	require.NoError(t, err)
	for _, f := range r.Findings {
		require.True(t, f.RecordedAt.IsZero())
	}
	until := func(t time.Time) string { return " until " + t.UTC().Format(reportTime) }
	held := ", with the 3 call(s) the records hold before it in the 31 days before it; its request listed "
	require.Equal(t, []foundRow{
		{FindingRule, gus, 0, GateHad, "defer" + until(next.Add(25*time.Minute)) + ": window.outside under " + v1},
		{FindingRule, cy, 0, GateHad, "defer" + until(time.Date(2026, 11, 17, 13, 0, 0, 0, time.UTC)) + ": window.outside under " + pack},
		{FindingPlaced, kai, 0, GateHad, "defer" + until(time.Date(2026, 11, 17, 13, 0, 0, 0, time.UTC)) + ": window.outside under " + pack +
			", at 2026-11-17 02:00:30 UTC, when it was placed; decided for 2026-11-17 01:58:30 UTC"},
		{FindingHistory, maxCall, 0, GateLate, "defer" + until(day.Add(75*time.Minute).AddDate(0, 0, 7)) + ": cap.after_conversation under " + pack +
			", with the 1 call(s) the records hold before it in the 31 days before it; its request listed 1"},
		{FindingHistory, kay, 0, GateLate, "defer" + until(day.Add(38*time.Minute+30*time.Second).AddDate(0, 0, 7)) + ": cap.after_conversation under " + pack +
			", with the 1 call(s) the records hold before it in the 31 days before it; its request listed 1"},
		{FindingRule, quinn, 0, GateHad, "deny: consent.missing under " + pack},
		{FindingHistory, zed, 0, GateLate, "defer" + until(day.Add(13*time.Minute+30*time.Second).AddDate(0, 0, 7)) + ": cap.after_conversation under " + pack +
			", with the 1 call(s) the records hold before it in the 31 days before it; its request listed 1"},
		{FindingHistory, ned, 0, GateHad, "deny: cap.residential under " + pack + held + "2"},
		{FindingRule, lou, 0, GateHad, fmt.Sprintf("deny: consent.missing under %s; the consent it relied on (%d) is not for this number, the campaign's purpose and calls", pack, louConsent)},
		{FindingHistory, jan, 0, GateHad, "defer" + until(day.Add(15*time.Minute).AddDate(0, 0, 7)) + ": cap.after_conversation under " + pack +
			", with the 1 call(s) the records hold before it in the 31 days before it; its request listed 1"},
		{FindingHistory, ivan, 0, GateHad, "defer" + until(day.AddDate(0, 0, 5).Add(2*time.Minute)) + ": cap.after_conversation under " + pack +
			", with the 1 call(s) the records hold before it in the 31 days before it; its request listed 1"},
		{FindingHistory, dee, 0, GateHad, "deny: cap.residential under " + pack + held + "0"},
		{FindingHistory, bob, 0, GateHad, "deny: cap.residential under " + pack + held + "1"},
		{FindingRule, ann, 0, GateHad, "deny: cap.residential under " + pack},
	}, rowsOf(r.Findings), "newest first; Bob's second and third, Eve's, Fay's, Lia's, Mo's, Ned's second, Pat's and Yul's calls are not findings")
	require.Equal(t, 14, r.Found)
	require.Equal(t, 14, r.Calls)
	require.Equal(t, 11, r.Had, "all but Zed's, Kay's and Max's")
	require.Equal(t, 44, r.Checked)
	require.Equal(t, 2, r.NotRedecided, "Hal's and Ida's")
	require.Equal(t, 1, r.ClockApart, "Oz's")
	require.InDelta(t, 7200, r.ClockApartMost, 1)
}

// A call that relied on a logged override is decided again without it
// when the records do not show it in force.
func TestCallsReportOverrides(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Abe,8605550131\nBen,8605550132\nCal,8605550133\nDan,8605550134\nEli,8605550135\nFay,8605550136\nGil,8605550137\nHal,8605550138\n")
	pack := consent.PackVersion(nil, consent.FirmPolicy{})
	dc, err := w.s.Create(w.ctx, NewCampaign{Name: "Balances", Purpose: "debt_collection", ListID: w.listID, CallerID: "860-555-0100", Message: "Hello."}, 0)
	require.NoError(t, err)
	// Overrides are dated by the database's clock, now, and last seven
	// days: the calls are on the next weekday, at 11:00 in Connecticut.
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	day := time.Now().In(ny).AddDate(0, 0, 1)
	for day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
		day = day.AddDate(0, 0, 1)
	}
	at := time.Date(day.Year(), day.Month(), day.Day(), 11, 0, 0, 0, ny)
	atty := w.id(`INSERT INTO users (email, role, password_hash) VALUES ('atty@firm.test', 'attorney', 'x') RETURNING id`)
	logOverride := func(number string) int64 {
		return w.id(`INSERT INTO overrides (phone, kind, note, logged_by, via) VALUES ($1, 'regf_direct_consent', 'asked for more calls this week', $2, 'cli')
			RETURNING id`, number, atty)
	}
	abeOverride, benOverride := logOverride("+18605550131"), logOverride("+18605550132")
	w.exec(`INSERT INTO override_withdrawals (override_id, phone, reason, withdrawn_by, via) VALUES ($1, '+18605550132', 'logged by mistake', $2, 'cli')`, benOverride, atty)
	// Each call came after seven in the seven days before (Reg F's cap,
	// rule R1), which its request says an override lifted: Abe's, in
	// force; Ben's, withdrawn before the call; one never logged (Cal's);
	// and Abe's again, for Dan.
	call := func(number string, id int64, at time.Time) int64 {
		var seven []time.Time
		for i := 1; i <= 7; i++ {
			seven = append(seven, at.Add(-time.Duration(i)*20*time.Hour))
		}
		a := w.call(number, at, pack, fmt.Sprintf(`"purpose":"debt_collection","method":"live","line":"landline",%s,"overrides":{"regf_direct_consent":true,"regf_override_id":%d}`,
			strings.ReplaceAll(history(seven...), "informational", "debt_collection"), id))
		w.forge(`UPDATE attempts SET campaign_id = $2, decision_input = jsonb_set(decision_input, '{at}', to_jsonb($3::timestamptz)) WHERE id = $1`, a, dc.ID, at)
		return a
	}
	call("+18605550131", abeOverride, at)
	ben := call("+18605550132", benOverride, at)
	cal := call("+18605550133", 999999, at)
	dan := call("+18605550134", abeOverride, at)
	// Eli's call, on a day before these, relied on an override logged
	// since.
	eli := call("+18605550135", logOverride("+18605550135"), time.Date(2026, 11, 18, 16, 0, 0, 0, time.UTC))
	// Fay's was withdrawn half a minute before her call (dated so by
	// hand: the trigger dates a withdrawal now): it may have committed
	// after the batch read her overrides. Gil's request names no override.
	fayOverride := logOverride("+18605550136")
	w.exec(`ALTER TABLE override_withdrawals DISABLE TRIGGER override_withdrawals_write`)
	w.exec(`INSERT INTO override_withdrawals (override_id, phone, reason, withdrawn_by, via, withdrawn_at) VALUES ($1, '+18605550136', 'asked to stop', $2, 'cli', $3)`,
		fayOverride, atty, at.Add(-30*time.Second))
	w.exec(`ALTER TABLE override_withdrawals ENABLE TRIGGER override_withdrawals_write`)
	fay := call("+18605550136", fayOverride, at.Add(time.Second))
	gil := call("+18605550137", 0, at.Add(2*time.Second))
	// Hal's override expired ninety seconds after his call was decided,
	// and half a minute before it was placed.
	halOverride := w.id(`INSERT INTO overrides (phone, kind, note, logged_by, via, expires_at) VALUES ('+18605550138', 'regf_direct_consent', 'asked for more calls this week', $1, 'cli', $2)
		RETURNING id`, atty, at.Add(30*time.Second))
	hal := call("+18605550138", halOverride, at.Add(-time.Minute))
	w.forge(`UPDATE attempts SET originated_at = created_at + interval '2 minutes',
		decision_input = jsonb_set(decision_input, '{overrides,regf_until}', to_jsonb($2::timestamptz)) WHERE id = $1`, hal, at.Add(30*time.Second))

	r, err := w.s.CallsReport(w.ctx, time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC), at.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 8, r.Checked)
	var got []int64
	for _, f := range r.Findings {
		got = append(got, f.AttemptID)
		if f.AttemptID == hal {
			require.Equal(t, FindingPlaced, f.Kind)
			require.Regexp(t, `^defer until .*: cap\.frequency under .*, when it was placed`, f.Detail)
			continue
		}
		require.Equal(t, FindingOverride, f.Kind)
		if f.AttemptID == fay {
			require.Equal(t, GateLate, f.Gate)
		} else {
			require.Equal(t, GateHad, f.Gate)
		}
		require.Regexp(t, `^defer until .*: cap\.frequency under `+regexp.QuoteMeta(pack)+`, without override (\d+ \()?regf_direct_consent\)?, which the records do not show in force at `, f.Detail)
	}
	require.Equal(t, []int64{gil, fay, dan, cal, ben, hal, eli}, got, "Abe's override was in force")
	require.Contains(t, r.Findings[0].Detail, "without override regf_direct_consent, which", "Gil's request named none")
	require.Contains(t, r.Findings[3].Detail, "without override 999999 (regf_direct_consent)")
}

// At most MaxConcurrentReports reports run at once; another waits.
func TestCallsReportsWaitTheirTurn(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Ann,8605550101\n")
	for range MaxConcurrentReports {
		w.s.reports <- struct{}{} // reports running
	}
	ctx, cancel := context.WithTimeout(w.ctx, 100*time.Millisecond)
	defer cancel()
	_, err := w.s.CallsReport(ctx, time.Time{}, time.Now())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	<-w.s.reports // one finishes
	r, err := w.s.CallsReport(w.ctx, time.Time{}, time.Now())
	require.NoError(t, err)
	require.Zero(t, r.Checked)
}

// newestFindings keeps the newest MaxReportFindings of both lists.
func TestNewestFindings(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 16, 15, 0, 0, 0, time.UTC)
	list := func(kind string, from, n int) []Finding {
		var out []Finding
		for i := from + n - 1; i >= from; i-- {
			out = append(out, Finding{Kind: kind, AttemptID: int64(i), DecidedAt: at.Add(time.Duration(i/2) * time.Second)})
		}
		return out
	}
	// Records' findings of attempts 0-799, re-decided ones of 600-1399:
	// the newest 1,000 are the re-decided ones of 1399 down to 800, then
	// both of each attempt from 799 down to 600, the records' first.
	got := newestFindings(list("dnc.internal", 0, 800), list(FindingRule, 600, 800))
	require.Len(t, got, MaxReportFindings)
	require.Equal(t, Finding{Kind: FindingRule, AttemptID: 1399, DecidedAt: at.Add(699 * time.Second)}, got[0])
	require.Equal(t, []string{"dnc.internal", FindingRule}, []string{got[600].Kind, got[601].Kind})
	require.Equal(t, int64(799), got[600].AttemptID)
	require.Equal(t, int64(799), got[601].AttemptID)
	for i := 1; i < len(got); i++ {
		require.False(t, newerFinding(got[i], got[i-1]), "in order at %d", i)
	}
	require.Equal(t, Finding{Kind: FindingRule, AttemptID: 600, DecidedAt: at.Add(300 * time.Second)}, got[len(got)-1])
	require.Empty(t, newestFindings(nil, nil))
}

// With the registry lists' files, the report re-decides each allowed call
// with the copies that hold its number: those its attempt says the gate
// read, then those installed when it was recorded. The engine says
// whether a listing matters.
func TestCallsReportRegistryCopies(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Pat,8605550117\nSam,8605550119\nTia,8605550120\nUma,8605550121\nVic,8605550122\nWes,8605550123\nXan,8605550126\nYan,8605550129\n")
	day := time.Date(2026, 11, 16, 15, 0, 0, 0, time.UTC) // 10:00 in Connecticut
	pack := consent.PackVersion(nil, consent.FirmPolicy{})
	dir := t.TempDir()
	reg := dnc.NewRegistry(w.s.db, dir)
	// install installs a copy of list holding numbers, as of asOf, and
	// dates its install at.
	install := func(list dnc.ListID, asOf, at time.Time, numbers ...string) int64 {
		var b dnc.Builder
		for _, p := range numbers {
			n, err := phone.Number(p).NANP()
			require.NoError(t, err)
			require.NoError(t, b.Add(n))
		}
		in, err := reg.Install(w.ctx, list, asOf, "test", b.Build(), 0)
		require.NoError(t, err)
		// Dated as the test needs: its rows are never changed otherwise.
		w.exec(`ALTER TABLE dnc_list_installs DISABLE TRIGGER dnc_list_installs_append_only`)
		defer w.exec(`ALTER TABLE dnc_list_installs ENABLE TRIGGER dnc_list_installs_append_only`)
		return w.id(`UPDATE dnc_list_installs SET installed_at = $3 WHERE list = $1 AND version = $2 RETURNING id`, list.String(), in.Version, at)
	}
	ct, err := dnc.StateList("CT")
	require.NoError(t, err)
	// Pat and Sam are on the national registry and Sam on Connecticut's.
	// Vic and Wes were on the litigator list until its second copy,
	// installed a second before Tia's call, which lists her and Xan; Uma
	// joined it after her call.
	install(dnc.National, day.AddDate(0, 0, -11), day.AddDate(0, 0, -10), "+18605550117", "+18605550119")
	stateCopy := install(ct, day.AddDate(0, 0, -11), day.AddDate(0, 0, -10), "+18605550119")
	firstLitigators := install(dnc.Litigator, day.AddDate(0, 0, -11), day.AddDate(0, 0, -10), "+18605550122", "+18605550123")
	litigators := install(dnc.Litigator, day.AddDate(0, 0, -1), day.Add(2*time.Minute-time.Second), "+18605550120", "+18605550126")
	install(dnc.Litigator, day, day.Add(time.Hour), "+18605550120", "+18605550121", "+18605550126")

	tm, err := w.s.Create(w.ctx, NewCampaign{Name: "Offers", Purpose: "telemarketing", ListID: w.listID, CallerID: "860-555-0100", Message: "Hello."}, 0)
	require.NoError(t, err)
	// read records the registry copies the gate read for attempt id
	// (none: an attempt from before heed kept them).
	read := func(id int64, lists string) int64 {
		if lists != "" {
			w.forge(`UPDATE attempts SET decision_input = decision_input || jsonb_build_object('lists', $2::jsonb) WHERE id = $1`, id, lists)
		}
		return id
	}
	const before, after = `{"national": 1, "state:CT": 1, "litigator": 1}`, `{"national": 1, "state:CT": 1, "litigator": 2}`
	// Pat and Sam gave written consent to sales calls, which the national
	// registry yields to (rule F4) and Connecticut's does not.
	sales := func(number string, rec time.Time) int64 {
		id := w.call(number, rec, pack, `"purpose":"telemarketing","method":"live","line":"landline"`)
		w.forge(`UPDATE attempts SET campaign_id = $2, consent_id = $3 WHERE id = $1`, id, tm.ID,
			w.id(`INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ($1, 'pewc', 'telemarketing', 'voice', $2, 'form') RETURNING id`,
				number, day.AddDate(0, -1, 0)))
		return read(id, before)
	}
	sales("+18605550117", day)
	sam := sales("+18605550119", day.Add(time.Minute))
	const reminder = `"purpose":"informational","method":"prerecorded","line":"landline"`
	// Tia's gate had not loaded the second litigator copy yet; Vic's had;
	// Wes's had not, and the first listed him.
	tia := read(w.call("+18605550120", day.Add(2*time.Minute), pack, reminder), before)
	read(w.call("+18605550122", day.Add(3*time.Minute), pack, reminder), after)
	wes := read(w.call("+18605550123", day.Add(3*time.Minute+time.Second), pack, reminder), before)
	// Uma's and Xan's attempts do not say what their gate read; Yan's
	// names a copy never installed (a damaged record).
	w.call("+18605550121", day.Add(4*time.Minute), pack, reminder)
	xan := w.call("+18605550126", day.Add(5*time.Minute), pack, reminder)
	read(w.call("+18605550129", day.Add(6*time.Minute), pack, reminder), `{"litigator": 9}`)

	from, to := day.AddDate(0, 0, -1), day.AddDate(0, 0, 1)
	r, err := w.s.CallsReport(w.ctx, from, to)
	require.NoError(t, err)
	require.Zero(t, r.Found, "without the files, the copies are not checked: %+v", r.Findings)
	require.False(t, r.RegistryChecked)

	w.s.Copies = reg
	r, err = w.s.CallsReport(w.ctx, from, to)
	require.NoError(t, err)
	findings := rowsOf(r.Findings)
	require.Equal(t, []foundRow{
		{FindingRegistry, xan, litigators, GateUnknown, "litigator version 2, as of 2026-11-15: deny: dnc.litigator under " + pack},
		{FindingRegistry, wes, firstLitigators, GateHad, "litigator version 1, as of 2026-11-05: deny: dnc.litigator under " + pack},
		{FindingRegistry, tia, litigators, GateLate, "litigator version 2, as of 2026-11-15: deny: dnc.litigator under " + pack},
		{FindingRegistry, sam, stateCopy, GateHad, "state:CT version 1, as of 2026-11-05: deny: dnc.state under " + pack},
	}, findings, "Pat's national listing yields to his consent; Vic's gate had the copy that took him off; Uma's copy came after her call")
	require.Equal(t, 4, r.Found)
	require.Equal(t, 4, r.Calls)
	require.Equal(t, 2, r.Had)
	require.True(t, r.RegistryChecked)
	require.Equal(t, 1, r.RegistryUnchecked, "Yan's")
	require.True(t, r.Findings[3].RecordedAt.Equal(day.AddDate(0, 0, -10)), "the copy's install")

	// Without the files, the calls are counted unchecked, and the report
	// runs.
	require.NoError(t, os.RemoveAll(dir))
	r, err = w.s.CallsReport(w.ctx, from, to)
	require.NoError(t, err)
	require.Zero(t, r.Found)
	require.Equal(t, 8, r.RegistryUnchecked)
}

// A placed call is checked at its last look, right before it was placed:
// an entry that reached heed between the batch's decision and the look is
// a finding (had, when the look's indexes had applied it; late, when it
// committed while the look was taken), and a call the look called off is
// not checked at all, since it was never placed.
func TestCallsReportLastLook(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Lu,8605550131\nMax,8605550132\nNat,8605550133\nOla,8605550134\nPia,8605550135\n")
	jan := time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC)
	day := time.Date(2026, 11, 16, 15, 0, 0, 0, time.UTC)
	consents := map[string]int64{}
	for _, p := range []string{"8605550131", "8605550132", "8605550133", "8605550134"} {
		c := w.consent(p, jan)
		consents[p] = c
	}
	seen := w.seq()
	calls := map[string]int64{}
	for i, p := range []string{"8605550131", "8605550132", "8605550133", "8605550134"} {
		c := consents[p]
		calls[p] = w.attempt("+1"+p, "allow", []string{}, &c, day.Add(time.Duration(i)*time.Minute), seen, seen)
	}
	// Each asked to stop 20 s after its attempt was recorded (Ola's the
	// old way: her attempt has no look, so it is checked when recorded).
	entries := map[string]int64{}
	for i, p := range []string{"8605550131", "8605550132", "8605550133", "8605550134"} {
		entries[p] = w.id(`INSERT INTO dnc_internal (phone, method, source, added_at) VALUES ($1, 'web', 'opt-out page', $2) RETURNING id`,
			"+1"+p, day.Add(time.Duration(i)*time.Minute+20*time.Second))
	}
	look := func(p, outcome string, seq, top, consentID int64) { w.look(calls[p], outcome, seq, top, consentID) }
	lu, mx := w.id(`SELECT seq FROM index_changes WHERE op = 'add' AND phone = '+18605550131'`), w.id(`SELECT seq FROM index_changes WHERE op = 'add' AND phone = '+18605550132'`)
	look("8605550131", "answered", lu, lu, consents["8605550131"])   // the look had Lu's entry
	look("8605550132", "answered", mx-1, mx, consents["8605550132"]) // Max's committed as the look was taken
	look("8605550133", "called_off", w.seq(), w.seq(), 0)
	// Pia revoked her consent 20 s after her attempt was recorded and gave
	// it again 10 s later: her look relied on the new one.
	piaAt := day.Add(4 * time.Minute)
	c := w.consent("8605550135", jan)
	calls["8605550135"] = w.attempt("+18605550135", "allow", []string{}, &c, piaAt, w.seq(), w.seq())
	w.revoke("8605550135", piaAt.Add(20*time.Second), "")
	again := w.consent("8605550135", piaAt.Add(30*time.Second))
	look("8605550135", "answered", w.seq(), w.seq(), again)

	r, err := w.s.CallsReport(w.ctx, day, day.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, map[string]int{"allow": 5}, r.Decisions)
	require.Equal(t, map[string]int{"answered": 3, "called_off": 1, "": 1}, r.Outcomes)
	require.Equal(t, 4, r.Checked, "Nat's call was called off, never placed")
	require.Equal(t, []foundRow{
		{FindingDNC, calls["8605550132"], entries["8605550132"], GateLate, "web: opt-out page"},
		{FindingDNC, calls["8605550131"], entries["8605550131"], GateHad, "web: opt-out page"},
	}, rowsOf(r.Findings), "Ola's entry came after her attempt was recorded, as if pressed during her call; Pia's look relied on her new consent")
	require.True(t, r.Findings[1].DecidedAt.Equal(day), "when the attempt was recorded, as for every finding: %s", r.Findings[1].DecidedAt)
	require.Equal(t, 1, r.Had)
	require.Empty(t, r.LookReasons, "Nat's look allowed; its call was called off for another reason")

	// Had Nat's look refused the call, the report gives its reasons.
	w.forge(`UPDATE attempts SET last_look = jsonb_set(last_look, '{decision}', '{"decision":"deny","reasons":["dnc.internal","consent.revoked"]}')
		WHERE id = $1`, calls["8605550133"])
	r, err = w.s.CallsReport(w.ctx, day, day.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, map[string]map[string]int{"deny": {"dnc.internal": 1, "consent.revoked": 1}}, r.LookReasons)
	require.Empty(t, r.Reasons, "no decision refused a call")
}

// A call placed after an opt-out of its number was taken is a finding
// whose records were written later but dated when it was taken: heed had
// the opt-out (every gate holds a taken one from its next sync, and no
// look that allows a call is recorded while one waits), unless it was
// taken in the second before the look.
func TestCallsReportTakenOptOuts(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Quin,8605550141\nRae,8605550142\n")
	jan := time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC)
	day := time.Date(2026, 11, 16, 15, 0, 0, 0, time.UTC)
	seen := w.seq()
	calls := map[string]int64{}
	for i, p := range []string{"8605550141", "8605550142"} {
		c := w.consent(p, jan)
		seen = w.seq()
		at := day.Add(time.Duration(i) * time.Minute)
		calls[p] = w.attempt("+1"+p, "allow", []string{}, &c, at, seen, seen)
		w.look(calls[p], "answered", seen, seen, c)
	}
	// Quin's opt-out was taken 10 s before his look, Rae's half a second
	// before hers; both were recorded after the calls.
	w.exec(`INSERT INTO optout_requests (phone, method, source, taken_at) VALUES
		('+18605550141', 'web', 'opt-out page', $1), ('+18605550142', 'web', 'opt-out page', $2)`,
		day.Add(30*time.Second), day.Add(time.Minute+39500*time.Millisecond))
	n, err := RecordPendingOptOuts(w.ctx, w.s.db)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	r, err := w.s.CallsReport(w.ctx, day, day.Add(time.Hour))
	require.NoError(t, err)
	gates := map[string]string{}
	for _, f := range r.Findings {
		for p, id := range calls {
			if f.AttemptID == id {
				gates[p+" "+f.Kind] = f.Gate
			}
		}
	}
	require.Equal(t, map[string]string{
		"8605550141 " + FindingDNC: GateHad, "8605550141 " + FindingRevoked: GateHad,
		"8605550142 " + FindingDNC: GateLate, "8605550142 " + FindingRevoked: GateLate,
	}, gates, "written after the calls, but taken before them")
	require.Equal(t, 2, r.Had)
}

// The report re-decides a robocall that relied on no consent with its
// number's revocations as the ledger held them when the gate decided it
// (rule F13): one in reach stops every robocall, even one that needs no
// consent, until a consent to the call's purpose is given after it, though
// it has no internal do-not-call entry (limited to a purpose, or its entry
// taken off).
func TestCallsReportRevocationsStopRobocalls(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Ann,8605550141\nBob,8605550142\nCy,8605550143\nDee,8605550144\nEve,8605550145\nFay,8605550146\n"+
		"Gil,8605550147\nHal,8605550148\nIvy,8605550149\nJo,8605550150\nKim,8605550151\n")
	jan := time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC)
	nov10 := time.Date(2026, 11, 10, 15, 0, 0, 0, time.UTC)
	day := time.Date(2026, 11, 16, 15, 0, 0, 0, time.UTC) // 10:00 in Connecticut
	pack := consent.PackVersion(nil, consent.FirmPolicy{})
	// From v1 the firm limits a revocation to its purpose.
	admin := w.id(`INSERT INTO users (email, role, password_hash) VALUES ('a@firm.test', 'admin', 'x') RETURNING id`)
	w.exec(`INSERT INTO firm_settings (version, policy, saved_by, saved_at) VALUES (1, '{"revocation_scope": "purpose"}', $1, $2)`, admin, nov10)
	v1 := consent.PackVersion(nil, consent.FirmPolicy{Version: "v1", RevocationScope: consent.RevokePurpose})

	// Ann revoked every purpose, and an admin took her internal entry off.
	ann := w.revoke("8605550141", nov10, "")
	w.exec(`INSERT INTO dnc_internal (phone, method, source, added_at) VALUES ('+18605550141', 'email', 'asked', $1)`, nov10)
	w.exec(`UPDATE dnc_internal SET removed_at = $2 WHERE phone = $1`, "+18605550141", nov10.AddDate(0, 0, 2))
	// Bob's and Cy's revocations cover telemarketing only, which reaches
	// every purpose under heed's default (Bob's call) but not under v1
	// (Cy's); Dee's covers reminders only, under v1.
	bob := w.revoke("8605550142", nov10, consent.PurposeTelemarketing)
	w.revoke("8605550143", nov10, consent.PurposeTelemarketing)
	dee := w.revoke("8605550144", nov10, consent.PurposeInformational)
	// Eve consented to reminders again after her revocation.
	w.revoke("8605550145", nov10, "")
	w.consent("8605550145", nov10.AddDate(0, 0, 1))
	// Hal's call is a live one, which his revocation does not stop.
	w.revoke("8605550148", nov10, "")
	// Ivy's call relied on her consent, which she revoked: the report's
	// own check of that consent finds it, and only it.
	ivyConsent := w.consent("8605550149", jan)
	ivy := w.revoke("8605550149", nov10, "")
	// Kim revoked in November, which the gate had, and again the day
	// before her call, which reached heed while it was being decided.
	kim := w.revoke("8605550151", nov10, consent.PurposeInformational)
	seen := w.seq()
	fay := w.revoke("8605550146", nov10, "")
	w.revoke("8605550151", day.Add(-24*time.Hour), "")
	top := w.seq()
	// Gil's revocation, dated before his call, was entered after it.
	w.revoke("8605550147", nov10, "")
	// Jo's call is from before heed kept the change log's positions: his
	// revocation was recorded before it.
	jo := w.id(`INSERT INTO revocations (phone, revoked_at, method, created_at) VALUES ('+18605550150', $1, 'email', $1) RETURNING id`, nov10)

	const landline = `"purpose":"informational","method":"prerecorded","line":"landline"`
	positions := fmt.Sprintf(`"index_seq":%d,"index_top":%d`, seen, top)
	calls := map[string]int64{}
	for i, c := range []struct{ name, phone, pack, req string }{
		{"ann", "+18605550141", pack, landline}, {"bob", "+18605550142", pack, landline}, {"cy", "+18605550143", v1, landline},
		{"dee", "+18605550144", v1, landline}, {"eve", "+18605550145", pack, landline}, {"fay", "+18605550146", pack, landline},
		{"gil", "+18605550147", pack, landline}, {"hal", "+18605550148", pack, `"purpose":"informational","method":"live","line":"landline"`},
		{"ivy", "+18605550149", pack, `"purpose":"informational","method":"prerecorded","line":"wireless"`},
		{"kim", "+18605550151", pack, landline},
	} {
		calls[c.name] = w.call(c.phone, day.Add(time.Duration(i)*time.Minute), c.pack, c.req+","+positions)
	}
	w.forge(`UPDATE attempts SET consent_id = $2 WHERE id = $1`, calls["ivy"], ivyConsent)
	calls["jo"] = w.call("+18605550150", day.Add(time.Hour), pack, landline)

	r, err := w.s.CallsReport(w.ctx, day, day.AddDate(0, 0, 1))
	require.NoError(t, err)
	stop := func(pack string) string { return ": deny: consent.revoked under " + pack }
	require.Equal(t, []foundRow{
		{FindingRevoked, calls["jo"], jo, GateUnknown, "revoked 2026-11-10 15:00:00 UTC by email" + stop(pack)},
		{FindingRevoked, calls["kim"], kim, GateHad, "revoked 2026-11-10 15:00:00 UTC by email (informational only)" + stop(pack)},
		{FindingRevoked, calls["ivy"], ivy, GateHad, "revoked 2026-11-10 15:00:00 UTC by email"},
		{FindingRevoked, calls["fay"], fay, GateLate, "revoked 2026-11-10 15:00:00 UTC by email" + stop(pack)},
		{FindingRevoked, calls["dee"], dee, GateHad, "revoked 2026-11-10 15:00:00 UTC by email (informational only)" + stop(v1)},
		{FindingRevoked, calls["bob"], bob, GateHad, "revoked 2026-11-10 15:00:00 UTC by email (telemarketing only)" + stop(pack)},
		{FindingRevoked, calls["ann"], ann, GateHad, "revoked 2026-11-10 15:00:00 UTC by email" + stop(pack)},
	}, rowsOf(r.Findings), "newest first; Cy's (limited to another purpose under v1), Eve's (consent since), Gil's (entered after), Hal's (live) are not findings")
	require.Equal(t, 7, r.Found)
	require.Equal(t, 7, r.Calls)
	require.Equal(t, 5, r.Had)
	require.Equal(t, 11, r.Checked)
	require.Zero(t, r.NotRedecided)
}
