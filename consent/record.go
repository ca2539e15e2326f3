package consent

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heed-dialer/heed/internal/phone"
)

// Channel is how a consent lets the firm reach a number.
type Channel string

// The channels a consent record may cover.
const (
	ChannelVoice Channel = "voice"
	ChannelText  Channel = "text"
)

// ParseChannel returns the Channel named by s ("voice" or "text", in any
// case), or an error naming the valid ones.
func ParseChannel(s string) (Channel, error) {
	switch c := Channel(strings.ToLower(strings.TrimSpace(s))); c {
	case ChannelVoice, ChannelText:
		return c, nil
	}
	return "", fmt.Errorf("channel %q: want voice or text", s)
}

// RevocationMethod says how a person revoked consent. Rule F12 accepts any
// reasonable means; these are the ones heed records.
type RevocationMethod string

// The revocation methods heed records.
const (
	// RevokedByIVR is a key press in a call's opt-out menu.
	RevokedByIVR RevocationMethod = "ivr"
	// RevokedByKeyword is a STOP-type word (STOP, QUIT, END, REVOKE, OPT
	// OUT, CANCEL, UNSUBSCRIBE) in a text or spoken on a call.
	RevokedByKeyword RevocationMethod = "keyword"
	// RevokedByWeb is the public opt-out page or another web form.
	RevokedByWeb RevocationMethod = "web"
	// RevokedByStaff is an entry made by the firm's staff, for example
	// after a conversation on a live call.
	RevokedByStaff RevocationMethod = "staff"
	// RevokedByEmail is a request received by email.
	RevokedByEmail RevocationMethod = "email"
	// RevokedByLetter is a request received on paper.
	RevokedByLetter RevocationMethod = "letter"
)

// EnteredMethods are the ways a person asks for no more calls that the
// firm's staff enter: told to staff, a STOP-type word, an email, a letter.
// Key presses and the public page record themselves.
var EnteredMethods = []RevocationMethod{RevokedByStaff, RevokedByKeyword, RevokedByEmail, RevokedByLetter}

// ParseEnteredMethod returns the entered method (EnteredMethods) named by
// s, in any case, with "" for staff, or an error naming the valid ones.
func ParseEnteredMethod(s string) (RevocationMethod, error) {
	if strings.TrimSpace(s) == "" {
		return RevokedByStaff, nil
	}
	m, err := ParseRevocationMethod(s)
	if err != nil || !slices.Contains(EnteredMethods, m) {
		names := make([]string, len(EnteredMethods))
		for i, v := range EnteredMethods {
			names[i] = string(v)
		}
		return "", fmt.Errorf("method %q is not one staff enter: %s", s, strings.Join(names, ", "))
	}
	return m, nil
}

// revocationMethods lists the methods in the order error messages name them.
var revocationMethods = []RevocationMethod{RevokedByIVR, RevokedByKeyword, RevokedByWeb, RevokedByStaff, RevokedByEmail, RevokedByLetter}

// ParseRevocationMethod returns the RevocationMethod named by s (in any
// case), or an error naming the valid ones.
func ParseRevocationMethod(s string) (RevocationMethod, error) {
	m := RevocationMethod(strings.ToLower(strings.TrimSpace(s)))
	for _, v := range revocationMethods {
		if m == v {
			return m, nil
		}
	}
	names := make([]string, len(revocationMethods))
	for i, v := range revocationMethods {
		names[i] = string(v)
	}
	return "", fmt.Errorf("revocation method %q: want one of %s", s, strings.Join(names, ", "))
}

// RecordType says whether a Record is a consent or a revocation.
type RecordType uint8

// The record types of the consent ledger.
const (
	RecordConsent RecordType = iota + 1
	RecordRevocation
)

// String returns "consent", "revocation" or "".
func (t RecordType) String() string {
	switch t {
	case RecordConsent:
		return "consent"
	case RecordRevocation:
		return "revocation"
	}
	return ""
}

// Record is one consent or revocation as the in-memory index needs it. The
// ledger produces records (Ledger.All, Ledger.Since) and the index applies
// them (Snapshot.Apply). Records are append-only facts: applying the same
// record twice changes nothing, and the order in which records are applied
// does not matter.
type Record struct {
	// Seq is the change sequence number of the record's index_changes row,
	// or 0 when the record was read without one (Ledger.All).
	Seq int64
	// Type is RecordConsent or RecordRevocation.
	Type RecordType
	// ID is the consents or revocations row id.
	ID int64
	// Phone is the number in E.164 form.
	Phone phone.Number
	// Number is the ten NANP digits of Phone as an integer, or 0 when Phone
	// is outside the NANP; the index ignores records whose Number is 0.
	Number uint64
	// Kind is the consent's kind; unused for revocations.
	Kind ConsentKind
	// Scope is the consent's purpose. For a revocation it is the purpose the
	// revocation is limited to, or "" for every purpose (the default).
	Scope Purpose
	// Channel is the consent's channel; unused for revocations, which cover
	// every channel.
	Channel Channel
	// At is when the consent was obtained or the revocation made.
	At time.Time
	// ExpiresAt is the consent's own expiry, or zero for none.
	ExpiresAt time.Time
}
