// Package web serves heed's browser UI (html/template and htmx) and its JSON
// API under /api/v1, with sign-in, sessions, CSRF protection and a role check
// on every route.
package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/sync/semaphore"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/account"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Check is one readiness check reported by /readyz, which shows only
// whether it passed; its error goes to the log.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
	// Degrades marks a check whose failure is reported but leaves the
	// process ready (status "degraded"), such as one of several Asterisks.
	Degrades bool
}

// JobsPrefix is where the River job UI is mounted.
const JobsPrefix = "/admin/jobs"

// Config is what the web server needs. cmd wires it.
type Config struct {
	DB        *pgxpool.Pool
	Accounts  *account.Service
	Campaigns *campaign.Service
	DNC       *dnc.PGStore
	// Registry holds the registry lists' snapshots; nil hides list uploads.
	Registry *dnc.Registry
	// Consents is the consent ledger the opt-out page and the consent
	// uploads write to; nil means a ledger on DB.
	Consents *consent.Ledger
	// FirmName is the firm's registered name, which the public opt-out page
	// shows so a person knows who is asking; "" shows a generic wording.
	FirmName string
	// Jobs, when set, is the River job UI (riverui), served to admins under
	// JobsPrefix.
	Jobs http.Handler
	// RecordingsDir holds the recordings of recorded calls.
	RecordingsDir string
	// Media converts uploaded recordings into the directory Asterisk plays from.
	Media dialer.Media
	Ready []Check
	Log   *slog.Logger
	// UploadLimit bounds an uploaded file, in bytes; zero means 10 MiB.
	UploadLimit int64
	// SecureCookies marks cookies Secure (set behind HTTPS).
	SecureCookies bool
	// TrustedProxies are the address ranges of the reverse proxies in
	// front of heed. A request whose peer is in one of them may name its
	// client in ProxyHeader; with none (the default) a request's client is
	// its connection's peer, whatever its headers say. The client address
	// keys the abuse limits of the opt-out page and of sign-in, and the
	// logs.
	TrustedProxies []*net.IPNet
	// ProxyHeader is the header the trusted proxies name the client in:
	// "X-Forwarded-For" (the default when empty), read from the right,
	// or "X-Real-IP".
	ProxyHeader string
	// TimeZone is the zone pages show times in, with its abbreviation (the
	// firm's); nil means campaign.DefaultTimeZone.
	TimeZone *time.Location
	// Preview answers a number's page's "if called now" with the pacing
	// loop's own decision (dialer.Pacer); nil leaves that part out.
	Preview Previewer
	// DeviceKey signs the cookies by which a browser an account signed in
	// from is known again: the database's (DeviceKey), so that every heed
	// process knows the browser, after a restart too; nil means a random
	// key of this server's alone.
	DeviceKey []byte
	// Now returns the current time for the number page's decisions, the
	// calls report's default period and how long a refusal of the sign-in
	// limits is remembered (their windows are on the database's clock);
	// nil means time.Now.
	Now func() time.Time
}

// Server is the web application.
type Server struct {
	cfg      Config
	echo     *echo.Echo
	sessions *scs.SessionManager
	pages    map[string]*template.Template
	events   broker
	static   map[string]string // logical name → content-hash URL

	// limits count failed sign-ins (the sign-in limits) in the database,
	// on its clock; cfg.Now's times how long they remember a refusal.
	limits *signinLimits
	// httpsSeen is done once a request came over HTTPS
	// (warnInsecureCookies).
	httpsSeen sync.Once
	// passwords bounds the password checks run at once (passwordChecks).
	passwords *semaphore.Weighted
	// deviceKey signs the device cookies of browsers accounts signed in
	// from (knownDevice); each process draws its own.
	deviceKey []byte
	// authenticate is cfg.Accounts.Authenticate; tests count its calls.
	authenticate func(ctx context.Context, email, password string) (account.User, error)

	// readyFailed holds, by name, whether each readiness check failed at
	// its last run, so that logReady logs changes only.
	readyMu     sync.Mutex
	readyFailed map[string]bool

	// closing is closed by CloseStreams: open event streams end, and new
	// ones end at once.
	closing   chan struct{}
	closeOnce sync.Once
}

