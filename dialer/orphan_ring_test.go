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
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/logbuf"
	"github.com/heed-dialer/heed/internal/phone"
)

// TestOrphanLeftRinging: on the real testbed, a heed process places four
// calls and stops (its switch closes, as a crash drops its connection);
// a new process of the same installation and application settles them
// (Switch.Orphan, as recovery does). A call already answered is hung up,
// as before. A call still ringing is never cut short (rule F10: let the
// phone ring at least 15 s): unanswered, it rings to the end of its own
// ring time (20 s, where recovery used to hang it up after a few
// seconds); answered meanwhile, with no one left to play its message, it
// is an abandoned call and plays the abandoned-call message it carries,
// then heed hangs up (not dead air until the callee gives up); a callee
// who presses the opt-out key the message offers is hung up at once, and
// recovery is told so. The PSTN simulator's CDR is the witness.
func TestOrphanLeftRinging(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tb, cfg, log := orphanTestbed(ctx, t, "heed-orphan")
	dead, err := dialer.NewSwitch(ctx, cfg, log.With("process", "stopped"))
	require.NoError(t, err)

	const (
		listens  = "+18605550401" // answers, listens 30 s
		never    = "+18605550406" // rings until heed gives up
		after10  = "+18605550415" // rings 10 s, answers, says hello, stays 8 s
		optsOut  = "+18605550418" // rings 5 s, answers, says hello, presses 9 two seconds later
		ringTime = 20
	)
	placed := time.Now()
	for _, c := range []struct {
		id        int64
		to        string
		abandoned []string
	}{
		{4, listens, []string{"sound:beep"}},
		{1, never, []string{"sound:beep"}},
		// About 3 s of message: heed's hang-up ends the call well before
		// the callee's own (hello, then 8 s).
		{2, after10, []string{"sound:beep", "sound:silence/3"}},
		// 20 s of message: only the 9 ends it sooner.
		{3, optsOut, []string{"sound:silence/10", "sound:silence/10"}},
	} {
		require.NoError(t, dead.Place(ctx, dialer.CallRequest{
			AttemptID: c.id, To: phone.Number(c.to), CallerID: "+12035550188", RingSeconds: ringTime,
			Media: []string{"sound:silence/10", "sound:silence/10", "sound:silence/10"}, Abandoned: c.abandoned,
		}, func(dialer.CallEvent) {}))
	}
	time.Sleep(2 * time.Second)
	dead.Close()

	// The restarted process takes the opt-out pressed on a call it took
	// up as the key is pressed; its first try fails (the database is
	// away), and the switch tries again.
	var (
		takeMu sync.Mutex
		tries  []int64
	)
	cfg.OrphanOptOut = func(_ context.Context, attemptID int64) error {
		takeMu.Lock()
		defer takeMu.Unlock()
		tries = append(tries, attemptID)
		if len(tries) == 1 {
			return errors.New("the database is away")
		}
		return nil
	}
	restarted, err := dialer.NewSwitch(ctx, cfg, log.With("process", "restarted"))
	require.NoError(t, err)
	defer restarted.Close()
	settle := func(id int64) (dialer.Orphan, time.Duration) {
		o, err := restarted.Orphan(ctx, id)
		require.NoError(t, err, "attempt %d", id)
		return o, time.Since(placed)
	}
	// In recovery's order, one after the other: the call answered before
	// the stop; the one answered 10 s after it was placed, taken up while
	// it still rang; the one answered after 5 s, which the new process
	// took up as it was answered, before recovery asked; the one never
	// answered, found after the others.
	o4, _ := settle(4)
	o2, at2 := settle(2)
	o3, _ := settle(3)
	o1, at1 := settle(1)
	t.Logf("answered before the stop: %q; answered after 10 s: %q (settled %.1f s after placing); opted out: %q; never answered: %q (settled %.1f s after placing)",
		o4, o2, at2.Seconds(), o3, o1, at1.Seconds())
	require.Equal(t, dialer.OrphanHungUp, o4)
	require.Equal(t, dialer.OrphanAbandoned, o2)
	require.Equal(t, dialer.OrphanOptedOut, o3)
	require.Eventually(t, func() bool {
		takeMu.Lock()
		defer takeMu.Unlock()
		return len(tries) == 2
	}, 10*time.Second, 50*time.Millisecond, "the opt-out is taken as the key is pressed, again after a failed try")
	takeMu.Lock()
	require.Equal(t, []int64{3, 3}, tries, "the orphan that pressed 9, and no other")
	takeMu.Unlock()
	require.Equal(t, dialer.OrphanRangOut, o1)
	require.GreaterOrEqual(t, at1, (ringTime-1)*time.Second, "recovery waited for the call to ring out")

	recs, err := tb.WaitPSTNCalls(ctx, 4)
	require.NoError(t, err)
	cdr := map[string]testbed.CDRRecord{}
	for _, r := range recs {
		t.Logf("PSTN CDR: %s %s duration %s billsec %s", r.Dst, r.Disposition, r.Duration, r.Billable)
		cdr[r.Dst] = r
	}
	require.Len(t, cdr, 4)
	require.Equal(t, testbed.DispositionNoAnswer, cdr[never].Disposition)
	require.GreaterOrEqual(t, cdr[never].Duration, (ringTime-1)*time.Second, "rang its 20 s, over F10's 15 s floor")
	require.Equal(t, testbed.DispositionAnswered, cdr[after10].Disposition)
	require.GreaterOrEqual(t, cdr[after10].Duration-cdr[after10].Billable, 9*time.Second, "rang its 10 s")
	require.GreaterOrEqual(t, cdr[after10].Billable, 2*time.Second, "the message played")
	require.LessOrEqual(t, cdr[after10].Billable, 6*time.Second, "heed hung up after the message, not the callee after its 8 s of dead air")
	require.Equal(t, testbed.DispositionAnswered, cdr[optsOut].Disposition)
	require.LessOrEqual(t, cdr[optsOut].Billable, 6*time.Second, "the 9 ended the 20 s message at once")
	require.Equal(t, testbed.DispositionAnswered, cdr[listens].Disposition)
	require.Less(t, cdr[listens].Billable, 10*time.Second, "the call up at the stop was hung up")
}

