package consent

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInvalidPack reports a law pack whose rule data the engine cannot use.
var ErrInvalidPack = errors.New("invalid law pack")

// ErrRequiredPack reports a pack set that leaves out a pack whose rules are
// floors everywhere (federal, connecticut or regf).
var ErrRequiredPack = errors.New("required law pack missing")

// PacksVersion is the version of the law packs built into this release of heed.
// It changes whenever any built-in rule's data changes.
const PacksVersion = "2026.2"

// The identifiers of the built-in packs.
const (
	PackFederal     = "federal"
	PackConnecticut = "connecticut"
	PackRegF        = "regf"
	PackFlorida     = "florida"
	PackOklahoma    = "oklahoma"
	PackFirm        = "firm"
)

// requiredPacks are the packs whose rules are floors wherever the firm calls.
var requiredPacks = []string{PackFederal, PackConnecticut, PackRegF}

// RuleKind says whether, and how, a firm may change a rule.
type RuleKind uint8

// The kinds of rule in the compliance rules.
const (
	// Floor is a rule the software never lets a firm loosen.
	Floor RuleKind = iota + 1
	// Setting has a default that a firm may make stricter, and looser only
	// where the rule says MayLoosen.
	Setting
	// Duty is a documented obligation that the gate does not decide (for
	// example a breach notice).
	Duty
	// Info is a note the rules file lists for reference (penalties, which
	// statute applies); it has no effect.
	Info
)

// String returns the kind as the rules file writes it.
func (k RuleKind) String() string {
	switch k {
	case Floor:
		return "floor"
	case Setting:
		return "setting"
	case Duty:
		return "duty"
	case Info:
		return "info"
	}
	return fmt.Sprintf("RuleKind(%d)", uint8(k))
}

// ConsentKind is the kind of consent a record holds, ordered so that a
// stronger kind compares greater.
type ConsentKind uint8

// The consent kinds. ConsentNone is the zero value: no usable consent.
const (
	ConsentNone ConsentKind = iota
	// ConsentPEC is prior express consent (oral consent is enough).
	ConsentPEC
	// ConsentPEWC is prior express written consent (47 CFR 64.1200(f)(9)).
	ConsentPEWC
)

// String returns "pec", "pewc" or "" for none.
func (k ConsentKind) String() string {
	switch k {
	case ConsentPEC:
		return "pec"
	case ConsentPEWC:
		return "pewc"
	}
	return ""
}

// ParseConsentKind returns the ConsentKind named by s ("pec" or "pewc").
func ParseConsentKind(s string) (ConsentKind, error) {
	switch s {
	case "pec":
		return ConsentPEC, nil
	case "pewc":
		return ConsentPEWC, nil
	}
	return ConsentNone, fmt.Errorf("consent kind %q: want pec or pewc", s)
}

// DNCHits is the set of do-not-call lists a number is on.
type DNCHits uint8

// The do-not-call lists the indexes report.
const (
	DNCInternal DNCHits = 1 << iota
	DNCNational
	DNCState
	DNCLitigator
)

// reasons returns the reason codes of the lists in h.
func (h DNCHits) reasons() ReasonSet {
	var s ReasonSet
	if h&DNCInternal != 0 {
		s |= bitDNCInternal
	}
	if h&DNCNational != 0 {
		s |= bitDNCNational
	}
	if h&DNCState != 0 {
		s |= bitDNCState
	}
	if h&DNCLitigator != 0 {
		s |= bitDNCLitigator
	}
	return s
}

// RevocationScope says how far one revocation reaches (rule F13).
type RevocationScope uint8

// The revocation scopes. The zero value says nothing, which in a FirmPolicy
// keeps heed's default, RevokeAll.
const (
	// RevokeAll makes one opt-out stop every robocall from the firm to the number.
	RevokeAll RevocationScope = iota + 1
	// RevokePurpose limits an opt-out to the purpose of the campaign it was made in.
	RevokePurpose
)

