// Package sheet reads the tabular files admins and paralegals upload: CSV,
// and XLSX as spreadsheets save it. It reads a file's header and rows with
// the lines a person sees in their editor, resolves the header to the
// columns an import reads (with a column mapping for files whose headers
// differ), and reads the cells whose form a spreadsheet changes: numbers
// in scientific notation, date serial numbers, and ZIP codes that lost
// their leading zeros.
package sheet

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// ErrUnknownFormat reports a file that is neither CSV nor XLSX.
var ErrUnknownFormat = errors.New("unknown import format: want csv or xlsx")

// MaxBytes bounds the size of an XLSX file; MaxSheetBytes and the bounds
// beside it bound what it unpacks to and what reading it holds.
const MaxBytes = 64 << 20

// Format is the format of a file.
type Format string

// CSV and XLSX are the formats heed reads.
const (
	CSV  Format = "csv"
	XLSX Format = "xlsx"
)

// FormatOf returns the format named by s: "csv" or "xlsx", or a file name
// ending in .csv, .txt or .xlsx (in any case). Other names give an error
// wrapping ErrUnknownFormat.
func FormatOf(s string) (Format, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	switch name {
	case "csv":
		return CSV, nil
	case "xlsx":
		return XLSX, nil
	}
	switch filepath.Ext(name) {
	case ".csv", ".txt":
		return CSV, nil
	case ".xlsx":
		return XLSX, nil
	}
	return "", fmt.Errorf("file %q: %w", s, ErrUnknownFormat)
}

// ParseColumnMap reads a column mapping written as "old=new,old2=new2"
// (the --map flag of heed's import commands): the file's header old is read
// as the column new. Headers are compared in any case.
func ParseColumnMap(s string) (map[string]string, error) {
	m := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return m, nil
	}
	for _, pair := range strings.Split(s, ",") {
		from, to, ok := strings.Cut(pair, "=")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" || to == "" {
			return nil, fmt.Errorf("column mapping %q: want old=new pairs separated by commas", pair)
		}
		if _, dup := m[strings.ToLower(from)]; dup {
			return nil, fmt.Errorf("column mapping: column %q is mapped twice", from)
		}
		m[strings.ToLower(from)] = strings.ToLower(to)
	}
	return m, nil
}

// Problem is a line of a file and the reason it is refused (or skipped):
// the row of an import's report.
type Problem struct {
	// Line is the line (for XLSX, the row number); 1 is the header and 0
	// the file as a whole.
	Line int `json:"line"`
	// Reason says what is wrong, for a person to fix.
	Reason string `json:"reason"`
}

// Error says the line and the reason.
func (p *Problem) Error() string { return fmt.Sprintf("line %d: %s", p.Line, p.Reason) }

// Sheet is a file's header and its rows that are not blank.
type Sheet struct {
	// Header is the first row that is not blank, as written.
	Header []string
	// Rows are the rows after it that are not blank.
	Rows []Row
	// Excel says the cells are raw spreadsheet values: a time may be a
	// date serial number (counted from 1904 when Date1904 is set), and a
	// number may have lost its leading zeros or be written in scientific
	// notation.
	Excel, Date1904 bool
}

// Row is one row of a Sheet.
type Row struct {
	// Line is the row's line (for XLSX, its row number).
	Line int
	// Fields are the row's cells, as written.
	Fields []string
}

