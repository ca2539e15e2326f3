package sheet

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/xuri/excelize/v2"
	"golang.org/x/net/html/charset"

	"github.com/heed-dialer/heed/internal/zipbound"
)

// Bounds on what heed reads of an XLSX file. An XLSX file is a ZIP file of
// XML parts, and a small one can unpack to far more than it looks (a
// decompression bomb), or have a few bytes of XML stand for much text (a
// cell that names a long shared string, or one far to the right). heed
// reads only the parts it needs (the workbook, its first sheet and the
// shared strings), checks their unpacked sizes before unpacking them, and
// reads their XML as a stream, so that reading any XLSX file holds at most
// MaxHeldBytes of shared strings and cells, and a few MiB more for the ZIP
// directory (at most 1 MiB of it is read, though archive/zip may set aside
// up to a quarter of the file's size for it) and the XML parser (no piece
// of text or markup longer than 256 KiB, no elements nested more than 32
// deep). It unpacks at most MaxSheetBytes + MaxStringsBytes + 12 MiB, and
// the file itself is read where it is (or from a temporary file), not
// held.
const (
	// MaxSheetBytes bounds the unpacked size of a workbook's first sheet,
	// which heed reads as a stream, and so the time reading it takes: a
	// sheet of the 200,000 rows an import takes, with 8 columns, is 73 MiB;
	// with 24, about 210 MiB.
	MaxSheetBytes = 256 << 20
	// MaxStringsBytes bounds the unpacked size of a workbook's shared
	// strings, which heed holds while it reads the sheet: those of 200,000
	// rows of contacts, each with a distinct name, reference and matter,
	// are 20 MiB.
	MaxStringsBytes = 32 << 20
	// MaxStrings bounds the number of a workbook's shared strings: ten
	// for each of the 200,000 rows an import takes.
	MaxStrings = 2_000_000
	// MaxHeldBytes bounds the memory that reading a workbook holds: its
	// shared strings (their part's unpacked size, and 4 bytes each) and the
	// rows read (32 bytes a row, 16 bytes a cell, and the text of the cells
	// that do not name a shared string, which the shared strings hold
	// once). 200,000 rows of 8 contact columns take 56 MiB; of 24, about
	// 110 MiB.
	MaxHeldBytes = 128 << 20
	// MaxCells bounds the cells a sheet's rows place, blank ones (up to a
	// row's last cell) and rows left out as blank included, and so the
	// time reading it takes: 200,000 rows of 250 columns.
	MaxCells = 50_000_000
	// maxAttrBytes bounds the attributes (and name space declarations) of
	// one element, which the XML parser keeps for the elements it is in.
	maxAttrBytes = 16 << 10

	// maxDirectoryBytes bounds the ZIP directory read (about 46 bytes a
	// part, and five times that once read).
	maxDirectoryBytes = 1 << 20
	// maxSmallPart bounds the unpacked size of the package's and the
	// workbook's relationships and of the workbook part.
	maxSmallPart = 4 << 20
	// maxToken bounds a piece of text or markup of a part's XML: a cell's
	// text is at most 32,767 characters, some 160 KiB written as XML.
	maxToken = 256 << 10
	// maxDepth bounds how deep a part's XML elements nest (a sheet's cell
	// text is six deep).
	maxDepth = 32
)

// oleHeader begins an OLE compound file: an .xls workbook, or an XLSX
// workbook encrypted with a password.
var oleHeader = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// errToken reports a piece of XML longer than maxToken.
var errToken = errors.New("xml token too long")

// unreadable is the Problem of a file that is not a readable XLSX file.
func unreadable(format string, args ...any) *Problem {
	return &Problem{Reason: "not a readable XLSX file: " + fmt.Sprintf(format, args...)}
}

// mib says n bytes in MiB, rounded up.
func mib(n uint64) string { return fmt.Sprintf("%d MiB", (n+1<<20-1)>>20) }

