package campaign

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
)

// MaxReportFindings is how many findings CallsReport lists; it counts
// them all.
const MaxReportFindings = 1000

// ErrPeriod reports a report period that ends before it starts; it wraps
// ErrInvalid.
var ErrPeriod = fmt.Errorf("the period ends before it starts: %w", ErrInvalid)

// CallsReport is what heed did in a period, for the partner who answers
// for the firm's calls, and the result of checking each call it allowed
// against the records: no allowed call may have gone to a number on the
// internal do-not-call list, or relied on a consent that was revoked, not
// yet given or expired when the call was decided, and each must still be
// allowed when the engine of the policy it was decided under re-decides
// it from the records (its windows, caps, consent kind and registry copy's
// age, its number's registry listings, the overrides it relied on, and,
// for a robocall that relied on no consent, its number's revocations;
// FindingRule, FindingPlaced, FindingHistory, FindingRegistry,
// FindingOverride, FindingRevoked). The checks read the database's
// records, not the gate's in-memory indexes, so they verify the gate
// independently.
type CallsReport struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Decisions counts the attempts decided in the period by decision
	// (allow, deny, defer); Outcomes the allowed ones by their call's
	// outcome ("" for calls not ended yet).
	Decisions map[string]int `json:"decisions"`
	Outcomes  map[string]int `json:"outcomes"`
	// Reasons counts the reasons given to the attempts denied or deferred,
	// by decision then reason.
	Reasons map[string]map[string]int `json:"reasons"`
	// LookReasons counts the reasons of the last looks that called off
	// allowed calls before they were placed, by the look's decision
	// (deny, defer) then reason: they are among Outcomes' called_off.
	LookReasons map[string]map[string]int `json:"last_look_reasons"`
	// OptOuts counts the revocations recorded in the period by how they
	// were made; DNCAdded the internal do-not-call entries added, by
	// method; Consents the consent records written.
	OptOuts  map[string]int `json:"opt_outs"`
	DNCAdded map[string]int `json:"dnc_added"`
	Consents int            `json:"consents_recorded"`
	// Withdrawn counts the contacts withdrawn from a campaign in the
	// period (SkipContact), and PutBack those put back (RestoreContact),
	// by each contact's latest withdrawal and return: a withdrawal is not
	// a do-not-call request, and a note that reads like one is worth a
	// look.
	Withdrawn int `json:"withdrawn"`
	PutBack   int `json:"put_back"`
	// Checked counts the allowed attempts checked: those whose call the
	// last look did not call off (dialer.OutcomeCalledOff). Findings lists the
	// problems found, newest first, at most MaxReportFindings; Found
	// counts them all, Calls the attempts they are about, and Had those
	// about what the gate had when it allowed the call (GateHad).
	Checked  int       `json:"allowed_checked"`
	Found    int       `json:"found"`
	Calls    int       `json:"found_calls"`
	Had      int       `json:"found_had"`
	Findings []Finding `json:"findings"`
	// NotRedecided counts the allowed calls checked against the records
	// but not decided again: decided under a pack version this heed does
	// not build (another release's law packs), or a saved policy this
	// release refuses.
	NotRedecided int `json:"not_redecided"`
	// ClockApart counts the allowed calls whose placing (originated_at,
	// the dialer's clock) and last look a moment before (looked_at, or the
	// attempt's recording for calls from before heed took looks: the
	// database's clock) were more than ClockApartLimit apart, and ClockApartMost
	// is the largest gap, in seconds: the windows were checked by the
	// dialer's clock.
	ClockApart     int     `json:"clock_apart"`
	ClockApartMost float64 `json:"clock_apart_most_seconds"`
	// RegistryUnchecked counts the allowed calls not checked against the
	// registry list copies (FindingRegistry) because a copy's file could
	// not be read; RegistryChecked says whether the report checks them at
	// all (Service.Copies).
	RegistryUnchecked int  `json:"registry_unchecked"`
	RegistryChecked   bool `json:"registry_checked"`
}

// ClockApartMax is the largest gap between the clocks (ClockApartMost),
// to the second.
func (r CallsReport) ClockApartMax() time.Duration {
	return time.Duration(r.ClockApartMost * float64(time.Second)).Round(time.Second)
}

