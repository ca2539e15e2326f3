package consent_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
)

// noon is a Wednesday noon in New York, inside every window.
func noon(t *testing.T) time.Time {
	return local(t, zone(t, "America/New_York"), "2026-06-10 12:00")
}

// TestConsentRules covers F1, F2, F3's consent, F12 (revocation against
// later consent), F13's scope, F15, expiry, and unknown line = wireless.
func TestConsentRules(t *testing.T) {
	t.Parallel()
	b := setup(t, consent.Config{})
	at := noon(t)
	robo := func(p consent.Purpose, line consent.LineType) consent.Input {
		return consent.Input{Number: nyNumber, Purpose: p, Method: consent.MethodPrerecorded, Line: line, At: at}
	}
	withConsent := func(kind consent.ConsentKind, id int64, obtained time.Time, mut func(*consent.ConsentFacts)) consent.Facts {
		f := facts(at, consent.ConsentNone, 0)
		f.Consent = consent.ConsentFacts{ID: id, Kind: kind, ObtainedAt: obtained}
		if mut != nil {
			mut(&f.Consent)
		}
		return f
	}
	day := 24 * time.Hour
	missing, revoked := reasons(consent.ReasonConsentMissing), reasons(consent.ReasonConsentRevoked)
	cases := []tc{
		// F1: robocalls to wireless (and unknown lines) need PEC, any purpose.
		{name: "F1 wireless without consent", in: robo(consent.PurposeInformational, consent.LineWireless), facts: facts(at, consent.ConsentNone, 0), verdict: consent.Deny, reasons: missing},
		{name: "F1 unknown line counts as wireless", in: robo(consent.PurposeInformational, consent.LineUnknown), facts: facts(at, consent.ConsentNone, 0), verdict: consent.Deny, reasons: missing},
		{name: "F1 empty line counts as wireless", in: robo(consent.PurposeInformational, ""), facts: facts(at, consent.ConsentNone, 0), verdict: consent.Deny, reasons: missing},
		{name: "F1 wireless with PEC", in: robo(consent.PurposeInformational, consent.LineWireless), facts: facts(at, consent.ConsentPEC, 5), verdict: consent.Allow, consentID: 5},
		{name: "F1 debt collection robocall needs PEC", in: robo(consent.PurposeDebtCollection, consent.LineWireless), facts: facts(at, consent.ConsentNone, 0), verdict: consent.Deny, reasons: missing},
		{name: "F1 landline is not F1", in: robo(consent.PurposeInformational, consent.LineLandline), facts: facts(at, consent.ConsentNone, 0), verdict: consent.Allow},
		{name: "live informational needs no consent", in: consent.Input{Number: nyNumber, Purpose: consent.PurposeInformational, Method: consent.MethodLive, At: at}, facts: facts(at, consent.ConsentNone, 0), verdict: consent.Allow},
		// F2: telemarketing robocalls need PEWC on any line.
		{name: "F2 landline with PEC is insufficient", in: robo(consent.PurposeTelemarketing, consent.LineLandline), facts: facts(at, consent.ConsentPEC, 5), verdict: consent.Deny, reasons: reasons(consent.ReasonConsentInsufficient)},
		{name: "F2 wireless with PEWC", in: robo(consent.PurposeTelemarketing, consent.LineWireless), facts: facts(at, consent.ConsentPEWC, 5), verdict: consent.Allow, consentID: 5},
		{name: "F2 solicitation robocall with PEWC", in: robo(consent.PurposeSolicitation, consent.LineLandline), facts: facts(at, consent.ConsentPEWC, 5), verdict: consent.Allow, consentID: 5},
		// Unknown purpose or method applies every purpose's and method's rules.
		{name: "unknown purpose is strictest", in: consent.Input{Number: nyNumber, Method: consent.MethodPrerecorded, At: at}, facts: facts(at, consent.ConsentPEC, 5), verdict: consent.Deny, reasons: reasons(consent.ReasonConsentInsufficient)},
		{name: "unknown purpose and method is strictest", in: consent.Input{Number: nyNumber, At: at}, facts: facts(at, consent.ConsentPEWC, 5), verdict: consent.Deny, reasons: reasons(consent.ReasonEthicsSolicitation)},
		// Expiry.
		{name: "expired consent", in: robo(consent.PurposeInformational, consent.LineWireless), facts: withConsent(consent.ConsentPEC, 5, at.Add(-day), func(c *consent.ConsentFacts) { c.ExpiresAt = at }), verdict: consent.Deny, reasons: reasons(consent.ReasonConsentExpired)},
		{name: "consent expiring a second later", in: robo(consent.PurposeInformational, consent.LineWireless), facts: withConsent(consent.ConsentPEC, 5, at.Add(-day), func(c *consent.ConsentFacts) { c.ExpiresAt = at.Add(time.Second) }), verdict: consent.Allow, consentID: 5},
		{name: "consent obtained after the call does not count", in: robo(consent.PurposeInformational, consent.LineWireless), facts: withConsent(consent.ConsentPEC, 5, at.Add(time.Second), nil), verdict: consent.Deny, reasons: missing},
		// F12: a revocation beats every consent before it; consent after it restores calling.
		{name: "F12 revocation after consent", in: robo(consent.PurposeInformational, consent.LineWireless), facts: withConsent(consent.ConsentPEWC, 5, at.Add(-2*day), func(c *consent.ConsentFacts) { c.RevokedAt = at.Add(-day) }), verdict: consent.Deny, reasons: revoked},
		{name: "F12 revocation at the consent's instant wins", in: robo(consent.PurposeInformational, consent.LineWireless), facts: withConsent(consent.ConsentPEWC, 5, at.Add(-day), func(c *consent.ConsentFacts) { c.RevokedAt = at.Add(-day) }), verdict: consent.Deny, reasons: revoked},
		{name: "F12 consent after revocation restores", in: robo(consent.PurposeInformational, consent.LineWireless), facts: withConsent(consent.ConsentPEC, 6, at.Add(-day+time.Nanosecond), func(c *consent.ConsentFacts) { c.RevokedAt = at.Add(-day) }), verdict: consent.Allow, consentID: 6},
		{name: "F12 revocation with no consent", in: robo(consent.PurposeInformational, consent.LineWireless), facts: withConsent(consent.ConsentNone, 0, time.Time{}, func(c *consent.ConsentFacts) { c.RevokedAt = at.Add(-day) }), verdict: consent.Deny, reasons: revoked},
		{name: "F12 a revocation stamped after the call still wins", in: robo(consent.PurposeInformational, consent.LineWireless), facts: withConsent(consent.ConsentPEC, 5, at.Add(-day), func(c *consent.ConsentFacts) { c.RevokedAt = at.Add(time.Millisecond) }), verdict: consent.Deny, reasons: revoked},
		{name: "F12 revocation beats expiry as the reason", in: robo(consent.PurposeInformational, consent.LineWireless), facts: withConsent(consent.ConsentPEC, 5, at.Add(-2*day), func(c *consent.ConsentFacts) { c.RevokedAt = at.Add(-day); c.ExpiresAt = at }), verdict: consent.Deny, reasons: revoked},
		{name: "F13 default revoke-all: another purpose's revocation", in: robo(consent.PurposeInformational, consent.LineWireless), facts: withConsent(consent.ConsentPEC, 5, at.Add(-2*day), func(c *consent.ConsentFacts) { c.RevokedAt = at.Add(-day) }), verdict: consent.Deny, reasons: revoked},
		// F13: one opt-out stops every robocall, those that need no
		// consent too; a consent given after it restores the calls it
		// covers; a live call needs the consent its rules ask, no more.
		{name: "F13 revocation stops a robocall that needs no consent", in: robo(consent.PurposeInformational, consent.LineLandline), facts: withConsent(consent.ConsentPEC, 5, at.Add(-2*day), func(c *consent.ConsentFacts) { c.RevokedAt = at.Add(-day) }), verdict: consent.Deny, reasons: revoked},
		{name: "F13 another purpose's revocation, no consent on file", in: robo(consent.PurposeInformational, consent.LineLandline), facts: withConsent(consent.ConsentNone, 0, time.Time{}, func(c *consent.ConsentFacts) { c.RevokedAt = at.Add(-day) }), verdict: consent.Deny, reasons: revoked},
		{name: "F13 debt collection robocall to a landline", in: robo(consent.PurposeDebtCollection, consent.LineLandline), facts: withConsent(consent.ConsentNone, 0, time.Time{}, func(c *consent.ConsentFacts) { c.RevokedAt = at.Add(-day) }), verdict: consent.Deny, reasons: revoked},
		{name: "F13 a revocation stamped after the call still stops it", in: robo(consent.PurposeInformational, consent.LineLandline), facts: withConsent(consent.ConsentNone, 0, time.Time{}, func(c *consent.ConsentFacts) { c.RevokedAt = at.Add(time.Millisecond) }), verdict: consent.Deny, reasons: revoked},
		{name: "F13 consent after the revocation restores the robocall", in: robo(consent.PurposeInformational, consent.LineLandline), facts: withConsent(consent.ConsentPEC, 6, at.Add(-day+time.Nanosecond), func(c *consent.ConsentFacts) { c.RevokedAt = at.Add(-day) }), verdict: consent.Allow},
		{name: "F13 an expired consent after the revocation still restores a call that needs none", in: robo(consent.PurposeInformational, consent.LineLandline), facts: withConsent(consent.ConsentPEC, 6, at.Add(-day+time.Nanosecond), func(c *consent.ConsentFacts) { c.RevokedAt = at.Add(-day); c.ExpiresAt = at }), verdict: consent.Allow},
		{name: "F13 a live call that needs no consent is not a robocall", in: consent.Input{Number: nyNumber, Purpose: consent.PurposeInformational, Method: consent.MethodLive, Line: consent.LineLandline, At: at}, facts: withConsent(consent.ConsentNone, 0, time.Time{}, func(c *consent.ConsentFacts) { c.RevokedAt = at.Add(-day) }), verdict: consent.Allow},
		{name: "F13 an unknown method counts as a robocall", in: consent.Input{Number: nyNumber, Purpose: consent.PurposeInformational, Line: consent.LineLandline, At: at}, facts: withConsent(consent.ConsentNone, 0, time.Time{}, func(c *consent.ConsentFacts) { c.RevokedAt = at.Add(-day) }), verdict: consent.Deny, reasons: revoked},
	}
	runCases(t, b.eng, cases)

	t.Run("F13 narrowed to the purpose until federal revoke-all", func(t *testing.T) {
		t.Parallel()
		e := setup(t, consent.Config{Firm: consent.FirmPolicy{RevocationScope: consent.RevokePurpose}}).eng
		before := robo(consent.PurposeInformational, consent.LineWireless)
		f := withConsent(consent.ConsentPEC, 5, at.Add(-2*day), func(c *consent.ConsentFacts) { c.RevokedAt = at.Add(-day) })
		d := e.Check(before, f)
		require.Equal(t, consent.Allow, d.Verdict, "%v", d.Reasons)
		require.Equal(t, int64(5), d.ConsentID)

		f.Consent.PurposeRevokedAt = at.Add(-day)
		require.Equal(t, revoked, e.Check(before, f).Reasons)

		after := before
		after.At = local(t, zone(t, "America/New_York"), "2027-02-01 12:00")
		f = withConsent(consent.ConsentPEC, 5, at.Add(-2*day), func(c *consent.ConsentFacts) { c.RevokedAt = at.Add(-day) })
		f.NationalAsOf = after.At
		require.Equal(t, revoked, e.Check(after, f).Reasons)
		// A robocall that needs no consent: stopped by a revocation of its
		// purpose, not by another purpose's while narrowing holds.
		landline := before
		landline.Line = consent.LineLandline
		f = withConsent(consent.ConsentNone, 0, time.Time{}, func(c *consent.ConsentFacts) { c.RevokedAt = at.Add(-day) })
		require.Equal(t, consent.Allow, e.Check(landline, f).Verdict)
		f.Consent.PurposeRevokedAt = at.Add(-day)
		require.Equal(t, revoked, e.Check(landline, f).Reasons)
	})

	t.Run("F15 reassigned numbers, when configured", func(t *testing.T) {
		t.Parallel()
		in := robo(consent.PurposeInformational, consent.LineWireless)
		f := withConsent(consent.ConsentPEC, 5, at.Add(-30*day), nil)
		f.ReassignedAt = at.Add(-10 * day)
		require.Equal(t, consent.Allow, b.eng.Check(in, f).Verdict, "off by default")
		e := setup(t, consent.Config{Firm: consent.FirmPolicy{CheckReassigned: true}}).eng
		require.Equal(t, missing, e.Check(in, f).Reasons)
		f.ReassignedAt = at.Add(-40 * day)
		require.Equal(t, consent.Allow, e.Check(in, f).Verdict)
	})
}