// CloseStreams ends every open server-sent-events stream, and any opened
// later at once, so that the connections they hold go idle and
// http.Server.Shutdown need not wait out its deadline for them. Register
// it with http.Server.RegisterOnShutdown. It may be called more than once.
func (s *Server) CloseStreams() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// New builds the server, parsing every template up front so a broken one
// fails at start-up.
func New(cfg Config) (*Server, error) {
	if cfg.UploadLimit == 0 {
		cfg.UploadLimit = 10 << 20
	}
	if cfg.Consents == nil {
		cfg.Consents = consent.NewLedger(cfg.DB)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TimeZone == nil {
		zone, err := time.LoadLocation(campaign.DefaultTimeZone)
		if err != nil {
			return nil, fmt.Errorf("web: time zone: %w", err)
		}
		cfg.TimeZone = zone
	}
	var err error
	s := &Server{cfg: cfg, echo: echo.New(), readyFailed: map[string]bool{}, closing: make(chan struct{}),
		limits:    newSigninLimits(cfg.DB, cfg.Now),
		passwords: semaphore.NewWeighted(passwordChecks),
		deviceKey: cfg.DeviceKey,
	}
	if s.deviceKey == nil {
		s.deviceKey = make([]byte, 32)
		if _, err := rand.Read(s.deviceKey); err != nil {
			return nil, fmt.Errorf("web: device key: %w", err)
		}
	}
	if cfg.Accounts != nil {
		s.authenticate = cfg.Accounts.Authenticate
	}
	s.sessions = scs.New()
	s.sessions.Store = pgxstore.New(cfg.DB)
	s.sessions.Lifetime = 12 * time.Hour
	s.sessions.IdleTimeout = 2 * time.Hour
	s.sessions.Cookie.Name = "heed_session"
	s.sessions.Cookie.HttpOnly = true
	s.sessions.Cookie.SameSite = http.SameSiteLaxMode
	s.sessions.Cookie.Secure = cfg.SecureCookies
	if err := s.loadStatic(); err != nil {
		return nil, err
	}
	if err := s.loadTemplates(); err != nil {
		return nil, err
	}
	if s.echo.IPExtractor, err = clientIPExtractor(cfg.TrustedProxies, cfg.ProxyHeader); err != nil {
		return nil, err
	}
	s.echo.HideBanner = true
	s.echo.HidePort = true
	s.echo.HTTPErrorHandler = s.handleError
	s.routes()
	return s, nil
}

// warnInsecureCookies logs once, at the first request that came over
// HTTPS, that cookies are not marked Secure when SecureCookies is off: a
// deployment behind HTTPS that forgot the setting.
func (s *Server) warnInsecureCookies(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !s.cfg.SecureCookies && c.Scheme() == "https" {
			s.httpsSeen.Do(func() {
				s.cfg.Log.Warn("web: heed is served over HTTPS but its cookies are not marked Secure: set --secure-cookies (HEED_SECURE_COOKIES=true)")
			})
		}
		return next(c)
	}
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// The roles of the routes, by what they may do: every role reads
// campaigns; paralegals and admins run them and manage the contact lists;
// attorneys and admins review (recordings, overrides, settings, the calls
// report).
var (
	everyRole     = []account.Role{account.RoleAdmin, account.RoleAttorney, account.RoleParalegal}
	runnerRoles   = []account.Role{account.RoleAdmin, account.RoleParalegal}
	reviewerRoles = []account.Role{account.RoleAdmin, account.RoleAttorney}
)

// zone is the firm's time zone, which pages show times in.
func (s *Server) zone() *time.Location { return s.cfg.TimeZone }

func (s *Server) routes() {
	e := s.echo
	e.Use(middleware.Recover())
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{
		XSSProtection: "0", ContentTypeNosniff: "nosniff", XFrameOptions: "DENY",
		ReferrerPolicy:        "same-origin",
		ContentSecurityPolicy: "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'",
		// Sent only on requests that came over HTTPS (directly, or by the
		// proxy's X-Forwarded-Proto): a browser that has seen heed over
		// HTTPS never asks for it over plain HTTP again for a year. The
		// firm's other hosts are not heed's to bind.
		HSTSMaxAge: 365 * 24 * 60 * 60, HSTSExcludeSubdomains: true,
	}))
	e.Use(s.warnInsecureCookies)
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/static/:name", s.serveStatic)

	api := e.Group("/api/v1", s.apiAuth)
	s.apiRoutes(api)

	sessions := echo.WrapMiddleware(s.sessions.LoadAndSave)
	csrf := middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "form:_csrf,header:X-CSRF-Token",
		CookieName:     "heed_csrf",
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSecure:   s.cfg.SecureCookies,
		CookieSameSite: http.SameSiteStrictMode,
		ErrorHandler: func(err error, c echo.Context) error {
			return echo.NewHTTPError(http.StatusForbidden, "The form has expired or did not come from heed (missing or invalid CSRF token). Reload the page and try again.").SetInternal(err)
		},
	})

	// The public opt-out page: no sign-in. A submission passes the abuse
	// limits before its body is read, and the body is bounded before the
	// CSRF check parses it.
	e.GET("/optout", s.optOutPage, sessions, csrf)
	e.POST("/optout", s.optOut, sessions, s.optOutRateLimit(newRateLimiter(optOutLimits, optOutClients, time.Now)), s.optOutBodyLimit, csrf)
	e.GET("/optout/done", s.optOutDone, sessions, csrf)

	if s.cfg.Jobs != nil {
		// The River job queue's own UI, for admins. Its requests carry no
		// CSRF token; sameOrigin guards its actions instead.
		jobs := echo.WrapHandler(s.cfg.Jobs)
		e.Any(JobsPrefix, jobs, sessions, s.sameOrigin, s.require(account.RoleAdmin))
		e.Any(JobsPrefix+"/*", jobs, sessions, s.sameOrigin, s.require(account.RoleAdmin))
	}
	// The body is bounded before the CSRF check reads the form: an upload
	// over the limit is refused before it is spooled to disk (boundBody).
	ui := e.Group("", sessions, s.boundBody(), readForm, csrf)
	ui.GET("/signin", s.signinForm)
	ui.POST("/signin", s.signin)
	ui.POST("/signout", s.signout, s.require())
	ui.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/campaigns") }, s.require())

	all, runners, admin := everyRole, runnerRoles, []account.Role{account.RoleAdmin}
	ui.GET("/campaigns", s.campaignsPage, s.require(all...))
	ui.GET("/campaigns/new", s.newCampaignPage, s.require(runners...))
	ui.POST("/campaigns", s.createCampaign, s.require(runners...))
	ui.GET("/campaigns/:id", s.campaignPage, s.require(all...))
	ui.GET("/campaigns/:id/edit", s.editCampaignPage, s.require(runners...))
	ui.POST("/campaigns/:id/edit", s.updateCampaign, s.require(runners...))
	ui.GET("/campaigns/:id/attempts", s.attemptsPartial, s.require(all...))
	ui.GET("/campaigns/:id/events", s.campaignEvents, s.require(all...))
	ui.POST("/campaigns/:id/start", s.startCampaign, s.require(runners...))
	ui.POST("/campaigns/:id/pause", s.pauseCampaign, s.require(runners...))
	ui.POST("/campaigns/:id/cancel", s.cancelCampaign, s.require(runners...))
	ui.POST("/campaigns/:id/add_contacts", s.addNewContacts, s.require(runners...))
	ui.GET("/campaigns/:id/attempts.csv", s.exportAttempts, s.require(all...))
	ui.GET("/campaigns/:id/contacts", s.campaignContactsPage, s.require(all...))
	ui.GET("/campaigns/:id/contacts.csv", s.exportCampaignContacts, s.require(all...))
	ui.POST("/campaigns/:id/contacts/:cid/skip", s.skipContact, s.require(runners...))
	ui.POST("/campaigns/:id/contacts/:cid/restore", s.restoreContact, s.require(runners...))
	ui.GET("/campaigns/:id/attempts/:aid", s.attemptPage, s.require(all...))
	ui.GET("/campaigns/:id/attempts/:aid/recording", s.recording, s.require(reviewerRoles...))
	ui.GET("/numbers", s.numberPage, s.require(all...))
	ui.GET("/reports/calls", s.reportPage, s.require(reviewerRoles...))
	ui.GET("/lists", s.listsPage, s.require(runners...))
	ui.GET("/lists/:id", s.contactsPage, s.require(runners...))
	ui.POST("/lists/:id/optout", s.optOutContact, s.require(runners...))
	ui.POST("/lists", s.uploadList, s.require(runners...))
	ui.GET("/admin/users", s.usersPage, s.require(admin...))
	ui.POST("/admin/users", s.createUser, s.require(admin...))
	ui.GET("/admin/users/:id", s.userPage, s.require(admin...))
	ui.POST("/admin/users/:id/tokens", s.createToken, s.require(admin...))
	ui.POST("/admin/users/:id/tokens/:tid/revoke", s.revokeToken, s.require(admin...))
	ui.POST("/admin/users/:id/:change", s.changeUser, s.require(admin...))
	ui.GET("/account", s.accountPage, s.require())
	ui.POST("/account/password", s.changePassword, s.require())
	ui.GET("/admin/dnc", s.dncPage, s.require(admin...))
	ui.POST("/admin/dnc", s.addDNC, s.require(admin...))
	ui.POST("/admin/dnc/import", s.importDNC, s.require(admin...))
	ui.GET("/admin/consents", s.consentsPage, s.require(admin...))
	ui.POST("/admin/consents", s.uploadConsents, s.require(admin...))
	ui.POST(oneConsentPath, s.addOneConsent, s.require(admin...))
	ui.GET("/consents/:id/document", s.consentDocument, s.require(reviewerRoles...))
	ui.GET("/overrides", s.overridesPage, s.require(reviewerRoles...))
	ui.POST("/overrides", s.logOverride, s.require(account.RoleAttorney))
	ui.POST("/overrides/:id/withdraw", s.withdrawOverride, s.require(account.RoleAttorney))
	ui.GET(campaign.CallerIDsPage, s.callerIDsPage, s.require(admin...))
	ui.POST(campaign.CallerIDsPage, s.addCallerID, s.require(admin...))
	ui.POST(campaign.CallerIDsPage+"/:id/retire", s.retireCallerID, s.require(admin...))
	ui.GET("/admin/settings", s.settingsPage, s.require(reviewerRoles...))
	ui.POST("/admin/settings", s.saveSettings, s.require(admin...))
}

