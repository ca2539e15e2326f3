package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// CheckHour is the hour of the night, in the firm's time zone, at which
// heed checks the day before (NightlyCheck): after the calling windows
// close, and after any daylight-saving change.
const CheckHour = 4

// CheckArgs are the arguments of a nightly calls check: the day checked,
// in the firm's time zone ("2026-11-26").
type CheckArgs struct {
	Day string `json:"day"`
}

// Kind names the job.
func (CheckArgs) Kind() string { return "calls_check" }

// CheckAttempts is how many times a day's check is tried before River
// gives it up (a failed check also fails the next night's catch-up, which
// tries it again).
const CheckAttempts = 5

// CatchUpDays is how many days before the one it checks a nightly check
// looks back for days never checked (heed was down at CheckHour, say),
// and checks them too: as far back as the pacer reads attempt history
// (dialer.HistoryWindow), so a month's outage is caught up whole.
const CatchUpDays = 31

// InsertOpts makes a day's check one job, however many heed processes
// schedule it, tried CheckAttempts times.
func (CheckArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: CheckAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// CheckWorker runs the calls report of one day (CallsReport) and keeps its
// result (SaveCheck). A day whose report finds something is logged as a
// warning too.
type CheckWorker struct {
	river.WorkerDefaults[CheckArgs]
	Service *Service
	// Zone is the firm's time zone, in which days are counted.
	Zone *time.Location
	Log  *slog.Logger
}

// Timeout lets a check run as long as a long day's report takes, waiting
// for a report slot included.
func (w *CheckWorker) Timeout(*river.Job[CheckArgs]) time.Duration { return 30 * time.Minute }

// Work checks the day job.Args.Day. Then, when run by a River client, it
// inserts the checks of the CatchUpDays days before that were never
// checked.
func (w *CheckWorker) Work(ctx context.Context, job *river.Job[CheckArgs]) error {
	from, to, err := ReportPeriod(job.Args.Day, job.Args.Day, w.Zone, time.Now())
	if err != nil {
		return fmt.Errorf("calls check: %w", err)
	}
	r, err := w.Service.CallsReport(ctx, from, to)
	if err != nil {
		return fmt.Errorf("calls check %s: %w", job.Args.Day, err)
	}
	if err := w.Service.SaveCheck(ctx, job.Args.Day, r); err != nil {
		return err
	}
	if r.Found > 0 {
		w.Log.Warn("calls check: the records contradict allowed calls", "day", job.Args.Day, "findings", r.Found, "calls", r.Calls, "had", r.Had)
	} else {
		w.Log.Info("calls check: no finding", "day", job.Args.Day, "checked", r.Checked)
	}
	rc, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return nil // run by hand, not by River
	}
	missing, err := w.Service.Unchecked(ctx, job.Args.Day, CatchUpDays)
	if err != nil {
		return err
	}
	for _, d := range missing {
		if _, err := rc.Insert(ctx, CheckArgs{Day: d}, nil); err != nil {
			return fmt.Errorf("calls check: catch up %s: %w", d, err)
		}
		w.Log.Info("calls check: catching up a day never checked", "day", d)
	}
	return nil
}

// NightlyCheck is the periodic job that checks each day once it is over:
// at CheckHour every night, in zone, it inserts the check of the day
// before, as now reads the time; and when a process becomes River's
// leader, so that a night missed while heed was down or changing leader
// is checked on the next start (checked again, if it was: the check
// replaces its row), and the days before it by the catch-up (Work).
func NightlyCheck(zone *time.Location, now func() time.Time) *river.PeriodicJob {
	return river.NewPeriodicJob(dailyAt{zone: zone, hour: CheckHour}, func() (river.JobArgs, *river.InsertOpts) {
		return CheckArgs{Day: dayBefore(now(), zone)}, nil
	}, &river.PeriodicJobOpts{ID: "calls_check", RunOnStart: true})
}

// dayBefore is the day before t's, in zone, as 2006-01-02.
func dayBefore(t time.Time, zone *time.Location) string {
	y, m, d := t.In(zone).Date()
	return time.Date(y, m, d-1, 0, 0, 0, 0, zone).Format(time.DateOnly)
}

// LastCheckedDay is the last day the nightly check can have checked by
// now, in zone, as 2006-01-02: the day before, once the zone's clock has
// passed CheckHour by an hour (for the check to run), and the day before
// that until then.
func LastCheckedDay(now time.Time, zone *time.Location) string {
	y, m, d := now.In(zone).Date()
	if now.In(zone).Hour() < CheckHour+1 {
		d--
	}
	return time.Date(y, m, d-1, 0, 0, 0, 0, zone).Format(time.DateOnly)
}

// dailyAt is a river.PeriodicSchedule: every day at hour, in zone.
type dailyAt struct {
	zone *time.Location
	hour int
}

// Next returns the first instant after t at which the zone's clock reads
// the hour.
func (s dailyAt) Next(t time.Time) time.Time {
	y, m, d := t.In(s.zone).Date()
	next := time.Date(y, m, d, s.hour, 0, 0, 0, s.zone)
	if !next.After(t) {
		next = time.Date(y, m, d+1, s.hour, 0, 0, 0, s.zone)
	}
	return next
}

// Check is the result of one day's nightly calls check.
type Check struct {
	Day     string    `json:"day"`
	RanAt   time.Time `json:"ran_at"`
	Checked int       `json:"allowed_checked"`
	Found   int       `json:"found"`
	Calls   int       `json:"found_calls"`
	Had     int       `json:"found_had"`
}

// SaveCheck keeps r as the check of day (2006-01-02), replacing any kept
// before.
func (s *Service) SaveCheck(ctx context.Context, day string, r CallsReport) error {
	report, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("calls check %s: %w", day, err)
	}
	_, err = s.db.Exec(ctx, `
		INSERT INTO calls_checks (day, checked, found, calls, had, report) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (day) DO UPDATE SET ran_at = now(), checked = EXCLUDED.checked, found = EXCLUDED.found, calls = EXCLUDED.calls,
		       had = EXCLUDED.had, report = EXCLUDED.report`, day, r.Checked, r.Found, r.Calls, r.Had, report)
	if err != nil {
		return fmt.Errorf("calls check %s: save: %w", day, err)
	}
	return nil
}

// Unchecked returns the days among the n before day (2006-01-02) that
// have no nightly check, oldest first, and none before the first day
// checked: a new installation is not checked back to before it ran.
func (s *Service) Unchecked(ctx context.Context, day string, n int) ([]string, error) {
	rows, err := s.db.Query(ctx, `
		SELECT to_char(d, 'YYYY-MM-DD') FROM generate_series($1::date - $2::int, $1::date - 1, interval '1 day') d
		 WHERE d >= (SELECT min(day) FROM calls_checks) AND NOT EXISTS (SELECT 1 FROM calls_checks c WHERE c.day = d::date)
		 ORDER BY d`, day, n)
	if err != nil {
		return nil, fmt.Errorf("calls checks: days unchecked before %s: %w", day, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("calls checks: days unchecked before %s: %w", day, err)
	}
	return out, nil
}

// Checks returns the last n days' nightly checks, newest first.
func (s *Service) Checks(ctx context.Context, n int) ([]Check, error) {
	rows, err := s.db.Query(ctx, `SELECT to_char(day, 'YYYY-MM-DD'), ran_at, checked, found, calls, had FROM calls_checks ORDER BY day DESC LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("calls checks: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Check])
	if err != nil {
		return nil, fmt.Errorf("calls checks: %w", err)
	}
	return out, nil
}
