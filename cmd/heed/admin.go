package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/internal/account"
	"github.com/heed-dialer/heed/internal/audit"
	"github.com/heed-dialer/heed/internal/sheet"
	"github.com/heed-dialer/heed/migrations"
)

// defaultMaxConns is the database pool size of a heed process when
// DATABASE_URL names none (pool_max_conns): pgx's default, the larger of 4
// and the CPU count, is too small for listeners plus a pacing loop per
// campaign, and recording attempts then queue for a connection.
const defaultMaxConns = 20

// leaseApplication is the application_name of the connections that hold
// running campaigns' leases (pg_stat_activity shows it).
const leaseApplication = "heed lease"

// poolConfig parses a database URL, with heed's pool size unless the URL
// sets one.
func poolConfig(url string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	// The audit log's trigger writes only at READ COMMITTED (a stricter
	// level could fork its chain): heed's transactions run at it whatever
	// the database's default, and the few read-only ones that need a
	// snapshot ask for REPEATABLE READ themselves.
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "read committed"
	return cfg, nil
}

// newPool makes a pool on url, configured as poolConfig says.
func newPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := poolConfig(url)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	return pool, nil
}

// open connects to the database and checks that its schema is current.
func open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	if url == "" {
		return nil, fmt.Errorf("no database: set DATABASE_URL or --database-url: %w", errUsage)
	}
	pool, err := newPool(ctx, url)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database: %w", err)
	}
	if err := migrations.Check(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

func (m *Main) migrate(ctx context.Context, args []string) error {
	f := m.flags("migrate")
	dbURL := f.databaseURL()
	if err := f.parse(args); err != nil {
		return err
	}
	if *dbURL == "" {
		return fmt.Errorf("no database: set DATABASE_URL or --database-url: %w", errUsage)
	}
	pool, err := newPool(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	res, err := migrations.Up(ctx, pool)
	if err != nil {
		return err
	}
	if len(res.Applied)+len(res.RiverApplied) == 0 {
		fmt.Fprintln(m.Stdout, "database is up to date")
		return nil
	}
	fmt.Fprintf(m.Stdout, "applied %d heed and %d River migrations\n", len(res.Applied), len(res.RiverApplied))
	return nil
}

func (m *Main) userAdd(ctx context.Context, args []string) error {
	f := m.flags("user add")
	dbURL := f.databaseURL()
	email := f.String("email", "", "the user's email (required)")
	role := f.String("role", "", "admin, attorney or paralegal (required)")
	password := f.str("password", "HEED_USER_PASSWORD", "", "password; empty generates one and prints it")
	if err := f.parse(args); err != nil {
		return err
	}
	r, err := account.ParseRole(*role)
	if err != nil || *email == "" {
		return fmt.Errorf("--email and --role admin|attorney|paralegal are required: %w", errUsage)
	}
	pool, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	pw := *password
	if pw == "" {
		pw = account.RandomPassword()
	}
	u, err := account.NewService(pool).Create(ctx, *email, r, pw)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "created %s (%s)\n", u.Email, u.Role)
	if *password == "" {
		fmt.Fprintf(m.Stdout, "password: %s\n", pw)
	}
	return nil
}

func (m *Main) tokenAdd(ctx context.Context, args []string) error {
	var name *string
	return m.userCommand(ctx, "token add", args, func(f *flags) {
		name = f.String("name", "cli", "what the token is for")
	}, func(_ *pgxpool.Pool, svc *account.Service, u account.User) error {
		tok, err := svc.CreateToken(ctx, u.ID, *name)
		if err != nil {
			return err
		}
		fmt.Fprintln(m.Stdout, tok)
		return nil
	})
}

func (m *Main) importContacts(ctx context.Context, args []string) error {
	f := m.flags("import contacts")
	dbURL := f.databaseURL()
	list := f.String("list", "", "the contact list to import into (created if new; required)")
	dryRun := f.Bool("dry-run", false, "validate against the list and report, write nothing")
	skip := f.Bool("skip-existing", false, "skip contacts whose number is already on the list, rather than refuse the file")
	update := f.Bool("update-existing", false, "update the contacts whose number is already on the list from the file's columns, rather than refuse the file")
	mapping := f.String("map", "", "rename the file's columns: \"Client Name=name,Cell Phone=phone\"")
	formatName := f.String("format", "", "csv or xlsx (default: from the file's name; csv for a name without an extension, such as /dev/stdin)")
	asJSON := f.Bool("json", false, "print the import report as JSON")
	if err := f.parse(args); err != nil {
		return err
	}
	if *list == "" || f.NArg() != 1 {
		return fmt.Errorf("usage: heed import contacts --list NAME [--dry-run] [--skip-existing|--update-existing] [--map A=b,...] [--format csv|xlsx] FILE: %w", errUsage)
	}
	if *skip && *update {
		return fmt.Errorf("--skip-existing and --update-existing: give one or the other: %w", errUsage)
	}
	format, err := contactsFormat(*formatName, f.Arg(0))
	if err != nil {
		return fmt.Errorf("%v: %w", err, errUsage)
	}
	cols, err := sheet.ParseColumnMap(*mapping)
	if err != nil {
		return fmt.Errorf("--map: %v: %w", err, errUsage)
	}
	file, err := os.Open(f.Arg(0))
	if err != nil {
		return fmt.Errorf("contacts file: %w", err)
	}
	defer file.Close()
	pool, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		return fmt.Errorf("river: %w", err)
	}
	rep, err := campaign.NewService(pool, rc).ImportContacts(ctx, *list, file, campaign.ImportOptions{Format: format, Columns: cols, DryRun: *dryRun, SkipExisting: *skip, UpdateExisting: *update})
	if *asJSON {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	}
	var ie *campaign.ImportError
	if errors.As(err, &ie) {
		for _, r := range ie.Report.Rejected {
			fmt.Fprintf(m.Stderr, "%s:%d: %s\n", f.Arg(0), r.Line, r.Reason)
		}
		return fmt.Errorf("%s: %d row(s) rejected; nothing was imported", f.Arg(0), len(ie.Report.Rejected))
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return nil
	}
	if rep.DryRun {
		fmt.Fprintf(m.Stdout, "dry run, nothing written: %d rows read, importing would add %d contacts to list %q\n", rep.Rows, rep.NewContacts(), rep.List)
	} else {
		fmt.Fprintf(m.Stdout, "imported %d contacts into list %q\n", rep.Imported, rep.List)
	}
	if len(rep.Skipped) > 0 {
		fmt.Fprintf(m.Stdout, "skipped %d already on the list\n", len(rep.Skipped))
	}
	if *update {
		verb := "updated"
		if rep.DryRun {
			verb = "would update"
		}
		for _, r := range rep.Updated {
			fmt.Fprintf(m.Stdout, "%s:%d: %s\n", f.Arg(0), r.Line, r.Reason)
		}
		fmt.Fprintf(m.Stdout, "%s %d already on the list, %d unchanged\n", verb, len(rep.Updated), rep.Unchanged)
	}
	return nil
}

