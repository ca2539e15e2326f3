package web_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/sheet/sheettest"
	"github.com/heed-dialer/heed/web"
)

// xlsx is sheettest.Workbook.
var xlsx = sheettest.Workbook

func TestConsentUploads(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var adminID int64
	require.NoError(t, b.db.QueryRow(ctx, `SELECT id FROM users WHERE email = 'admin@firm.test'`).Scan(&adminID))
	admin := b.browser(t)
	code, _ := admin.signin("admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	tok := admin.csrf("/admin/consents")
	upload := func(fields map[string]string, filename, content string) (int, string) {
		t.Helper()
		form := map[string]string{"_csrf": tok, "kind": "consents", "zone": "UTC"}
		for k, v := range fields {
			form[k] = v
		}
		return admin.multipart("/admin/consents", form, "file", filename, []byte(content))
	}
	consents := func(like string) int {
		t.Helper()
		return count(t, b.db, `SELECT count(*) FROM consents WHERE phone LIKE $1`, like)
	}

	t.Run("PageRenders", func(t *testing.T) {
		code, body, _ := admin.get("/admin/consents")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, `<a href="/admin/consents">Consents</a>`, "the admin nav links to it")
		require.Contains(t, body, `name="dry_run"`)
		require.Contains(t, body, `value="revocations"`)
		require.Contains(t, body, "at most 64 KiB")
	})
	t.Run("GoodCSVWithColumnMapping", func(t *testing.T) {
		file := "Phone Number,Type,scope,channel,Obtained,source,Notes\n" +
			"(860) 555-0201,PEWC,informational,voice,2025-01-15,engagement letter,vip\n" +
			"860-555-0202,pec,debt_collection,text,2025-02-01 09:30,intake form,\n" +
			"860.555.0201,pewc,informational,voice,2025-01-15,engagement letter,again\n"
		code, body := upload(map[string]string{"columns": "Phone Number=phone, Type=kind, Obtained=obtained_at", "zone": "America/New_York"}, "consents.csv", file)
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, "Imported 2 consents (3 rows read, 1 skipped as duplicates).")
		require.Contains(t, body, `<strong id="imported">2</strong>`)
		require.Contains(t, body, "<td>4</td><td>same consent as line 2</td>")
		require.Contains(t, body, "ignored: Notes")
		require.Contains(t, body, `<strong id="unevidenced-count">1</strong>`, "the written consent imported without its evidence is warned of")
		require.Contains(t, body, "<td>2</td><td>written consent (pewc) without its evidence: no evidence text and no document</td>")
		require.Equal(t, 2, consents("+1860555020%"))
		require.Equal(t, 2, count(t, b.db, `SELECT count(*) FROM consents WHERE phone LIKE '+1860555020%' AND captured_by = $1`, adminID))
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM consents WHERE phone = '+18605550202'
			AND obtained_at = '2025-02-01 09:30:00 America/New_York'::timestamptz`), "times without an offset are in the chosen zone")
		require.Equal(t, 2, count(t, b.db, `SELECT count(*) FROM index_changes WHERE phone LIKE '+1860555020%' AND op = 'consent'`))

		code, body = upload(map[string]string{"columns": "Phone Number=phone,Type=kind,Obtained=obtained_at", "zone": "America/New_York"}, "consents.csv", file)
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, "Imported 0 consents (3 rows read, 3 skipped as duplicates).")
		require.Contains(t, body, "already on file as consent")
		require.Equal(t, 2, consents("+1860555020%"), "a second upload of the same file adds nothing")
	})
	t.Run("GoodXLSX", func(t *testing.T) {
		file := xlsx(t, [][]any{
			{"phone", "kind", "scope", "channel", "obtained_at", "source", "expires_at"},
			{8605550211, "pewc", "telemarketing", "voice", "2025-03-01T10:00:00-05:00", "signed web form", "2027-03-01"},
			{"(860) 555-0212", "pec", "informational", "voice", "2025-03-02", "recorded call", ""},
		})
		code, body := upload(nil, "Consents.XLSX", string(file))
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, "Imported 2 consents")
		require.Equal(t, 2, consents("+1860555021%"))
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM consents WHERE phone = '+18605550211' AND kind = 'pewc'
			AND scope = 'telemarketing' AND expires_at IS NOT NULL`))
	})
	t.Run("DryRunWritesNothing", func(t *testing.T) {
		changes := count(t, b.db, `SELECT count(*) FROM index_changes`)
		code, body := upload(map[string]string{"dry_run": "1", "zone": "America/New_York"}, "c.csv", "phone,kind,scope,channel,obtained_at,source\n"+
			"860-555-0221,pec,informational,voice,2025-01-15,intake form\n"+
			"860-555-0222,pec,informational,voice,2025-01-15,intake form\n"+
			"860-555-0201,pewc,informational,voice,2025-01-15,engagement letter\n")
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, "Check only, nothing was written: the file is valid, and importing it would add 2 consents (3 rows read, 1 skipped as duplicates).")
		require.Contains(t, body, `<strong id="new">2</strong>`)
		require.Contains(t, body, `<strong id="imported">0</strong>`)
		require.Contains(t, body, `name="dry_run" value="1" checked`, "the form keeps the check box")
		require.Zero(t, consents("+1860555022%"))
		require.Equal(t, changes, count(t, b.db, `SELECT count(*) FROM index_changes`))
	})
	t.Run("BadRowsRejectTheWholeFile", func(t *testing.T) {
		code, body := upload(nil, "c.csv", "phone,kind,scope,channel,obtained_at,source\n"+
			"860-555-0231,pec,informational,voice,2025-01-15,intake form\n"+
			"not a phone,pec,informational,voice,2025-01-15,intake form\n"+
			"860-555-0233,maybe,informational,fax,2025-01-15,\n"+
			"860-555-0234,pec,informational,voice,2099-01-01,intake form\n")
		require.Equal(t, http.StatusUnprocessableEntity, code)
		require.Contains(t, body, "Nothing was imported: fix the rows below")
		require.Contains(t, body, "<td>3</td><td>phone &#34;not a phone&#34; is not a valid phone number</td>")
		require.Contains(t, body, `<td>4</td><td>kind &#34;maybe&#34; is not pec or pewc; channel &#34;fax&#34; is not voice or text; source is required`)
		require.Contains(t, body, "<td>5</td><td>obtained_at 2099-01-01T00:00:00Z is in the future</td>")
		require.Contains(t, body, `<strong id="rejected-count">3</strong>`)
		require.Zero(t, consents("+1860555023%"), "all or nothing: the good row is not written")
	})
	t.Run("BadForm", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			fields   map[string]string
			filename string
			want     string
		}{
			{"WrongExtension", nil, "consents.pdf", "consents.pdf is not a CSV or XLSX file"},
			{"BadMapping", map[string]string{"columns": "Phone Number"}, "c.csv", "want old=new pairs"},
			{"MappingToUnknownColumn", map[string]string{"columns": "Phone Number=telephone"}, "c.csv", "is not a column heed reads"},
			{"BadKind", map[string]string{"kind": "contacts"}, "c.csv", "consents or revocations"},
			{"BadZone", map[string]string{"zone": "Mars/Olympus"}, "c.csv", "choose a time zone from the list"},
			{"NotXLSX", nil, "c.xlsx", "not a readable XLSX file"},
		} {
			code, body := upload(tc.fields, tc.filename, "Phone Number,kind,scope,channel,obtained_at,source\n860-555-0241,pec,informational,voice,2025-01-15,x\n")
			require.Equal(t, http.StatusUnprocessableEntity, code, tc.name)
			require.Contains(t, body, tc.want, tc.name)
		}
		code, body := admin.multipart("/admin/consents", map[string]string{"_csrf": tok, "kind": "consents", "zone": "UTC"}, "file", "big.csv",
			[]byte("phone,kind,scope,channel,obtained_at,source\n"+strings.Repeat("860-555-0242,pec,informational,voice,2025-01-15,intake form\n", 70<<10/60)))
		require.Equal(t, http.StatusRequestEntityTooLarge, code)
		require.Contains(t, body, "The upload is too large: the limit is 64 KiB.")
		require.Zero(t, consents("+1860555024%"))
	})
	t.Run("Revocations", func(t *testing.T) {
		code, body := upload(map[string]string{"kind": "revocations", "columns": "When=revoked_at"}, "r.csv", "phone,When,method,source\n"+
			"860-555-0251,2025-04-01,email,email from client\n"+
			"860-555-0252,2025-04-02T12:00:00Z,letter,\n")
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, "Imported 2 revocations (2 rows read, 0 skipped as duplicates), and 2 numbers put on the internal do-not-call list.")
		require.Contains(t, body, `<strong id="listed">2</strong>`)
		require.Equal(t, 2, count(t, b.db, `SELECT count(*) FROM revocations WHERE phone LIKE '+1860555025%' AND recorded_by = $1`, adminID))
		require.Equal(t, 2, count(t, b.db, `SELECT count(*) FROM dnc_internal WHERE phone LIKE '+1860555025%' AND added_by = $1 AND removed_at IS NULL`, adminID))
		require.Equal(t, 2, count(t, b.db, `SELECT count(*) FROM index_changes WHERE phone LIKE '+1860555025%' AND op = 'revocation'`))
		require.Zero(t, consents("+1860555025%"))

		code, body = upload(map[string]string{"kind": "revocations"}, "r.csv", "phone,revoked_at,method\n860-555-0253,2025-04-01,pigeon\n")
		require.Equal(t, http.StatusUnprocessableEntity, code)
		require.Contains(t, body, `<td>2</td><td>method &#34;pigeon&#34; is not one of ivr, keyword, web, staff, email, letter</td>`)
		require.Contains(t, body, `value="revocations" checked`, "the form keeps the choice")
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM revocations WHERE phone = '+18605550253'`))
	})
	t.Run("ZIPWithDocuments", func(t *testing.T) {
		letter := "%PDF-1.7\n% engagement letter signed by Dee Ray\n%%EOF\n"
		csv := "phone,kind,scope,channel,obtained_at,source,document\n" +
			"860-555-0271,pewc,informational,voice,2025-01-15,engagement letter,letters/dee.pdf\n" +
			"860-555-0272,pec,informational,voice,2025-01-16,intake form,\n"
		zipped := func(files ...string) string {
			t.Helper()
			var buf bytes.Buffer
			w := zip.NewWriter(&buf)
			for i := 0; i < len(files); i += 2 {
				f, err := w.Create(files[i])
				require.NoError(t, err)
				_, err = f.Write([]byte(files[i+1]))
				require.NoError(t, err)
			}
			require.NoError(t, w.Close())
			return buf.String()
		}
		// As a Mac makes it: a folder, with __MACOSX beside it.
		good := zipped("export/consents.csv", csv, "export/letters/dee.pdf", letter,
			"__MACOSX/export/._consents.csv", "mac metadata", "export/._consents.csv", "mac metadata")

		for name, tc := range map[string]struct {
			fields   map[string]string
			filename string
			content  string
			reason   string
		}{
			"revocations":      {map[string]string{"kind": "revocations"}, "r.zip", good, "a ZIP file holds consents with their documents; revocations come as a CSV or XLSX file"},
			"two sheets":       {nil, "c.zip", zipped("a.csv", csv, "b.xlsx", "x", "letters/dee.pdf", letter), "the ZIP file must hold one CSV or XLSX file of consents beside their documents; it holds 2"},
			"not a ZIP":        {nil, "c.zip", csv, "c.zip is not a ZIP file heed can read"},
			"missing document": {nil, "c.zip", zipped("consents.csv", csv), `<td>2</td><td>document &#34;letters/dee.pdf&#34; is not in the folder of documents</td>`},
			"a name twice":     {nil, "c.zip", zipped("consents.csv", csv, "letters/dee.pdf", letter, `letters\dee.pdf`, "%PDF-1.7\n% another\n%%EOF\n"), "the ZIP file holds letters/dee.pdf twice"},
			"outside the sheet's folder": {nil, "c.zip", zipped("export/consents.csv", strings.ReplaceAll(csv, "letters/dee.pdf", "../dee.pdf"), "dee.pdf", letter),
				`<td>2</td><td>document &#34;../dee.pdf&#34; is not a path inside the folder of documents</td>`},
		} {
			code, body := upload(tc.fields, tc.filename, tc.content)
			require.Equal(t, http.StatusUnprocessableEntity, code, name)
			require.Contains(t, body, tc.reason, name)
		}
		require.Zero(t, consents("+1860555027%"))

		code, body := upload(map[string]string{"dry_run": "on"}, "export.zip", good)
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, "importing it would add 2 consents (2 rows read, 0 skipped as duplicates), with 1 documents.")
		require.Zero(t, consents("+1860555027%"))

		code, body = upload(nil, "export.zip", good)
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, "Imported 2 consents (2 rows read, 0 skipped as duplicates), with 1 documents.")
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM consents c JOIN consent_documents d ON d.sha256 = c.document
			WHERE c.phone = '+18605550271' AND c.document_name = 'dee.pdf' AND d.body = $1`, []byte(letter)))
		require.Equal(t, 1, consents("+18605550272"))

		// As Windows tools wrote ZIP files, with backslashes, and a tool
		// keeping absolute paths: the documents are found all the same.
		for i, names := range [][2]string{{`export\consents.csv`, `export\letters\dee.pdf`}, {"/export/consents.csv", "/export/letters/dee.pdf"}} {
			phone := fmt.Sprintf("860-555-028%d", i)
			code, body := upload(nil, "w.zip", zipped(names[0], strings.ReplaceAll(csv, "860-555-0271", phone)[:strings.Index(csv, "860-555-0272")], names[1], letter))
			require.Equal(t, http.StatusOK, code, "%s: %s", names[0], body)
			require.Contains(t, body, "Imported 1 consents", names[0])
			require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM consents WHERE phone = $1 AND document_name = 'dee.pdf'`, "+1"+strings.ReplaceAll(phone, "-", "")), names[0])
		}
	})
	t.Run("ParalegalForbidden", func(t *testing.T) {
		para := b.browser(t)
		code, _ := para.signin("para@firm.test", password)
		require.Equal(t, http.StatusSeeOther, code)
		code, body, _ := para.get("/admin/consents")
		require.Equal(t, http.StatusForbidden, code)
		require.Contains(t, body, "may not do this")
		ptok := para.csrf("/campaigns")
		code, _ = para.multipart("/admin/consents", map[string]string{"_csrf": ptok, "kind": "consents", "zone": "UTC"}, "file", "c.csv",
			[]byte("phone,kind,scope,channel,obtained_at,source\n860-555-0261,pec,informational,voice,2025-01-15,intake form\n"))
		require.Equal(t, http.StatusForbidden, code)
		require.Zero(t, consents("+1860555026%"))
		code, _, _ = b.browser(t).get("/admin/consents")
		require.Equal(t, http.StatusSeeOther, code, "signed out goes to sign-in")
	})
}

