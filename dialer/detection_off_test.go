package dialer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk/testbed"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// firstPlayback are the real switch, noting each call's request, its end,
// and the media of the first playback heed started on it, as the PBX's
// ARI shows it: the switch names a call's first playback
// <channel>-play-0-0, which GET /playbacks/{id} describes while it plays.
type firstPlayback struct {
	dialer.Lines
	tb *testbed.Testbed

	mu    sync.Mutex
	req   dialer.CallRequest
	media string
	ended dialer.CallEvent
	done  chan struct{}
}

func (l *firstPlayback) Place(ctx context.Context, req dialer.CallRequest, report func(dialer.CallEvent)) error {
	l.mu.Lock()
	l.req, l.done = req, make(chan struct{})
	l.mu.Unlock()
	return l.Lines.Place(ctx, req, func(ev dialer.CallEvent) {
		switch ev.Kind {
		case dialer.EventAnswered:
			go l.watch(ctx, ev.ChannelID)
		case dialer.EventEnded:
			l.mu.Lock()
			l.ended = ev
			close(l.done)
			l.mu.Unlock()
		}
		report(ev)
	})
}

// watch asks the PBX for channel ch's first playback until it plays or the
// call ends.
func (l *firstPlayback) watch(ctx context.Context, ch string) {
	l.mu.Lock()
	done := l.done
	l.mu.Unlock()
	for {
		if uri := l.playing(ctx, ch+"-play-0-0"); uri != "" {
			l.mu.Lock()
			l.media = uri
			l.mu.Unlock()
			return
		}
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// playing returns the media URI of playback id, or "" when the PBX has no
// such playback.
func (l *firstPlayback) playing(ctx context.Context, id string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.tb.ARIURL+"/playbacks/"+id, nil)
	if err != nil {
		return ""
	}
	req.SetBasicAuth(l.tb.ARIUser, l.tb.ARIPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var pb struct {
		MediaURI string `json:"media_uri"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&pb) != nil {
		return ""
	}
	return pb.MediaURI
}

// TestDetectionOffPlaysThePersonsVersion: on the real testbed, through
// the real pacing loop and a switch WITH an AMD context, PSTN 19 (a
// person the dialplan's detection takes for a machine: "hello" five
// times) is called by a campaign that turns detection off (amd {"off":
// true}, as the campaign form stores it): the first thing heed plays is
// the person's version (heed's opening), and no detection ran. The same
// callee of the same campaign with detection on (the default) still gets
// the voicemail version, after detection's MACHINE verdict.
func TestDetectionOffPlaysThePersonsVersion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tb := testbed.ForTest(ctx, t)
	const x = phone.Number("+18605550419")
	for _, tc := range []struct {
		name string
		amd  string
		off  bool
	}{
		{"off", `{"off": true, "greeting_ms": 1200}`, true},
		{"on", `{"greeting_ms": 1200}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newPersonWorld(t)
			_, err := w.db.Exec(ctx, `UPDATE campaigns SET amd = $1 WHERE id = $2`, tc.amd, w.campaignID)
			require.NoError(t, err)
			w.contact(w.list, x, "")
			lines := &firstPlayback{Lines: amdSwitch(ctx, t, tb, "detect-"+tc.name, true), tb: tb}
			p := w.pacer(lines)
			p.Media = dialer.Media{HostDir: tb.HostMediaDir, AsteriskDir: tb.AsteriskMediaDir}
			p.OptOutNumber = "+18005550199"
			if err := p.Run(ctx, w.campaignID, 1); err != nil {
				var sn *dialer.Snooze
				require.ErrorAs(t, err, &sn)
			}
			require.NoError(t, p.Drain(ctx))
			lines.mu.Lock()
			defer lines.mu.Unlock()
			req, media, ev := lines.req, lines.media, lines.ended
			t.Logf("detection %s: first playback %q (person's %q, voicemail's %q); AMD %q; outcome %q",
				tc.name, media, req.Media[0], req.Voicemail[0], ev.AMD, attemptOutcome(t, w, w.campaignID, x))
			require.NotEqual(t, req.Media[0], req.Voicemail[0], "the two versions open differently")
			require.Equal(t, tc.off, req.NoDetection)
			if tc.off {
				require.Equal(t, req.Media[0], media, "the person's version plays at once")
				require.Empty(t, ev.AMD, "no detection ran")
			} else {
				require.Equal(t, req.Voicemail[0], media, "detection took the callee for a machine: the voicemail version")
				require.True(t, strings.HasPrefix(ev.AMD, "MACHINE "), "AMD: %q", ev.AMD)
			}
		})
	}
}
