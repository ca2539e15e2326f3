package dialer_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk/testbed"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/logbuf"
	"github.com/heed-dialer/heed/internal/phone"
)

// TestReviewSharedApplication (review scratch): two heed processes on one
// Asterisk with the same HEED_ARI_APP (its default, "heed", for both).
// The real Asterisk keeps both event websockets open and sends the
// application's events to the newer one only: the older process, A,
// places a call and hears none of its events, while it reads as connected
// (Connected, and so Switch.Health and the pool) the whole time. B, in
// heed serve, takes A's answered calls for a stopped process's orphans
// (switch.go: strayCall), plays them the abandoned-call message, hangs up
// and records the finding on A's attempt still in flight (NoteOrphan).
// The test fails as long as A can be deaf without knowing it.
func TestReviewSharedApplication(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tb := testbed.ForTest(ctx, t)
	app := fmt.Sprintf("heed-shared-%d", os.Getpid())
	cfg := dialer.ARIConfig{Name: "pbx", URL: tb.ARIURL, Username: tb.ARIUser, Password: tb.ARIPassword, Application: app}
	logA, logB := &logbuf.Buffer{}, &logbuf.Buffer{}
	a, err := dialer.ConnectARI(ctx, cfg, slog.New(slog.NewTextHandler(logA, nil)))
	require.NoError(t, err)
	defer a.Close()
	subA := a.Bus().Subscribe(nil, ari.Events.All)
	defer subA.Cancel()
	time.Sleep(500 * time.Millisecond)
	b, err := dialer.ConnectARI(ctx, cfg, slog.New(slog.NewTextHandler(logB, nil)))
	require.NoError(t, err)
	defer b.Close()
	subB := b.Bus().Subscribe(nil, ari.Events.All)
	defer subB.Cancel()
	// A places a call into the application (PSTN 01 answers and says
	// hello); both processes' connections are watched while it is up.
	h, err := a.Channel().Originate(nil, ari.OriginateRequest{Endpoint: fmt.Sprintf(tb.Trunk, "+18605550101"), App: app, AppArgs: "review"})
	require.NoError(t, err)
	downA, downB, samples := 0, 0, 0
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		if !a.Connected() {
			downA++
		}
		if !b.Connected() {
			downB++
		}
		samples++
		time.Sleep(5 * time.Millisecond)
	}
	_ = h.Hangup()
	time.Sleep(time.Second)
	count := func(s ari.Subscription) int {
		n := 0
		for {
			select {
			case <-s.Events():
				n++
			default:
				return n
			}
		}
	}
	heardA, heardB := count(subA), count(subB)
	t.Logf("over 4 s with the call up, %d samples: A seen down %d, B seen down %d; drops logged: A %d, B %d; events of A's call on A's bus %d, on B's %d",
		samples, downA, downB, strings.Count(logA.String(), "event websocket lost"), strings.Count(logB.String(), "event websocket lost"),
		heardA, heardB)
	require.True(t, downA > 0 || heardA > 0, "A placed a call, heard none of its events (B heard %d), and never read as disconnected", heardB)
}

// TestReviewSharedApplicationHijack (review scratch): two live heed
// processes of one installation on one Asterisk with the same Stasis
// application name (HEED_ARI_APP defaults to "heed" for every process).
// A places a call; Asterisk sends its events to B, the newer connection;
// B takes A's answered call for a stopped process's orphan, plays it the
// abandoned-call message, hangs up, and records "abandoned" on A's
// attempt (ARIConfig.OrphanEnded, campaign.Store.NoteOrphan, which writes
// any attempt still in flight) while A, alive, still follows the call and
// has heard nothing of it. Fails while that can happen.
func TestReviewSharedApplicationHijack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, cfg, log := orphanTestbed(ctx, t, "heed-shared-hijack")
	a, err := dialer.NewSwitch(ctx, cfg, log.With("process", "A"))
	require.NoError(t, err)
	defer a.Close()
	noted := make(chan dialer.Orphan, 4)
	cfgB := cfg
	cfgB.OrphanEnded = func(_ context.Context, attemptID int64, found dialer.Orphan) error {
		if attemptID == 7 {
			noted <- found
		}
		return nil
	}
	b, err := dialer.NewSwitch(ctx, cfgB, log.With("process", "B"))
	require.NoError(t, err)
	defer b.Close()

	var (
		mu    sync.Mutex
		heard []dialer.EventKind
	)
	const person = "+18605550410" // PSTN 10: a person who says hello and listens 30 s
	require.NoError(t, a.Place(ctx, dialer.CallRequest{
		AttemptID: 7, To: phone.Number(person), CallerID: "+12035550188", RingSeconds: 20,
		Media: []string{"sound:silence/10"}, Abandoned: []string{"sound:beep"},
	}, func(ev dialer.CallEvent) {
		mu.Lock()
		heard = append(heard, ev.Kind)
		mu.Unlock()
	}))
	select {
	case found := <-noted:
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("B recorded %q on attempt 7 while A, alive, follows its call (A follows it: %v; A heard events %v)",
			found, a.Follows(dialer.ChannelID(cfg.Installation, 7)), heard)
	case <-time.After(30 * time.Second):
	}
}
