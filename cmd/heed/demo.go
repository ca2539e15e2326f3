package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/internal/account"
)

// demoContact is one demo contact; its number selects a behaviour of the
// PSTN simulator in the Asterisk testbed (see asterisk/README.md).
type demoContact struct {
	Name      string
	Phone     string
	Behaviour string
	// Outcome is what heed must store for it; "blocked" means the gate stops it.
	Outcome string
	// DTMF is the key the simulated callee presses.
	DTMF string
	// OnDNC puts the number on the internal do-not-call list.
	OnDNC bool
}

// demoListName names the demo contact list.
const demoListName = "Demo: PSTN behaviours"

// demoContacts covers every PSTN simulator behaviour, plus one number on the
// internal do-not-call list, which must never be dialed.
var demoContacts = []demoContact{
	{"Avery Listen", "+18605550101", "answer and listen", "no_response", "", false},
	{"Blake Confirm", "+18605550102", "answer and press 1 (confirm)", "confirmed", "1", false},
	{"Casey Office", "+18605550103", "answer and press 2 (the office)", "transferred", "2", false},
	{"Devon Stop", "+18605550104", "answer and press 9 (opt out)", "opted_out", "9", false},
	{"Emery Busy", "+18605550105", "busy", "busy", "", false},
	{"Finley Away", "+18605550106", "no answer", "no_answer", "", false},
	{"Gray Unreachable", "+18605550107", "unreachable / congestion", "failed", "", false},
	{"Harper Machine", "+18605550108", "answering machine (voicemail left)", "machine", "", false},
	{"Indigo Hangup", "+18605550109", "answer, then hang up at once", "no_response", "", false},
	{"Jordan Optout", "+18605550110", "on the internal do-not-call list", "blocked", "", true},
	{"Kai Again", "+18605550111", "answer and press * (hear it again)", "no_response", "*", false},
}

// demoOffice is the demo office's number, where key 2 transfers the callee
// (the PSTN simulator's behaviour 12 answers it).
const demoOffice = "+18605550112"

// demoCallerID is the caller ID heed demo declares one of the firm's (rule
// F11), so that a first campaign has a number to send: a 555-01XX number,
// set aside for fiction, which the PSTN simulator takes as any other.
const demoCallerID = "+12035550188"

// demoCallerIDLabel labels it on the Caller IDs page and the campaign form.
const demoCallerIDLabel = "Demo main line (fictional)"

// demoCallerIDStatement is what the declaration of demoCallerID records
// as its attestation: heed demo declares it, under the first enabled
// admin's name, and no one affirms CallerIDAttestation for it.
const demoCallerIDStatement = "Declared by heed demo for the local testbed, not affirmed by anyone: " +
	"+1 203-555-0188 is a fictional number (555-01XX numbers are set aside for fiction), which the testbed's PSTN simulator takes; " +
	"it is not the firm's, and the admin named here affirmed nothing about it."

func (m *Main) demo(ctx context.Context, args []string) error {
	f := m.flags("demo")
	dbURL := f.databaseURL()
	email := f.str("admin-email", "HEED_ADMIN_EMAIL", "admin@heed.local", "email of the first admin, created when there are no users")
	password := f.str("admin-password", "HEED_ADMIN_PASSWORD", "", "password of the first admin; empty generates one")
	if err := f.parse(args); err != nil {
		return err
	}
	pool, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	accounts := account.NewService(pool)
	n, err := accounts.Count(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		pw := *password
		if pw == "" {
			pw = account.RandomPassword()
		}
		if _, err := accounts.Create(ctx, *email, account.RoleAdmin, pw); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "first admin: %s\npassword:    %s\n", *email, pw)
	}
	listID, created, err := seedDemo(ctx, pool)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(m.Stdout, "demo list %q (id %d): %d contacts, one per PSTN behaviour, one on the do-not-call list\n", demoListName, listID, len(demoContacts))
	}
	return m.demoCallerID(ctx, pool, accounts)
}

// demoCallerID declares demoCallerID one of the firm's caller IDs, once,
// under the first enabled admin's name, with demoCallerIDStatement as its
// attestation, which says that heed demo declared it and no one affirmed
// it: campaigns send only the firm's caller IDs (rule F11).
func (m *Main) demoCallerID(ctx context.Context, pool *pgxpool.Pool, accounts *account.Service) error {
	s := campaign.NewService(pool, nil)
	current, err := s.CurrentCallerIDs(ctx)
	if err != nil {
		return err
	}
	for _, k := range current {
		if k.Phone == demoCallerID {
			return nil
		}
	}
	users, err := accounts.List(ctx)
	if err != nil {
		return err
	}
	var admin *account.User
	for i, u := range users {
		if u.Role == account.RoleAdmin && !u.Disabled && (admin == nil || u.ID < admin.ID) {
			admin = &users[i]
		}
	}
	if admin == nil {
		return fmt.Errorf("demo caller ID %s: no enabled admin to declare it (heed user add --role admin): %w", demoCallerID, campaign.ErrNotAdmin)
	}
	k, err := s.AddCallerIDStated(ctx, campaign.NewCallerID{Number: demoCallerID, Label: demoCallerIDLabel}, demoCallerIDStatement, admin.ID)
	if err != nil {
		return fmt.Errorf("demo caller ID: %w", err)
	}
	fmt.Fprintf(m.Stdout, "demo caller ID %s (%s), declared by heed demo under %s's name, for the testbed (fictional, affirmed by no one): "+
		"campaigns send only the firm's caller IDs (Caller IDs page)\n",
		k.Phone.Display(), k.Label, k.AddedByEmail)
	return nil
}

// seedDemo creates the demo list, its consents and its do-not-call entry,
// once. It reports the list id and whether it created it now.
func seedDemo(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}) (int64, bool, error) {
	var id int64
	created := false
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id FROM contact_lists WHERE name = $1`, demoListName).Scan(&id)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		created = true
		if err := tx.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ($1) RETURNING id`, demoListName).Scan(&id); err != nil {
			return err
		}
		for _, c := range demoContacts {
			var cid int64
			err := tx.QueryRow(ctx, `INSERT INTO contacts (list_id, name, phone, state, external_ref) VALUES ($1, $2, $3, 'CT', $4) RETURNING id`,
				id, c.Name, c.Phone, "demo-"+strings.ToLower(strings.Fields(c.Name)[1])).Scan(&cid)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO consents (phone, contact_id, kind, scope, channel, obtained_at, source, evidence)
				VALUES ($1, $2, 'pec', 'informational', 'voice', now() - interval '30 days', 'demo seed', 'engagement letter (demo)')`, c.Phone, cid)
			if err != nil {
				return err
			}
			if c.OnDNC {
				// As every opt-out heed takes: the entry with its
				// revocation, at the same instant, so that only a consent
				// given after both lifts the entry (rule F12).
				if _, err := tx.Exec(ctx, `INSERT INTO dnc_internal (phone, added_at, method, source) VALUES ($1, now(), 'staff', 'demo seed')`, c.Phone); err != nil {
					return fmt.Errorf("do-not-call entry of %s: %w", c.Phone, err)
				}
				if _, err := tx.Exec(ctx, `INSERT INTO revocations (phone, revoked_at, method, source) VALUES ($1, now(), 'staff', 'demo seed')`, c.Phone); err != nil {
					return fmt.Errorf("revocation of %s: %w", c.Phone, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("demo seed: %w", err)
	}
	return id, created, nil
}
