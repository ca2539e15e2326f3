package web_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/web"
)

// TestConsentFormsTheFirmsZoneFirst: the consents page's forms offer the
// firm's zone first and chosen (New York by default, once UTC for the
// upload), as heed consent import reads times in it.
func TestConsentFormsTheFirmsZoneFirst(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.browser(t)
	code, _ := admin.signin("admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	_, page, _ := admin.get("/admin/consents")
	require.Contains(t, page, `<select id="zone" name="zone"><option selected>America/New_York</option><option>UTC</option>`)
	require.Contains(t, page, `<select id="c-zone" name="zone"><option selected>America/New_York</option><option>UTC</option>`)
}

// TestConsentFormsOfferTheFirmsZone: a firm whose zone is not among the
// usual ones gets it offered first, and chosen, on both of the consents
// page's forms, and an upload in it is read in it.
func TestConsentFormsOfferTheFirmsZone(t *testing.T) {
	t.Parallel()
	indy, err := time.LoadLocation("America/Indiana/Indianapolis")
	require.NoError(t, err)
	b := setupWith(t, func(_ *pgxpool.Pool, cfg *web.Config) { cfg.TimeZone = indy })
	admin := b.browser(t)
	code, _ := admin.signin("admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	_, page, _ := admin.get("/admin/consents")
	require.Contains(t, page, `<select id="zone" name="zone"><option selected>America/Indiana/Indianapolis</option><option>UTC</option>`)
	require.Contains(t, page, `<select id="c-zone" name="zone"><option selected>America/Indiana/Indianapolis</option><option>UTC</option>`)
	code, body := admin.multipart("/admin/consents", map[string]string{"_csrf": admin.csrf("/admin/consents"), "kind": "revocations",
		"zone": "America/Indiana/Indianapolis"}, "file", "r.csv", []byte("phone,revoked_at,method\n860-555-0192,2026-01-05 14:30,email\n"))
	require.Equal(t, http.StatusOK, code, body)
	var at time.Time
	require.NoError(t, b.db.QueryRow(context.Background(), `SELECT revoked_at FROM revocations WHERE phone = '+18605550192'`).Scan(&at))
	require.Equal(t, "2026-01-05 14:30", at.In(indy).Format("2006-01-02 15:04"))
}
