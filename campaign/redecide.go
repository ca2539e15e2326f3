package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// ClockApartLimit is how far apart the dialer's clock (the instant a
// request was decided for) and the database's (when its attempt was
// recorded, a moment later) may be before the calls report counts the call
// in CallsReport.ClockApart.
const ClockApartLimit = time.Minute

// redecideRows selects the allowed attempts decided in [$1, $2), newest
// first, with what re-deciding each needs from the records: the request
// the gate decided (decision_input), its campaign's purpose, when the call
// was placed, the consent it relied on as the ledger holds it (none when
// that consent is not for this number, the campaign's purpose and the
// voice channel, as the index would match it), the date of the national
// registry copy installed when it was recorded, and its history as the
// records hold it. That history is what the pacer's history query
// (historyQuery) read: the allowed calls to the numbers its history
// counted (the called number, and the person's numbers decision_input's
// history_of names) placed within $4 seconds before its instant, recorded
// before it but not in its own batch (the same instant: the batch read its
// history before any was recorded); a call is a conversation ($3 are the
// outcomes that count) only when it had ended by that instant.
const redecideRows = `
	SELECT a.id, a.campaign_id, k.name, a.phone, a.created_at, a.originated_at, a.pack, a.decision_input, k.purpose,
	       coalesce(a.consent_id, 0), c.kind, c.obtained_at, c.expires_at,
	       (SELECT i.as_of FROM dnc_list_installs i WHERE i.list = 'national' AND i.installed_at <= a.created_at
	         ORDER BY i.installed_at DESC, i.id DESC LIMIT 1),
	       h.at, h.purpose, h.conversation
	  FROM attempts a JOIN campaigns k ON k.id = a.campaign_id
	  LEFT JOIN consents c ON c.id = a.consent_id AND c.phone = a.phone AND c.scope = k.purpose AND c.channel = 'voice'
	  CROSS JOIN LATERAL (SELECT coalesce((a.decision_input->>'at')::timestamptz, a.created_at) AS at,
	                             ARRAY[a.phone] || ARRAY(SELECT jsonb_array_elements_text(coalesce(a.decision_input->'history_of'->'numbers', '[]'))) AS numbers) r
	  CROSS JOIN LATERAL (
		SELECT coalesce(array_agg(coalesce(p.originated_at, p.created_at)), '{}'), coalesce(array_agg(pk.purpose), '{}'),
		       coalesce(array_agg(p.outcome = ANY($3) AND p.ended_at <= r.at), '{}')
		  FROM attempts p JOIN campaigns pk ON pk.id = p.campaign_id
		 WHERE p.phone = ANY(r.numbers) AND p.decision = 'allow'
		   AND p.created_at < a.created_at AND p.created_at >= r.at - $4 * interval '1 second' - interval '1 day'
		   AND coalesce(p.originated_at, p.created_at) >= r.at - $4 * interval '1 second'
		   AND p.decision_input->>'at' IS DISTINCT FROM a.decision_input->>'at'
	  ) h (at, purpose, conversation)
	 WHERE a.decision = 'allow' AND a.created_at >= $1 AND a.created_at < $2
	 ORDER BY a.created_at DESC, a.id DESC`

// policies are the engines of the firm's saved policies, by the pack
// version their decisions name, built when first needed.
type policies struct {
	store *consent.SettingsStore
	// saved maps a pack version to the policy that builds it: heed's
	// defaults and every saved version, as this heed's law packs name them.
	saved map[string]consent.FirmPolicy
	built map[string]*consent.Engine
}

// newPolicies reads the firm's saved policies and the pack version each
// names with this heed's law packs (consent.PackVersion).
func newPolicies(ctx context.Context, store *consent.SettingsStore) (*policies, error) {
	versions, err := store.History(ctx)
	if err != nil {
		return nil, err
	}
	p := &policies{store: store, saved: map[string]consent.FirmPolicy{}, built: map[string]*consent.Engine{}}
	p.saved[consent.PackVersion(store.Packs, consent.FirmPolicy{})] = consent.FirmPolicy{}
	for _, v := range versions {
		p.saved[consent.PackVersion(store.Packs, v.Policy)] = v.Policy
	}
	return p, nil
}

// forPack returns the engine that decided under pack, or false when this
// heed cannot build it: a pack of another release's law packs, or a saved
// policy this release refuses (one that loosens a floor it added).
func (p *policies) forPack(pack string) (*consent.Engine, bool) {
	if e, ok := p.built[pack]; ok {
		return e, e != nil
	}
	fp, ok := p.saved[pack]
	var e *consent.Engine
	if ok {
		if built, err := dialer.BuildEngine(p.store, fp); err == nil {
			e = built
		}
	}
	p.built[pack] = e
	return e, e != nil
}

