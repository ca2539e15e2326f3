// Package testbed runs real Asterisk on loopback for heed's tests: a PBX that
// heed drives over ARI, configured exactly like production (asterisk/pbx), and
// a PSTN simulator (asterisk/pstn) behind the PBX's SIP trunk, whose callees
// behave according to the last two digits of the dialed number (see
// asterisk/README.md). The simulator's CDR is an independent witness of what
// was really dialed.
//
// Asterisk comes from Debian unstable. The first Start builds a minimal Debian
// root with debootstrap into the cache directory (about a minute and 500 MB;
// it needs root and network access to a Debian mirror); later Starts reuse it
// and take about a second. Each Testbed runs its two Asterisk processes
// chrooted into that root, in private mount and PID namespaces so that nothing
// outlives them, with their own configuration, ports and directories, so
// several testbeds can run at once.
package testbed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/heed-dialer/heed/asterisk"
)

// ErrNeedRoot is returned by Start when the Asterisk root has not been built
// yet and the process is not running as root, which building requires.
var ErrNeedRoot = errors.New("testbed: building the Asterisk root needs root privileges")

// ErrStart is returned (wrapped) by Start when an Asterisk process fails to
// come up; the error text includes the tail of its console output.
var ErrStart = errors.New("testbed: asterisk did not start")

// ErrClosed is returned by methods called after Close.
var ErrClosed = errors.New("testbed: closed")

const (
	// application is the ARI application name the PBX's dialplan uses.
	application = "heed"
	// trunkFormat is the originate endpoint for a number over the trunk.
	trunkFormat = "PJSIP/%s@pstn"
	// amdContext is the PBX dialplan context that runs AMD before Stasis.
	amdContext = "heed-amd"
	// defaultARIUser is the ARI user name unless Options say otherwise.
	defaultARIUser = "heed"
	// readyTimeout bounds the wait for both Asterisks once they are started.
	readyTimeout = 30 * time.Second
	// ariAfterReady bounds the wait for ARI once the PBX has booted.
	ariAfterReady = 5 * time.Second
	// instancesDir is where per-testbed directories live inside the root.
	instancesDir = "/run/heed"
	// rtpPorts is the size of each Asterisk's RTP port range.
	rtpPorts = 400
)

// Options configure Start. The zero value is ready to use.
type Options struct {
	// CacheDir is the directory that holds the Debian root with Asterisk.
	// The default is $HEED_CACHE_DIR, else the directory "heed" inside
	// os.UserCacheDir().
	CacheDir string

	// Mirror is the Debian mirror debootstrap downloads from when the root
	// must be built. The default is $HEED_DEBIAN_MIRROR, else the first
	// non-security Debian URI in the machine's apt sources, else
	// http://deb.debian.org/debian.
	Mirror string

	// ARIPort is the PBX's HTTP (ARI) port on 127.0.0.1; 0 picks a free one.
	ARIPort int

	// PBXSIPPort is the PBX's SIP (UDP) port on 127.0.0.1; 0 picks a free
	// one.
	PBXSIPPort int

	// PSTNSIPPort is the PSTN simulator's SIP (UDP) port on 127.0.0.1; 0
	// picks a free one.
	PSTNSIPPort int

	// ARIUser is the ARI user name; the default is "heed".
	ARIUser string

	// ARIPassword is the ARI password; the default is a random one.
	ARIPassword string

	// PBXCount is how many PBXes share the PSTN simulator; 0 means 1.
	// The first is the one the Testbed's ARIURL and the like describe;
	// every one is listed in Testbed.PBXes. Extra PBXes get free ports.
	PBXCount int

	// Log, when not nil, receives the console output of both Asterisks
	// (and of debootstrap while the root is built), one line at a time,
	// each prefixed with "pbx: ", "pstn: " or "debootstrap: ".
	Log io.Writer
}

