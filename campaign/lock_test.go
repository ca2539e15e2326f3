package campaign

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// TestLockSubjects: a subject's number, and every number of its person,
// stay locked until unlock, for another Store on the same database too;
// other numbers are not held up; a wait ends with its context, and gives
// its slot back; and batches locked in opposite orders do not deadlock.
func TestLockSubjects(t *testing.T) {
	t.Parallel()
	_, db := newService(t)
	ctx := context.Background()
	const (
		mobile phone.Number = "+18605550401" // D-1's
		office phone.Number = "+18605550402" // D-1's
		other  phone.Number = "+18605550403" // no person
	)
	var list int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('l') RETURNING id`).Scan(&list))
	for _, c := range []struct {
		p   phone.Number
		ref string
	}{{mobile, "D-1"}, {office, "D-1"}, {other, ""}} {
		_, err := db.Exec(ctx, `INSERT INTO contacts (list_id, name, phone, person_ref) VALUES ($1, 'x', $2, $3)`, list, c.p, c.ref)
		require.NoError(t, err)
	}
	a, b := NewStore(db), NewStore(db) // as two processes would have

	unlockA, err := a.LockSubjects(ctx, []dialer.Subject{{Phone: mobile, Person: "D-1"}})
	require.NoError(t, err)
	t.Cleanup(unlockA.Unlock) // should the test fail before it unlocks

	// The person's other number, asked for without the person, waits.
	got := make(chan dialer.SubjectLock, 1)
	go func() {
		unlock, err := b.LockSubjects(ctx, []dialer.Subject{{Phone: office}})
		if assert.NoError(t, err) {
			t.Cleanup(unlock.Unlock)
			got <- unlock
		}
	}()
	waiting := func() bool {
		var n int
		err := db.QueryRow(ctx, `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n)
		return assert.NoError(t, err) && n > 0
	}
	require.Eventually(t, waiting, 10*time.Second, 10*time.Millisecond, "the second lock waits in PostgreSQL")
	require.Empty(t, got, "a number of a locked person is locked")

	// Another number does not wait.
	unlockOther, err := b.LockSubjects(ctx, []dialer.Subject{{Phone: other}})
	require.NoError(t, err)
	unlockOther.Unlock()

	// A wait that outlives its context fails, and frees its slot.
	held := len(b.lockSlots) // the waiting lock above holds one
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = b.LockSubjects(short, []dialer.Subject{{Phone: mobile}})
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 1, held)
	require.Len(t, b.lockSlots, held, "the failed wait gave its slot back")

	require.NoError(t, unlockA.Held(ctx))
	unlockA.Unlock()
	require.ErrorIs(t, unlockA.Held(ctx), dialer.ErrHoldLost, "unlocked")
	var unlockB dialer.SubjectLock
	select {
	case unlockB = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the lock was not handed on")
	}
	unlockB.Unlock()

	// Overlapping batches in opposite orders, from two Stores at once.
	var wg sync.WaitGroup
	for _, order := range [][]dialer.Subject{
		{{Phone: other}, {Phone: mobile, Person: "D-1"}},
		{{Phone: office}, {Phone: other}},
	} {
		wg.Add(1)
		s := NewStore(db)
		go func() {
			defer wg.Done()
			for range 50 {
				unlock, err := s.LockSubjects(ctx, order)
				if !assert.NoError(t, err) {
					return
				}
				unlock.Unlock()
			}
		}()
	}
	wg.Wait()
}
