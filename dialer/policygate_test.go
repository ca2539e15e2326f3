package dialer_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/phone"
)

// batchDay is midnight UTC of the day the generated calls are made on.
var batchDay = time.Date(2026, 6, 10, 0, 0, 0, 0, time.UTC)

// batchWorld is a gate over generated in-memory indexes and a mix of
// requests that reaches every verdict and most reasons.
type batchWorld struct {
	engine *consent.Engine
	ix     *dialer.Indexes
	reqs   []dialer.Request
	// created is when the indexes were last confirmed fresh.
	created time.Time
}

func newBatchWorld(t testing.TB, seed uint64, withNational bool) *batchWorld {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x6261746368))
	engine, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)

	// A pool of numbers in area codes of every kind: state packs (CT, FL,
	// OK), several zones (208-200, 907), no place (800), invalid (112).
	exchanges := []uint64{860555, 203555, 305555, 405555, 212555, 208200, 907200, 800555, 112555, 415555, 602555}
	pool := make([]uint64, 600)
	for i := range pool {
		pool[i] = exchanges[rng.IntN(len(exchanges))]*10_000 + uint64(rng.IntN(10_000))
	}
	slices.Sort(pool)
	pool = slices.Compact(pool)
	pick := func(share int) []uint64 {
		var out []uint64
		for _, n := range pool {
			if rng.IntN(share) == 0 {
				out = append(out, n)
			}
		}
		return out
	}
	x := dnc.NewIndex()
	install := func(meta dnc.Meta, nums []uint64) {
		var b dnc.Builder
		require.NoError(t, b.AddMany(nums))
		_, err := x.Replace(meta, b.Build())
		require.NoError(t, err)
	}
	if withNational {
		install(dnc.Meta{List: dnc.National, AsOf: batchDay.AddDate(0, 0, -20)}, pick(4))
	}
	install(dnc.Meta{List: dnc.Internal}, pick(10))
	fl, err := dnc.StateList("FL")
	require.NoError(t, err)
	install(dnc.Meta{List: fl, AsOf: batchDay.AddDate(0, 0, -3)}, pick(8))
	install(dnc.Meta{List: dnc.Litigator}, pick(30))

	// Consents and revocations around the calls, so that ties to the
	// second, fractions of a second and expiries at the call are common.
	purposes := []consent.Purpose{consent.PurposeInformational, consent.PurposeTelemarketing, consent.PurposeDebtCollection, consent.PurposeSolicitation}
	callTime := func() time.Time {
		at := batchDay.Add(time.Duration(rng.IntN(36*60)) * time.Minute)
		switch rng.IntN(4) {
		case 0:
			at = at.Add(time.Duration(rng.IntN(60)) * time.Second)
		case 1:
			at = at.Add(time.Duration(rng.Int64N(int64(time.Minute))))
		}
		return at
	}
	var recs []consent.Record
	for i := range 3000 {
		n := pool[rng.IntN(len(pool))]
		at := callTime().Add(-time.Duration(rng.IntN(3)) * time.Duration(rng.IntN(3600)) * time.Second)
		r := consent.Record{ID: int64(i + 1), Number: n, At: at}
		if rng.IntN(4) == 0 {
			r.Type = consent.RecordRevocation
			if rng.IntN(3) == 0 {
				r.Scope = purposes[rng.IntN(len(purposes))]
			}
		} else {
			r.Type, r.Kind = consent.RecordConsent, consent.ConsentKind(1+rng.IntN(2))
			r.Scope, r.Channel = purposes[rng.IntN(len(purposes))], consent.ChannelVoice
			if rng.IntN(8) == 0 {
				r.Channel = consent.ChannelText
			}
			if rng.IntN(4) == 0 {
				r.ExpiresAt = at.Add(time.Duration(rng.IntN(7200)) * time.Second)
			}
		}
		recs = append(recs, r)
	}
	w := &batchWorld{engine: engine}

	invalid := []phone.Number{"", "+1212555010", "+121255501011", "12125550101", "+1212555O101", "+442071234567", "+0123", "+1\u00e9125550101"}
	reqPurposes := append([]consent.Purpose{"", "bogus"}, purposes...)
	methods := []consent.Method{consent.MethodPrerecorded, consent.MethodLive, ""}
	lines := []consent.LineType{consent.LineWireless, consent.LineLandline, consent.LineUnknown, ""}
	places := []struct{ state, zip string }{{"", ""}, {"NY", "10001"}, {"CT", "06103"}, {"FL", "33101-1234"}, {"OK", ""},
		{"", "73102"}, {"AK", "99501"}, {"ZZ", "1234"}, {"CA", "90012"}, {"", "96799"}}
	hist := make([]consent.Attempt, 0, 20_000)
	w.reqs = make([]dialer.Request, 4000)
	for i := range w.reqs {
		r := &w.reqs[i]
		if rng.IntN(25) == 0 {
			r.Phone = invalid[rng.IntN(len(invalid))]
		} else {
			var b [12]byte
			n := pool[rng.IntN(len(pool))]
			b[0], b[1] = '+', '1'
			for j := 11; j >= 2; j-- {
				b[j] = byte('0' + n%10)
				n /= 10
			}
			r.Phone = phone.Number(b[:])
		}
		r.Purpose = reqPurposes[rng.IntN(len(reqPurposes))]
		r.Method = methods[rng.IntN(len(methods))]
		r.Line = lines[rng.IntN(len(lines))]
		p := places[rng.IntN(len(places))]
		r.State, r.ZIP = p.state, p.zip
		r.At = callTime()
		// Rule E1's injury matters and accidents, on both sides of the
		// 40 days.
		r.InjuryMatter = rng.IntN(6) == 0
		if rng.IntN(5) == 0 {
			r.AccidentAt = r.At.Add(-time.Duration(rng.IntN(80*24*3600)) * time.Second)
		}
		from := len(hist)
		for range rng.IntN(12) { // past compactHistoryLen at times
			a := consent.Attempt{At: r.At.Add(-time.Duration(1+rng.IntN(20*24*3600)) * time.Second), Purpose: r.Purpose, Method: r.Method,
				Conversation: rng.IntN(4) == 0}
			if rng.IntN(3) == 0 {
				a.Purpose, a.Method = reqPurposes[rng.IntN(len(reqPurposes))], methods[rng.IntN(len(methods))]
			}
			if rng.IntN(5) == 0 {
				a.At = r.At.Add(-time.Duration(rng.IntN(3*3600)) * time.Second) // recent: caps and quiet periods bite
			}
			hist = append(hist, a)
		}
		if len(hist) > from {
			r.History = hist[from:len(hist):len(hist)]
		}
		// A third of the requests have a consent on file that covers
		// them, so that consent decides more often: against do-not-call
		// lists it exempts from, caps it lifts, and rules that need it.
		if n, err := r.Phone.NANP(); err == nil && rng.IntN(3) == 0 && r.Purpose != "" && r.Purpose != "bogus" {
			recs = append(recs, consent.Record{Type: consent.RecordConsent, ID: int64(len(recs) + 1), Number: n,
				Kind: consent.ConsentPEWC, Scope: r.Purpose, Channel: consent.ChannelVoice, At: r.At.Add(-time.Duration(rng.IntN(3)) * time.Hour)})
		}
	}
	w.ix = dialer.NewMemoryIndexes(x, consent.NewIndex(consent.NewSnapshot(0, recs...)))
	w.created = time.Now()
	return w
}

