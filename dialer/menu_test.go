package dialer_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// officeChangingStore is the real store, except that the campaign's
// transfer target is first and afterwards as given: the store withdraws
// it once the campaign's abandoned calls reach their target share (rule
// F10), and gives it back once answered calls bring the share under it,
// while a Run goes on. Run loads the campaign once before it makes the
// calls' audio, then before each batch.
type officeChangingStore struct {
	*campaign.Store
	first, after string
	mu           sync.Mutex
	loads        int
}

func (s *officeChangingStore) Campaign(ctx context.Context, id int64) (dialer.Campaign, error) {
	c, err := s.Store.Campaign(ctx, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	c.TransferTo = s.after
	if s.loads == 1 {
		c.TransferTo = s.first
	}
	return c, err
}

// TestPacerMenuFollowsTheOffice: a call's menu offers key 2 (the office)
// exactly when its key handler honours it, from the campaign's transfer
// target as last loaded, not as it was when the Run began. Key 2 withdrawn
// after the Run began: the call does not announce it, and the key does
// nothing. Key 2 given back: the call announces it, and the key transfers.
func TestPacerMenuFollowsTheOffice(t *testing.T) {
	t.Parallel()
	const office = "+18605550112"
	for _, tc := range []struct {
		name          string
		first, after  string
		wantMenuWith  bool
		wantTransfers string
	}{
		{name: "withdrawn", first: office, after: "", wantMenuWith: false, wantTransfers: ""},
		{name: "given back", first: "", after: office, wantMenuWith: true, wantTransfers: office},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newPersonWorld(t)
			w.contact(w.list, phone.Number("+18605550381"), "")
			lines := &pressingLines{recordingLines: &recordingLines{t: t, db: w.db}, key: dialer.OfficeKey}
			p := w.pacer(lines)
			p.Store = &officeChangingStore{Store: campaign.NewStore(w.db), first: tc.first, after: tc.after}
			ctx := context.Background()
			if err := p.Run(ctx, w.campaignID, 1); err != nil {
				var sn *dialer.Snooze
				require.ErrorAs(t, err, &sn)
			}
			require.Len(t, lines.reqs, 1)
			require.Len(t, lines.responses, 1)
			menu := func(transferTo string) string {
				m, err := p.Media.Speak(ctx, dialer.Script(dialer.Campaign{CallerID: "+18605550100", TransferTo: transferTo}, p.Firm, "").Menu)
				require.NoError(t, err)
				return m
			}
			with, without := menu(office), menu("")
			media := lines.reqs[0].Media
			if tc.wantMenuWith {
				require.Contains(t, media, with, "the call announces key 2")
				require.NotContains(t, media, without)
			} else {
				require.Contains(t, media, without, "the call does not announce key 2")
				require.NotContains(t, media, with)
			}
			require.Equal(t, tc.wantTransfers, lines.responses[0].TransferTo, "key 2 does what the menu said")
		})
	}
}
