package dialer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/internal/dbtest"
)

// TestPacerHoldsCallsPerSecondAndPassesCallSettings: a campaign's calls per
// second spaces its calls (never closer than the cap allows, however fast
// the lines are), and its AMD thresholds, recording and opt-out texts reach
// every call request.
func TestPacerHoldsCallsPerSecondAndPassesCallSettings(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	const n = 6
	phones := make([]string, n)
	for i := range phones {
		phones[i] = fmt.Sprintf("+1860555013%d", i+1)
	}
	var campaignID int64
	listID := consentedList(t, db, "p", phones...)
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status, generation, max_concurrent, max_attempts,
		calls_per_second, amd, record)
		VALUES ('c', 'informational', $1, 'Hello', '+18605550100', 'running', 1, 10, 1, 5, '{"greeting_ms": 1200, "max_words": 3}', true) RETURNING id`, listID).Scan(&campaignID))
	_, err := db.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id) SELECT $1, id FROM contacts`, campaignID)
	require.NoError(t, err)

	lines := &recordingLines{t: t, db: db}
	p := testPacer(t, db, campaign.NewStore(db), lines)
	require.NoError(t, p.Run(ctx, campaignID, 1))
	require.Len(t, lines.at, n)
	// Calls go out on a grid of 200 ms slots: a call woken late by the
	// scheduler brings the next gap under 200 ms, never the overall pace.
	// Without the cap the six calls would leave within a few milliseconds.
	for i := 1; i < n; i++ {
		gap := lines.at[i].Sub(lines.at[i-1])
		require.GreaterOrEqual(t, gap, 100*time.Millisecond, "5 calls per second: call %d came %s after the one before", i, gap)
	}
	span := lines.at[n-1].Sub(lines.at[0])
	require.GreaterOrEqual(t, span, 800*time.Millisecond, "6 calls at 5 per second span 1 s (slots 0, 200, ..., 1000 ms); took %s", span)
	for _, r := range lines.reqs {
		require.Equal(t, map[string]string{"HEED_AMD_GREETING": "1200", "HEED_AMD_MAX_WORDS": "3"}, r.Variables)
		require.True(t, r.Record)
		require.NotEmpty(t, r.Abandoned, "the abandoned-call message is ready")
		require.Len(t, r.Media, 5, "opening, message, menu, its pause, closing")
		require.NotNil(t, r.OnKey)
	}
}
