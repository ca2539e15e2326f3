package consent

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/phone"
)

// parseNANPReference is parseNANP without its fast path: a byte at a time.
func parseNANPReference(n phone.Number) (npa, nxx int, bad ReasonSet) {
	s := string(n)
	if len(s) < 2 || s[0] != '+' {
		return 0, 0, bitNumberInvalid
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, 0, bitNumberInvalid
		}
	}
	if s[1] != '1' {
		if s[1] != '0' && len(s) >= 8 && len(s) <= 16 {
			return 0, 0, bitNumberUnsupported
		}
		return 0, 0, bitNumberInvalid
	}
	if len(s) != 12 {
		return 0, 0, bitNumberInvalid
	}
	npa = int(s[2]-'0')*100 + int(s[3]-'0')*10 + int(s[4]-'0')
	nxx = int(s[5]-'0')*100 + int(s[6]-'0')*10 + int(s[7]-'0')
	if npa < 200 || nxx < 200 || npa%100 == 11 {
		return 0, 0, bitNumberInvalid
	}
	return npa, nxx, 0
}

// TestParseNANPFastPath checks parseNANP against the byte-at-a-time
// reference on numbers that are valid, nearly valid (one byte changed to
// any value) and of every length.
func TestParseNANPFastPath(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(61, 62))
	check := func(s string) {
		npa, nxx, bad := parseNANP(phone.Number(s))
		wnpa, wnxx, wbad := parseNANPReference(phone.Number(s))
		require.Equal(t, [3]int{wnpa, wnxx, int(wbad)}, [3]int{npa, nxx, int(bad)}, "%q", s)
	}
	for _, s := range []string{"", "+", "+1", "+12125550101", "+11125550101", "+12121550101", "+12125550101 ", "+442071234567", "+0212555010"} {
		check(s)
	}
	for range 200_000 {
		b := []byte("+1")
		for range 10 {
			b = append(b, byte('0'+rng.IntN(10)))
		}
		switch rng.IntN(4) {
		case 0:
			b[rng.IntN(len(b))] = byte(rng.IntN(256))
		case 1:
			b = b[:rng.IntN(len(b)+1)]
		case 2:
			b = append(b, byte('0'+rng.IntN(10)))
		}
		check(string(b))
	}
}
