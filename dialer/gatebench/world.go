package gatebench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/dnc/dncbench"
	"github.com/heed-dialer/heed/internal/phone"
)

// base is midnight UTC of the day every generated decision is made on, a
// Wednesday in June; decisions fall between 12:00 and 02:00 UTC the next
// day, so that the windows of every US zone open and close among them.
var base = time.Date(2026, 6, 10, 0, 0, 0, 0, time.UTC)

// nationalAsOf is the date of the generated national registry copy.
var nationalAsOf = base.AddDate(0, 0, -12)

// internalNumbers is the size of the firm's internal do-not-call list.
const internalNumbers = 5000

// spec sizes a world.
type spec struct {
	dnc       int // national registry numbers
	consents  int // consent and revocation records
	decisions int // requests in each of the campaign and random sets
	seed      uint64
	// keep keeps the national and internal numbers after the index is
	// built, for loading into PostgreSQL.
	keep bool
}

// world is a generated data set, its in-memory indexes and the requests
// the gate is asked to decide.
type world struct {
	spec spec
	gate *gate
	// national and internal are the do-not-call numbers, sorted; national is
	// nil unless spec.keep.
	national, internal []uint64
	// contacts are the numbers with consent records: a campaign's contact
	// list is drawn from them.
	contacts []uint64
	// campaign holds requests for contacts, random requests for numbers
	// drawn uniformly from the exchanges of every US area code, and mixed
	// half of each, shuffled; all three in pacing batches (see pace).
	campaign, random, mixed []dialer.Request
	// scattered is mixed before pace: every request with its own
	// campaign and instant.
	scattered []dialer.Request
	// sales is mixed's requests paced into sales campaigns only
	// (telemarketing and solicitation), the calls whose rules read the
	// national registry and the state lists.
	sales                  []dialer.Request
	records                int // consent and revocation records generated
	dncBytes, consentBytes int64
	dncBuild, consentBuild time.Duration
}

// npas are the US area codes the data is drawn from.
var npas = dncbench.USAreaCodes()

// randomNumber returns a number drawn uniformly from the exchanges (NXX
// 200-999) of every US area code: the space dncbench draws from.
func randomNumber(rng *rand.Rand) uint64 {
	return uint64(npas[rng.IntN(len(npas))])*10_000_000 + uint64(200+rng.IntN(800))*10_000 + uint64(rng.IntN(10_000))
}

