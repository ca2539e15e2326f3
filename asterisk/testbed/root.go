package testbed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

const (
	// rootName is the root's directory in the cache. Change its version
	// when the root's contents must change, so that caches are rebuilt.
	rootName = "asterisk-root-v1"
	// suite is the Debian suite with the Asterisk we want.
	suite = "sid"
	// fallbackMirror is the mirror used when nothing else is configured.
	fallbackMirror = "http://deb.debian.org/debian"
	// buildTimeout bounds one debootstrap run.
	buildTimeout = 15 * time.Minute
)

// ensureRoot returns the Debian root with Asterisk in cacheDir, building it
// with debootstrap from mirror if it is missing. Builds are serialized across
// processes with a lock file, and a root appears atomically (rename) only
// once complete.
func ensureRoot(ctx context.Context, cacheDir, mirror string, out *output) (string, error) {
	root := filepath.Join(cacheDir, rootName)
	if rootComplete(root) {
		return root, nil
	}
	if isNotRoot() {
		return "", fmt.Errorf("%w: there is no Asterisk root at %s yet; build it once as root (any test run as root does), or point HEED_CACHE_DIR at a cache that has one", ErrNeedRoot, root)
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("testbed: creating cache directory: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cacheDir, rootName+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if rootComplete(root) { // another process built it while we waited
		return root, nil
	}
	if err := removeStaleBuilds(cacheDir); err != nil {
		return "", err
	}

	debootstrap, err := exec.LookPath("debootstrap")
	if err != nil {
		return "", fmt.Errorf("testbed: building the Asterisk root needs debootstrap (apt-get install debootstrap): %w", err)
	}
	tmp, err := os.MkdirTemp(cacheDir, rootName+".tmp-")
	if err != nil {
		return "", fmt.Errorf("testbed: creating build directory: %w", err)
	}
	built := false
	defer func() {
		if !built {
			_ = removeIfUnmounted(tmp)
		}
	}()

	buildCtx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(buildCtx, debootstrap, "--variant=minbase", "--include=asterisk", suite, tmp, mirror)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	// debootstrap mounts /proc and /sys inside the new root while it works.
	// Private mount and PID namespaces make those mounts, and every process
	// it starts, vanish with it even when it is killed half-way.
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:   syscall.CLONE_NEWPID,
		Unshareflags: syscall.CLONE_NEWNS,
		Pdeathsig:    syscall.SIGKILL,
	}
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("testbed: debootstrap %s from %s failed after %s: %w\n--- last lines of debootstrap output ---\n%s",
			suite, mirror, time.Since(start).Round(time.Second), err, out.tail(30))
	}
	if _, err := os.Stat(filepath.Join(tmp, "usr", "sbin", "asterisk")); err != nil {
		return "", fmt.Errorf("testbed: debootstrap finished but installed no asterisk: %w", err)
	}
	// Testbed instances live in ROOT/run/heed; sticky and world-writable
	// so that users without root can run testbeds in a root built by root.
	runDir := filepath.Join(tmp, "run", "heed")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return "", fmt.Errorf("testbed: creating %s: %w", runDir, err)
	}
	if err := os.Chmod(runDir, 0o777|os.ModeSticky); err != nil {
		return "", fmt.Errorf("testbed: chmod %s: %w", runDir, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("testbed: chmod %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, root); err != nil {
		return "", fmt.Errorf("testbed: moving the new root into place: %w", err)
	}
	built = true
	out.tb.logLine("testbed", fmt.Sprintf("built %s in %s", root, time.Since(start).Round(time.Second)))
	return root, nil
}

// rootComplete reports whether root is a finished Asterisk root.
func rootComplete(root string) bool {
	for _, p := range []string{"usr/sbin/asterisk", "run/heed", "bin/sh"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			return false
		}
	}
	return true
}

// removeStaleBuilds removes build directories left by interrupted builds.
// The caller holds the build lock, so no build is running.
func removeStaleBuilds(cacheDir string) error {
	stale, err := filepath.Glob(filepath.Join(cacheDir, rootName+".tmp-*"))
	if err != nil {
		return fmt.Errorf("testbed: looking for stale builds: %w", err)
	}
	for _, dir := range stale {
		if err := removeIfUnmounted(dir); err != nil {
			return err
		}
	}
	return nil
}

