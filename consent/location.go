package consent

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// ErrZoneData reports that the time-zone data the engine needs could not be
// loaded (for example, a system without the IANA database and without
// time/tzdata linked in).
var ErrZoneData = errors.New("time-zone data unavailable")

// The span of the precomputed offset tables. Instants outside it fall back to
// time.Location lookups, which are slower but still allocation-free.
const (
	tableLo     int64 = 0          // 1970-01-01T00:00:00Z
	tableHi     int64 = 4102444800 // 2100-01-01T00:00:00Z
	bucketShift       = 22         // about 48.5 days: shorter than any DST half-year
	daySeconds  int64 = 86400
)

// zone is one IANA time zone with its UTC offsets precomputed, so that a local
// time costs one table read and at most a step or two of scanning.
type zone struct {
	name    string
	loc     *time.Location
	starts  []int64  // Unix second from which offs[i] applies; starts[0] == tableLo
	offs    []int32  // UTC offset in seconds
	buckets []bucket // one per 2^bucketShift seconds from tableLo
}

// bucket holds the offsets of one stretch of time: off0 until the change at
// change (if any), off1 from it. A stretch with more than one change is
// marked with slow and looked up in starts/offs.
type bucket struct {
	change     int64
	off0, off1 int32
	slow       bool
}

func newZone(name string) (zone, error) {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return zone{}, fmt.Errorf("load %q: %v: %w", name, err, ErrZoneData)
	}
	z := zone{name: name, loc: loc}
	// Walk the zone's periods with ZoneBounds, recording each change of
	// offset. ZoneBounds can report an end equal to its argument at some
	// year ends past the last explicit transition (Go's rule-based
	// extension), so a period that does not advance is stepped over.
	t := time.Unix(tableLo, 0).In(loc)
	for {
		_, end := t.ZoneBounds()
		_, off := t.Zone()
		if n := len(z.offs); n == 0 || z.offs[n-1] != int32(off) {
			z.starts = append(z.starts, max(t.Unix(), tableLo))
			z.offs = append(z.offs, int32(off))
		}
		if end.IsZero() || end.Unix() >= tableHi {
			break
		}
		if !end.After(t) {
			end = t.Add(time.Hour)
		}
		t = end.In(loc)
	}
	n := int((tableHi-tableLo)>>bucketShift) + 1
	z.buckets = make([]bucket, n)
	for b := range z.buckets {
		lo := tableLo + int64(b)<<bucketShift
		hi := lo + 1<<bucketShift
		i := sort.Search(len(z.starts), func(i int) bool { return z.starts[i] > lo }) - 1
		bk := bucket{change: math.MaxInt64, off0: z.offs[i], off1: z.offs[i]}
		if i+1 < len(z.starts) && z.starts[i+1] < hi {
			bk.change, bk.off1 = z.starts[i+1], z.offs[i+1]
			bk.slow = i+2 < len(z.starts) && z.starts[i+2] < hi
		}
		z.buckets[b] = bk
	}
	return z, nil
}

// offset returns the zone's UTC offset in seconds at Unix second u.
func (z *zone) offset(u int64) int64 {
	if u < tableLo || u >= tableHi {
		_, off := time.Unix(u, 0).In(z.loc).Zone()
		return int64(off)
	}
	b := &z.buckets[(u-tableLo)>>bucketShift]
	switch {
	case b.slow:
		i := sort.Search(len(z.starts), func(i int) bool { return z.starts[i] > u }) - 1
		return int64(z.offs[i])
	case u < b.change:
		return int64(b.off0)
	}
	return int64(b.off1)
}

// local returns the local day number (days since 1970-01-01 in the zone) and
// the second of the local day at Unix second u.
func (z *zone) local(u int64) (day, sod int64) {
	l := u + z.offset(u)
	if l >= 0 {
		day = l / daySeconds
	} else {
		day = floorDiv(l, daySeconds)
	}
	return day, l - day*daySeconds
}

