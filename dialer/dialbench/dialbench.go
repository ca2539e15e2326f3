// Package dialbench measures how many calls per second heed places through
// one Asterisk, and, in the same run and against the same Asterisk, how many
// a bare loop of ARI originates with no heed logic places under the same
// load. `heed bench dial` runs it.
//
// The heed side is heed's real path: a campaign in PostgreSQL with one
// contact (and one consent) per call, the pacing loop (dialer.Pacer.Run)
// with the policy gate `heed serve` uses over indexes loaded from and kept
// in step with the database, the campaign Store, and the Switch. The bare
// side originates the same kind of calls to the same trunk with the same
// concurrency and waits for each channel's end. Every callee is a PSTN
// simulator number ending in 09: it answers and hangs up at once, so the
// figure is the rate of whole calls, not of ringing.
//
// The phases alternate (bare, heed, heed, bare, ...) after an unmeasured
// warm-up round, so that drift of the machine's load cancels out as far as
// it is linear.
package dialbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// Defaults of Options.
const (
	// DefaultCalls is the number of calls in each measured phase: about
	// 10 s of calling at the default concurrency on the testbed, so the
	// ramp at each end of a phase weighs little.
	DefaultCalls = 600
	// DefaultConcurrency is the number of calls up at once in each phase.
	// On a 2-core machine running heed, PostgreSQL and both Asterisks,
	// 30 keeps the bare loop below what the PBX can take (about 200
	// calls/s) and heed's switch below the event rate at which the ari
	// library starts dropping events (see the README), so the figure is
	// stable; raise it to find where heed falls behind.
	DefaultConcurrency = 30
	// DefaultRounds is the number of measured rounds, each one bare phase
	// and one heed phase.
	DefaultRounds = 3
	// ringSeconds is the originate timeout of every call; the callees
	// answer at once, so it only bounds a call that goes wrong.
	ringSeconds = 20
)

// Options configure Run.
type Options struct {
	// DB is a migrated heed database. Run adds contact lists, contacts,
	// consents and campaigns to it; use a scratch database.
	DB *pgxpool.Pool
	// ARI says how to reach the Asterisk and dial through it. Run derives
	// two Stasis application names from ARI.Application, one for heed's
	// Switch (Application+"-heed") and one for the bare loop
	// (Application+"-bare"); both must be free on that Asterisk.
	ARI dialer.ARIConfig
	// Media is where heed writes the campaign's message audio.
	Media dialer.Media
	// Calls is the number of calls in each measured phase; DefaultCalls
	// when zero.
	Calls int
	// Concurrency is the number of calls up at once: the campaign's
	// max_concurrent and the bare loop's workers; DefaultConcurrency when
	// zero.
	Concurrency int
	// Rounds is the number of measured rounds; DefaultRounds when zero.
	Rounds int
	// Warmup is the number of calls in each phase of the unmeasured first
	// round; Concurrency when zero, none when negative.
	Warmup int
	// Now is the clock the gate applies the law at; nil means time.Now.
	// Outside the calling window every contact is deferred and Run fails.
	Now func() time.Time
	// ConnectTimeout bounds each connection to ARI; 15 s when zero.
	ConnectTimeout time.Duration
	// Log receives heed's log (warnings and errors); nil discards it.
	Log *slog.Logger
	// Steps times each step of heed's pacing loop and call flow (store
	// calls, gate, originates) in the heed phases; see Phase.Steps. The
	// timing itself costs a little CPU.
	Steps bool
	// Progress, when set, receives a line as each phase starts and ends.
	Progress io.Writer
}

// Kinds of Phase.
const (
	// KindBare is a phase of the bare ARI originate loop.
	KindBare = "bare"
	// KindHeed is a phase of heed's pacing loop.
	KindHeed = "heed"
)

