package dialer_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/websocket"

	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/logbuf"
)

// TestEventsSurviveAnUnknownEvent: an event the ari library cannot decode
// (a type newer than it, which a fake ARI sends, as an Asterisk cannot be
// made to) is logged and dropped, and the events after it still reach
// the bus on the same websocket. The library's own loop handed it to the
// bus as a nil event, which panics in the bus's Send once anything
// subscribes, and dropped the websocket for it. The websocket's state is
// read without a data race (go test -race) as it drops and comes back.
func TestEventsSurviveAnUnknownEvent(t *testing.T) {
	var (
		mu    sync.Mutex
		conns []*websocket.Conn
	)
	events := websocket.Server{Handler: func(ws *websocket.Conn) {
		if ws.Request().URL.Query().Get("app") != "heed-ws" {
			return
		}
		mu.Lock()
		conns = append(conns, ws)
		mu.Unlock()
		for _, msg := range []string{
			`{"type":"ChannelSomethingNew","application":"heed-ws","channel":{"id":"heed-ws-000000000001"}}`,
			`{"type":"StasisStart","application":"heed-ws","args":["attempt","1"],"channel":{"id":"heed-ws-000000000001","state":"Up"}}`,
		} {
			if err := websocket.Message.Send(ws, msg); err != nil {
				return
			}
		}
		var discard []byte
		_ = websocket.Message.Receive(ws, &discard) // until either side closes
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, logged := fakeARI(ctx, t, events, nil)
	sub := client.Bus().Subscribe(nil, ari.Events.StasisStart)
	defer sub.Cancel()

	// Both events were sent at once; the subscription may have come after
	// the first connection's, so the websocket is dropped until one
	// arrives: each new connection sends both again.
	var got ari.Event
	for got == nil {
		select {
		case got = <-sub.Events():
		case <-time.After(time.Second):
			mu.Lock()
			last := conns[len(conns)-1]
			mu.Unlock()
			_ = last.Close()
		case <-ctx.Done():
			t.Fatalf("no StasisStart on the bus; log:\n%s", logged.String())
		}
	}
	start, ok := got.(*ari.StasisStart)
	require.True(t, ok, "%T", got)
	require.Equal(t, "heed-ws-000000000001", start.Channel.ID)
	require.Contains(t, logged.String(), "an event could not be decoded; dropped")
	require.Contains(t, logged.String(), "ChannelSomethingNew")
	require.True(t, client.Connected())

	// Dropped by the far end, the websocket reads as disconnected, and as
	// connected again once dialed again.
	mu.Lock()
	before := len(conns)
	for _, ws := range conns {
		_ = ws.Close()
	}
	mu.Unlock()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(conns) > before && client.Connected()
	}, 10*time.Second, 10*time.Millisecond, "dialed again")
	require.True(t, strings.Contains(logged.String(), "event websocket lost"), "the drop is logged:\n%s", logged.String())
}