// Testbed is a running pair of Asterisks: the PBX and the PSTN simulator.
// Its exported fields describe how to reach them and must not be changed.
type Testbed struct {
	// ARIURL is the base URL of the PBX's ARI REST interface, such as
	// http://127.0.0.1:40123/ari.
	ARIURL string

	// WebsocketURL is the URL of the PBX's ARI event websocket, such as
	// ws://127.0.0.1:40123/ari/events.
	WebsocketURL string

	// ARIUser is the ARI user name.
	ARIUser string

	// ARIPassword is the ARI password.
	ARIPassword string

	// Application is the ARI (Stasis) application name, "heed".
	Application string

	// Trunk is the format of the endpoint to originate a call to a number
	// over the SIP trunk, "PJSIP/%s@pstn"; see also Endpoint.
	Trunk string

	// AMDContext is the PBX dialplan context, "heed-amd", that runs
	// answering-machine detection on an answered call (originate into it at
	// extension "s", priority 1) and then hands the call to Stasis with the
	// arguments "amd", AMDSTATUS and AMDCAUSE.
	AMDContext string

	// HostMediaDir is a directory, on this machine, where heed may write
	// audio files for the PBX to play.
	HostMediaDir string

	// AsteriskMediaDir is HostMediaDir as the PBX sees it: a file
	// HostMediaDir/hello.wav is played with the ARI media URI
	// "sound:" + AsteriskMediaDir + "/hello".
	AsteriskMediaDir string

	// ARIPort is the PBX's HTTP (ARI) port on 127.0.0.1.
	ARIPort int

	// PBXSIPPort is the PBX's SIP (UDP) port on 127.0.0.1.
	PBXSIPPort int

	// PSTNSIPPort is the PSTN simulator's SIP (UDP) port on 127.0.0.1.
	PSTNSIPPort int

	// Root is the Debian root (on this machine) that Asterisk runs in.
	Root string

	// PBXes lists every PBX, the first being the one described above.
	// They share the ARI credentials, the application name, the trunk
	// format, the dialplan and the media directory.
	PBXes []PBX

	// Dir is this testbed's own directory inside Root, on this machine. It
	// holds the rendered configuration, logs, CDRs, recordings and media of
	// both Asterisks and is removed by Close.
	Dir string

	logMu  sync.Mutex // serializes writes to log
	log    io.Writer
	lock   *os.File    // flocked while the testbed lives; see claimDir
	pbx    *instance   // the first PBX, pbxes[0]
	pbxes  []*instance // every PBX
	pstn   *instance
	closed chan struct{}

	restartMu sync.Mutex // one StopPBX or StartPBX at a time

	closeOnce sync.Once
	closeErr  error
}

// PBX describes how to reach one PBX of a testbed.
type PBX struct {
	// Name names the PBX: "pbx" for the first, then "pbx2", "pbx3"...
	Name string
	// ARIURL is the base URL of its ARI REST interface.
	ARIURL string
	// WebsocketURL is the URL of its ARI event websocket.
	WebsocketURL string
	// ARIPort is its HTTP (ARI) port on 127.0.0.1.
	ARIPort int
	// SIPPort is its SIP (UDP) port on 127.0.0.1.
	SIPPort int
}

