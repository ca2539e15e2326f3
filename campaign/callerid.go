package campaign

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/phone"
)

// The firm's caller IDs (rule F11: always send a valid number that accepts
// do-not-call requests during business hours; never block caller ID,
// never spoof). heed cannot tell who owns a number, so an admin declares
// each number the firm owns, affirming CallerIDAttestation, and a campaign
// may send only a current one: Create and Update refuse any other, and the
// launch checks refuse a campaign whose caller ID is not, or is no longer,
// one of them when it starts, when heed starts (Resume), and when
// contacts are added to it or put back in it. Retiring a caller ID pauses
// the running campaigns that send it (RetireCallerID). Migration 00045
// keeps them, with guards: never deleted, never edited, retired once.

// ErrNotAdmin reports that the user who would declare or retire a caller
// ID is not an enabled admin.
var ErrNotAdmin = errors.New("only an enabled admin may declare or retire the firm's caller IDs")

// ErrCallerIDRetired reports the retirement of a caller ID retired already.
var ErrCallerIDRetired = errors.New("the caller ID is retired already")

// CallerIDAttestation is the statement an admin affirms for each number
// they declare one of the firm's caller IDs; the declaration keeps it
// word for word.
const CallerIDAttestation = "This number is the firm's own (not a client's, a contact's or anyone else's), " +
	"and a call to it during business hours reaches the firm, which takes do-not-call requests made on it (rule F11)."

// CallerIDsPage is the web page where admins manage the firm's caller IDs.
const CallerIDsPage = "/admin/callerids"

// Launch check codes of heed's own check of a campaign's caller ID (rule
// F11), beside the law packs' script codes: the caller ID was never
// declared one of the firm's, or it was retired.
const (
	ReasonCallerIDUnregistered consent.Reason = "callerid.unregistered"
	ReasonCallerIDRetired      consent.Reason = "callerid.retired"
)

// maxCallerIDLabel bounds a caller ID's label, in characters.
const maxCallerIDLabel = 100

// CallerID is a number the firm declared its own, to send as campaigns'
// caller ID.
type CallerID struct {
	ID    int64        `json:"id"`
	Phone phone.Number `json:"phone"`
	Label string       `json:"label"`
	// Attestation is the statement the admin affirmed when declaring it.
	Attestation  string    `json:"attestation"`
	AddedBy      int64     `json:"added_by"`
	AddedByEmail string    `json:"added_by_email"`
	AddedAt      time.Time `json:"added_at"`
	// RetiredAt, RetiredBy and RetiredByEmail say when and by whom it was
	// retired; nil and "" for a current caller ID.
	RetiredAt      *time.Time `json:"retired_at,omitempty"`
	RetiredBy      *int64     `json:"retired_by,omitempty"`
	RetiredByEmail string     `json:"retired_by_email,omitempty"`
	// Campaigns are the campaigns not yet completed or cancelled (drafts,
	// running and paused) that send the number.
	Campaigns []CampaignRef `json:"campaigns"`
}

// Current reports whether the caller ID is not retired: campaigns may
// send it.
func (c CallerID) Current() bool { return c.RetiredAt == nil }

// CampaignRef names a campaign, with its status.
type CampaignRef struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Status Status `json:"status"`
}

// NewCallerID is a number an admin declares one of the firm's caller IDs.
type NewCallerID struct {
	// Number is the number as written; it is stored in E.164 form.
	Number string `json:"number"`
	// Label says which line it is ("Main office"), for the campaign form.
	Label string `json:"label"`
	// Attest is the admin's affirmation of CallerIDAttestation; without
	// it, nothing is declared.
	Attest bool `json:"attest"`
}

// Retirement is what RetireCallerID did.
type Retirement struct {
	CallerID CallerID `json:"caller_id"`
	// Paused are the running campaigns that sent the number, paused in
	// the transaction that retired it.
	Paused []CampaignRef `json:"paused"`
	// Held are the drafts and paused campaigns that name the number: they
	// cannot start with it.
	Held []CampaignRef `json:"held"`
}

