package web

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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
// another; each check costs a short transaction, never an argon2id hash
// when the limit refuses it.
//
// There is no in-memory first line: a process's own count is a subset of
// the database's, so it could refuse only what the database refuses too,
// and an admin's reset of a password (forget), made in one process, would
// not reach the others' memory.
type signinLimits struct {
	db  *pgxpool.Pool
	now func() time.Time
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
// database does; the password must then not be checked.
func (l *signinLimits) take(ctx context.Context, client, acct string) (t passwordTry, wait time.Duration, by int, err error) {
	type limited struct {
		kind signinKind
		key  string
	}
	keys := []limited{{clientLimit, client}}
	if acct != "" {
		keys = append(keys, limited{accountLimit, hex.EncodeToString([]byte(acct))})
	}
	err = pgx.BeginFunc(ctx, l.db, func(tx pgx.Tx) error {
		t, wait, by = passwordTry{}, 0, byNone
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
			if counts[i]+1 >= k.kind.limit.Max {
				t.full = append(t.full, k.kind)
			}
		}
		return nil
	})
	if err != nil {
		return passwordTry{}, 0, byNone, fmt.Errorf("sign-in limits: %w", err)
	}
	return t, wait, by, nil
}

// giveBack uncounts a check that was no wrong password.
func (l *signinLimits) giveBack(ctx context.Context, t passwordTry) error {
	if _, err := l.db.Exec(ctx, `DELETE FROM signin_failures WHERE id = ANY($1)`, t.ids); err != nil {
		return fmt.Errorf("sign-in limits: give back a check: %w", err)
	}
	return nil
}

// forget drops every failure counted against the account acct
// (accountKey).
func (l *signinLimits) forget(ctx context.Context, acct string) error {
	if _, err := l.db.Exec(ctx, `DELETE FROM signin_failures WHERE kind = $1 AND key = $2`,
		accountLimit.name, hex.EncodeToString([]byte(acct))); err != nil {
		return fmt.Errorf("sign-in limits: forget an account's failures: %w", err)
	}
	return nil
}

// ForgetSignInFailures drops every failed sign-in counted against the
// account email signs in to, as an admin's password reset on the Users
// page does: heed user password calls it, so that an operator's reset
// lets a locked-out account in at once, as a restart of heed serve did
// when the counts were kept in memory.
func ForgetSignInFailures(ctx context.Context, db *pgxpool.Pool, email string) error {
	l := signinLimits{db: db}
	return l.forget(ctx, accountKey(email))
}
