package web_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/web"
)

// TestShutdownEndsEventStreams: an open campaign event stream does not
// hold up http.Server.Shutdown (with CloseStreams registered, as heed
// serve does): Shutdown returns once the stream ends, well within its
// deadline, which it would otherwise wait out (the stream never goes
// idle), and the browser sees the stream end.
func TestShutdownEndsEventStreams(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var listID, campaignID int64
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('sd') RETURNING id`).Scan(&listID))
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status)
		VALUES ('Live', 'informational', $1, 'Hello', '+18605550100', 'running') RETURNING id`, listID).Scan(&campaignID))

	s, err := web.New(web.Config{DB: b.db, Accounts: b.accounts, Campaigns: campaign.NewService(b.db, nil), DNC: dnc.NewPGStore(b.db),
		Media: b.media, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), UploadLimit: 64 << 10})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: s}
	hs.RegisterOnShutdown(s.CloseStreams)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })

	br := b.browser(t)
	br.base = "http://" + ln.Addr().String()
	code, _ := br.signin("atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	req, err := http.NewRequest("GET", fmt.Sprintf("%s/campaigns/%d/events", br.base, campaignID), nil)
	require.NoError(t, err)
	resp, err := br.c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ended := make(chan struct{})
	lines := make(chan string, 16)
	go func() {
		defer close(ended)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	require.Equal(t, ": heed campaign events", <-lines, "the stream is open")

	// A generous deadline: the stream ends at once, not at its next
	// keep-alive (15 s), and never on its own.
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, hs.Shutdown(sctx), "Shutdown does not wait out its deadline for the open stream")
	require.ErrorIs(t, <-served, http.ErrServerClosed)
	<-ended // the browser saw the stream end

	// A stream asked for after CloseStreams (here, of the same handler
	// served again) ends after its opening line.
	again := httptest.NewServer(s)
	t.Cleanup(again.Close)
	br.base = again.URL
	code, body, _ := br.get(fmt.Sprintf("/campaigns/%d/events", campaignID))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, ": heed campaign events\n\n", body)
}
