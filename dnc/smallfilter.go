package dnc

import "math/bits"

// The small lists of a view (the internal list, and the litigator and state
// lists while they are small) are screened by one bitmap filter before
// their Sets are asked. A Set's directory takes 16 KB per area code with
// members whatever the list's size, so a few thousand opt-outs spread over
// the ~330 US area codes make a 5 MB directory: without the filter, nearly
// every lookup paid a second directory access and chunk decode for the
// internal list, and missed the cache about as often as in the national
// list. The filter has a bit per hash of each member of every small list;
// a number whose bit is clear is on none of them, which one load from an
// array the core's cache holds settles for almost every number. A number
// whose bit is set is looked up exactly in the small lists' Sets, so the
// filter changes no answer, only how fast most of them come.
const (
	// smallMax is the largest list the filter screens.
	smallMax = 1 << 16
	// smallBudget bounds the members of all the lists the filter screens
	// together; a list that would take it over stays on its Set alone.
	smallBudget = 1 << 18
	// filterBitsPerMember sizes the filter: with this many bits a member,
	// about one number in 64 not on any small list still needs the exact
	// lookup.
	filterBitsPerMember = 64
	// filterMinBits and filterMaxBits bound the filter's size: 16 KB to
	// 512 KB.
	filterMinBits = 1 << 17
	filterMaxBits = 1 << 22
	// filterMul is the multiplier of the filter's multiply-shift hash.
	filterMul = 0x9e3779b97f4a7c15
)

// smallFilter is an immutable bitmap with a bit set for the hash of every
// member of the small lists.
type smallFilter struct {
	words []uint64
	shift uint // 64 - log2(bits): the bit is the hash's top bits
}

// newSmallFilter builds the filter of the sets of lists small in v.
func newSmallFilter(v *View, small Hits, members int) *smallFilter {
	nbits := filterMinBits
	for nbits < members*filterBitsPerMember && nbits < filterMaxBits {
		nbits <<= 1
	}
	f := &smallFilter{words: make([]uint64, nbits/64), shift: uint(64 - bits.TrailingZeros(uint(nbits)))}
	for l := range small.Lists() {
		for n := range v.lists[l].set.All() {
			b := n * filterMul >> f.shift
			f.words[b/64] |= 1 << (b % 64)
		}
	}
	return f
}

// mayHold reports whether n may be on one of the filter's lists: false
// means it is on none of them.
func (f *smallFilter) mayHold(n uint64) bool {
	b := n * filterMul >> f.shift
	return f.words[b/64]>>(b%64)&1 != 0
}

// bytes returns the filter's size in bytes.
func (f *smallFilter) bytes() int64 { return int64(len(f.words)) * 8 }

// setSmall chooses the view's small lists, in list order while they fit
// the budget, and builds their filter.
func (v *View) setSmall() {
	v.small, v.filter = 0, nil
	members := 0
	for l := range v.held.Lists() {
		n := v.lists[l].set.Len()
		if n <= smallMax && members+n <= smallBudget {
			v.small |= 1 << l
			members += n
		}
	}
	if v.small != 0 {
		v.filter = newSmallFilter(v, v.small, members)
	}
}

// lookupSmall returns the lists among small, which are small lists of the
// view, that hold n, which is below MaxNumber, asking their Sets only when
// the filter cannot rule them all out.
func (v *View) lookupSmall(n uint64, small Hits) Hits {
	if v.byNPA[n/npaSpan]&small == 0 || !v.filter.mayHold(n) {
		return 0
	}
	return v.smallHits(n, small)
}

// smallHits returns the lists among small that hold n, which is below
// MaxNumber, from their Sets: lookupSmall once the filter let n through.
func (v *View) smallHits(n uint64, small Hits) Hits {
	var h Hits
	for cand := v.byNPA[n/npaSpan] & small; cand != 0; cand &= cand - 1 {
		l := bits.TrailingZeros64(uint64(cand))
		if v.lists[l].set.Contains(n) {
			h |= 1 << l
		}
	}
	return h
}
