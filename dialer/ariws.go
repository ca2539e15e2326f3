package dialer

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/stdbus"
	"golang.org/x/net/websocket"
)

// eventsClient is an ari.Client made of the ari library's native client,
// for ARI's REST interface, and heed's own loop on the event websocket,
// in place of the library's (native.Client.Connect, v5.3.1).
//
// The library's loop keeps whether the websocket is connected in a plain
// bool, which it writes from its own goroutine as the websocket drops and
// comes back, and which its Connected reads and its Close writes from
// others with no synchronisation: a data race, which go test -race reports
// on a websocket drop (TestReconnectEndsCallsLostWhileDisconnected) and
// at Close, and whose outcome the Go memory model leaves undefined.
// The library also hands an event it cannot decode (a type it does not
// know) to its bus as a nil event, which panics once anything subscribes,
// and drops the websocket for it. heed cannot change the library, so it
// never starts its loop: the websocket is dialed, read and redialed here,
// the connected state is atomic, and events go to a bus of the library's
// own kind (stdbus), so that subscriptions behave as before.
//
// The native client's own bus is never made (its Connect makes it), so
// the Subscribe methods of the handles its accessors return must not be
// used: heed subscribes on Bus.
//
// Asterisk gives an application name one websocket: when a second one
// connects for it (another heed process with the same HEED_ARI_APP), the
// newer gets every event of the application, and the older stays open
// and hears nothing but one ApplicationReplaced event. So the client
// counts as connected only while no ApplicationReplaced was heard on its
// websocket since it was dialed, and Owns proves, with a user event that
// must come back on this websocket, that it holds the application.
type eventsClient struct {
	ari.Client // the native client: ARI's REST interface
	bus        ari.Bus
	connected  atomic.Bool
	ws         *websocket.Config
	log        *slog.Logger
	cancel     context.CancelFunc
	done       chan struct{} // closed when listen returns
	closeOnce  sync.Once

	app       string
	userEvent string // ARI's URL to post a user event to app
	user      string
	password  string
	current   atomic.Pointer[websocket.Conn] // the websocket read now
	replaced  atomic.Bool                    // an ApplicationReplaced came on current
	failing   atomic.Bool                    // the last Owns failed
	missed    atomic.Int32                   // Owns's probes in a row that did not come back
	probeMu   sync.Mutex
	probes    map[string]chan struct{} // by nonce, until heard
}

// ErrApplicationTaken reports an Asterisk on which another ARI connection
// holds this process's Stasis application (another heed process with the
// same HEED_ARI_APP): Asterisk sends that connection every event of the
// application, so calls placed here would go unheard. It wraps
// ErrEventsDown.
var ErrApplicationTaken = fmt.Errorf("%w: another connection holds its ARI application", ErrEventsDown)

// ownershipWait bounds how long Owns waits for its user event to come
// back on the websocket.
const ownershipWait = time.Second

// ownershipMisses is how many of Owns's probes in a row must fail to come
// back before it reports another connection holding the application
// without Asterisk's word for it (ApplicationReplaced): one late probe is
// a stall, not a takeover.
const ownershipMisses = 2

// probeEvent is the name of the user event Owns posts to its application.
const probeEvent = "heed-ownership-probe"

// How the event websocket is dialed again (listen).
const (
	// eventsRedial is how long the event websocket waits before it is
	// dialed again after a failed dial, as the library's loop did.
	eventsRedial = time.Second
	// eventsStable is how long a connection must have lived for its drop
	// to be dialed again at once.
	eventsStable = time.Second
	// eventsBackoffMin and eventsBackoffMax bound the pause before a
	// connection that dropped sooner than eventsStable is dialed again;
	// it doubles with each such drop in a row.
	eventsBackoffMin = 100 * time.Millisecond
	eventsBackoffMax = 5 * time.Second
	// eventsWarnEvery is how often, at most, the drop of a connection
	// that lived less than eventsStable is logged as a warning.
	eventsWarnEvery = time.Minute
)

// dialEvents dials the ARI event websocket at wsURL for app, once a second
// until it answers or ctx ends, and returns rest with heed's loop on it,
// which keeps it up until Close. It fails with ErrARIUnavailable when ctx
// ends first, having started nothing.
//
// ariURL is ARI's REST base URL, to which Owns posts its user events.
func dialEvents(ctx context.Context, rest ari.Client, ariURL, wsURL, app, user, password string, log *slog.Logger) (*eventsClient, error) {
	cfg, err := websocket.NewConfig(wsURL+"?"+url.Values{"app": {app}}.Encode(), "http://localhost/")
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrARIUnavailable, wsURL, err)
	}
	cfg.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
	for {
		ws, err := cfg.DialContext(ctx)
		if err == nil {
			life, cancel := context.WithCancel(context.Background())
			c := &eventsClient{Client: rest, bus: stdbus.New(), ws: cfg, log: log, cancel: cancel, done: make(chan struct{}),
				app: app, user: user, password: password, probes: map[string]chan struct{}{},
				userEvent: strings.TrimSuffix(ariURL, "/") + "/events/user/" + probeEvent + "?" + url.Values{"application": {app}}.Encode()}
			c.current.Store(ws)
			c.connected.Store(true)
			go c.listen(life, ws)
			return c, nil
		}
		log.Debug("ari: event websocket not answering yet", "url", wsURL, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %s: %w (last: %v)", ErrARIUnavailable, wsURL, ctx.Err(), err)
		case <-time.After(eventsRedial):
		}
	}
}

