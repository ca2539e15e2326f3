package testbed_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk/testbed"
)

// The tests share one testbed, started by TestMain. Set HEED_SKIP_ASTERISK=1
// to skip them on machines that cannot run it, and HEED_ASTERISK_LOG=1 to
// see Asterisk's console output on stderr.
var shared struct {
	tb  *testbed.Testbed
	err error
}

func skipAsterisk() bool { return os.Getenv("HEED_SKIP_ASTERISK") == "1" }

// asteriskLog is where the testbeds' console output goes.
func asteriskLog() io.Writer {
	if os.Getenv("HEED_ASTERISK_LOG") == "1" {
		return os.Stderr
	}
	return nil
}

func TestMain(m *testing.M) {
	if !skipAsterisk() {
		// The first run builds the Debian root, which takes about a minute.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		start := time.Now()
		shared.tb, shared.err = testbed.Start(ctx, testbed.Options{Log: asteriskLog()})
		cancel()
		if shared.err == nil {
			fmt.Fprintf(os.Stderr, "testbed started in %s\n", time.Since(start).Round(time.Millisecond))
		}
	}
	code := m.Run()
	if shared.tb != nil {
		if err := shared.tb.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "closing the shared testbed:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// sharedTestbed returns the shared testbed, failing the test if it did not
// start and skipping it if HEED_SKIP_ASTERISK=1.
func sharedTestbed(t *testing.T) *testbed.Testbed {
	t.Helper()
	if skipAsterisk() {
		t.Skip("HEED_SKIP_ASTERISK=1: not running real Asterisk")
	}
	require.NoError(t, shared.err, "starting the Asterisk testbed (HEED_SKIP_ASTERISK=1 skips these tests)")
	return shared.tb
}

const callerID = "+18605550000"

// testBundle is what a call test needs: the testbed, an ARI client and the
// events of each channel.
type testBundle struct {
	tb     *testbed.Testbed
	client ari.Client

	mu     sync.Mutex
	events map[string]chan ari.Event // by channel ID
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	tb := sharedTestbed(t)
	bundle := &testBundle{tb: tb, client: connect(t, tb), events: map[string]chan ari.Event{}}
	sub := bundle.client.Bus().Subscribe(nil, ari.Events.All)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range sub.Events() {
			bundle.route(e)
		}
	}()
	t.Cleanup(func() {
		sub.Cancel()
		<-done
	})
	return bundle
}

// connect connects to the testbed's ARI. native.Connect retries forever, so
// it runs in a goroutine under a deadline.
func connect(t *testing.T, tb *testbed.Testbed) ari.Client {
	t.Helper()
	type result struct {
		client ari.Client
		err    error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := native.Connect(&native.Options{
			Application:  tb.Application,
			URL:          tb.ARIURL,
			WebsocketURL: tb.WebsocketURL,
			Username:     tb.ARIUser,
			Password:     tb.ARIPassword,
		})
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		require.NoError(t, r.err, "connecting to ARI")
		t.Cleanup(r.client.Close)
		return r.client
	case <-time.After(15 * time.Second):
		t.Fatalf("connecting to ARI at %s timed out", tb.ARIURL)
		return nil
	}
}

// route hands an event to the channel it concerns.
func (b *testBundle) route(e ari.Event) {
	var id string
	switch e := e.(type) {
	case *ari.PlaybackStarted:
		id = strings.TrimPrefix(e.Playback.TargetURI, "channel:")
	case *ari.PlaybackFinished:
		id = strings.TrimPrefix(e.Playback.TargetURI, "channel:")
	default:
		for _, k := range e.Keys() {
			if k.Kind == ari.ChannelKey {
				id = k.ID
				break
			}
		}
	}
	b.mu.Lock()
	ch := b.events[id]
	b.mu.Unlock()
	if ch != nil {
		select {
		case ch <- e:
		default:
			panic("test call event buffer full")
		}
	}
}

// call is one originated call and its events.
type call struct {
	t      *testing.T
	number string
	handle *ari.ChannelHandle
	events chan ari.Event
	seen   []string
}

// originate places a call to number (the events are registered first, so
// none are missed).
func (b *testBundle) originate(t *testing.T, number string, req ari.OriginateRequest) *call {
	t.Helper()
	id := fmt.Sprintf("test-%s-%d", strings.TrimPrefix(number, "+"), time.Now().UnixNano())
	c := &call{t: t, number: number, events: make(chan ari.Event, 256)}
	b.mu.Lock()
	b.events[id] = c.events
	b.mu.Unlock()

	req.Endpoint = b.tb.Endpoint(number)
	req.CallerID = callerID
	req.Timeout = 20
	req.ChannelID = id
	h, err := b.client.Channel().Originate(nil, req)
	require.NoError(t, err, "originating to %s", number)
	c.handle = h
	return c
}

// next returns the next event of one of the given types. It fails the test
// at the deadline, and when the channel is destroyed while waiting for
// something else.
func (c *call) next(ctx context.Context, types ...string) ari.Event {
	c.t.Helper()
	for {
		select {
		case e := <-c.events:
			c.seen = append(c.seen, e.GetType())
			for _, typ := range types {
				if e.GetType() == typ {
					return e
				}
			}
			if d, ok := e.(*ari.ChannelDestroyed); ok {
				c.t.Fatalf("call to %s: channel destroyed (cause %d %q) while waiting for %v; events: %v", c.number, d.Cause, d.CauseTxt, types, c.seen)
			}
		case <-ctx.Done():
			c.t.Fatalf("call to %s: no %v before the deadline; events: %v", c.number, types, c.seen)
		}
	}
}

// destroyed waits for ChannelDestroyed and returns it.
func (c *call) destroyed(ctx context.Context) *ari.ChannelDestroyed {
	c.t.Helper()
	return c.next(ctx, ari.Events.ChannelDestroyed).(*ari.ChannelDestroyed)
}

// hangup hangs the call up from heed's side and waits until it is gone.
func (c *call) hangup(ctx context.Context) *ari.ChannelDestroyed {
	c.t.Helper()
	require.NoError(c.t, c.handle.Hangup(), "hanging up %s", c.number)
	return c.destroyed(ctx)
}

// number returns the testbed number with the given behaviour suffix.
func number(suffix string) string { return "+186055501" + suffix }

// dispositions holds each dialed number's expected PSTN CDR disposition; it
// is filled in by the behaviour tests that ran.
type dispositions struct {
	mu   sync.Mutex
	want map[string]string
}

func (d *dispositions) expect(number, disposition string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.want[number] = disposition
}

func TestCalls(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dispo := &dispositions{want: map[string]string{}}

	// The PBX's hangup causes for calls that fail before being answered.
	// Busy and congestion arrive as SIP 486 and 503; an unanswered call is
	// cancelled by the PBX when the originate timeout expires.
	unanswered := []struct {
		suffix      string
		cause       int
		disposition string
		minDuration time.Duration
	}{
		{"05", 17, testbed.DispositionBusy, 0},                    // user busy
		{"06", 19, testbed.DispositionNoAnswer, 19 * time.Second}, // no answer: the 20 s originate timeout
		{"07", 34, testbed.DispositionCongestion, 0},              // circuit/channel congestion
	}

	t.Run("behaviours", func(t *testing.T) {
		t.Run("01 answers and listens", func(t *testing.T) {
			t.Parallel()
			c := bundle.originate(t, number("01"), ari.OriginateRequest{App: "heed", AppArgs: "dial,01"})
			ss := c.next(ctx, ari.Events.StasisStart).(*ari.StasisStart)
			require.Equal(t, []string{"dial", "01"}, ss.Args)
			require.Equal(t, "Up", ss.Channel.State)
			// The callee stays on the line until heed hangs up.
			select {
			case e := <-c.events:
				t.Fatalf("unexpected %s while the callee listens", e.GetType())
			case <-time.After(3 * time.Second):
			}
			d := c.hangup(ctx)
			require.Equal(t, 16, d.Cause, d.CauseTxt) // normal clearing
			dispo.expect(c.number, testbed.DispositionAnswered)
		})

		for _, tc := range []struct{ suffix, digit string }{{"02", "1"}, {"03", "2"}, {"04", "9"}} {
			t.Run(tc.suffix+" presses "+tc.digit, func(t *testing.T) {
				t.Parallel()
				c := bundle.originate(t, number(tc.suffix), ari.OriginateRequest{App: "heed", AppArgs: "dial"})
				ss := c.next(ctx, ari.Events.StasisStart).(*ari.StasisStart)
				answered := time.Now()
				_, err := c.handle.Play("prompt-"+ss.Channel.ID, "sound:hello-world")
				require.NoError(t, err)
				dtmf := c.next(ctx, ari.Events.ChannelDtmfReceived).(*ari.ChannelDtmfReceived)
				require.Equal(t, tc.digit, dtmf.Digit)
				// The callee waits 2 s after answering, then presses: not at
				// once, and well before it would give up. The upper bound is
				// loose, since a loaded machine (CI once saw 3.5 s) delays
				// Asterisk's dialplan, not the behaviour.
				after := time.Since(answered).Seconds()
				require.GreaterOrEqual(t, after, 1.0, "the callee waits before it presses")
				require.Less(t, after, 10.0, "the callee presses soon after answering")
				d := c.hangup(ctx)
				require.Equal(t, 16, d.Cause, d.CauseTxt)
				dispo.expect(c.number, testbed.DispositionAnswered)
			})
		}

		for _, tc := range unanswered {
			t.Run(tc.suffix+" is not answered", func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				c := bundle.originate(t, number(tc.suffix), ari.OriginateRequest{App: "heed", AppArgs: "dial"})
				d := c.destroyed(ctx)
				require.NotContains(t, c.seen, ari.Events.StasisStart)
				require.Equal(t, tc.cause, d.Cause, "cause text %q", d.CauseTxt)
				require.GreaterOrEqual(t, time.Since(start), tc.minDuration)
				t.Logf("%s: ChannelDestroyed after %s, cause %d %q, events %v", c.number, time.Since(start).Round(10*time.Millisecond), d.Cause, d.CauseTxt, c.seen)
				dispo.expect(c.number, tc.disposition)
			})
		}

		t.Run("08 answering machine records a message", func(t *testing.T) {
			t.Parallel()
			tb := bundle.tb
			name := "message-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			require.NoError(t, writeTone(filepath.Join(tb.HostMediaDir, name+".wav"), 440, 2*time.Second))

			// Originated into Stasis, then sent to AMD once answered: the
			// application stays subscribed to the channel throughout.
			c := bundle.originate(t, number("08"), ari.OriginateRequest{App: "heed", AppArgs: "dial"})
			ss := c.next(ctx, ari.Events.StasisStart).(*ari.StasisStart)
			require.Equal(t, []string{"dial"}, ss.Args)
			require.NoError(t, c.handle.Continue(tb.AMDContext, "s", 1))
			c.next(ctx, ari.Events.StasisEnd)
			ss = c.next(ctx, ari.Events.StasisStart).(*ari.StasisStart)
			t.Logf("%s: AMD says %v", c.number, ss.Args)
			require.Len(t, ss.Args, 3, "args %v", ss.Args)
			require.Equal(t, "amd", ss.Args[0])
			require.Equal(t, "MACHINE", ss.Args[1], "AMD cause %v", ss.Args)

			// Leave the message after the greeting and the beep.
			time.Sleep(5 * time.Second)
			_, err := c.handle.Play("msg-"+ss.Channel.ID, "sound:"+path.Join(tb.AsteriskMediaDir, name))
			require.NoError(t, err)
			pf := c.next(ctx, ari.Events.PlaybackFinished).(*ari.PlaybackFinished)
			require.Equal(t, "done", pf.Playback.State)
			d := c.hangup(ctx)
			require.Equal(t, 16, d.Cause, d.CauseTxt)
			dispo.expect(c.number, testbed.DispositionAnswered)

			// The message is complete once the PSTN has logged the call.
			var rec testbed.CDRRecord
			for rec.Dst != c.number {
				recs, err := tb.WaitPSTNCalls(ctx, 1)
				require.NoError(t, err)
				for _, r := range recs {
					if r.Dst == c.number {
						rec = r
					}
				}
				if rec.Dst != c.number {
					time.Sleep(100 * time.Millisecond)
				}
			}
			vms, err := tb.Voicemails()
			require.NoError(t, err)
			var vm testbed.Voicemail
			for _, v := range vms {
				if v.UniqueID == rec.UniqueID {
					vm = v
				}
			}
			require.NotEmpty(t, vm.Path, "no voicemail for %+v among %+v", rec, vms)
			require.Equal(t, c.number, vm.Number)
			rms, secs := wavLevel(t, vm.Path)
			t.Logf("voicemail %s: %.1f s, RMS %.0f", filepath.Base(vm.Path), secs, rms)
			require.Greater(t, secs, 1.5, "the 2 s message is in the recording")
			require.Greater(t, rms, 1000.0, "the recording holds the tone, not silence")
		})

		t.Run("numbers without + work too", func(t *testing.T) {
			t.Parallel()
			c := bundle.originate(t, "18605550105", ari.OriginateRequest{App: "heed", AppArgs: "dial"})
			d := c.destroyed(ctx)
			require.Equal(t, 17, d.Cause, d.CauseTxt)
			dispo.expect(c.number, testbed.DispositionBusy)
		})

		t.Run("09 answers and hangs up", func(t *testing.T) {
			t.Parallel()
			c := bundle.originate(t, number("09"), ari.OriginateRequest{App: "heed", AppArgs: "dial"})
			d := c.destroyed(ctx)
			require.Equal(t, 16, d.Cause, d.CauseTxt)
			t.Logf("%s: cause %d %q, events %v", c.number, d.Cause, d.CauseTxt, c.seen)
			dispo.expect(c.number, testbed.DispositionAnswered)
		})

		t.Run("10 human says hello", func(t *testing.T) {
			t.Parallel()
			// Originated straight into the AMD context: the application
			// hears of the call only once it enters Stasis, and no longer
			// once it has left (StasisEnd, but no ChannelDestroyed).
			c := bundle.originate(t, number("10"), ari.OriginateRequest{Context: bundle.tb.AMDContext, Extension: "s", Priority: 1})
			ss := c.next(ctx, ari.Events.StasisStart).(*ari.StasisStart)
			t.Logf("%s: AMD says %v", c.number, ss.Args)
			require.Len(t, ss.Args, 3, "args %v", ss.Args)
			require.Equal(t, "amd", ss.Args[0])
			require.Equal(t, "HUMAN", ss.Args[1], "AMD cause %v", ss.Args)
			require.NoError(t, c.handle.Hangup())
			c.next(ctx, ari.Events.StasisEnd)
			dispo.expect(c.number, testbed.DispositionAnswered)
		})
	})
	if t.Failed() {
		return
	}

	// The PSTN's CDR witnesses exactly one call per number dialed, from our
	// caller ID, with the right outcome.
	dispo.mu.Lock()
	want := dispo.want
	dispo.mu.Unlock()
	recs, err := bundle.tb.WaitPSTNCalls(ctx, len(want))
	require.NoError(t, err)
	require.Len(t, recs, len(want), "records: %+v", recs)
	for _, r := range recs {
		t.Logf("PSTN CDR: dst %s src %s clid %q %s, lastapp %s, billsec %s", r.Dst, r.Src, r.CLID, r.Disposition, r.LastApp, r.Billable)
		disposition, ok := want[r.Dst]
		require.True(t, ok, "unexpected call to %q: %+v", r.Dst, r)
		delete(want, r.Dst)
		require.Equal(t, callerID, r.Src, "%+v", r)
		require.Contains(t, r.CLID, callerID, "%+v", r)
		require.Equal(t, "pstn", r.DContext)
		require.Equal(t, disposition, r.Disposition, "%+v", r)
		require.False(t, r.Start.IsZero())
		require.False(t, r.End.IsZero())
		require.Equal(t, disposition == testbed.DispositionAnswered, !r.Answer.IsZero(), "%+v", r)
		require.NotEmpty(t, r.UniqueID)
	}
	require.Empty(t, want, "dialed numbers missing from the PSTN CDR")
}

