package consent

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/heed-dialer/heed/internal/phone"
)

// Config chooses the law packs and the firm's settings for an Engine.
type Config struct {
	// Packs are the law packs; nil means DefaultPacks. The federal,
	// connecticut and regf packs are required; florida and oklahoma are
	// optional (their rules are floors while their pack is on).
	Packs []*Pack
	// Firm holds the firm's settings; the zero value is heed's defaults.
	Firm FirmPolicy
}

// Limits are the dialing and retention limits that the dialer and storage
// enforce, merged from every pack (the strictest value wins).
type Limits struct {
	DialingLimits
	// Retention is how long call, consent and opt-out records are kept.
	Retention time.Duration
	// HistoryWindow is how far back Input.History must reach: the longest
	// cap period or quiet period of any rule.
	HistoryWindow time.Duration
}

// Engine decides attempts against a fixed set of law packs and a firm policy.
// It is immutable after NewEngine and safe for concurrent use; Decide
// allocates nothing.
type Engine struct {
	geo      *geo
	version  string
	packs    []*Pack
	rules    []crule
	npaJur   [800]uint8
	stateJur [64]uint8
	allJur   uint8
	stateOf  [8]string // jurisdiction bit → state code
	limits   Limits
	// plans holds, for each (purpose, method, line) key, the merged effects
	// of the rules that always apply to it and the rules Decide must still
	// visit.
	plans [numKeys]plan
	// bounds are the instants (Unix seconds, sorted, distinct) at which a
	// conditional rule starts or stops being in force; between two of them
	// (an epoch) the same dated rules are in force.
	bounds []int64
	// jurs is one more than the largest jurisdiction mask (1 << the number
	// of state packs).
	jurs int
	// merged holds, for each key, jurisdiction mask and epoch, the key's
	// base effects with those of the conditional rules in force merged in
	// (mergedAt gives the index), so that Decide looks them up instead of
	// merging them call by call. It is nil when the table would be too
	// large, and Decide merges.
	merged []mergedPlan
}

// mergedPlan is a plan's effects under one jurisdiction mask and epoch.
type mergedPlan struct {
	x       effects
	applied uint64 // bits of the conditional rules that apply
	// dncChecks and histChecks are the plan's checks whose rules apply;
	// dnc is the union of their do-not-call lists.
	dncChecks, histChecks []check
	dnc                   DNCHits
	// wid numbers x's calling window and days (its window class): entries
	// with the same wid allow the same local times and days, so a Batch
	// remembers window verdicts by wid, not by entry.
	wid int32
	// dncAfter holds the lists of dncChecks that only a consent given
	// after the number's entry exempts from.
	dncAfter DNCHits
}

// windowClass is what a calling-window verdict depends on in effects:
// the window, the day rules and the holiday lists (by their arrays).
type windowClass struct {
	winS, winE int64
	noSunday   bool
	nhol       int
	hol        [maxHolidayRules]*uint64
	hlen       [maxHolidayRules]int
}

// classOf returns x's window class.
func (x *effects) classOf() windowClass {
	c := windowClass{winS: x.winS, winE: x.winE, noSunday: x.noSunday, nhol: x.nhol}
	for i, h := range x.hol[:x.nhol] {
		c.hol[i], c.hlen[i] = unsafe.SliceData(h), len(h)
	}
	return c
}

// maxMerged bounds the merged table.
const maxMerged = 1 << 13

// mergedAt returns the index in Engine.merged of key k, jurisdiction mask
// jur and epoch ep.
func (e *Engine) mergedAt(k int, jur uint8, ep int) int {
	return (k*e.jurs+int(jur))*(len(e.bounds)+1) + ep
}

// epoch returns the epoch of Unix second at: how many of e.bounds are at or
// before it.
func (e *Engine) epoch(at int64) int {
	ep := 0
	for ep < len(e.bounds) && at >= e.bounds[ep] {
		ep++
	}
	return ep
}

// buildMerged fills e.merged, or leaves it nil when it would hold more than
// maxMerged entries.
func (e *Engine) buildMerged() {
	seen := map[int64]bool{}
	for i := range e.rules {
		r := &e.rules[i]
		if !r.cond {
			continue
		}
		for _, t := range []int64{r.from, r.until} {
			if t != math.MinInt64 && t != math.MaxInt64 && !seen[t] {
				seen[t] = true
				e.bounds = append(e.bounds, t)
			}
		}
	}
	sort.Slice(e.bounds, func(i, j int) bool { return e.bounds[i] < e.bounds[j] })
	e.jurs = int(e.allJur) + 1
	n := numKeys * e.jurs * (len(e.bounds) + 1)
	if n > maxMerged {
		e.bounds, e.jurs = nil, 0
		return
	}
	e.merged = make([]mergedPlan, n)
	classes := map[windowClass]int32{}
	for k := range e.plans {
		p := &e.plans[k]
		for jur := range e.jurs {
			for ep := range len(e.bounds) + 1 {
				// Any instant of the epoch stands for all of it: the
				// epoch's first bound, or the earliest instant.
				at := int64(math.MinInt64)
				if ep > 0 {
					at = e.bounds[ep-1]
				}
				m := &e.merged[e.mergedAt(k, uint8(jur), ep)]
				m.x, m.applied = e.mergeCond(p, uint8(jur), at)
				wc := m.x.classOf()
				if _, ok := classes[wc]; !ok {
					classes[wc] = int32(len(classes))
				}
				m.wid = classes[wc]
				for _, c := range p.dncChecks {
					if !c.cond || m.applied&(1<<c.rule) != 0 {
						m.dncChecks = append(m.dncChecks, c)
						m.dnc |= c.dnc
						if c.dncAfterEntry {
							m.dncAfter |= c.dnc
						}
					}
				}
				for _, c := range p.histChecks {
					if !c.cond || m.applied&(1<<c.rule) != 0 {
						m.histChecks = append(m.histChecks, c)
					}
				}
			}
		}
	}
}

// mergeCond merges into a copy of p's base effects those of p's
// conditional rules in force at Unix second at under jurisdiction mask jur,
// and returns the copy with the bits of the rules it merged.
func (e *Engine) mergeCond(p *plan, jur uint8, at int64) (effects, uint64) {
	x := p.base
	var applied uint64
	for _, i := range p.cond {
		r := &e.rules[i]
		if (r.jur != 0 && r.jur&jur == 0) || at < r.from || at >= r.until {
			continue
		}
		x.merge(r)
		applied |= 1 << i
	}
	return x, applied
}

