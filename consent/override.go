package consent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/internal/phone"
)

// ErrInvalidOverride reports an override or withdrawal that the store
// refuses to record; the error is an OverrideErrors naming what is wrong.
var ErrInvalidOverride = errors.New("invalid override")

// ErrNotAttorney reports that the user who would log or withdraw an override
// is not an enabled attorney: only attorneys may (rules R1 and E1).
var ErrNotAttorney = errors.New("only an attorney may log or withdraw an override")

// ErrOverrideNotFound reports an override that does not exist.
var ErrOverrideNotFound = errors.New("override not found")

// ErrAlreadyWithdrawn reports a withdrawal of an override that has already
// been withdrawn.
var ErrAlreadyWithdrawn = errors.New("override already withdrawn")

// MinOverrideNote is the least number of characters an override's note may
// have: enough to say what the person said or what the relationship is.
const MinOverrideNote = 10

// maxOverrideNote bounds an override's note and a withdrawal's reason, in
// bytes.
const maxOverrideNote = 4000

// RegFConsentMaxAge is how long a person's direct consent to more calls may
// waive Reg F's call frequency limits: calls count again once seven
// consecutive days have passed since the consent (12 CFR 1006.14(b)(3)(i)).
const RegFConsentMaxAge = 7 * 24 * time.Hour

// OverrideKind is what an override waives.
type OverrideKind string

// The two kinds of override.
const (
	// OverrideRegFDirectConsent records the person's direct consent to
	// calls beyond Reg F's frequency limits (rule R1).
	OverrideRegFDirectConsent OverrideKind = "regf_direct_consent"
	// OverrideSolicitationException records that a live solicitation call
	// falls under an exception of Rule 7.3 (rule E1).
	OverrideSolicitationException OverrideKind = "solicitation_exception"
)

// OverrideKinds lists the kinds of override, for forms and usage text.
var OverrideKinds = []OverrideKind{OverrideRegFDirectConsent, OverrideSolicitationException}

// Relationship is why a solicitation exception applies (rule E1).
type Relationship string

// The relationships Rule 7.3 exempts.
const (
	RelationshipLawyer            Relationship = "lawyer"
	RelationshipFamily            Relationship = "family"
	RelationshipClosePersonal     Relationship = "close_personal"
	RelationshipPriorProfessional Relationship = "prior_professional"
)

// Relationships lists the relationships Rule 7.3 exempts, for forms and
// usage text.
var Relationships = []Relationship{RelationshipLawyer, RelationshipFamily, RelationshipClosePersonal, RelationshipPriorProfessional}

// Via says where an override or withdrawal was recorded.
type Via string

// Where overrides are recorded.
const (
	ViaWeb Via = "web"
	ViaCLI Via = "cli"
)

// OverrideErrors maps the fields of an override or withdrawal to what is
// wrong with them. It wraps ErrInvalidOverride.
type OverrideErrors map[string]string

// Error lists the problems in field order.
func (o OverrideErrors) Error() string {
	parts := make([]string, 0, len(o))
	for _, k := range slices.Sorted(maps.Keys(o)) {
		parts = append(parts, o[k])
	}
	return strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalidOverride) true.
func (o OverrideErrors) Unwrap() error { return ErrInvalidOverride }

// NewOverride is an override to log.
type NewOverride struct {
	// Phone is the number as written; it is normalised to E.164 and must be
	// in the NANP.
	Phone string
	// Kind is what the override waives.
	Kind OverrideKind
	// Relationship is required for a solicitation exception and must be
	// empty for a Reg F direct consent.
	Relationship Relationship
	// Note says what the person said, or what the relationship is; at least
	// MinOverrideNote characters.
	Note string
	// Evidence is a transcript or other proof, stored with its SHA-256 hash,
	// or "".
	Evidence string
	// ExpiresAt ends the override, or is zero. A Reg F direct consent with
	// no expiry expires RegFConsentMaxAge after it is logged, and may not be
	// given a later one.
	ExpiresAt time.Time
	// LoggedBy is the attorney who logs it.
	LoggedBy int64
	// Via says where it is logged.
	Via Via
}

