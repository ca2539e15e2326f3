package consent

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/phone"
)

func TestEveryReasonHasAMeaning(t *testing.T) {
	t.Parallel()
	for _, r := range reasonOrder {
		require.NotEmpty(t, r.Meaning(), r)
	}
	require.Empty(t, Reason("no.such").Meaning())
}

// codes returns the "pack code" of each rule a ground names.
func codes(g Ground) []string {
	out := []string{}
	for _, r := range g.Rules {
		out = append(out, r.Pack+" "+r.Code)
	}
	return out
}

func TestGrounds(t *testing.T) {
	t.Parallel()
	e, err := NewEngine(Config{})
	require.NoError(t, err)
	at := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC) // 21:00 in New York
	ground := func(in Input, r Reason) Ground {
		t.Helper()
		in.At = at
		gs := e.Grounds(in, []Reason{r})
		require.Len(t, gs, 1)
		require.Equal(t, r, gs[0].Reason)
		require.Equal(t, r.Meaning(), gs[0].Meaning)
		for _, rule := range gs[0].Rules {
			require.NotEmpty(t, rule.Title)
			require.NotEmpty(t, rule.Citation)
		}
		return gs[0]
	}
	robocall := Input{Number: "+12125550101", Purpose: PurposeInformational, Method: MethodPrerecorded}
	require.Equal(t, []string{"federal@2026.2 F1"}, codes(ground(robocall, ReasonConsentMissing)), "a robocall to a wireless line (unknown counts as one)")
	landline := robocall
	landline.Line = LineLandline
	require.Empty(t, codes(ground(landline, ReasonConsentMissing)), "to a landline, consent lifts F3's cap, which gives its own reason")
	require.Equal(t, []string{"federal@2026.2 F3"}, codes(ground(landline, ReasonCapResidential)))
	require.Empty(t, codes(ground(robocall, ReasonConsentInsufficient)), "F1 needs PEC, which is never insufficient")
	require.Equal(t, []string{"federal@2026.2 F1", "federal@2026.2 F12", "firm@heed-2026.2 F13"}, codes(ground(robocall, ReasonConsentRevoked)))
	require.Equal(t, []string{"federal@2026.2 F9"}, codes(ground(robocall, ReasonDNCInternal)))
	own := ground(robocall, ReasonNumberInvalid)
	require.Empty(t, codes(own), "heed's own reason")
	require.Contains(t, own.Own, "cannot read")
	require.Contains(t, ground(robocall, ReasonIndexStale).Own, "fails closed")
	require.Empty(t, ground(robocall, ReasonDNCInternal).Own)

	debt := Input{Number: "+12125550101", Purpose: PurposeDebtCollection, Method: MethodPrerecorded}
	require.Equal(t, []string{"regf@2026.2 R1"}, codes(ground(debt, ReasonCapFrequency)))
	require.Equal(t, []string{"regf@2026.2 R2"}, codes(ground(debt, ReasonWindowOutside)))

	// A sales call: the federal window everywhere, Connecticut's own rules
	// only for a number placed in Connecticut (its area code, or the
	// contact's state).
	sales := Input{Number: "+12125550101", Purpose: PurposeTelemarketing, Method: MethodLive}
	ny := codes(ground(sales, ReasonWindowOutside))
	require.Contains(t, ny, "federal@2026.2 F6")
	require.Equal(t, []string{"federal@2026.2 F8"}, codes(ground(sales, ReasonDNCNational)))
	ct := sales
	ct.State = "CT"
	inCT := codes(ground(ct, ReasonWindowOutside))
	require.Contains(t, inCT, "federal@2026.2 F6")
	require.Greater(t, len(inCT), len(ny), "Connecticut adds its window")
	for _, c := range inCT {
		if c != "federal@2026.2 F6" {
			require.Contains(t, c, "connecticut@")
		}
	}
	require.Equal(t, inCT, codes(ground(Input{Number: "+18605550101", Purpose: PurposeTelemarketing, Method: MethodLive}, ReasonWindowOutside)),
		"the 860 area code is presumed in Connecticut")
	require.Equal(t, []string{"federal@2026.2 F8", "connecticut@2026.2 C5"}, codes(ground(ct, ReasonDNCNational)))
	require.Empty(t, codes(ground(sales, ReasonCapAfterConversation)), "Reg F's quiet period is for collections")

	// With the Reassigned Numbers Database check on, a consent that
	// predates the number's disconnection does not count: F15 is behind
	// consent.missing too.
	re, err := NewEngine(Config{Firm: FirmPolicy{CheckReassigned: true}})
	require.NoError(t, err)
	in := robocall
	in.At = at
	gs := re.Grounds(in, []Reason{ReasonConsentMissing})
	require.Contains(t, codes(gs[0]), "federal@2026.2 F1")
	var f15 bool
	for _, c := range codes(gs[0]) {
		f15 = f15 || strings.HasPrefix(c, "firm@") && strings.HasSuffix(c, " F15")
	}
	require.True(t, f15, "firm F15 in %v", codes(gs[0]))

	// A firm that narrowed revocations to a purpose (F13): a reminder
	// robocall to a landline, which needs no consent, refused as revoked
	// is grounded by the firm's F13.
	ne, err := NewEngine(Config{Firm: FirmPolicy{RevocationScope: RevokePurpose}})
	require.NoError(t, err)
	reminder := robocall
	reminder.At, reminder.Line = at, LineLandline
	gs = ne.Grounds(reminder, []Reason{ReasonConsentRevoked})
	var f13 bool
	for _, c := range codes(gs[0]) {
		f13 = f13 || strings.HasPrefix(c, "firm@") && strings.HasSuffix(c, " F13")
	}
	require.True(t, f13, "firm F13 in %v", codes(gs[0]))

	// A rule not yet in force at the attempt's time does not ground it.
	p := &Pack{ID: "later", Version: "1", Rules: []Rule{{Code: "L1", Title: "Later", Citation: "x", Kind: Floor, From: at.Add(time.Hour), Quiet: time.Hour}}}
	require.False(t, e.applies(p, &p.Rules[0], &Input{At: at}, 0))
	require.True(t, e.applies(p, &p.Rules[0], &Input{At: at.Add(time.Hour)}, 0))
	require.True(t, gives(&p.Rules[0], ReasonCapAfterConversation))
	require.False(t, gives(&p.Rules[0], ReasonCapFrequency))
}

