package web_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/account"
	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/internal/logbuf"
	"github.com/heed-dialer/heed/web"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const password = "long enough password"

// testCallerID is the caller ID the tests' campaigns send, which setup
// declares one of the firm's (rule F11).
const testCallerID = "+18605550100"

type testBundle struct {
	db       *pgxpool.Pool
	srv      *httptest.Server
	accounts *account.Service
	media    dialer.Media
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupWith(t, nil)
}

// setupWith is setup with the server's configuration changed by configure
// (when not nil) before the server is made.
func setupWith(t *testing.T, configure func(db *pgxpool.Pool, cfg *web.Config)) *testBundle {
	t.Helper()
	return setupServer(t, configure, nil)
}

// setupServer is setupWith with the server given to prepare (when not
// nil) before it serves.
func setupServer(t *testing.T, configure func(db *pgxpool.Pool, cfg *web.Config), prepare func(*web.Server)) *testBundle {
	t.Helper()
	db := dbtest.New(t)
	rc, err := river.NewClient(riverpgxv5.New(db), &river.Config{})
	require.NoError(t, err)
	accounts := account.NewService(db)
	media := dialer.Media{HostDir: t.TempDir(), AsteriskDir: "/media"}
	engine, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	campaigns := campaign.NewService(db, rc)
	campaigns.Launch = &campaign.Launch{Engine: func() *consent.Engine { return engine }, Firm: "Smith and Lee", OptOutNumber: "+18005550199", Voice: media}
	registry := dnc.NewRegistry(db, t.TempDir())
	campaigns.Copies = registry
	cfg := web.Config{
		DB: db, Accounts: accounts, Campaigns: campaigns, DNC: dnc.NewPGStore(db), Media: media, Registry: registry,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), UploadLimit: 64 << 10,
		Ready: []web.Check{{Name: "postgres", Run: db.Ping}},
	}
	if configure != nil {
		configure(db, &cfg)
	}
	s, err := web.New(cfg)
	require.NoError(t, err)
	if prepare != nil {
		prepare(s)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	lctx, stop := context.WithCancel(context.Background())
	go s.Listen(lctx)
	t.Cleanup(stop)
	ctx := context.Background()
	for _, u := range []struct {
		email string
		role  account.Role
	}{{"admin@firm.test", account.RoleAdmin}, {"para@firm.test", account.RoleParalegal}, {"atty@firm.test", account.RoleAttorney}} {
		_, err := accounts.Create(ctx, u.email, u.role, password)
		require.NoError(t, err)
	}
	// The caller ID the tests' campaigns send, one of the firm's (rule F11).
	admin, err := accounts.ByEmail(ctx, "admin@firm.test")
	require.NoError(t, err)
	_, err = campaigns.AddCallerID(ctx, campaign.NewCallerID{Number: testCallerID, Label: "Main office", Attest: true}, admin.ID)
	require.NoError(t, err)
	return &testBundle{db: db, srv: srv, accounts: accounts, media: media}
}

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (b *testBundle) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, base: b.srv.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// signedIn returns a browser signed in as the test user with email.
func (b *testBundle) signedIn(t *testing.T, email string) *browser {
	t.Helper()
	br := b.browser(t)
	code, _ := br.signin(email, password)
	require.Equal(t, http.StatusSeeOther, code)
	return br
}

