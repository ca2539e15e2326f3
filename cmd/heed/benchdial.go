package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/asterisk/testbed"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dialer/dialbench"
	"github.com/heed-dialer/heed/migrations"
)

// benchDial measures the calls per second heed places through one Asterisk
// against a bare loop of ARI originates, in one run, on a scratch database.
func (m *Main) benchDial(ctx context.Context, args []string) error {
	f := m.flags("bench dial")
	dbURL := f.databaseURL()
	useTestbed := f.Bool("testbed", false, "start the Asterisk testbed (a PBX and a PSTN simulator on loopback) and dial it, instead of HEED_ARI_*")
	calls := f.Int("calls", dialbench.DefaultCalls, "calls in each measured phase")
	concurrency := f.Int("concurrency", dialbench.DefaultConcurrency, "calls up at once (the campaign's max_concurrent and the bare loop's workers)")
	rounds := f.Int("rounds", dialbench.DefaultRounds, "measured rounds, each one bare and one heed phase, in alternating order")
	warmup := f.Int("warmup", 0, "calls in each phase of the unmeasured warm-up round (default: the concurrency; -1: none)")
	stepTimes := f.Bool("steps", false, "time each step of heed's pacing loop and call flow, and print where the time goes")
	keepDB := f.Bool("keep-db", false, "keep the scratch database and print its name")
	inPlace := f.Bool("in-place", false, "use the database itself (migrated) instead of a scratch database on its server; it keeps the bench's contacts, consents and campaigns")
	asJSON := f.Bool("json", false, `print only {"heed_cps","bare_ari_cps","ratio","heed_cpu_ms_per_call"} on stdout`)
	ariURL := f.str("ari-url", "HEED_ARI_URL", "http://127.0.0.1:8088/ari", "Asterisk ARI base URL")
	ariUser := f.str("ari-user", "HEED_ARI_USER", "heed", "ARI user")
	ariPassword := f.str("ari-password", "HEED_ARI_PASSWORD", "", "ARI password")
	ariApp := f.String("ari-app", "heed-bench", "prefix of the two ARI (Stasis) application names the bench uses (-heed and -bare); must differ from heed serve's")
	ariName := f.str("asterisk-name", "HEED_ASTERISK_NAME", "asterisk-1", "name of this Asterisk in attempt rows")
	amdContext := f.str("amd-context", "HEED_AMD_CONTEXT", "heed-amd", "dialplan context for answering-machine detection; empty turns it off")
	trunk := f.str("trunk", "HEED_TRUNK", "PJSIP/%s@pstn", "endpoint format for outbound calls; %s is the E.164 number")
	mediaDir := f.str("media-dir", "HEED_MEDIA_DIR", "/var/lib/heed/media", "directory heed writes message audio to")
	astMediaDir := f.str("asterisk-media-dir", "HEED_ASTERISK_MEDIA_DIR", "", "the media directory as Asterisk sees it (default: same as --media-dir)")
	ariTimeout := f.integer("ari-timeout", "HEED_ARI_TIMEOUT", 15, "seconds to wait for ARI at start")
	logLevel := f.String("log-level", "warn", "heed's log level during the bench: debug, info, warn or error")
	if err := f.parse(args); err != nil {
		return err
	}
	if *dbURL == "" {
		return fmt.Errorf("no database: set DATABASE_URL or --database-url (the bench makes a scratch database on that server): %w", errUsage)
	}
	if *astMediaDir == "" {
		*astMediaDir = *mediaDir
	}
	ari := dialer.ARIConfig{Name: *ariName, URL: *ariURL, Username: *ariUser, Password: *ariPassword, Application: *ariApp,
		Trunk: *trunk, AMDContext: *amdContext}
	media := dialer.Media{HostDir: *mediaDir, AsteriskDir: *astMediaDir}
	// The law's calling windows hold against a real Asterisk; only the
	// simulator, where no one is called, is dialed at office hours whatever
	// the time.
	now := time.Now
	var tb *testbed.Testbed
	if *useTestbed {
		fmt.Fprintln(m.Stderr, "bench dial: starting the Asterisk testbed...")
		sctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		var err error
		tb, err = testbed.Start(sctx, testbed.Options{})
		cancel()
		if err != nil {
			return fmt.Errorf("bench dial: %w", err)
		}
		defer tb.Close() //nolint:errcheck // best effort at exit
		ari.URL, ari.WebsocketURL, ari.Username, ari.Password = tb.ARIURL, tb.WebsocketURL, tb.ARIUser, tb.ARIPassword
		// The testbed's PBX has the production dialplan, so --amd-context
		// (heed-amd unless turned off) holds as given.
		ari.Trunk = tb.Trunk
		media = dialer.Media{HostDir: tb.HostMediaDir, AsteriskDir: tb.AsteriskMediaDir}
		now = dialbench.OfficeHours()
	} else {
		fmt.Fprintf(m.Stderr, "bench dial: dialing through %s with %s: make sure it leads to a PSTN simulator\n", *ariURL, *trunk)
	}

	var pool *pgxpool.Pool
	if *inPlace {
		pcfg, err := poolConfig(*dbURL)
		if err != nil {
			return err
		}
		if pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
			return fmt.Errorf("database: %w", err)
		}
		if err := migrations.Check(ctx, pool); err != nil {
			pool.Close()
			return err
		}
	} else {
		var drop func()
		var err error
		if pool, drop, err = scratchDB(ctx, *dbURL, *keepDB, m); err != nil {
			return err
		}
		defer drop()
	}
	defer pool.Close()

	rep, err := dialbench.Run(ctx, dialbench.Options{
		DB: pool, ARI: ari, Media: media, Calls: *calls, Concurrency: *concurrency, Rounds: *rounds, Warmup: *warmup,
		Now: now, Log: m.logger(*logLevel), Progress: m.Stderr, Steps: *stepTimes, ConnectTimeout: time.Duration(*ariTimeout) * time.Second,
	})
	if err != nil {
		return err
	}
	if tb != nil {
		// The simulator writes a call's record as the call ends; give the
		// last ones a moment.
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		total := 0
		for _, ph := range rep.Phases {
			total += ph.Calls
		}
		recs, err := tb.WaitPSTNCalls(wctx, total)
		if err != nil {
			return fmt.Errorf("bench dial: %w", err)
		}
		if err := rep.CheckCDR(recs); err != nil {
			return err
		}
		fmt.Fprintf(m.Stderr, "bench dial: the PSTN simulator's CDR holds exactly one record per call of every phase (%d)\n", total)
	}
	if *asJSON {
		return rep.WriteJSON(m.Stdout)
	}
	return rep.WriteTable(m.Stdout)
}

