package dialer

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/CyCoreSystems/ari/v5"
)

// ErrNoRecording reports a recording that is not stored.
var ErrNoRecording = errors.New("no such recording")

// recordingName is what a recording may be called: heed names them after
// their channel, so they never need quoting in a path or a URL.
var recordingName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// RecordingPath returns the file of a stored recording in dir. It refuses
// names that are not a recording's.
func RecordingPath(dir, name string) (string, error) {
	if dir == "" || !recordingName.MatchString(name) {
		return "", fmt.Errorf("recording %q: %w", name, ErrNoRecording)
	}
	return filepath.Join(dir, name+".wav"), nil
}

// fetchRecording copies a finished recording from Asterisk (ARI's stored
// recordings) into the recordings directory, deletes it on Asterisk, and
// returns its name.
func (s *Switch) fetchRecording(name string) (string, error) {
	if s.cfg.RecordingsDir == "" {
		return name, nil
	}
	dst, err := RecordingPath(s.cfg.RecordingsDir, name)
	if err != nil {
		return "", err
	}
	base := strings.TrimSuffix(s.cfg.URL, "/")
	u := base + "/recordings/stored/" + url.PathEscape(name) + "/file"
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("recording %s: %w", name, err)
	}
	req.SetBasicAuth(s.cfg.Username, s.cfg.Password)
	resp, err := s.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("recording %s: fetch: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("recording %s: fetch: %s: %w", name, resp.Status, ErrNoRecording)
	}
	if err := os.MkdirAll(s.cfg.RecordingsDir, 0o750); err != nil {
		return "", fmt.Errorf("recording %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(s.cfg.RecordingsDir, name+".part-*")
	if err != nil {
		return "", fmt.Errorf("recording %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		tmp.Close()
		return "", fmt.Errorf("recording %s: copy: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("recording %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("recording %s: %w", name, err)
	}
	if err := s.client.StoredRecording().Delete(ariStoredKey(name)); err != nil {
		s.log.Debug("recording: could not delete it on Asterisk", "recording", name, "err", err)
	}
	return name, nil
}

func ariStoredKey(name string) *ari.Key { return ari.NewKey(ari.StoredRecordingKey, name) }
