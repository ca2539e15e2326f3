package sheet_test

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/heed-dialer/heed/internal/sheet"
	"github.com/heed-dialer/heed/internal/sheet/sheettest"
)

// allocated returns the bytes f allocates, garbage included.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestXLSXBombs: a workbook that unpacks to more than the bounds, or whose
// XML stands for more than they let heed hold, is refused, with a reason
// that says which bound it passed. The review's bomb (its shared strings
// part was 200 MiB of one-letter strings in half a megabyte) is refused
// before anything is unpacked. Not parallel, so that what it allocates is
// its own.
func TestXLSXBombs(t *testing.T) {
	sheetOf := func(rows string) sheettest.Part {
		return sheettest.Text("xl/worksheets/sheet1.xml", sheettest.SheetHead+rows+sheettest.SheetTail)
	}
	inline := func(ref, s string) string {
		return fmt.Sprintf(`<c r="%s" t="inlineStr"><is><t>%s</t></is></c>`, ref, s)
	}
	header := `<row r="1">` + inline("A1", "name") + `</row>`
	// Empty parts, enough that the ZIP directory passes its bound.
	var parts []sheettest.Part
	for i := range sheet.MaxDirectoryBytes / 46 {
		parts = append(parts, sheettest.Text(fmt.Sprintf("x/%d", i), ""))
	}
	for _, tc := range []struct {
		name   string
		data   []byte
		line   int
		reason string
	}{
		{"Review", sheettest.StringsBomb(t, 200<<20/17), 0, "its shared strings part unpacks to 201 MiB, more than the 32 MiB heed reads"},
		{"SharedStringsPart", sheettest.StringsBomb(t, sheet.MaxStringsBytes/17+1), 0, "its shared strings part unpacks to 33 MiB, more than the 32 MiB heed reads"},
		{"SharedStrings", sheettest.Raw(t, sheetOf(header),
			sheettest.Repeat("xl/sharedStrings.xml", sheettest.StringsHead, "<si/>", sheet.MaxStrings+1, sheettest.StringsTail)),
			0, "its shared strings part holds more than 2000000 strings"},
		{"SheetPart", sheettest.Raw(t,
			sheettest.Repeat("xl/worksheets/sheet1.xml", sheettest.SheetHead+header, "<x/>", sheet.MaxSheetBytes/4, sheettest.SheetTail)),
			0, "its first sheet unpacks to 257 MiB, more than the 256 MiB heed reads"},
		{"Directory", sheettest.Raw(t, append(parts, sheetOf(header))...), 0,
			"the workbook lists too many parts: its ZIP directory is larger than 1 MiB"},
		// Each row is a cell in column A and one in XFD, 16,384 cells
		// in memory (256 KiB) for 60 bytes of XML.
		{"FarColumns", sheettest.Raw(t, sheetOf(header+strings.Repeat(`<row>`+inline("A2", "a")+inline("XFD2", "b")+`</row>`, 2000))),
			513, "the workbook's cells and shared strings take more than 128 MiB to hold: import it in smaller files"},
		// Blank rows padded out to XFD hold nothing, and place cells:
		// 16,384 a row, for 40 bytes of XML.
		{"BlankFarColumns", sheettest.Raw(t, sheetOf(header+strings.Repeat(`<row><c r="XFD2"><v> </v></c></row>`, 4000))),
			3053, "the sheet has more than 50000000 cells, blank ones up to each row's last included: import it in smaller files"},
		// A cell written before the one before it: excelize moved it to
		// another column.
		{"CellOrder", sheettest.Raw(t, sheetOf(header+`<row r="2">`+inline("B2", "b")+inline("A2", "a")+`</row>`)),
			2, "unreadable row: cell A2 comes after a cell of column B"},
		// Name space declarations the parser keeps for every element in.
		{"Attributes", sheettest.Raw(t, sheetOf(header+`<row r="2" xmlns:p="`+strings.Repeat("n", sheet.MaxAttrBytes)+`">`+inline("A2", "a")+`</row>`)),
			1, "not a readable XLSX file: xl/worksheets/sheet1.xml has an element whose attributes are longer than 16 KiB"},
		// A cell without a reference is in the column after the last.
		{"PastXFD", sheettest.Raw(t, sheetOf(header+`<row>`+strings.Repeat(`<c/>`, excelize.MaxColumns)+inline("", "a")+`</row>`)),
			2, "unreadable row: a cell is past column XFD (16384), a sheet's last"},
		{"LongText", sheettest.Raw(t, sheetOf(header+`<row>`+inline("A2", strings.Repeat("a", sheet.MaxToken+1))+`</row>`)),
			2, "not a readable XLSX file: xl/worksheets/sheet1.xml holds a piece of text or markup longer than 256 KiB"},
		// Text broken by comments is many short pieces, and one cell.
		{"CellText", sheettest.Raw(t, sheettest.Repeat("xl/worksheets/sheet1.xml", sheettest.SheetHead+header+`<row><c><v>`,
			strings.Repeat("a", 1000)+"<!---->", 140_000, `</v></c></row>`+sheettest.SheetTail)),
			2, "the workbook's cells and shared strings take more than 128 MiB to hold"},
		{"Deep", sheettest.Raw(t, sheetOf(header+strings.Repeat("<x>", sheet.MaxDepth)+strings.Repeat("</x>", sheet.MaxDepth))),
			1, "not a readable XLSX file: xl/worksheets/sheet1.xml nests elements more than 32 deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := allocated(func() { _, err = sheet.Read(bytes.NewReader(tc.data), sheet.XLSX, 200_000) })
			var p *sheet.Problem
			require.True(t, errors.As(err, &p), "%v", err)
			require.Equal(t, tc.line, p.Line)
			require.Contains(t, p.Reason, tc.reason)
			if tc.line == 0 && !strings.HasPrefix(tc.name, "SharedStrings") {
				// Refused from the ZIP directory, before unpacking.
				require.Less(t, n, uint64(8<<20), "allocated")
			}
		})
	}
}

