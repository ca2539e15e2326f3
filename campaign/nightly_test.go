package campaign

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"
)

// The nightly check runs at CheckHour in the firm's zone, daylight-saving
// days included, and checks the day before.
func TestNightlySchedule(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	s := dailyAt{zone: ny, hour: CheckHour}
	for _, tc := range []struct{ now, next time.Time }{
		{time.Date(2026, 11, 26, 12, 0, 0, 0, ny), time.Date(2026, 11, 27, 4, 0, 0, 0, ny)},
		{time.Date(2026, 11, 27, 3, 59, 59, 0, ny), time.Date(2026, 11, 27, 4, 0, 0, 0, ny)},
		{time.Date(2026, 11, 27, 4, 0, 0, 0, ny), time.Date(2026, 11, 28, 4, 0, 0, 0, ny)},
		// The nights the clocks change: 25 and 23 hours apart.
		{time.Date(2026, 10, 31, 4, 0, 0, 0, ny), time.Date(2026, 11, 1, 4, 0, 0, 0, ny)},
		{time.Date(2026, 3, 7, 4, 0, 0, 0, ny), time.Date(2026, 3, 8, 4, 0, 0, 0, ny)},
	} {
		next := s.Next(tc.now)
		require.True(t, next.Equal(tc.next), "after %s: %s", tc.now, next)
		require.Equal(t, 4, next.In(ny).Hour())
	}
	require.Equal(t, 25*time.Hour, s.Next(time.Date(2026, 10, 31, 4, 0, 0, 0, ny)).Sub(time.Date(2026, 10, 31, 4, 0, 0, 0, ny)))
	require.Equal(t, "2026-11-26", dayBefore(time.Date(2026, 11, 27, 4, 0, 0, 0, ny), ny))
	require.Equal(t, "2026-11-26", dayBefore(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC), ny), "03:00 in New York")
	require.Equal(t, "2026-12-31", dayBefore(time.Date(2027, 1, 1, 4, 0, 0, 0, ny), ny))
	// An hour after CheckHour, yesterday has been checked; until then,
	// only the day before.
	require.Equal(t, "2026-11-25", LastCheckedDay(time.Date(2026, 11, 27, 4, 59, 0, 0, ny), ny))
	require.Equal(t, "2026-11-26", LastCheckedDay(time.Date(2026, 11, 27, 5, 0, 0, 0, ny), ny))
	require.Equal(t, "2026-11-26", LastCheckedDay(time.Date(2026, 11, 27, 23, 59, 0, 0, ny), ny))
	// By the zone's clock on the night it goes back: 05:00 is six hours
	// after midnight.
	require.Equal(t, "2026-10-30", LastCheckedDay(time.Date(2026, 11, 1, 4, 59, 0, 0, ny), ny))
	require.Equal(t, "2026-10-31", LastCheckedDay(time.Date(2026, 11, 1, 5, 0, 0, 0, ny), ny))
}

// The worker checks a day and keeps the result, once a day.
func TestCheckWorker(t *testing.T) {
	t.Parallel()
	w := newReportWorld(t, "Ann,8605550101\nBob,8605550102\n")
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	day := time.Date(2026, 11, 16, 15, 0, 0, 0, time.UTC)
	// Ann was on the internal list; Bob's call the next day is not in the
	// day checked.
	w.exec(`INSERT INTO dnc_internal (phone, method, source, added_at) VALUES ('+18605550101', 'ivr', 'pressed 9', '2026-11-01T15:00:00Z')`)
	w.attempt("+18605550101", "allow", []string{}, nil, day, 0, 0)
	w.attempt("+18605550102", "allow", []string{}, nil, day.AddDate(0, 0, 1), 0, 0)
	worker := &CheckWorker{Service: w.s, Zone: ny, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for range 2 {
		require.NoError(t, worker.Work(w.ctx, &river.Job[CheckArgs]{Args: CheckArgs{Day: "2026-11-16"}}))
	}
	require.NoError(t, worker.Work(w.ctx, &river.Job[CheckArgs]{Args: CheckArgs{Day: "2026-11-15"}}))
	checks, err := w.s.Checks(w.ctx, 10)
	require.NoError(t, err)
	require.Len(t, checks, 2, "one a day: the second run replaced the first")
	require.Equal(t, "2026-11-16", checks[0].Day)
	require.Equal(t, Check{Day: "2026-11-16", RanAt: checks[0].RanAt, Checked: 1, Found: 1, Calls: 1, Had: 0}, checks[0])
	require.Equal(t, Check{Day: "2026-11-15", RanAt: checks[1].RanAt, Checked: 0}, checks[1])
	var kinds []string
	require.NoError(t, w.s.db.QueryRow(w.ctx, `SELECT array(SELECT f->>'kind' FROM calls_checks, jsonb_array_elements(report->'findings') f WHERE day = '2026-11-16')`).Scan(&kinds))
	require.Equal(t, []string{FindingDNC}, kinds, "the report is kept")
	require.Error(t, worker.Work(w.ctx, &river.Job[CheckArgs]{Args: CheckArgs{Day: "yesterday"}}))

	// Run by River on the 20th, it checks the days since the first that
	// were never checked, the 17th to the 19th: one job each.
	ctx := rivertest.WorkContext(w.ctx, w.s.river)
	require.NoError(t, worker.Work(ctx, &river.Job[CheckArgs]{Args: CheckArgs{Day: "2026-11-20"}}))
	var queued []string
	require.NoError(t, w.s.db.QueryRow(w.ctx, `SELECT coalesce(array_agg(args->>'day' ORDER BY args->>'day'), '{}') FROM river_job WHERE kind = 'calls_check'`).Scan(&queued))
	require.Equal(t, []string{"2026-11-17", "2026-11-18", "2026-11-19"}, queued)
	days, err := w.s.Unchecked(w.ctx, "2026-11-20", 3)
	require.NoError(t, err)
	require.Equal(t, []string{"2026-11-17", "2026-11-18", "2026-11-19"}, days, "queued, not yet checked")
	// After nearly four weeks down, every day never checked is caught up:
	// all but the 20th since the 17th.
	days, err = w.s.Unchecked(w.ctx, "2026-12-15", CatchUpDays)
	require.NoError(t, err)
	require.Len(t, days, 27)
	require.Equal(t, []string{"2026-11-17", "2026-11-19", "2026-11-21", "2026-12-14"}, []string{days[0], days[2], days[3], days[26]})
	days, err = w.s.Unchecked(w.ctx, "2026-11-16", CatchUpDays)
	require.NoError(t, err)
	require.Empty(t, days, "nothing before the first day checked")
}
