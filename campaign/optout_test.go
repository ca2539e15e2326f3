package campaign

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/internal/phone"
)

// refuses reports whether indexes' gate counts n as on the internal list.
func refuses(ix *dialer.Indexes, e *consent.Engine, n phone.Number) bool {
	g := &dialer.PolicyGate{Engine: e, Indexes: ix}
	f := g.Facts(&dialer.Request{Phone: n, Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, At: time.Now()})
	return f.DNC&consent.DNCInternal != 0
}

// An opt-out taken while a long import holds the change log's and the
// audit log's locks is not kept waiting and not lost: it is taken at once,
// every process's gate refuses the number from its next sync, and it is
// recorded, once, dated when it was taken, as soon as the import ends.
func TestOptOutTakenDuringAnImport(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Ann,8605550171\nBob,8605550172\n")
	db := w.s.db
	const ann, bob phone.Number = "+18605550171", "+18605550172"
	e, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Two heed processes' indexes.
	procs := []*dialer.Indexes{dialer.NewIndexes(db, log), dialer.NewIndexes(db, log)}
	for _, ix := range procs {
		require.NoError(t, ix.Load(w.ctx))
		require.False(t, refuses(ix, e, ann))
	}
	// A change the second process has not applied: its next sync applies
	// the log, where the first's finds it quiet.
	require.NoError(t, procs[0].Sync(w.ctx))
	w.exec(`INSERT INTO dnc_internal (phone, method, source) VALUES ('+12035550100', 'staff', 'asked')`)
	require.NoError(t, procs[0].Sync(w.ctx))

	commit := dbtest.HoldLogs(t, db)
	taken, err := RecordOptOut(w.ctx, db, OptOut{Phone: ann, Method: string(consent.RevokedByWeb), Source: "opt-out page"})
	require.NoError(t, err)
	require.False(t, taken.Recorded, "taken; its records wait for the import")
	require.Error(t, taken.Wait)
	attempt := w.endedCall(string(bob), "9", "opted_out")
	store := NewStore(db)
	for range 2 { // a retry of the same call's opt-out
		recorded, err := store.RecordOptOut(w.ctx, attempt, bob)
		require.NoError(t, err)
		require.False(t, recorded)
	}
	var requests int
	require.NoError(t, db.QueryRow(w.ctx, `SELECT count(*) FROM optout_requests WHERE recorded_at IS NULL`).Scan(&requests))
	require.Equal(t, 2, requests, "one request per person, whatever the retries")

	for i, ix := range procs {
		require.NoError(t, ix.Sync(w.ctx))
		require.True(t, refuses(ix, e, ann), "process %d refuses the number before any record exists", i)
		require.True(t, refuses(ix, e, bob), "process %d", i)
	}
	started := dialer.NewIndexes(db, log) // a process that starts now
	require.NoError(t, started.Load(w.ctx))
	require.True(t, refuses(started, e, ann), "loaded with the opt-outs taken")
	// A look that allows a call to the number, as by indexes that do not
	// hold the opt-out yet, is not recorded, exact or not.
	lookWorld := w.endedCall(string(ann), "", "")
	w.forge(`UPDATE attempts SET status = 'originating', outcome = '', ended_at = NULL WHERE id = $1`, lookWorld)
	for _, exact := range []bool{true, false} {
		_, err = store.Look(w.ctx, lookWorld, dialer.LastLook{At: time.Now(), Decision: consent.Decision{Verdict: consent.Allow},
			IndexSeq: w.seq(), Exact: exact})
		require.ErrorIs(t, err, dialer.ErrIndexBehind, "exact %v", exact)
	}

	// The drain cannot record them while the import runs.
	short, cancel := context.WithTimeout(w.ctx, 300*time.Millisecond)
	n, err := RecordPendingOptOuts(short, db)
	cancel()
	require.Error(t, err)
	require.Zero(t, n)

	commit()
	// The cancelled drain's session may hold a request's row a moment
	// longer: a drain skips it, and the next one records it.
	recorded := 0
	require.Eventually(t, func() bool {
		n, err := RecordPendingOptOuts(w.ctx, db)
		require.NoError(t, err)
		recorded += n
		return recorded >= 2
	}, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, 2, recorded)
	for _, p := range []phone.Number{ann, bob} {
		var taken, revoked, added time.Time
		var revs, entries int
		require.NoError(t, db.QueryRow(w.ctx, `
			SELECT r.taken_at, v.revoked_at, d.added_at,
			       (SELECT count(*) FROM revocations WHERE phone = $1), (SELECT count(*) FROM dnc_internal WHERE phone = $1)
			  FROM optout_requests r JOIN revocations v ON v.id = r.revocation_id JOIN dnc_internal d ON d.phone = r.phone
			 WHERE r.phone = $1`, p).Scan(&taken, &revoked, &added, &revs, &entries))
		require.True(t, taken.Equal(revoked) && taken.Equal(added), "%s: dated when taken: %s, %s, %s", p, taken, revoked, added)
		require.Equal(t, 1, revs, "%s: revoked once", p)
		require.Equal(t, 1, entries, "%s: listed once", p)
	}
	n, err = RecordPendingOptOuts(w.ctx, db)
	require.NoError(t, err)
	require.Zero(t, n, "nothing left")
	again, err := store.RecordOptOut(w.ctx, attempt, bob)
	require.NoError(t, err)
	require.True(t, again, "recorded already")
	var revs int
	require.NoError(t, db.QueryRow(w.ctx, `SELECT count(*) FROM revocations WHERE phone = $1`, bob).Scan(&revs))
	require.Equal(t, 1, revs, "a retry after the record writes nothing more")

	// Recorded, the numbers are refused through the entries; a staff
	// removal then shows that nothing holds them otherwise.
	w.exec(`UPDATE dnc_internal SET removed_at = now() WHERE phone = $1`, ann)
	for i, ix := range procs {
		require.NoError(t, ix.Sync(w.ctx))
		require.False(t, refuses(ix, e, ann), "process %d: the request no longer holds it", i)
		require.True(t, refuses(ix, e, bob), "process %d", i)
	}
}

