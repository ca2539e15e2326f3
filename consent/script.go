package consent

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/heed-dialer/heed/internal/phone"
)

// Script is a campaign's message script and reach, for the launch check.
type Script struct {
	// Purpose is the campaign's purpose.
	Purpose Purpose
	// Method is the campaign's method. For a live campaign, Text is the
	// agent's opening; check the abandoned-call message (rule F10) as a
	// separate prerecorded Script.
	Method Method
	// Text is the message as it is spoken.
	Text string
	// Voicemail is the message left on answering machines, or "" when the
	// campaign leaves none.
	Voicemail string
	// VoicemailOptOut is the number Voicemail leaves for opt-outs: the one
	// rule F7 requires to be toll-free. The check reads this number, not
	// the text: a toll-free number the message merely mentions (a court's
	// help line) does not count, and neither does a toll-free callback
	// number when the opt-out number is another. It must also be stated in
	// Voicemail. Empty fails the check when Voicemail is set.
	VoicemailOptOut string
	// FirmName is the firm's registered name.
	FirmName string
	// Callback is the callback number the message states.
	Callback string
	// States are the USPS codes of the states the campaign may reach (from
	// addresses and area codes). Empty means unknown, which counts as every
	// state, unless Placed is set.
	States []string
	// Placed reports that States are every state the campaign may reach,
	// each contact placed as Engine.Locate places it: an empty States then
	// means that no state pack applies.
	Placed bool
	// NationalAsOf is when the national registry copy was taken.
	NationalAsOf time.Time
	// At is the launch time.
	At time.Time
	// Speech times a prerecorded call as heed plays it: the checks that
	// limit when the call says something (rule C4's 10 seconds) read
	// their times from it, measured on the call's real audio. A
	// prerecorded script without it fails those checks (the call cannot
	// be timed, so it is not taken to be in time). A live script (an
	// agent's opening) is not audio heed makes: its times are estimated
	// from its words, at 150 words a minute.
	Speech Speech
}

// Speech times a prerecorded call as heed plays it, from the moment the
// person answers: the dialer implements it by rendering the call's text
// with the engine and settings the call speaks with and measuring the
// audio, and adds what comes before heed's first word (answering-machine
// detection).
type Speech interface {
	// Said returns when the call has said its text (Script.Text) up to
	// byte offset end: the end of the last sound of Text[:end]. An error
	// means the call cannot be timed there (no speech engine, a message
	// that is an uploaded recording or differs for each contact).
	Said(end int) (Timing, error)
}

// Timing is when a call has said part of its text, counted from the
// moment the person answers, and what that time is made of.
type Timing struct {
	// At is the time from the answer.
	At time.Duration
	// Parts add up to At, in the order the call plays them.
	Parts []TimingPart
}

// TimingPart is one part of a Timing: what the person hears (or waits
// through), and for how long.
type TimingPart struct {
	// What names the part, such as "heed's opening".
	What string
	// Took is how long it lasts.
	Took time.Duration
}

// Breakdown writes the timing's parts: "answering-machine detection, at
// most 5.00 s + heed's start 0.25 s + ...".
func (t Timing) Breakdown() string {
	parts := make([]string, len(t.Parts))
	for i, p := range t.Parts {
		parts[i] = p.What + " " + seconds(p.Took)
	}
	return strings.Join(parts, " + ")
}

// seconds writes d in seconds, to the hundredth.
func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// secondsUp writes d in seconds, rounded up to the hundredth: a time
// past a limit never reads as the limit.
func secondsUp(d time.Duration) string {
	return seconds((d + 10*time.Millisecond - time.Nanosecond).Truncate(10 * time.Millisecond))
}

