package dnc_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dnc"
)

// TestChangeListDirectionFromName: a change line that says no direction
// takes it from a whole word of its file's name only, never from letters
// inside a word ("Fidelity", "Delaware", "model"); for the internal list
// (ImportOptions.OptOuts) it adds, and a name that says delete removes
// nothing: only a line that says so removes an opt-out.
func TestChangeListDirectionFromName(t *testing.T) {
	t.Parallel()
	const lines = "8605550161\n8605550162\n"
	both := []uint64{8605550161, 8605550162}
	for _, tc := range []struct {
		name             string
		optOuts          bool
		adds, dels       []uint64
		rejected, reason string
	}{
		// Registry change lists: the FTC's addition and deletion files.
		{name: "deletes.txt", dels: both},
		{name: "del.txt", dels: both},
		{name: "2025-06-01-deletions.txt", dels: both},
		{name: "changes.zip:changes/removed_numbers.csv", dels: both},
		{name: "AreaCodeDeletions.txt", dels: both},
		{name: "2025-06-01-additions.txt", adds: both},
		{name: "Added.TXT", adds: both},
		{name: "adds-and-deletes.txt", rejected: "change line without + or -"},
		{name: "Fidelity-optouts.txt", rejected: "change line without + or -"},
		{name: "Delaware.txt", rejected: "change line without + or -"},
		{name: "model.txt", rejected: "change line without + or -"},
		{name: "readdress.txt", rejected: "change line without + or -"},
		// The internal list: unmarked lines add, and a name never deletes.
		{name: "Fidelity-optouts.txt", optOuts: true, adds: both},
		{name: "Delaware.txt", optOuts: true, adds: both},
		{name: "model.txt", optOuts: true, adds: both},
		{name: "optouts-added.txt", optOuts: true, adds: both},
		{name: "deletes.txt", optOuts: true, rejected: "the file name says delete, but an opt-out is removed only by a line marked -"},
		{name: "removed.csv", optOuts: true, rejected: "the file name says delete"},
	} {
		res, err := dnc.Import(t.Context(), dnc.ImportOptions{OptOuts: tc.optOuts},
			dnc.Input{Name: tc.name, R: strings.NewReader(lines), Mode: dnc.ModeChanges})
		if tc.rejected != "" {
			var ge *dnc.GarbageError
			require.ErrorAs(t, err, &ge, "%s (opt-outs %v)", tc.name, tc.optOuts)
			require.EqualValues(t, 2, ge.Report.Rejected, tc.name)
			require.Contains(t, ge.Report.Examples[0].Reason, tc.rejected, tc.name)
			continue
		}
		require.NoError(t, err, "%s (opt-outs %v)", tc.name, tc.optOuts)
		require.Equal(t, tc.adds, res.Adds, "%s (opt-outs %v)", tc.name, tc.optOuts)
		require.Equal(t, tc.dels, res.Dels, "%s (opt-outs %v)", tc.name, tc.optOuts)
	}

	// Lines that say their direction are read the same whatever the name.
	for _, optOuts := range []bool{false, true} {
		res, err := dnc.Import(t.Context(), dnc.ImportOptions{OptOuts: optOuts},
			dnc.Input{Name: "deletes.txt", R: strings.NewReader("-8605550161\n+8605550162\n8605550163,delete\n"), Mode: dnc.ModeChanges})
		require.NoError(t, err)
		require.Equal(t, []uint64{8605550162}, res.Adds)
		require.Equal(t, []uint64{8605550161, 8605550163}, res.Dels)
	}
}