// String returns "all", "purpose" or "".
func (s RevocationScope) String() string {
	switch s {
	case RevokeAll:
		return "all"
	case RevokePurpose:
		return "purpose"
	}
	return ""
}

// Window is a daily calling window in the called party's local time: a call
// may start at or after Start and before End, both measured from local
// midnight. The end is exclusive, so a 08:00-21:00 window allows 20:59:59 and
// not 21:00:00.
type Window struct {
	// Start is the first moment of the window, from local midnight.
	Start time.Duration
	// End is the first moment after the window, from local midnight.
	End time.Duration
}

// String returns the window as "08:00-21:00".
func (w Window) String() string {
	return clock(w.Start) + "-" + clock(w.End)
}

func clock(d time.Duration) string {
	m := int(d / time.Minute)
	return fmt.Sprintf("%02d:%02d", m/60, m%60)
}

func (w Window) valid() bool {
	return w.Start >= 0 && w.End <= 24*time.Hour && w.Start < w.End && w.Start%time.Second == 0 && w.End%time.Second == 0
}

// Days is a calendar rule: days on which no call may be placed, in the called
// party's local calendar.
type Days struct {
	// NoSunday forbids calls on Sundays.
	NoSunday bool
	// Holidays lists forbidden dates as "2006-01-02".
	Holidays []string
}

// Cap limits calls to a number per rolling period, counted from the attempt
// history across all campaigns.
type Cap struct {
	// Max is the most calls the period may hold, counting the call being
	// decided: a call is allowed while fewer than Max prior calls fall in the
	// period. Max is at most 16.
	Max int
	// Period is the length of the rolling period.
	Period time.Duration
	// Reason is the reason code of a call over the cap.
	Reason Reason
	// Needs, when set, lets a call over the cap go ahead with consent of this
	// kind and denies it (with Reason) without; when unset, a call over the
	// cap is deferred until the oldest counted call leaves the period.
	Needs ConsentKind
}

// maxCap bounds Cap.Max so that the engine can keep the newest counted calls
// in a fixed-size array.
const maxCap = 16

// ScriptRule lists what a campaign's message script must contain; the launch
// check (Engine.CheckScript) enforces it.
type ScriptRule struct {
	// Identify requires the firm's registered name at the start.
	Identify bool
	// Callback requires a callback number that is not a 900 number.
	Callback bool
	// OptOutWithin requires a key-press opt-out offer starting within this
	// time after the identification.
	OptOutWithin time.Duration
	// VoicemailTollFree requires the voicemail message to leave a toll-free number.
	VoicemailTollFree bool
	// Disclosure requires, within this time of the start, the caller's
	// identity, the firm and the purpose, and then the question whether the
	// person wants to continue, end the call or be removed from the list.
	Disclosure time.Duration
	// AdvertisingMaterial requires the words "Advertising Material" at the
	// start and at the end of a recorded message.
	AdvertisingMaterial bool
}

// DialingLimits are limits the dialer's pacing and call flow enforce.
type DialingLimits struct {
	// MaxAbandonRate is the highest share of live-answered calls that may be
	// abandoned per campaign per AbandonPeriod.
	MaxAbandonRate float64
	// AbandonPeriod is the period over which the abandonment rate is measured.
	AbandonPeriod time.Duration
	// AgentJoin is how soon after the greeting an agent must join for a call
	// not to count as abandoned.
	AgentJoin time.Duration
	// MinRing is the least time a call must ring before the dialer gives up.
	MinRing time.Duration
	// MinRings is the least number of rings, as an alternative to MinRing.
	MinRings int
}

