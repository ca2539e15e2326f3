package dnc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/heed-dialer/heed/internal/zipbound"
)

// Mode says what the lines of an import input mean.
type Mode uint8

const (
	// ModeFull: the input is the whole list, or one part of it (one area
	// code's file), and every line is a member.
	ModeFull Mode = iota
	// ModeAdditions: every line adds a number (an FTC additions file).
	ModeAdditions
	// ModeDeletions: every line removes a number (an FTC deletions file).
	ModeDeletions
	// ModeChanges: every line says whether it adds or removes, with a
	// leading '+' or '-' or with a field such as "A"/"D" or
	// "add"/"delete". A line that says nothing takes its direction from
	// the file name when a whole word of the name says so ("additions",
	// "deletes": opFromName), and is rejected otherwise. With
	// ImportOptions.OptOuts (the internal list) it adds instead, and is
	// rejected when the name says delete.
	ModeChanges
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case ModeFull:
		return "full"
	case ModeAdditions:
		return "additions"
	case ModeDeletions:
		return "deletions"
	case ModeChanges:
		return "changes"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// Input is one file to import.
type Input struct {
	// Name identifies the input in reports and errors.
	Name string
	// R is the content: text, or a zip archive of text files, recognised
	// by its signature. Zip archives are read in place when R is also an
	// io.ReaderAt and io.Seeker (an *os.File, a multipart.File) and are
	// read into memory otherwise.
	R io.Reader
	// Mode says what the lines mean.
	Mode Mode
}

// ImportOptions tune an import.
type ImportOptions struct {
	// MaxRejected is how many garbage lines the import tolerates; past it
	// the import fails with a *GarbageError. The zero value tolerates
	// none: a line that is not a number may be a number that was meant to
	// be on the list. A negative value tolerates any number.
	MaxRejected int
	// MaxExamples is how many rejected lines the report quotes; 10 when
	// zero.
	MaxExamples int
	// PhoneColumn names the column that holds the numbers in delimited
	// inputs: a header name ("Phone Number", compared ignoring case, spaces
	// and punctuation) or a 1-based position ("3"). When empty, the
	// importer takes the column from the header line, or else takes the
	// first field that is a phone number.
	PhoneColumn string
	// OptOuts says the inputs are for the internal do-not-call list, whose
	// entries are people's opt-outs. A change line that says no direction
	// then adds its number, unless its file's name says delete: the list
	// takes a removal only from a line that says so (a leading '-' or a
	// delete field), never from a file name alone, and such a line is
	// rejected. ImportList sets it for the internal list.
	OptOuts bool
	// Progress, when set, is called with the total number of input bytes
	// read so far (compressed bytes for zip archives): about once per MiB
	// and at the end of each input.
	Progress func(bytesRead int64)
}

// Rejection is one rejected line.
type Rejection struct {
	// Input is the input's name, with the zip entry after a colon.
	Input string
	// Line is the 1-based line number.
	Line int64
	// Text is the line, shortened and with unprintable bytes escaped.
	Text string
	// Reason says what is wrong with it.
	Reason string
}

// String formats the rejection as "input:line: reason: text".
func (r Rejection) String() string {
	return fmt.Sprintf("%s:%d: %s: %q", r.Input, r.Line, r.Reason, r.Text)
}

// ImportReport counts what an import read.
type ImportReport struct {
	// Inputs names every file read, zip entries included.
	Inputs []string
	// Bytes is the number of input bytes read.
	Bytes int64
	// Lines counts every line; Blank, Headers, Rejected and the lines with
	// numbers add up to it.
	Lines int64
	// Numbers counts the lines of full lists, duplicates included.
	Numbers int64
	// Additions and Deletions count the lines of change lists.
	Additions, Deletions int64
	// Blank counts empty lines.
	Blank int64
	// Headers counts the header lines skipped at the top of inputs.
	Headers int64
	// Rejected counts garbage lines.
	Rejected int64
	// Examples quotes the first rejected lines.
	Examples []Rejection
}

// GarbageError is the error of an import that rejected more lines than it
// tolerates. It wraps ErrGarbage.
type GarbageError struct {
	// Report is the import's report.
	Report ImportReport
	// Max is the number of garbage lines that was tolerated.
	Max int
}

// Error summarises the rejected lines.
func (e *GarbageError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d garbage lines (at most %d allowed)", e.Report.Rejected, max(e.Max, 0))
	for i, r := range e.Report.Examples {
		if i == 3 {
			fmt.Fprintf(&b, "; ...")
			break
		}
		fmt.Fprintf(&b, "; %s", r)
	}
	return b.String()
}

// Unwrap returns ErrGarbage.
func (e *GarbageError) Unwrap() error { return ErrGarbage }

// ImportResult is a complete import. Nothing is applied anywhere until the
// caller installs it.
type ImportResult struct {
	// Report counts what was read.
	Report ImportReport
	// Full is the list built from the ModeFull inputs, or nil when there
	// were none.
	Full *Set
	// Adds and Dels are the changes read from the other inputs, sorted and
	// without duplicates.
	Adds, Dels []uint64
}

// Resolve returns the list the import describes: Full (or current, when
// the import had no full list) with the changes applied.
func (r *ImportResult) Resolve(current *Set) (*Set, ApplyStats, error) {
	base := r.Full
	if base == nil {
		base = current
	}
	if base == nil {
		base = &Set{}
	}
	s, st, err := base.Apply(r.Adds, r.Dels)
	if err != nil {
		return nil, st, fmt.Errorf("resolve import: %w", err)
	}
	return s, st, nil
}

// Import reads every input and returns the complete result, or an error and
// nothing.
func Import(ctx context.Context, opts ImportOptions, inputs ...Input) (*ImportResult, error) {
	im := NewImporter(opts)
	for _, in := range inputs {
		if err := im.Add(ctx, in); err != nil {
			return nil, err
		}
	}
	return im.Finish()
}

// Importer reads inputs one by one into one result. It is not safe for
// concurrent use. After an error the importer is spent and Finish returns
// the error too.
type Importer struct {
	opts     ImportOptions
	builder  Builder
	full     bool
	adds     []uint64
	dels     []uint64
	report   ImportReport
	err      error
	buf      []byte
	lastProg int64
}

// NewImporter returns an importer with the given options.
func NewImporter(opts ImportOptions) *Importer {
	if opts.MaxExamples <= 0 {
		opts.MaxExamples = 10
	}
	return &Importer{opts: opts}
}

// Add reads one input. Its numbers are kept until Finish.
func (im *Importer) Add(ctx context.Context, in Input) error {
	if im.err != nil {
		return im.err
	}
	if err := im.add(ctx, in); err != nil {
		im.err = err
		return err
	}
	return nil
}

// Finish returns the result of every input added, or an error: the first
// error of Add, or a *GarbageError when more lines were rejected than
// ImportOptions.MaxRejected allows.
func (im *Importer) Finish() (*ImportResult, error) {
	if im.err != nil {
		return nil, im.err
	}
	im.err = errors.New("dnc importer already finished")
	rep := im.report
	if im.opts.MaxRejected >= 0 && rep.Rejected > int64(im.opts.MaxRejected) {
		im.builder.Reset()
		return nil, fmt.Errorf("dnc import: %w", &GarbageError{Report: rep, Max: im.opts.MaxRejected})
	}
	res := &ImportResult{Report: rep}
	if im.full {
		res.Full = im.builder.Build()
	}
	var err error
	if res.Adds, err = sortedUnique(im.adds); err != nil {
		return nil, fmt.Errorf("dnc import: %w", err)
	}
	if res.Dels, err = sortedUnique(im.dels); err != nil {
		return nil, fmt.Errorf("dnc import: %w", err)
	}
	return res, nil
}

// zipMagic and emptyZipMagic start zip archives, the second one with no
// entries.
var (
	zipMagic      = []byte("PK\x03\x04")
	emptyZipMagic = []byte("PK\x05\x06")
)

func isZip(sig []byte) bool { return bytes.Equal(sig, zipMagic) || bytes.Equal(sig, emptyZipMagic) }

// add reads one input, plain or zipped.
func (im *Importer) add(ctx context.Context, in Input) error {
	if in.Mode > ModeChanges {
		return fmt.Errorf("dnc import %s: %w: mode %v", in.Name, ErrUnsupportedInput, in.Mode)
	}
	if in.R == nil {
		return fmt.Errorf("dnc import %s: %w: no reader", in.Name, ErrUnsupportedInput)
	}
	if in.Mode == ModeFull {
		im.full = true
	}
	// Zip archives are read through io.ReaderAt, so look at the signature
	// without consuming the reader when it can seek.
	if ra, ok := in.R.(interface {
		io.ReaderAt
		io.Seeker
	}); ok {
		start, err := ra.Seek(0, io.SeekCurrent)
		if err != nil {
			return fmt.Errorf("dnc import %s: %w", in.Name, err)
		}
		end, err := ra.Seek(0, io.SeekEnd)
		if err != nil {
			return fmt.Errorf("dnc import %s: %w", in.Name, err)
		}
		if _, err := ra.Seek(start, io.SeekStart); err != nil {
			return fmt.Errorf("dnc import %s: %w", in.Name, err)
		}
		sig := make([]byte, 4)
		if n, _ := ra.ReadAt(sig, start); n == 4 && isZip(sig) {
			return im.addZip(ctx, in, &countingReaderAt{r: ra, im: im}, start, end-start)
		}
	}
	br := bufio.NewReaderSize(&countingReader{r: in.R, im: im}, 64<<10)
	if sig, _ := br.Peek(4); isZip(sig) {
		data, err := io.ReadAll(br)
		if err != nil {
			return fmt.Errorf("dnc import %s: %w", in.Name, err)
		}
		return im.addZip(ctx, in, bytes.NewReader(data), 0, int64(len(data)))
	}
	im.report.Inputs = append(im.report.Inputs, in.Name)
	err := im.readText(ctx, in.Name, br, in.Mode)
	im.progress(true)
	return err
}

func (im *Importer) addZip(ctx context.Context, in Input, ra io.ReaderAt, off, size int64) error {
	zr, err := zipbound.NewReader(io.NewSectionReader(ra, off, size), size, maxZipDirectory)
	if errors.Is(err, zipbound.ErrDirectory) {
		return fmt.Errorf("dnc import %s: %w: its list of files is over %d MiB (a registry download's is a few KiB)", in.Name, ErrUnsupportedInput, maxZipDirectory>>20)
	}
	if err != nil {
		return fmt.Errorf("dnc import %s: read zip: %w", in.Name, err)
	}
	for _, f := range zr.File {
		base := path.Base(f.Name)
		if f.FileInfo().IsDir() || strings.HasPrefix(f.Name, "__MACOSX/") || strings.HasPrefix(base, ".") {
			continue
		}
		name := in.Name + ":" + f.Name
		im.report.Inputs = append(im.report.Inputs, name)
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("dnc import %s: %w", name, err)
		}
		br := bufio.NewReaderSize(rc, 64<<10)
		if sig, _ := br.Peek(4); isZip(sig) {
			rc.Close()
			return fmt.Errorf("dnc import %s: %w: zip archive inside a zip archive", name, ErrUnsupportedInput)
		}
		err = im.readText(ctx, name, br, in.Mode)
		if cerr := rc.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("dnc import %s: %w", name, cerr)
		}
		if err != nil {
			return err
		}
		im.progress(true)
	}
	im.progress(true)
	return nil
}