// buildWorld generates the data of sp and builds the indexes and requests.
func buildWorld(sp spec, engine *consent.Engine, logf func(string, ...any)) (*world, error) {
	w := &world{spec: sp}
	logf("generating %s national do-not-call numbers", group(int64(sp.dnc)))
	start := time.Now()
	d, err := dncbench.Generate(dncbench.Spec{Kind: dncbench.Random, Numbers: sp.dnc, Seed: sp.seed})
	if err != nil {
		return nil, fmt.Errorf("gatebench: national list: %w", err)
	}
	national := d.Numbers
	d = nil
	logf("building the national list")
	var nb dnc.Builder
	if err := nb.AddMany(national); err != nil {
		return nil, fmt.Errorf("gatebench: national list: %w", err)
	}
	natSet := nb.Build()

	logf("generating %s consent records", group(int64(sp.consents)))
	var cb consent.Builder
	gen := newConsentGen(sp, national)
	var r consent.Record
	for gen.next(&r) {
		cb.Add(r)
	}
	w.contacts = gen.contacts
	w.records = gen.emitted
	w.internal = internalList(sp, w.contacts)
	var ib dnc.Builder
	if err := ib.AddMany(w.internal); err != nil {
		return nil, fmt.Errorf("gatebench: internal list: %w", err)
	}
	intSet := ib.Build()
	x := dnc.NewIndex()
	if _, err := x.Replace(dnc.Meta{List: dnc.National, Source: "gatebench", AsOf: nationalAsOf}, natSet); err != nil {
		return nil, fmt.Errorf("gatebench: national list: %w", err)
	}
	if _, err := x.Replace(dnc.Meta{List: dnc.Internal, Source: "gatebench"}, intSet); err != nil {
		return nil, fmt.Errorf("gatebench: internal list: %w", err)
	}
	w.dncBytes = x.View().Bytes()
	w.dncBuild = time.Since(start)
	if sp.keep {
		w.national = national
	}
	national = nil
	runtime.GC()

	start = time.Now()
	logf("building the consent index")
	snap := cb.Build(int64(w.records))
	w.consentBytes = snap.Bytes()
	w.consentBuild = time.Since(start)
	w.gate = newGate(engine, x, consent.NewIndex(snap))

	logf("generating %s campaign and %s random requests", group(int64(sp.decisions)), group(int64(sp.decisions)))
	rng := rand.New(rand.NewPCG(sp.seed, 0x7265717565737473))
	nums := make([]uint64, 2*sp.decisions)
	for i := range sp.decisions {
		if len(w.contacts) > 0 {
			nums[i] = w.contacts[rng.IntN(len(w.contacts))]
		} else {
			nums[i] = randomNumber(rng)
		}
		nums[sp.decisions+i] = randomNumber(rng)
	}
	reqs := requests(nums, sp.seed)
	w.campaign, w.random = reqs[:sp.decisions:sp.decisions], reqs[sp.decisions:]
	half := sp.decisions / 2
	w.scattered = slices.Concat(w.campaign[:sp.decisions-half], w.random[:half])
	rng.Shuffle(len(w.scattered), func(i, j int) { w.scattered[i], w.scattered[j] = w.scattered[j], w.scattered[i] })
	w.mixed = slices.Clone(w.scattered)
	w.sales = slices.Clone(w.scattered)
	// Each derived set gets its own strings and histories, laid out in its
	// requests' order, as the pacing loop's batch has the targets and
	// histories it has just read: read through the other sets' buffers,
	// out of order and from twice the memory, they cost a mixed decision
	// some 25 ns that no pacing batch pays.
	for _, set := range [][]dialer.Request{w.scattered, w.mixed, w.sales} {
		layOut(set)
	}
	pace(w.campaign, sp.seed^1, pickCampaign)
	pace(w.random, sp.seed^2, pickCampaign)
	pace(w.mixed, sp.seed^3, pickCampaign)
	pace(w.sales, sp.seed^4, pickSalesCampaign)
	return w, nil
}

// layOut copies the phone strings and histories of reqs into buffers of
// their own, in the requests' order, as requests lays out a set it makes.
func layOut(reqs []dialer.Request) {
	buf := make([]byte, 0, 12*len(reqs))
	n := 0
	for i := range reqs {
		buf = append(buf, reqs[i].Phone...)
		n += len(reqs[i].History)
	}
	phones := string(buf)
	hist := make([]consent.Attempt, 0, n)
	off := 0
	for i := range reqs {
		r := &reqs[i]
		l := len(r.Phone)
		r.Phone = phone.Number(phones[off : off+l])
		off += l
		if len(r.History) > 0 {
			from := len(hist)
			hist = append(hist, r.History...)
			r.History = hist[from:len(hist):len(hist)]
		}
	}
}

// pace makes reqs what the pacing loop hands the gate: batches of
// BatchSize requests, each batch one campaign's (one purpose and method)
// decided at one instant, drawn as requests draws them. Numbers, lines,
// addresses and histories stay each request's own.
func pace(reqs []dialer.Request, seed uint64, pick func(*rand.Rand) (consent.Purpose, consent.Method)) {
	rng := rand.New(rand.NewPCG(seed, 0x706163696e67))
	for i := 0; i < len(reqs); i += BatchSize {
		p, m := pick(rng)
		at := base.Add(12*time.Hour + time.Duration(rng.IntN(14*60*60))*time.Second)
		for j := i; j < min(i+BatchSize, len(reqs)); j++ {
			reqs[j].Purpose, reqs[j].Method, reqs[j].At = p, m, at
		}
	}
}

