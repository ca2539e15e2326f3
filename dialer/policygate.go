package dialer

import (
	"context"
	"encoding/binary"
	"sync"
	"time"
	"unsafe"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/phone"
)

// PolicyGate is the gate: it gathers the facts from the in-memory indexes
// and lets the policy engine decide by the law packs. It never touches the
// database; when the indexes cannot confirm they are current it denies with
// index.stale.
type PolicyGate struct {
	// Engine decides by the law packs and the firm's settings. When Policy
	// is set, Engine is ignored and the engine in force is read from Policy
	// once per Check or CheckBatch, so a newly saved firm setting holds from
	// the next batch on.
	Engine  *consent.Engine
	Policy  *Policy
	Indexes *Indexes
	// Clock reads the wall clock for index freshness; nil means time.Now.
	// (Request.At, the moment the law is applied to, may differ in tests.)
	Clock func() time.Time

	// batch is the consent.Batch CheckBatch decides with, kept from call
	// to call for what it remembers (the outcomes of the rules for the
	// kinds of attempt it has seen); batchMu guards it, and a call that
	// finds it in use decides with a Batch of its own.
	batchMu sync.Mutex
	batch   *consent.Batch
	scratch *checkScratch
}

// checkScratch is CheckBatch's space for the consent queries and answers
// of checkBatchSize requests, kept with PolicyGate.batch: on the stack,
// its arrays (some 20 KB) would be zeroed at every call, and every entry
// is written before it is read.
type checkScratch struct {
	qs  [checkBatchSize]consent.Query
	cfs [checkBatchSize]consent.ConsentFacts
}

var (
	_ Gate       = (*PolicyGate)(nil)
	_ BatchGate  = (*PolicyGate)(nil)
	_ FactReader = (*PolicyGate)(nil)

	_ IndexPositioner = (*PolicyGate)(nil)
	_ ListVersioner   = (*PolicyGate)(nil)
)

// Sync brings the indexes up to every change committed before the call.
// The pacing loop calls it before each batch.
func (g *PolicyGate) Sync(ctx context.Context) error { return g.Indexes.Sync(ctx) }

// Check decides one attempt.
func (g *PolicyGate) Check(_ context.Context, req Request) consent.Decision {
	in := req.Input()
	f := g.Facts(&req)
	var d consent.Decision
	g.engine().Decide(&in, &f, &d)
	return d
}

// Reads says which per-number facts beyond the indexes the engine in force
// reads for such attempts.
func (g *PolicyGate) Reads(p consent.Purpose, m consent.Method, l consent.LineType) consent.FactNeeds {
	return g.engine().Reads(p, m, l)
}

// IndexSeq returns the change-log position the gate's indexes have
// applied.
func (g *PolicyGate) IndexSeq() int64 { return g.Indexes.Seq() }

// HoldOptOut makes the gate refuse n as on the internal list until release
// (Indexes.HoldOptOut).
func (g *PolicyGate) HoldOptOut(n phone.Number) (release func()) { return g.Indexes.HoldOptOut(n) }

// ListVersions returns the versions of the registry list copies the
// gate's indexes hold (Indexes.ListVersions).
func (g *PolicyGate) ListVersions() (map[string]uint64, func() bool) { return g.Indexes.ListVersions() }

// engine returns the engine in force.
func (g *PolicyGate) engine() *consent.Engine {
	if g.Policy != nil {
		return g.Policy.Engine()
	}
	return g.Engine
}

// checkBatchSize is how many requests CheckBatch looks up at once: enough
// for the lookups' memory accesses to overlap, few enough for its scratch
// space to live on the stack.
const checkBatchSize = 128

// markHeldOptOuts marks at most 128 numbers: this does not compile if
// checkBatchSize exceeds that.
const _ = uint(2*64 - checkBatchSize)

