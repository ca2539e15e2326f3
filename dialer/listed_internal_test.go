package dialer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestListedTimes checks the entry times the gate lifts entries by: the
// later of two times stands, an unknown (zero) time forgets the number's
// so nothing lifts its entry, a whole load replaces them all, a dropped
// number has none, and a held opt-out's number has a time no consent
// follows.
func TestListedTimes(t *testing.T) {
	t.Parallel()
	var ix Indexes
	jan, feb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	ix.addListed([]uint64{8605550101, 8605550102}, []time.Time{feb, jan}, false)
	ix.addListed([]uint64{8605550101, 8605550102}, []time.Time{jan, feb}, false)
	require.Equal(t, feb, ix.InternalListedAt(8605550101), "the later time stands")
	require.Equal(t, feb, ix.InternalListedAt(8605550102))
	ix.addListed([]uint64{8605550101}, []time.Time{{}}, false)
	require.True(t, ix.InternalListedAt(8605550101).IsZero(), "an unknown time is unknown")
	ix.dropListed([]uint64{8605550102})
	require.True(t, ix.InternalListedAt(8605550102).IsZero())
	ix.addListed([]uint64{8605550103}, []time.Time{jan}, false)
	ix.addListed([]uint64{8605550104}, []time.Time{feb}, true)
	require.True(t, ix.InternalListedAt(8605550103).IsZero(), "a load knows only what it read")
	require.Equal(t, feb, ix.InternalListedAt(8605550104))
	release := ix.HoldOptOut("+18605550104")
	require.Equal(t, heldListedAt, ix.InternalListedAt(8605550104))
	release()
	require.Equal(t, feb, ix.InternalListedAt(8605550104))
}
