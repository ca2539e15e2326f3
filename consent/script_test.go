package consent_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/phone"
)

// TestCheckScript covers the campaign launch checks of F7, C4, E1 and F8.
func TestCheckScript(t *testing.T) {
	t.Parallel()
	b := setup(t, consent.Config{})
	at := time.Date(2026, 6, 10, 16, 0, 0, 0, time.UTC)
	const firm = "Smith & Jones LLP"
	reminder := "This is Smith and Jones LLP. To stop these calls, press 9. " +
		"Your hearing is on Tuesday at 10 a.m. Questions? Call us at (860) 555-0101."
	ctSales := "Hi, this is Anna calling from Smith & Jones LLP, calling about a free review of your case. " +
		"Would you like to continue, end this call, or be removed from our list? " +
		"To stop these calls, press 9. Call us back at 860-555-0101."
	solicitation := "Advertising Material. This is Smith & Jones LLP. Press 9 to stop these calls. " +
		"If you were hurt at work, call 860-555-0101. Advertising Material."
	base := consent.Script{Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, Text: reminder,
		FirmName: firm, Callback: "(860) 555-0101", NationalAsOf: at.Add(-24 * time.Hour), At: at}
	with := func(mut func(*consent.Script)) consent.Script {
		s := base
		mut(&s)
		return s
	}
	for _, c := range []struct {
		name   string
		script consent.Script
		want   []consent.Reason
	}{
		{"a good reminder", base, nil},
		{"spoken callback number", with(func(s *consent.Script) {
			s.Text = strings.Replace(reminder, "(860) 555-0101", "eight six zero, five five five, zero one zero one", 1)
		}), nil},
		{"no firm name", with(func(s *consent.Script) { s.Text = strings.Replace(reminder, "Smith and Jones LLP", "your lawyer", 1) }),
			reasons(consent.ReasonScriptIdentification, consent.ReasonScriptOptout)},
		{"firm named too late", with(func(s *consent.Script) {
			s.Text = "Hello. " + strings.Repeat("We have news about your matter. ", 5) + reminder
		}), reasons(consent.ReasonScriptIdentification)},
		{"no callback number", with(func(s *consent.Script) { s.Callback = "" }), reasons(consent.ReasonScriptCallback)},
		{"a 900 callback", with(func(s *consent.Script) {
			s.Callback = "900-555-0101"
			s.Text = strings.Replace(reminder, "(860) 555-0101", "900-555-0101", 1)
		}), reasons(consent.ReasonScriptCallback)},
		{"callback not stated", with(func(s *consent.Script) { s.Callback = "203-555-0199" }), reasons(consent.ReasonScriptCallback)},
		{"voicemail without toll-free number", with(func(s *consent.Script) {
			s.Voicemail, s.VoicemailOptOut = "Smith and Jones LLP. Call 860-555-0101.", "+18605550101"
		}), reasons(consent.ReasonScriptCallback)},
		{"voicemail with toll-free number", with(func(s *consent.Script) {
			s.Voicemail, s.VoicemailOptOut = "Smith and Jones LLP. Call 1-800-555-0101 to opt out.", "+18005550101"
		}), nil},
		// F7 reads the number the voicemail leaves for opt-outs, not any
		// toll-free number in the text.
		{"voicemail mentions a court's toll-free line, leaves a local opt-out number", with(func(s *consent.Script) {
			s.Voicemail = "Smith and Jones LLP. Your hearing is on Monday. The court's help line is 1-800-555-0123. To stop these calls, call 860-555-0101."
			s.VoicemailOptOut = "+18605550101"
		}), reasons(consent.ReasonScriptCallback)},
		{"voicemail gives a toll-free callback, leaves a local opt-out number", with(func(s *consent.Script) {
			s.Voicemail = "Smith and Jones LLP. To reach us, call 888-555-0100. To stop these calls, call 860-555-0199."
			s.VoicemailOptOut = "+18605550199"
		}), reasons(consent.ReasonScriptCallback)},
		{"toll-free opt-out number the voicemail does not state", with(func(s *consent.Script) {
			s.Voicemail = "Smith and Jones LLP. The court's help line is 1-800-555-0123."
			s.VoicemailOptOut = "+18005550199"
		}), reasons(consent.ReasonScriptCallback)},
		{"voicemail without an opt-out number", with(func(s *consent.Script) {
			s.Voicemail = "Smith and Jones LLP. To stop these calls, call 1-800-555-0123."
		}), reasons(consent.ReasonScriptCallback)},
		{"toll-free opt-out number spoken", with(func(s *consent.Script) {
			s.Voicemail = "Smith and Jones LLP. To stop these calls, call eight three three, five five five, zero one nine nine."
			s.VoicemailOptOut = "(833) 555-0199"
		}), nil},
		{"no opt-out", with(func(s *consent.Script) { s.Text = strings.Replace(reminder, "To stop these calls, press 9. ", "", 1) }),
			reasons(consent.ReasonScriptOptout)},
		{"opt-out too long after the identification", with(func(s *consent.Script) {
			s.Text = "This is Smith and Jones LLP. Your hearing is on Tuesday at ten in the morning. To stop these calls, press 9. Call (860) 555-0101."
		}), reasons(consent.ReasonScriptOptout)},
		{"press without an opt-out", with(func(s *consent.Script) {
			s.Text = strings.Replace(reminder, "To stop these calls, press 9.", "To hear this again, press 9.", 1)
		}), reasons(consent.ReasonScriptOptout)},
		{"live informational scripts are not F7's", with(func(s *consent.Script) { s.Method = consent.MethodLive; s.Text = "Hello."; s.Callback = "" }), nil},
		// C4, Connecticut sales calls.
		{"CT sales script with the disclosure", with(func(s *consent.Script) {
			s.Purpose = consent.PurposeTelemarketing
			s.Method = consent.MethodLive
			s.Text = ctSales
		}), nil},
		{"CT sales script without the question", with(func(s *consent.Script) {
			s.Purpose, s.Method = consent.PurposeTelemarketing, consent.MethodLive
			s.Text = strings.Replace(ctSales, "Would you like to continue, end this call, or be removed from our list? ", "", 1)
		}), reasons(consent.ReasonScriptDisclosure)},
		{"CT sales script without the purpose", with(func(s *consent.Script) {
			s.Purpose, s.Method = consent.PurposeTelemarketing, consent.MethodLive
			s.Text = strings.Replace(ctSales, ", calling about a free review of your case", "", 1)
		}), reasons(consent.ReasonScriptDisclosure)},
		{"sales script for New York only needs no CT disclosure", with(func(s *consent.Script) {
			s.Purpose, s.Method, s.States = consent.PurposeTelemarketing, consent.MethodLive, []string{"NY"}
			s.Text = "Hello from Smith & Jones LLP."
		}), nil},
		{"sales script whose contacts are placed in no state pack's state", with(func(s *consent.Script) {
			s.Purpose, s.Method, s.States, s.Placed = consent.PurposeTelemarketing, consent.MethodLive, nil, true
			s.Text = "Hello from Smith & Jones LLP."
		}), nil},
		{"sales script whose contacts are not all placed", with(func(s *consent.Script) {
			s.Purpose, s.Method, s.States = consent.PurposeTelemarketing, consent.MethodLive, nil
			s.Text = "Hello from Smith & Jones LLP."
		}), reasons(consent.ReasonScriptDisclosure)},
		{"sales script reaching CT", with(func(s *consent.Script) {
			s.Purpose, s.Method, s.States = consent.PurposeTelemarketing, consent.MethodLive, []string{"NY", "ct"}
			s.Text = "Hello from Smith & Jones LLP."
		}), reasons(consent.ReasonScriptDisclosure)},
		// E1, recorded solicitations (which also reach CT here, so C4 applies).
		{"recorded solicitation", with(func(s *consent.Script) {
			s.Purpose, s.States, s.Text = consent.PurposeSolicitation, []string{"NY"}, solicitation
		}), nil},
		{"recorded solicitation without the closing words", with(func(s *consent.Script) {
			s.Purpose, s.States = consent.PurposeSolicitation, []string{"NY"}
			s.Text = strings.TrimSuffix(solicitation, " Advertising Material.")
		}), reasons(consent.ReasonScriptAdvertisingMatl)},
		{"recorded solicitation without the opening words", with(func(s *consent.Script) {
			s.Purpose, s.States = consent.PurposeSolicitation, []string{"NY"}
			s.Text = strings.TrimPrefix(solicitation, "Advertising Material. ")
		}), reasons(consent.ReasonScriptAdvertisingMatl)},
		// F8, the national registry copy.
		{"telemarketing with a stale registry copy", with(func(s *consent.Script) {
			s.Purpose, s.States, s.NationalAsOf = consent.PurposeTelemarketing, []string{"NY"}, at.Add(-32*24*time.Hour)
		}), reasons(consent.ReasonDNCNationalStale)},
		{"telemarketing with no registry copy", with(func(s *consent.Script) {
			s.Purpose, s.States, s.NationalAsOf = consent.PurposeTelemarketing, []string{"NY"}, time.Time{}
		}), reasons(consent.ReasonDNCNationalStale)},
		{"informational ignores the registry age", with(func(s *consent.Script) { s.NationalAsOf = time.Time{} }), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, c.want, b.eng.CheckScript(c.script))
		})
	}
}

