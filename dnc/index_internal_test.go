package dnc

import (
	"math/rand/v2"
	"testing"
)

// indexModel is the members of each list of an Index, for reference.
type indexModel map[ListID]map[uint64]bool

func (m indexModel) hits(n uint64) Hits {
	var h Hits
	for l, members := range m {
		if members[n] {
			h |= 1 << l
		}
	}
	return h
}

// checkView checks every way of asking v about the probes (Lookup,
// LookupBatch in windows of several sizes, each list's Set.Contains and
// ContainsBatch) against the model.
func checkView(t *testing.T, v *View, m indexModel, probes []uint64) {
	t.Helper()
	out := make([]Hits, len(probes))
	for _, size := range []int{7, 128, 1000} {
		for lo := 0; lo < len(probes); lo += size {
			hi := min(lo+size, len(probes))
			v.LookupBatch(probes[lo:hi], out[lo:hi])
		}
		for i, n := range probes {
			if want := m.hits(n); out[i] != want {
				t.Fatalf("LookupBatch in windows of %d: %d is on %v, want %v", size, n, out[i], want)
			}
		}
	}
	for _, n := range probes {
		if got, want := v.Lookup(n), m.hits(n); got != want {
			t.Fatalf("Lookup(%d) = %v, want %v", n, got, want)
		}
	}
	found := make([]bool, len(probes))
	for l, members := range m {
		_, set, ok := v.List(l)
		if !ok {
			t.Fatalf("list %v not installed", l)
		}
		set.ContainsBatch(probes, found)
		for i, n := range probes {
			if set.Contains(n) != members[n] || found[i] != members[n] {
				t.Fatalf("list %v: Contains(%d) = %v, ContainsBatch %v, want %v", l, n, set.Contains(n), found[i], members[n])
			}
		}
	}
}

