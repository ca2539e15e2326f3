package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseFormTooLarge: a URL-encoded form over net/http's own bound of
// 10 MB is too large (413), not a form without its CSRF token (403), even
// when the pages' body bound, with a large upload limit, lets it through.
func TestParseFormTooLarge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		size int
		want bool
	}{{10<<20 - 64, false}, {10<<20 + 64, true}} {
		body := "_csrf=x&note=" + strings.Repeat("a", tc.size)
		r := httptest.NewRequest(http.MethodPost, "/admin/settings", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		tooLarge, done := parseForm(r)
		done()
		require.Equal(t, tc.want, tooLarge, "%d bytes", len(body))
	}
}
