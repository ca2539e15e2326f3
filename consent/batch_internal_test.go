package consent

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/phone"
)

// TestBatchDecidesAsDecide checks the promise of Batch and of the merged
// table: a Batch decides every attempt exactly as Engine.Decide does, in
// runs that share an instant and a campaign and in runs that do not, and
// the merged table gives the decisions that merging rule by rule gives.
// The attempts cover every purpose, method and line (and unknown ones),
// every state pack and none, area codes of one and several zones, the
// instants around each dated rule's start and end and around daylight
// saving changes, histories at the cap edges, and every consent state. A
// Batch made by NewBatch, which looks most decisions up by their memo key,
// decides them as Decide does too, and looks up most of them.
func TestBatchDecidesAsDecide(t *testing.T) {
	for _, firm := range []FirmPolicy{{}, {CheckReassigned: true, RevocationScope: RevokePurpose}} {
		e, err := NewEngine(Config{Firm: firm})
		require.NoError(t, err)
		require.NotNil(t, e.merged, "the built-in packs fit the merged table")
		slow := *e
		slow.merged, slow.bounds, slow.jurs = nil, nil, 0

		rng := rand.New(rand.NewPCG(7, 11))
		ins, fs := batchInputs(rng, e.bounds, 20_000)
		var b Batch
		b.Reset(e)
		var indexed Batch
		indexed.Reset(e)
		memo := e.NewBatch()
		var got, want, merged, ix, mx Decision
		for i := range ins {
			b.Decide(&ins[i], &fs[i], &got)
			e.Decide(&ins[i], &fs[i], &want)
			slow.Decide(&ins[i], &fs[i], &merged)
			require.Truef(t, sameDecision(got, want), "%d %+v: batch %+v, decide %+v", i, ins[i], got, want)
			if n, err := ins[i].Number.NANP(); err == nil {
				// DecideIndexed reads the consent from cf, never
				// f.Consent, and the number and the kind of attempt from
				// n and the key, never from the Input.
				f, cf := fs[i], fs[i].Consent
				f.Consent = ConsentFacts{ID: -1, Kind: ConsentPEWC, ObtainedAt: time.Unix(1, 0)}
				in := ins[i]
				in.Number, in.Purpose, in.Method, in.Line = "+12", "other", MethodLive, LineLandline
				indexed.DecideIndexed(&in, indexed.Key(ins[i].Purpose, ins[i].Method, ins[i].Line), n, &f, &cf, &ix)
				require.Truef(t, sameDecision(ix, want), "%d %+v: indexed %+v, decide %+v", i, ins[i], ix, want)
				memo.DecideIndexed(&in, memo.Key(ins[i].Purpose, ins[i].Method, ins[i].Line), n, &f, &cf, &mx)
				require.Truef(t, sameDecision(mx, want), "%d %+v: remembered %+v, decide %+v", i, ins[i], mx, want)
			}
			require.Truef(t, sameDecision(merged, want), "%d %+v: rule by rule %+v, merged table %+v", i, ins[i], merged, want)
			require.Equal(t, e.ConsultsConsent(ins[i].Purpose, ins[i].Method, ins[i].Line, fs[i].DNC),
				b.ConsultsConsent(ins[i].Purpose, ins[i].Method, ins[i].Line, fs[i].DNC))
		}
		require.Zero(t, testing.AllocsPerRun(100, func() {
			for i := range 64 {
				b.Decide(&ins[i], &fs[i], &got)
			}
		}))
		// Decisions were remembered (and the others looked up).
		keys := 0
		for _, me := range memo.memo {
			keys += int(b2u(me.key&memoValid != 0))
		}
		require.Greater(t, keys, 50, "decisions remembered")
	}
}

// sameDecision reports whether two decisions are the same.
func sameDecision(a, b Decision) bool {
	return a.Verdict == b.Verdict && a.Until.Equal(b.Until) && slices.Equal(a.Reasons, b.Reasons) &&
		a.Pack == b.Pack && a.ConsentID == b.ConsentID
}

