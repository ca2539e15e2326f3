package campaign

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/audit"
	"github.com/heed-dialer/heed/internal/sheet"
	"github.com/heed-dialer/heed/internal/sheet/sheettest"
)

func TestParseAppointment(t *testing.T) {
	ny := mustZone("America/New_York")
	chi := mustZone("America/Chicago")
	for _, tc := range []struct {
		in   string
		loc  *time.Location
		want string // RFC 3339 in UTC; "" means rejected
	}{
		{"2026-12-01 09:30", ny, "2026-12-01T14:30:00Z"},
		{"2026-12-01T09:30", ny, "2026-12-01T14:30:00Z"},
		{"2026-12-01 9:30 AM", ny, "2026-12-01T14:30:00Z"},
		{"2026-12-01 9:30pm", ny, "2026-12-02T02:30:00Z"},
		{"12/1/2026 09:30", ny, "2026-12-01T14:30:00Z"},
		{"12/01/2026 9:30 am", ny, "2026-12-01T14:30:00Z"},
		{"12/1/2026  2:05PM", chi, "2026-12-01T20:05:00Z"},
		{"2026-07-01 09:30", ny, "2026-07-01T13:30:00Z"},
		{"2026-12-01T09:30:00-08:00", ny, "2026-12-01T17:30:00Z"},
		{"2026-03-08 02:30", ny, ""}, // skipped when clocks spring forward
		{"2026-12-01", ny, ""},       // no time of day
		{"12/1/26 9:30 AM", ny, ""},  // two-digit year
		{"2026-13-01 09:30", ny, ""},
		{"tomorrow at nine", ny, ""},
	} {
		got, err := parseAppointment(tc.in, tc.loc)
		if tc.want == "" {
			if err == nil {
				t.Errorf("parseAppointment(%q) = %s, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got.UTC().Format(time.RFC3339) != tc.want {
			t.Errorf("parseAppointment(%q) = %s, %v; want %s", tc.in, got.UTC().Format(time.RFC3339), err, tc.want)
		}
	}
}

func TestImportContactFields(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()

	_, err := s.ImportContacts(ctx, "bad", strings.NewReader(`name,phone,appointment_at,place,matter,time_zone
Ann,8605550101,2026-12-01 09:30,Room 1,Lee v. Lee,
Bob,8605550102,next week,,,
Cid,8605550103,2026-03-08 02:30,,,
Dee,8605550104,2026-12-01 09:30,,,Mars/Base
Eve,8605550105,,`+strings.Repeat("x", 201)+`,,
`), ImportOptions{})
	var ie *ImportError
	require.True(t, errors.As(err, &ie), "%v", err)
	require.ErrorIs(t, err, ErrImportRejected)
	require.Equal(t, []RowError{
		{Line: 3, Reason: `appointment_at "next week" is not a date and time such as 2026-12-01 09:30, 12/1/2026 9:30 AM or 2026-12-01T09:30:00-05:00`},
		{Line: 4, Reason: `appointment_at "2026-03-08 02:30" does not exist in America/New_York: the clocks skip that hour`},
		{Line: 5, Reason: `time_zone "Mars/Base" is not a time zone name such as America/Chicago`},
		{Line: 6, Reason: "place has 201 characters, at most 200"},
	}, ie.Report.Rejected)
	var n int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM contacts`).Scan(&n))
	require.Zero(t, n, "nothing is imported")

	rep, err := s.ImportContacts(ctx, "good", strings.NewReader(appointmentsCSV), ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, 2, rep.Imported)
	require.Empty(t, rep.Ignored, "the new columns are known")
	var (
		at            time.Time
		place, matter string
	)
	require.NoError(t, db.QueryRow(ctx, `SELECT appointment_at, place, matter FROM contacts WHERE phone = '+18605550102'`).Scan(&at, &place, &matter))
	require.Equal(t, mustTime(t, "2026-12-02T20:00:00Z"), at.UTC(), "2:00 pm in Chicago")
	require.Equal(t, "Room 4", place)
	require.Equal(t, "Estate of Moss", matter)

	// Without the new columns, contacts have none of the fields.
	_, err = s.ImportContacts(ctx, "plain", strings.NewReader("name,phone\nFay,8605550106\n"), ImportOptions{})
	require.NoError(t, err)
	var none bool
	require.NoError(t, db.QueryRow(ctx, `SELECT appointment_at IS NULL AND place = '' AND matter = '' FROM contacts WHERE phone = '+18605550106'`).Scan(&none))
	require.True(t, none)
}

// TestImportRefusesNumbersOutsideNANP: a contact import refuses, with the
// line and the reason, a number heed never calls, rather than keeping a
// contact the gate denies on every attempt (number.unsupported). Text with
// a "+" but no 1 ("+203 555 0199", which reads as Egypt's +20) is refused
// too, naming the North American number it most likely stands for, which
// the import does not call on a guess.
func TestImportRefusesNumbersOutsideNANP(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()

	_, err := s.ImportContacts(ctx, "abroad", strings.NewReader(`name,phone
Ann,8605550101
Bob,+203 555 0199
Cid,+44 20 7946 0958
Dee,+1 203 555 0198
`), ImportOptions{})
	var ie *ImportError
	require.True(t, errors.As(err, &ie), "%v", err)
	require.Equal(t, []RowError{
		{Line: 3, Reason: `phone "+203 555 0199" reads as +20 3 5550199, outside North America, where heed does not call; if +1 203-555-0199 is meant, write its country code 1`},
		{Line: 4, Reason: `phone "+44 20 7946 0958" is +44 20 7946 0958, outside North America, where heed does not call`},
	}, ie.Report.Rejected)
	var n int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM contacts`).Scan(&n))
	require.Zero(t, n, "nothing is imported")
}

