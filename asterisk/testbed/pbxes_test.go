package testbed_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk/testbed"
)

// originateREST asks a PBX's ARI, over plain REST, to dial number and send
// the answered call to the dialplan (heed-inbound refuses it at once).
func originateREST(t *testing.T, tb *testbed.Testbed, pbx testbed.PBX, number string) {
	t.Helper()
	q := url.Values{"endpoint": {tb.Endpoint(number)}, "extension": {"s"}, "context": {"heed-inbound"}, "priority": {"1"},
		"callerId": {callerID}, "timeout": {"20"}}
	req, err := http.NewRequest(http.MethodPost, pbx.ARIURL+"/channels?"+q.Encode(), nil)
	require.NoError(t, err)
	req.SetBasicAuth(tb.ARIUser, tb.ARIPassword)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "originate through %s: %s", pbx.Name, body)
}

// TestTwoPBXesShareThePSTN starts a testbed with two PBXes, dials through
// each, kills and restarts the second, and dials through it again: the one
// PSTN simulator's CDR sees every call.
func TestTwoPBXesShareThePSTN(t *testing.T) {
	if skipAsterisk() {
		t.Skip("HEED_SKIP_ASTERISK=1: not running real Asterisk")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tb, err := testbed.Start(ctx, testbed.Options{PBXCount: 2, Log: asteriskLog()})
	require.NoError(t, err)
	defer func() { require.NoError(t, tb.Close()) }()

	require.Len(t, tb.PBXes, 2)
	require.Equal(t, tb.ARIURL, tb.PBXes[0].ARIURL, "the first PBX is the one the testbed's fields describe")
	require.NotEqual(t, tb.PBXes[0].ARIPort, tb.PBXes[1].ARIPort)
	require.NotEqual(t, tb.PBXes[0].SIPPort, tb.PBXes[1].SIPPort)

	originateREST(t, tb, tb.PBXes[0], "+18605550109")
	originateREST(t, tb, tb.PBXes[1], "+18605550209")
	recs, err := tb.WaitPSTNCalls(ctx, 2)
	require.NoError(t, err)
	dst := map[string]bool{}
	for _, r := range recs {
		dst[r.Dst] = true
	}
	require.Equal(t, map[string]bool{"+18605550109": true, "+18605550209": true}, dst)

	require.NoError(t, tb.StopPBX(1))
	req, err := http.NewRequest(http.MethodGet, tb.PBXes[1].ARIURL+"/asterisk/info", nil)
	require.NoError(t, err)
	req.SetBasicAuth(tb.ARIUser, tb.ARIPassword)
	_, err = http.DefaultClient.Do(req)
	require.Error(t, err, "a stopped PBX's ARI does not answer")

	require.NoError(t, tb.StartPBX(ctx, 1))
	originateREST(t, tb, tb.PBXes[1], "+18605550309")
	recs, err = tb.WaitPSTNCalls(ctx, 3)
	require.NoError(t, err)
	require.Equal(t, "+18605550309", recs[2].Dst, fmt.Sprintf("%+v", recs))
	require.Error(t, tb.StopPBX(2), "there is no third PBX")
}
