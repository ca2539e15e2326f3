package consent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5"
)

// importDoc is a document a consents import names: its path in
// ImportOptions.Documents, and what its bytes were when the import
// checked them.
type importDoc struct {
	path, name, sha256 string
}

// importDocs checks the documents a consents import's rows name, reading
// each path once and keeping its hash, not its bytes: an import naming
// thousands of letters holds one in memory at a time.
type importDocs struct {
	fsys fs.FS
	docs map[string]importDoc // by path
	bad  map[string]string    // by path: why the document is refused
}

// check returns the document a row names by v, or why it is refused.
func (d *importDocs) check(v string) (importDoc, string) {
	p := strings.ReplaceAll(v, `\`, "/")
	if d.fsys == nil {
		return importDoc{}, fmt.Sprintf("document %q: the import was given no documents (upload a ZIP file holding the file and its documents, or use heed consent import --documents DIR)", v)
	}
	if !fs.ValidPath(p) || p == "." {
		return importDoc{}, fmt.Sprintf("document %q is not a path inside the folder of documents", v)
	}
	if doc, ok := d.docs[p]; ok {
		return doc, ""
	}
	if why, ok := d.bad[p]; ok {
		return importDoc{}, why
	}
	doc, err := readImportDoc(d.fsys, p)
	var fe FieldErrors
	switch {
	case errors.As(err, &fe):
		d.bad[p] = fmt.Sprintf("document %q: %s", v, fe["document"])
	case errors.Is(err, fs.ErrNotExist):
		d.bad[p] = fmt.Sprintf("document %q is not in the folder of documents", v)
	case err != nil:
		d.bad[p] = fmt.Sprintf("document %q cannot be read: %v", v, err)
	default:
		d.docs[p] = importDoc{path: p, name: doc.Name, sha256: doc.SHA256}
		return d.docs[p], ""
	}
	return importDoc{}, d.bad[p]
}

// readImportDoc reads the document at path p of fsys as NewDocument does,
// without reading more than MaxDocumentBytes and one byte of it.
func readImportDoc(fsys fs.FS, p string) (Document, error) {
	// Looked at before it is opened: opening a named pipe would wait for
	// a writer.
	st, err := fs.Stat(fsys, p)
	if err != nil {
		return Document{}, fmt.Errorf("stat %s: %w", p, err)
	}
	if !st.Mode().IsRegular() {
		return Document{}, fmt.Errorf("%s: %w", p, FieldErrors{"document": "it is not a file"})
	}
	if st.Size() > MaxDocumentBytes {
		// Refused unread: a ZIP holds it to the size it gives.
		return Document{}, fmt.Errorf("%s: %w", p, FieldErrors{"document": fmt.Sprintf("the document is larger than %d MiB", MaxDocumentBytes>>20)})
	}
	f, err := fsys.Open(p)
	if err != nil {
		return Document{}, fmt.Errorf("open %s: %w", p, err)
	}
	defer f.Close()
	return ReadDocument(p, f)
}

// storeImportDocs keeps, in tx, the bytes of each document the written
// rows name, reading each again: a file changed since the import checked
// it fails the import, which then writes nothing.
func storeImportDocs(ctx context.Context, tx pgx.Tx, fsys fs.FS, docs []importDoc) error {
	for _, want := range docs {
		d, err := readImportDoc(fsys, want.path)
		if err != nil {
			return fmt.Errorf("document %s: %w", want.path, err)
		}
		if d.SHA256 != want.sha256 {
			return fmt.Errorf("document %s: %w", want.path, ErrDocumentChanged)
		}
		if err := storeDocument(ctx, tx, &d); err != nil {
			return err
		}
	}
	return nil
}

// ErrDocumentChanged reports a document changed between an import's check
// of it and its writing: the import writes nothing.
var ErrDocumentChanged = errors.New("the file changed while it was being imported; nothing was imported")