// instant returns the Unix second at which the zone's clock reads second sod
// of local day `day`. For a local time skipped by a daylight-saving change it
// returns the first instant after the gap.
func (z *zone) instant(day, sod int64) int64 {
	l := day*daySeconds + sod
	u := l - z.offset(l)
	u = l - z.offset(u)
	if d, s := z.local(u); d*daySeconds+s < l {
		u += l - (d*daySeconds + s)
	}
	return u
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// weekday returns the weekday of a day number (1970-01-01 was a Thursday).
func weekday(day int64) time.Weekday {
	w := (day + 4) % 7
	if w < 0 {
		w += 7
	}
	return time.Weekday(w)
}

// geo is heed's precomputed location data: the zone registry, the time zones
// of every NANP area code and exchange (from phonenumbers), and the ZIP3 and
// state tables. A location set is a bitmask over the zone registry.
type geo struct {
	zones  []zone         // bit i of a zone mask is zones[i]
	byName map[string]int // used while building and by Locate, never by Decide
	sets   []uint64       // zone-set id → mask; id 0 is the empty set (unknown)
	setIDs map[uint64]uint8

	npaSet [800]uint8   // area code − 200 → zone-set id for its exchanges
	npaSub [800]int16   // area code − 200 → index into sub, or −1
	sub    [][800]uint8 // exchange − 200 → zone-set id, for area codes whose exchanges differ

	states    []string       // state index − 1 → USPS code
	stateIdx  [26 * 26]uint8 // two-letter code → state index (0: unknown)
	stateMask []uint64       // state index − 1 → zones

	zip3State [1000]uint8 // ZIP3 → state index (0: unknown)
	zip3Mask  [1000]uint64
	samoa     uint8 // state index of American Samoa
	samoaMask uint64

	unknownMask uint64 // zones used when nothing is known
}

var loadGeo = sync.OnceValues(buildGeo)

func (g *geo) zoneBit(name string) (int, error) {
	if i, ok := g.byName[name]; ok {
		return i, nil
	}
	if len(g.zones) == 64 {
		return 0, fmt.Errorf("more than 64 distinct time zones (at %q): %w", name, ErrZoneData)
	}
	z, err := newZone(name)
	if err != nil {
		return 0, err
	}
	g.zones = append(g.zones, z)
	g.byName[name] = len(g.zones) - 1
	return len(g.zones) - 1, nil
}

func (g *geo) maskOf(names []string) (uint64, error) {
	var m uint64
	for _, n := range names {
		i, err := g.zoneBit(n)
		if err != nil {
			return 0, err
		}
		m |= 1 << i
	}
	return m, nil
}

func (g *geo) setID(m uint64) (uint8, error) {
	if id, ok := g.setIDs[m]; ok {
		return id, nil
	}
	if len(g.sets) == 256 {
		return 0, fmt.Errorf("more than 255 distinct zone sets: %w", ErrZoneData)
	}
	g.sets = append(g.sets, m)
	id := uint8(len(g.sets) - 1)
	g.setIDs[m] = id
	return id, nil
}

func buildGeo() (*geo, error) {
	g := &geo{byName: map[string]int{}, sets: []uint64{0}, setIDs: map[uint64]uint8{0: 0}}
	if err := g.buildNANP(); err != nil {
		return nil, fmt.Errorf("area-code time zones: %w", err)
	}
	if err := g.buildStates(); err != nil {
		return nil, fmt.Errorf("state and ZIP tables: %w", err)
	}
	m, err := g.maskOf(unknownLocationZones)
	if err != nil {
		return nil, err
	}
	g.unknownMask = m
	return g, nil
}

// buildNANP asks phonenumbers for the time zones of every NPA-NXX (its
// longest NANP prefixes are seven digits, 1+NPA+NXX): a number's zones are
// its area code's (the area code's own entry, or every zone of its
// exchanges when it has none) together with its exchange's. It keeps a
// sub-table only for the area codes whose exchanges add zones. A prefix
// that falls back to the whole-country list means "unknown", not "every
// zone".
func (g *geo) buildNANP() error {
	country, err := phonenumbers.GetTimezonesForPrefix("1")
	if err != nil {
		return fmt.Errorf("prefix 1: %w", err)
	}
	unknown := func(tz []string) bool {
		if len(tz) == 0 || tz[0] == phonenumbers.UNKNOWN_TIMEZONE {
			return true
		}
		if len(country) == 0 || len(tz) != len(country) {
			return false
		}
		if &tz[0] == &country[0] {
			return true
		}
		for i := range tz {
			if tz[i] != country[i] {
				return false
			}
		}
		return true
	}
	byPtr := map[*string]uint8{}
	idOf := func(tz []string) (uint8, error) {
		if unknown(tz) {
			return 0, nil
		}
		if id, ok := byPtr[&tz[0]]; ok {
			return id, nil
		}
		m, err := g.maskOf(tz)
		if err != nil {
			return 0, err
		}
		id, err := g.setID(m)
		if err != nil {
			return 0, err
		}
		byPtr[&tz[0]] = id
		return id, nil
	}
	buf := make([]byte, 0, 8)
	for npa := 200; npa <= 999; npa++ {
		buf = strconv.AppendInt(append(buf[:0], '1'), int64(npa), 10)
		base, err := phonenumbers.GetTimezonesForPrefix(string(buf))
		if err != nil {
			return fmt.Errorf("prefix %s: %w", buf, err)
		}
		baseID, err := idOf(base)
		if err != nil {
			return err
		}
		// The area code's zones are every plausible location of its
		// numbers (phonenumbers places some area codes only exchange by
		// exchange: then every zone of its exchanges); an exchange's own
		// zones may add to them, never narrow them.
		var ex [800]uint8
		area := g.sets[baseID]
		for nxx := 200; nxx <= 999; nxx++ {
			b := strconv.AppendInt(buf[:4], int64(nxx), 10)
			tz, err := phonenumbers.GetTimezonesForPrefix(string(b))
			if err != nil {
				return fmt.Errorf("prefix %s: %w", b, err)
			}
			if len(tz) > 0 && len(base) > 0 && &tz[0] == &base[0] {
				ex[nxx-200] = baseID
				continue
			}
			if ex[nxx-200], err = idOf(tz); err != nil {
				return err
			}
			if baseID == 0 {
				area |= g.sets[ex[nxx-200]]
			}
		}
		areaID, err := g.setID(area)
		if err != nil {
			return err
		}
		g.npaSet[npa-200], g.npaSub[npa-200] = areaID, -1
		uniform := true
		for i, id := range ex {
			if m := area | g.sets[id]; m != area {
				if ex[i], err = g.setID(m); err != nil {
					return err
				}
			} else {
				ex[i] = areaID
			}
			uniform = uniform && ex[i] == areaID
		}
		if !uniform {
			g.npaSub[npa-200] = int16(len(g.sub))
			g.sub = append(g.sub, ex)
		}
	}
	return nil
}

func (g *geo) buildStates() error {
	codes := make([]string, 0, len(stateZones))
	for c := range stateZones {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	g.states = codes
	g.stateMask = make([]uint64, len(codes))
	for i, c := range codes {
		m, err := g.maskOf(stateZones[c])
		if err != nil {
			return fmt.Errorf("state %s: %w", c, err)
		}
		g.stateMask[i] = m
		g.stateIdx[int(c[0]-'A')*26+int(c[1]-'A')] = uint8(i + 1)
	}
	for _, r := range zip3States {
		st := g.state(r.state)
		if st == 0 {
			return fmt.Errorf("ZIP3 %03d-%03d: unknown state %q: %w", r.lo, r.hi, r.state, ErrZoneData)
		}
		for z := r.lo; z <= r.hi; z++ {
			g.zip3State[z] = st
			names := zip3Zones[z]
			if names == nil {
				names = stateZones[r.state][:1]
			}
			m, err := g.maskOf(names)
			if err != nil {
				return fmt.Errorf("ZIP3 %03d: %w", z, err)
			}
			g.zip3Mask[z] = m
		}
	}
	g.samoa = g.state("AS")
	g.samoaMask = g.stateMask[g.samoa-1]
	return nil
}

// state returns the state index of a two-letter USPS code (either case), or 0.
func (g *geo) state(s string) uint8 {
	if len(s) != 2 {
		return 0
	}
	a, b := s[0]|0x20, s[1]|0x20 // lower-case ASCII letters
	if a < 'a' || a > 'z' || b < 'a' || b > 'z' {
		return 0
	}
	return g.stateIdx[int(a-'a')*26+int(b-'a')]
}

// areaZones returns the zone mask of an NPA-NXX, or 0 when phonenumbers does
// not place it.
func (g *geo) areaZones(npa, nxx int) uint64 {
	id := g.npaSet[npa-200]
	if s := g.npaSub[npa-200]; s >= 0 {
		id = g.sub[s][nxx-200]
	}
	return g.sets[id]
}

// zip returns the state index and zone mask of a ZIP code ("06103" or
// "06103-1234"), or zeros when it is not a known US ZIP.
func (g *geo) zip(z string) (uint8, uint64) {
	if len(z) < 5 {
		return 0, 0
	}
	// Five digits (a byte below '0' wraps round to above 9).
	d0, d1, d2, d3, d4 := z[0]-'0', z[1]-'0', z[2]-'0', z[3]-'0', z[4]-'0'
	if d0 > 9 || d1 > 9 || d2 > 9 || d3 > 9 || d4 > 9 {
		return 0, 0
	}
	n := int(d0)*100 + int(d1)*10 + int(d2)
	if len(z) > 5 && z[5] != '-' && z[5] != ' ' {
		return 0, 0
	}
	if n == 967 && z[:5] == americanSamoaZIP {
		return g.samoa, g.samoaMask
	}
	return g.zip3State[n], g.zip3Mask[n]
}

// names lists the zone names in a mask, in registry order.
func (g *geo) names(m uint64) []string {
	out := make([]string, 0, bits.OnesCount64(m))
	for ; m != 0; m &= m - 1 {
		out = append(out, g.zones[bits.TrailingZeros64(m)].name)
	}
	sort.Strings(out)
	return out
}