// redecide re-decides, in tx, every call allowed in [from, to) from the
// records, with the engine of the policy it was decided under, into r:
// first the request the gate decided as recorded, with the campaign's
// purpose, the consent it relied on as the ledger holds it and the
// national registry copy installed then (FindingRule when that denies or
// defers); then at the instant the call was placed (FindingPlaced); then
// with the calls the records hold before it in place of the recorded
// history (FindingHistory). Do-not-call hits and revocations are left to
// the report's other checks. It counts in r the calls it could not
// re-decide and those whose clocks were apart, and returns the newest
// MaxReportFindings findings with the ids of every call found.
func (s *Service) redecide(ctx context.Context, tx pgx.Tx, from, to time.Time, r *CallsReport) ([]Finding, []int64, error) {
	pol, err := newPolicies(ctx, consent.NewSettingsStore(s.db))
	if err != nil {
		return nil, nil, fmt.Errorf("re-decide: %w", err)
	}
	rows, err := tx.Query(ctx, redecideRows, from, to, reachedOutcomes, int64(dialer.HistoryWindow/time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("re-decide: %w", err)
	}
	defer rows.Close()
	var (
		found []Finding
		ids   []int64
	)
	for rows.Next() {
		var (
			f                               Finding
			pack, purpose                   string
			kind                            *string
			raw                             []byte
			consentID                       int64
			placed, obtained, expires, asOf *time.Time
			hAt                             []time.Time
			hPurpose                        []string
			hConv                           []bool
		)
		if err := rows.Scan(&f.AttemptID, &f.CampaignID, &f.Campaign, &f.Phone, &f.DecidedAt, &placed, &pack, &raw, &purpose,
			&consentID, &kind, &obtained, &expires, &asOf, &hAt, &hPurpose, &hConv); err != nil {
			return nil, nil, fmt.Errorf("re-decide: %w", err)
		}
		var rec decisionInput
		if err := json.Unmarshal(raw, &rec); err != nil {
			return nil, nil, fmt.Errorf("re-decide: attempt %d: decision input: %w", f.AttemptID, err)
		}
		req := rec.Request
		in := consent.Input{Number: phone.Number(f.Phone), State: req.State, ZIP: req.ZIP, Purpose: consent.Purpose(purpose), Method: req.Method,
			Line: req.Line, At: req.At, History: req.History, RegFDirectConsent: req.Overrides.RegFDirectConsent,
			SolicitationException: req.Overrides.SolicitationException}
		if in.At.IsZero() {
			in.At = f.DecidedAt
		}
		if d := in.At.Sub(f.DecidedAt).Abs(); d > ClockApartLimit {
			r.ClockApart++
			r.ClockApartMost = max(r.ClockApartMost, d.Seconds())
		}
		e, ok := pol.forPack(pack)
		if !ok {
			r.NotRedecided++
			continue
		}
		facts := consent.Facts{Fresh: true, ReassignedAt: req.ReassignedAt}
		if asOf != nil {
			facts.NationalAsOf = *asOf
		}
		var unmatched string
		switch {
		case consentID == 0:
		case kind == nil:
			unmatched = fmt.Sprintf("; the consent it relied on (%d) is not for this number, the campaign's purpose and calls", consentID)
		default:
			facts.Consent = consent.ConsentFacts{ID: consentID, ObtainedAt: *obtained}
			if facts.Consent.Kind, err = consent.ParseConsentKind(*kind); err != nil {
				return nil, nil, fmt.Errorf("re-decide: attempt %d: consent %d: %w", f.AttemptID, consentID, err)
			}
			if expires != nil {
				facts.Consent.ExpiresAt = *expires
			}
		}
		if len(hAt) != len(hPurpose) || len(hAt) != len(hConv) {
			return nil, nil, fmt.Errorf("re-decide: attempt %d: history columns of %d, %d and %d calls", f.AttemptID, len(hAt), len(hPurpose), len(hConv))
		}
		f.Gate = GateHad
		if d := e.Check(in, facts); d.Verdict != consent.Allow {
			f.Kind, f.Detail = FindingRule, verdictWords(d)+" under "+pack+unmatched
		} else if placed != nil && !placed.Equal(in.At) {
			at := in.At
			in.At = *placed
			if d := e.Check(in, facts); d.Verdict != consent.Allow {
				f.Kind = FindingPlaced
				f.Detail = fmt.Sprintf("%s under %s, at %s, when it was placed; decided for %s", verdictWords(d), pack,
					placed.UTC().Format(reportTime), at.UTC().Format(reportTime))
			}
			in.At = at
		}
		if f.Kind == "" {
			in.History = make([]consent.Attempt, len(hAt))
			for i := range hAt {
				in.History[i] = consent.Attempt{At: hAt[i], Purpose: consent.Purpose(hPurpose[i]), Method: consent.MethodPrerecorded, Conversation: hConv[i]}
			}
			if d := e.Check(in, facts); d.Verdict != consent.Allow {
				f.Kind = FindingHistory
				f.Detail = fmt.Sprintf("%s under %s, with the %d call(s) the records hold before it in the %d days before it; its request listed %d",
					verdictWords(d), pack, len(in.History), int(dialer.HistoryWindow/(24*time.Hour)), len(req.History))
			}
		}
		if f.Kind == "" {
			continue
		}
		ids = append(ids, f.AttemptID)
		if len(found) < MaxReportFindings {
			found = append(found, f)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("re-decide: %w", err)
	}
	return found, ids, nil
}

// reportTime is how the report's details write an instant.
const reportTime = "2006-01-02 15:04:05 UTC"

// verdictWords renders a decision as "deny: window.outside, cap.frequency"
// or "defer until 2026-11-16 14:00:00 UTC: window.outside".
func verdictWords(d consent.Decision) string {
	reasons := make([]string, len(d.Reasons))
	for i, r := range d.Reasons {
		reasons[i] = string(r)
	}
	v := string(d.Verdict)
	if d.Verdict == consent.Defer {
		v += " until " + d.Until.UTC().Format(reportTime)
	}
	return v + ": " + strings.Join(reasons, ", ")
}
