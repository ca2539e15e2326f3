package dialer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/phone"
)

// DefaultFreshness is how long an index may go without confirming that it
// has every committed change before the gate fails closed.
const DefaultFreshness = 2 * time.Second

// Indexes keeps this process's in-memory do-not-call and consent indexes
// current with PostgreSQL. Every change to a source table is logged in index_changes
// with a sequence number and announced with NOTIFY heed_index; Indexes
// applies the changes in order and records the sequence it has reached and
// when it last confirmed that nothing newer exists. A registry list
// install is logged too (op install, naming the install, not its
// numbers): the sequence reached is past it only once the copy it
// installed, or a newer one, is loaded.
type Indexes struct {
	// DNC is the do-not-call index the gate reads.
	DNC *dnc.Index
	// Consent is the consent index the gate reads.
	Consent *consent.Index
	// Bound is the freshness bound; zero means DefaultFreshness.
	Bound time.Duration
	// Poll is how often Run confirms freshness without a notification;
	// zero means Bound/4.
	Poll time.Duration
	// Registry, when set, holds the registry lists (national, state,
	// litigator) to load and follow.
	Registry *dnc.Registry

	db     *pgxpool.Pool
	store  *dnc.PGStore
	ledger *consent.Ledger
	log    *slog.Logger

	mu         sync.Mutex // serialises loads and syncs
	seq        atomic.Int64
	dncSeq     int64
	consentSeq int64
	registry   map[dnc.ListID]uint64 // installed version of each registry list
	confirmed  atomic.Int64          // unix nanoseconds of the last confirmation
	// held is the registry list copies in memory, replaced whole (never
	// changed) after each install, so that LoadVersion and ListVersions
	// read it while a sync runs.
	held atomic.Pointer[heldCopies]
	// installs is odd while a registry copy is being installed (the index
	// and held changing), and counts each install: ListVersions compares
	// it before and after the decisions it names copies for.
	installs atomic.Uint64
	// optOuts counts, by number, the opt-outs held as internal entries
	// until they are taken (HoldOptOut), and pending holds the numbers of
	// the opt-outs taken but not yet recorded that the last sync found
	// (optout_requests), both under optOutsMu; heldOptOuts is how many
	// numbers the two hold, read without the lock, so that the gate looks
	// further only when there are some.
	optOutsMu   sync.Mutex
	optOuts     map[uint64]int
	pending     map[uint64]bool
	heldOptOuts atomic.Int32
	// listedAt holds, by number, when the latest entry in force of each
	// number on the internal list was made (Unix nanoseconds), under
	// listedMu: a consent given after it lifts the entry for the calls it
	// covers (rule F12). An added number's time is set before the index
	// holds it, and a number is dropped only after the index has, so a
	// number the index holds never has an older time here than its entry's
	// (at worst none, which lifts nothing).
	listedMu sync.RWMutex
	listedAt map[uint64]int64
}

// heldListedAt is what InternalListedAt gives for a number whose opt-out is
// held: a time no consent is given after.
var heldListedAt = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// InternalListedAt returns when the latest entry in force on the internal
// do-not-call list for number n (ten NANP digits) was made, as the indexes
// know it: a far-future time while an opt-out of n is held (HoldOptOut, or
// taken but not yet recorded), whose entry no consent can follow yet, and
// zero when they do not know, which lets no consent lift the entry.
func (ix *Indexes) InternalListedAt(n uint64) time.Time {
	if ix.holdsOptOut(n) {
		return heldListedAt
	}
	return ix.listedTime(n)
}