// sizeString renders a byte count for people: "10 MiB", "64 KiB".
func sizeString(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// limitBody is echo's BodyLimit of n bytes, whose refusal (413) says the
// limit: "The upload is too large: the limit is 10 MiB."
func limitBody(n int64) echo.MiddlewareFunc { return limitUpload(n, n) }

// limitUpload is echo's BodyLimit of body bytes, whose refusal (413) says
// the limit of the file the body carries: "The upload is too large: the
// limit is 10 MiB."
func limitUpload(body, file int64) echo.MiddlewareFunc {
	limit := middleware.BodyLimit(fmt.Sprintf("%dB", body))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		h := limit(next)
		return func(c echo.Context) error {
			err := h(c)
			if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) {
				return tooLarge(file, err)
			}
			return err
		}
	}
}

// anonBodyLimit bounds the body a request without a signed-in session
// may post to the pages: the sign-in form is small, and every other route
// turns such a request away unread.
const anonBodyLimit = 64 << 10

// boundBody bounds a posted body before the form is read, as the session
// allows: a signed-in one's by the upload limit and formRoom, which
// leaves room for a form's fields beside a file at the limit (formFile
// holds the file itself to it); any other's by anonBodyLimit, so that no
// one signed out has heed read and spool a large form.
func (s *Server) boundBody() echo.MiddlewareFunc {
	signedIn := limitUpload(s.cfg.UploadLimit+formRoom, s.cfg.UploadLimit)
	// The one-consent form's file is a document, held to its own limit:
	// its refusal names that limit.
	document := limitUpload(s.cfg.UploadLimit+formRoom, s.documentLimit())
	anon := middleware.BodyLimit(fmt.Sprintf("%dB", anonBodyLimit))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		in, doc, out := signedIn(next), document(next), anon(next)
		return func(c echo.Context) error {
			if s.sessions.GetInt64(c.Request().Context(), sessionUserID) != 0 {
				if c.Path() == oneConsentPath {
					return doc(c)
				}
				return in(c)
			}
			err := out(c)
			if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) {
				// Most often a form whose session ended while it was
				// filled in: say so, not that the file is too large.
				return echo.NewHTTPError(http.StatusRequestEntityTooLarge,
					"You are not signed in (or your session has ended), and heed takes no more than "+sizeString(anonBodyLimit)+
						" from someone signed out: sign in, then send the form again.").SetInternal(err)
			}
			return err
		}
	}
}

