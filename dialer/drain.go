package dialer

import (
	"context"
	"fmt"
	"time"
)

// lastTryWait bounds the one last try, once Drain has begun, of a write the
// pacer kept trying in the background.
const lastTryWait = 5 * time.Second

// lifetime returns the pacer's own lifetime, which only Drain ends: not a
// job's context nor the process's signal, which end before the writes
// that must outlive them are done. The pacer's background work runs
// within it (background).
func (p *Pacer) lifetime() context.Context {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lifetimeLocked()
}

func (p *Pacer) lifetimeLocked() context.Context {
	if p.life == nil {
		p.life, p.endLife = context.WithCancel(context.Background())
	}
	return p.life
}

// background runs f on a goroutine of its own within the pacer's
// lifetime, which f is given: Drain ends the lifetime and waits for f to
// return. Once Drain has begun, f runs at once on the caller's goroutine,
// its lifetime already ended.
func (p *Pacer) background(f func(life context.Context)) {
	p.mu.Lock()
	life, draining := p.lifetimeLocked(), p.draining
	if !draining {
		p.bg.Add(1)
	}
	p.mu.Unlock()
	if draining {
		f(life)
		return
	}
	go func() {
		defer p.bg.Done()
		f(life)
	}()
}

// Drain ends the pacer's lifetime and waits, until ctx ends, for the writes
// it keeps trying in the background: key-press opt-outs it could not take
// during their calls, and ends of calls it could not record. Each makes
// one last try, of at most a few seconds, and logs at ERROR what it still
// could not write. heed serve calls it once its campaign jobs have stopped
// and their calls have ended, before it closes the database pool. The
// error wraps ctx's when ctx ended first.
func (p *Pacer) Drain(ctx context.Context) error {
	p.mu.Lock()
	p.lifetimeLocked()
	p.draining = true
	p.endLife()
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		p.bg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pacer: drain: %w", ctx.Err())
	}
}

// keepTrying tries again what try failed to do: after a second, then
// waiting twice as long each time, up to maxWait, until try succeeds, or,
// when giveUp is not zero, until giveUp has passed since keepTrying began.
// Each failure but the last is handed to failed. The tries are given life;
// once it ends (Drain), keepTrying tries once more, for at most
// lastTryWait, and stops. It returns how many tries there were, counting
// the caller's first, and the last one's error (nil when it succeeded).
func keepTrying(life context.Context, maxWait, giveUp time.Duration, try func(ctx context.Context) error, failed func(tries int, err error)) (int, error) {
	start := time.Now()
	wait := time.Second
	for tries := 2; ; tries++ {
		t := time.NewTimer(wait)
		select {
		case <-life.Done():
			t.Stop()
			ctx, cancel := context.WithTimeout(context.Background(), lastTryWait)
			defer cancel()
			return tries, try(ctx)
		case <-t.C:
		}
		err := try(life)
		if err == nil || giveUp > 0 && time.Since(start) >= giveUp {
			return tries, err
		}
		failed(tries, err)
		wait = min(2*wait, maxWait)
	}
}
