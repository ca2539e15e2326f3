package dnc_test

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/phone"
)

func TestListNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"national", "internal", "litigator", "state:TX", "state:CT", "state:WY", "state:DC"} {
		id, err := dnc.ParseList(name)
		require.NoError(t, err, name)
		require.Equal(t, name, id.String())
		require.True(t, id.Valid())
	}
	id, err := dnc.ParseList(" State:tx ")
	require.NoError(t, err)
	require.Equal(t, "TX", id.State())
	require.Empty(t, dnc.National.State())
	for _, bad := range []string{"", "nation", "state:", "state:XX", "state:TEX", "federal"} {
		_, err := dnc.ParseList(bad)
		require.ErrorIs(t, err, dnc.ErrUnknownList, bad)
	}
	require.False(t, dnc.ListID(dnc.MaxLists).Valid())
	require.LessOrEqual(t, dnc.MaxLists, 64, "Hits has one bit per list")
}

func TestHits(t *testing.T) {
	t.Parallel()
	tx, err := dnc.StateList("TX")
	require.NoError(t, err)
	var h dnc.Hits
	require.False(t, h.Any())
	require.Equal(t, "none", h.String())
	h |= 1<<dnc.National | 1<<tx
	require.True(t, h.Any())
	require.True(t, h.Has(dnc.National))
	require.True(t, h.Has(tx))
	require.False(t, h.Has(dnc.Internal))
	require.False(t, h.Has(200))
	require.Equal(t, []dnc.ListID{dnc.National, tx}, slices.Collect(h.Lists()))
	require.Equal(t, "national,state:TX", h.String())
}

type indexBundle struct {
	idx     *dnc.Index
	tx, ct  dnc.ListID
	members map[dnc.ListID]model
}

func setupIndex(t *testing.T) *indexBundle {
	t.Helper()
	tx, err := dnc.StateList("TX")
	require.NoError(t, err)
	ct, err := dnc.StateList("CT")
	require.NoError(t, err)
	b := &indexBundle{idx: dnc.NewIndex(), tx: tx, ct: ct, members: map[dnc.ListID]model{}}
	rng := rand.New(rand.NewPCG(21, 22))
	lists := map[dnc.ListID][]uint64{
		dnc.National: {8605550101, 2145550100, 2145550101},
		tx:           {2145550100, 2145550199},
		ct:           {8605550101, 8605550102},
		dnc.Internal: {9725550100},
	}
	for range 5000 {
		lists[dnc.National] = append(lists[dnc.National], 2000000000+rng.Uint64N(8_000_000_000))
	}
	asOf := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for id, ns := range lists {
		meta, err := b.idx.Replace(dnc.Meta{List: id, Source: id.String() + ".txt", AsOf: asOf}, build(t, ns))
		require.NoError(t, err)
		require.Equal(t, uint64(1), meta.Version)
		require.Equal(t, len(newModel(ns)), meta.Count)
		require.False(t, meta.Updated.IsZero())
		b.members[id] = newModel(ns)
	}
	return b
}

// want returns the lists of the bundle that hold n.
func (b *indexBundle) want(n uint64) dnc.Hits {
	var h dnc.Hits
	for id, m := range b.members {
		if _, ok := m[n]; ok {
			h |= 1 << id
		}
	}
	return h
}

func TestIndexLookup(t *testing.T) {
	t.Parallel()
	b := setupIndex(t)
	require.Equal(t, dnc.Hits(1<<dnc.National|1<<b.ct), b.idx.Lookup(8605550101))
	require.Equal(t, dnc.Hits(1<<dnc.National|1<<b.tx), b.idx.Lookup(2145550100))
	require.Equal(t, dnc.Hits(1<<b.tx), b.idx.Lookup(2145550199))
	require.Equal(t, dnc.Hits(1<<dnc.Internal), b.idx.Lookup(9725550100))
	require.Zero(t, b.idx.Lookup(dnc.MaxNumber))

	hits, err := b.idx.LookupPhone(phone.Number("+18605550102"))
	require.NoError(t, err)
	require.Equal(t, dnc.Hits(1<<b.ct), hits)
	_, err = b.idx.LookupPhone(phone.Number("+442071234567"))
	require.ErrorIs(t, err, phone.ErrNotNANP)

	var ns []uint64
	for id := range b.members {
		ns = append(ns, b.members[id].sorted()...)
	}
	rng := rand.New(rand.NewPCG(23, 24))
	ns = append(ns, probes(rng, ns[:50])...)
	out := make([]dnc.Hits, len(ns))
	b.idx.LookupBatch(ns, out)
	for i, n := range ns {
		require.Equal(t, b.want(n), b.idx.Lookup(n), "%d", n)
		require.Equal(t, b.want(n), out[i], "%d", n)
	}

	v := b.idx.View()
	require.Equal(t, dnc.Hits(1<<dnc.National|1<<dnc.Internal|1<<b.tx|1<<b.ct), v.Held())
	metas := v.Lists()
	require.Len(t, metas, 4)
	require.Equal(t, dnc.National, metas[0].List)
	require.Positive(t, v.Bytes())
	_, _, ok := v.List(dnc.Litigator)
	require.False(t, ok)
}