// scratchDB creates a database of its own on the server of url, migrates it
// and returns a pool on it, and a function that drops it (unless keep).
// The bench's contacts, consents and campaigns never mix with real ones.
func scratchDB(ctx context.Context, url string, keep bool, m *Main) (*pgxpool.Pool, func(), error) {
	// pgxpool's parser takes pool settings such as pool_max_conns, which
	// the scratch database's pool keeps.
	pcfg, err := poolConfig(url)
	if err != nil {
		return nil, nil, err
	}
	cfg := pcfg.ConnConfig.Copy()
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("database: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "heed_bench_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, nil, fmt.Errorf("bench dial: create the scratch database (needs CREATEDB; or use --in-place on a throwaway database): %w", err)
	}
	drop := func() {
		if keep {
			fmt.Fprintf(m.Stderr, "bench dial: kept the scratch database %s\n", name)
			return
		}
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.ConnectConfig(dctx, cfg)
		if err == nil {
			_, err = conn.Exec(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(dctx)
		}
		if err != nil {
			fmt.Fprintf(m.Stderr, "bench dial: could not drop the scratch database %s: %v\n", name, err)
		}
	}
	pcfg.ConnConfig.Database = name
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		drop()
		return nil, nil, fmt.Errorf("database: %w", err)
	}
	if _, err := migrations.Up(ctx, pool); err != nil {
		pool.Close()
		drop()
		return nil, nil, fmt.Errorf("bench dial: migrate the scratch database: %w", err)
	}
	return pool, drop, nil
}