// maxZipDirectory bounds a ZIP input's list of files, which archive/zip
// holds in memory at some five times its size before anything is read: a
// registry download's lists a few hundred files in a few KiB.
const maxZipDirectory = 1 << 20

// maxLine is the longest line the importer looks at.
const maxLine = 4096

// readText reads a text input line by line.
func (im *Importer) readText(ctx context.Context, name string, r io.Reader, mode Mode) error {
	p := lineParser{im: im, name: name, mode: mode, cols: noColumns}
	if mode == ModeChanges {
		p.nameOp = opFromName(name)
		if im.opts.OptOuts {
			// An opt-out is removed only by a line that says so.
			p.nameDel = p.nameOp == opDel
			p.nameOp = opAdd
			if p.nameDel {
				p.nameOp = opNone
			}
		}
	}
	if err := p.configure(); err != nil {
		return err
	}
	if im.buf == nil {
		im.buf = make([]byte, 256<<10)
	}
	buf := im.buf
	have := 0     // bytes in buf
	skip := false // inside an over-long line
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("dnc import %s: %w", name, err)
		}
		n, rerr := io.ReadAtLeast(r, buf[have:], 1)
		have += n
		eof := rerr == io.EOF || rerr == io.ErrUnexpectedEOF
		if rerr != nil && !eof {
			return fmt.Errorf("dnc import %s: line %d: %w", name, p.line+1, rerr)
		}
		data := buf[:have]
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			if skip {
				skip = false
			} else {
				p.handle(data[:i])
			}
			data = data[i+1:]
		}
		if eof {
			if len(data) > 0 && !skip {
				p.handle(data)
			}
			return nil
		}
		if len(data) > maxLine {
			// Reject the long line once and drop it up to its newline.
			if !skip {
				p.line++
				im.report.Lines++
				p.reject(data[:80], reasonTooLong)
			}
			skip = true
			data = data[:0]
		}
		have = copy(buf, data)
		im.progress(false)
	}
}