// writeTone writes a WAV file (8 kHz, 16-bit, mono) holding a sine tone.
func writeTone(file string, hz float64, d time.Duration) error {
	n := int(d.Seconds() * 8000)
	data := make([]byte, 44+2*n)
	copy(data[0:], "RIFF")
	binary.LittleEndian.PutUint32(data[4:], uint32(36+2*n))
	copy(data[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(data[16:], 16)
	binary.LittleEndian.PutUint16(data[20:], 1) // PCM
	binary.LittleEndian.PutUint16(data[22:], 1) // mono
	binary.LittleEndian.PutUint32(data[24:], 8000)
	binary.LittleEndian.PutUint32(data[28:], 16000)
	binary.LittleEndian.PutUint16(data[32:], 2)
	binary.LittleEndian.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	binary.LittleEndian.PutUint32(data[40:], uint32(2*n))
	for i := 0; i < n; i++ {
		v := int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/8000))
		binary.LittleEndian.PutUint16(data[44+2*i:], uint16(v))
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return fmt.Errorf("writing tone: %w", err)
	}
	return nil
}

// wavLevel returns the RMS level over the loudest second of a 16-bit, 8 kHz
// mono WAV file, and its length in seconds.
func wavLevel(t *testing.T, file string) (rms, seconds float64) {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Greater(t, len(data), 44, "WAV file too short")
	samples := data[44:]
	n := len(samples) / 2
	best := 0.0
	for start := 0; start+8000 <= n; start += 800 {
		sum := 0.0
		for i := start; i < start+8000; i++ {
			v := float64(int16(binary.LittleEndian.Uint16(samples[2*i:])))
			sum += v * v
		}
		best = math.Max(best, math.Sqrt(sum/8000))
	}
	return best, float64(n) / 8000
}

