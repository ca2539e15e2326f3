package phone_test

import (
	"errors"
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