// plan is the precomputed part of a decision for one (purpose, method, line) key.
type plan struct {
	// base merges the simple effects of the key's unconditional rules
	// (rules in force at every instant and in every location).
	base effects
	// cond lists the key's conditional rules (limited to a state or to
	// dates), whose simple effects Decide merges when they apply.
	cond []uint8
	// dncChecks lists the key's rules with do-not-call effects, and
	// histChecks those with cap or quiet-period effects, which Decide
	// evaluates one by one, with the parameters it reads copied out of the
	// rule.
	dncChecks, histChecks []check
	// consentAlways is set when a rule of the key may ask about consent
	// whatever the number's do-not-call hits; otherwise only hits in
	// consentDNC (lists from which consent exempts) make Decide ask.
	consentAlways bool
	consentDNC    DNCHits
	// robo is set when the key's calls may be robocalls (its method is
	// prerecorded or unknown): a revocation in reach stops them (F13).
	robo bool
	// live is set when the key's calls may be live (its method is live
	// or unknown).
	live bool
	// dncLists are the do-not-call lists a rule of the key may consult,
	// in any state and at any date.
	dncLists DNCHits
	// reads says which per-number facts beyond the indexes a rule of the
	// key may read: logged overrides, Reassigned Numbers Database answers.
	reads FactNeeds
}

// FactNeeds says which per-number facts, looked up per batch outside the
// indexes, Decide may read for a kind of attempt.
type FactNeeds struct {
	// Overrides: a rule can be waived by a logged override (Input's
	// RegFDirectConsent or SolicitationException).
	Overrides bool
	// Reassigned: the Reassigned Numbers Database check is on (Facts'
	// ReassignedAt).
	Reassigned bool
}

// check is a rule with do-not-call, cap or quiet-period effects, as Decide
// reads it: the crule's fields it needs, together in a few bytes.
type check struct {
	capPeriod, quiet  int64 // nanoseconds
	capReason         ReasonSet
	capMax            int32
	rule              uint8 // index in Engine.rules
	cond              bool
	waivable          bool
	dnc               DNCHits
	dncExempt         ConsentKind
	dncAfterEntry     bool // only a consent given after the entry lifts it
	capNeeds          ConsentKind
	purposes, methods uint8
}

func newCheck(i int, r *crule) check {
	return check{capPeriod: r.capPeriod, quiet: r.quiet, capReason: r.capReason, capMax: int32(r.capMax), rule: uint8(i),
		cond: r.cond, waivable: r.waivable, dnc: r.dnc, dncExempt: r.dncExempt, dncAfterEntry: r.dncAfterEntry, capNeeds: r.capNeeds,
		purposes: r.purposes, methods: r.methods}
}

// effects are the rule effects that merge into one value: the window is the
// intersection, the consent the strongest, the snapshot age the smallest.
type effects struct {
	winS, winE int64
	need       ConsentKind
	noSunday   bool
	revokeAll  bool
	// revokes: a revocation in reach (every purpose's with revokeAll, the
	// call's purpose's without) stops a robocall, whether or not it needs
	// consent (F13).
	revokes   bool
	reassign  bool
	liveSolic bool
	nhol      int
	hol       [maxHolidayRules][]uint64
	snapMax   int64 // 0: none
	accWait   int64 // 0: none
}

func (x *effects) merge(r *crule) {
	if r.window {
		x.winS, x.winE = max(x.winS, r.winS), min(x.winE, r.winE)
	}
	x.need = max(x.need, r.consent)
	x.noSunday = x.noSunday || r.noSunday
	x.revokeAll = x.revokeAll || r.revokeAll
	x.revokes = x.revokes || r.revokes
	x.reassign = x.reassign || r.reassign
	x.liveSolic = x.liveSolic || r.liveSolic
	if r.hol != nil && x.nhol < maxHolidayRules {
		x.hol[x.nhol] = r.hol
		x.nhol++
	}
	if r.snapMax > 0 && (x.snapMax == 0 || r.snapMax < x.snapMax) {
		x.snapMax = r.snapMax
	}
	x.accWait = max(x.accWait, r.accWait)
}

// A key combines a purpose index (four purposes and unknown), a method index
// (two methods and unknown) and a line index (wireless, landline).
const numKeys = 5 * 3 * 2

func key(p Purpose, m Method, l LineType) int {
	return keyPM(p, m) + keyLine(l)
}

// keyLine is the line's part of a key: 1 for a landline, 0 for any other
// line type (unknown counts as wireless). It compares the type's bytes as
// one word, without a branch on which type it is: a batch's line types are
// a random mix.
func keyLine(l LineType) int {
	s := string(l)
	// The bytes read: the type's own when it has eight, else notLine's,
	// chosen by index rather than by branch.
	p := [2]unsafe.Pointer{unsafe.Pointer(&notLine), unsafe.Pointer(unsafe.StringData(s))}[b2u(len(s) == len(LineLandline))]
	return int(b2u(*(*uint64)(p) == landlineWord))
}

// landlineWord is LineLandline's eight bytes as a word in the machine's
// byte order (as keyLine loads a type's), and notLine eight bytes that no
// line type of that length has.
var (
	landlineWord = binary.NativeEndian.Uint64([]byte(LineLandline))
	notLine      uint64
)

// The word compare in keyLine reads exactly LineLandline's eight bytes.
const _ = uint(len(LineLandline)-8) + uint(8-len(LineLandline))

// keyPM is the purpose's and method's part of a key.
func keyPM(p Purpose, m Method) int {
	pi := 4
	switch p {
	case PurposeInformational:
		pi = 0
	case PurposeTelemarketing:
		pi = 1
	case PurposeDebtCollection:
		pi = 2
	case PurposeSolicitation:
		pi = 3
	}
	mi := 2
	switch m {
	case MethodPrerecorded:
		mi = 0
	case MethodLive:
		mi = 1
	}
	return pi*6 + mi*2
}

// keyBits returns the purpose, method and line masks of a key.
func keyBits(k int) (pm, mm, lm uint8) {
	pm = [...]uint8{pInformational, pTelemarketing, pDebtCollection, pSolicitation, pAll}[k/6]
	mm = [...]uint8{mPrerecorded, mLive, mAll}[k%6/2]
	lm = [...]uint8{lWireless, lLandline}[k%2]
	return pm, mm, lm
}