// TestConsentZIPBounds: a ZIP file of consents and their documents that
// holds more files than heed takes, or whose files unpack to more (26
// documents of 10 MiB of zeros in a quarter of a megabyte, each read twice
// by the import), is refused whole before its documents are read, and the
// page says why; one at the bounds imports.
func TestConsentZIPBounds(t *testing.T) {
	t.Parallel()
	b := setupWith(t, func(_ *pgxpool.Pool, cfg *web.Config) { cfg.UploadLimit = 2 << 20 })
	admin := b.browser(t)
	code, _ := admin.signin("admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	tok := admin.csrf("/admin/consents")
	upload := func(content []byte) (int, string) {
		t.Helper()
		return admin.multipart("/admin/consents", map[string]string{"_csrf": tok, "kind": "consents", "zone": "UTC"}, "file", "export.zip", content)
	}
	type file struct {
		name string
		body []byte
	}
	zipped := func(files []file) []byte {
		t.Helper()
		var buf bytes.Buffer
		w := zip.NewWriter(&buf)
		for _, f := range files {
			fw, err := w.Create(f.name)
			require.NoError(t, err)
			_, err = fw.Write(f.body)
			require.NoError(t, err)
		}
		require.NoError(t, w.Close())
		return buf.Bytes()
	}
	header := "phone,kind,scope,channel,obtained_at,source,document\n"
	row := func(i int, doc string) string {
		return fmt.Sprintf("860-555-%04d,pewc,informational,voice,2025-01-15,engagement letter,%s\n", 3400+i, doc)
	}
	letter := []byte("%PDF-1.7\n% engagement letter\n%%EOF\n")
	consents := func() int {
		t.Helper()
		return count(t, b.db, `SELECT count(*) FROM consents WHERE phone LIKE '+18605553%'`)
	}

	// 10,000 files: the sheet, a letter, and files no row names.
	atBound := []file{{"consents.csv", []byte(header + row(0, "letter.pdf"))}, {"letter.pdf", letter}}
	for i := len(atBound); i < 10_000; i++ {
		atBound = append(atBound, file{fmt.Sprintf("other/%05d.txt", i), []byte("x")})
	}
	zeros := bytes.Repeat([]byte{0}, 10<<20)
	sheet := header
	var bomb []file
	for i := range 26 {
		doc := fmt.Sprintf("letters/%02d.pdf", i)
		sheet += row(i, doc)
		bomb = append(bomb, file{doc, zeros})
	}
	bomb = append(bomb, file{"consents.csv", []byte(sheet)})

	for name, tc := range map[string]struct {
		content []byte
		reason  string
	}{
		"too many files":  {zipped(append(atBound, file{"other/extra.txt", []byte("x")})), "the ZIP file holds more than 10000 files, the most heed takes"},
		"unpacks to more": {zipped(bomb), "the ZIP file&#39;s files unpack to more than 256 MiB, the most heed takes"},
		"a name too deep": {zipped([]file{{"consents.csv", []byte(header)}, {strings.Repeat("d/", 33) + "f.pdf", letter}}),
			"the ZIP file holds a name longer than 1024 characters or 32 folders deep: d/d/d/"},
		"a name too long": {zipped([]file{{"consents.csv", []byte(header)}, {strings.Repeat("n", 1025) + ".pdf", letter}}),
			"the ZIP file holds a name longer than 1024 characters or 32 folders deep: nnnn"},
	} {
		require.Less(t, len(tc.content), 2<<20, name)
		code, body := upload(tc.content)
		require.Equal(t, http.StatusUnprocessableEntity, code, name)
		require.Contains(t, body, "Check the form: "+tc.reason, name)
		require.Zero(t, consents(), name)
	}

	code, body := upload(zipped(atBound))
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "Imported 1 consents (1 rows read, 0 skipped as duplicates), with 1 documents.")
	require.Equal(t, 1, consents())
}
