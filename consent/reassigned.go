package consent

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/internal/phone"
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

// ImportReassigned reads CSV answers of the Reassigned Numbers Database:
// the columns phone, date (the date asked about, YYYY-MM-DD) and result
// (yes, no or no_data), and optionally answered_at (RFC 3339 or YYYY-MM-DD:
// when the database answered; default now). The import is all or nothing:
// any invalid line refuses it with an *ImportError that lists every
// rejected line and why.
func (s *ReassignedStore) ImportReassigned(ctx context.Context, r io.Reader, source string, now time.Time) (ImportReport, error) {
	rep := ImportReport{Kind: "reassigned"}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return rep, &ImportError{Report: ImportReport{Kind: "reassigned", Rejected: []RowError{{Line: 1, Reason: "no header line: want phone,date,result[,answered_at]"}}}}
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, need := range []string{"phone", "date", "result"} {
		if _, ok := col[need]; !ok {
			rep.Rejected = append(rep.Rejected, RowError{Line: 1, Reason: "missing column " + need + " (want phone,date,result[,answered_at])"})
		}
	}
	if len(rep.Rejected) > 0 {
		return rep, &ImportError{Report: rep}
	}
	for h := range col {
		if h != "phone" && h != "date" && h != "result" && h != "answered_at" {
			rep.Ignored = append(rep.Ignored, h)
		}
	}
	var rows []reassignedRow
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			rep.Rejected = append(rep.Rejected, RowError{Line: line, Reason: "malformed CSV: " + err.Error()})
			break
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		rep.Rows++
		field := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		row, reason := parseReassigned(field("phone"), field("date"), field("result"), field("answered_at"), now)
		if reason != "" {
			rep.Rejected = append(rep.Rejected, RowError{Line: line, Reason: reason})
			continue
		}
		rows = append(rows, row)
	}
	rep.Valid, rep.New = len(rows), len(rows)
	if len(rep.Rejected) > 0 {
		return rep, &ImportError{Report: rep}
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

func parseReassigned(ph, date, result, answered string, now time.Time) (reassignedRow, string) {
	var r reassignedRow
	n, err := phone.Parse(ph)
	if err != nil {
		return r, fmt.Sprintf("phone %q: %v", ph, err)
	}
	if _, err := n.NANP(); err != nil {
		return r, fmt.Sprintf("phone %q: the Reassigned Numbers Database covers NANP numbers only", ph)
	}
	r.phone = n
	if r.asked, err = time.Parse("2006-01-02", date); err != nil {
		return r, fmt.Sprintf("date %q: want YYYY-MM-DD", date)
	}
	switch strings.ToLower(result) {
	case "yes", "no", "no_data":
		r.result = strings.ToLower(result)
	case "no data":
		r.result = "no_data"
	default:
		return r, fmt.Sprintf("result %q: want yes, no or no_data", result)
	}
	r.answered = now
	if answered != "" {
		if r.answered, err = time.Parse(time.RFC3339, answered); err != nil {
			if r.answered, err = time.Parse("2006-01-02", answered); err != nil {
				return r, fmt.Sprintf("answered_at %q: want RFC 3339 or YYYY-MM-DD", answered)
			}
			// A date alone: the end of that day, the latest it can mean.
			r.answered = r.answered.Add(24*time.Hour - time.Nanosecond)
		}
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
