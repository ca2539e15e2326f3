package dnc

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSmallListsAnswerAsTheirSets checks Lookup, LookupBatch and
// LookupBatchIn against the lists' members while lists move between the
// filter and their Sets: a large list, small lists sharing area codes with
// it, a small list grown past smallMax and shrunk back by Apply, and one
// removed.
func TestSmallListsAnswerAsTheirSets(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(41, 42))
	npas := []uint64{203, 475, 860, 212, 972}
	draw := func(k int) []uint64 {
		out := make([]uint64, k)
		for i := range out {
			out[i] = npas[rng.IntN(len(npas))]*10_000_000 + 2_000_000 + rng.Uint64N(8_000_000)
		}
		return out
	}
	tx, err := StateList("TX")
	require.NoError(t, err)
	members := map[ListID]map[uint64]bool{}
	x := NewIndex()
	put := func(l ListID, ns []uint64) {
		var b Builder
		require.NoError(t, b.AddMany(ns))
		_, err := x.Replace(Meta{List: l}, b.Build())
		require.NoError(t, err)
		members[l] = map[uint64]bool{}
		for _, n := range ns {
			members[l][n] = true
		}
	}
	put(National, draw(smallMax+5000))
	put(Internal, draw(3000))
	put(tx, draw(200))
	put(Litigator, draw(40))

	check := func(stage string, wantSmall Hits) {
		t.Helper()
		v := x.View()
		require.Equal(t, wantSmall, v.small, stage)
		var probe []uint64
		for _, m := range members {
			for n := range m {
				probe = append(probe, n, n+1)
			}
		}
		probe = append(probe, draw(20000)...)
		probe = append(probe, 0, MaxNumber-1, MaxNumber, 1<<63)
		rng.Shuffle(len(probe), func(i, j int) { probe[i], probe[j] = probe[j], probe[i] })
		out := make([]Hits, len(probe))
		v.LookupBatch(probe, out)
		// LookupBatchIn over every subset of the lists, large and small.
		ids := []ListID{National, Internal, tx, Litigator}
		some := make([][]Hits, 1<<len(ids))
		for mask := range some {
			var lists Hits
			for j, l := range ids {
				if mask>>j&1 != 0 {
					lists |= 1 << l
				}
			}
			some[mask] = make([]Hits, len(probe))
			v.LookupBatchIn(probe, lists, some[mask])
			for i := range probe {
				require.Equal(t, out[i]&lists, some[mask][i], "%s: lists %v, %d", stage, lists, probe[i])
			}
		}
		for i, n := range probe {
			var want Hits
			for l, m := range members {
				if m[n] {
					want |= 1 << l
				}
			}
			require.Equal(t, want, out[i], "%s: batch %d", stage, n)
			require.Equal(t, want, v.Lookup(n), "%s: %d", stage, n)
		}
	}
	check("built", 1<<Internal|1<<tx|1<<Litigator)

	// Grow the internal list past smallMax: it leaves the filter.
	adds := draw(smallMax)
	_, _, err = x.Apply(Internal, Change{Adds: adds})
	require.NoError(t, err)
	for _, n := range adds {
		members[Internal][n] = true
	}
	check("internal grown", 1<<tx|1<<Litigator)

	// Shrink it back: it returns to the filter, and its removed numbers
	// are answered as absent.
	var dels []uint64
	for n := range members[Internal] {
		if len(members[Internal]) == 1000 {
			break
		}
		dels = append(dels, n)
		delete(members[Internal], n)
	}
	_, _, err = x.Apply(Internal, Change{Dels: dels})
	require.NoError(t, err)
	check("internal shrunk", 1<<Internal|1<<tx|1<<Litigator)

	// One opt-out added to a small list is found at once.
	n := uint64(8605550123)
	_, _, err = x.Apply(Litigator, Change{Adds: []uint64{n}})
	require.NoError(t, err)
	members[Litigator][n] = true
	check("opt-out", 1<<Internal|1<<tx|1<<Litigator)

	require.True(t, x.Remove(tx))
	delete(members, tx)
	check("removed", 1<<Internal|1<<Litigator)
}

// TestSmallFilterScreens checks that the filter rules out almost every
// number not on a small list, which is what makes it worth having, and
// that it never rules out a member.
func TestSmallFilterScreens(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(43, 44))
	ns := make([]uint64, 5000)
	for i := range ns {
		ns[i] = 2_000_000_000 + rng.Uint64N(8_000_000_000)
	}
	var b Builder
	require.NoError(t, b.AddMany(ns))
	x := NewIndex()
	_, err := x.Replace(Meta{List: Internal}, b.Build())
	require.NoError(t, err)
	v := x.View()
	require.NotNil(t, v.filter)
	for _, n := range ns {
		require.True(t, v.filter.mayHold(n), "%d", n)
	}
	passed, probes := 0, 100_000
	for range probes {
		if v.filter.mayHold(2_000_000_000 + rng.Uint64N(8_000_000_000)) {
			passed++
		}
	}
	// 5,000 members in at least 2^19 bits: under 1% pass; allow 2%.
	require.Less(t, passed, probes/50, "non-members the filter let through")
}