// listedTime is InternalListedAt for a caller that has read the holds
// already: the entry time alone.
func (ix *Indexes) listedTime(n uint64) time.Time {
	ix.listedMu.RLock()
	ns, ok := ix.listedAt[n]
	ix.listedMu.RUnlock()
	if !ok {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// addListed records when the internal list's entries of ns were made
// (at[i] is ns[i]'s), keeping the later of two times for a number; a zero
// time makes the number's time unknown, which lifts nothing. all, when
// true, makes them the only numbers known.
func (ix *Indexes) addListed(ns []uint64, at []time.Time, all bool) {
	ix.listedMu.Lock()
	defer ix.listedMu.Unlock()
	if all || ix.listedAt == nil {
		ix.listedAt = make(map[uint64]int64, len(ns))
	}
	for i, n := range ns {
		if at[i].IsZero() {
			delete(ix.listedAt, n)
			continue
		}
		if t := at[i].UnixNano(); t > ix.listedAt[n] {
			ix.listedAt[n] = t
		}
	}
}

// dropListed forgets the entry times of ns, numbers the internal list no
// longer holds.
func (ix *Indexes) dropListed(ns []uint64) {
	if len(ns) == 0 {
		return
	}
	ix.listedMu.Lock()
	defer ix.listedMu.Unlock()
	for _, n := range ns {
		delete(ix.listedAt, n)
	}
}

// pendingOptOuts is the query of the numbers of the opt-outs taken but not
// yet recorded, as one text[].
const pendingOptOuts = `SELECT coalesce(array_agg(phone), '{}') FROM optout_requests WHERE recorded_at IS NULL`

// setPending makes the gate count the numbers in phones (E.164) as on the
// internal do-not-call list, in place of those of the previous call: the
// opt-outs taken but not yet recorded. A number heed cannot read is left
// out (the gate refuses such a number anyway).
func (ix *Indexes) setPending(phones []string) {
	if len(phones) == 0 && ix.heldOptOuts.Load() == 0 {
		return // nothing held, nothing to hold: the usual sync
	}
	var pending map[uint64]bool
	for _, p := range phones {
		if n, err := phone.Number(p).NANP(); err == nil {
			if pending == nil {
				pending = map[uint64]bool{}
			}
			pending[n] = true
		}
	}
	ix.optOutsMu.Lock()
	defer ix.optOutsMu.Unlock()
	ix.pending = pending
	ix.heldOptOuts.Store(int32(len(ix.optOuts) + len(ix.pending)))
}

// HoldOptOut makes the gate count n as on the internal do-not-call list,
// whatever the indexes hold, until release is called: for an opt-out heard
// but not yet taken (a key press whose taking the pacer retries while the
// database cannot be reached).
// Every decision of this process then refuses n as the internal list
// does. release is idempotent; call it once the opt-out is taken and the
// indexes have synced it.
func (ix *Indexes) HoldOptOut(n phone.Number) (release func()) {
	v, err := n.NANP()
	if err != nil {
		return func() {} // the gate refuses a number it cannot place anyway
	}
	ix.optOutsMu.Lock()
	if ix.optOuts == nil {
		ix.optOuts = map[uint64]int{}
	}
	ix.optOuts[v]++
	ix.heldOptOuts.Store(int32(len(ix.optOuts) + len(ix.pending)))
	ix.optOutsMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			ix.optOutsMu.Lock()
			defer ix.optOutsMu.Unlock()
			if ix.optOuts[v]--; ix.optOuts[v] <= 0 {
				delete(ix.optOuts, v)
			}
			ix.heldOptOuts.Store(int32(len(ix.optOuts) + len(ix.pending)))
		})
	}
}

// holdsOptOut reports whether HoldOptOut or a pending opt-out holds the
// number n. With none held it costs one atomic load.
func (ix *Indexes) holdsOptOut(n uint64) bool {
	if ix.heldOptOuts.Load() == 0 {
		return false
	}
	ix.optOutsMu.Lock()
	defer ix.optOutsMu.Unlock()
	return ix.optOuts[n] > 0 || ix.pending[n]
}

// markHeldOptOuts adds the internal list to hits[i] for each number ns[i]
// held by HoldOptOut or a pending opt-out, and returns which were held:
// bit i%64 of held[i/64] for ns[i] (ns holds at most 128 numbers). With
// none held it costs one atomic load.
func (ix *Indexes) markHeldOptOuts(ns []uint64, hits []dnc.Hits) (held [2]uint64) {
	if ix.heldOptOuts.Load() == 0 {
		return held
	}
	ix.optOutsMu.Lock()
	defer ix.optOutsMu.Unlock()
	for i, n := range ns {
		if ix.optOuts[n] > 0 || ix.pending[n] {
			hits[i] |= 1 << dnc.Internal
			held[i/64] |= 1 << (i % 64)
		}
	}
	return held
}