func (br *browser) do(req *http.Request) (int, string, http.Header) {
	br.t.Helper()
	resp, err := br.c.Do(req)
	require.NoError(br.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(br.t, err)
	return resp.StatusCode, string(body), resp.Header
}

func (br *browser) get(path string) (int, string, http.Header) {
	req, err := http.NewRequest("GET", br.base+path, nil)
	require.NoError(br.t, err)
	return br.do(req)
}

func (br *browser) post(path string, form url.Values) (int, string, http.Header) {
	req, err := http.NewRequest("POST", br.base+path, strings.NewReader(form.Encode()))
	require.NoError(br.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return br.do(req)
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// csrf fetches a page and returns the CSRF token in its forms.
func (br *browser) csrf(path string) string {
	br.t.Helper()
	code, body, _ := br.get(path)
	require.Equal(br.t, http.StatusOK, code, body)
	m := csrfRE.FindStringSubmatch(body)
	require.NotNil(br.t, m, "no CSRF token on %s", path)
	return m[1]
}

func (br *browser) signin(email, pw string) (int, string) {
	br.t.Helper()
	tok := br.csrf("/signin")
	code, body, _ := br.post("/signin", url.Values{"_csrf": {tok}, "email": {email}, "password": {pw}})
	return code, body
}

func (br *browser) upload(path, csrf, list, filename string, content []byte) (int, string) {
	br.t.Helper()
	return br.multipart(path, map[string]string{"_csrf": csrf, "list": list}, "file", filename, content)
}

// multipart posts a multipart form with fields and one file.
func (br *browser) multipart(path string, fields map[string]string, fileField, filename string, content []byte) (int, string) {
	br.t.Helper()
	return br.postMultipart(path, fields, fileField, filename, content, false)
}

// postMultipart posts a multipart form with fields and one file; chunked
// sends it without a Content-Length, in chunks, as a client streaming a
// file does, so that its size is known only as it is read.
func (br *browser) postMultipart(path string, fields map[string]string, fileField, filename string, content []byte, chunked bool) (int, string) {
	br.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		require.NoError(br.t, w.WriteField(k, v))
	}
	fw, err := w.CreateFormFile(fileField, filename)
	require.NoError(br.t, err)
	_, err = fw.Write(content)
	require.NoError(br.t, err)
	require.NoError(br.t, w.Close())
	var body io.Reader = &buf
	if chunked {
		body = io.MultiReader(&buf) // no length the client can read
	}
	req, err := http.NewRequest("POST", br.base+path, body)
	require.NoError(br.t, err)
	req.Header.Set("Content-Type", w.FormDataContentType())
	code, resp, _ := br.do(req)
	return code, resp
}

// userID returns the id of the test user with the email.
func (b *testBundle) userID(t *testing.T, email string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, b.db.QueryRow(context.Background(), `SELECT id FROM users WHERE email = $1`, email).Scan(&id))
	return id
}

// token issues an API token for the test user with the email.
func (b *testBundle) token(t *testing.T, email string) string {
	t.Helper()
	tok, err := b.accounts.CreateToken(context.Background(), b.userID(t, email), "test")
	require.NoError(t, err)
	return tok
}

// api sends an API request with a JSON body (none when empty) and the
// token (none when empty), and returns the status and the body.
func (b *testBundle) api(t *testing.T, tok, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(out)
}

func count(t *testing.T, db *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("WrongPassword", func(t *testing.T) {
		t.Parallel()
		br := b.browser(t)
		code, body := br.signin("para@firm.test", "not the password")
		require.Equal(t, http.StatusUnauthorized, code)
		require.Contains(t, body, "Wrong email or password.")
		code, _, h := br.get("/campaigns")
		require.Equal(t, http.StatusSeeOther, code, "a failed sign-in must not open a session")
		require.Equal(t, "/signin", h.Get("Location"))
	})
	t.Run("UnknownUser", func(t *testing.T) {
		t.Parallel()
		code, body := b.browser(t).signin("nobody@firm.test", password)
		require.Equal(t, http.StatusUnauthorized, code)
		require.Contains(t, body, "Wrong email or password.")
	})
	t.Run("MissingCSRFToken", func(t *testing.T) {
		t.Parallel()
		br := b.browser(t)
		br.csrf("/signin") // gets the cookie, but the form is sent without the token
		code, body, _ := br.post("/signin", url.Values{"email": {"para@firm.test"}, "password": {password}})
		require.Equal(t, http.StatusForbidden, code)
		require.Contains(t, body, "CSRF")
		code, _, _ = br.get("/campaigns")
		require.Equal(t, http.StatusSeeOther, code, "no session without a valid CSRF token")
	})
	t.Run("RightPassword", func(t *testing.T) {
		t.Parallel()
		br := b.browser(t)
		code, _ := br.signin("para@firm.test", password)
		require.Equal(t, http.StatusSeeOther, code)
		code, body, _ := br.get("/campaigns")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, "para@firm.test · paralegal")
	})
}

