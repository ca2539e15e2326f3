package web

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// clientIPExtractor returns how heed finds a request's client address:
// with no trusted proxies, the connection's peer; otherwise, when the peer
// is in a trusted range, the address the proxy names in header (echo's
// extractors: in X-Forwarded-For, the nearest address that is not a
// trusted proxy's). Only the given ranges are trusted, never loopback or
// private addresses as such: a client could otherwise name any address.
func clientIPExtractor(trusted []*net.IPNet, header string) (echo.IPExtractor, error) {
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, r := range trusted {
		opts = append(opts, echo.TrustIPRange(r))
	}
	var extract echo.IPExtractor
	switch http.CanonicalHeaderKey(strings.TrimSpace(header)) {
	case "", echo.HeaderXForwardedFor:
		extract = echo.ExtractIPFromXFFHeader(opts...)
	case echo.HeaderXRealIP:
		extract = echo.ExtractIPFromRealIPHeader(opts...)
	default:
		return nil, fmt.Errorf("web: proxy header %q: want X-Forwarded-For or X-Real-IP", header)
	}
	if len(trusted) == 0 {
		return echo.ExtractIPDirect(), nil
	}
	return extract, nil
}

// clientKey names a request's client for the abuse limits and the logs:
// its IPv4 address, or the /64 network of an IPv6 address, since one host
// usually holds a whole /64. The address is the server's IPExtractor's
// (clientIPExtractor).
func clientKey(c echo.Context) string {
	ip := net.ParseIP(c.RealIP())
	switch {
	case ip == nil:
		return "unknown"
	case ip.To4() != nil:
		return ip.To4().String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
