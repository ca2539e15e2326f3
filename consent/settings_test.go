package consent_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/account"
	"github.com/heed-dialer/heed/internal/audit"
	"github.com/heed-dialer/heed/internal/dbtest"
)

type settingsBundle struct {
	db    *pgxpool.Pool
	store *consent.SettingsStore
	admin int64
	ctx   context.Context
}

func setupSettings(t *testing.T) *settingsBundle {
	t.Helper()
	db := dbtest.New(t)
	ctx := context.Background()
	u, err := account.NewService(db).Create(ctx, "admin@firm.test", account.RoleAdmin, "long enough password")
	require.NoError(t, err)
	return &settingsBundle{db: db, store: consent.NewSettingsStore(db), admin: u.ID, ctx: ctx}
}

func (b *settingsBundle) rows(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.QueryRow(b.ctx, `SELECT count(*) FROM firm_settings`).Scan(&n))
	return n
}

func TestSettingsStore(t *testing.T) {
	t.Parallel()
	b := setupSettings(t)
	const h = time.Hour

	t.Run("NoneSavedIsTheZeroPolicyAtVersion0", func(t *testing.T) {
		p, v, err := b.store.Current(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 0, v)
		require.Equal(t, consent.FirmPolicy{}, p)
		hist, err := b.store.History(b.ctx)
		require.NoError(t, err)
		require.NotNil(t, hist)
		require.Empty(t, hist)
	})

	tight := consent.FirmPolicy{
		Version:  "ignored",
		Windows:  map[consent.Purpose]consent.Window{consent.PurposeInformational: {Start: 9 * h, End: 20 * h}},
		Caps:     map[string]consent.Cap{"R1": {Max: 5, Period: 7 * 24 * h}},
		NoSunday: true, Holidays: []string{"2026-12-25"}, ResidentialNeedsPEC: true,
		NationalMaxAge: 20 * 24 * h, AbandonTarget: 0.01, MinRing: 25 * time.Second,
		RevocationScope: consent.RevokeAll, CheckReassigned: true,
	}
	t.Run("SaveTighteningBumpsTheVersion", func(t *testing.T) {
		v, err := b.store.Save(b.ctx, tight, b.admin, "first tightening")
		require.NoError(t, err)
		require.Equal(t, 1, v)
		p, cur, err := b.store.Current(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, cur)
		want := tight
		want.Version = "v1"
		require.Equal(t, want, p, "the stored policy reads back whole, named by its version")

		narrower := tight
		narrower.Windows = map[consent.Purpose]consent.Window{consent.PurposeInformational: {Start: 10 * h, End: 19 * h}}
		v, err = b.store.Save(b.ctx, narrower, b.admin, "narrower")
		require.NoError(t, err)
		require.Equal(t, 2, v)
		p, cur, err = b.store.Current(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 2, cur)
		require.Equal(t, "v2", p.Version)
		require.Equal(t, consent.Window{Start: 10 * h, End: 19 * h}, p.Windows[consent.PurposeInformational])

		eng, err := consent.NewEngine(consent.Config{Firm: p})
		require.NoError(t, err)
		require.Contains(t, eng.Version(), "firm-v2", "decisions name the policy version")

		hist, err := b.store.History(b.ctx)
		require.NoError(t, err)
		require.Len(t, hist, 2)
		require.Equal(t, 2, hist[0].Version, "newest first")
		require.Equal(t, "narrower", hist[0].Note)
		require.Equal(t, "admin@firm.test", hist[0].SavedByEmail)
		require.Equal(t, b.admin, hist[1].SavedBy)
		require.Equal(t, "first tightening", hist[1].Note)
		require.False(t, hist[1].SavedAt.IsZero())
	})

	t.Run("LooseningIsRefusedWithTheRuleNamed", func(t *testing.T) {
		before := b.rows(t)
		for _, tc := range []struct {
			name, rule, setting string
			p                   consent.FirmPolicy
		}{
			{"informational window from 07:00", "H1", "window.informational",
				consent.FirmPolicy{Windows: map[consent.Purpose]consent.Window{consent.PurposeInformational: {Start: 7 * h, End: 21 * h}}}},
			{"R1 cap raised", "R1", "caps.R1", consent.FirmPolicy{Caps: map[string]consent.Cap{"R1": {Max: 8, Period: 7 * 24 * h}}}},
			{"telemarketing window to 21:30", "F6", "window.telemarketing",
				consent.FirmPolicy{Windows: map[consent.Purpose]consent.Window{consent.PurposeTelemarketing: {Start: 9 * h, End: 21*h + 30*time.Minute}}}},
			{"national copy 40 days old", "F8", "national_max_age", consent.FirmPolicy{NationalMaxAge: 40 * 24 * h}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				v, err := b.store.Save(b.ctx, tc.p, b.admin, "loosen")
				require.Error(t, err)
				require.Equal(t, 0, v)
				require.ErrorIs(t, err, consent.ErrLoosensFloor)
				var fe *consent.FloorError
				require.True(t, errors.As(err, &fe), "the FloorError survives: %v", err)
				require.Equal(t, tc.rule, fe.Rule)
				require.Equal(t, tc.setting, fe.Setting)
			})
		}
		require.Equal(t, before, b.rows(t), "a refused policy stores nothing")
		_, cur, err := b.store.Current(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 2, cur)
	})

	t.Run("MalformedAndUnknownUserAreRefused", func(t *testing.T) {
		before := b.rows(t)
		_, err := b.store.Save(b.ctx, consent.FirmPolicy{Holidays: []string{"Christmas"}}, b.admin, "")
		require.ErrorIs(t, err, consent.ErrInvalidPolicy)
		_, err = b.store.Save(b.ctx, consent.FirmPolicy{Caps: map[string]consent.Cap{"R1": {Max: 5, Period: 60 * 24 * h}}}, b.admin, "")
		require.ErrorIs(t, err, consent.ErrInvalidPolicy, "a cap period beyond the history the dialer reads cannot be enforced")
		require.ErrorContains(t, err, "cap R1 period 60d")
		_, err = b.store.Save(b.ctx, consent.FirmPolicy{NoSunday: true}, 987654, "")
		require.ErrorIs(t, err, consent.ErrNotFound)
		require.Equal(t, before, b.rows(t))
	})

	t.Run("AppendOnlyInTheDatabase", func(t *testing.T) {
		_, err := b.db.Exec(b.ctx, `UPDATE firm_settings SET note = 'rewritten' WHERE version = 1`)
		require.ErrorContains(t, err, "append-only")
		_, err = b.db.Exec(b.ctx, `DELETE FROM firm_settings WHERE version = 2`)
		require.ErrorContains(t, err, "append-only")
		_, err = b.db.Exec(b.ctx, `TRUNCATE firm_settings`)
		require.ErrorContains(t, err, "append-only")
		var note string
		require.NoError(t, b.db.QueryRow(b.ctx, `SELECT note FROM firm_settings WHERE version = 1`).Scan(&note))
		require.Equal(t, "first tightening", note)
	})

	t.Run("EverySaveIsAuditedAndTheChainVerifies", func(t *testing.T) {
		var n int
		require.NoError(t, b.db.QueryRow(b.ctx, `SELECT count(*) FROM audit_log WHERE tbl = 'firm_settings' AND op = 'insert'`).Scan(&n))
		require.Equal(t, b.rows(t), n)
		var details string
		require.NoError(t, b.db.QueryRow(b.ctx, `SELECT details::text FROM audit_log WHERE tbl = 'firm_settings' ORDER BY seq DESC LIMIT 1`).Scan(&details))
		require.Contains(t, details, `"note": "narrower"`)
		rep, err := audit.Verify(b.ctx, b.db)
		require.NoError(t, err)
		require.Positive(t, rep.Rows)
	})

	t.Run("CorruptStoredPolicyIsAnErrorNotTheDefaults", func(t *testing.T) {
		_, err := b.db.Exec(b.ctx, `INSERT INTO firm_settings (version, policy, saved_by) VALUES (3, '{"windows": {"informational": "late"}}', $1)`, b.admin)
		require.NoError(t, err)
		_, v, err := b.store.Current(b.ctx)
		require.ErrorIs(t, err, consent.ErrInvalidPolicy)
		require.Equal(t, 0, v)
	})
}

