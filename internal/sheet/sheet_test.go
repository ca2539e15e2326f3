package sheet_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/sheet"
	"github.com/heed-dialer/heed/internal/sheet/sheettest"
)

// workbook is sheettest.Workbook.
var workbook = sheettest.Workbook

func TestReadCSVAndXLSX(t *testing.T) {
	t.Parallel()
	csv, err := sheet.Read(strings.NewReader("name,phone\n\nAnn,8605550101\n , \nBob,2035550102\n"), sheet.CSV, 10)
	require.NoError(t, err)
	require.False(t, csv.Excel)
	require.Equal(t, []string{"name", "phone"}, csv.Header)
	require.Equal(t, []sheet.Row{{Line: 3, Fields: []string{"Ann", "8605550101"}}, {Line: 5, Fields: []string{"Bob", "2035550102"}}}, csv.Rows,
		"blank rows are skipped and lines are the file's")
	// A byte-order mark before a quoted header (PowerShell's Export-Csv).
	bom, err := sheet.Read(strings.NewReader("\ufeff\"name\",\"phone\"\r\n\"Ann\",\"8605550101\"\r\n"), sheet.CSV, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"name", "phone"}, bom.Header)

	x, err := sheet.Read(bytes.NewReader(workbook(t, [][]any{{"name", "phone"}, {}, {"Ann", 8605550101}})), sheet.XLSX, 10)
	require.NoError(t, err)
	require.True(t, x.Excel)
	require.Equal(t, []sheet.Row{{Line: 3, Fields: []string{"Ann", "8605550101"}}}, x.Rows, "a row's line is its row number")

	for _, tc := range []struct {
		name   string
		format sheet.Format
		data   []byte
		line   int
		reason string
	}{
		{"EmptyCSV", sheet.CSV, []byte("\n\n"), 1, "the file is empty"},
		{"EmptyXLSX", sheet.XLSX, workbook(t, nil), 1, "the file is empty"},
		{"MalformedCSV", sheet.CSV, []byte("name,phone\n\"Ann,1\nBob,2\n"), 2, "malformed CSV"},
		{"NotXLSX", sheet.XLSX, []byte("name,phone\n"), 0, "not a readable XLSX file"},
		{"TooManyRows", sheet.CSV, []byte("a\n1\n2\n3\n4\n"), 5, "too many rows: at most 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sheet.Read(bytes.NewReader(tc.data), tc.format, 3)
			var p *sheet.Problem
			require.True(t, errors.As(err, &p), "%v", err)
			require.Equal(t, tc.line, p.Line)
			require.Contains(t, p.Reason, tc.reason)
		})
	}
	_, err = sheet.Read(strings.NewReader("a\n"), sheet.Format("pdf"), 3)
	require.ErrorIs(t, err, sheet.ErrUnknownFormat)
}

