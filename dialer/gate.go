// Package dialer places calls. It holds the pacing loop, the gate that every
// attempt must pass, and the call flow over Asterisk's ARI.
package dialer

import (
	"context"
	"time"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/phone"
)

// Method says whether a call plays a recorded or synthesised voice
// (prerecorded) or connects a person from the first moment (live).
type Method string

// The call methods of the compliance rules.
const (
	MethodPrerecorded Method = "prerecorded"
	MethodLive        Method = "live"
)

// Request is everything the gate needs to decide one attempt.
type Request struct {
	Phone      phone.Number    `json:"phone"`
	Purpose    consent.Purpose `json:"purpose"`
	Method     Method          `json:"method"`
	Line       string          `json:"line"`
	State      string          `json:"state,omitempty"`
	ZIP        string          `json:"zip,omitempty"`
	At         time.Time       `json:"at"`
	CampaignID int64           `json:"campaign_id,omitempty"`
	ContactID  int64           `json:"contact_id,omitempty"`
}

// Gate decides whether an attempt may be placed. Implementations fail
// closed: when they cannot be sure, they deny with a reason code (for
// example index.stale) and never allow.
type Gate interface {
	Check(ctx context.Context, req Request) consent.Decision
}

// deny builds a deny decision with the given reasons.
func deny(pack string, reasons ...consent.Reason) consent.Decision {
	return consent.Decision{Verdict: consent.Deny, Reasons: reasons, Pack: pack}
}
