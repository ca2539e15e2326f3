// Package consent holds heed's consent ledger and the policy engine that turns
// ../shared/compliance-rules.md into decisions. The types in this file are
// the decision vocabulary that the gate, `heed check` and every attempt row
// share.
package consent

import (
	"fmt"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Verdict is the outcome of a gate decision.
type Verdict string

// The three verdicts a decision can carry.
const (
	Allow Verdict = "allow"
	Deny  Verdict = "deny"
	Defer Verdict = "defer"
)

// Reason is a reason code from the compliance rules' vocabulary.
type Reason string

// Reason codes for attempt decisions, exactly as in the compliance rules.
const (
	ReasonNumberInvalid         Reason = "number.invalid"
	ReasonNumberUnsupported     Reason = "number.unsupported"
	ReasonDNCInternal           Reason = "dnc.internal"
	ReasonDNCNational           Reason = "dnc.national"
	ReasonDNCState              Reason = "dnc.state"
	ReasonDNCLitigator          Reason = "dnc.litigator"
	ReasonDNCNationalStale      Reason = "dnc.national_stale"
	ReasonConsentMissing        Reason = "consent.missing"
	ReasonConsentInsufficient   Reason = "consent.insufficient"
	ReasonConsentRevoked        Reason = "consent.revoked"
	ReasonConsentExpired        Reason = "consent.expired"
	ReasonWindowOutside         Reason = "window.outside"
	ReasonWindowDay             Reason = "window.day"
	ReasonCapFrequency          Reason = "cap.frequency"
	ReasonCapAfterConversation  Reason = "cap.after_conversation"
	ReasonCapResidential        Reason = "cap.residential"
	ReasonIndexStale            Reason = "index.stale"
	ReasonEthicsSolicitation    Reason = "ethics.solicitation"
	ReasonScriptIdentification  Reason = "script.identification"
	ReasonScriptCallback        Reason = "script.callback"
	ReasonScriptOptout          Reason = "script.optout"
	ReasonScriptDisclosure      Reason = "script.disclosure"
	ReasonScriptAdvertisingMatl Reason = "script.advertising_material"
)

// Purpose is a campaign's legal purpose.
type Purpose string

// The purposes a campaign may have.
const (
	PurposeInformational  Purpose = "informational"
	PurposeTelemarketing  Purpose = "telemarketing"
	PurposeDebtCollection Purpose = "debt_collection"
	PurposeSolicitation   Purpose = "solicitation"
)

// Purposes returns every purpose a campaign may have, in the rules file's
// order.
func Purposes() []Purpose {
	return []Purpose{PurposeInformational, PurposeTelemarketing, PurposeDebtCollection, PurposeSolicitation}
}

// ParsePurpose returns the Purpose named by s, or an error naming the valid ones.
func ParsePurpose(s string) (Purpose, error) {
	switch p := Purpose(s); p {
	case PurposeInformational, PurposeTelemarketing, PurposeDebtCollection, PurposeSolicitation:
		return p, nil
	}
	return "", fmt.Errorf("purpose %q: want informational, telemarketing, debt_collection or solicitation", s)
}

// Decision is the gate's answer for one attempt. Until is set only for Defer.
// ConsentID names the consent record the decision relied on, or 0 for none.
// A decision made by Engine.Decide shares its Reasons slice with other
// decisions (see ReasonSet.Reasons), so callers must not modify its elements.
type Decision struct {
	Verdict   Verdict
	Until     time.Time
	Reasons   []Reason
	Pack      string
	ConsentID int64
}

// Allowed reports whether the call may be placed now.
func (d Decision) Allowed() bool { return d.Verdict == Allow }

// FailedClosed reports whether d is the gate's refusal to decide on indexes
// it cannot confirm are current (index.stale): a state of heed, not of the
// number.
func (d Decision) FailedClosed() bool {
	return d.Verdict == Deny && slices.Contains(d.Reasons, ReasonIndexStale)
}

// ReasonSet is a set of attempt reason codes kept as a bitmask, so that the
// engine can collect reasons without allocating. Its bit order is the order of
// the reason codes in the compliance rules, which is also the order in which
// Reasons lists them.
type ReasonSet uint32

// reasonOrder lists every reason code; a code's index is its bit in a ReasonSet.
var reasonOrder = [...]Reason{
	ReasonNumberInvalid,
	ReasonNumberUnsupported,
	ReasonDNCInternal,
	ReasonDNCNational,
	ReasonDNCState,
	ReasonDNCLitigator,
	ReasonDNCNationalStale,
	ReasonConsentMissing,
	ReasonConsentInsufficient,
	ReasonConsentRevoked,
	ReasonConsentExpired,
	ReasonWindowOutside,
	ReasonWindowDay,
	ReasonCapFrequency,
	ReasonCapAfterConversation,
	ReasonCapResidential,
	ReasonIndexStale,
	ReasonEthicsSolicitation,
	ReasonScriptIdentification,
	ReasonScriptCallback,
	ReasonScriptOptout,
	ReasonScriptDisclosure,
	ReasonScriptAdvertisingMatl,
}

// The bits of the reason codes, in reasonOrder.
const (
	bitNumberInvalid ReasonSet = 1 << iota
	bitNumberUnsupported
	bitDNCInternal
	bitDNCNational
	bitDNCState
	bitDNCLitigator
	bitDNCNationalStale
	bitConsentMissing
	bitConsentInsufficient
	bitConsentRevoked
	bitConsentExpired
	bitWindowOutside
	bitWindowDay
	bitCapFrequency
	bitCapAfterConversation
	bitCapResidential
	bitIndexStale
	bitEthicsSolicitation
	bitScriptIdentification
	bitScriptCallback
	bitScriptOptout
	bitScriptDisclosure
	bitScriptAdvertisingMatl
)

// ReasonBit returns the one-element set holding r, or an empty set when r is
// not a known reason code.
func ReasonBit(r Reason) ReasonSet {
	for i, c := range reasonOrder {
		if c == r {
			return 1 << i
		}
	}
	return 0
}

// Has reports whether r is in the set.
func (s ReasonSet) Has(r Reason) bool {
	b := ReasonBit(r)
	return b != 0 && s&b != 0
}

// Len returns the number of reasons in the set.
func (s ReasonSet) Len() int { return bits.OnesCount32(uint32(s)) }

// AppendTo appends the set's reasons to dst in canonical order and returns the
// extended slice. It allocates only when dst lacks capacity.
func (s ReasonSet) AppendTo(dst []Reason) []Reason {
	for m := uint32(s); m != 0; m &= m - 1 {
		if i := bits.TrailingZeros32(m); i < len(reasonOrder) {
			dst = append(dst, reasonOrder[i])
		}
	}
	return dst
}

// Reasons returns the set's reasons in canonical order, or nil for the empty
// set. The slice is interned and shared by every caller that asks for the same
// set, so after the first call for a set it costs no allocation: callers must
// not modify its elements (appending is safe, because its capacity equals its
// length).
func (s ReasonSet) Reasons() []Reason {
	if s == 0 {
		return nil
	}
	slot := &reasonFast[reasonHash(s)]
	if e := slot.Load(); e != nil && e.set == s {
		return e.rs
	}
	if m := reasonCache.Load(); m != nil {
		if e, ok := (*m)[s]; ok {
			slot.Store(e)
			return e.rs
		}
	}
	return internReasons(s)
}

// reasonFast is a direct-mapped cache in front of reasonCache: most
// decisions find their slice with one atomic load instead of a map lookup.
// A slot holds an entry of reasonCache or nothing, so a collision only
// costs the map lookup.
var reasonFast [reasonFastSize]atomic.Pointer[reasonEntry]

const reasonFastSize = 1024

type reasonEntry struct {
	set ReasonSet
	rs  []Reason
}

// reasonHash spreads a set's bits over reasonFast's slots.
func reasonHash(s ReasonSet) uint32 {
	return uint32(s) * 0x9e3779b1 >> 22 & (reasonFastSize - 1)
}

// reasonCacheLimit bounds the number of interned reason slices; sets beyond it
// are built afresh on every call.
const reasonCacheLimit = 4096

var (
	reasonCache   atomic.Pointer[map[ReasonSet]*reasonEntry]
	reasonCacheMu sync.Mutex
)

// internReasons builds the slice for s and, while the cache has room, stores
// it in a copy-on-write map so that readers never take a lock.
func internReasons(s ReasonSet) []Reason {
	rs := s.AppendTo(make([]Reason, 0, s.Len()))
	rs = rs[:len(rs):len(rs)]
	reasonCacheMu.Lock()
	defer reasonCacheMu.Unlock()
	old := reasonCache.Load()
	if old != nil {
		if got, ok := (*old)[s]; ok {
			return got.rs
		}
		if len(*old) >= reasonCacheLimit {
			return rs
		}
	}
	next := make(map[ReasonSet]*reasonEntry, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[s] = &reasonEntry{set: s, rs: rs}
	reasonCache.Store(&next)
	return rs
}

func lenOf(m *map[ReasonSet]*reasonEntry) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// Method says how a call speaks: a prerecorded or artificial voice (a
// robocall, including text-to-speech and AI voices) or a person from the first
// moment.
type Method string

// The call methods of the compliance rules.
const (
	MethodPrerecorded Method = "prerecorded"
	MethodLive        Method = "live"
)

// ParseMethod returns the Method named by s, or an error naming the valid ones.
func ParseMethod(s string) (Method, error) {
	switch m := Method(s); m {
	case MethodPrerecorded, MethodLive:
		return m, nil
	}
	return "", fmt.Errorf("method %q: want prerecorded or live", s)
}

// LineType is the kind of line a number is on. The engine treats
// LineUnknown, and any value it does not know, as LineWireless.
type LineType string

// The line types of the compliance rules.
const (
	LineWireless LineType = "wireless"
	LineLandline LineType = "landline"
	LineUnknown  LineType = "unknown"
)

// ParseLineType returns the LineType named by s ("" means unknown), or an
// error naming the valid ones.
func ParseLineType(s string) (LineType, error) {
	switch l := LineType(s); l {
	case LineWireless, LineLandline, LineUnknown:
		return l, nil
	case "":
		return LineUnknown, nil
	}
	return "", fmt.Errorf("line type %q: want wireless, landline or unknown", s)
}
