package dialer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/dbtest"
)

// TestPacerReadsReassignedNumbers: with the firm's F15 check on, the pacing
// loop looks up the Reassigned Numbers Database's answers and a consent
// given before a reported disconnection no longer allows the call; with the
// check off the same call is placed.
func TestPacerReadsReassignedNumbers(t *testing.T) {
	t.Parallel()
	for _, check := range []bool{false, true} {
		db := dbtest.New(t)
		ctx := context.Background()
		const number = "+18605550141"
		var listID, campaignID int64
		require.NoError(t, db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('p') RETURNING id`).Scan(&listID))
		_, err := db.Exec(ctx, `INSERT INTO contacts (list_id, name, phone) VALUES ($1, 'x', $2)`, listID, number)
		require.NoError(t, err)
		_, err = db.Exec(ctx, `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ($1, 'pec', 'informational', 'voice', now() - interval '30 days', 't')`, number)
		require.NoError(t, err)
		rep, err := consent.NewReassignedStore(db).ImportReassigned(ctx, strings.NewReader("phone,date,result\n"+number+","+
			time.Now().AddDate(0, 0, -30).Format("2006-01-02")+",yes\n"), consent.FormatCSV, consent.ImportOptions{}, "test", time.Now())
		require.NoError(t, err)
		require.Equal(t, 1, rep.Imported)
		campaignID = runningCampaign(t, db, listID, "Hello", 2)

		engine, err := consent.NewEngine(consent.Config{Firm: consent.FirmPolicy{CheckReassigned: check}})
		require.NoError(t, err)
		ix := dialer.NewIndexes(db, quiet())
		require.NoError(t, ix.Load(ctx))
		lines := &recordingLines{t: t, db: db}
		p := &dialer.Pacer{
			Gate: &dialer.PolicyGate{Engine: engine, Indexes: ix}, Store: campaign.NewStore(db), Lines: lines,
			Media: dialer.Media{HostDir: t.TempDir(), AsteriskDir: "/media"}, Log: quiet(), Tick: 10 * time.Millisecond,
			Now: officeHours(), Firm: "Smith and Lee", Reassigned: consent.NewReassignedStore(db),
		}
		require.NoError(t, p.Run(ctx, campaignID, 1))
		var decision string
		var reasons []string
		require.NoError(t, db.QueryRow(ctx, `SELECT decision, reasons FROM attempts WHERE campaign_id = $1`, campaignID).Scan(&decision, &reasons))
		if check {
			require.Equal(t, "deny", decision)
			require.Equal(t, []string{"consent.missing"}, reasons)
			require.Empty(t, lines.placed)
		} else {
			require.Equal(t, "allow", decision, "F15 is off: the answer is not read")
			require.Len(t, lines.placed, 1)
		}
	}
}
