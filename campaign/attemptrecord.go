package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// AttemptRecord is what heed kept of one attempt, for the people who must
// show later why a call was or was not placed: what the gate was asked,
// what it decided and on what grounds, the consent it relied on, the
// number's revocations and do-not-call entries at the time, and the call.
type AttemptRecord struct {
	Attempt
	Campaign string          `json:"campaign"`
	Purpose  consent.Purpose `json:"purpose"`
	CallerID string          `json:"caller_id"`
	// OriginatedAt is when the call was handed to Asterisk, or nil.
	OriginatedAt *time.Time `json:"originated_at,omitempty"`
	// Input is the attempt's decision_input as stored: the request the
	// gate decided and whose calls its history counted.
	Input json.RawMessage `json:"decision_input"`
	// Request is Input read; HistoryPerson and HistoryNumbers say whose
	// calls its history holds (the person_ref and their numbers), when the
	// history counted a person's numbers.
	Request        dialer.Request `json:"-"`
	HistoryPerson  string         `json:"-"`
	HistoryNumbers []phone.Number `json:"-"`
	// IndexSeq is the change-log position of the lists the decision read
	// (dialer.Target.IndexSeq), or 0 for an attempt decided before heed
	// kept it.
	IndexSeq int64 `json:"-"`
	// IndexTop is the log's last position committed when the attempt was
	// recorded, or 0 for an attempt recorded before heed kept it.
	IndexTop int64 `json:"-"`
	// LastLook is the gate's decision asked again right before the call
	// was placed (dialer.LastLook), or nil for an attempt that had none (not
	// allowed, not yet placed, or decided before heed took one).
	LastLook *RecordLook `json:"last_look,omitempty"`
	// Consent is the consent record the decision relied on, or nil.
	Consent *RecordConsent `json:"consent"`
	// Consents, Revocations and DNC are the number's consent records (of
	// every scope and channel), revocations and internal do-not-call
	// entries in force, as the decision saw them (numberRecords), oldest
	// first.
	Consents    []RecordConsent    `json:"consents"`
	Revocations []RecordRevocation `json:"revocations"`
	DNC         []RecordDNC        `json:"dnc_internal"`
	// LiftedBy is the consent an allowed call relied on when it was given
	// after every internal do-not-call entry in force, all of which the
	// gate had seen, with no opt-out waiting to be recorded: it lifted them
	// for the call (rule F12). Otherwise 0.
	LiftedBy int64 `json:"dnc_lifted_by,omitempty"`
	// OptOuts are the number's opt-outs taken by the time the attempt was
	// recorded but not yet recorded then: every gate refused the number
	// as on the internal list from its first sync after the take, before
	// the revocation and entry (dated when it was taken) were written.
	OptOuts []NumberOptOut `json:"opt_outs_pending"`
	// Copies are the registry list copies the decision read (the
	// attempt's decision_input lists), by list name, or nil for an attempt
	// that does not name them (decided before heed kept them, or by a gate
	// that held none).
	Copies []RecordCopy `json:"registry_copies"`
	// Places are where the engine places the called party (its time zones
	// with the local time of the decision, and the states whose packs
	// apply), or nil when the engine is not at hand, runs other packs
	// than the attempt's, or cannot place the number.
	Places *Places `json:"places"`
	// Grounds explain the decision's reasons: what each means and the
	// rules that give it. They are read from the packs in force now,
	// PackNow, and left out when those are not the packs the attempt was
	// decided under.
	Grounds []consent.Ground `json:"grounds"`
	PackNow string           `json:"pack_now"`
}

// RecordLook is an attempt's last look as its record shows it.
type RecordLook struct {
	// LookedAt is when the look was recorded, by the database's clock;
	// At is the instant the gate decided for, by the dialer's.
	LookedAt time.Time        `json:"looked_at"`
	At       time.Time        `json:"at"`
	Decision consent.Decision `json:"decision"`
	// IndexSeq is the change-log position the gate's indexes had
	// applied, and IndexTop the log's last position committed when the
	// look was recorded.
	IndexSeq int64 `json:"index_seq,omitempty"`
	IndexTop int64 `json:"index_top,omitempty"`
	// Stopped says the campaign had been paused or cancelled by the look,
	// which called the call off.
	Stopped bool `json:"campaign_stopped,omitempty"`
}

