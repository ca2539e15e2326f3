package dnc_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dnc"
)

// model is the reference a Set is checked against.
type model map[uint64]struct{}

func newModel(ns ...[]uint64) model {
	m := model{}
	for _, list := range ns {
		for _, n := range list {
			m[n] = struct{}{}
		}
	}
	return m
}

func (m model) sorted() []uint64 {
	out := make([]uint64, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func build(t *testing.T, ns []uint64) *dnc.Set {
	t.Helper()
	var b dnc.Builder
	require.NoError(t, b.AddMany(ns))
	return b.Build()
}

// probes returns the numbers worth asking a set about: its members, their
// neighbours, and the edges of the number space.
func probes(rng *rand.Rand, ns []uint64) []uint64 {
	out := []uint64{0, 1, 999, 1000, 9999, 10000, 1999999999, 2000000000, 2000000001,
		9999999998, 9999999999, dnc.MaxNumber, dnc.MaxNumber + 1, 1 << 63}
	for _, n := range ns {
		out = append(out, n)
		if n > 0 {
			out = append(out, n-1)
		}
		out = append(out, n+1)
	}
	for range 2000 {
		out = append(out, rng.Uint64N(dnc.MaxNumber))
	}
	return out
}

// requireSame checks s against m on every probe, one at a time and in batch,
// and checks Len and All.
func requireSame(t *testing.T, m model, s *dnc.Set, probe []uint64) {
	t.Helper()
	require.Equal(t, len(m), s.Len())
	out := make([]bool, len(probe))
	s.ContainsBatch(probe, out)
	for i, n := range probe {
		_, want := m[n]
		if got := s.Contains(n); got != want {
			require.Failf(t, "wrong answer", "Contains(%d) = %v, want %v", n, got, want)
		}
		if out[i] != want {
			require.Failf(t, "wrong answer", "ContainsBatch(%d) = %v, want %v", n, out[i], want)
		}
	}
	require.Equal(t, m.sorted(), slices.AppendSeq([]uint64{}, s.All()))
}

// dataset is a named way to make numbers for the property tests.
type dataset struct {
	name string
	gen  func(rng *rand.Rand) []uint64
}

func datasets() []dataset {
	return []dataset{
		{"empty", func(*rand.Rand) []uint64 { return nil }},
		{"one", func(*rand.Rand) []uint64 { return []uint64{8605550101} }},
		{"edges", func(*rand.Rand) []uint64 {
			return []uint64{0, 1, 999, 1000, 9999, 10000, 2000000000, 2000000999, 2000001000,
				2009999999, 2010000000, 8609999999, 8600000000, 9999990000, 9999999000, 9999999999}
		}},
		{"duplicates", func(rng *rand.Rand) []uint64 {
			var out []uint64
			for range 300 {
				n := 2000000000 + rng.Uint64N(8000000000)
				out = append(out, n, n, n)
			}
			return out
		}},
		{"sparse", func(rng *rand.Rand) []uint64 {
			out := make([]uint64, 5000)
			for i := range out {
				out[i] = rng.Uint64N(dnc.MaxNumber)
			}
			return out
		}},
		{"full exchange", func(*rand.Rand) []uint64 {
			out := make([]uint64, 0, 10000)
			for i := range uint64(10000) {
				out = append(out, 8605550000+i)
			}
			return out
		}},
		{"dense blocks", func(rng *rand.Rand) []uint64 {
			// Thousands blocks at every density, so every encoding and
			// every low-bit width is used.
			var out []uint64
			for blk := range uint64(120) {
				base := 3125550000 + blk*1000
				p := float64(blk) / 119
				for r := range uint64(1000) {
					if rng.Float64() < p*p*p {
						out = append(out, base+r)
					}
				}
			}
			return out
		}},
		{"nearly full", func(rng *rand.Rand) []uint64 {
			var out []uint64
			for r := range uint64(10000) {
				if rng.IntN(500) != 0 {
					out = append(out, 9725550000+r)
				}
			}
			return out
		}},
		{"bucket runs", func(*rand.Rand) []uint64 {
			// Long runs in one Elias-Fano bucket: a sparse block whose
			// members are all at its top.
			var out []uint64
			for r := range uint64(70) {
				out = append(out, 4045550930+r)
			}
			out = append(out, 4045550000)
			return out
		}},
		{"random many", func(rng *rand.Rand) []uint64 {
			// Past the builder's switch to bitmaps.
			out := make([]uint64, 100000)
			for i := range out {
				out[i] = 2125550000 + rng.Uint64N(3_000_000)
			}
			return out
		}},
	}
}

func TestSetMatchesMap(t *testing.T) {
	t.Parallel()
	for _, ds := range datasets() {
		t.Run(ds.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(1, 2))
			ns := ds.gen(rng)
			s := build(t, ns)
			m := newModel(ns)
			requireSame(t, m, s, probes(rng, m.sorted()))
		})
	}
}

