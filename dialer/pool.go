package dialer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ErrNoAsterisk reports that no Asterisk of a Pool can take calls: every
// one is down or not connected. The call was not placed: the pacer records
// its attempt as called off, leaves its contact due, and places no more
// calls until an Asterisk is up again.
var ErrNoAsterisk = errors.New("no Asterisk is up")

// ErrUnknownAsterisk reports an Asterisk name that is not in the Pool.
var ErrUnknownAsterisk = errors.New("no such Asterisk in the pool")

// Member is one Asterisk of a Pool. *Switch is one; tests use stand-ins.
type Member interface {
	Lines
	// Name identifies the Asterisk in attempt rows.
	Name() string
	// Health checks that the Asterisk can take calls and returns the time
	// it started, which changes when it restarts.
	Health(ctx context.Context) (time.Time, error)
	// Resync ends the calls whose channels are gone and returns how many.
	Resync(ctx context.Context) (int, error)
	// Orphan settles the channel of an attempt left in flight by a
	// stopped process.
	Orphan(ctx context.Context, attemptID int64) (Orphan, error)
	// Close disconnects.
	Close()
}

var _ Member = (*Switch)(nil)

// PoolMember configures one Asterisk of a Pool.
type PoolMember struct {
	// Name identifies the Asterisk; it must match what Connect's Member
	// reports.
	Name string
	// MaxCalls caps the calls in flight on this Asterisk; 0 means no cap.
	MaxCalls int
	// CallsPerSecond caps how fast calls are originated on this Asterisk;
	// 0 means no cap.
	CallsPerSecond float64
	// Connect connects to the Asterisk. The Pool calls it at start and,
	// while it fails, again at every check.
	Connect func(ctx context.Context) (Member, error)
}