// Bits for purposes, methods and lines, so that rule applicability is a mask test.
const (
	pInformational uint8 = 1 << iota
	pTelemarketing
	pDebtCollection
	pSolicitation
	pAll = pInformational | pTelemarketing | pDebtCollection | pSolicitation
)

const (
	mPrerecorded uint8 = 1 << iota
	mLive
	mAll = mPrerecorded | mLive
)

const (
	lWireless uint8 = 1 << iota
	lLandline
	lAll = lWireless | lLandline
)

func purposeBits(p Purpose) uint8 {
	switch p {
	case PurposeInformational:
		return pInformational
	case PurposeTelemarketing:
		return pTelemarketing
	case PurposeDebtCollection:
		return pDebtCollection
	case PurposeSolicitation:
		return pSolicitation
	}
	return pAll
}

func methodBits(m Method) uint8 {
	switch m {
	case MethodPrerecorded:
		return mPrerecorded
	case MethodLive:
		return mLive
	}
	return mAll
}

func lineBits(l LineType) uint8 {
	if l == LineLandline {
		return lLandline
	}
	return lWireless
}

// maxRules bounds the rules with a decision effect, so that Decide can keep
// the applicable ones in a fixed-size array; maxHolidayRules bounds the rules
// with a holiday calendar.
const (
	maxRules        = 64
	maxHolidayRules = 4
)

// crule is a rule compiled for Decide: applicability as masks, times as Unix
// seconds or nanoseconds, and only the parameters that affect a decision.
type crule struct {
	code                     string
	from, until              int64 // Unix seconds; open ends are MinInt64 and MaxInt64
	purposes, methods, lines uint8
	jur                      uint8 // 0: everywhere; else jurisdiction bits

	window     bool
	winS, winE int64 // seconds of the local day
	noSunday   bool
	hol        []uint64 // bitset of forbidden local day numbers

	consent   ConsentKind
	capMax    int
	capPeriod int64 // nanoseconds
	capReason ReasonSet
	capNeeds  ConsentKind
	quiet     int64 // nanoseconds
	waivable  bool
	dnc       DNCHits
	dncExempt ConsentKind
	// dncAfterEntry is Rule.DNCExemptAfterEntry.
	dncAfterEntry bool
	snapMax       int64 // nanoseconds
	liveSolic     bool
	accWait       int64 // nanoseconds
	revokeAll     bool
	revokes       bool // Rule.Revocation is set
	reassign      bool
	cond          bool // limited to some jurisdictions or dates
}

// NewEngine validates the packs and the firm policy and precomputes
// everything Decide needs: the zone tables, the area-code and ZIP tables and
// the compiled rules. A firm policy that loosens a floor is refused with an
// error wrapping ErrLoosensFloor.
func NewEngine(cfg Config) (*Engine, error) {
	g, err := loadGeo()
	if err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	src := cfg.Packs
	if src == nil {
		src = DefaultPacks()
	}
	law := make([]*Pack, 0, len(src))
	seen := map[string]bool{}
	for _, p := range src {
		if p == nil {
			return nil, fmt.Errorf("new engine: nil pack: %w", ErrInvalidPack)
		}
		c := p.clone()
		if err := c.validate(); err != nil {
			return nil, fmt.Errorf("new engine: %w", err)
		}
		if seen[c.ID] || c.ID == PackFirm {
			return nil, fmt.Errorf("new engine: pack %q given twice or reserved: %w", c.ID, ErrInvalidPack)
		}
		seen[c.ID] = true
		law = append(law, c)
	}
	for _, id := range requiredPacks {
		if !seen[id] {
			return nil, fmt.Errorf("new engine: pack %q: %w", id, ErrRequiredPack)
		}
	}
	if err := cfg.Firm.Validate(law); err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	firm := cfg.Firm.pack(law)
	if err := firm.validate(); err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	e := &Engine{geo: g, packs: append(law, firm)}

	bit := uint8(1)
	for _, p := range e.packs {
		if p.State == "" {
			continue
		}
		st := g.state(p.State)
		if st == 0 || bit == 0 {
			return nil, fmt.Errorf("new engine: pack %s: state %q unknown or more than 8 state packs: %w", p.ID, p.State, ErrInvalidPack)
		}
		e.stateJur[st] |= bit
		e.stateOf[bits.TrailingZeros8(bit)] = p.State
		e.allJur |= bit
		for _, ac := range p.AreaCodes {
			n, _ := strconv.Atoi(ac)
			e.npaJur[n-200] |= bit
		}
		bit <<= 1
	}
	e.version = versionOf(e.packs)

	holidayRules := 0
	for _, p := range e.packs {
		for i := range p.Rules {
			r := &p.Rules[i]
			e.addLimits(r)
			c, ok, err := e.compile(p, r)
			if err != nil {
				return nil, fmt.Errorf("new engine: pack %s rule %s: %w", p.ID, r.Code, err)
			}
			if !ok {
				continue
			}
			if c.hol != nil {
				holidayRules++
			}
			e.rules = append(e.rules, c)
		}
	}
	if len(e.rules) > maxRules || holidayRules > maxHolidayRules {
		return nil, fmt.Errorf("new engine: %d rules (at most %d), %d with holidays (at most %d): %w",
			len(e.rules), maxRules, holidayRules, maxHolidayRules, ErrInvalidPack)
	}
	for k := range e.plans {
		pm, mm, lm := keyBits(k)
		p := &e.plans[k]
		p.base = effects{winE: daySeconds}
		p.robo, p.live = mm&mPrerecorded != 0, mm&mLive != 0
		for i := range e.rules {
			r := &e.rules[i]
			if r.purposes&pm == 0 || r.methods&mm == 0 || r.lines&lm == 0 {
				continue
			}
			if r.cond {
				p.cond = append(p.cond, uint8(i))
			} else {
				p.base.merge(r)
			}
			if r.dnc != 0 {
				p.dncChecks = append(p.dncChecks, newCheck(i, r))
				p.dncLists |= r.dnc
			}
			if r.capMax > 0 || r.quiet > 0 {
				p.histChecks = append(p.histChecks, newCheck(i, r))
			}
			if r.consent != ConsentNone || (r.capMax > 0 && r.capNeeds != ConsentNone) || r.revokes && p.robo {
				p.consentAlways = true
			}
			if r.dnc != 0 && r.dncExempt != ConsentNone {
				p.consentDNC |= r.dnc
			}
			p.reads.Overrides = p.reads.Overrides || r.waivable || r.liveSolic
			p.reads.Reassigned = p.reads.Reassigned || r.reassign
		}
	}
	e.buildMerged()
	return e, nil
}

