package gatebench

import (
	"sync/atomic"
	"time"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
)

// gate makes the decisions of dialer.PolicyGate.Check over indexes built in
// memory. PolicyGate reads a *dialer.Indexes, whose freshness stamp only
// Indexes.Load and Indexes.Sync can set, and both read PostgreSQL; so the
// benchmark replicates Check step for step instead (the freshness check on
// the wall clock, the DNC lookup, the consent lookup, the national list's
// date, Engine.Decide), and the package's tests check that both decide
// alike on the same indexes.
type gate struct {
	engine  *consent.Engine
	dnc     *dnc.Index
	consent *consent.Index
	// confirmed is when the indexes last confirmed they were current, in
	// Unix nanoseconds, as dialer.Indexes keeps it; sync sets it, as the
	// pacing loop syncs before each batch.
	confirmed atomic.Int64
}

func newGate(e *consent.Engine, d *dnc.Index, c *consent.Index) *gate {
	g := &gate{engine: e, dnc: d, consent: c}
	g.sync()
	return g
}

// sync stands for dialer.Indexes.Sync: the indexes are complete, so it only
// confirms freshness.
func (g *gate) sync() { g.confirmed.Store(time.Now().UnixNano()) }

// fresh is dialer.Indexes.Fresh with the default bound.
func (g *gate) fresh(now time.Time) bool {
	c := g.confirmed.Load()
	return c != 0 && now.UnixNano()-c <= int64(dialer.DefaultFreshness)
}

// check is dialer.PolicyGate.Check.
func (g *gate) check(req dialer.Request) consent.Decision {
	in := consent.Input{
		Number: req.Phone, State: req.State, ZIP: req.ZIP, Purpose: req.Purpose,
		Method: req.Method, Line: req.Line, At: req.At, History: req.History,
	}
	var f consent.Facts
	f.Fresh = g.fresh(time.Now())
	view := g.dnc.View()
	if n, err := req.Phone.NANP(); err == nil {
		f.DNC = dncHits(view.Lookup(n))
		g.consent.Lookup(n, req.Purpose, consent.ChannelVoice, req.At, &f.Consent)
	}
	if m, _, ok := view.List(dnc.National); ok {
		f.NationalAsOf = m.AsOf
	}
	var d consent.Decision
	g.engine.Decide(&in, &f, &d)
	return d
}

// batch is how many requests checkBatch looks up in the do-not-call index
// at once.
const batch = 256

// checkBatch decides reqs[i] into out[i] as check does, except that it
// looks the batch's numbers up in the do-not-call index together
// (dnc.View.LookupBatch, which overlaps their memory accesses) and reads
// the clock once per batch. It is not what PolicyGate does: it shows what
// a gate that decides a pacing batch at once could gain. out must be at
// least as long as reqs.
func (g *gate) checkBatch(reqs []dialer.Request, out []consent.Decision) {
	var (
		ns   [batch]uint64
		hits [batch]dnc.Hits
	)
	view := g.dnc.View()
	var asOf time.Time
	if m, _, ok := view.List(dnc.National); ok {
		asOf = m.AsOf
	}
	for len(reqs) > 0 {
		k := min(batch, len(reqs))
		for i := range k {
			n, err := reqs[i].Phone.NANP()
			if err != nil {
				n = dnc.MaxNumber // looked up as absent
			}
			ns[i] = n
		}
		view.LookupBatch(ns[:k], hits[:k])
		fresh := g.fresh(time.Now())
		for i := range k {
			req := &reqs[i]
			in := consent.Input{
				Number: req.Phone, State: req.State, ZIP: req.ZIP, Purpose: req.Purpose,
				Method: req.Method, Line: req.Line, At: req.At, History: req.History,
			}
			f := consent.Facts{Fresh: fresh, NationalAsOf: asOf}
			if ns[i] < dnc.MaxNumber {
				f.DNC = dncHits(hits[i])
				g.consent.Lookup(ns[i], req.Purpose, consent.ChannelVoice, req.At, &f.Consent)
			}
			g.engine.Decide(&in, &f, &out[i])
		}
		reqs, out = reqs[k:], out[k:]
	}
}

// facts returns the facts check gives the engine, for comparison with the
// SQL side's.
func (g *gate) facts(req *dialer.Request) consent.Facts {
	f := consent.Facts{Fresh: true}
	view := g.dnc.View()
	if n, err := req.Phone.NANP(); err == nil {
		f.DNC = dncHits(view.Lookup(n))
		g.consent.Lookup(n, req.Purpose, consent.ChannelVoice, req.At, &f.Consent)
	}
	if m, _, ok := view.List(dnc.National); ok {
		f.NationalAsOf = m.AsOf
	}
	return f
}

// dncHits is dialer's mapping of the index's per-list hits to the engine's
// list kinds: any state's list counts as a state-list hit.
func dncHits(h dnc.Hits) consent.DNCHits {
	var out consent.DNCHits
	if h.Has(dnc.Internal) {
		out |= consent.DNCInternal
	}
	if h.Has(dnc.National) {
		out |= consent.DNCNational
	}
	if h.Has(dnc.Litigator) {
		out |= consent.DNCLitigator
	}
	if h&^(1<<dnc.Internal|1<<dnc.National|1<<dnc.Litigator) != 0 {
		out |= consent.DNCState
	}
	return out
}
