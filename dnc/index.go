package dnc

import (
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heed-dialer/heed/internal/phone"
)

// Index holds the installed lists as one immutable View behind an atomic
// pointer: lookups load the pointer and read, taking no lock and allocating
// nothing, while Replace and Apply build a new View and swap it in. Writers
// are serialised among themselves. The zero Index is empty and ready to use.
type Index struct {
	mu  sync.Mutex // serialises writers
	cur atomic.Pointer[View]
}

// NewIndex returns an empty index.
func NewIndex() *Index { return &Index{} }

// View is a consistent, immutable picture of every list in an Index.
type View struct {
	lists [MaxLists]listEntry
	held  Hits
	small Hits           // lists looked up in table instead of their sets
	table *smallTable    // the members of the small lists; nil when none
	byNPA [npaCount]Hits // lists with members in each area code
}

type listEntry struct {
	meta Meta
	set  *Set
}

var emptyView = &View{}

// View returns the current view. Lookups on one view see the same lists
// even while writers install new ones.
func (x *Index) View() *View {
	if v := x.cur.Load(); v != nil {
		return v
	}
	return emptyView
}

// Lookup returns the lists that hold n.
func (x *Index) Lookup(n uint64) Hits { return x.View().Lookup(n) }

// LookupBatch sets out[i] to the lists that hold ns[i]; out must be at least
// as long as ns.
func (x *Index) LookupBatch(ns []uint64, out []Hits) { x.View().LookupBatch(ns, out) }

// LookupPhone returns the lists that hold a parsed number, or an error
// wrapping phone.ErrNotNANP when it is outside the NANP.
func (x *Index) LookupPhone(p phone.Number) (Hits, error) {
	n, err := p.NANP()
	if err != nil {
		return 0, fmt.Errorf("dnc lookup: %w", err)
	}
	return x.Lookup(n), nil
}

// Meta returns the metadata of an installed list.
func (x *Index) Meta(l ListID) (Meta, bool) {
	m, _, ok := x.View().List(l)
	return m, ok
}

