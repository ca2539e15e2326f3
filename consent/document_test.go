package consent_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
)

// signedPDF is the start of a PDF, as an engagement letter's scan begins.
var signedPDF = []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n% signed by Ann Smith, 2026-01-05\n%%EOF\n")

// TestNewDocument checks what a consent's document may be: its type is
// read from its bytes, its name loses its directories, and an empty, too
// large, nameless or unkept file is refused with a field error.
func TestNewDocument(t *testing.T) {
	t.Parallel()
	d, err := consent.NewDocument(`C:\Scans\letter.pdf`, signedPDF)
	require.NoError(t, err)
	sum := sha256.Sum256(signedPDF)
	require.Equal(t, consent.Document{Name: "letter.pdf", ContentType: "application/pdf", Size: int64(len(signedPDF)),
		SHA256: hex.EncodeToString(sum[:]), Body: signedPDF}, d)
	d, err = consent.NewDocument("notes.txt", []byte("Ann agreed on the phone to reminder calls.\n"))
	require.NoError(t, err)
	require.Equal(t, "text/plain; charset=utf-8", d.ContentType)

	for name, tc := range map[string]struct {
		file string
		body []byte
		want string
	}{
		"empty":                     {"a.pdf", nil, "the document is empty"},
		"only spaces":               {"a.txt", []byte(" \n\t\n"), "the document is empty"},
		"too large":                 {"a.pdf", append([]byte("%PDF-1.7\n"), make([]byte, consent.MaxDocumentBytes)...), "larger than 10 MiB"},
		"no name":                   {" ", signedPDF, "no file name"},
		"a parent directory":        {"..", signedPDF, "no file name"},
		"a control character":       {"letter\x07.pdf", signedPDF, "not plain UTF-8"},
		"a program":                 {"letter.pdf", []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"), "heed keeps PDF, PNG, JPEG, GIF, WebP or UTF-8 text files"},
		"a web page":                {"letter.pdf", []byte("<html><script>alert(1)</script></html>"), "the document is text/html"},
		"an SVG without a prolog":   {"sig.txt", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "not plain UTF-8 (markup"},
		"markup after a BOM":        {"sig.txt", []byte("\ufeff  <p onclick=x>hi</p>"), "not plain UTF-8 (markup"},
		"binary after 512 bytes":    {"notes.txt", append([]byte(strings.Repeat("a", 600)), 0, 1, 2), "not plain UTF-8"},
		"Latin-1 text":              {"notes.txt", []byte("Ren\xe9 agreed"), "not plain UTF-8"},
		"a PDF named as a web page": {"letter.html", signedPDF, `is a PDF file but its name ends in ".html": name it .pdf`},
		"text named as a script":    {"run.bat", []byte("echo hi\n"), `is a UTF-8 text file but its name ends in ".bat"`},
		"a long name":               {strings.Repeat("x", 300) + ".pdf", signedPDF, "longer than 255 bytes"},
	} {
		_, err := consent.NewDocument(tc.file, tc.body)
		require.ErrorIs(t, err, consent.ErrInvalidRecord, name)
		require.ErrorContains(t, err, tc.want, name)
	}
}

// TestLedgerConsentDocument records consents with a document on a real
// database: the document is kept once under its hash, read back whole, and
// named by the consent's row and its audit log entry; the database refuses
// a document whose bytes do not match its hash, and any change to one.
func TestLedgerConsentDocument(t *testing.T) {
	t.Parallel()
	b := setupLedger(t)
	d, err := consent.NewDocument("letter.pdf", signedPDF)
	require.NoError(t, err)
	in := goodConsent()
	in.Evidence, in.Document = "", &d
	c, err := b.ledger.AddConsent(b.ctx, in)
	require.NoError(t, err, "a document is written consent's evidence")
	require.Equal(t, d.SHA256, c.Document)
	require.Equal(t, "letter.pdf", c.DocumentName)
	got, err := b.ledger.Document(b.ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, signedPDF, got.Body)
	require.Equal(t, "application/pdf", got.ContentType)
	require.Equal(t, "letter.pdf", got.Name)
	require.False(t, got.AddedAt.IsZero())

	// The same bytes under another name, for another purpose (a form
	// signed blank, say), are kept once; each consent keeps its own name.
	other, err := consent.NewDocument("blank form.pdf", signedPDF)
	require.NoError(t, err)
	in.Scope, in.Document = consent.PurposeDebtCollection, &other
	c2, err := b.ledger.AddConsent(b.ctx, in)
	require.NoError(t, err)
	require.Equal(t, c.Document, c2.Document)
	require.Equal(t, "blank form.pdf", c2.DocumentName)
	got, err = b.ledger.Document(b.ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, "letter.pdf", got.Name, "the first consent's name stands")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM consent_documents`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM audit_log WHERE tbl = 'consents' AND details->>'document' = $1 AND details->>'document_name' = 'blank form.pdf'`, d.SHA256),
		"the audit log holds each consent's document hash and name")
	cs, _, err := b.ledger.History(b.ctx, "+18605550101")
	require.NoError(t, err)
	require.Len(t, cs, 2)
	require.Equal(t, []string{"letter.pdf", "blank form.pdf"}, []string{cs[0].DocumentName, cs[1].DocumentName})

	// Written consent without evidence is refused, and nothing is kept.
	in.Document, in.Evidence = nil, " "
	_, err = b.ledger.AddConsent(b.ctx, in)
	require.ErrorIs(t, err, consent.ErrInvalidRecord)
	require.ErrorContains(t, err, "written consent (pewc) needs its evidence")
	in.Kind = consent.ConsentPEC
	_, err = b.ledger.AddConsent(b.ctx, in)
	require.NoError(t, err, "oral consent needs none")

	pec, err := b.ledger.AddConsent(b.ctx, consent.NewConsent{Phone: "860-555-0102", Kind: consent.ConsentPEC, Scope: consent.PurposeInformational,
		Channel: consent.ChannelVoice, ObtainedAt: time.Now().Add(-time.Hour), Source: "phone call"})
	require.NoError(t, err)
	_, err = b.ledger.Document(b.ctx, pec.ID)
	require.ErrorIs(t, err, consent.ErrNotFound, "a consent without a document")
	_, err = b.ledger.Document(b.ctx, pec.ID+1000)
	require.ErrorIs(t, err, consent.ErrNotFound, "no such consent")
	require.Equal(t, consent.FieldErrors{"source": "source is not plain UTF-8 text on one line"},
		b.ledger.Check(consent.NewConsent{Phone: "860-555-0102", Kind: consent.ConsentPEC, Scope: consent.PurposeInformational,
			Channel: consent.ChannelVoice, ObtainedAt: time.Now().Add(-time.Hour), Source: "phone\x00call"}), "a NUL byte never reaches the database")
	_, err = b.db.Exec(b.ctx, `INSERT INTO consent_documents (sha256, content_type, size, body) VALUES ($1, 'application/pdf', 3, 'abc')`, d.SHA256[:63]+"0")
	require.Error(t, err, "bytes that do not match the hash")
	_, err = b.db.Exec(b.ctx, `UPDATE consent_documents SET content_type = 'text/html'`)
	require.ErrorContains(t, err, "append-only")
	_, err = b.db.Exec(b.ctx, `DELETE FROM consent_documents`)
	require.ErrorContains(t, err, "append-only")
}