// Override is a logged override, with its withdrawal if any.
type Override struct {
	// ID is the overrides row id.
	ID int64
	// Phone is the number in E.164 form.
	Phone phone.Number
	// Kind is what the override waives.
	Kind OverrideKind
	// Relationship is the exception's relationship, or "" for Reg F.
	Relationship Relationship
	// Note says what the person said, or what the relationship is.
	Note string
	// Evidence is the proof given, or "".
	Evidence string
	// EvidenceHash is the hex SHA-256 of Evidence, or "" when there is none.
	EvidenceHash string
	// LoggedBy is the attorney's user id, and LoggedByEmail their email.
	LoggedBy      int64
	LoggedByEmail string
	// Via says where it was logged.
	Via Via
	// LoggedAt is when it was logged, by the database's clock.
	LoggedAt time.Time
	// ExpiresAt is when it ends on its own, or zero for never.
	ExpiresAt time.Time
	// Withdrawal is the override's withdrawal, or nil.
	Withdrawal *OverrideWithdrawal
}

// OverrideWithdrawal records that an attorney withdrew an override.
type OverrideWithdrawal struct {
	// ID is the override_withdrawals row id.
	ID int64
	// Reason says why the override was withdrawn.
	Reason string
	// WithdrawnBy is the attorney's user id, and WithdrawnByEmail their email.
	WithdrawnBy      int64
	WithdrawnByEmail string
	// Via says where it was withdrawn.
	Via Via
	// WithdrawnAt is when, by the database's clock; the override is not
	// active from this instant on.
	WithdrawnAt time.Time
}

// ActiveAt reports whether the override is in force at t: logged at or
// before t, not expired (it expires at ExpiresAt exactly) and not withdrawn
// at or before t.
func (o Override) ActiveAt(t time.Time) bool {
	return !o.LoggedAt.After(t) && (o.ExpiresAt.IsZero() || t.Before(o.ExpiresAt)) &&
		(o.Withdrawal == nil || t.Before(o.Withdrawal.WithdrawnAt))
}

// Status names the override's state at t: "active", "withdrawn",
// "expired", or "not yet logged" for a t before LoggedAt.
func (o Override) Status(t time.Time) string {
	switch {
	case o.LoggedAt.After(t):
		return "not yet logged"
	case o.Withdrawal != nil && !t.Before(o.Withdrawal.WithdrawnAt):
		return "withdrawn"
	case !o.ExpiresAt.IsZero() && !t.Before(o.ExpiresAt):
		return "expired"
	}
	return "active"
}

// OverrideFlags says which overrides are in force for a number at a moment.
// The pacing loop and heed check copy the two flags into Input.
type OverrideFlags struct {
	// RegFDirectConsent is Input.RegFDirectConsent: an attorney has logged
	// the person's direct consent to more calls (rule R1).
	RegFDirectConsent bool `json:"regf_direct_consent,omitempty"`
	// SolicitationException is Input.SolicitationException: an attorney has
	// logged a Rule 7.3 exception for the person (rule E1).
	SolicitationException bool `json:"solicitation_exception,omitempty"`
	// RegFOverrideID and SolicitationOverrideID name the active override
	// behind each flag (the one that lasts longest, then the newest), or are
	// 0, so that a decision's record can name the override it relied on.
	RegFOverrideID         int64 `json:"regf_override_id,omitempty"`
	SolicitationOverrideID int64 `json:"solicitation_override_id,omitempty"`
	// RegFUntil and SolicitationUntil are when that override expires, or
	// zero for never; At uses them.
	RegFUntil         time.Time `json:"regf_until,omitzero"`
	SolicitationUntil time.Time `json:"solicitation_until,omitzero"`
}

// At returns the flags as they stand at t, a moment at or after the one
// Active was asked about: an override whose expiry has come by t is
// dropped. (A withdrawal made after Active ran counts from the next call to
// Active, as an opt-out counts from the next index sync.)
func (f OverrideFlags) At(t time.Time) OverrideFlags {
	if f.RegFDirectConsent && !f.RegFUntil.IsZero() && !t.Before(f.RegFUntil) {
		f.RegFDirectConsent, f.RegFOverrideID, f.RegFUntil = false, 0, time.Time{}
	}
	if f.SolicitationException && !f.SolicitationUntil.IsZero() && !t.Before(f.SolicitationUntil) {
		f.SolicitationException, f.SolicitationOverrideID, f.SolicitationUntil = false, 0, time.Time{}
	}
	return f
}

// OverrideStore keeps logged overrides in PostgreSQL. Its tables are
// append-only and every write reaches the hash-chained audit log in the same
// transaction (both by triggers of migration 00013).
type OverrideStore struct {
	db  *pgxpool.Pool
	now func() time.Time
}

// NewOverrideStore returns an OverrideStore on db.
func NewOverrideStore(db *pgxpool.Pool) *OverrideStore {
	return &OverrideStore{db: db, now: time.Now}
}