// limitText writes a rule's limit in seconds, as the rule says it: "10 s".
func limitText(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s" }

// ScriptReview is what the launch checks of a script found.
type ScriptReview struct {
	// Reasons are the checks the script fails, in canonical order; nil
	// when it passes them all.
	Reasons []Reason
	// Details say what the checks that time the call measured, or why
	// they could not, for the checks of Reasons: "the disclosure ... is
	// said 12.41 s after the person answers (...)".
	Details []string
}

// wordsPerSecond converts the rules' spoken-time limits into words of a
// live script (an agent's, which heed does not speak): 150 words a
// minute, an ordinary rate for speech. heed's own prerecorded calls are
// timed on their audio (Script.Speech) instead: speech is slower than
// this for numbers, names and long words, and detection delays the
// message after the person answers.
const wordsPerSecond = 2.5

func wordsIn(d time.Duration) int { return int(d.Seconds() * wordsPerSecond) }

// CheckScript runs the campaign launch checks of every rule that applies to
// the script's purpose, method and states at s.At, and returns the reason
// codes of the checks that fail, in canonical order (nil when all pass):
//
//   - script.identification: the firm's registered name is not said within
//     the first 10 seconds (F7);
//   - script.callback: no callback number, a 900 number, a callback the text
//     does not state, or a voicemail message whose opt-out number
//     (Script.VoicemailOptOut) is not toll-free or is not stated in it (F7);
//   - script.optout: no key-press opt-out offer starting within 2 seconds
//     after the identification (F7);
//   - script.disclosure: a Connecticut sales script that does not state the
//     caller's identity, the firm and the purpose within 10 seconds and then
//     ask whether the person wants to continue, end the call or be removed
//     (C4). A prerecorded call is timed on its audio (Script.Speech): the
//     sentence that completes the disclosure must have been said within
//     10 seconds of the answer, and the question must be in that sentence
//     or an earlier one, follow it directly, or have its first word said
//     within the 10 seconds; a call that cannot be timed fails;
//   - script.advertising_material: a recorded solicitation that does not say
//     "Advertising Material" at its start and at its end (E1);
//   - dnc.national_stale: telemarketing or solicitation while the national
//     registry copy is older than its limit (F8).
//
// The other times (F7), and a live script's, are converted to words at 150
// words a minute.
func (e *Engine) CheckScript(s Script) []Reason {
	return e.ReviewScript(s).Reasons
}

// ReviewScript runs the checks of CheckScript and returns the reasons it
// returns, with what the checks that time the call measured.
func (e *Engine) ReviewScript(s Script) ScriptReview {
	pm, mm := purposeBits(s.Purpose), methodBits(s.Method)
	text := tokenize(s.Text)
	firm := tokenize(s.FirmName)
	var (
		set     ReasonSet
		details []string
	)
	for _, p := range e.packs {
		inState := len(s.States) == 0 && !s.Placed
		for _, st := range s.States {
			inState = inState || (p.State != "" && strings.EqualFold(st, p.State))
		}
		for i := range p.Rules {
			r := &p.Rules[i]
			if r.Kind == Info || r.Kind == Duty || !r.active(s.At) || !r.matches(pm, mm) {
				continue
			}
			if r.InState && !inState {
				continue
			}
			if r.SnapshotMaxAge > 0 && (s.NationalAsOf.IsZero() || s.At.Sub(s.NationalAsOf) > r.SnapshotMaxAge) {
				set |= bitDNCNationalStale
			}
			if r.Script != nil {
				found, said := checkScript(r.Script, &s, text, firm, mm)
				set |= found
				if said != "" && !slices.Contains(details, said) {
					details = append(details, said)
				}
			}
		}
	}
	if set == 0 {
		return ScriptReview{}
	}
	return ScriptReview{Reasons: set.AppendTo(nil), Details: details}
}

func (r *Rule) active(at time.Time) bool {
	return (r.From.IsZero() || !at.Before(r.From)) && (r.Until.IsZero() || at.Before(r.Until))
}

func (r *Rule) matches(pm, mm uint8) bool {
	rp, rm := pAll, mAll
	if r.Purposes != nil {
		rp = 0
		for _, p := range r.Purposes {
			rp |= purposeBits(p)
		}
	}
	if r.Methods != nil {
		rm = 0
		for _, m := range r.Methods {
			rm |= methodBits(m)
		}
	}
	return rp&pm != 0 && rm&mm != 0
}

// checkScript runs one rule's script checks; detail says what the
// disclosure check found, when it fails it on the call's timing.
func checkScript(sr *ScriptRule, s *Script, text, firm tokens, mm uint8) (set ReasonSet, detail string) {
	firmAt := text.find(firm.words, 0)
	firmEnd := firmAt + len(firm.words)
	if sr.Identify && (len(firm.words) == 0 || firmAt < 0 || firmAt >= wordsIn(10*time.Second)) {
		set |= bitScriptIdentification
	}
	if sr.Callback && !callbackOK(s.Callback, text) {
		set |= bitScriptCallback
	}
	if sr.VoicemailTollFree && s.Voicemail != "" && !voicemailOptOutOK(s.VoicemailOptOut, tokenize(s.Voicemail)) {
		set |= bitScriptCallback
	}
	if sr.OptOutWithin > 0 {
		start := text.optOutOffer()
		if start >= 0 && firmAt >= 0 {
			start = max(start, firmEnd)
		}
		if firmAt < 0 || start < 0 || start-firmEnd > wordsIn(sr.OptOutWithin) {
			set |= bitScriptOptout
		}
	}
	if sr.Disclosure > 0 {
		var ok bool
		if mm&mPrerecorded != 0 {
			ok, detail = text.timedDisclosure(firm.words, sr.Disclosure, s.Speech)
		} else {
			ok = text.disclosure(firm.words, wordsIn(sr.Disclosure))
		}
		if !ok {
			set |= bitScriptDisclosure
		}
	}
	if sr.AdvertisingMaterial && mm&mPrerecorded != 0 {
		n := len(text.words)
		if n < 4 || text.words[0] != "advertising" || text.words[1] != "material" ||
			text.words[n-2] != "advertising" || text.words[n-1] != "material" {
			set |= bitScriptAdvertisingMatl
		}
	}
	return set, detail
}

// tokens is a script split into lower-case words, with the index of the
// first word of each sentence, and where each word and sentence is in the
// script's text.
type tokens struct {
	words     []string
	sentences []int
	// spans are the byte offsets of each word in the text: it is
	// text[spans[i][0]:spans[i][1]], as written ("Smith's", "&").
	spans [][2]int
	// ends are the byte offsets at which each sentence ends: past the
	// punctuation (or line end) that closes it, or past its last word.
	ends []int
}

func tokenize(s string) tokens {
	var t tokens
	var b strings.Builder
	newSentence := true
	start := 0 // where the word being read starts
	flush := func(end int) {
		if b.Len() == 0 {
			return
		}
		if newSentence {
			t.sentences = append(t.sentences, len(t.words))
			t.ends = append(t.ends, 0)
			newSentence = false
		}
		t.words = append(t.words, b.String())
		t.spans = append(t.spans, [2]int{start, end})
		t.ends[len(t.ends)-1] = end
		b.Reset()
	}
	for i, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if b.Len() == 0 {
				start = i
			}
			b.WriteRune(unicode.ToLower(r))
		case r == '&':
			flush(i)
			start = i
			b.WriteString("and")
			flush(i + 1)
		case r == '.' || r == '?' || r == '!' || r == '\n':
			flush(i)
			if n := len(t.ends); n > 0 && (!newSentence || t.ends[n-1] == i) {
				// The punctuation that closes the sentence: all of it,
				// as in "?!" or "...".
				t.ends[n-1] = i + 1
			}
			newSentence = true
		case r == '\'' || r == '\u2019':
			// "I'm", "firm's": keep the word whole.
		default:
			flush(i)
		}
	}
	flush(len(s))
	return t
}