// heldCopies are the registry list copies the indexes hold: by list, and
// their versions by list name as ListVersions gives them (made once per
// install, not per batch).
type heldCopies struct {
	copies   map[dnc.ListID]heldCopy
	versions map[string]uint64
}

// heldCopy is a registry list copy the indexes hold.
type heldCopy struct {
	meta dnc.Meta
	set  *dnc.Set
}

// NewMemoryIndexes returns indexes over data already in memory, with no
// database behind them: Load does nothing and Sync only confirms them.
// Benchmarks and tools use them.
func NewMemoryIndexes(d *dnc.Index, c *consent.Index) *Indexes {
	ix := &Indexes{DNC: d, Consent: c}
	ix.confirmed.Store(time.Now().UnixNano())
	return ix
}

// NewIndexes returns indexes over db. Call Load before use and Run to
// follow changes.
func NewIndexes(db *pgxpool.Pool, log *slog.Logger) *Indexes {
	return &Indexes{DNC: dnc.NewIndex(), Consent: consent.NewIndex(nil), db: db, store: dnc.NewPGStore(db),
		ledger: consent.NewLedger(db), log: log}
}

func (ix *Indexes) bound() time.Duration {
	if ix.Bound > 0 {
		return ix.Bound
	}
	return DefaultFreshness
}

// Load reads the internal list and the consent ledger whole and installs them.
func (ix *Indexes) Load(ctx context.Context) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	started := time.Now()
	if ix.db == nil {
		ix.confirmed.Store(started.UnixNano())
		return nil
	}
	// The opt-outs taken but not recorded first: one recorded after this
	// read is in what is loaded next.
	var pending []string
	if err := ix.db.QueryRow(ctx, pendingOptOuts).Scan(&pending); err != nil {
		return fmt.Errorf("indexes: pending opt-outs: %w", err)
	}
	listed, seq, err := ix.store.InternalAll(ctx)
	if err != nil {
		return err
	}
	nums, at := make([]uint64, len(listed)), make([]time.Time, len(listed))
	for i, l := range listed {
		nums[i], at[i] = l.Number, l.At
	}
	var b dnc.Builder
	if err := b.AddMany(nums); err != nil {
		return fmt.Errorf("internal dnc: %w", err)
	}
	// The entry times before the list that holds them (listedAt).
	ix.addListed(nums, at, true)
	if _, err := ix.DNC.Replace(dnc.Meta{List: dnc.Internal, Source: "postgres", Seq: uint64(seq)}, b.Build()); err != nil {
		return fmt.Errorf("internal dnc: %w", err)
	}
	ix.dncSeq = seq
	if err := ix.syncRegistry(ctx); err != nil {
		return err
	}
	snap, err := ix.ledger.LoadSnapshot(ctx)
	if err != nil {
		return fmt.Errorf("consent index: %w", err)
	}
	ix.Consent.Replace(snap)
	ix.consentSeq = snap.Seq()
	ix.seq.Store(min(seq, snap.Seq()))
	ix.setPending(pending)
	ix.confirmed.Store(started.UnixNano())
	return nil
}

