package gatebench

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/dbtest"
)

var (
	flagDNC      = flag.Int("gatebench.dnc", 1_000_000, "national do-not-call numbers of BenchmarkGate and TestRunFull")
	flagConsents = flag.Int("gatebench.consents", 100_000, "consent records of BenchmarkGate and TestRunFull")
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func newEngine(t testing.TB) *consent.Engine {
	t.Helper()
	e, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	return e
}

// smallWorld is a world small enough for every request to be checked.
func smallWorld(t testing.TB, e *consent.Engine) *world {
	t.Helper()
	w, err := buildWorld(spec{dnc: 50_000, consents: 6000, decisions: 3000, seed: 7, keep: true}, e, func(string, ...any) {})
	require.NoError(t, err)
	return w
}

// TestRun runs Run at a tiny size with the SQL side and checks the report.
func TestRun(t *testing.T) {
	db := dbtest.New(t)
	rep, err := Run(t.Context(), Options{DNCNumbers: 20_000, Consents: 3000, Decisions: 2000, DB: db,
		SQLDNCNumbers: 10_000, PhaseTime: 50 * time.Millisecond})
	require.NoError(t, err)

	var js bytes.Buffer
	require.NoError(t, rep.WriteJSON(&js))
	require.True(t, strings.HasPrefix(js.String(), `{"decisions_per_s":`), js.String())
	require.Equal(t, 1, strings.Count(js.String(), "\n"))
	var m map[string]any
	require.NoError(t, json.Unmarshal(js.Bytes(), &m))
	for _, k := range []string{"decisions_per_s", "allocs_per_decision", "sql_decisions_per_s"} {
		require.IsType(t, float64(0), m[k], k)
	}
	require.Greater(t, m["decisions_per_s"], 0.0)
	require.Greater(t, m["sql_decisions_per_s"], 0.0)
	require.EqualValues(t, 20_000, m["dnc_numbers"])
	require.EqualValues(t, 3000, m["consents"])
	require.EqualValues(t, 10_000, m["sql_dnc_numbers"])
	require.EqualValues(t, 3000, m["sql_consents"])
	require.Positive(t, rep.SQLDecisions)
	require.NotNil(t, rep.SQLMismatches)
	require.Zero(t, *rep.SQLMismatches, rep.SQLMismatch)
	require.EqualValues(t, 0, m["sql_mismatches"])
	require.InDelta(t, 1, rep.Allow+rep.Deny+rep.Defer, 1e-9)
	require.Equal(t, BatchSize, rep.BatchSize)
	require.Zero(t, rep.BatchMismatches, rep.BatchMismatch)
	require.Positive(t, rep.SingleDecisionsPerS)
	require.Positive(t, rep.ScatteredDecisionsPerS)
	require.Positive(t, rep.SingleScatteredDecisionsPerS)
	require.Positive(t, rep.SalesDecisionsPerS)
	require.Positive(t, rep.SingleSalesDecisionsPerS)
	require.InDelta(t, rep.DecisionsPerS/rep.SingleDecisionsPerS, rep.BatchVsSingle, 1e-9)
	require.NotNil(t, rep.BatchVsSQL)
	require.InDelta(t, rep.DecisionsPerS / *rep.SQLDecisionsPerS, *rep.BatchVsSQL, 1e-9)
	for _, k := range []string{"single_decisions_per_s", "batch_vs_single", "batch_vs_sql", "dnc_batch_lookup_ns", "consent_batch_lookup_ns", "engine_batch_ns", "engine_memo_ns"} {
		require.IsType(t, float64(0), m[k], k)
	}

	require.Positive(t, rep.EngineMemoNs)
	var table bytes.Buffer
	require.NoError(t, rep.WriteTable(&table))
	require.Contains(t, table.String(), fmt.Sprintf("(remembering decisions, as the gate decides: %.1f ns)", rep.EngineMemoNs))
	require.Contains(t, table.String(), "mixed (half each)")
	require.Contains(t, table.String(), "mixed, scattered")
	require.Contains(t, table.String(), "batched (256)")
	require.Contains(t, table.String(), "one by one")
	require.Contains(t, table.String(), "batched gate vs sql")
	require.Contains(t, table.String(), "sql, one query each")
	require.Contains(t, table.String(), "10,000 dnc numbers")
	require.Contains(t, table.String(), "median of 3 rounds")
	require.InDelta(t, rep.DecisionsPerS/5e6, rep.OfTarget, 1e-9)
	require.Contains(t, table.String(), fmt.Sprintf("target: 5,000,000 decisions/s per core; the mixed figure is %.2f of it", rep.OfTarget))

	// Each set's batched figure is the median of its rounds, which the
	// report keeps in the order they ran.
	require.Equal(t, 3, rep.Rounds)
	for set, rate := range map[string]float64{"campaign": rep.CampaignDecisionsPerS, "random": rep.RandomDecisionsPerS,
		"mixed": rep.DecisionsPerS, "scattered": rep.ScatteredDecisionsPerS, "sales": rep.SalesDecisionsPerS} {
		ns := slices.Clone(rep.BatchedNsRounds[set])
		require.Len(t, ns, 3, set)
		slices.Sort(ns)
		require.InDelta(t, 1e9/ns[1], rate, 1e-6*rate, set)
		require.Contains(t, table.String(), strconv.FormatFloat(rep.BatchedNsRounds[set][2], 'f', 0, 64), set)
	}
	require.Equal(t, rep.BatchedNsRounds["mixed"], func() []float64 {
		var got []float64
		for _, x := range m["batched_ns_rounds"].(map[string]any)["mixed"].([]any) {
			got = append(got, x.(float64))
		}
		return got
	}())

	// Without a database there is no SQL figure: the key is there, null.
	// Rounds are as many as asked for.
	rep, err = Run(t.Context(), Options{DNCNumbers: 20_000, Consents: 3000, Decisions: 2000, PhaseTime: 20 * time.Millisecond, Rounds: 2})
	require.NoError(t, err)
	require.Equal(t, 2, rep.Rounds)
	require.Len(t, rep.BatchedNsRounds["mixed"], 2)
	require.InDelta(t, (rep.BatchedNsRounds["mixed"][0]+rep.BatchedNsRounds["mixed"][1])/2, rep.NsPerDecision, 1e-9)
	js.Reset()
	require.NoError(t, rep.WriteJSON(&js))
	require.Contains(t, js.String(), `"sql_decisions_per_s":null`)
	require.Contains(t, js.String(), `"batch_vs_sql":null`)
	require.NotContains(t, js.String(), `"sql_dnc_numbers"`)
	require.NotContains(t, js.String(), `"sql_mismatches"`)
}

// TestSQLMatchesMemory is the correctness check of the comparison: for
// every request of a small world, the SQL side's query yields the same
// facts as the in-memory indexes, and so the same decision.
func TestSQLMatchesMemory(t *testing.T) {
	db := dbtest.New(t)
	e := newEngine(t)
	w := smallWorld(t, e)
	s, err := loadSQL(t.Context(), db, w, e, func(string, ...any) {})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.close()) }()
	conn, err := db.Acquire(t.Context())
	require.NoError(t, err)
	defer conn.Release()

	reasons := map[consent.Reason]int{}
	verdicts := map[consent.Verdict]int{}
	var withConsent, purposeRevoked int
	for _, reqs := range [][]dialer.Request{w.campaign, w.random} {
		for i := range reqs {
			req := &reqs[i]
			got, gotF, err := s.decide(t.Context(), conn, req)
			require.NoError(t, err)
			w.gate.sync()
			want, wantF := w.gate.check(*req), w.gate.facts(req)
			require.Truef(t, sameFacts(gotF, wantF), "%s: sql facts %+v, in memory %+v", req.Phone, gotF, wantF)
			require.Truef(t, sameDecision(got, want), "%s: sql %+v, in memory %+v", req.Phone, got, want)
			verdicts[want.Verdict]++
			for _, r := range want.Reasons {
				reasons[r]++
			}
			if want.ConsentID != 0 {
				withConsent++
			}
			if !wantF.Consent.PurposeRevokedAt.Equal(wantF.Consent.RevokedAt) {
				purposeRevoked++
			}
		}
	}
	t.Logf("verdicts %v; reasons %v; %d relying on consent; %d with a purpose-limited revocation", verdicts, reasons, withConsent, purposeRevoked)
	// The sample covers the cases the comparison is about.
	for _, v := range []consent.Verdict{consent.Allow, consent.Deny, consent.Defer} {
		require.Positive(t, verdicts[v], v)
	}
	for _, r := range []consent.Reason{consent.ReasonDNCNational, consent.ReasonDNCInternal, consent.ReasonConsentMissing,
		consent.ReasonConsentRevoked, consent.ReasonConsentExpired, consent.ReasonConsentInsufficient,
		consent.ReasonWindowOutside, consent.ReasonCapAfterConversation, consent.ReasonCapResidential} {
		require.Positive(t, reasons[r], r)
	}
	require.Positive(t, withConsent)
	require.Positive(t, purposeRevoked)
}