func (e *Engine) addLimits(r *Rule) {
	l := &e.limits
	if r.Retention > l.Retention {
		l.Retention = r.Retention
	}
	if r.Cap != nil && r.Cap.Period > l.HistoryWindow {
		l.HistoryWindow = r.Cap.Period
	}
	if r.Quiet > l.HistoryWindow {
		l.HistoryWindow = r.Quiet
	}
	d := r.Dialing
	if d == nil {
		return
	}
	if d.MaxAbandonRate > 0 && (l.MaxAbandonRate == 0 || d.MaxAbandonRate < l.MaxAbandonRate) {
		l.MaxAbandonRate = d.MaxAbandonRate
	}
	if d.AbandonPeriod > l.AbandonPeriod {
		l.AbandonPeriod = d.AbandonPeriod
	}
	if d.AgentJoin > 0 && (l.AgentJoin == 0 || d.AgentJoin < l.AgentJoin) {
		l.AgentJoin = d.AgentJoin
	}
	if d.MinRing > l.MinRing {
		l.MinRing = d.MinRing
	}
	if d.MinRings > l.MinRings {
		l.MinRings = d.MinRings
	}
}

// compile turns a rule into a crule; ok is false for rules with no effect on
// a decision.
func (e *Engine) compile(p *Pack, r *Rule) (c crule, ok bool, err error) {
	if r.Kind == Duty || r.Kind == Info {
		return c, false, nil
	}
	c = crule{code: r.Code, from: math.MinInt64, until: math.MaxInt64, purposes: pAll, methods: mAll, lines: lAll}
	if !r.From.IsZero() {
		c.from = r.From.Unix()
	}
	if !r.Until.IsZero() {
		c.until = r.Until.Unix()
	}
	if r.Purposes != nil {
		c.purposes = 0
		for _, pu := range r.Purposes {
			c.purposes |= purposeBits(pu)
		}
	}
	if r.Methods != nil {
		c.methods = 0
		for _, m := range r.Methods {
			c.methods |= methodBits(m)
		}
	}
	if r.Lines != nil {
		c.lines = 0
		for _, l := range r.Lines {
			c.lines |= lineBits(l)
		}
	}
	if r.InState {
		state := p.State
		if r.state != "" {
			state = r.state
		}
		for i, s := range e.stateOf {
			if s != "" && s == state {
				c.jur |= 1 << i
			}
		}
		if c.jur == 0 {
			return c, false, fmt.Errorf("state %q has no pack: %w", state, ErrInvalidPack)
		}
	}
	if r.Window != nil {
		c.window, c.winS, c.winE = true, int64(r.Window.Start/time.Second), int64(r.Window.End/time.Second)
		ok = true
	}
	if r.Days != nil {
		c.noSunday = r.Days.NoSunday
		ok = ok || c.noSunday
		for _, h := range r.Days.Holidays {
			d, err := time.Parse(time.DateOnly, h)
			if err != nil {
				return c, false, fmt.Errorf("holiday %q: %v: %w", h, err, ErrInvalidPack)
			}
			n := d.Unix() / daySeconds
			if n < 0 || n >= tableHi/daySeconds {
				continue
			}
			if c.hol == nil {
				c.hol = make([]uint64, tableHi/daySeconds/64+1)
			}
			c.hol[n/64] |= 1 << (n % 64)
			ok = true
		}
	}
	if r.Consent != ConsentNone {
		c.consent, ok = r.Consent, true
	}
	if r.Cap != nil {
		c.capMax, c.capPeriod = r.Cap.Max, int64(r.Cap.Period)
		c.capReason, c.capNeeds = ReasonBit(r.Cap.Reason), r.Cap.Needs
		ok = true
	}
	if r.Quiet > 0 {
		c.quiet, ok = int64(r.Quiet), true
	}
	c.waivable = r.Waivable
	if r.DNC != 0 {
		c.dnc, c.dncExempt, c.dncAfterEntry, ok = r.DNC, r.DNCExempt, r.DNCExemptAfterEntry, true
	}
	if r.SnapshotMaxAge > 0 {
		c.snapMax, ok = int64(r.SnapshotMaxAge), true
	}
	if r.LiveSolicitation {
		c.liveSolic, ok = true, true
	}
	if r.AccidentWait > 0 {
		c.accWait, ok = int64(r.AccidentWait), true
	}
	if r.Revocation == RevokeAll {
		c.revokeAll, ok = true, true
	}
	if r.Revocation != 0 {
		c.revokes, ok = true, true
	}
	if r.Reassigned {
		c.reassign, ok = true, true
	}
	c.cond = c.jur != 0 || c.from != math.MinInt64 || c.until != math.MaxInt64
	return c, ok, nil
}

// versionOf is the pack version of an engine of packs: their tags, in
// order, joined by "+".
func versionOf(packs []*Pack) string {
	tags := make([]string, len(packs))
	for i, p := range packs {
		tags[i] = p.Tag()
	}
	return strings.Join(tags, "+")
}

// PackVersion returns the pack version (Engine.Version) that an engine
// built from the law packs law (nil for DefaultPacks) and the firm policy
// p names in its decisions, without building the engine. The calls report
// finds by it the policy a recorded decision was made under.
func PackVersion(law []*Pack, p FirmPolicy) string {
	if law == nil {
		law = DefaultPacks()
	}
	return versionOf(append(law[:len(law):len(law)], p.pack(law)))
}

// Version returns the pack-set version every decision names: each pack's
// "id@version", joined with "+".
func (e *Engine) Version() string { return e.version }

// Packs returns copies of the engine's packs, the firm pack last.
func (e *Engine) Packs() []*Pack {
	out := make([]*Pack, len(e.packs))
	for i, p := range e.packs {
		out[i] = p.clone()
	}
	return out
}

// Limits returns the dialing and retention limits of the engine's packs.
func (e *Engine) Limits() Limits { return e.limits }

