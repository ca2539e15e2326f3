package campaign

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// ErrLaunchRefused reports a campaign that may not start: it fails a launch
// check of the law packs, its message tells the person to press a key
// heed's calls do not act on, or the checks cannot run.
var ErrLaunchRefused = errors.New("the campaign cannot start")

// LaunchError lists the launch checks a campaign fails. It wraps
// ErrLaunchRefused.
type LaunchError struct {
	// Reasons are the checks the campaign fails: the law packs' (the
	// script.* codes and dnc.national_stale) and heed's own check of its
	// caller ID (callerid.unregistered, callerid.retired: rule F11).
	Reasons []consent.Reason
	// Details say what the checks of Reasons found, where the launch check
	// knows more than a reason code says (which number a voicemail leaves
	// for opt-outs).
	Details []string
	// DeadKeys are the keys the campaign's message tells a person to press
	// ("to end this call, press 3") that heed's calls do nothing on, or do
	// only at times: heed's own check, so that a person is never told to
	// press a key that does nothing (under rule C4, a Connecticut sales
	// call would go on after the person asked to end it).
	DeadKeys []string
}

// launchAdvice says, for each launch check, what to change.
var launchAdvice = map[consent.Reason]string{
	"script.identification": "the firm's registered name must be said within the first 10 seconds",
	"script.callback":       "the call must state a callback number (never a 900 number), and the voicemail must leave a toll-free number (area code " + consent.TollFreeAreaCodes + ") that takes opt-outs: set HEED_OPTOUT_NUMBER to one, or, without it, give the campaign a toll-free callback number",
	"script.optout":         "a key-press opt-out must be offered within 2 seconds after the identification",
	"script.disclosure": "a Connecticut sales call must give the caller's name, the firm and the purpose within 10 seconds of the answer, timed on its audio (heed's opening, then the message), then ask whether the person wants to go on, end the call or be removed; " +
		"it runs only where no Asterisk runs answering-machine detection (every HEED_AMD_CONTEXT empty), or with detection turned off for the campaign (amd.off: its calls then play the person's version at once on answer, on every Asterisk), " +
		"since a person detection takes for a machine hears the voicemail version after a wait no message or detection setting brings within 10 seconds",
	"script.advertising_material": `a recorded solicitation must say "Advertising Material" at its start and at its end`,
	"dnc.national_stale":          "telemarketing needs a national do-not-call registry copy at most 31 days old: import a current one",
	ReasonCallerIDUnregistered: "rule F11 (caller ID): a campaign sends only a number the firm has declared its own, which accepts do-not-call requests during business hours; " +
		callerIDAdvice,
	ReasonCallerIDRetired: "rule F11 (caller ID): an admin retired the campaign's caller ID, which the firm no longer declares its own; " + callerIDAdvice,
}

// callerIDAdvice says what to do about a campaign whose caller ID is not
// one of the firm's.
const callerIDAdvice = "give the campaign one of the firm's caller IDs (edit the draft, or copy the campaign into a new one), " +
	"or have an admin declare the number on the Caller IDs page (" + CallerIDsPage + ") or with `heed callerid add` if it is the firm's"

func (e *LaunchError) Error() string {
	parts := make([]string, 0, len(e.Reasons)+len(e.Details)+1)
	for _, r := range e.Reasons {
		part := string(r)
		if a, ok := launchAdvice[r]; ok {
			part += ": " + a
		}
		parts = append(parts, part)
	}
	parts = append(parts, e.Details...)
	if len(e.DeadKeys) > 0 {
		parts = append(parts, fmt.Sprintf("the message tells the person to press %s, which heed's calls do not act on; "+
			"a person must never be told to press a key that does nothing: %s", orList(e.DeadKeys), messageKeysText))
	}
	return "the campaign fails its launch checks: " + strings.Join(parts, "; ")
}

// orList writes keys as "3", "3 or #", "0, 3 or #".
func orList(keys []string) string {
	if len(keys) == 1 {
		return keys[0]
	}
	return strings.Join(keys[:len(keys)-1], ", ") + " or " + keys[len(keys)-1]
}

