package dncbench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is the `postgres` structure: the numbers in a PostgreSQL table
// with a b-tree primary key, looked up with one query per number (what
// SQL-based dialers do for each lead) or with = ANY for a batch.
type Postgres struct {
	db    *pgxpool.Pool
	table string
}

var _ Structure = (*Postgres)(nil)

// NewPostgres returns the postgres structure on db. It creates its own
// table and drops it on Close.
func NewPostgres(db *pgxpool.Pool) *Postgres {
	return &Postgres{db: db, table: fmt.Sprintf("heed_bench_dnc_%08x", rand.Uint32())}
}

// Name returns "postgres".
func (p *Postgres) Name() string { return "postgres" }

// Build copies the numbers into a fresh table and indexes them.
func (p *Postgres) Build(ctx context.Context, in BuildInput) error {
	if _, err := p.db.Exec(ctx, `CREATE TABLE `+p.table+` (n bigint NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: create: %w", err)
	}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(in.Numbers) {
			return nil, nil
		}
		i++
		return []any{int64(in.Numbers[i-1])}, nil
	})
	if _, err := p.db.CopyFrom(ctx, pgx.Identifier{p.table}, []string{"n"}, src); err != nil {
		return fmt.Errorf("postgres: copy: %w", err)
	}
	if _, err := p.db.Exec(ctx, `ALTER TABLE `+p.table+` ADD PRIMARY KEY (n)`); err != nil {
		return fmt.Errorf("postgres: index: %w", err)
	}
	if _, err := p.db.Exec(ctx, `VACUUM ANALYZE `+p.table); err != nil {
		return fmt.Errorf("postgres: analyze: %w", err)
	}
	return nil
}

// LookupDependent makes one query per number, each after the last.
func (p *Postgres) LookupDependent(ctx context.Context, qs []uint64, zero uint64) (int, error) {
	conn, err := p.db.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	defer conn.Release()
	q := `SELECT EXISTS (SELECT 1 FROM ` + p.table + ` WHERE n = $1)`
	hits := 0
	var hit uint64
	for _, n := range qs {
		var ok bool
		if err := conn.QueryRow(ctx, q, int64(n^(hit&zero))).Scan(&ok); err != nil {
			return hits, fmt.Errorf("postgres: lookup: %w", err)
		}
		hit = 0
		if ok {
			hits++
			hit = 1
		}
	}
	return hits, nil
}

// LookupBatch asks for up to 10,000 numbers per query.
func (p *Postgres) LookupBatch(ctx context.Context, qs []uint64, out []bool) error {
	const chunk = 10000
	for start := 0; start < len(qs); start += chunk {
		end := min(start+chunk, len(qs))
		args := make([]int64, end-start)
		pos := make(map[int64][]int, end-start)
		for i, n := range qs[start:end] {
			args[i] = int64(n)
			pos[int64(n)] = append(pos[int64(n)], start+i)
			out[start+i] = false
		}
		rows, err := p.db.Query(ctx, `SELECT n FROM `+p.table+` WHERE n = ANY($1)`, args)
		if err != nil {
			return fmt.Errorf("postgres: batch: %w", err)
		}
		found, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("postgres: batch: %w", err)
		}
		for _, n := range found {
			for _, i := range pos[n] {
				out[i] = true
			}
		}
	}
	return nil
}

// Apply deletes and inserts in one transaction.
func (p *Postgres) Apply(ctx context.Context, adds, dels []uint64) error {
	toInt := func(xs []uint64) []int64 {
		out := make([]int64, len(xs))
		for i, x := range xs {
			out[i] = int64(x)
		}
		return out
	}
	return pgx.BeginFunc(ctx, p.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM `+p.table+` WHERE n = ANY($1)`, toInt(dels)); err != nil {
			return fmt.Errorf("postgres: delete: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+p.table+` SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING`, toInt(adds)); err != nil {
			return fmt.Errorf("postgres: insert: %w", err)
		}
		return nil
	})
}

// Bytes returns the table's size with its index.
func (p *Postgres) Bytes() (int64, error) {
	var n int64
	if err := p.db.QueryRow(context.Background(), `SELECT pg_total_relation_size($1::regclass)`, p.table).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: size: %w", err)
	}
	return n, nil
}

// SaveSnapshot is not a PostgreSQL notion: the table is its own storage.
func (p *Postgres) SaveSnapshot(context.Context, string) error {
	return fmt.Errorf("postgres snapshot: %w", errors.ErrUnsupported)
}

// Release keeps the table: nothing is held in this process.
func (p *Postgres) Release() error { return nil }

// LoadSnapshot is not a PostgreSQL notion.
func (p *Postgres) LoadSnapshot(context.Context, string) error {
	return fmt.Errorf("postgres snapshot: %w", errors.ErrUnsupported)
}

// Close drops the table.
func (p *Postgres) Close() error {
	if _, err := p.db.Exec(context.Background(), `DROP TABLE IF EXISTS `+p.table); err != nil {
		return fmt.Errorf("postgres: drop: %w", err)
	}
	return nil
}