// RecordConsent is a consent record as an attempt's record shows it.
type RecordConsent struct {
	ID           int64               `json:"id"`
	Kind         consent.ConsentKind `json:"kind"`
	Scope        consent.Purpose     `json:"scope"`
	Channel      consent.Channel     `json:"channel"`
	ObtainedAt   time.Time           `json:"obtained_at"`
	Source       string              `json:"source"`
	EvidenceHash string              `json:"evidence_sha256,omitempty"`
	// Document is the hex SHA-256 of the consent's document, when it has
	// one.
	Document string `json:"document_sha256,omitempty"`
	// DocumentName is the file name the consent's document came with.
	DocumentName string     `json:"document_name,omitempty"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	// Late marks a record written before the attempt but after the
	// change-log position its decision read: the gate may not have seen
	// it.
	Late bool `json:"late,omitempty"`
}

// RecordRevocation is a revocation as an attempt's record shows it.
type RecordRevocation struct {
	ID        int64     `json:"id"`
	RevokedAt time.Time `json:"revoked_at"`
	Method    string    `json:"method"`
	Scope     string    `json:"scope"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
	// Late is RecordConsent's.
	Late bool `json:"late,omitempty"`
}

// RecordCopy is a registry list copy an attempt's decision read.
type RecordCopy struct {
	List    string    `json:"list"`
	Version uint64    `json:"version"`
	AsOf    time.Time `json:"as_of"`
	Count   int64     `json:"count"`
	Source  string    `json:"source"`
	// InstalledAt is when the copy was installed.
	InstalledAt time.Time `json:"installed_at"`
}

// RecordDNC is an internal do-not-call entry as an attempt's record shows
// it.
type RecordDNC struct {
	ID      int64     `json:"id"`
	AddedAt time.Time `json:"added_at"`
	Method  string    `json:"method"`
	Source  string    `json:"source"`
	// RemovedAt is when the entry was taken off the list, or nil while it
	// is on it. An attempt's record lists only the entries in force at its
	// decision (RemovedAt is then after it, or nil).
	RemovedAt *time.Time `json:"removed_at,omitempty"`
	// Late is RecordConsent's.
	Late bool `json:"late,omitempty"`
}

// Places is where the engine places a called party at an instant.
type Places struct {
	// Zones are the time zones every window must allow, with the local
	// time of the instant in each.
	Zones []ZoneTime `json:"zones"`
	// States are the states whose packs apply.
	States []string `json:"states"`
	// Known is false when nothing placed the party and every zone and
	// state pack counted.
	Known bool `json:"known"`
}

// PlacesOf returns the places of loc, with the local time of at in each
// of its zones.
func PlacesOf(loc consent.Location, at time.Time) *Places {
	p := &Places{States: loc.States, Known: loc.Known, Zones: []ZoneTime{}}
	for _, z := range loc.Zones {
		if l, err := time.LoadLocation(z); err == nil {
			p.Zones = append(p.Zones, ZoneTime{Zone: z, Local: at.In(l)})
		}
	}
	return p
}

// ZoneTime is an instant in one time zone.
type ZoneTime struct {
	Zone  string    `json:"zone"`
	Local time.Time `json:"local"`
}

// AttemptRecord returns attempt attemptID of campaign campaignID with
// everything heed kept of it. It returns an error wrapping ErrNotFound
// when the campaign has no such attempt.
func (s *Service) AttemptRecord(ctx context.Context, campaignID, attemptID int64) (AttemptRecord, error) {
	var (
		r        AttemptRecord
		lookedAt *time.Time
		look     []byte
	)
	err := s.db.QueryRow(ctx, `
		SELECT `+attemptColumns+`, k.name, k.purpose, a.caller_id, a.originated_at, a.decision_input, a.looked_at, a.last_look
		  FROM attempts a JOIN contacts c ON c.id = a.contact_id JOIN campaigns k ON k.id = a.campaign_id
		 WHERE a.campaign_id = $1 AND a.id = $2`, campaignID, attemptID).
		Scan(r.fields(&r.Campaign, &r.Purpose, &r.CallerID, &r.OriginatedAt, &r.Input, &lookedAt, &look)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return AttemptRecord{}, fmt.Errorf("campaign %d: attempt %d: %w", campaignID, attemptID, ErrNotFound)
	}
	if err != nil {
		return AttemptRecord{}, fmt.Errorf("campaign %d: attempt %d: %w", campaignID, attemptID, err)
	}
	var in decisionInput
	if err := json.Unmarshal(r.Input, &in); err != nil {
		return AttemptRecord{}, fmt.Errorf("attempt %d: decision input: %w", attemptID, err)
	}
	r.Request, r.IndexSeq, r.IndexTop = in.Request, in.IndexSeq, in.IndexTop
	if lookedAt != nil && look != nil {
		var l lastLookRecord
		if err := json.Unmarshal(look, &l); err != nil {
			return AttemptRecord{}, fmt.Errorf("attempt %d: last look: %w", attemptID, err)
		}
		r.LastLook = &RecordLook{LookedAt: *lookedAt, At: l.At, Decision: l.Decision, IndexSeq: l.IndexSeq, IndexTop: l.IndexTop,
			Stopped: l.CampaignRunning != nil && !*l.CampaignRunning}
	}
	if in.HistoryOf != nil {
		r.HistoryPerson, r.HistoryNumbers = in.HistoryOf.Person, in.HistoryOf.Numbers
	}
	if len(in.Lists) > 0 {
		if r.Copies, err = s.copiesRead(ctx, in.Lists); err != nil {
			return AttemptRecord{}, fmt.Errorf("attempt %d: %w", attemptID, err)
		}
	}
	if err := s.numberRecords(ctx, &r); err != nil {
		return AttemptRecord{}, fmt.Errorf("attempt %d: %w", attemptID, err)
	}
	if s.Launch != nil && s.Launch.Engine != nil {
		if e := s.Launch.Engine(); e != nil {
			r.explain(e)
		}
	}
	return r, nil
}