// batchInputs returns n attempts in runs of one to forty that share an
// instant and a campaign, as pacing batches do; the instants are drawn
// around bounds, around the 2026 daylight saving changes and over the day.
func batchInputs(rng *rand.Rand, bounds []int64, n int) ([]Input, []Facts) {
	purposes := []Purpose{PurposeInformational, PurposeTelemarketing, PurposeDebtCollection, PurposeSolicitation, "", "other"}
	methods := []Method{MethodPrerecorded, MethodLive, ""}
	lines := []LineType{LineWireless, LineLandline, LineUnknown, ""}
	numbers := []phone.Number{"+12035550101", "+18605550101", "+13055550101", "+14055550101", "+12125550101",
		"+12082001234", "+18005550101", "+17135550101", "+19075550101", "+18085550101", "+14415550101", "+2035550101",
		"+11005550101", "+12115550101", "+12031005555", "+442035550101"}
	places := [][2]string{{"", ""}, {"CT", "06103"}, {"FL", "33101"}, {"OK", "73102"}, {"NY", ""}, {"", "85004"}, {"TX", "06103"}, {"ZZ", "1"}}
	var instants []time.Time
	for _, s := range bounds {
		for _, d := range []int64{-3601, -1, 0, 1, 3600} {
			instants = append(instants, time.Unix(s+d, 0))
		}
	}
	for _, s := range []string{"2026-03-08T06:59:59Z", "2026-03-08T07:00:00Z", "2026-03-08T13:00:00Z", "2026-11-01T05:59:59Z",
		"2026-11-01T06:00:00Z", "2026-11-01T13:59:59Z", "2026-11-01T14:00:00Z", "2026-06-14T12:00:00Z", "2026-12-25T15:00:00Z",
		// 8:30 and 20:30 in the east, then in the center: the state packs'
		// windows (Connecticut 9-20, Florida and Oklahoma 8-20) differ from
		// the federal one (8-21) for numbers in the same zones.
		"2026-06-10T12:30:00Z", "2026-06-11T00:30:00Z", "2026-06-10T13:30:00Z", "2026-06-11T01:30:00Z"} {
		t, _ := time.Parse(time.RFC3339, s)
		instants = append(instants, t)
	}
	ins, fs := make([]Input, 0, n), make([]Facts, 0, n)
	for len(ins) < n {
		var at time.Time
		if rng.IntN(3) == 0 {
			at = instants[rng.IntN(len(instants))]
		} else {
			at = time.Date(2026, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, rng.IntN(86400), 0, time.UTC)
		}
		p, m := purposes[rng.IntN(len(purposes))], methods[rng.IntN(len(methods))]
		for range 1 + rng.IntN(40) {
			pl := places[rng.IntN(len(places))]
			in := Input{Number: numbers[rng.IntN(len(numbers))], State: pl[0], ZIP: pl[1], Purpose: p, Method: m,
				Line: lines[rng.IntN(len(lines))], At: at, RegFDirectConsent: rng.IntN(8) == 0, SolicitationException: rng.IntN(8) == 0}
			if rng.IntN(10) == 0 {
				in.AccidentAt = at.Add(-time.Duration(rng.IntN(60*24)) * time.Hour)
			}
			for range rng.IntN(10) {
				a := Attempt{At: at.Add(-time.Duration(rng.IntN(40*24*60)) * time.Minute), Conversation: rng.IntN(4) == 0,
					Purpose: purposes[rng.IntN(len(purposes))], Method: methods[rng.IntN(len(methods))]}
				if rng.IntN(4) == 0 {
					a.Purpose, a.Method = p, m
				}
				in.History = append(in.History, a)
			}
			f := Facts{Fresh: rng.IntN(50) != 0, DNC: DNCHits(rng.IntN(16)) * DNCHits(rng.IntN(2)),
				NationalAsOf: at.Add(-time.Duration(rng.IntN(40*24)) * time.Hour)}
			if rng.IntN(3) > 0 {
				f.Consent = ConsentFacts{ID: int64(1 + rng.IntN(100)), Kind: ConsentKind(rng.IntN(3)),
					ObtainedAt: at.Add(-time.Duration(rng.IntN(400*24)-24) * time.Hour)}
				if rng.IntN(4) == 0 {
					f.Consent.ExpiresAt = at.Add(time.Duration(rng.IntN(20*24)-10*24) * time.Hour)
				}
			}
			if rng.IntN(4) == 0 {
				f.Consent.RevokedAt = at.Add(-time.Duration(rng.IntN(400*24)) * time.Hour)
				if rng.IntN(2) == 0 {
					f.Consent.PurposeRevokedAt = f.Consent.RevokedAt
				}
			}
			if rng.IntN(6) == 0 {
				f.ReassignedAt = at.Add(-time.Duration(rng.IntN(400*24)) * time.Hour)
			}
			if f.DNC&DNCInternal != 0 && rng.IntN(4) > 0 {
				f.InternalListedAt = at.Add(-time.Duration(rng.IntN(400*24)) * time.Hour)
			}
			ins, fs = append(ins, in), append(fs, f)
		}
	}
	return ins, fs
}