// TestOrphanOfAnotherApplication: on the real testbed, a call left ringing
// by a stopped process whose Stasis application is gone (the process that
// settles it runs under another name) is followed all the same: Orphan
// waits for it, and when it is answered, Asterisk hangs it up at once (its
// application is gone), so it is reported abandoned, the F10 rate's to
// count, not as a call that rang out.
func TestOrphanOfAnotherApplication(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tb, cfg, log := orphanTestbed(ctx, t, "heed-orphan-a")
	dead, err := dialer.NewSwitch(ctx, cfg, log.With("process", "stopped"))
	require.NoError(t, err)
	const after10 = "+18605550415" // rings 10 s, answers
	require.NoError(t, dead.Place(ctx, dialer.CallRequest{
		AttemptID: 1, To: phone.Number(after10), CallerID: "+12035550188", RingSeconds: 20,
		Media: []string{"sound:silence/10"}, Abandoned: []string{"sound:beep", "sound:silence/3"},
	}, func(dialer.CallEvent) {}))
	time.Sleep(2 * time.Second)
	dead.Close()

	other := cfg
	other.Application = fmt.Sprintf("heed-orphan-b-%d", os.Getpid())
	sw, err := dialer.NewSwitch(ctx, other, log.With("process", "other"))
	require.NoError(t, err)
	defer sw.Close()
	o, err := sw.Orphan(ctx, 1)
	require.NoError(t, err)
	recs, err := tb.WaitPSTNCalls(ctx, 1)
	require.NoError(t, err)
	t.Logf("orphan of another application: %q; PSTN CDR: %s duration %s billsec %s", o, recs[0].Disposition, recs[0].Duration, recs[0].Billable)
	require.Equal(t, dialer.OrphanAbandoned, o)
	require.Equal(t, testbed.DispositionAnswered, recs[0].Disposition)
	require.GreaterOrEqual(t, recs[0].Duration, 9*time.Second, "rang its 10 s")
}

