package dialer_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk/testbed"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// cutProxy forwards TCP connections to a target and can cut them all at
// once and refuse new ones, like a network failure between heed and
// Asterisk while Asterisk itself stays up: a failure the real Asterisk
// cannot be made to produce on its own.
type cutProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	conns   map[net.Conn]bool
	blocked bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut(true)
	})
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		blocked := p.blocked
		p.mu.Unlock()
		if blocked {
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
		go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
	}
}

// cut closes every connection; with block, new ones are refused until
// cut(false).
func (p *cutProxy) cut(block bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = block
	for c := range p.conns {
		_ = c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// TestReconnectEndsCallsLostWhileDisconnected places a call through a Pool
// whose one Asterisk is reached through a proxy, cuts the proxy (the ARI
// websocket drops; Asterisk stays up), hangs the call up behind heed's
// back so its end event is lost, and restores the proxy: the ari library
// reconnects its websocket by itself, the pool sees the Asterisk down and
// then up again, and its resync ends the call.
func TestReconnectEndsCallsLostWhileDisconnected(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tb := testbed.ForTest(ctx, t)

	px := newCutProxy(t, "127.0.0.1:"+strconv.Itoa(tb.ARIPort))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := dialer.ARIConfig{
		Name: "pbx", URL: "http://" + px.ln.Addr().String() + "/ari", Username: tb.ARIUser, Password: tb.ARIPassword,
		Application: fmt.Sprintf("heed-reconnect-%d", os.Getpid()), Trunk: tb.Trunk, Installation: "reconnect",
	}
	pool, err := dialer.NewPool(ctx, dialer.PoolConfig{CheckEvery: -1, Log: log, Members: []dialer.PoolMember{{
		Name: "pbx",
		Connect: func(ctx context.Context) (dialer.Member, error) {
			sw, err := dialer.NewSwitch(ctx, cfg, log)
			if err != nil {
				return nil, err
			}
			return sw, nil
		},
	}}})
	require.NoError(t, err)
	defer pool.Close()

	events := make(chan dialer.CallEvent, 16)
	placedAt := time.Now()
	require.NoError(t, pool.Place(ctx, dialer.CallRequest{
		AttemptID: 1, To: phone.Number("+18605550401"), CallerID: "+12035550183", RingSeconds: 20,
		Media: []string{"sound:silence/10", "sound:silence/10", "sound:silence/10"},
	}, func(ev dialer.CallEvent) { events <- ev }))
	next := func() dialer.CallEvent {
		select {
		case ev := <-events:
			return ev
		case <-ctx.Done():
			t.Fatal("no call event")
			return dialer.CallEvent{}
		}
	}
	require.Equal(t, dialer.EventOriginated, next().Kind)
	require.Equal(t, dialer.EventAnswered, next().Kind)

	// The network fails; meanwhile the call ends on Asterisk.
	px.cut(true)
	channel := dialer.ChannelID("reconnect", 1)
	req, err := http.NewRequest(http.MethodDelete, tb.ARIURL+"/channels/"+channel, nil)
	require.NoError(t, err)
	req.SetBasicAuth(tb.ARIUser, tb.ARIPassword)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "hang up %s behind heed's back", channel)

	pool.Check(ctx)
	require.Error(t, pool.Ping(ctx, "pbx"), "the pool sees the Asterisk down")
	err = pool.Place(ctx, dialer.CallRequest{AttemptID: 2, To: phone.Number("+18605550402"), RingSeconds: 20}, func(dialer.CallEvent) {})
	require.ErrorIs(t, err, dialer.ErrNoAsterisk, "no call is placed while the only Asterisk is down")
	select {
	case ev := <-events:
		t.Fatalf("an event arrived while ARI was cut off: %+v", ev)
	default:
	}

	// The network comes back: the library reconnects on its own.
	px.cut(false)
	for pool.Ping(ctx, "pbx") != nil {
		require.NoError(t, ctx.Err(), "the ari library never reconnected")
		time.Sleep(50 * time.Millisecond)
	}
	young := time.Since(placedAt) < 9*time.Second
	pool.Check(ctx)
	ev := next()
	require.Equal(t, dialer.EventEnded, ev.Kind)
	if young {
		// The Switch's own periodic reconcile only looks at calls older
		// than ten seconds, so this end came from the pool's resync.
		require.Contains(t, ev.CauseText, "while ARI was disconnected", "%+v", ev)
	}
	t.Logf("call ended after the reconnect: %q (resync asserted: %v)", ev.CauseText, young)
	require.Equal(t, map[string]int{"pbx": 0}, pool.Load())
}
