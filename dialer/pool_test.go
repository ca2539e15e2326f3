package dialer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeMember is an Asterisk stand-in: it accepts every call and ends one
// when the test says so.
type fakeMember struct {
	name string

	mu        sync.Mutex
	calls     map[int64]func(CallEvent)
	placed    []int64
	healthErr error
	started   time.Time
	resyncs   int
	orphans   map[int64]Orphan
	closed    bool
	placeErr  error
	// eventsDown makes EventsConnected report the event websocket down.
	eventsDown bool
	// readyPassed counts the calls placed with their Ready still set.
	readyPassed int
}

func newFake(name string) *fakeMember {
	return &fakeMember{name: name, calls: map[int64]func(CallEvent){}, orphans: map[int64]Orphan{}, started: time.Unix(1000, 0)}
}

func (f *fakeMember) Name() string { return f.name }

func (f *fakeMember) Place(_ context.Context, req CallRequest, report func(CallEvent)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.placeErr != nil {
		return f.placeErr
	}
	f.calls[req.AttemptID] = report
	f.placed = append(f.placed, req.AttemptID)
	if req.Ready != nil {
		f.readyPassed++
	}
	return nil
}

func (f *fakeMember) EventsConnected() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.eventsDown
}

func (f *fakeMember) Health(context.Context) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.eventsDown && f.healthErr == nil {
		return f.started, ErrEventsDown // as Switch.Health says
	}
	return f.started, f.healthErr
}

func (f *fakeMember) Resync(context.Context) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resyncs++
	return 0, nil
}

func (f *fakeMember) Orphan(_ context.Context, attemptID int64) (Orphan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.healthErr != nil {
		return "", fmt.Errorf("%w: fake down", ErrARIUnavailable)
	}
	if o, ok := f.orphans[attemptID]; ok {
		return o, nil
	}
	return OrphanGone, nil
}

func (f *fakeMember) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
}

// end ends one of the member's calls.
func (f *fakeMember) end(t *testing.T, attemptID int64) {
	t.Helper()
	f.mu.Lock()
	report, ok := f.calls[attemptID]
	delete(f.calls, attemptID)
	f.mu.Unlock()
	require.True(t, ok, "%s has no call for attempt %d", f.name, attemptID)
	report(CallEvent{Kind: EventEnded, Outcome: OutcomeAnswered, Asterisk: f.name})
}

func (f *fakeMember) set(healthErr error, started time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.healthErr, f.started = healthErr, started
}

func (f *fakeMember) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeMember) has(attemptID int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.calls[attemptID]
	return ok
}

// fakeClock is a settable clock for the rate caps.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type memberSpec struct {
	fake     *fakeMember
	max      int
	cps      float64
	connFail error
}

func newTestPool(t *testing.T, clock *fakeClock, specs ...memberSpec) *Pool {
	t.Helper()
	cfg := PoolConfig{CheckEvery: -1, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if clock != nil {
		cfg.Now = clock.Now
	}
	for _, s := range specs {
		cfg.Members = append(cfg.Members, PoolMember{Name: s.fake.name, MaxCalls: s.max, CallsPerSecond: s.cps,
			Connect: func(context.Context) (Member, error) {
				if s.connFail != nil {
					return nil, s.connFail
				}
				return s.fake, nil
			}})
	}
	p, err := NewPool(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return p
}

func place(t *testing.T, p *Pool, attemptID int64) {
	t.Helper()
	require.NoError(t, p.Place(context.Background(), CallRequest{AttemptID: attemptID}, func(CallEvent) {}))
}

// waitFor polls cond until it holds; the deadline only stops a hung test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "gave up waiting: %s", what)
		time.Sleep(time.Millisecond)
	}
}

func TestPoolSpreadsByLoadRelativeToCap(t *testing.T) {
	a, b := newFake("a"), newFake("b")
	p := newTestPool(t, nil, memberSpec{fake: a, max: 2}, memberSpec{fake: b, max: 4})
	for id := int64(1); id <= 6; id++ {
		place(t, p, id)
	}
	require.Equal(t, map[string]int{"a": 2, "b": 4}, p.Load())
	// a (cap 2) and b (cap 4) fill at the same relative pace.
	require.Equal(t, []int64{1, 4}, a.placed)
	require.Equal(t, []int64{2, 3, 5, 6}, b.placed)
}

