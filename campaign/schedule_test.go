package campaign

import (
	"testing"
	"time"
)

// mustTime parses an RFC 3339 time or fails the test.
func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func compileOK(t *testing.T, s Schedule) plan {
	t.Helper()
	fe := FieldErrors{}
	p := s.compile(fe)
	if len(fe) > 0 {
		t.Fatalf("compile(%+v): %v", s, fe)
	}
	return p
}

func TestScheduleCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		s     Schedule
		field string
		want  string
	}{
		{"BadZone", Schedule{TimeZone: "Mars/Olympus"}, "schedule.time_zone", `"Mars/Olympus" is not a time zone name such as America/New_York`},
		{"LocalZone", Schedule{TimeZone: "Local"}, "schedule.time_zone", `"Local" is not a time zone name such as America/New_York`},
		{"BadStart", Schedule{StartsAt: "next tuesday"}, "schedule.starts_at", `"next tuesday" is not a date and time such as 2026-12-01T09:00 (in the campaign's time zone) or 2026-12-01`},
		{"EndBeforeStart", Schedule{StartsAt: "2026-12-02", EndsAt: "2026-12-01T12:00"}, "schedule.ends_at", "must be after the start"},
		{"BadWindowStart", Schedule{WindowStart: "9am"}, "schedule.window_start", "a time of day such as 09:00"},
		{"WindowStartAtMidnightEnd", Schedule{WindowStart: "24:00"}, "schedule.window_start", "a time of day such as 09:00"},
		{"BadWindowEnd", Schedule{WindowEnd: "17:60"}, "schedule.window_end", "a time of day such as 17:00 (24:00 for midnight)"},
		{"CrossesMidnight", Schedule{WindowStart: "22:00", WindowEnd: "02:00"}, "schedule.window_end", "must be after the window's start (a window cannot cross midnight)"},
		{"EmptyWindow", Schedule{WindowStart: "09:00", WindowEnd: "09:00"}, "schedule.window_end", "must be after the window's start (a window cannot cross midnight)"},
		{"SkippedHour", Schedule{StartsAt: "2026-03-08T02:30"}, "schedule.starts_at", `"2026-03-08T02:30" does not exist in America/New_York: the clocks skip that hour`},
		{"BadDay", Schedule{Days: []string{"mon", "funday"}}, "schedule.days", `"funday" is not a day of the week (mon, tue, wed, thu, fri, sat, sun)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fe := FieldErrors{}
			tc.s.compile(fe)
			if fe[tc.field] != tc.want || len(fe) != 1 {
				t.Fatalf("errors %v, want only %s: %s", fe, tc.field, tc.want)
			}
		})
	}
}

func TestScheduleRoundTrip(t *testing.T) {
	p := compileOK(t, Schedule{TimeZone: "America/Chicago", StartsAt: "2026-12-01T08:00", EndsAt: "2026-12-04",
		WindowStart: "9:00", WindowEnd: "17:30", Days: []string{"Friday", "mon", "WED"}})
	got := p.schedule()
	want := Schedule{TimeZone: "America/Chicago", StartsAt: "2026-12-01T08:00:00-06:00", EndsAt: "2026-12-05T00:00:00-06:00",
		WindowStart: "09:00", WindowEnd: "17:30", Days: []string{"mon", "wed", "fri"}}
	if got.TimeZone != want.TimeZone || got.StartsAt != want.StartsAt || got.EndsAt != want.EndsAt ||
		got.WindowStart != want.WindowStart || got.WindowEnd != want.WindowEnd || !equalStrings(got.Days, want.Days) {
		t.Fatalf("schedule() = %+v, want %+v", got, want)
	}
	def := compileOK(t, Schedule{}).schedule()
	if def.TimeZone != DefaultTimeZone || def.WindowStart != "" || def.Days != nil || def.StartsAt != "" {
		t.Fatalf("default schedule() = %+v", def)
	}
}

func TestScheduleNext(t *testing.T) {
	weekdays := Schedule{WindowStart: "09:00", WindowEnd: "17:00", Days: []string{"mon", "tue", "wed", "thu", "fri"}}
	for _, tc := range []struct {
		name     string
		s        Schedule
		at       string
		open     bool
		next     string // "" means never
		nextOpen bool
	}{
		{"InsideWindow", weekdays, "2026-12-01T15:00:00Z", true, "2026-12-01T15:00:00Z", true},
		{"BeforeWindow", weekdays, "2026-12-01T12:00:00Z", false, "2026-12-01T14:00:00Z", true},
		{"WindowEndIsClosed", weekdays, "2026-12-01T22:00:00Z", false, "2026-12-02T14:00:00Z", true},
		{"FridayEveningToMonday", weekdays, "2026-12-04T23:00:00Z", false, "2026-12-07T14:00:00Z", true},
		// Spring forward, Sunday 8 March 2026: 9:00 EDT is 13:00 UTC, an
		// hour earlier in UTC than the day before.
		{"SpringForward", Schedule{WindowStart: "09:00", WindowEnd: "17:00"}, "2026-03-07T23:00:00Z", false, "2026-03-08T13:00:00Z", true},
		{"SpringForwardEvening", Schedule{WindowStart: "09:00", WindowEnd: "17:00"}, "2026-03-08T20:59:00Z", true, "2026-03-08T20:59:00Z", true},
		{"SpringForwardClosesAt17EDT", Schedule{WindowStart: "09:00", WindowEnd: "17:00"}, "2026-03-08T21:00:00Z", false, "2026-03-09T13:00:00Z", true},
		// A window opening inside the skipped hour opens when clocks jump (3:00 EDT).
		{"OpensInSkippedHour", Schedule{WindowStart: "02:30", WindowEnd: "05:00"}, "2026-03-08T05:00:00Z", false, "2026-03-08T07:00:00Z", true},
		{"SkippedHourBefore", Schedule{WindowStart: "02:30", WindowEnd: "05:00"}, "2026-03-07T05:00:00Z", false, "2026-03-07T07:30:00Z", true},
		// A window that lies wholly in the skipped hour does not open that day.
		{"WindowSkipped", Schedule{WindowStart: "02:00", WindowEnd: "02:45"}, "2026-03-08T05:00:00Z", false, "2026-03-09T06:00:00Z", true},
		// Fall back, Sunday 1 November 2026: 9:00 EST is 14:00 UTC.
		{"FallBack", Schedule{WindowStart: "09:00", WindowEnd: "17:00"}, "2026-10-31T22:00:00Z", false, "2026-11-01T14:00:00Z", true},
		{"FallBackStillOpenAt16EST", Schedule{WindowStart: "09:00", WindowEnd: "17:00"}, "2026-11-01T21:30:00Z", true, "2026-11-01T21:30:00Z", true},
		// The repeated hour is inside a 1:00-2:00 window both times.
		{"FallBackRepeatedHourFirst", Schedule{WindowStart: "01:00", WindowEnd: "02:00"}, "2026-11-01T05:30:00Z", true, "2026-11-01T05:30:00Z", true},
		{"FallBackRepeatedHourSecond", Schedule{WindowStart: "01:00", WindowEnd: "02:00"}, "2026-11-01T06:30:00Z", true, "2026-11-01T06:30:00Z", true},
		{"BeforeStart", Schedule{StartsAt: "2026-12-10T10:00", WindowStart: "09:00", WindowEnd: "17:00"}, "2026-12-01T15:00:00Z", false, "2026-12-10T15:00:00Z", true},
		{"StartOutsideWindow", Schedule{StartsAt: "2026-12-10T18:00", WindowStart: "09:00", WindowEnd: "17:00"}, "2026-12-01T15:00:00Z", false, "2026-12-11T14:00:00Z", true},
		{"AfterEnd", Schedule{EndsAt: "2026-12-01T12:00"}, "2026-12-01T17:00:00Z", false, "", false},
		{"NoOpeningBeforeEnd", Schedule{EndsAt: "2026-12-01T08:00", WindowStart: "09:00", WindowEnd: "17:00"}, "2026-12-01T11:00:00Z", false, "", false},
		{"OtherZone", Schedule{TimeZone: "America/Los_Angeles", WindowStart: "09:00", WindowEnd: "17:00"}, "2026-12-01T15:00:00Z", false, "2026-12-01T17:00:00Z", true},
		{"AllDay", Schedule{}, "2026-12-01T03:00:00Z", true, "2026-12-01T03:00:00Z", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compileOK(t, tc.s)
			at := mustTime(t, tc.at)
			if got := p.open(at); got != tc.open {
				t.Errorf("open(%s) = %v, want %v", tc.at, got, tc.open)
			}
			next, ok := p.next(at)
			if ok != tc.nextOpen {
				t.Fatalf("next(%s) = %s, %v; want ok %v", tc.at, next, ok, tc.nextOpen)
			}
			if ok {
				if want := mustTime(t, tc.next); !next.Equal(want) {
					t.Errorf("next(%s) = %s, want %s", tc.at, next.UTC().Format(time.RFC3339), tc.next)
				}
				if !p.open(next) {
					t.Errorf("next(%s) = %s is not open", tc.at, next)
				}
				if before := next.Add(-time.Minute); !before.Before(at) && p.open(before) {
					t.Errorf("next(%s) = %s, but a minute earlier was open already", tc.at, next)
				}
			}
		})
	}
}
