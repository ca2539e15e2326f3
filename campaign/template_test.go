package campaign

import (
	"errors"
	"testing"
	"time"
)

func TestParseTemplate(t *testing.T) {
	for _, tc := range []struct {
		msg    string
		static bool
		needs  []string
		err    string
	}{
		{msg: "Hello, this is Smith and Lee.", static: true},
		{msg: "", static: true},
		{msg: "Hello {first_name}.", needs: nil},
		{msg: "{name}: your hearing is on {date} at {time}.", needs: []string{"appointment_at"}},
		{msg: "{matter} at {place}, {time}, {place}", needs: []string{"appointment_at", "place", "matter"}},
		{msg: "Hello {nmae}", err: "invalid message template: unknown placeholder {nmae}; the placeholders are {name}, {first_name}, {date}, {time}, {place}, {matter}"},
		{msg: "Hello {Name}", err: "invalid message template: unknown placeholder {Name}; the placeholders are {name}, {first_name}, {date}, {time}, {place}, {matter}"},
		{msg: "Hello {}", err: "invalid message template: unknown placeholder {}; the placeholders are {name}, {first_name}, {date}, {time}, {place}, {matter}"},
		{msg: "Hello {name", err: "invalid message template: a { is not closed: placeholders are written like {name}"},
		{msg: "Hello {na{me}", err: "invalid message template: a { is not closed: placeholders are written like {name}"},
		{msg: "Hello name}", err: "invalid message template: a } without its {: placeholders are written like {name}"},
	} {
		tmpl, err := ParseTemplate(tc.msg)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err || !errors.Is(err, ErrTemplate) {
				t.Errorf("ParseTemplate(%q) = %v, want error %q wrapping ErrTemplate", tc.msg, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTemplate(%q): %v", tc.msg, err)
			continue
		}
		if tmpl.Static() != tc.static {
			t.Errorf("ParseTemplate(%q).Static() = %v, want %v", tc.msg, tmpl.Static(), tc.static)
		}
		if got := tmpl.Needs(); !equalStrings(got, tc.needs) {
			t.Errorf("ParseTemplate(%q).Needs() = %q, want %q", tc.msg, got, tc.needs)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRender(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	ann := Fields{Name: "Ann Lee", AppointmentAt: at("2026-12-01T14:30:00Z"), Place: "Hartford Superior Court", Matter: "Lee v. Lee"}
	for _, tc := range []struct {
		name, msg string
		f         Fields
		loc       *time.Location
		want      string
		missing   bool
	}{
		{name: "Static", msg: "Hello.", f: ann, loc: ny, want: "Hello."},
		{name: "All", msg: "{first_name}, {name}: {matter} on {date} at {time}, {place}.", f: ann, loc: ny,
			want: "Ann, Ann Lee: Lee v. Lee on Tuesday, December 1 at 9:30 AM, Hartford Superior Court."},
		{name: "OtherZone", msg: "{date} at {time}", f: ann, loc: la, want: "Tuesday, December 1 at 6:30 AM"},
		{name: "OnTheHour", msg: "{time}", f: Fields{Name: "x", AppointmentAt: at("2026-12-01T19:00:00Z")}, loc: ny, want: "2 PM"},
		{name: "Noon", msg: "{time}", f: Fields{Name: "x", AppointmentAt: at("2026-07-01T16:00:00Z")}, loc: ny, want: "12 PM"},
		{name: "DateChangesWithZone", msg: "{date} {time}", f: Fields{Name: "x", AppointmentAt: at("2026-12-02T03:15:00Z")}, loc: ny,
			want: "Tuesday, December 1 10:15 PM"},
		{name: "SummerTime", msg: "{date} {time}", f: Fields{Name: "x", AppointmentAt: at("2026-07-04T13:05:00Z")}, loc: ny,
			want: "Saturday, July 4 9:05 AM"},
		{name: "NoAppointment", msg: "on {date}", f: Fields{Name: "Ann"}, loc: ny, missing: true},
		{name: "NoPlace", msg: "at {place}", f: Fields{Name: "Ann", Place: "  "}, loc: ny, missing: true},
		{name: "NoMatter", msg: "about {matter}", f: Fields{Name: "Ann"}, loc: ny, missing: true},
		{name: "LastFirst", msg: "Hi {first_name}", f: Fields{Name: "Lee, Ann"}, loc: ny, want: "Hi Ann"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := ParseTemplate(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Render(tc.f, tc.loc)
			if tc.missing {
				if !errors.Is(err, ErrMissingField) {
					t.Fatalf("Render = %q, %v; want ErrMissingField", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Render = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestFirstName(t *testing.T) {
	for name, want := range map[string]string{
		"Ann Lee":          "Ann",
		"  Ann   Lee ":     "Ann",
		"Lee, Ann":         "Ann",
		"Lee, Ann Marie":   "Ann",
		"Ann Lee, Jr.":     "Ann",
		"Ann Lee, Esq":     "Ann",
		"Dr. Ann Lee":      "Ann",
		"Mrs Ann Lee":      "Ann",
		"Cher":             "Cher",
		"Dr.":              "Dr.",
		"Lee,":             "Lee",
		"José María Pérez": "José",
	} {
		if got := FirstName(name); got != want {
			t.Errorf("FirstName(%q) = %q, want %q", name, got, want)
		}
	}
}
