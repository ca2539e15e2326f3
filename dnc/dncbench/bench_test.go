package dncbench_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dnc/dncbench"
)

var (
	fullNumbers = flag.Int("dncbench.numbers", 0, "run TestRunFull with this many numbers")
	fullDataset = flag.String("dncbench.dataset", dncbench.Random, "data set of TestRunFull")
	fullOut     = flag.String("dncbench.out", "", "file to write TestRunFull's JSON report to")
	fullOnly    = flag.String("dncbench.structures", "", "comma-separated structures of TestRunFull; all when empty")
	fullNPAs    = flag.Int("dncbench.areacodes", 0, "area codes of TestRunFull's data set; all when 0")
)

func TestRunSmall(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{dncbench.Random, dncbench.Clustered} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			rep, err := dncbench.Run(t.Context(), dncbench.Options{
				Numbers: 20000, Dataset: kind, Queries: 1 << 14, PhaseTime: 50 * time.Millisecond,
				Structures: []string{"heed", "map", "sorted", "roaring"},
			})
			require.NoError(t, err)
			require.Equal(t, 20000, rep.Numbers)
			require.Len(t, rep.Results, 4)
			for _, r := range rep.Results {
				require.Empty(t, r.Error, r.Name)
				require.NotNil(t, r.BitsPerNumber, r.Name)
				require.NotNil(t, r.LookupDependentNs, r.Name)
				require.NotNil(t, r.LookupBatchedNs, r.Name)
				require.NotNil(t, r.ApplyChangesPerS, r.Name)
				require.NotNil(t, r.SnapshotLoadS, r.Name)
			}
			var js bytes.Buffer
			require.NoError(t, rep.WriteJSON(&js))
			var decoded map[string]any
			require.NoError(t, json.Unmarshal(js.Bytes(), &decoded))
			require.EqualValues(t, 20000, decoded["numbers"])
			var table bytes.Buffer
			require.NoError(t, rep.WriteTable(&table))
			require.Contains(t, table.String(), "heed")
		})
	}
}

// TestRunFull runs the whole comparison when -dncbench.numbers is given:
//
//	go test ./dnc/dncbench -run TestRunFull -timeout 3h -v \
//		-dncbench.numbers 260000000 -dncbench.out report.json
func TestRunFull(t *testing.T) {
	if *fullNumbers == 0 {
		t.Skip("set -dncbench.numbers to run")
	}
	opts := dncbench.Options{Numbers: *fullNumbers, Dataset: *fullDataset, AreaCodes: *fullNPAs, Log: os.Stderr}
	if *fullOnly != "" {
		opts.Structures = strings.Split(*fullOnly, ",")
	}
	rep, err := dncbench.Run(t.Context(), opts)
	require.NoError(t, err)
	require.NoError(t, rep.WriteTable(os.Stdout))
	if *fullOut != "" {
		f, err := os.Create(*fullOut)
		require.NoError(t, err)
		require.NoError(t, rep.WriteJSON(f))
		require.NoError(t, f.Close())
	}
}
