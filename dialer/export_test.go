package dialer

import "time"

// SetFollowFor makes Run follow its calls in flight for d, rather than its
// usual bounds, before it returns: a test's Run returns with calls still up.
func SetFollowFor(p *Pacer, d time.Duration) { p.followFor = d }

// SetStopFollowFor makes a Run whose job is being stopped follow its calls
// for d, rather than stopFollow.
func SetStopFollowFor(p *Pacer, d time.Duration) { p.stopFollowFor = d }

// Settled returns how many ended orphans s keeps what became of, for
// Orphan to report.
func Settled(s *Switch) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.settled)
}

// PlayStart is what the launch checks' timing allows from the answer to
// the first sound of heed's audio.
const PlayStart = playStart
