package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/stretchr/testify/require"
)

// TestDockerCompose validates docker-compose.yml the way `docker compose
// config -q` does (with compose-go, the library the docker compose plugin is
// built on), and also with the docker compose CLI when the machine has it.
func TestDockerCompose(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	file := filepath.Join(root, "docker-compose.yml")
	load := func(env []string) error {
		opts, err := cli.NewProjectOptions([]string{file}, cli.WithWorkingDirectory(root), cli.WithEnv(env), cli.WithName("heed"))
		require.NoError(t, err)
		p, err := opts.LoadProject(context.Background())
		if err != nil {
			return err
		}
		names := p.ServiceNames()
		require.ElementsMatch(t, []string{"postgres", "asterisk", "heed"}, names)
		for _, name := range []string{"asterisk", "heed"} {
			svc := p.Services[name]
			require.NotNil(t, svc.Build, name)
			require.FileExists(t, filepath.Join(svc.Build.Context, svc.Build.Dockerfile), name)
		}
		grace := p.Services["heed"].StopGracePeriod
		require.NotNil(t, grace, "heed needs longer than Docker's 10 s to stop")
		require.GreaterOrEqual(t, time.Duration(*grace), 90*time.Second, "the web server's 45 s, the calls' 30 s, and what is left to record")
		readme, err := os.ReadFile(filepath.Join(root, "README.md"))
		require.NoError(t, err)
		for k := range p.Services["heed"].Environment {
			if strings.HasPrefix(k, "HEED_") {
				require.Contains(t, string(readme), "`"+k+"`", "%s is set in docker-compose.yml but not documented", k)
			}
		}
		return nil
	}
	require.NoError(t, load([]string{"POSTGRES_PASSWORD=secret", "HEED_ARI_PASSWORD=secret", "HEED_FIRM_NAME=Smith & Lee LLP"}))
	err = load(nil)
	require.ErrorContains(t, err, "POSTGRES_PASSWORD", "required secrets must be demanded, not defaulted")

	if exec.Command("docker", "compose", "version").Run() == nil {
		cmd := exec.Command("docker", "compose", "-f", file, "config", "-q")
		cmd.Env = append(os.Environ(), "POSTGRES_PASSWORD=secret", "HEED_ARI_PASSWORD=secret", "HEED_FIRM_NAME=Smith & Lee LLP")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "docker compose config -q: %s", out)
	}
}
