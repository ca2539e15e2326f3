package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/account"
	"github.com/heed-dialer/heed/internal/phone"
)

// errNoSuchUser reports a --by email that names no user.
var errNoSuchUser = errors.New("no such user")

// userByEmail finds a user by email, ignoring case.
func userByEmail(ctx context.Context, pool *pgxpool.Pool, email string) (account.User, error) {
	users, err := account.NewService(pool).List(ctx)
	if err != nil {
		return account.User{}, err
	}
	for _, u := range users {
		if strings.EqualFold(u.Email, strings.TrimSpace(email)) {
			return u, nil
		}
	}
	return account.User{}, fmt.Errorf("--by %s: %w", email, errNoSuchUser)
}

// openBy opens the database at dbURL and finds the user with the email a
// --by flag names (userByEmail): the pool, to be closed by the caller, and
// the user; the pool is closed again when the user cannot be found.
func openBy(ctx context.Context, dbURL, by string) (*pgxpool.Pool, account.User, error) {
	pool, err := open(ctx, dbURL)
	if err != nil {
		return nil, account.User{}, err
	}
	u, err := userByEmail(ctx, pool, by)
	if err != nil {
		pool.Close()
		return nil, account.User{}, err
	}
	return pool, u, nil
}

func kindNames() string {
	names := make([]string, len(consent.OverrideKinds))
	for i, k := range consent.OverrideKinds {
		names[i] = string(k)
	}
	return strings.Join(names, "|")
}

func relationshipNames() string {
	names := make([]string, len(consent.Relationships))
	for i, r := range consent.Relationships {
		names[i] = string(r)
	}
	return strings.Join(names, "|")
}

// overrideAdd logs an override (rule R1 or E1) as the attorney --by names.
func (m *Main) overrideAdd(ctx context.Context, args []string) error {
	f := m.flags("override add")
	dbURL := f.databaseURL()
	number := f.String("number", "", "the person's phone number (required)")
	kind := f.String("kind", "", kindNames()+" (required)")
	rel := f.String("relationship", "", "for solicitation_exception: "+relationshipNames())
	note := f.String("note", "", fmt.Sprintf("what the person said, or what the relationship is (required, at least %d characters)", consent.MinOverrideNote))
	evidence := f.String("evidence", "", "a transcript or other proof (optional)")
	expires := f.String("expires", "", "when the override ends, RFC3339 (optional; a Reg F direct consent ends after at most 7 days)")
	by := f.String("by", "", "the email of the attorney logging it (required)")
	if err := f.parse(args); err != nil {
		return err
	}
	var missing []string
	for _, r := range []struct{ name, v string }{{"--number", *number}, {"--kind", *kind}, {"--note", *note}, {"--by", *by}} {
		if strings.TrimSpace(r.v) == "" {
			missing = append(missing, r.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s required: heed override add --number N --kind %s [--relationship R] --note TEXT [--evidence TEXT] [--expires RFC3339] --by EMAIL: %w",
			strings.Join(missing, ", "), kindNames(), errUsage)
	}
	var until time.Time
	if *expires != "" {
		var err error
		if until, err = time.Parse(time.RFC3339, *expires); err != nil {
			return fmt.Errorf("--expires %q: want RFC3339, such as 2026-12-01T17:00:00-05:00: %w", *expires, errUsage)
		}
	}
	pool, u, err := openBy(ctx, *dbURL, *by)
	if err != nil {
		return err
	}
	defer pool.Close()
	o, err := consent.NewOverrideStore(pool).Log(ctx, consent.NewOverride{
		Phone: *number, Kind: consent.OverrideKind(*kind), Relationship: consent.Relationship(*rel), Note: *note,
		Evidence: *evidence, ExpiresAt: until, LoggedBy: u.ID, Via: consent.ViaCLI,
	})
	if err != nil {
		return err
	}
	what := string(o.Kind)
	if o.Relationship != "" {
		what += " (" + string(o.Relationship) + ")"
	}
	fmt.Fprintf(m.Stdout, "logged override %d: %s for %s by %s at %s, expires %s\n", o.ID, what, o.Phone, o.LoggedByEmail,
		o.LoggedAt.UTC().Format(time.RFC3339), orNever(o.ExpiresAt))
	return nil
}

// overrideWithdraw withdraws an override as the attorney --by names.
func (m *Main) overrideWithdraw(ctx context.Context, args []string) error {
	f := m.flags("override withdraw")
	dbURL := f.databaseURL()
	id := f.Int64("id", 0, "the override's number, as heed override list shows it (required)")
	reason := f.String("reason", "", "why it is withdrawn (required)")
	by := f.String("by", "", "the email of the attorney withdrawing it (required)")
	if err := f.parse(args); err != nil {
		return err
	}
	if *id <= 0 || strings.TrimSpace(*reason) == "" || strings.TrimSpace(*by) == "" {
		return fmt.Errorf("heed override withdraw --id N --reason TEXT --by EMAIL: %w", errUsage)
	}
	pool, u, err := openBy(ctx, *dbURL, *by)
	if err != nil {
		return err
	}
	defer pool.Close()
	o, err := consent.NewOverrideStore(pool).Withdraw(ctx, *id, u.ID, *reason, consent.ViaCLI)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "withdrew override %d for %s at %s\n", o.ID, o.Phone, o.Withdrawal.WithdrawnAt.UTC().Format(time.RFC3339))
	return nil
}

// overrideList prints the logged overrides, newest first.
func (m *Main) overrideList(ctx context.Context, args []string) error {
	f := m.flags("override list")
	dbURL := f.databaseURL()
	number := f.String("number", "", "only this number's overrides")
	if err := f.parse(args); err != nil {
		return err
	}
	var n phone.Number
	if *number != "" {
		var err error
		if n, err = phone.Parse(*number); err != nil {
			return fmt.Errorf("--number: %w: %w", err, errUsage)
		}
	}
	pool, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	list, err := consent.NewOverrideStore(pool).List(ctx, n)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(m.Stdout, "no overrides logged")
		return nil
	}
	now := time.Now()
	w := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tPHONE\tKIND\tSTATUS\tLOGGED AT\tBY\tEXPIRES\tNOTE")
	for _, o := range list {
		kind := string(o.Kind)
		if o.Relationship != "" {
			kind += " (" + string(o.Relationship) + ")"
		}
		status := o.Status(now)
		if o.Withdrawal != nil {
			status += fmt.Sprintf(" (%s by %s: %s)", o.Withdrawal.WithdrawnAt.UTC().Format(time.RFC3339), o.Withdrawal.WithdrawnByEmail, oneLine(o.Withdrawal.Reason))
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s (%s)\t%s\t%s\n", o.ID, o.Phone, kind, status, o.LoggedAt.UTC().Format(time.RFC3339),
			o.LoggedByEmail, o.Via, orNever(o.ExpiresAt), oneLine(o.Note))
	}
	return w.Flush()
}

func orNever(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// oneLine keeps a note on its table row.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