// TestContactUpdatesAudited: an import that changes contacts writes one
// audit row for each contact it changes, naming who ran it and the values
// it replaced (migration 00042); a contact left as it was, and the
// contacts first imported, write none. The chain still verifies.
func TestContactUpdatesAudited(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	var pat int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO users (email, role, password_hash) VALUES ('pat@firm.test', 'paralegal', 'x') RETURNING id`).Scan(&pat))
	audited := func() int {
		var n int
		require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE tbl = 'contacts'`).Scan(&n))
		return n
	}

	_, err := s.ImportContacts(ctx, "docket", strings.NewReader("name,phone,state,zip,line_type\nAnn,8605550101,CT,06103,wireless\nBob,8605550102,CT,06103,\n"), ImportOptions{UserID: pat})
	require.NoError(t, err)
	require.Zero(t, audited(), "contacts as first imported are not audited row by row")

	_, err = s.ImportContacts(ctx, "docket", strings.NewReader("name,phone,state,zip,line_type\nAnn,8605550101,NY,10001,landline\nBob,8605550102,CT,06103,\n"), ImportOptions{UserID: pat, UpdateExisting: true})
	require.NoError(t, err)
	require.Equal(t, 1, audited(), "Ann changed; Bob did not")
	var (
		by     int64
		after  map[string]any
		before map[string]any
	)
	require.NoError(t, db.QueryRow(ctx, `
		SELECT (details->>'updated_by')::bigint, details - 'before', details->'before'
		  FROM audit_log WHERE tbl = 'contacts' AND op = 'update' AND details->>'phone' = '+18605550101'`).Scan(&by, &after, &before))
	require.Equal(t, pat, by)
	require.Equal(t, "NY", after["state"])
	require.Equal(t, "landline", after["line_type"])
	require.Equal(t, "CT", before["state"])
	require.Equal(t, "06103", before["zip"])
	require.Equal(t, "wireless", before["line_type"])
	require.NotContains(t, before, "name", "only the values the change replaced")

	_, err = audit.Verify(ctx, db)
	require.NoError(t, err)
}