// TestEventsRedialIsPaced: an ARI that accepts the event websocket and
// closes it at once (a proxy in front of a stopping Asterisk, a full
// connection table; a failure path Asterisk itself is not made to
// produce, so a fake ARI) is not dialed again in a tight loop: the pause
// before each redial doubles from 100 ms (0.1 + 0.2 + 0.4 + 0.8 s: at most
// 5 dials in 2 s, the first included), and the drops are logged as one
// warning. heed's loop used to redial at once, with no wait: 9426 dials
// and 9428 warnings in 2 s.
func TestEventsRedialIsPaced(t *testing.T) {
	var conns atomic.Int64
	events := websocket.Server{Handler: func(ws *websocket.Conn) {
		conns.Add(1) // accepted, and closed at once
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, logged := fakeARI(ctx, t, events, nil)
	start := conns.Load()
	time.Sleep(2 * time.Second)
	n := conns.Load() - start
	client.Close()
	t.Logf("websocket dials in 2 s: %d; warnings logged: %d", n, strings.Count(logged.String(), "event websocket lost"))
	require.LessOrEqual(t, n, int64(6), "the event websocket is redialed with no growing pause after each drop")
	require.GreaterOrEqual(t, n, int64(2), "the event websocket is dialed again after a drop")
	require.Equal(t, 1, strings.Count(logged.String(), "event websocket lost"), "the drops are logged once:\n%s", logged.String())
}

// TestOwnsToleratesOneLateProbe: an ownership probe that does not come
// back in time (an Asterisk or network stalled for over a second; a fake
// ARI, as a real one cannot be made to stall on cue) makes the Asterisk
// read as down for that check, with a warning, but is not reported as
// another process holding the application, whose error tells the operator
// to rename it: that takes two probes in a row. A probe that comes back
// clears the count.
func TestOwnsToleratesOneLateProbe(t *testing.T) {
	var (
		mu   sync.Mutex
		conn *websocket.Conn
		echo atomic.Bool // the fake ARI sends each probe back
	)
	events := websocket.Server{Handler: func(ws *websocket.Conn) {
		mu.Lock()
		conn = ws
		mu.Unlock()
		var discard []byte
		_ = websocket.Message.Receive(ws, &discard) // until either side closes
	}}
	userEvents := func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Variables map[string]string `json:"variables"`
		}
		if json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, "", http.StatusBadRequest)
			return
		}
		if echo.Load() {
			mu.Lock()
			ws := conn
			mu.Unlock()
			msg, _ := json.Marshal(map[string]any{"type": "ChannelUserevent", "application": "heed-ws",
				"eventname": strings.TrimPrefix(r.URL.Path, "/ari/events/user/"), "userevent": body.Variables})
			_ = websocket.Message.Send(ws, string(msg))
		}
		w.WriteHeader(http.StatusNoContent)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, logged := fakeARI(ctx, t, events, map[string]http.HandlerFunc{"/ari/events/user/": userEvents})
	owner, ok := client.(interface{ Owns(context.Context) error })
	require.True(t, ok, "%T has no Owns", client)

	echo.Store(true)
	require.NoError(t, owner.Owns(ctx), "a probe that comes back")

	echo.Store(false)
	err := owner.Owns(ctx)
	require.ErrorIs(t, err, dialer.ErrEventsDown, "one late probe: down for this check")
	require.NotErrorIs(t, err, dialer.ErrApplicationTaken, "one late probe is not a takeover")
	require.NotContains(t, logged.String(), "HEED_ARI_APP")
	require.Contains(t, logged.String(), "did not come back on the event websocket in time")

	echo.Store(true)
	require.NoError(t, owner.Owns(ctx), "a probe that comes back clears the count")
	echo.Store(false)
	require.NotErrorIs(t, owner.Owns(ctx), dialer.ErrApplicationTaken, "again one late probe after one that came back")
	err = owner.Owns(ctx)
	require.ErrorIs(t, err, dialer.ErrApplicationTaken, "two late probes in a row")
	require.Contains(t, logged.String(), "give each heed process its own HEED_ARI_APP")
}

// fakeARI serves a fake ARI for the application heed-ws, for failure
// paths an Asterisk cannot be made to produce: Asterisk's info, the event
// websocket events, and the handlers in more, by path, each behind the
// credentials heed/secret. It returns a client ConnectARI connected to
// it, closed with the test, and the client's log.
func fakeARI(ctx context.Context, t *testing.T, events websocket.Server, more map[string]http.HandlerFunc) (ari.Client, *logbuf.Buffer) {
	t.Helper()
	authorized := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != "heed" || p != "secret" {
				http.Error(w, `{"message":"Authentication required"}`, http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ari/asterisk/info", authorized(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	mux.HandleFunc("/ari/events", authorized(events.ServeHTTP))
	for path, h := range more {
		mux.HandleFunc(path, authorized(h))
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	logged := &logbuf.Buffer{}
	client, err := dialer.ConnectARI(ctx, dialer.ARIConfig{Name: "fake", URL: srv.URL + "/ari", Username: "heed", Password: "secret", Application: "heed-ws"},
		slog.New(slog.NewTextHandler(logged, nil)))
	require.NoError(t, err)
	t.Cleanup(client.Close)
	return client, logged
}
