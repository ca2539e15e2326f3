package dialer_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
)

// wavSamples reads a mono 16-bit PCM WAV file's samples and rate.
func wavSamples(t *testing.T, path string) ([]int16, int) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "RIFF", string(b[:4]), path)
	rate := 0
	for i := 12; i+8 <= len(b); {
		id, n := string(b[i:i+4]), int(binary.LittleEndian.Uint32(b[i+4:]))
		body := b[i+8 : min(i+8+n, len(b))]
		switch id {
		case "fmt ":
			require.Equal(t, uint16(1), binary.LittleEndian.Uint16(body[2:]), "mono")
			require.Equal(t, uint16(16), binary.LittleEndian.Uint16(body[14:]), "16-bit")
			rate = int(binary.LittleEndian.Uint32(body[4:]))
		case "data":
			out := make([]int16, len(body)/2)
			for j := range out {
				out[j] = int16(binary.LittleEndian.Uint16(body[2*j:]))
			}
			return out, rate
		}
		i += 8 + n + n%2
	}
	t.Fatalf("%s: no data", path)
	return nil, 0
}

// spokenFile returns the host path of the file Media renders text to.
func spokenFile(t *testing.T, m dialer.Media, text string) string {
	t.Helper()
	uri, err := m.Speak(context.Background(), text)
	require.NoError(t, err)
	return filepath.Join(m.HostDir, filepath.Base(strings.TrimPrefix(uri, "sound:"))+".wav")
}

// silent reports whether samples [from, to) hold no sound (every sample
// within ±16).
func silent(x []int16, from, to int) bool {
	for _, v := range x[from:min(to, len(x))] {
		if v > 16 || v < -16 {
			return false
		}
	}
	return true
}

// TestMeasureSpeech: Measure reads the length of the very file a call
// plays for a text and where its last sound ends; a text's first
// sentence rendered alone ends its sound where the whole text pauses after
// that sentence, so timing a call to the end of a sentence by rendering
// the text up to it is timing the call's own audio.
func TestMeasureSpeech(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := dialer.Media{HostDir: t.TempDir(), AsteriskDir: "/media"}
	const first, whole = "We are calling about your claim.", "We are calling about your claim. Would you like to continue, end this call, or be removed from our list?"

	s, err := m.Measure(ctx, whole)
	require.NoError(t, err)
	x, rate := wavSamples(t, spokenFile(t, m, whole))
	require.Equal(t, 8000, rate)
	require.Equal(t, time.Duration(len(x))*time.Second/8000, s.Length, "the length of the file the call plays")
	require.Less(t, s.Sound, s.Length, "espeak-ng ends on silence")
	end := int(s.Sound * 8000 / time.Second)
	require.False(t, silent(x, end-80, end), "sound up to Sound")
	require.True(t, silent(x, end, len(x)), "silence after it")

	f, err := m.Measure(ctx, first)
	require.NoError(t, err)
	require.Greater(t, f.Sound, time.Second)
	at := int(f.Sound * 8000 / time.Second)
	t.Logf("%q: %.3f s of sound, %.3f s of file; within %q, the pause after it starts at %.3f s", first, f.Sound.Seconds(), f.Length.Seconds(), whole, float64(at)/8000)
	require.False(t, silent(x, at-80, at), "the whole text says the sentence's last sound up to there")
	require.True(t, silent(x, at, at+int(0.3*8000)), "and pauses after it")

	_, err = m.Measure(ctx, "  ")
	require.ErrorIs(t, err, dialer.ErrEmptyText)
	// A cached file that is not heed's audio is not measured as any.
	sum := sha256.Sum256([]byte("tts1\x00broken"))
	bad := filepath.Join(m.HostDir, "tts-"+hex.EncodeToString(sum[:12])+".wav")
	require.NoError(t, os.WriteFile(bad, []byte("RIFF\x00\x00\x00\x00WAVEdata\x04\x00\x00\x00\x01\x02\x03\x04"), 0o644))
	_, err = m.Measure(ctx, "broken")
	require.ErrorIs(t, err, dialer.ErrAudioFormat)
}

