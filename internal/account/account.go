// Package account holds heed's users, their roles, argon2id password hashes
// and per-user API tokens.
package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/argon2"
)

// Sentinel errors of the account package.
var (
	ErrBadCredentials = errors.New("wrong email or password")
	ErrBadToken       = errors.New("missing, unknown or revoked API token")
	ErrNotFound       = errors.New("user not found")
	ErrInvalid        = errors.New("invalid account input")
	ErrExists         = errors.New("a user with that email already exists")
	// ErrLastAdmin refuses a change that would leave no enabled admin.
	ErrLastAdmin = errors.New("heed must keep at least one enabled admin")
	// ErrSelf refuses an admin's disabling of, role change to, or
	// password reset of their own account: another admin disables or
	// demotes them, and they change their password with ChangePassword.
	ErrSelf = errors.New("not on one's own account")
	// ErrNotAdmin refuses a change by a user who is no longer an enabled
	// admin when it is made.
	ErrNotAdmin = errors.New("only an enabled admin may change users")
	// ErrTokenNotFound reports an API token that does not exist.
	ErrTokenNotFound = errors.New("API token not found")
)

// Role is what a user may do.
type Role string

// The three roles.
const (
	RoleAdmin     Role = "admin"
	RoleAttorney  Role = "attorney"
	RoleParalegal Role = "paralegal"
)

// ParseRole returns the Role named by s.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case RoleAdmin, RoleAttorney, RoleParalegal:
		return r, nil
	}
	return "", fmt.Errorf("role %q: want admin, attorney or paralegal: %w", s, ErrInvalid)
}

// User is a person who signs in to heed.
type User struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Role      Role      `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	// SessionVersion changes with the user's password: a session signed in
	// under another version has ended.
	SessionVersion int `json:"-"`
}

// userColumns are the columns a User is scanned from, in its fields' order.
const userColumns = `id, email, role, disabled, created_at, session_version`

// scanUser scans userColumns into u.
func scanUser(row pgx.Row, u *User) error {
	return row.Scan(&u.ID, &u.Email, &u.Role, &u.Disabled, &u.CreatedAt, &u.SessionVersion)
}

// Service stores users and tokens in PostgreSQL.
type Service struct {
	db *pgxpool.Pool
	// by is the user whose changes these are, or 0 for the heed command
	// run on the server.
	by int64
}

// NewService returns a Service on db whose changes are the heed command's.
func NewService(db *pgxpool.Pool) *Service { return &Service{db: db} }

// As returns a Service on the same database whose changes are user by's
// (0: the heed command's): the users and API tokens it creates or changes
// name by, so that their rows in the audit log say who made the change, and
// by may not disable or demote themselves.
func (s *Service) As(by int64) *Service { return &Service{db: s.db, by: by} }

// argon2id parameters (RFC 9106 second recommended option, lighter memory).
const (
	argonTime    = 2
	argonMemory  = 64 * 1024
	argonThreads = 2
	argonKeyLen  = 32
)

// HashPassword returns an argon2id hash in PHC string format.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches a PHC argon2id hash.
func CheckPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("password hash: not an argon2id PHC string")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, fmt.Errorf("password hash parameters: %w", err)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("password hash salt: %w", err)
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return false, fmt.Errorf("password hash key: %w", err)
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// RandomPassword returns a new random password for a first admin.
func RandomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// MinPassword is the fewest characters a password may have.
const MinPassword = 10

// Create adds a user. The password must have at least MinPassword
// characters.
func (s *Service) Create(ctx context.Context, email string, role Role, password string) (User, error) {
	addr, err := mail.ParseAddress(strings.TrimSpace(email))
	if err != nil || addr.Address != strings.TrimSpace(email) {
		return User{}, fmt.Errorf("email %q: %w", email, ErrInvalid)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, err
	}
	if len(password) < MinPassword {
		return User{}, fmt.Errorf("password: at least %d characters: %w", MinPassword, ErrInvalid)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return User{}, err
	}
	var u User
	err = scanUser(s.db.QueryRow(ctx, `INSERT INTO users (email, role, password_hash, updated_by) VALUES ($1, $2, $3, NULLIF($4::bigint, 0))
		RETURNING `+userColumns, addr.Address, string(role), hash, s.by), &u)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return User{}, fmt.Errorf("%s: %w", email, ErrExists)
	}
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// Authenticate checks an email and password and returns the user.
func (s *Service) Authenticate(ctx context.Context, email, password string) (User, error) {
	var u User
	var hash string
	err := s.db.QueryRow(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE lower(email) = lower($1)`,
		strings.TrimSpace(email)).Scan(&u.ID, &u.Email, &u.Role, &u.Disabled, &u.CreatedAt, &u.SessionVersion, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		// Spend the same time as a real check so timing does not reveal accounts.
		_, _ = CheckPassword(dummyHash, password)
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("authenticate: %w", err)
	}
	ok, err := CheckPassword(hash, password)
	if err != nil {
		return User{}, fmt.Errorf("authenticate %s: %w", u.Email, err)
	}
	if !ok || u.Disabled {
		return User{}, ErrBadCredentials
	}
	return u, nil
}

