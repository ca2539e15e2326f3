// Package phone parses and formats telephone numbers for heed. It is the one
// leaf package that consent and dnc may import: it knows E.164, the North
// American Numbering Plan and nothing of heed's storage.
package phone

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalid reports a string that is not a valid telephone number.
var ErrInvalid = errors.New("not a valid phone number")

// ErrNotNANP reports a valid number outside the North American Numbering Plan.
var ErrNotNANP = errors.New("number is outside the North American Numbering Plan")

// DefaultRegion is the region assumed for numbers written without a country code.
const DefaultRegion = "US"

// Number is a parsed telephone number in E.164 form, such as "+18605550101".
type Number string

// Parse reads a number as a person would write it ("(860) 555-0101",
// "860.555.0101", "+1 860 555 0101") and returns it in E.164 form. It returns
// an error wrapping ErrInvalid when the text is not a valid number.
func Parse(s string) (Number, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("empty phone: %w", ErrInvalid)
	}
	for _, r := range s {
		if (r < '0' || r > '9') && !strings.ContainsRune(" +-().", r) {
			return "", fmt.Errorf("phone %q contains %q: %w", s, r, ErrInvalid)
		}
	}
	n, err := phonenumbers.Parse(s, DefaultRegion)
	if err != nil {
		return "", fmt.Errorf("phone %q: %v: %w", s, err, ErrInvalid)
	}
	if !phonenumbers.IsValidNumber(n) {
		return "", fmt.Errorf("phone %q: %w", s, ErrInvalid)
	}
	return Number(phonenumbers.Format(n, phonenumbers.E164)), nil
}

// String returns the E.164 form.
func (n Number) String() string { return string(n) }

// NANP returns the ten national digits of a +1 number as an integer
// (for example 8605550101), or an error wrapping ErrNotNANP.
func (n Number) NANP() (uint64, error) {
	s := string(n)
	if len(s) != 12 || !strings.HasPrefix(s, "+1") {
		return 0, fmt.Errorf("phone %q: %w", s, ErrNotNANP)
	}
	var v uint64
	for _, c := range s[2:] {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("phone %q: %w", s, ErrInvalid)
		}
		v = v*10 + uint64(c-'0')
	}
	return v, nil
}

// AreaCode returns the three-digit NANP area code, or "" outside the NANP.
func (n Number) AreaCode() string {
	s := string(n)
	if len(s) != 12 || !strings.HasPrefix(s, "+1") {
		return ""
	}
	return s[2:5]
}