// parseNANP reads the area code and exchange of an E.164 +1 number, or
// returns the reason it cannot.
func parseNANP(n phone.Number) (npa, nxx int, bad ReasonSet) {
	s := string(n)
	if len(s) == 12 && s[0] == '+' && s[1] == '1' {
		// The common case, "+1" and ten digits, read eight digits at a
		// time: a byte is a digit when its high nibble is 3 and adding 6
		// to it does not carry out of its low nibble.
		w := uint64(s[2]) | uint64(s[3])<<8 | uint64(s[4])<<16 | uint64(s[5])<<24 |
			uint64(s[6])<<32 | uint64(s[7])<<40 | uint64(s[8])<<48 | uint64(s[9])<<56
		const nib, threes, sixes = 0xf0f0f0f0f0f0f0f0, 0x3030303030303030, 0x0606060606060606
		if w&nib == threes && (w+sixes)&nib == threes && s[10]-'0' <= 9 && s[11]-'0' <= 9 {
			npa = int(s[2]-'0')*100 + int(s[3]-'0')*10 + int(s[4]-'0')
			nxx = int(s[5]-'0')*100 + int(s[6]-'0')*10 + int(s[7]-'0')
			if npa < 200 || nxx < 200 || npa%100 == 11 {
				return 0, 0, bitNumberInvalid
			}
			return npa, nxx, 0
		}
	}
	if len(s) < 2 || s[0] != '+' {
		return 0, 0, bitNumberInvalid
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, 0, bitNumberInvalid
		}
	}
	if s[1] != '1' {
		if s[1] != '0' && len(s) >= 8 && len(s) <= 16 {
			return 0, 0, bitNumberUnsupported
		}
		return 0, 0, bitNumberInvalid
	}
	if len(s) != 12 {
		return 0, 0, bitNumberInvalid
	}
	npa = int(s[2]-'0')*100 + int(s[3]-'0')*10 + int(s[4]-'0')
	nxx = int(s[5]-'0')*100 + int(s[6]-'0')*10 + int(s[7]-'0')
	if npa < 200 || nxx < 200 || npa%100 == 11 {
		return 0, 0, bitNumberInvalid
	}
	return npa, nxx, 0
}

// locate returns every plausible zone of the called party and the
// jurisdictions (state packs) whose rules apply. When nothing places the
// party, it returns every zone of the fifty states and every jurisdiction.
func (e *Engine) locate(npa, nxx int, state, zip string) (zones uint64, jur uint8, known bool) {
	g := e.geo
	zones = g.areaZones(npa, nxx)
	jur = e.npaJur[npa-200]
	var zst uint8
	if zip != "" {
		var zm uint64
		if zst, zm = g.zip(zip); zm != 0 {
			zones |= zm
			jur |= e.stateJur[zst]
		}
	}
	if state != "" {
		if st := g.state(state); st != 0 {
			if st != zst {
				zones |= g.stateMask[st-1]
			}
			jur |= e.stateJur[st]
		}
	}
	if zones == 0 {
		return g.unknownMask, e.allJur, false
	}
	return zones, jur, true
}

// Location is where the engine places a called party.
type Location struct {
	// Zones are the IANA time zones whose local time every window must allow.
	Zones []string
	// States are the states of the engine's state packs whose rules apply,
	// from an area-code presumption or an address.
	States []string
	// Known is false when nothing placed the party and the engine assumed
	// every zone of the fifty states and every state pack.
	Known bool
}

// Locate returns where the engine places the called party of a number with
// the given contact state and ZIP. It is for explanations (heed check); Decide
// does the same work without allocating. It returns an error wrapping
// phone.ErrInvalid or phone.ErrNotNANP for numbers the engine cannot place.
func (e *Engine) Locate(number phone.Number, state, zip string) (Location, error) {
	npa, nxx, bad := parseNANP(number)
	switch {
	case bad&bitNumberUnsupported != 0:
		return Location{}, fmt.Errorf("locate %q: %w", number, phone.ErrNotNANP)
	case bad != 0:
		return Location{}, fmt.Errorf("locate %q: %w", number, phone.ErrInvalid)
	}
	zones, jur, known := e.locate(npa, nxx, state, zip)
	loc := Location{Zones: e.geo.names(zones), Known: known}
	for i, s := range e.stateOf {
		if s != "" && jur&(1<<i) != 0 {
			loc.States = append(loc.States, s)
		}
	}
	sort.Strings(loc.States)
	return loc, nil
}

// DNCLists returns the do-not-call lists whose hits Decide can read for an
// attempt with purpose p, method m and line l, in any state and at any
// date. A hit on any other list changes no decision, so a gate may leave
// those lists' lookups out: the national registry, for instance, matters
// only to sales calls under the built-in packs. It allocates nothing.
func (e *Engine) DNCLists(p Purpose, m Method, l LineType) DNCHits {
	return e.plans[key(p, m, l)].dncLists
}

// ConsultsConsent reports whether Decide can read Facts.Consent for an
// attempt with purpose p, method m and line l to a number on the
// do-not-call lists dnc. When it reports false, Decide makes the same
// decision whatever Facts.Consent holds, so a gate may leave the consent
// lookup out. It allocates nothing.
func (e *Engine) ConsultsConsent(p Purpose, m Method, l LineType, dnc DNCHits) bool {
	pl := &e.plans[key(p, m, l)]
	return pl.consentAlways || pl.consentDNC&dnc != 0
}

// Reads reports which per-number facts beyond the indexes Decide may read
// for an attempt with purpose p, method m and line l. When a field is
// false, Decide decides the same whatever that fact holds, so a caller may
// leave its lookup out. It allocates nothing.
func (e *Engine) Reads(p Purpose, m Method, l LineType) FactNeeds {
	return e.plans[key(p, m, l)].reads
}

// Check decides one attempt and returns the decision. It is Decide for
// callers that do not count allocations, such as heed check.
func (e *Engine) Check(in Input, f Facts) Decision {
	var d Decision
	e.Decide(&in, &f, &d)
	return d
}

// Decide decides one attempt and writes the decision to out, overwriting it.
// It allocates nothing: out.Reasons is an interned slice shared with other
// decisions, which callers must not modify.
//
// The order of precedence: an invalid or unsupported number, or a stale
// index, denies at once with that reason alone. Otherwise every rule that
// applies is checked and every reason found is reported; any deny reason
// makes the verdict deny; otherwise defer reasons (windows, caps, the E1
// accident wait) make it defer, with Until the earliest instant at which the
// caps and waits have cleared and every plausible location's window allows
// the call; otherwise allow. Do-not-call hits and revocations beat consent.
func (e *Engine) Decide(in *Input, f *Facts, out *Decision) {
	var sc scratch
	e.decide(in, -1, noNANP, f, &f.Consent, out, nil, &sc)
}

