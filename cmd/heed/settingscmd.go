package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/account"
)

// errNotAdmin reports a settings change by a user who is not an admin.
var errNotAdmin = errors.New("only an enabled admin may change the firm settings")

// settingsShow prints the firm policy in force: with --json exactly the
// policy JSON that `heed settings set --file` reads.
func (m *Main) settingsShow(ctx context.Context, args []string) error {
	f := m.flags("settings show")
	dbURL := f.databaseURL()
	asJSON := f.Bool("json", false, "print the policy as JSON (the form `heed settings set --file` reads)")
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: %w", f.Args(), errUsage)
	}
	pool, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := consent.NewSettingsStore(pool)
	p, version, err := store.Current(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			return fmt.Errorf("settings show: %w", err)
		}
		_, err = fmt.Fprintf(m.Stdout, "%s\n", b)
		return err
	}
	hist, err := store.History(ctx)
	if err != nil {
		return err
	}
	w := m.Stdout
	if version == 0 {
		fmt.Fprintln(w, "version:   0 (none saved: heed's defaults)")
	} else {
		h := hist[0]
		fmt.Fprintf(w, "version:   %d (%s), saved by %s at %s: %s\n", version, p.Version, h.SavedByEmail,
			h.SavedAt.Local().Format(time.DateTime), orDash(nonEmpty(h.Note)))
	}
	fl := consent.Floors(store.Packs)
	for _, pu := range consent.Purposes() {
		fw := fl.Windows[pu]
		cur := fw.Window
		if win, ok := p.Windows[pu]; ok {
			cur = win
		}
		fmt.Fprintf(w, "window %-16s %s; floor %s (%s)\n", string(pu)+":", cur, fw.Window, strings.Join(fw.Rules, "/"))
	}
	for _, fc := range fl.Caps {
		cur := fc.Cap
		if c, ok := p.Caps[fc.Rule]; ok {
			cur = c
		}
		fmt.Fprintf(w, "cap %-4s %d per %s; floor %d per %s\n", fc.Rule+":", cur.Max, consent.FormatDuration(cur.Period),
			fc.Cap.Max, consent.FormatDuration(fc.Cap.Period))
	}
	fmt.Fprintf(w, "no_sunday: %t\nholidays:  %s\nresidential_needs_pec: %t\n", p.NoSunday, orDash(p.Holidays), p.ResidentialNeedsPEC)
	fmt.Fprintf(w, "national_max_age: %s; floor %s (F8)\n", durOr(p.NationalMaxAge, fl.NationalMaxAge), consent.FormatDuration(fl.NationalMaxAge))
	abandon := p.AbandonTarget
	if abandon == 0 {
		abandon = fl.AbandonTarget
	}
	fmt.Fprintf(w, "abandon_target: %g%%; at most %g%% (H2), law %g%% (F10)\n", abandon*100, fl.AbandonTarget*100, fl.AbandonFloor*100)
	fmt.Fprintf(w, "min_ring: %s; at least %s (H3), law %s (F10)\n", durOr(p.MinRing, fl.MinRing), fl.MinRing, fl.MinRingFloor)
	scope := p.RevocationScope.String()
	if scope == "" {
		scope = "all"
	}
	fmt.Fprintf(w, "revocation_scope: %s\ncheck_reassigned: %t\n", scope, p.CheckReassigned)
	fmt.Fprintf(w, "history:   %d version(s)\n", len(hist))
	return nil
}

// settingsSet saves a policy file as the next version of the firm
// settings, on behalf of an admin. A loosening is refused with the rule it
// would loosen; nothing is saved.
func (m *Main) settingsSet(ctx context.Context, args []string) error {
	f := m.flags("settings set")
	dbURL := f.databaseURL()
	file := f.String("file", "", "the policy JSON, as `heed settings show --json` prints it (required)")
	by := f.String("by", "", "email of the admin making the change (required)")
	note := f.String("note", "", "why the settings change")
	if err := f.parse(args); err != nil {
		return err
	}
	if *file == "" || *by == "" || f.NArg() > 0 {
		return fmt.Errorf("--file and --by are required: %w", errUsage)
	}
	raw, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("settings set: %w", err)
	}
	var p consent.FirmPolicy
	if err := json.Unmarshal(bytes.TrimSpace(raw), &p); err != nil {
		return fmt.Errorf("settings set: %s: %w", *file, err)
	}
	pool, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	var (
		id       int64
		role     string
		disabled bool
	)
	err = pool.QueryRow(ctx, `SELECT id, role, disabled FROM users WHERE lower(email) = lower($1)`, *by).Scan(&id, &role, &disabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("settings set: user %s: %w", *by, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("settings set: user %s: %w", *by, err)
	}
	if account.Role(role) != account.RoleAdmin || disabled {
		return fmt.Errorf("settings set: %s is %s: %w", *by, role, errNotAdmin)
	}
	v, err := consent.NewSettingsStore(pool).Save(ctx, p, id, *note)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "saved firm settings version %d (%s)\n", v, consent.SettingsVersionName(v))
	return nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func durOr(d, def time.Duration) string {
	if d == 0 {
		return consent.FormatDuration(def) + " (default)"
	}
	return consent.FormatDuration(d)
}