func TestSettingsPolicyJSON(t *testing.T) {
	t.Parallel()
	const h = time.Hour
	p := consent.FirmPolicy{
		Version:  "v7",
		Windows:  map[consent.Purpose]consent.Window{consent.PurposeDebtCollection: {Start: 9 * h, End: 20 * h}},
		Caps:     map[string]consent.Cap{"R1": {Max: 5, Period: 7 * 24 * h}},
		NoSunday: true, NationalMaxAge: 20 * 24 * h, MinRing: 25 * time.Second, RevocationScope: consent.RevokePurpose,
	}
	b, err := json.Marshal(p)
	require.NoError(t, err)
	require.JSONEq(t, `{"version":"v7","windows":{"debt_collection":"09:00-20:00"},"caps":{"R1":{"max":5,"period":"7d"}},
		"no_sunday":true,"residential_needs_pec":false,"national_max_age":"20d","min_ring":"25s",
		"revocation_scope":"purpose","check_reassigned":false}`, string(b))
	var back consent.FirmPolicy
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, p, back)

	for _, bad := range []string{`{"windws":{}}`, `{"windows":{"informational":"9-20"}}`, `{"caps":{"R1":{"max":5,"period":"week"}}}`, `{"revocation_scope":"some"}`} {
		var q consent.FirmPolicy
		require.ErrorIs(t, json.Unmarshal([]byte(bad), &q), consent.ErrInvalidPolicy, bad)
	}
}

