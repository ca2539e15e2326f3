package dialer

import (
	"testing"
	"time"
)

// TestFollowBoundOutlastsEveryCall: a run that stops while its process
// goes on follows its calls, holding the campaign's lease, past the
// longest a call can last, so that a run in another process cannot take
// the lease and hang up a call this process still follows.
func TestFollowBoundOutlastsEveryCall(t *testing.T) {
	for _, ring := range []int{20, 25, 120} {
		limit := callLimit(CallRequest{RingSeconds: ring})
		if got := followBound(ring); got <= limit {
			t.Errorf("followBound(%d) = %s, want more than the call limit %s", ring, got, limit)
		}
		if got := followBound(ring); got > limit+time.Minute {
			t.Errorf("followBound(%d) = %s, want within a minute of the call limit %s", ring, got, limit)
		}
	}
}
