// Command heed is the heed autodialer: web UI, JSON API, campaign workers and
// the ARI call flow in one binary, plus its administrative commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // calling windows must not depend on the host's zoneinfo

	"github.com/heed-dialer/heed/campaign"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// testNow is nil in release builds. A binary built for a test with the
// heedtestclock tag sets it to the clock the test gives it (testclock.go).
var testNow func() time.Time

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Now: testNow}
	if err := m.Run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "heed:", err)
		}
		os.Exit(exitCode(err))
	}
}

// errUsage marks a command-line mistake (exit code 2).
var errUsage = errors.New("usage")

func exitCode(err error) int {
	switch {
	case errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp):
		return 2
	case errors.Is(err, errFindings):
		return 3
	}
	return 1
}

// Main is the heed program, made a value so tests can run it in-process
// (for example serving on port 0).
type Main struct {
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads configuration from the environment (HEED_* and DATABASE_URL).
	Getenv func(string) string
	// Listener, when set, is used by serve instead of --listen.
	Listener net.Listener
	// Started, when set, is called by serve once it is ready, with its address.
	Started func(addr string)
	// Now, when set, is the clock the dialer applies the law at. Only tests
	// set it (to run calling-window-bound campaigns at any hour); there is
	// deliberately no flag or variable for it.
	Now func() time.Time
}

const usage = `heed: an autodialer that checks consent and do-not-call rules before every call.

Usage:
  heed serve [flags]                        web UI, JSON API, campaign workers and ARI
  heed migrate                              apply database migrations (idempotent)
  heed user add --email E --role R          create a user (admin, attorney or paralegal)
  heed user list [--json]                   list the users
  heed user disable|enable --email E        disable a user (signed out, API tokens stopped) or enable them
  heed user role --email E --role R         change a user's role
  heed user password --email E [--password P]  reset a user's password (signs them out)
  heed token add --email E [--name N]       issue an API token for a user
  heed token list --email E                 list a user's API tokens
  heed token revoke --email E --id N        revoke one of a user's API tokens
  heed import contacts --list NAME FILE     import contacts from CSV or XLSX, all or nothing (--dry-run, --map)
  heed dnc add NUMBER [--method M] [--source S]  put a number on the internal do-not-call list
  heed dnc import --list L [--as-of D] F... import a registry download, a state list or the internal list
  heed dnc check NUMBER                     which do-not-call lists hold a number, since when
  heed dnc stats                            each list's size, date and memory
  heed demo                                 seed the demo list, consents and a first admin
  heed consent import [--revocations] [--by EMAIL] FILE  import consents (or revocations) from CSV or XLSX, all or nothing
  heed consent add --number N --kind K --scope P --obtained-at T --source S [--document FILE] --by EMAIL  record one consent
  heed consent reassigned FILE.csv          import Reassigned Numbers Database answers (phone,date,result[,answered_at])
  heed override add --number N --kind K --note T --by EMAIL [--relationship R] [--evidence T] [--expires RFC3339]
                                            an attorney logs a Reg F direct consent (regf_direct_consent) or a Rule 7.3 solicitation exception (solicitation_exception)
  heed override list [--number N]           logged overrides, newest first, with who logged them and their status
  heed override withdraw --id N --reason T --by EMAIL
                                            an attorney withdraws an override from now on
  heed callerid add --number N --label L --attest --by EMAIL
                                            an admin declares one of the firm's numbers a caller ID campaigns may send (rule F11)
  heed callerid list [--json]               the firm's caller IDs, current and retired, with the campaigns that send them
  heed callerid retire --number N|--id N --by EMAIL
                                            an admin retires a caller ID; the running campaigns that send it are paused
  heed check --number N --purpose P [...]   what the gate decides for a call, and why
  heed settings show [--json]               the firm settings in force, beside their floors
  heed settings set --file F --by EMAIL     save a policy file as the next settings version (admin; [--note N])
  heed audit verify [--head HASH]           check the audit log's hash chain (and that it still holds a head kept elsewhere)
  heed audit calls [--from D] [--to D] [--time-zone Z] [--dnc-dir DIR] [--json]
                                            a period's calls, and every allowed call checked against the records (exit 3 on a finding)
  heed bench dnc [--numbers N] [--json]     the do-not-call index against map, sorted, roaring, bitmap, postgres
  heed bench gate [--json]                  whole gate decisions from memory against one SQL query each
  heed bench dial [--testbed] [--json]      calls per second through heed's pacing loop against a bare ARI loop
  heed health [--listen ADDR]               whether the heed serve on ADDR answers /healthz (the container's health check)
  heed version                              print the version

Every flag can also be set with the environment variable shown in its help.
Run 'heed COMMAND -h' for a command's flags.
`

