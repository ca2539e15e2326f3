package dialer_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dialer"
)

// TestSpeakTakesNoOptions: a message is spoken as its words, whatever it
// starts with. One starting "-f" or "-w" must not make the speech program
// read a file aloud (a secret, into a call) or write over one.
func TestSpeakTakesNoOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := dialer.Media{HostDir: filepath.Join(dir, "media"), AsteriskDir: "/media"}
	secret := filepath.Join(dir, "secret.txt")
	long := strings.Repeat("the database password is hunter two. ", 200)
	require.NoError(t, os.WriteFile(secret, []byte(long), 0o600))

	seconds := func(text string) float64 {
		t.Helper()
		uri, err := m.Speak(context.Background(), text)
		require.NoError(t, err, text)
		wav := filepath.Join(m.HostDir, strings.TrimPrefix(uri, "sound:/media/")+".wav")
		fi, err := os.Stat(wav)
		require.NoError(t, err, "%s: %s", text, uri)
		return float64(fi.Size()-44) / 16000 // 8 kHz, 16-bit mono
	}
	read := seconds("-f" + secret)
	whole := seconds(long)
	require.Greater(t, whole, 60.0, "the secret read aloud takes minutes")
	require.Less(t, read, 15.0, "the message %q is its own words, not the file's", "-f"+secret)

	seconds("-w" + secret)
	got, err := os.ReadFile(secret)
	require.NoError(t, err)
	require.Equal(t, long, string(got), "no file is written over")
}