// PoolConfig configures a Pool.
type PoolConfig struct {
	Members []PoolMember
	// CheckEvery is how often each Asterisk's health is checked; zero
	// means 2 s. Negative turns the background checks off (tests call
	// Check themselves).
	CheckEvery time.Duration
	// CheckTimeout bounds one health check; zero means 3 s.
	CheckTimeout time.Duration
	// ConnectTimeout bounds one connection attempt; zero means 10 s.
	ConnectTimeout time.Duration
	// ResyncTimeout bounds the resync of an Asterisk's calls after it
	// comes back (one request per call in flight); zero means 30 s.
	ResyncTimeout time.Duration
	// Now is the clock of the per-Asterisk rate limits; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Pool places calls over several Asterisks: each call goes to the least
// loaded Asterisk (calls in flight relative to its cap) that is up and has
// room under its caps. When every Asterisk that is up is full, Place waits.
// Health checks skip an Asterisk whose ARI is down, connect one that was
// never reached, and, after an Asterisk comes back or restarts, end the
// calls whose channels it lost.
type Pool struct {
	cfg     PoolConfig
	log     *slog.Logger
	members []*poolMember
	byName  map[string]*poolMember

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever a waiting Place should look again
	waiting int

	stop chan struct{}
	wg   sync.WaitGroup
}

type poolMember struct {
	cfg     PoolMember
	limiter *rate.Limiter // nil means no rate cap

	// Guarded by Pool.mu.
	m       Member // nil until connected
	up      bool
	active  int
	started time.Time // Asterisk's start time at the last good check
	lastErr error

	checking sync.Mutex // one check of this member at a time
}

var _ Lines = (*Pool)(nil)

// NewPool connects to every Asterisk, in parallel and within ctx, and starts
// the health checks. It fails only when no Asterisk could be connected;
// the others are retried in the background.
func NewPool(ctx context.Context, cfg PoolConfig) (*Pool, error) {
	if len(cfg.Members) == 0 {
		return nil, fmt.Errorf("pool: %w: no Asterisk configured", ErrARIUnavailable)
	}
	if cfg.CheckEvery == 0 {
		cfg.CheckEvery = 2 * time.Second
	}
	if cfg.CheckTimeout == 0 {
		cfg.CheckTimeout = 3 * time.Second
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.ResyncTimeout == 0 {
		cfg.ResyncTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	p := &Pool{cfg: cfg, log: cfg.Log, byName: map[string]*poolMember{}, changed: make(chan struct{}), stop: make(chan struct{})}
	for _, mc := range cfg.Members {
		if mc.Name == "" || mc.Connect == nil {
			return nil, fmt.Errorf("pool: an Asterisk needs a name and a connect function: %w", ErrARIUnavailable)
		}
		if _, dup := p.byName[mc.Name]; dup {
			return nil, fmt.Errorf("pool: Asterisk %q configured twice: %w", mc.Name, ErrARIUnavailable)
		}
		pm := &poolMember{cfg: mc}
		if mc.CallsPerSecond > 0 {
			pm.limiter = rate.NewLimiter(rate.Limit(mc.CallsPerSecond), 1)
		}
		p.members = append(p.members, pm)
		p.byName[mc.Name] = pm
	}
	var wg sync.WaitGroup
	errs := make([]error, len(p.members))
	for i, pm := range p.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.connect(ctx, pm)
		}()
	}
	wg.Wait()
	connected := 0
	for _, pm := range p.members {
		if pm.m != nil {
			connected++
		}
	}
	if connected == 0 {
		return nil, fmt.Errorf("pool: %w: %w", ErrARIUnavailable, errors.Join(errs...))
	}
	for i, err := range errs {
		if err != nil {
			p.log.Warn("pool: Asterisk not reachable at start; will keep trying", "asterisk", p.members[i].cfg.Name, "err", err)
		}
	}
	if cfg.CheckEvery > 0 {
		for _, pm := range p.members {
			p.wg.Add(1)
			go p.watch(pm)
		}
	}
	return p, nil
}

// connect connects a member that has no connection yet.
func (p *Pool) connect(ctx context.Context, pm *poolMember) error {
	cctx, cancel := context.WithTimeout(ctx, p.cfg.ConnectTimeout)
	defer cancel()
	m, err := pm.cfg.Connect(cctx)
	if err != nil {
		p.mu.Lock()
		pm.lastErr = err
		p.mu.Unlock()
		return fmt.Errorf("%s: %w", pm.cfg.Name, err)
	}
	started, herr := m.Health(cctx)
	p.mu.Lock()
	pm.m, pm.up, pm.started, pm.lastErr = m, herr == nil, started, herr
	p.broadcastLocked()
	p.mu.Unlock()
	return nil
}

// Close stops the health checks and disconnects every Asterisk.
func (p *Pool) Close() {
	close(p.stop)
	p.wg.Wait()
	var ms []Member
	p.mu.Lock()
	for _, pm := range p.members {
		if pm.m != nil {
			ms = append(ms, pm.m)
		}
	}
	p.mu.Unlock()
	// Closing a Switch may end calls, whose reports take p.mu.
	for _, m := range ms {
		m.Close()
	}
}

// Names lists the Asterisks of the pool in configuration order.
func (p *Pool) Names() []string {
	out := make([]string, len(p.members))
	for i, pm := range p.members {
		out[i] = pm.cfg.Name
	}
	return out
}

// Ping checks one Asterisk of the pool now, for readiness reports.
func (p *Pool) Ping(ctx context.Context, name string) error {
	pm, ok := p.byName[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownAsterisk, name)
	}
	p.mu.Lock()
	m, lastErr := pm.m, pm.lastErr
	p.mu.Unlock()
	if m == nil {
		return fmt.Errorf("%s: %w: not connected: %w", name, ErrARIUnavailable, lastErr)
	}
	_, err := m.Health(ctx)
	return err
}