// Run runs one heed command.
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return fmt.Errorf("no command given: %w", errUsage)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return m.serve(ctx, rest)
	case "migrate":
		return m.migrate(ctx, rest)
	case "user":
		return m.sub(ctx, "user", rest, map[string]func(context.Context, []string) error{
			"add": m.userAdd, "list": m.userList, "disable": m.userSetDisabled(true), "enable": m.userSetDisabled(false),
			"role": m.userRole, "password": m.userPassword,
		})
	case "token":
		return m.sub(ctx, "token", rest, map[string]func(context.Context, []string) error{"add": m.tokenAdd, "list": m.tokenList, "revoke": m.tokenRevoke})
	case "import":
		return m.sub(ctx, "import", rest, map[string]func(context.Context, []string) error{"contacts": m.importContacts})
	case "dnc":
		return m.sub(ctx, "dnc", rest, map[string]func(context.Context, []string) error{
			"add": m.dncAdd, "import": m.dncImport, "check": m.dncCheck, "stats": m.dncStats,
		})
	case "demo":
		return m.demo(ctx, rest)
	case "consent":
		return m.sub(ctx, "consent", rest, map[string]func(context.Context, []string) error{"import": m.consentImport, "add": m.consentAdd, "reassigned": m.reassignedImport})
	case "override":
		return m.sub(ctx, "override", rest, map[string]func(context.Context, []string) error{"add": m.overrideAdd, "list": m.overrideList, "withdraw": m.overrideWithdraw})
	case "callerid":
		return m.sub(ctx, "callerid", rest, map[string]func(context.Context, []string) error{"add": m.calleridAdd, "list": m.calleridList, "retire": m.calleridRetire})
	case "check":
		return m.check(ctx, rest)
	case "settings":
		return m.sub(ctx, "settings", rest, map[string]func(context.Context, []string) error{"show": m.settingsShow, "set": m.settingsSet})
	case "bench":
		return m.sub(ctx, "bench", rest, map[string]func(context.Context, []string) error{"dnc": m.benchDNC, "gate": m.benchGate, "dial": m.benchDial})
	case "audit":
		return m.sub(ctx, "audit", rest, map[string]func(context.Context, []string) error{"verify": m.auditVerify, "calls": m.auditCalls})
	case "health":
		return m.health(ctx, rest)
	case "version", "--version", "-v":
		fmt.Fprintln(m.Stdout, "heed", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	}
	fmt.Fprint(m.Stderr, usage)
	return fmt.Errorf("unknown command %q: %w", cmd, errUsage)
}

func (m *Main) sub(ctx context.Context, name string, args []string, cmds map[string]func(context.Context, []string) error) error {
	if len(args) == 0 {
		return fmt.Errorf("heed %s needs a subcommand: %w", name, errUsage)
	}
	f, ok := cmds[args[0]]
	if !ok {
		return fmt.Errorf("unknown command %q %q: %w", name, args[0], errUsage)
	}
	return f(ctx, args[1:])
}

// flags is a FlagSet whose defaults come from environment variables.
type flags struct {
	*flag.FlagSet
	getenv func(string) string
}

func (m *Main) flags(name string) *flags {
	fs := flag.NewFlagSet("heed "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	return &flags{FlagSet: fs, getenv: m.Getenv}
}

func (f *flags) str(name, env, def, help string) *string {
	if v := f.getenv(env); v != "" {
		def = v
	}
	return f.String(name, def, help+" (env "+env+")")
}

func (f *flags) integer(name, env string, def int, help string) *int {
	if v := f.getenv(env); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			def = n
		}
	}
	return f.Int(name, def, help+" (env "+env+")")
}

func (f *flags) boolean(name, env string, def bool, help string) *bool {
	if v := f.getenv(env); v != "" {
		if b, err := strconv.ParseBool(v); err == nil {
			def = b
		}
	}
	return f.Bool(name, def, help+" (env "+env+")")
}

func (f *flags) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%v: %w", err, errUsage)
	}
	return nil
}

// timeZone defines --time-zone, the firm's IANA time zone, which the
// command uses for what help says.
func (f *flags) timeZone(help string) *string {
	return f.str("time-zone", "HEED_TIME_ZONE", campaign.DefaultTimeZone, "IANA time zone "+help+" (the firm's)")
}

// loadZone loads the --time-zone flag's zone.
func loadZone(name string) (*time.Location, error) {
	zone, err := time.LoadLocation(name)
	if err != nil || name == "" || strings.EqualFold(name, "local") {
		return nil, fmt.Errorf("--time-zone %q: want an IANA time zone such as America/New_York: %w", name, errUsage)
	}
	return zone, nil
}

// databaseURL adds the --database-url flag (DATABASE_URL, or HEED_DATABASE_URL).
func (f *flags) databaseURL() *string {
	def := f.getenv("DATABASE_URL")
	if v := f.getenv("HEED_DATABASE_URL"); v != "" {
		def = v
	}
	return f.String("database-url", def, "PostgreSQL connection string (env DATABASE_URL or HEED_DATABASE_URL)")
}

func (m *Main) logger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: l}))
}