// parseCallerID reads a number an admin declares a caller ID, or says
// what is wrong with it: it must be a valid number of the United States
// (the fifty states and DC, or a toll-free number), and neither a
// premium-rate number (900, or a 976 exchange) nor an N11 service code.
func parseCallerID(s string) (phone.Number, string) {
	if strings.TrimSpace(s) == "" {
		return "", "a number is required"
	}
	n, err := phone.Parse(s)
	if err != nil {
		return "", fmt.Sprintf("%q is not a valid phone number", strings.TrimSpace(s))
	}
	region := n.Region()
	switch area, exchange := n.AreaCode(), n.Exchange(); {
	case area == "":
		return "", fmt.Sprintf("%s is a number of %s, outside North America: a caller ID must be a number of the United States", n.Display(), phone.RegionName(region))
	case area == "900":
		return "", fmt.Sprintf("%s is a premium-rate 900 number, which charges the person who calls back: never a caller ID", n.Display())
	case exchange == "976":
		return "", fmt.Sprintf("%s is in a 976 exchange, premium-rate services that charge the person who calls back: never a caller ID", n.Display())
	case isN11(exchange):
		return "", fmt.Sprintf("%s: %s is an N11 service code (211 to 911), not a line a person can call back", n.Display(), exchange)
	case region != "US":
		return "", fmt.Sprintf("%s is a number of %s (area code %s), not of the United States: a caller ID must be a number of the fifty states or DC, or a toll-free number",
			n.Display(), phone.RegionName(region), area)
	}
	return n, ""
}

// isN11 reports whether a three-digit code is an N11 service code (211,
// 311, ... 911).
func isN11(code string) bool {
	return len(code) == 3 && code[0] >= '2' && code[0] <= '9' && code[1:] == "11"
}

// checkAdmin returns an error wrapping ErrNotAdmin unless user by is an
// enabled admin, and locks the user's row until tx ends, so that their
// role cannot change under the write.
func checkAdmin(ctx context.Context, tx pgx.Tx, by int64) error {
	var (
		email, role string
		disabled    bool
	)
	err := tx.QueryRow(ctx, `SELECT email, role, disabled FROM users WHERE id = $1 FOR SHARE`, by).Scan(&email, &role, &disabled)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("user %d does not exist: %w", by, ErrNotAdmin)
	case err != nil:
		return fmt.Errorf("user %d: %w", by, err)
	case role != "admin":
		return fmt.Errorf("%s has the role %s: %w", email, role, ErrNotAdmin)
	case disabled:
		return fmt.Errorf("%s is disabled: %w", email, ErrNotAdmin)
	}
	return nil
}

// AddCallerID declares a number one of the firm's caller IDs, as admin
// by, who affirms CallerIDAttestation (in.Attest). A wrong field is
// reported as FieldErrors (wrapping ErrInvalid), every one at once, and
// nothing is stored: a number that is not valid, not of the United
// States, a premium-rate or N11 number, or a current caller ID already; a
// missing label; no attestation. A user who is not an enabled admin is
// refused with ErrNotAdmin.
func (s *Service) AddCallerID(ctx context.Context, in NewCallerID, by int64) (CallerID, error) {
	fe := FieldErrors{}
	if !in.Attest {
		fe["attest"] = "confirm that the number is the firm's own and that a call to it during business hours reaches the firm, " +
			"which takes do-not-call requests made on it (rule F11): heed cannot check it"
	}
	return s.declareCallerID(ctx, in, CallerIDAttestation, by, fe)
}

// AddCallerIDStated declares a number one of the firm's caller IDs as
// AddCallerID does, under admin by's name, but records statement as its
// attestation rather than CallerIDAttestation: for a declaration that a
// program makes and no admin affirms (heed demo's fictional number), whose
// statement says so. in.Attest is not read; an empty statement is refused
// as a missing attestation.
func (s *Service) AddCallerIDStated(ctx context.Context, in NewCallerID, statement string, by int64) (CallerID, error) {
	fe := FieldErrors{}
	statement = strings.TrimSpace(statement)
	if statement == "" {
		fe["attest"] = "a declaration no admin affirms must state what it is"
	}
	return s.declareCallerID(ctx, in, statement, by, fe)
}

