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
	// Method and Line are the call's; an empty Method means the pacing
	// loop's own, prerecorded, and an empty Line the line ContactLine
	// gives, as CallLine reads it for each purpose.
	Method consent.Method
	Line   consent.LineType
	// ContactLine is the contact's line as its list gives it, or "" for
	// unknown.
	ContactLine consent.LineType
	// State and ZIP are the contact's address, empty when unknown.
	State, ZIP string
	// Person is the contact's person reference, or "": the caps then count
	// the calls to all the person's numbers, as for a contact with one.
	Person string
	// At is when the call would be placed.
	At time.Time
	// InjuryMatter reports that the call solicits a personal-injury or
	// wrongful-death matter (rule E1).
	InjuryMatter bool
	// AccidentAt is when the contact's accident happened, or zero when no
	// date is known (rule E1).
	AccidentAt time.Time
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
	rs, err := p.PreviewEach(ctx, pv, []consent.Purpose{pv.Purpose})
	if err != nil {
		return PreviewResult{}, err
	}
	return rs[0], nil
}

// PreviewEach is Preview for a call of each of the purposes (pv.Purpose
// is not read), decided together as one batch: one sync, one reading of
// the number's history and facts, the same index snapshots for every
// purpose. The results are in the purposes' order.
func (p *Pacer) PreviewEach(ctx context.Context, pv Preview, purposes []consent.Purpose) ([]PreviewResult, error) {
	if len(purposes) == 0 {
		return []PreviewResult{}, nil
	}
	targets := make([]Target, len(purposes))
	for i := range targets {
		targets[i] = Target{Phone: pv.Phone, State: pv.State, ZIP: pv.ZIP, Person: pv.Person, AccidentAt: pv.AccidentAt, Line: pv.ContactLine}
	}
	method, line := cmp.Or(pv.Method, consent.MethodPrerecorded), pv.Line
	reqs, ds, err := p.decideAs(ctx, Campaign{Purpose: purposes[0], InjuryMatter: pv.InjuryMatter}, purposes, method, line, targets, subjectsOf(targets), pv.At)
	if err != nil {
		return nil, fmt.Errorf("preview %s: %w", pv.Phone, err)
	}
	var lists []dnc.Meta
	if h, ok := p.Gate.(ListHolder); ok {
		lists = h.Holding(pv.Phone)
	}
	out := make([]PreviewResult, len(purposes))
	for i := range out {
		out[i] = PreviewResult{Request: reqs[i], HistoryNumbers: targets[i].HistoryNumbers, Decision: ds[i], Lists: lists}
	}
	return out, nil
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
