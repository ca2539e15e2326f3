package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/account"
	"github.com/heed-dialer/heed/internal/dbtest"
)

// TestSettingsCLI saves firm settings with `heed settings set`, reads them
// with `heed settings show`, and checks that `heed check` decides under
// them, as the dialer does.
func TestSettingsCLI(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	env := map[string]string{"DATABASE_URL": url}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	accounts := account.NewService(pool)
	for email, role := range map[string]account.Role{"admin@firm.test": account.RoleAdmin, "para@firm.test": account.RoleParalegal} {
		_, err := accounts.Create(ctx, email, role, "long enough password")
		require.NoError(t, err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source)
		VALUES ('+18605550101', 'pec', 'informational', 'voice', '2026-01-05T12:00:00Z', 'intake')`)
	require.NoError(t, err)
	versions := func() int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM firm_settings`).Scan(&n))
		return n
	}
	check := func() checkJSON {
		t.Helper()
		out, stderr, err := runHeed(env, "check", "--json", "--number", "860-555-0101", "--purpose", "informational", "--at", "2026-12-01T20:30:00-05:00")
		require.NoError(t, err, stderr)
		var got checkJSON
		require.NoError(t, json.Unmarshal([]byte(out), &got), out)
		return got
	}

	out, _, err := runHeed(env, "settings", "show")
	require.NoError(t, err)
	require.Contains(t, out, "version:   0 (none saved: heed's defaults)")
	require.Contains(t, out, "window informational:   08:00-21:00; floor 08:00-21:00 (H1)")
	require.Contains(t, out, "cap R1:  7 per 7d; floor 7 per 7d")
	require.Equal(t, "allow", check().Decision, "heed's default window allows 20:30")

	tight := writeFile(t, "policy.json", `{"windows": {"informational": "09:00-20:00"}, "caps": {"R1": {"max": 5, "period": "7d"}}, "no_sunday": true}`)
	out, stderr, err := runHeed(env, "settings", "set", "--file", tight, "--by", "ADMIN@firm.test", "--note", "narrower evenings")
	require.NoError(t, err, stderr)
	require.Contains(t, out, "saved firm settings version 1 (v1)")
	got := check()
	require.Equal(t, "defer", got.Decision, "heed check decides under the stored policy")
	require.Equal(t, []string{"window.outside"}, got.Reasons)
	require.Contains(t, got.Pack, "firm-v1")

	out, _, err = runHeed(env, "settings", "show", "--json")
	require.NoError(t, err)
	var p consent.FirmPolicy
	require.NoError(t, json.Unmarshal([]byte(out), &p), out)
	require.Equal(t, "v1", p.Version)
	require.Equal(t, "09:00-20:00", p.Windows[consent.PurposeInformational].String())
	require.Equal(t, 5, p.Caps["R1"].Max)
	out, _, err = runHeed(env, "settings", "show")
	require.NoError(t, err)
	require.Contains(t, out, "version:   1 (v1), saved by admin@firm.test")
	require.Contains(t, out, "narrower evenings")
	require.Contains(t, out, "window informational:   09:00-20:00; floor 08:00-21:00 (H1)")

	loose := writeFile(t, "loose.json", `{"windows": {"informational": "07:00-21:00"}}`)
	_, _, err = runHeed(env, "settings", "set", "--file", loose, "--by", "admin@firm.test")
	require.ErrorIs(t, err, consent.ErrLoosensFloor)
	require.ErrorContains(t, err, "loosens rule H1")
	require.Equal(t, 1, exitCode(err))

	_, _, err = runHeed(env, "settings", "set", "--file", tight, "--by", "para@firm.test")
	require.ErrorIs(t, err, errNotAdmin)
	_, _, err = runHeed(env, "settings", "set", "--file", tight, "--by", "nobody@firm.test")
	require.ErrorIs(t, err, account.ErrNotFound)
	_, _, err = runHeed(env, "settings", "set", "--file", writeFile(t, "typo.json", `{"window": {}}`), "--by", "admin@firm.test")
	require.ErrorIs(t, err, consent.ErrInvalidPolicy)
	_, _, err = runHeed(env, "settings", "set", "--file", tight)
	require.ErrorIs(t, err, errUsage)
	require.Equal(t, 1, versions(), "only the one good save was stored")

	out, _, err = runHeed(env, "audit", "verify")
	require.NoError(t, err, out)
}
