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
