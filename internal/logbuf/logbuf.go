// Package logbuf holds a log written by many goroutines, for tests to read.
package logbuf

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer that goroutines may write to and read at once:
// a test's slog handler writes to it from the code under test while the
// test reads what was logged.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