// tooLarge is the refusal (413) of an upload over limit bytes; cause, when
// not nil, is what found it too large.
func tooLarge(limit int64, cause error) *echo.HTTPError {
	return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "The upload is too large: the limit is "+sizeString(limit)+".").SetInternal(cause)
}

// formRoom is the room the pages' forms have for their fields beside a
// file at the upload limit: the longest field is a consent's evidence
// text, and the rest (the CSRF token, the other fields, the parts'
// headers) take a few kilobytes.
const formRoom = consent.MaxEvidenceBytes + 64<<10

// formFile returns the file a page's form posts in its field name. A file
// over the upload limit is refused as too large (413, saying the limit);
// other errors are c.FormFile's, wrapped (http.ErrMissingFile when the
// form has no such file).
func (s *Server) formFile(c echo.Context, name string) (*multipart.FileHeader, error) {
	fh, err := c.FormFile(name)
	switch {
	case overBound(err):
		return nil, tooLarge(s.cfg.UploadLimit, err)
	case err != nil:
		return nil, fmt.Errorf("form file %s: %w", name, err)
	case fh.Size > s.cfg.UploadLimit:
		return nil, tooLarge(s.cfg.UploadLimit, nil)
	}
	return fh, nil
}

// formMemory is how much of a multipart form readForm keeps in memory;
// the rest of its files go to temporary files, as net/http's FormValue
// does.
const formMemory = 32 << 20