// internalList returns the internal do-not-call list: a tenth of it (at
// most) contacts who opted out, the rest random numbers; sorted, distinct.
func internalList(sp spec, contacts []uint64) []uint64 {
	rng := rand.New(rand.NewPCG(sp.seed, 0x696e7465726e616c))
	out := make([]uint64, 0, internalNumbers)
	for range min(internalNumbers/10, len(contacts)/10) {
		out = append(out, contacts[rng.IntN(len(contacts))])
	}
	for len(out) < internalNumbers {
		out = append(out, randomNumber(rng))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// consentGen generates the consent records of a world, the same ones on
// every run with the same spec: people whose numbers are half on the
// national list and half drawn at random, each with one or two consents
// (mostly voice, PEC or PEWC, for informational or telemarketing calls, a
// few for debt collection, a tenth with an expiry, a few not yet given),
// and for one in ten a later revocation (most covering every purpose),
// followed for half of them by a re-consent (some in the very second of
// the revocation, which the revocation beats).
type consentGen struct {
	sp       spec
	rng      *rand.Rand
	national []uint64
	id       int64
	emitted  int
	queue    []consent.Record // the current person's records
	pos      int              // the next record of queue
	contacts []uint64
}

func newConsentGen(sp spec, national []uint64) *consentGen {
	return &consentGen{sp: sp, rng: rand.New(rand.NewPCG(sp.seed, 0x636f6e73656e7473)), national: national}
}

// next writes the next record to r and reports whether there was one.
func (g *consentGen) next(r *consent.Record) bool {
	if g.emitted >= g.sp.consents {
		return false
	}
	if g.pos == len(g.queue) {
		g.person()
	}
	*r = g.queue[g.pos]
	g.pos++
	g.emitted++
	return true
}

var scopes = [...]consent.Purpose{consent.PurposeInformational, consent.PurposeTelemarketing, consent.PurposeDebtCollection, consent.PurposeSolicitation}

// person queues the records of one person.
func (g *consentGen) person() {
	rng := g.rng
	var n uint64
	if len(g.national) > 0 && rng.IntN(2) == 0 {
		n = g.national[rng.IntN(len(g.national))]
	} else {
		n = randomNumber(rng)
	}
	g.contacts = append(g.contacts, n)
	g.queue, g.pos = g.queue[:0], 0
	first := *g.consentRecord(n, pickScope(rng))
	if rng.IntN(4) == 0 {
		g.consentRecord(n, pickScope(rng))
	}
	if rng.IntN(10) != 0 {
		return
	}
	// A revocation some time after the first consent, before the day.
	ob := first.At
	span := base.Add(-time.Hour).Sub(ob)
	if span <= time.Second {
		return
	}
	rev := ob.Add(time.Duration(1+rng.Int64N(int64(span/time.Second))) * time.Second)
	var sc consent.Purpose
	if rng.IntN(7) == 0 {
		sc = pickScope(rng)
	}
	g.id++
	g.queue = append(g.queue, consent.Record{Type: consent.RecordRevocation, ID: g.id, Number: n,
		Phone: numberPhone(n), Scope: sc, At: rev})
	if rng.IntN(2) != 0 {
		return
	}
	re := g.consentRecord(n, first.Scope)
	re.ExpiresAt = time.Time{}
	if rng.IntN(20) == 0 {
		re.At = rev
	} else {
		re.At = rev.Add(time.Duration(1+rng.Int64N(int64(base.Sub(rev)/time.Second))) * time.Second)
	}
}

// consentRecord queues a consent for n in scope sc and returns it.
func (g *consentGen) consentRecord(n uint64, sc consent.Purpose) *consent.Record {
	rng := g.rng
	g.id++
	r := consent.Record{Type: consent.RecordConsent, ID: g.id, Number: n, Phone: numberPhone(n), Kind: consent.ConsentPEC,
		Scope: sc, Channel: consent.ChannelVoice}
	if rng.IntN(5) < 3 {
		r.Kind = consent.ConsentPEWC
	}
	if rng.IntN(10) == 0 {
		r.Channel = consent.ChannelText
	}
	const fourYears = 4 * 365 * 24 * 60 * 60
	if rng.IntN(100) == 0 {
		r.At = base.Add(time.Duration(rng.Int64N(30*60*60)) * time.Second) // given later that day or the next
	} else {
		r.At = base.Add(-time.Duration(1+rng.Int64N(fourYears)) * time.Second)
	}
	if rng.IntN(10) == 0 {
		r.ExpiresAt = r.At.Add(time.Duration(180*24*60*60+rng.Int64N(3*365*24*60*60)) * time.Second)
	}
	g.queue = append(g.queue, r)
	return &g.queue[len(g.queue)-1]
}

// pickScope returns informational 45%, telemarketing 40%, debt collection 12%
// and solicitation 3% of the time.
func pickScope(rng *rand.Rand) consent.Purpose {
	switch x := rng.IntN(100); {
	case x < 45:
		return scopes[0]
	case x < 85:
		return scopes[1]
	case x < 97:
		return scopes[2]
	}
	return scopes[3]
}

// numberPhone returns the E.164 form of ten NANP digits.
func numberPhone(n uint64) phone.Number {
	var b [12]byte
	putPhone(b[:], n)
	return phone.Number(b[:])
}

func putPhone(b []byte, n uint64) {
	b[0], b[1] = '+', '1'
	for i := 11; i >= 2; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
}

// places are the contact addresses requests may carry.
var places = [...]struct{ state, zip string }{
	{"NY", "10001"}, {"CT", "06103"}, {"FL", "33101"}, {"TX", "77002"}, {"CA", "90012"},
	{"IL", "60601"}, {"OK", "73102"}, {"AZ", "85004"}, {"CO", "80202"}, {"WA", "98101"},
}

// requests returns one request per number. A request is a function of its
// number and the seed alone (purpose, method, line, address, time and
// history), so that the same number always has the same history, as the
// attempts table of the SQL side has it. The phone strings share one buffer
// and the histories one array.
func requests(nums []uint64, seed uint64) []dialer.Request {
	buf := make([]byte, 12*len(nums))
	for i, n := range nums {
		putPhone(buf[12*i:], n)
	}
	phones := string(buf)
	hist := make([]consent.Attempt, 0, 3*len(nums))
	out := make([]dialer.Request, len(nums))
	for i, n := range nums {
		rng := rand.New(rand.NewPCG(n, seed^0x70726f66696c65))
		r := &out[i]
		r.Phone = phone.Number(phones[12*i : 12*i+12])
		r.Purpose, r.Method = pickCampaign(rng)
		switch x := rng.IntN(100); {
		case x < 60:
			r.Line = consent.LineWireless
		case x < 85:
			r.Line = consent.LineLandline
		default:
			r.Line = consent.LineUnknown
		}
		if rng.IntN(10) < 3 {
			p := places[rng.IntN(len(places))]
			r.State, r.ZIP = p.state, p.zip
		}
		r.At = base.Add(12*time.Hour + time.Duration(rng.IntN(14*60*60))*time.Second)
		k := 0
		switch x := rng.IntN(10); {
		case x < 4:
		case x < 7:
			k = 1
		case x < 9:
			k = 2
		default:
			k = 3
		}
		from := len(hist)
		for range k {
			a := consent.Attempt{At: base.Add(-time.Duration(600+rng.IntN(12*24*60*60-600)) * time.Second),
				Purpose: r.Purpose, Method: r.Method, Conversation: rng.IntN(10) == 0}
			if rng.IntN(10) < 3 {
				a.Purpose, a.Method = pickCampaign(rng)
			}
			hist = append(hist, a)
		}
		if k > 0 {
			r.History = hist[from:len(hist):len(hist)]
		}
	}
	return out
}

// pickSalesCampaign draws a campaign as pickCampaign does, among its sales
// campaigns only (telemarketing and solicitation, in its proportions).
func pickSalesCampaign(rng *rand.Rand) (consent.Purpose, consent.Method) {
	for {
		if p, m := pickCampaign(rng); p == consent.PurposeTelemarketing || p == consent.PurposeSolicitation {
			return p, m
		}
	}
}

// pickCampaign returns a campaign's purpose and method: informational
// reminders (mostly prerecorded), telemarketing, debt collection (mostly
// live) and a few prerecorded solicitations.
func pickCampaign(rng *rand.Rand) (consent.Purpose, consent.Method) {
	pre := func(pct int) consent.Method {
		if rng.IntN(100) < pct {
			return consent.MethodPrerecorded
		}
		return consent.MethodLive
	}
	switch x := rng.IntN(100); {
	case x < 40:
		return consent.PurposeInformational, pre(85)
	case x < 75:
		return consent.PurposeTelemarketing, pre(50)
	case x < 95:
		return consent.PurposeDebtCollection, pre(20)
	}
	return consent.PurposeSolicitation, pre(70)
}