func TestZeroSet(t *testing.T) {
	t.Parallel()
	var s dnc.Set
	require.Zero(t, s.Len())
	require.False(t, s.Contains(8605550101))
	out := []bool{true}
	s.ContainsBatch([]uint64{8605550101}, out)
	require.False(t, out[0])
	require.Empty(t, slices.Collect(s.All()))
}

func TestBuilderRejectsOutOfRange(t *testing.T) {
	t.Parallel()
	var b dnc.Builder
	require.ErrorIs(t, b.Add(dnc.MaxNumber), dnc.ErrOutOfRange)
	require.ErrorIs(t, b.AddMany([]uint64{1, dnc.MaxNumber + 5}), dnc.ErrOutOfRange)
	require.NoError(t, b.Add(dnc.MaxNumber-1))
	s := b.Build()
	require.Equal(t, 1, s.Len(), "AddMany must add nothing when it fails")
}

func TestApplyMatchesMap(t *testing.T) {
	t.Parallel()
	for _, ds := range datasets() {
		t.Run(ds.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(3, 4))
			ns := ds.gen(rng)
			s := build(t, ns)
			m := newModel(ns)
			members := m.sorted()
			for round := range 6 {
				var adds, dels []uint64
				for range 1 + rng.IntN(400) {
					switch {
					case len(members) > 0 && rng.IntN(2) == 0:
						dels = append(dels, members[rng.IntN(len(members))])
					case rng.IntN(3) == 0:
						dels = append(dels, rng.Uint64N(dnc.MaxNumber)) // most likely absent
					case len(members) > 0:
						// Near a member: the same block, maybe the same bucket.
						adds = append(adds, min(members[rng.IntN(len(members))]+rng.Uint64N(50), dnc.MaxNumber-1))
					default:
						adds = append(adds, rng.Uint64N(dnc.MaxNumber))
					}
				}
				if round == 3 {
					// Additions and deletions of the same numbers: the
					// additions win.
					dels = append(dels, adds...)
				}
				old := slices.Collect(s.All())
				ns2, st, err := s.Apply(adds, dels)
				require.NoError(t, err)
				before := len(m)
				for _, n := range dels {
					delete(m, n)
				}
				for _, n := range adds {
					m[n] = struct{}{}
				}
				require.Equal(t, len(m)-before, st.Added-st.Removed)
				require.Equal(t, old, slices.Collect(s.All()), "Apply must not change its receiver")
				s = ns2
				members = m.sorted()
				requireSame(t, m, s, probes(rng, members))
			}
		})
	}
}

func TestApplyEmptiesAndRefills(t *testing.T) {
	t.Parallel()
	ns := datasets()[5].gen(nil) // full exchange
	s := build(t, ns)
	empty, st, err := s.Apply(nil, ns)
	require.NoError(t, err)
	require.Equal(t, len(ns), st.Removed)
	require.Zero(t, empty.Len())
	require.False(t, empty.Contains(ns[0]))
	require.Equal(t, 1, s.Stats().Full/10, "a full exchange is ten full blocks")

	again, st, err := empty.Apply(ns, []uint64{1, 2, 3})
	require.NoError(t, err)
	require.Equal(t, len(ns), st.Added)
	require.Equal(t, 3, st.Absent)
	requireSame(t, newModel(ns), again, probes(rand.New(rand.NewPCG(5, 6)), ns))

	same, st, err := again.Apply(nil, nil)
	require.NoError(t, err)
	require.Same(t, again, same)
	require.Zero(t, st.Exchanges)
}

