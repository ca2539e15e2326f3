package campaign

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/heed-dialer/heed/internal/phone"
)

// ErrImportRejected reports an import that was refused whole because some
// rows are invalid; the ImportError carries every rejected row.
var ErrImportRejected = errors.New("import rejected; nothing was imported")

// MaxImportRows bounds one contacts import.
const MaxImportRows = 200000

// RowError says why one line of an import was rejected.
type RowError struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// ImportReport describes an import, successful or not.
type ImportReport struct {
	List     string     `json:"list"`
	ListID   int64      `json:"list_id,omitempty"`
	Imported int        `json:"imported"`
	Rejected []RowError `json:"rejected,omitempty"`
	Ignored  []string   `json:"ignored_columns,omitempty"`
}

// ImportError is returned when an import is refused. It wraps
// ErrImportRejected and carries the report of every rejected row.
type ImportError struct{ Report ImportReport }

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d row(s) rejected, nothing imported", len(e.Report.Rejected))
	for i, r := range e.Report.Rejected {
		if i == 20 {
			fmt.Fprintf(&b, "; and %d more", len(e.Report.Rejected)-20)
			break
		}
		fmt.Fprintf(&b, "; line %d: %s", r.Line, r.Reason)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrImportRejected) true.
func (e *ImportError) Unwrap() error { return ErrImportRejected }

// ContactList is a named list of contacts.
type ContactList struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Contacts int    `json:"contacts"`
}

var usStates = map[string]bool{}

// defaultZone reads appointments of rows without a time_zone.
var defaultZone = mustZone(DefaultTimeZone)

func init() {
	for _, s := range strings.Fields("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP") {
		usStates[s] = true
	}
}

type contactRow struct {
	name, phone, state, zip, ref string
	appointment                  *time.Time
	place, matter                string
	person                       string
}

// MaxPersonRef is the most characters a contact's person reference may have.
const MaxPersonRef = 100

// PersonColumns are the headers a contacts file may give the person
// reference under (in any case); the first is its own name. "client_id" is
// not one of them: in a debt collection list the firm's client is the
// creditor, and a creditor's id would make all of its debtors one person.
var PersonColumns = []string{"person_ref", "person", "debtor_id"}

// ParsePersonRef returns a person reference (the firm's client or debtor id
// for the person a contact is) trimmed of surrounding space. It returns an
// error when the reference is longer than MaxPersonRef characters or holds
// a control character. The empty reference, a person unknown, is valid.
func ParsePersonRef(s string) (string, error) {
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n > MaxPersonRef {
		return "", fmt.Errorf("person reference has %d characters, at most %d", n, MaxPersonRef)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("person reference %q is not valid UTF-8", s)
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return "", fmt.Errorf("person reference %q holds a control character", s)
	}
	return s, nil
}

// AppointmentFormats are the accepted forms of a contact's appointment_at:
// RFC 3339 with its offset, or a local date and time read in the row's
// time_zone column (an IANA name; America/New_York when the column is
// absent or empty). AM/PM may be written in either case.
var AppointmentFormats = []string{
	"2006-01-02T15:04:05Z07:00", // RFC 3339: 2026-12-01T09:30:00-05:00
	"2006-01-02 15:04",          // 2026-12-01 09:30
	"2006-01-02T15:04",          // 2026-12-01T09:30
	"2006-01-02 3:04 PM",        // 2026-12-01 9:30 AM
	"1/2/2006 15:04",            // 12/1/2026 09:30
	"1/2/2006 3:04 PM",          // 12/1/2026 9:30 AM
}

// maxTextField bounds a contact's place and matter.
const maxTextField = 200

// parseAppointment reads an appointment date and time in one of
// AppointmentFormats. A local time that does not exist in loc (clocks
// spring forward over it) is refused.
func parseAppointment(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	v := strings.ToUpper(strings.Join(strings.Fields(s), " "))
	// "9:30AM" is read as "9:30 AM".
	if strings.HasSuffix(v, "AM") || strings.HasSuffix(v, "PM") {
		if n := len(v) - 2; n > 0 && v[n-1] != ' ' {
			v = v[:n] + " " + v[n:]
		}
	}
	for _, l := range AppointmentFormats[1:] {
		wall, err := time.Parse(l, v)
		if err != nil {
			continue
		}
		t := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), 0, 0, loc)
		if t.Hour() != wall.Hour() || t.Minute() != wall.Minute() || t.Day() != wall.Day() {
			return time.Time{}, fmt.Errorf("%q does not exist in %s: the clocks skip that hour", s, loc)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time such as 2026-12-01 09:30, 12/1/2026 9:30 AM or 2026-12-01T09:30:00-05:00", s)
}

