package campaign

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
)

// ErrLaunchRefused reports a campaign that may not start: it fails a launch
// check of the law packs, or the checks cannot run.
var ErrLaunchRefused = errors.New("the campaign cannot start")

// LaunchError lists the launch checks a campaign fails. It wraps
// ErrLaunchRefused.
type LaunchError struct {
	Reasons []consent.Reason
}

// launchAdvice says, for each launch check, what to change.
var launchAdvice = map[consent.Reason]string{
	"script.identification":       "the firm's registered name must be said within the first 10 seconds",
	"script.callback":             "the call must state a callback number (never a 900 number), and a voicemail must leave a toll-free number that takes opt-outs (set HEED_OPTOUT_NUMBER)",
	"script.optout":               "a key-press opt-out must be offered within 2 seconds after the identification",
	"script.disclosure":           "a Connecticut sales call must give the caller's name, the firm and the purpose within 10 seconds, then ask whether the person wants to go on, end the call or be removed",
	"script.advertising_material": `a recorded solicitation must say "Advertising Material" at its start and at its end`,
	"dnc.national_stale":          "telemarketing needs a national do-not-call registry copy at most 31 days old: import a current one",
}

func (e *LaunchError) Error() string {
	parts := make([]string, len(e.Reasons))
	for i, r := range e.Reasons {
		parts[i] = string(r)
		if a, ok := launchAdvice[r]; ok {
			parts[i] += ": " + a
		}
	}
	return "the campaign fails its launch checks: " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrLaunchRefused) true.
func (e *LaunchError) Unwrap() error { return ErrLaunchRefused }

// Launch runs the law packs' campaign launch checks (F7, F8, C4, E1) on the
// call a campaign will place: heed's own opening, menu and closing around
// the campaign's message, and its voicemail version.
type Launch struct {
	// Engine returns the policy engine in force (the law packs and the
	// firm's settings).
	Engine func() *consent.Engine
	// Firm is the firm's registered name; OptOutNumber the toll-free number
	// left on answering machines (empty: the campaign's callback number).
	Firm, OptOutNumber string
	// NationalAsOf returns when the installed national registry copy was
	// taken; zero when there is none.
	NationalAsOf func(ctx context.Context) (time.Time, error)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Check returns nil when the campaign may start, a *LaunchError naming the
// checks it fails, or another error when the checks cannot run.
func (l *Launch) Check(ctx context.Context, c Campaign, states []string) error {
	if l == nil || l.Engine == nil || l.Engine() == nil {
		return fmt.Errorf("launch checks are not configured: %w", ErrLaunchRefused)
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	var asOf time.Time
	if l.NationalAsOf != nil {
		var err error
		if asOf, err = l.NationalAsOf(ctx); err != nil {
			return fmt.Errorf("launch check: national registry: %w", err)
		}
	}
	dc := dialer.Campaign{Purpose: c.Purpose, CallerID: c.CallerID, Callback: c.Callback, TransferTo: c.TransferTo, Record: c.Record}
	txt := dialer.Script(dc, l.Firm, l.OptOutNumber)
	callback := c.Callback
	if callback == "" {
		callback = c.CallerID
	}
	reasons := l.Engine().CheckScript(consent.Script{
		Purpose: c.Purpose, Method: consent.MethodPrerecorded, Text: txt.Call(c.Message), Voicemail: txt.Voicemail(c.Message),
		FirmName: l.Firm, Callback: callback, States: states, NationalAsOf: asOf, At: now(),
	})
	if len(reasons) > 0 {
		return &LaunchError{Reasons: reasons}
	}
	return nil
}

// reach returns the states a campaign's contacts are in, and whether every
// contact's state is known (when not, every state counts).
func (s *Service) reach(ctx context.Context, id int64) ([]string, bool, error) {
	return reach(ctx, s.db, id, 0)
}

// rowQuerier runs a query of one row: the pool, or a transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// reach is Service.reach, querying q. With listID not 0, it is the states
// of list listID's contacts instead: those of the campaign's contacts and
// of the contacts AddNewContacts would add.
func reach(ctx context.Context, q rowQuerier, id, listID int64) ([]string, bool, error) {
	var states []string
	var unknown bool
	from, arg := `FROM campaign_targets t JOIN contacts c ON c.id = t.contact_id WHERE t.campaign_id = $1`, id
	if listID != 0 {
		from, arg = `FROM contacts c WHERE c.list_id = $1`, listID
	}
	err := q.QueryRow(ctx, `
		SELECT coalesce(array_agg(DISTINCT upper(c.state)) FILTER (WHERE c.state <> ''), '{}'), coalesce(bool_or(c.state = ''), false) `+from, arg).
		Scan(&states, &unknown)
	if err != nil {
		return nil, false, fmt.Errorf("campaign %d: states reached: %w", id, err)
	}
	return states, !unknown, nil
}
