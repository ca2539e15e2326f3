package dialer

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/phone"
)

// Preview is a call the pacing loop could place, for the people who ask
// "would heed call this number now, and if not, why": Pacer.Preview decides
// it as a pacing batch would.
type Preview struct {
	Phone   phone.Number
	Purpose consent.Purpose
	// Method and Line are the call's; empty means the pacing loop's own,
	// prerecorded to a line of unknown type.
	Method consent.Method
	Line   consent.LineType
	// State and ZIP are the contact's address, empty when unknown.
	State, ZIP string
	// Person is the contact's person reference, or "": the caps then count
	// the calls to all the person's numbers, as for a contact with one.
	Person string
	// At is when the call would be placed.
	At time.Time
}

// PreviewResult is a Preview's decision and what the gate was given.
type PreviewResult struct {
	// Request is what the gate decided, with the number's attempt history,
	// logged overrides and Reassigned Numbers Database answer.
	Request Request
	// HistoryNumbers are the numbers whose calls the history counted.
	HistoryNumbers []phone.Number
	// Decision is the gate's.
	Decision consent.Decision
	// Lists are the do-not-call lists of the gate's index that hold the
	// number, when the gate can say (ListHolder); nil otherwise.
	Lists []dnc.Meta
}

// ListHolder is implemented by a gate that can say which of the
// do-not-call lists it reads hold a number.
type ListHolder interface {
	// Holding returns the metadata of the lists that hold n, none for a
	// number outside the lists' numbering plan.
	Holding(n phone.Number) []dnc.Meta
}

// Preview decides pv with the pacing loop's own code (decide): the gate's
// indexes synced, the number's history, logged overrides and Reassigned
// Numbers Database answer read as for a batch, the same gate. It records
// nothing and places no call.
func (p *Pacer) Preview(ctx context.Context, pv Preview) (PreviewResult, error) {
	targets := []Target{{Phone: pv.Phone, State: pv.State, ZIP: pv.ZIP, Person: pv.Person}}
	method, line := cmp.Or(pv.Method, consent.MethodPrerecorded), cmp.Or(pv.Line, consent.LineUnknown)
	reqs, ds, err := p.decideAs(ctx, Campaign{Purpose: pv.Purpose}, method, line, targets, subjectsOf(targets), pv.At)
	if err != nil {
		return PreviewResult{}, fmt.Errorf("preview %s: %w", pv.Phone, err)
	}
	r := PreviewResult{Request: reqs[0], HistoryNumbers: targets[0].HistoryNumbers, Decision: ds[0]}
	if h, ok := p.Gate.(ListHolder); ok {
		r.Lists = h.Holding(pv.Phone)
	}
	return r, nil
}

// Holding returns the metadata of the do-not-call lists in the gate's
// index that hold n.
func (g *PolicyGate) Holding(n phone.Number) []dnc.Meta {
	v, err := n.NANP()
	if err != nil {
		return nil
	}
	view := g.Indexes.DNC.View()
	var out []dnc.Meta
	for l := range view.Lookup(v).Lists() {
		if m, _, ok := view.List(l); ok {
			out = append(out, m)
		}
	}
	return out
}
