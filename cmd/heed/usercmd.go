package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/internal/account"
	"github.com/heed-dialer/heed/web"
)

// userCommand opens the database, finds the user --email names and runs
// do on the accounts service; name is the command's, for its flags.
func (m *Main) userCommand(ctx context.Context, name string, args []string, extra func(*flags), do func(*pgxpool.Pool, *account.Service, account.User) error) error {
	f := m.flags(name)
	dbURL := f.databaseURL()
	email := f.String("email", "", "the user's email (required)")
	if extra != nil {
		extra(f)
	}
	if err := f.parse(args); err != nil {
		return err
	}
	if *email == "" {
		return fmt.Errorf("--email is required: %w", errUsage)
	}
	pool, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	svc := account.NewService(pool)
	u, err := svc.ByEmail(ctx, *email)
	if err != nil {
		return err
	}
	return do(pool, svc, u)
}

func (m *Main) userList(ctx context.Context, args []string) error {
	f := m.flags("user list")
	dbURL := f.databaseURL()
	asJSON := f.Bool("json", false, "print the users as JSON")
	if err := f.parse(args); err != nil {
		return err
	}
	pool, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	users, err := account.NewService(pool).List(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"users": users})
	}
	w := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "EMAIL\tROLE\tSTATUS\tSINCE")
	for _, u := range users {
		status := "active"
		if u.Disabled {
			status = "disabled"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.Email, u.Role, status, u.CreatedAt.Local().Format("2006-01-02"))
	}
	return w.Flush()
}

// userSetDisabled is heed user disable (disabled) and heed user enable.
func (m *Main) userSetDisabled(disabled bool) func(context.Context, []string) error {
	name, verb := "user enable", "enabled"
	if disabled {
		name, verb = "user disable", "disabled"
	}
	return func(ctx context.Context, args []string) error {
		return m.userCommand(ctx, name, args, nil, func(_ *pgxpool.Pool, svc *account.Service, u account.User) error {
			u, err := svc.SetDisabled(ctx, u.ID, disabled)
			if err != nil {
				return lastAdmin(err)
			}
			fmt.Fprintf(m.Stdout, "%s %s\n", verb, u.Email)
			return nil
		})
	}
}

func (m *Main) userRole(ctx context.Context, args []string) error {
	var role *string
	return m.userCommand(ctx, "user role", args, func(f *flags) {
		role = f.String("role", "", "admin, attorney or paralegal (required)")
	}, func(_ *pgxpool.Pool, svc *account.Service, u account.User) error {
		r, err := account.ParseRole(*role)
		if err != nil {
			return fmt.Errorf("--role admin|attorney|paralegal is required: %w", errUsage)
		}
		u, err = svc.SetRole(ctx, u.ID, r)
		if err != nil {
			return lastAdmin(err)
		}
		fmt.Fprintf(m.Stdout, "%s is now %s\n", u.Email, u.Role)
		return nil
	})
}

func (m *Main) userPassword(ctx context.Context, args []string) error {
	var password *string
	return m.userCommand(ctx, "user password", args, func(f *flags) {
		// No environment variable: HEED_USER_PASSWORD, user add's, would
		// silently give every reset the same password.
		password = f.String("password", "", "the new password; empty generates one and prints it")
	}, func(pool *pgxpool.Pool, svc *account.Service, u account.User) error {
		pw := *password
		if pw == "" {
			pw = account.RandomPassword()
		}
		u, revoked, err := svc.SetPassword(ctx, u.ID, pw)
		if err != nil {
			return err
		}
		// The failed sign-ins that may have locked the account out go
		// with its old password, as on the Users page. The password is
		// reset (and printed) even when they cannot be: they age out.
		if err := web.ForgetSignInFailures(ctx, pool, u.Email); err != nil {
			fmt.Fprintf(m.Stderr, "warning: the failed sign-ins of %s could not be forgotten; they leave the limits' 15-minute window on their own: %v\n", u.Email, err)
		}
		tokens := "they had no API tokens in force"
		switch {
		case revoked == 1:
			tokens = "their API token was revoked"
		case revoked > 1:
			tokens = fmt.Sprintf("their %d API tokens were revoked", revoked)
		}
		fmt.Fprintf(m.Stdout, "password of %s reset; their sessions are signed out, and %s\n", u.Email, tokens)
		if *password == "" {
			fmt.Fprintf(m.Stdout, "password: %s\n", pw)
		}
		return nil
	})
}

func (m *Main) tokenList(ctx context.Context, args []string) error {
	return m.userCommand(ctx, "token list", args, nil, func(_ *pgxpool.Pool, svc *account.Service, u account.User) error {
		toks, err := svc.Tokens(ctx, u.ID)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tISSUED\tLAST USED\tREVOKED")
		for _, t := range toks {
			used, revoked := "never", ""
			if t.LastUsedAt != nil {
				used = t.LastUsedAt.Local().Format("2006-01-02 15:04")
			}
			if t.RevokedAt != nil {
				revoked = t.RevokedAt.Local().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.CreatedAt.Local().Format("2006-01-02 15:04"), used, revoked)
		}
		return w.Flush()
	})
}

func (m *Main) tokenRevoke(ctx context.Context, args []string) error {
	var id *int64
	return m.userCommand(ctx, "token revoke", args, func(f *flags) {
		id = f.Int64("id", 0, "the token's id, as heed token list shows it (required)")
	}, func(_ *pgxpool.Pool, svc *account.Service, u account.User) error {
		if *id <= 0 {
			return fmt.Errorf("--id is required: %w", errUsage)
		}
		t, err := svc.RevokeToken(ctx, u.ID, *id)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "revoked token %d (%s) of %s\n", t.ID, t.Name, u.Email)
		return nil
	})
}

// lastAdmin adds to an ErrLastAdmin refusal what to do instead.
func lastAdmin(err error) error {
	if errors.Is(err, account.ErrLastAdmin) {
		return fmt.Errorf("%w: make another user an admin first (heed user role --email E --role admin)", err)
	}
	return err
}
