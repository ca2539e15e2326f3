package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// checkJSON is the stable JSON shape of `heed check --json`.
type checkJSON struct {
	Decision  string   `json:"decision"`
	Until     *string  `json:"until"`
	Reasons   []string `json:"reasons"`
	Pack      string   `json:"pack"`
	ConsentID *int64   `json:"consent_id"`
}

// TestCLICheck asks `heed check` the rule boundaries of the compliance rules
// against a real database: the same gate function the dialer calls, with
// consents, revocations, the internal do-not-call list and call history on
// file.
func TestCLICheck(t *testing.T) {
	t.Parallel()
	env, conn := cliDatabase(t)
	ctx := context.Background()
	var err error
	for _, q := range []string{
		// +18605550101: PEWC for telemarketing and PEC for informational.
		`INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550101', 'pewc', 'telemarketing', 'voice', '2026-01-05T12:00:00Z', 'signed form')`,
		`INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550101', 'pec', 'informational', 'voice', '2026-01-05T12:00:00Z', 'intake')`,
		// +18605550102: consent, then a revocation, then consent again.
		`INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550102', 'pec', 'informational', 'voice', '2026-02-01T12:00:00Z', 'intake')`,
		`INSERT INTO revocations (phone, revoked_at, method) VALUES ('+18605550102', '2026-03-01T12:00:00Z', 'ivr')`,
		`INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550102', 'pec', 'informational', 'voice', '2026-04-01T12:00:00Z', 'phone call')`,
		// +18605550103: consent but on the internal do-not-call list.
		`INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550103', 'pec', 'informational', 'voice', '2026-01-05T12:00:00Z', 'intake')`,
		`INSERT INTO dnc_internal (phone, method) VALUES ('+18605550103', 'staff')`,
		// +18605550120: opted out by key press on Mar 1 (a revocation and an
		// internal entry), then consented to reminders again on Apr 1.
		`INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550120', 'pec', 'informational', 'voice', '2026-02-01T12:00:00Z', 'intake')`,
		`INSERT INTO revocations (phone, revoked_at, method) VALUES ('+18605550120', '2026-03-01T12:00:00Z', 'ivr')`,
		`INSERT INTO dnc_internal (phone, method, added_at) VALUES ('+18605550120', 'ivr', '2026-03-01T12:00:00Z')`,
		`INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550120', 'pec', 'informational', 'voice', '2026-04-01T12:00:00Z', 'phone call')`,
		// +12085550104 (Idaho's 208 spans Mountain and Pacific time): debt collection consent.
		`INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+12085550104', 'pec', 'debt_collection', 'voice', '2026-01-05T12:00:00Z', 'engagement letter')`,
		`INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550105', 'pec', 'debt_collection', 'voice', '2026-01-05T12:00:00Z', 'engagement letter')`,
		// +18605550106: the other number of +18605550105's person, D-105.
		`INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550106', 'pec', 'debt_collection', 'voice', '2026-01-05T12:00:00Z', 'engagement letter')`,
	} {
		_, err := conn.Exec(ctx, q)
		require.NoError(t, err, q)
	}
	// Seven debt-collection calls to +18605550105 between Nov 20 and Nov 26.
	var listID, contactID, campaignID int64
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('h') RETURNING id`).Scan(&listID))
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO contacts (list_id, name, phone, person_ref) VALUES ($1, 'x', '+18605550105', 'D-105') RETURNING id`, listID).Scan(&contactID))
	_, err = conn.Exec(ctx, `INSERT INTO contacts (list_id, name, phone, person_ref) VALUES ($1, 'x', '+18605550106', 'D-105')`, listID)
	require.NoError(t, err)
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id) VALUES ('dc', 'debt_collection', $1, 'm', '+18605550100') RETURNING id`, listID).Scan(&campaignID))
	for i := range 7 {
		_, err := conn.Exec(ctx, `INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, status, outcome, originated_at)
			VALUES ($1, $2, $3, '+18605550105', '+18605550100', 'allow', 'ended', 'no_answer', $4)`, campaignID, contactID, i+1,
			fmt.Sprintf("2026-11-%02dT15:00:00Z", 20+i))
		require.NoError(t, err)
	}
	// D-107's mobile, +18605550107, is ringing on a debt-collection call
	// placed at 15:59 on Nov 26; +18605550108 is D-107's other number.
	var mobileID int64
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO contacts (list_id, name, phone, person_ref) VALUES ($1, 'x', '+18605550107', 'D-107') RETURNING id`, listID).Scan(&mobileID))
	_, err = conn.Exec(ctx, `INSERT INTO contacts (list_id, name, phone, person_ref) VALUES ($1, 'x', '+18605550108', 'D-107')`, listID)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550108', 'pec', 'debt_collection', 'voice', '2026-01-05T12:00:00Z', 'engagement letter')`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, status, originated_at)
		VALUES ($1, $2, 1, '+18605550107', '+18605550100', 'allow', 'ringing', '2026-11-26T15:59:00Z')`, campaignID, mobileID)
	require.NoError(t, err)
	// History at the other caps' edges, one campaign per purpose:
	// +18605550109 (no consent), three informational robocalls to a
	// landline in 30 days (F3); +13055550110 (Florida, PEWC), three
	// telemarketing calls in 24 hours (S1); +12035550111, a debt-collection
	// conversation that ended at 15:05 on Nov 24 (R1's quiet period).
	_, err = conn.Exec(ctx, `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES
		('+13055550110', 'pewc', 'telemarketing', 'voice', '2026-01-05T12:00:00Z', 'signed form'),
		('+12035550111', 'pec', 'debt_collection', 'voice', '2026-01-05T12:00:00Z', 'engagement letter')`)
	require.NoError(t, err)
	for _, h := range []struct {
		purpose, phone, outcome string
		placed                  []string
		answered, ended         string
	}{
		{"informational", "+18605550109", "no_answer", []string{"2026-11-01T15:00:00Z", "2026-11-20T15:00:00Z", "2026-11-25T15:00:00Z"}, "", ""},
		{"telemarketing", "+13055550110", "no_answer", []string{"2026-11-30T15:00:00Z", "2026-11-30T20:00:00Z", "2026-12-01T14:00:00Z"}, "", ""},
		{"debt_collection", "+12035550111", "answered", []string{"2026-11-24T15:00:00Z"}, "2026-11-24T15:00:20Z", "2026-11-24T15:05:00Z"},
	} {
		var cid, kid int64
		require.NoError(t, conn.QueryRow(ctx, `INSERT INTO contacts (list_id, name, phone) VALUES ($1, 'x', $2) RETURNING id`, listID, h.phone).Scan(&kid))
		require.NoError(t, conn.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id) VALUES ($1, $1, $2, 'm', '+18605550100') RETURNING id`,
			h.purpose, listID).Scan(&cid))
		for i, at := range h.placed {
			_, err := conn.Exec(ctx, `INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, status, outcome, originated_at, answered_at, ended_at)
				VALUES ($1, $2, $3, $4, '+18605550100', 'allow', 'ended', $5, $6, NULLIF($7, '')::timestamptz, coalesce(NULLIF($8, '')::timestamptz, $6::timestamptz + interval '30 seconds'))`,
				cid, kid, i+1, h.phone, h.outcome, at, h.answered, h.ended)
			require.NoError(t, err)
		}
	}

	for _, tc := range []struct {
		name     string
		args     []string
		decision string
		reasons  []string
		until    string
	}{
		{"InformationalBeforeEight", []string{"--number", "860-555-0101", "--purpose", "informational", "--at", "2026-12-01T07:59:00-05:00"}, "defer", []string{"window.outside"}, "2026-12-01T13:00:00Z"},
		{"InformationalAtEight", []string{"--number", "860-555-0101", "--purpose", "informational", "--at", "2026-12-01T08:00:00-05:00"}, "allow", nil, ""},
		{"InformationalAt2059", []string{"--number", "860-555-0101", "--purpose", "informational", "--at", "2026-12-01T20:59:00-05:00"}, "allow", nil, ""},
		{"InformationalAt2100", []string{"--number", "860-555-0101", "--purpose", "informational", "--at", "2026-12-01T21:00:00-05:00"}, "defer", []string{"window.outside"}, "2026-12-02T13:00:00Z"},
		{"AfterFallBack", []string{"--number", "860-555-0101", "--purpose", "informational", "--at", "2026-11-01T12:30:00Z"}, "defer", []string{"window.outside"}, "2026-11-01T13:00:00Z"},
		{"SpringForwardDay0759EDT", []string{"--number", "860-555-0101", "--purpose", "informational", "--at", "2026-03-08T11:59:00Z"}, "defer", []string{"window.outside"}, "2026-03-08T12:00:00Z"},
		{"SpringForwardDay0800EDT", []string{"--number", "860-555-0101", "--purpose", "informational", "--at", "2026-03-08T12:00:00Z"}, "allow", nil, ""},
		{"TelemarketingNeedsFreshRegistry", []string{"--number", "860-555-0101", "--purpose", "telemarketing", "--at", "2026-12-01T10:00:00-05:00"}, "deny", []string{"dnc.national_stale"}, ""},
		{"RevokedThenReconsented", []string{"--number", "860-555-0102", "--purpose", "informational", "--at", "2026-12-01T10:00:00-05:00"}, "allow", nil, ""},
		{"RevokedBeforeReconsent", []string{"--number", "860-555-0102", "--purpose", "informational", "--at", "2026-03-15T10:00:00-04:00"}, "deny", []string{"consent.revoked"}, ""},
		{"InternalDNC", []string{"--number", "860-555-0103", "--purpose", "informational", "--at", "2026-12-01T10:00:00-05:00"}, "deny", []string{"dnc.internal"}, ""},
		{"OptedOutThenReconsented", []string{"--number", "860-555-0120", "--purpose", "informational", "--at", "2026-12-01T10:00:00-05:00"}, "allow", nil, ""},
		{"OptedOutThenReconsentedLive", []string{"--number", "860-555-0120", "--purpose", "informational", "--method", "live", "--at", "2026-12-01T10:00:00-05:00"}, "allow", nil, ""},
		{"OptedOutReconsentOtherPurpose", []string{"--number", "860-555-0120", "--purpose", "debt_collection", "--method", "live", "--at", "2026-12-01T10:00:00-05:00"}, "deny", []string{"dnc.internal"}, ""},
		{"OptedOutLandlineRobocallOtherPurpose", []string{"--number", "860-555-0120", "--purpose", "debt_collection", "--line", "landline", "--at", "2026-12-01T10:00:00-05:00"}, "deny", []string{"dnc.internal", "consent.revoked"}, ""},
		{"OptedOutBeforeReconsent", []string{"--number", "860-555-0120", "--purpose", "informational", "--at", "2026-03-15T10:00:00-04:00"}, "deny", []string{"dnc.internal", "consent.revoked"}, ""},
		{"NoConsentWireless", []string{"--number", "860-555-0199", "--purpose", "informational", "--at", "2026-12-01T10:00:00-05:00"}, "deny", []string{"consent.missing"}, ""},
		{"LandlineInformationalNoConsent", []string{"--number", "860-555-0199", "--purpose", "informational", "--line", "landline", "--at", "2026-12-01T10:00:00-05:00"}, "allow", nil, ""},
		{"TwoZonesIdaho", []string{"--number", "208-555-0104", "--purpose", "debt_collection", "--at", "2026-12-01T15:30:00Z"}, "defer", []string{"window.outside"}, "2026-12-01T16:00:00Z"},
		{"RegFSevenInSeven", []string{"--number", "860-555-0105", "--purpose", "debt_collection", "--at", "2026-11-26T16:00:00Z"}, "defer", []string{"cap.frequency"}, "2026-11-27T15:00:00Z"},
		{"RegFAfterWindow", []string{"--number", "860-555-0105", "--purpose", "debt_collection", "--at", "2026-11-27T15:00:00Z"}, "allow", nil, ""},
		{"RegFPersonsOtherNumber", []string{"--number", "860-555-0106", "--person", "D-105", "--purpose", "debt_collection", "--at", "2026-11-26T16:00:00Z"}, "defer", []string{"cap.frequency"}, "2026-11-27T15:00:00Z"},
		{"RegFOtherNumberWithoutPerson", []string{"--number", "860-555-0106", "--purpose", "debt_collection", "--at", "2026-11-26T16:00:00Z"}, "allow", nil, ""},
		{"RegFUnknownPerson", []string{"--number", "860-555-0106", "--person", "D-999", "--purpose", "debt_collection", "--at", "2026-11-26T16:00:00Z"}, "allow", nil, ""},
		{"RegFCallUnderWay", []string{"--number", "860-555-0108", "--person", "D-107", "--purpose", "debt_collection", "--at", "2026-11-26T16:00:00Z"}, "defer", []string{"cap.after_conversation"}, "2026-11-26T16:01:00Z"},
		{"RegFCallUnderWayLeftOpen", []string{"--number", "860-555-0108", "--person", "D-107", "--purpose", "debt_collection", "--at", "2026-11-26T16:14:00Z"}, "allow", nil, ""},
		{"F3ThreeLandlineRobocallsIn30Days", []string{"--number", "860-555-0109", "--purpose", "informational", "--line", "landline", "--at", "2026-12-01T14:59:59Z"}, "deny", []string{"cap.residential"}, ""},
		{"F3OldestLeft30DaysAfter", []string{"--number", "860-555-0109", "--purpose", "informational", "--line", "landline", "--at", "2026-12-01T15:00:00Z"}, "allow", nil, ""},
		{"S1ThreeCallsIn24Hours", []string{"--number", "305-555-0110", "--purpose", "telemarketing", "--at", "2026-12-01T14:59:59Z"}, "deny", []string{"dnc.national_stale", "cap.frequency"}, ""},
		{"S1OldestLeft24HoursAfter", []string{"--number", "305-555-0110", "--purpose", "telemarketing", "--at", "2026-12-01T15:00:00Z"}, "deny", []string{"dnc.national_stale"}, ""},
		{"RegFQuietUntilSevenDaysAfterTheEnd", []string{"--number", "203-555-0111", "--purpose", "debt_collection", "--at", "2026-12-01T15:04:59Z"}, "defer", []string{"cap.after_conversation"}, "2026-12-01T15:05:00Z"},
		{"RegFQuietOverSevenDaysAfterTheEnd", []string{"--number", "203-555-0111", "--purpose", "debt_collection", "--at", "2026-12-01T15:05:00Z"}, "allow", nil, ""},
		{"NotANumber", []string{"--number", "call me", "--purpose", "informational"}, "deny", []string{"number.invalid"}, ""},
		{"OutsideNANP", []string{"--number", "+44 20 7123 4567", "--purpose", "informational"}, "deny", []string{"number.unsupported"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, stderr, err := runHeed(env, append([]string{"check", "--json"}, tc.args...)...)
			require.NoError(t, err, stderr)
			var got checkJSON
			require.NoError(t, json.Unmarshal([]byte(out), &got), out)
			require.Equal(t, tc.decision, got.Decision, out)
			require.ElementsMatch(t, tc.reasons, got.Reasons, out)
			require.NotEmpty(t, got.Pack)
			if tc.until != "" {
				require.NotNil(t, got.Until, out)
				require.Equal(t, tc.until, *got.Until, out)
			} else {
				require.Nil(t, got.Until, out)
			}
			if tc.decision == "allow" && tc.args[1] != "860-555-0199" && tc.args[1] != "860-555-0109" { // F3 without consent
				require.NotNil(t, got.ConsentID, "an allowed call names its consent: %s", out)
			}
		})
	}

	// "+203 555 0111" (Egypt's +20 as written) is read as the North
	// American number a contact can hold, with a note: the decision is
	// 203-555-0111's, not number.unsupported.
	out, stderr, err := runHeed(env, "check", "--json", "--number", "+203 555 0111", "--purpose", "debt_collection", "--at", "2026-12-01T15:04:59Z")
	require.NoError(t, err, stderr)
	var meant checkJSON
	require.NoError(t, json.Unmarshal([]byte(out), &meant), out)
	require.Equal(t, "defer", meant.Decision, out)
	require.Equal(t, []string{"cap.after_conversation"}, meant.Reasons, out)
	require.Contains(t, stderr, `note: "+203 555 0111" has a + but not the country code 1: read as the North American number +1 203-555-0111`)

	out, _, err = runHeed(env, "check", "--number", "860-555-0103", "--purpose", "informational", "--at", "2026-12-01T10:00:00-05:00")
	require.NoError(t, err)
	require.Contains(t, out, "decision:  deny\nreasons:   dnc.internal\n")
	require.Contains(t, out, "zones America/New_York; states CT")
	require.NotContains(t, out, "lifts:")
	out, _, err = runHeed(env, "check", "--number", "860-555-0120", "--purpose", "informational", "--at", "2026-12-01T10:00:00-05:00")
	require.NoError(t, err)
	require.Contains(t, out, "decision:  allow\n")
	require.Contains(t, out, "lifts:     the internal do-not-call entry made 2026-03-01T12:00:00Z (given after it, F12)\n")
	_, _, err = runHeed(env, "check", "--number", "860-555-0101", "--purpose", "marketing")
	require.ErrorIs(t, err, errUsage)

	out, _, err = runHeed(env, "check", "--number", "860-555-0106", "--person", " D-105 ", "--purpose", "debt_collection", "--at", "2026-11-26T16:00:00Z")
	require.NoError(t, err)
	require.Contains(t, out, "decision:  defer\n")
	require.Contains(t, out, "history 7 call(s)")
	require.Contains(t, out, "person:    D-105; history counts the calls to +18605550106, +18605550105\n")
	out, _, err = runHeed(env, "check", "--number", "860-555-0108", "--person", "D-107", "--purpose", "debt_collection", "--at", "2026-11-26T16:00:00Z")
	require.NoError(t, err)
	require.Contains(t, out, "history 1 call(s) in 744h0m0s, 1 not ended, placed in the last 15m0s (a quiet period of their purpose waits for their end)\n")
	out, _, err = runHeed(env, "check", "--number", "860-555-0108", "--person", "D-107", "--purpose", "debt_collection", "--at", "2026-11-26T16:14:00Z")
	require.NoError(t, err)
	require.Contains(t, out, "decision:  allow\n")
	require.Contains(t, out, "history 1 call(s) in 744h0m0s\n", "a call open for 15 minutes holds no one")
	_, stderr, err = runHeed(env, "check", "--number", "860-555-0106", "--person", strings.Repeat("x", 101), "--purpose", "debt_collection")
	require.ErrorIs(t, err, errUsage)
	require.Contains(t, err.Error()+stderr, "--person: person reference has 101 characters, at most 100")
}
