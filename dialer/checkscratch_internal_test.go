package dialer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/phone"
)

// TestCheckBatchInUseLeavesScratch: a CheckBatch call that finds the
// gate's Batch in use (batchMu held) decides as Check does with a Batch
// and scratch of its own, leaves the gate's scratch (PolicyGate.scratch)
// as it was, and allocates nothing.
func TestCheckBatchInUseLeavesScratch(t *testing.T) { //nolint:paralleltest // AllocsPerRun forbids t.Parallel.
	at := time.Date(2026, 6, 10, 15, 0, 0, 0, time.UTC)
	e, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	recs := []consent.Record{{Type: consent.RecordConsent, ID: 7, Number: 2125550101, Kind: consent.ConsentPEWC,
		Scope: consent.PurposeTelemarketing, Channel: consent.ChannelVoice, At: at.Add(-time.Hour)}}
	x := dnc.NewIndex()
	var b dnc.Builder
	require.NoError(t, b.AddMany([]uint64{3055550100}))
	_, err = x.Replace(dnc.Meta{List: dnc.National, AsOf: at.AddDate(0, 0, -3)}, b.Build())
	require.NoError(t, err)
	g := &PolicyGate{Engine: e, Indexes: NewMemoryIndexes(x, consent.NewIndex(consent.NewSnapshot(0, recs...)))}
	req := func(n string, p consent.Purpose) Request {
		return Request{Phone: phone.Number(n), Purpose: p, Method: consent.MethodPrerecorded, Line: consent.LineWireless,
			State: "NY", ZIP: "10001", At: at}
	}
	first := []Request{req("+12125550101", consent.PurposeTelemarketing), req("+12125550102", consent.PurposeInformational)}
	out := make([]consent.Decision, len(first))
	g.CheckBatch(t.Context(), first, out) // makes the gate's Batch and scratch
	require.NotNil(t, g.scratch)
	kept := *g.scratch

	second := []Request{req("+13055550100", consent.PurposeTelemarketing), req("+12125550101", consent.PurposeTelemarketing),
		req("+1305555019x", consent.PurposeSolicitation)}
	want := make([]consent.Decision, len(second))
	for i := range second {
		want[i] = g.Check(t.Context(), second[i])
	}
	require.Contains(t, want[0].Reasons, consent.ReasonDNCNational, "the national list denies the first: %+v", want)
	require.Equal(t, int64(7), want[1].ConsentID, "the consent decides the second request: %+v", want)
	g.batchMu.Lock() // another call holds the Batch
	got := make([]consent.Decision, len(second))
	g.CheckBatch(t.Context(), second, got)
	require.Equal(t, want, got)
	require.Equal(t, kept, *g.scratch, "the gate's scratch is untouched")
	require.Zero(t, testing.AllocsPerRun(20, func() { g.CheckBatch(t.Context(), second, got) }))
	g.batchMu.Unlock()

	// With the Batch free again, the gate's scratch serves the call.
	g.CheckBatch(t.Context(), second, got)
	require.Equal(t, want, got)
	require.NotEqual(t, kept, *g.scratch)
}
