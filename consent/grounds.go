package consent

// reasonMeanings are the reason codes' meanings, in the words of the
// compliance rules.
var reasonMeanings = map[Reason]string{
	ReasonNumberInvalid:         "not a valid number",
	ReasonNumberUnsupported:     "a valid number outside the North American Numbering Plan, which no pack covers",
	ReasonDNCInternal:           "on the firm's own do-not-call list, or opted out",
	ReasonDNCNational:           "on the national do-not-call registry (which is also Connecticut's list)",
	ReasonDNCState:              "on a state do-not-call list",
	ReasonDNCLitigator:          "on a litigator list",
	ReasonDNCNationalStale:      "telemarketing while the national registry snapshot is older than the packs allow (31 days at most)",
	ReasonConsentMissing:        "no consent record for this number, scope and channel",
	ReasonConsentInsufficient:   "prior express consent on file where prior express written consent is needed",
	ReasonConsentRevoked:        "the latest consent event is a revocation",
	ReasonConsentExpired:        "the consent record's own expiry has passed",
	ReasonWindowOutside:         "outside the calling window at a place the called party may be",
	ReasonWindowDay:             "a Sunday or holiday on which calls are not placed",
	ReasonCapFrequency:          "a calls-per-period cap is reached",
	ReasonCapAfterConversation:  "within the quiet period after a conversation (Reg F: 7 days), or while a call that may become one is under way",
	ReasonCapResidential:        "more informational robocalls to a residential landline than the cap allows without prior express consent (3 in 30 days at most)",
	ReasonIndexStale:            "the in-memory indexes could not confirm they were current, so heed failed closed",
	ReasonEthicsSolicitation:    "the lawyers' solicitation rule (E1): a live solicitation without a logged exception, one too soon after an accident, or one about an injury matter without an accident date",
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
// behind it.
type Ground struct {
	Reason  Reason `json:"reason"`
	Meaning string `json:"meaning"`
	// Rules are the rules in force that apply to the attempt and can give
	// the reason: those behind it, and possibly others that would have
	// given it too (a window the call was inside, for instance). None for
	// the reasons heed gives of its own accord; Own then says why.
	Rules []RuleRef `json:"rules"`
	// Own explains a reason no pack gives: heed's own, "" otherwise.
	Own string `json:"own,omitempty"`
}

// ownReasons explain the reasons heed gives of its own accord.
var ownReasons = map[Reason]string{
	ReasonNumberInvalid:     "heed's own: a number it cannot read cannot be checked against any rule",
	ReasonNumberUnsupported: "heed's own: no pack covers numbers outside the North American Numbering Plan",
	ReasonIndexStale:        "heed's own: it fails closed when it cannot confirm its lists are current",
}

// alsoGives names the rules whose reasons the engine gives through other
// rules' data: F12 (a revocation wins) behind consent.revoked, and C5
// (Connecticut's list is the national registry) behind dnc.national.
var alsoGives = map[string]Reason{"F12": ReasonConsentRevoked, "C5": ReasonDNCNational}

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
	// Where the engine places the called party: its jurisdictions, as
	// decide finds them (none for a number it cannot place).
	var jur uint8
	if npa, nxx, bad := parseNANP(in.Number); bad == 0 {
		_, jur, _ = e.locate(npa, nxx, in.State, in.ZIP)
	}
	out := make([]Ground, 0, len(reasons))
	for _, reason := range reasons {
		g := Ground{Reason: reason, Meaning: reason.Meaning(), Rules: []RuleRef{}, Own: ownReasons[reason]}
		for _, p := range e.packs {
			for i := range p.Rules {
				r := &p.Rules[i]
				if gives(r, reason) && e.applies(p, r, &in, jur) {
					g.Rules = append(g.Rules, RuleRef{Pack: p.ID + "@" + p.Version, Code: r.Code, Title: r.Title, Citation: r.Citation})
				}
			}
		}
		out = append(out, g)
	}
	return out
}

// gives reports whether rule r can give reason, as decide reads the rule's
// data: only a rule's consent need gives consent.* reasons (a cap that
// consent lifts gives its own reason, a do-not-call list its own).
func gives(r *Rule, reason Reason) bool {
	if r.Kind == Duty || r.Kind == Info {
		return false
	}
	if g, ok := alsoGives[r.Code]; ok && g == reason {
		return true
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
	case ReasonConsentMissing:
		// A reassigned number's consent does not count (F15).
		return r.Consent != ConsentNone || r.Reassigned
	case ReasonConsentExpired:
		return r.Consent != ConsentNone
	case ReasonConsentInsufficient:
		return r.Consent > ConsentPEC
	case ReasonConsentRevoked:
		// F13's rules, of either scope: a revocation in reach stops a
		// robocall that needs no consent too.
		return r.Consent != ConsentNone || r.Revocation != 0
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
// whose called party the engine places in jurisdictions jur, read as
// decide reads it: from the rule compile makes of it (its purposes,
// methods and lines as bits, its jurisdictions, its first and last second
// in force), so that an empty or unknown purpose or method matches every
// rule and a wireless rule matches lines of unknown type.
func (e *Engine) applies(p *Pack, r *Rule, in *Input, jur uint8) bool {
	c, _, err := e.compile(p, r)
	if err != nil {
		return false
	}
	at := in.At.Unix()
	return c.purposes&purposeBits(in.Purpose) != 0 && c.methods&methodBits(in.Method) != 0 && c.lines&lineBits(in.Line) != 0 &&
		(c.jur == 0 || c.jur&jur != 0) && c.from <= at && at < c.until
}
