package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/phone"
)

// ClockApartLimit is how far apart the dialer's clock (when it placed a
// call, originated_at) and the database's (at the call's last look a
// moment before, or, for calls from before heed took looks, when its
// attempt was recorded) may be before the calls report counts the call in
// CallsReport.ClockApart.
const ClockApartLimit = time.Minute

// redecideRows selects the allowed attempts decided in [$1, $2), newest
// first, with what re-deciding each needs from the records: the request
// the gate decided (decision_input), its campaign's purpose, when the call
// was placed, the consent it relied on as the ledger holds it (none when
// that consent is not for this number, the campaign's purpose and the
// voice channel, as the index would match it), the date of the national
// registry copy installed when it was recorded, its history as the records
// hold it, and the registry list copies in force when it was recorded (the
// newest install of each list). That history is what the pacer's history
// query (historyQuery) read, and the calls its own batch recorded before
// it, which the pacer's batch did not read but holds such a target back
// for (dialer.heldBack): the allowed calls, not called off, to the numbers
// its history counted (the called number, and the person's numbers
// decision_input's history_of names) placed (callPlacedSQL) within $4
// seconds before its instant and recorded before it; a call is a
// conversation (conversationSQL; $3 are the outcomes that count) when it
// became one, even if it was still going on at
// that instant (the gate waits for an open call's end: consent.Attempt.Open),
// with its end (callEndedSQL, from which its quiet period runs), the latest
// end of a conversation ended by that instant following. When the
// call itself was placed is originated_at, unless that was filled in from
// the answer (the placing was never written). Last come the kinds of the
// overrides logged for the number and in force at its instant, as the
// pacer's override query (consent.OverrideStore.Active) reads them, and
// the same not counting the withdrawals dated in the $5 milliseconds
// before it: a withdrawal is dated before it waits for the audit log's
// lock, and may have committed after the pacer read the overrides.
//
// For a call that relied on no consent (neither its decision nor its last
// look named one), the rows end with its number's
// ledger as it stood when the gate last decided it (ledgerHeldSQL): the
// revocations, newest first, each with when it was recorded and what the
// gate had of it (ledgerGateSQL), and, when there is one, the consents to
// the campaign's purpose by calls, which the gate's index would have
// weighed against them. A call that relied on a consent has the
// revocations of that consent checked by reportFound (FindingRevoked)
// instead.
var redecideRows = `
	SELECT a.id, a.campaign_id, k.name, a.phone, a.created_at, coalesce(a.looked_at, a.created_at),
	       CASE WHEN a.originated_at IS DISTINCT FROM a.answered_at THEN a.originated_at END, a.pack, a.decision_input, k.purpose,
	       coalesce(a.consent_id, 0), c.kind, c.obtained_at, c.expires_at,
	       (SELECT i.as_of FROM dnc_list_installs i WHERE i.list = 'national' AND i.installed_at <= a.created_at
	         ORDER BY i.installed_at DESC, i.id DESC LIMIT 1),
	       h.at, h.purpose, h.conversation, h.ended, h.spoke,
	       (SELECT coalesce(array_agg(i.id), '{}') FROM (SELECT DISTINCT ON (list) id FROM dnc_list_installs
	         WHERE installed_at <= a.created_at ORDER BY list, installed_at DESC, id DESC) i),
	       (SELECT coalesce(array_agg(DISTINCT o.kind), '{}') FROM overrides o
	         WHERE o.phone = a.phone AND ` + consent.OverrideInForceSQL("o", "r.at", "r.at") + `),
	       (SELECT coalesce(array_agg(DISTINCT o.kind), '{}') FROM overrides o
	         WHERE o.phone = a.phone AND ` + consent.OverrideInForceSQL("o", "r.at", "r.at - $5 * interval '1 millisecond'") + `),
	       rv.id, rv.revoked, rv.scope, rv.method, rv.recorded, rv.gate, rc.id, rc.kind, rc.obtained, rc.expires
	  FROM attempts a JOIN campaigns k ON k.id = a.campaign_id
	  LEFT JOIN consents c ON c.id = a.consent_id AND c.phone = a.phone AND c.scope = k.purpose AND c.channel = 'voice'
	  CROSS JOIN LATERAL (SELECT coalesce((a.decision_input->>'at')::timestamptz, a.created_at) AS at,
	                             ARRAY[a.phone] || ARRAY(SELECT jsonb_array_elements_text(coalesce(a.decision_input->'history_of'->'numbers', '[]'))) AS numbers) r
	  CROSS JOIN LATERAL (
		SELECT coalesce(array_agg(` + callPlacedSQL("p") + `), '{}'), coalesce(array_agg(pk.purpose), '{}'),
		       coalesce(array_agg(` + conversationSQL("p", "$3") + `), '{}'), coalesce(array_agg(` + callEndedSQL("p") + `), '{}'),
		       max(` + callEndedSQL("p") + `) FILTER (WHERE ` + conversationSQL("p", "$3") + ` AND ` + callEndedSQL("p") + ` <= r.at)
		  FROM attempts p JOIN campaigns pk ON pk.id = p.campaign_id
		 WHERE p.phone = ANY(r.numbers) AND p.decision = 'allow' AND p.outcome <> 'called_off' AND p.not_placed = ''
		   AND p.created_at < a.created_at AND p.created_at >= r.at - $4 * interval '1 second' - interval '1 day'
		   AND ` + callPlacedSQL("p") + ` >= r.at - $4 * interval '1 second'
	  ) h (at, purpose, conversation, ended, spoke)
	  CROSS JOIN LATERAL (SELECT coalesce(a.looked_at, a.created_at) AS at,
	                             coalesce((a.last_look->>'index_seq')::bigint, (a.decision_input->>'index_seq')::bigint) AS seen_seq,
	                             coalesce((a.last_look->>'index_top')::bigint, (a.decision_input->>'index_top')::bigint) AS top_seq) l
	  CROSS JOIN LATERAL (
		SELECT coalesce(array_agg(v.id ORDER BY v.revoked_at DESC, v.id DESC), '{}'), coalesce(array_agg(v.revoked_at ORDER BY v.revoked_at DESC, v.id DESC), '{}'),
		       coalesce(array_agg(v.scope ORDER BY v.revoked_at DESC, v.id DESC), '{}'), coalesce(array_agg(v.method ORDER BY v.revoked_at DESC, v.id DESC), '{}'),
		       coalesce(array_agg(v.created_at ORDER BY v.revoked_at DESC, v.id DESC), '{}'),
		       coalesce(array_agg(` + ledgerGateSQL("s.seq", "l") + ` ORDER BY v.revoked_at DESC, v.id DESC), '{}')
		  FROM revocations v
		  LEFT JOIN LATERAL (SELECT min(x.seq) AS seq FROM index_changes x WHERE x.phone = a.phone AND x.op = 'revocation' AND x.ref_id = v.id) s ON true
		 WHERE coalesce(a.consent_id, 0) = 0 AND coalesce((a.last_look->'decision'->>'consent_id')::bigint, 0) = 0 AND v.phone = a.phone AND ` + ledgerHeldSQL("s.seq", "v.created_at", "l") + `
	  ) rv (id, revoked, scope, method, recorded, gate)
	  CROSS JOIN LATERAL (
		SELECT coalesce(array_agg(c.id ORDER BY c.id), '{}'), coalesce(array_agg(c.kind ORDER BY c.id), '{}'),
		       coalesce(array_agg(c.obtained_at ORDER BY c.id), '{}'), coalesce(array_agg(c.expires_at ORDER BY c.id), '{}')
		  FROM consents c
		  LEFT JOIN LATERAL (SELECT min(x.seq) AS seq FROM index_changes x WHERE x.phone = a.phone AND x.op = 'consent' AND x.ref_id = c.id) s ON true
		 WHERE cardinality(rv.id) > 0 AND c.phone = a.phone AND c.scope = k.purpose AND c.channel = 'voice'
		   AND ` + ledgerHeldSQL("s.seq", "c.created_at", "l") + `
	  ) rc (id, kind, obtained, expires)
	 WHERE a.decision = 'allow' AND a.outcome <> 'called_off' AND a.not_placed = '' AND a.created_at >= $1 AND a.created_at < $2
	 ORDER BY a.created_at DESC, a.id DESC`

