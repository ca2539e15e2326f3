package dnc_test

import (
	"bytes"
	"flag"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/dnc/dncbench"
)

var (
	benchNumbers = flag.Int("dnc.numbers", 2_000_000, "numbers in the data set of the dnc benchmarks")
	benchKind    = flag.String("dnc.dataset", dncbench.Random, "data set of the dnc benchmarks: random or clustered")
	benchNPAs    = flag.Int("dnc.areacodes", 3, "area codes of the dnc benchmarks' data set; 0 for all")
)

// benchData is generated once per test binary run.
var benchData = sync.OnceValues(func() (*benchFixture, error) {
	d, err := dncbench.Generate(dncbench.Spec{Kind: *benchKind, Numbers: *benchNumbers, Seed: 1, AreaCodes: *benchNPAs})
	if err != nil {
		return nil, err
	}
	var b dnc.Builder
	if err := b.AddMany(d.Numbers); err != nil {
		return nil, err
	}
	f := &benchFixture{data: d, set: b.Build(), queries: d.Queries(1<<20, 2)}
	f.adds, f.dels = d.Changes(max(*benchNumbers/100, 1000), 3)
	var snap bytes.Buffer
	if err := dnc.WriteSnapshot(&snap, dnc.Meta{List: dnc.National}, f.set); err != nil {
		return nil, err
	}
	f.snapshot = snap.Bytes()
	return f, nil
})

type benchFixture struct {
	data       *dncbench.Dataset
	set        *dnc.Set
	queries    []uint64
	adds, dels []uint64
	snapshot   []byte
}

func fixture(b *testing.B) *benchFixture {
	b.Helper()
	f, err := benchData()
	require.NoError(b, err)
	return f
}

// zero is always 0, but the compiler cannot know it.
var zero uint64

// BenchmarkContainsDependent chains lookups: each number depends on the
// result of the previous lookup, so their memory accesses cannot overlap.
func BenchmarkContainsDependent(b *testing.B) {
	f := fixture(b)
	b.ReportMetric(f.set.BitsPerNumber(), "bits/number")
	q, z, prev, hits := f.queries, zero, uint64(0), 0
	b.ResetTimer()
	for i := range b.N {
		n := q[i&(len(q)-1)] ^ prev&z
		prev = 0
		if f.set.Contains(n) {
			prev = 1
			hits++
		}
	}
	require.Positive(b, hits+1)
}

// BenchmarkContainsBatch looks up the queries in batches of 4,096.
func BenchmarkContainsBatch(b *testing.B) {
	f := fixture(b)
	out := make([]bool, 4096)
	b.ResetTimer()
	for i := 0; i < b.N; i += len(out) {
		off := i & (len(f.queries) - 1) &^ (len(out) - 1)
		f.set.ContainsBatch(f.queries[off:off+len(out)], out)
	}
}

// BenchmarkBuild builds the set from sorted numbers.
func BenchmarkBuild(b *testing.B) {
	f := fixture(b)
	b.ReportAllocs()
	for b.Loop() {
		var bl dnc.Builder
		require.NoError(b, bl.AddMany(f.data.Numbers))
		_ = bl.Build()
	}
	b.ReportMetric(float64(len(f.data.Numbers))*float64(b.N)/b.Elapsed().Seconds(), "numbers/s")
}

// BenchmarkImportText builds the set from an FTC flat file, parsing
// included.
func BenchmarkImportText(b *testing.B) {
	f := fixture(b)
	b.SetBytes(f.data.TextSize())
	for b.Loop() {
		res, err := dnc.Import(b.Context(), dnc.ImportOptions{}, dnc.Input{Name: "flat.txt", R: f.data.Text()})
		require.NoError(b, err)
		require.Equal(b, len(f.data.Numbers), res.Full.Len())
	}
	b.ReportMetric(float64(len(f.data.Numbers))*float64(b.N)/b.Elapsed().Seconds(), "numbers/s")
}

// BenchmarkApply applies a change list of 1% of the set.
func BenchmarkApply(b *testing.B) {
	f := fixture(b)
	for b.Loop() {
		_, _, err := f.set.Apply(f.adds, f.dels)
		require.NoError(b, err)
	}
	b.ReportMetric(float64(len(f.adds)+len(f.dels))*float64(b.N)/b.Elapsed().Seconds(), "changes/s")
}

// BenchmarkSnapshotLoad reads a snapshot from memory.
func BenchmarkSnapshotLoad(b *testing.B) {
	f := fixture(b)
	b.SetBytes(int64(len(f.snapshot)))
	for b.Loop() {
		_, _, err := dnc.ReadSnapshot(bytes.NewReader(f.snapshot))
		require.NoError(b, err)
	}
}