func TestApplyRejectsOutOfRange(t *testing.T) {
	t.Parallel()
	s := build(t, []uint64{8605550101})
	_, _, err := s.Apply([]uint64{8605550102, dnc.MaxNumber}, nil)
	require.ErrorIs(t, err, dnc.ErrOutOfRange)
	_, _, err = s.Apply(nil, []uint64{dnc.MaxNumber})
	require.ErrorIs(t, err, dnc.ErrOutOfRange)
	require.Equal(t, 1, s.Len())
}

func TestApplyManySmallChangesCompacts(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	ns := make([]uint64, 20000)
	for i := range ns {
		ns[i] = 2000000000 + rng.Uint64N(100_000_000)
	}
	s := build(t, ns)
	m := newModel(ns)
	for i := range 3000 {
		n := 2000000000 + rng.Uint64N(100_000_000)
		var err error
		if i%2 == 0 {
			s, _, err = s.Apply([]uint64{n}, nil)
			m[n] = struct{}{}
		} else {
			s, _, err = s.Apply(nil, []uint64{n})
			delete(m, n)
		}
		require.NoError(t, err)
	}
	require.LessOrEqual(t, s.Stats().Segments, 1024)
	requireSame(t, m, s, probes(rng, m.sorted()))
}

func TestStatsAndSize(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 10))
	// One in ten numbers of 200 exchanges: the density of the national
	// registry over the US area codes.
	var ns []uint64
	for x := range uint64(200) {
		for r := range uint64(10000) {
			if rng.IntN(10) == 0 {
				ns = append(ns, 3030000000+x*10000+r)
			}
		}
	}
	s := build(t, ns)
	st := s.Stats()
	require.Equal(t, len(ns), st.Numbers)
	require.Equal(t, 200, st.Exchanges)
	require.Equal(t, 1, st.AreaCodes)
	require.Equal(t, 2000, st.EliasFano)
	bits := float64(st.DataBytes) * 8 / float64(len(ns))
	require.Less(t, bits, 5.8, "Elias-Fano at one in ten costs about 5.4 bits a number")
}

func TestApplyLongChangeList(t *testing.T) {
	t.Parallel()
	// Long enough to be split between goroutines by area code.
	rng := rand.New(rand.NewPCG(15, 16))
	ns := make([]uint64, 60000)
	for i := range ns {
		ns[i] = 2000000000 + rng.Uint64N(8_000_000_000)
	}
	s := build(t, ns)
	m := newModel(ns)
	var adds, dels []uint64
	for i := range 90000 {
		switch {
		case i%3 == 0:
			dels = append(dels, ns[rng.IntN(len(ns))])
		case i%3 == 1:
			dels = append(dels, 2000000000+rng.Uint64N(8_000_000_000))
		default:
			adds = append(adds, 2000000000+rng.Uint64N(8_000_000_000))
		}
	}
	// And a crowd in one area code, so that one part is heavy.
	for i := range uint64(20000) {
		adds = append(adds, 8600000000+i*37)
	}
	s2, st, err := s.Apply(adds, dels)
	require.NoError(t, err)
	for _, n := range dels {
		delete(m, n)
	}
	for _, n := range adds {
		m[n] = struct{}{}
	}
	require.Equal(t, len(m), s2.Len())
	require.Equal(t, len(m)-len(newModel(ns)), st.Added-st.Removed)
	requireSame(t, m, s2, probes(rng, m.sorted()[:5000]))
	require.Equal(t, m.sorted(), slices.AppendSeq([]uint64{}, s2.All()))
}