// TestDNCAndIndex covers F8, F9, state and litigator lists, the national
// snapshot age, index freshness and number validity.
func TestDNCAndIndex(t *testing.T) {
	t.Parallel()
	b := setup(t, consent.Config{})
	at := noon(t)
	call := func(p consent.Purpose) consent.Input {
		return consent.Input{Number: nyNumber, Purpose: p, Method: consent.MethodLive, At: at}
	}
	hit := func(h consent.DNCHits, kind consent.ConsentKind) consent.Facts {
		f := facts(at, kind, 8)
		f.DNC = h
		return f
	}
	// listed is an internal entry made at at+entry (none known when entry
	// is 0) with a consent of kind obtained at at+obtained, and the
	// number's latest revocation at at+revoked (none when revoked is 0).
	listed := func(kind consent.ConsentKind, obtained, entry, revoked time.Duration) consent.Facts {
		f := hit(consent.DNCInternal, kind)
		if kind != consent.ConsentNone {
			f.Consent.ObtainedAt = at.Add(obtained)
		}
		if entry != 0 {
			f.InternalListedAt = at.Add(entry)
		}
		if revoked != 0 {
			f.Consent.RevokedAt = at.Add(revoked)
		}
		return f
	}
	aged := func(age time.Duration) consent.Facts {
		f := facts(at, consent.ConsentNone, 0)
		f.NationalAsOf = at.Add(-age)
		return f
	}
	day := 24 * time.Hour
	cases := []tc{
		{name: "F9 internal beats PEWC", in: call(consent.PurposeInformational), facts: hit(consent.DNCInternal, consent.ConsentPEWC), verdict: consent.Deny, reasons: reasons(consent.ReasonDNCInternal)},
		{name: "F9 internal on every purpose", in: call(consent.PurposeDebtCollection), facts: hit(consent.DNCInternal, consent.ConsentNone), verdict: consent.Deny, reasons: reasons(consent.ReasonDNCInternal)},
		// F12 with F9: a consent given after the entry lifts it for the
		// calls it covers; one given before, at the same instant, or
		// against an entry of unknown date does not.
		{name: "F9 consent before the entry", in: call(consent.PurposeInformational), facts: listed(consent.ConsentPEC, -2*day, -day, 0), verdict: consent.Deny, reasons: reasons(consent.ReasonDNCInternal)},
		{name: "F9 consent at the entry's instant", in: call(consent.PurposeInformational), facts: listed(consent.ConsentPEC, -day, -day, 0), verdict: consent.Deny, reasons: reasons(consent.ReasonDNCInternal)},
		{name: "F9 consent a nanosecond after the entry lifts it", in: call(consent.PurposeInformational), facts: listed(consent.ConsentPEC, -day+time.Nanosecond, -day, 0), verdict: consent.Allow, consentID: 8},
		{name: "F9 entry of unknown date is never lifted", in: call(consent.PurposeInformational), facts: listed(consent.ConsentPEWC, -time.Hour, 0, 0), verdict: consent.Deny, reasons: reasons(consent.ReasonDNCInternal)},
		{name: "F9 later consent revoked since", in: call(consent.PurposeInformational), facts: listed(consent.ConsentPEC, -day, -2*day, -time.Hour), verdict: consent.Deny, reasons: reasons(consent.ReasonDNCInternal)},
		{name: "F9 later consent given after the last revocation", in: call(consent.PurposeInformational), facts: listed(consent.ConsentPEC, -time.Hour, -2*day, -day), verdict: consent.Allow, consentID: 8},
		{name: "F9 later consent not yet given at the call", in: call(consent.PurposeInformational), facts: listed(consent.ConsentPEC, time.Second, -day, 0), verdict: consent.Deny, reasons: reasons(consent.ReasonDNCInternal)},
		{name: "F9 no consent after the entry, no call", in: call(consent.PurposeInformational), facts: listed(consent.ConsentNone, 0, -day, 0), verdict: consent.Deny, reasons: reasons(consent.ReasonDNCInternal)},
		{name: "F9 lifted for a robocall to a wireless line", in: consent.Input{Number: nyNumber, Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, Line: consent.LineWireless, At: at},
			facts: listed(consent.ConsentPEC, -time.Hour, -day, 0), verdict: consent.Allow, consentID: 8},
		{name: "F9 lifted, but a sales robocall still needs PEWC", in: consent.Input{Number: nyNumber, Purpose: consent.PurposeTelemarketing, Method: consent.MethodPrerecorded, Line: consent.LineWireless, At: at},
			facts: listed(consent.ConsentPEC, -time.Hour, -day, 0), verdict: consent.Deny, reasons: reasons(consent.ReasonConsentInsufficient)},
		{name: "F9 landline robocall without consent stays stopped", in: consent.Input{Number: nyNumber, Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, Line: consent.LineLandline, At: at},
			facts: listed(consent.ConsentNone, 0, -day, 0), verdict: consent.Deny, reasons: reasons(consent.ReasonDNCInternal)},
		{name: "F9 later consent does not lift the litigator list", in: call(consent.PurposeInformational), facts: func() consent.Facts {
			f := listed(consent.ConsentPEWC, -time.Hour, -day, 0)
			f.DNC |= consent.DNCLitigator
			return f
		}(), verdict: consent.Deny, reasons: reasons(consent.ReasonDNCLitigator)},
		{name: "F8 national without PEWC", in: call(consent.PurposeTelemarketing), facts: hit(consent.DNCNational, consent.ConsentPEC), verdict: consent.Deny, reasons: reasons(consent.ReasonDNCNational)},
		{name: "F8 national with PEWC", in: call(consent.PurposeTelemarketing), facts: hit(consent.DNCNational, consent.ConsentPEWC), verdict: consent.Allow, consentID: 8},
		{name: "F8 national with revoked PEWC", in: call(consent.PurposeSolicitation), facts: func() consent.Facts {
			f := hit(consent.DNCNational, consent.ConsentPEWC)
			f.Consent.RevokedAt = at.Add(-time.Hour)
			f.Consent.ObtainedAt = at.Add(-day)
			return f
		}(), verdict: consent.Deny, reasons: reasons(consent.ReasonDNCNational, consent.ReasonEthicsSolicitation)},
		{name: "F8 does not cover informational calls", in: call(consent.PurposeInformational), facts: hit(consent.DNCNational, consent.ConsentNone), verdict: consent.Allow},
		{name: "state list denies sales calls even with PEWC", in: call(consent.PurposeTelemarketing), facts: hit(consent.DNCState, consent.ConsentPEWC), verdict: consent.Deny, reasons: reasons(consent.ReasonDNCState)},
		{name: "state list leaves informational calls", in: call(consent.PurposeInformational), facts: hit(consent.DNCState, consent.ConsentNone), verdict: consent.Allow},
		{name: "litigator list denies every call", in: call(consent.PurposeInformational), facts: hit(consent.DNCLitigator, consent.ConsentPEWC), verdict: consent.Deny, reasons: reasons(consent.ReasonDNCLitigator)},
		{name: "every list is reported", in: call(consent.PurposeTelemarketing), facts: hit(consent.DNCInternal|consent.DNCNational|consent.DNCState|consent.DNCLitigator, consent.ConsentNone), verdict: consent.Deny,
			reasons: reasons(consent.ReasonDNCInternal, consent.ReasonDNCNational, consent.ReasonDNCState, consent.ReasonDNCLitigator)},
		{name: "F8 snapshot 31 days old is current", in: call(consent.PurposeTelemarketing), facts: aged(31 * day), verdict: consent.Allow},
		{name: "F8 snapshot 31 days and a second is stale", in: call(consent.PurposeTelemarketing), facts: aged(31*day + time.Second), verdict: consent.Deny, reasons: reasons(consent.ReasonDNCNationalStale)},
		{name: "F8 no snapshot is stale", in: call(consent.PurposeSolicitation), facts: consent.Facts{Fresh: true}, verdict: consent.Deny, reasons: reasons(consent.ReasonDNCNationalStale, consent.ReasonEthicsSolicitation)},
		{name: "F8 snapshot age does not matter for debt collection", in: call(consent.PurposeDebtCollection), facts: consent.Facts{Fresh: true}, verdict: consent.Allow},
		{name: "stale index fails closed", in: call(consent.PurposeInformational), facts: consent.Facts{}, verdict: consent.Deny, reasons: reasons(consent.ReasonIndexStale)},
		{name: "stale index beats everything", in: call(consent.PurposeTelemarketing), facts: consent.Facts{DNC: consent.DNCInternal, Consent: consent.ConsentFacts{ID: 1, Kind: consent.ConsentPEWC, ObtainedAt: at.Add(-day)}}, verdict: consent.Deny, reasons: reasons(consent.ReasonIndexStale)},
		{name: "number without +", in: consent.Input{Number: "8605550101", At: at}, facts: facts(at, consent.ConsentNone, 0), verdict: consent.Deny, reasons: reasons(consent.ReasonNumberInvalid)},
		{name: "short +1 number", in: consent.Input{Number: "+1860555010", At: at}, facts: facts(at, consent.ConsentNone, 0), verdict: consent.Deny, reasons: reasons(consent.ReasonNumberInvalid)},
		{name: "area code below 200", in: consent.Input{Number: "+11605550101", At: at}, facts: facts(at, consent.ConsentNone, 0), verdict: consent.Deny, reasons: reasons(consent.ReasonNumberInvalid)},
		{name: "number outside the NANP", in: consent.Input{Number: "+442071234567", At: at}, facts: facts(at, consent.ConsentNone, 0), verdict: consent.Deny, reasons: reasons(consent.ReasonNumberUnsupported)},
		{name: "invalid number beats a stale index", in: consent.Input{Number: "", At: at}, facts: consent.Facts{}, verdict: consent.Deny, reasons: reasons(consent.ReasonNumberInvalid)},
	}
	runCases(t, b.eng, cases)

	t.Run("firm limit on the snapshot age", func(t *testing.T) {
		t.Parallel()
		e := setup(t, consent.Config{Firm: consent.FirmPolicy{NationalMaxAge: 14 * day}}).eng
		require.Equal(t, consent.Allow, e.Check(call(consent.PurposeTelemarketing), aged(14*day)).Verdict)
		require.Equal(t, reasons(consent.ReasonDNCNationalStale), e.Check(call(consent.PurposeTelemarketing), aged(15*day)).Reasons)
	})
}