// scratch is decide's working space, kept out of its frame so that a
// Batch's decisions do not clear it each time.
type scratch struct {
	// merged holds the effects merged rule by rule, without a merged table.
	merged effects
	// hist holds the compact copy of a history.
	hist [compactHistoryLen]compactAttempt
}

// noNANP tells decide to read the number from the Input.
const noNANP = math.MaxUint64

// decide is Decide; k, unless it is negative, is the key of in's purpose,
// method and line; n, unless it is noNANP, is in.Number's ten digits, as
// phone.Number.NANP returns them; cf stands for f.Consent; b, when not
// nil, holds what decisions made at the same instant share (Batch.Decide);
// sc is the working space. It returns what Batch.DecideIndexed remembers of
// the decision: the reasons the rules found before the until was looked up
// (a window that never opens adds window.outside and denies after that),
// whether one of them denies, and whether the decision relies on the
// consent.
func (e *Engine) decide(in *Input, k int, n uint64, f *Facts, cf *ConsentFacts, out *Decision, b *Batch, sc *scratch) (rules ReasonSet, denied, used bool) {
	*out = Decision{Pack: e.version}
	var (
		npa, nxx int
		bad      ReasonSet
	)
	if n == noNANP {
		npa, nxx, bad = parseNANP(in.Number)
	} else {
		prefix, np := splitNumber(n) // n has ten digits, below nanpLimit
		npa, nxx = int(np), int(prefix-np*1000)
		if npa < 200 || nxx < 200 || npa%100 == 11 {
			npa, nxx, bad = 0, 0, bitNumberInvalid
		}
	}
	if bad == 0 && !f.Fresh {
		bad = bitIndexStale
	}
	if bad != 0 {
		out.Verdict, out.Reasons = Deny, bad.Reasons()
		return bad, true, false
	}
	at, atN := in.At.Unix(), in.At.UnixNano()
	switch {
	case k >= 0:
	case b != nil:
		k = b.key(in.Purpose, in.Method, in.Line)
	default:
		k = key(in.Purpose, in.Method, in.Line)
	}
	p := &e.plans[k]
	zones, jur, _ := e.locate(npa, nxx, in.State, in.ZIP)

	// The effects of the rules that apply: the key's base effects with
	// those of the conditional rules in force merged in, from the merged
	// table or, without one, merged here into a copy made when the first
	// conditional rule applies.
	var (
		x                     *effects
		applied               uint64 // bits of the conditional rules that apply
		dncChecks, histChecks []check
		dncAny                DNCHits
		mi                    = -1  // the index of x's entry in e.merged, if it is there
		wid                   int32 // the window class of x, when mi >= 0
	)
	if e.merged != nil {
		var ep int
		if b != nil {
			ep = b.epoch(at)
		} else {
			ep = e.epoch(at)
		}
		mi = e.mergedAt(k, jur, ep)
		m := &e.merged[mi]
		x, applied, dncChecks, histChecks, dncAny, wid = &m.x, m.applied, m.dncChecks, m.histChecks, m.dnc, m.wid
	} else {
		x, dncChecks, histChecks, dncAny = &p.base, p.dncChecks, p.histChecks, ^DNCHits(0)
		if len(p.cond) > 0 {
			sc.merged, applied = e.mergeCond(p, jur, at)
			x = &sc.merged
		}
	}

	var (
		deny, wait ReasonSet
		clear      int64 // Unix ns at which caps and waits clear
	)
	if x.snapMax > 0 && (f.NationalAsOf.IsZero() || atN-f.NationalAsOf.UnixNano() > x.snapMax) {
		deny |= bitDNCNationalStale
	}
	if x.liveSolic && p.live && !in.SolicitationException {
		deny |= bitEthicsSolicitation
	}
	if x.accWait > 0 {
		switch {
		case !in.AccidentAt.IsZero():
			if end := in.AccidentAt.UnixNano() + x.accWait; atN < end {
				wait |= bitEthicsSolicitation
				clear = max(clear, end)
			}
		case in.InjuryMatter:
			// No accident date: the wait cannot be shown to be over.
			deny |= bitEthicsSolicitation
		}
	}

	// The consent that may be relied on, whether or not a rule asks about
	// it (evaluating it is cheaper than deciding whether to). Most numbers
	// have neither a consent nor a revocation: for them it is none, and
	// missing, without a call.
	kind, problem := ConsentNone, bitConsentMissing
	if !consentEmpty(cf) {
		kind, problem = evalConsent(cf, in.At, x.revokeAll, x.reassign, f.ReassignedAt)
	}
	// Do-not-call hits, unless the rule's list lets consent exempt them.
	if f.DNC&dncAny != 0 {
		for ci := range dncChecks {
			r := &dncChecks[ci]
			if r.cond && applied&(1<<r.rule) == 0 {
				continue
			}
			if hits := f.DNC & r.dnc; hits != 0 {
				if r.dncExempt != ConsentNone && kind >= r.dncExempt &&
					(!r.dncAfterEntry || liftsInternal(cf, f.InternalListedAt)) {
					used = true
				} else {
					deny |= hits.reasons()
				}
			}
		}
	}
	// Caps and quiet periods count the calls in the history: without
	// calls, none applies.
	if len(in.History) > 0 {
		hd, hw, hc, hu := history(in, histChecks, applied, atN, kind, sc)
		deny, wait, clear, used = deny|hd, wait|hw, max(clear, hc), used || hu
	}
	if x.revokes && p.robo && kind == ConsentNone && problem == bitConsentRevoked {
		// F13: a revocation in reach, with no consent given since, stops
		// a robocall that needs no consent too (an informational one to a
		// landline, say).
		deny |= bitConsentRevoked
	}
	if x.need != ConsentNone {
		switch {
		case kind >= x.need:
			used = true
		case kind == ConsentNone:
			deny |= problem
		default:
			deny |= bitConsentInsufficient
		}
	}

	winS, winE := x.winS, x.winE
	memo := false // the Batch remembers the window's verdicts for wid
	switch {
	case winS >= winE:
		deny |= bitWindowOutside
	case mi >= 0 && b != nil && wid < windowClasses:
		// x is the merged table's entry mi, whose window class wid names
		// the window and days.
		wait |= b.window(wid, x, zones)
		memo = true
	default:
		wait |= e.window(b, zones, at, x)
	}

	rules, denied = deny|wait, deny != 0
	switch {
	case deny != 0:
		out.Verdict = Deny
	case wait != 0:
		start := at
		if c := ceilSeconds(clear); c > start {
			start = c
		}
		var (
			until int64
			ok    bool
		)
		if start == at && memo {
			until, ok = b.nextOpen(wid, x, zones)
		} else {
			until, ok = e.nextOpen(zones, start, winS, winE, x.days())
		}
		if !ok {
			deny |= bitWindowOutside
			out.Verdict = Deny
			break
		}
		out.Verdict, out.Until = Defer, time.Unix(until, 0).UTC()
	default:
		out.Verdict = Allow
	}
	if used && out.Verdict != Deny {
		out.ConsentID = cf.ID
	}
	if b != nil {
		out.Reasons = b.reasons(deny | wait)
	} else {
		out.Reasons = (deny | wait).Reasons()
	}
	return rules, denied, used
}

