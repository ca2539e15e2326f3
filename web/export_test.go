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
