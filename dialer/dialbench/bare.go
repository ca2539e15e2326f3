package dialbench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v5"

	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// lostAfter is how long the bare loop waits for a call's end event before
// it asks Asterisk whether the channel is still there.
const lostAfter = ringSeconds*time.Second + 30*time.Second

// maxOriginating bounds the bare loop's originate requests in flight.
const maxOriginating = 16

// dispatch hands each ChannelDestroyed to the call waiting for it. It only
// forwards: the ari library drops events when a subscriber falls behind.
func (b *bench) dispatch() {
	defer close(b.loopEnd)
	for e := range b.sub.Events() {
		v, ok := e.(*ari.ChannelDestroyed)
		if !ok {
			continue
		}
		b.mu.Lock()
		ch := b.waiting[v.Channel.ID]
		delete(b.waiting, v.Channel.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- v.Cause
		}
	}
}

// bare runs one bare phase: Concurrency workers, each originating a call to
// the next number into the bare application and waiting for its channel's
// end before the next. Nothing else happens to the calls.
func (b *bench) bare(ctx context.Context, ph *Phase) error {
	work := make(chan int)
	type result struct {
		cause  int
		held   time.Duration
		placed bool
		ended  bool
		err    error
	}
	results := make(chan result, len(ph.Numbers))
	var wg sync.WaitGroup
	// The calls are up Concurrency at a time, but no more than
	// maxOriginating originate requests are in flight: the PBX's HTTP
	// server takes 100 sessions (http.conf sessionlimit) and closes the
	// rest, and heed itself sends one originate at a time.
	originating := make(chan struct{}, maxOriginating)
	cpu0 := cpuTime()
	start := time.Now()
	for range b.opts.Concurrency {
		wg.Go(func() {
			for i := range work {
				placed, cause, held, err := b.call(ctx, ph, i, ph.Numbers[i], originating)
				results <- result{cause: cause, held: held, placed: placed, ended: placed && err == nil, err: err}
			}
		})
	}
feed:
	for i := range ph.Numbers {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	ph.Seconds = time.Since(start).Seconds()
	ph.CPUSeconds = (cpuTime() - cpu0).Seconds()
	close(results)
	var errs []error
	var held time.Duration
	for r := range results {
		if r.placed {
			ph.Calls++
		}
		if r.ended {
			held += r.held
			ph.Ended++
			ph.Causes[r.cause]++
		}
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	if ph.Seconds > 0 {
		ph.CPS = float64(ph.Calls) / ph.Seconds
	}
	if ph.Ended > 0 {
		ph.CallSeconds = held.Seconds() / float64(ph.Ended)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bare loop: %w", err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %d of %d calls went wrong; first: %w", ErrIncomplete, len(errs), len(ph.Numbers), errs[0])
	}
	return nil
}

// call originates one call and waits for its end. It reports whether
// Asterisk accepted the originate, the Q.850 cause of the call's end, and
// the time from the originate's answer to the end.
func (b *bench) call(ctx context.Context, ph *Phase, i int, to phone.Number, originating chan struct{}) (placed bool, cause int, held time.Duration, err error) {
	// The caller ID's last digits tell the phases apart. The ids have one
	// length: Asterisk 22 refuses (409) an originate whose channel id is a
	// prefix of a live channel's.
	id := fmt.Sprintf("bench-%s-%s-%06d", b.nonce, ph.CallerID[len(ph.CallerID)-4:], i)
	end := make(chan int, 1)
	b.mu.Lock()
	b.waiting[id] = end
	b.mu.Unlock()
	forget := func() {
		b.mu.Lock()
		delete(b.waiting, id)
		b.mu.Unlock()
	}
	originating <- struct{}{}
	_, err = b.client.Channel().Originate(nil, ari.OriginateRequest{
		Endpoint:  fmt.Sprintf(b.bareCfg.Trunk, to.String()),
		App:       b.bareCfg.Application,
		AppArgs:   "bare",
		CallerID:  ph.CallerID,
		Timeout:   ringSeconds,
		ChannelID: id,
	})
	<-originating
	if err != nil {
		forget()
		return false, 0, 0, fmt.Errorf("originate %s: %w", to, err)
	}
	originated := time.Now()
	timer := time.NewTimer(lostAfter)
	defer timer.Stop()
	for {
		select {
		case c := <-end:
			return true, c, time.Since(originated), nil
		case <-ctx.Done():
			forget()
			return true, 0, 0, fmt.Errorf("call %s: %w", to, ctx.Err())
		case <-timer.C:
			// The end event may have been lost: ask Asterisk.
			if _, derr := b.client.Channel().Data(ari.NewKey(ari.ChannelKey, id)); derr != nil && dialer.IsNotFound(derr) {
				forget()
				return true, 0, 0, fmt.Errorf("call %s: %w", to, errLostEnd)
			}
			timer.Reset(10 * time.Second)
		}
	}
}

// errLostEnd reports a call whose channel is gone but whose end event never
// came: a call placed, but one the bare loop cannot count as ended.
var errLostEnd = errors.New("channel gone without an end event")
