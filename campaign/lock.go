package campaign

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// lockWait bounds how long LockSubjects waits for another holder: a pacer
// holds a batch's numbers for as long as it takes to decide, record and
// place the batch's calls, well under this.
const lockWait = time.Minute

var _ dialer.SubjectLocker = (*Store)(nil)

// LockSubjects locks the numbers of subjects (dialer.SubjectLocker): each
// subject's number and every number of the contacts with its person
// reference. Each number is a PostgreSQL advisory lock held by a
// transaction of its own until unlock, so the lock holds across every heed
// process on the database, and a process that dies releases its locks with
// its connection. The numbers are locked in ascending order of their keys,
// so two pacers locking overlapping batches cannot deadlock on each other;
// at most half the pool's connections hold locks at once, so a holder can
// always get a connection to read the history it locked for. It fails when
// another holder keeps a number locked for longer than a minute, or when
// ctx ends. The lock's Held asks its transaction whether it is still open
// (its session alive); the transaction turns off the server's idle
// transaction timeout, which would otherwise end it while the batch waits
// to place its calls.
func (s *Store) LockSubjects(ctx context.Context, subjects []dialer.Subject) (dialer.SubjectLock, error) {
	phones := make([]string, 0, len(subjects))
	var refs []string
	for _, sub := range subjects {
		phones = append(phones, sub.Phone.String())
		if sub.Person != "" {
			refs = append(refs, sub.Person)
		}
	}
	select {
	case s.lockSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("lock subjects: %w", ctx.Err())
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		<-s.lockSlots
		return nil, fmt.Errorf("lock subjects: %w", err)
	}
	l := &subjectLock{tx: tx, slots: s.lockSlots, ctx: context.WithoutCancel(ctx)}
	keys, err := s.lockNumbers(ctx, tx, phones, refs)
	if err != nil {
		l.Unlock()
		return nil, err
	}
	l.keys = keys
	return l, nil
}

// heldWait bounds a check that a lock or lease is still held: a database
// that does not answer within it fails the check, and the call is not
// placed.
const heldWait = 5 * time.Second

// subjectLock is a batch's lock on its numbers: the transaction that
// holds their advisory locks (LockSubjects).
type subjectLock struct {
	ctx   context.Context // LockSubjects', without its cancellation
	slots chan struct{}
	mu    sync.Mutex // a transaction serves one statement at a time
	tx    pgx.Tx     // nil once unlocked
	keys  []int64    // the numbers' lock keys, ascending
}

// Covers reports whether the lock holds every number of numbers: the
// history read after the lock may count a number a contact import gave
// the person since (dialer.SubjectLock).
func (l *subjectLock) Covers(numbers []phone.Number) bool {
	for _, n := range numbers {
		if _, ok := slices.BinarySearch(l.keys, numberLockKey(n.String())); !ok {
			return false
		}
	}
	return true
}

// Held reports whether the transaction that holds the locks is still
// open: its statement fails once the session has ended, and with it the
// locks.
func (l *subjectLock) Held(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tx == nil {
		return fmt.Errorf("numbers' lock: unlocked: %w", dialer.ErrHoldLost)
	}
	ctx, cancel := context.WithTimeout(ctx, heldWait)
	defer cancel()
	if _, err := l.tx.Exec(ctx, `SELECT 1`); err != nil {
		return fmt.Errorf("numbers' lock: %w: %w", dialer.ErrHoldLost, err)
	}
	return nil
}

// Unlock ends the transaction, which releases its locks; should that fail,
// the pool closes the connection, which releases them too. Calling it
// again does nothing.
func (l *subjectLock) Unlock() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tx == nil {
		return
	}
	rctx, cancel := context.WithTimeout(l.ctx, 10*time.Second)
	defer cancel()
	_ = l.tx.Rollback(rctx)
	l.tx = nil
	<-l.slots
}

// lockNumbers takes, in tx, the advisory lock of each number in phones and
// of every number of the persons refs, and returns their keys, ascending.
func (s *Store) lockNumbers(ctx context.Context, tx pgx.Tx, phones, refs []string) ([]int64, error) {
	// The transaction idles while its batch places its calls: a server
	// set to end idle transactions must not end this one.
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = '%dms'; SET LOCAL idle_in_transaction_session_timeout = 0", lockWait.Milliseconds())); err != nil {
		return nil, fmt.Errorf("lock subjects: %w", err)
	}
	if len(refs) > 0 {
		// The same numbers History counts for the persons.
		rows, err := tx.Query(ctx, `SELECT DISTINCT phone FROM (`+personNumbers("$1")+`) p`, refs)
		if err != nil {
			return nil, fmt.Errorf("lock subjects: numbers of persons: %w", err)
		}
		more, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("lock subjects: numbers of persons: %w", err)
		}
		phones = append(phones, more...)
	}
	keys := make([]int64, len(phones))
	for i, p := range phones {
		keys[i] = numberLockKey(p)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	// unnest yields the keys in the array's order, and each row takes its
	// lock before the next row is produced.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k`, keys); err != nil {
		return nil, fmt.Errorf("lock subjects: %w", err)
	}
	return keys, nil
}

// numberLockKey is the advisory lock key of a number (E.164): a 64-bit hash
// in a name space of its own. Two numbers with the same key only wait for
// each other.
func numberLockKey(e164 string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("heed:number:"))
	_, _ = h.Write([]byte(e164))
	return int64(h.Sum64()) //nolint:gosec // a hash, reinterpreted as PostgreSQL's bigint
}
