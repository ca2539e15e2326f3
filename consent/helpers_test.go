package consent_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/phone"
)

// Numbers used across the tests, with where phonenumbers places them.
const (
	nyNumber     phone.Number = "+12125550101" // New York, Eastern
	ctNumber     phone.Number = "+18605550101" // Connecticut area code, Eastern
	flNumber     phone.Number = "+13055550101" // Florida area code, Eastern
	okNumber     phone.Number = "+14055550101" // Oklahoma area code, Central
	idahoNumber  phone.Number = "+12082001234" // 208-200: Boise (Mountain) and Los Angeles (Pacific)
	alaskaNumber phone.Number = "+19072001234" // 907: Anchorage and Adak
	tollFree     phone.Number = "+18005550101" // no location
)

type testBundle struct {
	eng *consent.Engine
}

func setup(t *testing.T, cfg consent.Config) *testBundle {
	t.Helper()
	e, err := consent.NewEngine(cfg)
	require.NoError(t, err)
	return &testBundle{eng: e}
}

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// local returns the instant a clock in loc reads "2006-01-02 15:04:05".
func local(t *testing.T, loc *time.Location, s string) time.Time {
	t.Helper()
	layout := "2006-01-02 15:04"
	if len(s) > len(layout) {
		layout = time.DateTime
	}
	v, err := time.ParseInLocation(layout, s, loc)
	require.NoError(t, err)
	return v
}

func utc(t *testing.T, s string) time.Time {
	t.Helper()
	return local(t, time.UTC, s)
}

// facts returns fresh facts with a current national snapshot and the given consent.
func facts(at time.Time, kind consent.ConsentKind, id int64) consent.Facts {
	f := consent.Facts{Fresh: true, NationalAsOf: at.Add(-24 * time.Hour)}
	if kind != consent.ConsentNone {
		f.Consent = consent.ConsentFacts{ID: id, Kind: kind, ObtainedAt: at.AddDate(-1, 0, 0)}
	}
	return f
}

// tc is one decision case.
type tc struct {
	name      string
	in        consent.Input
	facts     consent.Facts
	verdict   consent.Verdict
	until     time.Time
	reasons   []consent.Reason
	consentID int64
}

func runCases(t *testing.T, e *consent.Engine, cases []tc) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := e.Check(c.in, c.facts)
			require.Equal(t, c.verdict, d.Verdict, "reasons %v until %v", d.Reasons, d.Until)
			require.Equal(t, c.reasons, d.Reasons)
			if c.verdict == consent.Defer {
				require.True(t, c.until.Equal(d.Until), "until: want %v, got %v", c.until.UTC(), d.Until)
			} else {
				require.True(t, d.Until.IsZero(), "until set on %s: %v", d.Verdict, d.Until)
			}
			require.Equal(t, c.consentID, d.ConsentID)
			require.Equal(t, e.Version(), d.Pack)
		})
	}
}

func reasons(rs ...consent.Reason) []consent.Reason { return rs }

type consentNumber = phone.Number

var (
	phoneErrNotNANP = phone.ErrNotNANP
	phoneErrInvalid = phone.ErrInvalid
)