// spokenAt times a script for the launch checks (consent.Speech) by what
// it has said by then: at returns the time at which the call has said
// text[:end]. It keeps what it was asked for, in order.
type spokenAt struct {
	text  string
	at    func(said string) time.Duration
	err   error
	asked []string
}

func (s *spokenAt) Said(end int) (consent.Timing, error) {
	said := s.text[:end]
	s.asked = append(s.asked, said)
	if s.err != nil {
		return consent.Timing{}, s.err
	}
	d := s.at(said)
	return consent.Timing{At: d, Parts: []consent.TimingPart{{What: "the opening", Took: d - time.Second}, {What: "the message", Took: time.Second}}}, nil
}

// TestCheckScriptTimesTheDisclosure: for a prerecorded call, rule C4's
// disclosure is timed on the call's speech (Script.Speech), not on word
// counts: the sentence that completes the identity, the firm and the
// purpose must be said, to its last sound, within 10 s of the answer (10
// s exactly passes, a millisecond more fails, with the seconds and the
// parts); the question must follow that sentence directly, or have its
// first word said within the 10 s; a call that cannot be timed fails.
func TestCheckScriptTimesTheDisclosure(t *testing.T) {
	t.Parallel()
	b := setup(t, consent.Config{})
	at := time.Date(2026, 6, 10, 16, 0, 0, 0, time.UTC)
	const (
		opening    = "Hello. This is a message from Smith & Jones LLP. To stop these calls, press 9 at any time. "
		disclosure = "We are calling about your claim."
		question   = " Would you like to continue, end this call, or be removed from our list?"
		closing    = " To reach us, call 860-555-0101."
	)
	review := func(text string, method consent.Method, sp func(text string) consent.Speech) (consent.ScriptReview, *spokenAt) {
		t.Helper()
		s := consent.Script{Purpose: consent.PurposeTelemarketing, Method: method, Text: text, FirmName: "Smith & Jones LLP",
			Callback: "(860) 555-0101", States: []string{"CT"}, NationalAsOf: at.Add(-24 * time.Hour), At: at}
		var spoken *spokenAt
		if sp != nil {
			s.Speech = sp(text)
			spoken, _ = s.Speech.(*spokenAt)
		}
		return b.eng.ReviewScript(s), spoken
	}
	// saidBy times the disclosure's sentence (the text said up to "claim.")
	// at d, and everything else at 1 s per 10 bytes.
	saidBy := func(d time.Duration) func(string) consent.Speech {
		return func(text string) consent.Speech {
			return &spokenAt{text: text, at: func(said string) time.Duration {
				if strings.HasSuffix(said, "claim.") {
					return d
				}
				return time.Duration(len(said)) * time.Second / 10
			}}
		}
	}
	text := opening + disclosure + question + closing

	// 10 s passes, to the sentence's end; a millisecond more fails.
	got, sp := review(text, consent.MethodPrerecorded, saidBy(10*time.Second))
	require.Empty(t, got.Reasons)
	require.Equal(t, []string{opening + disclosure}, sp.asked, "timed to the end of the sentence that completes the disclosure, its period included")
	got, _ = review(text, consent.MethodPrerecorded, saidBy(10*time.Second+time.Millisecond))
	require.Equal(t, reasons(consent.ReasonScriptDisclosure), got.Reasons)
	require.Equal(t, []string{"rule C4: the caller's identity, the firm and the purpose are said in full 10.01 s after the person answers, past 10 s: " +
		"the opening 9.00 s + the message 1.00 s"}, got.Details)

	// What word counts passed: the purpose begins at the 21st word, but
	// the sentence it ends is said at 14 s (a long number).
	slow := opening + "We are calling about claim 4815162342." + question + closing
	got, _ = review(slow, consent.MethodLive, nil)
	require.Empty(t, got.Reasons, "word counts take it to be in time")
	got, _ = review(slow, consent.MethodPrerecorded, func(text string) consent.Speech {
		return &spokenAt{text: text, at: func(said string) time.Duration { return 14 * time.Second }}
	})
	require.Equal(t, reasons(consent.ReasonScriptDisclosure), got.Reasons)
	require.Contains(t, got.Details[0], "said in full 14.00 s after the person answers, past 10 s")

	// A question two sentences on counts when its first word is said
	// within 10 s, and not after.
	late := opening + disclosure + " We help people like you." + question + closing
	for _, c := range []struct {
		first time.Duration
		ok    bool
	}{{10 * time.Second, true}, {10*time.Second + time.Millisecond, false}} {
		got, sp = review(late, consent.MethodPrerecorded, func(text string) consent.Speech {
			return &spokenAt{text: text, at: func(said string) time.Duration {
				if strings.HasSuffix(said, "Would") {
					return c.first
				}
				return 9 * time.Second
			}}
		})
		require.Equal(t, []string{opening + disclosure, opening + disclosure + " We help people like you. Would"}, sp.asked,
			"the question is timed to the end of its first word")
		if c.ok {
			require.Empty(t, got.Reasons)
			continue
		}
		require.Equal(t, reasons(consent.ReasonScriptDisclosure), got.Reasons)
		require.Equal(t, []string{"rule C4: the question whether the person wants to continue, end the call or be removed neither follows the disclosure directly " +
			"nor starts within 10 s: its first word is said 10.01 s after the person answers (the opening 9.00 s + the message 1.00 s)"}, got.Details)
	}
	// The sentence's closing punctuation is all said ("...", "?!").
	for _, end := range []string{"...", "?!"} {
		_, sp = review(opening+"We are calling about your claim"+end+question+closing, consent.MethodPrerecorded, saidBy(time.Second))
		require.Equal(t, opening+"We are calling about your claim"+end, sp.asked[0])
	}
	// The question right after the disclosure needs no timing of its own.
	_, sp = review(text, consent.MethodPrerecorded, saidBy(9*time.Second))
	require.Len(t, sp.asked, 1)

	// A call that cannot be timed fails, saying why; so does one with no
	// measure of its speech. A script without the disclosure fails
	// without being timed.
	got, _ = review(text, consent.MethodPrerecorded, func(text string) consent.Speech {
		return &spokenAt{text: text, err: errors.New("no text-to-speech engine found")}
	})
	require.Equal(t, reasons(consent.ReasonScriptDisclosure), got.Reasons)
	require.Equal(t, []string{"rule C4: the call cannot be timed up to the end of its disclosure, so the disclosure is not taken to be said within 10 s: no text-to-speech engine found"}, got.Details)
	got, _ = review(text, consent.MethodPrerecorded, nil)
	require.Equal(t, reasons(consent.ReasonScriptDisclosure), got.Reasons)
	require.Contains(t, got.Details[0], "cannot be timed")
	got, sp = review(opening+question+closing, consent.MethodPrerecorded, saidBy(time.Second))
	require.Equal(t, reasons(consent.ReasonScriptDisclosure), got.Reasons)
	require.Empty(t, got.Details)
	require.Empty(t, sp.asked)

	// Scripts outside Connecticut are not timed.
	s := consent.Script{Purpose: consent.PurposeTelemarketing, Method: consent.MethodPrerecorded, Text: opening + "We have news." + closing,
		FirmName: "Smith & Jones LLP", Callback: "(860) 555-0101", States: []string{"NY"}, NationalAsOf: at.Add(-24 * time.Hour), At: at}
	require.Empty(t, b.eng.CheckScript(s))
}

