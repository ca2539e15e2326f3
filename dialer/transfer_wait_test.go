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

// endOf waits for the end of a call whose events go to events.
func endOf(ctx context.Context, t *testing.T, events <-chan dialer.CallEvent) dialer.CallEvent {
	t.Helper()
	for {
		select {
		case ev := <-events:
			if ev.Kind == dialer.EventEnded {
				return ev
			}
		case <-ctx.Done():
			t.Fatal("the call did not end")
		}
	}
}

// TestCalleeGivesUpWaitingForTheOffice: on the real testbed, a callee who
// asks for the office (2) and hangs up 10 s later, with no one at the
// office joining, is an abandoned call (rule F10: no agent joined within
// 2 s), which the campaign's abandonment rate counts, with the office it
// waited for as its transfer target: whether it hung up while the office
// rang or while the hold message still played (the office not dialed
// yet).
func TestCalleeGivesUpWaitingForTheOffice(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tb := testbed.ForTest(ctx, t)
	sw, _, _ := testSwitch(ctx, t, tb, "office-wait")

	const office = "+18605550406" // rings for as long as it is let
	place := func(id int64, hold []string) (<-chan dialer.CallEvent, func() time.Time) {
		var (
			mu  sync.Mutex
			two time.Time
		)
		events := make(chan dialer.CallEvent, 16)
		require.NoError(t, sw.Place(ctx, dialer.CallRequest{
			// 14: presses 2 two seconds after its hello, hangs up 10 s later.
			AttemptID: id, To: phone.Number("+18605550414"), CallerID: "+12035550186", RingSeconds: 30,
			Media:     []string{"sound:silence/10", "sound:silence/10", "sound:silence/10"},
			Abandoned: []string{"sound:beep"}, TransferRingSeconds: 60,
			OnKey: func(digit string) dialer.KeyResponse {
				if digit == dialer.OfficeKey {
					mu.Lock()
					two = time.Now()
					mu.Unlock()
					return dialer.KeyResponse{Media: hold, TransferTo: office}
				}
				return dialer.KeyResponse{}
			},
		}, func(ev dialer.CallEvent) { events <- ev }))
		return events, func() time.Time { mu.Lock(); defer mu.Unlock(); return two }
	}
	ringing, pressedRinging := place(1, []string{"sound:beep"})
	// A hold message longer than the callee waits: the office is never
	// dialed.
	holding, pressedHolding := place(2, []string{"sound:silence/10", "sound:silence/10"})

	for _, c := range []struct {
		name    string
		events  <-chan dialer.CallEvent
		pressed func() time.Time
	}{{"while the office rang", ringing, pressedRinging}, {"during the hold message", holding, pressedHolding}} {
		end := endOf(ctx, t, c.events)
		waited := time.Since(c.pressed())
		t.Logf("%s: hung up %.1f s after pressing 2: outcome %q, transfer_to %q, cause %d", c.name, waited.Seconds(), end.Outcome, end.TransferTo, end.Cause)
		require.Equal(t, "2", end.DTMF, c.name)
		require.Greater(t, waited, 8*time.Second, "%s: the callee waited well over F10's 2 s", c.name)
		require.Equal(t, dialer.OutcomeAbandoned, end.Outcome, c.name)
		require.Equal(t, office, end.TransferTo, c.name)
	}

	// The office leg of the first call was hung up with the callee, not
	// left ringing for its 60 s; the second call's was never dialed.
	recs, err := tb.WaitPSTNCalls(ctx, 3)
	require.NoError(t, err)
	var legs []testbed.CDRRecord
	for _, r := range recs {
		if r.Dst == office {
			legs = append(legs, r)
		}
	}
	require.Len(t, legs, 1, "one office leg: %+v", recs)
	require.Equal(t, testbed.DispositionNoAnswer, legs[0].Disposition)
	require.Less(t, legs[0].Duration, 15*time.Second, "the office stopped ringing when the callee hung up")
}
