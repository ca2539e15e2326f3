package web

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/semaphore"
)

// signinLimits keeps the sign-in limits' counts in PostgreSQL
// (signin_failures, migration 00047), on the database's clock (not a
// process's: with hosts' clocks apart, one process's window would miss,
// or its prune delete, another's fresh rows): every heed process
// on the database counts the same failed sign-ins, so that N processes
// behind a load balancer give no more attempts than one, and a restart
// forgets none. A check is counted before its password is checked, under
// a transaction-scoped advisory lock per limited key, so that checks made
// at once, in one process or several, pass a limit no more than one after
// another.
//
// A check costs a short transaction, never an argon2id hash when a limit
// refuses it; but sign-ins are unauthenticated, and the pool is the
// dialer's too. So a process remembers, for at most signinRecheck, each
// refusal the database gave it (refused): a client or account refused
// again meanwhile is answered from memory, with no transaction, and never
// let in beyond what the database said (memory only refuses). And at most
// signinChecks checks of a process hold a connection at once, with
// signinQueue more waiting their turn without one: a check that finds
// the queue full, or waits past signinCheckWait, is refused as busy (503),
// counting nothing. Within the transaction, lock and statement timeouts
// bound how long a check waits on another's advisory lock.
//
// The memory holds refusals only, for at most signinRecheck: an admin's
// reset of a password (forget) or a give-back made in another process,
// or by heed user password, is seen here after that at the latest; made
// in this process, at once.
type signinLimits struct {
	db *pgxpool.Pool
	// now is this process's clock, which times only how long a refusal
	// is remembered: the counts and windows are on the database's.
	now func() time.Time
	// checks bounds the checks holding a connection at once
	// (signinChecks); queued counts those waiting for one (signinQueue).
	checks *semaphore.Weighted
	queued atomic.Int64

	mu      sync.Mutex
	refused map[signinKey]refusal
}

// newSigninLimits returns the sign-in limits on db, remembering refusals
// on now's clock.
func newSigninLimits(db *pgxpool.Pool, now func() time.Time) *signinLimits {
	return &signinLimits{db: db, now: now, checks: semaphore.NewWeighted(signinChecks), refused: map[signinKey]refusal{}}
}

// How the sign-in limits spare the database (signinLimits).
const (
	// signinChecks bounds the checks a process runs on the database at
	// once: 4 of heed serve's 20 pooled connections at most.
	signinChecks = 4
	// signinQueue bounds the checks waiting for one of signinChecks.
	signinQueue = 64
	// signinCheckWait bounds how long a check waits for one.
	signinCheckWait = 5 * time.Second
	// signinRecheck is how long a process remembers a refusal before it
	// asks the database again (less, when the refusal ends sooner).
	signinRecheck = time.Second
	// signinRemembered bounds the refusals a process remembers: past it,
	// a refusal is not remembered, and costs its transaction each time.
	signinRemembered = 10000
	// signinLockTimeout bounds a check's wait for another's lock, and
	// signinStatementTimeout each of its statements: past them the check
	// fails (503), counting nothing.
	signinLockTimeout      = "2s"
	signinStatementTimeout = "5s"
)

// errSigninBusy says a check found too many others running or waiting
// (signinChecks, signinQueue, signinCheckWait).
var errSigninBusy = errors.New("too many sign-in checks at once")

// signinKey is one limited key: a kind's name and the key.
type signinKey struct {
	kind, key string
}

// refusal is a refusal the database gave, as a process remembers it:
// until when the limit refuses (until), which limit (by), and until when
// it is believed without asking the database again (recheck), on the
// process's clock.
type refusal struct {
	until, recheck time.Time
	by             int
}

// signinKind is one of the sign-in limits: its rows' kind, the class of
// its advisory locks, and the limit.
type signinKind struct {
	name  string
	class int32
	limit rateLimit
	by    int // what take reports when it refuses a check
}

// The sign-in limits. The client's lock is always taken before the
// account's, and each kind has a lock class of its own, so that no two
// checks wait for each other's locks in a cycle.
var (
	clientLimit  = signinKind{name: "client", class: 0x6865_6566, limit: signinClientLimit, by: byClient}
	accountLimit = signinKind{name: "account", class: 0x6865_6567, limit: signinAccountLimit, by: byAccount}
)

