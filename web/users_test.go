package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestManageUsers: an admin disables and enables a paralegal (signed out at
// once, API tokens stopped), changes their role, resets their password
// (shown once, every session signed out, every API token revoked), lists,
// names and revokes their API tokens; no admin may disable or demote
// themselves; a user changes their own password, which signs out their
// other sessions only and leaves their API tokens in force; roles and
// CSRF tokens are checked.
func TestManageUsers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	adminID, paraID := b.userID(t, "admin@firm.test"), b.userID(t, "para@firm.test")
	signin := func(email, pw string) *browser {
		br := b.browser(t)
		code, body := br.signin(email, pw)
		require.Equal(t, http.StatusSeeOther, code, body)
		return br
	}
	signedIn := func(br *browser) bool {
		code, _, _ := br.get("/campaigns")
		return code == http.StatusOK
	}
	admin, para := signin("admin@firm.test", password), signin("para@firm.test", password)
	tok, err := b.accounts.CreateToken(ctx, paraID, "case system")
	require.NoError(t, err)
	api := func() int {
		req, err := http.NewRequest("GET", b.srv.URL+"/api/v1/campaigns", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	change := func(br *browser, user int64, what string, form url.Values) (int, string) {
		t.Helper()
		if form == nil {
			form = url.Values{}
		}
		form.Set("_csrf", br.csrf("/admin/users"))
		code, body, _ := br.post(fmt.Sprintf("/admin/users/%d/%s", user, what), form)
		return code, body
	}

	_, body, _ := admin.get("/admin/users")
	require.Contains(t, body, "admin (you)")
	require.NotContains(t, body, fmt.Sprintf(`id="disable-%d"`, adminID), "no disabling oneself from the page")
	require.Contains(t, body, fmt.Sprintf(`id="disable-%d"`, paraID))

	// Disable: signed out at once, tokens stop; enable: may sign in again,
	// but the sessions of before stay ended, even one that made no request
	// while the user was disabled.
	idle := signin("para@firm.test", password)
	code, body := change(admin, paraID, "disable", nil)
	require.Equal(t, http.StatusSeeOther, code, body)
	require.False(t, signedIn(para))
	require.Equal(t, http.StatusUnauthorized, api())
	_, body, _ = admin.get("/admin/users")
	require.Contains(t, body, "Disabled para@firm.test: they are signed out and their API tokens stop working.")
	code, _ = b.browser(t).signin("para@firm.test", password)
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = change(admin, paraID, "enable", nil)
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, http.StatusOK, api())
	require.False(t, signedIn(idle))
	para = signin("para@firm.test", password)

	// A role change applies at the next request.
	code, _ = change(admin, paraID, "role", url.Values{"role": {"attorney"}})
	require.Equal(t, http.StatusSeeOther, code)
	code, _, _ = para.get("/lists")
	require.Equal(t, http.StatusForbidden, code, "an attorney now")
	code, _ = change(admin, paraID, "role", url.Values{"role": {"janitor"}})
	require.Equal(t, http.StatusUnprocessableEntity, code)
	code, _ = change(admin, paraID, "role", url.Values{"role": {"paralegal"}})
	require.Equal(t, http.StatusSeeOther, code)
	code, _, _ = para.get("/lists")
	require.Equal(t, http.StatusOK, code)

	// Not oneself.
	code, body = change(admin, adminID, "disable", nil)
	require.Equal(t, http.StatusConflict, code)
	require.Contains(t, body, "Not on your own account: another admin must disable you or change your role")
	code, _ = change(admin, adminID, "role", url.Values{"role": {"paralegal"}})
	require.Equal(t, http.StatusConflict, code)
	code, _ = change(admin, adminID, "password", nil)
	require.Equal(t, http.StatusConflict, code)
	require.True(t, signedIn(admin))

	// A reset: shown once; every session of the user ends, and every API
	// token of theirs is revoked.
	paraToo := signin("para@firm.test", password)
	require.Equal(t, http.StatusOK, api())
	code, body = change(admin, paraID, "password", nil)
	require.Equal(t, http.StatusOK, code)
	m := regexp.MustCompile(`<code id="new-password">([^<]+)</code>`).FindStringSubmatch(body)
	require.NotNil(t, m, body)
	require.Contains(t, body, `<span id="reset-note">Every session of theirs is signed out, and their API token was revoked (issue a new one for what used it).</span>`)
	require.False(t, signedIn(para))
	require.False(t, signedIn(paraToo))
	require.Equal(t, http.StatusUnauthorized, api(), "the token is revoked")
	require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM api_tokens WHERE user_id = $1 AND revoked_by = $2`, paraID, adminID), "revoked by the admin")
	// A new token, for the integration, which the user's own change
	// below leaves in force.
	tok, err = b.accounts.CreateToken(ctx, paraID, "case system")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, api())
	code, _ = b.browser(t).signin("para@firm.test", password)
	require.Equal(t, http.StatusUnauthorized, code, "the old password")
	para = signin("para@firm.test", m[1])
	paraToo = signin("para@firm.test", m[1])

	// One's own change: the current password, twice the new one; the
	// other sessions end, this one stays.
	own := func(current, next, confirm string) (int, string) {
		code, body, _ := para.post("/account/password", url.Values{"_csrf": {para.csrf("/account")},
			"current_password": {current}, "new_password": {next}, "confirm_password": {confirm}})
		return code, body
	}
	code, body = own("wrong", "a new password of mine", "a new password of mine")
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, "Your current password is wrong.")
	code, body = own(m[1], "a new password of mine", "a new password of mone")
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, "differ")
	code, body = own(m[1], "short", "short")
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, "at least 10 characters")
	require.True(t, signedIn(paraToo), "refused changes sign no one out")
	code, _ = own(m[1], "a new password of mine", "a new password of mine")
	require.Equal(t, http.StatusSeeOther, code)
	require.True(t, signedIn(para))
	require.False(t, signedIn(paraToo))
	require.Equal(t, http.StatusOK, api(), "one's own change leaves one's API tokens in force")
	signin("para@firm.test", "a new password of mine")

	// API tokens: listed with their names, a new one named, one revoked.
	code, body, _ = admin.get(fmt.Sprintf("/admin/users/%d", paraID))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "case system")
	code, body, _ = admin.post(fmt.Sprintf("/admin/users/%d/tokens", paraID), url.Values{"_csrf": {admin.csrf("/admin/users")}, "name": {"docket macro"}})
	require.Equal(t, http.StatusOK, code)
	require.Regexp(t, `<code id="token">heed_[A-Za-z0-9_-]+</code>`, body)
	require.Contains(t, body, "docket macro")
	var tokID int64
	require.NoError(t, b.db.QueryRow(ctx, `SELECT id FROM api_tokens WHERE name = 'case system' AND revoked_at IS NULL`).Scan(&tokID))
	revoke := func(user int64) int {
		code, _, _ := admin.post(fmt.Sprintf("/admin/users/%d/tokens/%d/revoke", user, tokID), url.Values{"_csrf": {admin.csrf("/admin/users")}})
		return code
	}
	require.Equal(t, http.StatusNotFound, revoke(adminID), "the token is not the admin's")
	require.Equal(t, http.StatusOK, api())
	require.Equal(t, http.StatusSeeOther, revoke(paraID))
	require.Equal(t, http.StatusUnauthorized, api())
	_, body, _ = admin.get(fmt.Sprintf("/admin/users/%d", paraID))
	require.Contains(t, body, "Revoked the API token &#34;case system&#34; of para@firm.test.")
	require.Contains(t, body, "revoked ")

	// Roles and CSRF.
	para = signin("para@firm.test", "a new password of mine")
	code, _, _ = para.get(fmt.Sprintf("/admin/users/%d", paraID))
	require.Equal(t, http.StatusForbidden, code, "a paralegal does not manage users, not even their own tokens")
	code, _, _ = signin("atty@firm.test", password).get("/account")
	require.Equal(t, http.StatusOK, code, "every user has their account page")
	code, _, _ = admin.post(fmt.Sprintf("/admin/users/%d/disable", paraID), url.Values{})
	require.Equal(t, http.StatusForbidden, code, "no CSRF token")
	code, _ = change(admin, 999999, "disable", nil)
	require.Equal(t, http.StatusNotFound, code)
	code, _ = change(admin, paraID, "delete", nil)
	require.Equal(t, http.StatusNotFound, code)
	require.True(t, signedIn(para), "the refused requests changed nothing")
}
