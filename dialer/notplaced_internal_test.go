package dialer

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNotPlaced: a call is taken as never placed on evidence only; any
// other error, or any error after a last look allowed the call, leaves it
// failed, counted as a call.
func TestNotPlaced(t *testing.T) {
	live := context.Background()
	stopped, cancel := context.WithCancel(live)
	cancel()
	other := errors.New("ARI: 500")
	cases := []struct {
		name   string
		ctx    context.Context
		err    error
		look   int32
		reason string // "" when the call may have been placed
	}{
		{"no error", live, nil, lookAllowed, ""},
		{"no Asterisk up", live, fmt.Errorf("attempt 1: %w", ErrNoAsterisk), lookNone, "no Asterisk was up"},
		{"job stopped while waiting for a line", stopped, fmt.Errorf("waiting: %w", context.Canceled), lookNone, "the dialing job stopped"},
		{"job stopped at the last look", stopped, other, lookFailed, "the dialing job stopped"},
		{"last look not recorded", live, other, lookFailed, "its last look could not be recorded"},
		{"error before any look, job running", live, other, lookNone, ""},
		{"error after an allowed look", live, fmt.Errorf("%w: x", ErrOriginate), lookAllowed, ""},
		{"no Asterisk after an allowed look", live, ErrNoAsterisk, lookAllowed, ""},
		{"job stopped after an allowed look", stopped, context.Canceled, lookAllowed, ""},
		{"events down after an allowed look, before the originate", live,
			fmt.Errorf("attempt 1: pbx: %w: %w", errNeverOriginated, ErrEventsDown), lookAllowed, "its Asterisk's events were down"},
		{"events down said by Asterisk's answer to an originate", live, fmt.Errorf("%w: %w", ErrOriginate, ErrEventsDown), lookAllowed, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reason, ok := notPlaced(c.ctx, c.err, c.look)
			require.Equal(t, c.reason != "", ok)
			require.Equal(t, c.reason, reason)
		})
	}
}