func TestRoles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	para := b.browser(t)
	code, _ := para.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	atty := b.browser(t)
	code, _ = atty.signin("atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)

	t.Run("ParalegalOnAdminRoutes", func(t *testing.T) {
		tok := para.csrf("/campaigns")
		for _, p := range []string{"/admin/users", "/admin/dnc"} {
			code, body, _ := para.get(p)
			require.Equal(t, http.StatusForbidden, code, p)
			require.Contains(t, body, "may not do this")
		}
		code, _, _ := para.post("/admin/dnc", url.Values{"_csrf": {tok}, "phone": {"860-555-0199"}})
		require.Equal(t, http.StatusForbidden, code)
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM dnc_internal`), "a refused request changes nothing")
		code, _, _ = para.post("/admin/users", url.Values{"_csrf": {tok}, "email": {"x@firm.test"}, "role": {"admin"}, "password": {password}})
		require.Equal(t, http.StatusForbidden, code)
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM users WHERE email = 'x@firm.test'`))
	})
	t.Run("AttorneyReadsButDoesNotRun", func(t *testing.T) {
		code, _, _ := atty.get("/campaigns")
		require.Equal(t, http.StatusOK, code)
		for _, p := range []string{"/campaigns/new", "/lists"} {
			code, _, _ := atty.get(p)
			require.Equal(t, http.StatusForbidden, code, p)
		}
	})
	t.Run("SignedOut", func(t *testing.T) {
		anon := b.browser(t)
		for _, p := range []string{"/campaigns", "/admin/users", "/lists", "/campaigns/1"} {
			code, _, h := anon.get(p)
			require.Equal(t, http.StatusSeeOther, code, p)
			require.Equal(t, "/signin", h.Get("Location"))
		}
	})
	t.Run("MissingCSRFOnSignedInForm", func(t *testing.T) {
		code, _, _ := para.post("/campaigns", url.Values{"name": {"x"}, "purpose": {"informational"}})
		require.Equal(t, http.StatusForbidden, code)
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM campaigns`))
	})
	t.Run("AdminAddsToDNC", func(t *testing.T) {
		admin := b.browser(t)
		code, _ := admin.signin("admin@firm.test", password)
		require.Equal(t, http.StatusSeeOther, code)
		tok := admin.csrf("/admin/dnc")
		code, body, _ := admin.post("/admin/dnc", url.Values{"_csrf": {tok}, "phone": {"call me maybe"}})
		require.Equal(t, http.StatusUnprocessableEntity, code)
		require.Contains(t, body, "is not a valid phone number")
		code, _, _ = admin.post("/admin/dnc", url.Values{"_csrf": {tok}, "phone": {"(860) 555-0199"}, "source": {"front desk"}})
		require.Equal(t, http.StatusSeeOther, code)
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM dnc_internal WHERE phone = '+18605550199' AND source = 'front desk'`))
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM revocations WHERE phone = '+18605550199' AND method = 'staff' AND source = 'front desk'`),
			"taken as every opt-out is: a revocation of every consent too")
		code, _, _ = admin.post("/admin/dnc", url.Values{"_csrf": {tok}, "phone": {"860.555.0199"}})
		require.Equal(t, http.StatusSeeOther, code, "recorded: a reload must not submit it again")
		_, body, _ = admin.get("/admin/dnc")
		require.Contains(t, body, "was already on the list; the request is recorded as a revocation of any consent.")
		require.Equal(t, 2, count(t, b.db, `SELECT count(*) FROM revocations WHERE phone = '+18605550199'`))
		code, body, _ = admin.post("/admin/dnc", url.Values{"_csrf": {tok}, "phone": {"860.555.0198"}, "source": {strings.Repeat("x", 201)}})
		require.Equal(t, http.StatusUnprocessableEntity, code)
		require.Contains(t, body, "The source has more than 200 characters.")
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM optout_requests WHERE phone = '+18605550198'`), "nothing taken")
		// How the person asked: a STOP-type word, an email, a letter.
		code, _, _ = admin.post("/admin/dnc", url.Values{"_csrf": {tok}, "phone": {"860.555.0197"}, "method": {"keyword"}, "source": {"texted STOP"}})
		require.Equal(t, http.StatusSeeOther, code)
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM revocations WHERE phone = '+18605550197' AND method = 'keyword' AND source = 'texted STOP'`))
		code, body, _ = admin.post("/admin/dnc", url.Values{"_csrf": {tok}, "phone": {"860.555.0196"}, "method": {"ivr"}})
		require.Equal(t, http.StatusUnprocessableEntity, code, "key presses record themselves")
		require.Contains(t, body, "is not one staff enter: staff, keyword, email, letter.")
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM optout_requests WHERE phone = '+18605550196'`), "nothing taken")
	})
}

