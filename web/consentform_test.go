package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/web"
)

// TestRecordOneConsent records consents one at a time through the admin
// form on a real database: one with its signed PDF, which the number page
// links to and which downloads as the same bytes; and the refusals, each
// beside its field with nothing recorded: written consent without its
// evidence, a web page passed off as a PDF, a time heed cannot read and a
// consent given in the future. Only admins may record, and every form
// carries its CSRF token.
func TestRecordOneConsent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	admin := b.browser(t)
	code, _ := admin.signin("admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	tok := admin.csrf("/admin/consents")
	pdf := []byte("%PDF-1.7\n% engagement letter signed by Ann Smith\n%%EOF\n")
	sum := sha256.Sum256(pdf)
	hash := hex.EncodeToString(sum[:])
	form := func(edit map[string]string) map[string]string {
		f := map[string]string{"_csrf": tok, "phone": "(860) 555-0301", "kind": "pewc", "scope": "telemarketing", "channel": "voice",
			"obtained_at": "2026-01-05T14:30", "zone": "America/New_York", "source": "engagement letter", "evidence": ""}
		for k, v := range edit {
			f[k] = v
		}
		return f
	}
	consents := func() int { return count(t, b.db, `SELECT count(*) FROM consents WHERE phone = '+18605550301'`) }

	code, body, _ := admin.get("/admin/consents")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `id="one-consent"`)
	require.Contains(t, body, `action="/admin/consents/one"`)

	t.Run("Refusals", func(t *testing.T) {
		for name, tc := range map[string]struct {
			edit          map[string]string
			file          string
			content       []byte
			field, reason string
		}{
			"a time the clocks skipped":        {map[string]string{"obtained_at": "2026-03-08T02:30"}, "letter.pdf", pdf, "obtained-error", "did not happen in America/New_York"},
			"a time the clocks showed twice":   {map[string]string{"obtained_at": "2026-11-01T01:30"}, "letter.pdf", pdf, "obtained-error", "happened twice in America/New_York"},
			"a letter named as a web page":     {nil, "letter.html", pdf, "document-error", "name it .pdf"},
			"written consent without evidence": {nil, "", nil, "evidence-error", "written consent (pewc) needs its evidence"},
			"a web page as the document":       {nil, "letter.pdf", []byte("<html><body>signed</body></html>"), "document-error", "the document is text/html"},
			"a time heed cannot read":          {map[string]string{"obtained_at": "Jan 5"}, "letter.pdf", pdf, "obtained-error", `&#34;Jan 5&#34; is not a date and time`},
			"consent given in the future":      {map[string]string{"obtained_at": time.Now().AddDate(0, 0, 2).Format("2006-01-02T15:04")}, "letter.pdf", pdf, "obtained-error", "is in the future"},
			"a number heed cannot read":        {map[string]string{"phone": "555-01"}, "letter.pdf", pdf, "phone-error", "not a valid phone number"},
			"a document over the limit":        {nil, "letter.pdf", padded(pdf, 64<<10+1), "document-error", "the document is larger than 64 KiB"},
		} {
			code, body := admin.multipart("/admin/consents/one", form(tc.edit), "document", tc.file, tc.content)
			require.Equal(t, http.StatusUnprocessableEntity, code, name)
			require.Contains(t, body, "Nothing was recorded: correct the fields marked below.", name)
			require.Contains(t, body, `id="`+tc.field+`">`, name)
			require.Contains(t, body, tc.reason, name)
			require.Contains(t, body, `value="engagement letter"`, "%s: the form comes back filled in", name)
		}
		require.Zero(t, consents())
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM consent_documents`))

		// Every wrong field at once: the form's and the ledger's.
		code, body := admin.multipart("/admin/consents/one", form(map[string]string{"phone": "12", "obtained_at": "soon", "source": ""}), "document", "", nil)
		require.Equal(t, http.StatusUnprocessableEntity, code)
		for _, id := range []string{"phone-error", "obtained-error", "evidence-error"} {
			require.Contains(t, body, `id="`+id+`">`, id)
		}
		require.Contains(t, body, "source is required")
		// A form not sent as multipart is refused plainly.
		code, _, _ = admin.post("/admin/consents/one", url.Values{"_csrf": {tok}, "phone": {"860-555-0301"}})
		require.Equal(t, http.StatusUnsupportedMediaType, code)
		require.Zero(t, consents())
	})

	t.Run("AtTheLimit", func(t *testing.T) {
		// A document of the upload limit (64 KiB here), with evidence
		// text beside it: the form around the file takes no room from it.
		letter := padded(pdf, 64<<10)
		code, body := admin.multipart("/admin/consents/one", form(map[string]string{"phone": "(860) 555-0303",
			"evidence": strings.Repeat("Signed by Bo Ray at intake. ", 700)}), "document", "bo.pdf", letter)
		require.Equal(t, http.StatusSeeOther, code, body)
		require.Equal(t, len(letter), count(t, b.db, `SELECT length(d.body) FROM consents c JOIN consent_documents d ON d.sha256 = c.document
			WHERE c.phone = '+18605550303'`))
	})

	t.Run("WithItsDocument", func(t *testing.T) {
		code, body := admin.multipart("/admin/consents/one", form(nil), "document", `C:\scans\Ann letter.pdf`, pdf)
		require.Equal(t, http.StatusSeeOther, code, body)
		var (
			id       int64
			obtained time.Time
			doc      string
			by       int64
		)
		require.NoError(t, b.db.QueryRow(ctx, `SELECT c.id, c.obtained_at, c.document, c.captured_by FROM consents c WHERE c.phone = '+18605550301'`).Scan(&id, &obtained, &doc, &by))
		require.True(t, time.Date(2026, 1, 5, 19, 30, 0, 0, time.UTC).Equal(obtained), "14:30 in New York: got %s", obtained)
		require.Equal(t, hash, doc)
		require.Equal(t, count(t, b.db, `SELECT id FROM users WHERE email = 'admin@firm.test'`), int(by))

		code, page, _ := admin.get("/numbers?phone=" + url.QueryEscape("+18605550301"))
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, page, "recorded for &#43;18605550301: pewc for telemarketing by voice.", "the flash")
		link := fmt.Sprintf("/consents/%d/document", id)
		require.Contains(t, page, `<a class="document" href="`+link+`">Ann letter.pdf</a>`)
		require.Contains(t, page, "<code>"+hash+"</code>")

		// Attorneys and admins open it, as they listen to recordings.
		code, got, h := admin.get(link)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, string(pdf), got)
		require.Equal(t, "application/pdf", h.Get("Content-Type"))
		require.Equal(t, `attachment; filename="Ann letter.pdf"`, h.Get("Content-Disposition"))
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
		code, got = b.api(t, b.token(t, "atty@firm.test"), http.MethodGet, "/api/v1"+link, "")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, string(pdf), got, "through the API too")
		code, _ = b.api(t, "", http.MethodGet, "/api/v1"+link, "")
		require.Equal(t, http.StatusUnauthorized, code)
		code, _, _ = admin.get(fmt.Sprintf("/consents/%d/document", id+1000))
		require.Equal(t, http.StatusNotFound, code)
		code, _, _ = admin.get("/consents/x%00/document")
		require.Equal(t, http.StatusNotFound, code)
		code, _, _ = b.browser(t).get(link)
		require.Equal(t, http.StatusSeeOther, code, "signed out: to the sign-in page")
		// A paralegal sees its name and hash, not the letter.
		para := b.browser(t)
		code, _ = para.signin("para@firm.test", password)
		require.Equal(t, http.StatusSeeOther, code)
		code, _, _ = para.get(link)
		require.Equal(t, http.StatusForbidden, code)
		code, page, _ = para.get("/numbers?phone=" + url.QueryEscape("+18605550301"))
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, page, "Ann letter.pdf <span class=\"muted\">(attorneys and admins open it)</span>")
		require.NotContains(t, page, link)
		code, _ = b.api(t, b.token(t, "para@firm.test"), http.MethodGet, "/api/v1"+link, "")
		require.Equal(t, http.StatusForbidden, code)
		code, got = b.api(t, b.token(t, "atty@firm.test"), http.MethodGet, "/api/v1/numbers/%2B18605550301", "")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, got, `"document_sha256":"`+hash+`","document_name":"Ann letter.pdf"`)

		// Only admins record consents, and never without the form's token.
		ptok := para.csrf("/campaigns")
		f := form(map[string]string{"_csrf": ptok, "phone": "860-555-0302"})
		code, _ = para.multipart("/admin/consents/one", f, "document", "letter.pdf", pdf)
		require.Equal(t, http.StatusForbidden, code)
		code, _ = admin.multipart("/admin/consents/one", form(map[string]string{"_csrf": "forged", "phone": "860-555-0302"}), "document", "letter.pdf", pdf)
		require.Equal(t, http.StatusForbidden, code)
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM consents WHERE phone = '+18605550302'`))
		require.Equal(t, 1, consents())
	})
}

