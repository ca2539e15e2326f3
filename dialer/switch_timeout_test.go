package dialer_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk/testbed"
	"github.com/heed-dialer/heed/dialer"
)

// TestAsteriskBoundsACall places a call on the real testbed and reads its
// channel's absolute timeout back from Asterisk: the call is hung up at
// its ring time plus 10 minutes by Asterisk itself, should heed stop while
// it is up, so that an open call's length is bounded (consent.OpenCallLimit).
func TestAsteriskBoundsACall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tb := testbed.ForTest(ctx, t)
	sw, cfg, logged := testSwitch(ctx, t, tb, "timeout")
	require.NotContains(t, logged.String(), "func_timeout.so", "the testbed's Asterisk has the module")

	const ring = 30
	answeredCall(ctx, t, sw, "+12035550183", ring)

	channel := dialer.ChannelID("timeout", 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		tb.ARIURL+"/channels/"+channel+"/variable?variable="+url.QueryEscape("TIMEOUT(absolute)"), nil)
	require.NoError(t, err)
	req.SetBasicAuth(tb.ARIUser, tb.ARIPassword)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var v struct {
		Value string `json:"value"`
	}
	require.NoError(t, json.Unmarshal(body, &v), string(body))
	left, err := strconv.ParseFloat(v.Value, 64)
	require.NoError(t, err, "the channel's absolute timeout: %q", v.Value)
	limit := (ring*time.Second + 10*time.Minute).Seconds()
	require.Greater(t, left, limit-60, "Asterisk hangs the call up at ring time plus 10 minutes")
	require.LessOrEqual(t, left, limit)

	// An Asterisk without the module is named in a warning when heed
	// connects to it.
	req, err = http.NewRequestWithContext(ctx, http.MethodDelete, tb.ARIURL+"/asterisk/modules/func_timeout.so", nil)
	require.NoError(t, err)
	req.SetBasicAuth(tb.ARIUser, tb.ARIPassword)
	resp2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp2.Body.Close()
	require.Equal(t, http.StatusNoContent, resp2.StatusCode, "unload func_timeout.so")
	cfg.Application += "-without"
	sw2, err := dialer.NewSwitch(ctx, cfg, slog.New(slog.NewTextHandler(logged, &slog.HandlerOptions{Level: slog.LevelWarn})))
	require.NoError(t, err)
	defer sw2.Close()
	require.Contains(t, logged.String(), "Asterisk cannot hang calls up on its own should heed stop: load func_timeout.so")
}
