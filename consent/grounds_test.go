package consent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
	require.Equal(t, []string{"federal@2026.1 F1"}, codes(ground(robocall, ReasonConsentMissing)), "a robocall to a wireless line (unknown counts as one)")
	landline := robocall
	landline.Line = LineLandline
	require.Equal(t, []string{"federal@2026.1 F3"}, codes(ground(landline, ReasonConsentMissing)), "to a landline, consent lifts F3's cap alone")
	require.Equal(t, []string{"federal@2026.1 F3"}, codes(ground(landline, ReasonCapResidential)))
	require.Equal(t, []string{"federal@2026.1 F9"}, codes(ground(robocall, ReasonDNCInternal)))
	require.Empty(t, codes(ground(robocall, ReasonNumberInvalid)), "heed's own reason")
	require.Empty(t, codes(ground(robocall, ReasonIndexStale)))

	debt := Input{Number: "+12125550101", Purpose: PurposeDebtCollection, Method: MethodPrerecorded}
	require.Equal(t, []string{"regf@2026.1 R1"}, codes(ground(debt, ReasonCapFrequency)))
	require.Equal(t, []string{"regf@2026.1 R2"}, codes(ground(debt, ReasonWindowOutside)))

	// A sales call: the federal window everywhere, Connecticut's own rules
	// only for a number placed in Connecticut (its area code, or the
	// contact's state).
	sales := Input{Number: "+12125550101", Purpose: PurposeTelemarketing, Method: MethodLive}
	ny := codes(ground(sales, ReasonWindowOutside))
	require.Contains(t, ny, "federal@2026.1 F6")
	require.Equal(t, []string{"federal@2026.1 F8"}, codes(ground(sales, ReasonDNCNational)))
	ct := sales
	ct.State = "CT"
	inCT := codes(ground(ct, ReasonWindowOutside))
	require.Contains(t, inCT, "federal@2026.1 F6")
	require.Greater(t, len(inCT), len(ny), "Connecticut adds its window")
	for _, c := range inCT {
		if c != "federal@2026.1 F6" {
			require.Contains(t, c, "connecticut@")
		}
	}
	require.Equal(t, inCT, codes(ground(Input{Number: "+18605550101", Purpose: PurposeTelemarketing, Method: MethodLive}, ReasonWindowOutside)),
		"the 860 area code is presumed in Connecticut")
	require.Empty(t, codes(ground(sales, ReasonCapAfterConversation)), "Reg F's quiet period is for collections")

	// A rule not yet in force at the attempt's time does not ground it.
	p := &Pack{ID: "later", Version: "1", Rules: []Rule{{Code: "L1", Title: "Later", Citation: "x", Kind: Floor, From: at.Add(time.Hour), Quiet: time.Hour}}}
	require.False(t, applies(p, &p.Rules[0], &Input{At: at}, nil))
	require.True(t, applies(p, &p.Rules[0], &Input{At: at.Add(time.Hour)}, nil))
	require.True(t, gives(&p.Rules[0], ReasonCapAfterConversation))
	require.False(t, gives(&p.Rules[0], ReasonCapFrequency))
}