func readXLSX(r io.Reader, maxRows int) (*Sheet, error) {
	ra, size, done, err := readerAt(r)
	if err != nil {
		return nil, err
	}
	defer done()
	var head [8]byte
	if _, err := ra.ReadAt(head[:], 0); err == nil && bytes.Equal(head[:], oleHeader) {
		return nil, &Problem{Reason: "the workbook is protected with a password, or is an old .xls file: save it as .xlsx (Excel Workbook) without a password, and upload that"}
	}
	wb, err := openWorkbook(ra, size)
	if err != nil {
		return nil, err
	}
	return wb.read(maxRows)
}

// readerAt returns r to read at offsets, with its size: r itself when it
// can seek and read at offsets (an uploaded or opened file, or bytes),
// else a temporary file of what it reads, which done removes. An r of
// more than MaxBytes gives a *Problem.
func readerAt(r io.Reader) (ra io.ReaderAt, size int64, done func(), err error) {
	tooLarge := &Problem{Reason: fmt.Sprintf("the file is larger than %d MiB", MaxBytes>>20)}
	if rs, ok := r.(interface {
		io.ReaderAt
		io.Seeker
	}); ok {
		start, serr := rs.Seek(0, io.SeekCurrent)
		end, eerr := rs.Seek(0, io.SeekEnd)
		if serr == nil && eerr == nil {
			if end-start > MaxBytes {
				return nil, 0, nil, tooLarge
			}
			return io.NewSectionReader(rs, start, end-start), end - start, func() {}, nil
		}
	}
	tmp, err := os.CreateTemp("", "heed-xlsx-*")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("xlsx: temporary file: %w", err)
	}
	done = func() {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
	}
	src := &readErr{r: io.LimitReader(r, MaxBytes+1)}
	n, err := io.Copy(tmp, src)
	switch {
	case src.err != nil:
		done()
		return nil, 0, nil, unreadable("%v", src.err)
	case err != nil:
		done()
		return nil, 0, nil, fmt.Errorf("xlsx: save to temporary file: %w", err)
	case n > MaxBytes:
		done()
		return nil, 0, nil, tooLarge
	}
	return tmp, n, done, nil
}

// readErr is a reader that keeps the error its reader gave, to tell it
// from an error writing what it read.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		r.err = err
	}
	return n, err
}

// workbook is an XLSX file's parts, by name.
type workbook struct {
	parts map[string]*zip.File
	// stringsName is the name of its shared strings part, which heed (as
	// excelize did) finds in any case, or "".
	stringsName string
}

