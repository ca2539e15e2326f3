package account_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/account"
	"github.com/heed-dialer/heed/internal/audit"
	"github.com/heed-dialer/heed/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const pw = "long enough password"

// TestManageUsers: admins disable and enable users, change roles and reset
// passwords, never leaving heed without an enabled admin nor acting on
// themselves; a reset ends the user's sessions (its session version
// moves); each change's audit row names the admin who made it.
func TestManageUsers(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	svc := account.NewService(db)
	root, err := svc.Create(ctx, "root@firm.test", account.RoleAdmin, pw)
	require.NoError(t, err)
	asRoot := svc.As(root.ID)
	pat, err := asRoot.Create(ctx, "pat@firm.test", account.RoleParalegal, pw)
	require.NoError(t, err)

	// The only admin cannot be demoted or disabled, even by the command.
	_, err = svc.SetRole(ctx, root.ID, account.RoleAttorney)
	require.ErrorIs(t, err, account.ErrLastAdmin)
	_, err = svc.SetDisabled(ctx, root.ID, true)
	require.ErrorIs(t, err, account.ErrLastAdmin)
	// Nor act on themselves.
	_, err = asRoot.SetDisabled(ctx, root.ID, true)
	require.ErrorIs(t, err, account.ErrSelf)
	_, err = asRoot.SetRole(ctx, root.ID, account.RoleParalegal)
	require.ErrorIs(t, err, account.ErrSelf)
	_, err = asRoot.SetRole(ctx, pat.ID, "janitor")
	require.ErrorIs(t, err, account.ErrInvalid)
	_, err = asRoot.SetDisabled(ctx, 999999, true)
	require.ErrorIs(t, err, account.ErrNotFound)

	// Pat becomes an admin; root may then be demoted by Pat.
	pat, err = asRoot.SetRole(ctx, pat.ID, account.RoleAdmin)
	require.NoError(t, err)
	require.Equal(t, account.RoleAdmin, pat.Role)
	root, err = svc.As(pat.ID).SetRole(ctx, root.ID, account.RoleAttorney)
	require.NoError(t, err)
	require.Equal(t, account.RoleAttorney, root.Role)
	// No longer an admin, root may change no one.
	_, err = asRoot.SetDisabled(ctx, pat.ID, true)
	require.ErrorIs(t, err, account.ErrNotAdmin)
	_, _, err = asRoot.SetPassword(ctx, pat.ID, "a brand new password")
	require.ErrorIs(t, err, account.ErrNotAdmin)
	// A disabled admin does not count: with root re-promoted and Pat
	// disabled, root is the last enabled admin.
	_, err = svc.As(pat.ID).SetRole(ctx, root.ID, account.RoleAdmin)
	require.NoError(t, err)
	v := pat.SessionVersion
	pat, err = asRoot.SetDisabled(ctx, pat.ID, true)
	require.NoError(t, err)
	require.True(t, pat.Disabled)
	require.Equal(t, v+1, pat.SessionVersion, "disabling ends the sessions")
	_, err = svc.SetDisabled(ctx, root.ID, true)
	require.ErrorIs(t, err, account.ErrLastAdmin)
	_, err = svc.SetRole(ctx, pat.ID, account.RoleParalegal)
	require.NoError(t, err, "demoting a disabled admin leaves the enabled ones as they are")

	// A disabled user cannot sign in, nor use a token.
	tok, err := svc.CreateToken(ctx, pat.ID, "case system")
	require.NoError(t, err)
	_, err = svc.Authenticate(ctx, "pat@firm.test", pw)
	require.ErrorIs(t, err, account.ErrBadCredentials)
	_, err = svc.UserByToken(ctx, tok)
	require.ErrorIs(t, err, account.ErrBadToken)
	before := pat.SessionVersion
	pat, err = asRoot.SetDisabled(ctx, pat.ID, false)
	require.NoError(t, err)
	require.Equal(t, before, pat.SessionVersion, "enabling starts no session")
	_, err = svc.UserByToken(ctx, tok)
	require.NoError(t, err)

	// A reset: the old password stops working, the new one works, and the
	// session version moves.
	_, _, err = asRoot.SetPassword(ctx, pat.ID, "short")
	require.ErrorIs(t, err, account.ErrInvalid)
	_, _, err = asRoot.SetPassword(ctx, root.ID, "a brand new password")
	require.ErrorIs(t, err, account.ErrSelf, "one's own password takes the current one")
	reset, _, err := asRoot.SetPassword(ctx, pat.ID, "a brand new password")
	require.NoError(t, err)
	require.Equal(t, pat.SessionVersion+1, reset.SessionVersion)
	_, err = svc.Authenticate(ctx, "pat@firm.test", pw)
	require.ErrorIs(t, err, account.ErrBadCredentials)
	_, err = svc.Authenticate(ctx, "PAT@firm.test", "a brand new password")
	require.NoError(t, err)

	// One's own change needs the current password.
	_, err = svc.ChangePassword(ctx, pat.ID, "wrong password", "another new password")
	require.ErrorIs(t, err, account.ErrBadCredentials)
	changed, err := svc.ChangePassword(ctx, pat.ID, "a brand new password", "another new password")
	require.NoError(t, err)
	require.Equal(t, reset.SessionVersion+1, changed.SessionVersion)

	// The audit log holds every change, each naming its author, never a
	// password hash, and verifies.
	rows, err := db.Query(ctx, `SELECT details FROM audit_log WHERE tbl = 'users' AND row_id = $1 ORDER BY seq`, pat.ID)
	require.NoError(t, err)
	var by []any
	for rows.Next() {
		var d map[string]any
		require.NoError(t, rows.Scan(&d))
		require.NotContains(t, d, "password_hash")
		by = append(by, d["updated_by"])
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []any{float64(root.ID), float64(root.ID), float64(root.ID), nil, float64(root.ID), float64(root.ID), float64(pat.ID)}, by,
		"create, promote, disable, demote (the command), enable, reset, own change")
	rep, err := audit.Verify(ctx, db)
	require.NoError(t, err)
	require.Positive(t, rep.Rows)
}

