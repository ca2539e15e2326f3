package dialer

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/consent"
)

// DefaultPolicyRetry is how long Run waits before listening again after the
// connection to PostgreSQL failed.
const DefaultPolicyRetry = 2 * time.Second

// Policy holds the policy engine built from the firm policy stored in
// PostgreSQL, and rebuilds it whenever a new version is saved (NOTIFY
// heed_settings). The gate reads Engine once per batch; the engine itself is
// immutable, so a batch decides every attempt under one policy version.
//
// A stored policy that cannot be read or built never replaces the engine in
// use: the previous one stays and the failure is logged. There is no
// fallback to heed's defaults, which could be looser than the stored policy.
type Policy struct {
	// Store is where the firm policy is kept; its Packs are the engine's.
	Store *consent.SettingsStore
	// Retry is how long Run waits after a failed connection; zero means
	// DefaultPolicyRetry.
	Retry time.Duration

	db  *pgxpool.Pool
	log *slog.Logger

	mu      sync.Mutex // serialises loads
	engine  atomic.Pointer[consent.Engine]
	version atomic.Int64
	changed chan struct{} // closed and replaced on every install; guarded by mu
}

// NewPolicy returns a policy over the settings stored in db. Call Load
// before Engine, and Run to follow new versions.
func NewPolicy(db *pgxpool.Pool, log *slog.Logger) *Policy {
	return &Policy{Store: consent.NewSettingsStore(db), db: db, log: log, changed: make(chan struct{})}
}

// BuildEngine builds the engine for a firm policy with the store's law
// packs. It is the one place the dialer, `heed check` and the settings
// page turn a stored policy into an engine.
func BuildEngine(store *consent.SettingsStore, p consent.FirmPolicy) (*consent.Engine, error) {
	e, err := consent.NewEngine(consent.Config{Packs: store.Packs, Firm: p})
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", p.Version, err)
	}
	return e, nil
}

// Engine returns the engine built from the newest policy that loaded, or nil
// before the first successful Load. It never blocks.
func (p *Policy) Engine() *consent.Engine { return p.engine.Load() }

// Version returns the stored version number the engine was built from (0
// for heed's defaults when no policy was ever saved).
func (p *Policy) Version() int { return int(p.version.Load()) }

// Load reads the stored policy and installs an engine built from it. When
// reading or building fails it returns the error and keeps the engine in
// use (if any). A version older than the one installed is never installed.
func (p *Policy) Load(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	fp, v, err := p.Store.Current(ctx)
	if err != nil {
		return fmt.Errorf("policy: load: %w", err)
	}
	if p.engine.Load() != nil && int64(v) <= p.version.Load() {
		return nil
	}
	e, err := BuildEngine(p.Store, fp)
	if err != nil {
		return fmt.Errorf("policy: load version %d: %w", v, err)
	}
	p.engine.Store(e)
	p.version.Store(int64(v))
	close(p.changed)
	p.changed = make(chan struct{})
	return nil
}

// Wait blocks until the installed engine is built from version v or a newer
// one, or ctx ends.
func (p *Policy) Wait(ctx context.Context, v int) error {
	for {
		p.mu.Lock()
		ch := p.changed
		p.mu.Unlock()
		if p.engine.Load() != nil && p.Version() >= v {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("policy: wait for version %d (have %d): %w", v, p.Version(), ctx.Err())
		}
	}
}

// Run follows saved versions until ctx ends: it listens for NOTIFY
// heed_settings on a connection of its own (not one of the pool's) and reloads on each
// notification (and after each reconnection, to catch versions saved
// meanwhile), logging the version it installs. A version that fails to
// load is logged as an error and the engine in use stays.
func (p *Policy) Run(ctx context.Context) {
	retry := p.Retry
	if retry == 0 {
		retry = DefaultPolicyRetry
	}
	for ctx.Err() == nil {
		err := p.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		p.log.Warn("policy: settings feed interrupted; retrying", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}

func (p *Policy) listen(ctx context.Context) error {
	// A connection of its own, outside the pool: a listener holds its
	// connection for as long as it runs, and taking it from the pool would
	// starve the pool's other users (pgxpool has only 4 connections by
	// default on a small machine).
	conn, err := pgx.ConnectConfig(ctx, p.db.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN heed_settings`); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	for {
		p.reload(ctx)
		if _, err := conn.WaitForNotification(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("wait for notification: %w", err)
		}
	}
}

// reload loads the stored policy and logs the outcome.
func (p *Policy) reload(ctx context.Context) {
	before := p.Version()
	if err := p.Load(ctx); err != nil {
		if ctx.Err() == nil {
			p.log.Error("policy: stored firm policy not applied; keeping the engine in use", "version", before, "err", err)
		}
		return
	}
	if v := p.Version(); v != before {
		p.log.Info("policy: firm policy applied", "version", v, "packs", p.Engine().Version())
	}
}
