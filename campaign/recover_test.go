package campaign

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/dbtest"
)

// A key-press opt-out a call kept in its keys but that was never taken is
// taken at start, and recorded by the background loop's pass; one recorded
// already, or recorded and then taken off by staff, or taken and waiting
// to be recorded, is not taken again. During an import, start takes them
// all the same.
func TestRecoverOptOuts(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Ann,8605550151\nBob,8605550152\nCy,8605550153\nDee,8605550154\nEd,8605550155\nGus,8605550157\n")
	store := NewStore(w.s.db)
	call := w.endedCall
	ann := call("+18605550151", "19", "confirmed") // pressed 9 after 1; the opt-out was lost
	call("+18605550151", "9", "no_response")       // and again on a later call
	call("+18605550152", "9", "opted_out")         // recorded during the call
	w.exec(`INSERT INTO dnc_internal (phone, method, source) VALUES ('+18605550152', 'ivr', 'pressed 9')`)
	call("+18605550153", "9", "no_response") // recorded by the retries, then taken off by staff
	w.exec(`INSERT INTO dnc_internal (phone, method, source, removed_at) VALUES ('+18605550153', 'ivr', 'pressed 9', now())`)
	call("+18605550154", "12*", "confirmed") // no opt-out
	// On the list from before the call, lifted for it by a later consent
	// (F12): the key press must still be taken, its revocation stopping
	// that consent.
	w.exec(`INSERT INTO dnc_internal (phone, method, source, added_at) VALUES ('+18605550155', 'staff', 'asked', now() - interval '1 day')`)
	ed := call("+18605550155", "9", "no_response")
	// Taken during the call, its records waiting for the database.
	w.exec(`INSERT INTO contacts (list_id, name, phone) VALUES ($1, 'Fay', '+18605550156')`, w.listID)
	fay := call("+18605550156", "9", "opted_out")
	w.exec(`INSERT INTO optout_requests (phone, method, source, attempt_id) VALUES ('+18605550156', 'ivr', 'pressed 9', $1)`, fay)

	n, err := store.RecoverOptOuts(w.ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n, "Ann's and Ed's")
	recorded, err := RecordPendingOptOuts(w.ctx, w.s.db)
	require.NoError(t, err)
	require.Equal(t, 3, recorded, "Ann's and Ed's, taken at start, and Fay's, taken during her call")
	require.NoError(t, w.s.db.QueryRow(w.ctx, `SELECT count(*) FROM revocations WHERE phone = '+18605550155' AND source LIKE '%during attempt ' || $1::bigint || '%'`, ed).Scan(&n))
	require.Equal(t, 1, n, "Ed's revocation, from his key press")
	var phones []string
	require.NoError(t, w.s.db.QueryRow(w.ctx, `SELECT array_agg(phone ORDER BY phone) FROM dnc_internal WHERE removed_at IS NULL`).Scan(&phones))
	require.Equal(t, []string{"+18605550151", "+18605550152", "+18605550155", "+18605550156"}, phones, "Fay's waiting request is recorded too")
	require.NoError(t, w.s.db.QueryRow(w.ctx, `SELECT count(*) FROM optout_requests WHERE phone = '+18605550156'`).Scan(&n))
	require.Equal(t, 1, n, "and not taken again")
	var source string
	require.NoError(t, w.s.db.QueryRow(w.ctx, `SELECT source FROM dnc_internal WHERE phone = '+18605550151'`).Scan(&source))
	require.Equal(t, fmt.Sprintf("pressed 9 during attempt %d; taken when heed started", ann), source)
	var revoked int
	require.NoError(t, w.s.db.QueryRow(w.ctx, `SELECT count(*) FROM revocations WHERE phone = '+18605550151'`).Scan(&revoked))
	require.Equal(t, 1, revoked, "every consent revoked, once")
	var taken int
	require.NoError(t, w.s.db.QueryRow(w.ctx, `SELECT count(*) FROM optout_requests WHERE attempt_id = $1 AND recorded_at IS NOT NULL`, ann).Scan(&taken))
	require.Equal(t, 1, taken, "taken as pressed during the first call, and recorded")

	n, err = store.RecoverOptOuts(w.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to recover")

	// During an import, start is not held up: the opt-out is taken (every
	// gate refuses the number from its next sync), and recorded after.
	gus := call("+18605550157", "9", "no_response")
	commit := dbtest.HoldLogs(t, w.s.db)
	// The import never ends by itself: a start that waited for it would
	// run out of this context.
	sctx, cancel := context.WithTimeout(w.ctx, 30*time.Second)
	defer cancel()
	n, err = store.RecoverOptOuts(sctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NoError(t, w.s.db.QueryRow(w.ctx, `SELECT count(*) FROM optout_requests WHERE attempt_id = $1 AND recorded_at IS NULL`, gus).Scan(&taken))
	require.Equal(t, 1, taken, "taken, its records waiting")
	commit()
	recorded, err = RecordPendingOptOuts(w.ctx, w.s.db)
	require.NoError(t, err)
	require.Equal(t, 1, recorded)
}

// endedCall records an ended, allowed call to phone (a contact of the
// world's list) with the keys dtmf and the outcome.
func (w *reportWorld) endedCall(phone, dtmf, outcome string) int64 {
	w.t.Helper()
	w.n++
	return w.id(`
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome, dtmf, ended_at)
		SELECT $1, k.id, $6, k.phone, '+18605550100', 'allow', '{}', 'p', '{}', 'ended', $4, $3, now()
		  FROM contacts k WHERE k.list_id = $2 AND k.phone = $5 RETURNING id`, w.c.ID, w.listID, dtmf, outcome, phone, w.n)
}

// TestTakeOrphanOptOut: the opt-out key pressed on a call a stopped
// process left, taken as it is pressed: the key joins the keys of the
// attempt still in flight, and the opt-out request is recorded once,
// whatever number of tries; recovery's close of the attempt then finds it
// taken, and the background loop records it. An attempt already closed
// keeps its keys, and its opt-out is taken all the same.
func TestTakeOrphanOptOut(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Ann,8605550161\nBob,8605550162\n")
	store := NewStore(w.s.db)
	w.n++
	ann := w.id(`
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status)
		SELECT $1, k.id, $3, k.phone, '+18605550100', 'allow', '{}', 'p', '{}', 'answered'
		  FROM contacts k WHERE k.list_id = $2 AND k.phone = '+18605550161' RETURNING id`, w.c.ID, w.listID, w.n) // in flight
	bob := w.endedCall("+18605550162", "1", "confirmed") // closed, as recovery may have closed it

	for range 2 {
		require.NoError(t, store.TakeOrphanOptOut(w.ctx, ann))
		require.NoError(t, store.TakeOrphanOptOut(w.ctx, bob))
	}
	require.ErrorIs(t, store.TakeOrphanOptOut(w.ctx, 1_000_000), ErrNotFound)
	keys := func(id int64) string {
		var k string
		require.NoError(t, w.s.db.QueryRow(w.ctx, `SELECT dtmf FROM attempts WHERE id = $1`, id).Scan(&k))
		return k
	}
	require.Equal(t, "9", keys(ann), "the key joins the attempt's keys, once")
	require.Equal(t, "1", keys(bob), "a finished attempt is never changed")
	var n int
	require.NoError(t, w.s.db.QueryRow(w.ctx, `SELECT count(*) FROM optout_requests WHERE attempt_id IN ($1, $2)`, ann, bob).Scan(&n))
	require.Equal(t, 2, n, "one request per attempt")

	require.NoError(t, store.closeOrphan(w.ctx, w.c.ID, ann, "opted_out"))
	recorded, err := RecordPendingOptOuts(w.ctx, w.s.db)
	require.NoError(t, err)
	require.Equal(t, 2, recorded)
	var phones []string
	require.NoError(t, w.s.db.QueryRow(w.ctx, `SELECT array_agg(phone ORDER BY phone) FROM dnc_internal WHERE removed_at IS NULL`).Scan(&phones))
	require.Equal(t, []string{"+18605550161", "+18605550162"}, phones)
}
