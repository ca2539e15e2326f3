package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseAsterisks(t *testing.T) {
	amd := "heed-amd"
	def := asteriskConfig{Name: "asterisk-1", URL: "http://127.0.0.1:8088/ari", User: "heed", Password: "pw", App: "heed",
		Trunk: "PJSIP/%s@pstn", AMDContext: &amd, MaxCalls: 30, CPS: 5}

	got, err := parseAsterisks("", def)
	require.NoError(t, err)
	require.Equal(t, []asteriskConfig{def}, got, "no list: the single-Asterisk settings")

	got, err = parseAsterisks("a=http://10.0.0.1:8088/ari, b=http://10.0.0.2:8088/ari", def)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, "a", got[0].Name)
	require.Equal(t, "http://10.0.0.2:8088/ari", got[1].URL)
	require.Equal(t, "pw", got[1].Password)
	require.Equal(t, 30, got[1].MaxCalls)

	got, err = parseAsterisks(`[{"name":"a","url":"http://a/ari","max_calls":10,"cps":2.5,"amd_context":""},
		{"name":"b","url":"http://b/ari","password":"other","trunk":"PJSIP/%s@carrier"}]`, def)
	require.NoError(t, err)
	require.Equal(t, 10, got[0].MaxCalls)
	require.Equal(t, 2.5, got[0].CPS)
	require.Equal(t, "", *got[0].AMDContext, "an explicit empty context turns detection off")
	require.Equal(t, "pw", got[0].Password)
	require.Equal(t, "other", got[1].Password)
	require.Equal(t, "PJSIP/%s@carrier", got[1].Trunk)
	require.Equal(t, "heed-amd", *got[1].AMDContext)
	require.Equal(t, 30, got[1].MaxCalls)
	require.Equal(t, 5.0, got[1].CPS)
	require.False(t, noDetection(got), "b runs detection: the launch checks cannot time the calls")

	got, err = parseAsterisks(`[{"name":"a","url":"http://a/ari","amd_context":""},{"name":"b","url":"http://b/ari","amd_context":""}]`, def)
	require.NoError(t, err)
	require.True(t, noDetection(got), "no Asterisk runs detection")

	for _, bad := range []string{
		`a=http://x,a=http://y`,
		`justaname`,
		`[{"name":"a"}]`,
		`[{"name":"a","url":"http://a","max_calls":-1}]`,
		`[{"name":"a","url":"http://a","trunk":"PJSIP/pstn"}]`,
		`[{"name":"a","url":"http://a","maxcalls":3}]`,
		`[]`,
	} {
		_, err := parseAsterisks(bad, def)
		require.ErrorIs(t, err, errUsage, bad)
	}
}
