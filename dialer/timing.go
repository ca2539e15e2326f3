package dialer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
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

// DefaultTotalAnalysisTime is the total analysis time, in milliseconds,
// that the heed-amd dialplan context gives answering-machine detection
// when a campaign sets none (HEED_AMD_TOTAL_ANALYSIS_TIME's default in
// asterisk/pbx/extensions.conf).
const DefaultTotalAnalysisTime = 5000

// HumanWait returns the longest answering-machine detection with these
// thresholds keeps a person who answers waiting before heed's audio
// starts. Asterisk's AMD() gives its verdict within its total analysis
// time, whatever it hears: a person who says "hello" and waits is heard
// as one after the greeting and the after-greeting silence (about 1.5 s
// on the testbed), but short sounds (a cough, a "hm?") are neither a
// greeting nor silence, and hold the verdict until the total analysis
// time runs out (NOTSURE, which heed plays as for a person). A person
// AMD takes for a machine hears the voicemail version instead, after the
// dialplan's wait for the beep: this does not bound that.
func (a AMDSettings) HumanWait() time.Duration {
	total := a.TotalAnalysisTime
	if total <= 0 {
		total = DefaultTotalAnalysisTime
	}
	return time.Duration(total) * time.Millisecond
}

// menuPause is the pause, in seconds, after the menu for the person to
// press a key.
const menuPause = 4