// TestTollFree: the toll-free area codes are 800, 833, 844, 855, 866, 877
// and 888; the 8XX codes not yet in service, 900 numbers and local numbers
// are not toll-free.
func TestTollFree(t *testing.T) {
	t.Parallel()
	for _, ac := range []string{"800", "833", "844", "855", "866", "877", "888"} {
		require.True(t, consent.TollFree(phone.Number("+1"+ac+"5550199")), ac)
	}
	for _, n := range []phone.Number{"+18805550199", "+18225550199", "+19005550199", "+18605550199", "+2035550199", ""} {
		require.False(t, consent.TollFree(n), n)
	}
}

// TestParseTollFree: the opt-out number heed's settings give is read as a
// person writes it and refused, with what is wrong, when it is not a
// valid number, is outside North America, is a 900 number or is not
// toll-free.
func TestParseTollFree(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]phone.Number{"+1 800 555 0199": "+18005550199", "(888) 555-0100": "+18885550100", "1-833-555-0101": "+18335550101"} {
		n, err := consent.ParseTollFree(in)
		require.NoError(t, err, in)
		require.Equal(t, want, n)
	}
	for _, c := range []struct {
		in   string
		is   error
		says string
	}{
		{"not a number", phone.ErrInvalid, "not a valid number"},
		{"555-0199", phone.ErrInvalid, "not a valid number"},
		{"+800 555 0199", phone.ErrInvalid, "with its country code"},
		{"+44 20 7123 4567", phone.ErrNotNANP, "outside North America"},
		{"900-555-0199", consent.ErrNotTollFree, "premium-rate 900 number"},
		{"860-555-0199", consent.ErrNotTollFree, "+18605550199 is not toll-free"},
		{"+1 212 555 0199", consent.ErrNotTollFree, "+12125550199 is not toll-free"},
	} {
		_, err := consent.ParseTollFree(c.in)
		require.ErrorIs(t, err, c.is, c.in)
		require.ErrorContains(t, err, c.says, c.in)
	}
}