// TestCallTimer: a call is timed as the pacer plays it: heed's start,
// then each file whole, with the step between files (and the menu's
// pause), up to the file that holds the point timed, whose text is
// rendered up to that point and counted to its last sound. A call that
// detection may run on cannot be timed at all; an uploaded recording, or
// a contact's field, cannot be timed, and the text before them can.
func TestCallTimer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := dialer.Media{HostDir: t.TempDir(), AsteriskDir: "/media"}
	c := dialer.Campaign{Purpose: consent.PurposeTelemarketing, CallerID: "+18605550100"}
	const msg = "We are calling about your claim. Would you like to continue?"
	txt := dialer.Script(c, "Smith and Lee", "+18005550199")
	call := txt.Call(msg)
	measure := func(text string) dialer.Spoken {
		s, err := m.Measure(ctx, text)
		require.NoError(t, err)
		return s
	}
	opening, first, menu := measure(txt.Opening), measure("We are calling about your claim."), measure(txt.Menu)
	const start, gap = 250 * time.Millisecond, 100 * time.Millisecond

	at := func(sp consent.Speech, end int) consent.Timing {
		t.Helper()
		tm, err := sp.Said(end)
		require.NoError(t, err)
		var sum time.Duration
		for _, p := range tm.Parts {
			sum += p.Took
		}
		require.Equal(t, tm.At, sum, "the parts add up")
		return tm
	}
	sp := txt.Timer(ctx, m, c, msg, false)
	firm := strings.Index(call, "Lee") + len("Lee")
	tm := at(sp, firm)
	require.Equal(t, "heed's start", tm.Parts[0].What)
	require.Equal(t, `heed's opening up to "…from Smith and Lee"`, tm.Parts[1].What)
	require.Less(t, tm.At, start+opening.Sound)

	claim := strings.Index(call, "claim.") + len("claim.")
	tm = at(sp, claim)
	require.Equal(t, start+opening.Length+gap+first.Sound, tm.At)
	require.Equal(t, []string{"heed's start", "heed's opening", "the step to the next file", `the message up to "…calling about your claim."`},
		[]string{tm.Parts[0].What, tm.Parts[1].What, tm.Parts[2].What, tm.Parts[3].What})

	// The closing follows the menu's 4 s pause.
	whole := at(sp, len(call))
	require.Greater(t, whole.At, start+opening.Length+gap+measure(msg).Length+gap+menu.Length+gap+4*time.Second+gap)
	require.Contains(t, whole.Breakdown(), "the menu's pause 4.00 s")

	// With detection, nothing can be timed, however short the campaign
	// makes it: a person taken for a machine hears the voicemail version.
	c.AMD.TotalAnalysisTime = 1000
	_, err := txt.Timer(ctx, m, c, msg, true).Said(firm)
	require.ErrorIs(t, err, dialer.ErrDetection)
	c.AMD = dialer.AMDSettings{}

	// A recording, or a field, cannot be timed; heed's opening before it can.
	c.Audio = "upload-0123"
	_, err = txt.Timer(ctx, m, c, msg, false).Said(claim)
	require.ErrorIs(t, err, dialer.ErrRecordedMessage)
	at(txt.Timer(ctx, m, c, msg, false), firm)
	c.Audio = ""
	tmpl := "We are calling about your claim. Would you like to continue, {first_name}?"
	call = txt.Call(tmpl)
	at(txt.Timer(ctx, m, c, tmpl, false), strings.Index(call, "claim.")+len("claim."))
	_, err = txt.Timer(ctx, m, c, tmpl, false).Said(strings.Index(call, "{"))
	require.NoError(t, err, "the text before the field")
	_, err = txt.Timer(ctx, m, c, tmpl, false).Said(strings.Index(call, "}") + 1)
	require.ErrorIs(t, err, dialer.ErrPerContact)
	_, err = txt.Timer(ctx, nil, c, tmpl, false).Said(3)
	require.ErrorIs(t, err, dialer.ErrNoTTS)
}

// TestMachineSilenceWaitIsTheDialplans: after a MACHINE verdict, the
// heed-amd dialplan context waits up to MachineSilenceWait for silence
// before the voicemail version plays, as ErrDetection says.
func TestMachineSilenceWaitIsTheDialplans(t *testing.T) {
	t.Parallel()
	conf, err := fs.ReadFile(asterisk.Config, "pbx/extensions.conf")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^\s*same => n,WaitForSilence\(\d+,\d+,(\d+)\)`).FindSubmatch(conf)
	require.NotNil(t, m, "heed-amd waits for silence after a machine's verdict")
	timeout, err := strconv.Atoi(string(m[1]))
	require.NoError(t, err)
	require.Equal(t, time.Duration(timeout)*time.Second, dialer.MachineSilenceWait)
	require.Contains(t, dialer.ErrDetection.Error(), fmt.Sprintf("up to %d s", timeout))
}
