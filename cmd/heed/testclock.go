//go:build heedtestclock

package main

import (
	"os"
	"time"
)

// A binary built with the heedtestclock tag, for tests that run `heed
// serve` as a process of its own (TestKillDashNine), keeps the clock the
// test gives it, so that its calling windows are open at any hour:
// HEED_TEST_CLOCK_ORIGIN is the time it reads at the real instant
// HEED_TEST_CLOCK_AT (both RFC 3339), and it runs on from there in step
// with the real clock. Release builds have no such tag, flag or variable.
func init() {
	origin, err := time.Parse(time.RFC3339Nano, os.Getenv("HEED_TEST_CLOCK_ORIGIN"))
	if err != nil {
		return
	}
	at, err := time.Parse(time.RFC3339Nano, os.Getenv("HEED_TEST_CLOCK_AT"))
	if err != nil {
		return
	}
	testNow = func() time.Time { return origin.Add(time.Since(at)) }
}
