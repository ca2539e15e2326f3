package dnc

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
)

// maxSegments is how many data segments a set may reference before Apply
// compacts it into one.
const maxSegments = 1024

// ApplyStats counts what Apply did.
type ApplyStats struct {
	// Added is the number of additions that were not members before.
	Added int
	// Removed is the number of deletions that were members before.
	Removed int
	// AlreadyPresent is the number of additions that were members already.
	AlreadyPresent int
	// Absent is the number of deletions that were not members.
	Absent int
	// Exchanges and Chunks count the exchanges and thousands blocks that
	// were re-encoded.
	Exchanges, Chunks int
	// Compacted reports whether the new set was compacted into one segment.
	Compacted bool
}

// parallelApply is the change-list length from which Apply splits the work
// between goroutines, one per CPU.
const parallelApply = 1 << 16

// Apply returns a new set: s without dels, then with adds, so a number in
// both lists is a member of the result (for a do-not-call list the safe
// reading). s itself is not changed, and the new set shares every exchange
// that no change touches with s. The inputs may be in any order and hold
// duplicates. When a number is out of range Apply returns an error wrapping
// ErrOutOfRange and applies nothing. Long change lists are applied by
// several goroutines, each taking a range of area codes.
func (s *Set) Apply(adds, dels []uint64) (*Set, ApplyStats, error) {
	var st ApplyStats
	adds, err := sortedUnique(adds)
	if err != nil {
		return nil, st, fmt.Errorf("apply additions: %w", err)
	}
	dels, err = sortedUnique(dels)
	if err != nil {
		return nil, st, fmt.Errorf("apply deletions: %w", err)
	}
	if len(adds) == 0 && len(dels) == 0 {
		return s, st, nil
	}
	workers := 1
	if n := len(adds) + len(dels); n >= parallelApply {
		workers = min(runtime.GOMAXPROCS(0), n/(parallelApply/2), 16)
	}
	if len(s.segs)+workers > maxSegments {
		s = s.compact()
		st.Compacted = true
	}

	ns := &Set{npa: s.npa, n: s.n, live: s.live, npas: s.npas}
	parts := splitByArea(adds, dels, workers)
	results := make([]applyPart, len(parts))
	var wg sync.WaitGroup
	for w := range parts {
		wg.Go(func() {
			results[w] = s.applyRange(ns, parts[w].adds, parts[w].dels, uint16(len(s.segs)+w))
		})
	}
	wg.Wait()
	ns.segs = slices.Clip(s.segs)
	for _, r := range results {
		ns.segs = append(ns.segs, r.data)
		ns.live += r.live
		ns.npas += r.npas
		st.Added += r.st.Added
		st.Removed += r.st.Removed
		st.AlreadyPresent += r.st.AlreadyPresent
		st.Absent += r.st.Absent
		st.Exchanges += r.st.Exchanges
		st.Chunks += r.st.Chunks
	}
	ns.n += st.Added - st.Removed
	if ns.deadBytes() > ns.live+1<<20 {
		ns = ns.compact()
		st.Compacted = true
	}
	return ns, st, nil
}

// changeRange is the part of a change list one goroutine applies.
type changeRange struct{ adds, dels []uint64 }

// splitByArea splits sorted change lists into at most n ranges of about
// equal length that do not share an area code.
func splitByArea(adds, dels []uint64, n int) []changeRange {
	var parts []changeRange
	total := len(adds) + len(dels)
	for n > 1 && len(adds)+len(dels) > 0 {
		// Cut at the area code that holds the target-th change.
		target := total / n
		i := min(target*len(adds)/max(len(adds)+len(dels), 1), len(adds))
		var pivot uint64
		if i < len(adds) {
			pivot = adds[i]
		} else {
			pivot = dels[min(target-i, len(dels)-1)]
		}
		limit := (pivot/npaSpan + 1) * npaSpan
		a, restA := splitBelow(adds, limit)
		d, restD := splitBelow(dels, limit)
		parts = append(parts, changeRange{a, d})
		adds, dels = restA, restD
		total = len(adds) + len(dels)
		n--
	}
	if len(adds)+len(dels) > 0 || len(parts) == 0 {
		parts = append(parts, changeRange{adds, dels})
	}
	return parts
}

// applyPart is what one goroutine of Apply produced.
type applyPart struct {
	data []byte // the new segment
	st   ApplyStats
	live int64 // change in data bytes in use
	npas int   // change in area codes
}