// Rule is one rule of a law pack: its code and citation from the compliance
// rules, when it is in force, whom it applies to, and its parameters. A
// parameter left at its zero value has no effect.
type Rule struct {
	// Code is the rule's code in the compliance rules ("F1", "C2", "R1").
	// heed's own product defaults, which the rules file lists without codes,
	// use H1, H2, and so on.
	Code string
	// Title is a short description.
	Title string
	// Citation names the law the rule encodes.
	Citation string
	// Kind says whether a firm may change the rule.
	Kind RuleKind
	// MayLoosen marks a setting that the rules file lets a firm loosen.
	MayLoosen bool
	// From is the first instant the rule is in force; zero means in force at
	// every instant heed decides.
	From time.Time
	// Until is the first instant the rule is no longer in force; zero means
	// open-ended.
	Until time.Time

	// Purposes are the purposes the rule applies to; nil means all.
	Purposes []Purpose
	// Methods are the methods the rule applies to; nil means both.
	Methods []Method
	// Lines are the line types the rule applies to; nil means all.
	// LineWireless also matches lines of unknown type.
	Lines []LineType
	// InState limits the rule to called parties in, or presumed to be in,
	// the pack's state.
	InState bool

	// Window is a calling window every location must allow.
	Window *Window
	// Days is a calendar of forbidden days.
	Days *Days
	// Consent is the consent the call needs.
	Consent ConsentKind
	// Cap is a calls-per-period cap.
	Cap *Cap
	// Quiet forbids calls for this long after a conversation.
	Quiet time.Duration
	// Waivable lets an attorney waive Cap and Quiet by logging the person's
	// direct consent (Input.RegFDirectConsent).
	Waivable bool
	// DNC lists the do-not-call lists whose hits deny the call.
	DNC DNCHits
	// DNCExempt is the consent that lifts the DNC denial.
	DNCExempt ConsentKind
	// DNCExemptAfterEntry, with DNCExempt, lets only a consent given after
	// the number's latest entry on the list lift it, when that time is
	// known (Facts.InternalListedAt): the internal list, whose entries are
	// opt-outs, which a later consent overrides for what it covers (F12).
	DNCExemptAfterEntry bool
	// SnapshotMaxAge is the oldest the national registry copy may be.
	SnapshotMaxAge time.Duration
	// LiveSolicitation denies live solicitation calls unless the input carries
	// a logged exception.
	LiveSolicitation bool
	// AccidentWait defers solicitation about an accident until this long
	// after it.
	AccidentWait time.Duration
	// Revocation is how far a revocation reaches.
	Revocation RevocationScope
	// Reassigned checks consent dates against the Reassigned Numbers Database.
	Reassigned bool
	// Retention is how long the records the rule names are kept.
	Retention time.Duration
	// Script lists what a message script must contain.
	Script *ScriptRule
	// Dialing holds the pacing and ringing limits of the rule.
	Dialing *DialingLimits
	// Notes explains how heed applies the rule.
	Notes string

	// state, when set, is the jurisdiction of an InState rule that lives in
	// a pack without one (a firm cap that tightens a state pack's cap).
	state string
}

// Pack is a versioned set of rules from one body of law (or, for the firm
// pack, heed's defaults with the firm's settings).
type Pack struct {
	// ID is the pack's identifier ("federal").
	ID string
	// Name is the pack's title.
	Name string
	// Version changes whenever a rule's data changes.
	Version string
	// State is the USPS code of the pack's jurisdiction, or "" for packs that
	// apply wherever the called party is.
	State string
	// AreaCodes are area codes whose numbers are presumed to be in State.
	AreaCodes []string
	// Rules are the pack's rules.
	Rules []Rule
}

// clone returns a deep copy of the pack, so that callers cannot change an
// engine's rules after the fact.
func (p *Pack) clone() *Pack {
	c := *p
	c.AreaCodes = append([]string(nil), p.AreaCodes...)
	c.Rules = make([]Rule, len(p.Rules))
	for i, r := range p.Rules {
		r.Purposes = append([]Purpose(nil), r.Purposes...)
		r.Methods = append([]Method(nil), r.Methods...)
		r.Lines = append([]LineType(nil), r.Lines...)
		if r.Window != nil {
			w := *r.Window
			r.Window = &w
		}
		if r.Days != nil {
			d := *r.Days
			d.Holidays = append([]string(nil), d.Holidays...)
			r.Days = &d
		}
		if r.Cap != nil {
			cp := *r.Cap
			r.Cap = &cp
		}
		if r.Script != nil {
			s := *r.Script
			r.Script = &s
		}
		if r.Dialing != nil {
			d := *r.Dialing
			r.Dialing = &d
		}
		c.Rules[i] = r
	}
	return &c
}

