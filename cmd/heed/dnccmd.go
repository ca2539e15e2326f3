package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/phone"
)

func (f *flags) dncDir() *string {
	return f.str("dnc-dir", "HEED_DNC_DIR", "/var/lib/heed/dnc", "directory of the registry lists' snapshot files")
}

func (m *Main) dncAdd(ctx context.Context, args []string) error {
	f := m.flags("dnc add")
	dbURL := f.databaseURL()
	source := f.String("source", "cli", "where and when the person asked not to be called")
	methodName := f.String("method", "staff", "how the person asked: staff (told the firm's staff), keyword (a STOP-type word), email or letter")
	if err := f.parse(args); err != nil {
		return err
	}
	method, err := consent.ParseEnteredMethod(*methodName)
	if err != nil {
		return fmt.Errorf("--method: %v: %w", err, errUsage)
	}
	if f.NArg() != 1 {
		return fmt.Errorf("usage: heed dnc add NUMBER: %w", errUsage)
	}
	// A number typed with a "+" but without the 1 ("+203 555 0199") is
	// the North American number the person meant (phone.ParseMeant).
	n, err := phone.ParseMeant(f.Arg(0))
	if err != nil {
		return fmt.Errorf("dnc add: %w", err)
	}
	pool, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if phone.MissingOne(f.Arg(0)) {
		fmt.Fprintf(m.Stderr, "note: %q has a + but not the country code 1: read as the North American number %s\n", f.Arg(0), n.Display())
	}
	// Taken as every opt-out is (campaign.RecordOptOut): at once, even
	// during an import, then recorded as a revocation of every consent and
	// the internal entry.
	taken, err := campaign.RecordOptOut(ctx, pool, campaign.OptOut{Phone: n, Method: string(method), Source: *source})
	switch {
	case err != nil:
		return err
	case !taken.Recorded:
		fmt.Fprintf(m.Stdout, "%s will not be called again: the opt-out is taken (request %d); its revocation and do-not-call entry wait for the database (%v), and heed serve writes them as soon as it can\n",
			n, taken.ID, taken.Wait)
	case taken.Listed:
		fmt.Fprintf(m.Stdout, "%s was already on the internal do-not-call list; the request is recorded as a revocation of any consent\n", n)
	default:
		fmt.Fprintf(m.Stdout, "%s is on the internal do-not-call list\n", n)
	}
	return nil
}

// dncImport imports registry downloads, state lists or the internal list.
// Registry lists become a new snapshot version; the internal list goes to
// the database. Either the whole import applies or nothing does.
func (m *Main) dncImport(ctx context.Context, args []string) error {
	f := m.flags("dnc import")
	dbURL := f.databaseURL()
	dir := f.dncDir()
	listName := f.String("list", "", "national, state:XX, internal or litigator (required)")
	asOf := f.String("as-of", "", "the date the registry data is current as of, YYYY-MM-DD (required for registry lists)")
	changes := f.Bool("changes", false, "the files are change lists (additions and deletions), not whole lists")
	maxGarbage := f.Int("max-rejected", 0, "garbage lines tolerated before the import is refused")
	column := f.String("phone-column", "", "the column holding numbers in CSV files (name or 1-based position)")
	quiet := f.Bool("quiet", false, "no progress bar")
	if err := f.parse(args); err != nil {
		return err
	}
	list, err := dnc.ParseList(*listName)
	if err != nil || f.NArg() == 0 {
		return fmt.Errorf("usage: heed dnc import --list national|state:XX|internal|litigator [--as-of YYYY-MM-DD] [--changes] FILE...: %w", errUsage)
	}
	var when time.Time
	if *asOf != "" {
		if when, err = time.Parse(time.DateOnly, *asOf); err != nil {
			return fmt.Errorf("--as-of %q: want YYYY-MM-DD: %w", *asOf, errUsage)
		}
	}
	if list != dnc.Internal && when.IsZero() {
		return fmt.Errorf("%w: %w", dnc.ErrNoAsOf, errUsage)
	}
	pool, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()

	var total int64
	inputs := make([]dnc.Input, 0, f.NArg())
	for _, name := range f.Args() {
		file, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("dnc import: %w", err)
		}
		defer file.Close()
		st, err := file.Stat()
		if err != nil {
			return fmt.Errorf("dnc import: %w", err)
		}
		total += st.Size()
		inputs = append(inputs, dnc.Input{Name: filepath.Base(name), R: file})
	}
	opts := dnc.ImportOptions{MaxRejected: *maxGarbage, PhoneColumn: *column}
	var bar *progressbar.ProgressBar
	if !*quiet {
		bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(m.Stderr), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("reading "+list.String()), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish())
		opts.Progress = func(n int64) { _ = bar.Set64(n) }
	}
	started := time.Now()
	res, err := dnc.ImportList(ctx, dnc.NewRegistry(pool, *dir), dnc.NewPGStore(pool),
		dnc.ListImport{List: list, AsOf: when, Changes: *changes, Options: opts}, inputs...)
	if bar != nil {
		_ = bar.Finish()
	}
	var ge *dnc.GarbageError
	if errors.As(err, &ge) {
		for _, r := range ge.Report.Examples {
			fmt.Fprintln(m.Stderr, r.String())
		}
		return fmt.Errorf("%d garbage line(s) (at most %d allowed); nothing was imported", ge.Report.Rejected, max(ge.Max, 0))
	}
	if err != nil {
		return fmt.Errorf("dnc import: %w; nothing was imported", err)
	}
	if list == dnc.Internal {
		fmt.Fprintln(m.Stdout, res.Summary(list))
		return nil
	}
	fmt.Fprintf(m.Stdout, "%s; as of %s; %s\n", res.Summary(list), when.Format(time.DateOnly), time.Since(started).Round(time.Millisecond))
	return nil
}