// readForm reads a posted form's body before the CSRF check (parseForm):
// a body over its bound (limitUpload's, or net/http's own for a
// URL-encoded form), when its size was not announced (sent in chunks), is
// refused as too large (413) rather than as a form without its token
// (403).
func readForm(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		tooLarge, done := parseForm(c.Request())
		defer done()
		if tooLarge {
			return fmt.Errorf("read form: %w", echo.ErrStatusRequestEntityTooLarge)
		}
		return next(c)
	}
}

// parseForm reads the form r posts, if any, before the CSRF check does:
// that check reads it for the token and drops any error, so a body over
// its reader's bound (limitUpload's, or an http.MaxBytesReader's), or a
// URL-encoded one over net/http's own 10 MB, would pass for a form without
// its token. It reports whether the body was over it;
// any other error is left to the CSRF check and the handler, which find
// the form incomplete. done removes the files a multipart form spooled to
// disk (net/http removes only those of the request it made, and the
// sessions middleware passes on a copy of it); call it when the request
// is handled.
func parseForm(r *http.Request) (tooLarge bool, done func()) {
	done = func() {}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return false, done
	}
	var err error
	switch ct, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType)); ct {
	case echo.MIMEMultipartForm:
		err = r.ParseMultipartForm(formMemory)
		done = func() {
			if r.MultipartForm != nil {
				_ = r.MultipartForm.RemoveAll()
			}
		}
	case echo.MIMEApplicationForm:
		err = r.ParseForm()
	}
	return overBound(err), done
}