// gate returns a PolicyGate over the world whose clock reads the given
// offset after the indexes were confirmed.
func (w *batchWorld) gate(after time.Duration) *dialer.PolicyGate {
	return &dialer.PolicyGate{Engine: w.engine, Indexes: w.ix, Clock: func() time.Time { return w.created.Add(after) }}
}

// requireBatchEqual decides every request one by one and in batches of
// several sizes and requires the same decisions; it returns the decisions.
func requireBatchEqual(t *testing.T, g *dialer.PolicyGate, reqs []dialer.Request) []consent.Decision {
	t.Helper()
	want := make([]consent.Decision, len(reqs))
	for i := range reqs {
		want[i] = g.Check(t.Context(), reqs[i])
	}
	for _, piece := range []int{len(reqs), 1, 7, 127, 128, 129, 256, 1000} {
		got := make([]consent.Decision, len(reqs))
		for i := range got {
			got[i] = consent.Decision{Verdict: "garbage", ConsentID: -1} // overwritten
		}
		for lo := 0; lo < len(reqs); lo += piece {
			hi := min(lo+piece, len(reqs))
			g.CheckBatch(t.Context(), reqs[lo:hi], got[lo:hi])
		}
		for i := range reqs {
			require.Equalf(t, want[i], got[i], "piece %d, request %d: %+v", piece, i, reqs[i])
		}
	}
	return want
}