// applyRange applies sorted changes to the exchanges they touch, writing
// the re-encoded exchanges into a new segment with ID segID and their
// entries into copies of their area codes' tables in ns. Ranges given to
// concurrent calls must not share an area code.
func (s *Set) applyRange(ns *Set, adds, dels []uint64, segID uint16) applyPart {
	var r applyPart
	// Size the segment: the old bytes of every touched exchange plus room
	// for growth.
	estimate := 2*len(adds) + 4*maxChunkBytes
	forEachExchange(adds, dels, func(ex uint64, _, _ []uint64) {
		if t := s.npa[ex/exchPerNPA]; t != nil {
			estimate += t[ex%exchPerNPA].bytes()
		}
	})
	data := make([]byte, 0, estimate+segPad)
	cloned := map[uint64]bool{}
	var tmp [maxChunkBytes]byte
	var cb chunkBits
	st := &r.st
	forEachExchange(adds, dels, func(ex uint64, exAdds, exDels []uint64) {
		a := ex / exchPerNPA
		old := s.npa[a]
		if !cloned[a] {
			t := new(npaTable)
			if old != nil {
				*t = *old
			} else {
				r.npas++
			}
			ns.npa[a] = t
			cloned[a] = true
		}
		oe := exch{}
		if old != nil {
			oe = old[ex%exchPerNPA]
		}
		ne := exch{seg: segID, base: uint32(len(data))}
		st.Exchanges++
		base := ex * exchSpan
		for k := range uint(chunksPerExch) {
			lo, hi := base+uint64(k)*chunkSpan, base+uint64(k+1)*chunkSpan
			ka, exAddsRest := splitBelow(exAdds, hi)
			kd, exDelsRest := splitBelow(exDels, hi)
			exAdds, exDels = exAddsRest, exDelsRest
			var oldChunk []byte
			if oe.sizes[k] != 0 {
				oldChunk = s.segs[oe.seg][oe.offset(k):]
			}
			if len(ka) == 0 && len(kd) == 0 {
				data = append(data, oldChunk[:oe.sizes[k]]...)
				ne.sizes[k] = oe.sizes[k]
				continue
			}
			st.Chunks++
			if oldChunk != nil {
				decodeChunk(oldChunk, &cb)
			} else {
				cb = chunkBits{}
			}
			for _, n := range kd {
				r := uint(n - lo)
				if cb.has(r) {
					cb.clear(r)
					st.Removed++
				} else {
					st.Absent++
				}
			}
			for _, n := range ka {
				r := uint(n - lo)
				if cb.has(r) {
					st.AlreadyPresent++
				} else {
					cb.set(r)
					st.Added++
				}
			}
			size := encodeChunk(&cb, cb.count(), tmp[:])
			data = append(data, tmp[:size]...)
			ne.sizes[k] = uint8(size)
		}
		if ne.bytes() == 0 {
			ne = exch{}
		}
		r.live += int64(ne.bytes() - oe.bytes())
		ns.npa[a][ex%exchPerNPA] = ne
	})

	// Drop area codes that became empty.
	for a := range cloned {
		empty := true
		for x := range ns.npa[a] {
			if ns.npa[a][x].sizes != ([chunksPerExch]uint8{}) {
				empty = false
				break
			}
		}
		if empty {
			ns.npa[a] = nil
			r.npas--
		}
	}
	r.data = append(data, make([]byte, segPad)...)
	return r
}

// deadBytes returns the bytes of the set's segments that no exchange uses.
func (s *Set) deadBytes() int64 {
	total := int64(0)
	for _, seg := range s.segs {
		total += int64(len(seg) - segPad)
	}
	return total - s.live
}

// compact returns a copy of s whose data sits in one segment, in exchange
// order.
func (s *Set) compact() *Set {
	ns := &Set{n: s.n, live: s.live, npas: s.npas}
	data := allocData(int(s.live) + segPad)[:0]
	for a, t := range s.npa {
		if t == nil {
			continue
		}
		nt := new(npaTable)
		for x := range t {
			e := t[x]
			size := e.bytes()
			if size == 0 {
				continue
			}
			start := uint(e.base)
			ne := exch{sizes: e.sizes, base: uint32(len(data))}
			data = append(data, s.segs[e.seg][start:start+uint(size)]...)
			nt[x] = ne
		}
		ns.npa[a] = nt
	}
	ns.segs = [][]byte{data[:len(data)+segPad]}
	ns.packTables()
	return ns
}

// forEachExchange calls fn for every exchange that adds or dels (both sorted)
// touch, in increasing order, with the numbers of each in that exchange.
func forEachExchange(adds, dels []uint64, fn func(ex uint64, adds, dels []uint64)) {
	for len(adds) > 0 || len(dels) > 0 {
		ex := uint64(MaxNumber)
		if len(adds) > 0 {
			ex = adds[0] / exchSpan
		}
		if len(dels) > 0 {
			ex = min(ex, dels[0]/exchSpan)
		}
		end := (ex + 1) * exchSpan
		a, restA := splitBelow(adds, end)
		d, restD := splitBelow(dels, end)
		fn(ex, a, d)
		adds, dels = restA, restD
	}
}

// splitBelow splits the sorted xs into the numbers below limit and the rest.
func splitBelow(xs []uint64, limit uint64) ([]uint64, []uint64) {
	i := 0
	for i < len(xs) && xs[i] < limit {
		i++
	}
	return xs[:i], xs[i:]
}

// sortedUnique returns xs sorted without duplicates, copying it only when it
// is not so already. It fails when a number is out of range.
func sortedUnique(xs []uint64) ([]uint64, error) {
	ok := true
	for i, x := range xs {
		if x >= MaxNumber {
			return nil, fmt.Errorf("number %d: %w", x, ErrOutOfRange)
		}
		if i > 0 && xs[i-1] >= x {
			ok = false
		}
	}
	if ok {
		return xs, nil
	}
	c := slices.Clone(xs)
	slices.Sort(c)
	return slices.Compact(c), nil
}
