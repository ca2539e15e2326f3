package web

import (
	"container/list"
	"sync"
	"time"
)

// rateLimit is one limit of a rateLimiter: at most Max hits in any Per.
type rateLimit struct {
	Max int
	Per time.Duration
}

// rateLimiter counts hits per client in sliding windows, in memory. It
// remembers at most a fixed number of clients, each with at most as many
// hit times as the largest limit allows, so its memory is bounded; when
// full, it forgets the client seen least recently.
type rateLimiter struct {
	limits []rateLimit
	keep   int           // hit times kept per client: the largest Max
	span   time.Duration // the longest Per
	size   int           // clients remembered at most
	now    func() time.Time
	epoch  time.Time

	mu      sync.Mutex
	clients map[string]*list.Element // of *rateClient
	order   *list.List               // most recently seen first
}

type rateClient struct {
	key  string
	hits []time.Duration // since epoch, oldest first
}

// newRateLimiter returns a limiter enforcing every limit, remembering at
// most size clients, with now as its clock.
func newRateLimiter(limits []rateLimit, size int, now func() time.Time) *rateLimiter {
	l := &rateLimiter{limits: limits, size: size, now: now, epoch: now(), clients: map[string]*list.Element{}, order: list.New()}
	for _, lim := range limits {
		l.keep = max(l.keep, lim.Max)
		l.span = max(l.span, lim.Per)
	}
	return l
}

// allow counts a hit by key and reports whether it is within every limit.
// A refused hit is not counted; wait says when the next one would be
// allowed.
func (l *rateLimiter) allow(key string) (ok bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now().Sub(l.epoch)
	c := l.client(key)
	if wait = l.wait(c, now); wait > 0 {
		return false, wait
	}
	if len(c.hits) == l.keep {
		c.hits = append(c.hits[:0], c.hits[1:]...)
	}
	c.hits = append(c.hits, now)
	return true, 0
}

// wait drops c's hits older than every limit and returns how long it must
// wait, from now, for its next hit to be within every limit. The caller
// holds l.mu.
func (l *rateLimiter) wait(c *rateClient, now time.Duration) (wait time.Duration) {
	old := 0
	for old < len(c.hits) && now-c.hits[old] >= l.span {
		old++
	}
	c.hits = append(c.hits[:0], c.hits[old:]...)
	for _, lim := range l.limits {
		in := 0
		for i := len(c.hits) - 1; i >= 0 && now-c.hits[i] < lim.Per; i-- {
			in++
		}
		if in >= lim.Max {
			// The hit that must leave the window for one more to fit.
			wait = max(wait, c.hits[len(c.hits)-lim.Max]+lim.Per-now)
		}
	}
	return wait
}

// client returns key's record, making it the most recently seen, and
// creates it, forgetting the least recently seen client when full.
func (l *rateLimiter) client(key string) *rateClient {
	if e, ok := l.clients[key]; ok {
		l.order.MoveToFront(e)
		return e.Value.(*rateClient)
	}
	var c *rateClient
	if l.order.Len() >= l.size {
		e := l.order.Back()
		c = l.order.Remove(e).(*rateClient)
		delete(l.clients, c.key)
		c.key, c.hits = key, c.hits[:0]
	} else {
		c = &rateClient{key: key, hits: make([]time.Duration, 0, l.keep)}
	}
	l.clients[key] = l.order.PushFront(c)
	return c
}
