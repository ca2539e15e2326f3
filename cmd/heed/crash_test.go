package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk/testbed"
	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/internal/logbuf"
)

// serveProcess runs `heed serve` as a real child process on addr.
func serveProcess(t *testing.T, bin string, env map[string]string, addr string, log *logbuf.Buffer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--listen", addr)
	cmd.Env = append(os.Environ(), "HEED_LOG_LEVEL=info")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return cmd
		}
		require.True(t, time.Now().Before(deadline), "heed serve did not come up:\n%s", log.String())
		time.Sleep(100 * time.Millisecond)
	}
}

// crashStack builds heed for a test that kills it, seeds the demo list
// and an admin with password, and returns the stack, the binary, the
// address it is to serve on and the admin's API token. A test build keeps
// the clock the test gives it (business hours in New York, running on in
// real time, the same for every process started), so that the contacts'
// calling windows are open whatever the hour.
func crashStack(t *testing.T, tb *testbed.Testbed, password string) (s *stack, bin, addr, token string) {
	t.Helper()
	bin = filepath.Join(t.TempDir(), "heed")
	out, err := exec.Command("go", "build", "-tags", "heedtestclock", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	s = &stack{log: &logbuf.Buffer{}, env: startHeedEnv(t, tb)}
	s.env["HEED_TEST_CLOCK_AT"] = time.Now().Format(time.RFC3339Nano)
	s.env["HEED_TEST_CLOCK_ORIGIN"] = businessHours()().Format(time.RFC3339Nano)
	token = s.seedDemoAdmin(t, password)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr = ln.Addr().String()
	require.NoError(t, ln.Close())
	s.URL = "http://" + addr
	return s, bin, addr, token
}

// restartUntilComplete starts heed serve again after a kill, stopped when
// the test ends, and waits, for at most 3 minutes, until campaign cp is
// complete; it returns the campaign as the API then shows it.
func restartUntilComplete(t *testing.T, s *stack, bin, addr, token string, cp campaign.Campaign) campaign.Campaign {
	t.Helper()
	second := serveProcess(t, bin, s.env, addr, s.log)
	t.Cleanup(func() {
		_ = second.Process.Signal(syscall.SIGTERM)
		_ = second.Wait()
	})
	deadline := time.Now().Add(3 * time.Minute)
	for cp.Status != campaign.StatusCompleted {
		require.True(t, time.Now().Before(deadline), "campaign did not complete after the restart: %+v\n%s", cp, s.log.String())
		time.Sleep(500 * time.Millisecond)
		require.Equal(t, http.StatusOK, s.api(t, token, "GET", fmt.Sprintf("/api/v1/campaigns/%d", cp.ID), nil, &cp))
	}
	return cp
}

// TestKillDashNine kills `heed serve` (SIGKILL) in the middle of a
// campaign with calls in flight, starts it again, and checks that the
// campaign completes, that the calls still up at the restart are hung up
// and recorded as such, and that the PSTN simulator's CDR shows no number
// dialed twice.
func TestKillDashNine(t *testing.T) {
	t.Parallel()
	tb := sharedTestbed(t)
	start := time.Now()
	s, bin, addr, token := crashStack(t, tb, "crash test password")
	first := serveProcess(t, bin, s.env, addr, s.log)
	var lists struct{ Lists []campaign.ContactList }
	require.Equal(t, http.StatusOK, s.api(t, token, "GET", "/api/v1/lists", nil, &lists))
	const callerID = "+12035550179"
	var cp campaign.Campaign
	require.Equal(t, http.StatusCreated, s.api(t, token, "POST", "/api/v1/campaigns", map[string]any{
		"name": "Crash", "purpose": "informational", "list_id": lists.Lists[0].ID, "message": "This is Smith and Lee with a reminder.",
		"caller_id": callerID, "ring_seconds": 20, "max_concurrent": 3, "retry": map[string]int{"max_attempts": 1},
	}, &cp))
	require.Equal(t, http.StatusOK, s.api(t, token, "POST", fmt.Sprintf("/api/v1/campaigns/%d/start", cp.ID), nil, &cp))

	// Wait until calls are in flight, then kill the process outright.
	deadline := time.Now().Add(time.Minute)
	for {
		var got struct{ Attempts []campaign.Attempt }
		require.Equal(t, http.StatusOK, s.api(t, token, "GET", fmt.Sprintf("/api/v1/campaigns/%d/attempts", cp.ID), nil, &got))
		inFlight := 0
		for _, a := range got.Attempts {
			if a.Status == "ringing" || a.Status == "answered" {
				inFlight++
			}
		}
		if inFlight >= 2 {
			break
		}
		require.True(t, time.Now().Before(deadline), "no calls in flight:\n%s", s.log.String())
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	t.Log("killed heed serve with calls in flight")

	cp = restartUntilComplete(t, s, bin, addr, token, cp)
	var got struct{ Attempts []campaign.Attempt }
	require.Equal(t, http.StatusOK, s.api(t, token, "GET", fmt.Sprintf("/api/v1/campaigns/%d/attempts", cp.ID), nil, &got))
	placed, unknown := 0, 0
	seenAttempt := map[string]int{}
	for _, a := range got.Attempts {
		seenAttempt[a.Phone]++
		if a.Decision == "allow" {
			placed++
		}
		if a.Outcome == "unknown" {
			unknown++
		}
	}
	for p, n := range seenAttempt {
		require.Equal(t, 1, n, "%s has %d attempts; the crash must not add one", p, n)
	}
	require.Positive(t, unknown, "the calls in flight at the crash are closed as unknown")
	// Reconciliation asked Asterisk about each: the first calls (numbers
	// that listen for 30 s) were still up at the restart and were hung up.
	found := map[string]int{}
	hungUp := map[string]bool{}
	for _, a := range attemptRows(t, s.env, cp.ID) {
		switch {
		case a.Reconcile == "abandoned" || a.Reconcile == "opted_out":
			// Left ringing, then answered with no process to follow it.
			require.Equal(t, "abandoned", a.Outcome, "attempt %d", a.ID)
			found[a.Reconcile]++
		case a.Outcome == "unknown":
			// A call left ringing rings out (rang_out) rather than being
			// hung up.
			require.Contains(t, []string{"hung_up", "gone", "rang_out"}, a.Reconcile, "attempt %d", a.ID)
			found[a.Reconcile]++
			if a.Reconcile == "hung_up" {
				hungUp[a.Phone] = true
			}
		default:
			require.Empty(t, a.Reconcile, "attempt %d was not left in flight", a.ID)
		}
	}
	require.Positive(t, found["hung_up"], "a call still up at the restart is hung up: %v\n%s", found, s.log.String())
	// A call whose originate never reached Asterisk (heed was killed
	// between its last look and the originate, or before it recorded the
	// originate: it names no Asterisk, and reconciliation found no channel)
	// may lack a record; every other placed attempt has exactly one.
	sure, mayLack := placed, map[string]bool{}
	for _, a := range attemptRows(t, s.env, cp.ID) {
		if a.Decision == "allow" && a.Asterisk == "" && a.Reconcile == "gone" {
			sure--
			mayLack[a.Phone] = true
		}
	}
	recs := waitCDR(t, tb, callerID, start, sure)
	dialed := map[string]int{}
	for _, r := range recs {
		dialed[r.Dst]++
	}
	for p, n := range dialed {
		require.Equal(t, 1, n, "%s was dialed %d times; CDR:\n%s", p, n, fmtCDR(recs))
	}
	for _, r := range recs {
		if hungUp[r.Dst] {
			// Its callee listens for 30 s; only heed's hangup ends it sooner.
			require.Less(t, r.Billable, 30*time.Second, "%s was hung up at the restart; CDR:\n%s", r.Dst, fmtCDR(recs))
		}
	}
	for _, a := range attemptRows(t, s.env, cp.ID) {
		if a.Decision == "allow" && !mayLack[a.Phone] {
			require.Equal(t, 1, dialed[a.Phone], "%s was placed: one call; CDR:\n%s", a.Phone, fmtCDR(recs))
		}
	}
	require.LessOrEqual(t, len(recs), placed, "one call per placed attempt, none more: CDR:\n%s", fmtCDR(recs))
	t.Logf("%d attempts placed, %d closed as unknown after the crash (%v), %d CDR records, no number twice", placed, unknown, found, len(recs))
	require.True(t, strings.Contains(s.log.String(), "resumed running campaigns"), "the restart picked the campaign up")
}

// TestKillDashNineWhileRinging kills `heed serve` (SIGKILL) while a call
// rings (the demo list's no-answer contact) and starts it again at once.
// Recovery lets the call ring to the campaign's ring time (20 s) rather
// than hanging it up at the restart (rule F10: let the phone ring at least
// 15 s), closes its attempt as rang_out, and the number is called once.
// The PSTN simulator's CDR is the witness of the ring time.
func TestKillDashNineWhileRinging(t *testing.T) {
	t.Parallel()
	tb := sharedTestbed(t)
	start := time.Now()
	s, bin, addr, token := crashStack(t, tb, "ring test password")
	first := serveProcess(t, bin, s.env, addr, s.log)
	var lists struct{ Lists []campaign.ContactList }
	require.Equal(t, http.StatusOK, s.api(t, token, "GET", "/api/v1/lists", nil, &lists))
	const callerID, noAnswer = "+12035550189", "+18605550106"
	var cp campaign.Campaign
	require.Equal(t, http.StatusCreated, s.api(t, token, "POST", "/api/v1/campaigns", map[string]any{
		"name": "Ring", "purpose": "informational", "list_id": lists.Lists[0].ID, "message": "This is Smith and Lee with a reminder.",
		"caller_id": callerID, "ring_seconds": 20, "max_concurrent": 20, "retry": map[string]int{"max_attempts": 1},
	}, &cp))
	require.Equal(t, http.StatusOK, s.api(t, token, "POST", fmt.Sprintf("/api/v1/campaigns/%d/start", cp.ID), nil, &cp))
	deadline := time.Now().Add(time.Minute)
	for ringing := false; !ringing; {
		var got struct{ Attempts []campaign.Attempt }
		require.Equal(t, http.StatusOK, s.api(t, token, "GET", fmt.Sprintf("/api/v1/campaigns/%d/attempts", cp.ID), nil, &got))
		for _, a := range got.Attempts {
			ringing = ringing || (a.Phone == noAnswer && a.Status == "ringing")
		}
		require.True(t, time.Now().Before(deadline), "the no-answer call never rang:\n%s", s.log.String())
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	t.Logf("killed heed serve while %s rang", noAnswer)
	cp = restartUntilComplete(t, s, bin, addr, token, cp)
	var reconcile []string
	for _, a := range attemptRows(t, s.env, cp.ID) {
		if a.Phone == noAnswer {
			reconcile = append(reconcile, a.Reconcile)
			t.Logf("attempt %d: outcome %q, reconcile %q", a.ID, a.Outcome, a.Reconcile)
		}
	}
	require.Equal(t, []string{"rang_out"}, reconcile, "one attempt, left to ring out by recovery:\n%s", s.log.String())
	var rang []testbed.CDRRecord
	for _, r := range waitCDR(t, tb, callerID, start, 1) {
		if r.Dst == noAnswer {
			rang = append(rang, r)
		}
	}
	require.Len(t, rang, 1, "called once: %s", fmtCDR(rang))
	t.Logf("PSTN CDR for %s: %s, rang %s (campaign ring_seconds 20, F10 floor 15 s)", noAnswer, rang[0].Disposition, rang[0].Duration)
	require.Equal(t, testbed.DispositionNoAnswer, rang[0].Disposition)
	require.GreaterOrEqual(t, rang[0].Duration, 19*time.Second, "rang its 20 s, not cut at the restart")
}
