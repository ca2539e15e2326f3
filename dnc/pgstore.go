package dnc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/internal/phone"
)

// ErrAlreadyListed reports a number that is already on the internal list.
var ErrAlreadyListed = errors.New("number is already on the internal do-not-call list")

// InternalEntry is one entry of the firm's internal do-not-call list.
type InternalEntry struct {
	ID      int64     `json:"id"`
	Phone   string    `json:"phone"`
	AddedAt time.Time `json:"added_at"`
	AddedBy *int64    `json:"added_by,omitempty"`
	Method  string    `json:"method"`
	Source  string    `json:"source"`
}

// PGStore keeps the internal do-not-call list in PostgreSQL, its source of
// truth. Entries are never deleted; every entry records who, when, how and
// from where.
type PGStore struct{ db *pgxpool.Pool }

// NewPGStore returns a PGStore on db.
func NewPGStore(db *pgxpool.Pool) *PGStore { return &PGStore{db: db} }

// AddInternal puts a number on the internal list at once.
func (s *PGStore) AddInternal(ctx context.Context, n phone.Number, userID int64, method, source string) (InternalEntry, error) {
	var e InternalEntry
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM dnc_internal WHERE phone = $1 AND removed_at IS NULL)`, n.String()).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return fmt.Errorf("%s: %w", n, ErrAlreadyListed)
		}
		return tx.QueryRow(ctx, `INSERT INTO dnc_internal (phone, added_by, method, source) VALUES ($1, NULLIF($2, 0), $3, $4)
			RETURNING id, phone, added_at, added_by, method, source`, n.String(), userID, method, source).
			Scan(&e.ID, &e.Phone, &e.AddedAt, &e.AddedBy, &e.Method, &e.Source)
	})
	if err != nil {
		return InternalEntry{}, fmt.Errorf("internal dnc add: %w", err)
	}
	return e, nil
}

// ListInternal returns the newest entries of the internal list, at most limit.
func (s *PGStore) ListInternal(ctx context.Context, limit int) ([]InternalEntry, error) {
	rows, err := s.db.Query(ctx, `SELECT id, phone, added_at, added_by, method, source FROM dnc_internal
		WHERE removed_at IS NULL ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("internal dnc list: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[InternalEntry])
	if err != nil {
		return nil, fmt.Errorf("internal dnc list: %w", err)
	}
	return out, nil
}