// signinPrune is how many rows older than every window each check deletes
// at most: more than it adds (two), so rows that aged out, of keys never
// seen again, do not pile up.
const signinPrune = 100

// passwordTry is a password check counted against the sign-in limits:
// its rows count until it is known not to be a wrong password (giveBack).
type passwordTry struct {
	ids []int64
	// keys are the keys it was counted against.
	keys []signinKey
	// full are the limits this check filled: the next check against each
	// is refused until a failure leaves its window.
	full []signinKind
}

// filled reports whether the check filled the limit k.
func (t passwordTry) filled(k signinKind) bool {
	for _, f := range t.full {
		if f.name == k.name {
			return true
		}
	}
	return false
}

// take counts a password check of client against its limit and, unless
// acct (accountKey) is "", against the account's. A limit it would pass
// refuses it: by says which (byClient, byAccount), with how long until it
// would not, and nothing is counted. It fails, counting nothing, when the
// database does, or when too many checks are running or waiting
// (errSigninBusy); the password must then not be checked.
func (l *signinLimits) take(ctx context.Context, client, acct string) (t passwordTry, wait time.Duration, by int, err error) {
	type limited struct {
		kind signinKind
		key  string
	}
	keys := []limited{{clientLimit, client}}
	if acct != "" {
		keys = append(keys, limited{accountLimit, hex.EncodeToString([]byte(acct))})
	}
	remembered := func() bool {
		for _, k := range keys {
			if wait, by = l.remembered(signinKey{k.kind.name, k.key}); by != byNone {
				return true
			}
		}
		return false
	}
	if remembered() {
		return passwordTry{}, wait, by, nil
	}
	if err := l.acquire(ctx); err != nil {
		return passwordTry{}, 0, byNone, fmt.Errorf("sign-in limits: %w", err)
	}
	defer l.checks.Release(1)
	// A check that ran while this one waited may have been refused.
	if remembered() {
		return passwordTry{}, wait, by, nil
	}
	var refusedKey signinKey
	err = pgx.BeginFunc(ctx, l.db, func(tx pgx.Tx) error {
		t, wait, by = passwordTry{}, 0, byNone
		if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)`,
			signinLockTimeout, signinStatementTimeout); err != nil {
			return fmt.Errorf("set the timeouts: %w", err)
		}
		for _, k := range keys {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, k.kind.class, k.key); err != nil {
				return fmt.Errorf("lock the %s's count: %w", k.kind.name, err)
			}
		}
		// The database's clock, read once the locks are held, times the
		// rows and the windows: every process's checks count on the same
		// clock, whatever the skew between their hosts.
		var now time.Time
		if err := tx.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&now); err != nil {
			return fmt.Errorf("read the database's clock: %w", err)
		}
		if _, err := tx.Exec(ctx, `
			DELETE FROM signin_failures WHERE id IN (SELECT id FROM signin_failures WHERE at <= $1 ORDER BY at LIMIT $2)`,
			now.Add(-max(signinClientLimit.Per, signinAccountLimit.Per)), signinPrune); err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		counts := make([]int, len(keys))
		for i, k := range keys {
			// The count in the window, and the hit that must leave it for
			// one more to fit: the limit's Max-th most recent.
			var last *time.Time
			if err := tx.QueryRow(ctx, `
				SELECT count(*), (array_agg(at ORDER BY at DESC))[$4::int] FROM signin_failures
				 WHERE kind = $1 AND key = $2 AND at > $3`, k.kind.name, k.key, now.Add(-k.kind.limit.Per), k.kind.limit.Max).
				Scan(&counts[i], &last); err != nil {
				return fmt.Errorf("count the %s's failures: %w", k.kind.name, err)
			}
			if last != nil {
				wait, by = last.Add(k.kind.limit.Per).Sub(now), k.kind.by
				refusedKey = signinKey{k.kind.name, k.key}
				return nil
			}
		}
		for i, k := range keys {
			var id int64
			if err := tx.QueryRow(ctx, `INSERT INTO signin_failures (kind, key, at) VALUES ($1, $2, $3) RETURNING id`,
				k.kind.name, k.key, now).Scan(&id); err != nil {
				return fmt.Errorf("count a check of the %s: %w", k.kind.name, err)
			}
			t.ids = append(t.ids, id)
			t.keys = append(t.keys, signinKey{k.kind.name, k.key})
			if counts[i]+1 >= k.kind.limit.Max {
				t.full = append(t.full, k.kind)
			}
		}
		return nil
	})
	if err != nil {
		return passwordTry{}, 0, byNone, fmt.Errorf("sign-in limits: %w", err)
	}
	if by != byNone {
		// Remembered before the check's turn is given up, so that every
		// check waiting for it finds the refusal.
		l.remember(refusedKey, wait, by)
	}
	return t, wait, by, nil
}

// acquire takes one of signinChecks for a check, waiting in line if
// there is room in it (signinQueue), for signinCheckWait at most.
func (l *signinLimits) acquire(ctx context.Context) error {
	if l.checks.TryAcquire(1) {
		return nil
	}
	if l.queued.Add(1) > signinQueue {
		l.queued.Add(-1)
		return errSigninBusy
	}
	defer l.queued.Add(-1)
	wctx, cancel := context.WithTimeout(ctx, signinCheckWait)
	defer cancel()
	if err := l.checks.Acquire(wctx, 1); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("wait for a check's turn: %w", ctx.Err())
		}
		return fmt.Errorf("waited %s for a check's turn: %w", signinCheckWait, errSigninBusy)
	}
	return nil
}

// remembered returns the refusal of k this process remembers, if it is
// still to be believed: how long until it ends, and which limit; byNone
// when there is none.
func (l *signinLimits) remembered(k signinKey) (time.Duration, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.refused[k]
	if !ok {
		return 0, byNone
	}
	now := l.now()
	if !now.Before(r.recheck) {
		delete(l.refused, k)
		return 0, byNone
	}
	return r.until.Sub(now), r.by
}

// remember keeps the database's refusal of k, ending in wait, for
// signinRecheck at most: signinRemembered of them at most, dropping
// those no longer believed to make room.
func (l *signinLimits) remember(k signinKey, wait time.Duration, by int) {
	now := l.now()
	r := refusal{until: now.Add(wait), recheck: now.Add(min(wait, signinRecheck)), by: by}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.refused[k]; !ok && len(l.refused) >= signinRemembered {
		for k, r := range l.refused {
			if !now.Before(r.recheck) {
				delete(l.refused, k)
			}
		}
		if len(l.refused) >= signinRemembered {
			return
		}
	}
	l.refused[k] = r
}

// forgetRefusals drops this process's memory of refusals of keys.
func (l *signinLimits) forgetRefusals(keys ...signinKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.refused, k)
	}
}

// giveBack uncounts a check that was no wrong password.
func (l *signinLimits) giveBack(ctx context.Context, t passwordTry) error {
	if _, err := l.db.Exec(ctx, `DELETE FROM signin_failures WHERE id = ANY($1)`, t.ids); err != nil {
		return fmt.Errorf("sign-in limits: give back a check: %w", err)
	}
	// A refusal remembered meanwhile may be one this check's rows made.
	l.forgetRefusals(t.keys...)
	return nil
}

// forget drops every failure counted against the account acct
// (accountKey).
func (l *signinLimits) forget(ctx context.Context, acct string) error {
	key := hex.EncodeToString([]byte(acct))
	if _, err := l.db.Exec(ctx, `DELETE FROM signin_failures WHERE kind = $1 AND key = $2`, accountLimit.name, key); err != nil {
		return fmt.Errorf("sign-in limits: forget an account's failures: %w", err)
	}
	l.forgetRefusals(signinKey{accountLimit.name, key})
	return nil
}

// ForgetSignInFailures drops every failed sign-in counted against the
// account email signs in to, as an admin's password reset on the Users
// page does: heed user password calls it, so that an operator's reset
// lets a locked-out account in at once, as a restart of heed serve did
// when the counts were kept in memory.
func ForgetSignInFailures(ctx context.Context, db *pgxpool.Pool, email string) error {
	return newSigninLimits(db, time.Now).forget(ctx, accountKey(email))
}