// Blank reports whether every field is empty or white space.
func Blank(fields []string) bool {
	for _, f := range fields {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// Read reads a CSV file, or the first sheet of an XLSX file, skipping blank
// rows. A malformed or empty file, an XLSX file over MaxBytes or over the
// bounds on what it unpacks to and what reading it holds (MaxSheetBytes,
// MaxStringsBytes, MaxStrings and MaxHeldBytes), or one with more than
// maxRows data rows, gives a *Problem naming the line (0 for the file as a
// whole).
func Read(r io.Reader, f Format, maxRows int) (*Sheet, error) {
	var (
		sh  *Sheet
		err error
	)
	switch f {
	case CSV:
		sh, err = readCSV(r, maxRows)
	case XLSX:
		sh, err = readXLSX(r, maxRows)
	default:
		return nil, fmt.Errorf("format %q: %w", f, ErrUnknownFormat)
	}
	if err != nil {
		return nil, err
	}
	if sh.Header == nil {
		return nil, &Problem{Line: 1, Reason: "the file is empty; expected a header row"}
	}
	if len(sh.Rows) > maxRows {
		return nil, &Problem{Line: sh.Rows[maxRows].Line, Reason: fmt.Sprintf("too many rows: at most %d per import", maxRows)}
	}
	return sh, nil
}

func readCSV(r io.Reader, maxRows int) (*Sheet, error) {
	// A byte-order mark (as spreadsheets and PowerShell write one) is not
	// part of the first field, which may be quoted.
	br := bufio.NewReader(r)
	if bom, err := br.Peek(len(bom)); err == nil && string(bom) == bomText {
		_, _ = br.Discard(len(bom))
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	sh := &Sheet{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return sh, nil
		}
		if err != nil {
			// The line of the record the error is in: where a stray quote
			// opened, not where the parser gave up on it.
			var pe *csv.ParseError
			line := 0
			if errors.As(err, &pe) {
				line, err = pe.StartLine, pe.Err
			}
			return nil, &Problem{Line: line, Reason: "malformed CSV: " + err.Error()}
		}
		line, _ := cr.FieldPos(0)
		if sh.add(line, rec, maxRows) {
			return sh, nil
		}
	}
}

// add adds a record read on line: the header, unless the sheet has one, or
// a row; blank records are skipped. It reports whether the sheet has more
// than maxRows rows, after which reading may stop.
func (sh *Sheet) add(line int, rec []string, maxRows int) bool {
	switch {
	case Blank(rec):
	case sh.Header == nil:
		sh.Header = rec
	default:
		sh.Rows = append(sh.Rows, Row{Line: line, Fields: rec})
	}
	return len(sh.Rows) > maxRows
}

// bomText is UTF-8's byte-order mark.
const bomText = "\ufeff"

var bom = []byte(bomText)

// Extra reports whether row has non-blank fields past the header's last
// column: a row that says more than the header names.
func (sh *Sheet) Extra(row Row) bool {
	return len(row.Fields) > len(sh.Header) && !Blank(row.Fields[len(sh.Header):])
}

// Columns are the positions of the columns an import reads, by name.
type Columns map[string]int

// Get returns the trimmed field of column name in fields, or "" when the
// file has no such column or the row stops before it.
func (c Columns) Get(fields []string, name string) string {
	i, ok := c[name]
	if !ok || i >= len(fields) {
		return ""
	}
	return strings.TrimSpace(fields[i])
}

// Columns resolves the header to the columns an import reads, required and
// optional, reading a header named in mapping (a ParseColumnMap result) as
// the column it maps to, and aliases' headers as the column they stand for
// (aliases maps lower-case headers to column names; a mapping may name an
// alias too). It returns the headers it does not read (trimmed) and, as
// problems of line 1, mapping targets that are not columns, mapped headers
// missing from the file, columns given twice and required columns missing.
func (sh *Sheet) Columns(mapping, aliases map[string]string, required, optional []string) (Columns, []string, []Problem) {
	known := map[string]bool{}
	for _, c := range append(append([]string{}, required...), optional...) {
		known[c] = true
	}
	want := strings.Join(required, ", ") + "; optional: " + strings.Join(optional, ", ")
	var problems []Problem
	m := map[string]string{}
	for _, from := range slices.Sorted(maps.Keys(mapping)) {
		to := strings.ToLower(strings.TrimSpace(mapping[from]))
		to = cmp.Or(aliases[to], to)
		if !known[to] {
			problems = append(problems, Problem{Line: 1, Reason: fmt.Sprintf("column mapping %s=%s: %q is not a column heed reads (columns: %s)", from, mapping[from], mapping[from], want)})
		}
		m[strings.ToLower(strings.TrimSpace(from))] = to
	}
	col := Columns{}
	from := map[string]string{} // the header each column was read from
	used := map[string]bool{}
	var ignored []string
	for i, h := range sh.Header {
		header := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, bomText)))
		name := header
		if to, ok := m[header]; ok {
			used[header] = true
			name = to
		} else if to, ok := aliases[header]; ok {
			name = to
		}
		if !known[name] {
			if name != "" && !used[header] {
				ignored = append(ignored, strings.TrimSpace(h))
			}
			continue
		}
		if first, dup := from[name]; dup {
			if first == header {
				problems = append(problems, Problem{Line: 1, Reason: fmt.Sprintf("column %q appears twice", header)})
			} else {
				problems = append(problems, Problem{Line: 1, Reason: fmt.Sprintf("columns %q and %q both give %s", first, header, name)})
			}
			continue
		}
		col[name], from[name] = i, header
	}
	for _, h := range slices.Sorted(maps.Keys(m)) {
		if !used[h] {
			problems = append(problems, Problem{Line: 1, Reason: fmt.Sprintf("column mapping names %q, which is not in the header", h)})
		}
	}
	for _, need := range required {
		if _, ok := col[need]; !ok {
			problems = append(problems, Problem{Line: 1, Reason: fmt.Sprintf("missing required column %q (columns: %s)", need, want)})
		}
	}
	return col, ignored, problems
}

