package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk/testbed"
	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/internal/logbuf"
)

var (
	appSeq atomic.Int64
	tbOnce sync.Once
	tb     *testbed.Testbed
	tbErr  error
)

func TestMain(m *testing.M) {
	code := dbtest.Run(m)
	if tb != nil {
		_ = tb.Close()
	}
	os.Exit(code)
}

// sharedTestbed starts the Asterisk testbed once for this test binary. It
// fails the test when Asterisk cannot start; only HEED_SKIP_ASTERISK=1 (a
// developer laptop, never CI) skips instead.
func sharedTestbed(t *testing.T) *testbed.Testbed {
	t.Helper()
	if os.Getenv("HEED_SKIP_ASTERISK") == "1" {
		t.Skip("HEED_SKIP_ASTERISK=1: skipping the Asterisk tier")
	}
	tbOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		tb, tbErr = testbed.Start(ctx, testbed.Options{})
	})
	if tbErr != nil {
		t.Fatalf("the Asterisk testbed is required and could not start: %v", tbErr)
	}
	return tb
}

// stack is heed serving in-process against a fresh database and the testbed.
type stack struct {
	URL string
	env map[string]string
	log *logbuf.Buffer
}

// startHeed runs `heed serve` in-process on a free port, with a fresh
// database and the shared testbed, and stops it when the test ends.
func startHeed(t *testing.T, tb *testbed.Testbed) *stack {
	t.Helper()
	s := &stack{log: &logbuf.Buffer{}, env: startHeedEnv(t, tb)}
	return s.serve(t)
}

// startHeedEnv is the environment of a heed process against a fresh
// database and the shared testbed.
func startHeedEnv(t *testing.T, tb *testbed.Testbed) map[string]string {
	t.Helper()
	return map[string]string{
		"DATABASE_URL":      dbtest.URL(t),
		"HEED_ARI_URL":      tb.ARIURL,
		"HEED_ARI_USER":     tb.ARIUser,
		"HEED_ARI_PASSWORD": tb.ARIPassword,
		// Asterisk gives each ARI application name one websocket, so every
		// heed process needs its own name.
		"HEED_ARI_APP":            fmt.Sprintf("%s-%d", tb.Application, appSeq.Add(1)),
		"HEED_TRUNK":              tb.Trunk,
		"HEED_MEDIA_DIR":          tb.HostMediaDir,
		"HEED_ASTERISK_MEDIA_DIR": tb.AsteriskMediaDir,
		"HEED_DNC_DIR":            t.TempDir(),
		"HEED_AMD_CONTEXT":        tb.AMDContext,
		"HEED_FIRM_NAME":          "Smith and Lee",
		"HEED_OPTOUT_NUMBER":      "+18005550199",
		"HEED_RECORDINGS_DIR":     t.TempDir(),
	}
}

// serve runs `heed serve` in-process with the stack's environment.
func (s *stack) serve(t *testing.T) *stack {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ready := make(chan string, 1)
	m := &Main{Stdout: s.log, Stderr: s.log, Getenv: s.getenv, Listener: ln, Started: func(addr string) { ready <- addr },
		Now: businessHours()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, []string{"serve"}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(60 * time.Second):
			t.Errorf("heed serve did not stop")
		}
		if t.Failed() {
			t.Logf("heed log:\n%s", s.log.String())
		}
	})
	select {
	case addr := <-ready:
		s.URL = "http://" + addr
	case err := <-done:
		t.Fatalf("heed serve stopped at start: %v\n%s", err, s.log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("heed serve did not start\n%s", s.log.String())
	}
	return s
}

func (s *stack) getenv(k string) string { return s.env[k] }

// businessHours returns a clock that starts at the next 10:00 in
// Connecticut, where the demo numbers are, and runs at the real pace, so
// campaigns bound by calling windows can be tested at any hour. It never
// runs behind the real clock, which the database's timestamps follow.
func businessHours() func() time.Time {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	start := time.Now()
	y, mo, d := start.In(ny).Date()
	base := time.Date(y, mo, d, 10, 0, 0, 0, ny)
	if base.Before(start) {
		base = time.Date(y, mo, d+1, 10, 0, 0, 0, ny)
	}
	return func() time.Time { return base.Add(time.Since(start)) }
}

// heed runs one heed command against the stack's database and returns its output.
func (s *stack) heed(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: s.getenv}
	err := m.Run(context.Background(), args)
	require.NoError(t, err, "heed %s: %s", strings.Join(args, " "), errb.String())
	return out.String()
}

// api calls the JSON API with a bearer token and decodes the answer into out.
func (s *stack) api(t *testing.T, token, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && len(b) > 0 {
		require.NoError(t, json.Unmarshal(b, out), "%s %s: %s", method, path, b)
	}
	return resp.StatusCode
}

// seedDemoAdmin seeds the demo data with a known admin password and returns
// an API token for that admin.
func (s *stack) seedDemoAdmin(t *testing.T, password string) string {
	t.Helper()
	out := s.heed(t, "demo", "--admin-password", password)
	require.Contains(t, out, "first admin: admin@heed.local")
	tok := strings.TrimSpace(s.heed(t, "token", "add", "--email", "admin@heed.local", "--name", "e2e"))
	require.True(t, strings.HasPrefix(tok, "heed_"), tok)
	for _, n := range e2eCallerIDs {
		s.heed(t, "callerid", "add", "--number", n, "--label", "e2e", "--attest", "--by", "admin@heed.local")
	}
	return tok
}

// e2eCallerIDs are the caller IDs of the end-to-end tests' campaigns, one
// (or two) a test, by which each finds its own calls in the shared PSTN
// simulator's CDR. seedDemoAdmin declares them the firm's (rule F11),
// beside the demo's own.
var e2eCallerIDs = []string{"+12035550177", "+12035550178", "+12035550179", "+12035550181", "+12035550182", "+12035550183", "+12035550189"}

// token adds a user with the given role and returns an API token of theirs.
func (s *stack) token(t *testing.T, email, role string) string {
	t.Helper()
	s.env["HEED_USER_PASSWORD"] = "a long enough password"
	s.heed(t, "user", "add", "--email", email, "--role", role)
	tok := strings.TrimSpace(s.heed(t, "token", "add", "--email", email, "--name", "e2e"))
	require.True(t, strings.HasPrefix(tok, "heed_"), tok)
	return tok
}

// get fetches path with a bearer token, checks the status and returns the
// body and its content type.
func (s *stack) get(t *testing.T, token, path string, status int) ([]byte, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, status, resp.StatusCode, "GET %s: %s", path, b)
	return b, resp.Header.Get("Content-Type")
}

func demoByPhone() map[string]demoContact {
	m := map[string]demoContact{}
	for _, c := range demoContacts {
		m[c.Phone] = c
	}
	return m
}

func fmtCDR(recs []testbed.CDRRecord) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "%s -> %s %s billsec=%s\n", r.Src, r.Dst, r.Disposition, r.Billable)
	}
	return b.String()
}