// Start starts a testbed: it builds the Debian root if the cache has none,
// renders the configuration into a fresh directory, starts the PBX and the
// PSTN simulator and waits until the PBX's ARI answers and both have finished
// booting. ctx bounds the whole start-up, including building the root; it
// does not limit the testbed's life, which ends with Close. On failure
// nothing is left running and the error includes the tail of Asterisk's
// output.
func Start(ctx context.Context, opts Options) (*Testbed, error) {
	opts, err := withDefaults(opts)
	if err != nil {
		return nil, err
	}
	tb := &Testbed{
		ARIUser:     opts.ARIUser,
		ARIPassword: opts.ARIPassword,
		Application: application,
		Trunk:       trunkFormat,
		AMDContext:  amdContext,
		log:         opts.Log,
		closed:      make(chan struct{}),
	}

	root, err := ensureRoot(ctx, opts.CacheDir, opts.Mirror, tb.newOutput("debootstrap"))
	if err != nil {
		return nil, err
	}
	tb.Root = root

	if err := tb.pickPorts(opts); err != nil {
		return nil, err
	}
	tb.ARIURL = fmt.Sprintf("http://127.0.0.1:%d/ari", tb.ARIPort)
	tb.WebsocketURL = fmt.Sprintf("ws://127.0.0.1:%d/ari/events", tb.ARIPort)
	tb.PBXes = []PBX{{Name: "pbx", ARIURL: tb.ARIURL, WebsocketURL: tb.WebsocketURL, ARIPort: tb.ARIPort, SIPPort: tb.PBXSIPPort}}
	if err := tb.pickExtraPBXes(opts.PBXCount); err != nil {
		return nil, err
	}

	id, err := randomHex(6)
	if err != nil {
		return nil, err
	}
	chrootDir := path.Join(instancesDir, id)
	tb.Dir = filepath.Join(root, filepath.FromSlash(chrootDir))
	tb.AsteriskMediaDir = path.Join(chrootDir, "pbx", "media")
	tb.HostMediaDir = filepath.Join(tb.Dir, "pbx", "media")

	modDir, err := moduleDir(root)
	if err != nil {
		return nil, err
	}
	rtpBase, err := rtpBase()
	if err != nil {
		return nil, err
	}
	common := map[string]string{
		"MOD_DIR":       modDir,
		"VERBOSE":       "3",
		"HTTP_BIND":     "127.0.0.1",
		"SIP_BIND":      "127.0.0.1",
		"MEDIA_ADDRESS": "127.0.0.1",
		"TRUNK_HOST":    "127.0.0.1",
		"TRUNK_PORT":    strconv.Itoa(tb.PSTNSIPPort),
		"ARI_PORT":      strconv.Itoa(tb.ARIPort),
		"ARI_USER":      tb.ARIUser,
		"ARI_PASSWORD":  tb.ARIPassword,
	}
	tb.pstn = &instance{name: "pstn", conf: "pstn", chrootDir: path.Join(chrootDir, "pstn")}
	vars := map[*instance]map[string]string{
		tb.pstn: {"SIP_PORT": strconv.Itoa(tb.PSTNSIPPort), "RTP_START": strconv.Itoa(rtpBase + rtpPorts), "RTP_END": strconv.Itoa(rtpBase + 2*rtpPorts - 1)},
	}
	for i, p := range tb.PBXes {
		in := &instance{name: p.Name, conf: "pbx", chrootDir: path.Join(chrootDir, p.Name), ariURL: p.ARIURL}
		// The first PBX's RTP ports are below the PSTN's, extra ones above.
		start := rtpBase
		if i > 0 {
			start = rtpBase + (i+1)*rtpPorts
		}
		vars[in] = map[string]string{"SIP_PORT": strconv.Itoa(p.SIPPort), "ARI_PORT": strconv.Itoa(p.ARIPort),
			"RTP_START": strconv.Itoa(start), "RTP_END": strconv.Itoa(start + rtpPorts - 1)}
		tb.pbxes = append(tb.pbxes, in)
	}
	tb.pbx = tb.pbxes[0]

	if err := tb.claimDir(); err != nil {
		return nil, err
	}
	removeStaleInstances(filepath.Dir(tb.Dir), id)
	for _, in := range tb.all() {
		in.hostDir = filepath.Join(root, filepath.FromSlash(in.chrootDir))
		in.out = tb.newOutput(in.name)
		v := map[string]string{}
		for k, val := range common {
			v[k] = val
		}
		for k, val := range vars[in] {
			v[k] = val
		}
		if err := in.prepare(v); err != nil {
			return nil, errors.Join(err, tb.Close())
		}
	}

	// The PSTN goes first so that the PBX finds its trunk's far end up.
	for _, in := range append([]*instance{tb.pstn}, tb.pbxes...) {
		if err := in.start(root); err != nil {
			return nil, errors.Join(err, tb.Close())
		}
	}

	readyCtx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := tb.waitReady(readyCtx); err != nil {
		err = fmt.Errorf("testbed in %s: %w\n%s", tb.Dir, err, tb.tails(40))
		return nil, errors.Join(err, tb.Close())
	}
	return tb, nil
}

