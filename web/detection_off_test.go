package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/web"
)

// TestCampaignDetectionOffSetting: the new-campaign and edit forms and the
// JSON API (create and edit) carry the campaign's answering-machine
// detection switch (amd_off; "amd": {"off": true}), with what turning it
// off means for Connecticut sales calls; the campaign page shows it, and a
// form refused for another field keeps it. Only admins and paralegals
// change it, and the form needs its CSRF token.
func TestCampaignDetectionOffSetting(t *testing.T) {
	t.Parallel()
	b := setupWith(t, func(_ *pgxpool.Pool, cfg *web.Config) { cfg.Campaigns.Launch.OptOutNumber = "" })
	ctx := context.Background()
	listID := insertList(t, b, "hearings", "Ann Lee")
	br := b.browser(t)
	code, _ := br.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, page, _ := br.get("/campaigns/new")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, `<input id="amd_off" name="amd_off" type="checkbox" value="on" > Turn detection off for this campaign`, "on by default")
	require.Contains(t, page, "so a Connecticut sales campaign (telemarketing or solicitation to CT) cannot start there")
	require.Contains(t, page, "ignored while detection is off")
	tok := csrfRE.FindStringSubmatch(page)[1]
	form := func() url.Values {
		return url.Values{"_csrf": {tok}, "name": {"Offer"}, "purpose": {"informational"}, "list_id": {fmt.Sprint(listID)},
			"message": {"Hello."}, "caller_id": {"860-555-0100"}, "amd_off": {"on"}, "amd_greeting_ms": {"1200"}}
	}
	campaigns := func() int { return count(t, b.db, `SELECT count(*) FROM campaigns`) }

	// A form refused for another field comes back with the box ticked.
	nameless := form()
	nameless.Set("name", "")
	code, body := br.postForm("/campaigns", nameless)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, `id="amd_off" name="amd_off" type="checkbox" value="on" checked`)
	require.Zero(t, campaigns())

	// Without its CSRF token, or by an attorney, nothing is stored.
	noToken := form()
	noToken.Set("callback", "888-555-0123")
	noToken.Del("_csrf")
	code, _ = br.postForm("/campaigns", noToken)
	require.Equal(t, http.StatusForbidden, code)
	atty := b.browser(t)
	code, _ = atty.signin("atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	attyForm := form()
	attyForm.Set("_csrf", atty.csrf("/campaigns"))
	attyForm.Set("callback", "888-555-0123")
	code, _ = atty.postForm("/campaigns", attyForm)
	require.Equal(t, http.StatusForbidden, code)
	require.Zero(t, campaigns())

	// Stored off, with the threshold kept.
	f := form()
	f.Set("callback", "888-555-0123")
	code, body = br.postForm("/campaigns", f)
	require.Equal(t, http.StatusSeeOther, code, body)
	var (
		id  int64
		amd string
	)
	require.NoError(t, b.db.QueryRow(ctx, `SELECT id, amd::text FROM campaigns`).Scan(&id, &amd))
	require.JSONEq(t, `{"off": true, "greeting_ms": 1200}`, amd)
	code, page, _ = br.get(fmt.Sprintf("/campaigns/%d", id))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, `<span id="amd-off">off for this campaign: every call plays the message at once on answer, answering machines included</span> (thresholds kept but ignored: greeting_ms 1200)`)

	// The edit form holds it; saved without the box, detection is on
	// again, and the audit log keeps what the edit replaced.
	code, edit, _ := br.get(fmt.Sprintf("/campaigns/%d/edit", id))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, edit, `id="amd_off" name="amd_off" type="checkbox" value="on" checked`)
	f.Del("amd_off")
	code, body = br.postForm(fmt.Sprintf("/campaigns/%d/edit", id), f)
	require.Equal(t, http.StatusSeeOther, code, body)
	require.NoError(t, b.db.QueryRow(ctx, `SELECT amd::text FROM campaigns WHERE id = $1`, id).Scan(&amd))
	require.JSONEq(t, `{"greeting_ms": 1200}`, amd)
	require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM audit_log WHERE tbl = 'campaigns' AND op = 'update'
		AND details->'before'->'amd' = '{"off": true, "greeting_ms": 1200}' AND NOT (details->'amd' ? 'off')`))
	code, page, _ = br.get(fmt.Sprintf("/campaigns/%d", id))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, "on where the Asterisk runs it: greeting_ms 1200")
	require.NotContains(t, page, `id="amd-off"`)

	// The JSON API: created and edited with it; an attorney's token may
	// not create.
	admin := b.token(t, "admin@firm.test")
	body = fmt.Sprintf(`{"name":"API","purpose":"informational","list_id":%d,"message":"Hello.","caller_id":"860-555-0100","amd":{"off":true}}`, listID)
	code, _ = b.api(t, b.token(t, "atty@firm.test"), "POST", "/api/v1/campaigns", body)
	require.Equal(t, http.StatusForbidden, code)
	code, out := b.api(t, admin, "POST", "/api/v1/campaigns", body)
	require.Equal(t, http.StatusCreated, code, out)
	var c campaign.Campaign
	require.NoError(t, json.Unmarshal([]byte(out), &c))
	require.True(t, c.AMD.Off)
	require.Contains(t, out, `"amd":{"off":true}`)
	code, out = b.api(t, admin, "PUT", fmt.Sprintf("/api/v1/campaigns/%d", c.ID), fmt.Sprintf(`{"name":"API","purpose":"informational","list_id":%d,"message":"Hello.","caller_id":"860-555-0100"}`, listID))
	require.Equal(t, http.StatusOK, code, out)
	var on campaign.Campaign
	require.NoError(t, json.Unmarshal([]byte(out), &on))
	require.Equal(t, c.ID, on.ID)
	require.False(t, on.AMD.Off, "a body without it turns detection on")
}
