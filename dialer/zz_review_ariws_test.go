package dialer_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/websocket"

	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/logbuf"
)

// TestReviewRedialIsPaced (review scratch): an ARI that accepts the event
// websocket and closes it at once (a proxy in front of a stopping
// Asterisk, a full connection table; a failure path Asterisk itself is not
// made to produce, so a fake ARI) must not be dialed again in a tight
// loop. heed's loop (dialer/ariws.go listen) redials at once after every
// read failure, with no wait, so each such connection costs a dial and a
// warning in the log, as fast as the network allows.
func TestReviewRedialIsPaced(t *testing.T) {
	var conns atomic.Int64
	events := websocket.Server{Handler: func(ws *websocket.Conn) {
		conns.Add(1) // accepted, and closed at once
	}}
	mux := http.NewServeMux()
	mux.HandleFunc("/ari/asterisk/info", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	})
	mux.Handle("/ari/events", events)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	logged := &logbuf.Buffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := dialer.ConnectARI(ctx, dialer.ARIConfig{Name: "fake", URL: srv.URL + "/ari", Username: "heed", Password: "secret", Application: "heed-ws"},
		slog.New(slog.NewTextHandler(logged, nil)))
	require.NoError(t, err)
	start := conns.Load()
	time.Sleep(2 * time.Second)
	n := conns.Load() - start
	client.Close()
	t.Logf("websocket dials in 2 s: %d; warnings logged: %d", n, strings.Count(logged.String(), "event websocket lost"))
	// The library's loop slept 10 ms after a read failure; eventsRedial
	// (1 s) after a failed dial. Either would give at most a few hundred.
	require.LessOrEqual(t, n, int64(200), "the event websocket is redialed with no pause after each drop")
}