// attempts returns history entries at the given offsets from at.
func attempts(at time.Time, p consent.Purpose, m consent.Method, offsets ...time.Duration) []consent.Attempt {
	h := make([]consent.Attempt, len(offsets))
	for i, o := range offsets {
		h[i] = consent.Attempt{At: at.Add(o), Purpose: p, Method: m}
	}
	return h
}

// TestCaps covers R1 (7 in 7 days, 7 quiet days after a conversation), S1/S2
// (3 per 24 h) and F3 (3 informational robocalls per 30 days to a landline)
// at the edges of their windows.
func TestCaps(t *testing.T) {
	t.Parallel()
	b := setup(t, consent.Config{})
	ny := zone(t, "America/New_York")
	at := noon(t)
	day := 24 * time.Hour
	week := 7 * day
	debt := func(h []consent.Attempt) consent.Input {
		return consent.Input{Number: nyNumber, Purpose: consent.PurposeDebtCollection, Method: consent.MethodLive, At: at, History: h}
	}
	six := []time.Duration{-1 * day, -2 * day, -3 * day, -4 * day, -5 * day, -6 * day}
	seven := func(oldest time.Duration) []time.Duration {
		return append(append([]time.Duration(nil), six...), oldest)
	}
	freq, quiet := reasons(consent.ReasonCapFrequency), reasons(consent.ReasonCapAfterConversation)
	conv := func(off time.Duration) []consent.Attempt {
		return []consent.Attempt{{At: at.Add(off), Purpose: consent.PurposeDebtCollection, Method: consent.MethodLive, Conversation: true}}
	}
	ended := func(off, end time.Duration) []consent.Attempt {
		h := conv(off)
		h[0].Ended = at.Add(end)
		return h
	}
	open := func(off time.Duration, p consent.Purpose) []consent.Attempt {
		return []consent.Attempt{{At: at.Add(off), Purpose: p, Method: consent.MethodPrerecorded, Open: true}}
	}
	answered := func(off time.Duration) []consent.Attempt {
		h := open(off, consent.PurposeDebtCollection)
		h[0].Answered = true
		return h
	}
	sale := func(n consentNumber, zip string, h []consent.Attempt) consent.Input {
		return consent.Input{Number: n, ZIP: zip, Purpose: consent.PurposeTelemarketing, Method: consent.MethodLive, At: at, History: h}
	}
	landline := func(h []consent.Attempt) consent.Input {
		return consent.Input{Number: nyNumber, Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, Line: consent.LineLandline, At: at, History: h}
	}
	cases := []tc{
		// R1 frequency.
		{name: "R1 six calls in 7 days allow", in: debt(attempts(at, consent.PurposeDebtCollection, consent.MethodLive, six...)), verdict: consent.Allow},
		{name: "R1 seventh call 7 days old has left", in: debt(attempts(at, consent.PurposeDebtCollection, consent.MethodLive, seven(-week)...)), verdict: consent.Allow},
		{name: "R1 seven calls defer until the oldest leaves", in: debt(attempts(at, consent.PurposeDebtCollection, consent.MethodLive, seven(-week+time.Second)...)), verdict: consent.Defer, until: at.Add(time.Second), reasons: freq},
		{name: "R1 seven calls, oldest 6 days 23 h", in: debt(attempts(at, consent.PurposeDebtCollection, consent.MethodLive, seven(-week+time.Hour)...)), verdict: consent.Defer, until: at.Add(time.Hour), reasons: freq},
		{name: "R1 unknown purposes count", in: debt(attempts(at, "", "", seven(-week+time.Hour)...)), verdict: consent.Defer, until: at.Add(time.Hour), reasons: freq},
		{name: "R1 other purposes do not count", in: debt(attempts(at, consent.PurposeInformational, consent.MethodLive, seven(-week+time.Hour)...)), verdict: consent.Allow},
		{name: "R1 waived by logged direct consent", in: func() consent.Input {
			in := debt(attempts(at, consent.PurposeDebtCollection, consent.MethodLive, seven(-week+time.Hour)...))
			in.RegFDirectConsent = true
			return in
		}(), verdict: consent.Allow},
		// R1 quiet period.
		// A conversation whose end was not recorded: it may have gone on
		// until OpenCallLimit after it was placed.
		{name: "R1 conversation placed 7 days and 15 minutes ago, end unknown, has cleared", in: debt(conv(-week - consent.OpenCallLimit)), verdict: consent.Allow},
		{name: "R1 conversation placed 7 days and 15 minutes less a second ago, end unknown", in: debt(conv(-week - consent.OpenCallLimit + time.Second)), verdict: consent.Defer, until: at.Add(time.Second), reasons: quiet},
		{name: "R1 conversation placed 7 days ago, end unknown, may have ended 15 minutes later", in: debt(conv(-week)), verdict: consent.Defer, until: at.Add(consent.OpenCallLimit), reasons: quiet},
		{name: "R1 conversation yesterday", in: debt(conv(-day)), verdict: consent.Defer, until: local(t, ny, "2026-06-16 12:15"), reasons: quiet},
		{name: "R1 conversation clearing at night defers to morning", in: debt(conv(-week + 10*time.Hour)), verdict: consent.Defer, until: local(t, ny, "2026-06-11 08:00"), reasons: quiet},
		// R1 quiet period from the conversation's end.
		{name: "R1 conversation ended 7 days ago has cleared", in: debt(ended(-week-10*time.Minute, -week)), verdict: consent.Allow},
		{name: "R1 conversation begun 7 days ago, ended 7 days less a second ago", in: debt(ended(-week-10*time.Minute, -week+time.Second)), verdict: consent.Defer, until: at.Add(time.Second), reasons: quiet},
		{name: "R1 conversation begun more than 7 days ago, ended after", in: debt(ended(-week-time.Minute, -week+5*time.Minute)), verdict: consent.Defer, until: at.Add(5 * time.Minute), reasons: quiet},
		{name: "R1 an end before the start counts from the start", in: debt(ended(-week+time.Minute, -week-time.Hour)), verdict: consent.Defer, until: at.Add(time.Minute), reasons: quiet},
		{name: "R1 a call ended without a conversation", in: debt(func() []consent.Attempt {
			h := ended(-time.Hour, -time.Hour+time.Minute)
			h[0].Conversation = false
			return h
		}()), verdict: consent.Allow},
		// R1 quiet period, a call still under way: it may become a
		// conversation, so the person is not called until it can have ended.
		{name: "R1 open call defers a minute", in: debt(open(-time.Minute, consent.PurposeDebtCollection)), verdict: consent.Defer, until: at.Add(consent.OpenRecheck), reasons: quiet},
		{name: "R1 open call placed this instant", in: debt(open(0, consent.PurposeDebtCollection)), verdict: consent.Defer, until: at.Add(consent.OpenRecheck), reasons: quiet},
		{name: "R1 open call at the limit less a second", in: debt(open(-consent.OpenCallLimit+time.Second, consent.PurposeDebtCollection)), verdict: consent.Defer, until: at.Add(consent.OpenRecheck), reasons: quiet},
		{name: "R1 open call at the limit was left by a stopped process", in: debt(open(-consent.OpenCallLimit, consent.PurposeDebtCollection)), verdict: consent.Allow},
		{name: "R1 open call answered, at the limit less a second", in: debt(answered(-consent.OpenCallLimit + time.Second)), verdict: consent.Defer, until: at.Add(consent.OpenRecheck), reasons: quiet},
		{name: "R1 open call answered, at the limit: its end was never recorded, a conversation ended at the limit", in: debt(answered(-consent.OpenCallLimit)), verdict: consent.Defer, until: at.Add(week), reasons: quiet},
		{name: "R1 open call answered 7 days ago: ended at the latest 15 minutes after", in: debt(answered(-week)), verdict: consent.Defer, until: at.Add(consent.OpenCallLimit), reasons: quiet},
		{name: "R1 open call answered 7 days and 15 minutes ago has cleared", in: debt(answered(-week - consent.OpenCallLimit)), verdict: consent.Allow},
		{name: "R1 open call waived by logged direct consent", in: func() consent.Input {
			in := debt(open(-time.Minute, consent.PurposeDebtCollection))
			in.RegFDirectConsent = true
			return in
		}(), verdict: consent.Allow},
		{name: "R1 open call of unknown purpose", in: debt(open(-time.Minute, "")), verdict: consent.Defer, until: at.Add(consent.OpenRecheck), reasons: quiet},
		{name: "R1 open call of another purpose", in: debt(open(-time.Minute, consent.PurposeInformational)), verdict: consent.Allow},
		{name: "R1 open call and a conversation: the later wins", in: debt(append(conv(-day), open(-time.Minute, consent.PurposeDebtCollection)...)), verdict: consent.Defer, until: local(t, ny, "2026-06-16 12:15"), reasons: quiet},
		{name: "R1 open call near 21:00 defers to morning", in: func() consent.Input {
			in := debt(open(-time.Minute, consent.PurposeDebtCollection))
			in.At = local(t, ny, "2026-06-10 20:59:30")
			in.History[0].At = in.At.Add(-time.Minute)
			return in
		}(), verdict: consent.Defer, until: local(t, ny, "2026-06-11 08:00"), reasons: quiet},
		{name: "R1 open call of an informational campaign does not defer it", in: func() consent.Input {
			in := debt(open(-time.Minute, consent.PurposeDebtCollection))
			in.Purpose = consent.PurposeInformational
			return in
		}(), verdict: consent.Allow},
		// S1: a Florida area code.
		{name: "S1 two calls in 24 h allow", in: sale(flNumber, "", attempts(at, consent.PurposeTelemarketing, consent.MethodLive, -time.Hour, -2*time.Hour)), verdict: consent.Allow, consentID: 3},
		{name: "S1 third call 24 h old has left", in: sale(flNumber, "", attempts(at, consent.PurposeTelemarketing, consent.MethodLive, -time.Hour, -2*time.Hour, -day)), verdict: consent.Allow, consentID: 3},
		{name: "S1 three calls defer", in: sale(flNumber, "", attempts(at, consent.PurposeSolicitation, consent.MethodPrerecorded, -time.Hour, -2*time.Hour, -day+time.Minute)), verdict: consent.Defer, until: at.Add(time.Minute), reasons: freq, consentID: 3},
		{name: "S1 four calls defer until two have left", in: sale(flNumber, "", attempts(at, consent.PurposeTelemarketing, consent.MethodLive, -time.Hour, -2*time.Hour, -day+time.Minute, -day+2*time.Minute)), verdict: consent.Defer, until: at.Add(2 * time.Minute), reasons: freq, consentID: 3},
		{name: "S1 not in Florida", in: sale(nyNumber, "", attempts(at, consent.PurposeTelemarketing, consent.MethodLive, -time.Hour, -2*time.Hour, -3*time.Hour)), verdict: consent.Allow},
		// S2: an Oklahoma address.
		{name: "S2 three calls defer", in: sale(nyNumber, "74103", attempts(at, consent.PurposeTelemarketing, consent.MethodLive, -time.Hour, -2*time.Hour, -3*time.Hour)), verdict: consent.Defer, until: at.Add(day - 3*time.Hour), reasons: freq, consentID: 3},
		// F3: informational robocalls to a landline.
		{name: "F3 two robocalls allow without consent", in: landline(attempts(at, consent.PurposeInformational, consent.MethodPrerecorded, -day, -2*day)), verdict: consent.Allow},
		{name: "F3 third robocall 30 days old has left", in: landline(attempts(at, consent.PurposeInformational, consent.MethodPrerecorded, -day, -2*day, -30*day)), verdict: consent.Allow},
		{name: "F3 three robocalls in 30 days deny", in: landline(attempts(at, consent.PurposeInformational, consent.MethodPrerecorded, -day, -2*day, -30*day+time.Second)), verdict: consent.Deny, reasons: reasons(consent.ReasonCapResidential)},
		{name: "F3 live calls do not count", in: landline(attempts(at, consent.PurposeInformational, consent.MethodLive, -day, -2*day, -3*day)), verdict: consent.Allow},
	}
	for i := range cases {
		kind := consent.ConsentNone
		if cases[i].in.Purpose == consent.PurposeTelemarketing {
			kind = consent.ConsentPEWC
		}
		cases[i].facts = facts(at, kind, 3)
	}
	cases = append(cases,
		tc{name: "F3 over the cap with PEC", in: landline(attempts(at, consent.PurposeInformational, consent.MethodPrerecorded, -day, -2*day, -3*day)), facts: facts(at, consent.ConsentPEC, 4), verdict: consent.Allow, consentID: 4},
		tc{name: "cap clearing after 21:00 defers to 08:00", in: func() consent.Input {
			in := debt(attempts(at, consent.PurposeDebtCollection, consent.MethodLive, seven(-week+10*time.Hour)...))
			return in
		}(), facts: facts(at, consent.ConsentNone, 0), verdict: consent.Defer, until: local(t, ny, "2026-06-11 08:00"), reasons: freq},
		tc{name: "cap and window together", in: func() consent.Input {
			in := debt(attempts(at, consent.PurposeDebtCollection, consent.MethodLive, seven(-week+time.Hour)...))
			in.At = local(t, ny, "2026-06-10 07:00")
			return in
		}(), facts: facts(at, consent.ConsentNone, 0), verdict: consent.Defer, until: local(t, ny, "2026-06-10 13:00"), reasons: reasons(consent.ReasonWindowOutside, consent.ReasonCapFrequency)},
	)
	runCases(t, b.eng, cases)

	t.Run("firm caps tighten", func(t *testing.T) {
		t.Parallel()
		e := setup(t, consent.Config{Firm: consent.FirmPolicy{
			Caps: map[string]consent.Cap{"R1": {Max: 5, Period: 7 * day}, "S1": {Max: 2, Period: 2 * day}},
		}}).eng
		in := debt(attempts(at, consent.PurposeDebtCollection, consent.MethodLive, -day, -2*day, -3*day, -4*day, -5*day))
		d := e.Check(in, facts(at, consent.ConsentNone, 0))
		require.Equal(t, consent.Defer, d.Verdict)
		require.True(t, at.Add(2*day).Equal(d.Until), "%v", d.Until)
		fl := sale(flNumber, "", attempts(at, consent.PurposeTelemarketing, consent.MethodLive, -30*time.Hour, -44*time.Hour))
		d = e.Check(fl, facts(at, consent.ConsentPEWC, 3))
		require.Equal(t, freq, d.Reasons)
		require.True(t, at.Add(4*time.Hour).Equal(d.Until), "%v", d.Until)
		ny := sale(nyNumber, "", fl.History)
		require.Equal(t, consent.Allow, e.Check(ny, facts(at, consent.ConsentPEWC, 3)).Verdict, "S1's firm cap stays in Florida")
	})

	t.Run("F3 firm requires PEC always", func(t *testing.T) {
		t.Parallel()
		e := setup(t, consent.Config{Firm: consent.FirmPolicy{ResidentialNeedsPEC: true}}).eng
		require.Equal(t, reasons(consent.ReasonConsentMissing), e.Check(landline(nil), facts(at, consent.ConsentNone, 0)).Reasons)
		require.Equal(t, consent.Allow, e.Check(landline(nil), facts(at, consent.ConsentPEC, 4)).Verdict)
	})
}

