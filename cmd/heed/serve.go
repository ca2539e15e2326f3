package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"riverqueue.com/riverui"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/account"
	"github.com/heed-dialer/heed/internal/audit"
	"github.com/heed-dialer/heed/migrations"
	"github.com/heed-dialer/heed/web"
)

func (m *Main) serve(ctx context.Context, args []string) error {
	f := m.flags("serve")
	dbURL := f.databaseURL()
	listen := f.str("listen", "HEED_LISTEN", "127.0.0.1:8080", "address for the web UI and API")
	migrate := f.boolean("migrate", "HEED_MIGRATE", false, "apply pending migrations before serving")
	ariURL := f.str("ari-url", "HEED_ARI_URL", "http://127.0.0.1:8088/ari", "Asterisk ARI base URL")
	ariUser := f.str("ari-user", "HEED_ARI_USER", "heed", "ARI user")
	ariPassword := f.str("ari-password", "HEED_ARI_PASSWORD", "", "ARI password")
	ariApp := f.str("ari-app", "HEED_ARI_APP", "heed", "ARI (Stasis) application name")
	ariName := f.str("asterisk-name", "HEED_ASTERISK_NAME", "asterisk-1", "name of this Asterisk in attempt rows")
	amdContext := f.str("amd-context", "HEED_AMD_CONTEXT", "heed-amd", "dialplan context for answering-machine detection; empty turns it off")
	trunk := f.str("trunk", "HEED_TRUNK", "PJSIP/%s@pstn", "endpoint format for outbound calls; %s is the E.164 number")
	dncDir := f.dncDir()
	mediaDir := f.str("media-dir", "HEED_MEDIA_DIR", "/var/lib/heed/media", "directory heed writes message audio to")
	astMediaDir := f.str("asterisk-media-dir", "HEED_ASTERISK_MEDIA_DIR", "", "the media directory as Asterisk sees it (default: same as --media-dir)")
	ariTimeout := f.integer("ari-timeout", "HEED_ARI_TIMEOUT", 15, "seconds to wait for ARI at start")
	asteriskList := f.str("asterisks", "HEED_ASTERISKS", "", "several Asterisks: a JSON list of {name, url, user, password, app, trunk, amd_context, max_calls, cps}, "+
		"or name=url,name=url; fields left out take the single-Asterisk settings (default: the one Asterisk of --ari-url)")
	maxCalls := f.integer("asterisk-max-calls", "HEED_ASTERISK_MAX_CALLS", 0, "calls in flight per Asterisk at most; 0 means no cap")
	cps := f.str("asterisk-cps", "HEED_ASTERISK_CPS", "0", "calls originated per second per Asterisk at most; 0 means no cap")
	workers := f.integer("workers", "HEED_WORKERS", 50, "campaigns one process runs at once")
	uploadMB := f.integer("upload-limit-mb", "HEED_UPLOAD_LIMIT_MB", 10, "largest upload accepted, in MiB")
	secure := f.boolean("secure-cookies", "HEED_SECURE_COOKIES", false, "mark cookies Secure (behind HTTPS)")
	trustedProxies := f.str("trusted-proxies", "HEED_TRUSTED_PROXIES", "127.0.0.1,::1", "addresses or CIDR ranges of the reverse proxies in front of heed, comma-separated, "+
		"whose --proxy-header names the client (by default a proxy on this machine); none: the client is always the connection's peer")
	proxyHeader := f.str("proxy-header", "HEED_PROXY_HEADER", "X-Forwarded-For", "header the trusted proxies name the client in: X-Forwarded-For or X-Real-IP")
	firmName := f.str("firm-name", "HEED_FIRM_NAME", "", "the firm's registered name: every call says it first; the public opt-out page shows it (required)")
	optOutNumber := f.str("optout-number", "HEED_OPTOUT_NUMBER", "", "toll-free number (area code "+consent.TollFreeAreaCodes+") that takes opt-outs, left on answering machines; "+
		"heed refuses to start with any other (default: each campaign's callback number, which its launch checks then require to be toll-free)")
	timeZone := f.timeZone("the web pages show times in, with its abbreviation")
	recordingsDir := f.str("recordings-dir", "HEED_RECORDINGS_DIR", "/var/lib/heed/recordings", "directory for the recordings of recorded calls")
	logLevel := f.str("log-level", "HEED_LOG_LEVEL", "info", "debug, info, warn or error")
	if err := f.parse(args); err != nil {
		return err
	}
	log := m.logger(*logLevel)
	if *dbURL == "" {
		return fmt.Errorf("no database: set DATABASE_URL or --database-url: %w", errUsage)
	}
	proxies, err := parseTrustedProxies(*trustedProxies)
	if err != nil {
		return err
	}
	if h := http.CanonicalHeaderKey(strings.TrimSpace(*proxyHeader)); h != "X-Forwarded-For" && h != "X-Real-Ip" {
		return fmt.Errorf("--proxy-header %q: want X-Forwarded-For or X-Real-IP: %w", *proxyHeader, errUsage)
	}
	if *astMediaDir == "" {
		*astMediaDir = *mediaDir
	}
	defCPS, err := strconv.ParseFloat(*cps, 64)
	if err != nil || defCPS < 0 {
		return fmt.Errorf("--asterisk-cps %q: want a number of calls per second, 0 or more: %w", *cps, errUsage)
	}
	if *workers < 1 {
		return fmt.Errorf("--workers %d: want at least 1: %w", *workers, errUsage)
	}
	// Every campaign's voicemail leaves this number for opt-outs, and rule
	// F7 makes it toll-free: a number that is not refuses the start, before
	// anything runs, since campaigns already running go on after a restart
	// without launch checks.
	if *optOutNumber != "" {
		p, err := consent.ParseTollFree(*optOutNumber)
		if err != nil {
			return fmt.Errorf("--optout-number (HEED_OPTOUT_NUMBER) %q: %w; every call's voicemail leaves this number for opt-outs: "+
				"set the firm's toll-free opt-out line, or leave it unset to leave each campaign's callback number, which must then be toll-free: %w",
				*optOutNumber, err, errUsage)
		}
		*optOutNumber = p.String()
	}
	asterisks, err := parseAsterisks(*asteriskList, asteriskConfig{
		Name: *ariName, URL: *ariURL, User: *ariUser, Password: *ariPassword, App: *ariApp, Trunk: *trunk,
		AMDContext: amdContext, MaxCalls: *maxCalls, CPS: defCPS,
	})
	if err != nil {
		return err
	}
	pcfg, err := poolConfig(*dbURL)
	if err != nil {
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	// Each running campaign holds its lease on a connection of its own,
	// from a pool apart from the one everything else queries with.
	lcfg := pcfg.Copy()
	lcfg.MaxConns, lcfg.MinConns = int32(*workers), 0
	lcfg.ConnConfig.RuntimeParams["application_name"] = leaseApplication
	leasePool, err := pgxpool.NewWithConfig(ctx, lcfg)
	if err != nil {
		return fmt.Errorf("database: leases: %w", err)
	}
	defer leasePool.Close()
	// Whatever way serve returns, the loops it starts below (policy,
	// indexes, opt-out records, campaign events) stop before the pools
	// close: a pool waits for the connections they hold.
	ctx, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	if *migrate {
		res, err := migrations.Up(ctx, pool)
		if err != nil {
			return err
		}
		log.Info("migrations applied", "heed", len(res.Applied), "river", len(res.RiverApplied))
	} else if err := migrations.Check(ctx, pool); err != nil {
		return err
	}
	// The audit chain's head, now and every hour: logs kept elsewhere
	// witness it, so that a rewrite of the whole chain shows to `heed
	// audit verify --head`.
	headsLogged := make(chan struct{})
	go func() {
		defer close(headsLogged)
		logAuditHeads(ctx, pool, log, auditHeadEvery)
	}()
	defer func() {
		stopLoops()
		<-headsLogged
	}()

	if strings.TrimSpace(*firmName) == "" {
		return fmt.Errorf("no firm name: every call must say the firm's registered name first; set HEED_FIRM_NAME or --firm-name: %w", errUsage)
	}
	zone, err := loadZone(*timeZone)
	if err != nil {
		return err
	}
	store := campaign.NewStore(pool)
	installation, err := store.Installation(ctx)
	if err != nil {
		return err
	}
	lines, err := dialer.NewPool(ctx, dialer.PoolConfig{
		Members:        poolMembers(asterisks, installation, *recordingsDir, store.TakeOrphanOptOut, store.NoteOrphan, log),
		ConnectTimeout: time.Duration(*ariTimeout) * time.Second,
		Log:            log,
	})
	if err != nil {
		return fmt.Errorf("%w (is Asterisk running? check --ari-url or --asterisks, and the ARI password)", err)
	}
	defer lines.Close()

	// The engine is built from the firm settings stored in PostgreSQL and
	// rebuilt whenever a new version is saved. A stored policy that cannot
	// be built stops start-up: heed never falls back to looser defaults.
	policy := dialer.NewPolicy(pool, log)
	if err := policy.Load(ctx); err != nil {
		return fmt.Errorf("policy engine: %w", err)
	}
	go policy.Run(ctx)
	engine := policy.Engine()
	store.Limits = func() consent.DialingLimits { return policy.Engine().Limits().DialingLimits }
	indexes := dialer.NewIndexes(pool, log)
	registry := dnc.NewRegistry(pool, *dncDir)
	indexes.Registry = registry
	if err := indexes.Load(ctx); err != nil {
		return fmt.Errorf("indexes: %w", err)
	}
	go indexes.Run(ctx)
	// Opt-outs pressed on calls that could not take them and whose retries
	// a stopped process did not finish, before any campaign runs again.
	recovered, err := store.RecoverOptOuts(ctx)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if recovered > 0 {
		log.Warn("took key-press opt-outs a stopped process had not taken", "opt_outs", recovered)
	}
	// Opt-outs taken whose records waited for the database, here or in a
	// process that stopped.
	go campaign.KeepRecordingOptOuts(ctx, pool, log)
	media := dialer.Media{HostDir: *mediaDir, AsteriskDir: *astMediaDir}
	pacer := &dialer.Pacer{
		Gate:  &dialer.PolicyGate{Policy: policy, Indexes: indexes},
		Store: store,
		Lines: lines,
		Media: media,
		Log:   log,
		Now:   m.Now,
		Firm:  *firmName, OptOutNumber: *optOutNumber,
		Overrides: consent.NewOverrideStore(pool), Reassigned: consent.NewReassignedStore(pool),
	}
	// Runs after River has stopped (its campaign jobs, and their calls, are
	// over) and before the lines and the database pool close: the writes
	// the pacer still keeps trying get their last try.
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), drainWait)
		defer cancel()
		if err := pacer.Drain(dctx); err != nil {
			log.Error("pacer: writes still being tried at stop were abandoned", "err", err)
		}
	}()
	log.Info("policy engine ready", "packs", engine.Version(), "settings_version", policy.Version())
	ws := river.NewWorkers()
	river.AddWorker(ws, &campaign.RunWorker{DB: pool, Leases: campaign.NewLeases(leasePool), Store: store, Pacer: pacer, Reconciler: lines, Log: log})
	// The nightly calls check of each day, at CheckHour in the firm's zone.
	checks := &campaign.CheckWorker{Zone: zone, Log: log}
	river.AddWorker(ws, checks)
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:       map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: *workers}},
		Workers:      ws,
		PeriodicJobs: []*river.PeriodicJob{campaign.NightlyCheck(zone, now)},
		// River reports job counts every few seconds at info; keep its warnings.
		Logger: m.logger(maxLevel(*logLevel, "warn")).With("component", "river"),
	})
	if err != nil {
		return fmt.Errorf("river: %w", err)
	}
	// The service is whole before any job can run.
	campaigns := campaign.NewService(pool, rc)
	campaigns.Copies = indexes
	// The launch checks time the calls on the audio the pacer plays,
	// rendered into the same media directory; where an Asterisk runs
	// detection, the calls of a campaign that does not turn it off
	// (amd.off) cannot be timed (dialer.ErrDetection).
	campaigns.Launch = &campaign.Launch{Engine: policy.Engine, Firm: *firmName, OptOutNumber: *optOutNumber, NationalAsOf: registry.NationalAsOf, Now: m.Now,
		Voice: media, NoDetection: noDetection(asterisks)}
	checks.Service = campaigns
	if err := rc.Start(ctx); err != nil {
		return fmt.Errorf("river: start: %w", err)
	}
	// Stopping River, on any return from here on: it runs before the
	// pacer's drain (deferred earlier) and the lines' close.
	stopRiver := sync.OnceFunc(func() { stopCampaigns(rc, lines, pacer, log) })
	defer stopRiver()
	// River's own job UI, for admins at /admin/jobs.
	jobs, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: riverui.NewEndpoints(rc, nil),
		Logger: m.logger(maxLevel(*logLevel, "warn")).With("component", "riverui"), Prefix: web.JobsPrefix})
	if err != nil {
		return fmt.Errorf("river UI: %w", err)
	}
	if err := jobs.Start(ctx); err != nil {
		return fmt.Errorf("river UI: start: %w", err)
	}

	resumed, err := campaigns.Resume(ctx)
	if err != nil {
		return err
	}
	if resumed.Resumed > 0 {
		log.Info("resumed running campaigns", "campaigns", resumed.Resumed)
	}
	for _, p := range resumed.Paused {
		log.Error("campaign paused at start: its launch checks now refuse it; fix what they name and start it again", "campaign", p.ID, "why", p.Why.Error())
	}
	deviceKey, err := web.DeviceKey(ctx, pool)
	if err != nil {
		return err
	}
	srv, err := web.New(web.Config{
		DB: pool, Accounts: account.NewService(pool), Campaigns: campaigns, DNC: dnc.NewPGStore(pool), Registry: registry, Media: media,
		Log: log, UploadLimit: int64(*uploadMB) << 20, SecureCookies: *secure, FirmName: *firmName,
		TrustedProxies: proxies, ProxyHeader: *proxyHeader,
		RecordingsDir: *recordingsDir, Jobs: jobs, TimeZone: zone, Preview: pacer, Now: m.Now, DeviceKey: deviceKey,
		Ready: append([]web.Check{{Name: "postgres", Run: pool.Ping}}, asteriskChecks(lines)...),
	})
	if err != nil {
		return err
	}
	go srv.Listen(ctx)
	ln := m.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", *listen); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	// The campaign pages' event streams never go idle on their own.
	hs.RegisterOnShutdown(srv.CloseStreams)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("heed is serving", "addr", "http://"+ln.Addr().String(), "version", version)
	if m.Started != nil {
		m.Started(ln.Addr().String())
	}
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	log.Info("heed is stopping")
	// Each step has its own deadline: one that overruns does not leave the
	// next an expired context.
	hctx, hcancel := context.WithTimeout(context.Background(), httpStopWait)
	defer hcancel()
	if serr := hs.Shutdown(hctx); serr != nil {
		log.Warn("http: stop", "err", serr)
	}
	stopRiver()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http: %w", err)
	}
	return nil
}