// TestKeyLine checks that keyLine, which compares a line type's bytes as
// one word, gives a landline's key exactly to the string "landline": for the
// constants, equal strings with other bytes, strings one byte off or of
// another length (sharing their bytes with a landline), and the empty
// string. A Batch's keys are the same.
func TestKeyLine(t *testing.T) {
	t.Parallel()
	e, err := NewEngine(Config{})
	require.NoError(t, err)
	b := e.Batch()
	s := "landlines"
	lines := []LineType{
		LineWireless, LineLandline, LineUnknown, "",
		LineType(strings.Clone(string(LineLandline))), LineType(strings.Clone(string(LineWireless))),
		LineType(s[:8]), LineType(s[:7]), LineType(s[:9]), LineType(s[:0]),
		"Landline", "landlinE", "landlind", "xandline",
	}
	for _, l := range lines {
		want := 0
		if string(l) == "landline" {
			want = 1
		}
		require.Equal(t, want, keyLine(l), "%q", l)
		require.Equal(t, keyPM(PurposeInformational, MethodLive)+want, b.key(PurposeInformational, MethodLive, l), "%q", l)
	}
}

// TestConsentEmptyIsExact checks the shortcut decide takes for a number
// with neither a consent nor a revocation: wherever consentEmpty holds,
// evalConsent finds no consent and gives consent.missing, whatever the
// other fields hold, and consentEmpty fails to hold when only one of the
// kind and the two revocation times is set.
func TestConsentEmptyIsExact(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 6, 10, 15, 0, 0, 0, time.UTC)
	times := []time.Time{{}, at.Add(-time.Hour), at, at.Add(time.Hour)}
	empty := 0
	for _, kind := range []ConsentKind{ConsentNone, ConsentPEC, ConsentPEWC, 7} {
		for _, ob := range times {
			for _, ex := range times {
				for _, rev := range times {
					for _, prev := range times {
						c := ConsentFacts{ID: 9, Kind: kind, ObtainedAt: ob, ExpiresAt: ex, RevokedAt: rev, PurposeRevokedAt: prev}
						require.Equal(t, kind == ConsentNone && rev.IsZero() && prev.IsZero(), consentEmpty(&c), "%+v", c)
						if !consentEmpty(&c) {
							continue
						}
						empty++
						for _, revokeAll := range []bool{false, true} {
							for _, reassigned := range times {
								k, r := evalConsent(&c, at, revokeAll, !reassigned.IsZero(), reassigned)
								require.Equal(t, ConsentNone, k, "%+v", c)
								require.Equal(t, bitConsentMissing, r, "%+v", c)
							}
						}
					}
				}
			}
		}
	}
	require.Equal(t, 16, empty)
}