// Endpoint returns the ARI originate endpoint that dials number over the
// SIP trunk, such as "PJSIP/+18605550101@pstn".
func (tb *Testbed) Endpoint(number string) string {
	return fmt.Sprintf(tb.Trunk, number)
}

// Close stops both Asterisks, waits until they and everything in their
// namespaces are gone, checks that no mounts are left and removes Dir. It
// is safe to call more than once.
func (tb *Testbed) Close() error {
	tb.closeOnce.Do(func() {
		close(tb.closed)
		tb.closeErr = tb.close()
	})
	return tb.closeErr
}

func (tb *Testbed) close() error {
	var errs []error
	tb.restartMu.Lock()
	defer tb.restartMu.Unlock()
	for _, in := range tb.all() {
		if err := in.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if tb.Dir != "" {
		mounts, err := mountsUnder(tb.Root)
		switch {
		case err != nil:
			errs = append(errs, err)
		case len(mounts) > 0:
			// Removing a directory with something mounted in it could
			// delete files outside it; leave it for a human.
			errs = append(errs, fmt.Errorf("testbed: mounts left under %s: %s", tb.Root, strings.Join(mounts, ", ")))
		default:
			if err := os.RemoveAll(tb.Dir); err != nil {
				errs = append(errs, fmt.Errorf("testbed: removing %s: %w", tb.Dir, err))
			}
		}
	}
	if tb.lock != nil {
		_ = tb.lock.Close() // releases the flock
	}
	return errors.Join(errs...)
}

// lockName is the file in each instance directory that its testbed keeps
// flocked while it lives, so that other testbeds can tell live instance
// directories from ones left by killed test processes.
const lockName = "lock"

// claimDir creates the testbed's directory and locks it.
func (tb *Testbed) claimDir() error {
	if err := os.MkdirAll(tb.Dir, 0o755); err != nil {
		return fmt.Errorf("testbed: creating instance directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(tb.Dir, lockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("testbed: creating instance lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return fmt.Errorf("testbed: locking instance directory: %w", err)
	}
	tb.lock = f
	return nil
}

// staleAge is how old an instance directory without a lock file must be
// before it counts as abandoned (its testbed may be creating it right now).
const staleAge = time.Minute

// removeStaleInstances removes, as far as it may, the instance directories
// in dir other than self whose testbeds are gone: their processes were
// killed along with the test process that ran them, but nobody removed the
// directory.
func removeStaleInstances(dir, self string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == self {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.Open(filepath.Join(p, lockName))
		if err != nil {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleAge {
				_ = removeIfUnmounted(p)
			}
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			_ = removeIfUnmounted(p)
		}
		_ = f.Close()
	}
}

// waitReady waits until every Asterisk reports that it is fully booted and
// every PBX's ARI accepts the testbed's credentials.
func (tb *Testbed) waitReady(ctx context.Context) error {
	for _, in := range append([]*instance{tb.pstn}, tb.pbxes...) {
		if err := tb.waitInstance(ctx, in); err != nil {
			return err
		}
	}
	return nil
}

// waitInstance waits until one Asterisk has booted and, for a PBX, its ARI
// accepts the testbed's credentials.
func (tb *Testbed) waitInstance(ctx context.Context, in *instance) error {
	select {
	case <-in.out.ready:
	case <-in.done:
		return fmt.Errorf("%w: %s exited during start-up: %v", ErrStart, in.name, in.waitErr)
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for %s to boot: %w", ErrStart, in.name, ctx.Err())
	}
	if in.ariURL == "" {
		return nil
	}

	// The HTTP server binds before the modules load, so once the PBX has
	// booted ARI answers at once unless something is wrong (say, its port
	// was taken): do not wait long.
	ctx, cancel := context.WithTimeout(ctx, ariAfterReady)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		status, err := tb.ariInfo(ctx, client, in.ariURL)
		switch {
		case err == nil && status == http.StatusOK:
			return nil
		case err == nil && status == http.StatusUnauthorized:
			return fmt.Errorf("%w: ARI refused user %q", ErrStart, tb.ARIUser)
		}
		select {
		case <-in.done:
			return fmt.Errorf("%w: %s exited during start-up: %v", ErrStart, in.name, in.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting for ARI at %s (last status %d, last error %v): %w", ErrStart, in.ariURL, status, err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ariInfo asks the PBX's ARI for /asterisk/info and returns the HTTP status.
func (tb *Testbed) ariInfo(ctx context.Context, client *http.Client, ariURL string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ariURL+"/asterisk/info", nil)
	if err != nil {
		return 0, fmt.Errorf("testbed: building ARI request: %w", err)
	}
	req.SetBasicAuth(tb.ARIUser, tb.ARIPassword)
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("testbed: asking ARI: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// tails returns the last n lines of every Asterisk's output, for errors.
func (tb *Testbed) tails(n int) string {
	var b strings.Builder
	for _, in := range tb.all() {
		if in == nil || in.out == nil {
			continue
		}
		fmt.Fprintf(&b, "--- last lines of %s output ---\n%s\n", in.name, in.out.tail(n))
	}
	return b.String()
}

// pickPorts fills in the testbed's ports, choosing free ones where opts has 0.
func (tb *Testbed) pickPorts(opts Options) error {
	var err error
	if tb.ARIPort, err = portOr(opts.ARIPort, "tcp"); err != nil {
		return err
	}
	if tb.PBXSIPPort, err = portOr(opts.PBXSIPPort, "udp"); err != nil {
		return err
	}
	for tb.PSTNSIPPort == 0 || tb.PSTNSIPPort == tb.PBXSIPPort {
		if tb.PSTNSIPPort, err = portOr(opts.PSTNSIPPort, "udp"); err != nil {
			return err
		}
		if opts.PSTNSIPPort != 0 && tb.PSTNSIPPort == tb.PBXSIPPort {
			return fmt.Errorf("testbed: PBX and PSTN SIP ports are both %d", tb.PBXSIPPort)
		}
	}
	return nil
}

// withDefaults fills in the zero fields of opts.
func withDefaults(opts Options) (Options, error) {
	if opts.CacheDir == "" {
		opts.CacheDir = os.Getenv("HEED_CACHE_DIR")
	}
	if opts.CacheDir == "" {
		dir, err := os.UserCacheDir()
		switch {
		case err == nil:
			opts.CacheDir = filepath.Join(dir, "heed")
		case os.Geteuid() == 0:
			opts.CacheDir = "/var/cache/heed"
		default:
			return opts, fmt.Errorf("testbed: no cache directory (set HEED_CACHE_DIR): %w", err)
		}
	}
	abs, err := filepath.Abs(opts.CacheDir)
	if err != nil {
		return opts, fmt.Errorf("testbed: cache directory %q: %w", opts.CacheDir, err)
	}
	opts.CacheDir = abs
	if opts.Mirror == "" {
		opts.Mirror = defaultMirror()
	}
	if opts.ARIUser == "" {
		opts.ARIUser = defaultARIUser
	}
	if opts.ARIPassword == "" {
		pw, err := randomHex(12)
		if err != nil {
			return opts, err
		}
		opts.ARIPassword = pw
	}
	for _, s := range []string{opts.ARIUser, opts.ARIPassword} {
		if strings.ContainsAny(s, "[]\n\r;@ ") {
			return opts, fmt.Errorf("testbed: ARI user and password must not contain spaces or any of []@; (got %q)", s)
		}
	}
	return opts, nil
}

// instance is one Asterisk process: a PBX or the PSTN simulator.
type instance struct {
	name      string // "pbx", "pbx2"... or "pstn"
	conf      string // its configuration directory in asterisk.Config: "pbx" or "pstn"
	ariURL    string // a PBX's ARI base URL; empty for the PSTN
	chrootDir string // its directory as Asterisk sees it
	hostDir   string // the same directory on this machine
	out       *output

	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done is closed
}

// subdirs are the directories each instance gets; asterisk.conf points there.
var subdirs = map[string]string{
	"ETC_DIR":   "etc",
	"LIB_DIR":   "lib",
	"SPOOL_DIR": "spool",
	"RUN_DIR":   "run",
	"LOG_DIR":   "log",
	"CACHE_DIR": "cache",
}

// prepare creates the instance's directories and renders its configuration.
func (in *instance) prepare(vars map[string]string) error {
	for key, sub := range subdirs {
		vars[key] = path.Join(in.chrootDir, sub)
	}
	dirs := []string{"etc", "lib", "spool", "spool/voicemail", "spool/heard", "spool/recording", "run", "log", "log/cdr-csv", "cache", "media"}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(in.hostDir, filepath.FromSlash(d)), 0o755); err != nil {
			return fmt.Errorf("testbed: creating %s directory: %w", in.name, err)
		}
	}
	files, err := fs.Glob(asterisk.Config, in.conf+"/*.conf")
	if err != nil {
		return fmt.Errorf("testbed: listing %s configuration: %w", in.name, err)
	}
	if len(files) == 0 {
		return fmt.Errorf("testbed: no %s configuration embedded", in.conf)
	}
	for _, name := range files {
		data, err := fs.ReadFile(asterisk.Config, name)
		if err != nil {
			return fmt.Errorf("testbed: reading %s: %w", name, err)
		}
		text, err := render(string(data), vars)
		if err != nil {
			return fmt.Errorf("testbed: rendering %s: %w", name, err)
		}
		dst := filepath.Join(in.hostDir, "etc", path.Base(name))
		if err := os.WriteFile(dst, []byte(text), 0o644); err != nil {
			return fmt.Errorf("testbed: writing %s: %w", dst, err)
		}
	}
	return nil
}

// placeholder matches a configuration placeholder such as @@ARI_PORT@@.
var placeholder = regexp.MustCompile(`@@([A-Z0-9_]+)@@`)

// render replaces each placeholder @@NAME@@ in text with vars[NAME], the way
// the production image's entrypoint does. It fails if text has a placeholder
// that vars lacks.
func render(text string, vars map[string]string) (string, error) {
	var missing []string
	out := placeholder.ReplaceAllStringFunc(text, func(m string) string {
		name := m[2 : len(m)-2]
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("testbed: no value for placeholders %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// moduleDir returns Asterisk's module directory inside root, as Asterisk
// sees it (the path depends on the architecture).
func moduleDir(root string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(root, "usr", "lib", "*", "asterisk", "modules"))
	if err != nil {
		return "", fmt.Errorf("testbed: looking for Asterisk modules: %w", err)
	}
	if len(matches) == 0 {
		return "", fmt.Errorf("testbed: no Asterisk module directory under %s/usr/lib", root)
	}
	rel, err := filepath.Rel(root, matches[0])
	if err != nil {
		return "", fmt.Errorf("testbed: module directory: %w", err)
	}
	return "/" + filepath.ToSlash(rel), nil
}

// portOr returns port, or a free loopback port of the network ("tcp" or
// "udp") when port is 0.
func portOr(port int, network string) (int, error) {
	if port != 0 {
		return port, nil
	}
	if network == "udp" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("testbed: finding a free UDP port: %w", err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testbed: finding a free TCP port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// rtpBase picks the start of the testbed's RTP ports: 2*rtpPorts ports in
// 20000-59999. Asterisk skips ports in use, so overlaps are harmless.
func rtpBase() (int, error) {
	var b [2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, fmt.Errorf("testbed: random RTP ports: %w", err)
	}
	slots := 40000 / (2 * rtpPorts)
	return 20000 + (int(b[0])<<8|int(b[1]))%slots*2*rtpPorts, nil
}

// randomHex returns n random bytes in hexadecimal.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("testbed: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// mountsUnder lists the mount points at or below dir in this process's
// mount namespace.
func mountsUnder(dir string) ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("testbed: reading mounts: %w", err)
	}
	var found []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			found = append(found, mp)
		}
	}
	return found, nil
}

// unescapeMount undoes the octal escapes of /proc/self/mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isNotRoot reports whether the process lacks root privileges.
func isNotRoot() bool { return os.Geteuid() != 0 }

// sysProcAttr returns the attributes that put a process into root, in new
// mount and PID namespaces, killed if the test process dies. Without root
// privileges it also uses a user namespace that maps the caller to root.
func sysProcAttr(root string) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{
		Chroot:       root,
		Cloneflags:   syscall.CLONE_NEWPID,
		Unshareflags: syscall.CLONE_NEWNS, // Go also makes / private (MS_REC|MS_PRIVATE)
		Pdeathsig:    syscall.SIGKILL,
	}
	if isNotRoot() {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
		attr.GidMappingsEnableSetgroups = false
	}
	return attr
}

// all returns every instance: the PBXes, then the PSTN simulator.
func (tb *Testbed) all() []*instance {
	return append(append([]*instance{}, tb.pbxes...), tb.pstn)
}

// pickExtraPBXes adds free ports for the PBXes after the first, up to
// count in all.
func (tb *Testbed) pickExtraPBXes(count int) error {
	used := map[int]bool{tb.ARIPort: true, tb.PBXSIPPort: true, tb.PSTNSIPPort: true}
	free := func(network string) (int, error) {
		for {
			p, err := portOr(0, network)
			if err != nil {
				return 0, err
			}
			if !used[p] {
				used[p] = true
				return p, nil
			}
		}
	}
	for i := 2; i <= count; i++ {
		ari, err := free("tcp")
		if err != nil {
			return err
		}
		sip, err := free("udp")
		if err != nil {
			return err
		}
		tb.PBXes = append(tb.PBXes, PBX{
			Name: "pbx" + strconv.Itoa(i), ARIPort: ari, SIPPort: sip,
			ARIURL:       fmt.Sprintf("http://127.0.0.1:%d/ari", ari),
			WebsocketURL: fmt.Sprintf("ws://127.0.0.1:%d/ari/events", ari),
		})
	}
	return nil
}

// StopPBX kills PBX i (0 is the first) the way a crash would: its calls
// vanish without a hangup, and its ARI and SIP ports close. StartPBX
// brings it back.
func (tb *Testbed) StopPBX(i int) error {
	tb.restartMu.Lock()
	defer tb.restartMu.Unlock()
	in, err := tb.pbxInstance(i)
	if err != nil {
		return err
	}
	return in.stop()
}

// StartPBX starts PBX i again after StopPBX, with the same configuration
// and ports, and waits until it has booted and its ARI answers. A PBX that
// is running is left alone.
func (tb *Testbed) StartPBX(ctx context.Context, i int) error {
	tb.restartMu.Lock()
	defer tb.restartMu.Unlock()
	in, err := tb.pbxInstance(i)
	if err != nil {
		return err
	}
	select {
	case <-in.done:
	default:
		return nil
	}
	in.out = tb.newOutput(in.name)
	if err := in.start(tb.Root); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := tb.waitInstance(ctx, in); err != nil {
		return fmt.Errorf("testbed: restarting %s: %w\n%s", in.name, err, in.out.tail(40))
	}
	return nil
}

// RestartPBX kills PBX i and starts it again: StopPBX, then StartPBX.
func (tb *Testbed) RestartPBX(ctx context.Context, i int) error {
	if err := tb.StopPBX(i); err != nil {
		return err
	}
	return tb.StartPBX(ctx, i)
}

// pbxInstance returns PBX i, or an error if there is none or the testbed
// is closed; tb.restartMu is held.
func (tb *Testbed) pbxInstance(i int) (*instance, error) {
	select {
	case <-tb.closed:
		return nil, ErrClosed
	default:
	}
	if i < 0 || i >= len(tb.pbxes) {
		return nil, fmt.Errorf("testbed: no PBX %d (have %d)", i, len(tb.pbxes))
	}
	return tb.pbxes[i], nil
}
