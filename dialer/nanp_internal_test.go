package dialer

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/heed-dialer/heed/internal/phone"
)

// TestNANPMatchesPhone checks the gate's number reader against
// phone.Number.NANP on valid numbers and on strings one to three bytes
// away from valid ones.
func TestNANPMatchesPhone(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	check := func(s string) {
		t.Helper()
		got, ok := nanp(phone.Number(s))
		want, err := phone.Number(s).NANP()
		if ok != (err == nil) || (ok && got != want) {
			t.Fatalf("%q: nanp %d %v; NANP %d %v", s, got, ok, want, err)
		}
	}
	for _, s := range []string{"", "+", "+1", "+12035550101", "+10000000000", "+19999999999", "+1203555010", "+120355501011",
		"+22035550101", "12035550101+", "+1203555010/", "+1203555010:", "+1/035550101", "+1:035550101"} {
		check(s)
	}
	for range 100_000 {
		s := []byte("+1" + strconv.FormatUint(rng.Uint64N(10_000_000_000)+10_000_000_000, 10)[1:])
		check(string(s))
		s[rng.IntN(len(s))] = byte(rng.IntN(256))
		check(string(s))
		// Two bytes wrong at once: nanp reads whole words, and one wrong
		// byte's borrow or carry must not make another pass.
		s[rng.IntN(len(s))] = byte(rng.IntN(256))
		check(string(s))
		s[rng.IntN(len(s))] = "+/0123456789:"[rng.IntN(13)] // at the digits' edges
		check(string(s))
	}
}

// checkNANP fails t unless nanp reads s as phone.Number.NANP does.
func checkNANP(t *testing.T, s string) {
	t.Helper()
	got, ok := nanp(phone.Number(s))
	want, err := phone.Number(s).NANP()
	if ok != (err == nil) || (ok && got != want) {
		t.Fatalf("%q: nanp %d %v; NANP %d %v", s, got, ok, want, err)
	}
}

// TestNANPEveryPairOfBytes sets every pair of the twelve bytes of a valid
// number (and every single byte) to every pair of values, 0x00 to 0xff:
// all 8.7 million strings one or two bytes away from them, among them every
// borrow and carry that one wrong byte can pass to a neighbour within
// nanp's words, and every byte of a multi-byte UTF-8 sequence or of an
// invalid one in any place. nanp must agree with phone.Number.NANP on
// each.
func TestNANPEveryPairOfBytes(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"+10000000000", "+19999999999"} {
		s := []byte(base)
		for i := range s {
			for a := range 256 {
				s[i] = byte(a)
				checkNANP(t, string(s))
				for j := i + 1; j < len(s); j++ {
					for b := range 256 {
						s[j] = byte(b)
						checkNANP(t, string(s))
					}
					s[j] = base[j]
				}
			}
			s[i] = base[i]
		}
	}
}

// FuzzNANP checks nanp against phone.Number.NANP on any string (run with
// -fuzz=FuzzNANP; as a test it tries the seeds).
func FuzzNANP(f *testing.F) {
	for _, s := range []string{"", "+12035550101", "+10000000000", "+19999999999", "+1203555010\xff", "+1\xc3\xa9125550101",
		"+1\xe2\x82\xac12555010", "+1:035550101", "\x2b\x31\x2f\x30\x30\x30\x30\x30\x30\x30\x30\x30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkNANP(t, s)
		if len(s) >= 12 {
			checkNANP(t, s[:12])
			checkNANP(t, "+1"+s[2:12])
		}
	})
}