// declareCallerID stores in as one of the firm's caller IDs with the
// attestation statement, declared by admin by, or returns FieldErrors
// (fe, with the number's and the label's added) or ErrNotAdmin.
func (s *Service) declareCallerID(ctx context.Context, in NewCallerID, statement string, by int64, fe FieldErrors) (CallerID, error) {
	n, msg := parseCallerID(in.Number)
	if msg != "" {
		fe["number"] = msg
	}
	label := strings.TrimSpace(in.Label)
	switch {
	case label == "":
		fe["label"] = "a label is required: which line it is, such as \"Main office\""
	case utf8.RuneCountInString(label) > maxCallerIDLabel:
		fe["label"] = fmt.Sprintf("at most %d characters", maxCallerIDLabel)
	case strings.ContainsFunc(label, unicode.IsControl):
		fe["label"] = "one line of text, without control characters"
	}
	var id int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := checkAdmin(ctx, tx, by); err != nil {
			return err
		}
		if n != "" {
			cur, ok, err := currentCallerID(ctx, tx, n)
			if err != nil {
				return err
			}
			if ok {
				fe["number"] = fmt.Sprintf("%s is one of the firm's caller IDs already (%q, declared %s by %s)",
					n.Display(), cur.Label, cur.AddedAt.UTC().Format(time.RFC3339), cur.AddedByEmail)
			}
		}
		if len(fe) > 0 {
			return fe
		}
		err := tx.QueryRow(ctx, `INSERT INTO caller_ids (phone, label, attestation, added_by) VALUES ($1, $2, $3, $4) RETURNING id`,
			n, label, statement, by).Scan(&id)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			// Declared by someone else since the check above.
			fe["number"] = fmt.Sprintf("%s is one of the firm's caller IDs already", n.Display())
			return fe
		}
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		return nil
	})
	var got FieldErrors
	if errors.As(err, &got) {
		return CallerID{}, got
	}
	if err != nil {
		return CallerID{}, fmt.Errorf("campaign: declare caller ID: %w", err)
	}
	return s.CallerID(ctx, id)
}

// callerIDColumns are the columns of a CallerID, from caller_ids k joined
// with the users a (added_by) and r (retired_by).
const callerIDColumns = `k.id, k.phone, k.label, k.attestation, k.added_by, a.email, k.added_at, k.retired_at, k.retired_by, coalesce(r.email, ''),
	(SELECT coalesce(jsonb_agg(jsonb_build_object('id', c.id, 'name', c.name, 'status', c.status) ORDER BY c.id), '[]')
	   FROM campaigns c WHERE c.caller_id = k.phone AND c.status IN ('draft', 'running', 'paused'))`

const callerIDFrom = ` FROM caller_ids k JOIN users a ON a.id = k.added_by LEFT JOIN users r ON r.id = k.retired_by`

func scanCallerID(row pgx.Row) (CallerID, error) {
	var c CallerID
	err := row.Scan(&c.ID, &c.Phone, &c.Label, &c.Attestation, &c.AddedBy, &c.AddedByEmail, &c.AddedAt, &c.RetiredAt, &c.RetiredBy,
		&c.RetiredByEmail, &c.Campaigns)
	return c, err
}

