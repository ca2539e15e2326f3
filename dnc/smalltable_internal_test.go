package dnc

import (
	"maps"
	"math/rand/v2"
	"testing"
)

// tableModel is the reference a smallTable is checked against.
type tableModel map[uint64]Hits

// checkTable checks t against m: every member and a sample of other
// numbers, through lookup, probe and the first pass of LookupBatch, and
// the table's contents through all and n.
func checkTable(t *testing.T, tb *smallTable, m tableModel, rng *rand.Rand) {
	t.Helper()
	if tb == nil {
		if len(m) != 0 {
			t.Fatalf("nil table, want %d numbers", len(m))
		}
		return
	}
	if tb.n != len(m) {
		t.Fatalf("table holds %d numbers, want %d", tb.n, len(m))
	}
	got := tableModel{}
	tb.all(func(n uint64, h Hits) {
		if _, dup := got[n]; dup {
			t.Fatalf("all yields %d twice", n)
		}
		got[n] = h
	})
	if !maps.Equal(got, m) {
		t.Fatalf("all yields %d numbers, not the %d of the model", len(got), len(m))
	}
	probes := make([]uint64, 0, 2*len(m)+2000)
	for n := range m {
		probes = append(probes, n, n^1)
	}
	for range 2000 {
		probes = append(probes, rng.Uint64N(MaxNumber))
	}
	for _, n := range probes {
		want := m[n]
		if h := tb.lookup(n); h != want {
			t.Fatalf("lookup(%d) = %v, want %v", n, h, want)
		}
		if want != 0 && !tb.probe(n) {
			t.Fatalf("probe(%d) says a member is absent", n)
		}
	}
}

// TestSmallTableMatchesMap applies random additions and removals of lists
// to numbers, in edits of edits, and checks every table against a map,
// and that no edit changes a table made before.
func TestSmallTableMatchesMap(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(31, 32))
	for _, crowd := range []bool{false, true} {
		var tb *smallTable
		m := tableModel{}
		var history []*smallTable
		var models []tableModel
		// Numbers from a small pool, so that additions and removals meet
		// the same numbers again.
		pool := make([]uint64, 3000)
		for i := range pool {
			pool[i] = rng.Uint64N(MaxNumber)
		}
		pool[0], pool[1] = 0, MaxNumber-1
		for round := range 40 {
			e := tb.edit()
			if crowd && round%10 == 0 {
				// Every number starts at the same bucket with the same
				// tag: overflow chains, wrapping around the table, until
				// the table rebuilds itself with a random multiplier.
				e = newSmallTable(4 * len(m))
				e.t.mul, e.t.bshift = 1, 63
				for n, h := range m {
					e.set(n, h, true)
				}
			}
			ops := 1 + rng.IntN(200)
			if round%15 == 14 {
				ops = 2000 // enough to grow the table
			}
			for range ops {
				n := pool[rng.IntN(len(pool))]
				h := Hits(1) << rng.IntN(MaxLists)
				on := rng.IntN(3) != 0
				e.set(n, h, on)
				if on {
					m[n] |= h
				} else if m[n] &^= h; m[n] == 0 {
					delete(m, n)
				}
			}
			if round%20 == 19 {
				// Remove one list from every number.
				h := Hits(1) << rng.IntN(MaxLists)
				e = e.t.without(h, len(m))
				for n := range m {
					if m[n] &^= h; m[n] == 0 {
						delete(m, n)
					}
				}
			}
			tb = e.done()
			checkTable(t, tb, m, rng)
			history = append(history, tb)
			models = append(models, maps.Clone(m))
		}
		for i := 0; i < len(history); i += 3 {
			checkTable(t, history[i], models[i], rng)
		}
	}
}

// TestSmallTableEmptiesAndShrinks removes every number: the table becomes
// nil; a table left mostly empty is compacted.
func TestSmallTableEmptiesAndShrinks(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(33, 34))
	e := newSmallTable(0)
	m := tableModel{}
	for range 20000 {
		n := rng.Uint64N(MaxNumber)
		e.set(n, 1<<Internal, true)
		m[n] = 1 << Internal
	}
	tb := e.done()
	checkTable(t, tb, m, rng)
	big := tb.slots()
	e = tb.edit()
	kept := 0
	for n := range m {
		if kept < 100 {
			kept++
			continue
		}
		e.set(n, 1<<Internal, false)
		delete(m, n)
	}
	tb = e.done()
	checkTable(t, tb, m, rng)
	if tb.slots() >= big {
		t.Fatalf("a table of %d numbers kept %d slots", tb.n, tb.slots())
	}
	e = tb.edit()
	for n := range m {
		e.set(n, 1<<Internal, false)
	}
	if tb = e.done(); tb != nil {
		t.Fatalf("a table of no numbers is not nil: %d numbers", tb.n)
	}
}