// messageKeys are the keys a campaign's message may tell the person to
// press: those the pacer's key handler (dialer.Pacer) acts on in every
// call. Key 2 is not one: it connects to the office only while the
// campaign has a transfer target that the store has not withdrawn (it
// withdraws it while the campaign's abandoned calls are at their target,
// rule F10), and heed's own menu offers it exactly then.
var messageKeys = []string{dialer.ConfirmKey, dialer.RepeatKey, dialer.OptOutKey}

// messageKeysText says what the keys a message may name do, and what a
// person does instead of the others.
var messageKeysText = "heed's calls act on " + dialer.ConfirmKey + " (confirm: the confirmation is recorded), " +
	dialer.RepeatKey + " (hear the message again, 3 times at most) and " + dialer.OptOutKey +
	" (stop these calls: the opt-out is recorded and the call ends); " + dialer.OfficeKey +
	" (speak with the office) is offered by heed's own menu, and only while the office can take the call, so the message must not offer it; " +
	"a person ends the call by hanging up"

// Unwrap makes errors.Is(err, ErrLaunchRefused) true.
func (e *LaunchError) Unwrap() error { return ErrLaunchRefused }

// Launch runs the law packs' campaign launch checks (F7, F8, C4, E1) on the
// call a campaign will place: heed's own opening, menu and closing around
// the campaign's message, and its voicemail version; rule C4's disclosure
// is timed on the call's audio (Voice). It also refuses a message that
// tells the person to press a key heed's calls do not act on.
type Launch struct {
	// Engine returns the policy engine in force (the law packs and the
	// firm's settings).
	Engine func() *consent.Engine
	// Firm is the firm's registered name; OptOutNumber the toll-free number
	// left on answering machines (empty: the campaign's callback number,
	// which must then be toll-free).
	Firm, OptOutNumber string
	// NationalAsOf returns when the installed national registry copy was
	// taken; zero when there is none.
	NationalAsOf func(ctx context.Context) (time.Time, error)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Voice renders and measures the call's audio as the calls speak it
	// (dialer.Media), for the checks that time the call: rule C4's
	// disclosure within 10 s. Without it, a call those checks apply to
	// cannot be timed, and is refused.
	Voice dialer.Measurer
	// NoDetection reports that answering-machine detection runs on no
	// call (every Asterisk's AMD context is empty). Otherwise the calls of
	// a campaign that does not turn detection off (Campaign.AMD.Off)
	// cannot be timed (dialer.ErrDetection: a person detection takes for
	// a machine hears the voicemail version after an unbounded wait), and
	// the checks that time them refuse the campaign.
	NoDetection bool
}