// TestImportPersonRef: the person reference is read under its own name or
// an alias, trimmed, and refused, with the line and the reason, when it is
// too long or holds a control character; one bad row refuses the file.
func TestImportPersonRef(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()

	_, err := s.ImportContacts(ctx, "bad", strings.NewReader("name,phone,person_ref\n"+
		"Ann,8605550101,D-1\n"+
		"Bob,8605550102,"+strings.Repeat("x", MaxPersonRef+1)+"\n"+
		"Cid,8605550103,\"D-\x073\"\n"+
		"Dee,8605550104,\n"), ImportOptions{})
	var ie *ImportError
	require.True(t, errors.As(err, &ie), "%v", err)
	require.Equal(t, []RowError{
		{Line: 3, Reason: "person_ref: person reference has 101 characters, at most 100"},
		{Line: 4, Reason: `person_ref: person reference "D-\a3" holds a control character`},
	}, ie.Report.Rejected)
	var n int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM contacts`).Scan(&n))
	require.Zero(t, n, "nothing is imported")

	_, err = s.ImportContacts(ctx, "twice", strings.NewReader("name,phone,person,debtor_id\nAnn,8605550101,D-1,D-1\n"), ImportOptions{})
	require.True(t, errors.As(err, &ie), "%v", err)
	require.Equal(t, []RowError{{Line: 1, Reason: `columns "person" and "debtor_id" both give person_ref`}}, ie.Report.Rejected)

	rep, err := s.ImportContacts(ctx, "good", strings.NewReader("name,phone,Debtor_ID,client_id\n"+
		"Ann,8605550101,  D-1 ,C-9\n"+
		"Ann,2035550101,D-1,C-9\n"+
		"Bob,8605550102,,C-9\n"), ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, 3, rep.Imported)
	require.Equal(t, []string{"client_id"}, rep.Ignored, "client_id may be a creditor's id: it is not a person reference")
	require.Equal(t, map[string]string{"+18605550101": "D-1", "+12035550101": "D-1", "+18605550102": ""},
		byPhone(t, db, `SELECT phone, person_ref FROM contacts`))
}

// byPhone returns the second column of query's rows by the first, a phone.
func byPhone(t *testing.T, db *pgxpool.Pool, query string) map[string]string {
	t.Helper()
	rows, err := db.Query(context.Background(), query)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var kv [2]string
		err := r.Scan(&kv[0], &kv[1])
		return kv, err
	})
	require.NoError(t, err)
	out := map[string]string{}
	for _, kv := range got {
		out[kv[0]] = kv[1]
	}
	return out
}

// TestImportAccidentDate: a contact's accident_date (rule E1) is a date,
// typed or a spreadsheet's, never in the future; an update changes it.
func TestImportAccidentDate(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	tomorrow := time.Now().AddDate(0, 0, 2).Format(time.DateOnly)
	_, err := s.ImportContacts(ctx, "pi", strings.NewReader("name,phone,accident_date\n"+
		"Ann,8605550101,2026-10-01\n"+
		"Bob,8605550102,last week\n"+
		"Cid,8605550103,"+tomorrow+"\n"), ImportOptions{})
	var ie *ImportError
	require.True(t, errors.As(err, &ie), "%v", err)
	require.Equal(t, []RowError{
		{Line: 3, Reason: `accident_date "last week" is not a date such as 2026-11-02 or 11/2/2026`},
		{Line: 4, Reason: "accident_date " + tomorrow + " is in the future"},
	}, ie.Report.Rejected)

	rep, err := s.ImportContacts(ctx, "pi", strings.NewReader("name,phone,accident_date\n"+
		"Ann,8605550101,2026-10-01\n"+
		"Bob,8605550102,10/2/2026\n"+
		"Cid,8605550103,\n"), ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, 3, rep.Imported)
	dates := func() map[string]string {
		return byPhone(t, db, `SELECT phone, coalesce(accident_date::text, '') FROM contacts`)
	}
	require.Equal(t, map[string]string{"+18605550101": "2026-10-01", "+18605550102": "2026-10-02", "+18605550103": ""}, dates())

	// A spreadsheet's date; a date with a time of day is refused.
	_, err = s.ImportContacts(ctx, "pi-x", workbook(t, [][]any{{"name", "phone", "accident_date"},
		{"Dee", 8605550104, time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)},
		{"Eve", 8605550105, time.Date(2026, 9, 30, 14, 0, 0, 0, time.UTC)},
	}), ImportOptions{Format: sheet.XLSX})
	require.True(t, errors.As(err, &ie), "%v", err)
	require.Len(t, ie.Report.Rejected, 1)
	require.Equal(t, 3, ie.Report.Rejected[0].Line)
	require.Contains(t, ie.Report.Rejected[0].Reason, "is a spreadsheet date and time; give the date alone")
	_, err = s.ImportContacts(ctx, "pi-x", workbook(t, [][]any{{"name", "phone", "accident_date"},
		{"Dee", 8605550104, time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)}}), ImportOptions{Format: sheet.XLSX})
	require.NoError(t, err)
	require.Equal(t, "2026-09-30", dates()["+18605550104"])

	// Updating the contacts already on the list changes the date.
	rep, err = s.ImportContacts(ctx, "pi", strings.NewReader("name,phone,accident_date\nAnn,8605550101,2026-09-01\nBob,8605550102,10/2/2026\n"),
		ImportOptions{UpdateExisting: true})
	require.NoError(t, err)
	require.Equal(t, []RowError{{Line: 2, Reason: "changes accident_date"}}, rep.Updated)
	require.Equal(t, "2026-09-01", dates()["+18605550101"])
}

func TestParsePersonRef(t *testing.T) {
	for in, want := range map[string]string{"": "", "  ": "", " D-1 ": "D-1", "Ünal 42": "Ünal 42", strings.Repeat("é", MaxPersonRef): strings.Repeat("é", MaxPersonRef)} {
		got, err := ParsePersonRef(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got)
	}
	for _, in := range []string{strings.Repeat("x", MaxPersonRef+1), "a\tb", "a\nb", "\xff"} {
		_, err := ParsePersonRef(in)
		require.Error(t, err, "%q", in)
	}
}

// workbook is sheettest.Workbook, to read.
func workbook(t *testing.T, rows [][]any) *bytes.Reader {
	t.Helper()
	return bytes.NewReader(sheettest.Workbook(t, rows))
}

// TestImportContactsXLSX: a spreadsheet with its own headers, mapped to
// heed's columns, whose phone numbers and ZIP codes are numbers and whose
// appointments are date serials; rejected rows name their row numbers; a
// dry run checks the list as an import does and writes nothing.
func TestImportContactsXLSX(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	cols := map[string]string{"client name": "name", "cell": "phone", "court date": "appointment_at"}
	header := []any{"Client Name", "Cell", "ZIP", "Court Date", "Notes"}
	ann := []any{"Ann", 8605550101, 6103, time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC), "bring the lease"}
	count := func(sql string) int {
		var n int
		require.NoError(t, db.QueryRow(ctx, sql).Scan(&n))
		return n
	}

	_, err := s.ImportContacts(ctx, "court", workbook(t, [][]any{header, ann,
		{"Bob", "8605550102", "", time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)},
		{"Cid", 8605550103, 6103, time.Date(2026, 3, 8, 2, 30, 0, 0, time.UTC)},
		{"Dee", 8605550104, "", 0.375},
	}), ImportOptions{Format: sheet.XLSX, Columns: cols})
	var ie *ImportError
	require.True(t, errors.As(err, &ie), "%v", err)
	require.Equal(t, []RowError{
		{Line: 3, Reason: `appointment_at "46358" is a spreadsheet date (2026-12-02) without a time of day`},
		{Line: 4, Reason: `appointment_at "2026-03-08 02:30" does not exist in America/New_York: the clocks skip that hour`},
		{Line: 5, Reason: `appointment_at "0.375" is a spreadsheet time of day without a date`},
	}, ie.Report.Rejected)
	require.Equal(t, 4, ie.Report.Rows)
	require.Equal(t, []string{"Notes"}, ie.Report.Ignored)
	require.Zero(t, count(`SELECT count(*) FROM contacts`), "nothing is imported")

	good := [][]any{header, ann, {"Bob", "2035550102", 61031234, time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)}}
	rep, err := s.ImportContacts(ctx, "court", workbook(t, good), ImportOptions{Format: sheet.XLSX, Columns: cols, DryRun: true})
	require.NoError(t, err)
	require.Equal(t, ImportReport{List: "court", DryRun: true, Rows: 2, Valid: 2, Ignored: []string{"Notes"}}, rep)
	require.Zero(t, count(`SELECT count(*) FROM contacts`), "a dry run writes nothing")
	require.Zero(t, count(`SELECT count(*) FROM contact_lists`), "a dry run creates no list")

	rep, err = s.ImportContacts(ctx, "court", workbook(t, good), ImportOptions{Format: sheet.XLSX, Columns: cols})
	require.NoError(t, err)
	require.Equal(t, 2, rep.Imported)
	require.Positive(t, rep.ListID)
	var (
		zip string
		at  time.Time
	)
	require.NoError(t, db.QueryRow(ctx, `SELECT zip, appointment_at FROM contacts WHERE phone = '+18605550101'`).Scan(&zip, &at))
	require.Equal(t, "06103", zip, "the leading zero a spreadsheet drops")
	require.Equal(t, mustTime(t, "2026-12-01T14:30:00Z"), at.UTC(), "9:30 in New York")
	require.NoError(t, db.QueryRow(ctx, `SELECT zip FROM contacts WHERE phone = '+12035550102'`).Scan(&zip))
	require.Equal(t, "06103-1234", zip)

	// A dry run of the same file again finds its numbers on the list.
	_, err = s.ImportContacts(ctx, "court", workbook(t, good), ImportOptions{Format: sheet.XLSX, Columns: cols, DryRun: true})
	require.True(t, errors.As(err, &ie), "%v", err)
	require.Equal(t, []RowError{
		{Line: 2, Reason: `phone +18605550101 is already on list "court"`},
		{Line: 3, Reason: `phone +12035550102 is already on list "court"`},
	}, ie.Report.Rejected)
	require.Equal(t, 2, count(`SELECT count(*) FROM contacts`))

	// The same file with a new row, skipping the numbers already on the
	// list: only the new contact is written, and the old ones keep their
	// fields (Ann's appointment is not moved).
	newer := append(good, []any{"Cid", 8605550103, 6103, time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)})
	newer[1] = []any{"Ann", 8605550101, 6103, time.Date(2026, 12, 9, 9, 30, 0, 0, time.UTC)}
	rep, err = s.ImportContacts(ctx, "court", workbook(t, newer), ImportOptions{Format: sheet.XLSX, Columns: cols, SkipExisting: true})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Imported)
	require.Equal(t, 1, rep.Valid)
	require.Equal(t, []RowError{
		{Line: 2, Reason: `phone +18605550101 is already on list "court"`},
		{Line: 3, Reason: `phone +12035550102 is already on list "court"`},
	}, rep.Skipped)
	require.Equal(t, 3, count(`SELECT count(*) FROM contacts`))
	require.NoError(t, db.QueryRow(ctx, `SELECT appointment_at FROM contacts WHERE phone = '+18605550101'`).Scan(&at))
	require.Equal(t, mustTime(t, "2026-12-01T14:30:00Z"), at.UTC())
	// Skipping does not excuse the file's own errors.
	_, err = s.ImportContacts(ctx, "court", workbook(t, [][]any{header, ann, {"", 8605550104}}), ImportOptions{Format: sheet.XLSX, Columns: cols, SkipExisting: true})
	require.True(t, errors.As(err, &ie), "%v", err)
	require.Equal(t, []RowError{{Line: 3, Reason: "name is empty"}}, ie.Report.Rejected)
	require.Equal(t, 3, count(`SELECT count(*) FROM contacts`))
}

// TestImportContactsUpdateExisting: a file whose rows are already on the
// list updates those contacts with its columns (an empty cell empties a
// field, a column the file lacks is kept), adds its new rows, reports
// which fields each row changes, and in a dry run writes nothing.
func TestImportContactsUpdateExisting(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	type contact struct {
		Name, ZIP, Place, Person string
		At                       *time.Time
	}
	read := func(phone string) contact {
		var c contact
		require.NoError(t, db.QueryRow(ctx, `SELECT name, zip, place, person_ref, appointment_at FROM contacts WHERE phone = $1`, phone).
			Scan(&c.Name, &c.ZIP, &c.Place, &c.Person, &c.At))
		if c.At != nil {
			*c.At = c.At.UTC()
		}
		return c
	}
	count := func() int {
		var n int
		require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM contacts`).Scan(&n))
		return n
	}
	at := func(s string) *time.Time { v := mustTime(t, s); return &v }

	_, err := s.ImportContacts(ctx, "docket", strings.NewReader(`name,phone,zip,appointment_at,place,person_ref
Ann,8605550101,06103,2026-12-01 09:30,Hartford Superior Court,D-1
Bob,8605550102,,2026-12-02 10:00,,
Cid,8605550103,,2026-12-03 09:00,,
`), ImportOptions{})
	require.NoError(t, err)
	ann := read("+18605550101")

	// Ann's hearing moved, Bob's did not, Cid's name is corrected and his
	// appointment cancelled, Dee is new. The file has no place, zip or
	// person_ref column.
	moved := `name,phone,appointment_at
Ann,8605550101,2026-12-08 09:30
Bob,(860) 555-0102,2026-12-02 10:00
Cid Smith,8605550103,
Dee,8605550104,2026-12-04 11:00
`
	_, err = s.ImportContacts(ctx, "docket", strings.NewReader(moved), ImportOptions{SkipExisting: true, UpdateExisting: true})
	require.ErrorIs(t, err, ErrInvalid)

	rep, err := s.ImportContacts(ctx, "docket", strings.NewReader(moved), ImportOptions{UpdateExisting: true, DryRun: true})
	require.NoError(t, err)
	updated := []RowError{{Line: 2, Reason: "changes appointment_at"}, {Line: 4, Reason: "changes name, appointment_at"}}
	require.Equal(t, ImportReport{List: "docket", DryRun: true, Rows: 4, Valid: 4, Updated: updated, Unchanged: 1}, rep)
	require.Equal(t, ann, read("+18605550101"), "a dry run changes nothing")
	require.Equal(t, 3, count())

	rep, err = s.ImportContacts(ctx, "docket", strings.NewReader(moved), ImportOptions{UpdateExisting: true})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Imported)
	require.Equal(t, updated, rep.Updated)
	require.Equal(t, 1, rep.Unchanged)
	require.Equal(t, 4, count())
	require.Equal(t, contact{Name: "Ann", ZIP: "06103", Place: "Hartford Superior Court", Person: "D-1", At: at("2026-12-08T14:30:00Z")},
		read("+18605550101"), "the new appointment; the columns the file lacks are kept")
	require.Equal(t, contact{Name: "Cid Smith"}, read("+18605550103"), "an empty cell empties the appointment")
	require.Equal(t, contact{Name: "Dee", At: at("2026-12-04T16:00:00Z")}, read("+18605550104"))

	// An empty person_ref cell empties it; a file with an invalid row
	// updates nothing.
	_, err = s.ImportContacts(ctx, "docket", strings.NewReader("name,phone,person_ref\nAnn,8605550101,\n,8605550105,P-5\n"), ImportOptions{UpdateExisting: true})
	var ie *ImportError
	require.True(t, errors.As(err, &ie), "%v", err)
	require.Equal(t, []RowError{{Line: 3, Reason: "name is empty"}}, ie.Report.Rejected)
	require.Equal(t, "D-1", read("+18605550101").Person)
	rep, err = s.ImportContacts(ctx, "docket", strings.NewReader("name,phone,person_ref\nAnn,8605550101,\n"), ImportOptions{UpdateExisting: true})
	require.NoError(t, err)
	require.Equal(t, []RowError{{Line: 2, Reason: "changes person_ref"}}, rep.Updated)
	require.Equal(t, "", read("+18605550101").Person)
	require.Equal(t, "Hartford Superior Court", read("+18605550101").Place)

	// A campaign whose message says the date still has to call Ann and
	// Dee: emptying their appointments is refused (their messages could
	// not be said), emptying Ann's place is not (the message does not say
	// it). Once Dee's call is done, hers may be emptied.
	c, err := s.Create(ctx, NewCampaign{Name: "Hearings", Purpose: "informational", ListID: rep.ListID, CallerID: "860-555-0100",
		Message: "Your hearing is on {date} at {time}."}, 0)
	// Cid has no appointment: the campaign is refused until he has one.
	require.ErrorContains(t, err, "Cid Smith")
	_, err = s.ImportContacts(ctx, "docket", strings.NewReader("name,phone,appointment_at\nCid Smith,8605550103,2026-12-10 09:00\n"), ImportOptions{UpdateExisting: true})
	require.NoError(t, err)
	c, err = s.Create(ctx, NewCampaign{Name: "Hearings", Purpose: "informational", ListID: rep.ListID, CallerID: "860-555-0100",
		Message: "Your hearing is on {date} at {time}."}, 0)
	require.NoError(t, err)
	cancelled := "name,phone,appointment_at,place\nAnn,8605550101,,\nDee,8605550104,,\n"
	_, err = s.ImportContacts(ctx, "docket", strings.NewReader(cancelled), ImportOptions{UpdateExisting: true})
	require.True(t, errors.As(err, &ie), "%v", err)
	reason := `appointment_at is empty, but campaign "Hearings" still has to call this contact and its message uses {date} and {time}`
	require.Equal(t, []RowError{{Line: 2, Reason: reason}, {Line: 3, Reason: reason}}, ie.Report.Rejected)
	require.NotNil(t, read("+18605550101").At, "nothing is updated")
	_, err = db.Exec(ctx, `UPDATE campaign_targets t SET state = 'done' FROM contacts c WHERE c.id = t.contact_id AND t.campaign_id = $1 AND c.phone = '+18605550104'`, c.ID)
	require.NoError(t, err)
	_, err = s.ImportContacts(ctx, "docket", strings.NewReader(cancelled), ImportOptions{UpdateExisting: true})
	require.True(t, errors.As(err, &ie), "%v", err)
	require.Equal(t, []RowError{{Line: 2, Reason: reason}}, ie.Report.Rejected)
	rep, err = s.ImportContacts(ctx, "docket", strings.NewReader("name,phone,appointment_at,place\nAnn,8605550101,2026-12-08 09:30,\nDee,8605550104,,\n"), ImportOptions{UpdateExisting: true})
	require.NoError(t, err)
	require.Equal(t, []RowError{{Line: 2, Reason: "changes place"}, {Line: 3, Reason: "changes appointment_at"}}, rep.Updated)
	require.Equal(t, contact{Name: "Dee"}, read("+18605550104"))

	// A target being dialed counts (a failed call is tried again); a
	// cancelled campaign's pending targets do not.
	_, err = db.Exec(ctx, `UPDATE campaign_targets t SET state = 'dialing' FROM contacts c WHERE c.id = t.contact_id AND t.campaign_id = $1 AND c.phone = '+18605550101'`, c.ID)
	require.NoError(t, err)
	_, err = s.ImportContacts(ctx, "docket", strings.NewReader(cancelled), ImportOptions{UpdateExisting: true})
	require.True(t, errors.As(err, &ie), "%v", err)
	require.Equal(t, []RowError{{Line: 2, Reason: reason}}, ie.Report.Rejected)
	require.Nil(t, ie.Report.Updated, "a refused import updates nothing, and says so")
	_, err = db.Exec(ctx, `UPDATE campaigns SET status = 'cancelled' WHERE id = $1`, c.ID)
	require.NoError(t, err)
	_, err = s.ImportContacts(ctx, "docket", strings.NewReader(cancelled), ImportOptions{UpdateExisting: true})
	require.NoError(t, err)
	require.Nil(t, read("+18605550101").At)
}

