// Package gatebench measures the dialer's gate: full decisions (do-not-call
// lookup, consent lookup, calling windows and frequency caps) made from the
// in-memory indexes on one core, a pacing batch at a time as the pacing
// loop makes them (dialer.PolicyGate.CheckBatch, the headline figure) and
// one request at a time (Check), checked to be the same decisions; and,
// side by side in the same run, the same decisions made the way SQL-based
// dialers make them, with one query per lead against PostgreSQL. `heed
// bench gate` runs it.
package gatebench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/cputime"
)

// Options configure Run.
type Options struct {
	// DNCNumbers is the size of the national do-not-call list;
	// 1,000,000 when zero (the target is 260,000,000).
	DNCNumbers int
	// Consents is the number of consent and revocation records; 100,000
	// when zero (the target is 10,000,000).
	Consents int
	// Decisions is the number of prepared requests in each of the campaign
	// and random sets; 262,144 when zero. The phases cycle through them.
	Decisions int
	// Seed makes the data: runs with the same seed use the same data.
	Seed uint64
	// DB, when set, enables the SQL side.
	DB *pgxpool.Pool
	// SQLDNCNumbers and SQLConsents size the SQL side's tables; the
	// in-memory sizes when zero. Smaller tables shorten the load; the
	// report gives the sizes used.
	SQLDNCNumbers, SQLConsents int
	// PhaseTime bounds each measured phase; 2 s when zero.
	PhaseTime time.Duration
	// Rounds is how many times each full-decision phase runs; 3 when
	// zero. The rounds take turns (every phase once, then every phase
	// again), and each figure is the median of its rounds, so that a
	// machine whose speed drifts between seconds moves the figures less
	// than any one round.
	Rounds int
	// Log, when set, receives a line as each step starts.
	Log io.Writer
	// Profile, when set, receives a CPU profile (pprof) of the in-memory
	// measurements, the gate's hot loop: what make pgo turns into the heed
	// binary's profile for profile-guided optimization. The profiler's
	// sampling slows the measurements a little.
	Profile io.Writer
}

// TargetDecisionsPerS is the rate full decisions are meant to reach on one
// core, with 10 M consents and 260 M do-not-call numbers loaded.
const TargetDecisionsPerS = 5_000_000

