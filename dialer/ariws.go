package dialer

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/url"
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
type eventsClient struct {
	ari.Client // the native client: ARI's REST interface
	bus        ari.Bus
	connected  atomic.Bool
	ws         *websocket.Config
	log        *slog.Logger
	cancel     context.CancelFunc
	done       chan struct{} // closed when listen returns
	closeOnce  sync.Once
}

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
func dialEvents(ctx context.Context, rest ari.Client, wsURL, app, user, password string, log *slog.Logger) (*eventsClient, error) {
	cfg, err := websocket.NewConfig(wsURL+"?"+url.Values{"app": {app}}.Encode(), "http://localhost/")
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrARIUnavailable, wsURL, err)
	}
	cfg.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
	for {
		ws, err := cfg.DialContext(ctx)
		if err == nil {
			life, cancel := context.WithCancel(context.Background())
			c := &eventsClient{Client: rest, bus: stdbus.New(), ws: cfg, log: log, cancel: cancel, done: make(chan struct{})}
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

// Connected reports whether the event websocket is connected now.
func (c *eventsClient) Connected() bool { return c.connected.Load() }

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
		c.bus.Send(e)
	}
}
