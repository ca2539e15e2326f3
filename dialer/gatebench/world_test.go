package gatebench

import (
	"slices"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
)

// TestDerivedSetsLayOutTheirOwnData: the mixed, scattered and sales sets
// keep each request's number and history (a request's history is a
// function of its number), but in strings and histories of their own,
// laid out in their requests' order as the campaign and random sets'
// are, not read through those sets' buffers.
func TestDerivedSetsLayOutTheirOwnData(t *testing.T) {
	w := smallWorld(t, newEngine(t))
	history := map[string][]consent.Attempt{}
	for _, r := range slices.Concat(w.campaign, w.random) {
		history[string(r.Phone)] = r.History
	}
	// span returns the addresses of the first and last byte of a set's
	// phone strings.
	span := func(reqs []dialer.Request) (lo, hi uintptr) {
		lo = uintptr(unsafe.Pointer(unsafe.StringData(string(reqs[0].Phone))))
		last := reqs[len(reqs)-1].Phone
		return lo, uintptr(unsafe.Pointer(unsafe.StringData(string(last)))) + uintptr(len(last)) - 1
	}
	var spans [][2]uintptr
	for _, set := range [][]dialer.Request{w.campaign, w.random, w.scattered, w.mixed, w.sales} {
		lo, hi := span(set)
		spans = append(spans, [2]uintptr{lo, hi})
	}
	for si, set := range map[string][]dialer.Request{"scattered": w.scattered, "mixed": w.mixed, "sales": w.sales} {
		var next uintptr // where the next request's history should start
		for i, r := range set {
			want, ok := history[string(r.Phone)]
			require.True(t, ok, "%s %d: %s is no campaign or random number", si, i, r.Phone)
			require.Equal(t, want, r.History, "%s %d: %s's history", si, i, r.Phone)
			if i > 0 {
				prev := set[i-1].Phone
				require.Equal(t, uintptr(unsafe.Pointer(unsafe.StringData(string(prev))))+uintptr(len(prev)),
					uintptr(unsafe.Pointer(unsafe.StringData(string(r.Phone)))), "%s %d: the number follows the one before", si, i)
			}
			if len(r.History) > 0 {
				at := uintptr(unsafe.Pointer(&r.History[0]))
				require.True(t, next == 0 || at == next, "%s %d: the history follows the one before", si, i)
				next = at + uintptr(len(r.History))*unsafe.Sizeof(r.History[0])
			}
		}
	}
	// No two sets share their strings.
	for i := range spans {
		for j := range i {
			require.True(t, spans[i][1] < spans[j][0] || spans[j][1] < spans[i][0], "sets %d and %d overlap", i, j)
		}
	}
}
