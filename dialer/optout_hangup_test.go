package dialer_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk/testbed"
	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/logbuf"
	"github.com/heed-dialer/heed/internal/phone"
)

// timedLines are the real switch, noting when the opt-out key reached the
// call's key handler and when the call's end reached heed (the hang-up),
// before the pacer records it.
type timedLines struct {
	dialer.Lines
	mu    sync.Mutex
	key   time.Time
	ended time.Time
	ev    dialer.CallEvent
}

func (l *timedLines) Place(ctx context.Context, req dialer.CallRequest, report func(dialer.CallEvent)) error {
	onKey := req.OnKey
	req.OnKey = func(digit string) dialer.KeyResponse {
		if digit == dialer.OptOutKey {
			l.mu.Lock()
			if l.key.IsZero() {
				l.key = time.Now()
			}
			l.mu.Unlock()
		}
		return onKey(digit)
	}
	return l.Lines.Place(ctx, req, func(ev dialer.CallEvent) {
		if ev.Kind == dialer.EventEnded {
			l.mu.Lock()
			l.ended, l.ev = time.Now(), ev
			l.mu.Unlock()
		}
		report(ev)
	})
}

// keyToHangup is how long after the opt-out key reached heed the call
// ended, and the call's end as the switch reported it.
func (l *timedLines) keyToHangup(t *testing.T) (time.Duration, dialer.CallEvent) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	require.False(t, l.key.IsZero(), "the opt-out key reached the call's key handler")
	require.False(t, l.ended.IsZero(), "the call ended")
	return l.ended.Sub(l.key), l.ev
}

// downOptOuts is the real store, whose opt-outs fail as on an unreachable
// database until up is called: at once ("refused"), or once the caller's
// deadline passes ("timeout"; a try still waiting when the database comes
// back fails then, as its connection would).
type downOptOuts struct {
	*campaign.Store
	down string
	back chan struct{}
}

func newDownOptOuts(down string) *downOptOuts {
	return &downOptOuts{down: down, back: make(chan struct{})}
}

// up brings the database back.
func (s *downOptOuts) up() { close(s.back) }

func (s *downOptOuts) RecordOptOut(ctx context.Context, attemptID int64, p phone.Number) (bool, error) {
	select {
	case <-s.back:
		return s.Store.RecordOptOut(ctx, attemptID, p)
	default:
	}
	switch s.down {
	case "refused":
		return false, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	case "timeout":
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("opt-out: %w", ctx.Err())
		case <-s.back:
			return false, errors.New("opt-out: connection reset by peer")
		}
	}
	return s.Store.RecordOptOut(ctx, attemptID, p)
}

// amdSwitch is a switch on the testbed, with answering-machine detection
// when amd is set.
func amdSwitch(ctx context.Context, t *testing.T, tb *testbed.Testbed, name string, amd bool) *dialer.Switch {
	t.Helper()
	logged := &logbuf.Buffer{}
	cfg := dialer.ARIConfig{
		Name: "pbx", URL: tb.ARIURL, Username: tb.ARIUser, Password: tb.ARIPassword,
		Application: fmt.Sprintf("heed-%s-%d", name, os.Getpid()), Trunk: tb.Trunk, Installation: name,
	}
	if amd {
		cfg.AMDContext = tb.AMDContext
	}
	sw, err := dialer.NewSwitch(ctx, cfg, slog.New(slog.NewTextHandler(logged, &slog.HandlerOptions{Level: slog.LevelWarn})))
	require.NoError(t, err)
	t.Cleanup(func() {
		sw.Close()
		if t.Failed() {
			t.Logf("switch log:\n%s", logged.String())
		}
	})
	return sw
}

// optOutCall runs one campaign, whose one contact is x, through the real
// pacing loop and the real switch with heed's spoken audio, and returns
// its world, its pacer and its lines once the call's end is recorded.
// store, when not nil, makes the pacer's store on the world's database.
func optOutCall(ctx context.Context, t *testing.T, sw *dialer.Switch, tb *testbed.Testbed, x phone.Number, store func(*personWorld) dialer.Store) (*personWorld, *dialer.Pacer, *timedLines) {
	t.Helper()
	w := newPersonWorld(t)
	w.contact(w.list, x, "")
	lines := &timedLines{Lines: sw}
	p := w.pacer(lines)
	p.Media = dialer.Media{HostDir: tb.HostMediaDir, AsteriskDir: tb.AsteriskMediaDir}
	p.OptOutNumber = "+18005550199"
	if store != nil {
		p.Store = store(w)
	}
	if err := p.Run(ctx, w.campaignID, 1); err != nil {
		var sn *dialer.Snooze
		require.ErrorAs(t, err, &sn)
	}
	return w, p, lines
}

// requireOptedOutRecorded waits for x's key-press opt-out to be recorded.
func requireOptedOutRecorded(t *testing.T, w *personWorld, x phone.Number) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, w.db.QueryRow(context.Background(), `SELECT count(*) FROM dnc_internal WHERE phone = $1 AND method = 'ivr'`, x).Scan(&n))
		return n == 1
	}, 20*time.Second, 50*time.Millisecond, "the opt-out is recorded")
}

// hangupBound is the longest heed may take from the opt-out key to the
// hang-up: the short confirmation (about 2 s of speech) and the switch's
// own steps. F7 says at once; C4 says within 10 s.
const hangupBound = 4 * time.Second

// TestOptOutKeyHangsUpAtOnce: on the real testbed, through the real pacing
// loop and heed's spoken audio, a callee (PSTN 04) presses 9 and heed
// hangs up within hangupBound, whatever the database does with the
// opt-out: takes it at once, refuses it (connection refused), or does not
// answer (a timeout). A taken opt-out ends the call opted_out; one the
// database refused is taken by the retries once it is back, and the call
// keeps its own outcome (no_response), its 9 among its keys, for heed's
// next start should the retries not take it.
func TestOptOutKeyHangsUpAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	tb := testbed.ForTest(ctx, t)
	x := phone.Number("+18605550404")
	for _, down := range []string{"", "refused", "timeout"} {
		name := down
		if name == "" {
			name = "taken"
		}
		t.Run(name, func(t *testing.T) {
			store := newDownOptOuts(down)
			w, p, lines := optOutCall(ctx, t, amdSwitch(ctx, t, tb, "optout-hangup-"+name, false), tb, x, func(w *personWorld) dialer.Store {
				store.Store = campaign.NewStore(w.db)
				return store
			})
			gap, ev := lines.keyToHangup(t)
			t.Logf("database %s: key 9 -> hang-up %.2f s; outcome %q, keys %q", name, gap.Seconds(), attemptOutcome(t, w, w.campaignID, x), ev.DTMF)
			require.Less(t, gap, hangupBound, "F7: hang up at once after the opt-out key")
			require.Equal(t, "9", ev.DTMF)
			if down == "" {
				require.Equal(t, string(dialer.OutcomeOptedOut), attemptOutcome(t, w, w.campaignID, x))
			} else {
				require.Equal(t, string(dialer.OutcomeNoResponse), attemptOutcome(t, w, w.campaignID, x),
					"not taken yet: the call's own outcome, so that heed's next start takes it from the keys")
				store.up()
			}
			requireOptedOutRecorded(t, w, x)
			dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
			defer dcancel()
			require.NoError(t, p.Drain(dctx))
		})
	}
}