// countingReader yields n bytes of x and counts what was read of it.
type countingReader struct{ n, read int }

func (c *countingReader) Read(p []byte) (int, error) {
	if c.read >= c.n {
		return 0, io.EOF
	}
	k := min(len(p), c.n-c.read)
	for i := range p[:k] {
		p[i] = 'x'
	}
	c.read += k
	return k, nil
}

// TestReadDocument: a document is read up to its limit and one byte, no
// further, and refused over it as NewDocument refuses it; one within it
// is checked as NewDocument checks it.
func TestReadDocument(t *testing.T) {
	t.Parallel()
	huge := &countingReader{n: consent.MaxDocumentBytes + 4096}
	_, err := consent.ReadDocument("big.pdf", huge)
	require.ErrorIs(t, err, consent.ErrInvalidRecord)
	require.ErrorContains(t, err, "larger than 10 MiB")
	require.Equal(t, consent.MaxDocumentBytes+1, huge.read, "read no further than the limit and one byte")
	d, err := consent.ReadDocument(`C:\scans\ann.pdf`, strings.NewReader("%PDF-1.7\n% signed\n%%EOF\n"))
	require.NoError(t, err)
	require.Equal(t, "ann.pdf", d.Name)
	require.Equal(t, "application/pdf", d.ContentType)
}
