package phone_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/heed-dialer/heed/internal/phone"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want phone.Number
		err  error
	}{
		{"(860) 555-0101", "+18605550101", nil},
		{"860.555.0101", "+18605550101", nil},
		{"+1 203 555 0199", "+12035550199", nil},
		{"+44 20 7123 4567", "+442071234567", nil},
		{"", "", phone.ErrInvalid},
		{"call me", "", phone.ErrInvalid},
		{"860-555-01O1", "", phone.ErrInvalid},
		{"555-1234", "", phone.ErrInvalid},
	} {
		got, err := phone.Parse(tc.in)
		if tc.err != nil {
			require.True(t, errors.Is(err, tc.err), "%q: got %v", tc.in, err)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got)
	}
}

func TestNANP(t *testing.T) {
	t.Parallel()
	v, err := phone.Number("+18605550101").NANP()
	require.NoError(t, err)
	require.Equal(t, uint64(8605550101), v)
	require.Equal(t, "860", phone.Number("+18605550101").AreaCode())
	_, err = phone.Number("+442071234567").NANP()
	require.ErrorIs(t, err, phone.ErrNotNANP)
}

func TestParseMeant(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    phone.Number
		literal phone.Number // Parse's reading, "" when it refuses the text
		missing bool         // phone.MissingOne
	}{
		// A "+" without the 1, digits valid elsewhere too: the NANP
		// number, where Parse reads another country's.
		{"+203 555 0199", "+12035550199", "+2035550199", true},
		{"+2035550199", "+12035550199", "+2035550199", true},
		{" +(203) 555-0199 ", "+12035550199", "+2035550199", true},
		// A "+" without the 1, invalid as written: the NANP number.
		{"+860 555 0101", "+18605550101", "", true},
		{"+ 860 555 0101", "+18605550101", "", true},
		// Parse's reading.
		{"(860) 555-0101", "+18605550101", "+18605550101", false},
		{"+1 203 555 0199", "+12035550199", "+12035550199", false},
		{"+44 20 7123 4567", "+442071234567", "+442071234567", false},
		{"+7 860 555 0101", "+78605550101", "+78605550101", false}, // eleven digits after the +
	} {
		got, err := phone.ParseMeant(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
		literal, err := phone.Parse(tc.in)
		if tc.literal == "" {
			require.ErrorIs(t, err, phone.ErrInvalid, tc.in)
		} else {
			require.Equal(t, tc.literal, literal, tc.in)
		}
		require.Equal(t, tc.missing, phone.MissingOne(tc.in), tc.in)
	}
	for _, in := range []string{"", "call me", "+52 860 555 0101", "+860 555 0101 1", "+860 555 01O1", "++860 555 0101"} {
		got, err := phone.ParseMeant(in)
		require.ErrorIs(t, err, phone.ErrInvalid, "%q: got %v", in, got)
		require.Empty(t, got)
	}
}

// TestParseMeantEveryAreaCode types every valid NANP number of two lines
// in each area code with a "+" but without the 1: ParseMeant always reads
// the NANP number.
func TestParseMeantEveryAreaCode(t *testing.T) {
	t.Parallel()
	tried := 0
	for npa := 200; npa <= 999; npa++ {
		for _, line := range []string{"555 0199", "234 5678"} {
			us := fmt.Sprintf("%d %s", npa, line)
			want, err := phone.Parse(us)
			if err != nil || want.AreaCode() == "" {
				continue
			}
			tried++
			got, err := phone.ParseMeant("+" + us)
			require.NoError(t, err, us)
			require.Equal(t, want, got, "+%s", us)
		}
	}
	require.Greater(t, tried, 800)
}

func TestDisplay(t *testing.T) {
	t.Parallel()
	require.Equal(t, "+1 203-555-0199", phone.Number("+12035550199").Display())
	require.Equal(t, "+44 20 7123 4567", phone.Number("+442071234567").Display())
	require.Equal(t, "nonsense", phone.Number("nonsense").Display())
}

// TestRegion: phonenumbers tells the NANP's countries apart by area code
// (+1 876 is Jamaica's), and puts DC, toll-free and 900 numbers in the
// United States.
func TestRegion(t *testing.T) {
	t.Parallel()
	for n, want := range map[phone.Number]string{
		"+18605550100": "US", "+12025550100": "US", "+18005550199": "US", "+19005550100": "US",
		"+18765550100": "JM", "+14165550100": "CA", "+17875550100": "PR", "+18095550100": "DO",
		"+442071234567": "GB", "+17005550100": "", "nonsense": "",
	} {
		require.Equal(t, want, n.Region(), n)
	}
	require.Equal(t, "Jamaica", phone.RegionName("JM"))
	require.Equal(t, "the United States", phone.RegionName("US"))
	require.Equal(t, "GB", phone.RegionName("GB"))
	require.Equal(t, "555", phone.Number("+18605550100").Exchange())
	require.Equal(t, "", phone.Number("+442071234567").Exchange())
}
