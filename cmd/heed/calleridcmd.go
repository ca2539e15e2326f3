package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/internal/phone"
)

// errNoSuchCallerID reports a retirement of a number that is not a current
// caller ID.
var errNoSuchCallerID = errors.New("no such current caller ID")

// calleridAdd declares a number one of the firm's caller IDs, as the admin
// --by names, who affirms the attestation with --attest.
func (m *Main) calleridAdd(ctx context.Context, args []string) error {
	f := m.flags("callerid add")
	dbURL := f.databaseURL()
	number := f.String("number", "", "the firm's number (required)")
	label := f.String("label", "", "which line it is, such as \"Main office\" (required)")
	attest := f.Bool("attest", false, "affirm: "+campaign.CallerIDAttestation+" (required)")
	by := f.String("by", "", "the email of the admin declaring it (required)")
	if err := f.parse(args); err != nil {
		return err
	}
	if strings.TrimSpace(*by) == "" || f.NArg() > 0 {
		return fmt.Errorf("heed callerid add --number N --label L --attest --by EMAIL: %w", errUsage)
	}
	pool, u, err := openBy(ctx, *dbURL, *by)
	if err != nil {
		return err
	}
	defer pool.Close()
	k, err := campaign.NewService(pool, nil).AddCallerID(ctx, campaign.NewCallerID{Number: *number, Label: *label, Attest: *attest}, u.ID)
	var fe campaign.FieldErrors
	if errors.As(err, &fe) {
		for _, field := range []string{"number", "label", "attest"} {
			if msg, ok := fe[field]; ok {
				fmt.Fprintf(m.Stderr, "--%s: %s\n", field, msg)
			}
		}
		return fmt.Errorf("nothing was declared: %d flag(s) refused, as printed above: %w", len(fe), campaign.ErrInvalid)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "declared caller ID %d: %s (%s), by %s at %s\n", k.ID, k.Phone, k.Label, k.AddedByEmail, k.AddedAt.UTC().Format(time.RFC3339))
	return nil
}

// calleridList prints the firm's caller IDs: the current ones, then the
// retired ones.
func (m *Main) calleridList(ctx context.Context, args []string) error {
	f := m.flags("callerid list")
	dbURL := f.databaseURL()
	asJSON := f.Bool("json", false, "print the caller IDs as JSON, as GET /api/v1/callerids does")
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
	list, err := campaign.NewService(pool, nil).CallerIDs(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if list == nil {
			list = []campaign.CallerID{}
		}
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"caller_ids": list, "attestation": campaign.CallerIDAttestation})
	}
	if len(list) == 0 {
		fmt.Fprintln(m.Stdout, "no caller IDs declared: no campaign can be created until an admin declares one (heed callerid add)")
		return nil
	}
	w := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNUMBER\tLABEL\tSTATUS\tDECLARED\tBY\tCAMPAIGNS")
	for _, k := range list {
		status := "current"
		if !k.Current() {
			status = fmt.Sprintf("retired %s by %s", k.RetiredAt.UTC().Format(time.RFC3339), k.RetiredByEmail)
		}
		names := make([]string, len(k.Campaigns))
		for i, c := range k.Campaigns {
			names[i] = fmt.Sprintf("%s (%s)", c.Name, c.Status)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Phone, oneLine(k.Label), status, k.AddedAt.UTC().Format(time.RFC3339),
			k.AddedByEmail, orDash(names))
	}
	return w.Flush()
}

// calleridRetire retires a caller ID, named by its number or its id, as
// the admin --by names: the running campaigns that send it are paused.
func (m *Main) calleridRetire(ctx context.Context, args []string) error {
	f := m.flags("callerid retire")
	dbURL := f.databaseURL()
	number := f.String("number", "", "the current caller ID's number (or --id)")
	id := f.Int64("id", 0, "the caller ID's id, as heed callerid list shows it (or --number)")
	by := f.String("by", "", "the email of the admin retiring it (required)")
	if err := f.parse(args); err != nil {
		return err
	}
	if strings.TrimSpace(*by) == "" || (*number == "") == (*id == 0) || f.NArg() > 0 {
		return fmt.Errorf("heed callerid retire --number N|--id N --by EMAIL: %w", errUsage)
	}
	var n phone.Number
	if *number != "" {
		var err error
		if n, err = phone.Parse(*number); err != nil {
			return fmt.Errorf("--number: %w: %w", err, errUsage)
		}
	}
	pool, u, err := openBy(ctx, *dbURL, *by)
	if err != nil {
		return err
	}
	defer pool.Close()
	s := campaign.NewService(pool, nil)
	if n != "" {
		list, err := s.CurrentCallerIDs(ctx)
		if err != nil {
			return err
		}
		for _, k := range list {
			if k.Phone == n {
				*id = k.ID
			}
		}
		if *id == 0 {
			return fmt.Errorf("--number %s: not one of the firm's current caller IDs (heed callerid list): %w", n, errNoSuchCallerID)
		}
	}
	r, err := s.RetireCallerID(ctx, *id, u.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "retired caller ID %d: %s (%s), by %s at %s\n", r.CallerID.ID, r.CallerID.Phone, r.CallerID.Label, r.CallerID.RetiredByEmail,
		r.CallerID.RetiredAt.UTC().Format(time.RFC3339))
	for _, c := range r.Paused {
		fmt.Fprintf(m.Stdout, "paused campaign %d %q, which sent it\n", c.ID, c.Name)
	}
	for _, c := range r.Held {
		fmt.Fprintf(m.Stdout, "campaign %d %q (%s) names it and cannot start with it\n", c.ID, c.Name, c.Status)
	}
	return nil
}