// CheckBatch decides reqs[i] into out[i], for every i, as Check would with
// the same indexes and clock reading; out must be at least as long as reqs.
// It reads the clock, the indexes' freshness and the do-not-call
// snapshot once for the whole batch (an index stale at that moment denies
// every request with index.stale, as Check does), the held opt-outs and
// then the consent snapshot once for each checkBatchSize requests, and
// looks the numbers up in the do-not-call and consent indexes together,
// so that their memory accesses overlap. It allocates nothing.
func (g *PolicyGate) CheckBatch(_ context.Context, reqs []Request, out []consent.Decision) {
	out = out[:len(reqs)]
	var (
		eb *consent.Batch
		sc *checkScratch
	)
	if e := g.engine(); g.batchMu.TryLock() {
		defer g.batchMu.Unlock()
		if g.batch == nil {
			g.batch, g.scratch = e.NewBatch(), new(checkScratch)
		} else if g.batch.Engine() != e {
			g.batch.Reset(e)
		}
		eb, sc = g.batch, g.scratch
	} else {
		own := e.Batch()
		var ownScratch checkScratch
		eb, sc = &own, &ownScratch
	}
	fresh := g.Indexes.Fresh(g.now())
	view := g.Indexes.DNC.View()
	var asOf time.Time
	if m, _, ok := view.List(dnc.National); ok {
		asOf = m.AsOf
	}
	var (
		ns    [checkBatchSize]uint64
		valid [checkBatchSize]bool
		hits  [checkBatchSize]dnc.Hits
		dh    [checkBatchSize]consent.DNCHits // hits, as the engine counts them
		keys  [checkBatchSize]consent.Key
		held  [2]uint64 // the batch's numbers held as opted out, by bit
	)
	// Each request's number and history are prefetched one pass ahead,
	// spread over the previous pass's decisions, a group at a time.
	for i := 0; i < min(len(reqs), checkBatchSize); i += prefetchGroup {
		prefetchRequests(reqs[i:min(i+prefetchGroup, len(reqs))])
	}
	for len(reqs) > 0 {
		k := min(len(reqs), checkBatchSize)
		batch, next := reqs[:k], reqs[k:min(len(reqs), 2*checkBatchSize)]
		if fresh {
			// Only the do-not-call lists a rule of some request's kind
			// consults are looked up: hits on the others change nothing.
			var lists consent.DNCHits
			// The purpose's and method's part of the kind is worked out
			// again only when they change: a pacing batch is one
			// campaign's.
			p, m := batch[0].Purpose, batch[0].Method
			pm := consent.PMKeyOf(p, m)
			for i := range batch {
				req := &batch[i]
				n, ok := nanp(req.Phone)
				valid[i] = ok
				if !ok {
					n = dnc.MaxNumber // looked up as absent
				}
				ns[i] = n
				if !sameString(string(req.Purpose), string(p)) || !sameString(string(req.Method), string(m)) {
					p, m = req.Purpose, req.Method
					pm = consent.PMKeyOf(p, m)
				}
				keys[i] = pm.With(req.Line)
				lists |= eb.DNCListsKey(keys[i])
			}
			view.LookupBatchIn(ns[:k], dncLists(lists), hits[:k])
			held = g.Indexes.markHeldOptOuts(ns[:k], hits[:k])
			// The consent snapshot after the holds: a hold is released
			// only once its revocation is in the indexes, so a number not
			// held now has its revocation in this snapshot, and a consent
			// before it cannot lift its entry (rule F12).
			snap := g.Indexes.Consent.Snapshot()
			// A number whose decision cannot depend on its consent is not
			// looked up (the engine ignores the empty consent it gets).
			for i := range batch {
				req := &batch[i]
				n := ns[i]
				dh[i] = DNCHits(hits[i])
				if valid[i] && !eb.ConsultsConsentKey(keys[i], dh[i]) {
					n = dnc.MaxNumber
				}
				// Field by field: a composite literal here builds a
				// temporary and copies it.
				q := &sc.qs[i]
				q.Number, q.Purpose, q.At = n, req.Purpose, req.At
			}
			snap.LookupBatch(sc.qs[:k], consent.ChannelVoice, sc.cfs[:k], nil)
		}
		// One Input and one Facts serve the whole batch: each request
		// sets every field that differs between requests and that the
		// engine reads (DecideIndexed reads the number and the kind of
		// attempt from ns and keys, not from the Input).
		var in consent.Input
		f := consent.Facts{Fresh: fresh, NationalAsOf: asOf}
		for i := range batch {
			req := &batch[i]
			in.State, in.ZIP, in.At, in.History = req.State, req.ZIP, req.At, req.History
			in.RegFDirectConsent, in.SolicitationException = req.Overrides.RegFDirectConsent, req.Overrides.SolicitationException
			in.InjuryMatter, in.AccidentAt = req.InjuryMatter, req.AccidentAt
			f.ReassignedAt = req.ReassignedAt
			if fresh && valid[i] {
				f.DNC = dh[i]
				if f.DNC&consent.DNCInternal != 0 {
					// Rare: when the entry was made, for a consent
					// given after it (rule F12); never for a number
					// held when the batch looked (its consent was read
					// before the hold's revocation may have been). The
					// engine reads it only with the internal list in
					// DNC, so another request's is left in place.
					if held[i/64]&(1<<(i%64)) != 0 {
						f.InternalListedAt = heldListedAt
					} else {
						f.InternalListedAt = g.Indexes.listedTime(ns[i])
					}
				}
				eb.DecideIndexed(&in, keys[i], ns[i], &f, &sc.cfs[i], &out[i])
			} else {
				in.Number, in.Purpose, in.Method, in.Line = req.Phone, req.Purpose, req.Method, req.Line
				f.DNC = 0
				eb.Decide(&in, &f, &out[i])
			}
			if i%prefetchGroup == 0 && i < len(next) {
				prefetchRequests(next[i:min(i+prefetchGroup, len(next))])
			}
		}
		reqs, out = reqs[k:], out[k:]
	}
}