// progress reports the bytes read, at most once per MiB unless final.
func (im *Importer) progress(final bool) {
	if im.opts.Progress == nil {
		return
	}
	if final || im.report.Bytes-im.lastProg >= 1<<20 {
		im.lastProg = im.report.Bytes
		im.opts.Progress(im.report.Bytes)
	}
}

type countingReader struct {
	r  io.Reader
	im *Importer
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.im.report.Bytes += int64(n)
	return n, err
}

type countingReaderAt struct {
	r  io.ReaderAt
	im *Importer
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.im.report.Bytes += int64(n)
	c.im.progress(false)
	return n, err
}

// lineParser holds the state of one text input.
type lineParser struct {
	im       *Importer
	name     string
	mode     Mode
	nameOp   op   // direction of ModeChanges lines that say none
	nameDel  bool // the name says delete, which ImportOptions.OptOuts does not take
	line     int64
	seenData bool
	cols     columns
	fixed    bool // cols come from ImportOptions.PhoneColumn
	named    bool // PhoneColumn is a header name still to find
}

func (p *lineParser) configure() error {
	pc := strings.TrimSpace(p.im.opts.PhoneColumn)
	if pc == "" {
		return nil
	}
	if i, err := strconv.Atoi(pc); err == nil {
		if i < 1 || i > maxFields {
			return fmt.Errorf("dnc import %s: phone column %d: %w: want 1 to %d", p.name, i, ErrUnsupportedInput, maxFields)
		}
		p.cols.phone = i - 1
		p.fixed = true
		return nil
	}
	p.named = true
	return nil
}