// removeIfUnmounted removes dir unless something is mounted inside it.
func removeIfUnmounted(dir string) error {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	if len(mounts) > 0 {
		return fmt.Errorf("testbed: not removing %s: mounts inside it: %s", dir, strings.Join(mounts, ", "))
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("testbed: removing %s: %w", dir, err)
	}
	return nil
}

// lockFile takes an exclusive flock on path, waiting as long as ctx allows,
// and returns the function that releases it.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("testbed: opening lock file: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("testbed: locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("testbed: waiting for another process to build the Asterisk root (%s): %w", path, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// defaultMirror returns $HEED_DEBIAN_MIRROR, else the first Debian mirror in
// the machine's apt sources, else fallbackMirror.
func defaultMirror() string {
	if m := os.Getenv("HEED_DEBIAN_MIRROR"); m != "" {
		return m
	}
	if m, ok := aptMirror("/etc/apt"); ok {
		return m
	}
	return fallbackMirror
}

// aptMirror returns the first non-security Debian archive URI among the apt
// sources in aptDir: sources.list, then sources.list.d/*.list and *.sources
// in name order, in one-line or deb822 format.
func aptMirror(aptDir string) (string, bool) {
	files := []string{filepath.Join(aptDir, "sources.list")}
	entries, err := os.ReadDir(filepath.Join(aptDir, "sources.list.d"))
	if err == nil {
		var names []string
		for _, e := range entries {
			if n := e.Name(); !e.IsDir() && (strings.HasSuffix(n, ".list") || strings.HasSuffix(n, ".sources")) {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			files = append(files, filepath.Join(aptDir, "sources.list.d", n))
		}
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		var uris []string
		if strings.HasSuffix(file, ".sources") {
			uris = deb822URIs(string(data))
		} else {
			uris = oneLineURIs(string(data))
		}
		for _, u := range uris {
			if isDebianMirror(u) {
				return strings.TrimRight(u, "/"), true
			}
		}
	}
	return "", false
}

// oneLineURIs returns the URIs of the "deb" lines of a one-line-style
// sources.list.
func oneLineURIs(text string) []string {
	var uris []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != "deb" {
			continue
		}
		rest := fields[1:]
		if strings.HasPrefix(rest[0], "[") { // options: [arch=amd64 signed-by=...]
			for len(rest) > 0 && !strings.HasSuffix(rest[0], "]") {
				rest = rest[1:]
			}
			if len(rest) > 0 {
				rest = rest[1:]
			}
		}
		if len(rest) > 0 {
			uris = append(uris, rest[0])
		}
	}
	return uris
}

// deb822URIs returns the URIs of the enabled "deb" stanzas of a
// deb822-style .sources file.
func deb822URIs(text string) []string {
	var uris []string
	flush := func(fields map[string]string) {
		if !strings.Contains(" "+fields["types"]+" ", " deb ") || strings.EqualFold(fields["enabled"], "no") {
			return
		}
		uris = append(uris, strings.Fields(fields["uris"])...)
	}
	fields := map[string]string{}
	last := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush(fields)
			fields, last = map[string]string{}, ""
		case strings.HasPrefix(line, "#"):
		case line[0] == ' ' || line[0] == '\t': // continuation line
			if last != "" {
				fields[last] += " " + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			fields[last] = strings.TrimSpace(v)
		}
	}
	flush(fields)
	return uris
}

// isDebianMirror reports whether uri looks like a Debian archive mirror
// that debootstrap can use for sid: not the security archive, ports or debug
// archives, nor a third-party repository.
func isDebianMirror(uri string) bool {
	u := strings.ToLower(uri)
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "file:/") {
		return false
	}
	if !strings.Contains(u, "debian") {
		return false
	}
	for _, bad := range []string{"security", "debian-ports", "debian-debug", "archive.debian.org"} {
		if strings.Contains(u, bad) {
			return false
		}
	}
	return true
}
