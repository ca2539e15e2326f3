package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/account"
)

// consentImport imports a consent or revocation list, all or nothing.
func (m *Main) consentImport(ctx context.Context, args []string) error {
	f := m.flags("consent import")
	dbURL := f.databaseURL()
	revocations := f.Bool("revocations", false, "the file lists revocations: phone,revoked_at,method[,source]")
	dryRun := f.Bool("dry-run", false, "validate and report, write nothing")
	mapping := f.String("map", "", "rename the file's columns: \"Phone Number=phone,Type=kind\"")
	asJSON := f.Bool("json", false, "print the report as JSON")
	by := f.String("by", "", "email of the admin importing the list, kept as the records' captured_by (or recorded_by)")
	documents := f.String("documents", "", "the folder holding the files a consents file's document column names (signed letters: PDF, images or text)")
	tz := f.timeZone("the file's times without an offset are in (YYYY-MM-DD or YYYY-MM-DD HH:MM; a date-only revoked_at is the end of that day there)")
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		return fmt.Errorf("usage: heed consent import [--revocations] [--dry-run] [--map A=b,...] [--by EMAIL] [--documents DIR] [--time-zone Z] FILE.csv|FILE.xlsx: %w", errUsage)
	}
	zone, err := loadZone(*tz)
	if err != nil {
		return err
	}
	if *documents != "" && *revocations {
		return fmt.Errorf("--documents: revocations have no documents: %w", errUsage)
	}
	name := f.Arg(0)
	format, err := consent.FormatOf(name)
	if err != nil {
		return fmt.Errorf("%v: %w", err, errUsage)
	}
	cols, err := consent.ParseColumnMap(*mapping)
	if err != nil {
		return fmt.Errorf("--map: %v: %w", err, errUsage)
	}
	file, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("consent file: %w", err)
	}
	defer file.Close()
	pool, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	ledger := consent.NewLedger(pool)
	opts := consent.ImportOptions{DryRun: *dryRun, Columns: cols, Location: zone}
	if *documents != "" {
		// The folder as a root: no path, symbolic links included, leads
		// out of it.
		root, err := os.OpenRoot(*documents)
		if err != nil {
			return fmt.Errorf("--documents: %w: %w", err, errUsage)
		}
		defer root.Close()
		opts.Documents = root.FS()
	}
	if *by != "" {
		u, err := enabledAdmin(ctx, pool, *by, "consent and revocation lists are imported")
		if err != nil {
			return err
		}
		opts.UserID = u.ID
	}
	var rep consent.ImportReport
	if *revocations {
		rep, err = ledger.ImportRevocations(ctx, file, format, opts)
	} else {
		rep, err = ledger.ImportConsents(ctx, file, format, opts)
	}
	if *asJSON {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	}
	var ie *consent.ImportError
	if !*asJSON {
		// Said of a rejected import too (its report is rep): the rows
		// would be read the same way once the others are fixed.
		for _, r := range rep.ReadAsNANP {
			fmt.Fprintf(m.Stderr, "%s:%d: note: %s\n", name, r.Line, r.Reason)
		}
	}
	if errors.As(err, &ie) {
		for _, r := range ie.Report.Rejected {
			fmt.Fprintf(m.Stderr, "%s:%d: %s\n", name, r.Line, r.Reason)
		}
		return fmt.Errorf("%s: %d row(s) rejected; nothing was imported", name, len(ie.Report.Rejected))
	}
	if err != nil {
		return err
	}
	if !*asJSON {
		verb := "imported"
		n := rep.Imported
		if *dryRun {
			verb, n = "would import", rep.New
		}
		fmt.Fprintf(m.Stdout, "%s %d %s (%d rows read, %d already on file)\n", verb, n, rep.Kind, rep.Rows, len(rep.Skipped))
		if rep.Documents > 0 {
			fmt.Fprintf(m.Stdout, "with %d documents, each kept once under its SHA-256\n", rep.Documents)
		}
		for _, r := range rep.Unevidenced {
			fmt.Fprintf(m.Stderr, "%s:%d: warning: %s\n", name, r.Line, r.Reason)
		}
		if n := len(rep.Unevidenced); n > 0 {
			fmt.Fprintf(m.Stdout, "%d written consents (pewc) without their evidence: heed relies on them, but holds nothing that shows the signed agreement\n", n)
		}
		if *revocations {
			verb = "put"
			if *dryRun {
				verb = "would put"
			}
			fmt.Fprintf(m.Stdout, "%s %d numbers on the internal do-not-call list (revoked for every purpose, none in force)\n", verb, rep.Listed)
		}
	}
	return nil
}

