package web

import (
	"context"
	"sync/atomic"

	"github.com/heed-dialer/heed/internal/account"
)

// CountAuthentications counts the sign-ins whose password s checks (an
// argon2id verification each) from now on; call it before s serves. The
// returned function says how many so far.
func CountAuthentications(s *Server) func() int {
	var n atomic.Int64
	next := s.authenticate
	s.authenticate = func(ctx context.Context, email, password string) (account.User, error) {
		n.Add(1)
		return next(ctx, email, password)
	}
	return func() int { return int(n.Load()) }
}

// SigninChecks is how many sign-in limit checks a server runs on the
// database at once (signinChecks).
const SigninChecks = signinChecks

// SigninRecheck is how long a server believes a refusal of the sign-in
// limits it remembers (signinRecheck).
const SigninRecheck = signinRecheck

// FillSigninChecks takes every turn of s's sign-in limit checks, and
// fills their queue, as checks running and waiting would: the next check
// finds them busy. The returned function gives them back.
func FillSigninChecks(s *Server) func() {
	if !s.limits.checks.TryAcquire(signinChecks) {
		panic("web: FillSigninChecks: checks are running")
	}
	s.limits.queued.Add(signinQueue)
	return func() {
		s.limits.queued.Add(-signinQueue)
		s.limits.checks.Release(signinChecks)
	}
}