// overBound reports whether reading a form stopped at a bound on its
// body: echo's BodyLimit's, an http.MaxBytesReader's, or net/http's own
// for a URL-encoded form (10 MB), which it does not export and which a
// form under the pages' bound may still pass. A multipart reader passes
// on the first two by their text alone.
func overBound(err error) bool {
	if err == nil {
		return false
	}
	return errors.Is(err, echo.ErrStatusRequestEntityTooLarge) || errors.As(err, new(*http.MaxBytesError)) ||
		err.Error() == "http: POST too large" || strings.Contains(err.Error(), "request body too large")
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers whether heed is ready: each check's name with "ok" or
// "failed", and "status": "degraded" when only checks that degrade have
// failed. It needs no sign-in, so it says no more than that: a check's
// error, which can name hosts, ports and URLs, goes to the log (logReady).
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	res := map[string]string{}
	ok, degraded := true, false
	for _, chk := range s.cfg.Ready {
		err := chk.Run(ctx)
		s.logReady(chk.Name, err)
		if err != nil {
			res[chk.Name] = "failed"
			if chk.Degrades {
				degraded = true
			} else {
				ok = false
			}
		} else {
			res[chk.Name] = "ok"
		}
	}
	if !ok {
		return c.JSON(http.StatusServiceUnavailable, res)
	}
	if degraded {
		res["status"] = "degraded"
	}
	return c.JSON(http.StatusOK, res)
}

// logReady logs a readiness check's result when its state changes: its
// error when it fails after passing (or at its first run), and that it
// passes again. A check polled every few seconds while down logs once.
func (s *Server) logReady(name string, err error) {
	s.readyMu.Lock()
	was := s.readyFailed[name]
	s.readyFailed[name] = err != nil
	s.readyMu.Unlock()
	switch {
	case err != nil && !was:
		s.cfg.Log.Warn("web: readiness check failed", "check", name, "err", err)
	case err == nil && was:
		s.cfg.Log.Info("web: readiness check passes again", "check", name)
	}
}

func (s *Server) loadStatic() error {
	s.static = map[string]string{}
	entries, err := fs.ReadDir(staticFiles, "static")
	if err != nil {
		return fmt.Errorf("web: static: %w", err)
	}
	for _, e := range entries {
		b, err := staticFiles.ReadFile("static/" + e.Name())
		if err != nil {
			return fmt.Errorf("web: static %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(b)
		ext := path.Ext(e.Name())
		s.static[e.Name()] = "/static/" + strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:6]) + ext
	}
	return nil
}

func (s *Server) serveStatic(c echo.Context) error {
	want := "/static/" + c.Param("name")
	for name, url := range s.static {
		if url == want {
			b, err := staticFiles.ReadFile("static/" + name)
			if err != nil {
				return fmt.Errorf("static %s: %w", name, err)
			}
			c.Response().Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			ctype := "application/octet-stream"
			switch path.Ext(name) {
			case ".js":
				ctype = "text/javascript; charset=utf-8"
			case ".css":
				ctype = "text/css; charset=utf-8"
			}
			return c.Blob(http.StatusOK, ctype, b)
		}
	}
	return echo.ErrNotFound
}

func (s *Server) loadTemplates() error {
	zone := s.zone()
	funcs := template.FuncMap{
		"static": func(name string) (string, error) {
			u, ok := s.static[name]
			if !ok {
				return "", fmt.Errorf("no static file %q", name)
			}
			return u, nil
		},
		"join": strings.Join,
		"roles": func() []string {
			return []string{string(account.RoleParalegal), string(account.RoleAttorney), string(account.RoleAdmin)}
		},
		"purposes": func() []string {
			return []string{"informational", "telemarketing", "debt_collection", "solicitation"}
		},
		// zoned shows an instant in its own zone, with the zone's
		// abbreviation: a local time of the called party.
		"zoned": func(t time.Time) string { return t.Format("Mon 2006-01-02 15:04:05 MST") },
		// utc shows an instant in UTC, saying so; "" for a nil pointer.
		"utc": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				return v.UTC().Format("2006-01-02 15:04:05 UTC")
			case *time.Time:
				if v != nil {
					return v.UTC().Format("2006-01-02 15:04:05 UTC")
				}
			}
			return ""
		},
		// ms shows a count of milliseconds as seconds, to the
		// millisecond: "0.023 s".
		"ms": func(v *int64) string {
			if v == nil {
				return ""
			}
			return strconv.FormatFloat(float64(*v)/1000, 'f', 3, 64) + " s"
		},
		// indentJSON indents a JSON document for reading; one that is
		// not valid JSON is shown as it is.
		"indentJSON": func(b json.RawMessage) string {
			var out bytes.Buffer
			if err := json.Indent(&out, b, "", "  "); err != nil {
				return string(b)
			}
			return out.String()
		},
		// time shows an instant in the firm's zone, saying which.
		"time": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				return v.In(zone).Format("2006-01-02 15:04:05 MST")
			case *time.Time:
				if v == nil {
					return ""
				}
				return v.In(zone).Format("2006-01-02 15:04:05 MST")
			}
			return ""
		},
	}
	s.pages = map[string]*template.Template{}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return fmt.Errorf("web: templates: %w", err)
	}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("web: template %s: %w", base, err)
		}
		s.pages[strings.TrimSuffix(base, ".html")] = t
	}
	return nil
}

