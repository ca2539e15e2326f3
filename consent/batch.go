package consent

import (
	"math/bits"
	"time"
	"unsafe"
)

// Batch decides many attempts with one engine, as the pacing loop has them:
// a campaign's attempts, all made at one instant. It remembers what such
// decisions share (the rules that apply to the campaign's purpose and
// method, and the local day and time of each time zone at the instant), so
// that each decision after the first costs less. Its decisions are exactly
// Engine.Decide's, whatever the attempts: an attempt at another instant or
// for another campaign only costs the recomputation.
//
// A Batch is not safe for concurrent use; give each goroutine its own. The
// zero Batch is not usable: make one with Engine.Batch, Engine.NewBatch
// (which also remembers decisions, see DecideIndexed) or Reset.
type Batch struct {
	e *Engine

	// The purpose's and method's part of the key of the last attempt, and
	// those strings' data and lengths (strings with the same data and
	// length are equal).
	keyOK      bool
	pm         int
	pp, mp     *byte
	plen, mlen int

	// The instant (Unix second) the zone times and the epoch are for.
	atOK bool
	at   int64
	ep   int
	have uint64 // zones whose local day and second are in day and sod
	day  [64]int64
	sod  [64]int64

	// The window verdicts of each zone at the instant, by window class
	// (mergedPlan.wid, below windowClasses): zdone has the zones whose
	// verdict is known, zday those where the class's days rule the day
	// out, zout those where the day is allowed and the time of day is
	// outside the class's window.
	zdone, zday, zout [windowClasses]uint64

	// The earliest lawful instant of a few window classes and zone sets,
	// from the instant, direct-mapped; wvalid has bit i%64 of word i/64
	// set when entry i is for the instant. wopen[i] is 1 when wuntil[i]
	// holds the instant, 2 when the window never opens.
	wid    [windowMemo]int32
	wzones [windowMemo]uint64
	wvalid [windowMemo / 64]uint64
	wuntil [windowMemo]int64
	wopen  [windowMemo]uint8

	sc scratch

	// Decisions remembered by their memo key (DecideIndexed), direct-
	// mapped; nil but in a Batch made by NewBatch.
	memo *[memoSize]memoEntry

	// A few reason sets and their interned slices, direct-mapped: a
	// batch's decisions repeat a handful of sets.
	rsets [8]ReasonSet
	rs    [8][]Reason
}

// Batch returns a Batch that decides with e.
func (e *Engine) Batch() Batch { return Batch{e: e} }

// NewBatch returns a Batch that decides with e and also remembers
// decisions by their memo key (DecideIndexed), for a caller that keeps it
// from pacing batch to pacing batch: the keys of a few dozen campaigns'
// attempts fill its memory once. It takes about 100 KB; Reset keeps it.
func (e *Engine) NewBatch() *Batch { return &Batch{e: e, memo: new([memoSize]memoEntry)} }

// Reset makes b decide with e and forget what it remembered.
func (b *Batch) Reset(e *Engine) {
	b.e, b.keyOK, b.atOK = e, false, false
	clear(b.rsets[:])
	if b.memo != nil {
		clear(b.memo[:])
	}
}

// Engine returns the engine b decides with.
func (b *Batch) Engine() *Engine { return b.e }

// Decide decides one attempt as Engine.Decide does and writes the decision
// to out, overwriting it. It allocates nothing.
func (b *Batch) Decide(in *Input, f *Facts, out *Decision) {
	b.e.decide(in, -1, noNANP, f, &f.Consent, out, b, &b.sc)
}