// find returns the index of the first occurrence of seq at or after from, or -1.
func (t tokens) find(seq []string, from int) int {
	if len(seq) == 0 {
		return -1
	}
	for i := from; i+len(seq) <= len(t.words); i++ {
		match := true
		for j, w := range seq {
			if t.words[i+j] != w {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}

// sentenceOf returns the start and end word indexes of the sentence holding word i.
func (t tokens) sentenceOf(i int) (int, int) {
	start, end := 0, len(t.words)
	for _, s := range t.sentences {
		if s > i {
			end = s
			break
		}
		start = s
	}
	return start, end
}

func (t tokens) sentenceHas(start, end int, words ...string) bool {
	for i := start; i < end; i++ {
		for _, w := range words {
			if t.words[i] == w {
				return true
			}
		}
	}
	return false
}

var (
	digitWords = map[string]byte{
		"zero": '0', "oh": '0', "one": '1', "two": '2', "three": '3', "four": '4',
		"five": '5', "six": '6', "seven": '7', "eight": '8', "nine": '9',
	}
	keyWords      = []string{"star", "pound", "hash"}
	optOutWords   = []string{"stop", "opt", "optout", "remove", "removed", "unsubscribe"}
	optOutPhrases = [][]string{{"no", "longer"}, {"do", "not", "call"}}
)

func isKey(w string) bool {
	if len(w) == 1 && w[0] >= '0' && w[0] <= '9' {
		return true
	}
	if _, ok := digitWords[w]; ok {
		return true
	}
	for _, k := range keyWords {
		if w == k {
			return true
		}
	}
	return false
}

// optOutOffer returns the index of the first word of the first key-press
// opt-out offer (a sentence with "press" followed by a key and an opt-out
// word), or -1.
func (t tokens) optOutOffer() int {
	for i, w := range t.words {
		if w != "press" || i+1 >= len(t.words) || !isKey(t.words[i+1]) {
			continue
		}
		start, end := t.sentenceOf(i)
		if t.sentenceHas(start, end, optOutWords...) {
			return start
		}
		for _, p := range optOutPhrases {
			if j := t.find(p, start); j >= 0 && j+len(p) <= end {
				return start
			}
		}
	}
	return -1
}

var (
	// pressWords are the words that tell a person to press a key (and
	// pressingWords, "pressing 3 ends the call").
	pressWords = []string{"press", "push", "dial", "hit", "touch", "tap", "enter", "select"}
	// keyFillers may stand between a press word and its key ("press the
	// number 3", "press the star key").
	keyFillers = []string{"the", "number", "key", "button", "digit"}
	// keyJoiners join the keys of one offer ("press 1 or 2", "press 9,
	// then 3").
	keyJoiners = []string{"or", "and", "then"}
	// keyPurposes follow a key offered for something ("3 to cancel", "0
	// for the operator").
	keyPurposes = []string{"to", "for"}
	// phoneDigits is how many digits in a row make a phone number rather
	// than keys ("dial eight six zero, five five five, ...").
	phoneDigits = 7
)

// pressingWords are pressWords with "ing".
var pressingWords = []string{"pressing", "pushing", "dialing", "dialling", "hitting", "touching", "tapping", "entering", "selecting"}

// isPressWord reports whether w tells a person to press a key.
func isPressWord(w string) bool {
	return slices.Contains(pressWords, w) || slices.Contains(pressingWords, w)
}

// KeysToPress returns the keys a script tells the person to press ("press
// 3", "press star", "dial 1 or 2", "press 1 to confirm, 3 to cancel"):
// each once, as "0" to "9", "*" or "#", in the order the script first
// names them; nil when it names none. In a sentence that tells the person
// to press, a key counts from the first press word on when it follows a
// press word (or its fillers), follows "or", "and" or "then", or is
// followed by "to" or "for"; a number of two digits right after a press
// word is its keys ("press 33"). A phone number to dial, written or
// spoken, is not a key.
func KeysToPress(text string) []string {
	t := tokenize(strings.NewReplacer("*", " star ", "#", " pound ").Replace(text))
	var out []string
	for si, start := range t.sentences {
		end := len(t.words)
		if si+1 < len(t.sentences) {
			end = t.sentences[si+1]
		}
		p := slices.IndexFunc(t.words[start:end], isPressWord)
		if p < 0 {
			continue
		}
		for i := start + p + 1; i < end; {
			w := t.words[i]
			if !isKey(w) && !allDigits(w) {
				i++
				continue
			}
			// The run of numeric words from i: keys, or a phone number.
			j, digits, phoneNumber := i, 0, false
			for ; j < end && (isKey(t.words[j]) || allDigits(t.words[j]) || t.words[j] == "hundred" || t.words[j] == "thousand"); j++ {
				switch v := t.words[j]; {
				case v == "hundred" || v == "thousand" || allDigits(v) && len(v) > 2:
					phoneNumber = true
				case allDigits(v):
					digits += len(v)
				default:
					digits++
				}
			}
			// What comes before the run, past the fillers, and after it.
			b := i - 1
			for b > start && slices.Contains(keyFillers, t.words[b]) {
				b--
			}
			before := t.words[b]
			offered := isPressWord(before) || slices.Contains(keyJoiners, before) ||
				j < end && slices.Contains(keyPurposes, t.words[j])
			if offered && !phoneNumber && digits < phoneDigits {
				for _, v := range t.words[i:j] {
					keys := []string{keyOf(v)}
					if allDigits(v) {
						keys = strings.Split(v, "")
					}
					for _, k := range keys {
						if !slices.Contains(out, k) {
							out = append(out, k)
						}
					}
				}
			}
			i = j
		}
	}
	return out
}

// keyOf returns the key a word names (isKey): "0" to "9", "*" or "#".
func keyOf(w string) string {
	if d, ok := digitWords[w]; ok {
		return string(d)
	}
	switch w {
	case "star":
		return "*"
	case "pound", "hash":
		return "#"
	}
	return w
}

// numbers returns the digit strings the script states, written ("860-555-0101")
// or spoken ("eight six zero ..."): runs of numeric words, concatenated.
func (t tokens) numbers() []string {
	var out []string
	var cur []byte
	for _, w := range t.words {
		if d, ok := digitWords[w]; ok {
			cur = append(cur, d)
			continue
		}
		if allDigits(w) {
			cur = append(cur, w...)
			continue
		}
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = cur[:0]
		}
	}
	if len(cur) > 0 {
		out = append(out, string(cur))
	}
	return out
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// national returns the ten NANP digits of a stated number, or "".
func national(digits string) string {
	switch {
	case len(digits) == 11 && digits[0] == '1':
		return digits[1:]
	case len(digits) == 10:
		return digits
	}
	return ""
}

func callbackOK(callback string, text tokens) bool {
	n, err := phone.Parse(callback)
	if err != nil || n.AreaCode() == "" || n.AreaCode() == "900" {
		return false
	}
	return text.states(n)
}

// states reports whether the text states NANP number n, written or spoken.
func (t tokens) states(n phone.Number) bool {
	want := string(n)[2:]
	for _, d := range t.numbers() {
		if national(d) == want {
			return true
		}
	}
	return false
}

// voicemailOptOutOK reports whether optOut, the number a voicemail leaves
// for opt-outs, is toll-free and stated in the voicemail's text.
func voicemailOptOutOK(optOut string, text tokens) bool {
	n, err := phone.Parse(optOut)
	return err == nil && TollFree(n) && text.states(n)
}

// tollFreeAreaCodes are the NANP's toll-free area codes (8XX) in service.
var tollFreeAreaCodes = []string{"800", "833", "844", "855", "866", "877", "888"}

// TollFreeAreaCodes lists the NANP toll-free area codes in service, for
// messages.
const TollFreeAreaCodes = "800, 833, 844, 855, 866, 877 or 888"

// TollFree reports whether n is a North American toll-free number: one
// whose area code is 800, 833, 844, 855, 866, 877 or 888.
func TollFree(n phone.Number) bool {
	ac := n.AreaCode()
	for _, tf := range tollFreeAreaCodes {
		if ac == tf {
			return true
		}
	}
	return false
}

// ErrNotTollFree reports a number given where rule F7 needs a toll-free
// one: the number a voicemail message leaves for opt-outs.
var ErrNotTollFree = errors.New("not a toll-free number")

// ParseTollFree reads the number that takes opt-outs on voicemail (rule
// F7), as written in heed's settings, and returns it in E.164 form. Its
// error says what is wrong: not a valid number (wrapping
// phone.ErrInvalid), a number outside North America (phone.ErrNotNANP),
// a premium-rate 900 number, which a call may never give
// (ErrNotTollFree), or another number that is not toll-free
// (ErrNotTollFree).
func ParseTollFree(s string) (phone.Number, error) {
	n, err := phone.Parse(s)
	if err != nil {
		if phone.MissingOne(s) {
			return "", fmt.Errorf("not a valid number (write a North American number with its country code: +1 and the ten digits): %w", err)
		}
		return "", fmt.Errorf("not a valid number: %w", err)
	}
	switch ac := n.AreaCode(); {
	case ac == "":
		return "", fmt.Errorf("%s is outside North America; rule F7 needs a toll-free number (area code %s): %w", n, TollFreeAreaCodes, phone.ErrNotNANP)
	case ac == "900":
		return "", fmt.Errorf("%s is a premium-rate 900 number, which a call may never give for callbacks or opt-outs (rule F7): %w", n, ErrNotTollFree)
	case !TollFree(n):
		return "", fmt.Errorf("%s is not toll-free; rule F7 needs voicemail to leave a toll-free number (area code %s) that takes opt-outs: %w", n, TollFreeAreaCodes, ErrNotTollFree)
	}
	return n, nil
}

var (
	identityPhrases = [][]string{{"this", "is"}, {"my", "name", "is"}, {"i", "am"}, {"im"}, {"calling", "from"}, {"calling", "on", "behalf"}}
	purposePhrases  = [][]string{{"calling", "about"}, {"calling", "to"}, {"calling", "regarding"}, {"calling", "because"},
		{"calling", "with"}, {"call", "is", "about"}, {"reason", "for"}, {"purpose", "of"}}
)

// phraseBefore returns the end of the first phrase that starts before limit, or -1.
func (t tokens) phraseBefore(phrases [][]string, limit int) int {
	best := -1
	for _, p := range phrases {
		if i := t.find(p, 0); i >= 0 && i < limit && (best < 0 || i+len(p) < best) {
			best = i + len(p)
		}
	}
	return best
}

// disclosure reports whether the caller's identity, the firm and the purpose
// are stated within the first limit words, followed by the question whether
// the person wants to continue, end the call or be removed: a sentence that
// starts within the limit or directly follows the disclosure.
func (t tokens) disclosure(firm []string, limit int) bool {
	di := t.disclosureParts(firm, limit)
	if di < 0 {
		return false
	}
	for qi, s := range t.sentences {
		if s >= limit && qi > di+1 {
			break
		}
		if t.asks(qi) {
			return true
		}
	}
	return false
}

// disclosureParts finds the disclosure's elements (the firm, and the first
// identity and purpose phrases starting before limit words) and returns
// the index of the sentence that completes them, or -1 when one is
// missing.
func (t tokens) disclosureParts(firm []string, limit int) int {
	f := t.find(firm, 0)
	id := t.phraseBefore(identityPhrases, limit)
	purpose := t.phraseBefore(purposePhrases, limit)
	if f < 0 || f >= limit || id < 0 || purpose < 0 {
		return -1
	}
	last := max(f+len(firm), id, purpose) - 1
	return t.sentenceIndex(last)
}

// sentenceIndex returns the index (into t.sentences) of the sentence
// holding word i.
func (t tokens) sentenceIndex(i int) int {
	si := 0
	for k, s := range t.sentences {
		if s > i {
			break
		}
		si = k
	}
	return si
}

// sentenceEnd returns the index of the word after sentence si's last.
func (t tokens) sentenceEnd(si int) int {
	if si+1 < len(t.sentences) {
		return t.sentences[si+1]
	}
	return len(t.words)
}

// asks reports whether sentence si asks whether the person wants to
// continue, end the call or be removed.
func (t tokens) asks(si int) bool {
	s, end := t.sentences[si], t.sentenceEnd(si)
	return t.sentenceHas(s, end, "continue") && t.sentenceHas(s, end, "end", "hang") && t.sentenceHas(s, end, "remove", "removed")
}

// timedDisclosure is disclosure for a prerecorded call, timed on its
// audio by sp: the caller's identity, the firm and the purpose must be
// stated, the sentence that completes them said in full within limit of
// the answer, and the question whether the person wants to continue, end
// the call or be removed asked in that sentence or an earlier one, in the
// sentence right after it, or in a sentence whose first word is said
// within limit. It returns whether the call passes and, when it fails on
// its timing or cannot be timed, what was measured.
func (t tokens) timedDisclosure(firm []string, limit time.Duration, sp Speech) (bool, string) {
	di := t.disclosureParts(firm, len(t.words))
	if di < 0 {
		return false, ""
	}
	if sp == nil {
		return false, "rule C4: the call's audio cannot be timed (heed has no measure of its speech configured), so its disclosure is not taken to be said within " + limitText(limit)
	}
	said, err := sp.Said(t.ends[di])
	if err != nil {
		return false, fmt.Sprintf("rule C4: the call cannot be timed up to the end of its disclosure, so the disclosure is not taken to be said within %s: %v", limitText(limit), err)
	}
	if said.At > limit {
		return false, fmt.Sprintf("rule C4: the caller's identity, the firm and the purpose are said in full %s after the person answers, past %s: %s",
			secondsUp(said.At), limitText(limit), said.Breakdown())
	}
	for qi := range t.sentences {
		if !t.asks(qi) {
			continue
		}
		if qi <= di+1 {
			return true, ""
		}
		// A later question counts when its first word is said in time.
		q, err := sp.Said(t.spans[t.sentences[qi]][1])
		if err != nil {
			return false, fmt.Sprintf("rule C4: the call cannot be timed up to its question whether the person wants to continue, end the call or be removed: %v", err)
		}
		if q.At <= limit {
			return true, ""
		}
		return false, fmt.Sprintf("rule C4: the question whether the person wants to continue, end the call or be removed neither follows the disclosure directly nor starts within %s: its first word is said %s after the person answers (%s)",
			limitText(limit), secondsUp(q.At), q.Breakdown())
	}
	return false, ""
}