// Check returns nil when the campaign may start, a *LaunchError naming the
// checks it fails (and the keys the message names that heed's calls do
// not act on), or another error when the checks cannot run. states
// are the states of the state packs the campaign's contacts are in, and
// placed reports that every contact was placed (reach); when not, every
// state counts.
func (l *Launch) Check(ctx context.Context, c Campaign, states []string, placed bool) error {
	if l == nil || l.Engine == nil || l.Engine() == nil {
		return fmt.Errorf("launch checks are not configured: %w", ErrLaunchRefused)
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	var asOf time.Time
	if l.NationalAsOf != nil {
		var err error
		if asOf, err = l.NationalAsOf(ctx); err != nil {
			return fmt.Errorf("launch check: national registry: %w", err)
		}
	}
	dc := dialer.Campaign{Purpose: c.Purpose, CallerID: c.CallerID, Callback: c.Callback, TransferTo: c.TransferTo, Record: c.Record,
		Audio: c.Audio, AMD: c.AMD}
	txt := dialer.Script(dc, l.Firm, l.OptOutNumber)
	callback := c.Callback
	if callback == "" {
		callback = c.CallerID
	}
	// The number the voicemail leaves for opt-outs, as dialer.Script
	// chooses it: the configured opt-out number, else the callback number.
	optOut, optOutFrom := l.OptOutNumber, "HEED_OPTOUT_NUMBER"
	if optOut == "" {
		optOut, optOutFrom = callback, "the campaign's callback number, as HEED_OPTOUT_NUMBER is not set"
	}
	call := txt.Call(c.Message)
	var speech consent.Speech
	if l.Voice != nil {
		// Detection runs on the call unless the campaign turns it off or
		// no Asterisk runs it.
		speech = txt.Timer(ctx, l.Voice, dc, c.Message, !c.AMD.Off && !l.NoDetection)
	}
	// The call is also checked as what an answering machine is left: the
	// voicemail version after detection's MACHINE verdict, and the call
	// itself wherever detection does not give one (it is off, or misses
	// the machine), which leaves the same opt-out number in its closing
	// (dialer.Script). heed's voicemail version says the number by
	// construction (TestScriptPassesLaunchChecks).
	review := l.Engine().ReviewScript(consent.Script{
		Purpose: c.Purpose, Method: consent.MethodPrerecorded, Text: call, Voicemail: call,
		VoicemailOptOut: optOut, FirmName: l.Firm, Callback: callback, States: states, Placed: placed, NationalAsOf: asOf, At: now(),
		Speech: speech,
	})
	le := &LaunchError{Reasons: review.Reasons, Details: review.Details}
	if slices.Contains(le.Reasons, consent.ReasonScriptCallback) {
		if n, err := phone.Parse(optOut); err != nil || !consent.TollFree(n) {
			le.Details = append(le.Details, fmt.Sprintf("the voicemail, and the call's closing, which an answering machine may record, leave %s (%s) for opt-outs, which is not a toll-free number", optOut, optOutFrom))
		}
	}
	// heed's own text offers the keys it acts on; the message may offer
	// no other.
	for _, k := range consent.KeysToPress(c.Message) {
		if !slices.Contains(messageKeys, k) {
			le.DeadKeys = append(le.DeadKeys, k)
		}
	}
	if len(le.Reasons) > 0 || len(le.DeadKeys) > 0 {
		return le
	}
	return nil
}

// warm renders, before a transaction that runs campaign c's launch checks,
// the audio those checks time (rule C4's disclosure: heed's opening and
// the message, as far as the disclosure), so that the checks in the
// transaction read it from the media cache (dialer.Media names its files
// by content) rather than wait on the speech engine: about 1.3 s for a
// first render, against milliseconds cached. It runs the checks as if
// every state pack applied, which times all a check may time; what they
// find is left to the checks that follow, which report it.
func (l *Launch) warm(ctx context.Context, c Campaign) {
	if l == nil || l.Voice == nil || l.Engine == nil || l.Engine() == nil {
		return
	}
	_ = l.Check(ctx, c, nil, false)
}

// reach returns the states of the state packs that apply to a campaign's
// contacts, and whether they are placed (when not, every state counts).
func (s *Service) reach(ctx context.Context, id int64) ([]string, bool, error) {
	return s.Launch.reach(ctx, s.db, id, 0)
}

// reach is Service.reach, querying q. With listID not 0, it is the states
// of list listID's contacts instead: those of the campaign's contacts and
// of the contacts AddNewContacts would add. Each contact is placed as the
// gate places it (consent.Engine.Locate): by its number's area code, with
// the Connecticut area-code presumption (rule C2), its ZIP and its state,
// so that a contact with a Connecticut number and an address elsewhere
// makes the Connecticut checks (rule C4) apply, and a contact nothing
// places (a toll-free number without an address) is in every state pack's
// state, as the gate takes it. A number the engine cannot read is left
// out: the gate denies its calls. Without an engine, no contact is
// placed.
func (l *Launch) reach(ctx context.Context, q querier, id, listID int64) ([]string, bool, error) {
	var e *consent.Engine
	if l != nil && l.Engine != nil {
		e = l.Engine()
	}
	if e == nil {
		return nil, false, nil
	}
	from, arg := `FROM campaign_targets t JOIN contacts c ON c.id = t.contact_id WHERE t.campaign_id = $1`, id
	if listID != 0 {
		from, arg = `FROM contacts c WHERE c.list_id = $1`, listID
	}
	rows, err := q.Query(ctx, `SELECT DISTINCT c.phone, upper(c.state), c.zip `+from, arg)
	if err != nil {
		return nil, false, fmt.Errorf("campaign %d: states reached: %w", id, err)
	}
	in := map[string]bool{}
	var ph, state, zip string
	_, err = pgx.ForEachRow(rows, []any{&ph, &state, &zip}, func() error {
		// An unplaced contact's location has every state pack's state.
		if loc, err := e.Locate(phone.Number(ph), state, zip); err == nil {
			for _, st := range loc.States {
				in[st] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("campaign %d: states reached: %w", id, err)
	}
	return slices.Sorted(maps.Keys(in)), true, nil
}