// Load returns the calls in flight on each Asterisk, by name.
func (p *Pool) Load() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for _, pm := range p.members {
		out[pm.cfg.Name] = pm.active
	}
	return out
}

// watch checks one member every CheckEvery until the pool closes.
func (p *Pool) watch(pm *poolMember) {
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.CheckEvery)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-p.stop
		cancel()
	}()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.check(ctx, pm)
	}
}

// Check checks every Asterisk of the pool once, now: it connects those not
// connected yet, marks each up or down, and resyncs the calls of one that
// came back up or restarted. The background checks do the same on their own.
func (p *Pool) Check(ctx context.Context) {
	var wg sync.WaitGroup
	for _, pm := range p.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.check(ctx, pm)
		}()
	}
	wg.Wait()
}

func (p *Pool) check(ctx context.Context, pm *poolMember) {
	pm.checking.Lock()
	defer pm.checking.Unlock()
	p.mu.Lock()
	m, wasUp, lastStarted := pm.m, pm.up, pm.started
	p.mu.Unlock()
	if m == nil {
		if err := p.connect(ctx, pm); err != nil {
			p.log.Debug("pool: Asterisk still unreachable", "asterisk", pm.cfg.Name, "err", err)
			return
		}
		p.log.Info("pool: Asterisk connected", "asterisk", pm.cfg.Name)
		return
	}
	hctx, cancel := context.WithTimeout(ctx, p.cfg.CheckTimeout)
	defer cancel()
	started, err := m.Health(hctx)
	if err != nil {
		p.mu.Lock()
		pm.up, pm.lastErr = false, err
		// Waiting calls look again: with no Asterisk left up they fail.
		p.broadcastLocked()
		p.mu.Unlock()
		if wasUp {
			p.log.Warn("pool: Asterisk down; skipping it", "asterisk", pm.cfg.Name, "err", err)
		}
		return
	}
	restarted := !lastStarted.IsZero() && !started.Equal(lastStarted)
	if !wasUp || restarted {
		// Events may have been lost while ARI was away (and a restarted
		// Asterisk lost every channel): end the calls whose channel is gone
		// before taking new ones.
		rctx, rcancel := context.WithTimeout(ctx, p.cfg.ResyncTimeout)
		n, err := m.Resync(rctx)
		rcancel()
		if err != nil {
			p.log.Warn("pool: resync after reconnect failed; will retry", "asterisk", pm.cfg.Name, "err", err)
			p.mu.Lock()
			pm.up, pm.lastErr = false, err
			p.mu.Unlock()
			return
		}
		p.log.Info("pool: Asterisk up again", "asterisk", pm.cfg.Name, "restarted", restarted, "calls_ended", n)
	}
	p.mu.Lock()
	pm.up, pm.started, pm.lastErr = true, started, nil
	p.broadcastLocked()
	p.mu.Unlock()
}

// broadcastLocked wakes every waiting Place to look again; p.mu is held.
func (p *Pool) broadcastLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// pickLocked chooses the member for the next call and counts the call on
// it. Without one it returns how long until a rate cap lets a call through
// (0: until a call ends or an Asterisk comes up), or ErrNoAsterisk when no
// Asterisk is up. p.mu is held.
func (p *Pool) pickLocked(now time.Time) (*poolMember, time.Duration, error) {
	var best *poolMember
	anyUp := false
	var wait time.Duration
	for _, pm := range p.members {
		if !pm.up || pm.m == nil {
			continue
		}
		anyUp = true
		if pm.cfg.MaxCalls > 0 && pm.active >= pm.cfg.MaxCalls {
			continue
		}
		if pm.limiter != nil {
			if tokens := pm.limiter.TokensAt(now); tokens < 1 {
				d := time.Duration((1 - tokens) / float64(pm.limiter.Limit()) * float64(time.Second))
				if d <= 0 {
					d = time.Millisecond
				}
				if wait == 0 || d < wait {
					wait = d
				}
				continue
			}
		}
		if best == nil || lessLoaded(pm, best) {
			best = pm
		}
	}
	if best != nil {
		if best.limiter != nil {
			best.limiter.AllowN(now, 1)
		}
		best.active++
		return best, 0, nil
	}
	if !anyUp {
		return nil, 0, ErrNoAsterisk
	}
	return nil, wait, nil
}