// HeaderOf returns the header column name was read from, lower-cased and
// trimmed, or "" when the file has no such column.
func (sh *Sheet) HeaderOf(col Columns, name string) string {
	i, ok := col[name]
	if !ok || i >= len(sh.Header) {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(strings.TrimPrefix(sh.Header[i], bomText)))
}

// excelMaxSerial is the Excel serial number of 9999-12-31.
const excelMaxSerial = 2958465

// Serial reads a spreadsheet's date serial number as the local date and
// time in loc that it shows, with its precision: a day for a whole number,
// else a second. A time the clocks skip in loc moves on by the skipped
// hour, as time.Date moves it; read it in UTC to see the wall clock as
// written. ok is false when the sheet is not a spreadsheet's or s is not a
// serial number of a day (at least 1: a time of day alone is a fraction).
// A spreadsheet keeps text and numbers alike in a raw cell, so a text cell
// of digits reads as a serial too.
func (sh *Sheet) Serial(s string, loc *time.Location) (t time.Time, prec time.Duration, ok bool) {
	if !sh.Excel {
		return time.Time{}, 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 1 || v > excelMaxSerial {
		return time.Time{}, 0, false
	}
	t, err = excelize.ExcelDateToTime(v, sh.Date1904)
	if err != nil {
		return time.Time{}, 0, false
	}
	prec = time.Second
	if v == math.Trunc(v) {
		prec = 24 * time.Hour
	}
	t = t.Round(time.Second)
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, loc), prec, true
}

// Time reads a time cell: a spreadsheet's date serial number (see Serial),
// RFC 3339, YYYY-MM-DD, YYYY-MM-DD HH:MM or YYYY-MM-DD HH:MM:SS (the last
// three in loc). It also returns the precision the cell gave: a day, a
// minute or a second, or 0 when it gave a fraction of a second.
func (sh *Sheet) Time(s string, loc *time.Location) (time.Time, time.Duration, error) {
	if t, prec, ok := sh.Serial(s, loc); ok {
		return t, prec, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, precisionOf(t), nil
	}
	if t, err := time.Parse("2006-01-02 15:04:05Z07:00", s); err == nil {
		return t, precisionOf(t), nil
	}
	layouts := []struct {
		layout string
		prec   time.Duration
	}{
		{time.DateOnly, 24 * time.Hour},
		{"2006-01-02 15:04", time.Minute},
		{"2006-01-02T15:04", time.Minute},
		{time.DateTime, time.Second},
		{"2006-01-02T15:04:05", time.Second},
	}
	for _, l := range layouts {
		if t, err := time.ParseInLocation(l.layout, s, loc); err == nil {
			return t, l.prec, nil
		}
	}
	return time.Time{}, 0, errors.New("not a time: use RFC 3339 (2026-06-10T14:30:00-04:00), YYYY-MM-DD or YYYY-MM-DD HH:MM")
}

func precisionOf(t time.Time) time.Duration {
	if t.Nanosecond() != 0 {
		return 0
	}
	return time.Second
}

// Phone undoes the scientific notation a spreadsheet may store a long
// number in ("8.605550101E9").
func (sh *Sheet) Phone(s string) string {
	if !sh.Excel || !strings.ContainsAny(s, "eE") {
		return s
	}
	if v, err := strconv.ParseFloat(s, 64); err == nil && v == math.Trunc(v) && v > 0 && v < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return s
}

// ZIP restores the leading zeros a spreadsheet drops from a ZIP code kept
// as a number (Connecticut's begin with 06): a whole number of 3 or 4
// digits is a five-digit ZIP code, and one of 7 to 9 digits a ZIP+4,
// written 06103-1234. Other cells, and every cell of a CSV file, are
// returned as they are. A raw cell does not say whether it held a number
// or text, so a text cell of 3 or 4 digits is padded too: no US ZIP code
// is that short, so such a cell is a ZIP code that lost its zeros or no
// ZIP code at all.
func (sh *Sheet) ZIP(s string) string {
	if !sh.Excel || len(s) < 3 || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
		return s
	}
	switch len(s) {
	case 3, 4:
		return strings.Repeat("0", 5-len(s)) + s
	case 7, 8, 9:
		s = strings.Repeat("0", 9-len(s)) + s
		return s[:5] + "-" + s[5:]
	}
	return s
}