// TestGateIsPolicyGate checks that the benchmark's gate decides as
// dialer.PolicyGate does when PolicyGate's indexes hold the same lists and
// records, that its batched form decides alike, and that neither
// allocates.
func TestGateIsPolicyGate(t *testing.T) {
	db := dbtest.New(t)
	e := newEngine(t)
	w := smallWorld(t, e)
	ix := dialer.NewIndexes(db, slog.New(slog.DiscardHandler))
	require.NoError(t, ix.Load(t.Context()))
	loaded := time.Now()
	view := w.gate.dnc.View()
	for _, l := range []dnc.ListID{dnc.National, dnc.Internal} {
		meta, set, ok := view.List(l)
		require.True(t, ok)
		_, err := ix.DNC.Replace(meta, set)
		require.NoError(t, err)
	}
	ix.Consent.Replace(w.gate.consent.Snapshot())
	pg := &dialer.PolicyGate{Engine: e, Indexes: ix, Clock: func() time.Time { return loaded }}
	for _, reqs := range [][]dialer.Request{w.campaign, w.random} {
		for _, req := range reqs {
			w.gate.sync()
			got, want := w.gate.check(req), pg.Check(t.Context(), req)
			require.Truef(t, sameDecision(got, want), "%s: gatebench %+v, PolicyGate %+v", req.Phone, got, want)
			require.NotContains(t, want.Reasons, consent.ReasonIndexStale)
		}
	}
	decs := make([]consent.Decision, len(w.mixed))
	for _, reqs := range [][]dialer.Request{w.mixed, w.scattered} {
		w.gate.sync()
		w.gate.checkBatch(reqs, decs)
		for i, req := range reqs {
			require.Truef(t, sameDecision(decs[i], w.gate.check(req)), "%s: batched %+v, one by one %+v", req.Phone, decs[i], w.gate.check(req))
		}
	}
	for _, reqs := range [][]dialer.Request{w.campaign, w.random} {
		i := 0
		w.gate.sync()
		allocs := testing.AllocsPerRun(2000, func() {
			w.gate.check(reqs[i%len(reqs)])
			i++
		})
		require.Zero(t, allocs)
	}
	require.Zero(t, testing.AllocsPerRun(10, func() { w.gate.checkBatch(w.mixed, decs) }))
}