// Phase is one measured (or warm-up) phase.
type Phase struct {
	// Kind is KindBare or KindHeed.
	Kind string `json:"kind"`
	// Round is the round number; 0 is the warm-up.
	Round int `json:"round"`
	// CallerID is the caller ID of every call of the phase; no other phase
	// uses it, so it picks the phase's records out of a CDR.
	CallerID string `json:"caller_id"`
	// Calls is the number of calls placed (originates Asterisk accepted).
	Calls int `json:"calls"`
	// Ended is the number of those calls whose end was seen.
	Ended int `json:"ended"`
	// Seconds is the phase's wall-clock time: from the first originate (bare)
	// or the start of the pacing loop (heed) to the end of the last call.
	Seconds float64 `json:"seconds"`
	// CPS is Calls/Seconds.
	CPS float64 `json:"cps"`
	// CallSeconds is the calls' mean time from the originate's answer
	// (bare) or the originated event (heed) to the call's end: what the
	// callee and Asterisk take, which bounds the rate at a concurrency.
	CallSeconds float64 `json:"call_s"`
	// CPUSeconds is this process's CPU time (user and system, getrusage)
	// over the phase.
	CPUSeconds float64 `json:"cpu_s"`
	// CampaignID is the heed phase's campaign.
	CampaignID int64 `json:"campaign_id,omitempty"`
	// Causes counts the calls' hang-up causes (Q.850).
	Causes map[int]int `json:"causes"`
	// Steps are the times of heed's steps in a heed phase, when
	// Options.Steps asked for them.
	Steps []Step `json:"steps,omitempty"`
	// contacts is the number of contacts (heed) or calls (bare) planned.
	contacts int
	// Numbers are the numbers the phase dialed, in no particular order;
	// for a heed phase, as heed recorded them in its attempts.
	Numbers []phone.Number `json:"-"`
}

// Report is the outcome of Run.
type Report struct {
	// HeedCPS and BareCPS are the measured phases' calls over their time,
	// over all rounds.
	HeedCPS float64 `json:"heed_cps"`
	BareCPS float64 `json:"bare_ari_cps"`
	// Ratio is HeedCPS/BareCPS.
	Ratio float64 `json:"ratio"`
	// HeedCPUMsPerCall is this process's CPU time over the measured heed
	// phases per call, in milliseconds. PostgreSQL's and Asterisk's CPU
	// are not in it.
	HeedCPUMsPerCall float64 `json:"heed_cpu_ms_per_call"`
	// BareCPUMsPerCall is the same over the bare phases.
	BareCPUMsPerCall float64 `json:"bare_cpu_ms_per_call"`
	// RatioMin and RatioMax are the lowest and highest ratio of one round's
	// heed phase to the same round's bare phase.
	RatioMin float64 `json:"ratio_min"`
	RatioMax float64 `json:"ratio_max"`
	// Calls, Concurrency and Rounds are the options used.
	Calls       int `json:"calls"`
	Concurrency int `json:"concurrency"`
	Rounds      int `json:"rounds"`
	// Phases are all phases in the order they ran, the warm-up first.
	Phases []Phase `json:"phases"`
}

// ErrIncomplete reports a phase in which a call was refused, did not end,
// or a contact was not dialed.
var ErrIncomplete = errors.New("dialbench: phase incomplete")

// Run seeds the campaigns, connects to Asterisk twice (heed's Switch and
// the bare loop's client), runs the phases and reports.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.DB == nil {
		return nil, errors.New("dialbench: no database")
	}
	if opts.Calls <= 0 {
		opts.Calls = DefaultCalls
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Concurrency > 500 {
		return nil, fmt.Errorf("dialbench: concurrency %d: a campaign allows at most 500", opts.Concurrency)
	}
	if opts.Rounds <= 0 {
		opts.Rounds = DefaultRounds
	}
	if opts.Warmup == 0 {
		opts.Warmup = opts.Concurrency
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 15 * time.Second
	}
	b := &bench{opts: opts, store: campaign.NewStore(opts.DB)}
	plan := b.plan()
	if err := b.seed(ctx, plan); err != nil {
		return nil, err
	}
	if err := b.connect(ctx); err != nil {
		return nil, err
	}
	defer b.close()

	rep := &Report{Calls: opts.Calls, Concurrency: opts.Concurrency, Rounds: opts.Rounds}
	for _, ph := range plan {
		b.progress("round %d: %s phase, %d calls, %d at once...", ph.Round, ph.Kind, len(ph.Numbers), opts.Concurrency)
		var err error
		if ph.Kind == KindHeed {
			err = b.heed(ctx, ph)
		} else {
			err = b.bare(ctx, ph)
		}
		if err != nil {
			return nil, fmt.Errorf("dialbench: round %d, %s phase: %w", ph.Round, ph.Kind, err)
		}
		b.progress("round %d: %s phase: %d calls in %.2f s, %.1f calls/s, %.2f ms CPU/call",
			ph.Round, ph.Kind, ph.Calls, ph.Seconds, ph.CPS, 1000*ph.CPUSeconds/float64(max(ph.Calls, 1)))
		rep.Phases = append(rep.Phases, *ph)
	}
	rep.summarise()
	return rep, nil
}

