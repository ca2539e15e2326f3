package consent_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
)

// TestWindowBoundaries covers every calling window at its minute boundaries:
// C2 (09:00-20:00), F6 and R2 (08:00-21:00), heed's H1 (08:00-21:00), and
// S1/S2 (08:00-20:00). Windows are half-open: the end minute is outside.
func TestWindowBoundaries(t *testing.T) {
	t.Parallel()
	b := setup(t, consent.Config{})
	ny, chi := zone(t, "America/New_York"), zone(t, "America/Chicago")
	const day = "2026-06-10 " // a Wednesday
	sale := func(n consent.Input, at time.Time) consent.Input {
		n.Purpose, n.Method, n.At = consent.PurposeTelemarketing, consent.MethodLive, at
		return n
	}
	var cases []tc
	add := func(name string, in consent.Input, kind consent.ConsentKind, verdict consent.Verdict, until time.Time, rs []consent.Reason) {
		id := int64(0)
		if kind != consent.ConsentNone && verdict != consent.Deny {
			id = 42
		}
		cases = append(cases, tc{name: name, in: in, facts: facts(in.At, kind, 42), verdict: verdict, until: until, reasons: rs, consentID: id})
	}
	outside := reasons(consent.ReasonWindowOutside)

	// C2: a CT area code, telemarketing, 09:00-20:00 Eastern (PEWC for C3).
	ct := consent.Input{Number: ctNumber}
	add("C2 08:59 defers to 09:00", sale(ct, local(t, ny, day+"08:59")), consent.ConsentPEWC, consent.Defer, local(t, ny, day+"09:00"), outside)
	add("C2 09:00 allows", sale(ct, local(t, ny, day+"09:00")), consent.ConsentPEWC, consent.Allow, time.Time{}, nil)
	add("C2 19:59 allows", sale(ct, local(t, ny, day+"19:59")), consent.ConsentPEWC, consent.Allow, time.Time{}, nil)
	add("C2 20:00 defers to 09:00 next day", sale(ct, local(t, ny, day+"20:00")), consent.ConsentPEWC, consent.Defer, local(t, ny, "2026-06-11 09:00"), outside)

	// F6: telemarketing outside CT/FL/OK, 08:00-21:00.
	nyIn := consent.Input{Number: nyNumber}
	add("F6 07:59 defers", sale(nyIn, local(t, ny, day+"07:59")), consent.ConsentNone, consent.Defer, local(t, ny, day+"08:00"), outside)
	add("F6 08:00 allows", sale(nyIn, local(t, ny, day+"08:00")), consent.ConsentNone, consent.Allow, time.Time{}, nil)
	add("F6 20:59 allows", sale(nyIn, local(t, ny, day+"20:59")), consent.ConsentNone, consent.Allow, time.Time{}, nil)
	add("F6 21:00 defers", sale(nyIn, local(t, ny, day+"21:00")), consent.ConsentNone, consent.Defer, local(t, ny, "2026-06-11 08:00"), outside)

	// R2: debt collection, 08:00-21:00.
	debt := func(at time.Time) consent.Input {
		return consent.Input{Number: nyNumber, Purpose: consent.PurposeDebtCollection, Method: consent.MethodLive, At: at}
	}
	add("R2 07:59 defers", debt(local(t, ny, day+"07:59")), consent.ConsentNone, consent.Defer, local(t, ny, day+"08:00"), outside)
	add("R2 08:00 allows", debt(local(t, ny, day+"08:00")), consent.ConsentNone, consent.Allow, time.Time{}, nil)
	add("R2 20:59 allows", debt(local(t, ny, day+"20:59")), consent.ConsentNone, consent.Allow, time.Time{}, nil)
	add("R2 21:00 defers", debt(local(t, ny, day+"21:00")), consent.ConsentNone, consent.Defer, local(t, ny, "2026-06-11 08:00"), outside)

	// H1: informational, 08:00-21:00 (prerecorded to a wireless number needs PEC).
	info := func(at time.Time) consent.Input {
		return consent.Input{Number: nyNumber, Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, Line: consent.LineWireless, At: at}
	}
	add("H1 07:59 defers", info(local(t, ny, day+"07:59")), consent.ConsentPEC, consent.Defer, local(t, ny, day+"08:00"), outside)
	add("H1 08:00 allows", info(local(t, ny, day+"08:00")), consent.ConsentPEC, consent.Allow, time.Time{}, nil)
	add("H1 20:59 allows", info(local(t, ny, day+"20:59")), consent.ConsentPEC, consent.Allow, time.Time{}, nil)
	add("H1 21:00 defers", info(local(t, ny, day+"21:00")), consent.ConsentPEC, consent.Defer, local(t, ny, "2026-06-11 08:00"), outside)

	// S1: a Florida area code, 08:00-20:00 (PEWC).
	fl := consent.Input{Number: flNumber}
	add("S1 07:59 defers", sale(fl, local(t, ny, day+"07:59")), consent.ConsentPEWC, consent.Defer, local(t, ny, day+"08:00"), outside)
	add("S1 08:00 allows", sale(fl, local(t, ny, day+"08:00")), consent.ConsentPEWC, consent.Allow, time.Time{}, nil)
	add("S1 19:59 allows", sale(fl, local(t, ny, day+"19:59")), consent.ConsentPEWC, consent.Allow, time.Time{}, nil)
	add("S1 20:00 defers", sale(fl, local(t, ny, day+"20:00")), consent.ConsentPEWC, consent.Defer, local(t, ny, "2026-06-11 08:00"), outside)
	add("S1 needs PEWC", sale(fl, local(t, ny, day+"12:00")), consent.ConsentPEC, consent.Deny, time.Time{}, reasons(consent.ReasonConsentInsufficient))

	// S2: an Oklahoma area code, 08:00-20:00 Central.
	ok := consent.Input{Number: okNumber}
	add("S2 07:59 defers", sale(ok, local(t, chi, day+"07:59")), consent.ConsentPEWC, consent.Defer, local(t, chi, day+"08:00"), outside)
	add("S2 19:59 allows", sale(ok, local(t, chi, day+"19:59")), consent.ConsentPEWC, consent.Allow, time.Time{}, nil)
	add("S2 20:00 defers", sale(ok, local(t, chi, day+"20:00")), consent.ConsentPEWC, consent.Defer, local(t, chi, "2026-06-11 08:00"), outside)

	runCases(t, b.eng, cases)

	t.Run("florida pack off", func(t *testing.T) {
		t.Parallel()
		e := setup(t, consent.Config{Packs: []*consent.Pack{consent.Federal(), consent.Connecticut(), consent.RegF()}}).eng
		at := local(t, ny, day+"20:30")
		d := e.Check(sale(fl, at), facts(at, consent.ConsentNone, 0))
		require.Equal(t, consent.Allow, d.Verdict, "%v", d.Reasons)
		require.NotContains(t, d.Pack, "florida")
	})
}

