package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

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
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		return fmt.Errorf("usage: heed consent import [--revocations] [--dry-run] [--map A=b,...] [--by EMAIL] FILE.csv|FILE.xlsx: %w", errUsage)
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
	opts := consent.ImportOptions{DryRun: *dryRun, Columns: cols}
	if *by != "" {
		u, err := userByEmail(ctx, pool, *by)
		if err != nil {
			return err
		}
		if u.Role != account.RoleAdmin || u.Disabled {
			return fmt.Errorf("--by %s: consent and revocation lists are imported by an enabled admin: %w", *by, errUsage)
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
