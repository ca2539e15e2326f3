package dialer_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dialer"
)

// TestConnectARIGivesUpAtOnce checks that ConnectARI reports why an ARI
// cannot be used (nothing listening, credentials refused) as soon as it
// knows, instead of retrying until its deadline, and leaves nothing
// running behind it.
func TestConnectARIGivesUpAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedURL := "http://" + ln.Addr().String() + "/ari"
	require.NoError(t, ln.Close())

	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "heed" || p != "right" || r.URL.Path != "/ari/asterisk/info" {
			http.Error(w, `{"message":"Authentication required"}`, http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer refusing.Close()

	before := runtime.NumGoroutine()
	for _, c := range []struct {
		name, url, password, want string
	}{
		{"nothing listening", closedURL, "right", "connection refused"},
		{"wrong password", refusing.URL + "/ari", "wrong", "ARI refused user \"heed\""},
		{"not ready", refusing.URL + "/ari", "right", "503"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		_, err := dialer.ConnectARI(ctx, dialer.ARIConfig{Name: "pbx", URL: c.url, Username: "heed", Password: c.password, Application: "heed"},
			slog.New(slog.DiscardHandler))
		cancel()
		require.ErrorIs(t, err, dialer.ErrARIUnavailable, c.name)
		require.ErrorContains(t, err, c.want, c.name)
		require.Less(t, time.Since(start), 5*time.Second, "%s: gave up before the deadline", c.name)
	}
	refusing.CloseClientConnections()
	// Polled here, not with require.Eventually, which runs its condition
	// on a goroutine of its own.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines left running")
}