// The kinds of findings.
const (
	// FindingDNC is an allowed call to a number with an internal
	// do-not-call entry in force when the call was decided, or one the
	// gate's indexes had applied and not seen removed, that the consent
	// the call relied on was not given after (a consent given after an
	// entry lifts it, rule F12; one revoked since is FindingRevoked).
	FindingDNC = "dnc.internal"
	// FindingRevoked is an allowed call that relied on a consent revoked
	// at or after it was given: by a revocation dated before the call, or
	// one the gate's indexes had applied (a revocation beats the consents
	// before it even when dated a little after the call, rule F12). A
	// revocation limited to another purpose counts where one revocation
	// reaches every purpose: heed's default, the firm's setting in force
	// at the call, and, from consent.RevokeAllFloorFrom, the law (F13).
	//
	// It is also a robocall that relied on no consent (one that needs
	// none, such as an informational call to a landline) which the engine
	// of the policy it was decided under denies for consent.revoked when
	// it re-decides it as recorded (FindingRule) with its number's
	// revocations as the ledger held them when the gate last decided it:
	// a revocation in reach with no consent to the call's purpose given
	// since stops every robocall (F13), and the policy says how far a
	// revocation reaches. Such a revocation may have no internal
	// do-not-call entry (FindingDNC): one limited to a purpose, or one
	// whose entry was taken off. Its record is the revocation, and its
	// gate says whether the gate's indexes had applied it; its detail
	// ends with the decision and the pack version.
	FindingRevoked = "consent.revoked"
	// FindingConsentTime is an allowed call that relied on a consent given
	// after the call was decided, or expired by then.
	FindingConsentTime = "consent.time"
	// FindingRule is an allowed call that the engine of the policy it was
	// decided under denies or defers when it re-decides the call from the
	// records: the request the gate decided as its attempt keeps it (the
	// number, the contact's state and ZIP, method, line type, instant,
	// history and overrides) for its campaign's purpose, with the consent
	// it relied on as the ledger holds it (none when that consent is not
	// for the number, purpose and voice calls) and the national registry
	// copy installed then. The gate had that request: such a finding is a
	// defect, or an attempt row changed after it was written.
	FindingRule = "rule"
	// FindingRegistry is an allowed call that the engine denies or defers
	// when it re-decides it as recorded (FindingRule) with the registry
	// list copies (national, state, litigator) that hold its number: the
	// copies its attempt says the gate read (GateHad), or else those in
	// force when it was recorded (GateLate; GateUnknown for an attempt
	// that does not say). Its record is the copy's install. The report
	// checks them only when it can read the copies (Service.Copies).
	FindingRegistry = "dnc.registry"
	// FindingOverride is an allowed call the engine allows as recorded but
	// denies or defers without the logged overrides (rules R1, E1) its
	// request relied on that the records do not show in force at its
	// instant: logged after it, expired or withdrawn by then, or never
	// logged for its number. It is GateLate when an override was withdrawn
	// in the minute before (a withdrawal is dated before it waits for the
	// audit log, and may have committed after the pacer read it).
	FindingOverride = "override"
	// FindingPlaced is an allowed call the engine allows at the instant
	// it was decided for but not at the instant it was placed
	// (originated_at): placed after its calling window closed, say.
	FindingPlaced = "placed"
	// FindingHistory is an allowed call the engine allows as recorded but
	// denies or defers with the calls the records hold before it in place
	// of the history its request listed: the allowed calls to the numbers
	// its history counted, recorded before it (its own batch's too: the
	// pacer holds back a target whose history counts a number its batch
	// has called), each a conversation if it became one, even if it was
	// still going on then (the gate waits for an open call's end,
	// consent.Attempt.Open). The caps counted too few calls.
	FindingHistory = "history"
)

