package dncbench

import (
	_ "embed"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

//go:embed areacodes_us.txt
var areaCodesText string

// usAreaCodes is the parsed, sorted list of areaCodesText.
var usAreaCodes = func() []uint64 {
	var out []uint64
	for line := range strings.Lines(areaCodesText) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n, err := strconv.ParseUint(line, 10, 64)
		if err != nil || n < 200 || n > 999 {
			panic(fmt.Sprintf("dncbench: bad area code %q in areacodes_us.txt", line))
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}()

// USAreaCodes returns the geographic US area codes the generated data sets
// use, in increasing order.
func USAreaCodes() []int {
	out := make([]int, len(usAreaCodes))
	for i, a := range usAreaCodes {
		out[i] = int(a)
	}
	return out
}

// Data set kinds.
const (
	// Random spreads numbers uniformly over every exchange (NXX 200-999) of
	// every US area code: about one number in eleven at 260 million.
	Random = "random"
	// Clustered concentrates numbers in a few exchanges: most thousands
	// blocks of a chosen exchange are in use and a used block is 10% to
	// 100% full, as numbers are when carriers are given them a thousand at
	// a time.
	Clustered = "clustered"
)

const (
	exchangesPerNPA = 800 // NXX 200-999
	suffixes        = 10000
)

// space is the part of the number space a data set is drawn from: every
// exchange (NXX 200-999) of some US area codes.
type space struct{ npas []uint64 }

// universe is the number of slots in the space.
func (sp space) universe() uint64 { return uint64(len(sp.npas)) * exchangesPerNPA * suffixes }

// slotNumber maps slot u of the space to its number; it is increasing in u.
func (sp space) slotNumber(u uint64) uint64 {
	npa := sp.npas[u/(exchangesPerNPA*suffixes)]
	rem := u % (exchangesPerNPA * suffixes)
	return npa*10_000_000 + (200+rem/suffixes)*suffixes + rem%suffixes
}

// exchangeNumber maps exchange index x (0..len(npas)*800) to its first
// number.
func (sp space) exchangeNumber(x uint64) uint64 { return sp.slotNumber(x * suffixes) }

// Spec describes a data set to generate.
type Spec struct {
	// Kind is Random or Clustered.
	Kind string
	// Numbers is the number of distinct numbers.
	Numbers int
	// Seed makes the data: the same spec gives the same data.
	Seed uint64
	// AreaCodes, when not zero, draws from the first AreaCodes US area codes
	// only, so that a small data set has the density of a large one: 26
	// million numbers over 36 area codes are as dense as 260 million over
	// all of them.
	AreaCodes int
}

// Dataset is a generated list of numbers.
type Dataset struct {
	// Kind is Random or Clustered.
	Kind string
	// Numbers is sorted and holds no duplicates.
	Numbers []uint64
	space   space
}

// Generate makes the data set a spec describes.
func Generate(spec Spec) (*Dataset, error) {
	sp := space{npas: usAreaCodes}
	if spec.AreaCodes < 0 || spec.AreaCodes > len(usAreaCodes) {
		return nil, fmt.Errorf("dncbench: %d area codes: want 0 to %d", spec.AreaCodes, len(usAreaCodes))
	}
	if spec.AreaCodes > 0 {
		sp.npas = usAreaCodes[:spec.AreaCodes]
	}
	n := spec.Numbers
	if n < 0 || uint64(n) > sp.universe()/2 {
		return nil, fmt.Errorf("dncbench: %d numbers: want 0 to %d", n, sp.universe()/2)
	}
	rng := rand.New(rand.NewPCG(spec.Seed, 0x6865656420646e63))
	var ns []uint64
	switch spec.Kind {
	case Random:
		ns = generateRandom(rng, sp, n)
	case Clustered:
		ns = generateClustered(rng, sp, n)
	default:
		return nil, fmt.Errorf("dncbench: unknown data set %q (want %q or %q)", spec.Kind, Random, Clustered)
	}
	return &Dataset{Kind: spec.Kind, Numbers: ns, space: sp}, nil
}

// generateRandom draws slots with probability a little above n/U by
// geometric skips, then drops the surplus at random.
func generateRandom(rng *rand.Rand, sp space, n int) []uint64 {
	if n == 0 {
		return []uint64{}
	}
	u := sp.universe()
	slack := 1.0
	for {
		slack += 6 / math.Sqrt(float64(n))
		p := min(float64(n)/float64(u)*slack, 1)
		out := make([]uint64, 0, int(float64(n)*slack)+64)
		logq := math.Log1p(-p)
		pos := uint64(0)
		for {
			if p < 1 {
				pos += uint64(math.Log(1-rng.Float64()) / logq)
			}
			if pos >= u {
				break
			}
			out = append(out, sp.slotNumber(pos))
			pos++
		}
		if len(out) >= n {
			return trim(rng, out, n)
		}
	}
}

// generateClustered picks exchanges, thousands blocks in them and a density
// per block, aiming a little above n, then drops the surplus at random.
func generateClustered(rng *rand.Rand, sp space, n int) []uint64 {
	if n == 0 {
		return []uint64{}
	}
	const (
		activeBlock = 0.6 // chance that a block of a chosen exchange is used
		meanDensity = 0.7 // mean of 1 - 0.9*x*x for x uniform in [0,1)
	)
	exchanges := uint64(len(sp.npas)) * exchangesPerNPA
	slack := 1.02
	for {
		want := int(float64(n)*slack/(10*activeBlock*meanDensity*1000)) + 1
		want = min(want, int(exchanges))
		chosen := make([]uint64, 0, want)
		// Floyd's algorithm for a uniform sample without replacement.
		seen := make(map[uint64]struct{}, want)
		for j := exchanges - uint64(want); j < exchanges; j++ {
			t := rng.Uint64N(j + 1)
			if _, ok := seen[t]; ok {
				t = j
			}
			seen[t] = struct{}{}
			chosen = append(chosen, t)
		}
		slices.Sort(chosen)
		out := make([]uint64, 0, int(float64(n)*slack*1.05))
		for _, x := range chosen {
			base := sp.exchangeNumber(x)
			for blk := range uint64(10) {
				if rng.Float64() >= activeBlock {
					continue
				}
				v := rng.Float64()
				d := 1 - 0.9*v*v
				for r := range uint64(1000) {
					if rng.Float64() < d {
						out = append(out, base+blk*1000+r)
					}
				}
			}
		}
		if len(out) >= n {
			return trim(rng, out, n)
		}
		slack *= 1.1
	}
}

// trim removes len(xs)-n elements of xs chosen uniformly at random, keeping
// the order.
func trim(rng *rand.Rand, xs []uint64, n int) []uint64 {
	drop := len(xs) - n
	if drop == 0 {
		return xs
	}
	marked := make([]uint64, (len(xs)+63)/64)
	for drop > 0 {
		i := rng.IntN(len(xs))
		if marked[i/64]>>(i%64)&1 == 0 {
			marked[i/64] |= 1 << (i % 64)
			drop--
		}
	}
	out := xs[:0]
	for i, x := range xs {
		if marked[i/64]>>(i%64)&1 == 0 {
			out = append(out, x)
		}
	}
	return slices.Clip(out)
}

// Queries returns q lookups: half members of d, half numbers drawn
// uniformly from the exchanges of its area codes (mostly absent), shuffled.
func (d *Dataset) Queries(q int, seed uint64) []uint64 {
	rng := rand.New(rand.NewPCG(seed, 0x71756572696573))
	out := make([]uint64, q)
	u := d.space.universe()
	for i := range out {
		if i%2 == 0 && len(d.Numbers) > 0 {
			out[i] = d.Numbers[rng.IntN(len(d.Numbers))]
		} else {
			out[i] = d.space.slotNumber(rng.Uint64N(u))
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// Changes returns a change list of about c changes: deletions of random
// members and additions of random non-members, each sorted without
// duplicates.
func (d *Dataset) Changes(c int, seed uint64) (adds, dels []uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x6368616e676573))
	u := d.space.universe()
	for len(dels) < c/2 && len(d.Numbers) > 0 {
		dels = append(dels, d.Numbers[rng.IntN(len(d.Numbers))])
	}
	for len(adds) < c-c/2 {
		n := d.space.slotNumber(rng.Uint64N(u))
		if _, found := slices.BinarySearch(d.Numbers, n); !found {
			adds = append(adds, n)
		}
	}
	slices.Sort(adds)
	slices.Sort(dels)
	return slices.Compact(adds), slices.Compact(dels)
}

// Text returns a reader of the data set as an FTC flat file: one ten-digit
// number per line, in increasing order.
func (d *Dataset) Text() io.Reader { return &textReader{ns: d.Numbers} }

// TextSize returns the length in bytes of Text.
func (d *Dataset) TextSize() int64 { return int64(len(d.Numbers)) * 11 }

type textReader struct {
	ns      []uint64
	pending []byte
	buf     [11]byte
}

func (t *textReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(t.pending) > 0 {
			c := copy(p[n:], t.pending)
			t.pending = t.pending[c:]
			n += c
			continue
		}
		if len(t.ns) == 0 {
			break
		}
		for len(t.ns) > 0 && len(p)-n >= 11 {
			formatLine(p[n:n+11], t.ns[0])
			t.ns = t.ns[1:]
			n += 11
		}
		if len(t.ns) > 0 && len(p)-n < 11 && len(p)-n > 0 {
			formatLine(t.buf[:], t.ns[0])
			t.ns = t.ns[1:]
			t.pending = t.buf[:]
		}
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// formatLine writes v as ten digits and a newline into b[:11].
func formatLine(b []byte, v uint64) {
	b[10] = '\n'
	for i := 9; i >= 0; i-- {
		q := v / 10
		b[i] = byte('0' + v - q*10)
		v = q
	}
}