// errCopyNotInstalled reports an attempt that names a registry list copy
// never installed: its record is damaged.
var errCopyNotInstalled = errors.New("a registry list copy it names was never installed")

// copiesRead returns the registry list copies of lists (name to
// version), by name. It returns an error wrapping errCopyNotInstalled when
// one of them was never installed.
func (s *Service) copiesRead(ctx context.Context, lists map[string]uint64) ([]RecordCopy, error) {
	names, versions := make([]string, 0, len(lists)), make([]int64, 0, len(lists))
	for n, v := range lists {
		names, versions = append(names, n), append(versions, int64(v))
	}
	rows, err := s.db.Query(ctx, `
		SELECT DISTINCT ON (i.list) i.list, i.version, i.as_of, i.count, i.source, i.installed_at
		  FROM dnc_list_installs i JOIN unnest($1::text[], $2::bigint[]) AS l (list, version) ON l.list = i.list AND l.version = i.version
		 ORDER BY i.list, i.id DESC`, names, versions)
	if err != nil {
		return nil, fmt.Errorf("registry copies: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[RecordCopy])
	if err != nil {
		return nil, fmt.Errorf("registry copies: %w", err)
	}
	if len(out) != len(lists) {
		return nil, fmt.Errorf("registry copies: %d of the %d named were installed: %w", len(out), len(lists), errCopyNotInstalled)
	}
	return out, nil
}

// numberRecords reads the consent r relied on, and its number's consents,
// revocations and internal do-not-call entries as the decision saw them:
// those the gate's indexes had applied (up to the change-log position
// IndexSeq), and those recorded by the time the attempt was
// written but later in the log (Late: the gate may not have seen them).
// An attempt without a position (decided before heed kept one) counts
// what was recorded by the time it was written.
func (s *Service) numberRecords(ctx context.Context, r *AttemptRecord) error {
	type change struct {
		op string
		id int64
	}
	seqs := map[change]int64{}
	rows, err := s.db.Query(ctx, `SELECT op, ref_id, min(seq) FROM index_changes WHERE phone = $1 GROUP BY op, ref_id`, r.Phone)
	if err != nil {
		return fmt.Errorf("change log: %w", err)
	}
	var (
		op    string
		ref   int64
		minSq int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&op, &ref, &minSq}, func() error {
		seqs[change{op, ref}] = minSq
		return nil
	}); err != nil {
		return fmt.Errorf("change log: %w", err)
	}
	at, pos, top := r.CreatedAt, r.IndexSeq, r.IndexTop
	// seen says whether the record of change (op, id), written at written,
	// counts, and whether it is late: in the log after what the decision
	// read, but committed before the attempt was recorded. Without the
	// decision's position nothing is late; without the log's top, the
	// record's time decides (a transaction's time is
	// when it began, so this may count a record committed a little later).
	seen := func(op string, id int64, written time.Time) (counts, late bool) {
		sq, logged := seqs[change{op, id}]
		switch {
		case logged && pos > 0 && sq <= pos:
			return true, false
		case logged && top > 0:
			return sq <= top, pos > 0
		}
		return !written.After(at), pos > 0
	}
	cs, rs, err := consent.NewLedger(s.db).History(ctx, phone.Number(r.Phone))
	if err != nil {
		return err
	}
	r.Consents = []RecordConsent{}
	for _, c := range cs {
		if r.ConsentID != nil && c.ID == *r.ConsentID {
			rc := recordConsent(c, false)
			r.Consent = &rc
		}
		if ok, late := seen("consent", c.ID, c.CreatedAt); ok {
			r.Consents = append(r.Consents, recordConsent(c, late))
		}
	}
	if r.ConsentID != nil && r.Consent == nil {
		return fmt.Errorf("its consent %d: not among the number's: %w", *r.ConsentID, consent.ErrNotFound)
	}
	r.Revocations = []RecordRevocation{}
	for _, v := range rs {
		if ok, late := seen("revocation", v.ID, v.CreatedAt); ok {
			r.Revocations = append(r.Revocations, recordRevocation(v, late))
		}
	}
	rows, err = s.db.Query(ctx, `SELECT `+optOutColumns+` FROM optout_requests
		 WHERE phone = $1 AND taken_at <= $2 AND (recorded_at IS NULL OR recorded_at > $2) ORDER BY taken_at, id`, r.Phone, at)
	if err != nil {
		return fmt.Errorf("opt-outs: %w", err)
	}
	if r.OptOuts, err = pgx.CollectRows(rows, pgx.RowToStructByPos[NumberOptOut]); err != nil {
		return fmt.Errorf("opt-outs: %w", err)
	}
	entries, err := s.internalEntries(ctx, r.Phone)
	if err != nil {
		return err
	}
	r.DNC = []RecordDNC{}
	for _, d := range entries {
		ok, late := seen("add", d.ID, d.AddedAt)
		if !ok {
			continue
		}
		if d.RemovedAt != nil {
			// Taken off before the decision: by the log when it has the
			// removal, else by the time.
			if sq, has := seqs[change{"remove", d.ID}]; has && pos > 0 {
				if sq <= pos {
					continue
				}
			} else if !d.RemovedAt.After(at) {
				continue
			}
		}
		d.Late = late
		r.DNC = append(r.DNC, d)
	}
	// An allowed call whose consent was given after every entry in force
	// had them lifted (rule F12), when the gate saw every one of them and
	// no opt-out was waiting to be recorded.
	if r.Decision == "allow" && r.Consent != nil && len(r.DNC) > 0 && len(r.OptOuts) == 0 {
		r.LiftedBy = r.Consent.ID
		for _, d := range r.DNC {
			if d.Late || !consent.LiftsEntry(r.Consent.ObtainedAt, d.AddedAt) {
				r.LiftedBy = 0
			}
		}
	}
	return nil
}

// internalEntries returns number n's internal do-not-call entries, those
// taken off too, oldest first.
func (s *Service) internalEntries(ctx context.Context, n string) ([]RecordDNC, error) {
	rows, err := s.db.Query(ctx, `SELECT id, added_at, method, source, removed_at FROM dnc_internal WHERE phone = $1 ORDER BY added_at, id`, n)
	if err != nil {
		return nil, fmt.Errorf("do-not-call entries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RecordDNC, error) {
		var d RecordDNC
		err := r.Scan(&d.ID, &d.AddedAt, &d.Method, &d.Source, &d.RemovedAt)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("do-not-call entries: %w", err)
	}
	return out, nil
}

// recordConsent is c as an attempt's record shows it.
func recordConsent(c consent.ConsentRecord, late bool) RecordConsent {
	rc := RecordConsent{ID: c.ID, Kind: c.Kind, Scope: c.Scope, Channel: c.Channel, ObtainedAt: c.ObtainedAt,
		Source: c.Source, EvidenceHash: c.EvidenceHash, Document: c.Document, DocumentName: c.DocumentName, CreatedAt: c.CreatedAt, Late: late}
	if !c.ExpiresAt.IsZero() {
		rc.ExpiresAt = &c.ExpiresAt
	}
	return rc
}

// recordRevocation is v as an attempt's record shows it.
func recordRevocation(v consent.RevocationRecord, late bool) RecordRevocation {
	return RecordRevocation{ID: v.ID, RevokedAt: v.RevokedAt, Method: string(v.Method), Scope: string(v.Scope),
		Source: v.Source, CreatedAt: v.CreatedAt, Late: late}
}

// explain fills r's places and grounds when e runs the packs the attempt
// was decided under.
func (r *AttemptRecord) explain(e *consent.Engine) {
	req := r.Request
	in := req.Input()
	r.PackNow = e.Version()
	if r.PackNow != r.Pack {
		// Today's packs may place the number elsewhere, and have other
		// rules: neither is shown as the decision's.
		return
	}
	if loc, err := e.Locate(req.Phone, req.State, req.ZIP); err == nil {
		r.Places = PlacesOf(loc, req.At)
	}
	reasons := make([]consent.Reason, len(r.Reasons))
	for i, c := range r.Reasons {
		reasons[i] = consent.Reason(c)
	}
	r.Grounds = e.Grounds(in, reasons)
}
