package dialer_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/internal/phone"
)

// TestGateRevocationStopsEveryRobocall: a revocation limited to one
// purpose gets no internal do-not-call entry, yet under heed's default
// revoke-all scope (F13) it stops every robocall to the number, an
// informational reminder to a landline too, which needs no consent; a live
// call that needs none is not stopped by it; a consent of the call's
// purpose given after it restores the robocall. Check and CheckBatch agree,
// on the real indexes.
func TestGateRevocationStopsEveryRobocall(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := t.Context()
	g, at := realGate(t, db), weekdayAt(t, 11)
	const p = phone.Number("+18605550199")
	ledger := consent.NewLedger(db)
	file := "phone,revoked_at,method,source,scope\n(860) 555-0199," + time.Now().UTC().Add(-time.Hour).Format(time.RFC3339) +
		",email,asked to stop the debt calls,debt_collection\n"
	rep, err := ledger.ImportRevocations(ctx, strings.NewReader(file), consent.FormatCSV, consent.ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Imported)
	require.Zero(t, rep.Listed, "a revocation of one purpose is not put on the internal list")
	require.NoError(t, g.Sync(ctx))

	req := func(purpose consent.Purpose, method consent.Method) dialer.Request {
		return dialer.Request{Phone: p, Purpose: purpose, Method: method, Line: consent.LineLandline, At: at}
	}
	decide := func(r dialer.Request) consent.Decision {
		t.Helper()
		one := g.Check(ctx, r)
		batch := make([]consent.Decision, 1)
		g.CheckBatch(ctx, []dialer.Request{r}, batch)
		require.Equal(t, one, batch[0], "Check and CheckBatch")
		return one
	}
	revoked := []consent.Reason{consent.ReasonConsentRevoked}
	dec := decide(req(consent.PurposeInformational, consent.MethodPrerecorded))
	require.Equal(t, consent.Deny, dec.Verdict)
	require.Equal(t, revoked, dec.Reasons, "an informational robocall to a landline, stopped by another purpose's revocation")
	dec = decide(req(consent.PurposeDebtCollection, consent.MethodPrerecorded))
	require.Equal(t, revoked, dec.Reasons)
	dec = decide(req(consent.PurposeInformational, consent.MethodLive))
	require.Equal(t, consent.Allow, dec.Verdict, "a live call that needs no consent: %v", dec.Reasons)

	_, err = ledger.AddConsent(ctx, consent.NewConsent{Phone: string(p), Kind: consent.ConsentPEC, Scope: consent.PurposeInformational,
		Channel: consent.ChannelVoice, ObtainedAt: time.Now().Add(-time.Minute), Source: "intake form"})
	require.NoError(t, err)
	require.NoError(t, g.Sync(ctx))
	dec = decide(req(consent.PurposeInformational, consent.MethodPrerecorded))
	require.Equal(t, consent.Allow, dec.Verdict, "restored by a later consent of its purpose: %v", dec.Reasons)
	dec = decide(req(consent.PurposeDebtCollection, consent.MethodPrerecorded))
	require.Equal(t, revoked, dec.Reasons, "not by one of another purpose")
}

// TestInternalImportOfAListedNumber: a number on the internal list whose
// entry a later consent lifted (F12) is listed again by an internal-list
// import (the person asked again): the import writes a revocation for it,
// dated with the import, so the consent no longer lifts the entry and the
// gate refuses the number. The number is not listed twice.
func TestInternalImportOfAListedNumber(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := t.Context()
	g, at := realGate(t, db), weekdayAt(t, 11)
	const p = phone.Number("+18605550177")
	req := dialer.Request{Phone: p, Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, Line: consent.LineWireless, At: at}
	now := time.Now().UTC()

	// Opted out 30 days ago (an entry and a revocation, as every path
	// writes them); a consent given 10 days ago lifts the entry for
	// reminders.
	_, err := db.Exec(ctx, `INSERT INTO revocations (phone, revoked_at, method, source) VALUES ($1, $2, 'ivr', 'pressed 9')`, p, now.Add(-30*24*time.Hour))
	require.NoError(t, err)
	_, err = db.Exec(ctx, `INSERT INTO dnc_internal (phone, added_at, method, source) VALUES ($1, $2, 'ivr', 'pressed 9')`, p, now.Add(-30*24*time.Hour))
	require.NoError(t, err)
	_, err = consent.NewLedger(db).AddConsent(ctx, consent.NewConsent{Phone: string(p), Kind: consent.ConsentPEC, Scope: consent.PurposeInformational,
		Channel: consent.ChannelVoice, ObtainedAt: now.Add(-10 * 24 * time.Hour), Source: "intake form"})
	require.NoError(t, err)
	require.NoError(t, g.Sync(ctx))
	require.Equal(t, consent.Allow, g.Check(ctx, req).Verdict)

	res, err := dnc.ImportList(ctx, nil, dnc.NewPGStore(db), dnc.ListImport{List: dnc.Internal},
		dnc.Input{Name: "optouts-this-week.txt", R: strings.NewReader("8605550177\n8605550178\n8605550178\n")})
	require.NoError(t, err)
	require.Contains(t, res.Summary(dnc.Internal), "1 added")
	var entries, revs int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM dnc_internal WHERE phone = $1`, p).Scan(&entries))
	require.Equal(t, 1, entries, "not listed twice")
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM revocations WHERE phone = $1 AND source LIKE '%listed already%'`, p).Scan(&revs))
	require.Equal(t, 1, revs)
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM revocations WHERE phone = '+18605550178'`).Scan(&revs))
	require.Equal(t, 1, revs, "a number the file lists twice is revoked once")
	require.NoError(t, g.Sync(ctx))
	dec := g.Check(ctx, req)
	require.Equal(t, consent.Deny, dec.Verdict)
	require.Equal(t, []consent.Reason{consent.ReasonDNCInternal, consent.ReasonConsentRevoked}, dec.Reasons)
}

// realGate returns a policy gate of the default engine on db's indexes,
// loaded.
func realGate(t *testing.T, db *pgxpool.Pool) *dialer.PolicyGate {
	t.Helper()
	engine, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	ix := dialer.NewIndexes(db, quiet())
	require.NoError(t, ix.Load(t.Context()))
	return &dialer.PolicyGate{Engine: engine, Indexes: ix}
}

// weekdayAt returns hour o'clock in New York on the next weekday after
// today: inside every calling window, whenever the test runs.
func weekdayAt(t *testing.T, hour int) time.Time {
	t.Helper()
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	y, m, d := time.Now().In(ny).AddDate(0, 0, 1).Date()
	at := time.Date(y, m, d, hour, 0, 0, 0, ny)
	for at.Weekday() == time.Sunday || at.Weekday() == time.Saturday {
		at = at.AddDate(0, 0, 1)
	}
	return at
}
