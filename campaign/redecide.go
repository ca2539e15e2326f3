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

// redecideRows selects the allowed attempts decided in [$1, $2), with what
// re-deciding each needs from the records: the request the gate decided
// (decision_input), the campaign's purpose, the consent it relied on as the
// ledger holds it, the date of the national registry copy installed when
// it was recorded, and the calls the attempts table holds before it to the
// numbers its history counted (the called number, and the person's numbers
// decision_input's history_of names), placed within $4 seconds before its
// instant, as the pacer's history query reads them ($3 are the outcomes
// that count as a conversation).
const redecideRows = `
	SELECT a.id, a.campaign_id, k.name, a.phone, a.created_at, a.pack, a.decision_input, k.purpose,
	       coalesce(a.consent_id, 0), coalesce(c.kind, ''), c.obtained_at, c.expires_at,
	       (SELECT i.as_of FROM dnc_list_installs i WHERE i.list = 'national' AND i.installed_at <= a.created_at
	         ORDER BY i.installed_at DESC, i.id DESC LIMIT 1),
	       h.at, h.purpose, h.conversation
	  FROM attempts a JOIN campaigns k ON k.id = a.campaign_id
	  LEFT JOIN consents c ON c.id = a.consent_id
	  CROSS JOIN LATERAL (
		SELECT coalesce(array_agg(coalesce(p.originated_at, p.created_at)), '{}'), coalesce(array_agg(pk.purpose), '{}'),
		       coalesce(array_agg(p.outcome = ANY($3)), '{}')
		  FROM attempts p JOIN campaigns pk ON pk.id = p.campaign_id
		 WHERE p.phone = ANY(ARRAY[a.phone] || ARRAY(SELECT jsonb_array_elements_text(coalesce(a.decision_input->'history_of'->'numbers', '[]'))))
		   AND p.decision = 'allow' AND p.created_at < a.created_at
		   AND coalesce(p.originated_at, p.created_at) >= coalesce((a.decision_input->>'at')::timestamptz, a.created_at) - $4 * interval '1 second'
	  ) h (at, purpose, conversation)
	 WHERE a.decision = 'allow' AND a.created_at >= $1 AND a.created_at < $2
	 ORDER BY a.created_at DESC, a.id DESC`

// policies are the engines of the firm's saved policies, for re-deciding
// calls under the policy they were decided under.
type policies struct {
	store *consent.SettingsStore
	saved []consent.SettingsVersion // newest first
	built map[string]*consent.Engine
	// byPack maps a pack version (Engine.Version) to the policy it names,
	// by its index in saved, or -1 for heed's defaults.
	byPack map[string]int
}

// newPolicies reads the firm's saved policies.
func newPolicies(ctx context.Context, store *consent.SettingsStore) (*policies, error) {
	saved, err := store.History(ctx)
	if err != nil {
		return nil, err
	}
	p := &policies{store: store, saved: saved, built: map[string]*consent.Engine{}, byPack: map[string]int{}}
	for i := -1; i < len(saved); i++ {
		e, err := p.engine(i)
		if err != nil {
			return nil, err
		}
		p.byPack[e.Version()] = i
	}
	return p, nil
}

// engine returns the engine of saved[i], or of heed's defaults for -1.
func (p *policies) engine(i int) (*consent.Engine, error) {
	fp := consent.FirmPolicy{}
	if i >= 0 {
		fp = p.saved[i].Policy
	}
	if e, ok := p.built[fp.Version]; ok {
		return e, nil
	}
	e, err := dialer.BuildEngine(p.store, fp)
	if err != nil {
		return nil, err
	}
	p.built[fp.Version] = e
	return e, nil
}

// forCall returns the engine to re-decide a call recorded at at under the
// pack version it named: that pack's, or, for a pack this heed does not
// build (an older release's law packs), the policy saved last before at.
func (p *policies) forCall(pack string, at time.Time) (*consent.Engine, error) {
	if i, ok := p.byPack[pack]; ok {
		return p.engine(i)
	}
	i := -1
	for j := len(p.saved) - 1; j >= 0 && !p.saved[j].SavedAt.After(at); j-- {
		i = j
	}
	return p.engine(i)
}