// Bus returns the bus the event websocket's events go to.
func (c *eventsClient) Bus() ari.Bus { return c.bus }

// Connected reports whether the event websocket is connected now and
// Asterisk has not said that another connection took its application.
func (c *eventsClient) Connected() bool { return c.eventsErr() == nil }

// eventsErr returns nil while the event websocket is connected and holds
// the application as far as is known without asking (Owns asks):
// ErrApplicationTaken once Asterisk said another connection took it,
// ErrEventsDown while the websocket is not connected.
func (c *eventsClient) eventsErr() error {
	switch {
	case !c.connected.Load():
		return ErrEventsDown
	case c.replaced.Load():
		return fmt.Errorf("%w: application %q", ErrApplicationTaken, c.app)
	}
	return nil
}

// Owns proves that the event websocket holds the application: it posts a
// user event carrying a fresh nonce to the application and waits, up to
// ownershipWait, for it to come back on this websocket. It fails with
// ErrApplicationTaken when another connection holds the application
// (Asterisk said so, or the nonces of two probes in a row did not come
// back), and logs that as an error, once until Owns succeeds again. A
// single probe that does not come back (a stalled Asterisk or network)
// fails with ErrEventsDown and a warning: the process places no calls
// through this Asterisk until a probe comes back, but it is not told to
// rename its application for it. When no connection holds the
// application (Asterisk does not know it: the connection that took it
// went away, and Asterisk does not give it back to this one), it drops the
// websocket, which listen dials again, taking the application back, and
// fails with ErrEventsDown for now.
func (c *eventsClient) Owns(ctx context.Context) error {
	if err := c.eventsErr(); err != nil && !errors.Is(err, ErrApplicationTaken) {
		return err
	}
	ws := c.current.Load() // the websocket this probe tests
	nonce := rand.Text()
	heard := make(chan struct{})
	c.probeMu.Lock()
	c.probes[nonce] = heard
	c.probeMu.Unlock()
	defer func() {
		c.probeMu.Lock()
		delete(c.probes, nonce)
		c.probeMu.Unlock()
	}()
	status, err := c.postProbe(ctx, nonce)
	if err != nil {
		return fmt.Errorf("%w: application %q: post its ownership probe: %w", ErrARIUnavailable, c.app, err)
	}
	switch status {
	case http.StatusNoContent, http.StatusOK:
	case http.StatusNotFound:
		c.log.Warn("ari: no connection holds the application on this Asterisk; dialing the event websocket again to take it", "application", c.app)
		// Only the websocket probed: another check's 404 may already have
		// had it dialed again, and the new one may hold the application.
		if ws != nil && c.current.Load() == ws {
			_ = ws.Close()
		}
		return fmt.Errorf("%w: application %q is not registered on this Asterisk; dialing the event websocket again", ErrEventsDown, c.app)
	default:
		return fmt.Errorf("%w: application %q: its ownership probe was answered %d", ErrARIUnavailable, c.app, status)
	}
	if err := c.eventsErr(); err != nil {
		return c.notOwner(err)
	}
	t := time.NewTimer(ownershipWait)
	defer t.Stop()
	select {
	case <-heard:
		c.missed.Store(0)
		if c.failing.Swap(false) {
			c.log.Info("ari: this process's event websocket holds the application again", "application", c.app)
		}
		return nil
	case <-t.C:
	case <-ctx.Done():
		return fmt.Errorf("%w: application %q: waiting for its ownership probe: %w", ErrARIUnavailable, c.app, ctx.Err())
	}
	if err := c.eventsErr(); err != nil {
		return c.notOwner(err)
	}
	if c.missed.Add(1) < ownershipMisses {
		c.log.Warn("ari: an ownership probe did not come back on the event websocket in time; no calls through this Asterisk until one does",
			"application", c.app, "wait", ownershipWait)
		return fmt.Errorf("%w: application %q: a user event posted to it did not come back on this process's websocket within %v",
			ErrEventsDown, c.app, ownershipWait)
	}
	return c.notOwner(fmt.Errorf("%w: application %q: %d user events posted to it in a row did not come back on this process's websocket within %v",
		ErrApplicationTaken, c.app, ownershipMisses, ownershipWait))
}

