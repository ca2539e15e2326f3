package dialer_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
)

// TestDNCHits maps every combination of the named lists, with and without
// state lists (the first, a middle and the last), to the engine's kinds.
func TestDNCHits(t *testing.T) {
	t.Parallel()
	ct, err := dnc.StateList("CT")
	require.NoError(t, err)
	wy, err := dnc.StateList("WY")
	require.NoError(t, err)
	first, err := dnc.StateList("AK") // the lowest state list ID
	require.NoError(t, err)
	for mask := range 8 {
		for _, state := range []dnc.Hits{0, 1 << ct, 1 << wy, 1 << first, 1<<ct | 1<<wy} {
			var h dnc.Hits
			var want consent.DNCHits
			if mask&1 != 0 {
				h |= 1 << dnc.Internal
				want |= consent.DNCInternal
			}
			if mask&2 != 0 {
				h |= 1 << dnc.National
				want |= consent.DNCNational
			}
			if mask&4 != 0 {
				h |= 1 << dnc.Litigator
				want |= consent.DNCLitigator
			}
			if state != 0 {
				want |= consent.DNCState
			}
			require.Equal(t, want, dialer.DNCHits(h|state), "lists %b, states %b", mask, state)
		}
	}
}
