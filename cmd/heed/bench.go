package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/dialer/gatebench"
	"github.com/heed-dialer/heed/dnc/dncbench"
)

// benchDNC measures the do-not-call index side by side with the baselines,
// in one run, on the same generated data.
func (m *Main) benchDNC(ctx context.Context, args []string) error {
	f := m.flags("bench dnc")
	dbURL := f.databaseURL()
	numbers := f.Int("numbers", 1_000_000, "how many numbers (the national registry is about 260,000,000)")
	dataset := f.String("dataset", "random", "random (over the real US area codes) or clustered")
	structures := f.String("structures", "", "comma-separated subset of heed,map,sorted,roaring,bitmap,postgres (default: all)")
	phase := f.Duration("phase", 3*time.Second, "time bound of each lookup phase")
	seed := f.Uint64("seed", 1, "data seed: the same seed gives the same data")
	asJSON := f.Bool("json", false, `print {"numbers":N,"results":[{"name",...}]}`)
	if err := f.parse(args); err != nil {
		return err
	}
	opts := dncbench.Options{Numbers: *numbers, Dataset: *dataset, Seed: *seed, PhaseTime: *phase, Log: m.Stderr}
	wantPG := true
	if *structures != "" {
		wantPG = false
		for _, s := range strings.Split(*structures, ",") {
			if s = strings.TrimSpace(s); s == "postgres" {
				wantPG = true
			} else {
				opts.Structures = append(opts.Structures, s)
			}
		}
		if len(opts.Structures) == 0 {
			opts.Structures = []string{}
		}
	}
	if wantPG {
		if *dbURL == "" {
			if *structures != "" {
				return fmt.Errorf("the postgres baseline needs DATABASE_URL: %w", errUsage)
			}
			fmt.Fprintln(m.Stderr, "bench: no DATABASE_URL, so no postgres baseline")
		} else {
			pool, err := pgxpool.New(ctx, *dbURL)
			if err != nil {
				return fmt.Errorf("database: %w", err)
			}
			defer pool.Close()
			opts.Extra = append(opts.Extra, dncbench.NewPostgres(pool))
		}
	}
	rep, err := dncbench.Run(ctx, opts)
	if err != nil {
		return err
	}
	if *asJSON {
		return rep.WriteJSON(m.Stdout)
	}
	return rep.WriteTable(m.Stdout)
}

// benchGate measures whole gate decisions (do-not-call, consent, window and
// caps) from memory, a pacing batch at a time (the headline figure) and one
// at a time, and the same decisions made with one SQL query each.
func (m *Main) benchGate(ctx context.Context, args []string) error {
	f := m.flags("bench gate")
	dbURL := f.databaseURL()
	dncNumbers := f.Int("dnc-numbers", 1_000_000, "national registry size (the target is 260,000,000)")
	consents := f.Int("consents", 100_000, "consent records (the target is 10,000,000)")
	sqlDNC := f.Int("sql-dnc-numbers", 0, "registry size on the SQL side (default: the same)")
	sqlConsents := f.Int("sql-consents", 0, "consent records on the SQL side (default: the same)")
	phase := f.Duration("phase", 2*time.Second, "time bound of each phase")
	rounds := f.Int("rounds", 3, "runs of each full-decision phase, taking turns; each figure is their median")
	seed := f.Uint64("seed", 1, "data seed")
	asJSON := f.Bool("json", false, `print {"decisions_per_s","allocs_per_decision","sql_decisions_per_s",...}: `+
		`decisions_per_s is the batched gate's; single_decisions_per_s, batch_vs_single and batch_vs_sql follow`)
	cpuProfile := f.String("cpuprofile", "", "write a CPU profile of the measurements to this file (make pgo turns one into cmd/heed/default.pgo)")
	if err := f.parse(args); err != nil {
		return err
	}
	opts := gatebench.Options{DNCNumbers: *dncNumbers, Consents: *consents, SQLDNCNumbers: *sqlDNC, SQLConsents: *sqlConsents,
		PhaseTime: *phase, Rounds: *rounds, Seed: *seed, Log: m.Stderr}
	if *dbURL == "" {
		fmt.Fprintln(m.Stderr, "bench: no DATABASE_URL, so no SQL side")
	} else {
		pool, err := pgxpool.New(ctx, *dbURL)
		if err != nil {
			return fmt.Errorf("database: %w", err)
		}
		defer pool.Close()
		opts.DB = pool
	}
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pf.Close()
		opts.Profile = pf
	}
	rep, err := gatebench.Run(ctx, opts)
	if err != nil {
		return err
	}
	if *asJSON {
		return rep.WriteJSON(m.Stdout)
	}
	return rep.WriteTable(m.Stdout)
}
