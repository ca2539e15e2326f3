package web_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/audit"
)

func TestSettingsPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rows := func() int { return count(t, b.db, `SELECT count(*) FROM firm_settings`) }
	admin := b.browser(t)
	code, _ := admin.signin("admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	tok := admin.csrf("/admin/settings")
	form := func(kv ...string) url.Values {
		v := url.Values{"_csrf": {tok}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}

	t.Run("AdminSeesSettingsWithFloors", func(t *testing.T) {
		code, body, _ := admin.get("/admin/settings")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, `<a href="/admin/settings">Settings</a>`, "the nav links to it")
		require.Contains(t, body, "heed's defaults (no settings saved yet, version 0)")
		require.Contains(t, body, "<td>08:00–21:00</td><td>08:00–21:00 (H1)</td>", "informational window beside its floor")
		require.Contains(t, body, "<td>08:00–21:00 (F6)</td>")
		require.Contains(t, body, "<td>08:00–21:00 (R2)</td>")
		require.Contains(t, body, "at most 7 per 7d (R1)")
		require.Contains(t, body, `name="window_informational"`)
		require.Contains(t, body, `name="cap_R1_max"`)
		require.Contains(t, body, `id="no-history"`)
	})

	t.Run("AdminSavesATightening", func(t *testing.T) {
		code, body, h := admin.post("/admin/settings", form("window_informational", "09:00–20:00", "cap_R1_max", "5",
			"no_sunday", "1", "holidays", "2026-12-25\n2027-01-01", "national_max_age_days", "20", "abandon_target_pct", "1",
			"min_ring_seconds", "25", "revocation_scope", "all", "check_reassigned", "1", "note", "tighter for the audit"))
		require.Equal(t, http.StatusSeeOther, code, body)
		require.Equal(t, "/admin/settings", h.Get("Location"))
		require.Equal(t, 1, rows())
		code, body, _ = admin.get("/admin/settings")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, "Saved the firm settings as version 1.")
		require.Contains(t, body, "version <strong>1</strong> (v1)")
		require.Contains(t, body, "<td>09:00–20:00</td><td>08:00–21:00 (H1)</td>")
		require.Contains(t, body, "<td>5 per 7d</td>")
		require.Contains(t, body, "<td>admin@firm.test</td>")
		require.Contains(t, body, "<td>tighter for the audit</td>")
		require.Contains(t, body, `value="09:00–20:00"`, "the form shows the policy in force")

		p, v, err := consent.NewSettingsStore(b.db).Current(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, v)
		require.Equal(t, 5, p.Caps["R1"].Max)
		require.Equal(t, 0.01, p.AbandonTarget)
		require.Equal(t, []string{"2026-12-25", "2027-01-01"}, p.Holidays)
		require.True(t, p.NoSunday)
		require.True(t, p.CheckReassigned)
	})

	t.Run("ALooseningIsRefusedBesideTheFieldKeepingEveryValue", func(t *testing.T) {
		code, body, _ := admin.post("/admin/settings", form("window_informational", "07:00-21:00", "cap_R1_max", "9",
			"cap_R1_period", "7", "window_debt_collection", "09:00-20:00", "holidays", "2026-07-04", "no_sunday", "1",
			"min_ring_seconds", "30", "note", "please keep this note"))
		require.Equal(t, http.StatusUnprocessableEntity, code)
		require.Contains(t, body, "Not saved: a setting would loosen a floor")
		require.Contains(t, body, "firm setting window.informational = 07:00-21:00 loosens rule H1 (08:00-21:00)")
		require.Contains(t, body, "firm setting caps.R1 = 9 per 168h0m0s loosens rule R1")
		for _, typed := range []string{`value="07:00-21:00"`, `value="9"`, `id="cap_R1_period" name="cap_R1_period" type="text" inputmode="numeric" value="7"`,
			`value="09:00-20:00"`, "2026-07-04</textarea>", `value="30"`, `value="please keep this note"`,
			`id="no_sunday" name="no_sunday" type="checkbox" value="1" checked`} {
			require.Contains(t, body, typed)
		}
		require.Equal(t, 1, rows(), "nothing stored")
	})

	t.Run("MalformedInputIsRefusedKeepingEveryValue", func(t *testing.T) {
		code, body, _ := admin.post("/admin/settings", form("window_telemarketing", "nine to five", "holidays", "Christmas",
			"abandon_target_pct", "lots", "cap_R1_period", "60", "min_ring_seconds", "121", "note", "typo"))
		require.Equal(t, http.StatusUnprocessableEntity, code)
		require.Contains(t, body, "&#34;121&#34;: give a whole number of seconds, from 1 to 120.")
		require.Contains(t, body, "&#34;nine to five&#34; is not a window")
		require.Contains(t, body, "&#34;Christmas&#34; is not a date")
		require.Contains(t, body, "&#34;lots&#34;: give a percentage")
		require.Contains(t, body, `value="nine to five"`)
		require.Contains(t, body, `value="lots"`)
		require.Contains(t, body, "Period &#34;60&#34;: at most 31d")
		require.Contains(t, body, `id="cap_R1_period" name="cap_R1_period" type="text" inputmode="numeric" value="60"`)
		require.Equal(t, 1, rows())
	})

	t.Run("MissingCSRFTokenIs403", func(t *testing.T) {
		code, body, _ := admin.post("/admin/settings", url.Values{"window_informational": {"10:00-19:00"}})
		require.Equal(t, http.StatusForbidden, code)
		require.Contains(t, body, "CSRF")
		require.Equal(t, 1, rows())
	})

	t.Run("AttorneyReadsOnly", func(t *testing.T) {
		atty := b.browser(t)
		code, _ := atty.signin("atty@firm.test", password)
		require.Equal(t, http.StatusSeeOther, code)
		code, body, _ := atty.get("/admin/settings")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, `<a href="/admin/settings">Settings</a>`)
		require.Contains(t, body, "<td>09:00–20:00</td><td>08:00–21:00 (H1)</td>")
		require.Contains(t, body, "<td>tighter for the audit</td>")
		require.NotContains(t, body, `id="settings-form"`)
		require.NotContains(t, body, `name="window_informational"`)
		tok := atty.csrf("/campaigns")
		code, _, _ = atty.post("/admin/settings", url.Values{"_csrf": {tok}, "window_informational": {"10:00-19:00"}})
		require.Equal(t, http.StatusForbidden, code)
		require.Equal(t, 1, rows())
	})

	t.Run("ParalegalIsForbidden", func(t *testing.T) {
		para := b.browser(t)
		code, _ := para.signin("para@firm.test", password)
		require.Equal(t, http.StatusSeeOther, code)
		code, body, _ := para.get("/admin/settings")
		require.Equal(t, http.StatusForbidden, code)
		require.NotContains(t, body, "09:00–20:00")
		_, body, _ = para.get("/campaigns")
		require.NotContains(t, body, `href="/admin/settings"`)
		tok := para.csrf("/campaigns")
		code, _, _ = para.post("/admin/settings", url.Values{"_csrf": {tok}, "window_informational": {"10:00-19:00"}})
		require.Equal(t, http.StatusForbidden, code)
		require.Equal(t, 1, rows())
	})

	t.Run("AuditChainVerifies", func(t *testing.T) {
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM audit_log WHERE tbl = 'firm_settings'`))
		_, err := audit.Verify(ctx, b.db)
		require.NoError(t, err)
	})
}
