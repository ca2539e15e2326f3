package web_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/logbuf"
	"github.com/heed-dialer/heed/web"
)

// TestHTTPS: a request that came over HTTPS (here, by its proxy's
// X-Forwarded-Proto) gets Strict-Transport-Security for a year, without
// binding the firm's other hosts, and one over plain HTTP does not; with
// Secure cookies off, the first HTTPS request logs, once, that they should
// be on; with them on, heed's cookies are Secure and nothing is logged.
func TestHTTPS(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		log := &logbuf.Buffer{}
		b := setupServer(t, func(_ *pgxpool.Pool, cfg *web.Config) {
			cfg.SecureCookies = secure
			cfg.Log = slog.New(slog.NewTextHandler(log, nil))
		}, nil)
		br := b.browser(t)
		get := func(https bool) http.Header {
			req, err := http.NewRequest("GET", br.base+"/signin", nil)
			require.NoError(t, err)
			if https {
				req.Header.Set("X-Forwarded-Proto", "https")
			}
			code, body, h := br.do(req)
			require.Equal(t, http.StatusOK, code, body)
			return h
		}
		h := get(false)
		require.Empty(t, h.Get("Strict-Transport-Security"), "plain HTTP")
		require.NotContains(t, log.String(), "not marked Secure")
		for range 2 {
			h = get(true)
			require.Equal(t, "max-age=31536000", h.Get("Strict-Transport-Security"))
		}
		cookies := h.Values("Set-Cookie")
		require.NotEmpty(t, cookies)
		for _, c := range cookies {
			require.Equal(t, secure, strings.Contains(c, "; Secure"), c)
		}
		warned := strings.Count(log.String(), "heed is served over HTTPS but its cookies are not marked Secure: set --secure-cookies")
		if secure {
			require.Zero(t, warned)
		} else {
			require.Equal(t, 1, warned, "logged once")
		}
	}
}