// validate checks an override and returns its normalised number.
func (in *NewOverride) validate(now time.Time) (phone.Number, OverrideErrors) {
	fe := OverrideErrors{}
	n, err := phone.Parse(in.Phone)
	switch {
	case strings.TrimSpace(in.Phone) == "":
		fe["phone"] = "phone is required"
	case err != nil:
		fe["phone"] = fmt.Sprintf("phone %q is not a valid phone number", in.Phone)
	case n.AreaCode() == "":
		fe["phone"] = fmt.Sprintf("phone %s is outside the North American Numbering Plan, which heed does not call", n)
	}
	switch in.Kind {
	case OverrideRegFDirectConsent:
		if in.Relationship != "" {
			fe["relationship"] = "relationship applies only to a solicitation exception; leave it empty for a Reg F direct consent"
		}
		if !in.ExpiresAt.IsZero() && in.ExpiresAt.After(now.Add(RegFConsentMaxAge)) {
			fe["expires_at"] = fmt.Sprintf("expires_at %s is more than 7 days away: a person's direct consent waives Reg F's call limits for at most 7 consecutive days (12 CFR 1006.14(b)(3)(i)); leave it empty for 7 days",
				in.ExpiresAt.Format(time.RFC3339))
		}
	case OverrideSolicitationException:
		if !slices.Contains(Relationships, in.Relationship) {
			fe["relationship"] = fmt.Sprintf("relationship %q: a solicitation exception needs one of %s", in.Relationship, relationshipNames())
		}
	default:
		fe["kind"] = fmt.Sprintf("kind %q: want regf_direct_consent or solicitation_exception", in.Kind)
	}
	switch note := strings.TrimSpace(in.Note); {
	case utf8.RuneCountInString(note) < MinOverrideNote:
		fe["note"] = fmt.Sprintf("note must have at least %d characters: say what the person said, or what the relationship is", MinOverrideNote)
	case len(note) > maxOverrideNote:
		fe["note"] = fmt.Sprintf("note is longer than %d bytes; put long text in the evidence", maxOverrideNote)
	}
	if len(in.Evidence) > MaxEvidenceBytes {
		fe["evidence"] = fmt.Sprintf("evidence is longer than %d bytes", MaxEvidenceBytes)
	}
	if !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(now) {
		fe["expires_at"] = fmt.Sprintf("expires_at %s is not in the future", in.ExpiresAt.Format(time.RFC3339))
	}
	if in.LoggedBy == 0 {
		fe["logged_by"] = "the attorney who logs the override is required"
	}
	if in.Via != ViaWeb && in.Via != ViaCLI {
		fe["via"] = fmt.Sprintf("via %q: want web or cli", in.Via)
	}
	return n, fe
}