// history returns what the cap and quiet-period checks (those of the
// conditional rules in applied) find in in.History at Unix ns atN: the
// reasons they deny and defer for, the Unix ns at which their waits clear,
// and whether a cap is passed on the strength of a consent of kind.
func history(in *Input, histChecks []check, applied uint64, atN int64, kind ConsentKind, sc *scratch) (deny, wait ReasonSet, clear int64, used bool) {
	// The history is read once, into sc.hist, when a rule counts calls; a
	// history too long for it is read by each rule.
	var (
		hist      []compactAttempt
		histReady bool
	)
	for ci := range histChecks {
		r := &histChecks[ci]
		if r.cond && applied&(1<<r.rule) == 0 {
			continue
		}
		if in.RegFDirectConsent && r.waivable {
			continue
		}
		// A cap of more calls than the history holds is not reached.
		counts := r.capMax > 0 && len(in.History) >= int(r.capMax)
		if !counts && r.quiet == 0 {
			continue
		}
		if !histReady {
			hist, histReady = compactHistory(in.History, &sc.hist), true
		}
		if counts {
			var over bool
			var clr int64
			if hist != nil {
				over, clr = countCapCompact(hist, atN, r.capPeriod, r.purposes, r.methods, int(r.capMax))
			} else {
				over, clr = countCap(in.History, atN, r.capPeriod, r.purposes, r.methods, int(r.capMax))
			}
			if over {
				switch {
				case r.capNeeds == ConsentNone:
					wait |= r.capReason
					clear = max(clear, clr)
				case kind >= r.capNeeds:
					used = true
				default:
					deny |= r.capReason
				}
			}
		}
		if r.quiet > 0 {
			var (
				last int64
				open bool
			)
			if hist != nil {
				last, open = lastConversationCompact(hist, atN-r.quiet, atN-int64(OpenCallLimit), r.purposes, r.methods)
			} else {
				last, open = lastConversation(in.History, atN-r.quiet, atN-int64(OpenCallLimit), r.purposes, r.methods)
			}
			if last != math.MinInt64 {
				wait |= bitCapAfterConversation
				clear = max(clear, last+r.quiet)
			}
			if open {
				// The person may be on the line: decided again once
				// that call has had time to end.
				wait |= bitCapAfterConversation
				clear = max(clear, atN+int64(OpenRecheck))
			}
		}
	}
	return deny, wait, clear, used
}

// window returns the reasons x's calling window and days stop a call at
// Unix second at in any of the zones: window.day, window.outside or none.
// b, when not nil, holds the zones' local times.
func (e *Engine) window(b *Batch, zones uint64, at int64, x *effects) ReasonSet {
	var wait ReasonSet
	winS, winE, days := x.winS, x.winE, x.days()
	for m := zones; m != 0; m &= m - 1 {
		zi := bits.TrailingZeros64(m)
		var d, sod int64
		if b != nil {
			d, sod = b.local(zi, at)
		} else {
			d, sod = e.geo.zones[zi].local(at)
		}
		switch {
		case !days.allowed(d):
			wait |= bitWindowDay
		case sod < winS || sod >= winE:
			wait |= bitWindowOutside
		}
	}
	return wait
}

// evalConsent returns the kind of consent that may be relied on at `at`, or
// ConsentNone and the reason there is none. A revocation at or after the
// consent beats it (F12), including one recorded after `at` (a clock a little
// behind another node's must not resurrect a consent); consent given after
// `at` does not count yet.
func evalConsent(c *ConsentFacts, at time.Time, revokeAll, reassigned bool, reassignedAt time.Time) (ConsentKind, ReasonSet) {
	if c.Kind == ConsentNone || c.Kind > ConsentPEWC || c.ObtainedAt.IsZero() || c.ObtainedAt.After(at) {
		// No consent to rely on: revoked when a revocation is in reach
		// (the test of both times first, as most numbers have neither).
		if c.PurposeRevokedAt.IsZero() && c.RevokedAt.IsZero() || revocation(c, revokeAll).IsZero() {
			return ConsentNone, bitConsentMissing
		}
		return ConsentNone, bitConsentRevoked
	}
	rev := revocation(c, revokeAll)
	switch {
	case !rev.IsZero() && !rev.Before(c.ObtainedAt):
		return ConsentNone, bitConsentRevoked
	case reassigned && !reassignedAt.IsZero() && !reassignedAt.Before(c.ObtainedAt):
		return ConsentNone, bitConsentMissing
	case !c.ExpiresAt.IsZero() && !at.Before(c.ExpiresAt):
		return ConsentNone, bitConsentExpired
	}
	return c.Kind, 0
}

// consentEmpty reports whether c holds neither a consent nor a
// revocation, whatever its other fields: evalConsent then finds no
// consent, and consent.missing.
func consentEmpty(c *ConsentFacts) bool {
	return c.Kind == ConsentNone && c.PurposeRevokedAt.IsZero() && c.RevokedAt.IsZero()
}

// revocation returns the latest revocation that beats c's consent: the
// latest that covers its purpose, or with revokeAll the latest of any.
func revocation(c *ConsentFacts, revokeAll bool) time.Time {
	if revokeAll && c.RevokedAt.After(c.PurposeRevokedAt) {
		return c.RevokedAt
	}
	return c.PurposeRevokedAt
}

