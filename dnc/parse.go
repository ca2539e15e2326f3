package dnc

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// op is what a line of an import does.
type op uint8

const (
	opNone op = iota
	opAdd
	opDel
)

// Reasons a line is rejected.
const (
	reasonNoNumber   = "no phone number"
	reasonLetters    = "not a phone number"
	reasonTooLong    = "line too long"
	reasonNoOp       = "change line without + or - or an add/delete field"
	reasonNameDelete = "the file name says delete, but an opt-out is removed only by a line marked - or with a delete field"
	reasonConflict   = "change direction contradicts the input's mode"
	reasonBadColumn  = "no such column"
	reasonBinary     = "binary data"
	reasonDeleteFull = "deletion in a full list"
)

// parseTen parses exactly ten ASCII digits.
func parseTen(b []byte) (uint64, bool) {
	if len(b) != 10 {
		return 0, false
	}
	v := uint64(0)
	for _, c := range b {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		v = v*10 + uint64(d)
	}
	return v, true
}

// nanpReason returns why the ten-digit v cannot be a NANP number, or "".
func nanpReason(v uint64) string {
	if npa := v / 10_000_000; npa < 200 {
		return "area code " + pad3(npa) + " does not start with 2-9"
	}
	if nxx := v / 10_000 % 1000; nxx < 200 {
		return "exchange " + pad3(nxx) + " does not start with 2-9"
	}
	return ""
}

func pad3(v uint64) string {
	s := strconv.FormatUint(v, 10)
	for len(s) < 3 {
		s = "0" + s
	}
	return s
}

// parsePhone reads a number as people write it: ten digits, optionally
// after a "+1" or "1", with spaces, dots, dashes, slashes and parentheses
// between them. It returns the number or why the field is not one; digits
// reports whether the field held any digit.
func parsePhone(f []byte) (v uint64, reason string, digits bool) {
	n := 0
	for i, c := range f {
		switch {
		case c >= '0' && c <= '9':
			n++
			if n > 11 {
				return 0, "more than 11 digits", true
			}
			v = v*10 + uint64(c-'0')
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/':
		case c == '+' && i == 0:
		default:
			return 0, reasonLetters, n > 0 || hasDigit(f[i:])
		}
	}
	switch {
	case n == 0:
		return 0, reasonNoNumber, false
	case n == 11 && v/10_000_000_000 == 1:
		v -= 10_000_000_000
	case n != 10:
		return 0, strconv.Itoa(n) + " digits, want 10", true
	}
	if r := nanpReason(v); r != "" {
		return 0, r, true
	}
	return v, "", true
}

// parseLocal reads a seven-digit local number ("5550101", "555-0101").
func parseLocal(f []byte) (uint64, bool) {
	n, v := 0, uint64(0)
	for _, c := range f {
		switch {
		case c >= '0' && c <= '9':
			n++
			v = v*10 + uint64(c-'0')
		case c == ' ' || c == '-' || c == '.':
		default:
			return 0, false
		}
	}
	return v, n == 7
}

// parseArea reads a three-digit area code.
func parseArea(f []byte) (uint64, bool) {
	if len(f) != 3 {
		return 0, false
	}
	v := uint64(0)
	for _, c := range f {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

func hasDigit(b []byte) bool {
	for _, c := range b {
		if c >= '0' && c <= '9' {
			return true
		}
	}
	return false
}

func hasLetter(b []byte) bool {
	for _, c := range b {
		if c|0x20 >= 'a' && c|0x20 <= 'z' {
			return true
		}
	}
	return false
}

// isBinary reports whether a line holds control bytes that no text file
// has.
func isBinary(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' {
			return true
		}
	}
	return false
}

// opToken reads a field that says whether a change line adds or deletes.
func opToken(f []byte) op {
	if len(f) == 0 || len(f) > 9 {
		return opNone
	}
	var buf [9]byte
	for i, c := range f {
		buf[i] = c | 0x20 // ASCII lower case; '+' and '-' are unchanged
		if c >= '0' && c <= '9' {
			return opNone
		}
	}
	switch string(buf[:len(f)]) {
	case "a", "add", "added", "addition", "i", "ins", "insert", "+", "new":
		return opAdd
	case "d", "del", "delete", "deleted", "deletion", "r", "rem", "remove", "removed", "-", "x":
		return opDel
	}
	return opNone
}

// opFromName guesses the direction of a change file from its name, as the
// FTC names its separate addition and deletion files. Only whole words of
// the name count: the name, after its last path separator, is split into
// words at every character that is not a letter and where a lower-case
// letter meets an upper-case one ("2025-06-01-deletions.txt",
// "AreaCodeDeletions.txt"), and a word must be one of nameAdds or
// nameDels. Letters inside a word never count: "Fidelity-optouts.txt",
// "Delaware.txt" and "model.txt" say no direction. A name with words of
// both directions, or of neither, says none.
func opFromName(name string) op {
	if i := strings.LastIndexAny(name, `/\:`); i >= 0 {
		name = name[i+1:]
	}
	var add, del bool
	for _, w := range nameWords(name) {
		w = strings.ToLower(w)
		add = add || slices.Contains(nameAdds, w)
		del = del || slices.Contains(nameDels, w)
	}
	switch {
	case del && !add:
		return opDel
	case add && !del:
		return opAdd
	}
	return opNone
}