// TestDaylightSavingDays checks the F6 window on the 2026 change days in
// America/New_York (spring forward 2026-03-08, fall back 2026-11-01),
// including deferrals that cross the change.
func TestDaylightSavingDays(t *testing.T) {
	t.Parallel()
	b := setup(t, consent.Config{})
	in := func(at time.Time) consent.Input {
		return consent.Input{Number: nyNumber, Purpose: consent.PurposeTelemarketing, Method: consent.MethodLive, At: at}
	}
	outside := reasons(consent.ReasonWindowOutside)
	cases := []tc{
		// Spring forward: 08:00 EDT is 12:00Z; the night before, 08:00 would be 13:00Z in EST.
		{name: "spring eve 21:00 EST defers to 08:00 EDT", in: in(utc(t, "2026-03-08 02:00")), verdict: consent.Defer, until: utc(t, "2026-03-08 12:00"), reasons: outside},
		{name: "spring 01:30 EST defers to 08:00 EDT", in: in(utc(t, "2026-03-08 06:30")), verdict: consent.Defer, until: utc(t, "2026-03-08 12:00"), reasons: outside},
		{name: "spring 03:30 EDT defers to 08:00 EDT", in: in(utc(t, "2026-03-08 07:30")), verdict: consent.Defer, until: utc(t, "2026-03-08 12:00"), reasons: outside},
		{name: "spring 07:59 EDT defers", in: in(utc(t, "2026-03-08 11:59")), verdict: consent.Defer, until: utc(t, "2026-03-08 12:00"), reasons: outside},
		{name: "spring 08:00 EDT allows", in: in(utc(t, "2026-03-08 12:00"))},
		{name: "spring 20:59 EDT allows", in: in(utc(t, "2026-03-09 00:59"))},
		{name: "spring 21:00 EDT defers", in: in(utc(t, "2026-03-09 01:00")), verdict: consent.Defer, until: utc(t, "2026-03-09 12:00"), reasons: outside},
		// Fall back: 08:00 EST is 13:00Z; the night before, 08:00 EDT would be 12:00Z.
		{name: "fall eve 21:00 EDT defers to 08:00 EST", in: in(utc(t, "2026-11-01 01:00")), verdict: consent.Defer, until: utc(t, "2026-11-01 13:00"), reasons: outside},
		{name: "fall first 01:30 EDT defers", in: in(utc(t, "2026-11-01 05:30")), verdict: consent.Defer, until: utc(t, "2026-11-01 13:00"), reasons: outside},
		{name: "fall second 01:30 EST defers", in: in(utc(t, "2026-11-01 06:30")), verdict: consent.Defer, until: utc(t, "2026-11-01 13:00"), reasons: outside},
		{name: "fall 07:59 EST defers", in: in(utc(t, "2026-11-01 12:59")), verdict: consent.Defer, until: utc(t, "2026-11-01 13:00"), reasons: outside},
		{name: "fall 08:00 EST allows", in: in(utc(t, "2026-11-01 13:00"))},
		{name: "fall 20:59 EST allows", in: in(utc(t, "2026-11-02 01:59"))},
		{name: "fall 21:00 EST defers", in: in(utc(t, "2026-11-02 02:00")), verdict: consent.Defer, until: utc(t, "2026-11-02 13:00"), reasons: outside},
	}
	for i := range cases {
		cases[i].facts = facts(cases[i].in.At, consent.ConsentNone, 0)
		if cases[i].verdict == "" {
			cases[i].verdict = consent.Allow
		}
	}
	runCases(t, b.eng, cases)
}

