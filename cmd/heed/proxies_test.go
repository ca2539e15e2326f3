package main

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseTrustedProxies(t *testing.T) {
	got, err := parseTrustedProxies("")
	require.NoError(t, err)
	require.Empty(t, got)
	got, err = parseTrustedProxies(" None ")
	require.NoError(t, err)
	require.Empty(t, got, "none: the peer is the client")

	got, err = parseTrustedProxies(" 10.0.0.0/8, 127.0.0.1 ,::1,fd00::/8,")
	require.NoError(t, err)
	var ranges []string
	for _, r := range got {
		ranges = append(ranges, r.String())
	}
	require.Equal(t, []string{"10.0.0.0/8", "127.0.0.1/32", "::1/128", "fd00::/8"}, ranges)
	require.True(t, got[1].Contains(net.ParseIP("127.0.0.1")))
	require.False(t, got[1].Contains(net.ParseIP("127.0.0.2")), "an address alone is a range of one")

	for _, bad := range []string{"10.0.0.0/33", "proxy.internal", "10.0.0"} {
		_, err := parseTrustedProxies(bad)
		require.ErrorIs(t, err, errUsage, bad)
		require.ErrorContains(t, err, "is not an address or a CIDR range", bad)
	}
}
