package campaign

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dialer"
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

	closed, err := store.closeOrphan(w.ctx, w.c.ID, ann, "opted_out")
	require.NoError(t, err)
	require.Equal(t, dialer.OrphanOptedOut, closed)
	recorded, err := RecordPendingOptOuts(w.ctx, w.s.db)
	require.NoError(t, err)
	require.Equal(t, 2, recorded)
	var phones []string
	require.NoError(t, w.s.db.QueryRow(w.ctx, `SELECT array_agg(phone ORDER BY phone) FROM dnc_internal WHERE removed_at IS NULL`).Scan(&phones))
	require.Equal(t, []string{"+18605550161", "+18605550162"}, phones)
}

// answers is a Reconciler that answers from a table, as the switches
// would.
type answers map[int64]dialer.Orphan

func (a answers) Reconcile(_ context.Context, _ string, attemptID int64) (dialer.Orphan, error) {
	return a[attemptID], nil
}

// TestRecoverKeepsNotedOrphan: what a switch recorded of a call a stopped
// process left, as the call ended (NoteOrphan), outlives the switch's
// memory of it. The attempt stays in flight with the record; recovery,
// asking only later (the campaign paused meanwhile, or another process),
// finds the channel gone, or its Asterisk no longer configured, and
// closes the attempt with what was recorded: abandoned (the abandonment
// rate counts it), opted out (the key kept, its opt-out taken), rang out.
// What a switch finds now stands over a record; an attempt with no record
// is closed gone, as before. Only what a switch can find of a call it
// followed to its end is recorded, and never on a finished attempt.
func TestRecoverKeepsNotedOrphan(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Ann,8605550171\nBob,8605550172\nCy,8605550173\nDee,8605550174\nEd,8605550175\nFay,8605550176\n")
	store := NewStore(w.s.db)
	inFlight := func(phone string) int64 {
		w.n++
		return w.id(`
			INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, asterisk)
			SELECT $1, k.id, $3, k.phone, '+18605550100', 'allow', '{}', 'p', '{}', 'ringing', 'pbx'
			  FROM contacts k WHERE k.list_id = $2 AND k.phone = $4 RETURNING id`, w.c.ID, w.listID, w.n, phone)
	}
	w.exec(`INSERT INTO campaign_targets (campaign_id, contact_id, state, attempts) SELECT $1, id, 'dialing', 1 FROM contacts WHERE list_id = $2
		ON CONFLICT (campaign_id, contact_id) DO UPDATE SET state = 'dialing', attempts = 1`, w.c.ID, w.listID)
	abandoned, optedOut, rangOut, unnoted, stillThere := inFlight("+18605550171"), inFlight("+18605550172"),
		inFlight("+18605550173"), inFlight("+18605550174"), inFlight("+18605550175")
	ended := w.endedCall("+18605550176", "", "confirmed")

	require.NoError(t, store.NoteOrphan(w.ctx, abandoned, dialer.OrphanAbandoned))
	require.NoError(t, store.TakeOrphanOptOut(w.ctx, optedOut)) // as the key is pressed
	require.NoError(t, store.NoteOrphan(w.ctx, optedOut, dialer.OrphanOptedOut))
	require.NoError(t, store.NoteOrphan(w.ctx, rangOut, dialer.OrphanRangOut))
	require.NoError(t, store.NoteOrphan(w.ctx, stillThere, dialer.OrphanAbandoned))
	require.NoError(t, store.NoteOrphan(w.ctx, ended, dialer.OrphanAbandoned), "a finished attempt: nothing left to record")
	require.NoError(t, store.NoteOrphan(w.ctx, 1_000_000, dialer.OrphanAbandoned), "no such attempt: nothing to record")
	for _, bad := range []dialer.Orphan{dialer.OrphanGone, dialer.OrphanHungUp, dialer.OrphanUnchecked, dialer.OrphanFollowed, "", "lost"} {
		require.ErrorIs(t, store.NoteOrphan(w.ctx, unnoted, bad), ErrInvalid, "%q", bad)
	}
	row := func(id int64) (status, outcome, reconcile, keys string) {
		require.NoError(t, w.s.db.QueryRow(w.ctx, `SELECT status, outcome, reconcile, dtmf FROM attempts WHERE id = $1`, id).
			Scan(&status, &outcome, &reconcile, &keys))
		return
	}
	status, _, reconcile, _ := row(abandoned)
	require.Equal(t, []string{"ringing", "abandoned"}, []string{status, reconcile}, "recorded, still in flight for recovery to close")
	_, outcome, reconcile, _ := row(ended)
	require.Equal(t, []string{"confirmed", ""}, []string{outcome, reconcile}, "a finished attempt is left alone")
	_, _, reconcile, _ = row(unnoted)
	require.Empty(t, reconcile)

	got, err := store.Recover(w.ctx, w.c.ID, answers{
		abandoned: dialer.OrphanGone, optedOut: dialer.OrphanGone, rangOut: dialer.OrphanUnchecked,
		unnoted: dialer.OrphanGone, stillThere: dialer.OrphanHungUp,
	})
	require.NoError(t, err)
	require.Equal(t, Recovered{Gone: 1, RangOut: 1, Abandoned: 2, OptedOut: 1, HungUp: 1}, got)
	for _, c := range []struct {
		id                       int64
		outcome, reconcile, keys string
	}{
		{abandoned, "abandoned", "abandoned", ""},
		{optedOut, "abandoned", "opted_out", dialer.OptOutKey},
		{rangOut, "unknown", "rang_out", ""},
		{unnoted, "unknown", "gone", ""},
		{stillThere, "unknown", "hung_up", ""},
	} {
		status, outcome, reconcile, keys := row(c.id)
		require.Equal(t, []string{"ended", c.outcome, c.reconcile, c.keys}, []string{status, outcome, reconcile, keys}, "attempt %d", c.id)
	}
	var optOuts int
	require.NoError(t, w.s.db.QueryRow(w.ctx, `SELECT count(*) FROM optout_requests WHERE attempt_id = $1`, optedOut).Scan(&optOuts))
	require.Equal(t, 1, optOuts, "the opt-out pressed, taken once")
	var dialing, done int
	require.NoError(t, w.s.db.QueryRow(w.ctx, `SELECT count(*) FILTER (WHERE state = 'dialing'), count(*) FILTER (WHERE state = 'done')
		FROM campaign_targets WHERE campaign_id = $1`, w.c.ID).Scan(&dialing, &done))
	require.Equal(t, []int{0, 6}, []int{dialing, done}, "every target finished, never redialed")
}
