package dialer_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/phone"
)

// installWhileWaiting runs a campaign whose one contact, x, is put on a
// litigator list installed as its call waits for a line, right before its
// last look, by a gate whose indexes follow the registry (and sync only
// when the pacer syncs them: no background loop runs). lost, when set,
// runs after the install, before the look. It returns the world and the
// lines.
func installWhileWaiting(t *testing.T, x phone.Number, lost func(dir string, in dnc.Installed)) (*personWorld, *recordingLines) {
	t.Helper()
	w := newPersonWorld(t)
	w.contact(w.list, x, "D-901")
	lines := &recordingLines{t: t, db: w.db}
	p := w.pacer(lines)
	dir := t.TempDir()
	reg := dnc.NewRegistry(w.db, dir)
	p.Gate.(*dialer.PolicyGate).Indexes.Registry = reg
	n, err := x.NANP()
	require.NoError(t, err)
	lines.beforeReady = func(req dialer.CallRequest) {
		var b dnc.Builder
		require.NoError(t, b.Add(n))
		in, err := reg.Install(context.Background(), dnc.Litigator, time.Now().AddDate(0, 0, -1), "litigators.txt", b.Build(), 0)
		require.NoError(t, err)
		if lost != nil {
			lost(dir, in)
		}
	}
	// The run ends after the one call: a contact left due (index.stale)
	// would be taken again every 5 s for as long as the copy is lost.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.Lines = onePlace{Lines: lines, done: cancel}
	var sn *dialer.Snooze
	if err := p.Run(ctx, w.campaignID, 1); err != nil && !errors.Is(err, context.Canceled) {
		require.ErrorAs(t, err, &sn)
	}
	return w, lines
}

// onePlace is lines that call done after their first call, placed or not.
type onePlace struct {
	dialer.Lines
	done func()
}

func (l onePlace) Place(ctx context.Context, req dialer.CallRequest, report func(dialer.CallEvent)) error {
	defer l.done()
	return l.Lines.Place(ctx, req, report)
}

// TestLastLookSeesARegistryInstall: a registry list installed as a call
// waits for its line, committed before the call's last look, stops the
// call at that look, as an opt-out committed then does: the install is in
// the change log, so the exact look finds the log ahead of its indexes,
// which sync and load the new copy. The call is never placed.
func TestLastLookSeesARegistryInstall(t *testing.T) {
	t.Parallel()
	const x phone.Number = "+18605550391"
	w, lines := installWhileWaiting(t, x, nil)
	require.Empty(t, lines.placed, "a call to a number on a list installed before its last look")
	require.Equal(t, []phone.Number{x}, lines.calledOff)
	r := w.look(x)
	require.Equal(t, "allow", r.decision, "the batch's decision stands as made")
	require.Equal(t, string(dialer.OutcomeCalledOff), r.outcome)
	require.Equal(t, "deny", r.look.Decision.Decision)
	require.Equal(t, []string{"dnc.litigator"}, r.look.Decision.Reasons)
	require.Equal(t, "done", r.target)
	var installSeq int64
	require.NoError(t, w.db.QueryRow(context.Background(), `SELECT c.seq FROM index_changes c JOIN dnc_list_installs i ON i.id = c.ref_id
		WHERE c.index = 'dnc' AND c.op = 'install' AND i.list = 'litigator'`).Scan(&installSeq))
	require.GreaterOrEqual(t, r.look.IndexSeq, installSeq, "the look's indexes had applied the install")
}

// TestLastLookFailsClosedOnAnUnreadableInstall: a registry list installed
// before a call's last look whose file the indexes cannot read (gone from
// the directory here) calls the call off with index.stale: the indexes
// never report a position past an install they could not load, so no
// exact look is recorded, and the look that follows a failed sync fails
// closed. The contact stays due.
func TestLastLookFailsClosedOnAnUnreadableInstall(t *testing.T) {
	t.Parallel()
	const x phone.Number = "+18605550392"
	w, lines := installWhileWaiting(t, x, func(dir string, in dnc.Installed) {
		require.NoError(t, os.Remove(filepath.Join(dir, in.File)))
	})
	require.Empty(t, lines.placed)
	require.Equal(t, []phone.Number{x}, lines.calledOff)
	r := w.look(x)
	require.Equal(t, string(dialer.OutcomeCalledOff), r.outcome)
	require.Equal(t, "deny", r.look.Decision.Decision)
	require.Equal(t, []string{"index.stale"}, r.look.Decision.Reasons)
	require.Equal(t, "pending", r.target, "due again once the indexes can load the list")
	require.Less(t, r.look.IndexSeq, r.look.IndexTop, "the indexes never claimed the install")
}