// Tag returns "id@version", the pack's part of a decision's pack version.
func (p *Pack) Tag() string { return p.ID + "@" + p.Version }

// Shorthands for the built-in pack data.
var (
	sales         = []Purpose{PurposeTelemarketing, PurposeSolicitation}
	robocall      = []Method{MethodPrerecorded}
	wireless      = []LineType{LineWireless}
	landline      = []LineType{LineLandline}
	day           = 24 * time.Hour
	fiveYears     = (5*365 + 2) * day // the longest five calendar years: two leap days
	federalCite   = "47 U.S.C. 227; 47 CFR 64.1200"
	ctCite        = "CGS 42-288a, as amended by Public Act 23-98"
	ctInForce     = time.Date(2023, 10, 1, 0, 0, 0, 0, mustZone(tzEastern))
	revokeAllFrom = time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
)

// RevokeAllFloorFrom returns the day from which the federal pack makes one
// revocation stop every robocall from the firm to the number, whatever the
// firm's revocation scope (rule F13).
func RevokeAllFloorFrom() time.Time { return revokeAllFrom }

func hours(start, end int) *Window {
	return &Window{Start: time.Duration(start) * time.Hour, End: time.Duration(end) * time.Hour}
}

// mustZone loads a zone for the built-in data. Without the IANA database the
// pack dates fall back to UTC; NewEngine reports the missing data itself.
func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Federal returns the federal pack: the TCPA (47 U.S.C. 227) and 47 CFR 64.1200.
func Federal() *Pack {
	return &Pack{
		ID: PackFederal, Name: "Federal: TCPA and 47 CFR 64.1200", Version: PacksVersion,
		Rules: []Rule{
			{Code: "F1", Title: "Robocalls to wireless need consent", Kind: Floor,
				Citation: federalCite + "; FCC 24-17 (artificial and AI voices)",
				Methods:  robocall, Lines: wireless, Consent: ConsentPEC,
				Notes: "Any purpose. A line of unknown type counts as wireless."},
			{Code: "F2", Title: "Telemarketing robocalls need written consent", Kind: Floor,
				Citation: federalCite + "; PEWC: 47 CFR 64.1200(f)(9)",
				Purposes: sales, Methods: robocall, Consent: ConsentPEWC,
				Notes: "Telemarketing or solicitation, any line."},
			{Code: "F3", Title: "Informational robocalls to residential landlines", Kind: Floor,
				Citation: federalCite,
				Purposes: []Purpose{PurposeInformational}, Methods: robocall, Lines: landline,
				Cap:   &Cap{Max: 3, Period: 30 * day, Reason: ReasonCapResidential, Needs: ConsentPEC},
				Notes: "Allowed without consent up to 3 calls per line per rolling 30 days; beyond that PEC is needed. A firm may require PEC always."},
			{Code: "F6", Title: "Calling hours", Kind: Floor, Citation: federalCite,
				Purposes: sales, Window: hours(8, 21)},
			{Code: "F7", Title: "What a prerecorded message must say", Kind: Floor, Citation: federalCite,
				Methods: robocall,
				Script:  &ScriptRule{Identify: true, Callback: true, OptOutWithin: 2 * time.Second, VoicemailTollFree: true},
				Notes:   "Campaign launch check. The call flow records a key-press opt-out and hangs up at once."},
			{Code: "F8", Title: "National do-not-call registry", Kind: Floor, Citation: federalCite,
				Purposes: sales, DNC: DNCNational, DNCExempt: ConsentPEWC, SnapshotMaxAge: 31 * day,
				Notes: "Registered numbers need PEWC. The registry copy must be at most 31 days old. Registrations never expire."},
			{Code: "F9", Title: "Internal (company) do-not-call list", Kind: Floor, Citation: federalCite,
				DNC: DNCInternal, DNCExempt: ConsentPEC, DNCExemptAfterEntry: true, Retention: fiveYears,
				Notes: "Every call. heed honors an opt-out at once (the legal ceiling is 10 business days) and keeps it at least 5 years; opt-outs never expire on their own. A consent of the call's purpose given after the number's latest entry, and not revoked since, lifts the entry for the calls it covers (F12); the entry stays on the list."},
			{Code: "F10", Title: "Abandoned calls", Kind: Floor, Citation: federalCite,
				Dialing: &DialingLimits{MaxAbandonRate: 0.03, AbandonPeriod: 30 * day, AgentJoin: 2 * time.Second, MinRing: 15 * time.Second, MinRings: 4},
				Notes:   "Applied to every campaign: at most 3% of live-answered calls per campaign per 30 days; an abandoned call plays the firm's name, callback number and opt-out."},
			{Code: "F11", Title: "Caller ID", Kind: Floor, Citation: federalCite,
				Notes: "Always a valid number that accepts DNC requests during business hours; never blocked, never spoofed. Enforced when a campaign is set up."},
			{Code: "F12", Title: "Revoking consent", Kind: Floor, Citation: federalCite,
				Notes: "Any reasonable means counts. A revocation wins over any consent given before it (or at the same instant); consent given after it restores calling."},
			{Code: "F13", Title: "Federal revoke-all", Kind: Floor, Citation: federalCite,
				From: revokeAllFrom, Revocation: RevokeAll,
				Notes: "From 2027-01-31 one revocation stops every robocall from the firm to the number, whatever the firm's setting."},
			{Code: "F15", Title: "Reassigned Numbers Database", Kind: Setting, Citation: federalCite,
				Methods: robocall,
				Notes:   "Integration point, off until configured (FirmPolicy.CheckReassigned). When on, consent obtained before the number's latest reported disconnection does not count."},
			{Code: "F19", Title: "Record retention (TSR)", Kind: Floor, Citation: "Telemarketing Sales Rule",
				Retention: fiveYears, Notes: "Call records, consent records and scripts are kept 5 years."},
		},
	}
}