// Two processes draining the same pending opt-outs at once record each
// once: the one that holds a request's row records it, the other skips it.
func TestPendingOptOutsRecordedOnce(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Ann,8605550181\n")
	db := w.s.db
	commit := dbtest.HoldLogs(t, db)
	for range 3 {
		taken, err := RecordOptOut(w.ctx, db, OptOut{Phone: "+18605550181", Method: string(consent.RevokedByWeb), Source: "opt-out page"})
		require.NoError(t, err)
		require.False(t, taken.Recorded)
	}
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i := range counts {
		wg.Go(func() {
			n, err := RecordPendingOptOuts(w.ctx, db)
			assert.NoError(t, err)
			counts[i] = n
		})
	}
	// Both drains wait behind the import, each holding a request of its
	// own: neither waits for the other's.
	require.Eventually(t, func() bool {
		var waiting int
		require.NoError(t, db.QueryRow(w.ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND wait_event = 'advisory' AND datname = current_database()`).Scan(&waiting))
		return waiting == 2
	}, 10*time.Second, 20*time.Millisecond)
	commit()
	wg.Wait()
	require.Equal(t, 3, counts[0]+counts[1], "each request recorded once: %v", counts)
	var revs, entries, listed, pending int
	require.NoError(t, db.QueryRow(w.ctx, `SELECT (SELECT count(*) FROM revocations), (SELECT count(*) FROM dnc_internal),
		(SELECT count(*) FROM optout_requests WHERE listed), (SELECT count(*) FROM optout_requests WHERE recorded_at IS NULL)`).Scan(&revs, &entries, &listed, &pending))
	require.Equal(t, 3, revs, "a revocation each")
	require.Equal(t, 1, entries, "one entry for the number")
	require.Equal(t, 2, listed, "the later two found it listed")
	require.Zero(t, pending)
}

// An opt-out request is never deleted or changed, only marked recorded,
// once: neither while it waits nor once recorded.
func TestOptOutRequestsKept(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Ann,8605550191\nBob,8605550192\n")
	db := w.s.db
	recorded, err := RecordOptOut(w.ctx, db, OptOut{Phone: "+18605550191", Method: string(consent.RevokedByWeb), Source: "opt-out page"})
	require.NoError(t, err)
	require.True(t, recorded.Recorded)
	pending := w.id(`INSERT INTO optout_requests (phone, method, source) VALUES ('+18605550192', 'web', 'opt-out page') RETURNING id`)
	for _, c := range []struct {
		id  int64
		sql string
	}{
		{pending, `UPDATE optout_requests SET phone = '+18605550193' WHERE id = $1`},
		{pending, `UPDATE optout_requests SET taken_at = taken_at + interval '1 day' WHERE id = $1`},
		{pending, `UPDATE optout_requests SET source = 'changed', recorded_at = now(), revocation_id = 1, listed = true WHERE id = $1`},
		{pending, `UPDATE optout_requests SET recorded_at = now(), revocation_id = 1, listed = true, dnc_id = 1 WHERE id = $1`},
		{pending, `UPDATE optout_requests SET recorded_at = now() WHERE id = $1`},
		{pending, `DELETE FROM optout_requests WHERE id = $1`},
		{recorded.ID, `UPDATE optout_requests SET recorded_at = now() WHERE id = $1`},
		{recorded.ID, `UPDATE optout_requests SET recorded_at = NULL, revocation_id = NULL, listed = NULL WHERE id = $1`},
		{recorded.ID, `DELETE FROM optout_requests WHERE id = $1`},
		{0, `TRUNCATE optout_requests`},
	} {
		var err error
		if c.id != 0 {
			_, err = db.Exec(w.ctx, c.sql, c.id)
		} else {
			_, err = db.Exec(w.ctx, c.sql)
		}
		require.Error(t, err, c.sql)
	}
	// Marking the waiting one recorded, as recordOptOut does, is allowed.
	w.exec(`UPDATE optout_requests SET recorded_at = now(), revocation_id = 1, listed = false, dnc_id = 2 WHERE id = $1`, pending)
	var n int
	require.NoError(t, db.QueryRow(w.ctx, `SELECT count(*) FROM optout_requests WHERE phone IN ('+18605550191', '+18605550192') AND recorded_at IS NOT NULL`).Scan(&n))
	require.Equal(t, 2, n)
}

// Two takes of one call's opt-out at once (a retry while the first is
// still committing) are one request, and neither fails.
func TestOptOutTakenOncePerCall(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Bob,8605550272\n")
	db := w.s.db
	attempt := w.endedCall("+18605550272", "9", "opted_out")
	tx, err := db.Begin(w.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(w.ctx) }()
	_, err = tx.Exec(w.ctx, `INSERT INTO optout_requests (phone, method, source, attempt_id) VALUES ('+18605550272', 'ivr', 'first take', $1)`, attempt)
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		recorded, err := NewStore(db).RecordOptOut(w.ctx, attempt, "+18605550272")
		if err == nil && !recorded {
			err = errors.New("taken, not recorded")
		}
		errc <- err
	}()
	require.Eventually(t, func() bool { // the second take waits for the first
		var waiting int
		require.NoError(t, db.QueryRow(w.ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&waiting))
		return waiting == 1
	}, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, tx.Commit(w.ctx))
	require.NoError(t, <-errc, "the second take records the first's request")
	var requests, revs int
	require.NoError(t, db.QueryRow(w.ctx, `SELECT (SELECT count(*) FROM optout_requests WHERE attempt_id = $1 AND recorded_at IS NOT NULL),
		(SELECT count(*) FROM revocations)`, attempt).Scan(&requests, &revs))
	require.Equal(t, 1, requests)
	require.Equal(t, 1, revs)
}

// The loop every heed serve runs records an opt-out taken during an
// import once the import ends, and stops with its context.
func TestKeepRecordingOptOuts(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Ann,8605550175\n")
	db := w.s.db
	commit := dbtest.HoldLogs(t, db)
	taken, err := RecordOptOut(w.ctx, db, OptOut{Phone: "+18605550175", Method: string(consent.RevokedByWeb), Source: "opt-out page"})
	require.NoError(t, err)
	require.False(t, taken.Recorded)
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan struct{})
	go func() {
		KeepRecordingOptOuts(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
		close(done)
	}()
	commit()
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, db.QueryRow(w.ctx, `SELECT count(*) FROM dnc_internal WHERE phone = '+18605550175'`).Scan(&n))
		return n == 1
	}, 3*PendingOptOutWait+5*time.Second, 50*time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not stop with its context")
	}
}

// Every opt-out whose take committed before a sync began is refused once
// the sync returns, while opt-outs are taken and recorded and another
// goroutine syncs the same indexes, all at once.
func TestSyncHoldsEveryTakenOptOut(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Ann,8605550299\n")
	db := w.s.db
	e, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	ix := dialer.NewIndexes(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, ix.Load(w.ctx))
	ctx, cancel := context.WithTimeout(w.ctx, 3*time.Second)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		taken []phone.Number
	)
	wg.Go(func() { // takes opt-outs
		for i := 0; ctx.Err() == nil; i++ {
			p := phone.Number(fmt.Sprintf("+1203%07d", 1000000+i))
			if _, err := db.Exec(ctx, `INSERT INTO optout_requests (phone, method, source) VALUES ($1, 'web', 'x')`, p.String()); err == nil {
				mu.Lock()
				taken = append(taken, p)
				mu.Unlock()
			}
		}
	})
	wg.Go(func() { // records them
		for ctx.Err() == nil {
			_, _ = RecordPendingOptOuts(ctx, db)
		}
	})
	wg.Go(func() { // syncs in the background, as Indexes.Run does
		for ctx.Err() == nil {
			_ = ix.Sync(ctx)
		}
	})
	checks, misses := 0, 0
	for ctx.Err() == nil {
		mu.Lock()
		before := slices.Clone(taken)
		mu.Unlock()
		if err := ix.Sync(ctx); err != nil {
			continue
		}
		for _, p := range before {
			checks++
			if !refuses(ix, e, p) {
				misses++
			}
		}
	}
	wg.Wait()
	require.Positive(t, checks)
	require.Zero(t, misses, "of %d checks", checks)
}