// TestXLSXSharedText: the cells that name a long shared string share its
// text, rather than each hold a copy of it. Not parallel, so that what it
// allocates is its own.
func TestXLSXSharedText(t *testing.T) {
	const long = 1 << 20
	run := "<r><t>" + strings.Repeat("a", 128<<10) + "</t></r>"
	row := "<row>" + strings.Repeat(`<c t="s"><v>1</v></c>`, 5) + "</row>"
	data := sheettest.Raw(t,
		sheettest.Repeat("xl/worksheets/sheet1.xml", sheettest.SheetHead+`<row><c t="s"><v>0</v></c></row>`, row, 100, sheettest.SheetTail),
		sheettest.Repeat("xl/sharedStrings.xml", sheettest.StringsHead+"<si><t>name</t></si><si>", run, long/(128<<10), "</si>"+sheettest.StringsTail))
	var (
		sh  *sheet.Sheet
		err error
	)
	n := allocated(func() { sh, err = sheet.Read(bytes.NewReader(data), sheet.XLSX, 1000) })
	require.NoError(t, err)
	require.Len(t, sh.Rows, 100)
	for _, r := range sh.Rows {
		require.Len(t, r.Fields, 5)
		for _, f := range r.Fields {
			require.Len(t, f, long)
		}
	}
	// 500 copies would be 500 MiB.
	require.Less(t, n, uint64(64<<20), "allocated")
}