// handle processes one line without its newline.
func (p *lineParser) handle(line []byte) {
	p.line++
	p.im.report.Lines++
	if p.line == 1 {
		line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
	}
	// Trim CR, spaces and tabs at both ends.
	for len(line) > 0 {
		c := line[len(line)-1]
		if c != '\r' && c != ' ' && c != '\t' {
			break
		}
		line = line[:len(line)-1]
	}
	for len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
		line = line[1:]
	}
	if len(line) == 0 {
		p.im.report.Blank++
		return
	}
	// The layouts of the FTC flat files, "8605550101" and "860,5550101",
	// whatever a header said, unless the caller named the column.
	if !p.fixed && !p.named {
		var v uint64
		ok := false
		switch {
		case len(line) == 10:
			v, ok = parseTen(line)
		case len(line) == 11 && line[3] == ',':
			var a, l uint64
			var okA, okL bool
			a, okA = parseArea(line[:3])
			l, okL = parseLocal(line[4:])
			v, ok = a*10_000_000+l, okA && okL
		}
		if ok && v/10_000_000 >= 200 && v/10_000%1000 >= 200 {
			p.accept(line, v, opNone)
			return
		}
	}
	if len(line) > maxLine {
		p.reject(line, reasonTooLong)
		return
	}
	p.slow(line)
}

// slow parses any other line.
func (p *lineParser) slow(line []byte) {
	if isBinary(line) {
		p.reject(line, reasonBinary)
		return
	}
	lineOp := opNone
	if p.mode == ModeFull && line[0] == '-' {
		p.reject(line, reasonDeleteFull)
		return
	}
	if p.mode != ModeFull && (line[0] == '+' || line[0] == '-') {
		if line[0] == '+' {
			lineOp = opAdd
		} else {
			lineOp = opDel
		}
		line = bytes.TrimLeft(line[1:], " \t")
	}
	delim := p.cols.delim
	if !p.fixed && p.cols.phone < 0 {
		delim = delimiterOf(line)
	} else if p.fixed && delim == 0 {
		delim = delimiterOf(line)
	}
	var fs [maxFields][]byte
	nf := 1
	if delim != 0 {
		nf = splitFields(line, delim, &fs)
	} else {
		fs[0] = line
		if len(line) > 1 && line[0] == '"' && line[len(line)-1] == '"' {
			fs[0] = line[1 : len(line)-1]
		}
	}
	v, used, reason := p.number(fs[:nf])
	if reason != "" {
		if !p.seenData && hasLetter(line) {
			p.header(line)
			return
		}
		p.reject(line, reason)
		return
	}
	if p.mode == ModeChanges && lineOp == opNone {
		if p.cols.op >= 0 {
			if p.cols.op < nf {
				lineOp = opToken(fs[p.cols.op])
			}
		} else {
			for i, f := range fs[:nf] {
				if used>>uint(i)&1 == 0 {
					if o := opToken(f); o != opNone {
						lineOp = o
						break
					}
				}
			}
		}
	}
	p.accept(line, v, lineOp)
}

