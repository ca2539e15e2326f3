package web

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/semaphore"
)

// TestPasswordChecksBounded: at most passwordChecks password checks (64
// MiB of argon2id each) run at once; another waits for one to end, and
// does not run at all when its request ends first (503).
func TestPasswordChecksBounded(t *testing.T) {
	t.Parallel()
	s := &Server{passwords: semaphore.NewWeighted(passwordChecks)}
	running, release := make(chan struct{}, passwordChecks), make(chan struct{})
	var wg sync.WaitGroup
	for range passwordChecks {
		wg.Go(func() {
			require.NoError(t, s.checkPasswords(context.Background(), func() error {
				running <- struct{}{}
				<-release
				return nil
			}))
		})
	}
	for range passwordChecks {
		<-running
	}
	require.False(t, s.passwords.TryAcquire(1), "every slot is taken")

	ctx, cancel := context.WithCancel(context.Background())
	refused := make(chan error)
	go func() {
		refused <- s.checkPasswords(ctx, func() error {
			t.Error("a check ran past the bound")
			return nil
		})
	}()
	cancel()
	err := <-refused
	require.ErrorIs(t, err, context.Canceled)
	var he *echo.HTTPError
	require.ErrorAs(t, err, &he)
	require.Equal(t, http.StatusServiceUnavailable, he.Code)

	ran := make(chan struct{})
	go func() {
		_ = s.checkPasswords(context.Background(), func() error {
			close(ran)
			return nil
		})
	}()
	close(release)
	<-ran
	wg.Wait()
}