// TestXLSXAtTheLimits: a workbook of contacts as a spreadsheet saves it,
// with the 200,000 rows an import takes, reads whole within the bounds.
func TestXLSXAtTheLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 200,000 rows")
	}
	t.Parallel()
	const n = 200_000
	sh, err := sheet.Read(bytes.NewReader(sheettest.Contacts(t, n)), sheet.XLSX, n)
	require.NoError(t, err)
	require.Equal(t, []string{"name", "phone", "state", "zip", "external_ref", "time_zone", "matter", "place"}, sh.Header)
	require.Len(t, sh.Rows, n)
	last := sh.Rows[n-1]
	require.Equal(t, n+1, last.Line)
	require.Equal(t, []string{"Client199999 Surname000001", "2035749999", "NY", "6602", "REF-0199999", "America/Los_Angeles", "Matter 2026/199999", "Hartford office"}, last.Fields)
}

// TestXLSXWideAtTheLimits: a case system's export of the 200,000 rows an
// import takes, with 12 columns, reads whole within the bounds.
func TestXLSXWideAtTheLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 200,000 rows")
	}
	t.Parallel()
	const n = 200_000
	sh, err := sheet.Read(bytes.NewReader(sheettest.WideContacts(t, n, 4)), sheet.XLSX, n)
	require.NoError(t, err)
	require.Len(t, sh.Header, 12)
	require.Len(t, sh.Rows, n)
	require.Equal(t, []string{"Open", "Open", "Open", "Open"}, sh.Rows[n-1].Fields[8:])
}

// TestXLSXCells: cells read as excelize's Rows read them, which heed read
// XLSX files with: raw values, inline and rich text, the escapes of
// characters XML cannot hold, formulas, cells and rows left out, and a
// first sheet that is not Sheet1 in a workbook whose dates count from 1904.
func TestXLSXCells(t *testing.T) {
	t.Parallel()
	f := excelize.NewFile()
	defer f.Close() //nolint:errcheck // written to memory
	require.NoError(t, f.SetSheetName("Sheet1", "Contacts"))
	_, err := f.NewSheet("Other")
	require.NoError(t, err)
	require.NoError(t, f.SetCellValue("Other", "A1", "not read"))
	date1904 := true
	require.NoError(t, f.SetWorkbookProps(&excelize.WorkbookPropsOptions{Date1904: &date1904}))
	const s = "Contacts"
	require.NoError(t, f.SetSheetRow(s, "A1", &[]any{"name", "phone", "when", "ok", "note"}))
	require.NoError(t, f.SetSheetRow(s, "A3", &[]any{"Ann & <Co>", 8605550101, time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC), true, "tab\there _x0041_"}))
	require.NoError(t, f.SetCellRichText(s, "A4", []excelize.RichTextRun{{Text: "Rich "}, {Text: "text", Font: &excelize.Font{Bold: true}}}))
	require.NoError(t, f.SetCellFormula(s, "C4", "1/0"))
	require.NoError(t, f.SetCellStr(s, "E5", "far"))
	buf, err := f.WriteToBuffer()
	require.NoError(t, err)

	sh, err := sheet.Read(buf, sheet.XLSX, 10)
	require.NoError(t, err)
	require.True(t, sh.Date1904)
	require.Equal(t, []string{"name", "phone", "when", "ok", "note"}, sh.Header)
	require.Equal(t, []sheet.Row{
		{Line: 3, Fields: []string{"Ann & <Co>", "8605550101", "44895.395833333336", "1", "tab\there A"}},
		{Line: 4, Fields: []string{"Rich text", "", ""}},
		{Line: 5, Fields: []string{"", "", "", "", "far"}},
	}, sh.Rows)

	// Inline strings and their escapes, rows with and without numbers,
	// and a sheet and shared strings found by other names.
	data := sheettest.Raw(t,
		sheettest.Text("xl/_rels/workbook.xml.rels", `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="/xl/data/first.xml"/>`+
			`</Relationships>`),
		sheettest.Text(`xl\data\first.xml`, sheettest.SheetHead+
			`<row r="2"><c r="B2" t="inlineStr"><is><r><t>in</t></r><rPh><t>not read</t></rPh><r><t>line_x0021__x005F_x0021_</t></r></is></c></row>`+
			`<row><c t="s"><v> 0 </v></c><c t="str"><v>str</v></c><c t="e"><v>#DIV/0!</v></c></row>`+
			`<row r="9"><c r="A9" t="s"><v></v></c><c r="C9"><f>A1</f><v>old</v><v>x</v></c></row>`+sheettest.SheetTail),
		sheettest.Text("XL/SHAREDSTRINGS.XML", sheettest.StringsHead+`<si><t xml:space="preserve"> sp </t></si>`+sheettest.StringsTail))
	sh, err = sheet.Read(bytes.NewReader(data), sheet.XLSX, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"", "inline!_x0021_"}, sh.Header)
	require.Equal(t, []sheet.Row{{Line: 3, Fields: []string{" sp ", "str", "#DIV/0!"}}, {Line: 9, Fields: []string{"", "", "x"}}}, sh.Rows)
}

