package consent

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/internal/phone"
	"github.com/heed-dialer/heed/internal/sheet"
)

// ReassignedStore keeps the answers of the FCC's Reassigned Numbers
// Database (rule F15) that the firm imports, and tells the pacing loop,
// per number, the latest moment by which the database reported it
// permanently disconnected.
type ReassignedStore struct {
	db *pgxpool.Pool
}

// NewReassignedStore returns a ReassignedStore on db.
func NewReassignedStore(db *pgxpool.Pool) *ReassignedStore { return &ReassignedStore{db: db} }

// reassignedRow is one valid line of an import.
type reassignedRow struct {
	phone    phone.Number
	asked    time.Time
	result   string
	answered time.Time
}

// ImportReassigned reads answers of the Reassigned Numbers Database from a
// CSV or XLSX file, with the columns phone, date (the date asked about) and
// result (yes, no or no_data), and optionally answered_at (when the
// database answered; default now; a date alone means the end of that day).
// It reads the file like the consent imports do: the same formats, column
// mapping, time formats and row limit. The import is all or nothing: any
// invalid line refuses it with an *ImportError that lists every rejected
// line and why.
func (s *ReassignedStore) ImportReassigned(ctx context.Context, r io.Reader, format Format, opts ImportOptions, source string, now time.Time) (ImportReport, error) {
	rep := ImportReport{Kind: "reassigned", DryRun: opts.DryRun}
	sh, err := readSheet(r, format, &rep)
	if err != nil {
		return rep, err
	}
	col := columns(sh, opts.Columns, []string{"phone", "date", "result"}, []string{"answered_at"}, &rep)
	if len(rep.Rejected) == 0 && len(sh.Rows) == 0 {
		rep.Rejected = append(rep.Rejected, RowError{Line: 2, Reason: "the file has a header but no rows"})
	}
	if len(rep.Rejected) > 0 {
		return rep, &ImportError{Report: rep}
	}
	loc := opts.Location
	if loc == nil {
		loc = time.UTC
	}
	var rows []reassignedRow
	for _, sr := range sh.Rows {
		rep.Rows++
		c := cells{col, sr.Fields}
		row, reason := parseReassigned(c, sh, loc, now)
		if reason != "" {
			rep.Rejected = append(rep.Rejected, RowError{Line: sr.Line, Reason: reason})
			continue
		}
		rows = append(rows, row)
	}
	rep.Valid, rep.New = len(rows), len(rows)
	if len(rep.Rejected) > 0 {
		return rep, &ImportError{Report: rep}
	}
	if opts.DryRun {
		return rep, nil
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		for _, r := range rows {
			if _, err := tx.Exec(ctx, `INSERT INTO reassigned_checks (phone, asked_date, result, answered_at, source) VALUES ($1, $2, $3, $4, $5)`,
				r.phone.String(), r.asked, r.result, r.answered, source); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("reassigned numbers: import: %w", err)
	}
	rep.Imported = len(rows)
	return rep, nil
}

func parseReassigned(c cells, sh *sheet.Sheet, loc *time.Location, now time.Time) (reassignedRow, string) {
	var r reassignedRow
	ph := sh.Phone(c.get("phone"))
	n, err := phone.Parse(ph)
	if err != nil {
		return r, fmt.Sprintf("phone %q: %v", ph, err)
	}
	if _, err := n.NANP(); err != nil {
		return r, fmt.Sprintf("phone %q: the Reassigned Numbers Database covers NANP numbers only", ph)
	}
	r.phone = n
	date := c.get("date")
	asked, prec, err := sh.Time(date, loc)
	if err != nil || prec != 24*time.Hour {
		return r, fmt.Sprintf("date %q: want the date asked about, YYYY-MM-DD", date)
	}
	r.asked = asked
	switch result := strings.ToLower(c.get("result")); result {
	case "yes", "no", "no_data":
		r.result = result
	case "no data":
		r.result = "no_data"
	default:
		return r, fmt.Sprintf("result %q: want yes, no or no_data", c.get("result"))
	}
	r.answered = now
	if v := c.get("answered_at"); v != "" {
		t, prec, err := sh.Time(v, loc)
		if err != nil {
			return r, fmt.Sprintf("answered_at %q is %v", v, err)
		}
		// A date alone means the end of that day, the latest it can mean.
		r.answered = endOf(t, prec, now)
	}
	if r.answered.Before(r.asked) {
		return r, "answered_at is before the date asked about"
	}
	if r.answered.After(now) {
		return r, "answered_at is in the future"
	}
	return r, ""
}

// Reassigned returns, for each of phones that the database reported
// permanently disconnected, the latest time it answered so by at. A
// consent obtained before that time does not count while the firm's
// check_reassigned setting is on (the engine's Facts.ReassignedAt).
// Numbers with no such answer are absent from the map.
func (s *ReassignedStore) Reassigned(ctx context.Context, phones []phone.Number, at time.Time) (map[phone.Number]time.Time, error) {
	list := make([]string, len(phones))
	for i, p := range phones {
		list[i] = p.String()
	}
	rows, err := s.db.Query(ctx, `
		SELECT phone, max(answered_at) FROM reassigned_checks
		 WHERE phone = ANY($1) AND result = 'yes' AND answered_at <= $2 GROUP BY phone`, list, at)
	if err != nil {
		return nil, fmt.Errorf("reassigned numbers: %w", err)
	}
	defer rows.Close()
	out := make(map[phone.Number]time.Time, len(phones))
	for rows.Next() {
		var (
			p string
			t time.Time
		)
		if err := rows.Scan(&p, &t); err != nil {
			return nil, fmt.Errorf("reassigned numbers: %w", err)
		}
		out[phone.Number(p)] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reassigned numbers: %w", err)
	}
	return out, nil
}
