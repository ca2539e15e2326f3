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

// checkBatch is dialer.PolicyGate.CheckBatch: it decides reqs[i] into
// out[i] as check does, a pacing batch at a time. out must be at least as
// long as reqs.
func (g *gate) checkBatch(reqs []dialer.Request, out []consent.Decision) {
	g.pg.CheckBatch(context.Background(), reqs, out)
}

// facts returns the facts check gives the engine, for comparison with the
// SQL side's.
func (g *gate) facts(req *dialer.Request) consent.Facts {
	f := g.pg.Facts(req)
	f.Fresh = true
	return f
}