// TestXLSXUnreadable: what is wrong with a workbook that is not one heed
// can read is said.
func TestXLSXUnreadable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		data   []byte
		line   int
		reason string
	}{
		{"NoWorkbook", sheettest.Raw(t, sheettest.Text("_rels/.rels", `<Relationships/>`)), 0, "not a readable XLSX file: it has no workbook part"},
		{"NoSheet", sheettest.Raw(t, sheettest.Text("xl/_rels/workbook.xml.rels", `<Relationships/>`)), 0, "not a readable XLSX file: its first sheet is missing"},
		{"BadXML", sheettest.Raw(t, sheettest.Text("xl/worksheets/sheet1.xml", sheettest.SheetHead+`<row><c><v>1</c></row>`)), 1,
			"not a readable XLSX file: xl/worksheets/sheet1.xml: XML syntax error"},
		{"BadIndex", sheettest.Raw(t, sheettest.Text("xl/worksheets/sheet1.xml", sheettest.SheetHead+`<row><c t="s"><v>3</v></c></row>`+sheettest.SheetTail)), 1,
			"unreadable row: invalid shared string index 3"},
		{"RowOrder", sheettest.Raw(t, sheettest.Text("xl/worksheets/sheet1.xml", sheettest.SheetHead+`<row r="2"/><row r="2"/>`+sheettest.SheetTail)), 2,
			"unreadable sheet: row 2 comes after row 2"},
		{"BadRow", sheettest.Raw(t, sheettest.Text("xl/worksheets/sheet1.xml", sheettest.SheetHead+`<row r="1048577"><c><v>1</v></c></row>`+sheettest.SheetTail)), 1048577,
			"unreadable sheet: a row is numbered past 1048576, a sheet's last"},
		// What Excel saves with "Encrypt with Password", and .xls files.
		{"PasswordOrXLS", append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 4096)...), 0,
			"the workbook is protected with a password, or is an old .xls file: save it as .xlsx (Excel Workbook) without a password, and upload that"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := sheet.Read(bytes.NewReader(tc.data), sheet.XLSX, 10)
			var p *sheet.Problem
			require.True(t, errors.As(err, &p), "%v", err)
			require.Equal(t, tc.line, p.Line)
			require.Contains(t, p.Reason, tc.reason)
		})
	}
}

// TestXLSXBackslashTarget: a workbook whose relationship names its sheet
// with a backslash, as some Windows writers do, is read (excelize read it).
func TestXLSXBackslashTarget(t *testing.T) {
	t.Parallel()
	data := sheettest.Raw(t,
		sheettest.Text("xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+
			`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets\sheet1.xml"/>`+
			`</Relationships>`),
		sheettest.Text("xl/worksheets/sheet1.xml", sheettest.SheetHead+
			`<row r="1"><c t="inlineStr"><is><t>name</t></is></c></row><row r="2"><c t="inlineStr"><is><t>Ann</t></is></c></row>`+sheettest.SheetTail))
	sh, err := sheet.Read(bytes.NewReader(data), sheet.XLSX, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"name"}, sh.Header)
	require.Equal(t, []sheet.Row{{Line: 2, Fields: []string{"Ann"}}}, sh.Rows)
}