// ctAreaCodes are the Connecticut area codes (rule C2's presumption).
var ctAreaCodes = []string{"203", "475", "860", "959"}

// Connecticut returns the Connecticut pack: chapter 743m (CGS 42-288a) as
// amended by Public Act 23-98, CGS 16-256e, and the Rules of Professional
// Conduct that bind the firm's lawyers.
func Connecticut() *Pack {
	return &Pack{
		ID: PackConnecticut, Name: "Connecticut", Version: PacksVersion,
		State: "CT", AreaCodes: append([]string(nil), ctAreaCodes...),
		Rules: []Rule{
			{Code: "C1", Title: "Not CGS 42-134b", Kind: Info, Citation: ctCite,
				Notes: "CGS 42-134b is the home-solicitation sales act. Connecticut's telemarketing law is chapter 743m, mainly CGS 42-288a, as amended by Public Act 23-98 (in force 2023-10-01)."},
			{Code: "C2", Title: "Hours for sales calls", Kind: Floor, Citation: ctCite, From: ctInForce,
				Purposes: sales, InState: true, Window: hours(9, 20),
				Notes: "A CT area code (203, 475, 860, 959) is presumed to be a CT resident."},
			{Code: "C3", Title: "Consent for sales calls", Kind: Floor, Citation: ctCite, From: ctInForce,
				Purposes: sales, InState: true, Consent: ConsentPEWC,
				Notes: "Any telephonic sales call: live, robocall or text."},
			{Code: "C4", Title: "Opening disclosure", Kind: Floor, Citation: ctCite, From: ctInForce,
				Purposes: sales, InState: true, Script: &ScriptRule{Disclosure: 10 * time.Second},
				Notes: "Launch check on the script; the call flow ends the call within 10 s of being asked to."},
			{Code: "C5", Title: "CT do-not-call list", Kind: Floor, Citation: ctCite,
				Purposes: sales, InState: true,
				Notes: "The CT list is the national registry, so rule F8 enforces it."},
			{Code: "C6", Title: "Recorded messages stop on hang-up", Kind: Floor, Citation: "CGS 16-256e",
				Methods: robocall, Notes: "Enforced by the call flow: playback stops when the called party hangs up."},
			{Code: "C7", Title: "Penalties", Kind: Info, Citation: "CUTPA",
				Notes: "Up to $20,000 per violation."},
			{Code: "D3", Title: "Breach notice", Kind: Duty, Citation: "CGS 36a-701b",
				Notes: "Notify residents and the Attorney General within 60 days of discovery."},
			{Code: "E1", Title: "Solicitation of prospective clients", Kind: Floor,
				Citation:         "Connecticut Rules of Professional Conduct 7.3",
				Purposes:         []Purpose{PurposeSolicitation},
				LiveSolicitation: true, AccidentWait: 40 * day,
				Script: &ScriptRule{AdvertisingMaterial: true},
				Notes:  "Binds the firm's lawyers wherever the called party is. Live calls need a logged exception (lawyer, family, close or prior professional relationship); a recorded solicitation says \"Advertising Material\" at its start and end; no personal-injury or wrongful-death solicitation until 40 days after the accident."},
		},
	}
}

