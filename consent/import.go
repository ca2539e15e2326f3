package consent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heed-dialer/heed/internal/phone"
	"github.com/heed-dialer/heed/internal/sheet"
)

// ErrImportRejected reports an import that was refused whole because some
// rows are invalid or the file is malformed; the ImportError carries every
// rejected row.
var ErrImportRejected = errors.New("import rejected; nothing was imported")

// ErrUnknownFormat reports an import file that is neither CSV nor XLSX.
var ErrUnknownFormat = sheet.ErrUnknownFormat

// MaxImportRows bounds the data rows of one import.
const MaxImportRows = 200_000

// MaxImportBytes bounds the size of an XLSX import file, and of the data it
// unpacks to eight times over.
const MaxImportBytes = sheet.MaxBytes

// Format is the format of an import file.
type Format = sheet.Format

// The import formats.
const (
	FormatCSV  = sheet.CSV
	FormatXLSX = sheet.XLSX
)

// FormatOf returns the format named by s: "csv" or "xlsx", or a file name
// ending in .csv, .txt or .xlsx (in any case). Other names give an error
// wrapping ErrUnknownFormat.
func FormatOf(s string) (Format, error) { return sheet.FormatOf(s) }

// ImportOptions tune an import.
type ImportOptions struct {
	// DryRun validates the file and reports what an import would do, and
	// writes nothing.
	DryRun bool
	// Columns maps the file's column headers (in any case) to the column
	// names heed reads, for files with other headers: {"Mobile": "phone"}.
	Columns map[string]string
	// Location is the time zone of times written without an offset; nil
	// means UTC.
	Location *time.Location
	// UserID is the user making the import, stored as captured_by or
	// recorded_by; 0 for none.
	UserID int64
	// Documents holds the files a consents file's optional document
	// column names, by their paths inside it (with / or \ between
	// folders): each is its row's consent's document, kept as a consent
	// recorded with its document is. Without it, a row naming a document
	// is refused.
	Documents fs.FS
}

// ParseColumnMap reads a column mapping written as "old=new,old2=new2", as
// the --map flag of heed consent import takes it.
func ParseColumnMap(s string) (map[string]string, error) { return sheet.ParseColumnMap(s) }

// RowError says why one line of an import was rejected or skipped.
type RowError = sheet.Problem

// ImportReport describes an import or a dry run, successful or not.
type ImportReport struct {
	// Kind is "consents" or "revocations".
	Kind string `json:"kind"`
	// DryRun reports that nothing was meant to be written.
	DryRun bool `json:"dry_run"`
	// Rows counts the data rows read; blank rows are not counted.
	Rows int `json:"rows"`
	// Valid counts the rows that passed validation.
	Valid int `json:"valid"`
	// New counts the valid rows that are not already on file: the rows an
	// import writes, or would write in a dry run.
	New int `json:"new"`
	// Imported counts the rows written: New, or 0 for a dry run or a
	// rejected import.
	Imported int `json:"imported"`
	// Documents counts, for consents, the distinct documents the written
	// consents name (or would, in a dry run).
	Documents int `json:"documents"`
	// Listed counts, for revocations, the numbers the import put on the
	// internal do-not-call list, or would in a dry run: those it revokes
	// every purpose of that had no entry in force.
	Listed int `json:"listed"`
	// Skipped lists the valid rows not written because the same record is
	// already on file or earlier in the file.
	Skipped []RowError `json:"skipped,omitempty"`
	// Rejected lists every invalid row and why; any makes the import fail.
	Rejected []RowError `json:"rejected,omitempty"`
	// ReadAsNANP lists, for revocations, the rows whose phone is written
	// with a "+" but without the country code 1 ("+2035550199"), and says
	// for each the North American number its revocation is for
	// (+12035550199, as phone.ParseMeant reads it): the number the person
	// almost certainly meant, and the only kind heed calls.
	ReadAsNANP []RowError `json:"read_as_nanp,omitempty"`
	// Unevidenced lists the written consents (pewc) the import writes, or
	// would, with neither evidence text nor a document: heed relies on
	// them as on any consent, but holds nothing that shows the signed
	// agreement. They are imported; the list is a warning.
	Unevidenced []RowError `json:"unevidenced,omitempty"`
	// Ignored lists the columns heed does not read.
	Ignored []string `json:"ignored_columns,omitempty"`
}