// TestCreateWaitsForImport: a campaign created while a contacts import
// into its list is in flight waits for it, and checks the contacts again:
// an import that empties an appointment the message says, committed after
// the campaign's checks first passed, makes the campaign refused, not
// created with a target whose message cannot be said.
func TestCreateWaitsForImport(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	rep, err := s.ImportContacts(ctx, "docket", strings.NewReader("name,phone,appointment_at\nAnn,8605550101,2026-12-01 09:30\n"), ImportOptions{})
	require.NoError(t, err)

	// An import in flight, as ImportContacts holds it: the list's row
	// locked, Ann's appointment emptied, not yet committed.
	tx := holdOpen(t, db, `INSERT INTO contact_lists (name) VALUES ('docket') ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name`)
	_, err = tx.Exec(ctx, `UPDATE contacts SET appointment_at = NULL WHERE phone = '+18605550101'`)
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		_, err := s.Create(ctx, NewCampaign{Name: "Hearings", Purpose: "informational", ListID: rep.ListID, CallerID: "860-555-0100",
			Message: "Your hearing is on {date} at {time}."}, 0)
		done <- err
	}()
	// Commit once the campaign waits for the list's lock.
	waitForLock(t, db, "FROM contact_lists WHERE id = $1 FOR SHARE")
	require.NoError(t, tx.Commit(ctx))
	err = <-done
	var fe FieldErrors
	require.ErrorAs(t, err, &fe)
	require.Contains(t, fe["message"], "Ann (+18605550101)")
	var n int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM campaigns`).Scan(&n))
	require.Zero(t, n)
}

// TestImportLineType imports contacts' line types, in the engine's words
// and the usual others, refuses one heed cannot read with its line, keeps
// the type when an update's file has no such column and changes it when it
// has, and gives it to the pacing loop with each due contact.
func TestImportLineType(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	_, err := s.ImportContacts(ctx, "lines", strings.NewReader("name,phone,line_type\nAnn,8605550101,Mobile\nBob,8605550102,satellite\n"), ImportOptions{})
	var ie *ImportError
	require.True(t, errors.As(err, &ie), "%v", err)
	require.Equal(t, []RowError{{Line: 3, Reason: `line_type "satellite" is not wireless, landline or unknown (write unknown for a VoIP or other line)`}}, ie.Report.Rejected)
	_, err = s.ImportContacts(ctx, "lines", strings.NewReader("name,phone,line_type\nAnn,8605550101,fixed\nBob,8605550102,VoIP\n"), ImportOptions{})
	require.True(t, errors.As(err, &ie), "%v", err)
	require.Len(t, ie.Report.Rejected, 2, "lookups call internet lines fixed or VoIP: never a landline")

	rep, err := s.ImportContacts(ctx, "lines", strings.NewReader("name,phone,line_type\n"+
		"Ann,8605550101,Mobile\nBob,8605550102,LANDLINE\nCid,8605550103,\nDee,8605550104,wireline\nEve,8605550105,unknown\n"), ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, 5, rep.Imported)
	lines := func() map[string]string { return byPhone(t, db, `SELECT phone, line_type FROM contacts`) }
	require.Equal(t, map[string]string{"+18605550101": "wireless", "+18605550102": "landline", "+18605550103": "unknown",
		"+18605550104": "landline", "+18605550105": "unknown"}, lines())

	// An update without the column keeps the types; one with it changes them.
	_, err = s.ImportContacts(ctx, "lines", strings.NewReader("name,phone\nAnn A.,8605550101\n"), ImportOptions{UpdateExisting: true})
	require.NoError(t, err)
	require.Equal(t, "wireless", lines()["+18605550101"])
	rep, err = s.ImportContacts(ctx, "lines", strings.NewReader("name,phone,line_type\nAnn A.,8605550101,landline\n"), ImportOptions{UpdateExisting: true})
	require.NoError(t, err)
	require.Equal(t, []RowError{{Line: 2, Reason: "changes line_type"}}, rep.Updated)
	require.Equal(t, "landline", lines()["+18605550101"])

	var listID int64
	require.NoError(t, db.QueryRow(ctx, `SELECT id FROM contact_lists WHERE name = 'lines'`).Scan(&listID))
	c, err := s.Create(ctx, NewCampaign{Name: "Lines", Purpose: "informational", ListID: listID, Message: "Hello.", CallerID: "860-555-0100"}, 0)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `UPDATE campaigns SET status = 'running' WHERE id = $1`, c.ID)
	require.NoError(t, err)
	due, err := NewStore(db).Due(ctx, c.ID, 10, time.Now())
	require.NoError(t, err)
	got := map[string]consent.LineType{}
	for _, tg := range due {
		got[tg.Phone.String()] = tg.Line
	}
	require.Equal(t, map[string]consent.LineType{"+18605550101": consent.LineLandline, "+18605550102": consent.LineLandline,
		"+18605550103": consent.LineUnknown, "+18605550104": consent.LineLandline, "+18605550105": consent.LineUnknown}, got)
}