func TestClose(t *testing.T) {
	t.Parallel()
	// An instance directory left by a killed test process (its lock file is
	// not locked) is removed by the next Start.
	stale := filepath.Join(filepath.Dir(sharedTestbed(t).Dir), "stale-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	require.NoError(t, os.MkdirAll(filepath.Join(stale, "pbx", "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(stale, "lock"), nil, 0o644))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	tb, err := testbed.Start(ctx, testbed.Options{Log: asteriskLog()})
	require.NoError(t, err)
	t.Logf("second testbed started in %s, alongside the shared one", time.Since(start).Round(time.Millisecond))
	_, err = os.Stat(stale)
	require.ErrorIs(t, err, os.ErrNotExist, "stale instance directory not removed")
	_, err = os.Stat(sharedTestbed(t).Dir)
	require.NoError(t, err, "the shared testbed's directory survives")

	// Both Asterisks run in mount and PID namespaces of their own, with a
	// /proc mounted there that this process cannot see.
	instance := path.Dir(path.Dir(tb.AsteriskMediaDir)) // /run/heed/<id>
	pids := processesWith(t, "-C "+instance+"/")
	require.Len(t, pids, 2, "asterisk processes of %s", instance)
	for _, pid := range pids {
		for _, ns := range []string{"mnt", "pid"} {
			theirs, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
			require.NoError(t, err)
			ours, err := os.Readlink("/proc/self/ns/" + ns)
			require.NoError(t, err)
			require.NotEqual(t, ours, theirs, "asterisk shares our %s namespace", ns)
		}
		mounts, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
		require.NoError(t, err)
		require.Contains(t, string(mounts), " /proc rw", "asterisk has its /proc")
	}
	own, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	require.NotContains(t, string(own), tb.Root+"/")

	require.NoError(t, tb.Close())
	require.NoError(t, tb.Close(), "Close is idempotent")
	require.Empty(t, processesWith(t, "-C "+instance+"/"), "asterisk processes left after Close")
	for _, pid := range pids {
		_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
		require.ErrorIs(t, err, os.ErrNotExist, "pid %d still exists", pid)
	}
	own, err = os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	require.NotContains(t, string(own), tb.Root+"/")
	_, err = os.Stat(tb.Dir)
	require.ErrorIs(t, err, os.ErrNotExist, "instance directory left after Close")
	_, err = tb.PSTNCalls()
	require.ErrorIs(t, err, testbed.ErrClosed)
}

