// Package dbtest gives each test a fresh, fully migrated PostgreSQL database,
// cloned from one migrated template (the pgtestdb pattern). It uses
// DATABASE_URL when set, and otherwise starts one private throwaway cluster
// per test binary. A test that needs PostgreSQL fails when it cannot start.
package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver for pgtestdb
	"github.com/peterldowns/pgtestdb"

	"github.com/heed-dialer/heed/internal/pgcluster"
	"github.com/heed-dialer/heed/migrations"
)

var (
	once    sync.Once
	base    pgtestdb.Config
	baseErr error
	cluster *pgcluster.Cluster
)

// Main runs the tests of a package, stops the private cluster if one was
// started, and exits. Call it from TestMain.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run runs the tests of a package and stops the private cluster, if one was
// started, afterwards. It returns the exit code for os.Exit.
func Run(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Stop stops the private cluster, if one was started.
func Stop() {
	if cluster != nil {
		_ = cluster.Stop()
		cluster = nil
	}
}

func setup() {
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cluster, baseErr = pgcluster.Start(ctx, pgcluster.Options{})
		if baseErr != nil {
			return
		}
		url = cluster.URL()
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		baseErr = fmt.Errorf("dbtest: DATABASE_URL: %w", err)
		return
	}
	base = pgtestdb.Config{
		DriverName: "pgx",
		Host:       cfg.Host,
		Port:       strconv.Itoa(int(cfg.Port)),
		User:       cfg.User,
		Password:   cfg.Password,
		Database:   cfg.Database,
		Options:    "sslmode=disable",
	}
}

type migrator struct{}

func (migrator) Hash() (string, error) { return migrations.Hash() }

func (migrator) Migrate(ctx context.Context, _ *sql.DB, conf pgtestdb.Config) error {
	pool, err := pgxpool.New(ctx, conf.URL())
	if err != nil {
		return fmt.Errorf("dbtest: template pool: %w", err)
	}
	defer pool.Close()
	_, err = migrations.Up(ctx, pool)
	return err
}

// URL returns the connection string of a fresh migrated database that lives
// as long as the test.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(setup)
	if baseErr != nil {
		t.Fatalf("PostgreSQL is required and could not be started: %v", baseErr)
	}
	conf := pgtestdb.Custom(t, base, migrator{})
	return conf.URL()
}

// New returns a pool on a fresh migrated database that lives as long as the test.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), URL(t))
	if err != nil {
		t.Fatalf("dbtest: pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// EmptyURL returns the connection string of a fresh database with no schema
// at all, for testing what heed does on an unmigrated database.
func EmptyURL(t testing.TB) string {
	t.Helper()
	once.Do(setup)
	if baseErr != nil {
		t.Fatalf("PostgreSQL is required and could not be started: %v", baseErr)
	}
	return pgtestdb.Custom(t, base, pgtestdb.NoopMigrator{}).URL()
}

// HoldLogs begins a transaction on db that holds the change log's and the
// audit log's locks (the advisory locks the triggers of
// migrations/sql/00002_index_changes.sql and 00004_audit_log.sql take), as
// a long import does for its whole transaction, until the returned
// function commits it; the test's end commits it too.
func HoldLogs(t testing.TB, db *pgxpool.Pool) (commit func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatalf("dbtest: hold the logs: %v", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(1751475557, 1), pg_advisory_xact_lock(1751475557, 2)`); err != nil {
		t.Fatalf("dbtest: hold the logs: %v", err)
	}
	var once sync.Once
	commit = func() {
		once.Do(func() {
			if err := tx.Commit(ctx); err != nil {
				t.Errorf("dbtest: release the logs: %v", err)
			}
		})
	}
	t.Cleanup(commit)
	return commit
}