// ImportError is returned when an import is refused. It wraps
// ErrImportRejected and carries the report of every rejected row.
type ImportError struct{ Report ImportReport }

// Error summarises the rejected rows, at most twenty of them.
func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d row(s) rejected, nothing imported", len(e.Report.Rejected))
	for i, r := range e.Report.Rejected {
		if i == 20 {
			fmt.Fprintf(&b, "; and %d more", len(e.Report.Rejected)-20)
			break
		}
		fmt.Fprintf(&b, "; line %d: %s", r.Line, r.Reason)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrImportRejected) true.
func (e *ImportError) Unwrap() error { return ErrImportRejected }

// readSheet reads a CSV or XLSX file. A malformed or empty file, or one
// with too many rows, is reported in rep and returned as an *ImportError.
func readSheet(r io.Reader, f Format, rep *ImportReport) (*sheet.Sheet, error) {
	sh, err := sheet.Read(r, f, MaxImportRows)
	var p *sheet.Problem
	if errors.As(err, &p) {
		return nil, reject(rep, p.Line, p.Reason)
	}
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	return sh, nil
}

func reject(rep *ImportReport, line int, reason string) error {
	rep.Rejected = append(rep.Rejected, RowError{Line: line, Reason: reason})
	return &ImportError{Report: *rep}
}

// columns resolves a sheet's header to column positions, applying the
// mapping. It reports unknown mapping targets, mapped headers that are
// missing, duplicate and missing columns in rep, as rejections of line 1,
// and the columns it does not read as ignored.
func columns(sh *sheet.Sheet, mapping map[string]string, required, optional []string, rep *ImportReport) sheet.Columns {
	col, ignored, problems := sh.Columns(mapping, nil, required, optional)
	rep.Ignored = append(rep.Ignored, ignored...)
	rep.Rejected = append(rep.Rejected, problems...)
	return col
}

// cells reads the fields of one row by column name.
type cells struct {
	col    sheet.Columns
	fields []string
}

func (c cells) get(name string) string { return c.col.Get(c.fields, name) }

// addReasons appends the reasons of fe for the fields that parsing has not
// already reported, in the given order.
func addReasons(reasons []string, fe FieldErrors, parsed map[string]bool, order ...string) []string {
	for _, k := range order {
		if msg, ok := fe[k]; ok && !parsed[k] {
			reasons = append(reasons, msg)
		}
	}
	return reasons
}

// consentKey identifies a consent for duplicate detection. A row with a
// document is the same record only as a consent with that document: the
// same consent without it, or with another, is recorded again with it. A
// row without one is the same record as the consent with any document or
// none (a file without the column repeats what is on file).
type consentKey struct {
	phone, kind, scope, channel string
	obtained                    int64  // Unix microseconds
	document                    string // its hash, or ""
}

// withoutDocument is k as a row without a document has it.
func (k consentKey) withoutDocument() consentKey {
	k.document = ""
	return k
}

type consentRow struct {
	line  int
	phone phone.Number
	in    NewConsent
	doc   importDoc // path "" when the row names none
}