// RegF returns the Regulation F pack (12 CFR part 1006).
func RegF() *Pack {
	debt := []Purpose{PurposeDebtCollection}
	return &Pack{
		ID: PackRegF, Name: "Regulation F (debt collection)", Version: PacksVersion,
		Rules: []Rule{
			{Code: "R1", Title: "Call frequency", Kind: Floor, Citation: "12 CFR 1006.14",
				Purposes: debt, Cap: &Cap{Max: 7, Period: 7 * day, Reason: ReasonCapFrequency},
				Quiet: 7 * day, Waivable: true,
				Notes: "More than 7 calls in 7 days is presumed a violation, and no call within 7 days after a telephone conversation. Counted per person (every number of a contact's person_ref; per number without one) across all campaigns and debts, over rolling periods, which is stricter than per person per debt. An attorney may override it only by logging the person's direct consent."},
			{Code: "R2", Title: "Calling hours", Kind: Floor, Citation: "12 CFR 1006.6",
				Purposes: debt, Window: hours(8, 21)},
		},
	}
}

// flAreaCodes are the Florida area codes (rule S1's "FL area code").
var flAreaCodes = []string{
	"239", "305", "321", "324", "352", "386", "407", "448", "561", "645", "656", "689",
	"727", "728", "754", "772", "786", "813", "850", "863", "904", "941", "954",
}

// okAreaCodes are the Oklahoma area codes.
var okAreaCodes = []string{"405", "539", "572", "580", "918"}

// stateSalesPack builds the Florida and Oklahoma packs, whose rules have the
// same shape.
func stateSalesPack(id, name, state string, codes []string, code, cite, notes string) *Pack {
	return &Pack{
		ID: id, Name: name, Version: PacksVersion, State: state,
		AreaCodes: append([]string(nil), codes...),
		Rules: []Rule{
			{Code: code, Title: name + " sales calls", Kind: Floor, Citation: cite,
				Purposes: sales, InState: true, Window: hours(8, 20), Consent: ConsentPEWC,
				Cap:   &Cap{Max: 3, Period: day, Reason: ReasonCapFrequency},
				Notes: notes},
		},
	}
}