func TestPoolWaitsWhileEveryAsteriskIsFull(t *testing.T) {
	a, b := newFake("a"), newFake("b")
	p := newTestPool(t, nil, memberSpec{fake: a, max: 1}, memberSpec{fake: b, max: 1})
	place(t, p, 1)
	place(t, p, 2)
	require.True(t, a.has(1))
	require.True(t, b.has(2))

	placed := make(chan error, 1)
	go func() { placed <- p.Place(context.Background(), CallRequest{AttemptID: 3}, func(CallEvent) {}) }()
	waitFor(t, "the third call to wait", func() bool { return p.Waiting() == 1 })
	select {
	case err := <-placed:
		t.Fatalf("Place returned while both Asterisks were full: %v", err)
	default:
	}
	b.end(t, 2)
	require.NoError(t, <-placed)
	require.True(t, b.has(3), "the call goes where room was made")
	require.Equal(t, map[string]int{"a": 1, "b": 1}, p.Load())

	// Waiting respects the context.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { placed <- p.Place(ctx, CallRequest{AttemptID: 4}, func(CallEvent) {}) }()
	waitFor(t, "the fourth call to wait", func() bool { return p.Waiting() == 1 })
	cancel()
	err := <-placed
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 0, p.Waiting())
	require.Equal(t, 2, a.count()+b.count(), "no call was placed for attempt 4")
}

// The last look (CallRequest.Ready) is taken once the call has its line,
// not before the wait for one, and only once; when it refuses the call, no
// call is placed and the line is free again.
func TestPoolLastLookAfterTheWait(t *testing.T) {
	a := newFake("a")
	p := newTestPool(t, nil, memberSpec{fake: a, max: 1})
	place(t, p, 1)

	var looks atomic.Int32
	placed := make(chan error, 1)
	go func() {
		placed <- p.Place(context.Background(), CallRequest{AttemptID: 2, Ready: func(context.Context) error {
			looks.Add(1)
			return nil
		}}, func(CallEvent) {})
	}()
	waitFor(t, "the second call to wait", func() bool { return p.Waiting() == 1 })
	require.Zero(t, looks.Load(), "no look while the call waits for its line")
	a.end(t, 1)
	require.NoError(t, <-placed)
	require.Equal(t, int32(1), looks.Load(), "one look")
	require.Zero(t, a.readyPassed, "by the pool alone: the Asterisk's Place does not look again")
	require.True(t, a.has(2))

	a.end(t, 2)
	refused := errors.New("opted out meanwhile")
	err := p.Place(context.Background(), CallRequest{AttemptID: 3, Ready: func(context.Context) error { return refused }}, func(CallEvent) {})
	require.ErrorIs(t, err, refused)
	require.False(t, a.has(3), "the refused call is not placed")
	require.Equal(t, map[string]int{"a": 0}, p.Load(), "its line is free again")
}

func TestPoolRateCapPerAsterisk(t *testing.T) {
	clock := &fakeClock{now: time.Unix(10000, 0)}
	a, b := newFake("a"), newFake("b")
	p := newTestPool(t, clock, memberSpec{fake: a, cps: 1}, memberSpec{fake: b, cps: 1})
	place(t, p, 1)
	place(t, p, 2)
	require.Equal(t, []int64{1}, a.placed)
	require.Equal(t, []int64{2}, b.placed)

	// Both spent their call for this second: the next call waits, even
	// though neither has a cap on calls in flight.
	placed := make(chan error, 1)
	go func() { placed <- p.Place(context.Background(), CallRequest{AttemptID: 3}, func(CallEvent) {}) }()
	waitFor(t, "the third call to wait for the rate cap", func() bool { return p.Waiting() == 1 })
	clock.Add(time.Second)
	p.Check(context.Background()) // wakes the waiting call at once
	require.NoError(t, <-placed)
	require.Equal(t, 3, len(a.placed)+len(b.placed))
}

func TestPoolRateCapSendsCallsElsewhere(t *testing.T) {
	clock := &fakeClock{now: time.Unix(10000, 0)}
	a, b := newFake("a"), newFake("b")
	p := newTestPool(t, clock, memberSpec{fake: a, cps: 1}, memberSpec{fake: b})
	for id := int64(1); id <= 4; id++ {
		place(t, p, id)
	}
	// a is less loaded after the first call but capped at one a second.
	require.Equal(t, []int64{1}, a.placed)
	require.Equal(t, []int64{2, 3, 4}, b.placed)
	clock.Add(time.Second)
	place(t, p, 5)
	require.Equal(t, []int64{1, 5}, a.placed)
}

