package web

import (
	"net"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClientIPExtractor: a request names its client in X-Forwarded-For or
// X-Real-IP only when its peer is a configured proxy; a peer on a loopback
// or private address is no proxy unless configured, and with no proxies
// the headers are ignored.
func TestClientIPExtractor(t *testing.T) {
	t.Parallel()
	ranges := func(cidrs ...string) []*net.IPNet {
		var out []*net.IPNet
		for _, c := range cidrs {
			_, r, err := net.ParseCIDR(c)
			require.NoError(t, err)
			out = append(out, r)
		}
		return out
	}
	for _, tc := range []struct {
		name, header, peer, xff, realIP, want string
		trusted                               []*net.IPNet
	}{
		{name: "NoProxiesIgnoresHeaders", peer: "203.0.113.5", xff: "198.51.100.1", realIP: "198.51.100.2", want: "203.0.113.5"},
		{name: "NoProxiesLoopbackPeer", peer: "127.0.0.1", xff: "198.51.100.1", realIP: "198.51.100.2", want: "127.0.0.1"},
		{name: "NoProxiesPrivatePeer", peer: "10.1.2.3", xff: "198.51.100.1", want: "10.1.2.3"},
		{name: "TrustedProxy", trusted: ranges("10.0.0.0/8"), peer: "10.0.0.2", xff: "198.51.100.1", want: "198.51.100.1"},
		{name: "TrustedProxyReadFromTheRight", trusted: ranges("10.0.0.0/8"), peer: "10.0.0.2", xff: "192.0.2.66, 198.51.100.1, 10.0.0.3", want: "198.51.100.1"},
		{name: "UntrustedPrivatePeer", trusted: ranges("10.0.0.0/8"), peer: "192.168.1.5", xff: "198.51.100.1", want: "192.168.1.5"},
		{name: "UntrustedLoopbackPeer", trusted: ranges("10.0.0.0/8"), peer: "127.0.0.1", xff: "198.51.100.1", want: "127.0.0.1"},
		{name: "XFFModeIgnoresRealIP", trusted: ranges("10.0.0.0/8"), peer: "10.0.0.2", realIP: "198.51.100.2", want: "10.0.0.2"},
		{name: "RealIP", header: "x-real-ip", trusted: ranges("10.0.0.0/8"), peer: "10.0.0.2", xff: "198.51.100.1", realIP: "198.51.100.2", want: "198.51.100.2"},
		{name: "RealIPFromUntrustedPeer", header: "X-Real-IP", trusted: ranges("10.0.0.0/8"), peer: "203.0.113.5", realIP: "198.51.100.2", want: "203.0.113.5"},
		{name: "TrustedIPv6Proxy", trusted: ranges("::1/128"), peer: "::1", xff: "2001:db8::7", want: "2001:db8::7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extract, err := clientIPExtractor(tc.trusted, tc.header)
			require.NoError(t, err)
			r := httptest.NewRequest("POST", "/optout", nil)
			r.RemoteAddr = net.JoinHostPort(tc.peer, "40000")
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if tc.realIP != "" {
				r.Header.Set("X-Real-IP", tc.realIP)
			}
			require.Equal(t, tc.want, extract(r))
		})
	}
	_, err := clientIPExtractor(nil, "Forwarded")
	require.ErrorContains(t, err, `proxy header "Forwarded": want X-Forwarded-For or X-Real-IP`)
}
