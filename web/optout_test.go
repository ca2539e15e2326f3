package web_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/internal/phone"
	"github.com/heed-dialer/heed/web"
)

// postFrom posts a form as if from the client address ip: the test server
// sees a loopback peer, which a server set up with trustLoopback takes for
// a proxy, so X-Forwarded-For names the client to the abuse limits.
func (br *browser) postFrom(ip, path string, form url.Values) (int, string, http.Header) {
	br.t.Helper()
	req, err := http.NewRequest("POST", br.base+path, strings.NewReader(form.Encode()))
	require.NoError(br.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", ip)
	return br.do(req)
}

// optOut submits the opt-out form from ip with the given fields (the CSRF
// token added) and returns the response.
func (br *browser) optOut(ip string, fields url.Values) (int, string, http.Header) {
	br.t.Helper()
	fields.Set("_csrf", br.csrf("/optout"))
	return br.postFrom(ip, "/optout", fields)
}

// recorded counts the revocations, internal do-not-call entries and index
// changes of a number.
func recorded(t *testing.T, b *testBundle, e164 string) (revocations, dncEntries, changes int) {
	t.Helper()
	return count(t, b.db, `SELECT count(*) FROM revocations WHERE phone = $1`, e164),
		count(t, b.db, `SELECT count(*) FROM dnc_internal WHERE phone = $1`, e164),
		count(t, b.db, `SELECT count(*) FROM index_changes WHERE phone = $1`, e164)
}

// trustLoopback configures a test server to take its loopback peers for
// proxies (web.Config.TrustedProxies), as postFrom needs.
func trustLoopback(_ *pgxpool.Pool, cfg *web.Config) {
	cfg.TrustedProxies = []*net.IPNet{
		{IP: net.IPv4(127, 0, 0, 0), Mask: net.CIDRMask(8, 32)},
		{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
	}
}

func TestOptOut(t *testing.T) {
	t.Parallel()
	b := setupWith(t, trustLoopback)
	ctx := context.Background()

	t.Run("PageIsPublicAndPlain", func(t *testing.T) {
		t.Parallel()
		br := b.browser(t)
		code, body, _ := br.get("/optout")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, "Stop calls from us")
		require.Contains(t, body, "heed, its calling system")
		require.Contains(t, body, `<label for="phone">Your phone number</label>`)
		require.Contains(t, body, `autocomplete="tel"`)
		require.Contains(t, body, `name="hp_leave_empty"`, "the honeypot is on the form")
		require.NotContains(t, body, "Stop calls from us</a>", "the page does not link to itself")
		code, body, _ = br.get("/signin")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, `<a href="/optout" id="optout-link">Stop calls from us</a>`, "the sign-in page links to it")
	})
	t.Run("RecordsRevocationAndDNC", func(t *testing.T) {
		t.Parallel()
		// A consent on file, which the opt-out must beat.
		_, err := consent.NewLedger(b.db).AddConsent(ctx, consent.NewConsent{Phone: "+18605550101", Kind: consent.ConsentPEWC,
			Scope: consent.PurposeInformational, Channel: consent.ChannelVoice, ObtainedAt: time.Now().Add(-time.Hour), Source: "engagement letter", Evidence: "signed"})
		require.NoError(t, err)
		br := b.browser(t)
		code, body, h := br.optOut("198.51.100.1", url.Values{"phone": {"(860) 555-0101"}, "note": {"  got a\nreminder call  "}})
		require.Equal(t, http.StatusSeeOther, code, body)
		require.Equal(t, "/optout/done", h.Get("Location"))

		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM revocations WHERE phone = '+18605550101' AND method = 'web'
			AND source = 'public opt-out page: got a reminder call' AND recorded_by IS NULL AND scope = ''`), "a revoke-all revocation")
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM dnc_internal WHERE phone = '+18605550101' AND method = 'web'
			AND source = 'public opt-out page: got a reminder call' AND added_by IS NULL AND removed_at IS NULL`))
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM consents WHERE phone = '+18605550101'`), "the consent stays on file, append-only")
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM revocations r JOIN consents c USING (phone)
			WHERE r.phone = '+18605550101' AND r.revoked_at > c.obtained_at`), "the revocation is later than the consent")
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM index_changes WHERE phone = '+18605550101' AND index = 'consent' AND op = 'revocation'`))
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM index_changes WHERE phone = '+18605550101' AND index = 'dnc' AND op = 'add'`))

		code, body, _ = br.get("/optout/done")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, "Calls to (860) 555-0101 stop now")
		require.Contains(t, body, "Calls stop now")
		code, _, h = br.get("/optout/done")
		require.Equal(t, http.StatusSeeOther, code, "the confirmation shows once")
		require.Equal(t, "/optout", h.Get("Location"))
	})
	t.Run("AlreadyListedLooksTheSame", func(t *testing.T) {
		t.Parallel()
		n := phone.Number("+18605550102")
		_, err := b.db.Exec(ctx, `INSERT INTO dnc_internal (phone, method, source) VALUES ($1, $2, $3)`, n, "staff", "front desk")
		require.NoError(t, err)
		confirm := func(ip, typed string) string {
			br := b.browser(t)
			code, body, _ := br.optOut(ip, url.Values{"phone": {typed}})
			require.Equal(t, http.StatusSeeOther, code, body)
			code, body, _ = br.get("/optout/done")
			require.Equal(t, http.StatusOK, code)
			return body
		}
		listed := confirm("198.51.100.2", "860.555.0102")
		fresh := confirm("198.51.100.3", "860.555.0103")
		require.Equal(t, strings.ReplaceAll(fresh, "0103", "0102"), listed, "the page does not reveal that a number was on file")
		rev, entries, changes := recorded(t, b, n.String())
		require.Equal(t, 1, rev, "the revocation is recorded all the same")
		require.Equal(t, 1, entries, "no second do-not-call entry")
		require.Equal(t, 2, changes)
	})
	t.Run("InvalidNumber", func(t *testing.T) {
		t.Parallel()
		br := b.browser(t)
		for _, typed := range []string{"call me maybe", "555-0104", "860 555 01", ""} {
			code, body, _ := br.optOut("198.51.100.4", url.Values{"phone": {typed}, "note": {"hello"}})
			require.Equal(t, http.StatusUnprocessableEntity, code, typed)
			require.Contains(t, body, "with its area code", typed)
			require.Contains(t, body, `aria-invalid="true"`)
			require.Contains(t, body, `>hello</textarea>`, "the form keeps what was typed")
			if typed != "" {
				require.Contains(t, body, "is not a phone number we can read")
			}
		}
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM revocations WHERE source LIKE '%hello'`))
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM dnc_internal WHERE source LIKE '%hello'`))
	})
	t.Run("MissingCSRF", func(t *testing.T) {
		t.Parallel()
		br := b.browser(t)
		br.csrf("/optout")
		code, body, _ := br.postFrom("198.51.100.5", "/optout", url.Values{"phone": {"860-555-0105"}})
		require.Equal(t, http.StatusForbidden, code)
		require.Contains(t, body, "CSRF")
		rev, entries, changes := recorded(t, b, "+18605550105")
		require.Zero(t, rev+entries+changes)
	})
	t.Run("Honeypot", func(t *testing.T) {
		t.Parallel()
		br := b.browser(t)
		code, body, h := br.optOut("198.51.100.6", url.Values{"phone": {"860-555-0106"}, "hp_leave_empty": {"http://spam.example"}})
		require.Equal(t, http.StatusSeeOther, code, body)
		require.Equal(t, "/optout/done", h.Get("Location"), "a bot sees the usual answer")
		code, body, _ = br.get("/optout/done")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, "Calls stop now")
		rev, entries, changes := recorded(t, b, "+18605550106")
		require.Zero(t, rev+entries+changes, "a filled honeypot records nothing")
	})
	t.Run("RateLimit", func(t *testing.T) {
		t.Parallel()
		br := b.browser(t)
		numbers := []string{"203-555-0110", "203-555-0111", "203-555-0112", "203-555-0113", "203-555-0114"}
		for _, n := range numbers {
			code, body, _ := br.optOut("198.51.100.7", url.Values{"phone": {n}})
			require.Equal(t, http.StatusSeeOther, code, body)
		}
		code, body, h := br.optOut("198.51.100.7", url.Values{"phone": {"203-555-0115"}})
		require.Equal(t, http.StatusTooManyRequests, code)
		require.Contains(t, body, "Too many requests have come from your network")
		require.Contains(t, body, "at most 5 in 10 minutes and 30 a day")
		require.Contains(t, body, "try again in 10 minutes")
		require.Equal(t, "600", h.Get("Retry-After"))
		require.NotContains(t, body, `action="/optout"`, "no form to resubmit")
		rev, entries, _ := recorded(t, b, "+12035550115")
		require.Zero(t, rev+entries, "a refused submission records nothing")
		require.Equal(t, 5, count(t, b.db, `SELECT count(*) FROM revocations WHERE phone LIKE '+1203555011%'`))

		code, _, _ = br.optOut("198.51.100.8", url.Values{"phone": {"203-555-0115"}})
		require.Equal(t, http.StatusSeeOther, code, "another client has its own limit")
		code, _, _ = br.optOut("2001:db8:1:2::7", url.Values{"phone": {"203-555-0116"}})
		require.Equal(t, http.StatusSeeOther, code)
		for range 4 {
			code, _, _ = br.optOut("2001:db8:1:2::8", url.Values{"phone": {"bad"}})
			require.Equal(t, http.StatusUnprocessableEntity, code, "invalid submissions count too")
		}
		code, _, _ = br.optOut("2001:db8:1:2:ffff::9", url.Values{"phone": {"203-555-0117"}})
		require.Equal(t, http.StatusTooManyRequests, code, "an IPv6 /64 is one client")
		code, _, _ = br.get("/optout")
		require.Equal(t, http.StatusOK, code, "reading the page is not limited")
	})
	t.Run("BodyLimit", func(t *testing.T) {
		t.Parallel()
		br := b.browser(t)
		code, body, _ := br.optOut("198.51.100.9", url.Values{"phone": {"860-555-0109"}, "note": {strings.Repeat("x", 10<<10)}})
		require.Equal(t, http.StatusRequestEntityTooLarge, code)
		require.Contains(t, body, "The form is too large")
		// The same form sent in chunks, with no length announced.
		form := url.Values{"phone": {"860-555-0109"}, "note": {strings.Repeat("x", 10<<10)}, "_csrf": {br.csrf("/optout")}}
		req, err := http.NewRequest("POST", br.base+"/optout", io.MultiReader(strings.NewReader(form.Encode())))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "198.51.100.9")
		code, body, _ = br.do(req)
		require.Equal(t, http.StatusRequestEntityTooLarge, code, body)
		require.Contains(t, body, "The form is too large")
		// And as a multipart form, sent in chunks.
		code, body = br.postMultipart("/optout", map[string]string{"phone": "860-555-0109", "_csrf": br.csrf("/optout")}, "note", "note.txt",
			[]byte(strings.Repeat("x", 10<<10)), true)
		require.Equal(t, http.StatusRequestEntityTooLarge, code, body)
		require.Contains(t, body, "The form is too large")
		rev, entries, _ := recorded(t, b, "+18605550109")
		require.Zero(t, rev+entries)
	})
	t.Run("LongNoteIsCut", func(t *testing.T) {
		t.Parallel()
		br := b.browser(t)
		for _, tc := range []struct {
			number, note string
			chars        int
		}{
			{"860-555-0107", strings.Repeat("x", 600), 500},
			{"860-555-0108", strings.Repeat("é", 600), 450}, // 900 bytes
		} {
			code, body, _ := br.optOut("198.51.100.10", url.Values{"phone": {tc.number}, "note": {tc.note}})
			require.Equal(t, http.StatusSeeOther, code, body)
			n, err := phone.Parse(tc.number)
			require.NoError(t, err)
			require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM revocations WHERE phone = $1 AND char_length(source) = $2`,
				n.String(), len("public opt-out page: ")+tc.chars))
		}
	})
}

// TestOptOutSpoofedClient: with no trusted proxies (the default), a
// client cannot escape the abuse limits by naming other addresses in
// X-Forwarded-For or X-Real-IP: its limit is its connection's.
func TestOptOutSpoofedClient(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	post := func(i int) int {
		form := url.Values{"phone": {fmt.Sprintf("203-555-01%02d", 20+i)}, "_csrf": {br.csrf("/optout")}}
		req, err := http.NewRequest("POST", br.base+"/optout", strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", 20+i))
		req.Header.Set("X-Real-IP", fmt.Sprintf("192.0.2.%d", 20+i))
		code, _, _ := br.do(req)
		return code
	}
	for i := range 5 {
		require.Equal(t, http.StatusSeeOther, post(i))
	}
	require.Equal(t, http.StatusTooManyRequests, post(5), "the spoofed addresses share the peer's limit")
}

// TestOptOutDuringAnImport: while a long import holds the change log's and
// the audit log's locks, the public opt-out page and the staff entry still
// answer at once, and nothing is lost: each opt-out is taken, and recorded
// as soon as the import ends.
func TestOptOutDuringAnImport(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	para := b.browser(t)
	code, _ := para.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, body := para.upload("/lists", para.csrf("/lists"), "Docket", "c.csv", []byte("name,phone\nBob Stone,2035550112\n"))
	require.Equal(t, http.StatusSeeOther, code, body)
	admin := b.browser(t)
	code, _ = admin.signin("admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	var listID, bobID int64
	require.NoError(t, b.db.QueryRow(ctx, `SELECT l.id, c.id FROM contact_lists l JOIN contacts c ON c.list_id = l.id WHERE l.name = 'Docket'`).Scan(&listID, &bobID))

	commit := dbtest.HoldLogs(t, b.db)

	br := b.browser(t)
	code, body, h := br.optOut("198.51.100.9", url.Values{"phone": {"(860) 555-0111"}})
	require.Equal(t, http.StatusSeeOther, code, body)
	require.Equal(t, "/optout/done", h.Get("Location"))
	code, _, _ = para.post(fmt.Sprintf("/lists/%d/optout", listID), url.Values{"_csrf": {para.csrf("/lists")}, "contact": {fmt.Sprint(bobID)}})
	require.Equal(t, http.StatusSeeOther, code)
	_, body, _ = para.get(fmt.Sprintf("/lists/%d", listID))
	require.Contains(t, body, "Bob Stone (&#43;12035550112) is opted out: no campaign will call the number again.")
	// An admin's single entry on the do-not-call page is taken the same way.
	code, _, _ = admin.post("/admin/dnc", url.Values{"_csrf": {admin.csrf("/admin/dnc")}, "phone": {"(860) 555-0113"}, "source": {"letter"}})
	require.Equal(t, http.StatusSeeOther, code)
	_, body, _ = admin.get("/admin/dnc")
	require.Contains(t, body, "&#43;18605550113 will not be called again. The database is busy, so its revocation and do-not-call entry are written in a moment.")
	require.Equal(t, 3, count(t, b.db, `SELECT count(*) FROM optout_requests WHERE recorded_at IS NULL AND phone IN ('+18605550111', '+12035550112', '+18605550113')`),
		"all taken, their records waiting")
	_, body, _ = para.get("/numbers?phone=%2B12035550112")
	require.Contains(t, body, "waiting for the database; every gate refuses the number meanwhile", "the number's page shows it")

	commit()
	n, err := campaign.RecordPendingOptOuts(ctx, b.db)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	for _, p := range []string{"+18605550111", "+12035550112", "+18605550113"} {
		revs, entries, _ := recorded(t, b, p)
		require.Equal(t, 1, revs, p)
		require.Equal(t, 1, entries, p)
	}
	_, body, _ = para.get("/numbers?phone=%2B12035550112")
	require.Contains(t, body, `<table id="optouts">`)
	require.NotContains(t, body, "waiting for the database")
}