func TestPoolSkipsAsteriskThatIsDown(t *testing.T) {
	a, b := newFake("a"), newFake("b")
	p := newTestPool(t, nil, memberSpec{fake: a}, memberSpec{fake: b})
	a.set(fmt.Errorf("%w: fake", ErrARIUnavailable), a.started)
	p.Check(context.Background())
	for id := int64(1); id <= 3; id++ {
		place(t, p, id)
	}
	require.Empty(t, a.placed)
	require.Equal(t, []int64{1, 2, 3}, b.placed)
	require.ErrorIs(t, p.Ping(context.Background(), "a"), ErrARIUnavailable)
	require.NoError(t, p.Ping(context.Background(), "b"))
	require.True(t, p.Up(), "b is up")

	b.set(fmt.Errorf("%w: fake", ErrARIUnavailable), b.started)
	p.Check(context.Background())
	require.False(t, p.Up(), "neither is up: the pacer takes no contact")
	readied := false
	err := p.Place(context.Background(), CallRequest{AttemptID: 4, Ready: func(context.Context) error { readied = true; return nil }}, func(CallEvent) {})
	require.ErrorIs(t, err, ErrNoAsterisk)
	require.False(t, readied, "no last look: the pacer records the call as not placed")
	require.Equal(t, []int64{1, 2, 3}, b.placed)
}

// TestPoolSkipsAsteriskWhoseEventsAreDown: between two health checks, an
// Asterisk whose event websocket dropped gets no call (it would start
// unheard: no message, no key heard); the call goes to another, and with
// none left it is not placed, before its last look. The next check that
// finds the events back takes the Asterisk again.
func TestPoolSkipsAsteriskWhoseEventsAreDown(t *testing.T) {
	a, b := newFake("a"), newFake("b")
	p := newTestPool(t, nil, memberSpec{fake: a}, memberSpec{fake: b})
	a.mu.Lock()
	a.eventsDown = true
	a.mu.Unlock()
	for id := int64(1); id <= 3; id++ {
		place(t, p, id)
	}
	require.Empty(t, a.placed, "no call where events are not heard")
	require.Equal(t, []int64{1, 2, 3}, b.placed)
	require.ErrorIs(t, p.Ping(context.Background(), "a"), ErrEventsDown, "skipped until its next check")

	b.mu.Lock()
	b.eventsDown = true
	b.mu.Unlock()
	readied := false
	err := p.Place(context.Background(), CallRequest{AttemptID: 4, Ready: func(context.Context) error { readied = true; return nil }}, func(CallEvent) {})
	require.ErrorIs(t, err, ErrNoAsterisk)
	require.False(t, readied, "no last look: the pacer records the call as not placed")
	require.False(t, p.Up())

	a.mu.Lock()
	a.eventsDown = false
	a.mu.Unlock()
	p.Check(context.Background())
	place(t, p, 5)
	require.Equal(t, []int64{5}, a.placed, "its events back, a takes calls again")

	// Gone during the last look: the call is not placed, and says so.
	err = p.Place(context.Background(), CallRequest{AttemptID: 6, Ready: func(context.Context) error {
		a.mu.Lock()
		a.eventsDown = true
		a.mu.Unlock()
		return nil
	}}, func(CallEvent) {})
	require.ErrorIs(t, err, ErrEventsDown)
	reason, ok := notPlaced(context.Background(), err, lookAllowed)
	require.True(t, ok, "certainly not placed, though its look allowed it")
	require.Equal(t, "its Asterisk's events were down", reason)
	require.Equal(t, []int64{5}, a.placed)
	require.Equal(t, 1, p.Load()["a"], "its line is given back: call 5 alone is up on a")
}

func TestPoolResyncsAfterReconnectAndRestart(t *testing.T) {
	a := newFake("a")
	p := newTestPool(t, nil, memberSpec{fake: a})
	p.Check(context.Background())
	require.Equal(t, 0, a.resyncs, "no resync while nothing happened")

	a.set(fmt.Errorf("%w: websocket dropped", ErrEventsDown), a.started)
	p.Check(context.Background())
	require.ErrorIs(t, p.Place(context.Background(), CallRequest{AttemptID: 1}, func(CallEvent) {}), ErrNoAsterisk)
	a.set(nil, a.started)
	p.Check(context.Background())
	require.Equal(t, 1, a.resyncs, "calls are resynced once the connection is back")
	place(t, p, 2)

	// A restart between two checks is seen by the start time.
	a.set(nil, a.started.Add(time.Hour))
	p.Check(context.Background())
	require.Equal(t, 2, a.resyncs, "calls are resynced after a restart")
	p.Check(context.Background())
	require.Equal(t, 2, a.resyncs)
}