// Sync applies every change committed before it was called. When it
// returns nil, the indexes hold every opt-out committed or taken before
// the call, and the registry list copies current then. The position it
// reports (Seq) passes a logged install only once the copies current after
// it are loaded: the internal list's changes are read first, with the
// log's top, and the registry's current copies after them, so a copy the
// indexes cannot load leaves the position behind the install (and Sync
// returns the error: the gate fails closed once the freshness bound
// lapses).
func (ix *Indexes) Sync(ctx context.Context) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	started := time.Now()
	if ix.db == nil {
		ix.confirmed.Store(started.UnixNano())
		return nil
	}
	// The opt-outs taken but not recorded are read with the log's top, in
	// one statement: one recorded after it has its changes in what this
	// sync applies, and they are held again (setPending) only once those
	// are applied.
	quiet, pending, err := ix.unchanged(ctx)
	if err != nil {
		return err
	}
	if quiet {
		// Nothing is logged past the higher of the two positions but
		// changes the other index has applied (unchanged), and nothing
		// lower can still commit: both indexes hold the log up to it. A
		// change committed between a sync's two reads leaves the lower
		// position behind until here.
		top := max(ix.dncSeq, ix.consentSeq)
		ix.dncSeq, ix.consentSeq = top, top
		ix.seq.Store(top)
		ix.setPending(pending)
		ix.confirmed.Store(started.UnixNano())
		return nil
	}
	from := ix.dncSeq
	ch, last, err := ix.store.InternalSince(ctx, from)
	if err != nil {
		return err
	}
	if last > from {
		ch.Seq = uint64(last)
		ix.addListed(ch.Adds, ch.AddedAt, false) // before the list holds them (listedAt)
		if _, _, err := ix.DNC.Apply(dnc.Internal, ch.Change); err != nil && !errors.Is(err, dnc.ErrStaleChange) {
			return fmt.Errorf("internal dnc: %w", err)
		}
		ix.dropListed(ch.Dels)
		ix.dncSeq = last
	}
	if err := ix.syncRegistry(ctx); err != nil {
		return err
	}
	recs, clast, err := ix.ledger.Since(ctx, ix.consentSeq)
	if err != nil {
		return fmt.Errorf("consent index: %w", err)
	}
	if len(recs) > 0 {
		ix.Consent.Apply(recs...)
	}
	ix.consentSeq = clast
	ix.seq.Store(min(last, clast))
	ix.setPending(pending)
	ix.confirmed.Store(started.UnixNano())
	return nil
}

// unchanged reports, in one query, whether nothing happened since the last
// sync: no change logged after the sequences this process has applied, and
// the same registry list versions (which every install's log row also
// tells since migration 00046: a sync that could not load a copy leaves
// the consent index's sequence behind the install's row). Sequences
// commit in order (writers take the change log's lock before taking one),
// so a change not yet visible here can only get a higher sequence and is
// found by the next sync. It also returns the numbers of the opt-outs
// taken but not yet recorded then.
func (ix *Indexes) unchanged(ctx context.Context) (quiet bool, pending []string, err error) {
	var dncMax, allMax int64
	var lists map[string]int64
	err = ix.db.QueryRow(ctx, `
		SELECT coalesce(max(seq) FILTER (WHERE index = 'dnc'), 0), coalesce(max(seq), 0),
		       (SELECT coalesce(jsonb_object_agg(list, version), '{}') FROM dnc_lists), (`+pendingOptOuts+`)
		  FROM index_changes WHERE seq > least($1::bigint, $2::bigint)`, ix.dncSeq, ix.consentSeq).Scan(&dncMax, &allMax, &lists, &pending)
	if err != nil {
		return false, nil, fmt.Errorf("indexes: changes: %w", err)
	}
	if dncMax > ix.dncSeq || allMax > ix.consentSeq {
		return false, pending, nil
	}
	if ix.Registry == nil {
		return true, pending, nil
	}
	if len(lists) != len(ix.registry) {
		return false, pending, nil
	}
	for name, version := range lists {
		id, err := dnc.ParseList(name)
		if err != nil || ix.registry[id] != uint64(version) {
			return false, pending, nil
		}
	}
	return true, pending, nil
}

// syncRegistry installs the registry lists whose current version differs
// from the one in memory.
func (ix *Indexes) syncRegistry(ctx context.Context) error {
	if ix.Registry == nil {
		return nil
	}
	installed, err := ix.Registry.Installed(ctx)
	if err != nil {
		return err
	}
	if ix.registry == nil {
		ix.registry = map[dnc.ListID]uint64{}
	}
	for _, in := range installed {
		if ix.registry[in.List] == in.Version {
			continue
		}
		meta, set, err := ix.Registry.Load(in)
		if err != nil {
			return err
		}
		ix.installs.Add(1) // odd: installing
		_, err = ix.DNC.Replace(meta, set)
		if err == nil {
			held := heldCopies{copies: map[dnc.ListID]heldCopy{}, versions: map[string]uint64{}}
			if old := ix.held.Load(); old != nil {
				maps.Copy(held.copies, old.copies)
				maps.Copy(held.versions, old.versions)
			}
			held.copies[in.List] = heldCopy{meta: meta, set: set}
			held.versions[in.List.String()] = meta.Version
			ix.held.Store(&held)
		}
		ix.installs.Add(1)
		if err != nil {
			return fmt.Errorf("install %v: %w", in.List, err)
		}
		ix.registry[in.List] = in.Version
		ix.log.Info("indexes: installed do-not-call list", "list", in.List.String(), "version", in.Version,
			"numbers", in.Count, "as_of", in.AsOf.Format(time.DateOnly))
	}
	return nil
}