func relationshipNames() string {
	names := make([]string, len(Relationships))
	for i, r := range Relationships {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// checkAttorney returns an error wrapping ErrNotAttorney unless the user is
// an enabled attorney, and locks the user's row until tx ends so the role
// cannot change under the write.
func checkAttorney(ctx context.Context, tx pgx.Tx, userID int64) error {
	var (
		email, role string
		disabled    bool
	)
	err := tx.QueryRow(ctx, `SELECT email, role, disabled FROM users WHERE id = $1 FOR SHARE`, userID).Scan(&email, &role, &disabled)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("user %d does not exist: %w", userID, ErrNotAttorney)
	case err != nil:
		return fmt.Errorf("user %d: %w", userID, err)
	case role != "attorney":
		return fmt.Errorf("%s has the role %s: %w", email, role, ErrNotAttorney)
	case disabled:
		return fmt.Errorf("%s is disabled: %w", email, ErrNotAttorney)
	}
	return nil
}

// writeError turns the database's refusals into the store's errors: the
// attorney trigger into ErrNotAttorney, a check constraint into
// OverrideErrors.
func writeError(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch {
	case pe.Code == "42501":
		return fmt.Errorf("%s: %w", pe.Message, ErrNotAttorney)
	case pe.Code == "23505" && strings.Contains(pe.ConstraintName, "override_id"):
		return ErrAlreadyWithdrawn
	case pe.Code == "23514" && strings.Contains(pe.ConstraintName, "regf_seven_days"):
		return OverrideErrors{"expires_at": "a Reg F direct consent expires at most 7 days after it is logged (12 CFR 1006.14(b)(3)(i))"}
	case pe.Code == "23514" && strings.Contains(pe.ConstraintName, "expires_after_logged"):
		return OverrideErrors{"expires_at": "expires_at is not after the time the override is logged"}
	case pe.Code == "23514":
		return OverrideErrors{pe.ConstraintName: pe.Message}
	}
	return err
}

const overrideColumns = `o.id, o.phone, o.kind, coalesce(o.relationship, ''), o.note, o.evidence, o.evidence_hash,
	o.logged_by, lu.email, o.via, o.logged_at, o.expires_at,
	w.id, w.reason, w.withdrawn_by, wu.email, w.via, w.withdrawn_at`

const overrideFrom = ` FROM overrides o
	JOIN users lu ON lu.id = o.logged_by
	LEFT JOIN override_withdrawals w ON w.override_id = o.id
	LEFT JOIN users wu ON wu.id = w.withdrawn_by`

func scanOverride(row pgx.Row) (Override, error) {
	var (
		o                    Override
		p, kind, rel, via    string
		expires              *time.Time
		wID, wBy             *int64
		wReason, wEmail, wVi *string
		wAt                  *time.Time
	)
	err := row.Scan(&o.ID, &p, &kind, &rel, &o.Note, &o.Evidence, &o.EvidenceHash, &o.LoggedBy, &o.LoggedByEmail, &via, &o.LoggedAt, &expires,
		&wID, &wReason, &wBy, &wEmail, &wVi, &wAt)
	if err != nil {
		return Override{}, err
	}
	o.Phone, o.Kind, o.Relationship, o.Via = phone.Number(p), OverrideKind(kind), Relationship(rel), Via(via)
	if expires != nil {
		o.ExpiresAt = *expires
	}
	if wID != nil {
		o.Withdrawal = &OverrideWithdrawal{ID: *wID, Reason: *wReason, WithdrawnBy: *wBy, WithdrawnByEmail: *wEmail, Via: Via(*wVi), WithdrawnAt: *wAt}
	}
	return o, nil
}

// Log validates and records an override, checking in the same transaction
// that its logger is an enabled attorney. It returns the override as
// stored, with the time it was logged by the database's clock. An invalid
// override is refused with OverrideErrors wrapping ErrInvalidOverride, a
// logger who is not an attorney with an error wrapping ErrNotAttorney.
func (s *OverrideStore) Log(ctx context.Context, in NewOverride) (Override, error) {
	n, fe := in.validate(s.now())
	if len(fe) > 0 {
		return Override{}, fmt.Errorf("log override: %w", fe)
	}
	var id int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := checkAttorney(ctx, tx, in.LoggedBy); err != nil {
			return err
		}
		var rel any
		if in.Relationship != "" {
			rel = string(in.Relationship)
		}
		return tx.QueryRow(ctx, `
			INSERT INTO overrides (phone, kind, relationship, note, evidence, evidence_hash, logged_by, via, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			RETURNING id`,
			n.String(), string(in.Kind), rel, strings.TrimSpace(in.Note), in.Evidence, evidenceHash(in.Evidence),
			in.LoggedBy, string(in.Via), nullTime(in.ExpiresAt)).Scan(&id)
	})
	if err != nil {
		return Override{}, fmt.Errorf("log override for %s: %w", n, writeError(err))
	}
	return s.Get(ctx, id)
}

