package consent_test

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/phone"
)

// TestPacksCoverTheRulesFile checks that every rule of the compliance rules
// is in a pack, with a citation and the kind the rules file gives it.
func TestPacksCoverTheRulesFile(t *testing.T) {
	t.Parallel()
	b := setup(t, consent.Config{})
	want := map[string]consent.RuleKind{
		"F1": consent.Floor, "F2": consent.Floor, "F3": consent.Floor, "F6": consent.Floor, "F7": consent.Floor,
		"F8": consent.Floor, "F9": consent.Floor, "F10": consent.Floor, "F11": consent.Floor, "F12": consent.Floor,
		"F13": consent.Setting, "F15": consent.Setting, "F19": consent.Floor,
		"C1": consent.Info, "C2": consent.Floor, "C3": consent.Floor, "C4": consent.Floor, "C5": consent.Floor,
		"C6": consent.Floor, "C7": consent.Info, "D3": consent.Duty,
		"R1": consent.Floor, "R2": consent.Floor, "S1": consent.Floor, "S2": consent.Floor, "E1": consent.Floor,
		"H1": consent.Setting, "H2": consent.Setting, "H3": consent.Setting, "H4": consent.Setting,
	}
	got := map[string][]consent.RuleKind{}
	for _, p := range b.eng.Packs() {
		require.NotEmpty(t, p.Version, p.ID)
		require.Contains(t, b.eng.Version(), p.Tag())
		for _, r := range p.Rules {
			require.NotEmpty(t, r.Citation, "%s %s", p.ID, r.Code)
			require.NotEmpty(t, r.Title, "%s %s", p.ID, r.Code)
			got[r.Code] = append(got[r.Code], r.Kind)
		}
	}
	for code, kind := range want {
		require.Contains(t, got[code], kind, "rule %s", code)
	}
	require.Equal(t, []consent.RuleKind{consent.Floor, consent.Setting}, got["F13"], "federal revoke-all floor and heed's revoke-all setting")
}

// TestStateAreaCodes checks the CT, FL and OK presumptions against
// phonenumbers' geocoding: every area code geocoded to the state is in the
// pack, and every area code in the pack is geocoded to it.
func TestStateAreaCodes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		pack        *consent.Pack
		name, state string
	}{
		{consent.Connecticut(), "Connecticut", "CT"},
		{consent.Florida(), "Florida", "FL"},
		{consent.Oklahoma(), "Oklahoma", "OK"},
	} {
		t.Run(c.state, func(t *testing.T) {
			t.Parallel()
			var geocoded []string
			for npa := 200; npa <= 999; npa++ {
				n, err := phonenumbers.Parse(fmt.Sprintf("%d2345678", npa), "US")
				require.NoError(t, err)
				g, err := phonenumbers.GetGeocodingForNumber(n, "en")
				if err != nil { // not a valid number: the area code is not assigned
					continue
				}
				if g == c.name || strings.HasSuffix(g, ", "+c.state) {
					geocoded = append(geocoded, fmt.Sprint(npa))
				}
			}
			codes := append([]string(nil), c.pack.AreaCodes...)
			sort.Strings(codes)
			require.Equal(t, geocoded, codes)
		})
	}
}

// TestAreaCodeZonesMatchPhonenumbers checks the precomputed NPA-NXX zone
// table against phonenumbers for a spread of exchanges in every area code.
func TestAreaCodeZonesMatchPhonenumbers(t *testing.T) {
	t.Parallel()
	b := setup(t, consent.Config{})
	country, err := phonenumbers.GetTimezonesForPrefix("1")
	require.NoError(t, err)
	for npa := 200; npa <= 999; npa++ {
		if npa%100 == 11 {
			continue
		}
		area := areaZones(t, npa)
		for _, nxx := range []int{200, 201, 234, 255, 300, 301, 340, 456, 555, 600, 777, 870, 999} {
			n := phone.Number(fmt.Sprintf("+1%d%d1234", npa, nxx))
			want, err := phonenumbers.GetTimezonesForPrefix(string(n))
			require.NoError(t, err)
			loc, err := b.eng.Locate(n, "", "")
			require.NoError(t, err)
			if len(want) == len(country) || want[0] == phonenumbers.UNKNOWN_TIMEZONE {
				want = nil
			}
			if len(want) == 0 && len(area) == 0 {
				require.False(t, loc.Known, "%s", n)
				continue
			}
			want = append(slices.Clone(area), want...)
			sort.Strings(want)
			require.Equal(t, slices.Compact(want), loc.Zones, "%s", n)
		}
	}
}

// areaZones returns the zones phonenumbers gives for an area code: its own
// entry's, or when it has none, those of all its exchanges together; nil
// when it places none of them.
func areaZones(t *testing.T, npa int) []string {
	t.Helper()
	known := func(tz []string) bool {
		country, err := phonenumbers.GetTimezonesForPrefix("1")
		require.NoError(t, err)
		return len(tz) > 0 && len(tz) != len(country) && tz[0] != phonenumbers.UNKNOWN_TIMEZONE
	}
	tz, err := phonenumbers.GetTimezonesForPrefix(fmt.Sprintf("1%d", npa))
	require.NoError(t, err)
	if known(tz) {
		return append([]string(nil), tz...)
	}
	var all []string
	for nxx := 200; nxx <= 999; nxx++ {
		tz, err := phonenumbers.GetTimezonesForPrefix(fmt.Sprintf("1%d%d", npa, nxx))
		require.NoError(t, err)
		if known(tz) {
			all = append(all, tz...)
		}
	}
	sort.Strings(all)
	return slices.Compact(all)
}

// TestPacksDocumented checks that PACKS.md lists every rule code, pack and
// area code of the default engine, so the documentation cannot drift.
func TestPacksDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("PACKS.md")
	require.NoError(t, err)
	text := string(doc)
	b := setup(t, consent.Config{})
	for _, p := range b.eng.Packs() {
		require.Regexp(t, `(?m)^## .*\b`+p.ID+`\b`, text, "pack %s has a section", p.ID)
		for _, ac := range p.AreaCodes {
			require.Contains(t, text, ac, "pack %s area code", p.ID)
		}
		for _, r := range p.Rules {
			require.Contains(t, text, "| "+r.Code+" |", "rule %s of pack %s", r.Code, p.ID)
		}
	}
}