// What the gate knew of a finding's record when it decided the call.
const (
	// GateHad says the gate's indexes had applied the record (its
	// change-log position was at or below the attempt's index_seq): the
	// gate allowed the call with the record in hand, a defect to report.
	// Every FindingRule and FindingPlaced is GateHad, the request being
	// the gate's, and so is a FindingOverride unless its override was
	// withdrawn in the minute before the call; so is a FindingHistory, the
	// calls recorded before the attempt's batch having been there when it
	// read the history (the batch holds their numbers locked from before
	// that read until its attempts are recorded) and those its batch
	// recorded before it having been in the pacer's hands (it holds such a
	// target back, dialer.heldBack; a finding of such a call is one placed
	// before it did), unless it differs from the request's only by
	// a conversation that ended in the minute before (GateLate: its end
	// may have been written after the read). A record written from an
	// opt-out taken more than a second before the call's last look is
	// GateHad too, however late it was written: every gate held the
	// opt-out from when it was taken.
	GateHad = "had"
	// GateLate says the record was committed after the gate read its
	// indexes but before the attempt was recorded (index_top): it reached
	// heed while the call was being decided. So is one written from an
	// opt-out taken in the second before the last look.
	GateLate = "late"
	// GateAfter says the record was written after the attempt, though
	// dated before it (a revocation entered days after it was made, say).
	GateAfter = "after"
	// GateUnknown says the attempt was recorded before heed kept the
	// change-log positions that tell.
	GateUnknown = "unknown"
)

// Finding is an allowed call the records contradict.
type Finding struct {
	Kind       string `json:"kind"`
	AttemptID  int64  `json:"attempt_id"`
	CampaignID int64  `json:"campaign_id"`
	Campaign   string `json:"campaign"`
	Phone      string `json:"phone"`
	// DecidedAt is when the attempt was recorded, right after the gate
	// decided it, by the database's clock.
	DecidedAt time.Time `json:"decided_at"`
	// Record names the record that contradicts the call: the do-not-call
	// entry, revocation, consent or registry list copy's install, by its
	// id; none (0) for FindingRule, FindingPlaced, FindingHistory and
	// FindingOverride, which the call's own records contradict.
	Record int64 `json:"record_id,omitzero"`
	// RecordedAt is when that record was written, or zero with no Record.
	RecordedAt time.Time `json:"recorded_at,omitzero"`
	// Gate says what the gate knew of the record, or of the call's own
	// records for a re-decided call: GateHad, GateLate, GateAfter or
	// GateUnknown.
	Gate string `json:"gate"`
	// Detail says what the record is, or, for a re-decided call, the
	// decision the records give and under which pack version.
	Detail string `json:"detail"`
}