// notOwner logs, once until Owns succeeds again, that another connection
// holds the application, and returns err.
func (c *eventsClient) notOwner(err error) error {
	if !c.failing.Swap(true) {
		c.log.Error("ari: another connection holds this process's ARI application on this Asterisk: no calls are placed through it; give each heed process its own HEED_ARI_APP",
			"application", c.app, "err", err)
	}
	return err
}

// postProbe posts the ownership probe's user event, carrying nonce, to the
// application, and returns ARI's status.
func (c *eventsClient) postProbe(ctx context.Context, nonce string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, ownershipWait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.userEvent, strings.NewReader(`{"variables":{"nonce":"`+nonce+`"}}`))
	if err != nil {
		return 0, fmt.Errorf("user event request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(c.user, c.password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("user event: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// heardProbe takes a user event of Owns that came back on the websocket;
// a nonce no Owns waits for (another process's, or one too late) is
// dropped.
func (c *eventsClient) heardProbe(e *ari.ChannelUserevent) {
	vars, _ := e.Userevent.(map[string]any)
	nonce, _ := vars["nonce"].(string)
	c.probeMu.Lock()
	defer c.probeMu.Unlock()
	if heard, ok := c.probes[nonce]; ok {
		close(heard)
		delete(c.probes, nonce)
	}
}

// Close stops the event websocket's loop, waits for it, and closes the
// bus, with every subscription still on it.
func (c *eventsClient) Close() {
	c.closeOnce.Do(func() {
		c.cancel()
		<-c.done
		c.connected.Store(false)
		c.bus.Close()
	})
}

// listen reads ws until it fails, then dials the websocket again until
// ctx ends. A connection that lived at least eventsStable is dialed again
// at once: it was up, and every moment it is down loses events. One that
// dropped sooner (a proxy in front of a stopping Asterisk, a full
// connection table: something accepts the websocket and closes it) is
// dialed again after a pause that doubles with each such drop, from
// eventsBackoffMin up to eventsBackoffMax, and the drop's warning is
// logged at most once per eventsWarnEvery, with how many drops it stands
// for. A failed dial is tried again after eventsRedial. The application
// name is in the websocket's URL, so Asterisk registers the application
// again on each reconnect; the bus, with every subscription on it, stays
// the same.
func (c *eventsClient) listen(ctx context.Context, ws *websocket.Conn) {
	defer close(c.done)
	backoff := time.Duration(0)
	var lastWarn time.Time
	drops := 0
	for {
		since := time.Now()
		err := c.read(ctx, ws)
		c.connected.Store(false)
		_ = ws.Close()
		if ctx.Err() != nil {
			return
		}
		wait := time.Duration(0)
		if lived := time.Since(since); lived < eventsStable {
			backoff = min(max(2*backoff, eventsBackoffMin), eventsBackoffMax)
			wait = backoff
		} else {
			backoff = 0
		}
		drops++
		if now := time.Now(); backoff == 0 || now.Sub(lastWarn) >= eventsWarnEvery {
			c.log.Warn("ari: event websocket lost; dialing it again", "err", err, "drops", drops, "wait", wait)
			lastWarn, drops = now, 0
		}
		for ; ; wait = eventsRedial {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			if ws, err = c.ws.DialContext(ctx); err == nil {
				break
			}
			c.log.Debug("ari: event websocket not answering yet", "err", err)
		}
		c.current.Store(ws)
		c.replaced.Store(false)
		c.connected.Store(true)
		c.log.Info("ari: event websocket connected again")
	}
}

// read hands each event ws brings to the bus until reading fails or ctx
// ends. An event that cannot be decoded (a type the library does not
// know) is logged and dropped; the websocket stays up.
func (c *eventsClient) read(ctx context.Context, ws *websocket.Conn) error {
	stop := context.AfterFunc(ctx, func() { _ = ws.Close() })
	defer stop()
	for {
		var data []byte
		if err := websocket.Message.Receive(ws, &data); err != nil {
			return fmt.Errorf("read the event websocket: %w", err)
		}
		e, err := ari.DecodeEvent(data)
		if err != nil {
			c.log.Warn("ari: an event could not be decoded; dropped", "err", err, "event", string(data[:min(len(data), 200)]))
			continue
		}
		switch v := e.(type) {
		case *ari.ApplicationReplaced:
			// Another connection took the application: this websocket
			// hears nothing more of it. It is not dialed again, which
			// would take the application back from a live process;
			// Owns does, once no connection holds it.
			c.replaced.Store(true)
			c.failing.Store(true)
			c.log.Error("ari: another connection took this process's ARI application on this Asterisk: its calls' events go there, and no calls are placed through it; give each heed process its own HEED_ARI_APP",
				"application", v.Application)
			continue
		case *ari.ChannelUserevent:
			if v.Eventname == probeEvent {
				c.heardProbe(v)
				continue
			}
		}
		c.bus.Send(e)
	}
}