// dncCheck says which lists hold a number, and since when.
func (m *Main) dncCheck(ctx context.Context, args []string) error {
	f := m.flags("dnc check")
	dbURL := f.databaseURL()
	dir := f.dncDir()
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		return fmt.Errorf("usage: heed dnc check NUMBER: %w", errUsage)
	}
	p, err := phone.Parse(f.Arg(0))
	if err != nil {
		return err
	}
	n, err := p.NANP()
	if err != nil {
		return err
	}
	pool, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	found := 0
	entries, err := dnc.NewPGStore(pool).InternalEntries(ctx, p)
	if err != nil {
		return err
	}
	for _, e := range entries {
		fmt.Fprintf(m.Stdout, "%s: internal since %s (%s, %s)\n", p, e.AddedAt.UTC().Format(time.RFC3339), e.Method, orNone(e.Source))
		found++
	}
	reg := dnc.NewRegistry(pool, *dir)
	installed, err := reg.Installed(ctx)
	if err != nil {
		return err
	}
	for _, in := range installed {
		_, set, err := reg.Load(in)
		if err != nil {
			return err
		}
		if set.Contains(n) {
			fmt.Fprintf(m.Stdout, "%s: %s (registry copy as of %s, version %d)\n", p, in.List, in.AsOf.Format(time.DateOnly), in.Version)
			found++
		}
	}
	if found == 0 {
		fmt.Fprintf(m.Stdout, "%s: on no do-not-call list\n", p)
	}
	return nil
}

// dncStats prints each list's size, date and memory.
func (m *Main) dncStats(ctx context.Context, args []string) error {
	f := m.flags("dnc stats")
	dbURL := f.databaseURL()
	dir := f.dncDir()
	if err := f.parse(args); err != nil {
		return err
	}
	pool, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	fmt.Fprintf(m.Stdout, "%-12s %12s %-12s %8s %10s %8s\n", "list", "numbers", "as of", "version", "memory", "bits/no")
	listed, _, err := dnc.NewPGStore(pool).InternalAll(ctx)
	if err != nil {
		return err
	}
	var b dnc.Builder
	for _, l := range listed {
		if err := b.Add(l.Number); err != nil {
			return err
		}
	}
	internal := b.Build()
	fmt.Fprintf(m.Stdout, "%-12s %12d %-12s %8s %10s %8.2f\n", "internal", internal.Len(), "live", "-", mib(internal.Bytes()), internal.BitsPerNumber())
	reg := dnc.NewRegistry(pool, *dir)
	installed, err := reg.Installed(ctx)
	if err != nil {
		return err
	}
	for _, in := range installed {
		_, set, err := reg.Load(in)
		if err != nil {
			return err
		}
		age := time.Since(in.AsOf).Hours() / 24
		fmt.Fprintf(m.Stdout, "%-12s %12d %-12s %8d %10s %8.2f   (%.0f days old)\n", in.List, set.Len(), in.AsOf.Format(time.DateOnly),
			in.Version, mib(set.Bytes()), set.BitsPerNumber(), age)
	}
	return nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func orNone(s string) string {
	if s == "" {
		return "no source given"
	}
	return s
}