// TestPasswordResetRevokesTokens: an admin's reset of a user's password
// (SetPassword, the users page's and heed user password's) revokes every
// API token of theirs still in force, in its transaction, and says how
// many; a revoked token keeps its first revocation. A user's own change
// (ChangePassword) leaves their tokens in force.
func TestPasswordResetRevokesTokens(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	svc := account.NewService(db)
	admin, err := svc.Create(ctx, "admin@firm.test", account.RoleAdmin, pw)
	require.NoError(t, err)
	pat, err := svc.Create(ctx, "pat@firm.test", account.RoleParalegal, pw)
	require.NoError(t, err)
	other, err := svc.Create(ctx, "other@firm.test", account.RoleParalegal, pw)
	require.NoError(t, err)
	asAdmin := svc.As(admin.ID)
	var toks []string
	for _, name := range []string{"case system", "macro", "old"} {
		tok, err := asAdmin.CreateToken(ctx, pat.ID, name)
		require.NoError(t, err)
		toks = append(toks, tok)
	}
	otherTok, err := asAdmin.CreateToken(ctx, other.ID, "theirs")
	require.NoError(t, err)
	list, err := svc.Tokens(ctx, pat.ID)
	require.NoError(t, err)
	old, err := asAdmin.RevokeToken(ctx, pat.ID, list[0].ID) // "old", the newest
	require.NoError(t, err)

	// One's own change keeps the tokens.
	_, err = svc.ChangePassword(ctx, pat.ID, pw, "another new password")
	require.NoError(t, err)
	for _, tok := range toks[:2] {
		_, err = svc.UserByToken(ctx, tok)
		require.NoError(t, err, "one's own password change leaves one's tokens in force")
	}

	// A reset refused in its transaction revokes nothing.
	_, _, err = svc.As(other.ID).SetPassword(ctx, pat.ID, "a valid new password")
	require.ErrorIs(t, err, account.ErrNotAdmin)
	_, err = svc.UserByToken(ctx, toks[0])
	require.NoError(t, err)

	_, revoked, err := asAdmin.SetPassword(ctx, pat.ID, "a brand new password")
	require.NoError(t, err)
	require.Equal(t, 2, revoked, "the two in force")
	for _, tok := range toks {
		_, err = svc.UserByToken(ctx, tok)
		require.ErrorIs(t, err, account.ErrBadToken)
	}
	_, err = svc.UserByToken(ctx, otherTok)
	require.NoError(t, err, "another user's token stays")
	list, err = svc.Tokens(ctx, pat.ID)
	require.NoError(t, err)
	require.True(t, list[0].RevokedAt.Equal(*old.RevokedAt), "a revoked token keeps its first revocation")
	var by int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM api_tokens WHERE user_id = $1 AND revoked_by = $2`, pat.ID, admin.ID).Scan(&by))
	require.Equal(t, 3, by, "each names the admin")

	_, revoked, err = asAdmin.SetPassword(ctx, pat.ID, "yet another password")
	require.NoError(t, err)
	require.Zero(t, revoked, "none left in force")
}

// TestTokens: an admin lists and revokes a user's API tokens; a revoked
// token stops working at once; issuing and revoking are audited without
// the token's hash, and using a token is not.
func TestTokens(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	svc := account.NewService(db)
	admin, err := svc.Create(ctx, "admin@firm.test", account.RoleAdmin, pw)
	require.NoError(t, err)
	pat, err := svc.Create(ctx, "pat@firm.test", account.RoleParalegal, pw)
	require.NoError(t, err)
	asAdmin := svc.As(admin.ID)
	first, err := asAdmin.CreateToken(ctx, pat.ID, "case system")
	require.NoError(t, err)
	_, err = asAdmin.CreateToken(ctx, pat.ID, "spreadsheet macro")
	require.NoError(t, err)
	for range 3 {
		_, err = svc.UserByToken(ctx, first)
		require.NoError(t, err)
	}
	toks, err := svc.Tokens(ctx, pat.ID)
	require.NoError(t, err)
	require.Len(t, toks, 2)
	require.Equal(t, "spreadsheet macro", toks[0].Name, "newest first")
	require.Nil(t, toks[0].LastUsedAt)
	require.NotNil(t, toks[1].LastUsedAt)

	_, err = asAdmin.RevokeToken(ctx, admin.ID, toks[1].ID)
	require.ErrorIs(t, err, account.ErrTokenNotFound, "not the admin's token")
	revoked, err := asAdmin.RevokeToken(ctx, pat.ID, toks[1].ID)
	require.NoError(t, err)
	require.NotNil(t, revoked.RevokedAt)
	_, err = svc.UserByToken(ctx, first)
	require.ErrorIs(t, err, account.ErrBadToken)
	again, err := asAdmin.RevokeToken(ctx, pat.ID, toks[1].ID)
	require.NoError(t, err)
	require.True(t, again.RevokedAt.Equal(*revoked.RevokedAt), "revoking twice keeps the first time")

	rows, err := db.Query(ctx, `SELECT op, details FROM audit_log WHERE tbl = 'api_tokens' ORDER BY seq`)
	require.NoError(t, err)
	var ops []string
	for rows.Next() {
		var (
			op string
			d  map[string]any
		)
		require.NoError(t, rows.Scan(&op, &d))
		require.NotContains(t, d, "token_hash")
		require.Equal(t, float64(admin.ID), d["created_by"])
		ops = append(ops, op)
		if op == "update" {
			require.Equal(t, float64(admin.ID), d["revoked_by"])
		}
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"insert", "insert", "update"}, ops, "two issued, one revoked once; uses are not audited")
}
