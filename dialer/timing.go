package dialer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/heed-dialer/heed/consent"
)

// Spoken is how long a text lasts as a call says it.
type Spoken struct {
	// Length is the duration of its audio file, silence included, as the
	// call plays it before the next one.
	Length time.Duration
	// Sound is when its last sound ends: Length less the silence the
	// speech engine leaves at the end.
	Sound time.Duration
}

// Measurer renders text as a call speaks it and measures the audio; Media
// is heed's.
type Measurer interface {
	// Measure renders text as Speak does and returns how long it lasts.
	Measure(ctx context.Context, text string) (Spoken, error)
}

var _ Measurer = Media{}

// Measure renders text as Speak does (the same engine and settings, and
// the same file, cached by content) and reads how long the audio lasts.
func (m Media) Measure(ctx context.Context, text string) (Spoken, error) {
	name, err := m.speak(ctx, text)
	if err != nil {
		return Spoken{}, err
	}
	s, err := measureWAV(filepath.Join(m.HostDir, name+".wav"))
	if err != nil {
		return Spoken{}, fmt.Errorf("tts: measure %s: %w", name, err)
	}
	return s, nil
}

// ErrAudioFormat reports an audio file that is not the mono 16-bit PCM WAV
// heed makes.
var ErrAudioFormat = errors.New("not a mono 16-bit PCM WAV file")

// soundFloor is the sample level (of 32767) above which a sample counts as
// sound when measuring where speech ends: about -66 dBFS, far below what a
// person hears, and above the resampler's rounding in espeak-ng's silence.
const soundFloor = 16

// measureWAV reads the duration of a mono 16-bit PCM WAV file and where
// its last sound ends.
func measureWAV(path string) (Spoken, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Spoken{}, fmt.Errorf("read: %w", err)
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return Spoken{}, ErrAudioFormat
	}
	rate := 0
	for i := 12; i+8 <= len(b); {
		id, n := string(b[i:i+4]), int(binary.LittleEndian.Uint32(b[i+4:]))
		body := b[i+8:]
		if n < 0 || n > len(body) {
			n = len(body) // a header that overstates: read what is there
		}
		body = body[:n]
		switch id {
		case "fmt ":
			if n < 16 || binary.LittleEndian.Uint16(body) != 1 || binary.LittleEndian.Uint16(body[2:]) != 1 || binary.LittleEndian.Uint16(body[14:]) != 16 {
				return Spoken{}, ErrAudioFormat
			}
			rate = int(binary.LittleEndian.Uint32(body[4:]))
		case "data":
			if rate <= 0 {
				return Spoken{}, ErrAudioFormat
			}
			samples := n / 2
			last := -1
			for j := samples - 1; j >= 0; j-- {
				if v := int16(binary.LittleEndian.Uint16(body[2*j:])); v > soundFloor || v < -soundFloor {
					last = j
					break
				}
			}
			at := func(n int) time.Duration { return time.Duration(n) * time.Second / time.Duration(rate) }
			return Spoken{Length: at(samples), Sound: at(last + 1)}, nil
		}
		i += 8 + n + n%2
	}
	return Spoken{}, ErrAudioFormat
}

// MachineSilenceWait is the longest the heed-amd dialplan context waits,
// after detection's MACHINE verdict, for 1.2 s of silence (the beep's
// end) before heed plays the voicemail version: WaitForSilence(1200,1,20)
// in asterisk/pbx/extensions.conf.
const MachineSilenceWait = 20 * time.Second

// Allowances in a call's timing for the steps between its audio files,
// beyond the files themselves. On the testbed (asterisk/README.md; see
// TestDisclosureHeardInTime) heed's opening reached the callee 20-24 ms
// after the answer, and each file followed the one before without a gap
// (up to 80 ms early: the end of a file's trailing silence is not
// played); these are margins over that, for a loaded machine and a real
// network.
const (
	// playStart is from the answer to the first sound of heed's audio
	// reaching the person.
	playStart = 250 * time.Millisecond
	// playGap is from the end of one audio file to the start of the
	// next.
	playGap = 100 * time.Millisecond
)

// menuPause is the pause, in seconds, after the menu for the person to
// press a key.
const menuPause = 4

// Errors of the timing of a call (CallText.Timer).
var (
	// ErrDetection reports calls that answering-machine detection may
	// run on: a person it takes for a machine (silent for the initial
	// silence, or saying more than its maximum of words) hears the
	// voicemail version, after detection, the dialplan's wait for silence
	// (up to MachineSilenceWait) and heed's voicemail opening, so no
	// message bounds when that person hears it.
	ErrDetection = errors.New("answering-machine detection runs on heed's calls (an Asterisk has an AMD context, HEED_AMD_CONTEXT): " +
		"a person it takes for a machine (silent at first, or saying more than a few words) hears the voicemail version, " +
		"after detection, a wait of up to 20 s for silence and heed's voicemail opening, so the call's time cannot be bounded")
	// ErrRecordedMessage reports a message that is an uploaded recording:
	// heed does not know what it says when, so it cannot time it.
	ErrRecordedMessage = errors.New("the message is an uploaded recording, which heed cannot time: it cannot tell when the recording says what")
	// ErrPerContact reports a message that says a contact's fields (a
	// template), which differ for each contact, and so does its timing.
	ErrPerContact = errors.New("the message says a contact's fields there ({name}, {date}, ...), so its timing differs for each contact")
)

