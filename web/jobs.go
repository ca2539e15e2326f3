package web

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
)

// sameOrigin refuses a request that changes something (any method but GET,
// HEAD and OPTIONS) unless the browser says it came from heed's own pages.
// It guards pages that are not heed's forms, such as the River job UI, whose
// requests carry no CSRF token: the session cookie is SameSite=Lax, and the
// Origin (or Sec-Fetch-Site) header must name this host.
func (s *Server) sameOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
			return echo.NewHTTPError(http.StatusForbidden, "This request did not come from heed's own pages.")
		}
		origin := r.Header.Get("Origin")
		if origin == "" {
			return echo.NewHTTPError(http.StatusForbidden, "This request did not say where it came from (no Origin header).")
		}
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return echo.NewHTTPError(http.StatusForbidden, "This request did not come from heed's own pages.")
		}
		return next(c)
	}
}