// auditHeadEvery is how often heed serve logs the audit chain's head.
const auditHeadEvery = time.Hour

// logAuditHeads logs the audit chain's head (audit.LatestHead) at once and
// then every interval, until ctx ends: "audit: chain head" at info, with
// the latest row's seq and hash. A head that cannot be read is logged as a
// warning, and the next interval tries again.
func logAuditHeads(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		h, err := audit.LatestHead(ctx, pool)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Warn("audit: chain head not read", "err", err)
		default:
			log.Info("audit: chain head", "seq", h.Seq, "hash", h.Hash)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// stopCampaigns cancels the running campaign jobs: they stop taking
// contacts, follow their calls in flight for a while, and are picked up
// again on restart. The calls still up after that are hung up, so that
// their ends, and any key pressed on them (a 9 is an opt-out), are
// recorded while Asterisk's events are still heard, rather than left
// silent on Asterisk until its own limit and closed as unknown by the
// next start.
func stopCampaigns(rc *river.Client[pgx.Tx], lines *dialer.Pool, pacer *dialer.Pacer, log *slog.Logger) {
	rctx, cancel := context.WithTimeout(context.Background(), riverStopWait)
	defer cancel()
	if err := rc.StopAndCancel(rctx); err != nil {
		log.Warn("river: stop", "err", err)
	}
	hctx, hcancel := context.WithTimeout(context.Background(), hangUpWait)
	defer hcancel()
	if n := lines.HangUpAll(hctx); n > 0 {
		log.Warn("hung up the calls still up as heed stops", "calls", n)
	}
	if err := pacer.WaitLanded(hctx); err != nil {
		log.Error("calls whose ends were not recorded as heed stopped: the next start settles them", "err", err)
	}
}

// How long each step of stopping heed serve may take: the web server's
// requests, then the campaign jobs (each follows its calls in flight for up
// to 30 s once cancelled), then hanging up the calls still up and
// recording their ends, then the writes the pacer keeps trying in the
// background (each has one last try of a few seconds).
const (
	httpStopWait  = 20 * time.Second
	riverStopWait = 45 * time.Second
	hangUpWait    = 10 * time.Second
	drainWait     = 15 * time.Second
)

// maxLevel returns the stricter of two log levels.
func maxLevel(a, b string) string {
	var la, lb slog.Level
	if la.UnmarshalText([]byte(strings.ToUpper(a))) != nil {
		return b
	}
	if lb.UnmarshalText([]byte(strings.ToUpper(b))) != nil || la > lb {
		return a
	}
	return b
}

// parseTrustedProxies reads the --trusted-proxies list: addresses and
// CIDR ranges separated by commas, or "none". An address alone is a
// range of one.
func parseTrustedProxies(list string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	if strings.EqualFold(strings.TrimSpace(list), "none") {
		return nil, nil
	}
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !strings.Contains(item, "/") {
			ip := net.ParseIP(item)
			if ip == nil {
				return nil, fmt.Errorf("--trusted-proxies: %q is not an address or a CIDR range such as 10.0.0.0/8: %w", item, errUsage)
			}
			bits := 128
			if ip4 := ip.To4(); ip4 != nil {
				ip, bits = ip4, 32
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, r, err := net.ParseCIDR(item)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %q is not an address or a CIDR range such as 10.0.0.0/8: %w", item, errUsage)
		}
		out = append(out, r)
	}
	return out, nil
}

// asteriskConfig is one Asterisk as configured: how to reach it over ARI,
// how to dial through it, and its caps.
type asteriskConfig struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	User     string `json:"user"`
	Password string `json:"password"`
	App      string `json:"app"`
	Trunk    string `json:"trunk"`
	// AMDContext is a pointer so that "" can turn detection off for one
	// Asterisk while the others keep the default.
	AMDContext *string `json:"amd_context"`
	MaxCalls   int     `json:"max_calls"`
	CPS        float64 `json:"cps"`
}

