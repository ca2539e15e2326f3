// Command heed-dev brings up heed's whole local stack for `make run`: a
// throwaway PostgreSQL cluster, the Asterisk testbed (a PBX and a PSTN
// simulator on loopback; -pbxes N runs N PBXes), the migrations, the demo
// data with a first admin, and `heed serve` on http://127.0.0.1:8080. It stops everything on Ctrl-C.
// With "exec -- CMD...", it runs CMD with DATABASE_URL pointing at a
// throwaway cluster instead (used by `make test`).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/heed-dialer/heed/asterisk/testbed"
	"github.com/heed-dialer/heed/internal/pgcluster"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "heed-dev:", err)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			os.Exit(ee.ExitCode())
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "exec" {
		return execWithDB(ctx, args[1:])
	}
	fs := flag.NewFlagSet("heed-dev", flag.ContinueOnError)
	heedBin := fs.String("heed", "bin/heed", "the heed binary to run")
	listen := fs.String("listen", envOr("HEED_LISTEN", "127.0.0.1:8080"), "address for the web UI")
	verbose := fs.Bool("v", false, "show Asterisk's console output")
	pbxes := fs.Int("pbxes", 1, "how many PBX Asterisks to run, sharing the PSTN simulator; heed dials through all of them (HEED_ASTERISKS)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	env := os.Environ()
	if os.Getenv("DATABASE_URL") == "" {
		fmt.Println("starting a throwaway PostgreSQL cluster...")
		pg, err := pgcluster.Start(ctx, pgcluster.Options{})
		if err != nil {
			return err
		}
		defer pg.Stop() //nolint:errcheck // best effort at exit
		env = append(env, "DATABASE_URL="+pg.URL())
	}
	fmt.Println("starting the Asterisk testbed (the first run builds a Debian root: about a minute)...")
	var tbLog io.Writer
	if *verbose {
		tbLog = os.Stderr
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	tb, err := testbed.Start(sctx, testbed.Options{Log: tbLog, PBXCount: *pbxes})
	cancel()
	if err != nil {
		return err
	}
	defer tb.Close() //nolint:errcheck // best effort at exit
	dncDir, err := os.MkdirTemp("", "heed-dnc-")
	if err != nil {
		return fmt.Errorf("dnc directory: %w", err)
	}
	defer os.RemoveAll(dncDir)
	env = append(env,
		"HEED_DNC_DIR="+dncDir,
		"HEED_LISTEN="+*listen,
		"HEED_ARI_URL="+tb.ARIURL,
		"HEED_ARI_USER="+tb.ARIUser,
		"HEED_ARI_PASSWORD="+tb.ARIPassword,
		"HEED_ARI_APP="+tb.Application,
		"HEED_TRUNK="+tb.Trunk,
		"HEED_AMD_CONTEXT="+tb.AMDContext,
		"HEED_MEDIA_DIR="+tb.HostMediaDir,
		"HEED_ASTERISK_MEDIA_DIR="+tb.AsteriskMediaDir,
		"HEED_FIRM_NAME="+envOr("HEED_FIRM_NAME", "Demo Law Firm"),
		"HEED_OPTOUT_NUMBER="+envOr("HEED_OPTOUT_NUMBER", "+18005550199"),
		"HEED_RECORDINGS_DIR="+envOr("HEED_RECORDINGS_DIR", filepath.Join(tb.Dir, "recordings")),
	)
	if len(tb.PBXes) > 1 {
		var list []string
		for _, p := range tb.PBXes {
			list = append(list, p.Name+"="+p.ARIURL)
		}
		env = append(env, "HEED_ASTERISKS="+strings.Join(list, ","))
	}
	for _, step := range [][]string{{"migrate"}, {"demo"}} {
		if err := runCmd(ctx, env, *heedBin, step...); err != nil {
			return err
		}
	}
	fmt.Printf("\nheed: http://%s   (PSTN simulator CDR: %s)\nCtrl-C stops everything.\n\n", *listen, tb.Dir)
	err = runCmd(ctx, env, *heedBin, "serve")
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// execWithDB runs a command with DATABASE_URL set to a throwaway cluster.
func execWithDB(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return errors.New("usage: heed-dev exec -- COMMAND [ARGS...]")
	}
	env := os.Environ()
	if os.Getenv("DATABASE_URL") == "" {
		pg, err := pgcluster.Start(ctx, pgcluster.Options{})
		if err != nil {
			return err
		}
		defer pg.Stop() //nolint:errcheck // best effort at exit
		env = append(env, "DATABASE_URL="+pg.URL())
	}
	return runCmd(ctx, env, args[0], args[1:]...)
}

func runCmd(ctx context.Context, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
