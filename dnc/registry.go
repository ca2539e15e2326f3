package dnc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNoAsOf reports a registry import without the date its data is current as of.
var ErrNoAsOf = errors.New("a registry import needs the date its data is current as of (--as-of)")

// Installed describes the current version of a registry list.
type Installed struct {
	List       ListID
	Version    uint64
	AsOf       time.Time
	Count      int
	File       string
	Source     string
	ImportedAt time.Time
	// SHA256 is the hex SHA-256 of the snapshot file as installed, or ""
	// for a copy installed before heed kept it.
	SHA256 string
}

// Registry keeps the registry lists (national, state and litigator) as
// snapshot files in a directory, and the version of each that is current in
// PostgreSQL, so that every heed process loads the same one.
type Registry struct {
	db  *pgxpool.Pool
	dir string
}

// NewRegistry returns a Registry with its snapshot files in dir.
func NewRegistry(db *pgxpool.Pool, dir string) *Registry { return &Registry{db: db, dir: dir} }

func fileName(l ListID, version uint64) string {
	return fmt.Sprintf("%s-v%d.heeddnc", strings.ReplaceAll(l.String(), ":", "-"), version)
}

// Installed returns the current version of every registry list.
func (r *Registry) Installed(ctx context.Context) ([]Installed, error) {
	rows, err := r.db.Query(ctx, `SELECT list, version, as_of, count, file, source, imported_at, coalesce(sha256, '') FROM dnc_lists ORDER BY list`)
	if err != nil {
		return nil, fmt.Errorf("dnc lists: %w", err)
	}
	defer rows.Close()
	var out []Installed
	for rows.Next() {
		var (
			in   Installed
			name string
		)
		if err := rows.Scan(&name, &in.Version, &in.AsOf, &in.Count, &in.File, &in.Source, &in.ImportedAt, &in.SHA256); err != nil {
			return nil, fmt.Errorf("dnc lists: %w", err)
		}
		if in.List, err = ParseList(name); err != nil {
			return nil, fmt.Errorf("dnc lists: %w", err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dnc lists: %w", err)
	}
	return out, nil
}

// Load reads an installed list's snapshot file. A file whose content is
// not the one installed (its SHA-256 differs) is refused with ErrCorrupt.
func (r *Registry) Load(in Installed) (Meta, *Set, error) {
	f, err := os.Open(filepath.Join(r.dir, in.File))
	if err != nil {
		return Meta{}, nil, fmt.Errorf("dnc list %v: %w", in.List, err)
	}
	defer f.Close()
	h := sha256.New()
	tee := io.TeeReader(f, h)
	meta, set, err := ReadSnapshot(tee)
	if err == nil {
		_, err = io.Copy(io.Discard, tee) // what the snapshot did not read counts too
	}
	if err != nil {
		return Meta{}, nil, fmt.Errorf("dnc list %v (%s): %w", in.List, in.File, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); in.SHA256 != "" && sum != in.SHA256 {
		return Meta{}, nil, fmt.Errorf("dnc list %v: %s is not the file installed as version %d (SHA-256 %s, installed %s): %w",
			in.List, in.File, in.Version, sum, in.SHA256, ErrCorrupt)
	}
	if meta.List != in.List || meta.Version != in.Version || set.Len() != in.Count {
		return Meta{}, nil, fmt.Errorf("dnc list %v: %s holds %v version %d with %d numbers, the database says version %d with %d: %w",
			in.List, in.File, meta.List, meta.Version, set.Len(), in.Version, in.Count, ErrCorrupt)
	}
	return meta, set, nil
}

// LoadVersion reads version v of registry list l, current or not: every
// installed version's file is kept, and dnc_list_installs says how many
// numbers it holds. It returns an error wrapping ErrUnknownList for a
// version never installed.
func (r *Registry) LoadVersion(ctx context.Context, l ListID, v uint64) (Meta, *Set, error) {
	in := Installed{List: l, Version: v, File: fileName(l, v)}
	err := r.db.QueryRow(ctx, `SELECT as_of, count, source, installed_at, coalesce(sha256, '') FROM dnc_list_installs
		WHERE list = $1 AND version = $2 ORDER BY id DESC LIMIT 1`, l.String(), v).Scan(&in.AsOf, &in.Count, &in.Source, &in.ImportedAt, &in.SHA256)
	if errors.Is(err, pgx.ErrNoRows) {
		return Meta{}, nil, fmt.Errorf("dnc list %v version %d: never installed: %w", l, v, ErrUnknownList)
	}
	if err != nil {
		return Meta{}, nil, fmt.Errorf("dnc list %v version %d: %w", l, v, err)
	}
	return r.Load(in)
}

// Current loads the current version of list l, or returns an empty set and
// ok=false when none is installed.
func (r *Registry) Current(ctx context.Context, l ListID) (Meta, *Set, bool, error) {
	all, err := r.Installed(ctx)
	if err != nil {
		return Meta{}, nil, false, err
	}
	for _, in := range all {
		if in.List == l {
			m, s, err := r.Load(in)
			return m, s, err == nil, err
		}
	}
	return Meta{List: l}, &Set{}, false, nil
}

// Install writes set as the next version of list l and makes it current:
// the file is written and synced under a temporary name and renamed, then
// the version is recorded, and logged in the change log, in one
// transaction. Until that commits, every process keeps the previous
// version; if it fails, nothing changes.
func (r *Registry) Install(ctx context.Context, l ListID, asOf time.Time, source string, set *Set, userID int64) (Installed, error) {
	if l == Internal || !l.Valid() {
		return Installed{}, fmt.Errorf("install %v: the internal list lives in the database: %w", l, ErrUnknownList)
	}
	if asOf.IsZero() {
		return Installed{}, ErrNoAsOf
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return Installed{}, fmt.Errorf("dnc directory: %w", err)
	}
	var in Installed
	err := pgx.BeginFunc(ctx, r.db, func(tx pgx.Tx) error {
		var version uint64
		// Lock the list's row (or the table, for a new list) against a concurrent install.
		if _, err := tx.Exec(ctx, `LOCK TABLE dnc_lists IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) + 1 FROM dnc_lists WHERE list = $1`, l.String()).Scan(&version); err != nil {
			return err
		}
		in = Installed{List: l, Version: version, AsOf: asOf, Count: set.Len(), File: fileName(l, version), Source: source}
		meta := Meta{List: l, Source: source, AsOf: asOf, Updated: time.Now(), Version: version}
		sum, err := r.writeFile(in.File, meta, set)
		if err != nil {
			return err
		}
		in.SHA256 = sum
		if _, err := tx.Exec(ctx, `
			INSERT INTO dnc_lists (list, version, as_of, count, file, source, imported_by, sha256) VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, 0), $8)
			ON CONFLICT (list) DO UPDATE SET version = EXCLUDED.version, as_of = EXCLUDED.as_of, count = EXCLUDED.count,
			       file = EXCLUDED.file, source = EXCLUDED.source, imported_at = now(), imported_by = EXCLUDED.imported_by, sha256 = EXCLUDED.sha256`,
			l.String(), version, asOf, set.Len(), in.File, source, userID, sum); err != nil {
			return err
		}
		// installed_at is the statement's time, not the transaction's
		// (now()), which began before the file was written: a moment
		// before the copy is committed, which the calls report relies on.
		// Its trigger logs the install in the change log (migration
		// 00046), which notifies heed_index: every process's indexes load
		// the copy before their position passes it.
		_, err = tx.Exec(ctx, `INSERT INTO dnc_list_installs (list, version, as_of, count, source, imported_by, installed_at, sha256)
			VALUES ($1, $2, $3, $4, $5, NULLIF($6, 0), clock_timestamp(), $7)`,
			l.String(), version, asOf, set.Len(), source, userID, sum)
		return err
	})
	if err != nil {
		return Installed{}, fmt.Errorf("install %v: %w", l, err)
	}
	in.ImportedAt = time.Now()
	return in, nil
}

// writeFile writes a snapshot file durably under its name and returns the
// hex SHA-256 of its content.
func (r *Registry) writeFile(name string, meta Meta, set *Set) (string, error) {
	tmp, err := os.CreateTemp(r.dir, name+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	if err := WriteSnapshot(io.MultiWriter(tmp, h), meta, set); err != nil {
		tmp.Close()
		return "", fmt.Errorf("snapshot: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("snapshot: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(r.dir, name)); err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// NationalAsOf returns the date of the installed national registry copy,
// or the zero time when none is installed.
func (r *Registry) NationalAsOf(ctx context.Context) (time.Time, error) {
	installed, err := r.Installed(ctx)
	if err != nil {
		return time.Time{}, err
	}
	for _, in := range installed {
		if in.List == National {
			return in.AsOf, nil
		}
	}
	return time.Time{}, nil
}