// parseAsterisks reads the --asterisks list: a JSON array of
// asteriskConfig, or name=url pairs separated by commas. Fields left out
// take def's; an empty list is def alone (the single-Asterisk settings).
func parseAsterisks(list string, def asteriskConfig) ([]asteriskConfig, error) {
	list = strings.TrimSpace(list)
	var out []asteriskConfig
	switch {
	case list == "":
		out = []asteriskConfig{def}
	case strings.HasPrefix(list, "["):
		dec := json.NewDecoder(bytes.NewReader([]byte(list)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out); err != nil {
			return nil, fmt.Errorf("--asterisks: %v: %w", err, errUsage)
		}
		for i := range out {
			a := &out[i]
			for _, f := range []struct{ v, d *string }{{&a.User, &def.User}, {&a.Password, &def.Password}, {&a.App, &def.App}, {&a.Trunk, &def.Trunk}} {
				if *f.v == "" {
					*f.v = *f.d
				}
			}
			if a.AMDContext == nil {
				a.AMDContext = def.AMDContext
			}
			if a.MaxCalls == 0 {
				a.MaxCalls = def.MaxCalls
			}
			if a.CPS == 0 {
				a.CPS = def.CPS
			}
		}
	default:
		for _, item := range strings.Split(list, ",") {
			name, url, ok := strings.Cut(strings.TrimSpace(item), "=")
			if !ok {
				return nil, fmt.Errorf("--asterisks: %q is not name=url: %w", item, errUsage)
			}
			a := def
			a.Name, a.URL = strings.TrimSpace(name), strings.TrimSpace(url)
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--asterisks: the list is empty: %w", errUsage)
	}
	seen := map[string]bool{}
	for _, a := range out {
		switch {
		case a.Name == "" || a.URL == "":
			return nil, fmt.Errorf("--asterisks: every Asterisk needs a name and a url (got name %q, url %q): %w", a.Name, a.URL, errUsage)
		case seen[a.Name]:
			return nil, fmt.Errorf("--asterisks: %q is listed twice: %w", a.Name, errUsage)
		case a.MaxCalls < 0 || a.CPS < 0:
			return nil, fmt.Errorf("--asterisks: %s: max_calls and cps must not be negative: %w", a.Name, errUsage)
		case !strings.Contains(a.Trunk, "%s"):
			return nil, fmt.Errorf("--asterisks: %s: trunk %q has no %%s for the number: %w", a.Name, a.Trunk, errUsage)
		}
		seen[a.Name] = true
	}
	return out, nil
}

// noDetection reports that none of the Asterisks runs answering-machine
// detection: each one's AMD context is empty.
func noDetection(asterisks []asteriskConfig) bool {
	for _, a := range asterisks {
		if a.AMDContext != nil && *a.AMDContext != "" {
			return false
		}
	}
	return true
}

// poolMembers turns the configured Asterisks into the dialer pool's members;
// orphanOptOut takes the opt-out key pressed on a call a stopped process
// left (dialer.ARIConfig.OrphanOptOut), and orphanEnded records what became
// of such a call (dialer.ARIConfig.OrphanEnded).
func poolMembers(asterisks []asteriskConfig, installation, recordingsDir string, orphanOptOut func(context.Context, int64) error,
	orphanEnded func(context.Context, int64, dialer.Orphan) error, log *slog.Logger) []dialer.PoolMember {
	members := make([]dialer.PoolMember, 0, len(asterisks))
	for _, a := range asterisks {
		amd := ""
		if a.AMDContext != nil {
			amd = *a.AMDContext
		}
		cfg := dialer.ARIConfig{
			Name: a.Name, URL: a.URL, Username: a.User, Password: a.Password, Application: a.App, Trunk: a.Trunk,
			Installation: installation, AMDContext: amd, RecordingsDir: recordingsDir, OrphanOptOut: orphanOptOut,
			OrphanEnded: orphanEnded,
		}
		members = append(members, dialer.PoolMember{
			Name: a.Name, MaxCalls: a.MaxCalls, CallsPerSecond: a.CPS,
			Connect: func(ctx context.Context) (dialer.Member, error) {
				sw, err := dialer.NewSwitch(ctx, cfg, log)
				if err != nil {
					return nil, err
				}
				return sw, nil
			},
		})
	}
	return members
}

// asteriskChecks reports each Asterisk of the pool in /readyz, as
// "asterisk:NAME".
func asteriskChecks(p *dialer.Pool) []web.Check {
	names := p.Names()
	var out []web.Check
	for _, name := range names {
		// With several Asterisks one that is down degrades heed (the pool
		// skips it); heed is not ready only when none answers.
		out = append(out, web.Check{Name: "asterisk:" + name, Run: func(ctx context.Context) error { return p.Ping(ctx, name) },
			Degrades: len(names) > 1})
	}
	if len(names) > 1 {
		out = append(out, web.Check{Name: "asterisks", Run: func(ctx context.Context) error {
			var errs []error
			for _, name := range names {
				err := p.Ping(ctx, name)
				if err == nil {
					return nil
				}
				errs = append(errs, err)
			}
			return fmt.Errorf("no Asterisk answers: %w", errors.Join(errs...))
		}})
	}
	return out
}