// reportFound selects the findings of the calls placed of the allowed
// attempts decided in [$1, $2) (not those their last look called off):
// for each, its kind, record, when the record was written, its change-log
// position (seq) and a detail, beside the attempt's and when it was
// recorded (decided). $3 is consent.RevokeAllFloorFrom. The records are
// compared at the last look's instant, right before the call was placed
// (looked_at), or, for attempts from before heed took one, when the
// attempt was recorded: by the database's clock, which also dates the
// records (an opt-out pressed during the call is always after it); the
// gate decided a moment before, by the dialer's clock (last_look's or
// decision_input's "at"), which may differ from the database's by more
// than that moment. The consent checked is the one the last look relied
// on (none when it relied on none), or the attempt's; what the gate had
// applied (seen_seq) and the log's top then (top_seq) are the last
// look's too.
const reportFound = `
	WITH a AS (
		SELECT a.id, a.campaign_id, k.name AS campaign, COALESCE(a.decision_input->>'purpose', k.purpose) AS purpose, a.phone,
		       CASE WHEN a.last_look IS NULL THEN a.consent_id ELSE (a.last_look->'decision'->>'consent_id')::bigint END AS consent_id,
		       a.created_at AS decided, coalesce(a.looked_at, a.created_at) AS at,
		       coalesce((a.last_look->>'index_seq')::bigint, (a.decision_input->>'index_seq')::bigint) AS seen_seq,
		       coalesce((a.last_look->>'index_top')::bigint, (a.decision_input->>'index_top')::bigint) AS top_seq
		  FROM attempts a JOIN campaigns k ON k.id = a.campaign_id
		 WHERE a.decision = 'allow' AND a.outcome <> 'called_off' AND a.not_placed = '' AND a.created_at >= $1 AND a.created_at < $2)
	SELECT a.id, a.campaign_id, a.campaign, a.phone, a.decided, a.at, a.seen_seq, a.top_seq, f.kind, f.record, f.recorded_at, f.seq, f.taken, f.detail
	  FROM a CROSS JOIN LATERAL (
		(SELECT '` + FindingDNC + `', d.id, d.added_at, s.seq, (SELECT o.taken_at FROM optout_requests o WHERE o.dnc_id = d.id), d.method || ': ' || d.source
		   FROM dnc_internal d
		   LEFT JOIN LATERAL (SELECT min(x.seq) AS seq FROM index_changes x WHERE x.phone = a.phone AND x.op = 'add' AND x.ref_id = d.id) s ON true
		   LEFT JOIN LATERAL (SELECT min(x.seq) AS seq FROM index_changes x WHERE x.phone = a.phone AND x.op = 'remove' AND x.ref_id = d.id) r ON true
		  WHERE d.phone = a.phone
		    AND NOT EXISTS (SELECT 1 FROM consents c WHERE c.id = a.consent_id AND c.obtained_at > d.added_at)
		    AND ((d.added_at <= a.at AND (d.removed_at IS NULL OR d.removed_at > a.at))
		         OR (s.seq <= a.seen_seq AND (r.seq IS NULL OR r.seq > a.seen_seq))))
		UNION ALL
		(SELECT '` + FindingRevoked + `', v.id, v.created_at, s.seq, (SELECT o.taken_at FROM optout_requests o WHERE o.revocation_id = v.id),
		        'revoked ' || to_char(v.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"') || ' by ' || v.method
		        || CASE WHEN v.scope = '' THEN '' ELSE ' (' || v.scope || ' only)' END
		   FROM consents c JOIN revocations v ON v.phone = a.phone
		   LEFT JOIN LATERAL (SELECT min(x.seq) AS seq FROM index_changes x WHERE x.phone = a.phone AND x.op = 'revocation' AND x.ref_id = v.id) s ON true
		  WHERE c.id = a.consent_id AND v.revoked_at >= c.obtained_at
		    AND (v.revoked_at <= a.at OR s.seq <= a.seen_seq)
		    AND (v.scope = '' OR v.scope = a.purpose OR a.at >= $3
		         OR COALESCE((SELECT p.policy->>'revocation_scope' FROM firm_settings p WHERE p.saved_at <= a.at
		                       ORDER BY p.saved_at DESC, p.version DESC LIMIT 1), '') <> 'purpose'))
		UNION ALL
		(SELECT '` + FindingConsentTime + `', c.id, c.created_at, s.seq, NULL::timestamptz,
		        CASE WHEN c.obtained_at > a.at THEN 'obtained ' || to_char(c.obtained_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')
		             ELSE 'expired ' || to_char(c.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"') END
		   FROM consents c
		   LEFT JOIN LATERAL (SELECT min(x.seq) AS seq FROM index_changes x WHERE x.phone = a.phone AND x.op = 'consent' AND x.ref_id = c.id) s ON true
		  WHERE c.id = a.consent_id AND (c.obtained_at > a.at OR c.expires_at <= a.at))
	  ) f (kind, record, recorded_at, seq, taken, detail)`

// reportGate is the SQL of a finding's Gate, from its columns. A record
// written from an opt-out taken (optout_requests, taken) was held by every
// gate from its next sync, and refused every look while it waited to be
// recorded: one taken more than a second before the look (at) is GateHad,
// one taken in the second before it GateLate (its take may have committed
// after the look's statement began).
const reportGate = `CASE WHEN taken < at - interval '1 second' THEN '` + GateHad + `' WHEN taken <= at THEN '` + GateLate + `'
	WHEN seq <= seen_seq THEN '` + GateHad + `' WHEN seq <= top_seq THEN '` + GateLate + `'
	WHEN top_seq IS NOT NULL THEN '` + GateAfter + `' ELSE '` + GateUnknown + `' END`