// ImportConsents imports consents from a CSV or XLSX file with the columns
// phone, kind, scope, channel, obtained_at and source, and optionally
// evidence, expires_at and document (opts.Columns maps other headers to
// these). Phones are normalised to E.164; times are RFC 3339, YYYY-MM-DD or
// YYYY-MM-DD HH:MM, the last two in opts.Location. A document is the path
// of a file in opts.Documents, checked as NewDocument checks an uploaded
// one and kept once under its hash. Rows identical to a consent already on
// file, or to an earlier row, are skipped and listed in the report: a row
// with a document repeats only the same consent with that document, a row
// without one the same consent with any document or none.
//
// The import is all-or-nothing: if the file is malformed or any row is
// invalid, nothing is written and the error, an *ImportError wrapping
// ErrImportRejected, reports each rejected line and why. With opts.DryRun
// the file is validated and checked against the ledger, and nothing is
// written.
func (l *Ledger) ImportConsents(ctx context.Context, r io.Reader, format Format, opts ImportOptions) (ImportReport, error) {
	rep := ImportReport{Kind: "consents", DryRun: opts.DryRun}
	sh, err := readSheet(r, format, &rep)
	if err != nil {
		return rep, err
	}
	col := columns(sh, opts.Columns, []string{"phone", "kind", "scope", "channel", "obtained_at", "source"}, []string{"evidence", "expires_at", "document"}, &rep)
	if len(rep.Rejected) == 0 && len(sh.Rows) == 0 {
		rep.Rejected = append(rep.Rejected, RowError{Line: 2, Reason: "the file has a header but no rows"})
	}
	if len(rep.Rejected) > 0 {
		return rep, &ImportError{Report: rep}
	}
	loc := opts.Location
	if loc == nil {
		loc = time.UTC
	}
	now := l.now()
	var rows []consentRow
	seen := map[consentKey]int{}
	docs := importDocs{fsys: opts.Documents, docs: map[string]importDoc{}, bad: map[string]string{}}
	for _, sr := range sh.Rows {
		rep.Rows++
		if sh.Extra(sr) {
			rep.Rejected = append(rep.Rejected, RowError{Line: sr.Line, Reason: fmt.Sprintf("has %d fields, the header has %d", len(sr.Fields), len(sh.Header))})
			continue
		}
		c := cells{col, sr.Fields}
		in := NewConsent{Phone: sh.Phone(c.get("phone")), Source: c.get("source"), Evidence: c.get("evidence"), CapturedBy: opts.UserID}
		var reasons []string
		parsed := map[string]bool{}
		if v := c.get("kind"); v == "" {
			reasons, parsed["kind"] = append(reasons, "kind is empty (want pec or pewc)"), true
		} else if in.Kind, err = ParseConsentKind(strings.ToLower(v)); err != nil {
			reasons, parsed["kind"] = append(reasons, fmt.Sprintf("kind %q is not pec or pewc", v)), true
		}
		if v := c.get("scope"); v == "" {
			reasons, parsed["scope"] = append(reasons, "scope is empty (want informational, telemarketing, debt_collection or solicitation)"), true
		} else if in.Scope, err = ParsePurpose(strings.ToLower(v)); err != nil {
			reasons, parsed["scope"] = append(reasons, fmt.Sprintf("scope %q is not informational, telemarketing, debt_collection or solicitation", v)), true
		} else {
			in.Scope = internPurpose(string(in.Scope))
		}
		if v := c.get("channel"); v == "" {
			reasons, parsed["channel"] = append(reasons, "channel is empty (want voice or text)"), true
		} else if in.Channel, err = ParseChannel(v); err != nil {
			reasons, parsed["channel"] = append(reasons, fmt.Sprintf("channel %q is not voice or text", v)), true
		}
		if v := c.get("obtained_at"); v == "" {
			reasons, parsed["obtained_at"] = append(reasons, "obtained_at is empty"), true
		} else if t, _, err := sh.Time(v, loc); err != nil {
			reasons, parsed["obtained_at"] = append(reasons, fmt.Sprintf("obtained_at %q is %v", v, err)), true
		} else {
			in.ObtainedAt = t.Truncate(time.Microsecond)
		}
		if v := c.get("expires_at"); v != "" {
			if t, _, err := sh.Time(v, loc); err != nil {
				reasons, parsed["expires_at"] = append(reasons, fmt.Sprintf("expires_at %q is %v", v, err)), true
			} else {
				in.ExpiresAt = t.Truncate(time.Microsecond)
			}
		}
		n, fe := in.validate(now)
		if in.ObtainedAt.IsZero() {
			parsed["expires_at"] = true // compared with obtained_at, which is already reported
		}
		reasons = addReasons(reasons, fe, parsed, "phone", "kind", "scope", "channel", "obtained_at", "expires_at", "source", "evidence")
		var doc importDoc
		if v := c.get("document"); v != "" {
			var why string
			if doc, why = docs.check(v); why != "" {
				reasons = append(reasons, why)
			}
		}
		if len(reasons) > 0 {
			rep.Rejected = append(rep.Rejected, RowError{Line: sr.Line, Reason: strings.Join(reasons, "; ")})
			continue
		}
		rep.Valid++
		k := consentKey{n.String(), in.Kind.String(), string(in.Scope), string(in.Channel), in.ObtainedAt.UnixMicro(), doc.sha256}
		if first, dup := seen[k]; dup {
			rep.Skipped = append(rep.Skipped, RowError{Line: sr.Line, Reason: fmt.Sprintf("same consent as line %d", first)})
			continue
		}
		seen[k] = sr.Line
		if anyDoc := k.withoutDocument(); k != anyDoc {
			if _, ok := seen[anyDoc]; !ok {
				seen[anyDoc] = sr.Line
			}
		}
		rows = append(rows, consentRow{line: sr.Line, phone: n, in: in, doc: doc})
	}
	if len(rep.Rejected) > 0 {
		return rep, &ImportError{Report: rep}
	}
	write := func(ctx context.Context, tx pgx.Tx) error {
		onFile, err := existingConsents(ctx, tx, rows)
		if err != nil {
			return err
		}
		src := make([][]any, 0, len(rows))
		var written []importDoc // the documents of the rows written, each once
		named := map[string]bool{}
		for _, r := range rows {
			k := consentKey{r.phone.String(), r.in.Kind.String(), string(r.in.Scope), string(r.in.Channel), r.in.ObtainedAt.UnixMicro(), r.doc.sha256}
			if id, ok := onFile[k]; ok {
				rep.Skipped = append(rep.Skipped, RowError{Line: r.line, Reason: fmt.Sprintf("already on file as consent %d", id)})
				continue
			}
			if r.in.Kind == ConsentPEWC && strings.TrimSpace(r.in.Evidence) == "" && r.doc.path == "" {
				rep.Unevidenced = append(rep.Unevidenced, RowError{Line: r.line, Reason: unevidenced})
			}
			var doc any
			if r.doc.path != "" {
				doc = r.doc.sha256
				if !named[r.doc.path] {
					named[r.doc.path] = true
					written = append(written, r.doc)
				}
			}
			src = append(src, []any{r.phone.String(), r.in.Kind.String(), string(r.in.Scope), string(r.in.Channel), r.in.ObtainedAt,
				strings.TrimSpace(r.in.Source), r.in.Evidence, evidenceHash(r.in.Evidence), nullID(r.in.CapturedBy), nullTime(r.in.ExpiresAt),
				doc, r.doc.name})
		}
		rep.New = len(src)
		hashes := map[string]bool{}
		for _, d := range written {
			hashes[d.sha256] = true
		}
		rep.Documents = len(hashes)
		if opts.DryRun || len(src) == 0 {
			return nil
		}
		if err := storeImportDocs(ctx, tx, opts.Documents, written); err != nil {
			return err
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"consents"},
			[]string{"phone", "kind", "scope", "channel", "obtained_at", "source", "evidence", "evidence_hash", "captured_by", "expires_at",
				"document", "document_name"}, pgx.CopyFromRows(src))
		if err != nil {
			return fmt.Errorf("copy consents: %w", referenceError(err))
		}
		rep.Imported = int(n)
		return nil
	}
	if err := l.importTx(ctx, opts.DryRun, write); err != nil {
		return ImportReport{Kind: rep.Kind, DryRun: rep.DryRun}, fmt.Errorf("consent import: %w", err)
	}
	return rep, nil
}

