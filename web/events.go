package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// broker fans campaign change notifications out to the browsers watching.
type broker struct {
	mu   sync.Mutex
	subs map[int64]map[chan struct{}]struct{}
}

func (b *broker) subscribe(id int64) (chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[int64]map[chan struct{}]struct{}{}
	}
	if b.subs[id] == nil {
		b.subs[id] = map[chan struct{}]struct{}{}
	}
	b.subs[id][ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs[id], ch)
		if len(b.subs[id]) == 0 {
			delete(b.subs, id)
		}
		b.mu.Unlock()
	}
}

func (b *broker) publish(id int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs[id] {
		select {
		case ch <- struct{}{}:
		default: // an update is already pending for this browser
		}
	}
}

// Listen follows NOTIFY heed_campaign (sent by triggers on every campaign
// and attempt change) and pushes each change to the browsers watching that
// campaign, until ctx ends. It reconnects when PostgreSQL drops it.
func (s *Server) Listen(ctx context.Context) {
	for ctx.Err() == nil {
		err := s.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		s.cfg.Log.Warn("web: campaign events interrupted; retrying", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// cleanupTimeout bounds the UNLISTEN that tidies the listening connection
// up on its way back to the pool, which runs even when Listen's context
// has ended.
const cleanupTimeout = 5 * time.Second

func (s *Server) listen(ctx context.Context) error {
	conn, err := s.cfg.DB.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `LISTEN heed_campaign`); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer func() {
		// Not for longer than cleanupTimeout: a PostgreSQL that hangs must
		// not hold up a stopping process.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_, _ = conn.Exec(uctx, `UNLISTEN heed_campaign`)
	}()
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait: %w", err)
		}
		if id, err := strconv.ParseInt(n.Payload, 10, 64); err == nil {
			s.events.publish(id)
		}
	}
}

// campaignEvents streams server-sent events: "update" whenever the
// campaign or one of its attempts changes (at most twice a second), and a
// comment every 15 s to keep proxies from closing the stream. The stream
// ends when the browser goes or the server shuts down (CloseStreams); the
// browser's EventSource reconnects on its own, to the next process.
func (s *Server) campaignEvents(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if _, err := s.cfg.Campaigns.Get(c.Request().Context(), id); err != nil {
		return err
	}
	ch, cancel := s.events.subscribe(id)
	defer cancel()
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set(echo.HeaderCacheControl, "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, ": heed campaign events\n\n"); err != nil {
		return nil
	}
	w.Flush()
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	ctx := c.Request().Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.closing:
			return nil
		case <-keep.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
		case <-ch:
			if _, err := fmt.Fprint(w, "event: update\ndata: "+strconv.FormatInt(id, 10)+"\n\n"); err != nil {
				return nil
			}
			// Coalesce bursts: one refresh per half second is plenty.
			select {
			case <-ctx.Done():
				return nil
			case <-s.closing:
				return nil
			case <-time.After(500 * time.Millisecond):
			}
		}
		w.Flush()
	}
}
