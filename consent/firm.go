package consent

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ErrLoosensFloor reports a firm setting that would loosen a floor, or a
// setting that the rules file lets a firm only tighten. Validation wraps it in
// a *FloorError that names the rule and both values.
var ErrLoosensFloor = errors.New("firm setting loosens a floor")

// ErrInvalidPolicy reports a firm policy value that is malformed (an empty
// window, an unparsable date, a cap on a rule that has none).
var ErrInvalidPolicy = errors.New("invalid firm policy")

// FloorError is a firm setting that loosens a floor. It unwraps to
// ErrLoosensFloor.
type FloorError struct {
	// Rule is the code of the rule the setting would loosen ("F6").
	Rule string
	// Setting names the firm setting ("window.telemarketing").
	Setting string
	// Floor is the rule's value ("08:00-21:00").
	Floor string
	// Value is the firm's value ("07:00-21:00").
	Value string
}

// Error says which setting loosens which rule, and how.
func (e *FloorError) Error() string {
	return fmt.Sprintf("firm setting %s = %s loosens rule %s (%s): %v", e.Setting, e.Value, e.Rule, e.Floor, ErrLoosensFloor)
}

// Unwrap returns ErrLoosensFloor.
func (e *FloorError) Unwrap() error { return ErrLoosensFloor }

// FirmPolicy holds a firm's settings. Its zero value is heed's defaults. A
// firm may make any setting stricter; validation refuses a value that would
// loosen a floor or a tighten-only default.
type FirmPolicy struct {
	// Version is the firm's own version of its policy; decisions name it.
	Version string
	// Windows narrows the calling window of a purpose. Every floor window
	// that applies to the purpose everywhere (F6, R2, and heed's H1 for
	// informational calls) must contain it.
	Windows map[Purpose]Window
	// Caps tightens the cap of a rule, keyed by the rule's code ("R1", "S1",
	// "S2", "F3"): Max may only go down and Period only up.
	Caps map[string]Cap
	// NoSunday forbids calls on Sundays in the called party's local calendar.
	NoSunday bool
	// Holidays lists dates ("2006-01-02") on which no call may be placed.
	Holidays []string
	// ResidentialNeedsPEC requires PEC for every informational robocall to a
	// landline, instead of allowing three per 30 days without (rule F3).
	ResidentialNeedsPEC bool
	// NationalMaxAge tightens the age the national registry copy may reach
	// (rule F8: 31 days); zero keeps the floor.
	NationalMaxAge time.Duration
	// AbandonTarget is the campaign abandonment target (heed's H2: 1.5%);
	// zero keeps the default.
	AbandonTarget float64
	// MinRing is the least ring time (heed's H3: 20 s); zero keeps the default.
	MinRing time.Duration
	// RevocationScope is how far one opt-out reaches (rule F13); zero keeps
	// heed's default, RevokeAll. RevokePurpose is honored only while the
	// federal revoke-all rule is not in force.
	RevocationScope RevocationScope
	// CheckReassigned turns on the Reassigned Numbers Database check (F15).
	CheckReassigned bool
}

// heed's own defaults (the rules file's "Defaults that are heed's own").
var (
	heedInformationalWindow = Window{Start: 8 * time.Hour, End: 21 * time.Hour}
	heedAbandonTarget       = 0.015
	heedMinRing             = 20 * time.Second
)

// MaxRing is the longest a call rings before heed gives up on it: a
// campaign's ring time, raised to the firm's min_ring, never exceeds it, and
// OpenCallLimit counts on it.
const MaxRing = 120 * time.Second