// page is the data every template gets.
type page struct {
	Title string
	User  *account.User
	CSRF  string
	Flash string
	Error string
	// Check, when set, is a nightly calls check that found something,
	// shown above the page; CheckSince, when set, is the last day checked,
	// when the nightly check has missed a night since.
	Check      *campaign.Check
	CheckSince string
	Data       any
}

func (s *Server) render(c echo.Context, status int, name string, p page) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("web: no template %q", name)
	}
	if u, ok := c.Get(userKey).(account.User); ok {
		p.User = &u
	}
	if tok, ok := c.Get(middleware.DefaultCSRFConfig.ContextKey).(string); ok {
		p.CSRF = tok
	}
	if p.Flash == "" {
		p.Flash = s.sessions.PopString(c.Request().Context(), "flash")
	}
	root := "layout"
	if c.Request().Header.Get("HX-Request") == "true" && t.Lookup("partial") != nil {
		root = "partial"
	}
	// Render to a buffer first, so a template error becomes a clean 500
	// instead of half a page.
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, root, p); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

func (s *Server) flash(c echo.Context, msg string) {
	s.sessions.Put(c.Request().Context(), "flash", msg)
}

// statusOf maps domain errors to HTTP status codes, in one place.
func statusOf(err error) (int, string) {
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		return he.Code, fmt.Sprint(he.Message)
	case errors.Is(err, campaign.ErrNotFound), errors.Is(err, account.ErrNotFound), errors.Is(err, consent.ErrOverrideNotFound):
		return http.StatusNotFound, "Not found."
	case errors.Is(err, campaign.ErrInvalid), errors.Is(err, account.ErrInvalid), errors.Is(err, campaign.ErrImportRejected),
		errors.Is(err, consent.ErrInvalidRecord), errors.Is(err, consent.ErrImportRejected), errors.Is(err, consent.ErrUnknownFormat),
		errors.Is(err, campaign.ErrLaunchRefused), errors.Is(err, consent.ErrInvalidOverride), errors.Is(err, consent.ErrLoosensFloor),
		errors.Is(err, consent.ErrInvalidPolicy):
		return http.StatusUnprocessableEntity, err.Error()
	case errors.Is(err, consent.ErrNotAttorney), errors.Is(err, campaign.ErrNotAdmin):
		return http.StatusForbidden, err.Error()
	case errors.Is(err, campaign.ErrInvalidTransition), errors.Is(err, account.ErrExists),
		errors.Is(err, consent.ErrAlreadyWithdrawn), errors.Is(err, campaign.ErrEditConflict), errors.Is(err, account.ErrSelf),
		errors.Is(err, account.ErrLastAdmin), errors.Is(err, campaign.ErrCallerIDRetired):
		return http.StatusConflict, err.Error()
	case errors.Is(err, account.ErrBadToken):
		return http.StatusUnauthorized, err.Error()
	}
	return http.StatusInternalServerError, "Something went wrong on our side; it has been logged."
}

func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, msg := statusOf(err)
	if code >= 500 {
		s.cfg.Log.Error("web: request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
	}
	if code == http.StatusRequestEntityTooLarge && msg == http.StatusText(code) {
		// A refusal that does not say its limit (a handler's own, on a
		// form its limit cut short) is the upload limit's.
		msg = "The upload is too large: the limit is " + sizeString(s.cfg.UploadLimit) + "."
	}
	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		_ = c.JSON(code, map[string]string{"error": msg})
		return
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(code)
		return
	}
	if rerr := s.render(c, code, "error", page{Title: http.StatusText(code), Error: msg}); rerr != nil {
		_ = c.String(code, msg)
	}
}