// Report is the outcome of Run. The first three fields are the figures the
// issue asks for; SQLDecisionsPerS is nil when the SQL side did not run.
// The headline figures are the batch gate's (dialer.PolicyGate.CheckBatch
// deciding a pacing batch of BatchSize requests at a time); the Single
// figures are dialer.PolicyGate.Check, one request at a time, on the same
// requests.
type Report struct {
	// DecisionsPerS is the rate of full decisions on one core over the
	// mixed set (half campaign numbers, half random numbers), decided a
	// pacing batch at a time, each batch one campaign's at one instant.
	DecisionsPerS float64 `json:"decisions_per_s"`
	// AllocsPerDecision is the heap allocations per full decision over the
	// eight full-decision phases (four batched, four single).
	AllocsPerDecision float64 `json:"allocs_per_decision"`
	// SQLDecisionsPerS is the rate of the same decisions made with one
	// query per decision on one connection.
	SQLDecisionsPerS *float64 `json:"sql_decisions_per_s"`

	// NsPerDecision is the time of one full decision over the mixed set,
	// batched.
	NsPerDecision float64 `json:"ns_per_decision"`
	// OfTarget is DecisionsPerS / TargetDecisionsPerS: 1 or more meets the
	// target.
	OfTarget float64 `json:"of_target"`
	// Rounds is how many times each full-decision phase ran; the full
	// decision figures are their rounds' medians.
	Rounds int `json:"rounds"`
	// BatchedNsRounds holds, for each set (campaign, random, mixed,
	// scattered, sales), the batched ns per decision of each round, in
	// the order they ran.
	BatchedNsRounds map[string][]float64 `json:"batched_ns_rounds"`
	// CPUNsPerDecision and SingleCPUNsPerDecision are the CPU time of one
	// decision over the mixed set, batched and one by one: what the thread
	// spent on a CPU, which on a machine shared with other work is closer
	// to the cost of a decision than the wall-clock time (0 where the
	// thread's CPU time cannot be read).
	CPUNsPerDecision       float64 `json:"cpu_ns_per_decision"`
	SingleCPUNsPerDecision float64 `json:"single_cpu_ns_per_decision"`
	// BatchSize is the pacing batch: how many requests each CheckBatch
	// call decides.
	BatchSize int `json:"batch_size"`
	// CampaignDecisionsPerS is the batched rate over numbers with consent
	// records (a campaign's contact list).
	CampaignDecisionsPerS float64 `json:"campaign_decisions_per_s"`
	// RandomDecisionsPerS is the batched rate over numbers drawn uniformly
	// from the exchanges of every US area code.
	RandomDecisionsPerS float64 `json:"random_decisions_per_s"`
	// ScatteredDecisionsPerS is the batched rate over the mixed set's
	// numbers when every request has its own campaign (purpose and method)
	// and instant, unlike the pacing loop's batches, which are each one
	// campaign's at one instant (the other sets).
	ScatteredDecisionsPerS float64 `json:"scattered_decisions_per_s"`
	// SalesDecisionsPerS is the batched rate over the mixed set's numbers
	// paced into sales campaigns only (telemarketing and solicitation):
	// the calls whose rules read the national registry and the state
	// lists, which the gate looks up for them alone.
	SalesDecisionsPerS float64 `json:"sales_decisions_per_s"`
	// SingleDecisionsPerS, SingleCampaignDecisionsPerS,
	// SingleRandomDecisionsPerS, SingleScatteredDecisionsPerS and
	// SingleSalesDecisionsPerS are the same rates with one Check per
	// request, and SingleNsPerDecision the time of one such decision over
	// the mixed set.
	SingleDecisionsPerS          float64 `json:"single_decisions_per_s"`
	SingleNsPerDecision          float64 `json:"single_ns_per_decision"`
	SingleCampaignDecisionsPerS  float64 `json:"single_campaign_decisions_per_s"`
	SingleRandomDecisionsPerS    float64 `json:"single_random_decisions_per_s"`
	SingleScatteredDecisionsPerS float64 `json:"single_scattered_decisions_per_s"`
	SingleSalesDecisionsPerS     float64 `json:"single_sales_decisions_per_s"`
	// BatchVsSingle is DecisionsPerS / SingleDecisionsPerS, and BatchVsSQL
	// DecisionsPerS / SQLDecisionsPerS (nil without the SQL side).
	BatchVsSingle float64  `json:"batch_vs_single"`
	BatchVsSQL    *float64 `json:"batch_vs_sql"`
	// BatchMismatches counts the requests of the campaign, random and
	// mixed sets whose batched decision differs from the single one in
	// verdict, reasons, until, pack or consent id (zero is the check that
	// the batch gate decides as the single one).
	BatchMismatches int `json:"batch_mismatches"`
	// BatchMismatch describes the first mismatch.
	BatchMismatch string `json:"batch_mismatch,omitempty"`
	// DNCLookupNs, ConsentLookupNs and EngineNs time the parts of a single
	// decision alone over the mixed set: the do-not-call lookup, the
	// consent lookup (with the number's parsing), and Engine.Decide on
	// facts gathered beforehand. DNCBatchLookupNs and ConsentBatchLookupNs
	// time the batched lookups the batch gate makes (per number, numbers
	// parsed beforehand).
	DNCLookupNs          float64 `json:"dnc_lookup_ns"`
	ConsentLookupNs      float64 `json:"consent_lookup_ns"`
	EngineNs             float64 `json:"engine_ns"`
	DNCBatchLookupNs     float64 `json:"dnc_batch_lookup_ns"`
	ConsentBatchLookupNs float64 `json:"consent_batch_lookup_ns"`
	// EngineBatchNs times consent.Batch.Decide on the same facts, one
	// pacing batch after another, without the decisions a Batch can
	// remember.
	EngineBatchNs float64 `json:"engine_batch_ns"`
	// EngineMemoNs times consent.Batch.DecideIndexed on the same facts,
	// with one Batch made by Engine.NewBatch for the whole phase, each
	// request's kind and number worked out beforehand: the engine's part
	// of the batch gate's decision, as the gate makes it.
	EngineMemoNs float64 `json:"engine_memo_ns"`
	// Allow, Deny and Defer are the shares of the verdicts over the mixed set.
	Allow float64 `json:"allow"`
	Deny  float64 `json:"deny"`
	Defer float64 `json:"defer"`
	// CPUs is GOMAXPROCS; the in-memory figures use one goroutine locked
	// to one thread.
	CPUs int `json:"cpus"`
	// Pack is the engine's pack-set version.
	Pack string `json:"pack"`

	// DNCNumbers, InternalNumbers, Consents and ConsentNumbers are the
	// in-memory data sizes: national and internal list sizes, consent and
	// revocation records, distinct numbers with records.
	DNCNumbers      int `json:"dnc_numbers"`
	InternalNumbers int `json:"internal_numbers"`
	Consents        int `json:"consents"`
	ConsentNumbers  int `json:"consent_numbers"`
	// Decisions is the size of each request set.
	Decisions int `json:"decisions"`
	// DNCBytes and ConsentBytes are the memory the two indexes take.
	DNCBytes     int64 `json:"dnc_bytes"`
	ConsentBytes int64 `json:"consent_bytes"`
	// DNCBuildS and ConsentBuildS are the times to generate and build the
	// do-not-call index and to build the consent index.
	DNCBuildS     float64 `json:"dnc_build_s"`
	ConsentBuildS float64 `json:"consent_build_s"`

	// SQLDNCNumbers and SQLConsents are the sizes of the SQL side's dnc
	// and consents+revocations tables, which may be smaller than the
	// in-memory ones; SQLAttempts is the attempts table's size.
	SQLDNCNumbers int `json:"sql_dnc_numbers,omitempty"`
	SQLConsents   int `json:"sql_consents,omitempty"`
	SQLAttempts   int `json:"sql_attempts,omitempty"`
	// SQLLoadS is the time to load and index the tables.
	SQLLoadS float64 `json:"sql_load_s,omitempty"`
	// SQLDecisions is how many decisions the SQL side made, and
	// SQLMismatches how many of them differ from the in-memory gate's
	// decision for the same request on the same data, in the decision or
	// in the facts it came from (zero is the correctness check); nil when
	// the SQL side did not run.
	SQLDecisions  int  `json:"sql_decisions,omitempty"`
	SQLMismatches *int `json:"sql_mismatches,omitempty"`
	// SQLMismatch describes the first mismatch.
	SQLMismatch string `json:"sql_mismatch,omitempty"`
}

