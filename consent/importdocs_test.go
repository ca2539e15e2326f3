package consent_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
)

// TestImportConsentDocuments imports consents with their signed letters
// from a folder, as heed consent import --documents does: every row naming
// a document that cannot be kept is refused with its line and why, and
// nothing is written; then each consent names its own document, the bytes
// kept once under their hash; a second import of the same file writes
// nothing more, and the same consent with a document it lacked is a new
// record.
func TestImportConsentDocuments(t *testing.T) {
	t.Parallel()
	b := setupLedger(t)
	dir := t.TempDir()
	letter := []byte("%PDF-1.7\n% engagement letter signed by Ann Smith\n%%EOF\n")
	var scan bytes.Buffer
	require.NoError(t, png.Encode(&scan, image.NewGray(image.Rect(0, 0, 4, 4))))
	write := func(name string, body []byte) {
		t.Helper()
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), body, 0o644))
	}
	write("ann.pdf", letter)
	write("scans/bo.png", scan.Bytes())
	write("page.pdf", []byte("<html><body>signed</body></html>"))
	write("big.pdf", append(append([]byte("%PDF-1.7\n%"), bytes.Repeat([]byte("x"), consent.MaxDocumentBytes)...), "\n%%EOF\n"...))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "folder.pdf"), 0o755))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "pipe.pdf"), 0o644)) // opening it would wait for a writer
	docs := os.DirFS(dir)
	const header = "phone,kind,scope,channel,obtained_at,source,document\n"

	t.Run("Refusals", func(t *testing.T) {
		bad := header +
			"860-555-0101,pewc,informational,voice,2025-01-15,engagement letter,ann.pdf\n" +
			"860-555-0102,pewc,informational,voice,2025-01-15,engagement letter,../ann.pdf\n" +
			"860-555-0103,pewc,informational,voice,2025-01-15,engagement letter,missing.pdf\n" +
			"860-555-0104,pewc,informational,voice,2025-01-15,engagement letter,page.pdf\n" +
			"860-555-0105,pewc,informational,voice,2025-01-15,engagement letter,big.pdf\n" +
			"860-555-0106,pewc,informational,voice,2025-01-15,engagement letter,folder.pdf\n" +
			"860-555-0107,pewc,informational,voice,2025-01-15,engagement letter,page.pdf\n" +
			"860-555-0108,pewc,informational,voice,2025-01-15,engagement letter,pipe.pdf\n"
		_, err := b.ledger.ImportConsents(b.ctx, strings.NewReader(bad), consent.FormatCSV, consent.ImportOptions{Documents: docs})
		var ie *consent.ImportError
		require.ErrorAs(t, err, &ie)
		require.Equal(t, []consent.RowError{
			{Line: 3, Reason: `document "../ann.pdf" is not a path inside the folder of documents`},
			{Line: 4, Reason: `document "missing.pdf" is not in the folder of documents`},
			{Line: 5, Reason: `document "page.pdf": the document is text/html; heed keeps PDF, PNG, JPEG, GIF, WebP or UTF-8 text files`},
			{Line: 6, Reason: `document "big.pdf": the document is larger than 10 MiB`},
			{Line: 7, Reason: `document "folder.pdf": it is not a file`},
			{Line: 8, Reason: `document "page.pdf": the document is text/html; heed keeps PDF, PNG, JPEG, GIF, WebP or UTF-8 text files`},
			{Line: 9, Reason: `document "pipe.pdf": it is not a file`},
		}, ie.Report.Rejected)
		// Without a folder, a row naming a document is refused.
		_, err = b.ledger.ImportConsents(b.ctx, strings.NewReader(header+"860-555-0101,pewc,informational,voice,2025-01-15,engagement letter,ann.pdf\n"),
			consent.FormatCSV, consent.ImportOptions{})
		require.ErrorAs(t, err, &ie)
		require.Equal(t, []consent.RowError{{Line: 2, Reason: `document "ann.pdf": the import was given no documents (upload a ZIP file holding the file and its documents, or use heed consent import --documents DIR)`}}, ie.Report.Rejected)
		require.Zero(t, b.count(t, `SELECT count(*) FROM consents`))
		require.Zero(t, b.count(t, `SELECT count(*) FROM consent_documents`))
	})

	good := header +
		"860-555-0111,pewc,informational,voice,2025-01-15,engagement letter,ann.pdf\n" +
		"860-555-0111,pewc,telemarketing,voice,2025-01-15,engagement letter,ann.pdf\n" +
		`860-555-0112,pec,informational,voice,2025-01-16,intake form,scans\bo.png` + "\n" +
		"860-555-0113,pec,informational,voice,2025-01-17,intake form,\n"
	t.Run("DryRun", func(t *testing.T) {
		rep, err := b.ledger.ImportConsents(b.ctx, strings.NewReader(good), consent.FormatCSV, consent.ImportOptions{Documents: docs, DryRun: true})
		require.NoError(t, err)
		require.Equal(t, 4, rep.New)
		require.Equal(t, 2, rep.Documents)
		require.Zero(t, b.count(t, `SELECT count(*) FROM consents`))
		require.Zero(t, b.count(t, `SELECT count(*) FROM consent_documents`))
	})

	t.Run("Imported", func(t *testing.T) {
		rep, err := b.ledger.ImportConsents(b.ctx, strings.NewReader(good), consent.FormatCSV, consent.ImportOptions{Documents: docs})
		require.NoError(t, err)
		require.Equal(t, 4, rep.Imported)
		require.Equal(t, 2, rep.Documents)
		require.Equal(t, 2, b.count(t, `SELECT count(*) FROM consent_documents`), "the letter once, for both of its consents")
		for _, c := range []struct {
			phone, scope, name string
			body               []byte
		}{{"+18605550111", "informational", "ann.pdf", letter}, {"+18605550111", "telemarketing", "ann.pdf", letter}, {"+18605550112", "informational", "bo.png", scan.Bytes()}} {
			var id int64
			require.NoError(t, b.db.QueryRow(b.ctx, `SELECT id FROM consents WHERE phone = $1 AND scope = $2`, c.phone, c.scope).Scan(&id))
			d, err := b.ledger.Document(b.ctx, id)
			require.NoError(t, err, c.phone)
			sum := sha256.Sum256(c.body)
			require.Equal(t, hex.EncodeToString(sum[:]), d.SHA256)
			require.Equal(t, c.name, d.Name)
			require.Equal(t, c.body, d.Body)
		}
		var id int64
		require.NoError(t, b.db.QueryRow(b.ctx, `SELECT id FROM consents WHERE phone = '+18605550113'`).Scan(&id))
		_, err = b.ledger.Document(b.ctx, id)
		require.ErrorIs(t, err, consent.ErrNotFound, "a row without a document has none")

		// The same file again writes nothing; the same consent with a
		// letter it lacked is a new record, as a correction is.
		again := good + "860-555-0113,pec,informational,voice,2025-01-17,intake form,ann.pdf\n"
		rep, err = b.ledger.ImportConsents(b.ctx, strings.NewReader(again), consent.FormatCSV, consent.ImportOptions{Documents: docs})
		require.NoError(t, err)
		require.Equal(t, 1, rep.Imported)
		require.Len(t, rep.Skipped, 4)
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM consents WHERE phone = '+18605550113' AND document_name = 'ann.pdf'`))

		// The firm's usual file, without documents, repeats what is on
		// file: nothing is recorded again, nor is a row repeating an
		// earlier one without its document.
		plain := "phone,kind,scope,channel,obtained_at,source\n" +
			"860-555-0111,pewc,informational,voice,2025-01-15,engagement letter\n" +
			"860-555-0113,pec,informational,voice,2025-01-17,intake form\n"
		rep, err = b.ledger.ImportConsents(b.ctx, strings.NewReader(plain), consent.FormatCSV, consent.ImportOptions{})
		require.NoError(t, err)
		require.Zero(t, rep.Imported)
		require.Len(t, rep.Skipped, 2)
		twice := header + "860-555-0114,pec,informational,voice,2025-01-18,intake form,ann.pdf\n" +
			"860-555-0114,pec,informational,voice,2025-01-18,intake form,\n"
		rep, err = b.ledger.ImportConsents(b.ctx, strings.NewReader(twice), consent.FormatCSV, consent.ImportOptions{Documents: docs})
		require.NoError(t, err)
		require.Equal(t, 1, rep.Imported)
		require.Equal(t, []consent.RowError{{Line: 3, Reason: "same consent as line 2"}}, rep.Skipped)
	})

	t.Run("WithoutEvidence", func(t *testing.T) {
		// Written consent with neither evidence text nor a document is
		// imported, with a warning of its line; oral consent, or written
		// consent with its text or its letter, is not warned of.
		file := "phone,kind,scope,channel,obtained_at,source,evidence,document\n" +
			"860-555-0131,pewc,informational,voice,2025-01-15,engagement letter,,\n" +
			"860-555-0132,pec,informational,voice,2025-01-15,intake call,,\n" +
			"860-555-0133,pewc,informational,voice,2025-01-15,web form,I agree to calls.,\n" +
			"860-555-0134,pewc,informational,voice,2025-01-15,engagement letter,,ann.pdf\n"
		for _, dry := range []bool{true, false} {
			rep, err := b.ledger.ImportConsents(b.ctx, strings.NewReader(file), consent.FormatCSV, consent.ImportOptions{Documents: docs, DryRun: dry})
			require.NoError(t, err)
			require.Equal(t, []consent.RowError{{Line: 2, Reason: "written consent (pewc) without its evidence: no evidence text and no document"}}, rep.Unevidenced, "dry run %v", dry)
		}
		require.Equal(t, 4, b.count(t, `SELECT count(*) FROM consents WHERE phone LIKE '+1860555013%'`))
	})

	t.Run("ChangedMeanwhile", func(t *testing.T) {
		// A letter whose bytes change between the check and the write
		// (another program rewriting it) fails the whole import.
		fsys := &changing{MapFS: fstest.MapFS{"cy.pdf": {Data: []byte("%PDF-1.7\n% Cy Lee, first scan\n%%EOF\n")}},
			then: []byte("%PDF-1.7\n% Cy Lee, second scan\n%%EOF\n")}
		_, err := b.ledger.ImportConsents(b.ctx, strings.NewReader(header+"860-555-0121,pewc,informational,voice,2025-01-15,letter,cy.pdf\n"),
			consent.FormatCSV, consent.ImportOptions{Documents: fsys})
		require.ErrorIs(t, err, consent.ErrDocumentChanged)
		require.Zero(t, b.count(t, `SELECT count(*) FROM consents WHERE phone = '+18605550121'`))
	})
}

// changing is a folder whose files hold then from their second opening
// on, as when a program rewrites a file during an import.
type changing struct {
	fstest.MapFS
	opened int
	then   []byte
}

func (c *changing) Open(name string) (fs.File, error) {
	if c.opened++; c.opened > 1 {
		f := c.MapFS[name]
		c.MapFS[name] = &fstest.MapFile{Data: c.then, Mode: f.Mode}
	}
	return c.MapFS.Open(name)
}
