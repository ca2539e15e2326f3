package consent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// MaxDocumentBytes bounds a consent's document.
const MaxDocumentBytes = 10 << 20

// maxDocumentName bounds a document's file name, in bytes.
const maxDocumentName = 255

// documentTypes are the media types a consent's document may have, as
// http.DetectContentType names them from its bytes: PDF, the common image
// formats of a scanned or photographed signature, and plain text.
var documentTypes = []string{"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain; charset=utf-8"}

// DocumentTypes returns the media types a consent's document may have, for
// forms and error messages.
func DocumentTypes() string { return "PDF, PNG, JPEG, GIF, WebP or UTF-8 text" }

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
	// Body is the file's bytes; a DocumentInfo leaves it nil.
	Body []byte
	// AddedAt is when the document was first stored; zero before that.
	AddedAt time.Time
}

// NewDocument returns the document of a file named name holding body: its
// name without directories, its detected media type, size and hash. A file
// that is empty, too large, or of a type heed does not keep is refused
// with FieldErrors on "document", wrapping ErrInvalidRecord.
func NewDocument(name string, body []byte) (Document, error) {
	name = strings.TrimSpace(filepath.Base(strings.ReplaceAll(name, `\`, "/")))
	ct := http.DetectContentType(body)
	fail := func(msg string) (Document, error) {
		return Document{}, fmt.Errorf("document %q: %w", name, FieldErrors{"document": msg})
	}
	switch {
	case len(body) == 0:
		return fail("the document is empty")
	case len(body) > MaxDocumentBytes:
		return fail(fmt.Sprintf("the document is larger than %d MiB", MaxDocumentBytes>>20))
	case name == "" || name == "." || name == "/":
		return fail("the document has no file name")
	case len(name) > maxDocumentName || !utf8.ValidString(name):
		return fail(fmt.Sprintf("the document's file name is not UTF-8 or longer than %d bytes", maxDocumentName))
	}
	ok := false
	for _, t := range documentTypes {
		ok = ok || ct == t
	}
	if !ok {
		mt, _, _ := mime.ParseMediaType(ct)
		return fail(fmt.Sprintf("the document is %s; heed keeps %s files", mt, DocumentTypes()))
	}
	sum := sha256.Sum256(body)
	return Document{Name: name, ContentType: ct, Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:]), Body: body}, nil
}

// storeDocument keeps d in tx, once: a document already kept under its
// hash is not stored again.
func storeDocument(ctx context.Context, tx pgx.Tx, d *Document, by int64) error {
	_, err := tx.Exec(ctx, `INSERT INTO consent_documents (sha256, name, content_type, size, body, added_by)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING`, d.SHA256, d.Name, d.ContentType, d.Size, d.Body, nullID(by))
	if err != nil {
		return fmt.Errorf("store document %s: %w", d.SHA256, referenceError(err))
	}
	return nil
}

// Document returns the document kept under the hex SHA-256 sum, with its
// bytes, or an error wrapping ErrNotFound.
func (l *Ledger) Document(ctx context.Context, sum string) (Document, error) {
	var d Document
	err := l.db.QueryRow(ctx, `SELECT sha256, name, content_type, size, body, added_at FROM consent_documents WHERE sha256 = $1`,
		strings.ToLower(sum)).Scan(&d.SHA256, &d.Name, &d.ContentType, &d.Size, &d.Body, &d.AddedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Document{}, fmt.Errorf("document %s: %w", sum, ErrNotFound)
	}
	if err != nil {
		return Document{}, fmt.Errorf("document %s: %w", sum, err)
	}
	return d, nil
}