// Run generates the data, builds the indexes, measures the in-memory gate
// and, when opts.DB is set, loads the same kind of data into PostgreSQL
// and measures the SQL side.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.DNCNumbers <= 0 {
		opts.DNCNumbers = 1_000_000
	}
	if opts.Consents <= 0 {
		opts.Consents = 100_000
	}
	if opts.Decisions <= 0 {
		opts.Decisions = 1 << 18
	}
	if opts.SQLDNCNumbers <= 0 {
		opts.SQLDNCNumbers = opts.DNCNumbers
	}
	if opts.SQLConsents <= 0 {
		opts.SQLConsents = opts.Consents
	}
	if opts.PhaseTime <= 0 {
		opts.PhaseTime = 2 * time.Second
	}
	if opts.Rounds <= 0 {
		opts.Rounds = 3
	}
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, "gatebench: "+format+"\n", args...)
		}
	}
	engine, err := consent.NewEngine(consent.Config{})
	if err != nil {
		return nil, fmt.Errorf("gatebench: %w", err)
	}
	sp := spec{dnc: opts.DNCNumbers, consents: opts.Consents, decisions: opts.Decisions, seed: opts.Seed}
	sqlSp := spec{dnc: opts.SQLDNCNumbers, consents: opts.SQLConsents, decisions: opts.Decisions, seed: opts.Seed, keep: true}
	shared := opts.DB != nil && sqlSp.dnc == sp.dnc && sqlSp.consents == sp.consents
	sp.keep = shared

	w, err := buildWorld(sp, engine, logf)
	if err != nil {
		return nil, err
	}
	rep := &Report{CPUs: runtime.GOMAXPROCS(0), Pack: engine.Version(), Rounds: opts.Rounds, DNCNumbers: sp.dnc,
		InternalNumbers: len(w.internal), Consents: w.records, ConsentNumbers: w.gate.consent.Snapshot().Numbers(),
		Decisions: sp.decisions, DNCBytes: w.dncBytes, ConsentBytes: w.consentBytes,
		DNCBuildS: w.dncBuild.Seconds(), ConsentBuildS: w.consentBuild.Seconds()}
	if opts.Profile != nil {
		if err := pprof.StartCPUProfile(opts.Profile); err != nil {
			return nil, fmt.Errorf("gatebench: cpu profile: %w", err)
		}
	}
	err = measure(ctx, w, opts.PhaseTime, rep, logf)
	if opts.Profile != nil {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return nil, err
	}
	if opts.DB == nil {
		return rep, nil
	}
	if !shared {
		w = nil
		runtime.GC()
		debug.FreeOSMemory()
		if w, err = buildWorld(sqlSp, engine, logf); err != nil {
			return nil, err
		}
	}
	if err := measureSQL(ctx, opts.DB, w, engine, opts.PhaseTime, rep, logf); err != nil {
		return nil, err
	}
	return rep, nil
}