// TestCheckBatchMatchesCheck is the proof that the batch gate decides as
// the single one: on a large random mix of numbers (on and off every kind
// of do-not-call list, with and without consents and revocations at the
// boundaries, invalid and foreign), purposes, methods, lines, addresses,
// times (on and between the minutes of every window's edges) and
// histories, CheckBatch's verdicts, reasons, until times, packs and
// consent ids are Check's, in batches of every size.
func TestCheckBatchMatchesCheck(t *testing.T) {
	t.Parallel()
	for _, national := range []bool{true, false} {
		t.Run(fmt.Sprintf("national=%v", national), func(t *testing.T) {
			t.Parallel()
			w := newBatchWorld(t, map[bool]uint64{true: 1, false: 2}[national], national)
			decs := requireBatchEqual(t, w.gate(0), w.reqs)

			verdicts := map[consent.Verdict]int{}
			reasons := map[consent.Reason]int{}
			withConsent := 0
			for _, d := range decs {
				verdicts[d.Verdict]++
				for _, r := range d.Reasons {
					reasons[r]++
				}
				if d.ConsentID != 0 {
					withConsent++
				}
			}
			t.Logf("verdicts %v; reasons %v; %d relying on consent", verdicts, reasons, withConsent)
			// The mix covers what the comparison is about.
			for _, v := range []consent.Verdict{consent.Allow, consent.Deny, consent.Defer} {
				require.Positive(t, verdicts[v], v)
			}
			want := []consent.Reason{consent.ReasonNumberInvalid, consent.ReasonNumberUnsupported, consent.ReasonDNCInternal,
				consent.ReasonDNCState, consent.ReasonDNCLitigator, consent.ReasonConsentMissing, consent.ReasonConsentRevoked,
				consent.ReasonConsentExpired, consent.ReasonConsentInsufficient, consent.ReasonWindowOutside,
				consent.ReasonCapFrequency, consent.ReasonCapAfterConversation}
			if national {
				want = append(want, consent.ReasonDNCNational)
			} else {
				want = append(want, consent.ReasonDNCNationalStale)
			}
			for _, r := range want {
				require.Positive(t, reasons[r], r)
			}
			require.Positive(t, withConsent)
		})
	}
}

// TestCheckBatchConcurrently: CheckBatch calls at once on one gate decide
// as Check does, whether they find the batch it remembers decisions in free
// or in use (run with -race, it also checks they do not share it).
func TestCheckBatchConcurrently(t *testing.T) {
	t.Parallel()
	w := newBatchWorld(t, 5, true)
	g := w.gate(0)
	want := make([]consent.Decision, len(w.reqs))
	for i := range w.reqs {
		want[i] = g.Check(t.Context(), w.reqs[i])
	}
	var wg sync.WaitGroup
	got := make([][]consent.Decision, 4)
	for c := range got {
		got[c] = make([]consent.Decision, len(w.reqs))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := 0; lo < len(w.reqs); lo += 64 {
				hi := min(lo+64, len(w.reqs))
				g.CheckBatch(t.Context(), w.reqs[lo:hi], got[c][lo:hi])
			}
		}()
	}
	wg.Wait()
	for c := range got {
		for i := range w.reqs {
			require.Equalf(t, want[i], got[c][i], "caller %d, request %d: %+v", c, i, w.reqs[i])
		}
	}
}

// TestCheckBatchFailsClosed checks that a batch decided while the indexes
// are stale is denied with index.stale throughout (number.invalid for
// numbers that are not numbers), as Check denies it.
func TestCheckBatchFailsClosed(t *testing.T) {
	t.Parallel()
	w := newBatchWorld(t, 3, true)
	decs := requireBatchEqual(t, w.gate(time.Hour), w.reqs)
	stale := 0
	for _, d := range decs {
		require.Equal(t, consent.Deny, d.Verdict)
		require.Len(t, d.Reasons, 1)
		require.Contains(t, []consent.Reason{consent.ReasonIndexStale, consent.ReasonNumberInvalid, consent.ReasonNumberUnsupported}, d.Reasons[0])
		require.Zero(t, d.ConsentID)
		if d.Reasons[0] == consent.ReasonIndexStale {
			stale++
		}
	}
	require.Greater(t, stale, len(decs)*3/4)

	// An empty batch decides nothing.
	w.gate(0).CheckBatch(t.Context(), nil, nil)
}

// TestCheckBatchAllocatesNothing checks the zero-allocation promise.
func TestCheckBatchAllocatesNothing(t *testing.T) { //nolint:paralleltest // AllocsPerRun forbids t.Parallel.
	w := newBatchWorld(t, 4, true)
	g := w.gate(0)
	out := make([]consent.Decision, len(w.reqs))
	g.CheckBatch(t.Context(), w.reqs, out) // interns the reason lists
	require.Zero(t, testing.AllocsPerRun(20, func() { g.CheckBatch(t.Context(), w.reqs, out) }))
}

