package consent

import (
	"math"
	"time"

	"github.com/heed-dialer/heed/internal/phone"
)

// Input is what the dialer knows about one attempt.
type Input struct {
	// Number is the called number in E.164 form, as phone.Parse returns it.
	Number phone.Number
	// State is the contact's two-letter USPS state code, or "" when unknown.
	State string
	// ZIP is the contact's ZIP code ("06103" or "06103-1234"), or "".
	ZIP string
	// Purpose is the campaign's purpose. An empty or unknown purpose makes
	// the rules of every purpose apply.
	Purpose Purpose
	// Method is prerecorded or live. An empty or unknown method makes the
	// rules of both methods apply.
	Method Method
	// Line is the line type; unknown (or empty) counts as wireless.
	Line LineType
	// At is the moment of the call.
	At time.Time
	// History lists the calls already placed to the called person across
	// all campaigns: to this number, and to the person's other numbers when
	// the caller knows them (not attempts that were denied or deferred), in
	// any order. The
	// engine only reads it; entries older than Engine.Limits().HistoryWindow
	// (30 days with the built-in packs) may be left out.
	History []Attempt
	// SolicitationException records that a logged exception allows a live
	// solicitation call (rule E1: the person is a lawyer, family, or has a
	// close or prior professional relationship with the firm).
	SolicitationException bool
	// RegFDirectConsent records that an attorney has logged the person's
	// direct consent to more calls, which waives rule R1.
	RegFDirectConsent bool
	// InjuryMatter reports that a solicitation concerns a personal-injury
	// or wrongful-death matter (rule E1): it waits AccidentWait (40 days)
	// after the accident, and without an accident date (AccidentAt zero)
	// it is denied, since the wait cannot be shown to be over.
	InjuryMatter bool
	// AccidentAt is when the accident happened, for a solicitation about
	// one, or zero (rule E1; AccidentInstant gives it for a calendar
	// date). Set, it makes a solicitation wait as InjuryMatter does.
	AccidentAt time.Time
}

// AccidentInstant returns the instant rule E1's wait is counted from for an
// accident on the calendar date of d (its year, month and day): the end of
// that day in the westernmost US time zone (UTC-11, American Samoa), the
// latest the accident can have happened, so that the wait is never short
// wherever it happened.
func AccidentInstant(d time.Time) time.Time {
	y, m, day := d.Date()
	return time.Date(y, m, day+1, 11, 0, 0, 0, time.UTC)
}

// Attempt is one prior attempt in an Input's History. An attempt counts
// toward every cap whose rule covers its purpose and method; an empty
// purpose or method counts toward every cap.
type Attempt struct {
	// At is when the call was placed.
	At time.Time
	// Purpose is the purpose of the attempt's campaign, or "" when unknown.
	Purpose Purpose
	// Method is the attempt's method, or "" when unknown.
	Method Method
	// Conversation reports that the call reached the person and they spoke.
	// A quiet period after a conversation runs from the call's end (Ended),
	// or when its end is not known, from OpenCallLimit after At (the
	// latest it can have ended).
	Conversation bool
	// Ended is when the call ended, or zero when it has not or is not
	// known.
	Ended time.Time `json:",omitzero"`
	// Open reports that the call had not ended when the history was read:
	// whether it becomes a conversation is not known yet. A rule with a
	// quiet period after a conversation defers every call while an open
	// call of its purposes and methods, placed within OpenCallLimit before
	// the attempt, is in the history (reason cap.after_conversation, until
	// OpenRecheck after the attempt): the person may be on the line.
	Open bool `json:",omitempty"`
	// Answered reports that the call was answered, by a person or a
	// machine. An open call answered and placed OpenCallLimit or more
	// before the attempt counts as a conversation that ended
	// OpenCallLimit after it was placed: its end was never recorded (its
	// process stopped, or could not write it).
	Answered bool `json:",omitempty"`
}

