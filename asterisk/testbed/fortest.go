package testbed

import (
	"context"
	"os"
	"testing"
)

// SkipEnv is the variable that, set to 1 on a developer's machine, skips
// the tests that need Asterisk. CI never sets it: there, a test that
// cannot start the testbed fails.
const SkipEnv = "HEED_SKIP_ASTERISK"

// ForTest starts a testbed for test t, within ctx, and closes it when the
// test ends; it skips t when SkipEnv is 1, and fails it when the testbed
// cannot start.
func ForTest(ctx context.Context, t testing.TB) *Testbed {
	t.Helper()
	if os.Getenv(SkipEnv) == "1" {
		t.Skip(SkipEnv + "=1: skipping the Asterisk tier")
	}
	tb, err := Start(ctx, Options{})
	if err != nil {
		t.Fatalf("the Asterisk testbed is required: %v", err)
	}
	t.Cleanup(func() {
		if err := tb.Close(); err != nil {
			t.Errorf("close the testbed: %v", err)
		}
	})
	return tb
}
