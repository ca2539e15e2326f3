package consent_test

import (
	"testing"
	"time"

	"github.com/heed-dialer/heed/consent"
)

// benchInputs is a mix of decisions: allowed robocalls with consent and
// history, a deferral outside the window, a cap deferral, a DNC denial, a CT
// sales call, a multi-zone number and an unknown location.
func benchInputs(tb testing.TB) ([]consent.Input, []consent.Facts) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		tb.Fatal(err)
	}
	at := time.Date(2026, 6, 10, 12, 0, 0, 0, ny)
	day := 24 * time.Hour
	hist := attempts(at, consent.PurposeInformational, consent.MethodPrerecorded, -day, -3*day, -9*day, -20*day)
	debtHist := attempts(at, consent.PurposeDebtCollection, consent.MethodLive, -day, -2*day, -3*day, -4*day, -5*day, -6*day, -6*day-time.Hour)
	f := consent.Facts{Fresh: true, NationalAsOf: at.Add(-3 * day),
		Consent: consent.ConsentFacts{ID: 77, Kind: consent.ConsentPEWC, ObtainedAt: at.AddDate(-1, 0, 0)}}
	dnc := f
	dnc.DNC = consent.DNCNational | consent.DNCInternal
	ins := []consent.Input{
		{Number: "+12125550101", ZIP: "10001", State: "NY", Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, Line: consent.LineWireless, At: at, History: hist},
		{Number: "+12125550101", Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, Line: consent.LineLandline, At: at, History: hist},
		{Number: "+18605550101", Purpose: consent.PurposeTelemarketing, Method: consent.MethodLive, At: at.Add(-4 * time.Hour)},
		{Number: "+12125550101", Purpose: consent.PurposeDebtCollection, Method: consent.MethodLive, At: at, History: debtHist},
		{Number: "+13055550101", ZIP: "33101", Purpose: consent.PurposeTelemarketing, Method: consent.MethodPrerecorded, At: at, History: hist},
		{Number: "+12082001234", Purpose: consent.PurposeInformational, Method: consent.MethodLive, At: at},
		{Number: "+18005550101", Purpose: consent.PurposeTelemarketing, Method: consent.MethodLive, At: at},
		{Number: "+17135550101", State: "TX", ZIP: "77002", Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, At: at, History: hist},
	}
	fs := []consent.Facts{f, f, f, f, f, f, f, dnc}
	return ins, fs
}

// BenchmarkDecide measures full decisions (location, DNC, consent, windows,
// caps) over the benchInputs mix, reporting decisions per second and
// allocations per decision.
func BenchmarkDecide(b *testing.B) {
	e, err := consent.NewEngine(consent.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ins, fs := benchInputs(b)
	var d consent.Decision
	for i := range ins {
		e.Decide(&ins[i], &fs[i], &d)
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		i := n % len(ins)
		e.Decide(&ins[i], &fs[i], &d)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "decisions/s")
}

// BenchmarkDecideAllow measures the common case: an allowed robocall with
// consent and a short history.
func BenchmarkDecideAllow(b *testing.B) {
	e, err := consent.NewEngine(consent.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ins, fs := benchInputs(b)
	in, f := ins[0], fs[0]
	var d consent.Decision
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		e.Decide(&in, &f, &d)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "decisions/s")
}
