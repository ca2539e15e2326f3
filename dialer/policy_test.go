package dialer_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/account"
	"github.com/heed-dialer/heed/internal/dbtest"
)

// logSink is a slog handler that hands every record's message to a channel,
// so a test can wait for a log line instead of sleeping.
type logSink struct{ ch chan string }

func (l logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l logSink) Handle(_ context.Context, r slog.Record) error {
	select {
	case l.ch <- r.Message:
	default:
	}
	return nil
}
func (l logSink) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logSink) WithGroup(string) slog.Handler      { return l }

// waitLog waits (bounded by ctx) for a log message equal to want.
func waitLog(ctx context.Context, t *testing.T, ch <-chan string, want string) {
	t.Helper()
	for {
		select {
		case m := <-ch:
			if m == want {
				return
			}
		case <-ctx.Done():
			t.Fatalf("no log line %q: %v", want, ctx.Err())
		}
	}
}

// decideAt decides an informational prerecorded call to a Connecticut
// wireless number with written consent, at the given New York wall time.
func decideAt(t *testing.T, e *consent.Engine, clock string) consent.Decision {
	t.Helper()
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	at, err := time.ParseInLocation("2006-01-02 15:04", "2026-12-01 "+clock, ny) // a Tuesday
	require.NoError(t, err)
	in := consent.Input{Number: "+18605550101", State: "CT", Purpose: consent.PurposeInformational,
		Method: consent.MethodPrerecorded, Line: consent.LineWireless, At: at}
	f := consent.Facts{Fresh: true, NationalAsOf: at.Add(-24 * time.Hour),
		Consent: consent.ConsentFacts{ID: 7, Kind: consent.ConsentPEWC, ObtainedAt: at.AddDate(-1, 0, 0)}}
	var d consent.Decision
	e.Decide(&in, &f, &d)
	return d
}

func TestSettingsCapPeriodWithinHistory(t *testing.T) {
	t.Parallel()
	require.GreaterOrEqual(t, dialer.HistoryWindow, consent.MaxCapPeriod,
		"a firm cap period the store accepts must fit in the history the pacer reads")
}

func TestSettingsPolicyReloadsAcrossProcesses(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	open := func() *pgxpool.Pool {
		pool, err := pgxpool.New(ctx, url)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		return pool
	}
	dbA, dbB := open(), open()
	admin, err := account.NewService(dbA).Create(ctx, "admin@firm.test", account.RoleAdmin, "long enough password")
	require.NoError(t, err)

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := dialer.NewPolicy(dbA, quiet)
	logs := make(chan string, 64)
	b := dialer.NewPolicy(dbB, slog.New(logSink{ch: logs}))
	require.Nil(t, b.Engine(), "no engine before Load")
	require.NoError(t, a.Load(ctx))
	require.NoError(t, b.Load(ctx))
	require.Equal(t, 0, b.Version())
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go a.Run(runCtx)
	go b.Run(runCtx)

	d := decideAt(t, b.Engine(), "20:30")
	require.Equal(t, consent.Allow, d.Verdict, "heed's default informational window is 08:00-21:00: %+v", d)

	const h = time.Hour
	v, err := a.Store.Save(ctx, consent.FirmPolicy{
		Windows: map[consent.Purpose]consent.Window{consent.PurposeInformational: {Start: 9 * h, End: 20 * h}},
	}, admin.ID, "narrow the informational window")
	require.NoError(t, err)
	require.Equal(t, 1, v)

	require.NoError(t, b.Wait(ctx, 1), "the save through A's store reaches B by NOTIFY")
	require.Equal(t, 1, b.Version())
	d = decideAt(t, b.Engine(), "20:30")
	require.Equal(t, consent.Defer, d.Verdict, "%+v", d)
	require.Contains(t, d.Reasons, consent.ReasonWindowOutside)
	require.Contains(t, d.Pack, "firm-v1", "the decision names the policy version")
	require.Equal(t, consent.Allow, decideAt(t, b.Engine(), "19:30").Verdict)
	require.NoError(t, a.Wait(ctx, 1))

	t.Run("ABadStoredPolicyKeepsTheEngineInUse", func(t *testing.T) {
		before := b.Engine()
		// A loosening written past the store (straight into the table) must
		// not be applied: the engine refuses it and the previous one stays.
		_, err := dbA.Exec(ctx, `INSERT INTO firm_settings (version, policy, saved_by, note)
			VALUES (2, '{"windows": {"informational": "07:00-21:00"}}', $1, 'bypass')`, admin.ID)
		require.NoError(t, err)
		waitLog(ctx, t, logs, "policy: stored firm policy not applied; keeping the engine in use")
		require.Same(t, before, b.Engine())
		require.Equal(t, 1, b.Version())
		require.ErrorIs(t, b.Load(ctx), consent.ErrLoosensFloor)
		require.Same(t, before, b.Engine())
		require.Equal(t, consent.Defer, decideAt(t, b.Engine(), "20:30").Verdict)

		// The next good version is applied.
		v, err := a.Store.Save(ctx, consent.FirmPolicy{
			Windows: map[consent.Purpose]consent.Window{consent.PurposeInformational: {Start: 8 * h, End: 21 * h}},
		}, admin.ID, "back to the default window")
		require.NoError(t, err)
		require.Equal(t, 3, v)
		require.NoError(t, b.Wait(ctx, 3))
		require.Equal(t, consent.Allow, decideAt(t, b.Engine(), "20:30").Verdict)
	})
}

// TestSettingsPolicyRunLeavesThePoolAlone runs a Policy on a pool of one
// connection: its listener must not hold that connection, or every other
// query of the process (and the policy's own reloads) would wait forever.
func TestSettingsPolicyRunLeavesThePoolAlone(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.MaxConns = 1
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	admin, err := account.NewService(db).Create(ctx, "admin@firm.test", account.RoleAdmin, "long enough password")
	require.NoError(t, err)

	p := dialer.NewPolicy(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go p.Run(runCtx)
	require.NoError(t, p.Wait(ctx, 0), "Run loads the policy once it listens")
	var one int
	require.NoError(t, db.QueryRow(ctx, `SELECT 1`).Scan(&one), "the pool's one connection is free while Run listens")
	require.Equal(t, 1, one)
	v, err := p.Store.Save(ctx, consent.FirmPolicy{NoSunday: true}, admin.ID, "")
	require.NoError(t, err)
	require.NoError(t, p.Wait(ctx, v))
	require.Equal(t, v, p.Version())
}
