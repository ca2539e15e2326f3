package campaign

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Errors of message templates.
var (
	// ErrTemplate reports a message whose placeholders are malformed or unknown.
	ErrTemplate = errors.New("invalid message template")
	// ErrMissingField reports a contact that lacks a field its campaign's
	// message uses.
	ErrMissingField = errors.New("the contact lacks a field the message uses")
)

// Placeholders are the names a campaign message may use in braces, such as
// {first_name}: the contact's name and first name, the date and time of the
// contact's appointment spoken in the campaign's time zone ("Tuesday,
// December 1", "9:30 AM"), and the contact's place and matter.
var Placeholders = []string{"name", "first_name", "date", "time", "place", "matter"}

// placeholderField is the contact column a placeholder reads, for those a
// contact may lack.
var placeholderField = map[string]string{
	"date": "appointment_at", "time": "appointment_at", "place": "place", "matter": "matter",
}

// Template is a parsed campaign message: text with placeholders.
type Template struct {
	parts []templatePart
}

type templatePart struct {
	text        string // literal text, when placeholder is ""
	placeholder string
}

// Fields are what a template may say of one contact.
type Fields struct {
	Name          string
	AppointmentAt *time.Time
	Place         string
	Matter        string
}

// ParseTemplate parses a message. Every "{" must open a known placeholder
// closed by "}"; a brace alone, or an unknown name, is an error wrapping
// ErrTemplate that names it.
func ParseTemplate(msg string) (Template, error) {
	var t Template
	rest := msg
	for rest != "" {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			t.parts = append(t.parts, templatePart{text: rest})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, templatePart{text: rest[:i]})
		}
		if rest[i] == '}' {
			return Template{}, fmt.Errorf("%w: a } without its {: placeholders are written like {name}", ErrTemplate)
		}
		end := strings.IndexAny(rest[i+1:], "{}")
		if end < 0 || rest[i+1+end] != '}' {
			return Template{}, fmt.Errorf("%w: a { is not closed: placeholders are written like {name}", ErrTemplate)
		}
		name := rest[i+1 : i+1+end]
		known := false
		for _, p := range Placeholders {
			if p == name {
				known = true
			}
		}
		if !known {
			return Template{}, fmt.Errorf("%w: unknown placeholder {%s}; the placeholders are %s", ErrTemplate, name, placeholderList())
		}
		t.parts = append(t.parts, templatePart{placeholder: name})
		rest = rest[i+2+end:]
	}
	return t, nil
}

func placeholderList() string {
	out := make([]string, len(Placeholders))
	for i, p := range Placeholders {
		out[i] = "{" + p + "}"
	}
	return strings.Join(out, ", ")
}

// Static reports whether the template has no placeholders: every contact
// hears the same message.
func (t Template) Static() bool {
	for _, p := range t.parts {
		if p.placeholder != "" {
			return false
		}
	}
	return true
}

// Needs returns the contact columns the template reads that a contact may
// lack ("appointment_at", "place", "matter"), each once, in that order.
func (t Template) Needs() []string {
	used := map[string]bool{}
	for _, p := range t.parts {
		if f, ok := placeholderField[p.placeholder]; ok {
			used[f] = true
		}
	}
	var out []string
	for _, f := range []string{"appointment_at", "place", "matter"} {
		if used[f] {
			out = append(out, f)
		}
	}
	return out
}

// Render writes the message for one contact; dates and times are spoken in
// loc. A field the template uses and the contact lacks is an error wrapping
// ErrMissingField.
func (t Template) Render(f Fields, loc *time.Location) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		switch p.placeholder {
		case "":
			b.WriteString(p.text)
		case "name":
			b.WriteString(strings.TrimSpace(f.Name))
		case "first_name":
			b.WriteString(FirstName(f.Name))
		case "date", "time":
			if f.AppointmentAt == nil {
				return "", fmt.Errorf("{%s}: no appointment date and time: %w", p.placeholder, ErrMissingField)
			}
			if p.placeholder == "date" {
				b.WriteString(SpokenDate(f.AppointmentAt.In(loc)))
			} else {
				b.WriteString(SpokenTime(f.AppointmentAt.In(loc)))
			}
		case "place", "matter":
			v := f.Place
			if p.placeholder == "matter" {
				v = f.Matter
			}
			v = strings.TrimSpace(v)
			if v == "" {
				return "", fmt.Errorf("{%s}: empty: %w", p.placeholder, ErrMissingField)
			}
			b.WriteString(v)
		}
	}
	return b.String(), nil
}

// SpokenDate writes a date as it is said: "Tuesday, December 1".
func SpokenDate(t time.Time) string { return t.Format("Monday, January 2") }

// SpokenTime writes a time of day as it is said: "9:30 AM", and "9 AM" on
// the hour.
func SpokenTime(t time.Time) string {
	if t.Minute() == 0 {
		return t.Format("3 PM")
	}
	return t.Format("3:04 PM")
}

// honorifics are skipped when looking for a first name; suffixes after a
// comma do not make a name "Last, First".
var (
	honorifics = map[string]bool{"mr": true, "mrs": true, "ms": true, "miss": true, "mx": true, "dr": true}
	suffixes   = map[string]bool{"jr": true, "sr": true, "ii": true, "iii": true, "iv": true, "esq": true, "phd": true, "md": true}
)

func nameWords(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == ',' })
}

// FirstName returns the first name of a contact's name: the first word,
// after any honorific ("Dr. Ann Lee": "Ann"); for a name written "Last,
// First", the first word after the comma ("Lee, Ann": "Ann", but "Ann Lee,
// Jr.": "Ann"). A name of one word is returned as it is.
func FirstName(name string) string {
	name = strings.TrimSpace(name)
	if _, after, ok := strings.Cut(name, ","); ok {
		if w := nameWords(after); len(w) > 0 && !suffixes[strings.ToLower(strings.TrimSuffix(w[0], "."))] {
			name = after
		}
	}
	words := nameWords(name)
	for i, w := range words {
		if i < len(words)-1 && honorifics[strings.ToLower(strings.TrimSuffix(w, "."))] {
			continue
		}
		return w
	}
	return strings.TrimSpace(name)
}