// summarise computes the report's figures from its measured phases.
func (r *Report) summarise() {
	var calls, secs, cpu [2]float64
	byRound := map[int][2]float64{}
	for _, ph := range r.Phases {
		if ph.Round == 0 {
			continue
		}
		i := 0
		if ph.Kind == KindHeed {
			i = 1
		}
		calls[i] += float64(ph.Calls)
		secs[i] += ph.Seconds
		cpu[i] += ph.CPUSeconds
		v := byRound[ph.Round]
		v[i] = ph.CPS
		byRound[ph.Round] = v
	}
	rate := func(i int) float64 {
		if secs[i] == 0 {
			return 0
		}
		return calls[i] / secs[i]
	}
	r.BareCPS, r.HeedCPS = rate(0), rate(1)
	if r.BareCPS > 0 {
		r.Ratio = r.HeedCPS / r.BareCPS
	}
	if calls[1] > 0 {
		r.HeedCPUMsPerCall = 1000 * cpu[1] / calls[1]
	}
	if calls[0] > 0 {
		r.BareCPUMsPerCall = 1000 * cpu[0] / calls[0]
	}
	first := true
	for _, v := range byRound {
		if v[0] == 0 {
			continue
		}
		ratio := v[1] / v[0]
		if first || ratio < r.RatioMin {
			r.RatioMin = ratio
		}
		if first || ratio > r.RatioMax {
			r.RatioMax = ratio
		}
		first = false
	}
}

// bench is one Run's state.
type bench struct {
	opts  Options
	store *campaign.Store
	nonce string

	steps   *steps
	sw      *dialer.Switch
	indexes *dialer.Indexes
	pacer   *dialer.Pacer
	stopIx  context.CancelFunc
	ixDone  chan struct{}

	bareCfg dialer.ARIConfig
	client  ari.Client
	sub     ari.Subscription
	mu      sync.Mutex
	waiting map[string]chan int // channel id -> the cause of its end
	loopEnd chan struct{}
}

func (b *bench) progress(format string, args ...any) {
	if b.opts.Progress != nil {
		fmt.Fprintf(b.opts.Progress, "bench dial: "+format+"\n", args...)
	}
}

// plan lays out the phases: a warm-up round, then rounds whose phase order
// alternates (bare, heed, heed, bare, ...). Every phase gets a caller ID
// of its own; each heed phase gets numbers no other heed phase dials, and
// the bare phase of a round dials the numbers of that round's heed phase.
func (b *bench) plan() []*Phase {
	var out []*Phase
	next := 0
	numbers := func(n int) []phone.Number {
		ns := make([]phone.Number, n)
		for i := range ns {
			ns[i] = Number(next)
			next++
		}
		return ns
	}
	add := func(round, n int, heedFirst bool) {
		ns := numbers(n)
		kinds := []string{KindBare, KindHeed}
		if heedFirst {
			kinds = []string{KindHeed, KindBare}
		}
		for _, k := range kinds {
			out = append(out, &Phase{Kind: k, Round: round, Numbers: ns, Causes: map[int]int{}, contacts: n,
				CallerID: fmt.Sprintf("+1203555%04d", 1000+len(out))})
		}
	}
	if b.opts.Warmup > 0 {
		add(0, b.opts.Warmup, false)
	}
	for r := 1; r <= b.opts.Rounds; r++ {
		add(r, b.opts.Calls, r%2 == 0)
	}
	return out
}

// areaCodes are eastern-time area codes of states without a state pack of
// their own besides Connecticut's, so every contact has the same calling
// window. Number spreads the bench's numbers over them.
var areaCodes = []string{
	"203", "475", "860", "959", // Connecticut
	"212", "315", "516", "518", "585", "607", "631", "646", "716", "718", "845", "914", // New York
	"201", "609", "732", "908", // New Jersey
	"215", "412", "610", "717", // Pennsylvania
	"413", "508", "617", "781", "978", // Massachusetts
}

// MaxNumbers is how many distinct numbers Number can make.
var MaxNumbers = len(areaCodes) * 100

// Number returns the bench's i-th number: NPA-555-XX09 over the eastern
// area codes, so the PSTN simulator answers and hangs up at once (09).
// It repeats after MaxNumbers.
func Number(i int) phone.Number {
	i %= MaxNumbers
	return phone.Number(fmt.Sprintf("+1%s555%02d09", areaCodes[i/100], i%100))
}