// TestColumns: headers in any case and with a byte-order mark, a mapping,
// aliases, and every problem a header can have, each reported on line 1.
func TestColumns(t *testing.T) {
	t.Parallel()
	sh := &sheet.Sheet{Header: []string{"\ufeffClient Name", " PHONE ", "Debtor_ID", "notes", ""}}
	col, ignored, problems := sh.Columns(map[string]string{"client name": "name"}, map[string]string{"debtor_id": "person_ref"},
		[]string{"name", "phone"}, []string{"zip", "person_ref"})
	require.Empty(t, problems)
	require.Equal(t, sheet.Columns{"name": 0, "phone": 1, "person_ref": 2}, col)
	require.Equal(t, []string{"notes"}, ignored)
	fields := []string{" Ann ", "8605550101", "D-1"}
	require.Equal(t, "Ann", col.Get(fields, "name"))
	require.Equal(t, "D-1", col.Get(fields, "person_ref"))
	require.Empty(t, col.Get(fields, "zip"), "a column the file lacks")
	require.Empty(t, col.Get(fields[:1], "phone"), "a row that stops early")

	// A mapping may name an alias; a header mapped to a column heed does
	// not read is a problem, not an ignored column.
	sh = &sheet.Sheet{Header: []string{"Client", "Cell", "Debtor", "Notes"}}
	col, ignored, problems = sh.Columns(map[string]string{"client": "name", "cell": "phone", "debtor": "person", "notes": "colour"},
		map[string]string{"person": "person_ref"}, []string{"name", "phone"}, []string{"person_ref"})
	require.Equal(t, sheet.Columns{"name": 0, "phone": 1, "person_ref": 2}, col)
	require.Empty(t, ignored)
	require.Len(t, problems, 1)
	require.Contains(t, problems[0].Reason, `column mapping notes=colour: "colour" is not a column heed reads`)
	require.Equal(t, "debtor", sh.HeaderOf(col, "person_ref"))
	require.Empty(t, sh.HeaderOf(col, "zip"))

	sh = &sheet.Sheet{Header: []string{"Phone", "phone", "person", "person_ref"}}
	_, _, problems = sh.Columns(map[string]string{"Mobile": "phone", "Kind": "colour"}, map[string]string{"person": "person_ref"},
		[]string{"name", "phone"}, []string{"person_ref"})
	reasons := map[string]bool{}
	for _, p := range problems {
		require.Equal(t, 1, p.Line)
		reasons[p.Reason] = true
	}
	require.Equal(t, map[string]bool{
		`column "phone" appears twice`:                                                                                 true,
		`columns "person" and "person_ref" both give person_ref`:                                                       true,
		`column mapping names "mobile", which is not in the header`:                                                    true,
		`column mapping names "kind", which is not in the header`:                                                      true,
		`missing required column "name" (columns: name, phone; optional: person_ref)`:                                  true,
		`column mapping Kind=colour: "colour" is not a column heed reads (columns: name, phone; optional: person_ref)`: true,
	}, reasons)
}

// TestSpreadsheetCells: what a spreadsheet does to numbers is undone for
// its cells, and a CSV file's cells are read as written.
func TestSpreadsheetCells(t *testing.T) {
	t.Parallel()
	x, c := &sheet.Sheet{Excel: true}, &sheet.Sheet{}
	for in, want := range map[string]string{
		"6103": "06103", "501": "00501", "06103": "06103", "61031234": "06103-1234", "6103123": "00610-3123",
		"100011234": "10001-1234", "06103-1234": "06103-1234", "12": "12", "1234567890": "1234567890", "6103.5": "6103.5", "": "",
	} {
		require.Equal(t, want, x.ZIP(in), "xlsx zip %q", in)
	}
	require.Equal(t, "6103", c.ZIP("6103"), "a CSV cell is as written")
	require.Equal(t, "8605550101", x.Phone("8.605550101E9"))
	require.Equal(t, "8.605550101E9", c.Phone("8.605550101E9"))

	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	// 46357.5 is 2026-12-01 12:00; a whole number is a date.
	got, prec, ok := x.Serial("46357.5", ny)
	require.True(t, ok)
	require.Equal(t, time.Date(2026, 12, 1, 12, 0, 0, 0, ny), got)
	require.Equal(t, time.Second, prec)
	_, prec, ok = x.Serial("46357", ny)
	require.True(t, ok)
	require.Equal(t, 24*time.Hour, prec)
	for _, s := range []string{"2026-12-01", "0", "0.375", "-3", "9999999"} {
		_, _, ok = x.Serial(s, ny)
		require.False(t, ok, s)
	}
	_, _, ok = c.Serial("46357.5", ny)
	require.False(t, ok, "a CSV file has no serial numbers")

	got, prec, err = c.Time("2026-12-01 09:30", ny)
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 12, 1, 9, 30, 0, 0, ny), got)
	require.Equal(t, time.Minute, prec)
	_, _, err = c.Time("next week", ny)
	require.Error(t, err)
}

func TestFormatAndColumnMap(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]sheet.Format{"a.CSV": sheet.CSV, "b.txt": sheet.CSV, "Book1.xlsx": sheet.XLSX, "xlsx": sheet.XLSX} {
		got, err := sheet.FormatOf(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	_, err := sheet.FormatOf("contacts.xls")
	require.ErrorIs(t, err, sheet.ErrUnknownFormat)

	m, err := sheet.ParseColumnMap(" Client Name = name , Cell=PHONE ")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"client name": "name", "cell": "phone"}, m)
	for _, bad := range []string{"name", "=phone", "a=b,A=c"} {
		_, err := sheet.ParseColumnMap(bad)
		require.Error(t, err, bad)
	}
}