// chunk is how many decisions are timed at a time; the gate's freshness is
// confirmed before each chunk, as the pacing loop syncs before each batch.
const chunk = 4096

var sink int64

// timing is what phase measures: the wall-clock time per request in
// nanoseconds, the time per request that the thread spent on a CPU (0 where
// it cannot be read), and the heap allocations per request.
type timing struct {
	ns, cpuNs, allocs float64
}

// phase runs fn over the n prepared requests, calling fn(lo, hi) for a
// chunk at a time and cycling, for at least d (and at least one pass), on
// one goroutine locked to its thread.
func phase(ctx context.Context, g *gate, n int, d time.Duration, fn func(lo, hi int) int64) (timing, error) {
	if n == 0 {
		return timing{}, errors.New("gatebench: no requests")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Warm up (interned reason lists, page faults) with fresh indexes.
	for i := 0; i < n; i += chunk {
		g.sync()
		sink += fn(i, min(i+chunk, n))
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var spent, cpu time.Duration
	calls := 0
	for i := 0; spent < d || calls < n; {
		if err := ctx.Err(); err != nil {
			return timing{}, fmt.Errorf("gatebench: %w", err)
		}
		if i == n {
			i = 0
		}
		k := min(chunk, n-i)
		g.sync()
		c0, start := cputime.Thread(), time.Now()
		sink += fn(i, i+k)
		spent += time.Since(start)
		cpu += cputime.Thread() - c0
		calls += k
		i += k
	}
	runtime.ReadMemStats(&after)
	return timing{ns: float64(spent.Nanoseconds()) / float64(calls), cpuNs: float64(cpu.Nanoseconds()) / float64(calls),
		allocs: float64(after.Mallocs-before.Mallocs) / float64(calls)}, nil
}

// BatchSize is the pacing batch the batched phases decide at a time.
const BatchSize = 256

// measure runs the in-memory phases.
func measure(ctx context.Context, w *world, d time.Duration, rep *Report, logf func(string, ...any)) error {
	g := w.gate
	rep.BatchSize = BatchSize
	single := func(reqs []dialer.Request) func(lo, hi int) int64 {
		return func(lo, hi int) int64 {
			var s int64
			for i := lo; i < hi; i++ {
				dec := g.check(reqs[i])
				s += dec.ConsentID + int64(len(dec.Reasons))
			}
			return s
		}
	}
	decs := make([]consent.Decision, max(len(w.campaign), len(w.random), len(w.mixed), len(w.scattered), len(w.sales)))
	// The batched phases decide into one batch's worth of decisions, used
	// before the next batch, as the pacing loop uses its batch's.
	out := make([]consent.Decision, BatchSize)
	batched := func(reqs []dialer.Request) func(lo, hi int) int64 {
		return func(lo, hi int) int64 {
			var s int64
			for i := lo; i < hi; i += BatchSize {
				o := out[:min(i+BatchSize, hi)-i]
				g.checkBatch(reqs[i:i+len(o)], o)
				for j := range o {
					s += o[j].ConsentID + int64(len(o[j].Reasons))
				}
			}
			return s
		}
	}
	sets := []struct {
		name          string
		reqs          []dialer.Request
		batch, single *float64
	}{
		{"campaign", w.campaign, &rep.CampaignDecisionsPerS, &rep.SingleCampaignDecisionsPerS},
		{"random", w.random, &rep.RandomDecisionsPerS, &rep.SingleRandomDecisionsPerS},
		{"mixed", w.mixed, &rep.DecisionsPerS, &rep.SingleDecisionsPerS},
		{"scattered", w.scattered, &rep.ScatteredDecisionsPerS, &rep.SingleScatteredDecisionsPerS},
		{"sales", w.sales, &rep.SalesDecisionsPerS, &rep.SingleSalesDecisionsPerS},
	}
	modes := []struct {
		name string
		fn   func([]dialer.Request) func(lo, hi int) int64
	}{{"batched", batched}, {"one by one", single}}
	// timings[set][mode] holds each round's timing.
	timings := make([][2][]timing, len(sets))
	var allocs, calls float64
	for r := range rep.Rounds {
		for si, p := range sets {
			for mi, mode := range modes {
				logf("full decisions, %s numbers, %s (round %d of %d)", p.name, mode.name, r+1, rep.Rounds)
				tm, err := phase(ctx, g, len(p.reqs), d, mode.fn(p.reqs))
				if err != nil {
					return err
				}
				timings[si][mi] = append(timings[si][mi], tm)
				allocs += tm.allocs
				calls++
			}
		}
	}
	rep.BatchedNsRounds = map[string][]float64{}
	for si, p := range sets {
		for mi, out := range []*float64{p.batch, p.single} {
			ns, cpuNs := make([]float64, rep.Rounds), make([]float64, rep.Rounds)
			for r, tm := range timings[si][mi] {
				ns[r], cpuNs[r] = tm.ns, tm.cpuNs
			}
			if mi == 0 {
				rep.BatchedNsRounds[p.name] = slices.Clone(ns)
			}
			*out = 1e9 / median(ns)
			if p.name == "mixed" && mi == 0 {
				rep.NsPerDecision, rep.CPUNsPerDecision = median(ns), median(cpuNs)
			} else if p.name == "mixed" {
				rep.SingleNsPerDecision, rep.SingleCPUNsPerDecision = median(ns), median(cpuNs)
			}
		}
	}
	rep.AllocsPerDecision = allocs / calls
	rep.OfTarget = rep.DecisionsPerS / TargetDecisionsPerS
	rep.BatchVsSingle = rep.DecisionsPerS / rep.SingleDecisionsPerS

	logf("checking batched decisions against single ones")
	for _, p := range sets {
		g.sync()
		for i := 0; i < len(p.reqs); i += BatchSize {
			if i%chunk == 0 {
				g.sync()
			}
			g.checkBatch(p.reqs[i:min(i+BatchSize, len(p.reqs))], decs[i:min(i+BatchSize, len(p.reqs))])
		}
		var allow, deny, deferred int
		for i := range p.reqs {
			if i%chunk == 0 {
				g.sync()
			}
			want := g.check(p.reqs[i])
			if !sameDecision(decs[i], want) {
				rep.BatchMismatches++
				if rep.BatchMismatch == "" {
					rep.BatchMismatch = fmt.Sprintf("%s %s at %s: batched %+v; single %+v", p.reqs[i].Phone, p.reqs[i].Purpose,
						p.reqs[i].At.Format(time.RFC3339), decs[i], want)
				}
			}
			switch want.Verdict {
			case consent.Allow:
				allow++
			case consent.Deny:
				deny++
			case consent.Defer:
				deferred++
			}
		}
		if p.name == "mixed" {
			n := float64(len(p.reqs))
			rep.Allow, rep.Deny, rep.Defer = float64(allow)/n, float64(deny)/n, float64(deferred)/n
		}
	}

	reqs := w.mixed
	nums := make([]uint64, len(reqs))
	qs := make([]consent.Query, len(reqs))
	for i := range reqs {
		n, err := reqs[i].Phone.NANP()
		if err != nil {
			n = dnc.MaxNumber
		}
		nums[i] = n
		qs[i] = consent.Query{Number: n, Purpose: reqs[i].Purpose, At: reqs[i].At}
	}
	logf("parts: do-not-call lookups")
	tm, err := phase(ctx, g, len(reqs), d/2, func(lo, hi int) int64 {
		view := g.dnc.View()
		var s int64
		for i := lo; i < hi; i++ {
			if n, err := reqs[i].Phone.NANP(); err == nil {
				s += int64(view.Lookup(n))
			}
		}
		return s
	})
	if err != nil {
		return err
	}
	rep.DNCLookupNs = tm.ns
	logf("parts: do-not-call lookups, batched")
	hits := make([]dnc.Hits, BatchSize)
	tm, err = phase(ctx, g, len(reqs), d/2, func(lo, hi int) int64 {
		view := g.dnc.View()
		var s int64
		for i := lo; i < hi; i += BatchSize {
			j := min(i+BatchSize, hi)
			view.LookupBatch(nums[i:j], hits[:j-i])
			s += int64(hits[0])
		}
		return s
	})
	if err != nil {
		return err
	}
	rep.DNCBatchLookupNs = tm.ns
	logf("parts: consent lookups")
	tm, err = phase(ctx, g, len(reqs), d/2, func(lo, hi int) int64 {
		var s int64
		var cf consent.ConsentFacts
		for i := lo; i < hi; i++ {
			if n, err := reqs[i].Phone.NANP(); err == nil {
				g.consent.Lookup(n, reqs[i].Purpose, consent.ChannelVoice, reqs[i].At, &cf)
				s += cf.ID
			}
		}
		return s
	})
	if err != nil {
		return err
	}
	rep.ConsentLookupNs = tm.ns
	logf("parts: consent lookups, batched")
	cfs := make([]consent.ConsentFacts, BatchSize)
	tm, err = phase(ctx, g, len(reqs), d/2, func(lo, hi int) int64 {
		snap := g.consent.Snapshot()
		var s int64
		for i := lo; i < hi; i += BatchSize {
			j := min(i+BatchSize, hi)
			snap.LookupBatch(qs[i:j], consent.ChannelVoice, cfs[:j-i], nil)
			s += cfs[0].ID
		}
		return s
	})
	if err != nil {
		return err
	}
	rep.ConsentBatchLookupNs = tm.ns
	logf("parts: engine")
	ins := make([]consent.Input, len(w.mixed))
	fs := make([]consent.Facts, len(w.mixed))
	for i := range w.mixed {
		r := &w.mixed[i]
		ins[i] = consent.Input{Number: r.Phone, State: r.State, ZIP: r.ZIP, Purpose: r.Purpose,
			Method: r.Method, Line: r.Line, At: r.At, History: r.History}
		fs[i] = g.facts(r)
	}
	tm, err = phase(ctx, g, len(reqs), d/2, func(lo, hi int) int64 {
		var s int64
		var dec consent.Decision
		for i := lo; i < hi; i++ {
			g.engine.Decide(&ins[i], &fs[i], &dec)
			s += dec.ConsentID + int64(len(dec.Reasons))
		}
		return s
	})
	if err != nil {
		return err
	}
	rep.EngineNs = tm.ns
	logf("parts: engine, batched")
	tm, err = phase(ctx, g, len(reqs), d/2, func(lo, hi int) int64 {
		var s int64
		var dec consent.Decision
		b := g.engine.Batch()
		for i := lo; i < hi; i++ {
			b.Decide(&ins[i], &fs[i], &dec)
			s += dec.ConsentID + int64(len(dec.Reasons))
		}
		return s
	})
	if err != nil {
		return err
	}
	rep.EngineBatchNs = tm.ns
	logf("parts: engine, remembering decisions")
	mb := g.engine.NewBatch()
	keys := make([]consent.Key, len(w.mixed))
	for i := range w.mixed {
		r := &w.mixed[i]
		keys[i] = mb.Key(r.Purpose, r.Method, r.Line)
	}
	tm, err = phase(ctx, g, len(reqs), d/2, func(lo, hi int) int64 {
		var s int64
		var dec consent.Decision
		for i := lo; i < hi; i++ {
			if nums[i] == dnc.MaxNumber {
				mb.Decide(&ins[i], &fs[i], &dec)
			} else {
				mb.DecideIndexed(&ins[i], keys[i], nums[i], &fs[i], &fs[i].Consent, &dec)
			}
			s += dec.ConsentID + int64(len(dec.Reasons))
		}
		return s
	})
	if err != nil {
		return err
	}
	rep.EngineMemoNs = tm.ns
	return nil
}

// measureSQL loads w into PostgreSQL, makes decisions with one query each
// on one connection for d, and compares each with the in-memory gate's.
func measureSQL(ctx context.Context, db *pgxpool.Pool, w *world, engine *consent.Engine, d time.Duration, rep *Report, logf func(string, ...any)) (err error) {
	rep.SQLDNCNumbers, rep.SQLConsents = w.spec.dnc, w.records
	start := time.Now()
	s, err := loadSQL(ctx, db, w, engine, logf)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := s.close(); err == nil {
			err = cerr
		}
	}()
	rep.SQLLoadS = time.Since(start).Seconds()
	rep.SQLAttempts = s.attempts
	conn, err := db.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("gatebench: sql: %w", err)
	}
	defer conn.Release()
	// Warm up: the statement is prepared and cached on the connection.
	for i := range min(100, len(w.mixed)) {
		if _, _, err := s.decide(ctx, conn, &w.mixed[i]); err != nil {
			return err
		}
	}
	logf("sql: decisions, one query each")
	var spent time.Duration
	n, bad := 0, 0
	rep.SQLMismatches = &bad
	for i := 0; spent < d && n < 10*len(w.mixed); i++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("gatebench: %w", err)
		}
		req := &w.mixed[i%len(w.mixed)]
		t := time.Now()
		dec, f, err := s.decide(ctx, conn, req)
		spent += time.Since(t)
		if err != nil {
			return err
		}
		n++
		w.gate.sync()
		want, wantF := w.gate.check(*req), w.gate.facts(req)
		if !sameDecision(dec, want) || !sameFacts(f, wantF) {
			bad++
			if rep.SQLMismatch == "" {
				rep.SQLMismatch = fmt.Sprintf("%s %s at %s: sql %+v from %+v; in memory %+v from %+v",
					req.Phone, req.Purpose, req.At.Format(time.RFC3339), dec, f, want, wantF)
			}
		}
	}
	rep.SQLDecisions = n
	rate := float64(n) / spent.Seconds()
	rep.SQLDecisionsPerS = &rate
	ratio := rep.DecisionsPerS / rate
	rep.BatchVsSQL = &ratio
	return nil
}