func TestSettingsFloors(t *testing.T) {
	t.Parallel()
	f := consent.Floors(nil)
	require.Equal(t, "08:00-21:00", f.Windows[consent.PurposeInformational].Window.String())
	require.Equal(t, []string{"H1"}, f.Windows[consent.PurposeInformational].Rules)
	require.Equal(t, []string{"F6"}, f.Windows[consent.PurposeTelemarketing].Rules)
	require.Equal(t, []string{"R2"}, f.Windows[consent.PurposeDebtCollection].Rules)
	codes := make([]string, len(f.Caps))
	for i, c := range f.Caps {
		codes[i] = c.Rule
	}
	require.Contains(t, codes, "R1")
	require.Contains(t, codes, "F3")
	require.Equal(t, 31*24*time.Hour, f.NationalMaxAge)
	require.Equal(t, 0.015, f.AbandonTarget)
	require.Equal(t, 0.03, f.AbandonFloor)
	require.Equal(t, 20*time.Second, f.MinRing)
	require.Equal(t, 15*time.Second, f.MinRingFloor)
}

// PackVersion names the pack version of the engine the same law packs and
// policy build, without building it.
func TestPackVersion(t *testing.T) {
	t.Parallel()
	narrow := consent.FirmPolicy{Version: "v3", NoSunday: true,
		Windows: map[consent.Purpose]consent.Window{consent.PurposeInformational: {Start: 10 * time.Hour, End: 19 * time.Hour}}}
	for _, p := range []consent.FirmPolicy{{}, narrow} {
		e, err := consent.NewEngine(consent.Config{Firm: p})
		require.NoError(t, err)
		require.Equal(t, e.Version(), consent.PackVersion(nil, p))
	}
	require.NotEqual(t, consent.PackVersion(nil, consent.FirmPolicy{}), consent.PackVersion(nil, narrow))
	// Without the last law pack (Oklahoma's), as a firm's own set.
	law := consent.DefaultPacks()
	e, err := consent.NewEngine(consent.Config{Packs: law[:len(law)-1], Firm: narrow})
	require.NoError(t, err)
	require.Equal(t, e.Version(), consent.PackVersion(law[:len(law)-1], narrow))
	require.NotContains(t, e.Version(), law[len(law)-1].Tag())
	require.Equal(t, consent.DefaultPacks()[len(law)-1].Tag(), law[len(law)-1].Tag(), "the packs given are not changed")
}
