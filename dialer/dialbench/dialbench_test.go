package dialbench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk/testbed"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dialer/dialbench"
	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/internal/phone"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestNumbers checks that the bench's numbers are distinct, valid, and all
// reach the PSTN simulator's answer-and-hang-up callee (09).
func TestNumbers(t *testing.T) {
	t.Parallel()
	seen := map[phone.Number]bool{}
	for i := range dialbench.MaxNumbers {
		n := dialbench.Number(i)
		p, err := phone.Parse(n.String())
		require.NoError(t, err, n)
		require.Equal(t, n, p)
		require.True(t, strings.HasSuffix(n.String(), "09"), n)
		require.False(t, seen[n], "%s twice", n)
		seen[n] = true
	}
	require.Equal(t, dialbench.Number(0), dialbench.Number(dialbench.MaxNumbers))
}

// TestDialBench runs a small bench against the real testbed and checks what
// can be checked without timing: every call of every phase ended, heed
// stored one attempt per contact and dialed no number twice, the PSTN
// simulator's CDR holds exactly one record per call of each phase, and the
// JSON report has its four figures. Speed is never asserted.
func TestDialBench(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tb := testbed.ForTest(ctx, t)
	db := dbtest.New(t)

	const calls, concurrency, rounds, warmup = 30, 10, 2, 5
	var progress bytes.Buffer
	rep, err := dialbench.Run(ctx, dialbench.Options{
		DB: db,
		ARI: dialer.ARIConfig{Name: "testbed", URL: tb.ARIURL, WebsocketURL: tb.WebsocketURL, Username: tb.ARIUser,
			Password: tb.ARIPassword, Application: fmt.Sprintf("bench-%d", os.Getpid()), Trunk: tb.Trunk, AMDContext: tb.AMDContext},
		Media:       dialer.Media{HostDir: tb.HostMediaDir, AsteriskDir: tb.AsteriskMediaDir},
		Calls:       calls,
		Concurrency: concurrency,
		Rounds:      rounds,
		Warmup:      warmup,
		Now:         dialbench.OfficeHours(),
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Progress:    &progress,
	})
	require.NoError(t, err, progress.String())
	t.Logf("\n%s", progress.String())

	require.Len(t, rep.Phases, 2*(rounds+1))
	kinds := []string{}
	callers := map[string]bool{}
	total := 0
	for _, ph := range rep.Phases {
		kinds = append(kinds, ph.Kind)
		want := calls
		if ph.Round == 0 {
			want = warmup
		}
		require.Equal(t, want, ph.Calls, "round %d %s: every call placed", ph.Round, ph.Kind)
		require.Equal(t, ph.Calls, ph.Ended, "round %d %s: every call ended", ph.Round, ph.Kind)
		require.Positive(t, ph.CallSeconds, "round %d %s: calls last", ph.Round, ph.Kind)
		require.Positive(t, ph.Seconds)
		require.Equal(t, want, ph.Causes[16], "round %d %s: every call ends with normal clearing: %v", ph.Round, ph.Kind, ph.Causes)
		require.Len(t, ph.Numbers, want)
		require.False(t, callers[ph.CallerID], "a caller ID per phase")
		callers[ph.CallerID] = true
		total += ph.Calls
		if ph.Kind != dialbench.KindHeed {
			continue
		}
		seen := map[phone.Number]bool{}
		for _, n := range ph.Numbers {
			require.False(t, seen[n], "round %d: heed dialed %s twice", ph.Round, n)
			seen[n] = true
		}
		// One attempt per contact, every one allowed and ended, and the
		// campaign completed.
		var attempts, contacts, perContactMax int
		var status string
		require.NoError(t, db.QueryRow(ctx, `SELECT count(*), count(DISTINCT contact_id) FROM attempts WHERE campaign_id = $1 AND decision = 'allow' AND status = 'ended'`,
			ph.CampaignID).Scan(&attempts, &contacts))
		require.NoError(t, db.QueryRow(ctx, `SELECT coalesce(max(n), 0) FROM (SELECT count(*) n FROM attempts WHERE campaign_id = $1 GROUP BY contact_id) x`,
			ph.CampaignID).Scan(&perContactMax))
		require.NoError(t, db.QueryRow(ctx, `SELECT status FROM campaigns WHERE id = $1`, ph.CampaignID).Scan(&status))
		require.Equal(t, want, attempts)
		require.Equal(t, want, contacts)
		require.Equal(t, 1, perContactMax, "one attempt per contact")
		require.Equal(t, "completed", status)
	}
	require.Equal(t, []string{"bare", "heed", "bare", "heed", "heed", "bare"}, kinds, "a warm-up, then alternating order")

	// The PSTN simulator's CDR: exactly one record per call of each phase.
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	recs, err := tb.WaitPSTNCalls(wctx, total)
	require.NoError(t, err)
	require.Len(t, recs, total, "no call beyond the phases' own")
	require.NoError(t, rep.CheckCDR(recs))
	for _, ph := range rep.Phases {
		want := map[string]int{}
		for _, n := range ph.Numbers {
			want[n.String()]++
		}
		got := map[string]int{}
		for _, r := range recs {
			if r.Src == ph.CallerID || strings.Contains(r.CLID, ph.CallerID) {
				got[r.Dst]++
				require.Equal(t, testbed.DispositionAnswered, r.Disposition, "the 09 callee answers")
			}
		}
		require.Equal(t, want, got, "round %d %s phase", ph.Round, ph.Kind)
	}
	// A wrong count is caught.
	bad := *rep
	bad.Phases = append([]dialbench.Phase(nil), rep.Phases...)
	bad.Phases[1].Calls++
	require.Error(t, bad.CheckCDR(recs))

	var out bytes.Buffer
	require.NoError(t, rep.WriteJSON(&out))
	var figures map[string]float64
	require.NoError(t, json.Unmarshal(out.Bytes(), &figures), out.String())
	require.Len(t, figures, 4, out.String())
	for _, k := range []string{"heed_cps", "bare_ari_cps", "ratio", "heed_cpu_ms_per_call"} {
		require.Contains(t, figures, k)
		require.Positive(t, figures[k], k)
	}
	out.Reset()
	require.NoError(t, rep.WriteTable(&out))
	require.Contains(t, out.String(), "bare ARI")
}