// ledgerHeldSQL is the SQL condition that a consent or revocation, first
// logged in the change log at seq (NULL when it never was) and written at
// written, was in the ledger when the gate last decided a call, whose
// instant (at, by the database's clock), change-log position (seen_seq)
// and the log's top then (top_seq) are the columns of l: as an attempt's
// record reads it (numberRecords), one in the log up to the top, which
// was committed before the look or attempt was recorded; without the
// positions, one written by the instant (a transaction's time is when it
// began, so this may count a record committed a little later).
func ledgerHeldSQL(seq, written, l string) string {
	return fmt.Sprintf(`CASE WHEN %[1]s IS NOT NULL AND %[3]s.top_seq IS NOT NULL THEN %[1]s <= %[3]s.top_seq ELSE %[2]s <= %[3]s.at END`, seq, written, l)
}

// ledgerGateSQL is the SQL of what the gate had of a record that
// ledgerHeldSQL holds: GateHad when its indexes had applied it (its
// change-log position seq at or below seen_seq), GateLate when it was
// committed after they read the log, and GateUnknown when the positions
// do not tell (an attempt from before heed kept them).
func ledgerGateSQL(seq, l string) string {
	return fmt.Sprintf(`CASE WHEN %[1]s <= %[2]s.seen_seq THEN '`+GateHad+`' WHEN %[1]s <= %[2]s.top_seq THEN '`+GateLate+`' ELSE '`+GateUnknown+`' END`, seq, l)
}

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

