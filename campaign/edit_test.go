package campaign

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// TestUpdateDraft: a draft's settings are replaced, validated as on
// creation, and its targets become the new list's contacts; a campaign
// that has started cannot be edited.
func TestUpdateDraft(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	hearings := importList(t, s, "appointments", appointmentsCSV)
	other := importList(t, s, "other", "name,phone\nCid,8605550103\nDee,8605550104\nEve,8605550105\n")
	in := NewCampaign{Name: "Hearings", Purpose: "informational", ListID: hearings, CallerID: "860-555-0100",
		Message: "Smith and Lee calling about your hearing on {date}."}
	c, err := s.Create(ctx, in, 0)
	require.NoError(t, err)
	require.Equal(t, 2, c.Counts.Targets)

	// Invalid: the new list's contacts have no appointment for {date}.
	in.ListID = other
	_, err = s.Update(ctx, c.ID, in, Edit{})
	var fe FieldErrors
	require.True(t, errors.As(err, &fe), "%v", err)
	require.Contains(t, fe["message"], "no appointment date and time")
	got, err := s.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, c.Message, got.Message, "a refused edit changes nothing")
	require.Equal(t, hearings, got.ListID)

	in.Message, in.RingSeconds, in.Schedule = "Smith and Lee calling: please call us back.", 30, &Schedule{TimeZone: "America/Chicago", WindowStart: "10:00", WindowEnd: "16:00"}
	stale := c.Edits
	got, err = s.Update(ctx, c.ID, in, Edit{Edits: &stale})
	require.NoError(t, err)
	require.Equal(t, in.Message, got.Message)
	require.Equal(t, other, got.ListID)
	require.Equal(t, 30, got.RingSeconds)
	require.Equal(t, Schedule{TimeZone: "America/Chicago", WindowStart: "10:00", WindowEnd: "16:00"}, got.Schedule)
	require.Equal(t, 3, got.Counts.Targets, "the new list's contacts")
	require.Equal(t, c.Edits+1, got.Edits)
	var left int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM campaign_targets t JOIN contacts k ON k.id = t.contact_id WHERE t.campaign_id = $1 AND k.list_id <> $2`, c.ID, other).Scan(&left))
	require.Zero(t, left, "no target of the old list is left")

	// A form filled before that edit is refused; the recording is kept
	// when asked, under the campaign's lock, whatever in says.
	_, err = s.Update(ctx, c.ID, in, Edit{Edits: &stale})
	require.ErrorIs(t, err, ErrEditConflict)
	_, err = db.Exec(ctx, `UPDATE campaigns SET message_audio = 'reminder-1' WHERE id = $1`, c.ID)
	require.NoError(t, err)
	in.Audio = "someone-elses"
	var pat int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO users (email, role, password_hash) VALUES ('pat@firm.test', 'paralegal', 'x') RETURNING id`).Scan(&pat))
	got, err = s.Update(ctx, c.ID, in, Edit{KeepAudio: true, By: pat})
	require.NoError(t, err)
	require.Equal(t, "reminder-1", got.Audio)
	var by int64
	require.NoError(t, db.QueryRow(ctx, `SELECT (details->>'updated_by')::bigint FROM audit_log WHERE tbl = 'campaigns' AND row_id = $1 ORDER BY seq DESC LIMIT 1`, c.ID).Scan(&by))
	require.Equal(t, pat, by, "the audit log names the editor")
	in.Audio = ""
	got, err = s.Update(ctx, c.ID, in, Edit{})
	require.NoError(t, err)
	require.Empty(t, got.Audio, "removed")

	_, err = s.Update(ctx, 999999, in, Edit{})
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.Start(ctx, c.ID)
	require.NoError(t, err)
	_, err = s.Update(ctx, c.ID, in, Edit{})
	require.ErrorIs(t, err, ErrInvalidTransition)
}

// TestStartRefusesAnEditedDraft: a draft edited while it is being started
// (after its launch checks, before it is marked running) is not started
// with settings the checks never saw.
func TestStartRefusesAnEditedDraft(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	list := importList(t, s, "appointments", appointmentsCSV)
	c, err := s.Create(ctx, NewCampaign{Name: "Hearings", Purpose: "informational", ListID: list, CallerID: "860-555-0100",
		Message: "Smith and Lee calling about your hearing on {date}."}, 0)
	require.NoError(t, err)

	// An edit in flight holds the campaign's row.
	tx := holdOpen(t, db, `UPDATE campaigns SET message_text = 'Hello.', edits = edits + 1 WHERE id = $1`, c.ID)
	done := make(chan error, 1)
	go func() {
		_, err := s.Start(ctx, c.ID)
		done <- err
	}()
	waitForLock(t, db, "FROM campaigns WHERE id = $1 FOR NO KEY UPDATE")
	require.NoError(t, tx.Commit(ctx))
	err = <-done
	require.ErrorIs(t, err, ErrInvalidTransition)
	require.ErrorContains(t, err, "changed while it was being started")
	got, err := s.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, StatusDraft, got.Status)
	_, err = s.Start(ctx, c.ID)
	require.NoError(t, err, "started again, the checks pass on what it now says")
}

// TestStartCallsTheListAsItIs: a draft started after its list gained
// contacts calls them too; one that lacks a field the message says
// refuses the start until it has it.
func TestStartCallsTheListAsItIs(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	ctx := context.Background()
	list := importList(t, s, "appointments", appointmentsCSV)
	c, err := s.Create(ctx, NewCampaign{Name: "Hearings", Purpose: "informational", ListID: list, CallerID: "860-555-0100",
		Message: "Smith and Lee calling about your hearing on {date}."}, 0)
	require.NoError(t, err)
	require.Equal(t, 2, c.Counts.Targets)

	_, err = s.ImportContacts(ctx, "appointments", strings.NewReader("name,phone\nCid,8605550103\n"), ImportOptions{})
	require.NoError(t, err)
	_, err = s.Start(ctx, c.ID)
	require.ErrorIs(t, err, ErrLaunchRefused)
	require.ErrorContains(t, err, "Cid (+18605550103)")
	got, err := s.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, StatusDraft, got.Status)

	_, err = s.ImportContacts(ctx, "appointments", strings.NewReader("name,phone,appointment_at\nCid,8605550103,2026-12-03 10:00\n"), ImportOptions{UpdateExisting: true})
	require.NoError(t, err)
	got, err = s.Start(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, StatusRunning, got.Status)
	require.Equal(t, 3, got.Counts.Targets, "Cid is called too")
}

// waitForLock waits until exactly one session of the database waits for a
// lock in a query that holds the text, for a test that commits the
// transaction it waits for only then.
func waitForLock(t *testing.T, db *pgxpool.Pool, query string) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, db.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND strpos(query, $1) > 0`, query).Scan(&n))
		return n == 1
	}, 10*time.Second, 10*time.Millisecond, "no session waits for a lock in %q", query)
}

// holdOpen runs sql in a transaction it leaves open, for the test to
// commit once another session waits on its locks; it is rolled back at
// the test's end if the test does not.
func holdOpen(t *testing.T, db *pgxpool.Pool, sql string, args ...any) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	_, err = tx.Exec(ctx, sql, args...)
	require.NoError(t, err)
	return tx
}