// TestGroundsCoverDecisions decides many attempts and checks that every
// reason a decision gives is explained: by a rule of the packs that apply,
// or as heed's own.
func TestGroundsCoverDecisions(t *testing.T) {
	t.Parallel()
	for _, firm := range []FirmPolicy{{}, {CheckReassigned: true, NoSunday: true, Holidays: []string{"2026-11-26"}}} {
		e, err := NewEngine(Config{Firm: firm})
		require.NoError(t, err)
		numbers := []string{"+18605550101", "+12035550101", "+12125550101", "+13055550101", "+14055550101", "+16465550101", "+1555", "+442071234567"}
		states := []string{"", "CT", "NY", "FL", "OK"}
		purposes := []Purpose{"", PurposeInformational, PurposeTelemarketing, PurposeDebtCollection, PurposeSolicitation}
		lines := []LineType{"", LineWireless, LineLandline}
		base := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC) // a Sunday
		seen := map[Reason]bool{}
		for i := range 30000 {
			at := base.Add(time.Duration(i%57) * 3 * time.Hour) // a week and a day, Thanksgiving among them
			in := Input{
				Number: numbersAt(numbers, i), State: states[i/7%len(states)], Purpose: purposes[i/3%len(purposes)],
				Method: []Method{MethodPrerecorded, MethodLive}[i/11%2], Line: lines[i/13%len(lines)], At: at,
				SolicitationException: i%17 == 0,
			}
			for k := range i % 9 {
				in.History = append(in.History, Attempt{At: at.Add(-time.Duration(k+1) * 20 * time.Hour), Purpose: in.Purpose, Method: in.Method, Conversation: k == 2})
			}
			f := Facts{Fresh: i%29 != 0, DNC: DNCHits(i % 16), NationalAsOf: at.Add(-time.Duration(i%3) * 20 * 24 * time.Hour)}
			switch i % 5 {
			case 1:
				f.Consent = ConsentFacts{ID: 1, Kind: ConsentPEC, ObtainedAt: at.Add(-48 * time.Hour)}
			case 2:
				f.Consent = ConsentFacts{ID: 1, Kind: ConsentPEWC, ObtainedAt: at.Add(-48 * time.Hour), RevokedAt: at.Add(-time.Hour)}
			case 3:
				f.Consent = ConsentFacts{ID: 1, Kind: ConsentPEWC, ObtainedAt: at.Add(-48 * time.Hour), ExpiresAt: at.Add(-time.Hour)}
			case 4:
				f.Consent = ConsentFacts{ID: 1, Kind: ConsentPEWC, ObtainedAt: at.Add(-48 * time.Hour)}
				f.ReassignedAt = at.Add(-time.Hour)
			}
			d := e.Check(in, f)
			for _, g := range e.Grounds(in, d.Reasons) {
				seen[g.Reason] = true
				require.True(t, len(g.Rules) > 0 || g.Own != "", "%s of %+v with %+v has no ground", g.Reason, in, f)
			}
		}
		require.Greater(t, len(seen), 15, "the inputs give most reasons: %v", seen)
	}
}

func numbersAt(ns []string, i int) phone.Number { return phone.Number(ns[i%len(ns)]) }
