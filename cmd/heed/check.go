package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/phone"
)

// check answers what the gate would decide for one call, with the same
// function the dialer calls, against the database's indexes and history.
func (m *Main) check(ctx context.Context, args []string) error {
	f := m.flags("check")
	dbURL := f.databaseURL()
	dir := f.dncDir()
	number := f.String("number", "", "the number to call (required)")
	purpose := f.String("purpose", "", "informational, telemarketing, debt_collection or solicitation (required)")
	method := f.String("method", "prerecorded", "prerecorded or live")
	at := f.String("at", "", "when the call would be placed, RFC3339 (default: now)")
	state := f.String("state", "", "the contact's state (two letters)")
	zip := f.String("zip", "", "the contact's ZIP code")
	line := f.String("line", "unknown", "wireless, landline or unknown (unknown counts as wireless)")
	person := f.String("person", "", "the person's reference (a contact's person_ref): count the calls to all their numbers, as the dialer does for contacts with one")
	injury := f.Bool("injury", false, "the call solicits a personal-injury or wrongful-death matter (rule E1): it waits 40 days after --accident, and is denied without one")
	accident := f.String("accident", "", "the date of the contact's accident, YYYY-MM-DD (rule E1)")
	asJSON := f.Bool("json", false, `print {"decision","until","reasons","pack","consent_id"}`)
	if err := f.parse(args); err != nil {
		return err
	}
	var errs []string
	// The number as the opt-out paths read it (phone.ParseMeant): a
	// contact import refuses "+203 555 0199", so the one number such text
	// can stand for among the contacts is +1 203-555-0199. Text that is no
	// valid number leaves n empty, which the gate denies as invalid.
	n, err := phone.ParseMeant(*number)
	if err == nil && phone.MissingOne(*number) {
		fmt.Fprintf(m.Stderr, "note: %q has a + but not the country code 1: read as the North American number %s\n", *number, n.Display())
	}
	if *number == "" {
		errs = append(errs, "--number is required")
	}
	p, perr := consent.ParsePurpose(*purpose)
	if perr != nil {
		errs = append(errs, perr.Error())
	}
	meth, merr := consent.ParseMethod(*method)
	if merr != nil {
		errs = append(errs, merr.Error())
	}
	lt, lerr := consent.ParseLineType(*line)
	if lerr != nil {
		errs = append(errs, lerr.Error())
	}
	ref, rerr := campaign.ParsePersonRef(*person)
	if rerr != nil {
		errs = append(errs, "--person: "+rerr.Error())
	}
	when := time.Now()
	if *at != "" {
		if when, err = time.Parse(time.RFC3339, *at); err != nil {
			errs = append(errs, fmt.Sprintf("--at %q: want RFC3339, such as 2026-12-01T09:30:00-05:00", *at))
		}
	}
	var accidentAt time.Time
	if *accident != "" {
		d, err := time.Parse(time.DateOnly, *accident)
		if err != nil {
			errs = append(errs, fmt.Sprintf("--accident %q: want a date such as 2026-11-02", *accident))
		}
		accidentAt = consent.AccidentInstant(d)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %w", strings.Join(errs, "; "), errUsage)
	}
	pool, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	// The stored firm settings, loaded exactly as the dialer loads them.
	policy := dialer.NewPolicy(pool, m.logger("warn"))
	if err := policy.Load(ctx); err != nil {
		return fmt.Errorf("policy engine: %w", err)
	}
	engine := policy.Engine()
	indexes := dialer.NewIndexes(pool, m.logger("warn"))
	indexes.Registry = dnc.NewRegistry(pool, *dir)
	if err := indexes.Load(ctx); err != nil {
		return fmt.Errorf("indexes: %w", err)
	}
	// The pacing loop's own code decides it: the history, overrides and
	// reassignment answers are read as for a batch, for this number and
	// person reference.
	pacer := &dialer.Pacer{
		Gate: &dialer.PolicyGate{Engine: engine, Indexes: indexes}, Store: campaign.NewStore(pool), Log: m.logger("warn"),
		Overrides: consent.NewOverrideStore(pool), Reassigned: consent.NewReassignedStore(pool),
	}
	res, err := pacer.Preview(ctx, dialer.Preview{Phone: n, Purpose: p, Method: meth, Line: lt, State: strings.ToUpper(*state), ZIP: *zip, Person: ref, At: when,
		InjuryMatter: *injury, AccidentAt: accidentAt})
	if err != nil {
		return err
	}
	d, req, counted := res.Decision, res.Request, res.HistoryNumbers
	if *asJSON {
		enc := json.NewEncoder(m.Stdout)
		return enc.Encode(d)
	}
	fmt.Fprintf(m.Stdout, "decision:  %s\n", d.Verdict)
	if d.Verdict == consent.Defer {
		fmt.Fprintf(m.Stdout, "until:     %s\n", d.Until.Format(time.RFC3339))
	}
	reasons := make([]string, len(d.Reasons))
	for i, r := range d.Reasons {
		reasons[i] = string(r)
	}
	if len(reasons) == 0 {
		reasons = []string{"-"}
	}
	fmt.Fprintf(m.Stdout, "reasons:   %s\n", strings.Join(reasons, ", "))
	fmt.Fprintf(m.Stdout, "pack:      %s\n", d.Pack)
	if d.ConsentID != 0 {
		fmt.Fprintf(m.Stdout, "consent:   %d\n", d.ConsentID)
		if v, err := n.NANP(); err == nil && indexes.DNC.Lookup(v).Has(dnc.Internal) {
			// Relied on with the number on the internal list: given after
			// its latest entry, it lifted the entry for this call (F12).
			fmt.Fprintf(m.Stdout, "lifts:     the internal do-not-call entry made %s (given after it, F12)\n",
				indexes.InternalListedAt(v).Format(time.RFC3339))
		}
	} else {
		fmt.Fprintln(m.Stdout, "consent:   none")
	}
	if loc, err := engine.Locate(n, req.State, req.ZIP); err == nil {
		open := ""
		if n := countOpen(req.History, req.At); n > 0 {
			open = fmt.Sprintf(", %d not ended, placed in the last %s (a quiet period of their purpose waits for their end)", n, consent.OpenCallLimit)
		}
		fmt.Fprintf(m.Stdout, "located:   zones %s; states %s; history %d call(s) in %s%s\n", strings.Join(loc.Zones, ", "),
			orDash(loc.States), len(req.History), dialer.HistoryWindow, open)
	} else if !errors.Is(err, phone.ErrNotNANP) && !errors.Is(err, phone.ErrInvalid) {
		return err
	}
	if ref != "" {
		numbers := make([]string, len(counted))
		for i, c := range counted {
			numbers[i] = c.String()
		}
		fmt.Fprintf(m.Stdout, "person:    %s; history counts the calls to %s\n", ref, strings.Join(numbers, ", "))
	}
	return nil
}

// countOpen counts the calls of a history not yet ended
// (consent.Attempt.Open) and placed within consent.OpenCallLimit before at:
// those a quiet period waits for.
func countOpen(h []consent.Attempt, at time.Time) int {
	n := 0
	for _, a := range h {
		if a.Open && a.At.After(at.Add(-consent.OpenCallLimit)) {
			n++
		}
	}
	return n
}

func orDash(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}
