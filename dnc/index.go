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
	byNPA [npaCount]Hits // lists with members in each area code
	// small are the lists screened by filter (see smallFilter); filter is
	// nil when there are none.
	small  Hits
	filter *smallFilter
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
	x.install(old, meta, set)
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
	x.install(old, meta, ns)
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
	for a := range nv.byNPA {
		nv.byNPA[a] &^= 1 << l
	}
	nv.setSmall()
	x.cur.Store(&nv)
	return true
}

// install publishes a copy of old with list meta.List set to set.
func (x *Index) install(old *View, meta Meta, set *Set) {
	nv := *old
	l := meta.List
	nv.lists[l] = listEntry{meta: meta, set: set}
	nv.held |= 1 << l
	for a, t := range set.npa {
		if t != nil {
			nv.byNPA[a] |= 1 << l
		} else {
			nv.byNPA[a] &^= 1 << l
		}
	}
	nv.setSmall()
	x.cur.Store(&nv)
}

func (x *Index) clock() time.Time { return time.Now() }

// Lookup returns the lists of the view that hold n.
func (v *View) Lookup(n uint64) Hits {
	if n >= MaxNumber {
		return 0
	}
	h := v.lookupSmall(n, v.small)
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
func (v *View) LookupBatch(ns []uint64, out []Hits) { v.LookupBatchIn(ns, ^Hits(0), out) }

// LookupBatchIn is LookupBatch asking only the lists in lists: out[i] is
// the lists among them that hold ns[i]. A caller that knows which lists
// can matter to its numbers saves the others' lookups.
func (v *View) LookupBatchIn(ns []uint64, lists Hits, out []Hits) {
	out = out[:len(ns)]
	const window = 256
	var (
		idx   [window]int32
		sub   [window]uint64
		found [window]bool
	)
	large, small := lists&^v.small, lists&v.small
	for len(ns) > 0 {
		w := min(window, len(ns))
		// union: the lists with members in some number's area code; all:
		// those with members in every one's, which are looked up for the
		// whole window without gathering its numbers.
		// The small lists' filter is asked on the way; the few numbers it
		// does not rule out (idx[:k]) are looked up in their sets.
		union, all := Hits(0), ^Hits(0)
		k := 0
		for i, n := range ns[:w] {
			out[i] = 0
			if n < MaxNumber {
				h := v.byNPA[n/npaSpan]
				union |= h
				all &= h
				if h&small != 0 && v.filter.mayHold(n) {
					idx[k] = int32(i)
					k++
				}
			} else {
				all = 0
			}
		}
		for _, i := range idx[:k] {
			out[i] = v.smallHits(ns[i], small)
		}
		for union &= large; union != 0; union &= union - 1 {
			l := ListID(bits.TrailingZeros64(uint64(union)))
			if all.Has(l) {
				v.lists[l].set.ContainsBatch(ns[:w], found[:w])
				for i, ok := range found[:w] {
					out[i] |= Hits(b2uint(ok)) << l
				}
				continue
			}
			k = 0
			for i, n := range ns[:w] {
				if n < MaxNumber && v.byNPA[n/npaSpan].Has(l) {
					idx[k], sub[k] = int32(i), n
					k++
				}
			}
			v.lists[l].set.ContainsBatch(sub[:k], found[:k])
			for j := range k {
				if found[j] {
					out[idx[j]] |= 1 << l
				}
			}
		}
		ns, out = ns[w:], out[w:]
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

// Bytes returns the memory the view's sets and its small lists' filter
// reference, counting data that several lists or views share once per
// list.
func (v *View) Bytes() int64 {
	b := int64(0)
	if v.filter != nil {
		b += v.filter.bytes()
	}
	for l := range v.held.Lists() {
		b += v.lists[l].set.Bytes()
	}
	return b
}