// contactsFormat is the format of a contacts file: the one named, else
// the one its name gives, CSV for a name without an extension.
func contactsFormat(named, file string) (sheet.Format, error) {
	switch {
	case named != "":
		return sheet.FormatOf(named)
	case filepath.Ext(file) == "":
		return sheet.CSV, nil
	}
	return sheet.FormatOf(file)
}

func (m *Main) auditVerify(ctx context.Context, args []string) error {
	f := m.flags("audit verify")
	dbURL := f.databaseURL()
	head := f.String("head", "", "a head an earlier verify printed, kept outside the database: fail unless the chain still holds that row")
	if err := f.parse(args); err != nil {
		return err
	}
	pool, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	rep, err := audit.Verify(ctx, pool)
	if err != nil {
		return err
	}
	if *head != "" {
		pos, err := rep.Holds(*head)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "the chain still holds head %s (entry %d of %d)\n", strings.TrimSpace(*head), pos, rep.Rows)
	}
	if rep.Rows == 0 {
		fmt.Fprintln(m.Stdout, "audit log is empty")
		return nil
	}
	fmt.Fprintf(m.Stdout, "audit log intact: %d entries from %s to %s\nhead %s\n", rep.Rows,
		rep.First.UTC().Format(time.RFC3339), rep.Last.UTC().Format(time.RFC3339), rep.Head)
	return nil
}
