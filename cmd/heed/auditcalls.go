package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dnc"
)

// errFindings marks a calls report whose checks found allowed calls the
// records contradict (exit code 3: a scheduled check tells it from a
// report that could not run, 1).
var errFindings = errors.New("the records contradict allowed calls")

// auditCalls reports a period's calls and checks every allowed one
// against the database's records (campaign.CallsReport).
func (m *Main) auditCalls(ctx context.Context, args []string) error {
	f := m.flags("audit calls")
	dbURL := f.databaseURL()
	from := f.String("from", "", fmt.Sprintf("first day (2006-01-02, in --time-zone) or RFC 3339 instant (default: %d days ago)", campaign.DefaultReportDays))
	to := f.String("to", "", "last day, included, or RFC 3339 instant (default: now)")
	tz := f.timeZone("the days are in")
	asJSON := f.Bool("json", false, "print the report as JSON")
	dir := f.dncDir()
	if err := f.parse(args); err != nil {
		return err
	}
	zone, err := loadZone(*tz)
	if err != nil {
		return err
	}
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	start, end, err := campaign.ReportPeriod(*from, *to, zone, now)
	if err != nil {
		return fmt.Errorf("%w: %w", err, errUsage)
	}
	pool, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	s := campaign.NewService(pool, nil)
	s.Copies = dnc.NewRegistry(pool, *dir)
	r, err := s.CallsReport(ctx, start, end)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := json.NewEncoder(m.Stdout).Encode(r); err != nil {
			return fmt.Errorf("audit calls: %w", err)
		}
	} else {
		printCallsReport(m, r, zone)
	}
	if r.Found > 0 {
		return fmt.Errorf("%d finding(s) in %d call(s), %d of them about what the gate had: %w", r.Found, r.Calls, r.Had, errFindings)
	}
	return nil
}

// printCallsReport writes r for people, its times in zone.
func printCallsReport(m *Main, r campaign.CallsReport, zone *time.Location) {
	const layout = "2006-01-02 15:04 MST"
	w := m.Stdout
	fmt.Fprintf(w, "calls decided from %s to just before %s\n", r.From.In(zone).Format(layout), r.To.In(zone).Format(layout))
	fmt.Fprintf(w, "decisions:                  %s\n", counted(r.Decisions))
	fmt.Fprintf(w, "allowed calls by outcome:   %s\n", counted(r.Outcomes))
	fmt.Fprintf(w, "denied, by reason:          %s\n", counted(r.Reasons["deny"]))
	fmt.Fprintf(w, "deferred, by reason:        %s\n", counted(r.Reasons["defer"]))
	fmt.Fprintf(w, "called off at the last look: denied %s; deferred %s\n", counted(r.LookReasons["deny"]), counted(r.LookReasons["defer"]))
	fmt.Fprintf(w, "opt-outs recorded:          %s\n", counted(r.OptOuts))
	fmt.Fprintf(w, "internal do-not-call added: %s\n", counted(r.DNCAdded))
	fmt.Fprintf(w, "consent records written:    %d\n", r.Consents)
	fmt.Fprintf(w, "contacts withdrawn:         %d (put back: %d)\n", r.Withdrawn, r.PutBack)
	fmt.Fprintf(w, "checked %d allowed call(s) against the records: %d finding(s) in %d call(s), %d of them about what the gate had\n",
		r.Checked, r.Found, r.Calls, r.Had)
	if r.NotRedecided > 0 {
		fmt.Fprintf(w, "  %d of them not decided again: decided under a pack version this heed does not build (another release's, or a saved policy it refuses)\n",
			r.NotRedecided)
	}
	if r.ClockApart > 0 {
		fmt.Fprintf(w, "  %d of them placed with the dialer's clock and the database's more than %s apart (at most %s): their windows were checked by the dialer's\n",
			r.ClockApart, campaign.ClockApartLimit, r.ClockApartMax())
	}
	switch {
	case !r.RegistryChecked:
		fmt.Fprintf(w, "  the registry lists were not checked\n")
	case r.RegistryUnchecked > 0:
		fmt.Fprintf(w, "  %d of them not checked against the registry lists: a copy's file in --dnc-dir could not be read\n", r.RegistryUnchecked)
	}
	for _, f := range r.Findings {
		fmt.Fprintf(w, "  attempt %d (campaign %d, %s) to %s decided %s: %s, ", f.AttemptID, f.CampaignID, f.Campaign, f.Phone,
			f.DecidedAt.In(zone).Format(layout), f.Kind)
		if f.Record == 0 {
			fmt.Fprintf(w, "re-decided %s; %s\n", f.Detail, redecidedWords[f.Gate])
			continue
		}
		fmt.Fprintf(w, "record %d (%s), recorded %s; %s\n", f.Record, f.Detail, f.RecordedAt.In(zone).Format(layout), gateWords[f.Gate])
	}
	if r.Found > len(r.Findings) {
		fmt.Fprintf(w, "  ... and %d older (the newest %d are listed; narrow the period)\n", r.Found-len(r.Findings), len(r.Findings))
	}
}

// gateWords says what the gate knew of a finding's record.
var gateWords = map[string]string{
	campaign.GateHad:     "the gate had it",
	campaign.GateLate:    "it reached heed while the call was being decided",
	campaign.GateAfter:   "it was recorded after the call",
	campaign.GateUnknown: "heed did not keep what the gate had read then",
}

// redecidedWords says what the gate had of a re-decided call's records.
var redecidedWords = map[string]string{
	campaign.GateHad:  "the gate had its records",
	campaign.GateLate: "a record (a conversation's end, an override's withdrawal) may have reached heed while the call was being decided",
}

// counted renders counts as "a 3, b 1", by key, or "none".
func counted(c map[string]int) string {
	if len(c) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(c))
	for _, k := range slices.Sorted(maps.Keys(c)) {
		name := k
		if name == "" {
			name = "(none yet)"
		}
		parts = append(parts, fmt.Sprintf("%s %d", name, c[k]))
	}
	return strings.Join(parts, ", ")
}