// TestOrphanEndRecorded: on the real testbed, a call a stopped process
// left ringing is answered before any recovery asks about it (its
// campaign paused, say, or recovered by another process): the restarted
// process's switch takes it up as it is answered and plays the
// abandoned-call message. Once the call has ended, the switch records
// what became of it (ARIConfig.OrphanEnded, campaign.Store.NoteOrphan),
// trying again while the database refuses, and keeps it in memory only
// until it is recorded: a switch used to keep it until an Orphan asked,
// which for an attempt recovered elsewhere is never. A late Orphan then
// finds the channel gone, and recovery closes the attempt from the record
// (campaign's TestRecoverKeepsNotedOrphan).
func TestOrphanEndRecorded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tb, cfg, log := orphanTestbed(ctx, t, "heed-orphan-n")
	dead, err := dialer.NewSwitch(ctx, cfg, log.With("process", "stopped"))
	require.NoError(t, err)
	const after10 = "+18605550415" // rings 10 s, answers, says hello, stays 8 s
	require.NoError(t, dead.Place(ctx, dialer.CallRequest{
		AttemptID: 7, To: phone.Number(after10), CallerID: "+12035550188", RingSeconds: 20,
		Media: []string{"sound:silence/10"}, Abandoned: []string{"sound:beep"},
	}, func(dialer.CallEvent) {}))
	time.Sleep(2 * time.Second)
	dead.Close()

	type note struct {
		attempt int64
		found   dialer.Orphan
	}
	var (
		mu      sync.Mutex
		notes   []note
		away    = true // the database refuses the record until the test lets it in
		failed  = make(chan struct{})
		refused sync.Once
	)
	cfg.OrphanEnded = func(_ context.Context, attemptID int64, found dialer.Orphan) error {
		mu.Lock()
		defer mu.Unlock()
		notes = append(notes, note{attemptID, found})
		if away {
			refused.Do(func() { close(failed) })
			return errors.New("the database is away")
		}
		return nil
	}
	restarted, err := dialer.NewSwitch(ctx, cfg, log.With("process", "restarted"))
	require.NoError(t, err)
	defer restarted.Close()

	select {
	case <-failed:
	case <-ctx.Done():
		t.Fatal("the orphan's end was never recorded")
	}
	require.Equal(t, 1, dialer.Settled(restarted), "kept while the database refuses the record")
	mu.Lock()
	away = false
	mu.Unlock()
	require.Eventually(t, func() bool { return dialer.Settled(restarted) == 0 }, 15*time.Second, 50*time.Millisecond,
		"forgotten once recorded")
	mu.Lock()
	require.GreaterOrEqual(t, len(notes), 2)
	for _, n := range notes {
		require.Equal(t, note{7, dialer.OrphanAbandoned}, n, "recorded: answered with no one left to follow it")
	}
	mu.Unlock()
	o, err := restarted.Orphan(ctx, 7)
	require.NoError(t, err)
	require.Equal(t, dialer.OrphanGone, o, "asked late, the switch has let the call go: recovery reads the record")

	recs, err := tb.WaitPSTNCalls(ctx, 1)
	require.NoError(t, err)
	t.Logf("PSTN CDR: %s duration %s billsec %s", recs[0].Disposition, recs[0].Duration, recs[0].Billable)
	require.Equal(t, testbed.DispositionAnswered, recs[0].Disposition)
	require.Less(t, recs[0].Billable, 6*time.Second, "heed hung up after the message, not the callee after its 8 s")
}

// orphanTestbed starts the testbed for an orphan test and returns it, the
// configuration of a switch of installation "orphan" on it whose Stasis
// application is app and this process's, and a logger whose lines the
// test shows when it fails.
func orphanTestbed(ctx context.Context, t *testing.T, app string) (*testbed.Testbed, dialer.ARIConfig, *slog.Logger) {
	t.Helper()
	tb := testbed.ForTest(ctx, t)
	logged := &logbuf.Buffer{}
	log := slog.New(slog.NewTextHandler(logged, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("switch log:\n%s", logged.String())
		}
	})
	cfg := dialer.ARIConfig{
		Name: "pbx", URL: tb.ARIURL, Username: tb.ARIUser, Password: tb.ARIPassword,
		Application: fmt.Sprintf("%s-%d", app, os.Getpid()), Trunk: tb.Trunk, Installation: "orphan",
	}
	return tb, cfg, log
}
