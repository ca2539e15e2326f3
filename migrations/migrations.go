// Package migrations holds heed's embedded SQL schema and applies it, together
// with River's own tables, to a PostgreSQL database.
package migrations

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed sql/*.sql
var files embed.FS

// ErrPending reports a database whose schema is behind this build of heed.
var ErrPending = errors.New("database schema is not up to date: run `heed migrate` (or `heed serve --migrate`)")

// Result says what Up did.
type Result struct {
	// Applied lists the heed migrations applied, by file name.
	Applied []string
	// RiverApplied lists the River schema versions applied.
	RiverApplied []int
}

func provider(pool *pgxpool.Pool) (*goose.Provider, func() error, error) {
	db := stdlib.OpenDBFromPool(pool)
	sub, err := fs.Sub(files, "sql")
	if err != nil {
		return nil, nil, fmt.Errorf("migrations: embedded files: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, nil, fmt.Errorf("migrations: locker: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
	if err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("migrations: goose: %w", err)
	}
	return p, db.Close, nil
}

// Up applies every pending migration: River's tables first, then heed's.
// It is idempotent and safe to run from several processes at once.
func Up(ctx context.Context, pool *pgxpool.Pool) (Result, error) {
	var res Result
	rm, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return res, fmt.Errorf("migrations: river migrator: %w", err)
	}
	rr, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return res, fmt.Errorf("migrations: river: %w", err)
	}
	for _, v := range rr.Versions {
		res.RiverApplied = append(res.RiverApplied, v.Version)
	}
	p, closeDB, err := provider(pool)
	if err != nil {
		return res, err
	}
	defer closeDB() //nolint:errcheck // the pool owns the connections
	applied, err := p.Up(ctx)
	if err != nil {
		return res, fmt.Errorf("migrations: heed: %w", err)
	}
	for _, a := range applied {
		res.Applied = append(res.Applied, a.Source.Path)
	}
	return res, nil
}

// Check returns an error wrapping ErrPending when River's or heed's schema
// has migrations that are not applied yet.
func Check(ctx context.Context, pool *pgxpool.Pool) error {
	rm, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("migrations: river migrator: %w", err)
	}
	vr, err := rm.Validate(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrations: river: %w", err)
	}
	if !vr.OK {
		return fmt.Errorf("river: %v: %w", vr.Messages, ErrPending)
	}
	p, closeDB, err := provider(pool)
	if err != nil {
		return err
	}
	defer closeDB() //nolint:errcheck // the pool owns the connections
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("migrations: heed: %w", err)
	}
	if pending {
		return ErrPending
	}
	return nil
}

// Hash identifies the schema this build produces, for template databases in tests.
func Hash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		h.Write([]byte(path))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("migrations: hash: %w", err)
	}
	rm, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return "", fmt.Errorf("migrations: river migrator: %w", err)
	}
	for _, m := range rm.AllVersions() {
		h.Write([]byte(m.SQLUp))
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