// Florida returns the Florida pack (Fla. Stat. 501.616 and 501.059).
func Florida() *Pack {
	return stateSalesPack(PackFlorida, "Florida", "FL", flAreaCodes, "S1", "Fla. Stat. 501.616, 501.059",
		"Hours 08:00-20:00, at most 3 calls per 24 h, PEWC for automated calls. heed dials every call automatically, so it requires PEWC for every call. Applies to a FL area code or a FL address.")
}

// Oklahoma returns the Oklahoma pack (15 O.S. 775C).
func Oklahoma() *Pack {
	return stateSalesPack(PackOklahoma, "Oklahoma", "OK", okAreaCodes, "S2", "15 O.S. 775C",
		"Hours 08:00-20:00, at most 3 calls per 24 h, PEWC. Applies to an OK area code or an OK address.")
}

// DefaultPacks returns fresh copies of every built-in law pack: federal,
// connecticut, regf, florida and oklahoma. The firm pack is built from a
// FirmPolicy by NewEngine.
func DefaultPacks() []*Pack {
	return []*Pack{Federal(), Connecticut(), RegF(), Florida(), Oklahoma()}
}

// validate checks the pack's data.
func (p *Pack) validate() error {
	if p.ID == "" || p.Version == "" {
		return fmt.Errorf("pack %q: empty id or version: %w", p.ID, ErrInvalidPack)
	}
	if strings.ContainsAny(p.ID+p.Version, "+@ ") {
		return fmt.Errorf("pack %q: id and version may not contain '+', '@' or spaces: %w", p.ID, ErrInvalidPack)
	}
	for _, ac := range p.AreaCodes {
		if len(ac) != 3 || ac[0] < '2' || ac[0] > '9' || ac[1] < '0' || ac[1] > '9' || ac[2] < '0' || ac[2] > '9' {
			return fmt.Errorf("pack %s: area code %q: %w", p.ID, ac, ErrInvalidPack)
		}
	}
	for i := range p.Rules {
		r := &p.Rules[i]
		bad := func(what string) error {
			return fmt.Errorf("pack %s rule %s: %s: %w", p.ID, r.Code, what, ErrInvalidPack)
		}
		switch {
		case r.Code == "":
			return bad("empty code")
		case r.Kind < Floor || r.Kind > Info:
			return bad("unknown kind")
		case r.InState && p.State == "" && r.state == "":
			return bad("InState in a pack without a state")
		case r.Window != nil && !r.Window.valid():
			return bad("window " + r.Window.String() + " is not a span within one day")
		case r.Cap != nil && (r.Cap.Max < 1 || r.Cap.Max > maxCap || r.Cap.Period <= 0):
			return bad(fmt.Sprintf("cap %d per %s: want 1..%d calls per positive period", r.Cap.Max, r.Cap.Period, maxCap))
		case r.Cap != nil && ReasonBit(r.Cap.Reason) == 0:
			return bad("cap reason " + string(r.Cap.Reason) + " is not a reason code")
		case !r.Until.IsZero() && !r.Until.After(r.From):
			return bad("Until is not after From")
		case r.Quiet < 0 || r.SnapshotMaxAge < 0 || r.AccidentWait < 0:
			return bad("negative duration")
		case r.DNCExemptAfterEntry && (r.DNC != DNCInternal || r.DNCExempt == ConsentNone):
			return bad("DNCExemptAfterEntry needs DNCExempt and the internal list alone: only its entries have times")
		}
		for _, pu := range r.Purposes {
			if _, err := ParsePurpose(string(pu)); err != nil {
				return bad(err.Error())
			}
		}
		for _, m := range r.Methods {
			if _, err := ParseMethod(string(m)); err != nil {
				return bad(err.Error())
			}
		}
		for _, l := range r.Lines {
			if l != LineWireless && l != LineLandline {
				return bad("line type " + string(l) + ": want wireless or landline")
			}
		}
		if r.Days != nil {
			for _, h := range r.Days.Holidays {
				if _, err := time.Parse(time.DateOnly, h); err != nil {
					return bad("holiday " + h + ": want YYYY-MM-DD")
				}
			}
		}
	}
	return nil
}