var dummyHash, _ = HashPassword("heed-dummy-password")

// Get loads a user by id.
func (s *Service) Get(ctx context.Context, id int64) (User, error) {
	var u User
	err := scanUser(s.db.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id), &u)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("user %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// List returns every user, by email.
func (s *Service) List(ctx context.Context) ([]User, error) {
	rows, err := s.db.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY lower(email)`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[User])
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// Count returns how many users exist.
func (s *Service) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// tokenPrefix marks heed API tokens so they are recognisable in logs and scanners.
const tokenPrefix = "heed_"

// CreateToken issues a new API token for a user and returns it. Only its
// SHA-256 hash is stored, so it cannot be shown again.
func (s *Service) CreateToken(ctx context.Context, userID int64, name string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	tok := tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(tok))
	if _, err := s.db.Exec(ctx, `INSERT INTO api_tokens (user_id, name, token_hash, created_by) VALUES ($1, $2, $3, NULLIF($4::bigint, 0))`, userID, name, sum[:], s.by); err != nil {
		return "", fmt.Errorf("store token: %w", err)
	}
	return tok, nil
}

// UserByToken returns the enabled user owning an unrevoked API token.
func (s *Service) UserByToken(ctx context.Context, token string) (User, error) {
	if !strings.HasPrefix(token, tokenPrefix) {
		return User{}, ErrBadToken
	}
	sum := sha256.Sum256([]byte(token))
	var u User
	err := s.db.QueryRow(ctx, `
		UPDATE api_tokens t SET last_used_at = now() FROM users u
		 WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.id = t.user_id AND NOT u.disabled
		RETURNING u.id, u.email, u.role, u.disabled, u.created_at, u.session_version`, sum[:]).Scan(&u.ID, &u.Email, &u.Role, &u.Disabled, &u.CreatedAt, &u.SessionVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrBadToken
	}
	if err != nil {
		return User{}, fmt.Errorf("token lookup: %w", err)
	}
	return u, nil
}

// ByEmail returns the user with an email, in any case.
func (s *Service) ByEmail(ctx context.Context, email string) (User, error) {
	var u User
	err := scanUser(s.db.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE lower(email) = lower($1)`, strings.TrimSpace(email)), &u)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("user %s: %w", email, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", email, err)
	}
	return u, nil
}

// SetDisabled disables user id, or enables them again. A disabled user
// cannot sign in, their sessions end (enabling them again does not bring
// those back) and their API tokens stop working until they are enabled;
// nothing of theirs is deleted. It refuses an admin's disabling of
// themselves (ErrSelf) and of the last enabled admin (ErrLastAdmin).
func (s *Service) SetDisabled(ctx context.Context, id int64, disabled bool) (User, error) {
	if disabled && id == s.by {
		return User{}, fmt.Errorf("disable user %d: %w", id, ErrSelf)
	}
	return s.update(ctx, id, func(u User) bool { return disabled && u.Role == RoleAdmin },
		`disabled = $2, session_version = session_version + CASE WHEN $2 THEN 1 ELSE 0 END`, disabled, nil)
}

// SetRole changes user id's role. It refuses an admin's change of their
// own role (ErrSelf) and the demotion of the last enabled admin
// (ErrLastAdmin).
func (s *Service) SetRole(ctx context.Context, id int64, role Role) (User, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, err
	}
	if id == s.by {
		return User{}, fmt.Errorf("change the role of user %d: %w", id, ErrSelf)
	}
	return s.update(ctx, id, func(u User) bool { return role != RoleAdmin && u.Role == RoleAdmin && !u.Disabled }, `role = $2`, string(role), nil)
}

// SetPassword sets user id's password, as an admin's reset does: their
// sessions end and, in the same transaction, every API token of theirs
// still in force is revoked (revoked says how many), since a reset is
// what an admin does when someone else may know the password. The
// password must have at least MinPassword characters. An admin's own
// password is changed with ChangePassword, which asks for the current one
// (ErrSelf).
func (s *Service) SetPassword(ctx context.Context, id int64, password string) (u User, revoked int, err error) {
	if id == s.by {
		return User{}, 0, fmt.Errorf("reset the password of user %d: %w", id, ErrSelf)
	}
	return s.setPassword(ctx, id, password, true)
}