// Get returns the override with the given id, or an error wrapping
// ErrOverrideNotFound.
func (s *OverrideStore) Get(ctx context.Context, id int64) (Override, error) {
	o, err := scanOverride(s.db.QueryRow(ctx, `SELECT `+overrideColumns+overrideFrom+` WHERE o.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Override{}, fmt.Errorf("override %d: %w", id, ErrOverrideNotFound)
	}
	if err != nil {
		return Override{}, fmt.Errorf("override %d: %w", id, err)
	}
	return o, nil
}

// Withdraw ends an override from now on, by the database's clock, recording
// who withdrew it and why; the override itself is never changed. Only an
// enabled attorney may withdraw (ErrNotAttorney); an override withdrawn
// once cannot be withdrawn again (ErrAlreadyWithdrawn); an unknown id is
// ErrOverrideNotFound.
func (s *OverrideStore) Withdraw(ctx context.Context, id, by int64, reason string, via Via) (Override, error) {
	fe := OverrideErrors{}
	switch reason = strings.TrimSpace(reason); {
	case reason == "":
		fe["reason"] = "reason is required: say why the override is withdrawn"
	case len(reason) > maxOverrideNote:
		fe["reason"] = fmt.Sprintf("reason is longer than %d bytes", maxOverrideNote)
	}
	if via != ViaWeb && via != ViaCLI {
		fe["via"] = fmt.Sprintf("via %q: want web or cli", via)
	}
	if len(fe) > 0 {
		return Override{}, fmt.Errorf("withdraw override %d: %w", id, fe)
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := checkAttorney(ctx, tx, by); err != nil {
			return err
		}
		var p string
		var withdrawn bool
		err := tx.QueryRow(ctx, `SELECT o.phone, EXISTS (SELECT 1 FROM override_withdrawals w WHERE w.override_id = o.id)
			FROM overrides o WHERE o.id = $1 FOR SHARE`, id).Scan(&p, &withdrawn)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return ErrOverrideNotFound
		case err != nil:
			return err
		case withdrawn:
			return ErrAlreadyWithdrawn
		}
		_, err = tx.Exec(ctx, `INSERT INTO override_withdrawals (override_id, phone, reason, withdrawn_by, via) VALUES ($1, $2, $3, $4, $5)`,
			id, p, reason, by, string(via))
		return err
	})
	if err != nil {
		return Override{}, fmt.Errorf("withdraw override %d: %w", id, writeError(err))
	}
	return s.Get(ctx, id)
}

// List returns the overrides of one number, or of every number when n is
// "", newest first, with who logged each by email and its withdrawal.
func (s *OverrideStore) List(ctx context.Context, n phone.Number) ([]Override, error) {
	rows, err := s.db.Query(ctx, `SELECT `+overrideColumns+overrideFrom+`
		WHERE $1 = '' OR o.phone = $1 ORDER BY o.logged_at DESC, o.id DESC`, n.String())
	if err != nil {
		return nil, fmt.Errorf("list overrides: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Override, error) { return scanOverride(r) })
	if err != nil {
		return nil, fmt.Errorf("list overrides: %w", err)
	}
	if out == nil {
		out = []Override{}
	}
	return out, nil
}

// OverrideInForceSQL is the SQL condition that the row o of table
// overrides is in force at the instant at (an SQL expression): logged by
// then, not expired, and not withdrawn by withdrawnBy (an SQL expression,
// at itself but for a reader that allows for a withdrawal's commit). It is
// the one definition Active and the calls report share.
func OverrideInForceSQL(o, at, withdrawnBy string) string {
	return o + ".logged_at <= " + at + " AND (" + o + ".expires_at IS NULL OR " + o + ".expires_at > " + at + ")" +
		" AND NOT EXISTS (SELECT 1 FROM override_withdrawals w WHERE w.override_id = " + o + ".id AND w.withdrawn_at <= " + withdrawnBy + ")"
}

// Active returns, for every number given, which overrides are in force at
// at: logged at or before at, not expired (an override expires at its
// expires_at exactly) and not withdrawn at or before at. Every number given
// has an entry, all false when nothing is in force; the map is never nil.
// It runs one query, for the pacing loop's batches; OverrideFlags.At
// carries a batch's flags to each call's own moment.
func (s *OverrideStore) Active(ctx context.Context, phones []phone.Number, at time.Time) (map[phone.Number]OverrideFlags, error) {
	out := make(map[phone.Number]OverrideFlags, len(phones))
	if len(phones) == 0 {
		return out, nil
	}
	list := make([]string, len(phones))
	for i, p := range phones {
		list[i] = p.String()
		out[p] = OverrideFlags{}
	}
	rows, err := s.db.Query(ctx, `
		SELECT DISTINCT ON (o.phone, o.kind) o.phone, o.kind, o.id, o.expires_at
		  FROM overrides o
		 WHERE o.phone = ANY($1) AND `+OverrideInForceSQL("o", "$2", "$2")+`
		 ORDER BY o.phone, o.kind, o.expires_at DESC NULLS FIRST, o.logged_at DESC, o.id DESC`, list, at)
	if err != nil {
		return nil, fmt.Errorf("active overrides: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			p, kind string
			id      int64
			expires *time.Time
		)
		if err := rows.Scan(&p, &kind, &id, &expires); err != nil {
			return nil, fmt.Errorf("active overrides: %w", err)
		}
		var until time.Time
		if expires != nil {
			until = *expires
		}
		f := out[phone.Number(p)]
		switch OverrideKind(kind) {
		case OverrideRegFDirectConsent:
			f.RegFDirectConsent, f.RegFOverrideID, f.RegFUntil = true, id, until
		case OverrideSolicitationException:
			f.SolicitationException, f.SolicitationOverrideID, f.SolicitationUntil = true, id, until
		}
		out[phone.Number(p)] = f
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("active overrides: %w", err)
	}
	return out, nil
}
