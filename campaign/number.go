package campaign

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/phone"
)

// MaxNumberAttempts is how many of a number's attempts NumberHistory
// returns, newest first.
const MaxNumberAttempts = 500

// NumberHistory is what heed holds of one number: the contacts that have
// it, in every list; the attempts to call it, in every campaign; its
// consents, revocations and internal do-not-call entries. It answers "who
// is this, when and why did we call it, and what did they tell us" for the
// people who answer a complaint.
type NumberHistory struct {
	Phone string `json:"phone"`
	// Consents and Revocations are the number's records in the consent
	// ledger, oldest first; DNC its internal do-not-call entries, those
	// taken off included, oldest first.
	Consents    []RecordConsent    `json:"consents"`
	Revocations []RecordRevocation `json:"revocations"`
	DNC         []RecordDNC        `json:"dnc_internal"`
	// OptOuts are the opt-outs taken of the number (a key press, the
	// opt-out page, a staff entry), oldest first: when each was taken and
	// when its revocation and entry were recorded.
	OptOuts []NumberOptOut `json:"opt_outs_taken"`
	// Contacts are the contacts with the number, newest first.
	Contacts []NumberContact `json:"contacts"`
	// Attempts are the number's attempts, newest first, at most
	// MaxNumberAttempts; Total counts them all.
	Attempts []NumberAttempt `json:"attempts"`
	Total    int             `json:"total_attempts"`
}

// NumberContact is a contact with a number, and its list.
type NumberContact struct {
	ListID    int64  `json:"list_id"`
	List      string `json:"list"`
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	State     string `json:"state"`
	ZIP       string `json:"zip"`
	PersonRef string `json:"person_ref"`
	// AccidentDate is the contact's accident_date (rule E1), YYYY-MM-DD,
	// or "".
	AccidentDate string `json:"accident_date"`
	// LineType is the type of the contact's line as its list gives it:
	// wireless, landline or unknown.
	LineType  consent.LineType `json:"line_type"`
	CreatedAt time.Time        `json:"created_at"`
}

// AccidentAt is consent.AccidentInstant of the contact's accident date, or
// zero without one.
func (c *NumberContact) AccidentAt() time.Time {
	d, err := time.Parse(time.DateOnly, c.AccidentDate)
	if err != nil {
		return time.Time{}
	}
	return consent.AccidentInstant(d)
}

// NumberOptOut is an opt-out taken of a number (optout_requests).
type NumberOptOut struct {
	ID      int64     `json:"id"`
	TakenAt time.Time `json:"taken_at"`
	Method  string    `json:"method"`
	Source  string    `json:"source"`
	// AttemptID is the call during which it was pressed, if it was.
	AttemptID *int64 `json:"attempt_id,omitempty"`
	// RecordedAt is when its records were written; nil while they wait
	// for the database (the gates refuse the number meanwhile).
	RecordedAt *time.Time `json:"recorded_at,omitempty"`
	// RevocationID is the revocation recorded.
	RevocationID *int64 `json:"revocation_id,omitempty"`
}

// optOutColumns are the columns of optout_requests that make a
// NumberOptOut, in its fields' order.
const optOutColumns = `id, taken_at, method, source, attempt_id, recorded_at, revocation_id`

// NumberAttempt is an attempt to call a number, with its campaign.
type NumberAttempt struct {
	Attempt
	Campaign string `json:"campaign"`
	Purpose  string `json:"purpose"`
}

// NumberHistory returns what heed holds of number n. A number heed never
// held gives an empty history.
func (s *Service) NumberHistory(ctx context.Context, n phone.Number) (NumberHistory, error) {
	h := NumberHistory{Phone: n.String(), Consents: []RecordConsent{}, Revocations: []RecordRevocation{}}
	cs, rs, err := consent.NewLedger(s.db).History(ctx, n)
	if err != nil {
		return NumberHistory{}, fmt.Errorf("campaign: number %s: %w", n, err)
	}
	for _, c := range cs {
		h.Consents = append(h.Consents, recordConsent(c, false))
	}
	for _, v := range rs {
		h.Revocations = append(h.Revocations, recordRevocation(v, false))
	}
	if h.DNC, err = s.internalEntries(ctx, h.Phone); err != nil {
		return NumberHistory{}, fmt.Errorf("campaign: number %s: %w", n, err)
	}
	rows, err := s.db.Query(ctx, `SELECT `+optOutColumns+`
		  FROM optout_requests WHERE phone = $1 ORDER BY taken_at, id`, h.Phone)
	if err != nil {
		return NumberHistory{}, fmt.Errorf("campaign: number %s: opt-outs: %w", n, err)
	}
	if h.OptOuts, err = pgx.CollectRows(rows, pgx.RowToStructByPos[NumberOptOut]); err != nil {
		return NumberHistory{}, fmt.Errorf("campaign: number %s: opt-outs: %w", n, err)
	}
	rows, err = s.db.Query(ctx, `
		SELECT l.id, l.name, c.id, c.name, c.state, c.zip, c.person_ref, coalesce(to_char(c.accident_date, 'YYYY-MM-DD'), ''), c.line_type, c.created_at
		  FROM contacts c JOIN contact_lists l ON l.id = c.list_id
		 WHERE c.phone = $1 ORDER BY c.created_at DESC, c.id DESC`, h.Phone)
	if err != nil {
		return NumberHistory{}, fmt.Errorf("campaign: number %s: contacts: %w", n, err)
	}
	h.Contacts, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (NumberContact, error) {
		var c NumberContact
		err := r.Scan(&c.ListID, &c.List, &c.ID, &c.Name, &c.State, &c.ZIP, &c.PersonRef, &c.AccidentDate, &c.LineType, &c.CreatedAt)
		return c, err
	})
	if err != nil {
		return NumberHistory{}, fmt.Errorf("campaign: number %s: contacts: %w", n, err)
	}
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM attempts WHERE phone = $1`, h.Phone).Scan(&h.Total); err != nil {
		return NumberHistory{}, fmt.Errorf("campaign: number %s: attempts: %w", n, err)
	}
	rows, err = s.db.Query(ctx, `
		SELECT `+attemptColumns+`, k.name, k.purpose
		  FROM attempts a JOIN contacts c ON c.id = a.contact_id JOIN campaigns k ON k.id = a.campaign_id
		 WHERE a.phone = $1 ORDER BY a.created_at DESC, a.id DESC LIMIT $2`, h.Phone, MaxNumberAttempts)
	if err != nil {
		return NumberHistory{}, fmt.Errorf("campaign: number %s: attempts: %w", n, err)
	}
	h.Attempts, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (NumberAttempt, error) {
		var na NumberAttempt
		err := r.Scan(na.fields(&na.Campaign, &na.Purpose)...)
		return na, err
	})
	if err != nil {
		return NumberHistory{}, fmt.Errorf("campaign: number %s: attempts: %w", n, err)
	}
	return h, nil
}