// TestAreaCodesSpanningZones checks that a window must be open in every zone
// phonenumbers gives for the number's area code, whatever the zones it gives
// for the number's exchange: an exchange adds zones, never narrows them.
func TestAreaCodesSpanningZones(t *testing.T) {
	t.Parallel()
	b := setup(t, consent.Config{})

	loc, err := b.eng.Locate(idahoNumber, "", "")
	require.NoError(t, err)
	require.Equal(t, []string{"America/Boise", "America/Denver", "America/Los_Angeles"}, loc.Zones)
	loc, err = b.eng.Locate(alaskaNumber, "", "")
	require.NoError(t, err)
	require.Equal(t, []string{"America/Adak", "America/Anchorage"}, loc.Zones)

	mt, ak := zone(t, "America/Boise"), zone(t, "America/Anchorage")
	in := func(n consentNumber, at time.Time) consent.Input {
		return consent.Input{Number: n, Purpose: consent.PurposeTelemarketing, Method: consent.MethodLive, At: at}
	}
	outside := reasons(consent.ReasonWindowOutside)
	cases := []tc{
		// Mountain and Pacific: open 09:00-21:00 Mountain (08:00 Pacific opens last).
		{name: "208 08:59 MT (07:59 PT) defers", in: in(idahoNumber, local(t, mt, "2026-06-10 08:59")), verdict: consent.Defer, until: local(t, mt, "2026-06-10 09:00"), reasons: outside},
		{name: "208 08:00 MT still closed in PT", in: in(idahoNumber, local(t, mt, "2026-06-10 08:00")), verdict: consent.Defer, until: local(t, mt, "2026-06-10 09:00"), reasons: outside},
		{name: "208 09:00 MT allows", in: in(idahoNumber, local(t, mt, "2026-06-10 09:00")), verdict: consent.Allow},
		{name: "208 20:59 MT allows", in: in(idahoNumber, local(t, mt, "2026-06-10 20:59")), verdict: consent.Allow},
		{name: "208 21:00 MT defers to 09:00 MT", in: in(idahoNumber, local(t, mt, "2026-06-10 21:00")), verdict: consent.Defer, until: local(t, mt, "2026-06-11 09:00"), reasons: outside},
		// Alaska and Aleutian (one hour behind in summer): open 09:00-21:00 Anchorage.
		{name: "907 08:59 AKDT defers", in: in(alaskaNumber, local(t, ak, "2026-06-10 08:59")), verdict: consent.Defer, until: local(t, ak, "2026-06-10 09:00"), reasons: outside},
		{name: "907 09:00 AKDT allows", in: in(alaskaNumber, local(t, ak, "2026-06-10 09:00")), verdict: consent.Allow},
		{name: "907 20:59 AKDT allows", in: in(alaskaNumber, local(t, ak, "2026-06-10 20:59")), verdict: consent.Allow},
		{name: "907 21:00 AKDT defers", in: in(alaskaNumber, local(t, ak, "2026-06-10 21:00")), verdict: consent.Defer, until: local(t, ak, "2026-06-11 09:00"), reasons: outside},
		// Exchanges phonenumbers places in one zone of their area code's
		// several: the area code's other zones still count.
		{name: "775 exchange in PT: 20:30 PT is 21:30 in Boise", in: in("+17752001234", local(t, zone(t, "America/Los_Angeles"), "2026-06-10 20:30")), verdict: consent.Defer, until: local(t, mt, "2026-06-11 09:00"), reasons: outside},
		{name: "907 exchange in Juneau: 08:00 there is 07:00 in Adak", in: in("+19072091234", local(t, zone(t, "America/Juneau"), "2026-06-10 08:00")), verdict: consent.Defer, until: local(t, zone(t, "America/Adak"), "2026-06-10 08:00"), reasons: outside},
		{name: "605 exchange in CT: 08:00 CT is 07:00 in Denver", in: in("+16052011234", local(t, zone(t, "America/Chicago"), "2026-06-10 08:00")), verdict: consent.Defer, until: local(t, zone(t, "America/Denver"), "2026-06-10 08:00"), reasons: outside},
	}
	for i := range cases {
		cases[i].facts = facts(cases[i].in.At, consent.ConsentNone, 0)
	}
	runCases(t, b.eng, cases)
}