// CallsReport reports on the attempts decided in [from, to), and the
// records written in it, all read in one snapshot of the database. At
// most MaxConcurrentReports run at once; another waits for one to finish,
// or for ctx to end. It returns an error wrapping ErrPeriod when to is
// before from.
func (s *Service) CallsReport(ctx context.Context, from, to time.Time) (CallsReport, error) {
	if to.Before(from) {
		return CallsReport{}, fmt.Errorf("campaign: report from %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), ErrPeriod)
	}
	select {
	case s.reports <- struct{}{}:
		defer func() { <-s.reports }()
	case <-ctx.Done():
		return CallsReport{}, fmt.Errorf("campaign: report: waiting for another to finish: %w", ctx.Err())
	}
	r := CallsReport{From: from, To: to, Decisions: map[string]int{}, Outcomes: map[string]int{}, Reasons: map[string]map[string]int{},
		LookReasons: map[string]map[string]int{}, OptOuts: map[string]int{}, DNCAdded: map[string]int{}, Findings: []Finding{}}
	counts := []struct {
		name, query string
		into        func(k1, k2 string, n int)
	}{
		{"decisions", `SELECT decision, '', count(*) FROM attempts WHERE created_at >= $1 AND created_at < $2 GROUP BY 1`,
			func(k, _ string, n int) { r.Decisions[k] = n }},
		{"outcomes", `SELECT outcome, '', count(*) FROM attempts WHERE created_at >= $1 AND created_at < $2 AND decision = 'allow' GROUP BY 1`,
			func(k, _ string, n int) { r.Outcomes[k] = n }},
		{"reasons", `SELECT decision, reason, count(*) FROM attempts, unnest(reasons) reason
		   WHERE created_at >= $1 AND created_at < $2 AND decision <> 'allow' GROUP BY 1, 2`,
			func(d, reason string, n int) {
				if r.Reasons[d] == nil {
					r.Reasons[d] = map[string]int{}
				}
				r.Reasons[d][reason] = n
			}},
		{"last-look reasons", `SELECT a.last_look->'decision'->>'decision', reason, count(*)
		   FROM attempts a, jsonb_array_elements_text(coalesce(a.last_look->'decision'->'reasons', '[]')) reason
		   WHERE a.created_at >= $1 AND a.created_at < $2 AND a.decision = 'allow' AND a.outcome = 'called_off' AND a.not_placed = ''
		     AND a.last_look->'decision'->>'decision' IN ('deny', 'defer') GROUP BY 1, 2`,
			func(d, reason string, n int) {
				if r.LookReasons[d] == nil {
					r.LookReasons[d] = map[string]int{}
				}
				r.LookReasons[d][reason] = n
			}},
		{"opt-outs", `SELECT method, '', count(*) FROM revocations WHERE created_at >= $1 AND created_at < $2 GROUP BY 1`,
			func(k, _ string, n int) { r.OptOuts[k] = n }},
		{"do-not-call entries", `SELECT method, '', count(*) FROM dnc_internal WHERE added_at >= $1 AND added_at < $2 GROUP BY 1`,
			func(k, _ string, n int) { r.DNCAdded[k] = n }},
		{"consents", `SELECT '', '', count(*) FROM consents WHERE created_at >= $1 AND created_at < $2`,
			func(_, _ string, n int) { r.Consents = n }},
		{"withdrawals", `SELECT 'withdrawn', '', count(*) FROM campaign_targets WHERE skipped_at >= $1 AND skipped_at < $2
		  UNION ALL SELECT 'put back', '', count(*) FROM campaign_targets WHERE restored_at >= $1 AND restored_at < $2`,
			func(k, _ string, n int) {
				if k == "withdrawn" {
					r.Withdrawn = n
				} else {
					r.PutBack = n
				}
			}},
	}
	// One snapshot: the counts, the findings' count and their list agree
	// however many calls are being recorded meanwhile.
	err := pgx.BeginTxFunc(ctx, s.db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		for _, c := range counts {
			rows, err := tx.Query(ctx, c.query, from, to)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			var (
				k1, k2 string
				n      int
			)
			if _, err := pgx.ForEachRow(rows, []any{&k1, &k2, &n}, func() error { c.into(k1, k2, n); return nil }); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
		}
		r.Checked = r.Decisions["allow"] - r.Outcomes[string(dialer.OutcomeCalledOff)]
		var re CallsReport
		redecided, ids, err := s.redecide(ctx, tx, from, to, &re)
		if err != nil {
			return err
		}
		r.NotRedecided, r.ClockApart, r.ClockApartMost, r.RegistryUnchecked = re.NotRedecided, re.ClockApart, re.ClockApartMost, re.RegistryUnchecked
		r.RegistryChecked = s.Copies != nil
		// The checks run once: their findings, counted, and the newest
		// listed. Findings are rare, but a bad day's can be many. The
		// calls counted are those of these and of the re-decided ones.
		rows, err := tx.Query(ctx, `WITH f AS MATERIALIZED (`+reportFound+`)
			SELECT id, campaign_id, campaign, phone, decided, kind, record, recorded_at, `+reportGate+`, detail,
			       (SELECT count(*) FROM f), (SELECT count(*) FROM (SELECT id FROM f UNION SELECT unnest($5::bigint[])) c),
			       (SELECT count(*) FROM f WHERE `+reportGate+` = '`+GateHad+`')
			  FROM f ORDER BY decided DESC, id DESC, kind, record LIMIT $4`, from, to, consent.RevokeAllFloorFrom(), MaxReportFindings, ids)
		if err != nil {
			return fmt.Errorf("checks: %w", err)
		}
		found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Finding, error) {
			var f Finding
			err := row.Scan(&f.AttemptID, &f.CampaignID, &f.Campaign, &f.Phone, &f.DecidedAt, &f.Kind, &f.Record, &f.RecordedAt, &f.Gate, &f.Detail,
				&r.Found, &r.Calls, &r.Had)
			return f, err
		})
		if err != nil {
			return fmt.Errorf("checks: %w", err)
		}
		if len(found) == 0 {
			// No row carried the count of calls: the re-decided ones.
			r.Calls = len(ids)
		}
		r.Found += re.Found
		r.Had += re.Had
		r.Findings = newestFindings(found, redecided)
		return nil
	})
	if err != nil {
		return CallsReport{}, fmt.Errorf("campaign: report: %w", err)
	}
	return r, nil
}