// WriteJSON writes the report as one line of JSON, starting with
// decisions_per_s, allocs_per_decision and sql_decisions_per_s.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("gatebench: write json: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("gatebench: write json: %w", err)
	}
	return nil
}

// WriteTable writes the report for people.
func (r *Report) WriteTable(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "gate: %s national + %s internal do-not-call numbers (%.1f MB), %s consent records over %s numbers (%.1f MB)\n",
		group(int64(r.DNCNumbers)), group(int64(r.InternalNumbers)), float64(r.DNCBytes)/1e6,
		group(int64(r.Consents)), group(int64(r.ConsentNumbers)), float64(r.ConsentBytes)/1e6)
	fmt.Fprintf(bw, "packs %s; %s requests per set; one goroutine of %d CPUs\n", r.Pack, group(int64(r.Decisions)), r.CPUs)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "full decisions\tbatched (%d)\tns/decision\trounds (ns)\tone by one\tns/decision\tbatched/single\t\n", r.BatchSize)
	for _, row := range []struct {
		name, set     string
		batch, single float64
	}{
		{"campaign numbers", "campaign", r.CampaignDecisionsPerS, r.SingleCampaignDecisionsPerS},
		{"random numbers", "random", r.RandomDecisionsPerS, r.SingleRandomDecisionsPerS},
		{"mixed (half each)", "mixed", r.DecisionsPerS, r.SingleDecisionsPerS},
		{"mixed, scattered", "scattered", r.ScatteredDecisionsPerS, r.SingleScatteredDecisionsPerS},
		{"mixed, sales only", "sales", r.SalesDecisionsPerS, r.SingleSalesDecisionsPerS},
	} {
		rounds := make([]string, len(r.BatchedNsRounds[row.set]))
		for i, ns := range r.BatchedNsRounds[row.set] {
			rounds[i] = strconv.FormatFloat(ns, 'f', 0, 64)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.2fx\t\n", row.name, group(int64(row.batch)), strconv.FormatFloat(1e9/row.batch, 'f', 1, 64),
			strings.Join(rounds, " "), group(int64(row.single)), strconv.FormatFloat(1e9/row.single, 'f', 1, 64), row.batch/row.single)
	}
	if r.SQLDecisionsPerS != nil {
		fmt.Fprintf(tw, "sql, one query each\t\t\t\t%s\t%s\t\t\n", group(int64(*r.SQLDecisionsPerS)),
			strconv.FormatFloat(1e9 / *r.SQLDecisionsPerS, 'f', 0, 64))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("gatebench: write table: %w", err)
	}
	if r.CPUNsPerDecision > 0 {
		fmt.Fprintf(bw, "cpu time (mixed): batched %.1f ns/decision (%s/s), one by one %.1f ns/decision (%s/s)\n",
			r.CPUNsPerDecision, group(int64(1e9/r.CPUNsPerDecision)), r.SingleCPUNsPerDecision, group(int64(1e9/r.SingleCPUNsPerDecision)))
	}
	if r.BatchVsSQL != nil {
		fmt.Fprintf(bw, "batched gate vs sql: %.0fx the decisions per second\n", *r.BatchVsSQL)
	}
	fmt.Fprintf(bw, "each figure is the median of %d rounds; rounds (ns): each round's batched ns/decision, in the order they ran\n", r.Rounds)
	fmt.Fprintf(bw, "each batch is one campaign's at one instant, as the pacing loop's are; scattered: every request its own campaign and instant\n")
	fmt.Fprintf(bw, "sales only: telemarketing and solicitation campaigns, the only calls whose rules read the national registry (the gate skips it for the others)\n")
	fmt.Fprintf(bw, "allocations per decision: %g\n", r.AllocsPerDecision)
	fmt.Fprintf(bw, "target: %s decisions/s per core; the mixed figure is %.2f of it\n", group(TargetDecisionsPerS), r.OfTarget)
	fmt.Fprintf(bw, "batched decisions differing from single ones: %d\n", r.BatchMismatches)
	if r.BatchMismatch != "" {
		fmt.Fprintf(bw, "first difference: %s\n", r.BatchMismatch)
	}
	fmt.Fprintf(bw, "parts (mixed), one by one: dnc lookup %.1f ns, consent lookup %.1f ns, engine %.1f ns\n", r.DNCLookupNs, r.ConsentLookupNs, r.EngineNs)
	fmt.Fprintf(bw, "parts (mixed), batched: dnc lookup %.1f ns, consent lookup %.1f ns, engine %.1f ns (remembering decisions, as the gate decides: %.1f ns)\n",
		r.DNCBatchLookupNs, r.ConsentBatchLookupNs, r.EngineBatchNs, r.EngineMemoNs)
	fmt.Fprintf(bw, "verdicts (mixed): allow %.1f%%, deny %.1f%%, defer %.1f%%\n", 100*r.Allow, 100*r.Deny, 100*r.Defer)
	if r.SQLDecisionsPerS != nil {
		fmt.Fprintf(bw, "sql tables: %s dnc numbers, %s consent records, %s attempts (loaded in %.1f s); %s decisions, %d differing from the in-memory gate\n",
			group(int64(r.SQLDNCNumbers)), group(int64(r.SQLConsents)), group(int64(r.SQLAttempts)), r.SQLLoadS,
			group(int64(r.SQLDecisions)), *r.SQLMismatches)
		if r.SQLMismatch != "" {
			fmt.Fprintf(bw, "first difference: %s\n", r.SQLMismatch)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("gatebench: write table: %w", err)
	}
	return nil
}

// median returns the median of xs, which it sorts; the mean of the middle
// two for an even count.
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// group writes n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
