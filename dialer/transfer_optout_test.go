package dialer_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk/testbed"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// TestOptOutWhileWaitingForTheOffice: on the real testbed, a callee who
// asks for the office (2) and presses 9 while it rings has the opt-out
// taken at once (F7: record it and hang up at once): the key handler runs,
// the office leg is hung up, the confirmation plays and the call ends,
// long before the office's ring time or the callee's own hang-up.
func TestOptOutWhileWaitingForTheOffice(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sw, _, _ := testSwitch(ctx, t, testbed.ForTest(ctx, t), "transfer-optout")

	var (
		mu   sync.Mutex
		keys []string
		nine time.Time
	)
	events := make(chan dialer.CallEvent, 16)
	require.NoError(t, sw.Place(ctx, dialer.CallRequest{
		// 13: presses 2, then 9 four seconds later. The office (06)
		// rings for as long as it is let.
		AttemptID: 1, To: phone.Number("+18605550413"), CallerID: "+12035550185", RingSeconds: 30,
		Media: []string{"sound:silence/10", "sound:silence/10"}, TransferRingSeconds: 60,
		OnKey: func(digit string) dialer.KeyResponse {
			mu.Lock()
			defer mu.Unlock()
			keys = append(keys, digit)
			switch digit {
			case "2":
				return dialer.KeyResponse{Media: []string{"sound:beep"}, TransferTo: "+18605550406"}
			case dialer.OptOutKey:
				nine = time.Now()
				// As the pacer answers it: the confirmation, and the
				// opt-out taken in the background (its outcome is the
				// pacer's to set).
				return dialer.KeyResponse{Media: []string{"sound:beep"}}
			}
			return dialer.KeyResponse{}
		},
	}, func(ev dialer.CallEvent) { events <- ev }))
	for {
		select {
		case ev := <-events:
			if ev.Kind != dialer.EventEnded {
				continue
			}
			ended := time.Now()
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, []string{"2", dialer.OptOutKey}, keys, "the 9 reached the key handler while the office rang")
			require.Equal(t, "29", ev.DTMF)
			require.Equal(t, dialer.OutcomeAbandoned, ev.Outcome, "no one at the office joined while the callee waited (F10)")
			require.Equal(t, "+18605550406", ev.TransferTo, "the office it waited for, which the abandonment rate reads")
			require.Less(t, ended.Sub(nine), 10*time.Second, "hung up once the confirmation played, not after the office's 60 s or the callee's 30 s")
			return
		case <-ctx.Done():
			t.Fatal("the call did not end")
		}
	}
}