// ImportContacts reads a CSV file with the columns name and phone, and
// optionally state, zip, external_ref, appointment_at, place, matter,
// time_zone and person_ref, into the named list (created if new). Phones
// are normalised to E.164. appointment_at takes one of AppointmentFormats: a
// local date and time is read in the row's time_zone (an IANA name such as
// America/Chicago; America/New_York when empty). place and matter are free
// text of at most 200 characters. person_ref (also read under the other
// PersonColumns headers) names the person, as ParsePersonRef reads it: the
// call caps count a person's calls to all their numbers. The import is
// all-or-nothing: if any row
// is invalid, or the file is malformed, nothing is stored and the error
// reports each rejected line and why.
func (s *Service) ImportContacts(ctx context.Context, listName string, r io.Reader, userID int64) (ImportReport, error) {
	rep := ImportReport{List: strings.TrimSpace(listName)}
	if rep.List == "" {
		return rep, fmt.Errorf("contacts import: a list name is required: %w", ErrInvalid)
	}
	rows, err := parseContacts(r, &rep)
	if err != nil {
		return rep, err
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO contact_lists (name, created_by) VALUES ($1, NULLIF($2, 0))
			ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id`, rep.List, userID).Scan(&rep.ListID)
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		existing := map[string]bool{}
		prows, err := tx.Query(ctx, `SELECT phone FROM contacts WHERE list_id = $1`, rep.ListID)
		if err != nil {
			return fmt.Errorf("existing contacts: %w", err)
		}
		phones, err := pgx.CollectRows(prows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("existing contacts: %w", err)
		}
		for _, p := range phones {
			existing[p] = true
		}
		for line, c := range rows {
			if existing[c.phone] {
				rep.Rejected = append(rep.Rejected, RowError{Line: line, Reason: fmt.Sprintf("phone %s is already on list %q", c.phone, rep.List)})
			}
		}
		if len(rep.Rejected) > 0 {
			return &ImportError{Report: rep}
		}
		src := make([][]any, 0, len(rows))
		for _, c := range sortedRows(rows) {
			src = append(src, []any{rep.ListID, c.name, c.phone, c.state, c.zip, c.ref, c.appointment, c.place, c.matter, c.person})
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"contacts"},
			[]string{"list_id", "name", "phone", "state", "zip", "external_ref", "appointment_at", "place", "matter", "person_ref"}, pgx.CopyFromRows(src))
		if err != nil {
			return fmt.Errorf("copy contacts: %w", err)
		}
		rep.Imported = int(n)
		return nil
	})
	if err != nil {
		var ie *ImportError
		if errors.As(err, &ie) {
			rep.ListID, rep.Imported = 0, 0
			ie.Report = rep
			return rep, ie
		}
		return ImportReport{List: rep.List}, fmt.Errorf("contacts import: %w", err)
	}
	return rep, nil
}

func sortedRows(rows map[int]contactRow) []contactRow {
	out := make([]contactRow, 0, len(rows))
	for _, line := range slices.Sorted(maps.Keys(rows)) {
		out = append(out, rows[line])
	}
	return out
}

// parseContacts validates the whole file. It returns the valid rows by line
// number, or an *ImportError listing every rejected row.
func parseContacts(r io.Reader, rep *ImportReport) (map[int]contactRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		rep.Rejected = append(rep.Rejected, RowError{Line: 1, Reason: "the file is empty; expected a header row with name and phone"})
		return nil, &ImportError{Report: *rep}
	}
	if err != nil {
		return nil, malformed(rep, err)
	}
	col := map[string]int{}
	personHeader := ""
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if slices.Contains(PersonColumns, h) {
			if personHeader != "" {
				rep.Rejected = append(rep.Rejected, RowError{Line: 1, Reason: fmt.Sprintf("columns %q and %q both give the person reference", personHeader, h)})
				continue
			}
			personHeader = h
			col[PersonColumns[0]] = i
			continue
		}
		switch h {
		case "name", "phone", "state", "zip", "external_ref", "appointment_at", "place", "matter", "time_zone":
			if _, dup := col[h]; dup {
				rep.Rejected = append(rep.Rejected, RowError{Line: 1, Reason: fmt.Sprintf("column %q appears twice", h)})
			}
			col[h] = i
		default:
			rep.Ignored = append(rep.Ignored, h)
		}
	}
	for _, need := range []string{"name", "phone"} {
		if _, ok := col[need]; !ok {
			rep.Rejected = append(rep.Rejected, RowError{Line: 1, Reason: fmt.Sprintf("missing required column %q (columns: name, phone; optional: state, zip, external_ref, appointment_at, place, matter, time_zone, person_ref)", need)})
		}
	}
	if len(rep.Rejected) > 0 {
		return nil, &ImportError{Report: *rep}
	}
	get := func(rec []string, name string) string {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	rows := map[int]contactRow{}
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, malformed(rep, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rows)+len(rep.Rejected) >= MaxImportRows {
			rep.Rejected = append(rep.Rejected, RowError{Line: line, Reason: fmt.Sprintf("too many rows: at most %d per import", MaxImportRows)})
			break
		}
		if len(rec) != len(header) {
			rep.Rejected = append(rep.Rejected, RowError{Line: line, Reason: fmt.Sprintf("has %d fields, the header has %d", len(rec), len(header))})
			continue
		}
		c := contactRow{name: get(rec, "name"), state: strings.ToUpper(get(rec, "state")), zip: get(rec, "zip"), ref: get(rec, "external_ref")}
		var reasons []string
		if c.name == "" {
			reasons = append(reasons, "name is empty")
		}
		raw := get(rec, "phone")
		if p, err := phone.Parse(raw); err != nil {
			reasons = append(reasons, fmt.Sprintf("phone %q is not a valid phone number", raw))
		} else {
			c.phone = p.String()
			if first, dup := seen[c.phone]; dup {
				reasons = append(reasons, fmt.Sprintf("phone %s is also on line %d", c.phone, first))
			} else {
				seen[c.phone] = line
			}
		}
		if c.state != "" && !usStates[c.state] {
			reasons = append(reasons, fmt.Sprintf("state %q is not a two-letter US state code", get(rec, "state")))
		}
		if c.zip != "" && !validZIP(c.zip) {
			reasons = append(reasons, fmt.Sprintf("zip %q is not a 5-digit or ZIP+4 code", c.zip))
		}
		loc := defaultZone
		if tz := get(rec, "time_zone"); tz != "" {
			if l, err := loadZone(tz); err != nil {
				reasons = append(reasons, fmt.Sprintf("time_zone %q is not a time zone name such as America/Chicago", tz))
			} else {
				loc = l
			}
		}
		if v := get(rec, "appointment_at"); v != "" {
			if t, err := parseAppointment(v, loc); err != nil {
				reasons = append(reasons, "appointment_at "+err.Error())
			} else {
				c.appointment = &t
			}
		}
		for _, f := range []struct {
			name string
			dst  *string
		}{{"place", &c.place}, {"matter", &c.matter}} {
			*f.dst = get(rec, f.name)
			if n := utf8.RuneCountInString(*f.dst); n > maxTextField {
				reasons = append(reasons, fmt.Sprintf("%s has %d characters, at most %d", f.name, n, maxTextField))
			}
		}
		if ref, err := ParsePersonRef(get(rec, PersonColumns[0])); err != nil {
			reasons = append(reasons, personHeader+": "+err.Error())
		} else {
			c.person = ref
		}
		if len(reasons) > 0 {
			rep.Rejected = append(rep.Rejected, RowError{Line: line, Reason: strings.Join(reasons, "; ")})
			continue
		}
		rows[line] = c
	}
	if len(rep.Rejected) > 0 {
		return nil, &ImportError{Report: *rep}
	}
	if len(rows) == 0 {
		rep.Rejected = append(rep.Rejected, RowError{Line: 2, Reason: "the file has a header but no contacts"})
		return nil, &ImportError{Report: *rep}
	}
	return rows, nil
}

func malformed(rep *ImportReport, err error) error {
	var pe *csv.ParseError
	line := 0
	if errors.As(err, &pe) {
		line = pe.Line
		err = pe.Err
	}
	rep.Rejected = append(rep.Rejected, RowError{Line: line, Reason: "malformed CSV: " + err.Error()})
	return &ImportError{Report: *rep}
}

func validZIP(z string) bool {
	digits := func(s string) bool {
		for _, r := range s {
			if r < '0' || r > '9' {
				return false
			}
		}
		return true
	}
	switch len(z) {
	case 5:
		return digits(z)
	case 10:
		return z[5] == '-' && digits(z[:5]) && digits(z[6:])
	}
	return false
}

// Lists returns every contact list with its size.
func (s *Service) Lists(ctx context.Context) ([]ContactList, error) {
	rows, err := s.db.Query(ctx, `SELECT l.id, l.name, (SELECT count(*) FROM contacts c WHERE c.list_id = l.id) FROM contact_lists l ORDER BY l.name`)
	if err != nil {
		return nil, fmt.Errorf("campaign: lists: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ContactList])
	if err != nil {
		return nil, fmt.Errorf("campaign: lists: %w", err)
	}
	return out, nil
}
