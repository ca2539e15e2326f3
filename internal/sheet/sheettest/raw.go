package sheettest

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// Part is one part of a workbook that Raw writes: its name in the ZIP file
// and what writes its content.
type Part struct {
	// Name is the part's name, such as xl/worksheets/sheet1.xml.
	Name string
	// Write writes the part's content.
	Write func(w io.Writer) error
}

// Text is a Part whose content is s.
func Text(name, s string) Part {
	return Part{Name: name, Write: func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}}
}

// Repeat is a Part of head, then item n times, then tail: how a test
// writes a part far larger than its ZIP file.
func Repeat(name, head, item string, n int, tail string) Part {
	return Part{Name: name, Write: func(w io.Writer) error {
		if _, err := io.WriteString(w, head); err != nil {
			return err
		}
		// Whole chunks of items, so that a large part is quick to write.
		per := max(1, (64<<10)/max(1, len(item)))
		chunk := bytes.Repeat([]byte(item), per)
		for left := n; left > 0; left -= per {
			if left < per {
				chunk = chunk[:left*len(item)]
			}
			if _, err := w.Write(chunk); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, tail)
		return err
	}}
}

// The XML that Raw and the sheets built with it begin their parts with.
const (
	// SheetHead begins a worksheet, up to its first row.
	SheetHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" +
		`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"` +
		` xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x14ac"` +
		` xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"><sheetData>`
	// SheetTail ends a worksheet begun with SheetHead.
	SheetTail = `</sheetData></worksheet>`
	// StringsHead begins a shared strings part, up to its first item.
	StringsHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" +
		`<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`
	// StringsTail ends a shared strings part begun with StringsHead.
	StringsTail = `</sst>`
)

// Raw returns an XLSX file of one worksheet, xl/worksheets/sheet1.xml,
// and of parts, with the package, workbook and relationship parts a
// spreadsheet needs for it (a part of parts with one of their names
// replaces it), deflated.
func Raw(t testing.TB, parts ...Part) []byte {
	t.Helper()
	base := []Part{
		Text("[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+
			`<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">`+
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>`+
			`<Default Extension="xml" ContentType="application/xml"/>`+
			`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>`+
			`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`+
			`<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>`+
			`</Types>`),
		Text("_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+
			`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>`+
			`</Relationships>`),
		Text("xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+
			`<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">`+
			`<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`),
		Text("xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+
			`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>`+
			`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>`+
			`</Relationships>`),
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	write := func(p Part) {
		w, err := zw.Create(p.Name)
		require.NoError(t, err)
		require.NoError(t, p.Write(w), p.Name)
	}
	named := map[string]bool{}
	for _, p := range parts {
		named[p.Name] = true
	}
	for _, p := range base {
		if !named[p.Name] {
			write(p)
		}
	}
	for _, p := range parts {
		write(p)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// StringsBomb returns a small XLSX file whose shared strings part holds n
// items of one letter, 17 bytes each, and whose sheet has a header and a
// row that use the first: what the security review found unpacking 200 MiB
// of shared strings from half a megabyte.
func StringsBomb(t testing.TB, n int) []byte {
	t.Helper()
	return Raw(t,
		Text("xl/worksheets/sheet1.xml", SheetHead+
			`<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" t="s"><v>0</v></c></row>`+SheetTail),
		Repeat("xl/sharedStrings.xml", StringsHead, `<si><t>a</t></si>`, n, StringsTail))
}

// Contacts returns an XLSX file of a header and n rows of contacts, written
// as a spreadsheet writes them: text in the shared strings part (each name
// and reference distinct, states and time zones repeating), phone numbers
// and ZIP codes as numbers, with the row spans and cell styles a
// spreadsheet adds.
func Contacts(t testing.TB, n int) []byte {
	t.Helper()
	return WideContacts(t, n, 0)
}

// WideContacts is Contacts with extra columns more (at most 18), as a
// case system's export has them: note1, note2 … each row's "Open".
func WideContacts(t testing.TB, n, extra int) []byte {
	t.Helper()
	header := []string{"name", "phone", "state", "zip", "external_ref", "time_zone", "matter", "place"}
	for i := range extra {
		header = append(header, fmt.Sprintf("note%d", i+1))
	}
	states := []string{"CT", "NY", "NJ", "MA", "CA", "TX"}
	zones := []string{"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"}
	var sst bytes.Buffer
	index := map[string]int{}
	str := func(s string) int {
		if i, ok := index[s]; ok {
			return i
		}
		index[s] = len(index)
		fmt.Fprintf(&sst, "<si><t>%s</t></si>", s)
		return index[s]
	}
	sheet := Part{Name: "xl/worksheets/sheet1.xml", Write: func(w io.Writer) error {
		buf := bytes.NewBufferString(SheetHead)
		cell := func(col, row int, s string, shared bool) {
			ref := string(rune('A'+col)) + strconv.Itoa(row)
			if shared {
				fmt.Fprintf(buf, `<c r="%s" s="1" t="s"><v>%d</v></c>`, ref, str(s))
			} else {
				fmt.Fprintf(buf, `<c r="%s" s="2"><v>%s</v></c>`, ref, s)
			}
		}
		for r := 1; r <= n+1; r++ {
			fmt.Fprintf(buf, `<row r="%d" spans="1:%d" x14ac:dyDescent="0.25">`, r, len(header))
			if r == 1 {
				for c, h := range header {
					cell(c, r, h, true)
				}
			} else {
				i := r - 2
				cell(0, r, fmt.Sprintf("Client%06d Surname%06d", i, n-i), true)
				cell(1, r, strconv.Itoa(2035550000+i), false)
				cell(2, r, states[i%len(states)], true)
				cell(3, r, strconv.Itoa(6103+i%500), false)
				cell(4, r, fmt.Sprintf("REF-%07d", i), true)
				cell(5, r, zones[i%len(zones)], true)
				cell(6, r, fmt.Sprintf("Matter %d/%d", 2026, i), true)
				cell(7, r, "Hartford office", true)
				for c := 8; c < len(header); c++ {
					cell(c, r, "Open", true)
				}
			}
			buf.WriteString("</row>")
			if buf.Len() > 1<<20 {
				if _, err := w.Write(buf.Bytes()); err != nil {
					return err
				}
				buf.Reset()
			}
		}
		buf.WriteString(SheetTail)
		_, err := w.Write(buf.Bytes())
		return err
	}}
	// The sheet is written first, so the shared strings are known by the
	// time their part is.
	return Raw(t, sheet, Part{Name: "xl/sharedStrings.xml", Write: func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "%s%s%s", StringsHead, sst.Bytes(), StringsTail)
		return err
	}})
}