// consentAdd records one consent, with its signed document when one is
// given, as the consents page's form does.
func (m *Main) consentAdd(ctx context.Context, args []string) error {
	f := m.flags("consent add")
	dbURL := f.databaseURL()
	number := f.String("number", "", "the phone number the consent is for")
	kind := f.String("kind", "", "pec or pewc")
	scope := f.String("scope", "", "the purpose it covers: informational, telemarketing, debt_collection or solicitation")
	channel := f.String("channel", "voice", "voice or text")
	obtained := f.String("obtained-at", "", "when it was given, RFC 3339 (2026-01-05T14:30:00-05:00)")
	expires := f.String("expires-at", "", "when it expires, RFC 3339 (optional)")
	source := f.String("source", "", "where it comes from: engagement letter, intake form, recorded call")
	evidence := f.String("evidence", "", "its text or a transcript")
	document := f.String("document", "", "a file holding the signed consent (PDF, PNG, JPEG, GIF, WebP or UTF-8 text)")
	by := f.String("by", "", "email of the admin recording it, kept as its captured_by")
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() != 0 || *number == "" || *kind == "" || *scope == "" || *obtained == "" || *source == "" || *by == "" {
		return fmt.Errorf("usage: heed consent add --number N --kind pec|pewc --scope P [--channel voice|text] --obtained-at RFC3339 [--expires-at RFC3339] --source S [--evidence T] [--document FILE] --by EMAIL: %w", errUsage)
	}
	in := consent.NewConsent{Phone: *number, Scope: consent.Purpose(*scope), Channel: consent.Channel(*channel), Source: *source, Evidence: *evidence}
	var err error
	if in.Kind, err = consent.ParseConsentKind(*kind); err != nil {
		return fmt.Errorf("--kind %q: want pec or pewc: %w", *kind, errUsage)
	}
	if in.ObtainedAt, err = time.Parse(time.RFC3339, *obtained); err != nil {
		return fmt.Errorf("--obtained-at: %v: %w", err, errUsage)
	}
	if *expires != "" {
		if in.ExpiresAt, err = time.Parse(time.RFC3339, *expires); err != nil {
			return fmt.Errorf("--expires-at: %v: %w", err, errUsage)
		}
	}
	if *document != "" {
		file, err := os.Open(*document)
		if err != nil {
			return fmt.Errorf("--document: %w", err)
		}
		d, err := consent.ReadDocument(*document, file)
		file.Close()
		if errors.Is(err, consent.ErrInvalidRecord) {
			return fmt.Errorf("--document: %w: %w", err, errUsage)
		}
		if err != nil {
			return fmt.Errorf("--document: %w", err)
		}
		in.Document = &d
	}
	pool, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	u, err := enabledAdmin(ctx, pool, *by, "consents are recorded")
	if err != nil {
		return err
	}
	in.CapturedBy = u.ID
	c, err := consent.NewLedger(pool).AddConsent(ctx, in)
	if fe := (consent.FieldErrors{}); errors.As(err, &fe) {
		return fmt.Errorf("%w: %w", err, errUsage) // the command line was wrong
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "recorded consent %d for %s: %s for %s by %s, obtained %s\n", c.ID, c.Phone, c.Kind, c.Scope, c.Channel, c.ObtainedAt.UTC().Format(time.RFC3339))
	if c.Document != "" {
		fmt.Fprintf(m.Stdout, "document %s, SHA-256 %s\n", c.DocumentName, c.Document)
	}
	return nil
}

// enabledAdmin returns the user with the email a --by flag names, who must
// be an enabled admin: what is done (for the error) only admins do.
func enabledAdmin(ctx context.Context, pool *pgxpool.Pool, email, done string) (account.User, error) {
	u, err := userByEmail(ctx, pool, email)
	if err != nil {
		return account.User{}, err
	}
	if u.Role != account.RoleAdmin || u.Disabled {
		return account.User{}, fmt.Errorf("--by %s: %s by an enabled admin: %w", email, done, errUsage)
	}
	return u, nil
}

// reassignedImport imports answers of the FCC's Reassigned Numbers
// Database (rule F15), all or nothing.
func (m *Main) reassignedImport(ctx context.Context, args []string) error {
	f := m.flags("consent reassigned")
	dbURL := f.databaseURL()
	source := f.String("source", "", "where the answers came from (default: the file's name)")
	dryRun := f.Bool("dry-run", false, "validate and report, write nothing")
	mapping := f.String("map", "", "rename the file's columns: \"Telephone Number=phone,Date=date\"")
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		return fmt.Errorf("usage: heed consent reassigned [--source S] [--dry-run] [--map A=b,...] FILE.csv|FILE.xlsx: %w", errUsage)
	}
	name := f.Arg(0)
	format, err := consent.FormatOf(name)
	if err != nil {
		return fmt.Errorf("%v: %w", err, errUsage)
	}
	cols, err := consent.ParseColumnMap(*mapping)
	if err != nil {
		return fmt.Errorf("--map: %v: %w", err, errUsage)
	}
	file, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("reassigned numbers file: %w", err)
	}
	defer file.Close()
	if *source == "" {
		*source = name
	}
	pool, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	rep, err := consent.NewReassignedStore(pool).ImportReassigned(ctx, file, format, consent.ImportOptions{DryRun: *dryRun, Columns: cols}, *source, time.Now())
	var ie *consent.ImportError
	if errors.As(err, &ie) {
		for _, r := range ie.Report.Rejected {
			fmt.Fprintf(m.Stderr, "%s:%d: %s\n", name, r.Line, r.Reason)
		}
		return fmt.Errorf("%s: %d row(s) rejected; nothing was imported", name, len(ie.Report.Rejected))
	}
	if err != nil {
		return err
	}
	if *dryRun {
		fmt.Fprintf(m.Stdout, "would import %d Reassigned Numbers Database answers\n", rep.New)
		return nil
	}
	fmt.Fprintf(m.Stdout, "imported %d Reassigned Numbers Database answers\n", rep.Imported)
	return nil
}
