package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// gateVerdict is what a policy gate on the real indexes of db decides
// for an informational reminder robocall to the landline p tomorrow at
// 11:00 in New York: a call that needs no consent (F3), which only an
// opt-out stops.
func gateVerdict(t *testing.T, db *pgxpool.Pool, p phone.Number) consent.Decision {
	t.Helper()
	ctx := context.Background()
	engine, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	ix := dialer.NewIndexes(db, nil)
	require.NoError(t, ix.Load(ctx))
	g := &dialer.PolicyGate{Engine: engine, Indexes: ix}
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	y, m, d := time.Now().In(ny).AddDate(0, 0, 1).Date()
	return g.Check(ctx, dialer.Request{Phone: p, Purpose: consent.PurposeInformational,
		Method: consent.MethodPrerecorded, Line: consent.LineLandline, At: time.Date(y, m, d, 11, 0, 0, 0, ny)})
}

// TestOptOutPlusWithoutOne: a person whose number is (203) 555-0199
// types it on the public opt-out page as "+203 555 0199", which also
// reads as an Egyptian number (+20). The opt-out is recorded for the
// North American number they meant, the confirmation names it as
// +1 203-555-0199 and says how it was read, and the gate refuses it.
func TestOptOutPlusWithoutOne(t *testing.T) {
	t.Parallel()
	b := setupWith(t, trustLoopback)
	br := b.browser(t)
	code, body, h := br.optOut("198.51.100.7", url.Values{"phone": {"+203 555 0199"}})
	require.Equal(t, http.StatusSeeOther, code, body)
	require.Equal(t, "/optout/done", h.Get("Location"))
	code, body, _ = br.get("/optout/done")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "Calls to &#43;1 203-555-0199 stop now")
	require.Contains(t, body, "You typed <strong>&#43;203 555 0199</strong>, with a + but without the 1")
	require.NotContains(t, body, "2035550199")

	require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM optout_requests WHERE phone = '+12035550199' AND recorded_at IS NOT NULL`))
	rev, entries, _ := recorded(t, b, "+12035550199")
	require.Equal(t, []int{1, 1}, []int{rev, entries})
	require.Zero(t, count(t, b.db, `SELECT count(*) FROM optout_requests WHERE phone <> '+12035550199'`), "nothing for the foreign reading")
	dec := gateVerdict(t, b.db, "+12035550199")
	require.Equal(t, consent.Deny, dec.Verdict, "%v", dec.Reasons)

	// A number typed as usual keeps its usual confirmation, without the
	// note of an earlier request in the same session.
	code, body, _ = br.optOut("198.51.100.7", url.Values{"phone": {"+1 860 555 0198"}})
	require.Equal(t, http.StatusSeeOther, code, body)
	_, body, _ = br.get("/optout/done")
	require.Contains(t, body, "Calls to (860) 555-0198 stop now")
	require.NotContains(t, body, "You typed")
	// The note is not left over when the browser skipped the confirmation.
	_, _, _ = br.optOut("198.51.100.7", url.Values{"phone": {"+860 555 0197"}})
	_, _, _ = br.optOut("198.51.100.7", url.Values{"phone": {"860 555 0196"}})
	_, body, _ = br.get("/optout/done")
	require.Contains(t, body, "Calls to (860) 555-0196 stop now")
	require.NotContains(t, body, "You typed")
	require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM revocations WHERE phone = '+18605550197'`),
		"invalid as written, +860 555 0197 is the North American number")
}

// TestAdminDNCPlusWithoutOne: an admin's single do-not-call entry typed
// "+203 234 5678" (valid in Egypt as written) is the opt-out of
// +12032345678, which the gate then refuses.
func TestAdminDNCPlusWithoutOne(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.browser(t)
	code, _ := admin.signin("admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, body, _ := admin.post("/admin/dnc", url.Values{"_csrf": {admin.csrf("/admin/dnc")}, "phone": {"+203 234 5678"}, "source": {"letter"}, "method": {"letter"}})
	require.Equal(t, http.StatusSeeOther, code, body)
	_, body, _ = admin.get("/admin/dnc")
	require.Contains(t, body, "&#43;12032345678 will not be called again.")
	rev, entries, _ := recorded(t, b, "+12032345678")
	require.Equal(t, []int{1, 1}, []int{rev, entries})
	require.Zero(t, count(t, b.db, `SELECT count(*) FROM revocations WHERE phone <> '+12032345678'`))
	dec := gateVerdict(t, b.db, "+12032345678")
	require.Equal(t, consent.Deny, dec.Verdict, "%v", dec.Reasons)
}

// TestRevocationUploadPlusWithoutOne: a revocation file's row
// "+2035550199" revokes +12035550199, and the report says so for its
// line.
func TestRevocationUploadPlusWithoutOne(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.browser(t)
	code, _ := admin.signin("admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	tok := admin.csrf("/admin/consents")
	file := "phone,revoked_at,method,source\n" +
		"+2035550199," + time.Now().UTC().Add(-time.Hour).Format(time.RFC3339) + ",email,asked to stop\n" +
		"(860) 555-0191," + time.Now().UTC().Add(-time.Hour).Format(time.RFC3339) + ",email,asked to stop\n"
	code, body := admin.multipart("/admin/consents", map[string]string{"_csrf": tok, "kind": "revocations", "zone": "America/New_York"}, "file", "r.csv", []byte(file))
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "Imported 2 revocations (2 rows read, 0 skipped as duplicates), and 2 numbers put on the internal do-not-call list.")
	require.Contains(t, body, `<table id="read-as-nanp">`)
	require.Contains(t, body, "<tr><td>2</td><td>phone &#34;&#43;2035550199&#34; has a &#43; but not the country code 1: read as the North American number &#43;1 203-555-0199</td></tr>")
	require.Equal(t, 1, strings.Count(body, "<tr><td>"), "only its row")
	rev, entries, _ := recorded(t, b, "+12035550199")
	require.Equal(t, []int{1, 1}, []int{rev, entries})
	require.Zero(t, count(t, b.db, `SELECT count(*) FROM revocations WHERE phone = '+2035550199'`))
	dec := gateVerdict(t, b.db, "+12035550199")
	require.Equal(t, consent.Deny, dec.Verdict, "%v", dec.Reasons)
}
