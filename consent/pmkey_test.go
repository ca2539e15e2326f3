package consent_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
)

// TestPMKeyWithIsKey checks that a PMKey completed by a line is the Key a
// Batch gives the same purpose, method and line, for every purpose, method
// and line type, unknown and empty ones, and strings equal to the known
// ones but with bytes of their own (which a caller that remembers a PMKey
// by its strings' bytes may give).
func TestPMKeyWithIsKey(t *testing.T) {
	e, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	b := e.Batch()
	own := func(s string) string { return strings.Clone(s) }
	purposes := []consent.Purpose{consent.PurposeInformational, consent.PurposeTelemarketing, consent.PurposeDebtCollection,
		consent.PurposeSolicitation, "", "survey", consent.Purpose(own(string(consent.PurposeSolicitation)))}
	methods := []consent.Method{consent.MethodPrerecorded, consent.MethodLive, "", "robot", consent.Method(own(string(consent.MethodLive)))}
	lines := []consent.LineType{consent.LineWireless, consent.LineLandline, consent.LineUnknown, "", "landlin", "landlines",
		"Landline", consent.LineType(own(string(consent.LineLandline)))}
	keys := map[consent.Key]bool{}
	for _, p := range purposes {
		for _, m := range methods {
			for _, l := range lines {
				got, want := consent.PMKeyOf(p, m).With(l), b.Key(p, m, l)
				require.Equal(t, want, got, "purpose %q, method %q, line %q", p, m, l)
				keys[got] = true
			}
		}
	}
	// Five purposes (four and unknown), three methods, two lines.
	require.Len(t, keys, 30)
}