// openWorkbook reads the ZIP directory of an XLSX file of size bytes.
func openWorkbook(ra io.ReaderAt, size int64) (*workbook, error) {
	zr, err := zipbound.NewReader(ra, size, maxDirectoryBytes)
	if errors.Is(err, zipbound.ErrDirectory) {
		return nil, &Problem{Reason: fmt.Sprintf("the workbook lists too many parts: its ZIP directory is larger than %d MiB", maxDirectoryBytes>>20)}
	}
	if err != nil {
		return nil, unreadable("%v", errors.Unwrap(err))
	}
	wb := &workbook{parts: map[string]*zip.File{}}
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() {
			continue
		}
		// As excelize reads a ZIP file: \ for /, and the last of two
		// parts of one name.
		name := strings.ReplaceAll(zf.Name, `\`, "/")
		wb.parts[name] = zf
		if strings.EqualFold(name, "xl/sharedStrings.xml") {
			wb.stringsName = name
		}
	}
	return wb, nil
}

// part returns the part name, or nil when the workbook has none, checking
// that it unpacks to at most limit bytes; what names it for a person.
func (wb *workbook) part(name string, limit int64, what string) (*zip.File, error) {
	zf := wb.parts[name]
	if zf == nil {
		return nil, nil
	}
	if zf.UncompressedSize64 > uint64(limit) {
		return nil, &Problem{Reason: fmt.Sprintf("%s unpacks to %s, more than the %d MiB heed reads",
			what, mib(zf.UncompressedSize64), limit>>20)}
	}
	return zf, nil
}

// xmlPart reads the XML of a part as a stream of tokens, within maxToken
// and maxDepth. archive/zip gives an error for a part longer than its
// directory says, so a part is no longer than part checked.
type xmlPart struct {
	name  string
	rc    io.ReadCloser
	src   *bufio.Reader
	d     *xml.Decoder
	pos   int64 // bytes read
	mark  int64 // pos where the token being read began
	depth int
}

func openXML(zf *zip.File, name string) (*xmlPart, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, unreadable("%s: %v", name, err)
	}
	x := &xmlPart{name: name, rc: rc, src: bufio.NewReader(rc)}
	x.d = xml.NewDecoder(x)
	// A part in another encoding than UTF-8 is converted, still read
	// through x and so within its bounds.
	x.d.CharsetReader = func(label string, _ io.Reader) (io.Reader, error) {
		conv, err := charset.NewReaderLabel(label, x.src)
		if err != nil {
			return nil, err
		}
		x.src = bufio.NewReader(conv)
		return x, nil
	}
	return x, nil
}

// ReadByte reads the next byte for the XML decoder, which reads a byte at
// a time from an io.ByteReader: a token longer than maxToken stops it
// before the decoder holds more of it.
func (x *xmlPart) ReadByte() (byte, error) {
	if x.pos-x.mark > maxToken {
		return 0, errToken
	}
	b, err := x.src.ReadByte()
	if err == nil {
		x.pos++
	}
	return b, err
}

// Read is ReadByte's, for the XML decoder's io.Reader.
func (x *xmlPart) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		b, err := x.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		p[n] = b
		n++
	}
	return n, nil
}

func (x *xmlPart) close() { _ = x.rc.Close() }

// next returns the part's next token, io.EOF after the last, or a *Problem.
func (x *xmlPart) next() (xml.Token, error) {
	x.mark = x.pos
	tok, err := x.d.Token()
	switch {
	case errors.Is(err, io.EOF):
		return nil, io.EOF
	case errors.Is(err, errToken):
		return nil, unreadable("%s holds a piece of text or markup longer than %d KiB", x.name, maxToken>>10)
	case err != nil:
		return nil, unreadable("%s: %v", x.name, err)
	}
	switch t := tok.(type) {
	case xml.StartElement:
		x.depth++
		if x.depth > maxDepth {
			return nil, unreadable("%s nests elements more than %d deep", x.name, maxDepth)
		}
		n := 0
		for _, a := range t.Attr {
			n += len(a.Name.Space) + len(a.Name.Local) + len(a.Value)
		}
		if n > maxAttrBytes {
			return nil, unreadable("%s has an element whose attributes are longer than %d KiB", x.name, maxAttrBytes>>10)
		}
	case xml.EndElement:
		x.depth--
	}
	return tok, nil
}

// attr returns the value of the attribute named local (in any name space).
func attr(se xml.StartElement, local string) (string, bool) {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// relTarget returns the target of the relationship of a relationships part
// whose id is id, or whose type ends in /typ when id is "".
func (wb *workbook) relTarget(name, id, typ string) (string, error) {
	zf, err := wb.part(name, maxSmallPart, "its part "+name)
	if zf == nil || err != nil {
		return "", err
	}
	x, err := openXML(zf, name)
	if err != nil {
		return "", err
	}
	defer x.close()
	for {
		tok, err := x.next()
		if errors.Is(err, io.EOF) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "Relationship" {
			continue
		}
		rid, _ := attr(se, "Id")
		rtype, _ := attr(se, "Type")
		if (id != "" && rid == id) || (id == "" && strings.HasSuffix(rtype, "/"+typ)) {
			target, _ := attr(se, "Target")
			return target, nil
		}
	}
}

// read reads the workbook's first sheet.
func (wb *workbook) read(maxRows int) (*Sheet, error) {
	// The workbook part is the package's office document; its first
	// sheet is the first its sheets list, found by its relationship.
	target, err := wb.relTarget("_rels/.rels", "", "officeDocument")
	if err != nil {
		return nil, err
	}
	wbPath := strings.TrimPrefix(target, "/")
	if wbPath == "" || wb.parts[wbPath] == nil {
		return nil, unreadable("it has no workbook part")
	}
	sh := &Sheet{Excel: true}
	rid, err := wb.firstSheet(wbPath, sh)
	if err != nil || rid == "" {
		return sh, err
	}
	dir := path.Dir(wbPath)
	target, err = wb.relTarget(path.Join(dir, "_rels", path.Base(wbPath)+".rels"), rid, "")
	if err != nil {
		return nil, err
	}
	// Some Windows writers name it with \ (excelize read it as /).
	target = strings.ReplaceAll(target, `\`, "/")
	sheetPath := strings.TrimPrefix(path.Clean(path.Join(dir, target)), "/")
	if strings.HasPrefix(target, "/") {
		sheetPath = strings.TrimPrefix(path.Clean(target), "/")
	}
	sheetPart, err := wb.part(sheetPath, MaxSheetBytes, "its first sheet")
	if err != nil {
		return nil, err
	}
	if target == "" || sheetPart == nil {
		return nil, unreadable("its first sheet is missing")
	}
	// Both sizes are checked before either part is unpacked.
	stringsPart, err := wb.part(wb.stringsName, MaxStringsBytes, "its shared strings part")
	if err != nil {
		return nil, err
	}
	var sst *sharedStrings
	if stringsPart != nil {
		if sst, err = readSharedStrings(stringsPart, wb.stringsName); err != nil {
			return nil, err
		}
	}
	if err := readSheet(sheetPart, sheetPath, sst, sh, maxRows); err != nil {
		return nil, err
	}
	return sh, nil
}

// firstSheet reads the workbook part: whether its dates count from 1904,
// into sh, and the relationship id of its first sheet, or "" when it has
// none.
func (wb *workbook) firstSheet(name string, sh *Sheet) (string, error) {
	zf, err := wb.part(name, maxSmallPart, "its workbook part")
	if err != nil {
		return "", err
	}
	x, err := openXML(zf, name)
	if err != nil {
		return "", err
	}
	defer x.close()
	var (
		rid     string
		parents []string
	)
	for {
		tok, err := x.next()
		if errors.Is(err, io.EOF) {
			return rid, nil
		}
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			parent := ""
			if len(parents) > 0 {
				parent = parents[len(parents)-1]
			}
			switch {
			case t.Name.Local == "workbookPr":
				if v, ok := attr(t, "date1904"); ok {
					sh.Date1904, _ = strconv.ParseBool(strings.TrimSpace(v))
				}
			case t.Name.Local == "sheet" && parent == "sheets" && rid == "":
				// The relationship id is r:id; no other attribute of a
				// sheet is named id.
				rid, _ = attr(t, "id")
				if rid == "" {
					return "", unreadable("the first sheet of its workbook has no relationship id")
				}
			}
			parents = append(parents, t.Name.Local)
		case xml.EndElement:
			parents = parents[:len(parents)-1]
		}
	}
}

// sharedStrings is a workbook's shared strings: the text of string i is
// text[ends[i-1]:ends[i]]. The cells that name one share its memory.
type sharedStrings struct {
	text string
	ends []uint32
	// held is the memory they hold (see MaxHeldBytes).
	held int64
}

// get returns the text of string i.
func (s *sharedStrings) get(i int) (string, bool) {
	if s == nil || i < 0 || i >= len(s.ends) {
		return "", false
	}
	start := uint32(0)
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.text[start:s.ends[i]], true
}

// readSharedStrings reads a shared strings part: the text of each string
// item (si) is that of its t elements, and of those of its runs (r, not
// its phonetic readings, rPh), as excelize reads it.
func readSharedStrings(zf *zip.File, name string) (*sharedStrings, error) {
	x, err := openXML(zf, name)
	if err != nil {
		return nil, err
	}
	defer x.close()
	// The text is no longer than the part, which part checked: one
	// allocation holds it.
	buf := make([]byte, 0, zf.UncompressedSize64)
	var (
		ends  []uint32
		start int
		stack []string // the elements open, the root first
	)
	for {
		tok, err := x.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			if at(stack, "", "si") {
				start = len(buf)
			}
		case xml.EndElement:
			if at(stack, "", "si") {
				buf = append(buf[:start], unescape(buf[start:])...)
				if len(ends) == MaxStrings {
					return nil, &Problem{Reason: fmt.Sprintf("its shared strings part holds more than %d strings", MaxStrings)}
				}
				ends = append(ends, uint32(len(buf)))
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if at(stack, "", "si", "t") || at(stack, "", "si", "r", "t") {
				if len(buf)+len(t) > cap(buf) {
					// Only a part in another encoding than UTF-8 can hold
					// more text than bytes.
					return nil, unreadable("%s holds more text than its size", name)
				}
				buf = append(buf, t...)
			}
		}
	}
	// buf is not written again: the strings share it, as strings.Builder's
	// do.
	return &sharedStrings{text: unsafe.String(unsafe.SliceData(buf), len(buf)), ends: ends,
		held: int64(cap(buf)) + 4*int64(cap(ends))}, nil
}

// at reports whether the elements open are names ("" for any name), the
// root first.
func at(stack []string, names ...string) bool {
	if len(stack) != len(names) {
		return false
	}
	for i, n := range names {
		if n != "" && stack[i] != n {
			return false
		}
	}
	return true
}

// unescape undoes, in place, the _xHHHH_ escapes of a spreadsheet's text
// (a character XML cannot hold, such as _x0008_, and _x005F_ for an
// underscore), as excelize does: an escape of half a UTF-16 surrogate pair
// stands for nothing.
func unescape(b []byte) []byte {
	if !bytes.Contains(b, []byte("_x")) {
		return b
	}
	out := b[:0]
	for i := 0; i < len(b); {
		if v, ok := escape(b[i:]); ok {
			i += 7
			switch {
			case v == '_':
				out = append(out, '_')
			case v < 0xD800 || v > 0xDFFF:
				out = utf8.AppendRune(out, rune(v))
			}
			continue
		}
		out = append(out, b[i])
		i++
	}
	return out
}

// escape reads an _xHHHH_ escape at the start of b.
func escape(b []byte) (uint64, bool) {
	if len(b) < 7 || b[0] != '_' || b[1] != 'x' || b[6] != '_' {
		return 0, false
	}
	for _, h := range b[2:6] {
		if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(string(b[2:6]), 16, 16)
	return v, err == nil
}

// row is the row of a sheet being read.
type row struct {
	sst   *sharedStrings
	cells []string
	col   int   // the column of the last cell
	cost  int64 // the memory its cells take (see MaxHeldBytes)
	// The cell being read: its reference and type, its value (v) and
	// inline string (is) as written, and whether it has a formula (f) or
	// an inline string.
	ref, typ         string
	v, is            []byte
	formula, inlined bool
}

// place adds the cell read to the row, as excelize's Rows does: in the
// column its reference names, or the one after the last cell's; after
// blank cells up to it, and only when it has a value or a formula.
func (r *row) place() error {
	if r.ref != "" {
		col, _, err := excelize.CellNameToCoordinates(r.ref)
		if err != nil {
			return err
		}
		if col <= r.col {
			// excelize put it after the last cell, in another column.
			last, _ := excelize.ColumnNumberToName(r.col)
			return fmt.Errorf("cell %s comes after a cell of column %s", r.ref, last)
		}
		r.col = col
	} else {
		r.col++
	}
	if r.col > excelize.MaxColumns {
		return fmt.Errorf("a cell is past column XFD (%d), a sheet's last", excelize.MaxColumns)
	}
	val, shared := string(r.v), false
	switch {
	case r.typ == "s" && len(r.v) > 0:
		i, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil {
			return fmt.Errorf("shared string index %q is not a number", val)
		}
		if val, shared = r.sst.get(i); !shared {
			return fmt.Errorf("invalid shared string index %d", i)
		}
	case r.typ == "inlineStr" && r.inlined:
		val = string(unescape(r.is))
	}
	if val == "" && !r.formula {
		return nil
	}
	for len(r.cells) < r.col-1 {
		r.cells = append(r.cells, "")
		r.cost += 16
	}
	r.cells = append(r.cells, val)
	r.cost += 16
	if !shared {
		r.cost += int64(len(val))
	}
	if len(r.cells) > excelize.MaxColumns {
		return fmt.Errorf("the row has more than %d cells, a sheet's most", excelize.MaxColumns)
	}
	return nil
}

// readSheet reads a sheet's rows into sh, as excelize's Rows reads them
// (with RawCellValue): a row's line is its row number, its cells are
// placed by their references (column A first), and blank cells are left
// out at its end. It stops after the row past maxRows.
func readSheet(zf *zip.File, name string, sst *sharedStrings, sh *Sheet, maxRows int) error {
	x, err := openXML(zf, name)
	if err != nil {
		return err
	}
	defer x.close()
	var (
		held   int64 // the memory the shared strings and the rows kept take
		placed int64 // the cells placed in every row, blank ones included
		line   int
		r      = &row{sst: sst}
		stack  []string // the elements open, the root first
	)
	if sst != nil {
		held = sst.held
	}
	tooMuch := func() error {
		return &Problem{Line: line, Reason: fmt.Sprintf("the workbook's cells and shared strings take more than %d MiB to hold: import it in smaller files", MaxHeldBytes>>20)}
	}
	for {
		tok, err := x.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if p := (*Problem)(nil); errors.As(err, &p) {
				p.Line = line
			}
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			switch {
			case at(stack, "", "sheetData", "row"):
				next := line + 1
				if v, ok := attr(t, "r"); ok {
					n, err := strconv.Atoi(strings.TrimSpace(v))
					if err != nil || n < 1 {
						return &Problem{Line: next, Reason: fmt.Sprintf("unreadable row: row number %q", v)}
					}
					if n < next {
						// excelize read it as more of the row before.
						return &Problem{Line: line, Reason: fmt.Sprintf("unreadable sheet: row %d comes after row %d", n, line)}
					}
					next = n
				}
				if next > excelize.TotalRows {
					return &Problem{Line: next, Reason: fmt.Sprintf("unreadable sheet: a row is numbered past %d, a sheet's last", excelize.TotalRows)}
				}
				line = next
				r.cells, r.col, r.cost = r.cells[:0], 0, 0
			case at(stack, "", "sheetData", "row", "c"):
				r.ref, _ = attr(t, "r")
				r.typ, _ = attr(t, "t")
				r.v, r.is, r.formula, r.inlined = r.v[:0], r.is[:0], false, false
			case at(stack, "", "sheetData", "row", "c", "v"):
				// The last v is the cell's value.
				r.v = r.v[:0]
			case at(stack, "", "sheetData", "row", "c", "f"):
				r.formula = true
			case at(stack, "", "sheetData", "row", "c", "is"):
				r.is, r.inlined = r.is[:0], true
			}
		case xml.EndElement:
			switch {
			case at(stack, "", "sheetData", "row", "c"):
				if err := r.place(); err != nil {
					return &Problem{Line: line, Reason: "unreadable row: " + err.Error()}
				}
				if held+r.cost > MaxHeldBytes {
					return tooMuch()
				}
			case at(stack, "", "sheetData", "row"):
				if placed += int64(len(r.cells)); placed > MaxCells {
					return &Problem{Line: line, Reason: fmt.Sprintf("the sheet has more than %d cells, blank ones up to each row's last included: import it in smaller files", MaxCells)}
				}
				var rec []string
				if !Blank(r.cells) {
					rec = append([]string(nil), r.cells...)
					held += r.cost + 32
				}
				if sh.add(line, rec, maxRows) {
					return nil
				}
			case at(stack, "", "sheetData"):
				return nil
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			switch {
			case at(stack, "", "sheetData", "row", "c", "v"):
				r.v = append(r.v, t...)
			case at(stack, "", "sheetData", "row", "c", "is", "t"), at(stack, "", "sheetData", "row", "c", "is", "r", "t"):
				r.is = append(r.is, t...)
			default:
				continue
			}
			if held+r.cost+int64(len(r.v)+len(r.is)) > MaxHeldBytes {
				return tooMuch()
			}
		}
	}
}
