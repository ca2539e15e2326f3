package dialer

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/phone"
)

func TestHeldBack(t *testing.T) {
	allow, deny := consent.Decision{Verdict: consent.Allow}, consent.Decision{Verdict: consent.Deny}
	target := func(p phone.Number, counts ...phone.Number) Target {
		return Target{Phone: p, HistoryNumbers: append([]phone.Number{p}, counts...)}
	}
	cases := []struct {
		name      string
		targets   []Target
		decisions []consent.Decision
		want      []bool
	}{
		{"strangers", []Target{target("+18605550001"), target("+18605550002")},
			[]consent.Decision{allow, allow}, []bool{false, false}},
		{"one person's two numbers", []Target{target("+18605550001", "+18605550002"), target("+18605550002", "+18605550001")},
			[]consent.Decision{allow, allow}, []bool{false, true}},
		{"a number whose history counts the first's, which names no person", []Target{target("+18605550002"), target("+18605550001", "+18605550002")},
			[]consent.Decision{allow, allow}, []bool{false, true}},
		{"a number the first's history counts, its own history not the first's", []Target{target("+18605550001", "+18605550002"), target("+18605550002")},
			[]consent.Decision{allow, allow}, []bool{false, false}},
		{"one number twice", []Target{target("+18605550001"), target("+18605550001")},
			[]consent.Decision{allow, deny}, []bool{false, true}},
		{"the first is not called", []Target{target("+18605550001", "+18605550002"), target("+18605550002")},
			[]consent.Decision{deny, allow}, []bool{false, false}},
		{"a held target calls no one", []Target{target("+18605550001"), target("+18605550002", "+18605550001"), target("+18605550003", "+18605550002")},
			[]consent.Decision{allow, allow, allow}, []bool{false, true, false}},
		{"without history numbers its own number counts", []Target{target("+18605550001"), {Phone: "+18605550001"}},
			[]consent.Decision{allow, allow}, []bool{false, true}},
	}
	for _, c := range cases {
		require.Equal(t, c.want, heldBack(c.targets, c.decisions), c.name)
	}
}