// OpenCallLimit bounds how long after it was placed an open call in a
// history may still become a conversation: a call rings for at most
// MaxRing (120 seconds), and the dialer hangs up every call 10 minutes
// after that, whatever it hears, as Asterisk does on its own should heed
// stop (the channel's absolute timeout); the rest is margin. An open call
// placed earlier was left so by a stopped process (or its end could not
// be written): unanswered, it holds no one; answered, it counts as a
// conversation that ended at the limit (Attempt.Answered).
const OpenCallLimit = 15 * time.Minute

// spoke returns the Unix nanosecond a conversation's quiet period runs
// from (its end, or when its end is not known, OpenCallLimit after it was
// placed, the latest it can have ended), or
// MinInt64 when the call was not a conversation; t is a.At.UnixNano(). An
// open call answered and placed at or before openLo (OpenCallLimit before
// the attempt) counts as a conversation that ended OpenCallLimit after it
// was placed, the latest it can have gone on: its end was never recorded,
// and a person may have spoken.
func (a *Attempt) spoke(t, openLo int64) int64 {
	switch {
	case a.Conversation:
		if a.Ended.IsZero() {
			return t + int64(OpenCallLimit)
		}
		return max(t, a.Ended.UnixNano())
	case a.Open && a.Answered && t <= openLo:
		return t + int64(OpenCallLimit)
	}
	return math.MinInt64
}

// OpenRecheck is how long after an attempt a call deferred by an open call
// (Attempt.Open) may be decided again: by then that call has often ended,
// as a conversation (the quiet period then runs) or not (calls are lawful
// again).
const OpenRecheck = time.Minute

// Facts is what the in-memory indexes know about the number.
type Facts struct {
	// Fresh reports that the indexes have confirmed they are current. The
	// zero value, false, fails closed: the decision is deny index.stale.
	Fresh bool
	// DNC lists the do-not-call lists the number is on.
	DNC DNCHits
	// NationalAsOf is when the national registry copy was taken. Zero means
	// no copy, which is stale for telemarketing and solicitation.
	NationalAsOf time.Time
	// Consent is the number's consent state for the campaign's purpose
	// (scope) on the voice channel.
	Consent ConsentFacts
	// ReassignedAt is the latest permanent disconnection the Reassigned
	// Numbers Database reported for the number, or zero (rule F15).
	ReassignedAt time.Time
	// InternalListedAt is when the number's latest entry in force on the
	// internal do-not-call list was made, when DNC holds that list. A
	// consent of the call's purpose given after it lifts the entry for the
	// call (rule F12: new consent after an opt-out restores calling). Zero
	// means not known, and then no consent lifts the entry.
	InternalListedAt time.Time
}

// liftsInternal reports whether consent c was given after an internal
// do-not-call entry made at listed, known: only then may it lift it.
func liftsInternal(c *ConsentFacts, listed time.Time) bool {
	return LiftsEntry(c.ObtainedAt, listed)
}

// LiftsEntry reports whether a consent obtained at obtained may lift an
// internal do-not-call entry made at listed (rule F12): the entry's time
// is known and the consent came strictly after it.
func LiftsEntry(obtained, listed time.Time) bool {
	return !listed.IsZero() && obtained.After(listed)
}

// ConsentFacts is the best consent on file for a number, scope and channel,
// with the latest revocations.
type ConsentFacts struct {
	// ID identifies the consent record; a decision that relies on it names it.
	ID int64
	// Kind is the consent's kind, or ConsentNone when there is no record.
	Kind ConsentKind
	// ObtainedAt is when the consent was given.
	ObtainedAt time.Time
	// ExpiresAt is the consent's own expiry, or zero for none.
	ExpiresAt time.Time
	// RevokedAt is the latest revocation of the number in any scope, or zero.
	RevokedAt time.Time
	// PurposeRevokedAt is the latest revocation that covers this purpose
	// (one made for this purpose or for every purpose), or zero. It matters
	// only when the firm narrows revocations to a purpose (rule F13).
	PurposeRevokedAt time.Time
}
