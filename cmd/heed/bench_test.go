package main

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/dbtest"
)

// TestBenchDNC runs `heed bench dnc --json` on a small data set, with the
// PostgreSQL baseline against a real database, and checks the report's
// shape and that every structure measured what it can.
func TestBenchDNC(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": dbtest.URL(t)}
	out, stderr, err := runHeed(env, "bench", "dnc", "--numbers", "20000", "--phase", "100ms", "--json",
		"--structures", "heed,map,sorted,roaring,postgres")
	require.NoError(t, err, stderr)
	var rep struct {
		Numbers int `json:"numbers"`
		Results []struct {
			Name              string   `json:"name"`
			BitsPerNumber     *float64 `json:"bits_per_number"`
			BuildNumbersPerS  *float64 `json:"build_numbers_per_s"`
			LookupDependentNs *float64 `json:"lookup_dependent_ns"`
			LookupBatchedNs   *float64 `json:"lookup_batched_ns"`
			Error             string   `json:"error"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Equal(t, 20000, rep.Numbers)
	names := []string{}
	for _, r := range rep.Results {
		names = append(names, r.Name)
		require.Empty(t, r.Error, r.Name)
		require.NotNil(t, r.BuildNumbersPerS, r.Name)
		require.NotNil(t, r.LookupDependentNs, r.Name)
		require.NotNil(t, r.LookupBatchedNs, r.Name)
		require.Positive(t, *r.LookupDependentNs, r.Name)
	}
	require.Equal(t, []string{"heed", "map", "sorted", "roaring", "postgres"}, names)
}

// TestBenchGate runs `heed bench gate --json` small, with the SQL side on a
// real database, and checks the report. It does not run in parallel: the
// report counts allocations process-wide, and parallel tests (the dnc
// benchmark's structures above all) would count in it.
func TestBenchGate(t *testing.T) { //nolint:paralleltest // see above
	env := map[string]string{"DATABASE_URL": dbtest.URL(t)}
	out, stderr, err := runHeed(env, "bench", "gate", "--dnc-numbers", "20000", "--consents", "5000", "--phase", "100ms", "--rounds", "2", "--json")
	require.NoError(t, err, stderr)
	var rep struct {
		DecisionsPerS     *float64 `json:"decisions_per_s"`
		AllocsPerDecision *float64 `json:"allocs_per_decision"`
		SQLDecisionsPerS  *float64 `json:"sql_decisions_per_s"`
		Single            *float64 `json:"single_decisions_per_s"`
		BatchVsSingle     *float64 `json:"batch_vs_single"`
		BatchVsSQL        *float64 `json:"batch_vs_sql"`
		BatchMismatches   *int     `json:"batch_mismatches"`
		Rounds            int      `json:"rounds"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.NotNil(t, rep.DecisionsPerS)
	require.Positive(t, *rep.DecisionsPerS)
	require.NotNil(t, rep.AllocsPerDecision)
	// The count is process-wide, so goroutines other tests leave behind
	// add a little noise; the zero itself is asserted with AllocsPerRun in
	// gatebench and dialer.
	require.Less(t, *rep.AllocsPerDecision, 0.05, "a decision allocates nothing")
	require.NotNil(t, rep.SQLDecisionsPerS)
	require.Positive(t, *rep.SQLDecisionsPerS)
	// The headline figure is the batch gate's; the single one is beside it.
	require.NotNil(t, rep.Single)
	require.Positive(t, *rep.Single)
	require.NotNil(t, rep.BatchVsSingle)
	require.InDelta(t, *rep.DecisionsPerS / *rep.Single, *rep.BatchVsSingle, 1e-6)
	require.NotNil(t, rep.BatchVsSQL)
	require.InDelta(t, *rep.DecisionsPerS / *rep.SQLDecisionsPerS, *rep.BatchVsSQL, 1e-6)
	require.NotNil(t, rep.BatchMismatches)
	require.Zero(t, *rep.BatchMismatches)
	require.Equal(t, 2, rep.Rounds, "--rounds")
}

// TestBenchGateCPUProfile checks that `heed bench gate --cpuprofile FILE`
// writes a CPU profile (gzip-compressed pprof) whose samples include the
// batch gate, the loop make pgo optimizes for. It does not run in parallel:
// the CPU profiler is process-wide.
func TestBenchGateCPUProfile(t *testing.T) { //nolint:paralleltest // see above
	path := filepath.Join(t.TempDir(), "gate.pprof")
	_, stderr, err := runHeed(map[string]string{}, "bench", "gate", "--dnc-numbers", "20000", "--consents", "2000",
		"--phase", "200ms", "--cpuprofile", path)
	require.NoError(t, err, stderr)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err, "a pprof profile is gzip-compressed")
	raw, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Contains(t, string(raw), "dialer.(*PolicyGate).CheckBatch", "the profile samples the batch gate")
}
