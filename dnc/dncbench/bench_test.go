package dncbench_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dnc/dncbench"
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