// TestKeysToPress: the keys a script tells the person to press, however
// it names them; phone numbers to dial are not keys.
func TestKeysToPress(t *testing.T) {
	t.Parallel()
	for text, want := range map[string][]string{
		"To confirm, press 1. To speak with our office, press 2. To hear this message again, press star. To stop these calls, press 9.": {"1", "2", "*", "9"},
		"To continue, stay on the line. To end this call, press 3. To be removed, press 9.":                                             {"3", "9"},
		"Press the number 3 key to end this call.":                                                                                      {"3"},
		"Press one, two or three.":                                         {"1", "2", "3"},
		"Press 1 or 2, or press 1 again.":                                  {"1", "2"},
		"Press * to hear it again, or # to skip. Press the pound key now.": {"*", "#"},
		"Dial 0 for the operator.":                                         {"0"},
		"Push 4. Hit five. Touch six. Tap seven. Enter eight. Select 0.":   {"4", "5", "6", "7", "8", "0"},
		"To reach us, dial 1-800-555-0199.":                                nil,
		"Dial eight six zero, five five five, zero one zero one.":          nil,
		"Dial one eight hundred, five five five, zero one nine nine.":      nil,
		"Your hearing is at 9. Press the button.":                          nil,
		"Please press. 3 people are waiting.":                              nil,
		"Call us at 860-555-0101 or press any key.":                        nil,
		"Press 1 to confirm or 3 to reschedule.":                           {"1", "3"},
		"Press 1 to confirm, 3 to cancel.":                                 {"1", "3"},
		"Press 9, then 3 to end the call.":                                 {"9", "3"},
		"Pressing 3 ends this call. Dialling 4 does too.":                  {"3", "4"},
		"Press 33 to end this call.":                                       {"3"},
		"Press 1 to confirm your hearing on December 3.":                   {"1"},
		"Press 1 to confirm your 2 hearings.":                              {"1"},
	} {
		require.Equal(t, want, consent.KeysToPress(text), text)
	}
}