// CallerID returns caller ID id, or an error wrapping ErrNotFound.
func (s *Service) CallerID(ctx context.Context, id int64) (CallerID, error) {
	c, err := scanCallerID(s.db.QueryRow(ctx, `SELECT `+callerIDColumns+callerIDFrom+` WHERE k.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return CallerID{}, fmt.Errorf("caller ID %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return CallerID{}, fmt.Errorf("campaign: caller ID %d: %w", id, err)
	}
	return c, nil
}

// CallerIDs lists the firm's caller IDs: the current ones, by number,
// then the retired ones, the latest retired first.
func (s *Service) CallerIDs(ctx context.Context) ([]CallerID, error) {
	rows, err := s.db.Query(ctx, `SELECT `+callerIDColumns+callerIDFrom+`
		ORDER BY k.retired_at IS NOT NULL, k.retired_at DESC, k.phone, k.id`)
	if err != nil {
		return nil, fmt.Errorf("campaign: caller IDs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CallerID, error) { return scanCallerID(r) })
	if err != nil {
		return nil, fmt.Errorf("campaign: caller IDs: %w", err)
	}
	return out, nil
}

// CurrentCallerIDs lists the caller IDs campaigns may send now, by number.
func (s *Service) CurrentCallerIDs(ctx context.Context) ([]CallerID, error) {
	all, err := s.CallerIDs(ctx)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, c := range all {
		if c.Current() {
			out = append(out, c)
		}
	}
	return out, nil
}

// currentCallerID returns number n's current caller ID, and whether it is
// one.
func currentCallerID(ctx context.Context, q pgx.Tx, n phone.Number) (CallerID, bool, error) {
	c, err := scanCallerID(q.QueryRow(ctx, `SELECT `+callerIDColumns+callerIDFrom+` WHERE k.phone = $1 AND k.retired_at IS NULL`, n))
	if errors.Is(err, pgx.ErrNoRows) {
		return CallerID{}, false, nil
	}
	if err != nil {
		return CallerID{}, false, fmt.Errorf("caller ID %s: %w", n, err)
	}
	return c, true, nil
}

// RetireCallerID retires caller ID id, as admin by: campaigns may no
// longer send it. The running campaigns that send it are paused in the
// same transaction (audited as by's change), since a number the firm no
// longer declares its own must not go out one more call (rule F11:
// never spoof); the drafts and paused campaigns that name it cannot start
// until it is declared again. It returns an error wrapping ErrNotFound for
// no such caller ID, ErrCallerIDRetired for one retired already, and
// ErrNotAdmin unless by is an enabled admin.
func (s *Service) RetireCallerID(ctx context.Context, id, by int64) (Retirement, error) {
	var r Retirement
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := checkAdmin(ctx, tx, by); err != nil {
			return err
		}
		// The row lock waits for a start (Start, callAgain) that holds
		// the caller ID FOR SHARE, so that the campaign it starts is
		// running, and paused below, by the time this goes on.
		var (
			n       phone.Number
			retired *time.Time
		)
		err := tx.QueryRow(ctx, `SELECT phone, retired_at FROM caller_ids WHERE id = $1 FOR UPDATE`, id).Scan(&n, &retired)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("caller ID %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("lock caller ID %d: %w", id, err)
		}
		if retired != nil {
			return fmt.Errorf("caller ID %d (%s) was retired at %s: %w", id, n, retired.UTC().Format(time.RFC3339), ErrCallerIDRetired)
		}
		if _, err := tx.Exec(ctx, `UPDATE caller_ids SET retired_at = clock_timestamp(), retired_by = $2 WHERE id = $1`, id, by); err != nil {
			return fmt.Errorf("retire caller ID %d: %w", id, err)
		}
		rows, err := tx.Query(ctx, `UPDATE campaigns SET status = 'paused', updated_by = $2, updated_at = now()
			WHERE caller_id = $1 AND status = 'running' RETURNING id, name, status`, n, by)
		if err != nil {
			return fmt.Errorf("pause its campaigns: %w", err)
		}
		if r.Paused, err = pgx.CollectRows(rows, pgx.RowToStructByPos[CampaignRef]); err != nil {
			return fmt.Errorf("pause its campaigns: %w", err)
		}
		rows, err = tx.Query(ctx, `SELECT id, name, status FROM campaigns WHERE caller_id = $1 AND status IN ('draft', 'paused') AND NOT id = ANY($2) ORDER BY id`,
			n, refIDs(r.Paused))
		if err != nil {
			return fmt.Errorf("campaigns held: %w", err)
		}
		if r.Held, err = pgx.CollectRows(rows, pgx.RowToStructByPos[CampaignRef]); err != nil {
			return fmt.Errorf("campaigns held: %w", err)
		}
		return nil
	})
	if err != nil {
		return Retirement{}, fmt.Errorf("campaign: retire caller ID: %w", err)
	}
	if r.CallerID, err = s.CallerID(ctx, id); err != nil {
		return Retirement{}, err
	}
	return r, nil
}

// refIDs returns the ids of refs, never nil (for = ANY).
func refIDs(refs []CampaignRef) []int64 {
	ids := make([]int64, 0, len(refs))
	for _, c := range refs {
		ids = append(ids, c.ID)
	}
	return ids
}

// callerIDState is what the firm's caller IDs say of a number.
type callerIDState struct {
	// Current says it is a current caller ID.
	Current bool
	// RetiredAt and RetiredBy say when and by whom its latest declaration
	// was retired, for a number that was one and is no longer.
	RetiredAt *time.Time
	RetiredBy string
}

// callerIDStateOf reads what the firm's caller IDs say of number n.
func callerIDStateOf(ctx context.Context, q querier, n string) (callerIDState, error) {
	rows, err := q.Query(ctx, `SELECT k.retired_at, coalesce(r.email, '') FROM caller_ids k LEFT JOIN users r ON r.id = k.retired_by
		WHERE k.phone = $1 ORDER BY k.retired_at IS NOT NULL, k.retired_at DESC LIMIT 1`, n)
	if err != nil {
		return callerIDState{}, fmt.Errorf("caller ID %s: %w", n, err)
	}
	var st callerIDState
	found := false
	_, err = pgx.ForEachRow(rows, []any{&st.RetiredAt, &st.RetiredBy}, func() error {
		found = true
		return nil
	})
	if err != nil {
		return callerIDState{}, fmt.Errorf("caller ID %s: %w", n, err)
	}
	st.Current = found && st.RetiredAt == nil
	return st, nil
}

// notFirms says that number n, in state st, is not a current caller ID of
// the firm: never declared, or retired when and by whom.
func (st callerIDState) notFirms(n string) string {
	if st.RetiredAt != nil {
		by := ""
		if st.RetiredBy != "" {
			by = " by " + st.RetiredBy
		}
		return fmt.Sprintf("%s is no longer one of the firm's caller IDs: it was retired at %s%s", phone.Number(n).Display(),
			st.RetiredAt.UTC().Format(time.RFC3339), by)
	}
	return fmt.Sprintf("%s is not one of the firm's caller IDs", phone.Number(n).Display())
}

// callerIDFieldError is the campaign form's refusal of a caller ID that
// is not a current caller ID of the firm (rule F11), in state st.
func callerIDFieldError(n string, st callerIDState) string {
	return st.notFirms(n) + ": a campaign sends only a number the firm has declared its own, which accepts do-not-call requests during business hours " +
		"(rule F11); choose one of the firm's caller IDs, or have an admin declare this number on the Caller IDs page (" + CallerIDsPage +
		") or with `heed callerid add`"
}

// callerIDLaunchError returns the launch checks' refusal of a campaign
// whose caller ID n is not a current caller ID of the firm, in state st.
func callerIDLaunchError(n string, st callerIDState) *LaunchError {
	code := ReasonCallerIDUnregistered
	if st.RetiredAt != nil {
		code = ReasonCallerIDRetired
	}
	return &LaunchError{Reasons: []consent.Reason{code}, Details: []string{"the campaign's caller ID " + st.notFirms(n)}}
}

// lockCallerID holds caller ID n FOR SHARE until tx ends, in a
// transaction that makes a campaign that sends it running (Start,
// callAgain), and returns the launch checks' refusal (a *LaunchError)
// when n is not a current caller ID of the firm: a retirement
// (RetireCallerID) waits for tx, and then pauses the campaign, or tx
// finds the number retired.
func lockCallerID(ctx context.Context, tx pgx.Tx, n string) error {
	var id int64
	err := tx.QueryRow(ctx, `SELECT id FROM caller_ids WHERE phone = $1 AND retired_at IS NULL FOR SHARE`, n).Scan(&id)
	if err == nil {
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("lock caller ID %s: %w", n, err)
	}
	st, err := callerIDStateOf(ctx, tx, n)
	if err != nil {
		return err
	}
	return callerIDLaunchError(n, st)
}

// launchCheck runs the launch checks (Launch.Check) of campaign c, with
// its contacts in states (placed, or not), and heed's own check that its
// caller ID is a current caller ID of the firm (rule F11), read through
// q. It returns nil when c may start, a *LaunchError naming every check
// it fails, or another error when the checks cannot run.
func (s *Service) launchCheck(ctx context.Context, q querier, c Campaign, states []string, placed bool) error {
	err := s.Launch.Check(ctx, c, states, placed)
	var le *LaunchError
	if err != nil && !errors.As(err, &le) {
		return err
	}
	st, qerr := callerIDStateOf(ctx, q, c.CallerID)
	if qerr != nil {
		return fmt.Errorf("launch check: %w", qerr)
	}
	if st.Current {
		return err
	}
	ce := callerIDLaunchError(c.CallerID, st)
	if le == nil {
		return ce
	}
	le.Reasons = append(le.Reasons, ce.Reasons...)
	le.Details = append(le.Details, ce.Details...)
	return le
}