// pack returns the firm pack: heed's own defaults with the firm's settings
// applied, as rules. Call it on a validated policy.
func (p FirmPolicy) pack(law []*Pack) *Pack {
	version := "heed-" + PacksVersion
	if p.Version != "" {
		version += ".firm-" + sanitizeVersion(p.Version)
	}
	infoWin := heedInformationalWindow
	if w, ok := p.Windows[PurposeInformational]; ok {
		infoWin = w
	}
	abandon, ring := heedAbandonTarget, heedMinRing
	if p.AbandonTarget > 0 {
		abandon = p.AbandonTarget
	}
	if p.MinRing > 0 {
		ring = p.MinRing
	}
	scope := RevokeAll
	if p.RevocationScope == RevokePurpose {
		scope = RevokePurpose
	}
	rules := []Rule{
		{Code: "H1", Title: "Informational calling window", Kind: Setting, Citation: "heed default",
			Purposes: []Purpose{PurposeInformational}, Window: &infoWin,
			Notes: "08:00-21:00 local by default. A firm may narrow it; it cannot be switched off."},
		{Code: "H2", Title: "Abandonment target", Kind: Setting, Citation: "heed default",
			Dialing: &DialingLimits{MaxAbandonRate: abandon},
			Notes:   "1.5% by default, stricter than rule F10's 3%."},
		{Code: "H3", Title: "Ring time", Kind: Setting, Citation: "heed default",
			Dialing: &DialingLimits{MinRing: ring},
			Notes:   "At least 20 s by default, longer than rule F10's 15 s."},
		{Code: "H4", Title: "Sunday and holiday calendar", Kind: Setting, Citation: "heed default",
			Notes: "Off by default. Pack rules that forbid such days stay floors."},
		{Code: "H5", Title: "State do-not-call lists", Kind: Setting, Citation: "heed default",
			Purposes: sales, DNC: DNCState,
			Notes: "A number on a state list is not called for telemarketing or solicitation, whatever the consent."},
		{Code: "H6", Title: "Litigator list", Kind: Setting, Citation: "heed default",
			DNC:   DNCLitigator,
			Notes: "A number on a litigator list the firm loaded is not called at all."},
		{Code: "F13", Title: "Scope of a revocation", Kind: Setting, MayLoosen: true, Citation: federalCite,
			Revocation: scope,
			Notes:      "heed's default: one opt-out stops every robocall from the firm to that number. A firm may narrow it to the campaign's purpose while the federal revoke-all rule is not in force."},
	}
	if p.NoSunday || len(p.Holidays) > 0 {
		rules[3].Days = &Days{NoSunday: p.NoSunday, Holidays: append([]string(nil), p.Holidays...)}
	}
	for _, pu := range sortedPurposes(p.Windows) {
		if pu == PurposeInformational {
			continue
		}
		w := p.Windows[pu]
		rules = append(rules, Rule{Code: "H1", Title: "Firm calling window for " + string(pu), Kind: Setting,
			Citation: "firm policy", Purposes: []Purpose{pu}, Window: &w})
	}
	codes := make([]string, 0, len(p.Caps))
	for c := range p.Caps {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, code := range codes {
		for _, pk := range law {
			for i := range pk.Rules {
				if r := &pk.Rules[i]; r.Code == code && r.Cap != nil {
					rules = append(rules, firmCap(pk, r, p.Caps[code]))
				}
			}
		}
	}
	if p.ResidentialNeedsPEC {
		rules = append(rules, Rule{Code: "F3", Title: "PEC for every informational robocall to a landline", Kind: Setting,
			Citation: federalCite, Purposes: []Purpose{PurposeInformational}, Methods: robocall, Lines: landline,
			Consent: ConsentPEC})
	}
	if p.NationalMaxAge > 0 {
		rules = append(rules, Rule{Code: "F8", Title: "Firm limit on the national registry copy's age", Kind: Setting,
			Citation: federalCite, Purposes: sales, SnapshotMaxAge: p.NationalMaxAge})
	}
	if p.CheckReassigned {
		rules = append(rules, Rule{Code: "F15", Title: "Reassigned Numbers Database check", Kind: Setting,
			Citation: federalCite, Methods: robocall, Reassigned: true})
	}
	return &Pack{ID: PackFirm, Name: "heed defaults and firm policy", Version: version, Rules: rules}
}

// firmCap returns a firm rule that applies the firm's cap c wherever the law
// rule r (of pack pk) applies.
func firmCap(pk *Pack, r *Rule, c Cap) Rule {
	c.Reason, c.Needs = r.Cap.Reason, r.Cap.Needs
	return Rule{
		Code: r.Code, Title: "Firm cap on " + r.Title, Kind: Setting, Citation: "firm policy",
		From: r.From, Until: r.Until,
		Purposes: append([]Purpose(nil), r.Purposes...), Methods: append([]Method(nil), r.Methods...),
		Lines: append([]LineType(nil), r.Lines...), InState: r.InState, state: pk.State,
		Cap: &c, Waivable: r.Waivable,
	}
}

func sanitizeVersion(v string) string {
	return strings.Map(func(r rune) rune {
		if r == '+' || r == '@' || r == ' ' {
			return '_'
		}
		return r
	}, v)
}

func sortedPurposes(m map[Purpose]Window) []Purpose {
	out := make([]Purpose, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func findRules(packs []*Pack, code string) []*Rule {
	var out []*Rule
	for _, p := range packs {
		for i := range p.Rules {
			if p.Rules[i].Code == code {
				out = append(out, &p.Rules[i])
			}
		}
	}
	return out
}

// appliesTo reports whether a rule applies to purpose p, whatever the method
// and line.
func (r *Rule) appliesTo(p Purpose) bool {
	if r.Purposes == nil {
		return true
	}
	for _, q := range r.Purposes {
		if q == p {
			return true
		}
	}
	return false
}

// Validate checks the policy against the floors of the given law packs (nil
// means DefaultPacks) and heed's tighten-only defaults. It returns nil when
// the policy only tightens; otherwise every problem, joined: a *FloorError
// (wrapping ErrLoosensFloor) for each loosened floor, and errors wrapping
// ErrInvalidPolicy for malformed values.
func (p FirmPolicy) Validate(law []*Pack) error {
	if law == nil {
		law = DefaultPacks()
	}
	var errs []error
	invalid := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("firm policy: "+format+": %w", append(a, ErrInvalidPolicy)...))
	}
	loosens := func(rule, setting, floor, value string) {
		errs = append(errs, &FloorError{Rule: rule, Setting: setting, Floor: floor, Value: value})
	}

	for _, pu := range sortedPurposes(p.Windows) {
		w := p.Windows[pu]
		if _, err := ParsePurpose(string(pu)); err != nil {
			invalid("window: %v", err)
			continue
		}
		if !w.valid() {
			invalid("window.%s %s is not a span within one day", pu, w)
			continue
		}
		limits := []Rule{{Code: "H1", Purposes: []Purpose{PurposeInformational}, Window: &heedInformationalWindow}}
		for _, pk := range law {
			for _, r := range pk.Rules {
				if r.Kind == Floor && r.Window != nil && !r.InState {
					limits = append(limits, r)
				}
			}
		}
		for i := range limits {
			r := &limits[i]
			if r.appliesTo(pu) && (w.Start < r.Window.Start || w.End > r.Window.End) {
				loosens(r.Code, "window."+string(pu), r.Window.String(), w.String())
			}
		}
	}

	codes := make([]string, 0, len(p.Caps))
	for c := range p.Caps {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, code := range codes {
		c := p.Caps[code]
		var floors []*Rule
		for _, r := range findRules(law, code) {
			if r.Cap != nil && r.Kind == Floor {
				floors = append(floors, r)
			}
		}
		switch {
		case len(floors) == 0:
			invalid("cap %s: no rule %s with a cap in the packs", code, code)
			continue
		case c.Max < 1 || c.Max > maxCap || c.Period <= 0:
			invalid("cap %s: %d per %s: want 1..%d calls per positive period", code, c.Max, c.Period, maxCap)
			continue
		}
		for _, r := range floors {
			if c.Max > r.Cap.Max || c.Period < r.Cap.Period {
				loosens(code, "caps."+code, fmt.Sprintf("%d per %s", r.Cap.Max, r.Cap.Period), fmt.Sprintf("%d per %s", c.Max, c.Period))
			}
		}
	}

	for _, h := range p.Holidays {
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			invalid("holiday %q: want YYYY-MM-DD", h)
		}
	}

	if p.NationalMaxAge < 0 {
		invalid("national max age %s is negative", p.NationalMaxAge)
	}
	for _, r := range findRules(law, "F8") {
		if r.Kind == Floor && r.SnapshotMaxAge > 0 && p.NationalMaxAge > r.SnapshotMaxAge {
			loosens("F8", "national_max_age", r.SnapshotMaxAge.String(), p.NationalMaxAge.String())
		}
	}

	switch {
	case p.AbandonTarget < 0 || p.AbandonTarget >= 1:
		invalid("abandon target %g: want a fraction below 1", p.AbandonTarget)
	case p.AbandonTarget > heedAbandonTarget:
		loosens("H2", "abandon_target", fmt.Sprintf("%g", heedAbandonTarget), fmt.Sprintf("%g", p.AbandonTarget))
		for _, r := range findRules(law, "F10") {
			if r.Dialing != nil && r.Dialing.MaxAbandonRate > 0 && p.AbandonTarget > r.Dialing.MaxAbandonRate {
				loosens("F10", "abandon_target", fmt.Sprintf("%g", r.Dialing.MaxAbandonRate), fmt.Sprintf("%g", p.AbandonTarget))
			}
		}
	}
	switch {
	case p.MinRing < 0:
		invalid("min ring %s is negative", p.MinRing)
	case p.MinRing > MaxRing:
		invalid("min ring %s is longer than a call rings at most (%s)", p.MinRing, MaxRing)
	case p.MinRing > 0 && p.MinRing < heedMinRing:
		loosens("H3", "min_ring", heedMinRing.String(), p.MinRing.String())
		for _, r := range findRules(law, "F10") {
			if r.Dialing != nil && p.MinRing < r.Dialing.MinRing {
				loosens("F10", "min_ring", r.Dialing.MinRing.String(), p.MinRing.String())
			}
		}
	}
	if p.RevocationScope > RevokePurpose {
		invalid("revocation scope %d: want all or purpose", p.RevocationScope)
	}
	return errors.Join(errs...)
}
