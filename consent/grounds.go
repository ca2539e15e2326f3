package consent

import "slices"

// reasonMeanings are the reason codes' meanings, in the words of the
// compliance rules.
var reasonMeanings = map[Reason]string{
	ReasonNumberInvalid:         "not a valid number",
	ReasonNumberUnsupported:     "a valid number outside the North American Numbering Plan, which no pack covers",
	ReasonDNCInternal:           "on the firm's own do-not-call list, or opted out",
	ReasonDNCNational:           "on the national do-not-call registry (which is also Connecticut's list)",
	ReasonDNCState:              "on a state do-not-call list",
	ReasonDNCLitigator:          "on a litigator list",
	ReasonDNCNationalStale:      "telemarketing while the national registry copy is more than 31 days old",
	ReasonConsentMissing:        "no consent record for this number, scope and channel",
	ReasonConsentInsufficient:   "prior express consent on file where prior express written consent is needed",
	ReasonConsentRevoked:        "the latest consent event is a revocation",
	ReasonConsentExpired:        "the consent record's own expiry has passed",
	ReasonWindowOutside:         "outside the calling window at a place the called party may be",
	ReasonWindowDay:             "a Sunday or holiday on which calls are not placed",
	ReasonCapFrequency:          "a calls-per-period cap is reached",
	ReasonCapAfterConversation:  "within the quiet period after a conversation (Reg F: 7 days)",
	ReasonCapResidential:        "more than 3 informational robocalls to a landline in 30 days without consent",
	ReasonIndexStale:            "the in-memory indexes could not confirm they were current, so heed failed closed",
	ReasonEthicsSolicitation:    "a solicitation the lawyers' ethics rule (E1) forbids",
	ReasonScriptIdentification:  "the message does not identify the firm at its start",
	ReasonScriptCallback:        "the message gives no callback number",
	ReasonScriptOptout:          "the message offers no key-press opt-out",
	ReasonScriptDisclosure:      "a Connecticut sales call lacks its disclosure",
	ReasonScriptAdvertisingMatl: "a recorded solicitation does not say \"Advertising Material\" at its start and end",
}

// Meaning returns what the reason code means, or "" for a code heed does
// not know.
func (r Reason) Meaning() string { return reasonMeanings[r] }

// Ground is a reason a decision gave, with what it means and the rules
// that give it.
type Ground struct {
	Reason  Reason `json:"reason"`
	Meaning string `json:"meaning"`
	// Rules are the rules in force that apply to the attempt and can give
	// the reason; none for the reasons heed gives of its own accord
	// (number.invalid, number.unsupported, index.stale).
	Rules []RuleRef `json:"rules"`
}

// RuleRef names one rule of a pack.
type RuleRef struct {
	Pack     string `json:"pack"`
	Code     string `json:"code"`
	Title    string `json:"title"`
	Citation string `json:"citation"`
}

// Grounds explains reasons given to an attempt like in: for each, its
// meaning and the rules of e's packs in force at in.At that apply to the
// attempt (its purpose, method and line, and the states the engine places
// the called party in) and can give it, in pack order. It is for the
// people who review a decision; the engine does not decide with it.
func (e *Engine) Grounds(in Input, reasons []Reason) []Ground {
	var states []string
	if loc, err := e.Locate(in.Number, in.State, in.ZIP); err == nil {
		states = loc.States
	}
	out := make([]Ground, 0, len(reasons))
	for _, reason := range reasons {
		g := Ground{Reason: reason, Meaning: reason.Meaning(), Rules: []RuleRef{}}
		for _, p := range e.packs {
			for i := range p.Rules {
				r := &p.Rules[i]
				if gives(r, reason) && applies(p, r, &in, states) {
					g.Rules = append(g.Rules, RuleRef{Pack: p.ID + "@" + p.Version, Code: r.Code, Title: r.Title, Citation: r.Citation})
				}
			}
		}
		out = append(out, g)
	}
	return out
}

// gives reports whether rule r can give reason.
func gives(r *Rule, reason Reason) bool {
	if r.Kind == Duty || r.Kind == Info {
		return false
	}
	switch reason {
	case ReasonDNCInternal:
		return r.DNC&DNCInternal != 0
	case ReasonDNCNational:
		return r.DNC&DNCNational != 0
	case ReasonDNCState:
		return r.DNC&DNCState != 0
	case ReasonDNCLitigator:
		return r.DNC&DNCLitigator != 0
	case ReasonDNCNationalStale:
		return r.SnapshotMaxAge > 0
	case ReasonConsentMissing, ReasonConsentInsufficient, ReasonConsentExpired:
		return r.Consent != ConsentNone || r.Cap != nil && r.Cap.Needs != ConsentNone
	case ReasonConsentRevoked:
		return r.Consent != ConsentNone || r.Cap != nil && r.Cap.Needs != ConsentNone || r.Revocation == RevokeAll
	case ReasonWindowOutside:
		return r.Window != nil
	case ReasonWindowDay:
		return r.Days != nil
	case ReasonCapFrequency, ReasonCapResidential:
		return r.Cap != nil && r.Cap.Reason == reason
	case ReasonCapAfterConversation:
		return r.Quiet > 0
	case ReasonEthicsSolicitation:
		return r.LiveSolicitation || r.AccidentWait > 0
	}
	return false
}

// applies reports whether rule r of pack p applies to an attempt like in,
// whose called party the engine places in states, as Decide reads a rule:
// an empty or unknown purpose or method matches every rule, and a
// wireless rule matches lines of unknown type.
func applies(p *Pack, r *Rule, in *Input, states []string) bool {
	at := in.At
	if !r.From.IsZero() && at.Before(r.From) || !r.Until.IsZero() && !at.Before(r.Until) {
		return false
	}
	if r.Purposes != nil && purposeBits(in.Purpose) != pAll && !slices.Contains(r.Purposes, in.Purpose) {
		return false
	}
	if r.Methods != nil && methodBits(in.Method) != mAll && !slices.Contains(r.Methods, in.Method) {
		return false
	}
	if r.Lines != nil {
		line := in.Line
		if line != LineLandline {
			line = LineWireless
		}
		if !slices.Contains(r.Lines, line) {
			return false
		}
	}
	if r.InState {
		state := p.State
		if r.state != "" {
			state = r.state
		}
		if !slices.Contains(states, state) {
			return false
		}
	}
	return true
}