// sameString reports whether a and b are the same bytes in memory (and
// so equal), without comparing their contents: a batch's requests of one
// campaign share its strings.
func sameString(a, b string) bool {
	return unsafe.StringData(a) == unsafe.StringData(b) && len(a) == len(b)
}

// prefetchGroup is how many requests prefetchRequests is given at a time.
const prefetchGroup = 8

// prefetchRequests starts loading what deciding rs reads besides the
// indexes: their numbers' digits and their histories. rs holds at most
// prefetchGroup requests. It does not branch on what the requests hold
// (an empty number or history gives an address the processor ignores), so
// that a batch's mix of requests with and without histories costs no
// mispredicted branches.
func prefetchRequests(rs []Request) {
	var addrs [3 * prefetchGroup]uintptr
	rs = rs[:min(len(rs), prefetchGroup)]
	for i := range rs {
		r := &rs[i]
		h := r.History
		last := unsafe.Add(unsafe.Pointer(unsafe.SliceData(h)), uintptr(max(len(h)-1, 0))*unsafe.Sizeof(h[0]))
		addrs[3*i] = uintptr(unsafe.Pointer(unsafe.StringData(string(r.Phone))))
		addrs[3*i+1] = uintptr(unsafe.Pointer(unsafe.SliceData(h)))
		addrs[3*i+2] = uintptr(last) + unsafe.Offsetof(h[0].Conversation)
	}
	dnc.Prefetch(addrs[:3*len(rs)])
}

// nanp returns a number's ten NANP digits as phone.Number.NANP does, and
// false where NANP would return an error, without allocating one.
func nanp(p phone.Number) (uint64, bool) {
	s := string(p)
	if len(s) != 12 {
		return 0, false
	}
	// Two overlapping words: "+1" and the first six digits, and the last
	// eight digits, less what each byte should be at the least ('+', '1'
	// and '0's; the first byte is the lowest). A byte is then what it
	// should be when it is at most 0 ("+1") or 9 (a digit): adding 0x7f or
	// 0x76 to it leaves its high bit clear. A byte below its least wraps
	// round to one with its high bit set; the borrow it takes from the
	// next byte and the carries of the additions come only from bytes
	// already found wrong.
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	lo := binary.LittleEndian.Uint64(b[0:8]) - 0x303030303030312b
	hi := binary.LittleEndian.Uint64(b[4:12]) - 0x3030303030303030
	if (lo|(lo+0x7676767676767f7f)|hi|(hi+0x7676767676767676))&0x8080808080808080 != 0 {
		return 0, false
	}
	// The last eight digits to a number, pairs then quads then the eight,
	// and the first two (the third and fourth bytes of lo) above them.
	hi = (hi*10 + hi>>8) & 0x00ff00ff00ff00ff
	hi = (hi*100 + hi>>16) & 0x0000ffff0000ffff
	hi = (hi*10000 + hi>>32) & 0xffffffff
	return ((lo>>16&0xff)*10+(lo>>24&0xff))*100_000_000 + hi, true
}

