package dialer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoTTS reports that neither espeak-ng nor flite is installed.
var ErrNoTTS = errors.New("no text-to-speech engine found (install espeak-ng or flite, and sox)")

// Media turns a campaign's message into audio that Asterisk can play. Files
// are written to HostDir, which Asterisk sees as AsteriskDir, and named by
// the hash of their content so each message is rendered once.
type Media struct {
	// HostDir is where heed writes audio files.
	HostDir string
	// AsteriskDir is the same directory as the Asterisk process sees it.
	AsteriskDir string
}

// Audio makes the audio files a call plays and returns the media URIs
// that play them. Media is heed's.
type Audio interface {
	// Speak renders text as speech.
	Speak(ctx context.Context, text string) (string, error)
	// Silence returns a pause of the given number of seconds.
	Silence(ctx context.Context, seconds int) (string, error)
	// Recorded returns the media URI of an uploaded recording, by the
	// name Import gave it.
	Recorded(name string) (string, error)
}

var _ Audio = Media{}

// Speak renders text to an 8 kHz mono WAV with espeak-ng (or flite) and sox,
// and returns the media URI to play it.
func (m Media) Speak(ctx context.Context, text string) (string, error) {
	name, err := m.speak(ctx, text)
	if err != nil {
		return "", err
	}
	return m.uri(name), nil
}

// ErrEmptyText reports text to speak that holds nothing to say.
var ErrEmptyText = errors.New("tts: empty message")

// speak renders text as Speak does and returns the name of its file in
// HostDir (without ".wav").
func (m Media) speak(ctx context.Context, text string) (string, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return "", ErrEmptyText
	}
	sum := sha256.Sum256([]byte("tts1\x00" + text))
	name := "tts-" + hex.EncodeToString(sum[:12])
	final := filepath.Join(m.HostDir, name+".wav")
	if _, err := os.Stat(final); err == nil {
		return name, nil
	}
	if err := os.MkdirAll(m.HostDir, 0o755); err != nil {
		return "", fmt.Errorf("tts: media dir: %w", err)
	}
	raw, err := os.CreateTemp(m.HostDir, name+".raw-*.wav")
	if err != nil {
		return "", fmt.Errorf("tts: temp file: %w", err)
	}
	raw.Close()
	defer os.Remove(raw.Name())
	var synth *exec.Cmd
	if p, err := exec.LookPath("espeak-ng"); err == nil {
		// The text goes on standard input, never among the arguments: a
		// message starting with "-" would be read as an option ("-f FILE"
		// speaks a file, "-w FILE" overwrites one).
		synth = exec.CommandContext(ctx, p, "-v", "en-us", "-s", "150", "-w", raw.Name(), "--stdin")
		synth.Stdin = strings.NewReader(text)
	} else if p, err := exec.LookPath("flite"); err == nil {
		// flite takes the argument after -t as the text, whatever it is.
		synth = exec.CommandContext(ctx, p, "-t", text, "-o", raw.Name())
	} else {
		return "", ErrNoTTS
	}
	if err := run(synth); err != nil {
		return "", fmt.Errorf("tts: synthesise: %w", err)
	}
	if err := m.convert(ctx, raw.Name(), final); err != nil {
		return "", err
	}
	return name, nil
}

// ErrBadAudio reports an uploaded file that is not audio sox can read.
var ErrBadAudio = errors.New("not a WAV or MP3 file that can be played")

// Import converts an uploaded WAV or MP3 file to 8 kHz mono in the media
// directory and returns its name, for URI.
func (m Media) Import(ctx context.Context, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("media: read upload: %w", err)
	}
	sum := sha256.Sum256(b)
	name := "upload-" + hex.EncodeToString(sum[:12])
	if err := os.MkdirAll(m.HostDir, 0o755); err != nil {
		return "", fmt.Errorf("media: dir: %w", err)
	}
	if err := m.convert(ctx, path, filepath.Join(m.HostDir, name+".wav")); err != nil {
		if errors.Is(err, ErrNoTTS) {
			return "", err
		}
		return "", fmt.Errorf("%w: %v", ErrBadAudio, err)
	}
	return name, nil
}

// Recorded returns the media URI of a file made by Import, after checking
// that it is still there.
func (m Media) Recorded(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "/\\") {
		return "", fmt.Errorf("media: bad name %q", name)
	}
	if _, err := os.Stat(filepath.Join(m.HostDir, name+".wav")); err != nil {
		return "", fmt.Errorf("media: recorded message: %w", err)
	}
	return m.uri(name), nil
}

func (m Media) convert(ctx context.Context, in, out string) error {
	sox, err := exec.LookPath("sox")
	if err != nil {
		return fmt.Errorf("media: %w", ErrNoTTS)
	}
	tmp := out + ".tmp.wav"
	if err := run(exec.CommandContext(ctx, sox, in, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", tmp)); err != nil {
		return fmt.Errorf("media: convert %s: %w", filepath.Base(in), err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("media: chmod: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("media: rename: %w", err)
	}
	return nil
}

func (m Media) uri(name string) string { return "sound:" + filepath.Join(m.AsteriskDir, name) }

func run(cmd *exec.Cmd) error {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", filepath.Base(cmd.Path), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Silence returns the media URI of a pause of the given whole seconds,
// made once with sox.
func (m Media) Silence(ctx context.Context, seconds int) (string, error) {
	name := fmt.Sprintf("silence-%ds", seconds)
	final := filepath.Join(m.HostDir, name+".wav")
	if _, err := os.Stat(final); err == nil {
		return m.uri(name), nil
	}
	sox, err := exec.LookPath("sox")
	if err != nil {
		return "", fmt.Errorf("media: %w", ErrNoTTS)
	}
	if err := os.MkdirAll(m.HostDir, 0o755); err != nil {
		return "", fmt.Errorf("media: dir: %w", err)
	}
	tmp := final + ".tmp.wav"
	if err := run(exec.CommandContext(ctx, sox, "-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", tmp, "trim", "0", fmt.Sprint(seconds))); err != nil {
		return "", fmt.Errorf("media: silence: %w", err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return "", fmt.Errorf("media: chmod: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("media: rename: %w", err)
	}
	return m.uri(name), nil
}
