package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/dbtest"
)

// TestBenchDial runs `heed bench dial --testbed --json` small: it starts its
// own testbed, makes and drops a scratch database, checks the PSTN CDR
// itself, and prints exactly the four figures. Speed is never asserted.
func TestBenchDial(t *testing.T) {
	t.Parallel()
	if os.Getenv("HEED_SKIP_ASTERISK") == "1" {
		t.Skip("HEED_SKIP_ASTERISK=1: skipping the Asterisk tier")
	}
	// Test databases cannot create databases, so the bench runs in place.
	db := dbtest.New(t)
	env := map[string]string{"DATABASE_URL": db.Config().ConnString()}
	out, stderr, err := runHeed(env, "bench", "dial", "--testbed", "--in-place", "--json", "--calls", "20", "--concurrency", "5", "--rounds", "1", "--warmup", "-1")
	require.NoError(t, err, stderr)
	require.Contains(t, stderr, "exactly one record per call of every phase")
	require.Equal(t, 1, strings.Count(out, "\n"), out)
	var figures map[string]float64
	require.NoError(t, json.Unmarshal([]byte(out), &figures), out)
	require.Len(t, figures, 4, out)
	for _, k := range []string{"heed_cps", "bare_ari_cps", "ratio", "heed_cpu_ms_per_call"} {
		require.Contains(t, figures, k)
		require.Positive(t, figures[k], k)
	}

	// In place, the database keeps the campaign, completed, with one
	// ended attempt per contact.
	var campaigns, attempts int
	require.NoError(t, db.QueryRow(t.Context(), `SELECT count(*) FROM campaigns WHERE name LIKE 'bench dial %' AND status = 'completed'`).Scan(&campaigns))
	require.NoError(t, db.QueryRow(t.Context(), `SELECT count(*) FROM attempts WHERE status = 'ended' AND decision = 'allow'`).Scan(&attempts))
	require.Equal(t, 1, campaigns)
	require.Equal(t, 20, attempts)

	_, _, err = runHeed(map[string]string{}, "bench", "dial", "--testbed")
	require.ErrorIs(t, err, errUsage, "no database")
}