func TestPoolConnectsLateAsterisk(t *testing.T) {
	a, b := newFake("a"), newFake("b")
	spec := memberSpec{fake: b, connFail: fmt.Errorf("%w: refused", ErrARIUnavailable)}
	specs := []memberSpec{{fake: a}, spec}
	cfg := PoolConfig{CheckEvery: -1, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var mu sync.Mutex
	bUp := false
	cfg.Members = []PoolMember{
		{Name: "a", Connect: func(context.Context) (Member, error) { return specs[0].fake, nil }},
		{Name: "b", Connect: func(context.Context) (Member, error) {
			mu.Lock()
			defer mu.Unlock()
			if !bUp {
				return nil, spec.connFail
			}
			return b, nil
		}},
	}
	p, err := NewPool(context.Background(), cfg)
	require.NoError(t, err, "one reachable Asterisk is enough to start")
	defer p.Close()
	require.ErrorIs(t, p.Ping(context.Background(), "b"), ErrARIUnavailable)
	_, err = p.Reconcile(context.Background(), "", 7)
	require.ErrorIs(t, err, ErrARIUnavailable, "an attempt with no Asterisk recorded waits until every Asterisk can be asked")

	mu.Lock()
	bUp = true
	mu.Unlock()
	p.Check(context.Background())
	require.NoError(t, p.Ping(context.Background(), "b"))
	place(t, p, 1)
	place(t, p, 2)
	require.Len(t, b.placed, 1, "the late Asterisk takes calls")

	cfg.Members[0].Connect = func(context.Context) (Member, error) { return nil, errors.New("down") }
	cfg.Members[1].Connect = cfg.Members[0].Connect
	_, err = NewPool(context.Background(), cfg)
	require.ErrorIs(t, err, ErrARIUnavailable, "a pool with no reachable Asterisk does not start")
}

func TestPoolReconcile(t *testing.T) {
	a, b := newFake("a"), newFake("b")
	p := newTestPool(t, nil, memberSpec{fake: a}, memberSpec{fake: b})
	b.orphans[5] = OrphanHungUp
	a.orphans[6] = OrphanFollowed

	got, err := p.Reconcile(context.Background(), "b", 5)
	require.NoError(t, err)
	require.Equal(t, OrphanHungUp, got)
	got, err = p.Reconcile(context.Background(), "a", 5)
	require.NoError(t, err)
	require.Equal(t, OrphanGone, got, "only the named Asterisk is asked")
	got, err = p.Reconcile(context.Background(), "", 5)
	require.NoError(t, err)
	require.Equal(t, OrphanHungUp, got, "with no Asterisk recorded, every one is asked")
	got, err = p.Reconcile(context.Background(), "", 6)
	require.NoError(t, err)
	require.Equal(t, OrphanFollowed, got)
	got, err = p.Reconcile(context.Background(), "retired", 9)
	require.NoError(t, err)
	require.Equal(t, OrphanUnchecked, got, "an Asterisk no longer configured could not be asked")

	a.set(fmt.Errorf("%w: fake", ErrARIUnavailable), a.started)
	_, err = p.Reconcile(context.Background(), "a", 5)
	require.ErrorIs(t, err, ErrARIUnavailable)
}

func TestPoolWaitingCallFailsWhenLastAsteriskGoesDown(t *testing.T) {
	a := newFake("a")
	p := newTestPool(t, nil, memberSpec{fake: a, max: 1})
	place(t, p, 1)
	placed := make(chan error, 1)
	go func() { placed <- p.Place(context.Background(), CallRequest{AttemptID: 2}, func(CallEvent) {}) }()
	waitFor(t, "the second call to wait", func() bool { return p.Waiting() == 1 })
	a.set(fmt.Errorf("%w: fake", ErrARIUnavailable), a.started)
	p.Check(context.Background())
	require.ErrorIs(t, <-placed, ErrNoAsterisk)
	require.Equal(t, []int64{1}, a.placed)
}

func TestPoolChecksAsteriskThatRefusedACall(t *testing.T) {
	a, b := newFake("a"), newFake("b")
	p := newTestPool(t, nil, memberSpec{fake: a}, memberSpec{fake: b})
	// a dies between two health checks.
	down := fmt.Errorf("%w: connection refused", ErrARIUnavailable)
	a.mu.Lock()
	a.placeErr, a.healthErr = fmt.Errorf("%w: connection refused", ErrOriginate), down
	a.mu.Unlock()
	err := p.Place(context.Background(), CallRequest{AttemptID: 1}, func(CallEvent) {})
	require.ErrorIs(t, err, ErrOriginate)
	require.Equal(t, map[string]int{"a": 0, "b": 0}, p.Load(), "the refused call holds no room")
	for id := int64(2); id <= 4; id++ {
		place(t, p, id)
	}
	require.Equal(t, []int64{2, 3, 4}, b.placed, "the next calls skip a at once, without waiting for a periodic check")
}