// DecideIndexed is Decide for a caller that has already worked out the
// attempt's kind, read the number and looked its consent up, so that
// nothing is worked out, parsed or copied twice: k stands for the
// attempt's Key (Key(in.Purpose, in.Method, in.Line)), n for its number's
// ten digits as phone.Number.NANP returns them (the number is then a
// valid "+1" number), and cf for f.Consent. in.Number, in.Purpose,
// in.Method, in.Line and f.Consent are not read.
//
// With a Batch made by NewBatch, most decisions are looked up: an
// attempt's decision is a function of a few things alone (its memo key:
// the merged table's entry of its kind, jurisdictions and epoch, the
// consent that may be relied on as evalConsent finds it, its do-not-call
// hits, its calling window's verdict, the national registry copy's
// staleness and the solicitation exception), but for the attempts with a
// history that counts, an accident wait, or a hit that only a consent
// given after the entry exempts from. For the others decide works the
// decision out once a key, and the Batch remembers it; a deferred one
// still looks its until up (nextOpen), and one that relies on the consent
// names its own.
func (b *Batch) DecideIndexed(in *Input, k Key, n uint64, f *Facts, cf *ConsentFacts, out *Decision) {
	e, ki := b.e, int(k.k)-1
	prefix, np := splitNumber(n) // n has ten digits, below nanpLimit
	npa, nxx := int(np), int(prefix-np*1000)
	if b.memo == nil || e.merged == nil || !f.Fresh || badNPA[npa&(len(badNPA)-1)] || nxx < 200 {
		e.decide(in, ki, n, f, cf, out, b, &b.sc)
		return
	}
	at, atN := in.At.Unix(), in.At.UnixNano()
	zones, jur, _ := e.locate(npa, nxx, in.State, in.ZIP)
	mi := e.mergedAt(ki, jur, b.epoch(at))
	m := &e.merged[mi]
	x := &m.x
	if at <= 0 || m.wid >= windowClasses || x.winS >= x.winE || f.DNC&m.dncAfter != 0 ||
		x.accWait > 0 && (in.InjuryMatter || !in.AccidentAt.IsZero()) {
		e.decide(in, ki, n, f, cf, out, b, &b.sc)
		return
	}
	kind, problem := ConsentNone, bitConsentMissing
	if !consentEmpty(cf) {
		kind, problem = evalConsent(cf, in.At, x.revokeAll, x.reassign, f.ReassignedAt)
	}
	if len(in.History) > 0 && len(m.histChecks) > 0 {
		if d, w, _, u := history(in, m.histChecks, m.applied, atN, kind, &b.sc); d|w != 0 || u {
			e.decide(in, ki, n, f, cf, out, b, &b.sc)
			return
		}
	}
	stale := x.snapMax > 0 && (f.NationalAsOf.IsZero() || atN-f.NationalAsOf.UnixNano() > x.snapMax)
	win := b.window(m.wid, x, zones)
	key := uint32(mi)<<14 | uint32(kind)<<12 | uint32(problem/bitConsentMissing)<<8 | uint32(f.DNC&m.dnc)<<4 |
		uint32(win/bitWindowOutside)<<2 | uint32(b2u(stale))<<1 | uint32(b2u(in.SolicitationException))
	me := &b.memo[(key*0x9e3779b1)>>(32-memoBits)]
	if me.key != key|memoValid {
		rules, denied, used := e.decide(in, ki, n, f, cf, out, b, &b.sc)
		me.key, me.defers, me.names = key|memoValid, !denied && rules != 0, used && !denied
		me.d = Decision{Verdict: Allow, Reasons: b.reasons(rules), Pack: e.version}
		switch {
		case denied:
			me.d.Verdict = Deny
		case me.defers:
			me.d.Verdict = Defer
		}
		return
	}
	*out = me.d
	if me.defers {
		until, ok := b.nextOpen(m.wid, x, zones)
		if !ok {
			e.decide(in, ki, n, f, cf, out, b, &b.sc)
			return
		}
		out.Until = time.Unix(until, 0).UTC()
	}
	if me.names {
		out.ConsentID = cf.ID
	}
}

// badNPA has the area codes (below 1,000) that no valid number has: those
// below 200 and the N11 codes (parseNANP's test, by one load).
var badNPA = func() (t [1024]bool) {
	for npa := range t {
		t[npa] = npa < 200 || npa%100 == 11
	}
	return t
}()

// memoSize is how many decisions a Batch made by NewBatch remembers: the
// kinds of attempt of a few dozen campaigns (a power of two).
const memoSize = 1 << memoBits

