package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestHealthFailsUnlessHealthz checks that heed health fails on a server
// that answers /healthz with anything but 200, or too late, and on an
// address nothing listens on, and that it asks a wildcard address on
// loopback. (TestPoolSpreadsCampaignOverTwoPBXes runs it against heed
// serve.)
func TestHealthFailsUnlessHealthz(t *testing.T) {
	t.Parallel()
	status := func(code int, delay time.Duration) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthz" {
				http.NotFound(w, r)
				return
			}
			time.Sleep(delay)
			w.WriteHeader(code)
			_, _ = w.Write([]byte(`{"status":"x"}`))
		}))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	out, _, err := runHeed(nil, "health", "--listen", status(http.StatusOK, 0))
	require.NoError(t, err)
	require.Contains(t, out, "/healthz")

	_, _, err = runHeed(nil, "health", "--listen", status(http.StatusServiceUnavailable, 0))
	require.ErrorIs(t, err, errUnhealthy)
	require.ErrorContains(t, err, "503")
	require.Equal(t, 1, exitCode(err))

	_, _, err = runHeed(nil, "health", "--listen", status(http.StatusOK, 2*time.Second), "--timeout", "200ms")
	require.ErrorIs(t, err, errUnhealthy, "an answer after the timeout")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, _, err = runHeed(nil, "health", "--listen", closed)
	require.ErrorIs(t, err, errUnhealthy, "nothing listening")

	// heed serve on 0.0.0.0 is asked on 127.0.0.1.
	_, port, err := net.SplitHostPort(status(http.StatusOK, 0))
	require.NoError(t, err)
	_, _, err = runHeed(map[string]string{"HEED_LISTEN": "0.0.0.0:" + port}, "health")
	require.NoError(t, err)

	_, _, err = runHeed(nil, "health", "--listen", "no-port")
	require.ErrorIs(t, err, errUsage)
}