// padded returns a PDF of n bytes: doc, a comment line of x's, and the
// end-of-file marker.
func padded(doc []byte, n int) []byte {
	tail := []byte("\n%%EOF\n")
	out := append(bytes.Clone(doc), '%')
	out = append(out, bytes.Repeat([]byte("x"), n-len(out)-len(tail))...)
	return append(out, tail...)
}

// TestOneConsentDocumentLimit: with an upload limit above a consent
// document's own 10 MiB, the one-consent form's refusals name the
// document's limit, whether the document fits the body's bound (beside
// its field) or not (413), while the other uploads keep the firm's limit.
func TestOneConsentDocumentLimit(t *testing.T) {
	t.Parallel()
	b := setupWith(t, func(_ *pgxpool.Pool, cfg *web.Config) { cfg.UploadLimit = 12 << 20 })
	admin := b.browser(t)
	code, _ := admin.signin("admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	tok := admin.csrf("/admin/consents")
	pdf := []byte("%PDF-1.7\n% engagement letter\n%%EOF\n")
	form := map[string]string{"_csrf": tok, "phone": "(860) 555-0311", "kind": "pewc", "scope": "telemarketing", "channel": "voice",
		"obtained_at": "2026-01-05T14:30", "zone": "America/New_York", "source": "engagement letter"}

	code, body := admin.multipart("/admin/consents/one", form, "document", "letter.pdf", padded(pdf, 11<<20))
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, "the document is larger than 10 MiB")
	code, body = admin.multipart("/admin/consents/one", form, "document", "letter.pdf", padded(pdf, 14<<20))
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	require.Contains(t, body, "The upload is too large: the limit is 10 MiB.")
	require.NotContains(t, body, "12 MiB")
	require.Zero(t, count(t, b.db, `SELECT count(*) FROM consents WHERE phone = '+18605550311'`))

	code, body = admin.multipart("/admin/consents", map[string]string{"_csrf": tok, "kind": "consents"}, "file", "consents.csv",
		make([]byte, 14<<20))
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	require.Contains(t, body, "The upload is too large: the limit is 12 MiB.", "the lists keep the firm's limit")
}
