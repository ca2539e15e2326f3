package dialer_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/internal/phone"
)

// TestOptOutPropagates runs two independent index followers on one
// database, as two heed processes would, and checks that an opt-out
// recorded through one is refused by the other's gate: at once after the
// pacing loop's sync, and within the freshness bound from LISTEN/NOTIFY
// alone.
func TestOptOutPropagates(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	engine, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)

	nodes := make([]*dialer.Indexes, 2)
	gates := make([]*dialer.PolicyGate, 2)
	for i := range nodes {
		nodes[i] = dialer.NewIndexes(db, quiet())
		require.NoError(t, nodes[i].Load(ctx))
		go nodes[i].Run(ctx)
		gates[i] = &dialer.PolicyGate{Engine: engine, Indexes: nodes[i]}
	}
	req := func(p phone.Number) dialer.Request {
		ny, _ := time.LoadLocation("America/New_York")
		y, m, d := time.Now().In(ny).Date()
		return dialer.Request{Phone: p, Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded,
			Line: consent.LineLandline, At: time.Date(y, m, d, 11, 0, 0, 0, ny)}
	}
	// Informational robocalls to a known landline need no consent (F3), so
	// only the do-not-call list stands between this number and a call.
	first := phone.Number("+18605550142")
	d := gates[1].Check(ctx, req(first))
	require.Equal(t, consent.Allow, d.Verdict, "%+v", d)

	_, err = db.Exec(ctx, `INSERT INTO dnc_internal (phone, method, source) VALUES ($1, $2, $3)`, first, "ivr", "pressed 9 on node A")
	require.NoError(t, err)
	require.NoError(t, gates[1].Sync(ctx))
	d = gates[1].Check(ctx, req(first))
	require.Equal(t, consent.Deny, d.Verdict)
	require.Equal(t, []consent.Reason{consent.ReasonDNCInternal}, d.Reasons)

	// Without an explicit sync, the notification alone must carry it within the bound.
	second := phone.Number("+12035550143")
	recorded := time.Now()
	_, err = db.Exec(ctx, `INSERT INTO dnc_internal (phone, method, source) VALUES ($1, $2, $3)`, second, "web", "opt-out page")
	require.NoError(t, err)
	n, _ := second.NANP()
	for _, node := range nodes {
		for !node.DNC.Lookup(n).Has(dnc.Internal) {
			require.Less(t, time.Since(recorded), dialer.DefaultFreshness, "opt-out not seen by every node within the freshness bound")
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Logf("opt-out reached both nodes' indexes %s after it was recorded", time.Since(recorded).Round(time.Millisecond))
	require.Equal(t, consent.Deny, gates[1].Check(ctx, req(second)).Verdict)
}

// TestStaleIndexFailsClosed checks that a gate whose indexes cannot confirm
// they are current denies every call with index.stale.
func TestStaleIndexFailsClosed(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	engine, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	ix := dialer.NewIndexes(db, quiet())
	// The gate's clock runs ahead by skew: the bound lapses without a
	// wait, and a slow load on a busy machine does not lapse it first.
	ix.Bound = 30 * time.Second
	var skew time.Duration
	g := &dialer.PolicyGate{Engine: engine, Indexes: ix, Clock: func() time.Time { return time.Now().Add(skew) }}
	at := time.Date(2026, 11, 30, 11, 0, 0, 0, time.FixedZone("EST", -5*3600))
	r := dialer.Request{Phone: "+18605550142", Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, Line: consent.LineLandline, At: at}

	d := g.Check(ctx, r)
	require.Equal(t, []consent.Reason{consent.ReasonIndexStale}, d.Reasons, "never loaded: stale")
	require.NoError(t, ix.Load(ctx))
	require.Equal(t, consent.Allow, g.Check(ctx, r).Verdict)

	db.Close() // PostgreSQL is gone: no more confirmations
	require.Error(t, ix.Sync(ctx))
	skew = ix.Bound - 10*time.Second
	require.Equal(t, consent.Allow, g.Check(ctx, r).Verdict, "the bound has not passed")
	skew = ix.Bound + 100*time.Millisecond
	d = g.Check(ctx, r)
	require.Equal(t, consent.Deny, d.Verdict)
	require.Equal(t, []consent.Reason{consent.ReasonIndexStale}, d.Reasons)
}

// TestSeqFollowsTheWholeLog checks that the position the indexes report
// having applied is the change log's, whichever index the last changes
// were for: attempt records use it to tell the records a decision saw.
func TestSeqFollowsTheWholeLog(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	ix := dialer.NewIndexes(db, quiet())
	require.NoError(t, ix.Load(ctx))
	top := func() int64 {
		var n int64
		require.NoError(t, db.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM index_changes`).Scan(&n))
		return n
	}
	require.Equal(t, top(), ix.Seq())
	_, err := db.Exec(ctx, `INSERT INTO dnc_internal (phone, method) VALUES ('+18605550101', 'staff')`)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550102', 'pec', 'informational', 'voice', now(), 't')`)
	require.NoError(t, err)
	require.NoError(t, ix.Sync(ctx))
	require.Equal(t, top(), ix.Seq(), "a consent after the last do-not-call change counts")
	_, err = db.Exec(ctx, `INSERT INTO revocations (phone, revoked_at, method) VALUES ('+18605550102', now(), 'ivr')`)
	require.NoError(t, err)
	require.NoError(t, ix.Sync(ctx))
	require.Equal(t, top(), ix.Seq(), "and a revocation with no do-not-call change since the last sync")
	_, err = db.Exec(ctx, `UPDATE dnc_internal SET removed_at = now()`)
	require.NoError(t, err)
	require.NoError(t, ix.Sync(ctx))
	require.Equal(t, top(), ix.Seq())
	require.Equal(t, 4, int(top()))
}

// The indexes give the registry list copy they hold without reading its
// file, and read older copies from their files.
func TestIndexesLoadVersion(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	dir := t.TempDir()
	reg := dnc.NewRegistry(db, dir)
	install := func(numbers ...uint64) dnc.Installed {
		var b dnc.Builder
		require.NoError(t, b.AddMany(numbers))
		in, err := reg.Install(ctx, dnc.National, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), "test", b.Build(), 0)
		require.NoError(t, err)
		return in
	}
	v1 := install(8605550101)
	ix := dialer.NewIndexes(db, quiet())
	ix.Registry = reg
	require.NoError(t, ix.Load(ctx))
	v2 := install(8605550101, 8605550102)
	require.NoError(t, ix.Sync(ctx))

	versions, unchanged := ix.ListVersions()
	require.Equal(t, map[string]uint64{"national": v2.Version}, versions)
	require.True(t, unchanged())

	_, held, _ := ix.DNC.View().List(dnc.National)
	meta, set, err := ix.LoadVersion(ctx, dnc.National, v2.Version)
	require.NoError(t, err)
	require.Same(t, held, set, "the copy in memory")
	require.Equal(t, v2.Version, meta.Version)
	_, set, err = ix.LoadVersion(ctx, dnc.National, v1.Version)
	require.NoError(t, err)
	require.Equal(t, 1, set.Len(), "the older copy, from its file")
	require.True(t, set.Contains(8605550101))

	// With the files gone, the copy held is still given; the older one
	// cannot be.
	require.NoError(t, os.RemoveAll(dir))
	_, set, err = ix.LoadVersion(ctx, dnc.National, v2.Version)
	require.NoError(t, err)
	require.Same(t, held, set)
	_, _, err = ix.LoadVersion(ctx, dnc.National, v1.Version)
	require.ErrorIs(t, err, os.ErrNotExist)
	_, _, err = ix.LoadVersion(ctx, dnc.National, 9)
	require.ErrorIs(t, err, dnc.ErrUnknownList)

	// A copy installed after the versions were read: decisions since may
	// have read it.
	dir = t.TempDir()
	ix.Registry = dnc.NewRegistry(db, dir)
	reg = ix.Registry
	install(8605550103)
	require.NoError(t, ix.Sync(ctx))
	require.False(t, unchanged())
	versions, unchanged = ix.ListVersions()
	require.Equal(t, map[string]uint64{"national": v2.Version + 1}, versions)
	require.True(t, unchanged())
}

// TestRegistryCopyReplacedOnDisk: a registry copy's file replaced by
// another of the same list, version and count is refused when loaded (its
// SHA-256 is not the one installed), whether as the copy in force or as an
// older version the calls report reads; the install's audit entry names
// the content's SHA-256.
func TestRegistryCopyReplacedOnDisk(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	dir := t.TempDir()
	reg := dnc.NewRegistry(db, dir)
	var b dnc.Builder
	require.NoError(t, b.AddMany([]uint64{8605550101, 8605550102}))
	in, err := reg.Install(ctx, dnc.National, time.Now().AddDate(0, 0, -1), "ftc.zip", b.Build(), 0)
	require.NoError(t, err)
	require.Len(t, in.SHA256, 64)
	var logged string
	require.NoError(t, db.QueryRow(ctx, `SELECT details->>'sha256' FROM audit_log WHERE tbl = 'dnc_list_installs' ORDER BY seq DESC LIMIT 1`).Scan(&logged))
	require.Equal(t, in.SHA256, logged)
	_, set, err := reg.LoadVersion(ctx, dnc.National, in.Version)
	require.NoError(t, err)
	require.True(t, set.Contains(8605550101))

	// The same meta and count, 860-555-0101 swapped for 0103.
	meta, _, err := reg.LoadVersion(ctx, dnc.National, in.Version)
	require.NoError(t, err)
	var b2 dnc.Builder
	require.NoError(t, b2.AddMany([]uint64{8605550102, 8605550103}))
	f, err := os.Create(filepath.Join(dir, in.File))
	require.NoError(t, err)
	require.NoError(t, dnc.WriteSnapshot(f, meta, b2.Build()))
	require.NoError(t, f.Close())

	_, _, err = reg.LoadVersion(ctx, dnc.National, in.Version)
	require.ErrorIs(t, err, dnc.ErrCorrupt)
	require.ErrorContains(t, err, "is not the file installed as version 1")
	ix := dialer.NewIndexes(db, quiet())
	ix.Registry = reg
	require.ErrorIs(t, ix.Load(ctx), dnc.ErrCorrupt, "the gate's indexes refuse it too")
}

// TestLaterConsentLiftsAnOptOut checks rule F12 against the internal list
// through the gate, on a real database: a consent given after a number's
// opt-out lifts its internal entry for the calls the consent covers, from
// the next sync and in a process that loads afresh, through Check and
// CheckBatch alike; a consent given before it, calls of another purpose,
// an opt-out held and not yet recorded, a later revocation and an entry
// made after the consent keep the number refused.
func TestLaterConsentLiftsAnOptOut(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	engine, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	ix := dialer.NewIndexes(db, quiet())
	require.NoError(t, ix.Load(ctx))
	g := &dialer.PolicyGate{Engine: engine, Indexes: ix}
	ledger := consent.NewLedger(db)

	const p = phone.Number("+18605550177")
	now := time.Now().UTC().Truncate(time.Second)
	// 11:00 in Connecticut, a day ahead: inside every window, after every record.
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	y, m, d := now.In(ny).AddDate(0, 0, 1).Date()
	at := time.Date(y, m, d, 11, 0, 0, 0, ny)
	robocall := dialer.Request{Phone: p, Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, Line: consent.LineWireless, At: at}
	live := robocall
	live.Method = consent.MethodLive
	debt := live
	debt.Purpose = consent.PurposeDebtCollection
	check := func(r dialer.Request) consent.Decision {
		t.Helper()
		one := g.Check(ctx, r)
		batch := make([]consent.Decision, 1)
		g.CheckBatch(ctx, []dialer.Request{r}, batch)
		require.Equal(t, one, batch[0], "CheckBatch decides as Check does")
		return one
	}
	addConsent := func(obtained time.Time) int64 {
		t.Helper()
		c, err := ledger.AddConsent(ctx, consent.NewConsent{Phone: string(p), Kind: consent.ConsentPEC, Scope: consent.PurposeInformational,
			Channel: consent.ChannelVoice, ObtainedAt: obtained, Source: "intake form"})
		require.NoError(t, err)
		require.NoError(t, g.Sync(ctx))
		return c.ID
	}
	optOut := func(when time.Time) {
		t.Helper()
		_, err := ledger.AddRevocation(ctx, consent.NewRevocation{Phone: string(p), RevokedAt: when, Method: consent.RevokedByIVR, Source: "pressed 9"})
		require.NoError(t, err)
		_, err = db.Exec(ctx, `INSERT INTO dnc_internal (phone, added_at, method, source)
			SELECT $1, $2, 'ivr', 'pressed 9' WHERE NOT EXISTS (SELECT 1 FROM dnc_internal WHERE phone = $1 AND removed_at IS NULL)`, p, when)
		require.NoError(t, err)
		require.NoError(t, g.Sync(ctx))
	}
	internal := []consent.Reason{consent.ReasonDNCInternal}

	before := addConsent(now.Add(-10 * 24 * time.Hour))
	require.Equal(t, consent.Allow, check(robocall).Verdict)
	optOut(now.Add(-5 * 24 * time.Hour))
	dec := check(robocall)
	require.Equal(t, consent.Deny, dec.Verdict)
	require.Contains(t, dec.Reasons, consent.ReasonDNCInternal, "the consent %d before the opt-out lifts nothing", before)
	require.Equal(t, internal, check(live).Reasons, "a live call needs no consent, but the entry stands")

	after := addConsent(now.Add(-24 * time.Hour))
	dec = check(robocall)
	require.Equal(t, consent.Allow, dec.Verdict, "%+v", dec)
	require.Equal(t, after, dec.ConsentID, "the decision names the consent that lifted the entry")
	require.Equal(t, consent.Allow, check(live).Verdict)
	require.Equal(t, internal, check(debt).Reasons, "no consent of another purpose was given after the opt-out")

	// A process that loads afresh knows the entry's date too.
	fresh := dialer.NewIndexes(db, quiet())
	require.NoError(t, fresh.Load(ctx))
	fg := &dialer.PolicyGate{Engine: engine, Indexes: fresh}
	require.Equal(t, consent.Allow, fg.Check(ctx, robocall).Verdict)
	n, err := p.NANP()
	require.NoError(t, err)
	require.Equal(t, now.Add(-5*24*time.Hour), fresh.InternalListedAt(n))
	require.Equal(t, ix.InternalListedAt(n), fresh.InternalListedAt(n))

	// An opt-out heard and not yet recorded holds whatever consent came before.
	release := g.HoldOptOut(p)
	require.Equal(t, internal, check(live).Reasons)
	require.Equal(t, consent.Deny, check(robocall).Verdict)
	release()
	require.Equal(t, consent.Allow, check(live).Verdict)

	// A second opt-out (no new entry: one is in force) revokes the consent.
	optOut(now.Add(-time.Hour))
	require.Equal(t, internal, check(live).Reasons)
	require.Equal(t, consent.Deny, check(robocall).Verdict)

	// Taken off the list and put back, by an internal-list import that
	// records no revocation, after a newer consent: the newer entry holds
	// against it.
	newest := addConsent(now.Add(-30 * time.Minute))
	require.Equal(t, consent.Allow, check(live).Verdict, "consent %d given after the second opt-out", newest)
	_, err = db.Exec(ctx, `UPDATE dnc_internal SET removed_at = now() WHERE phone = $1 AND removed_at IS NULL`, p)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `INSERT INTO dnc_internal (phone, added_at, method, source) VALUES ($1, $2, 'import', 'list')`, p, now.Add(-10*time.Minute))
	require.NoError(t, err)
	require.NoError(t, g.Sync(ctx))
	require.Equal(t, internal, check(live).Reasons)
	require.Equal(t, now.Add(-10*time.Minute), ix.InternalListedAt(n))
}
