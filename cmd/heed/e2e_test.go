package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk/testbed"
	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/consent"
)

// TestCampaignEndToEnd runs the demo campaign through heed against the real
// Asterisk testbed: one contact per PSTN behaviour plus one on the internal
// do-not-call list. The PSTN simulator's CDR is the witness of what was
// really dialed.
func TestCampaignEndToEnd(t *testing.T) {
	t.Parallel()
	tb := sharedTestbed(t)
	s := startHeed(t, tb)
	token := s.seedDemoAdmin(t, "correct horse battery")

	var lists struct{ Lists []campaign.ContactList }
	require.Equal(t, http.StatusOK, s.api(t, token, "GET", "/api/v1/lists", nil, &lists))
	var listID int64
	for _, l := range lists.Lists {
		if l.Name == demoListName {
			listID = l.ID
		}
	}
	require.NotZero(t, listID, "demo list missing: %+v", lists)

	// A caller ID of its own tells this test's calls apart in the shared CDR,
	// and so does an office number of its own (PSTN behaviour 12).
	const callerID, office = "+12035550177", "+12035550112"
	var cp campaign.Campaign
	require.Equal(t, http.StatusCreated, s.api(t, token, "POST", "/api/v1/campaigns", map[string]any{
		"name": "Court date reminders", "purpose": "informational", "list_id": listID,
		"message":   "This is Smith and Lee calling to remind you of your court date on Monday at nine.",
		"caller_id": callerID, "ring_seconds": 20, "max_concurrent": 10,
		"retry": map[string]int{"max_attempts": 1},
		// Key 2 reaches the demo office; calls are recorded (and say so).
		"transfer_to": office, "record": true,
	}, &cp))
	require.Equal(t, campaign.StatusDraft, cp.Status)
	require.Equal(t, len(demoContacts), cp.Counts.Targets)
	require.Equal(t, office, cp.TransferTo)
	require.True(t, cp.Record)

	start := time.Now()
	require.Equal(t, http.StatusOK, s.api(t, token, "POST", fmt.Sprintf("/api/v1/campaigns/%d/start", cp.ID), nil, &cp))
	require.Equal(t, campaign.StatusRunning, cp.Status)

	deadline := time.Now().Add(2 * time.Minute)
	leaseHolder := ""
	for cp.Status != campaign.StatusCompleted {
		require.True(t, time.Now().Before(deadline), "campaign did not complete: %+v\n%s", cp, s.log.String())
		time.Sleep(500 * time.Millisecond)
		if leaseHolder == "" {
			leaseHolder = leaseApplicationOf(t, s.env["DATABASE_URL"], cp.ID)
		}
		require.Equal(t, http.StatusOK, s.api(t, token, "GET", fmt.Sprintf("/api/v1/campaigns/%d", cp.ID), nil, &cp))
	}
	t.Logf("campaign of %d contacts completed in %s", cp.Counts.Targets, time.Since(start).Round(time.Millisecond))
	// The running campaign's lease was held on a connection of the lease
	// pool, not of the pool the pacing loops query with.
	require.Equal(t, leaseApplication, leaseHolder)

	var got struct{ Attempts []campaign.Attempt }
	var out string
	require.Equal(t, http.StatusOK, s.api(t, token, "GET", fmt.Sprintf("/api/v1/campaigns/%d/attempts", cp.ID), nil, &got))
	require.Len(t, got.Attempts, len(demoContacts), "one attempt per contact")
	want := demoByPhone()
	dialed := map[string]bool{}
	recorded := map[string]campaign.Attempt{}
	for _, a := range got.Attempts {
		c, ok := want[a.Phone]
		require.True(t, ok, "attempt for a number not on the list: %s", a.Phone)
		t.Logf("%-16s %-34s decision=%s reasons=%v outcome=%s cause=%v dtmf=%q", a.Phone, c.Behaviour, a.Decision, a.Reasons, a.Outcome, deref(a.HangupCause), a.DTMF)
		require.Equal(t, c.Outcome, a.Outcome, "%s (%s)", a.Phone, c.Behaviour)
		require.NotEmpty(t, a.Pack, "every attempt names the rules that decided it")
		if c.Outcome == "blocked" {
			require.Equal(t, "deny", a.Decision)
			require.Equal(t, []string{"dnc.internal", "consent.revoked"}, a.Reasons, "the entry and its revocation")
			require.Empty(t, a.ChannelID, "a blocked attempt is never originated")
			continue
		}
		require.Equal(t, "allow", a.Decision)
		require.NotNil(t, a.ConsentID, "an allowed robocall names the consent it relied on")
		require.Equal(t, "ended", a.Status)
		var rec campaign.AttemptRecord
		require.Equal(t, http.StatusOK, s.api(t, token, "GET", fmt.Sprintf("/api/v1/campaigns/%d/attempts/%d", cp.ID, a.ID), nil, &rec))
		require.NotNil(t, rec.LastLook, "%s: the pool took the last look before the call was placed", a.Phone)
		require.Equal(t, consent.Allow, rec.LastLook.Decision.Verdict)
		require.False(t, rec.LastLook.LookedAt.Before(a.CreatedAt), "the look comes after the decision")
		if c.DTMF != "" {
			require.Contains(t, a.DTMF, c.DTMF, "%s should have pressed %s", a.Phone, c.DTMF)
		}
		switch c.Outcome {
		case "machine":
			require.True(t, strings.HasPrefix(a.AMD, "MACHINE "), "AMD result kept: %q", a.AMD)
			require.Empty(t, a.Recording, "a machine is not recorded")
		case "transferred":
			require.Equal(t, office, a.TransferTo)
		}
		if a.Phone == "+18605550101" || a.Phone == "+18605550102" {
			require.True(t, strings.HasPrefix(a.AMD, "HUMAN "), "AMD result kept: %q", a.AMD)
			recorded[a.Phone] = a
		}
		dialed[a.Phone] = true
	}

	// The PSTN simulator's CDR: every allowed number reached it exactly once,
	// and the do-not-call number never did. The office leg is sent with the
	// campaign's caller ID too (F11), and is looked at below.
	all := waitCDR(t, tb, callerID, start, len(dialed)+1)
	var recs, legs []testbed.CDRRecord
	for _, r := range all {
		if r.Dst == office {
			legs = append(legs, r)
			continue
		}
		recs = append(recs, r)
	}
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.Dst]++
		c := want[r.Dst]
		switch c.Outcome {
		case "no_response", "confirmed", "transferred", "opted_out", "machine":
			require.Equal(t, testbed.DispositionAnswered, r.Disposition, "%s: %s", r.Dst, c.Behaviour)
		case "busy":
			require.Equal(t, testbed.DispositionBusy, r.Disposition, "%s: %s", r.Dst, c.Behaviour)
		case "no_answer":
			require.Equal(t, testbed.DispositionNoAnswer, r.Disposition, "%s: %s", r.Dst, c.Behaviour)
		}
	}
	for p := range dialed {
		require.Equal(t, 1, seen[p], "%s must reach the PSTN exactly once; CDR:\n%s", p, fmtCDR(recs))
	}
	for _, c := range demoContacts {
		if c.OnDNC {
			require.Zero(t, seen[c.Phone], "%s is on the internal do-not-call list and must never be dialed", c.Phone)
		}
	}
	require.Len(t, recs, len(dialed), "no other calls from this campaign: CDR:\n%s", fmtCDR(recs))

	// The answering machine got the voicemail version, after its beep: the
	// PSTN simulator recorded it.
	vms, err := tb.Voicemails()
	require.NoError(t, err)
	var machineCall string
	for _, r := range recs {
		if r.Dst == "+18605550108" {
			machineCall = r.UniqueID
		}
	}
	var left bool
	for _, vm := range vms {
		if vm.UniqueID == machineCall && vm.Size > 16000 {
			left = true
			t.Logf("voicemail left: %.1f s of audio", float64(vm.Size-44)/16000)
		}
	}
	require.True(t, left, "a voicemail of at least a second was left for +18605550108: %+v", vms)

	// Key 2 put the callee through to the office: the PSTN saw the office
	// leg answered, sent from the campaign's caller ID (F11: never the
	// callee's number, which heed does not own) with the callee's number
	// as the caller name the office sees.
	require.Len(t, legs, 1, "one office leg: %s", fmtCDR(legs))
	require.Equal(t, testbed.DispositionAnswered, legs[0].Disposition)
	require.Equal(t, callerID, legs[0].Src, "the office leg's number: %s", fmtCDR(legs))
	require.Equal(t, `"+18605550103" <`+callerID+`>`, legs[0].CLID, "the office sees the callee's number: %s", fmtCDR(legs))
	require.GreaterOrEqual(t, legs[0].Billable, 5*time.Second, "the callee and the office talked (the office stays 8 s)")

	// "Press star to hear it again": the callee who asked heard the
	// message twice, so the call lasted longer than one who just listened.
	dur := map[string]time.Duration{}
	for _, r := range recs {
		dur[r.Dst] = r.Billable
	}
	t.Logf("listened: %s; asked to hear it again: %s", dur["+18605550101"], dur["+18605550111"])
	require.GreaterOrEqual(t, dur["+18605550111"], dur["+18605550101"]+8*time.Second, "the message and menu played again")

	// Recorded calls: stored, and retrievable by attorneys only.
	for p, a := range recorded {
		require.NotEmpty(t, a.Recording, "%s was recorded", p)
		st, err := os.Stat(filepath.Join(s.env["HEED_RECORDINGS_DIR"], a.Recording+".wav"))
		require.NoError(t, err)
		// 8 kHz, 16-bit: at least 5 s of the call.
		require.Greater(t, st.Size(), int64(5*16000), "%s: recording of %d bytes", p, st.Size())
		t.Logf("%s: recording of %.1f s", p, float64(st.Size()-44)/16000)
	}
	rec := recorded["+18605550101"]
	path := fmt.Sprintf("/api/v1/campaigns/%d/attempts/%d/recording", cp.ID, rec.ID)
	body, ctype := s.get(t, token, path, http.StatusOK)
	require.Equal(t, "audio/wav", ctype)
	require.Equal(t, "RIFF", string(body[:4]))
	paralegal := s.token(t, "para@heed.test", "paralegal")
	s.get(t, paralegal, path, http.StatusForbidden)
	attorney := s.token(t, "atty@heed.test", "attorney")
	s.get(t, attorney, path, http.StatusOK)
	s.get(t, attorney, fmt.Sprintf("/api/v1/campaigns/%d/attempts/%d/recording", cp.ID, recorded["+18605550102"].ID+100000), http.StatusNotFound)

	// Pressing 9 was recorded at once, as a revocation and an internal
	// do-not-call entry, and the very next attempt of any campaign is refused.
	out = s.heed(t, "dnc", "check", "+18605550104")
	require.Contains(t, out, "+18605550104: internal since")
	require.Contains(t, out, "ivr")
	second := writeFile(t, "second.csv", "name,phone\nDevon Stop,+18605550104\nAvery Listen,+18605550101\nEmery Busy,+18605550105\nCasey Office,+18605550103\n")
	s.heed(t, "import", "contacts", "--list", "Second reminders", second)
	require.Equal(t, http.StatusOK, s.api(t, token, "GET", "/api/v1/lists", nil, &lists))
	for _, l := range lists.Lists {
		if l.Name == "Second reminders" {
			listID = l.ID
		}
	}
	const callerID2 = "+12035550178"
	require.Equal(t, http.StatusCreated, s.api(t, token, "POST", "/api/v1/campaigns", map[string]any{
		"name": "Second reminders", "purpose": "informational", "list_id": listID,
		"message": "This is Smith and Lee with a second reminder.", "caller_id": callerID2, "ring_seconds": 20,
		// A busy line is called once more, 30 seconds later.
		"retry": map[string]int{"max_attempts": 2, "busy_s": 30},
		// This office never answers (PSTN behaviour 06): key 2 is abandoned.
		"transfer_to": "+12035550106",
	}, &cp))
	require.Equal(t, http.StatusOK, s.api(t, token, "POST", fmt.Sprintf("/api/v1/campaigns/%d/start", cp.ID), nil, &cp))
	deadline = time.Now().Add(2 * time.Minute)
	for cp.Status != campaign.StatusCompleted {
		require.True(t, time.Now().Before(deadline), "second campaign did not complete: %+v", cp)
		time.Sleep(300 * time.Millisecond)
		require.Equal(t, http.StatusOK, s.api(t, token, "GET", fmt.Sprintf("/api/v1/campaigns/%d", cp.ID), nil, &cp))
	}
	require.Equal(t, http.StatusOK, s.api(t, token, "GET", fmt.Sprintf("/api/v1/campaigns/%d/attempts", cp.ID), nil, &got))
	busyAttempts := 0
	for _, a := range got.Attempts {
		switch a.Phone {
		case "+18605550104":
			require.Equal(t, "deny", a.Decision)
			require.Contains(t, a.Reasons, "dnc.internal")
			require.Contains(t, a.Reasons, "consent.revoked")
		case "+18605550105":
			require.Equal(t, "busy", a.Outcome)
			busyAttempts++
		case "+18605550103":
			require.Equal(t, "abandoned", a.Outcome, "no one at the office answered")
			require.Equal(t, "+12035550106", a.TransferTo)
		default:
			require.Equal(t, "no_response", a.Outcome)
		}
	}
	require.Equal(t, 2, busyAttempts, "the busy line is retried once, per the rule")
	// Four calls to contacts and one office leg, all from the campaign's
	// caller ID.
	recs = waitCDR(t, tb, callerID2, start, 5)
	dst := map[string][]time.Time{}
	var unanswered []testbed.CDRRecord
	for _, r := range recs {
		if r.Dst == "+12035550106" {
			unanswered = append(unanswered, r)
			continue
		}
		dst[r.Dst] = append(dst[r.Dst], r.Start)
	}
	require.Len(t, recs, 5, "CDR:\n%s", fmtCDR(recs))
	require.Len(t, dst["+18605550101"], 1)
	require.Empty(t, dst["+18605550104"], "the opted-out number is never dialed again")
	require.Len(t, dst["+18605550105"], 2, "two attempts, two calls, no duplicate")
	require.Len(t, unanswered, 1, "one office leg: %s", fmtCDR(unanswered))
	require.Equal(t, testbed.DispositionNoAnswer, unanswered[0].Disposition)
	require.Equal(t, `"+18605550103" <`+callerID2+`>`, unanswered[0].CLID, "the office leg: %s", fmtCDR(unanswered))
	gap := dst["+18605550105"][1].Sub(dst["+18605550105"][0])
	if gap < 0 {
		gap = -gap
	}
	require.GreaterOrEqual(t, gap, 29*time.Second, "the retry waits for the rule's 30 s")
	t.Logf("busy line called again %s later", gap)
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// waitCDR waits until the PSTN simulator has n CDR records from callerID
// of calls that arrived since the given time: the test's own, not those an
// earlier run of the test left in a testbed it shares (go test -count=2).
func waitCDR(t *testing.T, tb *testbed.Testbed, callerID string, since time.Time, n int) []testbed.CDRRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	settled := false
	for {
		all, err := tb.PSTNCalls()
		require.NoError(t, err)
		var mine []testbed.CDRRecord
		for _, r := range all {
			// cdr_csv keeps whole seconds.
			if (r.Src == callerID || strings.Contains(r.CLID, callerID)) && !r.Start.Before(since.Truncate(time.Second)) {
				mine = append(mine, r)
			}
		}
		if len(mine) >= n {
			if settled {
				return mine
			}
			// Give a stray extra call a moment to show up before judging.
			settled = true
			time.Sleep(time.Second)
			continue
		}
		select {
		case <-ctx.Done():
			t.Fatalf("PSTN CDR has %d of %d records from %s:\n%s", len(mine), n, callerID, fmtCDR(all))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// leaseApplicationOf returns the application_name of the connection that
// holds campaign id's lease (the advisory lock campaign.Leases takes), or
// "" when no connection holds it.
func leaseApplicationOf(t *testing.T, url string, id int64) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var app string
	err = conn.QueryRow(ctx, `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid`,
		int64(0x6865_6564), id).Scan(&app)
	if errors.Is(err, pgx.ErrNoRows) {
		return ""
	}
	require.NoError(t, err)
	return app
}