// TestGateHoldsOptOuts: a number held by HoldOptOut (a key-press opt-out
// still being recorded) is refused as on the internal list, by the single
// and the batch gate alike, and only until it is released.
func TestGateHoldsOptOuts(t *testing.T) {
	t.Parallel()
	w := newBatchWorld(t, 5, true)
	g := w.gate(0)
	before := requireBatchEqual(t, g, w.reqs)
	var held phone.Number
	for i, d := range before {
		if d.Allowed() {
			held = w.reqs[i].Phone
			break
		}
	}
	require.NotEmpty(t, held, "an allowed request to hold")
	release := g.HoldOptOut(held)
	again := g.HoldOptOut(held) // held twice, released once: still held
	during := requireBatchEqual(t, g, w.reqs)
	release()
	release() // idempotent
	still := requireBatchEqual(t, g, w.reqs)
	again()
	after := requireBatchEqual(t, g, w.reqs)
	for i, r := range w.reqs {
		if r.Phone != held {
			require.Equal(t, before[i], during[i], "request %d: other numbers as before", i)
			continue
		}
		require.Equal(t, consent.Deny, during[i].Verdict, "request %d", i)
		require.Contains(t, during[i].Reasons, consent.ReasonDNCInternal)
		require.Equal(t, during[i], still[i], "request %d: held once more", i)
		require.Equal(t, before[i], after[i], "request %d: released", i)
	}
}

// TestCheckBatchKindsFromSharedBytes: CheckBatch works a request's kind
// out again when its purpose or method differs from the last request's by
// the address or the length of its bytes. The batch's purposes and
// methods are slices of one string each: "debt_collection" and "debt"
// start at the same byte, as do "prerecorded" and "prer";
// "informational" and "telemarketing" have the same length at different
// addresses, as do "live" and "prer". Runs of each, in a mix, decide as
// Check does.
func TestCheckBatchKindsFromSharedBytes(t *testing.T) {
	t.Parallel()
	w := newBatchWorld(t, 6, true)
	ps := "debt_collection" + "informational" + "telemarketing"
	ms := "prerecorded" + "live"
	purposes := []consent.Purpose{consent.Purpose(ps[:15]), consent.Purpose(ps[:4]), consent.Purpose(ps[15:28]), consent.Purpose(ps[28:])}
	methods := []consent.Method{consent.Method(ms[:11]), consent.Method(ms[:4]), consent.Method(ms[11:])}
	require.Equal(t, consent.PurposeDebtCollection, purposes[0])
	require.Equal(t, consent.PurposeInformational, purposes[2])
	require.Equal(t, consent.PurposeTelemarketing, purposes[3])
	require.Equal(t, consent.MethodPrerecorded, methods[0])
	require.Equal(t, consent.MethodLive, methods[2])
	rng := rand.New(rand.NewPCG(6, 6))
	reqs := slices.Clone(w.reqs)
	p, m := purposes[0], methods[0]
	for i := range reqs {
		if rng.IntN(3) == 0 { // runs, as pacing batches have, and changes within a batch
			p, m = purposes[rng.IntN(len(purposes))], methods[rng.IntN(len(methods))]
		}
		reqs[i].Purpose, reqs[i].Method = p, m
	}
	decs := requireBatchEqual(t, w.gate(0), reqs)
	// The kinds decide differently somewhere: the comparison can fail.
	byKind := map[[2]string]map[consent.Verdict]int{}
	for i, d := range decs {
		k := [2]string{string(reqs[i].Purpose), string(reqs[i].Method)}
		if byKind[k] == nil {
			byKind[k] = map[consent.Verdict]int{}
		}
		byKind[k][d.Verdict]++
	}
	t.Logf("verdicts by kind: %v", byKind)
	require.Len(t, byKind, len(purposes)*len(methods))
}

// TestCheckBatchFollowsEngineChange: when the engine in force changes
// between two CheckBatch calls, the second decides by the new engine, as
// Check does, although the gate keeps its Batch (and the decisions it
// remembers, and its consent scratch) from the first; and back again.
func TestCheckBatchFollowsEngineChange(t *testing.T) {
	t.Parallel()
	w := newBatchWorld(t, 7, true)
	holiday, err := consent.NewEngine(consent.Config{Firm: consent.FirmPolicy{Holidays: []string{"2026-06-10", "2026-06-11"}}})
	require.NoError(t, err)
	g := w.gate(0)
	before := requireBatchEqual(t, g, w.reqs)
	g.Engine = holiday
	during := requireBatchEqual(t, g, w.reqs)
	g.Engine = w.engine
	after := requireBatchEqual(t, g, w.reqs)
	require.Equal(t, before, after)
	changed := 0
	for i := range before {
		if before[i].Verdict != during[i].Verdict {
			changed++
		}
	}
	t.Logf("%d of %d verdicts changed by the holidays", changed, len(before))
	require.Positive(t, changed, "the engines decide differently")
}