// lessLoaded reports whether a carries less load than b: fewer calls
// relative to its cap (no cap counts as a very large one), then fewer calls.
func lessLoaded(a, b *poolMember) bool {
	la, lb := load(a), load(b)
	if la != lb {
		return la < lb
	}
	return a.active < b.active
}

func load(pm *poolMember) float64 {
	if pm.cfg.MaxCalls <= 0 {
		return float64(pm.active) / 1e6
	}
	return float64(pm.active) / float64(pm.cfg.MaxCalls)
}

// Place places the call on the least loaded Asterisk that is up and has
// room, waiting (as long as ctx allows) while every one is full, and calls
// req.Ready once it has the room. It fails with ErrNoAsterisk when none is
// up.
func (p *Pool) Place(ctx context.Context, req CallRequest, report func(CallEvent)) error {
	for {
		pm, err := p.take(ctx, req)
		if err != nil {
			return err
		}
		p.mu.Lock()
		m := pm.m
		p.mu.Unlock()
		if p.eventsDown(pm, m) {
			// Take another, giving back the room taken on this one.
			p.mu.Lock()
			pm.active--
			p.broadcastLocked()
			p.mu.Unlock()
			continue
		}
		return p.placeOn(ctx, pm, m, req, report)
	}
}

// HangUpAll hangs up every call still up on every Asterisk of the pool
// that can (Switch.HangUpAll), as heed stops, and returns how many.
func (p *Pool) HangUpAll(ctx context.Context) int {
	p.mu.Lock()
	members := make([]Member, 0, len(p.members))
	for _, pm := range p.members {
		if pm.m != nil {
			members = append(members, pm.m)
		}
	}
	p.mu.Unlock()
	n := 0
	for _, m := range members {
		if h, ok := m.(interface{ HangUpAll(context.Context) int }); ok {
			n += h.HangUpAll(ctx)
		}
	}
	return n
}

