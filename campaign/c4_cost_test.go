package campaign

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
)

// renderWatch is heed's Media, watched: it counts the measures, the
// renders (a measure that adds a file to the media directory: espeak-ng
// and sox ran), and the renders made while a transaction was open in the
// test's database (another backend with a transaction under way).
type renderWatch struct {
	media dialer.Media
	db    *pgxpool.Pool
	t     *testing.T

	mu                       sync.Mutex
	measures, renders, inTxn int
}

func newRenderWatch(t *testing.T, db *pgxpool.Pool) *renderWatch {
	return &renderWatch{media: dialer.Media{HostDir: t.TempDir(), AsteriskDir: "/media"}, db: db, t: t}
}

func (w *renderWatch) files() int {
	es, err := os.ReadDir(w.media.HostDir)
	require.NoError(w.t, err)
	return len(es)
}

func (w *renderWatch) Measure(ctx context.Context, text string) (dialer.Spoken, error) {
	var open int
	require.NoError(w.t, w.db.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL`).Scan(&open))
	before := w.files()
	s, err := w.media.Measure(ctx, text)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.measures++
	if w.files() > before {
		w.renders++
		if open > 0 {
			w.inTxn++
		}
	}
	return s, err
}

func (w *renderWatch) counts() (measures, renders, inTxn int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.measures, w.renders, w.inTxn
}

// TestC4TimingOutsideTransactions: the audio rule C4's check times is
// rendered before the transactions that run the check, never in them (an
// import that moves contacts into Connecticut, contacts added to a running
// campaign, a contact put back in a completed one), and an import checks
// each campaign once per set of states its moved contacts are in, not
// once per contact.
func TestC4TimingOutsideTransactions(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	s.Launch.NationalAsOf = func(context.Context) (time.Time, error) { return time.Now().Add(-24 * time.Hour), nil }
	s.Launch.NoDetection = true
	const moved = 20
	var ny, ct strings.Builder
	ny.WriteString("name,phone,state\n")
	ct.WriteString("name,phone,state\n")
	for i := range moved {
		fmt.Fprintf(&ny, "P%d,21255501%02d,NY\n", i, i)
		fmt.Fprintf(&ct, "P%d,21255501%02d,CT\n", i, i)
	}
	list := importList(t, s, "people", ny.String())
	msg := "We are calling about your claim. Would you like to continue, end the call, or be removed from our list? To end this call, hang up."
	c, err := s.Create(ctx, NewCampaign{Name: "offer", Purpose: "telemarketing", ListID: list, CallerID: testCallerID, Message: msg}, 0)
	require.NoError(t, err)
	c, err = s.Start(ctx, c.ID)
	require.NoError(t, err)

	// One check of the campaign for a Connecticut contact, timed on a
	// media directory of its own: how many measures a check takes.
	one := newRenderWatch(t, db)
	s.Launch.Voice = one
	require.NoError(t, s.Launch.Check(ctx, c, []string{"CT"}, true))
	perCheck, _, _ := one.counts()
	require.Positive(t, perCheck, "Connecticut's check times the call")

	// An import moves every contact into Connecticut.
	w := newRenderWatch(t, db)
	s.Launch.Voice = w
	_, err = s.ImportContacts(ctx, "people", strings.NewReader(ct.String()), ImportOptions{UpdateExisting: true})
	require.NoError(t, err)
	measures, renders, inTxn := w.counts()
	t.Logf("import moving %d contacts: %d measures (%d a check), %d renders, %d in a transaction", moved, measures, perCheck, renders, inTxn)
	require.Positive(t, renders)
	require.Zero(t, inTxn, "the import's transaction waits on no render")
	require.LessOrEqual(t, measures, 2*perCheck, "the warm-up and one check for the moved contacts' states, not one per contact")

	// A contact added while the campaign runs.
	w = newRenderWatch(t, db)
	s.Launch.Voice = w
	_, err = s.ImportContacts(ctx, "people", strings.NewReader("name,phone,state\nAnn,8605550101,CT\n"), ImportOptions{SkipExisting: true})
	require.NoError(t, err)
	added, err := s.AddNewContacts(ctx, c.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 1, added)
	_, renders, inTxn = w.counts()
	require.Positive(t, renders)
	require.Zero(t, inTxn, "AddNewContacts' transaction waits on no render")

	// A contact put back in the completed campaign.
	var ann int64
	require.NoError(t, db.QueryRow(ctx, `SELECT id FROM contacts WHERE phone = '+18605550101'`).Scan(&ann))
	require.NoError(t, s.SkipContact(ctx, c.ID, ann, 0, ""))
	_, err = db.Exec(ctx, `UPDATE campaign_targets SET state = 'done' WHERE campaign_id = $1 AND state = 'pending'`, c.ID)
	require.NoError(t, err)
	got, err := s.Get(ctx, c.ID)
	require.NoError(t, err)
	done, _, err := NewStore(db).Settle(ctx, c.ID, got.Generation)
	require.NoError(t, err)
	require.True(t, done)
	w = newRenderWatch(t, db)
	s.Launch.Voice = w
	require.NoError(t, s.RestoreContact(ctx, c.ID, ann, 0))
	require.Equal(t, "running", campaignStatus(t, db, c.ID))
	_, renders, inTxn = w.counts()
	require.Positive(t, renders)
	require.Zero(t, inTxn, "RestoreContact's transaction waits on no render")
}

// BenchmarkLaunchCheck: what a launch check costs for a contact in
// Connecticut (rule C4's disclosure timed on audio the media directory
// holds already, as after Launch.warm) and in New York (nothing timed).
func BenchmarkLaunchCheck(b *testing.B) {
	ctx := context.Background()
	engine, err := consent.NewEngine(consent.Config{})
	require.NoError(b, err)
	launch := &Launch{Engine: func() *consent.Engine { return engine }, Firm: "Smith and Lee", OptOutNumber: "+18005550199",
		NationalAsOf: func(context.Context) (time.Time, error) { return time.Now(), nil },
		Voice:        dialer.Media{HostDir: b.TempDir(), AsteriskDir: "/media"}, NoDetection: true}
	c := Campaign{Purpose: consent.PurposeTelemarketing, CallerID: "+18605550100", Callback: "+18605550100",
		Message: "We are calling about your claim. Would you like to continue, end the call, or be removed from our list? To end this call, hang up."}
	launch.warm(ctx, c)
	for _, st := range []string{"CT", "NY"} {
		b.Run(st, func(b *testing.B) {
			for range b.N {
				if err := launch.Check(ctx, c, []string{st}, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("CT first render", func(b *testing.B) {
		for range b.N {
			l := *launch
			l.Voice = dialer.Media{HostDir: b.TempDir(), AsteriskDir: "/media"}
			if err := l.Check(ctx, c, []string{"CT"}, true); err != nil {
				b.Fatal(err)
			}
		}
	})
}