// newestFindings merges two lists of findings, each newest first, into
// the newest MaxReportFindings of both: by when the attempt was recorded,
// then by attempt, newest first, a's before b's for the same attempt.
func newestFindings(a, b []Finding) []Finding {
	out := make([]Finding, 0, min(len(a)+len(b), MaxReportFindings))
	for len(out) < MaxReportFindings && (len(a) > 0 || len(b) > 0) {
		if len(b) == 0 || (len(a) > 0 && !newerFinding(b[0], a[0])) {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return out
}

// newerFinding reports whether f's attempt comes strictly before g's in
// the report's order: recorded later, or at the same instant with a
// greater id.
func newerFinding(f, g Finding) bool {
	if !f.DecidedAt.Equal(g.DecidedAt) {
		return f.DecidedAt.After(g.DecidedAt)
	}
	return f.AttemptID > g.AttemptID
}

// DefaultReportDays is the length of a report period whose start is not
// given, in days.
const DefaultReportDays = 30

// ReportPeriod reads a report period as people give it: from and to are
// dates (2006-01-02) in zone, to included, local times in zone, or RFC
// 3339 instants, as a campaign's schedule is read. An empty
// to ends now; an empty from starts at the beginning of the day
// DefaultReportDays days before the end's day, in zone. It returns an error wrapping ErrInvalid for anything else,
// and ErrPeriod for a period that ends before it starts.
func ReportPeriod(from, to string, zone *time.Location, now time.Time) (time.Time, time.Time, error) {
	read := func(name, v string, end bool) (time.Time, error) {
		t, err := parseWhen(v, zone, end) // as a campaign's schedule is read
		if err != nil {
			return time.Time{}, fmt.Errorf("%s %q: want a date such as 2026-11-01, a local time such as 2026-11-01T09:00, or an RFC 3339 time: %w",
				name, v, ErrInvalid)
		}
		return t, nil
	}
	var (
		f, t time.Time
		err  error
	)
	if to == "" {
		t = now
	} else if t, err = read("to", to, true); err != nil {
		return time.Time{}, time.Time{}, err
	}
	if from == "" {
		y, m, d := t.In(zone).Date()
		f = time.Date(y, m, d-DefaultReportDays, 0, 0, 0, 0, zone)
	} else if f, err = read("from", from, false); err != nil {
		return time.Time{}, time.Time{}, err
	}
	if t.Before(f) {
		return time.Time{}, time.Time{}, fmt.Errorf("from %s to %s: %w", f.Format(time.RFC3339), t.Format(time.RFC3339), ErrPeriod)
	}
	return f, t, nil
}
