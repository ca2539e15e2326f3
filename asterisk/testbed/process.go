package testbed

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// launchScript runs as PID 1 of the instance's namespaces, inside the root:
// it gives Asterisk a /proc of its own (private to the mount namespace, so it
// vanishes with it) and becomes Asterisk, in the foreground.
const launchScript = `mount -t proc proc /proc || exit 1
exec /usr/sbin/asterisk -f -C "$1"`

// stopTimeout bounds the wait for an instance to exit after SIGKILL.
const stopTimeout = 10 * time.Second

// start runs the instance's Asterisk chrooted into root.
func (in *instance) start(root string) error {
	cmd := exec.Command("/bin/sh", "-c", launchScript, "asterisk-"+in.name, in.chrootDir+"/etc/asterisk.conf")
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"}
	cmd.Stdout = in.out
	cmd.Stderr = in.out
	cmd.SysProcAttr = sysProcAttr(root)
	// Killing PID 1 kills the whole namespace, so the output pipe closes;
	// WaitDelay only guards against the unexpected.
	cmd.WaitDelay = stopTimeout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%w: starting %s: %w", ErrStart, in.name, err)
	}
	in.cmd = cmd
	in.done = make(chan struct{})
	go func() {
		in.waitErr = cmd.Wait()
		close(in.done)
	}()
	return nil
}

// stop kills the instance and waits until it has exited. Asterisk is PID 1
// of its PID namespace, so the kernel kills everything else in there too,
// and the wait only returns once all of it is gone; its mounts go with the
// mount namespace. CDRs need no flushing: they are written when each call
// ends.
func (in *instance) stop() error {
	if in == nil || in.cmd == nil {
		return nil
	}
	select {
	case <-in.done:
		return nil
	default:
	}
	_ = in.cmd.Process.Kill()
	select {
	case <-in.done:
		return nil
	case <-time.After(stopTimeout):
		return fmt.Errorf("testbed: %s (pid %d) did not exit within %s of SIGKILL", in.name, in.cmd.Process.Pid, stopTimeout)
	}
}

// readyLine is what Asterisk prints once it has fully booted.
const readyLine = "Asterisk Ready."

// tailLines is how many lines of output each output keeps for errors.
const tailLines = 200

// output collects a process's output line by line: it keeps the last
// lines, forwards them to the testbed's log, and notices readyLine.
type output struct {
	prefix string
	tb     *Testbed
	ready  chan struct{} // closed when readyLine has been seen

	mu      sync.Mutex // guards the fields below
	partial []byte
	lines   []string
	isReady bool
}

// newOutput returns an output whose lines are logged with prefix.
func (tb *Testbed) newOutput(prefix string) *output {
	return &output{prefix: prefix, tb: tb, ready: make(chan struct{})}
}

// Write implements io.Writer.
func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, p...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		o.line(string(bytes.TrimRight(o.partial[:i], "\r")))
		o.partial = append(o.partial[:0], o.partial[i+1:]...)
	}
	if len(o.partial) > 64<<10 {
		o.line(string(o.partial))
		o.partial = o.partial[:0]
	}
	return len(p), nil
}

// line handles one complete line; o.mu is held.
func (o *output) line(s string) {
	if len(o.lines) == tailLines {
		copy(o.lines, o.lines[1:])
		o.lines = o.lines[:tailLines-1]
	}
	o.lines = append(o.lines, s)
	if !o.isReady && strings.Contains(s, readyLine) {
		o.isReady = true
		close(o.ready)
	}
	o.tb.logLine(o.prefix, s)
}

// tail returns the last n lines of output.
func (o *output) tail(n int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	lines := o.lines
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	tail := strings.Join(lines, "\n")
	if len(o.partial) > 0 {
		tail += "\n" + string(o.partial)
	}
	return tail
}

// logLine writes one line to the testbed's log, if it has one.
func (tb *Testbed) logLine(prefix, line string) {
	if tb.log == nil {
		return
	}
	tb.logMu.Lock()
	defer tb.logMu.Unlock()
	_, _ = io.WriteString(tb.log, prefix+": "+line+"\n")
}