// seed stores one contact list, contacts, consents and a draft campaign per
// heed phase.
func (b *bench) seed(ctx context.Context, plan []*Phase) error {
	b.nonce = strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	total := 0
	for _, ph := range plan {
		if ph.Kind == KindHeed {
			total += len(ph.Numbers)
		}
	}
	if total > MaxNumbers {
		return fmt.Errorf("dialbench: %d heed calls need more than the %d distinct numbers there are: fewer calls or rounds", total, MaxNumbers)
	}
	for _, ph := range plan {
		if ph.Kind != KindHeed {
			continue
		}
		name := fmt.Sprintf("bench dial %s round %d", b.nonce, ph.Round)
		nums := make([]string, len(ph.Numbers))
		for i, n := range ph.Numbers {
			nums[i] = n.String()
		}
		var listID int64
		err := b.opts.DB.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ($1) RETURNING id`, name).Scan(&listID)
		if err != nil {
			return fmt.Errorf("dialbench: contact list: %w", err)
		}
		_, err = b.opts.DB.Exec(ctx, `INSERT INTO contacts (list_id, name, phone) SELECT $1, 'Bench ' || p, p FROM unnest($2::text[]) p`, listID, nums)
		if err != nil {
			return fmt.Errorf("dialbench: contacts: %w", err)
		}
		_, err = b.opts.DB.Exec(ctx, `INSERT INTO consents (phone, contact_id, kind, scope, channel, obtained_at, source)
			SELECT c.phone, c.id, 'pec', 'informational', 'voice', now() - interval '1 day', 'heed bench dial' FROM contacts c WHERE c.list_id = $1`, listID)
		if err != nil {
			return fmt.Errorf("dialbench: consents: %w", err)
		}
		err = b.opts.DB.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, max_concurrent, ring_seconds, max_attempts)
			VALUES ($1, 'informational', $2, 'This is a heed dialing benchmark.', $3, $4, $5, 1) RETURNING id`,
			name, listID, ph.CallerID, b.opts.Concurrency, ringSeconds).Scan(&ph.CampaignID)
		if err != nil {
			return fmt.Errorf("dialbench: campaign: %w", err)
		}
		_, err = b.opts.DB.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id) SELECT $1, id FROM contacts WHERE list_id = $2`, ph.CampaignID, listID)
		if err != nil {
			return fmt.Errorf("dialbench: targets: %w", err)
		}
	}
	return nil
}

// connect sets heed up as `heed serve` does (Switch, indexes following the
// database, policy gate, pacer) and connects the bare loop's own client.
func (b *bench) connect(ctx context.Context) error {
	installation, err := b.store.Installation(ctx)
	if err != nil {
		return fmt.Errorf("dialbench: %w", err)
	}
	cfg := b.opts.ARI
	cfg.Installation = installation
	cfg.Application = b.opts.ARI.Application + "-heed"
	cctx, cancel := context.WithTimeout(ctx, b.opts.ConnectTimeout)
	b.sw, err = dialer.NewSwitch(cctx, cfg, b.opts.Log)
	cancel()
	if err != nil {
		return fmt.Errorf("dialbench: heed's switch: %w", err)
	}
	engine, err := consent.NewEngine(consent.Config{})
	if err != nil {
		b.close()
		return fmt.Errorf("dialbench: policy engine: %w", err)
	}
	b.indexes = dialer.NewIndexes(b.opts.DB, b.opts.Log)
	if err := b.indexes.Load(ctx); err != nil {
		b.close()
		return fmt.Errorf("dialbench: indexes: %w", err)
	}
	ixCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	b.stopIx, b.ixDone = stop, make(chan struct{})
	go func() {
		defer close(b.ixDone)
		b.indexes.Run(ixCtx)
	}()
	gate := &dialer.PolicyGate{Engine: engine, Indexes: b.indexes}
	b.pacer = &dialer.Pacer{
		Gate:  gate,
		Store: b.store,
		Lines: b.sw,
		Media: b.opts.Media,
		Log:   b.opts.Log,
		Now:   b.opts.Now,
		Firm:  "Bench Law Firm",
	}
	if b.opts.Steps {
		b.steps = &steps{}
		b.pacer.Store = timedStore{Store: b.store, s: b.steps}
		b.pacer.Lines = timedLines{Lines: b.sw, s: b.steps}
		b.pacer.Gate = timedGate{g: gate, s: b.steps}
	}

	b.bareCfg = b.opts.ARI
	b.bareCfg.Application = b.opts.ARI.Application + "-bare"
	cctx, cancel = context.WithTimeout(ctx, b.opts.ConnectTimeout)
	b.client, err = dialer.ConnectARI(cctx, b.bareCfg, b.opts.Log)
	cancel()
	if err != nil {
		b.close()
		return fmt.Errorf("dialbench: bare loop's ARI client: %w", err)
	}
	b.waiting = map[string]chan int{}
	b.sub = b.client.Bus().Subscribe(nil, ari.Events.ChannelDestroyed)
	b.loopEnd = make(chan struct{})
	go b.dispatch()
	return nil
}

// close disconnects everything connect set up.
func (b *bench) close() {
	if b.sub != nil {
		b.sub.Cancel()
		<-b.loopEnd
	}
	if b.client != nil {
		b.client.Close()
	}
	if b.stopIx != nil {
		b.stopIx()
		<-b.ixDone
	}
	if b.sw != nil {
		b.sw.Close()
	}
}

// heed runs one heed phase: the pacing loop over the phase's campaign,
// from start to completion, which includes the end of every call.
func (b *bench) heed(ctx context.Context, ph *Phase) error {
	_, err := b.opts.DB.Exec(ctx, `UPDATE campaigns SET status = 'running', generation = generation + 1, started_at = now(), updated_at = now() WHERE id = $1`, ph.CampaignID)
	if err != nil {
		return fmt.Errorf("start campaign: %w", err)
	}
	var gen int64
	if err := b.opts.DB.QueryRow(ctx, `SELECT generation FROM campaigns WHERE id = $1`, ph.CampaignID).Scan(&gen); err != nil {
		return fmt.Errorf("start campaign: %w", err)
	}
	if b.steps != nil {
		b.steps.take()
	}
	cpu0 := cpuTime()
	start := time.Now()
	err = b.pacer.Run(ctx, ph.CampaignID, gen)
	ph.Seconds = time.Since(start).Seconds()
	ph.CPUSeconds = (cpuTime() - cpu0).Seconds()
	if b.steps != nil {
		ph.Steps = b.steps.take()
	}
	if err != nil {
		return fmt.Errorf("pacing loop: %w", err)
	}
	rows, err := b.opts.DB.Query(ctx, `SELECT phone, decision, status, coalesce(hangup_cause, -1), coalesce(channel_id, ''),
		       coalesce(array_to_string(reasons, ','), ''), coalesce(extract(epoch FROM ended_at - originated_at), 0)::float8
		  FROM attempts WHERE campaign_id = $1 ORDER BY id`, ph.CampaignID)
	if err != nil {
		return fmt.Errorf("attempts: %w", err)
	}
	defer rows.Close()
	attempts := 0
	// Numbers are the numbers heed recorded dialing, not the plan's.
	ph.Numbers = nil
	var refused []string
	notPlaced := 0
	for rows.Next() {
		var p, decision, status, channel, reasons string
		var cause int
		var held float64
		if err := rows.Scan(&p, &decision, &status, &cause, &channel, &reasons, &held); err != nil {
			return fmt.Errorf("attempts: %w", err)
		}
		attempts++
		if decision != string(consent.Allow) {
			refused = append(refused, p+" "+decision+" "+reasons)
			continue
		}
		ph.Numbers = append(ph.Numbers, phone.Number(p))
		if channel == "" {
			// Asterisk refused the originate.
			notPlaced++
			continue
		}
		ph.Calls++
		if status == "ended" && cause >= 0 {
			ph.CallSeconds += held
			ph.Ended++
			ph.Causes[cause]++
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("attempts: %w", err)
	}
	if ph.Seconds > 0 {
		ph.CPS = float64(ph.Calls) / ph.Seconds
	}
	if ph.Ended > 0 {
		ph.CallSeconds /= float64(ph.Ended)
	}
	switch {
	case len(refused) > 0:
		sort.Strings(refused)
		return fmt.Errorf("%w: the gate refused %d of %d contacts (outside the calling window?), first: %s", ErrIncomplete, len(refused), attempts, refused[0])
	case attempts != ph.contacts:
		return fmt.Errorf("%w: %d attempts for %d contacts", ErrIncomplete, attempts, ph.contacts)
	case notPlaced > 0:
		return fmt.Errorf("%w: Asterisk refused %d of %d originates", ErrIncomplete, notPlaced, attempts)
	case ph.Ended != ph.Calls:
		return fmt.Errorf("%w: %d of %d calls ended", ErrIncomplete, ph.Ended, ph.Calls)
	}
	return nil
}

// cpuTime returns this process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