func TestUploadContacts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	code, _ := br.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	tok := br.csrf("/lists")

	for _, tc := range []struct {
		name, file, want string
		code             int
	}{
		{"MalformedCSV", "name,phone\n\"Ann,8605550101\nBob,8605550102\n", "malformed CSV", http.StatusUnprocessableEntity},
		{"NonNumericPhone", "name,phone\nAnn,860-555-0101\nBob,eight six oh\n", "is not a valid phone number", http.StatusUnprocessableEntity},
		{"MissingColumn", "name,telephone\nAnn,8605550101\n", `missing required column &#34;phone&#34;`, http.StatusUnprocessableEntity},
		{"WrongFieldCount", "name,phone\nAnn,8605550101,extra\n", "has 3 fields, the header has 2", http.StatusUnprocessableEntity},
		{"LongPersonRef", "name,phone,Person\nAnn,8605550101,D-1\nBob,8605550102," + strings.Repeat("9", 101) + "\n",
			"<td>3</td><td>person: person reference has 101 characters, at most 100</td>", http.StatusUnprocessableEntity},
		{"Oversize", "name,phone\n" + strings.Repeat("Ann,8605550101\n", 70<<10/15), "The upload is too large: the limit is 64 KiB.", http.StatusRequestEntityTooLarge},
		// Sent in chunks, its size is known only as the form is read: the
		// CSRF check reads it first, and must not call it a form without
		// its token.
		{"OversizeChunked", "name,phone\n" + strings.Repeat("Ann,8605550101\n", 70<<10/15), "The upload is too large: the limit is 64 KiB.", http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := br.postMultipart("/lists", map[string]string{"_csrf": tok, "list": "list-" + tc.name}, "file", "contacts.csv", []byte(tc.file),
				strings.HasSuffix(tc.name, "Chunked"))
			require.Equal(t, tc.code, code, body)
			require.Contains(t, body, tc.want)
			require.Zero(t, count(t, b.db, `SELECT count(*) FROM contacts`), "a rejected file imports nothing")
			require.Zero(t, count(t, b.db, `SELECT count(*) FROM contact_lists`), "a rejected file creates no list")
		})
	}
	t.Run("RejectedRowsNameTheirLines", func(t *testing.T) {
		code, body := br.upload("/lists", tok, "l", "c.csv", []byte("name,phone\nAnn,8605550101\n,8605550102\nCid,8605550101\n"))
		require.Equal(t, http.StatusUnprocessableEntity, code)
		require.Contains(t, body, "<td>3</td><td>name is empty</td>")
		require.Contains(t, body, "<td>4</td><td>phone &#43;18605550101 is also on line 2</td>")
	})
	t.Run("NotASheet", func(t *testing.T) {
		code, body := br.upload("/lists", tok, "l", "contacts.pdf", []byte("name,phone\nAnn,8605550101\n"))
		require.Equal(t, http.StatusUnprocessableEntity, code)
		require.Contains(t, body, "contacts.pdf is not a CSV or XLSX file.")
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM contacts`))
	})
	t.Run("SpreadsheetMappedDryRunThenImport", func(t *testing.T) {
		file := xlsx(t, [][]any{{"Client", "Cell", "ZIP"}, {"Dee", 8605550111, 6103}, {"Eve", 8605550112, ""}})
		fields := map[string]string{"_csrf": tok, "list": "Spreadsheet", "columns": "Client=name, Cell=phone", "dry_run": "1"}
		code, body := br.multipart("/lists", fields, "file", "Book1.xlsx", file)
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, "Check only (dry run): nothing was written")
		require.Contains(t, body, `importing it would add 2 contacts to &#34;Spreadsheet&#34; (2 rows read)`)
		require.Contains(t, body, `value="Client=name, Cell=phone"`, "the form keeps its mapping")
		require.Contains(t, body, "To import it, choose the file again below")
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM contacts`), "a dry run writes nothing")
		// A mapping that names a header the file lacks is refused.
		fields["columns"] = "Client=name,Mobile=phone"
		code, body = br.multipart("/lists", fields, "file", "Book1.xlsx", file)
		require.Equal(t, http.StatusUnprocessableEntity, code)
		require.Contains(t, body, "column mapping names &#34;mobile&#34;, which is not in the header")
		delete(fields, "dry_run")
		fields["columns"] = "Client=name,Cell=phone"
		code, body = br.multipart("/lists", fields, "file", "Book1.xlsx", file)
		require.Equal(t, http.StatusSeeOther, code, body)
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM contacts WHERE phone = '+18605550111' AND name = 'Dee' AND zip = '06103'`))
		require.Equal(t, 2, count(t, b.db, `SELECT count(*) FROM contacts`))
		// Again with a new row: refused whole, unless the numbers already
		// on the list are skipped.
		file = xlsx(t, [][]any{{"Client", "Cell", "ZIP"}, {"Dee", 8605550111, 6103}, {"Eve", 8605550112, ""}, {"Fay", 8605550113, ""}})
		code, body = br.multipart("/lists", fields, "file", "Book1.xlsx", file)
		require.Equal(t, http.StatusUnprocessableEntity, code)
		require.Contains(t, body, "is already on list &#34;Spreadsheet&#34;")
		fields["existing"] = "skip"
		code, body = br.multipart("/lists", fields, "file", "Book1.xlsx", file)
		require.Equal(t, http.StatusSeeOther, code, body)
		_, body, _ = br.get("/lists")
		require.Contains(t, body, "Imported 1 contacts into &#34;Spreadsheet&#34;, 2 already on the list skipped.")
		require.Equal(t, 3, count(t, b.db, `SELECT count(*) FROM contacts`))
		// Updating: Eve's ZIP is filled in, Gus is new; the dry run lists
		// the change and writes nothing, the import writes it.
		file = xlsx(t, [][]any{{"Client", "Cell", "ZIP"}, {"Dee", 8605550111, 6103}, {"Eve", 8605550112, 6106}, {"Gus", 8605550114, ""}})
		fields["existing"], fields["dry_run"] = "update", "1"
		code, body = br.multipart("/lists", fields, "file", "Book1.xlsx", file)
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, "importing it would add 1 contacts to &#34;Spreadsheet&#34; (3 rows read, 1 already on the list to update and 1 unchanged)")
		require.Contains(t, body, "Contacts the import would update")
		require.Contains(t, body, "<td>3</td><td>changes zip</td>")
		require.Contains(t, body, `id="existing_update" name="existing" value="update" checked`, "the form keeps its choice")
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM contacts WHERE zip = '06106'`))
		delete(fields, "dry_run")
		code, body = br.multipart("/lists", fields, "file", "Book1.xlsx", file)
		require.Equal(t, http.StatusSeeOther, code, body)
		_, body, _ = br.get("/lists")
		require.Contains(t, body, "Imported 1 contacts into &#34;Spreadsheet&#34;, 1 already on the list updated and 1 unchanged.")
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM contacts WHERE phone = '+18605550112' AND zip = '06106'`))
		require.Equal(t, 4, count(t, b.db, `SELECT count(*) FROM contacts`))
		fields["existing"] = "merge"
		code, _ = br.multipart("/lists", fields, "file", "Book1.xlsx", file)
		require.Equal(t, http.StatusBadRequest, code)
	})
	t.Run("Good", func(t *testing.T) {
		code, body := br.upload("/lists", tok, "Reminders", "c.csv", []byte("\ufeffName,Phone,State,ZIP,person_ref\r\nAnn,(860) 555-0101,ct,06103, D-7 \r\nBob,+1 203 555 0102,,,\r\n"))
		require.Equal(t, http.StatusSeeOther, code, body)
		require.Equal(t, 2, count(t, b.db, `SELECT count(*) FROM contacts c JOIN contact_lists l ON l.id = c.list_id WHERE l.name = 'Reminders'`))
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM contacts WHERE phone = '+18605550101' AND state = 'CT' AND zip = '06103' AND person_ref = 'D-7'`))
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM contacts WHERE phone = '+12035550102' AND person_ref = ''`))
	})
}

func TestAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var adminID, attyID int64
	require.NoError(t, b.db.QueryRow(ctx, `SELECT id FROM users WHERE email = 'admin@firm.test'`).Scan(&adminID))
	require.NoError(t, b.db.QueryRow(ctx, `SELECT id FROM users WHERE email = 'atty@firm.test'`).Scan(&attyID))
	adminTok, err := b.accounts.CreateToken(ctx, adminID, "test")
	require.NoError(t, err)
	attyTok, err := b.accounts.CreateToken(ctx, attyID, "test")
	require.NoError(t, err)

	call := func(tok, method, path, body string) (int, string) {
		req, err := http.NewRequest(method, b.srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(out)
	}

	t.Run("NoToken", func(t *testing.T) {
		code, body := call("", "GET", "/api/v1/campaigns", "")
		require.Equal(t, http.StatusUnauthorized, code)
		require.Contains(t, body, "API token is required")
	})
	t.Run("BadToken", func(t *testing.T) {
		for _, tok := range []string{"heed_not-a-real-token", "garbage", adminTok + "x"} {
			code, body := call(tok, "GET", "/api/v1/campaigns", "")
			require.Equal(t, http.StatusUnauthorized, code, tok)
			require.Contains(t, body, `"error"`)
		}
	})
	t.Run("SessionCookieIsNotEnough", func(t *testing.T) {
		br := b.browser(t)
		code, _ := br.signin("admin@firm.test", password)
		require.Equal(t, http.StatusSeeOther, code)
		code, _, _ = br.get("/api/v1/campaigns")
		require.Equal(t, http.StatusUnauthorized, code)
	})
	t.Run("RoleChecked", func(t *testing.T) {
		code, _ := call(attyTok, "GET", "/api/v1/campaigns", "")
		require.Equal(t, http.StatusOK, code)
		code, body := call(attyTok, "POST", "/api/v1/campaigns", `{"name":"x"}`)
		require.Equal(t, http.StatusForbidden, code, body)
	})
	t.Run("InvalidCampaign", func(t *testing.T) {
		code, body := call(adminTok, "POST", "/api/v1/campaigns", `{"name":"","purpose":"marketing","caller_id":"12"}`)
		require.Equal(t, http.StatusUnprocessableEntity, code)
		for _, f := range []string{`"name"`, `"purpose"`, `"caller_id"`, `"list_id"`, `"message"`} {
			require.Contains(t, body, f)
		}
		code, _ = call(adminTok, "POST", "/api/v1/campaigns", `{not json`)
		require.Equal(t, http.StatusBadRequest, code)
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM campaigns`))
	})
	t.Run("CreateStartPause", func(t *testing.T) {
		var listID int64
		err := pgx.BeginFunc(ctx, b.db, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('api') RETURNING id`).Scan(&listID); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO contacts (list_id, name, phone) VALUES ($1, 'Ann', '+18605550101')`, listID)
			return err
		})
		require.NoError(t, err)
		code, body := call(adminTok, "POST", "/api/v1/campaigns", fmt.Sprintf(
			`{"name":"Hearing reminders","purpose":"informational","list_id":%d,"message":"Hello","caller_id":"860-555-0100"}`, listID))
		require.Equal(t, http.StatusCreated, code, body)
		require.Contains(t, body, `"status":"draft"`)
		require.Contains(t, body, `"caller_id":"+18605550100"`)
		var id int64
		require.NoError(t, b.db.QueryRow(ctx, `SELECT id FROM campaigns`).Scan(&id))
		code, body = call(adminTok, "POST", fmt.Sprintf("/api/v1/campaigns/%d/pause", id), "")
		require.Equal(t, http.StatusConflict, code, "a draft cannot be paused: %s", body)
		code, body = call(adminTok, "POST", fmt.Sprintf("/api/v1/campaigns/%d/start", id), "")
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, `"status":"running"`)
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM river_job WHERE kind = 'campaign_run'`), "start enqueues one run job")
		code, _ = call(adminTok, "POST", fmt.Sprintf("/api/v1/campaigns/%d/start", id), "")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM river_job WHERE kind = 'campaign_run'`), "starting a running campaign enqueues nothing")
		code, body = call(adminTok, "POST", fmt.Sprintf("/api/v1/campaigns/%d/pause", id), "")
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, `"status":"paused"`)
		code, body = call(attyTok, "GET", fmt.Sprintf("/api/v1/campaigns/%d/attempts", id), "")
		require.Equal(t, http.StatusOK, code, body)
		code, _ = call(adminTok, "GET", "/api/v1/campaigns/999999", "")
		require.Equal(t, http.StatusNotFound, code)
	})
}

func TestHealth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	code, body, _ := br.get("/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "ok")
	code, body, _ = br.get("/readyz")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"postgres":"ok"`)
}