// Timer returns the timing of campaign c's calls, whose text is t around
// message (CallText.Call), as the pacer plays them: heed's opening, the
// message, the menu and its pause, the closing, each a file of its own,
// rendered by m as the call renders it. detection reports that
// answering-machine detection may run on the calls (an Asterisk with an
// AMD context): the calls cannot be timed then (ErrDetection), since a
// person detection takes for a machine hears the voicemail version after
// an unbounded wait. The message cannot be timed when it is a recording
// (c.Audio), or past a contact's field it says.
func (t CallText) Timer(ctx context.Context, m Measurer, c Campaign, message string, detection bool) consent.Speech {
	return &callTimer{ctx: ctx, m: m, texts: t.played(message), recorded: c.Audio != "", detection: detection,
		lead: []consent.TimingPart{{What: "heed's start", Took: playStart}}}
}

// played are the texts of a call, in the order it plays them, each its
// own file: the opening, the message, the menu (then its pause) and the
// closing.
func (t CallText) played(message string) []string {
	return []string{t.Opening, message, t.Menu, t.Closing}
}

// The indexes of callTimer.texts.
const (
	playedOpening = iota
	playedMessage
	playedMenu
)

// playedNames name the texts of a call, as played.
var playedNames = []string{"heed's opening", "the message", "heed's menu", "heed's closing"}

// callTimer is CallText.Timer's consent.Speech.
type callTimer struct {
	// ctx bounds the rendering: the launch check's.
	ctx      context.Context
	m        Measurer
	texts    []string
	recorded bool
	// detection reports that answering-machine detection may run on the
	// call: nothing in it can be timed (ErrDetection).
	detection bool
	lead      []consent.TimingPart
}

// Said returns when the call has said its text (CallText.Call) up to byte
// offset end: the whole files before the one that holds end, with the
// allowances between them, and the last sound of that file's text up to
// end.
func (ct *callTimer) Said(end int) (consent.Timing, error) {
	tm := consent.Timing{Parts: append([]consent.TimingPart(nil), ct.lead...)}
	add := func(what string, d time.Duration) {
		tm.Parts = append(tm.Parts, consent.TimingPart{What: what, Took: d})
		tm.At += d
	}
	for _, p := range ct.lead {
		tm.At += p.Took
	}
	if ct.detection {
		return tm, ErrDetection
	}
	if ct.m == nil {
		return tm, fmt.Errorf("heed has no measure of its speech configured: %w", ErrNoTTS)
	}
	off := 0
	for i, text := range ct.texts {
		// text is Call's [off, off+len(text)), then a space.
		last := i == len(ct.texts)-1
		if end <= off+len(text)+1 || last {
			prefix := strings.TrimSpace(text[:min(max(end-off, 0), len(text))])
			if prefix == "" {
				return tm, nil
			}
			if err := ct.timable(i, prefix); err != nil {
				return tm, err
			}
			s, err := ct.m.Measure(ct.ctx, prefix)
			if err != nil {
				return tm, fmt.Errorf("%s: %w", playedNames[i], err)
			}
			what := playedNames[i]
			if prefix != strings.TrimSpace(text) {
				what += fmt.Sprintf(" up to %q", tail(prefix))
			}
			add(what, s.Sound)
			return tm, nil
		}
		if err := ct.timable(i, text); err != nil {
			return tm, err
		}
		s, err := ct.m.Measure(ct.ctx, text)
		if err != nil {
			return tm, fmt.Errorf("%s: %w", playedNames[i], err)
		}
		add(playedNames[i], s.Length)
		if i == playedMenu {
			add("the step to the next file", playGap)
			add("the menu's pause", menuPause*time.Second)
		}
		add("the step to the next file", playGap)
		off += len(text) + 1
	}
	return tm, nil
}

// timable returns an error when the call's text i, up to the part said,
// cannot be timed.
func (ct *callTimer) timable(i int, said string) error {
	if i != playedMessage {
		return nil
	}
	if ct.recorded {
		return ErrRecordedMessage
	}
	if strings.Contains(said, "{") {
		return ErrPerContact
	}
	return nil
}

// tail returns the last few words of text, to name where a part ends.
func tail(text string) string {
	w := strings.Fields(text)
	if len(w) <= 4 {
		return text
	}
	return "…" + strings.Join(w[len(w)-4:], " ")
}