// TestLocations covers the ZIP and contact-state locations, the CT
// area-code presumption, and the strictest assumption when nothing is known.
func TestLocations(t *testing.T) {
	t.Parallel()
	b := setup(t, consent.Config{})
	ny := zone(t, "America/New_York")
	const day = "2026-06-10 "
	live := func(n consentNumber, state, zip string, at time.Time) consent.Input {
		return consent.Input{Number: n, State: state, ZIP: zip, Purpose: consent.PurposeTelemarketing, Method: consent.MethodLive, At: at}
	}
	at0830, at1200 := local(t, ny, day+"08:30"), local(t, ny, day+"12:00")
	cases := []tc{
		// The CT presumption holds even when the address is elsewhere.
		{name: "860 with a NY address is presumed CT: C3 PEWC", in: live(ctNumber, "NY", "10001", at1200), facts: facts(at1200, consent.ConsentPEC, 9),
			verdict: consent.Deny, reasons: reasons(consent.ReasonConsentInsufficient)},
		{name: "860 with a NY address is presumed CT: C2 hours", in: live(ctNumber, "NY", "10001", at0830), facts: facts(at0830, consent.ConsentPEWC, 9),
			verdict: consent.Defer, until: local(t, ny, day+"09:00"), reasons: reasons(consent.ReasonWindowOutside), consentID: 9},
		{name: "each CT area code", in: live("+19595550101", "", "", at0830), facts: facts(at0830, consent.ConsentPEWC, 9),
			verdict: consent.Defer, until: local(t, ny, day+"09:00"), reasons: reasons(consent.ReasonWindowOutside), consentID: 9},
		{name: "203", in: live("+12035550101", "", "", at1200), facts: facts(at1200, consent.ConsentNone, 0),
			verdict: consent.Deny, reasons: reasons(consent.ReasonConsentMissing)},
		{name: "475", in: live("+14755550101", "", "", at1200), facts: facts(at1200, consent.ConsentNone, 0),
			verdict: consent.Deny, reasons: reasons(consent.ReasonConsentMissing)},
		// A CT address brings CT rules to a non-CT number.
		{name: "212 with a Hartford ZIP is CT", in: live(nyNumber, "", "06103", at0830), facts: facts(at0830, consent.ConsentPEWC, 9),
			verdict: consent.Defer, until: local(t, ny, day+"09:00"), reasons: reasons(consent.ReasonWindowOutside), consentID: 9},
		{name: "212 with state CT is CT", in: live(nyNumber, "ct", "", at1200), facts: facts(at1200, consent.ConsentPEC, 9),
			verdict: consent.Deny, reasons: reasons(consent.ReasonConsentInsufficient)},
		{name: "212 alone is not CT", in: live(nyNumber, "", "", at0830), facts: facts(at0830, consent.ConsentPEC, 0),
			verdict: consent.Allow},
		// A ZIP or state adds its zones: a 212 number with a Los Angeles address waits for 08:00 Pacific.
		{name: "212 with an LA ZIP waits for 08:00 PT", in: live(nyNumber, "", "90012", local(t, ny, day+"10:59")), facts: facts(at1200, consent.ConsentNone, 0),
			verdict: consent.Defer, until: local(t, ny, day+"11:00"), reasons: reasons(consent.ReasonWindowOutside)},
		{name: "212 with state CA waits for 08:00 PT", in: live(nyNumber, "CA", "", local(t, ny, day+"10:59")), facts: facts(at1200, consent.ConsentNone, 0),
			verdict: consent.Defer, until: local(t, ny, day+"11:00"), reasons: reasons(consent.ReasonWindowOutside)},
		{name: "a Florida panhandle ZIP is Central", in: live(nyNumber, "FL", "32501", local(t, ny, day+"08:30")), facts: facts(at1200, consent.ConsentPEWC, 9),
			verdict: consent.Defer, until: local(t, ny, day+"09:00"), reasons: reasons(consent.ReasonWindowOutside), consentID: 9},
		{name: "an Oklahoma ZIP brings S2", in: live(nyNumber, "", "73102", at1200), facts: facts(at1200, consent.ConsentPEC, 9),
			verdict: consent.Deny, reasons: reasons(consent.ReasonConsentInsufficient)},
		// Nothing known: every zone of the fifty states and every state pack
		// (CT's 09:00-20:00 is the strictest): 09:00 HST is 15:00 EDT, 20:00 EDT closes.
		{name: "unknown location 14:59 EDT defers to 09:00 HST", in: live(tollFree, "", "", local(t, ny, day+"14:59")), facts: facts(at1200, consent.ConsentPEWC, 9),
			verdict: consent.Defer, until: local(t, ny, day+"15:00"), reasons: reasons(consent.ReasonWindowOutside), consentID: 9},
		{name: "unknown location 15:00 EDT allows", in: live(tollFree, "", "", local(t, ny, day+"15:00")), facts: facts(at1200, consent.ConsentPEWC, 9),
			verdict: consent.Allow, consentID: 9},
		{name: "unknown location 19:59 EDT allows", in: live(tollFree, "", "", local(t, ny, day+"19:59")), facts: facts(at1200, consent.ConsentPEWC, 9),
			verdict: consent.Allow, consentID: 9},
		{name: "unknown location 20:00 EDT defers", in: live(tollFree, "", "", local(t, ny, day+"20:00")), facts: facts(at1200, consent.ConsentPEWC, 9),
			verdict: consent.Defer, until: local(t, ny, "2026-06-11 15:00"), reasons: reasons(consent.ReasonWindowOutside), consentID: 9},
		{name: "unknown location applies state consent rules", in: live(tollFree, "", "", local(t, ny, day+"16:00")), facts: facts(at1200, consent.ConsentPEC, 9),
			verdict: consent.Deny, reasons: reasons(consent.ReasonConsentInsufficient)},
		{name: "unknown ZIP and state are ignored", in: live(nyNumber, "ZZ", "00000", at0830), facts: facts(at0830, consent.ConsentNone, 0),
			verdict: consent.Allow},
	}
	runCases(t, b.eng, cases)

	t.Run("Locate explains", func(t *testing.T) {
		t.Parallel()
		loc, err := b.eng.Locate(ctNumber, "NY", "90012")
		require.NoError(t, err)
		require.Equal(t, consent.Location{Zones: []string{"America/Los_Angeles", "America/New_York"}, States: []string{"CT"}, Known: true}, loc)
		loc, err = b.eng.Locate(tollFree, "", "")
		require.NoError(t, err)
		require.False(t, loc.Known)
		require.Equal(t, []string{"CT", "FL", "OK"}, loc.States)
		require.Len(t, loc.Zones, 7)
		loc, err = b.eng.Locate(nyNumber, "", "96799")
		require.NoError(t, err)
		require.Equal(t, []string{"America/New_York", "Pacific/Pago_Pago"}, loc.Zones)
		_, err = b.eng.Locate("+442071234567", "", "")
		require.ErrorIs(t, err, phoneErrNotNANP)
		_, err = b.eng.Locate("8605550101", "", "")
		require.ErrorIs(t, err, phoneErrInvalid)
	})
}