// TestReadyzSaysNoMore: /readyz, which needs no sign-in, names each check
// with "ok" or "failed" and never its error (hosts, ports, URLs); the
// error goes to the log once when the check starts failing, and its
// recovery once when it passes again.
func TestReadyzSaysNoMore(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	down.Store(true)
	log := &logbuf.Buffer{}
	const secret = "dial tcp 10.9.8.7:8088: connect: connection refused"
	b := setupWith(t, func(db *pgxpool.Pool, cfg *web.Config) {
		cfg.Log = slog.New(slog.NewTextHandler(log, nil))
		cfg.Ready = []web.Check{{Name: "postgres", Run: db.Ping}, {Name: "asterisk:pbx-1", Run: func(context.Context) error {
			if down.Load() {
				return errors.New(secret)
			}
			return nil
		}}}
	})
	br := b.browser(t)
	for range 2 {
		code, body, _ := br.get("/readyz")
		require.Equal(t, http.StatusServiceUnavailable, code)
		require.JSONEq(t, `{"postgres":"ok","asterisk:pbx-1":"failed"}`, body)
	}
	require.Equal(t, 1, strings.Count(log.String(), secret), "logged once, not at every poll: %s", log.String())
	require.Contains(t, log.String(), `msg="web: readiness check failed" check=asterisk:pbx-1`)
	down.Store(false)
	for range 2 {
		code, body, _ := br.get("/readyz")
		require.Equal(t, http.StatusOK, code)
		require.JSONEq(t, `{"postgres":"ok","asterisk:pbx-1":"ok"}`, body)
	}
	require.Equal(t, 1, strings.Count(log.String(), `msg="web: readiness check passes again" check=asterisk:pbx-1`), log.String())
	require.NotContains(t, log.String(), "check=postgres", "a check that always passed logs nothing")
}

// TestEveryPageRenders renders every page for a role allowed to see it, so a
// broken template fails here rather than in front of a user.
func TestEveryPageRenders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var listID, campaignID int64
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('render') RETURNING id`).Scan(&listID))
	_, err := b.db.Exec(ctx, `INSERT INTO contacts (list_id, name, phone) VALUES ($1, 'Ann', '+18605550101')`, listID)
	require.NoError(t, err)
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status)
		VALUES ('Render me', 'informational', $1, 'Hello', '+18605550100', 'running') RETURNING id`, listID).Scan(&campaignID))
	_, err = b.db.Exec(ctx, `INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, status, outcome)
		SELECT $1, id, 1, phone, '+18605550100', 'deny', '{dnc.internal}', 'blocked', 'blocked' FROM contacts`, campaignID)
	require.NoError(t, err)
	admin := b.browser(t)
	code, _ := admin.signin("admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	for _, p := range []string{"/campaigns", "/campaigns/new", fmt.Sprintf("/campaigns/%d", campaignID), "/lists", "/admin/users", "/admin/dnc", "/signin"} {
		code, body, _ := admin.get(p)
		require.Equal(t, http.StatusOK, code, p)
		require.Contains(t, body, "</html>", "%s rendered whole", p)
	}
	code, body, _ := admin.get(fmt.Sprintf("/campaigns/%d/attempts", campaignID))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "dnc.internal")
	require.Contains(t, body, `hx-trigger="sse:update, every 10s"`, "a running campaign refreshes on events, and slowly on its own")
	code, body, _ = admin.get("/campaigns/new")
	require.Equal(t, http.StatusOK, code)
	for _, p := range []string{"informational", "telemarketing", "debt_collection", "solicitation", "render (1 contacts)"} {
		require.Contains(t, body, p)
	}
	code, _, _ = admin.get("/campaigns/424242")
	require.Equal(t, http.StatusNotFound, code)
}

func TestCampaignWithRecordedMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var listID int64
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('rec') RETURNING id`).Scan(&listID))
	br := b.browser(t)
	code, _ := br.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	tok := br.csrf("/campaigns/new")
	fields := func(name string) map[string]string {
		return map[string]string{"_csrf": tok, "name": name, "purpose": "informational", "list_id": fmt.Sprint(listID),
			"message": "This is Smith and Lee.", "caller_id": "860-555-0100", "ring_seconds": "25", "max_concurrent": "5"}
	}
	// A real recording, made with sox: a short tone at 44.1 kHz stereo, as WAV and as MP3.
	dir := t.TempDir()
	for _, ext := range []string{"wav", "mp3"} {
		src := filepath.Join(dir, "greeting."+ext)
		out, err := exec.Command("sox", "-n", "-r", "44100", "-c", "2", "-b", "16", src, "synth", "0.3", "sine", "440").CombinedOutput()
		require.NoError(t, err, "sox: %s", out)
		content, err := os.ReadFile(src)
		require.NoError(t, err)
		code, body := br.multipart("/campaigns", fields("Recorded "+ext), "audio", "greeting."+ext, content)
		require.Equal(t, http.StatusSeeOther, code, body)
		var audio string
		require.NoError(t, b.db.QueryRow(ctx, `SELECT message_audio FROM campaigns WHERE name = $1`, "Recorded "+ext).Scan(&audio))
		require.NotEmpty(t, audio)
		uri, err := b.media.Recorded(audio)
		require.NoError(t, err)
		require.Equal(t, "sound:/media/"+audio, uri)
		info, err := exec.Command("soxi", filepath.Join(b.media.HostDir, audio+".wav")).CombinedOutput()
		require.NoError(t, err, "%s", info)
		require.Contains(t, string(info), "Sample Rate    : 8000")
		require.Contains(t, string(info), "Channels       : 1")
	}

	code, body := br.multipart("/campaigns", fields("Garbage"), "audio", "greeting.wav", []byte("this is not audio at all"))
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, "could not read the recording")
	code, body = br.multipart("/campaigns", fields("Wrong type"), "audio", "greeting.exe", []byte("MZ"))
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, "upload a WAV or MP3 file")
	code, body = br.multipart("/campaigns", fields("Too big"), "audio", "big.wav", bytes.Repeat([]byte{0}, 70<<10))
	require.Equal(t, http.StatusRequestEntityTooLarge, code, body)
	require.Contains(t, body, "The upload is too large: the limit is 64 KiB.")
	require.Equal(t, 2, count(t, b.db, `SELECT count(*) FROM campaigns`), "refused uploads create no campaign")
}

func TestDNCListUpload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.browser(t)
	code, _ := admin.signin("admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	tok := admin.csrf("/admin/dnc")
	fields := func(list, asOf string) map[string]string {
		return map[string]string{"_csrf": tok, "list": list, "as_of": asOf}
	}

	code, body := admin.multipart("/admin/dnc/import", fields("internal", ""), "file", "optouts.txt", []byte("8605550101\n860,5550102\nnot a phone\n"))
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, "Nothing was imported: 1 line(s) were refused; the first of them are below, each with why.")
	require.Contains(t, body, "not a phone")
	require.Zero(t, count(t, b.db, `SELECT count(*) FROM dnc_internal`))

	code, body = admin.multipart("/admin/dnc/import", fields("internal", ""), "file", "optouts.txt", []byte("8605550101\r\n860,5550102\r\n\r\n"))
	require.Equal(t, http.StatusSeeOther, code, body)
	require.Equal(t, 2, count(t, b.db, `SELECT count(*) FROM dnc_internal WHERE method = 'import'`))
	// A change list takes an entry off in the admin's name (removed_by),
	// which the audit log's row of the removal holds.
	changes := fields("internal", "")
	changes["changes"] = "on"
	code, body = admin.multipart("/admin/dnc/import", changes, "file", "lift.txt", []byte("-8605550101\n"))
	require.Equal(t, http.StatusSeeOther, code, body)
	adminID := b.userID(t, "admin@firm.test")
	require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM dnc_internal WHERE phone = '+18605550101' AND removed_at IS NOT NULL AND removed_by = $1`, adminID))
	require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM audit_log WHERE tbl = 'dnc_internal' AND op = 'update'
		AND details->>'phone' = '+18605550101' AND details->>'removed_at' IS NOT NULL AND (details->>'removed_by')::bigint = $1`, adminID))

	code, body = admin.multipart("/admin/dnc/import", fields("national", ""), "file", "reg.txt", []byte("2035550101\n"))
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, "Give the date the registry data is current as of.")
	code, body = admin.multipart("/admin/dnc/import", fields("state:TX", "2026-11-20"), "file", "tx.csv",
		[]byte("Name,Phone Number\nAnn,(512) 555-0101\nBob,512-555-0102\n"))
	require.Equal(t, http.StatusSeeOther, code, body)
	code, body, _ = admin.get("/admin/dnc")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "state:TX version 1: 2 numbers")
	require.Contains(t, body, "<td>state:TX</td><td>2</td><td>2026-11-20</td><td>1</td>")

	para := b.browser(t)
	code, _ = para.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	ptok := para.csrf("/campaigns")
	code, _ = para.multipart("/admin/dnc/import", map[string]string{"_csrf": ptok, "list": "internal"}, "file", "x.txt", []byte("8605550103\n"))
	require.Equal(t, http.StatusForbidden, code)
	require.Equal(t, 2, count(t, b.db, `SELECT count(*) FROM dnc_internal`))
}

func TestCancelAndExport(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var listID, campaignID int64
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('x') RETURNING id`).Scan(&listID))
	_, err := b.db.Exec(ctx, `INSERT INTO contacts (list_id, name, phone, external_ref) VALUES ($1, '=HYPERLINK("http://evil")', '+18605550101', 'M-7')`, listID)
	require.NoError(t, err)
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status)
		VALUES ('Export me', 'informational', $1, 'Hello', '+18605550100', 'running') RETURNING id`, listID).Scan(&campaignID))
	_, err = b.db.Exec(ctx, `INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, status, outcome, hangup_cause, dtmf)
		SELECT $1, id, 1, phone, '+18605550100', 'allow', '{}', 'p@1', 'ended', 'busy', 17, '' FROM contacts`, campaignID)
	require.NoError(t, err)

	atty := b.browser(t)
	code, _ := atty.signin("atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, body, h := atty.get(fmt.Sprintf("/campaigns/%d/attempts.csv", campaignID))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, h.Get("Content-Disposition"), "attachment")
	lines := strings.Split(strings.TrimSpace(body), "\n")
	require.Len(t, lines, 2)
	require.True(t, strings.HasPrefix(lines[0], "attempt_id,contact,external_ref,phone"))
	require.Contains(t, lines[1], `'=HYPERLINK`, "a formula is defused")
	require.Contains(t, lines[1], ",M-7,+18605550101,1,allow,,,p@1,,ended,busy,17,")
	tok := atty.csrf(fmt.Sprintf("/campaigns/%d", campaignID))
	code, _, _ = atty.post(fmt.Sprintf("/campaigns/%d/cancel", campaignID), url.Values{"_csrf": {tok}})
	require.Equal(t, http.StatusForbidden, code, "attorneys review; they do not run campaigns")

	para := b.browser(t)
	code, _ = para.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	tok = para.csrf(fmt.Sprintf("/campaigns/%d", campaignID))
	code, _, _ = para.post(fmt.Sprintf("/campaigns/%d/cancel", campaignID), url.Values{"_csrf": {tok}})
	require.Equal(t, http.StatusSeeOther, code)
	var status string
	require.NoError(t, b.db.QueryRow(ctx, `SELECT status FROM campaigns WHERE id = $1`, campaignID).Scan(&status))
	require.Equal(t, "cancelled", status)
	code, _, _ = para.post(fmt.Sprintf("/campaigns/%d/start", campaignID), url.Values{"_csrf": {tok}})
	require.Equal(t, http.StatusConflict, code, "a cancelled campaign cannot start again")
	code, _, _ = para.post(fmt.Sprintf("/campaigns/%d/cancel", campaignID), url.Values{"_csrf": {tok}})
	require.Equal(t, http.StatusConflict, code)
}

