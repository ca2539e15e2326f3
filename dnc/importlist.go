package dnc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNothingRead reports an import of a whole list that held no numbers.
var ErrNothingRead = errors.New("no numbers read; nothing was imported")

// ListImport is one import into a list, from the CLI or the admin pages.
type ListImport struct {
	// List is the list imported into.
	List ListID
	// AsOf is the date registry data is current as of; required for every
	// list but the internal one.
	AsOf time.Time
	// Changes says the inputs are change lists, not whole lists.
	Changes bool
	// Options tune parsing (garbage tolerance, phone column, progress).
	Options ImportOptions
	// UserID is who imports, or 0 for the CLI.
	UserID int64
}

// ListImportResult says what an import did.
type ListImportResult struct {
	// Report counts what was read.
	Report ImportReport
	// Version and Count describe the registry list installed (zero for the
	// internal list).
	Version uint64
	Count   int
	// Added and Removed count the numbers that joined and left the list.
	Added, Removed int
	// BitsPerNumber is the installed registry list's memory per number.
	BitsPerNumber float64
}

// ImportList reads inputs and applies them to a list, all or nothing:
// registry lists (national, state, litigator) become a new snapshot
// version, the internal list gets database entries. A garbage line (past
// the tolerance) or any other error imports nothing.
func ImportList(ctx context.Context, reg *Registry, internal *PGStore, li ListImport, inputs ...Input) (ListImportResult, error) {
	var out ListImportResult
	if li.List != Internal && li.AsOf.IsZero() {
		return out, ErrNoAsOf
	}
	for i := range inputs {
		if li.Changes {
			inputs[i].Mode = ModeChanges
		} else {
			inputs[i].Mode = ModeFull
		}
	}
	opts := li.Options
	opts.OptOuts = li.List == Internal
	res, err := Import(ctx, opts, inputs...)
	if err != nil {
		return out, err
	}
	out.Report = res.Report
	names := make([]string, len(inputs))
	for i, in := range inputs {
		names[i] = in.Name
	}
	source := strings.Join(names, ",")
	if li.List == Internal {
		adds, dels := res.Adds, res.Dels
		if res.Full != nil {
			for n := range res.Full.All() {
				adds = append(adds, n)
			}
		}
		out.Added, out.Removed, err = internal.ImportInternal(ctx, adds, dels, li.UserID, source)
		return out, err
	}
	if !li.Changes && res.Full == nil {
		return out, ErrNothingRead
	}
	_, current, _, err := reg.Current(ctx, li.List)
	if err != nil {
		return out, err
	}
	set, st, err := res.Resolve(current)
	if err != nil {
		return out, err
	}
	in, err := reg.Install(ctx, li.List, li.AsOf, source, set, li.UserID)
	if err != nil {
		return out, err
	}
	out.Version, out.Count, out.Added, out.Removed, out.BitsPerNumber = in.Version, in.Count, st.Added, st.Removed, set.BitsPerNumber()
	return out, nil
}

// Summary is a one-line account of the import for people.
func (r ListImportResult) Summary(l ListID) string {
	if l == Internal {
		return fmt.Sprintf("internal list: %d added, %d removed (%d lines read, %d blank, %d headers, %d rejected)",
			r.Added, r.Removed, r.Report.Lines, r.Report.Blank, r.Report.Headers, r.Report.Rejected)
	}
	return fmt.Sprintf("%s version %d: %d numbers (%d lines read, %d rejected; %d added, %d removed); %.2f bits per number",
		l, r.Version, r.Count, r.Report.Lines, r.Report.Rejected, r.Added, r.Removed, r.BitsPerNumber)
}
