package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"riverqueue.com/riverui"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/account"
	"github.com/heed-dialer/heed/web"
)

// TestJobsUI mounts the River job UI for admins: it lists heed's campaign
// jobs; other roles get 403; an action from another site is refused.
func TestJobsUI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rc, err := river.NewClient(riverpgxv5.New(b.db), &river.Config{Logger: log})
	require.NoError(t, err)
	h, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: riverui.NewEndpoints(rc, nil), Logger: log, Prefix: web.JobsPrefix})
	require.NoError(t, err)
	hctx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	require.NoError(t, h.Start(hctx))
	_, err = rc.Insert(ctx, campaign.RunArgs{CampaignID: 42, Generation: 7}, nil)
	require.NoError(t, err)

	s, err := web.New(web.Config{DB: b.db, Accounts: b.accounts, Campaigns: campaign.NewService(b.db, rc), DNC: dnc.NewPGStore(b.db),
		Media: b.media, Registry: dnc.NewRegistry(b.db, t.TempDir()), Log: log, UploadLimit: 64 << 10, Jobs: h})
	require.NoError(t, err)
	b2 := *b
	b2.srv = httptest.NewServer(s)
	t.Cleanup(b2.srv.Close)

	admin := b2.browser(t)
	code, _ := admin.signin("admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, body, _ := admin.get("/admin/jobs/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "<html")
	code, body, _ = admin.get("/admin/jobs/api/jobs?state=available&limit=20")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"kind":"campaign_run"`)
	require.Contains(t, body, `\"campaign_id\": 42`)

	// An action from another site is refused before it reaches the UI.
	req, err := http.NewRequest(http.MethodPost, b2.srv.URL+"/admin/jobs/api/jobs/cancel", strings.NewReader(`{"ids":["1"]}`))
	require.NoError(t, err)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Content-Type", "application/json")
	code, _, _ = admin.do(req)
	require.Equal(t, http.StatusForbidden, code)
	var state string
	require.NoError(t, b.db.QueryRow(ctx, `SELECT state FROM river_job WHERE kind = 'campaign_run'`).Scan(&state))
	require.Equal(t, "available", state, "the refused action changed nothing")

	for _, who := range []struct {
		email string
		role  account.Role
	}{{"para@firm.test", account.RoleParalegal}, {"atty@firm.test", account.RoleAttorney}} {
		br := b2.browser(t)
		code, _ := br.signin(who.email, password)
		require.Equal(t, http.StatusSeeOther, code)
		code, _, _ = br.get("/admin/jobs/api/jobs?state=available&limit=20")
		require.Equal(t, http.StatusForbidden, code, who.role)
	}
	anon := b2.browser(t)
	code, _, _ = anon.get("/admin/jobs/")
	require.Equal(t, http.StatusSeeOther, code, "sign in first")
}