// TestEthics covers E1: live solicitation needs a logged exception, and
// accident solicitation waits 40 days.
func TestEthics(t *testing.T) {
	t.Parallel()
	b := setup(t, consent.Config{})
	at := noon(t)
	day := 24 * time.Hour
	solicit := func(m consent.Method, exception bool, accident time.Time) consent.Input {
		return consent.Input{Number: nyNumber, Purpose: consent.PurposeSolicitation, Method: m, At: at, SolicitationException: exception, AccidentAt: accident}
	}
	injury := func(accident time.Time) consent.Input {
		in := solicit(consent.MethodPrerecorded, false, accident)
		in.InjuryMatter = true
		return in
	}
	ethics := reasons(consent.ReasonEthicsSolicitation)
	cases := []tc{
		{name: "live solicitation denied", in: solicit(consent.MethodLive, false, time.Time{}), facts: facts(at, consent.ConsentPEWC, 2), verdict: consent.Deny, reasons: ethics},
		{name: "live solicitation with a logged exception", in: solicit(consent.MethodLive, true, time.Time{}), facts: facts(at, consent.ConsentNone, 0), verdict: consent.Allow},
		{name: "recorded solicitation is not E1's live rule", in: solicit(consent.MethodPrerecorded, false, time.Time{}), facts: facts(at, consent.ConsentPEWC, 2), verdict: consent.Allow, consentID: 2},
		{name: "unknown method counts as live", in: solicit("", false, time.Time{}), facts: facts(at, consent.ConsentPEWC, 2), verdict: consent.Deny, reasons: ethics},
		{name: "live telemarketing is not solicitation", in: consent.Input{Number: nyNumber, Purpose: consent.PurposeTelemarketing, Method: consent.MethodLive, At: at}, facts: facts(at, consent.ConsentNone, 0), verdict: consent.Allow},
		{name: "accident 39 days ago defers to day 40", in: solicit(consent.MethodPrerecorded, false, at.Add(-39*day)), facts: facts(at, consent.ConsentPEWC, 2), verdict: consent.Defer, until: at.Add(day), reasons: ethics, consentID: 2},
		{name: "accident 40 days less a second ago", in: solicit(consent.MethodPrerecorded, false, at.Add(-40*day+time.Second)), facts: facts(at, consent.ConsentPEWC, 2), verdict: consent.Defer, until: at.Add(time.Second), reasons: ethics, consentID: 2},
		{name: "accident 40 days ago allows", in: solicit(consent.MethodPrerecorded, false, at.Add(-40*day)), facts: facts(at, consent.ConsentPEWC, 2), verdict: consent.Allow, consentID: 2},
		{name: "injury matter without an accident date is denied", in: injury(time.Time{}), facts: facts(at, consent.ConsentPEWC, 2), verdict: consent.Deny, reasons: ethics},
		{name: "injury matter, accident 39 days ago", in: injury(at.Add(-39 * day)), facts: facts(at, consent.ConsentPEWC, 2), verdict: consent.Defer, until: at.Add(day), reasons: ethics, consentID: 2},
		{name: "injury matter, accident 40 days ago", in: injury(at.Add(-40 * day)), facts: facts(at, consent.ConsentPEWC, 2), verdict: consent.Allow, consentID: 2},
		{name: "an injury matter is a solicitation's alone", in: consent.Input{Number: nyNumber, Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, At: at, InjuryMatter: true},
			facts: facts(at, consent.ConsentPEC, 2), verdict: consent.Allow, consentID: 2},
	}
	runCases(t, b.eng, cases)

	// An accident's date counts from the end of that day in UTC-11,
	// whatever zone the date was read in.
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 6, 11, 11, 0, 0, 0, time.UTC), consent.AccidentInstant(time.Date(2026, 6, 10, 23, 30, 0, 0, ny)))
	require.Equal(t, time.Date(2026, 1, 1, 11, 0, 0, 0, time.UTC), consent.AccidentInstant(time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)))
}

// TestDecideAllocatesNothing checks the zero-allocation promise on a mix of
// allow, defer and deny decisions. It does not run in parallel:
// testing.AllocsPerRun reads process-wide counters and refuses parallel tests.
func TestDecideAllocatesNothing(t *testing.T) { //nolint:paralleltest // AllocsPerRun forbids t.Parallel.
	b := setup(t, consent.Config{Firm: consent.FirmPolicy{Holidays: []string{"2026-12-25"}, NoSunday: true}})
	ins, fs := benchInputs(t)
	var d consent.Decision
	for i := range ins { // warm the interned reason slices
		b.eng.Decide(&ins[i], &fs[i], &d)
	}
	allocs := testing.AllocsPerRun(200, func() {
		for i := range ins {
			b.eng.Decide(&ins[i], &fs[i], &d)
		}
	})
	require.Zero(t, allocs)
}