// unevidenced is the warning of a written consent imported without its
// evidence.
const unevidenced = "written consent (pewc) without its evidence: no evidence text and no document"

// importTx runs write in one transaction: read-only for a dry run, and
// committed only when write succeeds.
func (l *Ledger) importTx(ctx context.Context, dryRun bool, write func(context.Context, pgx.Tx) error) error {
	mode := pgx.ReadWrite
	if dryRun {
		mode = pgx.ReadOnly
	}
	return pgx.BeginTxFunc(ctx, l.db, pgx.TxOptions{AccessMode: mode}, func(tx pgx.Tx) error { return write(ctx, tx) })
}

// existingConsents returns the ids of the consents on file that match rows.
func existingConsents(ctx context.Context, tx pgx.Tx, rows []consentRow) (map[consentKey]int64, error) {
	phones := make([]string, 0, len(rows))
	seen := map[phone.Number]bool{}
	for _, r := range rows {
		if !seen[r.phone] {
			seen[r.phone] = true
			phones = append(phones, r.phone.String())
		}
	}
	q, err := tx.Query(ctx, `SELECT id, phone, kind, scope, channel, obtained_at, coalesce(document, '') FROM consents WHERE phone = ANY($1)`, phones)
	if err != nil {
		return nil, fmt.Errorf("consents on file: %w", err)
	}
	out := map[consentKey]int64{}
	var (
		id                   int64
		p, kind, sc, ch, doc string
		obtained             time.Time
	)
	_, err = pgx.ForEachRow(q, []any{&id, &p, &kind, &sc, &ch, &obtained, &doc}, func() error {
		k := consentKey{p, kind, sc, ch, obtained.UnixMicro(), doc}
		for _, k := range []consentKey{k, k.withoutDocument()} {
			if _, ok := out[k]; !ok {
				out[k] = id
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("consents on file: %w", err)
	}
	return out, nil
}

// revocationKey identifies a revocation for duplicate detection.
type revocationKey struct {
	phone, method, scope string
	revoked              int64 // Unix microseconds
}

type revocationRow struct {
	line  int
	phone phone.Number
	in    NewRevocation
}

// ImportRevocations imports revocations from a CSV or XLSX file with the
// columns phone, revoked_at and method, and optionally source and scope
// (opts.Columns maps other headers to these). Any valid phone number is
// accepted; one written with a "+" but without the 1 whose ten digits form
// a North American number ("+2035550199") is revoked as that number
// (+12035550199), and the report's ReadAsNANP names each such row. A revoked_at given to the day or the minute is read as the end
// of that day or minute (but not later than now): the reading under which
// a revocation never loses to a consent given earlier the same day.
// Rows identical to a revocation already on file, or to an earlier row, are
// skipped and listed in the report. A revocation of every purpose is an
// opt-out: its number is put on the internal do-not-call list, dated as
// its latest such revocation in the file, unless an entry is in force
// (listRevoked; the report's Listed).
//
// The import is all-or-nothing, with a dry run, as for ImportConsents.
func (l *Ledger) ImportRevocations(ctx context.Context, r io.Reader, format Format, opts ImportOptions) (ImportReport, error) {
	rep := ImportReport{Kind: "revocations", DryRun: opts.DryRun}
	sh, err := readSheet(r, format, &rep)
	if err != nil {
		return rep, err
	}
	col := columns(sh, opts.Columns, []string{"phone", "revoked_at", "method"}, []string{"source", "scope"}, &rep)
	if len(rep.Rejected) == 0 && len(sh.Rows) == 0 {
		rep.Rejected = append(rep.Rejected, RowError{Line: 2, Reason: "the file has a header but no rows"})
	}
	if len(rep.Rejected) > 0 {
		return rep, &ImportError{Report: rep}
	}
	loc := opts.Location
	if loc == nil {
		loc = time.UTC
	}
	now := l.now()
	var rows []revocationRow
	seen := map[revocationKey]int{}
	for _, sr := range sh.Rows {
		rep.Rows++
		if sh.Extra(sr) {
			rep.Rejected = append(rep.Rejected, RowError{Line: sr.Line, Reason: fmt.Sprintf("has %d fields, the header has %d", len(sr.Fields), len(sh.Header))})
			continue
		}
		c := cells{col, sr.Fields}
		in := NewRevocation{Phone: sh.Phone(c.get("phone")), Source: c.get("source"), RecordedBy: opts.UserID}
		var reasons []string
		parsed := map[string]bool{}
		if v := c.get("method"); v == "" {
			reasons, parsed["method"] = append(reasons, fmt.Sprintf("method is empty (want one of %s)", methodNames())), true
		} else if in.Method, err = ParseRevocationMethod(v); err != nil {
			reasons, parsed["method"] = append(reasons, fmt.Sprintf("method %q is not one of %s", v, methodNames())), true
		}
		if v := c.get("scope"); v != "" && !strings.EqualFold(v, "all") {
			if p, err := ParsePurpose(strings.ToLower(v)); err != nil {
				reasons, parsed["scope"] = append(reasons, fmt.Sprintf("scope %q is not informational, telemarketing, debt_collection, solicitation or all", v)), true
			} else {
				in.Scope = internPurpose(string(p))
			}
		}
		if v := c.get("revoked_at"); v == "" {
			reasons, parsed["revoked_at"] = append(reasons, "revoked_at is empty"), true
		} else if t, prec, err := sh.Time(v, loc); err != nil {
			reasons, parsed["revoked_at"] = append(reasons, fmt.Sprintf("revoked_at %q is %v", v, err)), true
		} else {
			in.RevokedAt = t
			if !t.After(now.Add(MaxClockSkew)) {
				in.RevokedAt = endOf(t, prec, now)
			}
		}
		n, fe := in.validate(now)
		if _, bad := fe["phone"]; !bad && phone.MissingOne(in.Phone) {
			rep.ReadAsNANP = append(rep.ReadAsNANP, RowError{Line: sr.Line,
				Reason: fmt.Sprintf("phone %q has a + but not the country code 1: read as the North American number %s", in.Phone, n.Display())})
		}
		reasons = addReasons(reasons, fe, parsed, "phone", "method", "scope", "revoked_at", "source")
		if len(reasons) > 0 {
			rep.Rejected = append(rep.Rejected, RowError{Line: sr.Line, Reason: strings.Join(reasons, "; ")})
			continue
		}
		rep.Valid++
		k := revocationKey{n.String(), string(in.Method), string(in.Scope), in.RevokedAt.UnixMicro()}
		if first, dup := seen[k]; dup {
			rep.Skipped = append(rep.Skipped, RowError{Line: sr.Line, Reason: fmt.Sprintf("same revocation as line %d", first)})
			continue
		}
		seen[k] = sr.Line
		rows = append(rows, revocationRow{line: sr.Line, phone: n, in: in})
	}
	if len(rep.Rejected) > 0 {
		return rep, &ImportError{Report: rep}
	}
	write := func(ctx context.Context, tx pgx.Tx) error {
		onFile, err := existingRevocations(ctx, tx, rows)
		if err != nil {
			return err
		}
		src := make([][]any, 0, len(rows))
		for _, r := range rows {
			k := revocationKey{r.phone.String(), string(r.in.Method), string(r.in.Scope), r.in.RevokedAt.UnixMicro()}
			if id, ok := onFile[k]; ok {
				rep.Skipped = append(rep.Skipped, RowError{Line: r.line, Reason: fmt.Sprintf("already on file as revocation %d", id)})
				continue
			}
			src = append(src, []any{r.phone.String(), r.in.RevokedAt, string(r.in.Method), strings.TrimSpace(r.in.Source), nullID(r.in.RecordedBy), string(r.in.Scope)})
		}
		rep.New = len(src)
		if len(src) == 0 {
			return nil
		}
		if !opts.DryRun {
			n, err := tx.CopyFrom(ctx, pgx.Identifier{"revocations"},
				[]string{"phone", "revoked_at", "method", "source", "recorded_by", "scope"}, pgx.CopyFromRows(src))
			if err != nil {
				return fmt.Errorf("copy revocations: %w", referenceError(err))
			}
			rep.Imported = int(n)
		}
		rep.Listed, err = listRevoked(ctx, tx, src, opts.DryRun)
		return err
	}
	if err := l.importTx(ctx, opts.DryRun, write); err != nil {
		return ImportReport{Kind: rep.Kind, DryRun: rep.DryRun}, fmt.Errorf("revocation import: %w", err)
	}
	return rep, nil
}

// listRevoked puts on the internal do-not-call list, as a key press does
// (rule F9), each number of the revocation rows src (as ImportRevocations
// copies them) that revokes every purpose and has no entry in force,
// dated its latest such revocation, with that revocation's method, source
// and recorder. An entry an admin took off before stands in no way: the
// revocation is recorded only now, so the admin did not have it in view
// (migration 00034 reads revocations recorded before imports listed
// numbers the same way). With dryRun it only counts them. It returns how
// many numbers it listed.
func listRevoked(ctx context.Context, tx pgx.Tx, src [][]any, dryRun bool) (int, error) {
	var (
		phones, methods, sources []string
		at                       []time.Time
		by                       []*int64
	)
	for _, r := range src {
		if r[5].(string) != "" {
			continue // limited to one purpose: no entry for every call
		}
		phones, at = append(phones, r[0].(string)), append(at, r[1].(time.Time))
		var id *int64
		if v, ok := r[4].(int64); ok {
			id = &v
		}
		methods, sources, by = append(methods, r[2].(string)), append(sources, r[3].(string)), append(by, id)
	}
	if len(phones) == 0 {
		return 0, nil
	}
	const latest = `
		WITH r AS (SELECT DISTINCT ON (phone) phone, revoked_at, method, source, recorded_by
		             FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::bigint[]) AS r (phone, revoked_at, method, source, recorded_by)
		            ORDER BY phone, revoked_at DESC),
		     n AS (SELECT * FROM r WHERE NOT EXISTS (SELECT 1 FROM dnc_internal d WHERE d.phone = r.phone AND d.removed_at IS NULL))`
	q := latest + ` SELECT count(*) FROM n`
	if !dryRun {
		q = latest + `, ins AS (INSERT INTO dnc_internal (phone, added_at, method, source, added_by)
		                 SELECT phone, revoked_at, method, source, recorded_by FROM n RETURNING 1)
		SELECT count(*) FROM ins`
	}
	var listed int
	if err := tx.QueryRow(ctx, q, phones, at, methods, sources, by).Scan(&listed); err != nil {
		return 0, fmt.Errorf("list revoked numbers: %w", referenceError(err))
	}
	return listed, nil
}

// endOf returns the last microsecond of the period of length prec that
// starts at t (t itself, rounded up to a microsecond, when prec is 0), but
// not later than now or t, whichever is later.
func endOf(t time.Time, prec time.Duration, now time.Time) time.Time {
	end := t.Truncate(time.Microsecond)
	if end.Before(t) {
		end = end.Add(time.Microsecond)
	}
	if prec > 0 {
		end = t.Add(prec - time.Microsecond)
	}
	if now = now.Truncate(time.Microsecond); end.After(now) {
		end = now
		if t.After(now) {
			end = t
		}
	}
	return end
}

// existingRevocations returns the ids of the revocations on file that match rows.
func existingRevocations(ctx context.Context, tx pgx.Tx, rows []revocationRow) (map[revocationKey]int64, error) {
	phones := make([]string, 0, len(rows))
	seen := map[phone.Number]bool{}
	for _, r := range rows {
		if !seen[r.phone] {
			seen[r.phone] = true
			phones = append(phones, r.phone.String())
		}
	}
	q, err := tx.Query(ctx, `SELECT id, phone, method, scope, revoked_at FROM revocations WHERE phone = ANY($1)`, phones)
	if err != nil {
		return nil, fmt.Errorf("revocations on file: %w", err)
	}
	out := map[revocationKey]int64{}
	var (
		id       int64
		p, m, sc string
		revoked  time.Time
	)
	_, err = pgx.ForEachRow(q, []any{&id, &p, &m, &sc, &revoked}, func() error {
		k := revocationKey{p, m, sc, revoked.UnixMicro()}
		if _, ok := out[k]; !ok {
			out[k] = id
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("revocations on file: %w", err)
	}
	return out, nil
}