// Replace installs set as the whole content of meta.List, replacing what
// the list held. It fills in Count, Version (one more than before) and, when
// zero, Updated, and returns the metadata installed.
func (x *Index) Replace(meta Meta, set *Set) (Meta, error) {
	if !meta.List.Valid() {
		return Meta{}, fmt.Errorf("replace %v: %w", meta.List, ErrUnknownList)
	}
	if set == nil {
		set = &Set{}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.View()
	meta.Version = old.lists[meta.List].meta.Version + 1
	meta.Count = set.Len()
	if meta.Updated.IsZero() {
		meta.Updated = x.clock()
	}
	x.install(old, meta, set, nil)
	return meta, nil
}

// Change is a list of additions and deletions for one list.
type Change struct {
	// Adds and Dels are the numbers to add and remove, in any order; a
	// number in both ends up in the list.
	Adds, Dels []uint64
	// Seq is the change's sequence number. When it is not zero it must be
	// greater than the list's Seq, which it then becomes.
	Seq uint64
	// AsOf and Source, when set, replace the list's.
	AsOf   time.Time
	Source string
}

// Apply applies a change to list l without rebuilding it: only the touched
// exchanges are re-encoded and the rest is shared with the previous view. A
// list that is not installed yet starts empty. It returns ErrStaleChange
// (wrapped) when ch.Seq is not newer than the list's.
func (x *Index) Apply(l ListID, ch Change) (Meta, ApplyStats, error) {
	if !l.Valid() {
		return Meta{}, ApplyStats{}, fmt.Errorf("apply to %v: %w", l, ErrUnknownList)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.View()
	e := old.lists[l]
	if ch.Seq != 0 && ch.Seq <= e.meta.Seq {
		return e.meta, ApplyStats{}, fmt.Errorf("apply change %d to %v at %d: %w", ch.Seq, l, e.meta.Seq, ErrStaleChange)
	}
	set := e.set
	if set == nil {
		set = &Set{}
	}
	ns, st, err := set.Apply(ch.Adds, ch.Dels)
	if err != nil {
		return e.meta, st, fmt.Errorf("apply to %v: %w", l, err)
	}
	meta := e.meta
	meta.List = l
	meta.Count = ns.Len()
	meta.Version++
	meta.Updated = x.clock()
	if ch.Seq != 0 {
		meta.Seq = ch.Seq
	}
	if !ch.AsOf.IsZero() {
		meta.AsOf = ch.AsOf
	}
	if ch.Source != "" {
		meta.Source = ch.Source
	}
	x.install(old, meta, ns, &ch)
	return meta, st, nil
}

// Remove uninstalls list l and reports whether it was installed.
func (x *Index) Remove(l ListID) bool {
	if !l.Valid() {
		return false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.View()
	if old.lists[l].set == nil {
		return false
	}
	nv := *old
	nv.lists[l] = listEntry{}
	nv.held &^= 1 << l
	if old.small.Has(l) {
		nv.small &^= 1 << l
		nv.table = old.table.without(1<<l, old.smallCount(l)).done()
	}
	for a := range nv.byNPA {
		nv.byNPA[a] &^= 1 << l
	}
	x.cur.Store(&nv)
	return true
}

// install publishes a copy of old with list meta.List set to set. ch is
// the change that made set from the list's set in old, or nil when set
// replaces it.
func (x *Index) install(old *View, meta Meta, set *Set, ch *Change) {
	nv := *old
	l := meta.List
	nv.lists[l] = listEntry{meta: meta, set: set}
	nv.held |= 1 << l
	nv.installSmall(old, l, set, ch)
	for a, t := range set.npa {
		if t != nil {
			nv.byNPA[a] |= 1 << l
		} else {
			nv.byNPA[a] &^= 1 << l
		}
	}
	x.cur.Store(&nv)
}

func (x *Index) clock() time.Time { return time.Now() }

// smallCount returns how many numbers the lists in the view's table hold
// together, counting a number once per list, leaving out list skip.
func (v *View) smallCount(skip ListID) int {
	n := 0
	for l := range (v.small &^ (1 << skip)).Lists() {
		n += v.lists[l].set.Len()
	}
	return n
}

// installSmall sets the view's table and small lists for list l, whose set
// in old was changed by ch (or replaced, when ch is nil) to set: l is
// looked up in the table when it has at most smallMax numbers and the
// table stays within smallBudget. A change to a list already in the table
// touches only the entries of its numbers.
func (v *View) installSmall(old *View, l ListID, set *Set, ch *Change) {
	bit := Hits(1) << l
	was := old.small.Has(l)
	others := old.smallCount(l)
	now := set.Len() <= smallMax && others+set.Len() <= smallBudget
	switch {
	case was && now && ch != nil:
		// Deletions first: a number in both lists ends up in the list,
		// as Set.Apply has it.
		e := old.table.edit()
		for _, n := range ch.Dels {
			e.set(n, bit, false)
		}
		for _, n := range ch.Adds {
			e.set(n, bit, true)
		}
		v.table = e.done()
	case was || now:
		var e *smallEdit
		if was {
			e = old.table.without(bit, others+set.Len())
		} else {
			e = old.table.edit()
		}
		if now {
			for n := range set.All() {
				e.set(n, bit, true)
			}
		}
		v.table = e.done()
	}
	v.small = old.small &^ bit
	if now {
		v.small |= bit
	}
}

// Lookup returns the lists of the view that hold n.
func (v *View) Lookup(n uint64) Hits {
	if n >= MaxNumber {
		return 0
	}
	var h Hits
	if v.table != nil {
		h = v.table.lookup(n)
	}
	for cand := v.byNPA[n/npaSpan] &^ v.small; cand != 0; cand &= cand - 1 {
		l := bits.TrailingZeros64(uint64(cand))
		if v.lists[l].set.Contains(n) {
			h |= 1 << l
		}
	}
	return h
}

// LookupBatch sets out[i] to the lists of the view that hold ns[i]; out must
// be at least as long as ns. It allocates nothing.
func (v *View) LookupBatch(ns []uint64, out []Hits) {
	out = out[:len(ns)]
	for len(ns) > 0 {
		w := min(batchWindow, len(ns))
		v.lookupWindow(ns[:w], out[:w])
		ns, out = ns[w:], out[w:]
	}
}

// lookupWindow is LookupBatch for at most batchWindow numbers. A first
// pass notes the lists each number's area code has members of and checks
// the small lists' table's tag words, which answer most numbers at once;
// then each large list is looked up in its set for the numbers in its area
// codes, or for all of them when each is in one, which spares gathering
// them.
func (v *View) lookupWindow(ns []uint64, out []Hits) {
	out = out[:len(ns)]
	union, all := Hits(0), ^Hits(0)
	if t := v.table; t != nil {
		// t.probe, inlined by hand: the compiler does not.
		tags, mul := t.tags, t.mul
		bmask := uint(len(tags) - 1)
		bshift, tshift := t.bshift&63, (t.bshift-7)&63
		for i, n := range ns {
			h := Hits(0)
			if n < MaxNumber {
				a := v.byNPA[n/npaSpan]
				union |= a
				all &= a
				x := n * mul
				tw := tags[uint(x>>bshift)&bmask]
				tag := x >> tshift & 0x7f
				y := tw&tagMask ^ (tag|uint64(b2uint(tag == 0)))*ones8
				if (y-ones8)&^y&high8|tw&ovfTag != 0 {
					h = t.lookupSlow(n)
				}
			} else {
				all = 0
			}
			out[i] = h
		}
	} else {
		for i, n := range ns {
			if n < MaxNumber {
				a := v.byNPA[n/npaSpan]
				union |= a
				all &= a
			} else {
				all = 0
			}
			out[i] = 0
		}
	}
	for large := union &^ v.small; large != 0; large &= large - 1 {
		l := ListID(bits.TrailingZeros64(uint64(large)))
		if all.Has(l) {
			v.lists[l].set.containsWindow(ns, out, 1<<l)
		} else {
			v.lookupSome(l, ns, out)
		}
	}
}

// lookupSome adds list l to out[i] for every ns[i] in its area codes that
// it holds: lookupWindow's path for a list that some of the numbers cannot
// be on, a state's list mostly.
func (v *View) lookupSome(l ListID, ns []uint64, out []Hits) {
	var (
		idx   [batchWindow]int32
		sub   [batchWindow]uint64
		found [batchWindow]Hits
	)
	k := 0
	for i, n := range ns {
		if n < MaxNumber && v.byNPA[n/npaSpan].Has(l) {
			idx[k], sub[k] = int32(i), n
			k++
		}
	}
	v.lists[l].set.containsWindow(sub[:k], found[:k], 1<<l)
	for j, h := range found[:k] {
		out[idx[j]] |= h
	}
}

// Held returns the lists installed in the view.
func (v *View) Held() Hits { return v.held }

// List returns the metadata and set of list l, and whether it is installed.
func (v *View) List(l ListID) (Meta, *Set, bool) {
	if !l.Valid() || v.lists[l].set == nil {
		return Meta{}, nil, false
	}
	e := v.lists[l]
	return e.meta, e.set, true
}

// Lists returns the metadata of every installed list, in ID order.
func (v *View) Lists() []Meta {
	var out []Meta
	for l := range v.held.Lists() {
		out = append(out, v.lists[l].meta)
	}
	return out
}

// Bytes returns the memory the view's sets and its table of small lists
// reference, counting data that several lists or views share once per
// list.
func (v *View) Bytes() int64 {
	b := v.table.bytes()
	for l := range v.held.Lists() {
		b += v.lists[l].set.Bytes()
	}
	return b
}
