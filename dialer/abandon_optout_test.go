package dialer_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// abandonedNineLines places each call as one that asked for the office,
// heard no one join, and pressed 9: the switch reports it abandoned, with
// the office it waited for.
type abandonedNineLines struct{ office string }

func (l abandonedNineLines) Place(ctx context.Context, req dialer.CallRequest, report func(dialer.CallEvent)) error {
	if req.Ready != nil {
		if err := req.Ready(ctx); err != nil {
			return err
		}
	}
	ch := dialer.ChannelID("test", req.AttemptID)
	go func() {
		report(dialer.CallEvent{Kind: dialer.EventOriginated, At: time.Now(), ChannelID: ch, Asterisk: "fake"})
		report(dialer.CallEvent{Kind: dialer.EventAnswered, At: time.Now(), ChannelID: ch, Asterisk: "fake"})
		req.OnKey(dialer.OfficeKey)
		req.OnKey(dialer.OptOutKey)
		report(dialer.CallEvent{Kind: dialer.EventEnded, At: time.Now(), ChannelID: ch, Asterisk: "fake",
			Outcome: dialer.OutcomeAbandoned, TransferTo: l.office, DTMF: "29", Cause: 16})
	}()
	return nil
}

// TestPacerKeepsTheOfficeOfAnAbandonedOptOut: a call abandoned while the
// callee waited for the office, who then pressed 9, ends opted_out (its
// opt-out taken) and keeps the office it waited for as its transfer
// target, so that the campaign's abandonment rate still counts it (rule
// F10); before, the opt-out wiped the office and the rate missed the call.
func TestPacerKeepsTheOfficeOfAnAbandonedOptOut(t *testing.T) {
	t.Parallel()
	w := newPersonWorld(t)
	ctx := context.Background()
	const x phone.Number = "+18605550951"
	w.contact(w.list, x, "")
	const office = "+18605550112"
	_, err := w.db.Exec(ctx, `UPDATE campaigns SET transfer_to = $2 WHERE id = $1`, w.campaignID, office)
	require.NoError(t, err)
	requireRunDone(t, w.pacer(abandonedNineLines{office: office}).Run(ctx, w.campaignID, 1))
	var outcome, transferTo string
	require.Eventually(t, func() bool {
		require.NoError(t, w.db.QueryRow(ctx, `SELECT outcome, transfer_to FROM attempts WHERE campaign_id = $1 AND phone = $2`, w.campaignID, x).Scan(&outcome, &transferTo))
		return outcome != ""
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, string(dialer.OutcomeOptedOut), outcome)
	require.Equal(t, office, transferTo, "the office it waited for, which the abandonment rate reads")
}
