package campaign

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// TestHistoryPerPerson: a subject with a person reference gets the calls to
// every number of every contact with that reference, on any list and in
// any campaign, each call once; a subject without one gets the calls to its
// number alone, and an empty reference joins no one.
func TestHistoryPerPerson(t *testing.T) {
	t.Parallel()
	_, db := newService(t)
	ctx := context.Background()
	const (
		mobile  = phone.Number("+18605550201") // D-1's, on list a
		home    = phone.Number("+18605550202") // D-1's, on list a; no person on list b
		office  = phone.Number("+12035550203") // D-1's, on list b only
		other   = phone.Number("+18605550204") // D-2's, never called
		nobody1 = phone.Number("+18605550205") // no person
		nobody2 = phone.Number("+18605550206") // no person
	)
	var listA, listB, campA, campB int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('a') RETURNING id`).Scan(&listA))
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('b') RETURNING id`).Scan(&listB))
	contact := map[string]int64{}
	for _, c := range []struct {
		key  string
		list int64
		p    phone.Number
		ref  string
	}{
		{"a-mobile", listA, mobile, "D-1"}, {"a-home", listA, home, "D-1"}, {"b-home", listB, home, ""},
		{"b-office", listB, office, "D-1"}, {"b-other", listB, other, "D-2"},
		{"a-nobody1", listA, nobody1, ""}, {"a-nobody2", listA, nobody2, ""},
	} {
		var id int64
		require.NoError(t, db.QueryRow(ctx, `INSERT INTO contacts (list_id, name, phone, person_ref) VALUES ($1, 'x', $2, $3) RETURNING id`,
			c.list, c.p, c.ref).Scan(&id))
		contact[c.key] = id
	}
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id)
		VALUES ('a', 'debt_collection', $1, 'm', '+18605550100') RETURNING id`, listA).Scan(&campA))
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id)
		VALUES ('b', 'informational', $1, 'm', '+18605550100') RETURNING id`, listB).Scan(&campB))
	now := time.Now().UTC().Truncate(time.Second)
	no := 0
	call := func(campaignID int64, key string, p phone.Number, decision, outcome string, ago time.Duration) {
		t.Helper()
		no++
		_, err := db.Exec(ctx, `INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, status, outcome, originated_at)
			VALUES ($1, $2, $3, $4, '+18605550100', $5, 'ended', $6, $7)`, campaignID, contact[key], no, p, decision, outcome, now.Add(-ago))
		require.NoError(t, err)
	}
	for i := range 3 {
		call(campA, "a-mobile", mobile, "allow", "no_answer", time.Duration(i+1)*time.Hour)
	}
	call(campA, "a-home", home, "allow", "answered", 5*time.Hour)          // a conversation
	call(campB, "b-home", home, "allow", "busy", 6*time.Hour)              // through a contact without the person
	call(campB, "b-office", office, "allow", "no_answer", 7*time.Hour)     // another list and campaign
	call(campB, "b-office", office, "deny", "blocked", 8*time.Hour)        // never placed: not a call
	call(campA, "a-mobile", mobile, "allow", "no_answer", 40*24*time.Hour) // before the window
	call(campA, "a-nobody1", nobody1, "allow", "no_answer", 2*time.Hour)   // no person
	call(campA, "a-nobody1", nobody1, "allow", "no_answer", 3*time.Hour)   // no person

	subjects := []dialer.Subject{
		{Phone: home, Person: "D-1"},
		{Phone: other, Person: "D-2"},
		{Phone: home},
		{Phone: nobody2},
		{Phone: nobody1},
		{Phone: "+18605550299", Person: "D-9"}, // a person no contact names
		{Phone: mobile, Person: "D-1"},
	}
	got, err := NewStore(db).History(ctx, subjects, now.Add(-dialer.HistoryWindow))
	require.NoError(t, err)
	require.Len(t, got, len(subjects))
	times := func(h dialer.History) []time.Duration {
		var out []time.Duration
		for _, a := range h.Attempts {
			out = append(out, now.Sub(a.At))
		}
		return out
	}
	conversations := func(h dialer.History) int {
		n := 0
		for _, a := range h.Attempts {
			if a.Conversation {
				n++
			}
		}
		return n
	}

	// D-1 at home: its three numbers, each call once (the calls to home
	// match both by number and by person).
	require.Equal(t, []phone.Number{home, office, mobile}, got[0].Numbers)
	require.ElementsMatch(t, []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 5 * time.Hour, 6 * time.Hour, 7 * time.Hour}, times(got[0]))
	require.Equal(t, 1, conversations(got[0]), "the answered call at home is a conversation")
	// D-1 on the mobile: the same calls, the mobile first.
	require.Equal(t, []phone.Number{mobile, office, home}, got[6].Numbers)
	require.ElementsMatch(t, times(got[0]), times(got[6]))
	// D-2 was never called.
	require.Equal(t, []phone.Number{other}, got[1].Numbers)
	require.Empty(t, got[1].Attempts)
	// Home without a person: the calls to home alone.
	require.Equal(t, []phone.Number{home}, got[2].Numbers)
	require.ElementsMatch(t, []time.Duration{5 * time.Hour, 6 * time.Hour}, times(got[2]))
	// Two contacts without a person are not one person.
	require.Equal(t, []phone.Number{nobody2}, got[3].Numbers)
	require.Empty(t, got[3].Attempts, "an empty person reference joins no one")
	require.ElementsMatch(t, []time.Duration{2 * time.Hour, 3 * time.Hour}, times(got[4]))
	// A reference no contact has: the number alone.
	require.Equal(t, []phone.Number{"+18605550299"}, got[5].Numbers)
	require.Empty(t, got[5].Attempts)

	// Histories share no storage: changing one leaves the others.
	before := times(got[2])
	got[0].Attempts[0].At = time.Time{}
	got[6].Attempts = append(got[6].Attempts, got[6].Attempts...)
	require.Equal(t, before, times(got[2]))
}
