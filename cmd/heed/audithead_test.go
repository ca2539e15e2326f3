package main

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/audit"
	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/internal/logbuf"
)

// headLine is how logAuditHeads logs a head, in heed's text log.
func headLine(h audit.Head) string {
	return fmt.Sprintf(`level=INFO msg="audit: chain head" seq=%d hash=%s`, h.Seq, h.Hash)
}

// TestLogAuditHeads checks that the audit chain's head is logged at once,
// and again at each interval, with the rows written since.
func TestLogAuditHeads(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	var buf logbuf.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		logAuditHeads(ctx, db, slog.New(slog.NewTextHandler(&buf, nil)), 100*time.Millisecond)
	}()
	logged := func(h audit.Head) func() bool {
		return func() bool { return strings.Contains(buf.String(), headLine(h)) }
	}
	require.Eventually(t, logged(audit.Head{Hash: strings.Repeat("0", 64)}), 5*time.Second, 10*time.Millisecond, "the empty log's head, at once:\n%s", buf.String())
	_, err := db.Exec(ctx, `INSERT INTO users (email, role, password_hash) VALUES ('a@firm.test', 'admin', 'x')`)
	require.NoError(t, err)
	h, err := audit.LatestHead(ctx, db)
	require.NoError(t, err)
	require.NotZero(t, h.Seq)
	require.Eventually(t, logged(h), 5*time.Second, 10*time.Millisecond, "the new head, at the next interval:\n%s", buf.String())
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("logAuditHeads did not stop with its context")
	}
}

// TestServeLogsAuditHead starts heed serve on a database with audited
// rows and checks that it logs the chain's head as it starts: a head that
// `heed audit verify --head` then checks.
func TestServeLogsAuditHead(t *testing.T) {
	t.Parallel()
	tb := sharedTestbed(t)
	s := &stack{log: &logbuf.Buffer{}, env: startHeedEnv(t, tb)}
	s.heed(t, "dnc", "add", "860-555-0101")
	s.heed(t, "user", "add", "--email", "a@firm.test", "--role", "attorney")
	out := s.heed(t, "audit", "verify")
	m := regexp.MustCompile(`(?m)^head ([0-9a-f]{64})$`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	s.serve(t)
	logged := regexp.MustCompile(`level=INFO msg="audit: chain head" seq=([0-9]+) hash=([0-9a-f]{64})`).FindStringSubmatch(s.log.String())
	require.NotNil(t, logged, "heed serve logs the chain's head as it starts:\n%s", s.log.String())
	require.Equal(t, m[1], logged[2], "the head verify printed")
	require.NotEqual(t, "0", logged[1])
	require.Contains(t, s.heed(t, "audit", "verify", "--head", logged[2]), "the chain still holds head "+logged[2]+" (entry 3 of 3)")
}