func TestIndexApply(t *testing.T) {
	t.Parallel()
	b := setupIndex(t)
	before := b.idx.View()

	meta, st, err := b.idx.Apply(dnc.Internal, dnc.Change{Adds: []uint64{8605550177}, Dels: []uint64{9725550100}, Seq: 10})
	require.NoError(t, err)
	require.Equal(t, 1, st.Added)
	require.Equal(t, 1, st.Removed)
	require.Equal(t, uint64(10), meta.Seq)
	require.Equal(t, uint64(2), meta.Version)
	require.Equal(t, 1, meta.Count)
	require.Equal(t, "internal.txt", meta.Source)
	require.Equal(t, dnc.Hits(1<<dnc.Internal), b.idx.Lookup(8605550177))
	require.Zero(t, b.idx.Lookup(9725550100))
	require.Equal(t, dnc.Hits(1<<dnc.Internal), before.Lookup(9725550100), "an old view does not change")

	_, _, err = b.idx.Apply(dnc.Internal, dnc.Change{Adds: []uint64{8605550178}, Seq: 10})
	require.ErrorIs(t, err, dnc.ErrStaleChange)
	require.Zero(t, b.idx.Lookup(8605550178))

	// Seq 0 means unsequenced, and the list keeps its Seq.
	meta, _, err = b.idx.Apply(dnc.Internal, dnc.Change{Adds: []uint64{8605550178}, Source: "ivr"})
	require.NoError(t, err)
	require.Equal(t, uint64(10), meta.Seq)
	require.Equal(t, "ivr", meta.Source)

	// A list that is not installed starts empty.
	asOf := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	meta, _, err = b.idx.Apply(dnc.Litigator, dnc.Change{Adds: []uint64{3125550100}, AsOf: asOf})
	require.NoError(t, err)
	require.Equal(t, dnc.Litigator, meta.List)
	require.Equal(t, asOf, meta.AsOf)
	require.Equal(t, dnc.Hits(1<<dnc.Litigator), b.idx.Lookup(3125550100))

	_, _, err = b.idx.Apply(dnc.Internal, dnc.Change{Adds: []uint64{dnc.MaxNumber}, Seq: 11})
	require.ErrorIs(t, err, dnc.ErrOutOfRange)
	m, ok := b.idx.Meta(dnc.Internal)
	require.True(t, ok)
	require.Equal(t, uint64(10), m.Seq, "a failed change leaves the list as it was")

	_, _, err = b.idx.Apply(dnc.ListID(100), dnc.Change{})
	require.ErrorIs(t, err, dnc.ErrUnknownList)
	_, err = b.idx.Replace(dnc.Meta{List: dnc.ListID(100)}, nil)
	require.ErrorIs(t, err, dnc.ErrUnknownList)
}

func TestIndexReplaceAndRemove(t *testing.T) {
	t.Parallel()
	b := setupIndex(t)
	meta, err := b.idx.Replace(dnc.Meta{List: b.tx, Source: "tx2"}, build(t, []uint64{5125550100}))
	require.NoError(t, err)
	require.Equal(t, uint64(2), meta.Version)
	require.Zero(t, b.idx.Lookup(2145550199))
	require.Equal(t, dnc.Hits(1<<dnc.National), b.idx.Lookup(2145550100))
	require.Equal(t, dnc.Hits(1<<b.tx), b.idx.Lookup(5125550100))

	require.True(t, b.idx.Remove(b.tx))
	require.False(t, b.idx.Remove(b.tx))
	require.False(t, b.idx.Remove(dnc.ListID(200)))
	require.Zero(t, b.idx.Lookup(5125550100))
	_, ok := b.idx.Meta(b.tx)
	require.False(t, ok)

	var zero dnc.Index
	require.Zero(t, zero.Lookup(8605550101))
	_, err = zero.Replace(dnc.Meta{List: dnc.National}, nil)
	require.NoError(t, err)
	m, ok := zero.Meta(dnc.National)
	require.True(t, ok)
	require.Zero(t, m.Count)
}

func TestIndexConcurrentReadersAndWriters(t *testing.T) {
	t.Parallel()
	b := setupIndex(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			out := make([]dnc.Hits, 3)
			for {
				select {
				case <-stop:
					return
				default:
				}
				// 8605550101 is on the national list throughout.
				require.True(t, b.idx.Lookup(8605550101).Has(dnc.National))
				b.idx.LookupBatch([]uint64{8605550101, 1, 2145550100}, out)
				require.True(t, out[0].Has(dnc.National))
			}
		})
	}
	for i := range uint64(200) {
		_, _, err := b.idx.Apply(dnc.Internal, dnc.Change{Adds: []uint64{3035550000 + i}, Seq: i + 1})
		require.NoError(t, err)
		_, _, err = b.idx.Apply(dnc.National, dnc.Change{Adds: []uint64{3035550000 + i}, Dels: []uint64{3035550000 + i/2}})
		require.NoError(t, err)
	}
	close(stop)
	wg.Wait()
	m, ok := b.idx.Meta(dnc.Internal)
	require.True(t, ok)
	require.Equal(t, uint64(200), m.Seq)
	require.Equal(t, 201, m.Count)
}

// TestLookupsDoNotAllocate is not parallel: testing.AllocsPerRun refuses to
// run in parallel tests.
func TestLookupsDoNotAllocate(t *testing.T) {
	b := setupIndex(t)
	_, set, ok := b.idx.View().List(dnc.National)
	require.True(t, ok)
	ns := b.members[dnc.National].sorted()[:500]
	ns = append(ns, 1, dnc.MaxNumber, 2145550199)
	out := make([]bool, len(ns))
	hits := make([]dnc.Hits, len(ns))
	require.Zero(t, testing.AllocsPerRun(20, func() {
		for _, n := range ns {
			set.Contains(n)
		}
	}))
	require.Zero(t, testing.AllocsPerRun(20, func() { set.ContainsBatch(ns, out) }))
	require.Zero(t, testing.AllocsPerRun(20, func() {
		for _, n := range ns {
			b.idx.Lookup(n)
		}
	}))
	require.Zero(t, testing.AllocsPerRun(20, func() { b.idx.LookupBatch(ns, hits) }))
}
