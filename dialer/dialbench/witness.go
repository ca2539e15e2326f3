package dialbench

import (
	"fmt"
	"strings"
	"time"

	"github.com/heed-dialer/heed/asterisk/testbed"
)

// OfficeHours returns a clock that starts at the next 14:00 in New York and
// runs at the real pace, never behind the real clock: within the calling
// window of every zone the bench's numbers can be placed in. It is for the
// PSTN simulator only, where no one is called; against a real carrier the
// bench must use the real clock, and the law's windows hold.
func OfficeHours() func() time.Time {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(fmt.Sprintf("dialbench: %v", err))
	}
	start := time.Now()
	y, m, d := start.In(ny).Date()
	base := time.Date(y, m, d, 14, 0, 0, 0, ny)
	if base.Before(start) {
		base = time.Date(y, m, d+1, 14, 0, 0, 0, ny)
	}
	return func() time.Time { return base.Add(time.Since(start)) }
}

// CheckCDR compares the report with the PSTN simulator's CDR, the
// independent witness of what was dialed: for every phase, exactly one
// record per call, to the phase's numbers, from the phase's caller ID. recs
// may hold other callers' records.
func (r *Report) CheckCDR(recs []testbed.CDRRecord) error {
	byCaller := map[string][]testbed.CDRRecord{}
	for _, rec := range recs {
		for _, ph := range r.Phases {
			if rec.Src == ph.CallerID || strings.Contains(rec.CLID, ph.CallerID) {
				byCaller[ph.CallerID] = append(byCaller[ph.CallerID], rec)
			}
		}
	}
	for _, ph := range r.Phases {
		got := byCaller[ph.CallerID]
		if len(got) != ph.Calls {
			return fmt.Errorf("dialbench: round %d %s phase: %d calls but %d PSTN CDR records", ph.Round, ph.Kind, ph.Calls, len(got))
		}
		want := map[string]int{}
		for _, n := range ph.Numbers {
			want[n.String()]++
		}
		for _, rec := range got {
			if want[rec.Dst] == 0 {
				return fmt.Errorf("dialbench: round %d %s phase: PSTN CDR has a call to %s more than the phase dialed it", ph.Round, ph.Kind, rec.Dst)
			}
			want[rec.Dst]--
		}
	}
	return nil
}
