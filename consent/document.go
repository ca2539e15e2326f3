package consent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// MaxDocumentBytes bounds a consent's document.
const MaxDocumentBytes = 10 << 20

// maxDocumentName bounds a document's file name, in bytes.
const maxDocumentName = 255

// documentType is a kind of file a consent's document may be: its media
// type as http.DetectContentType names it from the file's bytes, what to
// call it, and the file name extensions it may carry.
type documentType struct {
	mediaType, name string
	extensions      []string
}

// documentTypes are the kinds of file heed keeps as a consent's document:
// PDF, the common image formats of a scanned or photographed signature,
// and plain UTF-8 text.
var documentTypes = []documentType{
	{"application/pdf", "PDF", []string{".pdf"}},
	{"image/png", "PNG", []string{".png"}},
	{"image/jpeg", "JPEG", []string{".jpg", ".jpeg"}},
	{"image/gif", "GIF", []string{".gif"}},
	{"image/webp", "WebP", []string{".webp"}},
	{"text/plain; charset=utf-8", "UTF-8 text", []string{".txt"}},
}

// DocumentTypes names the kinds of file heed keeps as a consent's
// document, for forms and error messages.
func DocumentTypes() string {
	names := make([]string, len(documentTypes))
	for i, t := range documentTypes {
		names[i] = t.name
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Document is a consent's evidence as a file: a signed engagement letter,
// an intake form, a scanned signature.
type Document struct {
	// Name is the file's name as uploaded, without its directories.
	Name string
	// ContentType is the file's media type, as heed detects it from its
	// bytes (never as the uploader claims it).
	ContentType string
	// Size is the file's length in bytes.
	Size int64
	// SHA256 is the hex SHA-256 of the file's bytes, which names it.
	SHA256 string
	// Body is the file's bytes.
	Body []byte
	// AddedAt is when the bytes were first kept; zero before that.
	AddedAt time.Time
}

// NewDocument returns the document of a file named name holding body: its
// name without directories, its detected media type, size and hash. A file
// that is empty, too large, of a kind heed does not keep, or named with
// another kind's extension is refused with FieldErrors on "document",
// wrapping ErrInvalidRecord.
func NewDocument(name string, body []byte) (Document, error) {
	name = strings.TrimSpace(filepath.Base(strings.ReplaceAll(name, `\`, "/")))
	fail := func(msg string) (Document, error) {
		return Document{}, fmt.Errorf("document %q: %w", name, FieldErrors{"document": msg})
	}
	switch {
	case len(bytes.TrimSpace(body)) == 0:
		return fail("the document is empty")
	case len(body) > MaxDocumentBytes:
		return fail(fmt.Sprintf("the document is larger than %d MiB", MaxDocumentBytes>>20))
	case name == "" || name == "." || name == ".." || name == "/":
		return fail("the document has no file name")
	case len(name) > maxDocumentName || !utf8.ValidString(name) || strings.ContainsFunc(name, isControl):
		return fail(fmt.Sprintf("the document's file name is not plain UTF-8 or is longer than %d bytes", maxDocumentName))
	}
	ct := http.DetectContentType(body)
	i := slices.IndexFunc(documentTypes, func(t documentType) bool { return t.mediaType == ct })
	if i >= 0 && documentTypes[i].name == "UTF-8 text" && !plainText(body) {
		i = -1
		ct = "text that is not plain UTF-8 (markup, a script's control characters, or another encoding)"
	}
	if i < 0 {
		if mt, _, err := mime.ParseMediaType(ct); err == nil {
			ct = mt
		}
		return fail(fmt.Sprintf("the document is %s; heed keeps %s files", ct, DocumentTypes()))
	}
	t := documentTypes[i]
	if ext := strings.ToLower(filepath.Ext(name)); !slices.Contains(t.extensions, ext) {
		return fail(fmt.Sprintf("the document is a %s file but its name ends in %q: name it %s", t.name, ext, strings.Join(t.extensions, " or ")))
	}
	sum := sha256.Sum256(body)
	return Document{Name: name, ContentType: ct, Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:]), Body: body}, nil
}

// ReadDocument reads a document named name from r as NewDocument checks
// it, reading no more than MaxDocumentBytes and one byte: a larger one is
// refused as NewDocument refuses it, unread beyond that.
func ReadDocument(name string, r io.Reader) (Document, error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxDocumentBytes+1))
	if err != nil {
		return Document{}, fmt.Errorf("read document %s: %w", name, err)
	}
	return NewDocument(name, body)
}

// isControl reports control characters, which no file name or record
// text heed keeps may hold.
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// markup matches the start of a text that a browser or another program
// would read as markup: a tag, after any byte-order mark and space.
var markup = regexp.MustCompile(`^(\x{FEFF})?\s*<`)

// plainText reports whether body is UTF-8 text throughout, without
// control characters other than tab, line feed, form feed and carriage
// return, and does not start as markup.
func plainText(body []byte) bool {
	if !utf8.Valid(body) || markup.Match(body) {
		return false
	}
	return !bytes.ContainsFunc(body, func(r rune) bool { return isControl(r) && r != '\t' && r != '\n' && r != '\f' && r != '\r' })
}

// storeDocument keeps d's bytes in tx, once: bytes already kept under
// their hash are not stored again.
func storeDocument(ctx context.Context, tx pgx.Tx, d *Document) error {
	_, err := tx.Exec(ctx, `INSERT INTO consent_documents (sha256, content_type, size, body)
		VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING`, d.SHA256, d.ContentType, d.Size, d.Body)
	if err != nil {
		return fmt.Errorf("store document %s: %w", d.SHA256, err)
	}
	return nil
}

// Document returns consent id's document, with its bytes and the name it
// came with, or an error wrapping ErrNotFound when the consent has none.
func (l *Ledger) Document(ctx context.Context, id int64) (Document, error) {
	var d Document
	err := l.db.QueryRow(ctx, `SELECT d.sha256, c.document_name, d.content_type, d.size, d.body, d.added_at
		FROM consents c JOIN consent_documents d ON d.sha256 = c.document WHERE c.id = $1`, id).
		Scan(&d.SHA256, &d.Name, &d.ContentType, &d.Size, &d.Body, &d.AddedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Document{}, fmt.Errorf("document of consent %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Document{}, fmt.Errorf("document of consent %d: %w", id, err)
	}
	return d, nil
}
