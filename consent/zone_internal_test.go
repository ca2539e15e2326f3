package consent

// This file tests unexported precomputed data (the per-zone offset tables),
// which the external tests can only see through decisions.

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestZoneTablesMatchTimePackage compares the precomputed offsets, local days
// and instants of every zone with the time package at random instants and
// around every transition.
func TestZoneTablesMatchTimePackage(t *testing.T) {
	t.Parallel()
	g, err := loadGeo()
	require.NoError(t, err)
	for i := range g.zones {
		z := &g.zones[i]
		t.Run(z.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(1, uint64(i)))
			check := func(u int64) {
				lt := time.Unix(u, 0).In(z.loc)
				_, off := lt.Zone()
				require.Equal(t, int64(off), z.offset(u), "%s at %d (%v)", z.name, u, lt)
				day, sod := z.local(u)
				y, m, d := lt.Date()
				require.Equal(t, time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix()/daySeconds, day)
				require.Equal(t, int64(lt.Hour()*3600+lt.Minute()*60+lt.Second()), sod)
				require.Equal(t, lt.Weekday(), weekday(day))
			}
			for range 2000 {
				check(rng.Int64N(tableHi + 10*365*daySeconds))
			}
			for _, s := range z.starts {
				for _, d := range []int64{-3601, -1, 0, 1, 3601} {
					check(s + d)
				}
			}
			// instant inverts local for every hour of days around 2026's changes.
			for _, ymd := range [][3]int{{2026, 3, 8}, {2026, 11, 1}, {2026, 6, 10}, {2030, 3, 10}} {
				day := time.Date(ymd[0], time.Month(ymd[1]), ymd[2], 0, 0, 0, 0, time.UTC).Unix() / daySeconds
				for h := int64(4); h < 24; h++ {
					u := z.instant(day, h*3600)
					want := time.Date(ymd[0], time.Month(ymd[1]), ymd[2], int(h), 0, 0, 0, z.loc)
					require.Equal(t, want.Unix(), u, "%s %v %dh", z.name, ymd, h)
				}
			}
		})
	}
}

// TestZIPForms checks which ZIP forms place a party: five digits, alone or
// with a "-" or " " extension; anything else places nobody.
func TestZIPForms(t *testing.T) {
	t.Parallel()
	g, err := loadGeo()
	require.NoError(t, err)
	ct, ctMask := g.zip("06103")
	require.Equal(t, g.state("CT"), ct)
	require.NotZero(t, ctMask)
	for _, z := range []string{"06103-1234", "06103 1234", "06199"} {
		st, m := g.zip(z)
		require.Equal(t, ct, st, z)
		require.Equal(t, ctMask, m, z)
	}
	for _, z := range []string{"", "0610", "06a03", "0610a", "/6103", ":6103", "0610/", "06103x", "061031", " 06103"} {
		st, m := g.zip(z)
		require.Zero(t, st, "%q", z)
		require.Zero(t, m, "%q", z)
	}
	as, asMask := g.zip("96799")
	require.Equal(t, g.samoa, as)
	require.Equal(t, g.samoaMask, asMask)
}
