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

// ParseMeant is Parse, except for text written with a "+" that a 1 does
// not follow, whose digits after the "+" are exactly ten that form a valid
// NANP number ("+203 555 0199"): a person most likely left out the country
// code 1 of a North American number, and ParseMeant returns that number
// (+12035550199), though Parse may read the digits as another country's
// (+20 for Egypt: +2035550199). The paths that take an opt-out read numbers
// with it, so that the opt-out holds for the number the person almost
// certainly meant, the only kind heed calls.
func ParseMeant(s string) (Number, error) {
	if n, ok := plusWithoutOne(s); ok {
		return n, nil
	}
	return Parse(s)
}

// MissingOne reports whether s is a North American number written with a
// "+" but without its country code 1 ("+203 555 0199"): text ParseMeant
// reads as that NANP number, whatever else Parse may read it as.
func MissingOne(s string) bool {
	_, ok := plusWithoutOne(s)
	return ok
}

// plusWithoutOne returns the NANP number that text such as "+203 555 0199"
// stands for without its country code: text that starts with a "+" not
// followed by a 1, whose digits after it are exactly ten forming a valid
// NANP number. It reports false for any other text.
func plusWithoutOne(s string) (Number, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "+")
	if !ok {
		return "", false
	}
	digits := make([]byte, 0, 10)
	for _, r := range rest {
		switch {
		case r >= '0' && r <= '9':
			if len(digits) == 10 {
				return "", false
			}
			digits = append(digits, byte(r))
		case strings.ContainsRune(" -().", r):
		default:
			return "", false
		}
	}
	if len(digits) != 10 || digits[0] == '1' {
		return "", false
	}
	n, err := Parse("+1" + string(digits))
	if err != nil || n.AreaCode() == "" {
		return "", false
	}
	return n, true
}

// Display writes the number for people in the international format, with
// its country code and the grouping of its country: "+1 203-555-0199",
// "+44 20 7123 4567". A Number that is not valid E.164 is returned as it
// is.
func (n Number) Display() string {
	p, err := phonenumbers.Parse(string(n), DefaultRegion)
	if err != nil {
		return string(n)
	}
	return phonenumbers.Format(p, phonenumbers.INTERNATIONAL)
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

// Region returns the region phonenumbers places a valid number in, as an
// ISO 3166-1 code ("US", "CA", "JM"), or "" when it places it nowhere.
// The NANP's country code 1 is shared by the United States (the fifty
// states and DC, and the NANP-wide toll-free and premium-rate codes),
// Canada, five US territories and some twenty Caribbean countries: the
// area code tells them apart, +1 876 being Jamaica's.
func (n Number) Region() string {
	p, err := phonenumbers.Parse(string(n), DefaultRegion)
	if err != nil || !phonenumbers.IsValidNumber(p) {
		return ""
	}
	return phonenumbers.GetRegionCodeForNumber(p)
}

// nanpRegions names the regions of the NANP, by their ISO 3166-1 codes.
var nanpRegions = map[string]string{
	"US": "the United States", "CA": "Canada",
	"PR": "Puerto Rico", "VI": "the US Virgin Islands", "GU": "Guam", "MP": "the Northern Mariana Islands", "AS": "American Samoa",
	"AG": "Antigua and Barbuda", "AI": "Anguilla", "BB": "Barbados", "BM": "Bermuda", "BS": "the Bahamas",
	"DM": "Dominica", "DO": "the Dominican Republic", "GD": "Grenada", "JM": "Jamaica", "KN": "Saint Kitts and Nevis",
	"KY": "the Cayman Islands", "LC": "Saint Lucia", "MS": "Montserrat", "SX": "Sint Maarten", "TC": "the Turks and Caicos Islands",
	"TT": "Trinidad and Tobago", "VC": "Saint Vincent and the Grenadines", "VG": "the British Virgin Islands",
}

// RegionName names a region Region returns, for people: "Jamaica", "the
// United States"; a region outside the NANP, or "", is returned as it
// is.
func RegionName(region string) string {
	if name, ok := nanpRegions[region]; ok {
		return name
	}
	return region
}

// AreaCode returns the three-digit NANP area code, or "" outside the NANP.
func (n Number) AreaCode() string {
	s := string(n)
	if len(s) != 12 || !strings.HasPrefix(s, "+1") {
		return ""
	}
	return s[2:5]
}

// Exchange returns the three-digit NANP central office code (the digits
// after the area code), or "" outside the NANP.
func (n Number) Exchange() string {
	s := string(n)
	if len(s) != 12 || !strings.HasPrefix(s, "+1") {
		return ""
	}
	return s[5:8]
}
