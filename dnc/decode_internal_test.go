package dnc

import (
	"math/rand/v2"
	"testing"
)

// chunkCase is one encoded chunk with the members it holds.
type chunkCase struct {
	members chunkBits
	enc     []byte // the chunk followed by exactly segPad bytes, as at the end of a segment
}

// randomChunk encodes a thousands block of k members drawn by rng; with
// clustered set, the members come in runs, which makes long buckets.
func randomChunk(rng *rand.Rand, k int, clustered bool) chunkCase {
	var b chunkBits
	for b.count() < k {
		r := rng.UintN(chunkSpan)
		if clustered {
			for j := uint(0); j < 1+rng.UintN(12) && r+j < chunkSpan && b.count() < k; j++ {
				b.set(r + j)
			}
			continue
		}
		b.set(r)
	}
	var tmp [maxChunkBytes]byte
	size := encodeChunk(&b, b.count(), tmp[:])
	enc := make([]byte, size+segPad)
	copy(enc, tmp[:size])
	return chunkCase{members: b, enc: enc}
}

// TestChunkLookupPaths checks every way of looking a suffix up in a chunk
// (chunkContains, the fast path efFast, chunks1) against the block's
// bitmap, for every suffix, over chunks of every density, random and
// clustered, and checks that the fast path takes the common cases.
func TestChunkLookupPaths(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	var fastGo, total int
	var sparseFast, sparse int // lookups in random chunks of at most 128 members
	sizes := []int{1, 2, 3, 4, 5, 7, 8, 15, 16, 31, 32, 63, 64, 98, 127, 128, 200, 255, 256, 300,
		450, 500, 501, 600, 750, 800, 900, 990, 998, 999, 1000}
	for range 30 {
		sizes = append(sizes, 1+rng.IntN(chunkSpan))
	}
	for _, k := range sizes {
		for _, clustered := range []bool{false, true} {
			for range 4 {
				cc := randomChunk(rng, k, clustered)
				c := cc.enc
				for r := range uint(chunkSpan) {
					want := cc.members.has(r)
					if got := chunkContains(c, r); got != want {
						t.Fatalf("k=%d clustered=%v r=%d: chunkContains = %v, want %v", k, clustered, r, got, want)
					}
					if k <= 128 && !clustered {
						sparse++
					}
					if got, ok := efFast(c, r); ok {
						fastGo++
						if k <= 128 && !clustered {
							sparseFast++
						}
						if got != want {
							t.Fatalf("k=%d clustered=%v r=%d: efFast = %v, want %v", k, clustered, r, got, want)
						}
					}
					if got := chunks1(c, r); got != want {
						t.Fatalf("k=%d clustered=%v r=%d: chunks1 = %v, want %v", k, clustered, r, got, want)
					}
					total++
				}
			}
		}
	}
	t.Logf("fast path: %d of %d lookups", fastGo, total)
	if sparseFast < sparse*9/10 {
		t.Fatalf("the fast path took only %d of %d lookups in random chunks of at most 128 members", sparseFast, sparse)
	}
}
