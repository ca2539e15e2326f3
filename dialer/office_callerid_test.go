package dialer_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk/testbed"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// TestOfficeLegSendsTheCampaignsCallerID: on the real testbed, the office
// leg of a transfer is sent with the campaign's caller ID as its number
// (rule F11: never spoof; the callee's number is not heed's to send), and
// the callee's number as its caller name and in HEED_CALLEE, so that the
// office still sees whom it speaks with. The PSTN simulator's CDR is the
// witness of what the trunk carried.
func TestOfficeLegSendsTheCampaignsCallerID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tb := testbed.ForTest(ctx, t)
	sw, cfg, _ := testSwitch(ctx, t, tb, "office-cid")

	const (
		callerID = "+12035550187"
		callee   = "+18605550403" // presses 2 two seconds after its hello
		office   = "+18605550412" // answers, stays 8 s, hangs up
	)
	events := make(chan dialer.CallEvent, 16)
	require.NoError(t, sw.Place(ctx, dialer.CallRequest{
		AttemptID: 1, To: phone.Number(callee), CallerID: callerID, RingSeconds: 30,
		Media:     []string{"sound:silence/10", "sound:silence/10", "sound:silence/10"},
		Abandoned: []string{"sound:beep"},
		OnKey: func(digit string) dialer.KeyResponse {
			if digit == dialer.OfficeKey {
				return dialer.KeyResponse{Media: []string{"sound:beep"}, TransferTo: office}
			}
			return dialer.KeyResponse{}
		},
	}, func(ev dialer.CallEvent) { events <- ev }))

	// While the office leg is up, its channel carries the callee's number.
	watch := cfg
	watch.Application += "-watch"
	client, err := dialer.ConnectARI(ctx, watch, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	defer client.Close()
	leg := ari.NewKey(ari.ChannelKey, dialer.ChannelID("office-cid", 1)+"-office")
	var carried string
	for deadline := time.Now().Add(30 * time.Second); carried == ""; {
		v, err := client.Channel().GetVariable(leg, "HEED_CALLEE")
		if err == nil {
			carried = v
			break
		}
		require.True(t, time.Now().Before(deadline), "no HEED_CALLEE read on the office leg: %v", err)
		time.Sleep(200 * time.Millisecond)
	}
	require.Equal(t, callee, carried)

	end := endOf(ctx, t, events)
	require.Equal(t, dialer.OutcomeTransferred, end.Outcome)
	require.Equal(t, office, end.TransferTo)
	recs, err := tb.WaitPSTNCalls(ctx, 2)
	require.NoError(t, err)
	var leg2 testbed.CDRRecord
	for _, r := range recs {
		t.Logf("PSTN CDR: src=%s clid=%s dst=%s %s", r.Src, r.CLID, r.Dst, r.Disposition)
		if r.Dst == office {
			leg2 = r
		}
	}
	require.Equal(t, testbed.DispositionAnswered, leg2.Disposition)
	require.Equal(t, callerID, leg2.Src, "the office leg's number is the campaign's caller ID, not the callee's")
	require.Equal(t, `"`+callee+`" <`+callerID+`>`, leg2.CLID, "the callee's number is the caller name the office sees")
}