// setPassword is SetPassword without the check of who makes the change;
// it revokes the user's API tokens only with revokeTokens.
func (s *Service) setPassword(ctx context.Context, id int64, password string, revokeTokens bool) (User, int, error) {
	if len(password) < MinPassword {
		return User{}, 0, fmt.Errorf("password: at least %d characters: %w", MinPassword, ErrInvalid)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return User{}, 0, err
	}
	var revoked int
	var then func(pgx.Tx) error
	if revokeTokens {
		then = func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = now(), revoked_by = NULLIF($2::bigint, 0)
				WHERE user_id = $1 AND revoked_at IS NULL`, id, s.by)
			if err != nil {
				return fmt.Errorf("revoke API tokens: %w", err)
			}
			revoked = int(tag.RowsAffected())
			return nil
		}
	}
	u, err := s.update(ctx, id, nil, `password_hash = $2, session_version = session_version + 1`, hash, then)
	if err != nil {
		return User{}, 0, err
	}
	return u, revoked, nil
}

// ChangePassword is a user's change of their own password: current must be
// their password (ErrBadCredentials otherwise). Their other sessions end;
// the returned User's SessionVersion is the one the session making the
// change should keep. Their API tokens stay in force: integrations that
// use them do not stop because their owner changed a password.
func (s *Service) ChangePassword(ctx context.Context, id int64, current, next string) (User, error) {
	var hash string
	err := s.db.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1 AND NOT disabled`, id).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("user %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("user %d: %w", id, err)
	}
	ok, err := CheckPassword(hash, current)
	if err != nil {
		return User{}, fmt.Errorf("user %d: %w", id, err)
	}
	if !ok {
		return User{}, ErrBadCredentials
	}
	u, _, err := s.As(id).setPassword(ctx, id, next, false)
	return u, err
}

// update applies set (an assignment list whose $2 is arg) to user id in a
// transaction, and returns the user as changed. removesAdmin, unless nil,
// reports, given the user before the change, whether the change takes away
// an enabled admin: the transaction then holds the enabled admins' rows,
// and the change is refused with ErrLastAdmin when they are the last. A
// change made by an admin (s.by) is refused with ErrNotAdmin unless they
// are still an enabled admin when it is made. then, unless nil, runs in
// the transaction after the change.
func (s *Service) update(ctx context.Context, id int64, removesAdmin func(User) bool, set string, arg any, then func(pgx.Tx) error) (User, error) {
	var u User
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var admins []int64
		if removesAdmin != nil {
			rows, err := tx.Query(ctx, `SELECT id FROM users WHERE role = 'admin' AND NOT disabled ORDER BY id FOR NO KEY UPDATE`)
			if err != nil {
				return err
			}
			if admins, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
				return err
			}
		}
		if s.by != 0 && s.by != id {
			var ok bool
			err := tx.QueryRow(ctx, `SELECT role = 'admin' AND NOT disabled FROM users WHERE id = $1 FOR SHARE`, s.by).Scan(&ok)
			if errors.Is(err, pgx.ErrNoRows) || err == nil && !ok {
				return ErrNotAdmin
			}
			if err != nil {
				return err
			}
		}
		err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 FOR NO KEY UPDATE`, id), &u)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if removesAdmin != nil && removesAdmin(u) && len(admins) == 1 && admins[0] == id {
			return ErrLastAdmin
		}
		if err := scanUser(tx.QueryRow(ctx, `UPDATE users SET `+set+`, updated_by = NULLIF($3::bigint, 0) WHERE id = $1 RETURNING `+userColumns, id, arg, s.by), &u); err != nil {
			return err
		}
		if then != nil {
			return then(tx)
		}
		return nil
	})
	if err != nil {
		return User{}, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// Token is an API token as its owner's admin sees it: never the token.
type Token struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// Tokens returns user id's API tokens, the newest first.
func (s *Service) Tokens(ctx context.Context, userID int64) ([]Token, error) {
	rows, err := s.db.Query(ctx, `SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("tokens of user %d: %w", userID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Token])
	if err != nil {
		return nil, fmt.Errorf("tokens of user %d: %w", userID, err)
	}
	return out, nil
}

// RevokeToken revokes user userID's API token tokenID at once; revoking a
// revoked token changes nothing. It returns ErrTokenNotFound when the user
// has no such token.
func (s *Service) RevokeToken(ctx context.Context, userID, tokenID int64) (Token, error) {
	var t Token
	scan := func(row pgx.Row) error { return row.Scan(&t.ID, &t.Name, &t.CreatedAt, &t.LastUsedAt, &t.RevokedAt) }
	err := scan(s.db.QueryRow(ctx, `
		UPDATE api_tokens SET revoked_at = now(), revoked_by = NULLIF($3::bigint, 0)
		 WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL
		RETURNING id, name, created_at, last_used_at, revoked_at`, userID, tokenID, s.by))
	if errors.Is(err, pgx.ErrNoRows) {
		// Revoked already, or not the user's.
		err = scan(s.db.QueryRow(ctx, `SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens WHERE id = $2 AND user_id = $1`, userID, tokenID))
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, fmt.Errorf("token %d of user %d: %w", tokenID, userID, ErrTokenNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("revoke token %d: %w", tokenID, err)
	}
	return t, nil
}