// memoBits is log2(memoSize).
const memoBits = 10

// memoEntry is a decision remembered by its memo key (DecideIndexed):
// the decision, but for its until (looked up when defers is set) and its
// consent (named when names is set).
type memoEntry struct {
	key           uint32 // the memo key | memoValid
	defers, names bool
	d             Decision
}

// memoValid marks a memoEntry in use; no memo key has its bit.
const memoValid = 1 << 31

// The memo key's fields (DecideIndexed) hold what they pack in their
// widths: a reason, hit or kind added past them would make two attempts
// that decide differently share a key, so these fail to compile then. The
// merged table's index takes bits 14 to 30; the consent kind 12 and 13;
// the consent problem, as a multiple of bitConsentMissing, 8 to 11; the
// do-not-call hits 4 to 7; the window verdict, as a multiple of
// bitWindowOutside, 2 and 3.
const (
	_ = uint(1<<17 - maxMerged)
	_ = uint(3 - ConsentPEWC)
	_ = uint(15 - (bitConsentMissing|bitConsentInsufficient|bitConsentRevoked|bitConsentExpired)/bitConsentMissing)
	_ = uint(bitConsentExpired/bitConsentMissing - 8)
	_ = uint(8 - bitConsentExpired/bitConsentMissing)
	_ = uint(15 - (DNCInternal | DNCNational | DNCState | DNCLitigator))
	_ = uint(3 - (bitWindowOutside|bitWindowDay)/bitWindowOutside)
	_ = uint(bitWindowDay/bitWindowOutside - 2)
	_ = uint(2 - bitWindowDay/bitWindowOutside)
)

// ConsultsConsent is Engine.ConsultsConsent.
func (b *Batch) ConsultsConsent(p Purpose, m Method, l LineType, dnc DNCHits) bool {
	return b.ConsultsConsentKey(b.Key(p, m, l), dnc)
}

// Key identifies the kind of an attempt (its purpose, method and line) for
// the engine, so that a caller that asks several things of one attempt
// works the kind out once. The zero Key is not valid.
type Key struct{ k uint8 }

// Key returns the Key of attempts with purpose p, method m and line l.
func (b *Batch) Key(p Purpose, m Method, l LineType) Key {
	return Key{uint8(b.key(p, m, l)) + 1}
}

// PMKey is the part of a Key that the purpose and method make, for a
// caller that works it out once for many attempts with the same purpose
// and method, and completes it with each attempt's line (With).
type PMKey struct{ k uint8 }

// PMKeyOf returns the PMKey of attempts with purpose p and method m.
func PMKeyOf(p Purpose, m Method) PMKey { return PMKey{uint8(keyPM(p, m)) + 1} }

// With returns the Key of attempts of k's purpose and method with line l:
// k.With(l) is Batch.Key(p, m, l) for k = PMKeyOf(p, m).
func (k PMKey) With(l LineType) Key { return Key{k.k + uint8(keyLine(l))} }

// DNCListsKey is Engine.DNCLists for attempts of kind k.
func (b *Batch) DNCListsKey(k Key) DNCHits {
	return b.e.plans[k.k-1].dncLists
}

// ConsultsConsentKey is ConsultsConsent for attempts of kind k.
func (b *Batch) ConsultsConsentKey(k Key, dnc DNCHits) bool {
	pl := &b.e.plans[k.k-1]
	return pl.consentAlways || pl.consentDNC&dnc != 0
}

// key returns the plan key of a purpose, method and line, remembering the
// purpose's and method's part for attempts with the same strings.
func (b *Batch) key(purpose Purpose, method Method, line LineType) int {
	p, m := string(purpose), string(method)
	if !b.keyOK || unsafe.StringData(p) != b.pp || len(p) != b.plen || unsafe.StringData(m) != b.mp || len(m) != b.mlen {
		b.pm = keyPM(purpose, method)
		b.pp, b.plen = unsafe.StringData(p), len(p)
		b.mp, b.mlen = unsafe.StringData(m), len(m)
		b.keyOK = true
	}
	return b.pm + keyLine(line)
}