// ListVersions returns the version of each registry list copy the indexes
// hold, by list name ("national", "state:CT", "litigator"), or nil when
// they hold none (a map shared with every caller until the next install,
// which callers must not change), and a function that reports whether no copy was
// installed since: decisions made between the two read those copies.
func (ix *Indexes) ListVersions() (map[string]uint64, func() bool) {
	before := ix.installs.Load()
	unchanged := func() bool { return before%2 == 0 && ix.installs.Load() == before }
	if held := ix.held.Load(); held != nil {
		return held.versions, unchanged
	}
	return nil, unchanged
}

// LoadVersion returns version v of registry list l, as
// dnc.Registry.LoadVersion does: the copy the indexes hold when they hold
// that version, without reading its file again, and otherwise the copy
// read from its file. It returns an error wrapping dnc.ErrUnknownList
// when the indexes have no Registry.
func (ix *Indexes) LoadVersion(ctx context.Context, l dnc.ListID, v uint64) (dnc.Meta, *dnc.Set, error) {
	if held := ix.held.Load(); held != nil {
		if c, ok := held.copies[l]; ok && c.meta.Version == v {
			return c.meta, c.set, nil
		}
	}
	if ix.Registry == nil {
		return dnc.Meta{}, nil, fmt.Errorf("indexes: list %v version %d: no registry: %w", l, v, dnc.ErrUnknownList)
	}
	m, s, err := ix.Registry.LoadVersion(ctx, l, v)
	if err != nil {
		return dnc.Meta{}, nil, fmt.Errorf("indexes: %w", err)
	}
	return m, s, nil
}

// Seq returns the change sequence number the indexes have reached.
func (ix *Indexes) Seq() int64 { return ix.seq.Load() }

// Fresh reports whether the indexes confirmed within the bound before now
// that they hold every committed change.
func (ix *Indexes) Fresh(now time.Time) bool {
	c := ix.confirmed.Load()
	return c != 0 && now.UnixNano()-c <= int64(ix.bound())
}

// Run follows changes until ctx ends: it listens for NOTIFY heed_index on
// a connection of its own and syncs on each notification, and at least
// every Poll to keep confirming freshness. When PostgreSQL cannot be
// reached, freshness lapses and the gate fails closed until it can.
func (ix *Indexes) Run(ctx context.Context) {
	poll := ix.Poll
	if poll == 0 {
		poll = ix.bound() / 4
	}
	for ctx.Err() == nil {
		err := ix.listen(ctx, poll)
		if ctx.Err() != nil {
			return
		}
		ix.log.Warn("indexes: change feed interrupted; retrying", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(poll):
		}
	}
}

// cleanupTimeout bounds a statement that tidies a connection up on its
// way back to the pool (UNLISTEN), which runs even when the caller's
// context has ended.
const cleanupTimeout = 5 * time.Second

func (ix *Indexes) listen(ctx context.Context, poll time.Duration) error {
	conn, err := ix.db.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `LISTEN heed_index`); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer func() {
		// The connection goes back to the pool: stop listening first, but
		// not for longer than cleanupTimeout, so that a PostgreSQL that
		// hangs cannot hold up a stopping process.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_, _ = conn.Exec(uctx, `UNLISTEN heed_index`)
	}()
	for {
		if err := ix.Sync(ctx); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, poll)
		_, err := conn.Conn().WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case wctx.Err() != nil && !conn.Conn().IsClosed():
			// No notification within poll: sync anyway to confirm freshness.
		default:
			return fmt.Errorf("wait for notification: %w", err)
		}
	}
}