// processesWith returns the PIDs of processes whose command line contains s.
func processesWith(t *testing.T, s string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // gone meanwhile
		}
		if strings.Contains(strings.ReplaceAll(string(cmdline), "\x00", " "), s) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestStartFailsCleanly checks that a failed Start leaves no process and no
// directory of its own behind. It looks only at the failed testbed's own
// directory, named in the error, because other test binaries may be running
// testbeds of their own in the same root at the same time.
func TestStartFailsCleanly(t *testing.T) {
	if skipAsterisk() {
		t.Skip("HEED_SKIP_ASTERISK=1: not running real Asterisk")
	}
	sharedTestbed(t)

	// Take the ARI port so the PBX cannot serve ARI.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	failed, err := testbed.Start(ctx, testbed.Options{ARIPort: port, Log: asteriskLog()})
	require.Nil(t, failed)
	require.ErrorIs(t, err, testbed.ErrStart)
	require.Contains(t, err.Error(), "last lines of pbx output")
	require.Less(t, time.Since(start), 20*time.Second, "Start gives up quickly")
	t.Logf("Start failed after %s as expected: %.300s...", time.Since(start).Round(time.Millisecond), err)
	m := regexp.MustCompile(`testbed in (\S+):`).FindStringSubmatch(err.Error())
	require.NotNil(t, m, "the error names the testbed's directory")
	dir := m[1]
	require.NoDirExists(t, dir, "instance directory left behind")
	instance := "/run/heed/" + filepath.Base(dir) // the directory as Asterisk sees it
	require.Empty(t, processesWith(t, "-C "+instance+"/"), "asterisk processes left behind")
}
