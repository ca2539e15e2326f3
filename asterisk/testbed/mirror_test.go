package testbed_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk/testbed"
)

func TestAptMirror(t *testing.T) {
	t.Parallel()

	write := func(t *testing.T, dir, name, text string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	}

	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{
			name: "one-line sources.list",
			files: map[string]string{
				"sources.list": "# comment\ndeb-src http://src.example/debian sid main\ndeb http://security.debian.org/debian-security bookworm-security main\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main\n",
			},
			want: "http://mirror.example/debian",
		},
		{
			name: "deb822 skips security, disabled and third-party stanzas",
			files: map[string]string{
				"sources.list.d/a-node.sources": "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\n",
				"sources.list.d/debian.sources": "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n\n" +
					"Types: deb\nEnabled: no\nURIs: http://disabled.example/debian\n\n" +
					"# a comment\nTypes: deb deb-src\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\nURIs: http://ftp.example.org/debian\nSuites: bookworm\n",
			},
			want: "http://ftp.example.org/debian",
		},
		{
			name: "sources.list comes first; disabled files are ignored",
			files: map[string]string{
				"sources.list":                           "deb http://first.example/debian sid main\n",
				"sources.list.d/debian.sources":          "Types: deb\nURIs: http://second.example/debian\n",
				"sources.list.d/x.list.disabled-by-farm": "deb http://third.example/debian sid main\n",
			},
			want: "http://first.example/debian",
		},
		{
			name:  "nothing usable",
			files: map[string]string{"sources.list.d/google.list": "deb https://packages.cloud.google.com/apt cloud-sdk main\n"},
			want:  "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, text := range tt.files {
				write(t, dir, name, text)
			}
			got, ok := testbed.AptMirror(dir)
			require.Equal(t, tt.want != "", ok)
			require.Equal(t, tt.want, got)
		})
	}
}
