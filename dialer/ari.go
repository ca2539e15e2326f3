package dialer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"
	"github.com/inconshreveable/log15"
)

// ErrARIUnavailable reports that an Asterisk's ARI could not be reached in time.
var ErrARIUnavailable = errors.New("asterisk ARI unavailable")

// ARIConfig says how to reach one Asterisk over ARI and how to dial through it.
type ARIConfig struct {
	// Name identifies this Asterisk in attempt rows and logs.
	Name string
	// URL is the ARI base URL, such as http://127.0.0.1:8088/ari.
	URL string
	// WebsocketURL is the ARI events URL; empty derives it from URL.
	WebsocketURL string
	// Username and Password are ARI credentials from ari.conf.
	Username string
	Password string
	// Application is the Stasis application name, "heed" in our dialplan.
	Application string
	// Trunk formats the endpoint to dial for an E.164 number, for example
	// "PJSIP/%s@pstn".
	Trunk string
	// Installation is this heed installation's id; it prefixes channel ids.
	Installation string
	// AMDContext is the dialplan context that runs answering-machine
	// detection on an answered call and hands it back to the application
	// with the arguments amd, AMDSTATUS and AMDCAUSE; empty turns
	// detection off.
	AMDContext string
	// RecordingsDir is where the recordings of recorded calls are stored
	// once Asterisk has finished them; empty means recordings are left on
	// the Asterisk.
	RecordingsDir string
	// OrphanOptOut, when set, takes the opt-out key pressed on a call
	// that a stopped process placed and this switch took up (Orphan): it
	// must keep the key with the attempt and record the opt-out request
	// durably, at once, as a live call's key is (campaign.Store's
	// TakeOrphanOptOut). The switch tries it again until it succeeds or
	// the switch closes. Without it, only recovery's close of the attempt
	// takes the opt-out.
	OrphanOptOut func(ctx context.Context, attemptID int64) error
	// OrphanEnded, when set, records durably what became of a call that a
	// stopped process placed and this switch took up, once it has ended
	// (OrphanRangOut, OrphanAbandoned or OrphanOptedOut), with the attempt
	// still in flight (campaign.Store's NoteOrphan): recovery, which may
	// ask about the attempt much later (its campaign paused meanwhile), or
	// in another process, or after this one restarted, closes the attempt
	// with it when its Asterisk has let the channel go. The switch tries
	// it again until it succeeds or the switch closes, and forgets the
	// orphan once it has succeeded. Without it, the switch keeps what
	// became of each orphan until Orphan asks, however long that takes.
	OrphanEnded func(ctx context.Context, attemptID int64, found Orphan) error
}

var logOnce sync.Once

// routeARILogs sends the ari library's global log15 logger to slog.
func routeARILogs(log *slog.Logger) {
	logOnce.Do(func() {
		h := log15.FuncHandler(func(r *log15.Record) error {
			level := slog.LevelDebug
			switch r.Lvl {
			case log15.LvlCrit, log15.LvlError:
				level = slog.LevelWarn
			case log15.LvlWarn:
				level = slog.LevelInfo
			}
			log.Log(context.Background(), level, "ari: "+r.Msg, r.Ctx...)
			return nil
		})
		native.Logger.SetHandler(h)
		ari.Logger.SetHandler(h)
	})
}

// ConnectARI connects to an Asterisk's ARI, giving up when ctx ends. It
// first asks ARI's REST interface for the Asterisk's info, and returns
// ErrARIUnavailable with the reason (connection refused, credentials
// refused, ...) when that fails. It then dials the event websocket, once a
// second until it answers or ctx ends.
//
// The client is the ari library's native client for ARI's REST interface
// with heed's own loop on the event websocket (eventsClient; the
// library's has a data race on its connected flag). Once connected, the
// loop keeps the event websocket up by itself: when a read fails it marks
// the client disconnected and dials again until Close: at once after a
// connection that lived a second or more, after a pause doubling from
// 100 ms to 5 s after one that dropped sooner, and once a second while a
// dial fails. The application name is in the websocket URL, so
// Asterisk registers the application again on each reconnect, and the
// client's bus, with every subscription on it, is the same before and
// after; nothing needs resubscribing. What it does not do is tell anyone:
// events sent while the websocket was down (a channel's end, above all)
// are lost, and a restarted Asterisk has lost every channel. Pool notices
// such an Asterisk through Switch.Health (ARI info, whose startup time
// changes on a restart, and a probe proving that this client's websocket
// holds the application: eventsClient.Owns) and, once it is back, ends
// the calls whose channels are gone (Switch.Resync).
func ConnectARI(ctx context.Context, cfg ARIConfig, log *slog.Logger) (ari.Client, error) {
	routeARILogs(log)
	// Ask ARI's REST interface first: while Asterisk is down, or when it
	// refuses the credentials, the websocket would be dialed until the
	// deadline; the probe gives up at once with the reason instead.
	if err := probeARI(ctx, cfg); err != nil {
		return nil, err
	}
	ws := cfg.WebsocketURL
	if ws == "" {
		ws = websocketURL(cfg.URL)
	}
	rest := native.New(&native.Options{
		Application:  cfg.Application,
		URL:          cfg.URL,
		WebsocketURL: ws,
		Username:     cfg.Username,
		Password:     cfg.Password,
	})
	c, err := dialEvents(ctx, rest, cfg.URL, ws, cfg.Application, cfg.Username, cfg.Password, log)
	if err != nil {
		return nil, err
	}
	if _, err := c.Asterisk().Info(nil); err != nil {
		c.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrARIUnavailable, cfg.URL, err)
	}
	return c, nil
}

// probeARI asks the ARI at cfg.URL for its Asterisk's info, once, and
// returns an error wrapping ErrARIUnavailable when it does not answer 200.
func probeARI(ctx context.Context, cfg ARIConfig) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.URL, "/")+"/asterisk/info", nil)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrARIUnavailable, cfg.URL, err)
	}
	req.SetBasicAuth(cfg.Username, cfg.Password)
	req.Close = true // one request per connect: keep no idle connection
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrARIUnavailable, cfg.URL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w: %s: ARI refused user %q (%s): check the ARI username and password", ErrARIUnavailable, cfg.URL, cfg.Username, resp.Status)
	}
	return fmt.Errorf("%w: %s: asterisk/info answered %s", ErrARIUnavailable, cfg.URL, resp.Status)
}

func websocketURL(base string) string {
	switch {
	case len(base) > 7 && base[:7] == "http://":
		return "ws://" + base[7:] + "/events"
	case len(base) > 8 && base[:8] == "https://":
		return "wss://" + base[8:] + "/events"
	}
	return base + "/events"
}