// TestIndexSmallListsMatchModel installs lists that the view answers from
// its table and lists it answers from their sets, small and large, changes
// them with random additions and removals (a number both added and removed
// ends up in the list), replaces and removes some, grows one past smallMax
// and back, and after every change checks the next view against a model:
// an opt-out holds at once.
func TestIndexSmallListsMatchModel(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(41, 42))
	tx, err := StateList("TX")
	if err != nil {
		t.Fatal(err)
	}
	ct, err := StateList("CT")
	if err != nil {
		t.Fatal(err)
	}
	// Area codes: the national list spans 30, a large Texas list 3, the
	// small lists all of them.
	npas := make([]uint64, 30)
	for i := range npas {
		npas[i] = 200 + uint64(i)*7
	}
	draw := func(areas []uint64) uint64 {
		return areas[rng.IntN(len(areas))]*npaSpan + rng.Uint64N(npaSpan)
	}
	x := NewIndex()
	m := indexModel{}
	install := func(l ListID, areas []uint64, n int) {
		members := map[uint64]bool{}
		var b Builder
		for range n {
			v := draw(areas)
			members[v] = true
			if err := b.Add(v); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := x.Replace(Meta{List: l}, b.Build()); err != nil {
			t.Fatal(err)
		}
		m[l] = members
	}
	install(National, npas, 100_000)
	install(tx, npas[:3], 80_000)
	install(Internal, npas, 5_000)
	install(Litigator, npas, 800)
	install(ct, npas[10:12], 300)

	probes := func() []uint64 {
		var ps []uint64
		for _, members := range m {
			k := 0
			for n := range members {
				if k++; k > 2000 {
					break
				}
				ps = append(ps, n, n+1, n-1)
			}
		}
		for range 3000 {
			ps = append(ps, draw(npas))
		}
		ps = append(ps, 0, 1, MaxNumber-1, MaxNumber, MaxNumber+1, 1<<63)
		rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
		return ps
	}
	v := x.View()
	if want := Hits(1<<Internal | 1<<Litigator | 1<<ct); v.small != want {
		t.Fatalf("small lists %v, want %v", v.small, want)
	}
	checkView(t, v, m, probes())

	for round := range 25 {
		l := []ListID{Internal, Internal, Internal, Litigator, ct, tx, National}[rng.IntN(7)]
		var ch Change
		var members []uint64
		for n := range m[l] {
			if members = append(members, n); len(members) == 1000 {
				break
			}
		}
		for range rng.IntN(300) {
			ch.Adds = append(ch.Adds, draw(npas))
		}
		for range rng.IntN(300) {
			if len(members) > 0 {
				ch.Dels = append(ch.Dels, members[rng.IntN(len(members))])
			}
			ch.Dels = append(ch.Dels, draw(npas))
		}
		// Some numbers both added and removed, some twice.
		for i := 0; i < len(ch.Adds) && i < 20; i += 3 {
			ch.Dels = append(ch.Dels, ch.Adds[i])
			ch.Adds = append(ch.Adds, ch.Adds[i])
		}
		if _, _, err := x.Apply(l, ch); err != nil {
			t.Fatal(err)
		}
		for _, n := range ch.Dels {
			delete(m[l], n)
		}
		for _, n := range ch.Adds {
			m[l][n] = true
		}
		// The opt-out holds in the very next view.
		v := x.View()
		for _, n := range ch.Adds {
			if !v.Lookup(n).Has(l) {
				t.Fatalf("round %d: %d, just added to %v, is not on it", round, n, l)
			}
		}
		checkView(t, v, m, probes())
	}

	// Grow the internal list past smallMax, then shrink it back: it moves
	// to its set and back to the table.
	var grow Change
	for range smallMax + 100 {
		grow.Adds = append(grow.Adds, draw(npas))
	}
	if _, _, err := x.Apply(Internal, grow); err != nil {
		t.Fatal(err)
	}
	for _, n := range grow.Adds {
		m[Internal][n] = true
	}
	if v := x.View(); v.small.Has(Internal) {
		t.Fatalf("a list of %d numbers is in the table", len(m[Internal]))
	}
	checkView(t, x.View(), m, probes())
	if _, _, err := x.Apply(Internal, Change{Dels: grow.Adds}); err != nil {
		t.Fatal(err)
	}
	for _, n := range grow.Adds {
		delete(m[Internal], n)
	}
	if v := x.View(); !v.small.Has(Internal) {
		t.Fatalf("a list of %d numbers is not in the table", len(m[Internal]))
	}
	checkView(t, x.View(), m, probes())

	// Replace a small list, then remove one.
	install(Litigator, npas[:1], 50)
	checkView(t, x.View(), m, probes())
	if !x.Remove(ct) {
		t.Fatal("state:CT not removed")
	}
	delete(m, ct)
	if v := x.View(); v.small.Has(ct) {
		t.Fatal("a removed list is still in the table")
	}
	checkView(t, x.View(), m, probes())
}

// TestIndexSmallBudget installs small lists until their members pass
// smallBudget: the list that would pass it stays on its set, and every
// lookup is still right.
func TestIndexSmallBudget(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(43, 44))
	x := NewIndex()
	m := indexModel{}
	var probes []uint64
	for i := range 4 {
		l := ListID(int(firstState) + i)
		members := map[uint64]bool{}
		var b Builder
		for len(members) < smallMax*3/4 {
			n := 2_000_000_000 + rng.Uint64N(8_000_000_000)
			members[n] = true
			if err := b.Add(n); err != nil {
				t.Fatal(err)
			}
			if len(probes) < 20000 {
				probes = append(probes, n, n+1)
			}
		}
		if _, err := x.Replace(Meta{List: l}, b.Build()); err != nil {
			t.Fatal(err)
		}
		m[l] = members
	}
	v := x.View()
	if want := Hits(3) << firstState; v.small != want {
		t.Fatalf("small lists %v, want %v (two lists of %d within a budget of %d)", v.small, want, smallMax*3/4, smallBudget)
	}
	checkView(t, v, m, probes)
}