// TestCampaignEvents follows a campaign's server-sent events and checks that
// a change to one of its attempts, written by anyone, arrives as an update.
func TestCampaignEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var listID, campaignID int64
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('ev') RETURNING id`).Scan(&listID))
	_, err := b.db.Exec(ctx, `INSERT INTO contacts (list_id, name, phone) VALUES ($1, 'Ann', '+18605550101')`, listID)
	require.NoError(t, err)
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status)
		VALUES ('Live', 'informational', $1, 'Hello', '+18605550100', 'running') RETURNING id`, listID).Scan(&campaignID))
	atty := b.browser(t)
	code, _ := atty.signin("atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)

	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, "GET", fmt.Sprintf("%s/campaigns/%d/events", b.srv.URL, campaignID), nil)
	require.NoError(t, err)
	resp, err := atty.c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	require.Equal(t, ": heed campaign events", <-lines, "the stream opens at once")

	// Another process records an attempt: the browser hears of it.
	_, err = b.db.Exec(ctx, `INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, status)
		SELECT $1, id, 1, phone, '+18605550100', 'allow', 'originating' FROM contacts`, campaignID)
	require.NoError(t, err)
	for {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "stream ended early")
			if l == "event: update" {
				return
			}
		case <-rctx.Done():
			t.Fatal("no update event within 20 s")
		}
	}
}

// An upload too large to be kept in memory is spooled to a temporary
// file, which is removed when the request is done, whatever its answer.
func TestUploadSpoolRemoved(t *testing.T) {
	t.Parallel()
	b := setupWith(t, func(_ *pgxpool.Pool, cfg *web.Config) { cfg.UploadLimit = 40 << 20 })
	br := b.browser(t)
	code, _ := br.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	tok := br.csrf("/campaigns/new")
	spooled := func() []string {
		files, err := filepath.Glob(filepath.Join(os.TempDir(), "multipart-*"))
		require.NoError(t, err)
		return files
	}
	before := spooled()
	// Over the 32 MiB a form keeps in memory; refused for its type.
	code, body := br.multipart("/campaigns", map[string]string{"_csrf": tok, "name": "Big"}, "audio", "greeting.exe", make([]byte, 33<<20))
	require.Equal(t, http.StatusUnprocessableEntity, code, body)
	require.Contains(t, body, "upload a WAV or MP3 file")
	require.ElementsMatch(t, before, spooled(), "the spooled file is gone")
}

// TestSignedOutBodyBound: a request without a signed-in session may post
// no more than the sign-in form needs (64 KiB), to any page: heed reads
// and spools no large form for someone signed out. A signed-in admin's
// form has room for its fields beside a file at the upload limit.
func TestSignedOutBodyBound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	anon := b.browser(t)
	big := strings.Repeat("x", 100<<10)
	code, body, _ := anon.post("/signin", url.Values{"email": {"admin@firm.test"}, "password": {big}})
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	const says = "You are not signed in (or your session has ended), and heed takes no more than 64 KiB from someone signed out: sign in, then send the form again."
	require.Contains(t, body, says)
	code, body = anon.multipart("/admin/consents/one", map[string]string{"phone": "860-555-0401", "evidence": big}, "document", "", nil)
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	require.Contains(t, body, says, "a form whose session ended is told so")
	code, _, _ = anon.post("/signin", url.Values{"email": {"admin@firm.test"}, "password": {"wrong"}})
	require.NotEqual(t, http.StatusRequestEntityTooLarge, code, "a sign-in form fits")

	admin := b.browser(t)
	code, _ = admin.signin("admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	tok := admin.csrf("/admin/consents")
	code, body = admin.multipart("/admin/consents/one", map[string]string{"_csrf": tok, "phone": "860-555-0401", "kind": "pec",
		"scope": "informational", "channel": "voice", "obtained_at": "2026-01-05T14:30", "zone": "America/New_York",
		"source": "intake call", "evidence": big}, "document", "", nil)
	require.Equal(t, http.StatusSeeOther, code, body)
	require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM consents WHERE phone = '+18605550401' AND length(evidence) = $1`, len(big)))
}