// redecide re-decides, in tx, every call allowed in [from, to) from the
// records, with the engine of the policy it was decided under: first the
// request the gate decided as recorded, with the consent it relied on as
// the ledger holds it and the national registry copy installed then
// (FindingRule when that denies or defers); then, when that allows, with
// the calls the attempts table holds before it in place of the recorded
// history (FindingHistory). Do-not-call hits and revocations are left to
// the report's other checks. It returns the findings, newest first.
func (s *Service) redecide(ctx context.Context, tx pgx.Tx, from, to time.Time) ([]Finding, error) {
	pol, err := newPolicies(ctx, consent.NewSettingsStore(s.db))
	if err != nil {
		return nil, fmt.Errorf("re-decide: %w", err)
	}
	rows, err := tx.Query(ctx, redecideRows, from, to, reachedOutcomes, int64(dialer.HistoryWindow/time.Second))
	if err != nil {
		return nil, fmt.Errorf("re-decide: %w", err)
	}
	defer rows.Close()
	out := []Finding{}
	for rows.Next() {
		var (
			f                       Finding
			pack, purpose, kind     string
			raw                     []byte
			consentID               int64
			obtained, expires, asOf *time.Time
			hAt                     []time.Time
			hPurpose                []string
			hConv                   []bool
		)
		if err := rows.Scan(&f.AttemptID, &f.CampaignID, &f.Campaign, &f.Phone, &f.DecidedAt, &pack, &raw, &purpose,
			&consentID, &kind, &obtained, &expires, &asOf, &hAt, &hPurpose, &hConv); err != nil {
			return nil, fmt.Errorf("re-decide: %w", err)
		}
		var rec decisionInput
		if err := json.Unmarshal(raw, &rec); err != nil {
			return nil, fmt.Errorf("re-decide: attempt %d: decision input: %w", f.AttemptID, err)
		}
		req := rec.Request
		in := consent.Input{Number: phone.Number(f.Phone), State: req.State, ZIP: req.ZIP, Purpose: req.Purpose, Method: req.Method,
			Line: req.Line, At: req.At, History: req.History, RegFDirectConsent: req.Overrides.RegFDirectConsent,
			SolicitationException: req.Overrides.SolicitationException}
		if in.Purpose == "" {
			in.Purpose = consent.Purpose(purpose)
		}
		if in.At.IsZero() {
			in.At = f.DecidedAt
		}
		facts := consent.Facts{Fresh: true, ReassignedAt: req.ReassignedAt, Consent: consent.ConsentFacts{ID: consentID}}
		if asOf != nil {
			facts.NationalAsOf = *asOf
		}
		if consentID != 0 {
			if facts.Consent.Kind, err = consent.ParseConsentKind(kind); err != nil {
				return nil, fmt.Errorf("re-decide: attempt %d: consent %d: %w", f.AttemptID, consentID, err)
			}
			if obtained != nil {
				facts.Consent.ObtainedAt = *obtained
			}
			if expires != nil {
				facts.Consent.ExpiresAt = *expires
			}
		}
		e, err := pol.forCall(pack, f.DecidedAt)
		if err != nil {
			return nil, fmt.Errorf("re-decide: attempt %d: %w", f.AttemptID, err)
		}
		under := "under " + e.Version()
		if e.Version() != pack {
			under = fmt.Sprintf("under %s (it was decided under %q)", e.Version(), pack)
		}
		f.Gate = GateHad
		if d := e.Check(in, facts); d.Verdict != consent.Allow {
			f.Kind, f.Detail = FindingRule, verdictWords(d)+" "+under
			out = append(out, f)
			continue
		}
		if len(hAt) != len(hPurpose) || len(hAt) != len(hConv) {
			return nil, fmt.Errorf("re-decide: attempt %d: history columns of %d, %d and %d calls", f.AttemptID, len(hAt), len(hPurpose), len(hConv))
		}
		in.History = make([]consent.Attempt, len(hAt))
		for i := range hAt {
			in.History[i] = consent.Attempt{At: hAt[i], Purpose: consent.Purpose(hPurpose[i]), Method: consent.MethodPrerecorded, Conversation: hConv[i]}
		}
		if d := e.Check(in, facts); d.Verdict != consent.Allow {
			f.Kind = FindingHistory
			f.Detail = fmt.Sprintf("%s %s, with the %d call(s) recorded before it in the %d days before it; its request listed %d",
				verdictWords(d), under, len(in.History), int(dialer.HistoryWindow/(24*time.Hour)), len(req.History))
			out = append(out, f)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("re-decide: %w", err)
	}
	return out, nil
}

// verdictWords renders a decision as "deny: window.outside, cap.frequency"
// or "defer until 2026-11-16 14:00:00 UTC: window.outside".
func verdictWords(d consent.Decision) string {
	reasons := make([]string, len(d.Reasons))
	for i, r := range d.Reasons {
		reasons[i] = string(r)
	}
	v := string(d.Verdict)
	if d.Verdict == consent.Defer {
		v += " until " + d.Until.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return v + ": " + strings.Join(reasons, ", ")
}