// instant makes b's zone times and epoch those of Unix second at.
func (b *Batch) instant(at int64) {
	if b.atOK && b.at == at {
		return
	}
	b.at, b.atOK, b.have, b.wvalid, b.zdone = at, true, 0, [windowMemo / 64]uint64{}, [windowClasses]uint64{}
	b.ep = b.e.epoch(at)
}

// epoch returns the engine's epoch of Unix second at.
func (b *Batch) epoch(at int64) int {
	b.instant(at)
	return b.ep
}

// local returns zone zi's local day number and second of the day at Unix
// second at, as zone.local does.
func (b *Batch) local(zi int, at int64) (day, sod int64) {
	b.instant(at)
	if b.have&(1<<zi) == 0 {
		b.day[zi], b.sod[zi] = b.e.geo.zones[zi].local(at)
		b.have |= 1 << zi
	}
	return b.day[zi], b.sod[zi]
}

// reasons returns s.Reasons(), remembering it.
func (b *Batch) reasons(s ReasonSet) []Reason {
	if s == 0 {
		return nil
	}
	i := (uint32(s) * 0x9e3779b1) >> 29
	if b.rsets[i] != s {
		b.rsets[i], b.rs[i] = s, s.Reasons()
	}
	return b.rs[i]
}

// windowClasses is how many window classes a Batch keeps zone verdicts
// for: the built-in packs make three. Decisions of a class beyond them are
// worked out zone by zone each time.
const windowClasses = 16

// window returns Engine.window's reasons for the window and days of x,
// whose window class is wid (below windowClasses), in zones at the
// Batch's instant, from each zone's verdict for the class, which it works
// out the first time it is asked for. The Batch must be at the instant
// already (epoch makes it so).
func (b *Batch) window(wid int32, x *effects, zones uint64) ReasonSet {
	if m := zones &^ b.zdone[wid]; m != 0 {
		b.zoneVerdicts(wid, x, m)
	}
	return bitWindowDay*ReasonSet(b2u(zones&b.zday[wid] != 0)) | bitWindowOutside*ReasonSet(b2u(zones&b.zout[wid] != 0))
}

// zoneVerdicts works out the verdicts of window class wid, whose window
// and days are x's, in zones, as Engine.window does zone by zone.
func (b *Batch) zoneVerdicts(wid int32, x *effects, zones uint64) {
	days := x.days()
	b.zday[wid] &^= zones // what an earlier instant left
	b.zout[wid] &^= zones
	for m := zones; m != 0; m &= m - 1 {
		zi := bits.TrailingZeros64(m)
		d, sod := b.local(zi, b.at)
		switch {
		case !days.allowed(d):
			b.zday[wid] |= 1 << zi
		case sod < x.winS || sod >= x.winE:
			b.zout[wid] |= 1 << zi
		}
	}
	b.zdone[wid] |= zones
}

// windowMemo is how many earliest lawful instants a Batch remembers: a
// pacing batch's attempts fall in a few dozen zone sets, times the few
// window classes of one campaign's rules.
const windowMemo = 128

// nextOpen returns Engine.nextOpen of the zones and x's window and days
// from the instant, for x of window class wid, remembering it: every
// attempt of a window class and zone set deferred by its window alone
// waits for the same instant.
func (b *Batch) nextOpen(wid int32, x *effects, zones uint64) (int64, bool) {
	i := ((zones ^ uint64(wid)<<56) * 0x9e3779b97f4a7c15) >> 57
	if b.wvalid[i/64]&(1<<(i%64)) == 0 || b.wid[i] != wid || b.wzones[i] != zones {
		b.wid[i], b.wzones[i], b.wopen[i] = wid, zones, 2
		if t, ok := b.e.nextOpen(zones, b.at, x.winS, x.winE, x.days()); ok {
			b.wuntil[i], b.wopen[i] = t, 1
		}
		b.wvalid[i/64] |= 1 << (i % 64)
	}
	return b.wuntil[i], b.wopen[i] == 1
}
