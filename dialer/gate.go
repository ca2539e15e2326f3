// Package dialer places calls. It holds the pacing loop, the gate that every
// attempt must pass, and the call flow over Asterisk's ARI.
package dialer

import (
	"context"
	"time"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/phone"
)

// Request is everything the gate needs to decide one attempt.
type Request struct {
	Phone      phone.Number     `json:"phone"`
	Purpose    consent.Purpose  `json:"purpose"`
	Method     consent.Method   `json:"method"`
	Line       consent.LineType `json:"line"`
	State      string           `json:"state,omitempty"`
	ZIP        string           `json:"zip,omitempty"`
	At         time.Time        `json:"at"`
	CampaignID int64            `json:"campaign_id,omitempty"`
	ContactID  int64            `json:"contact_id,omitempty"`
	// History is the calls already placed to this number, and to every
	// number of the contact's person (person_ref) when it has one, across
	// all campaigns, within the longest cap window.
	History []consent.Attempt `json:"history,omitempty"`
	// Overrides are the logged overrides (rules R1, E1) in force for the
	// number at At, from consent.OverrideStore.Active; the attempt row's
	// decision_input keeps them, naming the override a call relied on.
	Overrides consent.OverrideFlags `json:"overrides,omitzero"`
	// ReassignedAt is the latest time the Reassigned Numbers Database
	// reported the number permanently disconnected, or zero (rule F15; it
	// counts only while the firm's check_reassigned setting is on).
	ReassignedAt time.Time `json:"reassigned_at,omitzero"`
	// InjuryMatter is the campaign's (rule E1, consent.Input): a
	// solicitation about a personal-injury or wrongful-death matter.
	InjuryMatter bool `json:"injury_matter,omitempty"`
	// AccidentAt is when the contact's accident happened
	// (consent.AccidentInstant of its date), or zero (rule E1).
	AccidentAt time.Time `json:"accident_at,omitzero"`
}

// Input returns what the engine is asked for the request: everything but
// its campaign, contact and the override and reassignment details the
// Facts carry.
func (r *Request) Input() consent.Input {
	return consent.Input{
		Number: r.Phone, State: r.State, ZIP: r.ZIP, Purpose: r.Purpose, Method: r.Method, Line: r.Line, At: r.At, History: r.History,
		RegFDirectConsent: r.Overrides.RegFDirectConsent, SolicitationException: r.Overrides.SolicitationException,
		InjuryMatter: r.InjuryMatter, AccidentAt: r.AccidentAt,
	}
}

// Gate decides whether an attempt may be placed. Implementations fail
// closed: when they cannot be sure, they deny with a reason code (for
// example index.stale) and never allow.
type Gate interface {
	Check(ctx context.Context, req Request) consent.Decision
}

// BatchGate is a gate that decides many attempts at once, as the pacing
// loop has them: a batch costs far less per attempt than one Check each,
// because the batch's index lookups overlap in memory. Implementations fail
// closed as Check does, and decide each attempt exactly as Check would
// decide it with the same index state and clock reading.
type BatchGate interface {
	Gate
	// CheckBatch sets out[i] to the decision for reqs[i], for every i; out
	// must be at least as long as reqs.
	CheckBatch(ctx context.Context, reqs []Request, out []consent.Decision)
}

// FactReader is a gate that says which per-number facts, looked up outside
// its indexes, its decisions can read; the pacing loop leaves out the
// lookups a batch's decisions would never read.
type FactReader interface {
	Reads(p consent.Purpose, m consent.Method, l consent.LineType) consent.FactNeeds
}

// Syncer is a gate whose indexes can be brought up to date on demand. The
// pacing loop syncs before each batch, so an opt-out committed anywhere
// before the batch holds for it.
type Syncer interface {
	Sync(ctx context.Context) error
}

// IndexPositioner is implemented by a gate that decides from in-memory
// indexes kept from the change log: IndexSeq returns the position in the
// log its indexes have applied, which the pacer keeps with each target
// (Target.IndexSeq) so that an attempt's record can tell the records its
// decision saw.
type IndexPositioner interface {
	IndexSeq() int64
}

// ListVersioner is implemented by a gate whose in-memory indexes hold
// registry list copies: ListVersions returns the version of each list they
// hold, by list name ("national": 3), which the pacer keeps with each
// target (Target.Lists) so that an attempt's record names the copies its
// decision read, and a function that, called after the decisions, reports
// whether those are the copies they read: false when a copy was being
// installed meanwhile (the pacer then names none). The map may be shared:
// callers do not change it.
type ListVersioner interface {
	ListVersions() (versions map[string]uint64, unchanged func() bool)
}
