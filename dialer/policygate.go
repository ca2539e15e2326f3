package dialer

import (
	"context"
	"time"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dnc"
)

// PolicyGate is the gate: it gathers the facts from the in-memory indexes
// and lets the policy engine decide by the law packs. It never touches the
// database; when the indexes cannot confirm they are current it denies with
// index.stale.
type PolicyGate struct {
	Engine  *consent.Engine
	Indexes *Indexes
	// Clock reads the wall clock for index freshness; nil means time.Now.
	// (Request.At, the moment the law is applied to, may differ in tests.)
	Clock func() time.Time
}

var _ Gate = (*PolicyGate)(nil)

// Sync brings the indexes up to every change committed before the call.
// The pacing loop calls it before each batch.
func (g *PolicyGate) Sync(ctx context.Context) error { return g.Indexes.Sync(ctx) }

// Check decides one attempt.
func (g *PolicyGate) Check(_ context.Context, req Request) consent.Decision {
	in := consent.Input{
		Number: req.Phone, State: req.State, ZIP: req.ZIP, Purpose: req.Purpose,
		Method: req.Method, Line: req.Line, At: req.At, History: req.History,
	}
	f := g.Facts(&req)
	var d consent.Decision
	g.Engine.Decide(&in, &f, &d)
	return d
}

// Facts gathers from the in-memory indexes what the engine needs to know
// of a request's number: freshness, do-not-call hits, consent and the
// national registry copy's date.
func (g *PolicyGate) Facts(req *Request) consent.Facts {
	now := time.Now
	if g.Clock != nil {
		now = g.Clock
	}
	var f consent.Facts
	f.Fresh = g.Indexes.Fresh(now())
	view := g.Indexes.DNC.View()
	if n, err := req.Phone.NANP(); err == nil {
		f.DNC = DNCHits(view.Lookup(n))
		g.Indexes.Consent.Lookup(n, req.Purpose, consent.ChannelVoice, req.At, &f.Consent)
	}
	if m, _, ok := view.List(dnc.National); ok {
		f.NationalAsOf = m.AsOf
	}
	return f
}

// DNCHits maps the index's per-list hits to the engine's list kinds: any
// state's list counts as a state-list hit.
func DNCHits(h dnc.Hits) consent.DNCHits {
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