func (g *PolicyGate) now() time.Time {
	if g.Clock != nil {
		return g.Clock()
	}
	return time.Now()
}

// Facts gathers from the in-memory indexes what the engine needs to know
// of a request's number: freshness, do-not-call hits (with when an
// internal entry was made), consent and the national registry copy's date.
func (g *PolicyGate) Facts(req *Request) consent.Facts {
	var f consent.Facts
	f.Fresh = g.Indexes.Fresh(g.now())
	f.ReassignedAt = req.ReassignedAt
	view := g.Indexes.DNC.View()
	if n, err := req.Phone.NANP(); err == nil {
		f.DNC = DNCHits(view.Lookup(n))
		switch {
		case g.Indexes.holdsOptOut(n):
			f.DNC |= consent.DNCInternal
			f.InternalListedAt = heldListedAt
		case f.DNC&consent.DNCInternal != 0:
			f.InternalListedAt = g.Indexes.listedTime(n)
		}
		g.Indexes.Consent.Lookup(n, req.Purpose, consent.ChannelVoice, req.At, &f.Consent)
	}
	if m, _, ok := view.List(dnc.National); ok {
		f.NationalAsOf = m.AsOf
	}
	return f
}

// dncLists returns the index lists whose hits DNCHits maps to the engine's
// lists l: every list other than the internal, national and litigator
// ones counts as a state list.
func dncLists(l consent.DNCHits) dnc.Hits {
	var h dnc.Hits
	if l&consent.DNCInternal != 0 {
		h |= 1 << dnc.Internal
	}
	if l&consent.DNCNational != 0 {
		h |= 1 << dnc.National
	}
	if l&consent.DNCLitigator != 0 {
		h |= 1 << dnc.Litigator
	}
	if l&consent.DNCState != 0 {
		h |= ^dnc.Hits(1<<dnc.Internal | 1<<dnc.National | 1<<dnc.Litigator)
	}
	return h
}

// DNCHits maps the index's per-list hits to the engine's list kinds: any
// state's list counts as a state-list hit.
func DNCHits(h dnc.Hits) consent.DNCHits {
	// Without a branch on which lists hit (a batch's hits are a random
	// mix): the named lists by table, then any state list.
	return dncNamed[h&7] | consent.DNCState*consent.DNCHits(b2u8(h&^(1<<dnc.Internal|1<<dnc.National|1<<dnc.Litigator) != 0))
}

// DNCHits indexes dncNamed by a dnc.Hits' three lowest bits: this does not
// compile if the internal, national or litigator list's ID leaves them.
const _ = uint(7 - (1<<dnc.Internal | 1<<dnc.National | 1<<dnc.Litigator))

// dncNamed maps the internal, national and litigator lists' bits of a
// dnc.Hits (its three lowest) to the engine's list kinds.
var dncNamed = func() (t [8]consent.DNCHits) {
	for i := range t {
		h := dnc.Hits(i)
		if h.Has(dnc.Internal) {
			t[i] |= consent.DNCInternal
		}
		if h.Has(dnc.National) {
			t[i] |= consent.DNCNational
		}
		if h.Has(dnc.Litigator) {
			t[i] |= consent.DNCLitigator
		}
	}
	return t
}()

// b2u8 is 1 for true and 0 for false (the compiler makes it a SETcc).
func b2u8(b bool) uint8 {
	var u uint8
	if b {
		u = 1
	}
	return u
}