var benchWorld = sync.OnceValues(func() (*world, error) {
	e, err := consent.NewEngine(consent.Config{})
	if err != nil {
		return nil, err
	}
	return buildWorld(spec{dnc: *flagDNC, consents: *flagConsents, decisions: 1 << 16, seed: 1}, e, func(string, ...any) {})
})

// BenchmarkGate measures full decisions (DNC lookup, consent lookup,
// windows, caps) as dialer.PolicyGate makes them, over campaign numbers,
// random numbers and half of each. The headline figures (ns/op is per
// pacing batch of benchBatch requests, decisions/s and ns/decision) are
// CheckBatch's; single-decisions/s is Check's, one request at a time, timed
// over as many requests right after, and batch/single the ratio. Sizes come
// from -gatebench.dnc and -gatebench.consents.
func BenchmarkGate(b *testing.B) {
	w, err := benchWorld()
	if err != nil {
		b.Fatal(err)
	}
	for _, set := range []struct {
		name string
		reqs []dialer.Request
	}{{"campaign", w.campaign}, {"random", w.random}, {"mixed", w.mixed}, {"scattered", w.scattered}, {"sales", w.sales}} {
		b.Run(set.name, func(b *testing.B) {
			g, reqs := w.gate, set.reqs
			out := make([]consent.Decision, benchBatch)
			for i := 0; i+benchBatch <= len(reqs); i += benchBatch {
				g.checkBatch(reqs[i:i+benchBatch], out)
				g.check(reqs[i])
			}
			b.ReportAllocs()
			n := 0
			var s int64
			for b.Loop() {
				i := n % len(reqs)
				if i%chunk == 0 {
					g.sync()
				}
				g.checkBatch(reqs[i:i+benchBatch], out)
				s += out[0].ConsentID
				n += benchBatch
			}
			rate := float64(n) / b.Elapsed().Seconds()
			b.ReportMetric(rate, "decisions/s")
			b.ReportMetric(1e9/rate, "ns/decision")

			start := time.Now()
			for i := range n {
				j := i % len(reqs)
				if j%chunk == 0 {
					g.sync()
				}
				s += g.check(reqs[j]).ConsentID
			}
			single := float64(n) / time.Since(start).Seconds()
			sink += s
			b.ReportMetric(single, "single-decisions/s")
			b.ReportMetric(rate/single, "batch/single")
		})
	}
}

// benchBatch is the pacing batch of BenchmarkGate's batch figures; it
// divides chunk and the request sets' sizes.
const benchBatch = 256
