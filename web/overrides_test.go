package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/audit"
)

func TestOverridesPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	atty, admin, para := b.signedIn(t, "atty@firm.test"), b.signedIn(t, "admin@firm.test"), b.signedIn(t, "para@firm.test")
	tok := atty.csrf("/overrides")
	overrides := func() int { return count(t, b.db, `SELECT count(*) FROM overrides`) }
	form := func(fields map[string]string) url.Values {
		v := url.Values{"_csrf": {tok}, "phone": {"(860) 555-0101"}, "kind": {"regf_direct_consent"},
			"note": {"Asked us to call every day this week about the payment plan."}}
		for k, x := range fields {
			v.Set(k, x)
		}
		return v
	}

	t.Run("AttorneyLogs", func(t *testing.T) {
		code, body, _ := atty.get("/overrides")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, `<a href="/overrides">Overrides</a>`, "the nav links to it")
		require.Contains(t, body, `id="log-override"`)
		require.Contains(t, body, `name="_csrf"`)

		code, _, h := atty.post("/overrides", form(nil))
		require.Equal(t, http.StatusSeeOther, code)
		require.Equal(t, "/overrides", h.Get("Location"))
		code, body, _ = atty.get("/overrides")
		require.Equal(t, http.StatusOK, code)
		require.Regexp(t, `Logged override \d+: Reg F direct consent for &#43;18605550101, until `, body)
		require.Contains(t, body, "atty@firm.test (web)")
		require.Contains(t, body, `<span class="status">active</span>`)
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM overrides WHERE phone = '+18605550101' AND kind = 'regf_direct_consent'
			AND logged_by = (SELECT id FROM users WHERE email = 'atty@firm.test') AND via = 'web'
			AND expires_at = logged_at + interval '7 days'`))

		code, _, _ = atty.post("/overrides", form(map[string]string{"phone": "860-555-0102", "kind": "solicitation_exception",
			"relationship": "family", "note": "My sister-in-law; she asked about a will.", "evidence": "said so at Thanksgiving",
			"expires": "2099-01-01T12:00"}))
		require.Equal(t, http.StatusSeeOther, code)
		// Noon in the firm's zone (New York), whatever the server's.
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM overrides WHERE phone = '+18605550102' AND relationship = 'family'
			AND evidence = 'said so at Thanksgiving' AND expires_at = '2099-01-01T17:00:00Z'`))
		code, body, _ = atty.get("/overrides")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, "for &#43;18605550102, until 2099-01-01 12:00 EST.")
		require.Contains(t, body, "times are in America/New_York")
	})
	t.Run("BadInputKeepsTheForm", func(t *testing.T) {
		before := overrides()
		for _, tc := range []struct {
			name   string
			fields map[string]string
			field  string
			want   string
		}{
			{"BadPhone", map[string]string{"phone": "555-01"}, "phone", `phone &#34;555-01&#34; is not a valid phone number`},
			{"ShortNote", map[string]string{"note": "ok call"}, "note", "note must have at least 10 characters"},
			{"NoRelationship", map[string]string{"kind": "solicitation_exception", "relationship": ""}, "relationship", "a solicitation exception needs one of"},
			{"RegFTooLong", map[string]string{"expires": "2099-01-01T12:00"}, "expires", "at most 7 consecutive days"},
			{"BadExpiry", map[string]string{"expires": "next tuesday"}, "expires", "is not a date and time"},
		} {
			code, body, _ := atty.post("/overrides", form(tc.fields))
			require.Equal(t, http.StatusUnprocessableEntity, code, tc.name)
			require.Contains(t, body, `id="`+tc.field+`-error"`, tc.name)
			require.Contains(t, body, tc.want, tc.name)
			require.Contains(t, body, "Nothing was logged", tc.name)
			// What was typed is still there.
			if v, ok := tc.fields["phone"]; ok {
				require.Contains(t, body, `value="`+v+`"`, tc.name)
			}
			require.Contains(t, body, ">"+form(tc.fields).Get("note")+"</textarea>", tc.name)
			if tc.fields["kind"] == "solicitation_exception" {
				require.Contains(t, body, `value="solicitation_exception" checked`, tc.name)
			}
		}
		require.Equal(t, before, overrides(), "nothing was written")
	})
	t.Run("Withdraw", func(t *testing.T) {
		var id int64
		require.NoError(t, b.db.QueryRow(context.Background(), `SELECT id FROM overrides WHERE phone = '+18605550102'`).Scan(&id))
		path := fmt.Sprintf("/overrides/%d/withdraw", id)

		code, body, _ := atty.post(path, url.Values{"_csrf": {tok}, "reason": {"  "}})
		require.Equal(t, http.StatusUnprocessableEntity, code)
		require.Contains(t, body, "reason is required")
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM override_withdrawals`))

		code, body, _ = para.post(path, url.Values{"_csrf": {para.csrf("/campaigns")}, "reason": {"paralegal tries"}})
		require.Equal(t, http.StatusForbidden, code, body)
		code, _, _ = admin.post(path, url.Values{"_csrf": {admin.csrf("/overrides")}, "reason": {"admin tries"}})
		require.Equal(t, http.StatusForbidden, code)
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM override_withdrawals`))

		code, _, _ = atty.post(path, url.Values{"reason": {"no token"}})
		require.Equal(t, http.StatusForbidden, code, "a form without its CSRF token is refused")
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM override_withdrawals`))

		code, _, _ = atty.post(path, url.Values{"_csrf": {tok}, "reason": {"she retained other counsel"}})
		require.Equal(t, http.StatusSeeOther, code)
		code, body, _ = atty.get("/overrides?number=860-555-0102")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, fmt.Sprintf("Withdrew override %d for &#43;18605550102.", id))
		require.Contains(t, body, `<span class="status">withdrawn</span>`)
		require.Contains(t, body, "by atty@firm.test: she retained other counsel")
		require.NotContains(t, body, "18605550101", "the filter shows one number")
		require.NotContains(t, body, path, "a withdrawn override has no withdraw button")

		code, body, _ = atty.post(path, url.Values{"_csrf": {tok}, "reason": {"again"}})
		require.Equal(t, http.StatusConflict, code)
		require.Contains(t, body, "already withdrawn")
		code, _, _ = atty.post("/overrides/99999/withdraw", url.Values{"_csrf": {tok}, "reason": {"no such override"}})
		require.Equal(t, http.StatusNotFound, code)
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM override_withdrawals`))
	})
	t.Run("AdminReadsOnly", func(t *testing.T) {
		code, body, _ := admin.get("/overrides")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, `<a href="/overrides">Overrides</a>`)
		require.Contains(t, body, "&#43;18605550101")
		require.Contains(t, body, "atty@firm.test")
		require.NotContains(t, body, `id="log-override"`, "no form for admins")
		require.NotContains(t, body, "/withdraw", "no withdraw buttons for admins")

		before := overrides()
		code, body, _ = admin.post("/overrides", form(map[string]string{"_csrf": admin.csrf("/overrides")}))
		require.Equal(t, http.StatusForbidden, code)
		require.Contains(t, body, "Your role (admin) may not do this.")
		require.Equal(t, before, overrides())
	})
	t.Run("ParalegalForbidden", func(t *testing.T) {
		code, body, _ := para.get("/overrides")
		require.Equal(t, http.StatusForbidden, code)
		require.Contains(t, body, "may not do this")
		_, body, _ = para.get("/campaigns")
		require.NotContains(t, body, `href="/overrides"`, "no nav link for paralegals")

		before := overrides()
		code, _, _ = para.post("/overrides", form(map[string]string{"_csrf": para.csrf("/campaigns")}))
		require.Equal(t, http.StatusForbidden, code)
		require.Equal(t, before, overrides())

		code, _, h := b.browser(t).get("/overrides")
		require.Equal(t, http.StatusSeeOther, code, "signed out goes to sign-in")
		require.Equal(t, "/signin", h.Get("Location"))
	})
	t.Run("AuditChainHolds", func(t *testing.T) {
		require.Equal(t, overrides(), count(t, b.db, `SELECT count(*) FROM audit_log WHERE tbl = 'overrides'`))
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM audit_log WHERE tbl = 'override_withdrawals'`))
		_, err := audit.Verify(context.Background(), b.db)
		require.NoError(t, err)
	})
}

// TestOverridesPageEscapes checks that what an attorney types is shown as
// text, never as markup.
func TestOverridesPageEscapes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	atty := b.browser(t)
	code, _ := atty.signin("atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	tok := atty.csrf("/overrides")
	code, _, _ = atty.post("/overrides", url.Values{"_csrf": {tok}, "phone": {"8605550103"}, "kind": {"solicitation_exception"},
		"relationship": {"lawyer"}, "note": {`<script>alert("x")</script> opposing counsel`}})
	require.Equal(t, http.StatusSeeOther, code)
	_, body, _ := atty.get("/overrides")
	require.NotContains(t, body, `<script>alert`)
	require.Regexp(t, regexp.MustCompile(`&lt;script&gt;alert\(&#34;x&#34;\)&lt;/script&gt; opposing counsel`), body)
}
