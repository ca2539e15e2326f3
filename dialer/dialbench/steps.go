package dialbench

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
)

// Step is the time heed spent in one kind of step of its pacing loop and
// call flow during a phase: a store call, the gate, or an originate. Steps
// run side by side (the attempts of a batch, the progress writes of calls
// in flight), so their times add up to more than the phase.
type Step struct {
	// Name is the step: campaign, due, sync, history, check, decide,
	// place, settle, progress-originated, progress-answered or
	// progress-ended.
	Name string `json:"name"`
	// Count is how many times it ran.
	Count int `json:"count"`
	// Seconds is its total time.
	Seconds float64 `json:"seconds"`
}

// Ms returns the step's average time in milliseconds.
func (s Step) Ms() float64 {
	if s.Count == 0 {
		return 0
	}
	return 1000 * s.Seconds / float64(s.Count)
}

// steps accumulates step times.
type steps struct {
	mu sync.Mutex
	m  map[string]*Step
}

func (s *steps) since(name string, start time.Time) {
	d := time.Since(start)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*Step{}
	}
	st := s.m[name]
	if st == nil {
		st = &Step{Name: name}
		s.m[name] = st
	}
	st.Count++
	st.Seconds += d.Seconds()
}

// take returns the steps so far, slowest in total first, and starts over.
func (s *steps) take() []Step {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Step, 0, len(s.m))
	for _, st := range s.m {
		out = append(out, *st)
	}
	s.m = nil
	sort.Slice(out, func(i, j int) bool { return out[i].Seconds > out[j].Seconds })
	return out
}

// timedStore times the pacing loop's store calls.
type timedStore struct {
	dialer.Store
	s *steps
}

func (t timedStore) Campaign(ctx context.Context, id int64) (dialer.Campaign, error) {
	defer t.s.since("campaign", time.Now())
	return t.Store.Campaign(ctx, id)
}

func (t timedStore) Due(ctx context.Context, id int64, limit int, now time.Time) ([]dialer.Target, error) {
	defer t.s.since("due", time.Now())
	return t.Store.Due(ctx, id, limit, now)
}

func (t timedStore) Decide(ctx context.Context, tg dialer.Target, req dialer.Request, d consent.Decision) (int64, error) {
	defer t.s.since("decide", time.Now())
	return t.Store.Decide(ctx, tg, req, d)
}

func (t timedStore) Look(ctx context.Context, id int64, l dialer.LastLook) (bool, error) {
	defer t.s.since("look", time.Now())
	return t.Store.Look(ctx, id, l)
}

func (t timedStore) History(ctx context.Context, subjects []dialer.Subject, since time.Time) ([]dialer.History, error) {
	defer t.s.since("history", time.Now())
	return t.Store.History(ctx, subjects, since)
}

var eventNames = map[dialer.EventKind]string{
	dialer.EventOriginated: "progress-originated", dialer.EventAnswered: "progress-answered", dialer.EventEnded: "progress-ended",
}

func (t timedStore) Progress(ctx context.Context, id int64, ev dialer.CallEvent) error {
	defer t.s.since(eventNames[ev.Kind], time.Now())
	return t.Store.Progress(ctx, id, ev)
}

func (t timedStore) Settle(ctx context.Context, id, generation int64) (bool, time.Time, error) {
	defer t.s.since("settle", time.Now())
	return t.Store.Settle(ctx, id, generation)
}

// timedLines times originates.
type timedLines struct {
	dialer.Lines
	s *steps
}

func (t timedLines) Place(ctx context.Context, req dialer.CallRequest, report func(dialer.CallEvent)) error {
	defer t.s.since("place", time.Now())
	return t.Lines.Place(ctx, req, report)
}

// timedGate times the gate's decisions and index syncs. It passes on
// every interface of the gate the pacing loop asks for, so that the loop
// takes the path it takes in heed serve.
type timedGate struct {
	g *dialer.PolicyGate
	s *steps
}

var (
	_ dialer.Syncer          = timedGate{}
	_ dialer.BatchGate       = timedGate{}
	_ dialer.IndexPositioner = timedGate{}
	_ dialer.ListVersioner   = timedGate{}
	_ dialer.FactReader      = timedGate{}
)

func (t timedGate) CheckBatch(ctx context.Context, reqs []dialer.Request, out []consent.Decision) {
	defer t.s.since("check", time.Now())
	t.g.CheckBatch(ctx, reqs, out)
}

func (t timedGate) IndexSeq() int64 { return t.g.IndexSeq() }

func (t timedGate) ListVersions() (map[string]uint64, func() bool) { return t.g.ListVersions() }

func (t timedGate) Reads(p consent.Purpose, m consent.Method, l consent.LineType) consent.FactNeeds {
	return t.g.Reads(p, m, l)
}

func (t timedGate) Check(ctx context.Context, req dialer.Request) consent.Decision {
	defer t.s.since("check", time.Now())
	return t.g.Check(ctx, req)
}

func (t timedGate) Sync(ctx context.Context) error {
	defer t.s.since("sync", time.Now())
	return t.g.Sync(ctx)
}