// The words of a file name that give a change file its direction
// (opFromName).
var (
	nameAdds = []string{"add", "adds", "added", "addition", "additions", "new"}
	nameDels = []string{"del", "dels", "delete", "deletes", "deleted", "deletion", "deletions",
		"remove", "removes", "removed", "removal", "removals"}
)

// nameWords splits a file name into its words: runs of letters, split
// again where a lower-case letter meets an upper-case one.
func nameWords(name string) []string {
	var words []string
	start := -1
	prevLower := false
	for i, r := range name {
		letter := unicode.IsLetter(r)
		if start >= 0 && (!letter || prevLower && unicode.IsUpper(r)) {
			words = append(words, name[start:i])
			start = -1
		}
		if letter && start < 0 {
			start = i
		}
		prevLower = unicode.IsLower(r)
	}
	if start >= 0 {
		words = append(words, name[start:])
	}
	return words
}

// maxFields is how many fields of a delimited line are looked at.
const maxFields = 64

// splitFields splits a line at delim, honouring double quotes, and trims
// spaces and quotes from each field. It returns the number of fields.
func splitFields(line []byte, delim byte, out *[maxFields][]byte) int {
	n := 0
	for n < maxFields {
		var f []byte
		quoted := false
		i := 0
		for i < len(line) && (line[i] == ' ' || line[i] == '\t' && delim != '\t') {
			i++
		}
		if i < len(line) && line[i] == '"' {
			// Quoted field: up to the closing quote; "" is a quote.
			quoted = true
			j := i + 1
			for j < len(line) {
				if line[j] == '"' {
					if j+1 < len(line) && line[j+1] == '"' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			f = line[i+1 : min(j, len(line))]
			i = min(j+1, len(line))
			k := bytes.IndexByte(line[i:], delim)
			if k < 0 {
				line = nil
			} else {
				line = line[i+k+1:]
			}
		} else {
			k := bytes.IndexByte(line, delim)
			if k < 0 {
				f, line = line, nil
			} else {
				f, line = line[:k], line[k+1:]
			}
		}
		if !quoted {
			f = bytes.TrimSpace(f)
		}
		out[n] = f
		n++
		if line == nil {
			break
		}
	}
	return n
}

// delimiterOf picks the field delimiter of a line: the first of comma, tab,
// semicolon and bar that it holds, or 0 for a line of one field.
func delimiterOf(line []byte) byte {
	for _, d := range []byte{',', '\t', ';', '|'} {
		if bytes.IndexByte(line, d) >= 0 {
			return d
		}
	}
	return 0
}

// columns are the roles of the fields of a delimited input, learned from
// its header line or given by ImportOptions.PhoneColumn; -1 when unknown.
type columns struct {
	phone, area, op int
	delim           byte
}

var noColumns = columns{phone: -1, area: -1, op: -1}

// headerName lowers a header field and drops everything but letters and
// digits.
func headerName(f []byte) string {
	var b []byte
	for _, c := range f {
		c |= 0x20
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b = append(b, c)
		}
	}
	return string(b)
}

// learnColumns reads a header line. It returns the columns it names and
// whether it names a phone column.
func learnColumns(line []byte, want string) (columns, bool) {
	c := noColumns
	c.delim = delimiterOf(line)
	var fs [maxFields][]byte
	nf := splitFields(line, c.delim, &fs)
	for i, f := range fs[:nf] {
		name := headerName(f)
		switch {
		case want != "":
			if name == headerName([]byte(want)) {
				c.phone = i
			}
		case c.phone < 0 && isPhoneHeader(name):
			c.phone = i
		}
		switch name {
		case "areacode", "area", "npa", "ac":
			c.area = i
		case "action", "op", "operation", "change", "changetype", "type", "adddelete", "addordelete", "indicator", "flag":
			c.op = i
		}
	}
	if c.area == c.phone {
		c.area = -1
	}
	return c, c.phone >= 0
}

func isPhoneHeader(name string) bool {
	switch name {
	case "number", "tel", "telno", "tn", "dnc", "mobile", "cell", "wireless", "msisdn", "dnis", "ani",
		"localnumber", "local", "subscriber", "telephone", "telephonenumber", "contactnumber":
		return true
	}
	return len(name) <= 24 && (bytes.Contains([]byte(name), []byte("phone")) || bytes.HasSuffix([]byte(name), []byte("number")))
}