// TestCalendar covers heed's Sunday and holiday setting (H4), off by default.
func TestCalendar(t *testing.T) {
	t.Parallel()
	ny := zone(t, "America/New_York")
	in := func(at time.Time) consent.Input {
		return consent.Input{Number: nyNumber, Purpose: consent.PurposeDebtCollection, Method: consent.MethodLive, At: at}
	}
	sunday := local(t, ny, "2026-06-14 10:00")

	t.Run("off by default", func(t *testing.T) {
		t.Parallel()
		b := setup(t, consent.Config{})
		require.Equal(t, consent.Allow, b.eng.Check(in(sunday), facts(sunday, consent.ConsentNone, 0)).Verdict)
	})

	b := setup(t, consent.Config{Firm: consent.FirmPolicy{NoSunday: true, Holidays: []string{"2026-12-25"}}})
	day := reasons(consent.ReasonWindowDay)
	cases := []tc{
		{name: "Sunday defers to Monday 08:00", in: in(sunday), verdict: consent.Defer, until: local(t, ny, "2026-06-15 08:00"), reasons: day},
		{name: "Saturday 21:00 skips Sunday", in: in(local(t, ny, "2026-06-13 21:00")), verdict: consent.Defer, until: local(t, ny, "2026-06-15 08:00"), reasons: reasons(consent.ReasonWindowOutside)},
		{name: "Saturday 20:59 allows", in: in(local(t, ny, "2026-06-13 20:59")), verdict: consent.Allow},
		{name: "Monday 00:00 is not Sunday", in: in(local(t, ny, "2026-06-15 00:00")), verdict: consent.Defer, until: local(t, ny, "2026-06-15 08:00"), reasons: reasons(consent.ReasonWindowOutside)},
		{name: "holiday defers to the next day", in: in(local(t, ny, "2026-12-25 10:00")), verdict: consent.Defer, until: local(t, ny, "2026-12-26 08:00"), reasons: day},
		{name: "eve of a holiday skips it", in: in(local(t, ny, "2026-12-24 21:30")), verdict: consent.Defer, until: local(t, ny, "2026-12-26 08:00"), reasons: reasons(consent.ReasonWindowOutside)},
	}
	for i := range cases {
		cases[i].facts = facts(cases[i].in.At, consent.ConsentNone, 0)
	}
	runCases(t, b.eng, cases)
}