// countCap counts the attempts of the rule's purposes and methods within the
// rolling period that ends at atN (an attempt exactly one period old has left
// it). It reports whether the cap of max calls is reached and, if so, the
// instant at which enough counted calls will have left the period.
func countCap(h []Attempt, atN, period int64, pm, mm uint8, max int) (bool, int64) {
	c := capCount{lo: atN - period, max: max}
	for i := range h {
		a := &h[i]
		if purposeBits(a.Purpose)&pm != 0 && methodBits(a.Method)&mm != 0 {
			c.add(a.At.UnixNano())
		}
	}
	return c.reached(period)
}

// capCount counts calls within a rolling period for countCap and
// countCapCompact, keeping the newest max of them.
type capCount struct {
	newest [maxCap]int64 // counted call times, newest first
	n, max int
	lo     int64 // calls at or before lo have left the period
}

// add counts a call at Unix nanosecond t, if it is within the period.
func (c *capCount) add(t int64) {
	if t <= c.lo {
		return
	}
	if c.n < c.max {
		c.n++
	} else if t <= c.newest[c.max-1] {
		return
	}
	j := c.n - 1
	for j > 0 && c.newest[j-1] < t {
		c.newest[j] = c.newest[j-1]
		j--
	}
	c.newest[j] = t
}

// reached reports whether max calls were counted and, if so, when the
// max-th newest leaves a period of the given length.
func (c *capCount) reached(period int64) (bool, int64) {
	if c.n < c.max {
		return false, 0
	}
	return true, c.newest[c.max-1] + period
}

// compactAttempt is an Attempt as the cap rules read it.
type compactAttempt struct {
	t      int64 // Unix nanoseconds
	end    int64 // Unix nanoseconds: the later of Ended and t, or t+OpenCallLimit when Ended is not known
	pm, mm uint8 // purpose and method bits
	conv   bool
	open   bool
	answer bool
}

// compactHistoryLen is the longest history Decide reads into a compact
// copy on the stack.
const compactHistoryLen = 8

// compactHistory copies h into buf and returns the copy, or nil when h is
// empty or longer than buf.
func compactHistory(h []Attempt, buf *[compactHistoryLen]compactAttempt) []compactAttempt {
	if len(h) == 0 || len(h) > len(buf) {
		return nil
	}
	for i := range h {
		a := &h[i]
		t := a.At.UnixNano()
		end := t + int64(OpenCallLimit) // as Attempt.spoke: the latest an unended call can end
		if !a.Ended.IsZero() {
			end = max(t, a.Ended.UnixNano())
		}
		buf[i] = compactAttempt{t: t, end: end, pm: purposeBits(a.Purpose), mm: methodBits(a.Method),
			conv: a.Conversation, open: a.Open, answer: a.Answered}
	}
	return buf[:len(h)]
}

// countCapCompact is countCap over a compact history.
func countCapCompact(h []compactAttempt, atN, period int64, pm, mm uint8, max int) (bool, int64) {
	c := capCount{lo: atN - period, max: max}
	for i := range h {
		if a := &h[i]; a.pm&pm != 0 && a.mm&mm != 0 {
			c.add(a.t)
		}
	}
	return c.reached(period)
}

// lastConversationCompact is lastConversation over a compact history.
func lastConversationCompact(h []compactAttempt, lo, openLo int64, pm, mm uint8) (last int64, open bool) {
	last = math.MinInt64
	for i := range h {
		a := &h[i]
		if a.pm&pm == 0 || a.mm&mm == 0 {
			continue
		}
		// As Attempt.spoke.
		switch {
		case a.conv:
			if a.end > lo && a.end > last {
				last = a.end
			}
		case a.open && a.answer && a.t <= openLo:
			if t := a.t + int64(OpenCallLimit); t > lo && t > last {
				last = t
			}
		}
		open = open || a.open && a.t > openLo
	}
	return last, open
}

// lastConversation returns the latest end of a conversation (Attempt.spoke)
// after lo among the attempts of the rule's purposes and methods, or
// MinInt64, and whether one of those attempts placed after openLo is open
// (it may still become a conversation).
func lastConversation(h []Attempt, lo, openLo int64, pm, mm uint8) (last int64, open bool) {
	last = math.MinInt64
	for i := range h {
		a := &h[i]
		if purposeBits(a.Purpose)&pm == 0 || methodBits(a.Method)&mm == 0 {
			continue
		}
		t := a.At.UnixNano()
		if c := a.spoke(t, openLo); c > lo && c > last {
			last = c
		}
		open = open || a.Open && t > openLo
	}
	return last, open
}

func ceilSeconds(ns int64) int64 {
	s := floorDiv(ns, int64(time.Second))
	if s*int64(time.Second) < ns {
		s++
	}
	return s
}

// days returns the calendar part of x.
func (x *effects) days() dayRule { return dayRule{noSunday: x.noSunday, hol: x.hol[:x.nhol]} }

// dayRule is the calendar part of the windows that apply to a call.
type dayRule struct {
	noSunday bool
	hol      [][]uint64
}

func (d dayRule) allowed(day int64) bool {
	if d.noSunday && weekday(day) == time.Sunday {
		return false
	}
	for _, h := range d.hol {
		if day >= 0 && day/64 < int64(len(h)) && h[day/64]&(1<<(day%64)) != 0 {
			return false
		}
	}
	return true
}

// maxOpenSearch bounds the search for a lawful instant: windows and calendars
// that never open together within it are treated as never open.
const maxOpenSearch = 64

// nextOpen returns the earliest Unix second at or after start at which every
// zone's window [winS, winE) is open on an allowed day, or false if there is
// none within maxOpenSearch steps.
func (e *Engine) nextOpen(zones uint64, start, winS, winE int64, days dayRule) (int64, bool) {
	t := start
	for range maxOpenSearch {
		next, all := t, true
		for m := zones; m != 0; m &= m - 1 {
			z := &e.geo.zones[bits.TrailingZeros64(m)]
			d, sod := z.local(t)
			if days.allowed(d) && sod >= winS && sod < winE {
				continue
			}
			all = false
			nd := d
			if !days.allowed(d) || sod >= winS {
				nd++
			}
			for i := 0; i < 370 && !days.allowed(nd); i++ {
				nd++
			}
			if u := z.instant(nd, winS); u > next {
				next = u
			}
		}
		if all {
			return t, true
		}
		if next <= t {
			next = t + 1
		}
		t = next
	}
	return 0, false
}
