package campaign

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
)

// Store.Look records each kind of last look and moves the attempt and its
// target as the look decided; an exact look the change log has outrun is
// not recorded.
func TestStoreLook(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Ann,8605550141\nBob,8605550142\nCy,8605550143\nDee,8605550144\nFay,8605550146\n")
	w.exec(`UPDATE campaigns SET status = 'running' WHERE id = $1`, w.c.ID)
	store := NewStore(w.s.db)
	at := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)
	until := at.Add(17 * time.Hour)
	attempt := func(phone string) int64 {
		id := w.id(`
			WITH t AS (UPDATE campaign_targets SET state = 'dialing' WHERE campaign_id = $1
			            AND contact_id = (SELECT id FROM contacts WHERE list_id = $2 AND phone = $3))
			INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status)
			SELECT $1, k.id, 1, k.phone, '+18605550100', 'allow', '{}', 'p', '{}', 'originating'
			  FROM contacts k WHERE k.list_id = $2 AND k.phone = $3 RETURNING id`, w.c.ID, w.listID, phone)
		return id
	}
	type row struct {
		status, outcome, target string
		next                    time.Time
		look                    lastLookRecord
	}
	read := func(id int64) row {
		var r row
		var raw []byte
		require.NoError(t, w.s.db.QueryRow(w.ctx, `SELECT a.status, a.outcome, t.state, t.next_attempt_at, a.last_look
			FROM attempts a JOIN campaign_targets t ON t.campaign_id = a.campaign_id AND t.contact_id = a.contact_id WHERE a.id = $1`, id).
			Scan(&r.status, &r.outcome, &r.target, &r.next, &raw))
		require.NoError(t, json.Unmarshal(raw, &r.look))
		return r
	}
	allow := consent.Decision{Verdict: consent.Allow, Pack: "p"}
	top := w.seq()
	cases := []struct {
		name, phone    string
		look           dialer.LastLook
		placed         bool
		outcome, state string
	}{
		{"allowed", "+18605550141", dialer.LastLook{At: at, Decision: allow, IndexSeq: top, Exact: true}, true, "", "dialing"},
		{"denied", "+18605550142", dialer.LastLook{At: at, Decision: consent.Decision{Verdict: consent.Deny, Reasons: []consent.Reason{consent.ReasonDNCInternal}}},
			false, "called_off", "done"},
		{"deferred", "+18605550143", dialer.LastLook{At: at, Decision: consent.Decision{Verdict: consent.Defer, Until: until, Reasons: []consent.Reason{consent.ReasonWindowOutside}}},
			false, "called_off", "pending"},
		{"stale", "+18605550144", dialer.LastLook{At: at, Decision: consent.Decision{Verdict: consent.Deny, Reasons: []consent.Reason{consent.ReasonIndexStale}}},
			false, "called_off", "pending"},
	}
	for _, c := range cases {
		id := attempt(c.phone)
		placed, err := store.Look(w.ctx, id, c.look)
		require.NoError(t, err, c.name)
		require.Equal(t, c.placed, placed, c.name)
		r := read(id)
		require.Equal(t, c.outcome, r.outcome, c.name)
		require.Equal(t, c.state, r.target, c.name)
		require.Equal(t, c.look.Decision.Verdict, r.look.Decision.Verdict, c.name)
		require.Equal(t, top, r.look.IndexTop, c.name)
		if c.look.Decision.Verdict == consent.Defer {
			require.True(t, r.next.Equal(until), "%s: due again at %s", c.name, r.next)
		}
		_, err = store.Look(w.ctx, id, c.look)
		if c.placed {
			require.NoError(t, err, "%s: still about to be placed", c.name)
		} else {
			require.ErrorIs(t, err, dialer.ErrNotDue, "%s: called off, no second look", c.name)
		}
	}

	// The change log moves on past what the indexes read: an exact look
	// that allows is not recorded, one that refuses is.
	id := attempt("+18605550146")
	w.exec(`INSERT INTO dnc_internal (phone, method) VALUES ('+18605550199', 'staff')`)
	_, err := store.Look(w.ctx, id, dialer.LastLook{At: at, Decision: allow, IndexSeq: top, Exact: true})
	require.True(t, errors.Is(err, dialer.ErrIndexBehind), "%v", err)
	require.Equal(t, "originating", attemptStatus(t, w, id))
	placed, err := store.Look(w.ctx, id, dialer.LastLook{At: at, Decision: allow, IndexSeq: w.seq(), Exact: true})
	require.NoError(t, err)
	require.True(t, placed)
}

// attemptStatus returns an attempt's status.
func attemptStatus(t *testing.T, w *reportWorld, id int64) string {
	t.Helper()
	var status string
	require.NoError(t, w.s.db.QueryRow(w.ctx, `SELECT status FROM attempts WHERE id = $1`, id).Scan(&status))
	return status
}
