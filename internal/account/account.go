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
}

// Service stores users and tokens in PostgreSQL.
type Service struct{ db *pgxpool.Pool }

// NewService returns a Service on db.
func NewService(db *pgxpool.Pool) *Service { return &Service{db: db} }

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

// Create adds a user. The password must have at least 10 characters.
func (s *Service) Create(ctx context.Context, email string, role Role, password string) (User, error) {
	addr, err := mail.ParseAddress(strings.TrimSpace(email))
	if err != nil || addr.Address != strings.TrimSpace(email) {
		return User{}, fmt.Errorf("email %q: %w", email, ErrInvalid)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, err
	}
	if len(password) < 10 {
		return User{}, fmt.Errorf("password: at least 10 characters: %w", ErrInvalid)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return User{}, err
	}
	var u User
	err = s.db.QueryRow(ctx, `INSERT INTO users (email, role, password_hash) VALUES ($1, $2, $3)
		RETURNING id, email, role, disabled, created_at`, addr.Address, string(role), hash).
		Scan(&u.ID, &u.Email, &u.Role, &u.Disabled, &u.CreatedAt)
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
	err := s.db.QueryRow(ctx, `SELECT id, email, role, disabled, created_at, password_hash FROM users WHERE lower(email) = lower($1)`,
		strings.TrimSpace(email)).Scan(&u.ID, &u.Email, &u.Role, &u.Disabled, &u.CreatedAt, &hash)
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
	err := s.db.QueryRow(ctx, `SELECT id, email, role, disabled, created_at FROM users WHERE id = $1`, id).
		Scan(&u.ID, &u.Email, &u.Role, &u.Disabled, &u.CreatedAt)
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
	rows, err := s.db.Query(ctx, `SELECT id, email, role, disabled, created_at FROM users ORDER BY lower(email)`)
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
	if _, err := s.db.Exec(ctx, `INSERT INTO api_tokens (user_id, name, token_hash) VALUES ($1, $2, $3)`, userID, name, sum[:]); err != nil {
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
		RETURNING u.id, u.email, u.role, u.disabled, u.created_at`, sum[:]).Scan(&u.ID, &u.Email, &u.Role, &u.Disabled, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrBadToken
	}
	if err != nil {
		return User{}, fmt.Errorf("token lookup: %w", err)
	}
	return u, nil
}
