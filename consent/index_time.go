package consent

import (
	"time"
	"unsafe"
)

// Lookups fill up to four time.Time fields per answer, and
// time.Unix(s, 0).UTC() is a call of a few dozen instructions each.
// setUnix builds the same value in a zero Time by setting its seconds
// directly, when time.Time is laid out as timeRepr, which fastTimeOK checks
// once by comparing the two ways on sample instants; otherwise it takes the
// slow way.

// timeRepr is the layout of time.Time: a time without a monotonic reading
// holds its nanoseconds in wall and its seconds since year 1 in ext, and a
// UTC time has a nil loc.
type timeRepr struct {
	wall uint64
	ext  int64
	loc  *time.Location
}

// unixToInternal is the number of seconds from year 1 to 1970.
const unixToInternal int64 = (1969*365 + 1969/4 - 1969/100 + 1969/400) * 24 * 60 * 60

var fastTimeOK = func() bool {
	if unsafe.Sizeof(time.Time{}) != unsafe.Sizeof(timeRepr{}) {
		return false
	}
	for _, s := range []int64{0, 1, 86399, 1_700_000_000, 1<<32 - 1} {
		var t time.Time
		*(*timeRepr)(unsafe.Pointer(&t)) = timeRepr{ext: s + unixToInternal}
		if t != time.Unix(s, 0).UTC() || t.Unix() != s {
			return false
		}
	}
	return true
}()

// setUnix sets *t, which must be the zero Time, to time.Unix(s, 0).UTC(),
// or leaves it zero when s is negative.
func setUnix(t *time.Time, s int64) {
	if s >= 0 {
		if fastTimeOK {
			(*timeRepr)(unsafe.Pointer(t)).ext = s + unixToInternal
		} else {
			setUnixSlow(t, s)
		}
	}
}

func setUnixSlow(t *time.Time, s int64) { *t = time.Unix(s, 0).UTC() }
