package dialer

import (
	"context"
	"fmt"
	"time"
)

// flight is what a pacer follows of one campaign's calls: the calls in
// flight, by attempt id, and the Runs of the campaign under way. A call is
// in flight from just before it is placed until its end is recorded (or
// its placing failed), however many Runs that outlasts: a Run that
// returned with calls still up (it follows them for a bounded time) leaves
// them counted for the campaign's next Run, which places no more calls at
// once than the campaign allows.
type flight struct {
	calls map[int64]struct{}
	runs  int
	// landed is closed, and replaced, whenever a call is no longer in
	// flight: the campaign's Run wakes to fill the line.
	landed chan struct{}
}

// flightLocked returns the campaign's flight, made when it has none.
// p.mu is held.
func (p *Pacer) flightLocked(campaignID int64) *flight {
	if p.flights == nil {
		p.flights = map[int64]*flight{}
	}
	f := p.flights[campaignID]
	if f == nil {
		f = &flight{calls: map[int64]struct{}{}, landed: make(chan struct{})}
		p.flights[campaignID] = f
	}
	return f
}

// tidyLocked forgets a campaign's flight once no call is in flight and no
// Run is under way. p.mu is held.
func (p *Pacer) tidyLocked(campaignID int64, f *flight) {
	if f.runs == 0 && len(f.calls) == 0 {
		delete(p.flights, campaignID)
	}
}

// joinFlight counts a Run of the campaign as under way, until the
// function it returns is called.
func (p *Pacer) joinFlight(campaignID int64) (leave func()) {
	p.mu.Lock()
	p.flightLocked(campaignID).runs++
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		f := p.flightLocked(campaignID)
		f.runs--
		p.tidyLocked(campaignID, f)
	}
}

// inFlight returns how many of the campaign's calls are in flight, and a
// channel closed once one of them no longer is. A Run calls it while it
// is under way (joinFlight).
func (p *Pacer) inFlight(campaignID int64) (int, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.flightLocked(campaignID)
	return len(f.calls), f.landed
}

// takeOff counts an attempt's call as in flight, from just before it is
// placed.
func (p *Pacer) takeOff(campaignID, attemptID int64) {
	p.mu.Lock()
	p.flightLocked(campaignID).calls[attemptID] = struct{}{}
	p.mu.Unlock()
}

// land counts an attempt's call as no longer in flight, and wakes the
// campaign's Run to fill the line. A call landed already, or never in
// flight, is left as it is.
func (p *Pacer) land(campaignID, attemptID int64) { p.drop(campaignID, attemptID, true) }

// scrub counts an attempt's call that was never placed as no longer in
// flight, without waking the campaign's Run: the Run is placing the
// batch that call was of, and waits as that batch says.
func (p *Pacer) scrub(campaignID, attemptID int64) { p.drop(campaignID, attemptID, false) }

func (p *Pacer) drop(campaignID, attemptID int64, wake bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.flights[campaignID]
	if f == nil {
		return
	}
	if _, ok := f.calls[attemptID]; !ok {
		return
	}
	delete(f.calls, attemptID)
	if wake {
		close(f.landed)
		f.landed = make(chan struct{})
	}
	p.tidyLocked(campaignID, f)
}

// Follows reports whether the pacer follows an attempt's call: about to be
// placed or placed, and its end not yet recorded (nor given up on); or
// never rung, and its record still being tried (settle).
func (p *Pacer) Follows(attemptID int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.settling[attemptID]; ok {
		return true
	}
	for _, f := range p.flights {
		if _, ok := f.calls[attemptID]; ok {
			return true
		}
	}
	return false
}

// Reconciler settles, on Asterisk, the channel of an attempt that a
// stopped process left in flight; Pool is one.
type Reconciler interface {
	// Reconcile reports what it found of the attempt's channel; asterisk
	// is the Asterisk the attempt row names, or "".
	Reconcile(ctx context.Context, asterisk string, attemptID int64) (Orphan, error)
}

// Following returns r, except that an attempt whose call the pacer
// follows (Follows) is reported as followed (OrphanFollowed) without
// asking r: a call whose end the pacer is still trying to record is over
// on Asterisk, and recovery would otherwise close its attempt with the
// outcome unknown before the end is recorded. A nil r, or a nil pacer's,
// is returned as it is.
func (p *Pacer) Following(r Reconciler) Reconciler {
	if p == nil || r == nil {
		return r
	}
	return following{p: p, r: r}
}

type following struct {
	p *Pacer
	r Reconciler
}

func (f following) Reconcile(ctx context.Context, asterisk string, attemptID int64) (Orphan, error) {
	if f.p.Follows(attemptID) {
		return OrphanFollowed, nil
	}
	return f.r.Reconcile(ctx, asterisk, attemptID)
}

// landedPoll is how often WaitLanded looks again.
const landedPoll = 50 * time.Millisecond

// WaitLanded waits until no call of any campaign is in flight (each one's
// end recorded, or given up on), or ctx ends; heed serve calls it as it
// stops, after hanging up the calls still up.
func (p *Pacer) WaitLanded(ctx context.Context) error {
	t := time.NewTicker(landedPoll)
	defer t.Stop()
	for {
		p.mu.Lock()
		n := 0
		for _, f := range p.flights {
			n += len(f.calls)
		}
		p.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pacer: %d calls still in flight: %w", n, ctx.Err())
		case <-t.C:
		}
	}
}
