package gatebench

import (
	"context"
	"time"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
)

// gate is the dialer's own dialer.PolicyGate over indexes built in memory
// (dialer.NewMemoryIndexes), so the benchmark measures the code the pacing
// loop runs.
type gate struct {
	engine  *consent.Engine
	dnc     *dnc.Index
	consent *consent.Index
	pg      *dialer.PolicyGate
}

func newGate(e *consent.Engine, d *dnc.Index, c *consent.Index) *gate {
	return &gate{engine: e, dnc: d, consent: c, pg: &dialer.PolicyGate{Engine: e, Indexes: dialer.NewMemoryIndexes(d, c)}}
}

// sync is what the pacing loop does before each batch.
func (g *gate) sync() { _ = g.pg.Sync(context.Background()) }

// fresh is the indexes' freshness, as the gate reads it.
func (g *gate) fresh(now time.Time) bool { return g.pg.Indexes.Fresh(now) }

// check is dialer.PolicyGate.Check.
func (g *gate) check(req dialer.Request) consent.Decision {
	return g.pg.Check(context.Background(), req)
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
				f.DNC = dialer.DNCHits(hits[i])
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
	f := g.pg.Facts(req)
	f.Fresh = true
	return f
}