// number finds the number of a line's fields. used has a bit set for each
// field it read.
func (p *lineParser) number(fs [][]byte) (v uint64, used uint64, reason string) {
	if p.named {
		return 0, 0, reasonBadColumn
	}
	if p.cols.phone >= 0 {
		if p.cols.phone >= len(fs) {
			return 0, 0, reasonBadColumn
		}
		f := fs[p.cols.phone]
		v, reason, _ := parsePhone(f)
		if reason == "" {
			return v, 1 << uint(p.cols.phone), ""
		}
		if p.cols.area >= 0 && p.cols.area < len(fs) {
			a, okA := parseArea(fs[p.cols.area])
			l, okL := parseLocal(f)
			if okA && okL {
				v = a*10_000_000 + l
				if r := nanpReason(v); r != "" {
					return 0, 0, r
				}
				return v, 1<<uint(p.cols.phone) | 1<<uint(p.cols.area), ""
			}
		}
		return 0, 0, reason
	}
	// No header: "area code,number", or else the first field that is a
	// phone number.
	if len(fs) >= 2 {
		if a, ok := parseArea(fs[0]); ok {
			if l, ok := parseLocal(fs[1]); ok {
				v = a*10_000_000 + l
				if r := nanpReason(v); r != "" {
					return 0, 0, r
				}
				return v, 3, ""
			}
		}
	}
	first := ""
	for i, f := range fs {
		v, r, digits := parsePhone(f)
		if r == "" {
			return v, 1 << uint(i), ""
		}
		if first == "" && digits {
			first = r
		}
	}
	if first == "" {
		first = reasonNoNumber
	}
	return 0, 0, first
}

// header handles a line with letters before the first number.
func (p *lineParser) header(line []byte) {
	p.im.report.Headers++
	if p.fixed {
		return
	}
	cols, ok := learnColumns(line, p.im.opts.PhoneColumn)
	if ok {
		p.cols = cols
		p.named = false
	}
}

// accept records the number v of a data line.
func (p *lineParser) accept(line []byte, v uint64, o op) {
	im := p.im
	switch p.mode {
	case ModeFull:
		if o == opDel {
			p.reject(line, reasonDeleteFull)
			return
		}
		p.seenData = true
		im.report.Numbers++
		im.builder.add(v)
		return
	case ModeAdditions:
		if o == opDel {
			p.reject(line, reasonConflict)
			return
		}
		o = opAdd
	case ModeDeletions:
		if o == opAdd {
			p.reject(line, reasonConflict)
			return
		}
		o = opDel
	case ModeChanges:
		if o == opNone {
			o = p.nameOp
		}
		if o == opNone && p.nameDel {
			p.reject(line, reasonNameDelete)
			return
		}
		if o == opNone {
			p.reject(line, reasonNoOp)
			return
		}
	}
	p.seenData = true
	if o == opAdd {
		im.report.Additions++
		im.adds = append(im.adds, v)
	} else {
		im.report.Deletions++
		im.dels = append(im.dels, v)
	}
}

// reject counts a garbage line and keeps it as an example while there is
// room.
func (p *lineParser) reject(line []byte, reason string) {
	im := p.im
	im.report.Rejected++
	if len(im.report.Examples) < im.opts.MaxExamples {
		im.report.Examples = append(im.report.Examples, Rejection{
			Input: p.name, Line: p.line, Text: printable(line), Reason: reason,
		})
	}
}

// printable shortens a line to 80 bytes and escapes what is not printable
// UTF-8.
func printable(b []byte) string {
	if len(b) > 80 {
		b = b[:80]
	}
	if utf8.Valid(b) && !isBinary(b) {
		return string(b)
	}
	q := strconv.Quote(string(b))
	return q[1 : len(q)-1]
}

// Compile-time checks.
var (
	_ io.Reader   = (*countingReader)(nil)
	_ io.ReaderAt = (*countingReaderAt)(nil)
)