// eventsDown reports whether member pm (m) has its event websocket down
// now, and then marks it down until its next check finds them back: a
// call placed there would start unheard (no message, no key), or be hung
// up.
func (p *Pool) eventsDown(pm *poolMember, m Member) bool {
	ew, ok := m.(eventsWatcher)
	if !ok || ew.EventsConnected() {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pm.up {
		pm.up, pm.lastErr = false, fmt.Errorf("%s: %w", pm.cfg.Name, ErrEventsDown)
		p.log.Warn("pool: Asterisk's events are down; skipping it", "asterisk", pm.cfg.Name)
		p.broadcastLocked()
	}
	return true
}

// errNeverOriginated marks a Place error that certainly placed no call,
// whatever its last look allowed (notPlaced).
var errNeverOriginated = errors.New("not placed")

// eventsWatcher is a Member that tells at once whether its event
// connection is up (*Switch): Place checks it before each call, between
// the health checks.
type eventsWatcher interface {
	EventsConnected() bool
}

// take waits (as long as ctx allows) for the least loaded Asterisk that
// is up and has room, and counts the call on it; it fails with
// ErrNoAsterisk when none is up.
func (p *Pool) take(ctx context.Context, req CallRequest) (*poolMember, error) {
	for {
		p.mu.Lock()
		got, wait, err := p.pickLocked(p.cfg.Now())
		if err != nil {
			p.mu.Unlock()
			return nil, fmt.Errorf("attempt %d: %w", req.AttemptID, err)
		}
		if got != nil {
			p.mu.Unlock()
			return got, nil
		}
		changed := p.changed
		p.waiting++
		p.mu.Unlock()
		var (
			timer <-chan time.Time
			t     *time.Timer
		)
		if wait > 0 {
			t = time.NewTimer(wait)
			timer = t.C
		}
		var cerr error
		select {
		case <-ctx.Done():
			cerr = ctx.Err()
		case <-changed:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
		p.mu.Lock()
		p.waiting--
		p.mu.Unlock()
		if cerr != nil {
			return nil, fmt.Errorf("attempt %d: waiting for a free Asterisk: %w", req.AttemptID, cerr)
		}
	}
}

// placeOn places the call on member pm (m), on which take counted it,
// after its last look (req.Ready).
func (p *Pool) placeOn(ctx context.Context, pm *poolMember, m Member, req CallRequest, report func(CallEvent)) error {
	var once sync.Once
	release := func() {
		once.Do(func() {
			p.mu.Lock()
			pm.active--
			p.broadcastLocked()
			p.mu.Unlock()
		})
	}
	if req.Ready != nil {
		// The last look, now that the call has its line: not before the
		// wait for one, however long that was.
		err := req.Ready(ctx)
		req.Ready = nil
		if err != nil {
			release()
			return fmt.Errorf("attempt %d: not placed: %w", req.AttemptID, err)
		}
		// The look may take a while (index syncs): the events may have
		// gone meanwhile, and a call placed now would start unheard.
		if p.eventsDown(pm, m) {
			release()
			return fmt.Errorf("attempt %d: %s: %w: %w", req.AttemptID, pm.cfg.Name, errNeverOriginated, ErrEventsDown)
		}
	}
	err := m.Place(ctx, req, func(ev CallEvent) {
		if ev.Kind == EventEnded {
			release()
		}
		report(ev)
	})
	if err != nil {
		release()
		// The Asterisk may have just gone away: check it now, so that the
		// next calls skip it rather than fail on it too.
		p.check(ctx, pm)
		return fmt.Errorf("%s: %w", pm.cfg.Name, err)
	}
	return nil
}

// Up reports whether some Asterisk of the pool is up and connected, so
// that Place does not fail with ErrNoAsterisk at once.
func (p *Pool) Up() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pm := range p.members {
		if pm.up && pm.m != nil {
			return true
		}
	}
	return false
}

// Waiting returns how many Place calls are waiting for room.
func (p *Pool) Waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waiting
}

// Reconcile settles the channel of an attempt that a stopped process left
// in flight. asterisk is the Asterisk the attempt row names; when it is
// empty (the row never recorded one) or not configured any more, every
// Asterisk is asked, since the channel id is the same everywhere. It fails
// with ErrARIUnavailable when an Asterisk that must be asked cannot be, so
// that the attempt is left for a later try rather than guessed at.
func (p *Pool) Reconcile(ctx context.Context, asterisk string, attemptID int64) (Orphan, error) {
	if pm, ok := p.byName[asterisk]; ok {
		return p.orphan(ctx, pm, attemptID)
	}
	found := OrphanGone
	if asterisk != "" {
		found = OrphanUnchecked
	}
	for _, pm := range p.members {
		o, err := p.orphan(ctx, pm, attemptID)
		if err != nil {
			return "", err
		}
		if o != OrphanGone {
			// This Asterisk had the channel.
			return o, nil
		}
	}
	return found, nil
}

func (p *Pool) orphan(ctx context.Context, pm *poolMember, attemptID int64) (Orphan, error) {
	p.mu.Lock()
	m, lastErr := pm.m, pm.lastErr
	p.mu.Unlock()
	if m == nil {
		return "", fmt.Errorf("%s: %w: not connected: %w", pm.cfg.Name, ErrARIUnavailable, lastErr)
	}
	o, err := m.Orphan(ctx, attemptID)
	if err != nil {
		return "", fmt.Errorf("reconcile attempt %d: %w", attemptID, err)
	}
	return o, nil
}
