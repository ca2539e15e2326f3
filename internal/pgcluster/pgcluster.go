// Package pgcluster starts a private, throwaway PostgreSQL cluster with the
// machine's own initdb and pg_ctl. `make run`, `make test` and the test
// helpers use it when DATABASE_URL is not set. It is development tooling and
// is never linked into the heed server.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
)

// ErrNoPostgres reports that no PostgreSQL server binaries were found.
var ErrNoPostgres = errors.New("no PostgreSQL server binaries found (install postgresql, or set DATABASE_URL)")

// Cluster is a running throwaway PostgreSQL cluster listening on loopback.
type Cluster struct {
	dir    string
	bindir string
	port   int
	cred   *syscall.Credential
	keep   bool
}

// Options tunes Start. The zero value is a fresh cluster in a temporary
// directory on a free loopback port.
type Options struct {
	// Dir holds the cluster's data. Empty means a new temporary directory,
	// removed by Stop.
	Dir string
	// Port is the loopback TCP port. Zero picks a free one.
	Port int
}

// Start runs initdb and starts the server, waiting until it accepts
// connections. When the process runs as root, the cluster runs as the
// unprivileged "postgres" (or "nobody") user, because initdb refuses root.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bindir, err := findBindir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bindir: bindir, port: opts.Port, keep: opts.Dir != ""}
	if os.Geteuid() == 0 {
		cred, err := unprivileged()
		if err != nil {
			return nil, err
		}
		c.cred = cred
	}
	c.dir = opts.Dir
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "heed-pg-"); err != nil {
			return nil, fmt.Errorf("pgcluster: temp dir: %w", err)
		}
	} else if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return nil, fmt.Errorf("pgcluster: data dir: %w", err)
	}
	if c.cred != nil {
		if err := os.Chown(c.dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, fmt.Errorf("pgcluster: chown %s: %w", c.dir, err)
		}
	}
	if c.port == 0 {
		if c.port, err = freePort(); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(c.dir, "data")
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := c.run(ctx, "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"); err != nil {
			c.cleanup()
			return nil, err
		}
	}
	opts2 := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300", c.port, c.dir)
	if err := c.run(ctx, "pg_ctl", "-D", data, "-l", filepath.Join(c.dir, "postgres.log"), "-o", opts2, "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
		c.cleanup()
		return nil, fmt.Errorf("%w\n%s", err, tail(log, 2000))
	}
	return c, nil
}

// URL returns a connection string for the cluster's "postgres" database.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Port returns the loopback TCP port the cluster listens on.
func (c *Cluster) Port() int { return c.port }

// Stop shuts the server down immediately and removes its data unless the
// caller chose the directory.
func (c *Cluster) Stop() error {
	err := c.run(context.Background(), "pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop")
	c.cleanup()
	return err
}

func (c *Cluster) cleanup() {
	if !c.keep {
		_ = os.RemoveAll(c.dir)
	}
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bindir, name), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgcluster: %s: %w: %s", name, err, tail(out.Bytes(), 2000))
	}
	return nil
}

func findBindir() (string, error) {
	if d := os.Getenv("HEED_PG_BINDIR"); d != "" {
		return d, nil
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", ErrNoPostgres
}

func version(bindir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return v
}

func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("pgcluster: running as root and no unprivileged user (postgres, nobody) to run initdb as")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