// copyOf is a registry list copy installed: a row of dnc_list_installs.
type copyOf struct {
	list        dnc.ListID
	version     uint64
	asOf        time.Time
	installedAt time.Time
}

// redecider re-decides the calls of one report.
type redecider struct {
	pol *policies
	// lists reads the registry list copies, or is nil when the report
	// does not check them; copies are the installs by id, and installs
	// their ids by list and version.
	lists    CopyReader
	copies   map[int64]copyOf
	installs map[copyKey]int64
	// sets holds the copies read, by id (nil for a copy that could not
	// be read), until the calls reach back before their install (hold):
	// a copy or two of each list at a time.
	sets map[int64]*dnc.Set
}

// copyKey names a registry list copy by its list and version.
type copyKey struct {
	list    dnc.ListID
	version uint64
}

// redecide re-decides, in tx, every call allowed in [from, to) from the
// records, with the engine of the policy it was decided under, into r:
// first the request the gate decided as recorded, with the campaign's
// purpose, the consent it relied on as the ledger holds it and the
// national registry copy installed then (FindingRule when that denies or
// defers); then at the instant the call was placed (FindingPlaced); then
// with the calls the records hold before it in place of the recorded
// history (FindingHistory); without the overrides its request relied on
// that the records do not show in force (FindingOverride); and, when
// s.Copies is set, with the registry list copies that hold its number
// (FindingRegistry); and, for a call that relied on no consent, with the
// revocations of its number the ledger held when the gate last decided it
// (FindingRevoked, rule F13). The internal list, and the revocations of
// the consent a call relied on, are left to the report's other checks
// (reportFound). It counts in r
// the calls it could not re-decide and those whose clocks were apart, and
// returns the newest MaxReportFindings findings with the ids of the calls
// found, each once.
func (s *Service) redecide(ctx context.Context, tx pgx.Tx, from, to time.Time, r *CallsReport) ([]Finding, []int64, error) {
	pol, err := newPolicies(ctx, consent.NewSettingsStore(s.db))
	if err != nil {
		return nil, nil, fmt.Errorf("re-decide: %w", err)
	}
	rd := &redecider{pol: pol, lists: s.Copies, copies: map[int64]copyOf{}, installs: map[copyKey]int64{}, sets: map[int64]*dnc.Set{}}
	if err := rd.readCopies(ctx, tx); err != nil {
		return nil, nil, err
	}
	rows, err := tx.Query(ctx, redecideRows, from, to, reachedOutcomes, int64(dialer.HistoryWindow/time.Second), ClockApartLimit.Milliseconds())
	if err != nil {
		return nil, nil, fmt.Errorf("re-decide: %w", err)
	}
	defer rows.Close()
	var (
		found []Finding
		ids   []int64
	)
	for rows.Next() {
		var c call
		if err := rows.Scan(&c.f.AttemptID, &c.f.CampaignID, &c.f.Campaign, &c.f.Phone, &c.f.DecidedAt, &c.looked, &c.placed, &c.pack, &c.raw, &c.purpose,
			&c.consentID, &c.kind, &c.obtained, &c.expires, &c.asOf, &c.hAt, &c.hPurpose, &c.hConv, &c.hEnded, &c.spoke, &c.copies, &c.overrides, &c.overridesEarlier,
			&c.rev.id, &c.rev.at, &c.rev.scope, &c.rev.method, &c.rev.recorded, &c.rev.gate, &c.con.id, &c.con.kind, &c.con.obtained, &c.con.expires); err != nil {
			return nil, nil, fmt.Errorf("re-decide: %w", err)
		}
		fs, err := rd.call(ctx, &c, r)
		if err != nil {
			return nil, nil, fmt.Errorf("re-decide: attempt %d: %w", c.f.AttemptID, err)
		}
		if len(fs) > 0 {
			ids = append(ids, c.f.AttemptID)
		}
		for _, f := range fs {
			r.Found++
			if f.Gate == GateHad {
				r.Had++
			}
			if len(found) < MaxReportFindings {
				found = append(found, f)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("re-decide: %w", err)
	}
	return found, ids, nil
}

// readCopies reads, in tx, every registry list copy installed.
func (rd *redecider) readCopies(ctx context.Context, tx pgx.Tx) error {
	// By id: the newest row of a list's version is the one kept, as
	// dnc.Registry.LoadVersion and the attempt record read it.
	rows, err := tx.Query(ctx, `SELECT id, list, version, as_of, installed_at FROM dnc_list_installs ORDER BY id`)
	if err != nil {
		return fmt.Errorf("re-decide: registry copies: %w", err)
	}
	var (
		id   int64
		name string
		c    copyOf
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &name, &c.version, &c.asOf, &c.installedAt}, func() error {
		l, err := dnc.ParseList(name)
		if err != nil {
			return err
		}
		c.list = l
		rd.copies[id] = c
		rd.installs[copyKey{l, c.version}] = id
		return nil
	})
	if err != nil {
		return fmt.Errorf("re-decide: registry copies: %w", err)
	}
	return nil
}

// call is one row of redecideRows: an allowed call and its records.
type call struct {
	f                               Finding
	pack, purpose                   string
	kind                            *string
	raw                             []byte
	consentID                       int64
	placed, obtained, expires, asOf *time.Time
	// looked is when the call's last look was recorded, right before it
	// was placed, or when its attempt was, for one from before heed took
	// looks: by the database's clock.
	looked    time.Time
	spoke     *time.Time // the last conversation's end in the history
	hAt       []time.Time
	hPurpose  []string
	hConv     []bool
	hEnded    []*time.Time // nil for a call not ended
	copies    []int64
	overrides []string // the kinds of override in force, by the records
	// overridesEarlier is overrides, not counting withdrawals dated in
	// the minute before the call's instant.
	overridesEarlier []string
	// rev and con are its number's revocations, newest first, and its
	// consents to the campaign's purpose by calls, as the ledger held
	// them when the gate last decided the call; none for a call that
	// relied on a consent, and no consents without a revocation.
	rev heldRevocations
	con heldConsents
}

// heldRevocations are revocations as redecideRows reads them, a column
// each: its id, when it was made (revoked_at), the purpose it is limited
// to ("" for every purpose), how it was made, when it was recorded, and
// what the gate had of it (GateHad, GateLate or GateUnknown).
type heldRevocations struct {
	id            []int64
	at, recorded  []time.Time
	scope, method []string
	gate          []string
}

// heldConsents are consents as redecideRows reads them, a column each:
// its id, kind, when it was given, and its expiry (nil for none).
type heldConsents struct {
	id       []int64
	kind     []string
	obtained []time.Time
	expires  []*time.Time
}

// call re-decides c, and returns its findings.
func (rd *redecider) call(ctx context.Context, c *call, r *CallsReport) ([]Finding, error) {
	var rec decisionInput
	if err := json.Unmarshal(c.raw, &rec); err != nil {
		return nil, fmt.Errorf("decision input: %w", err)
	}
	req := rec.Request
	in := req.Input()
	in.Number, in.Purpose = phone.Number(c.f.Phone), consent.Purpose(c.purpose)
	if in.At.IsZero() {
		in.At = c.f.DecidedAt
	}
	if c.placed != nil {
		if d := c.placed.Sub(c.looked).Abs(); d > ClockApartLimit {
			r.ClockApart++
			r.ClockApartMost = max(r.ClockApartMost, d.Seconds())
		}
	}
	var out []Finding
	e, ok := rd.pol.forPack(c.pack)
	if !ok {
		r.NotRedecided++
		return out, nil
	}
	facts := consent.Facts{Fresh: true, ReassignedAt: req.ReassignedAt}
	if c.asOf != nil {
		facts.NationalAsOf = *c.asOf
	}
	if v, ok := rec.Lists[dnc.National.String()]; ok {
		if id, ok := rd.installs[copyKey{dnc.National, v}]; ok {
			facts.NationalAsOf = rd.copies[id].asOf // the copy the gate read
		}
	}
	var unmatched string
	switch {
	case c.consentID == 0:
	case c.kind == nil:
		unmatched = fmt.Sprintf("; the consent it relied on (%d) is not for this number, the campaign's purpose and calls", c.consentID)
	default:
		facts.Consent = consent.ConsentFacts{ID: c.consentID, ObtainedAt: *c.obtained}
		var err error
		if facts.Consent.Kind, err = consent.ParseConsentKind(*c.kind); err != nil {
			return nil, fmt.Errorf("consent %d: %w", c.consentID, err)
		}
		if c.expires != nil {
			facts.Consent.ExpiresAt = *c.expires
		}
	}
	if len(c.hAt) != len(c.hPurpose) || len(c.hAt) != len(c.hConv) || len(c.hAt) != len(c.hEnded) {
		return nil, fmt.Errorf("history columns of %d, %d, %d and %d calls", len(c.hAt), len(c.hPurpose), len(c.hConv), len(c.hEnded))
	}
	f := c.f
	f.Gate = GateHad
	if d := e.Check(in, facts); d.Verdict != consent.Allow {
		f.Kind, f.Detail = FindingRule, verdictWords(d)+" under "+c.pack+unmatched
		return append(out, f), nil
	}
	if c.placed != nil && !c.placed.Equal(in.At) {
		placed := in
		placed.At = *c.placed
		// The overrides as they stood then: one that expired meanwhile
		// no longer lifts a cap.
		o := req.Overrides.At(placed.At)
		placed.RegFDirectConsent = placed.RegFDirectConsent && o.RegFDirectConsent
		placed.SolicitationException = placed.SolicitationException && o.SolicitationException
		if d := e.Check(placed, facts); d.Verdict != consent.Allow {
			f.Kind = FindingPlaced
			f.Detail = fmt.Sprintf("%s under %s, at %s, when it was placed; decided for %s", verdictWords(d), c.pack,
				c.placed.UTC().Format(reportTime), in.At.UTC().Format(reportTime))
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		held := in
		held.History = make([]consent.Attempt, len(c.hAt))
		for i := range c.hAt {
			held.History[i] = consent.Attempt{At: c.hAt[i], Purpose: consent.Purpose(c.hPurpose[i]), Method: consent.MethodPrerecorded, Conversation: c.hConv[i]}
			if c.hEnded[i] != nil {
				held.History[i].Ended = *c.hEnded[i]
			}
		}
		if d := e.Check(held, facts); d.Verdict != consent.Allow {
			f.Kind = FindingHistory
			if len(held.History) <= len(req.History) && c.spoke != nil && in.At.Sub(*c.spoke) < ClockApartLimit {
				// No call more than the request listed, and a
				// conversation that ended in the minute before: its end
				// may have been written after the history was read.
				f.Gate = GateLate
			}
			f.Detail = fmt.Sprintf("%s under %s, with the %d call(s) the records hold before it in the %d days before it; its request listed %d",
				verdictWords(d), c.pack, len(held.History), int(dialer.HistoryWindow/(24*time.Hour)), len(req.History))
			out = append(out, f)
		}
	}
	if g, ok := rd.override(c, &req, e, in, facts); ok {
		out = append(out, g)
	}
	g, ok, err := rd.registry(ctx, c, &rec, e, in, facts, r)
	if err != nil {
		return nil, err
	}
	if ok {
		out = append(out, g)
	}
	g, ok, err = revoked(c, e, in, facts)
	if err != nil {
		return nil, err
	}
	if ok {
		out = append(out, g)
	}
	return out, nil
}

// gateOrder ranks what the gate had of a record it could have had (not
// GateAfter), from what it had to what the records cannot tell.
var gateOrder = []string{GateHad, GateLate, GateUnknown}

// revoked re-decides c, a call that relied on no consent, as in and facts
// have it, with its number's revocations as the ledger held them when the
// gate last decided it (c.rev), and the consent the gate's index would
// have found beside them among its consents then (c.con; the index's own
// Lookup chooses it, and sets the latest revocation of any scope and the
// latest that covers the campaign's purpose). That is rule F13: a
// revocation in reach (of any purpose under heed's default, of the
// campaign's purpose or every purpose where the policy the call was
// decided under narrowed the scope, and of any again once the law makes
// it reach every purpose) stops every robocall, even one that needs no
// consent, until a consent to the purpose is given after it. The engine
// says which revocations reach and whether a consent lifts them; the
// re-decision without them (FindingRule) allowed the call.
//
// It returns the FindingRevoked when that denies for consent.revoked, and
// whether there is one. The revocations are added by what the gate had
// of them (gateOrder), those it had first: the finding's gate is that of
// the first set that denies, and its record the latest revocation of that
// set that reaches the purpose, or, where none alone denies, the latest
// of any purpose (which reaches it under revoke-all).
func revoked(c *call, e *consent.Engine, in consent.Input, facts consent.Facts) (Finding, bool, error) {
	v := &c.rev
	if len(v.id) == 0 {
		return Finding{}, false, nil
	}
	if len(v.at) != len(v.id) || len(v.scope) != len(v.id) || len(v.method) != len(v.id) || len(v.recorded) != len(v.id) || len(v.gate) != len(v.id) {
		return Finding{}, false, fmt.Errorf("revocation columns of %d, %d, %d, %d, %d and %d rows",
			len(v.id), len(v.at), len(v.scope), len(v.method), len(v.recorded), len(v.gate))
	}
	k := &c.con
	if len(k.kind) != len(k.id) || len(k.obtained) != len(k.id) || len(k.expires) != len(k.id) {
		return Finding{}, false, fmt.Errorf("consent columns of %d, %d, %d and %d rows", len(k.id), len(k.kind), len(k.obtained), len(k.expires))
	}
	n, err := phone.Number(c.f.Phone).NANP()
	if err != nil {
		// Not a NANP number, which the gate's index holds nothing of (and
		// the rule check denies).
		return Finding{}, false, nil
	}
	consents := make([]consent.Record, len(k.id))
	for i, id := range k.id {
		kind, err := consent.ParseConsentKind(k.kind[i])
		if err != nil {
			return Finding{}, false, fmt.Errorf("consent %d: %w", id, err)
		}
		consents[i] = consent.Record{Type: consent.RecordConsent, ID: id, Phone: phone.Number(c.f.Phone), Number: n, Kind: kind,
			Scope: in.Purpose, Channel: consent.ChannelVoice, At: k.obtained[i]}
		if k.expires[i] != nil {
			consents[i].ExpiresAt = *k.expires[i]
		}
	}
	// check decides with the revocations the gate had at least up to
	// rank, and returns the decision and the facts it decided on.
	check := func(rank int) (consent.Decision, consent.Facts) {
		recs := slices.Clone(consents)
		for i, id := range v.id {
			if slices.Index(gateOrder, v.gate[i]) <= rank {
				recs = append(recs, consent.Record{Type: consent.RecordRevocation, ID: id, Phone: phone.Number(c.f.Phone), Number: n,
					Scope: consent.Purpose(v.scope[i]), At: v.at[i]})
			}
		}
		f := facts
		consent.NewSnapshot(0, recs...).Lookup(n, in.Purpose, consent.ChannelVoice, in.At, &f.Consent)
		return e.Check(in, f), f
	}
	stops := func(d consent.Decision) bool {
		return d.Verdict != consent.Allow && slices.Contains(d.Reasons, consent.ReasonConsentRevoked)
	}
	if d, _ := check(len(gateOrder)); !stops(d) {
		return Finding{}, false, nil
	}
	for rank, gate := range gateOrder {
		if !slices.Contains(v.gate, gate) {
			continue
		}
		d, f := check(rank)
		if !stops(d) {
			continue
		}
		// Does a revocation that covers the purpose deny alone?
		own := f
		own.Consent.RevokedAt = own.Consent.PurposeRevokedAt
		purposeOnly := stops(e.Check(in, own))
		for i := range v.id {
			if slices.Index(gateOrder, v.gate[i]) > rank || purposeOnly && v.scope[i] != "" && consent.Purpose(v.scope[i]) != in.Purpose {
				continue
			}
			only := ""
			if v.scope[i] != "" {
				only = " (" + v.scope[i] + " only)"
			}
			g := c.f
			g.Kind, g.Gate, g.Record, g.RecordedAt = FindingRevoked, gate, v.id[i], v.recorded[i]
			g.Detail = fmt.Sprintf("revoked %s by %s%s: %s under %s", v.at[i].UTC().Format(reportTime), v.method[i], only, verdictWords(d), c.pack)
			return g, true, nil
		}
	}
	// Not reached: the last set checked holds every revocation, which
	// stop the call, and names one.
	return Finding{}, false, fmt.Errorf("revocations %v stop the call, but no set of them by what the gate had does", v.id)
}

// override re-decides c, as in and facts have it, without the overrides
// its request relied on that the records do not show in force at its
// instant (logged later, expired, withdrawn, or never logged for its
// number). It returns the FindingOverride when that denies or defers,
// GateLate when an override was withdrawn in the minute before (it may
// have committed after the pacer read them), and whether there is one.
func (rd *redecider) override(c *call, req *dialer.Request, e *consent.Engine, in consent.Input, facts consent.Facts) (Finding, bool) {
	var (
		missing []string
		gate    = GateHad
	)
	drop := func(flag *bool, kind consent.OverrideKind, id int64) {
		if !*flag || slices.Contains(c.overrides, string(kind)) {
			return
		}
		*flag = false
		name := string(kind)
		if id != 0 {
			name = fmt.Sprintf("%d (%s)", id, kind)
		}
		missing = append(missing, name)
		if slices.Contains(c.overridesEarlier, string(kind)) {
			gate = GateLate // withdrawn in the minute before
		}
	}
	drop(&in.RegFDirectConsent, consent.OverrideRegFDirectConsent, req.Overrides.RegFOverrideID)
	drop(&in.SolicitationException, consent.OverrideSolicitationException, req.Overrides.SolicitationOverrideID)
	if len(missing) == 0 {
		return Finding{}, false
	}
	d := e.Check(in, facts)
	if d.Verdict == consent.Allow {
		return Finding{}, false
	}
	f := c.f
	f.Kind, f.Gate = FindingOverride, gate
	f.Detail = fmt.Sprintf("%s under %s, without override %s, which the records do not show in force at %s", verdictWords(d), c.pack,
		strings.Join(missing, " and "), in.At.UTC().Format(reportTime))
	return f, true
}

// registry re-decides c, as in and facts have it, with the registry list
// copies that hold its number: first those its decision read, as its
// attempt names them (rec.Lists; GateHad), then those in force when it was
// recorded (GateLate; GateUnknown for an attempt that names none). It
// returns the FindingRegistry of the first that denies or defers, and
// whether there is one. A call whose copies cannot be read is counted in
// r.RegistryUnchecked.
func (rd *redecider) registry(ctx context.Context, c *call, rec *decisionInput, e *consent.Engine, in consent.Input, facts consent.Facts, r *CallsReport) (Finding, bool, error) {
	if rd.lists == nil {
		return Finding{}, false, nil
	}
	read, ok := rd.named(rec.Lists)
	if !ok {
		// It names a copy never installed: nothing to check it against.
		r.RegistryUnchecked++
		return Finding{}, false, nil
	}
	slices.Sort(read)
	now := slices.Sorted(slices.Values(c.copies))
	steps := []struct {
		copies []int64
		gate   string
	}{{read, GateHad}, {now, GateLate}}
	switch {
	case rec.Lists == nil:
		steps = steps[1:]
		steps[0].gate = GateUnknown
	case slices.Equal(read, now):
		steps = steps[:1]
	}
	n, err := phone.Number(c.f.Phone).NANP()
	if err != nil {
		// Not a NANP number, which no registry list holds (and the rule
		// check denies).
		return Finding{}, false, nil
	}
	if err := rd.hold(ctx, c.f.DecidedAt, append(read, now...)); err != nil {
		return Finding{}, false, err
	}
	for _, step := range steps {
		var (
			hits    dnc.Hits
			holders []int64
		)
		for _, id := range step.copies {
			set := rd.sets[id]
			if set == nil {
				r.RegistryUnchecked++
				return Finding{}, false, nil
			}
			if set.Contains(n) {
				hits |= 1 << rd.copies[id].list
				holders = append(holders, id)
			}
		}
		if hits == 0 {
			continue
		}
		facts.DNC = dialer.DNCHits(hits)
		d := e.Check(in, facts)
		if d.Verdict == consent.Allow {
			continue
		}
		// The record is the copy of a list the decision names, if any.
		holder := holders[0]
		for _, id := range holders {
			if slices.Contains(d.Reasons, listReason(rd.copies[id].list)) {
				holder = id
				break
			}
		}
		cp := rd.copies[holder]
		f := c.f
		f.Kind, f.Gate, f.Record, f.RecordedAt = FindingRegistry, step.gate, holder, cp.installedAt
		f.Detail = fmt.Sprintf("%s version %d, as of %s: %s under %s", cp.list, cp.version, cp.asOf.UTC().Format(time.DateOnly), verdictWords(d), c.pack)
		return f, true, nil
	}
	return Finding{}, false, nil
}

// listReason is the reason a decision gives for a registry list's hit.
func listReason(l dnc.ListID) consent.Reason {
	switch l {
	case dnc.National:
		return consent.ReasonDNCNational
	case dnc.Litigator:
		return consent.ReasonDNCLitigator
	}
	return consent.ReasonDNCState
}

// named returns the ids of the registry list copies lists names (list
// name to version), and false when one was never installed.
func (rd *redecider) named(lists map[string]uint64) ([]int64, bool) {
	ids := make([]int64, 0, len(lists))
	for name, v := range lists {
		l, err := dnc.ParseList(name)
		if err != nil {
			return nil, false
		}
		id, ok := rd.installs[copyKey{l, v}]
		if !ok {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

// hold makes rd.sets hold the copies ids, each read once, or nil when it
// cannot be read (its file gone, say), for a call recorded at at. The
// calls come newest first, so a copy installed after at is never needed
// again and is let go; the others are kept, as calls recorded around an
// install by several pacers may name either copy.
func (rd *redecider) hold(ctx context.Context, at time.Time, ids []int64) error {
	for id := range rd.sets {
		if rd.copies[id].installedAt.After(at) && !slices.Contains(ids, id) {
			delete(rd.sets, id)
		}
	}
	for _, id := range ids {
		if _, ok := rd.sets[id]; ok {
			continue
		}
		cp, ok := rd.copies[id]
		if !ok {
			return fmt.Errorf("registry copy %d: not installed", id)
		}
		_, set, err := rd.lists.LoadVersion(ctx, cp.list, cp.version)
		if ctx.Err() != nil {
			return fmt.Errorf("registry copy %v version %d: %w", cp.list, cp.version, ctx.Err())
		}
		if err != nil {
			set = nil
		}
		rd.sets[id] = set
	}
	return nil
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
