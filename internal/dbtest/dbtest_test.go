package dbtest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/migrations"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestFreshMigratedDatabase(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	ctx := context.Background()
	require.NoError(t, migrations.Check(ctx, pool))
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n))
	require.Zero(t, n)
	_, err := pool.Exec(ctx, `INSERT INTO users (email, role, password_hash) VALUES ('a@b', 'admin', 'x')`)
	require.NoError(t, err)

	// A second database is independent of the first.
	other := dbtest.New(t)
	require.NoError(t, other.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n))
	require.Zero(t, n)

	// Up is idempotent.
	res, err := migrations.Up(ctx, pool)
	require.NoError(t, err)
	require.Empty(t, res.Applied)
	require.Empty(t, res.RiverApplied)
}
