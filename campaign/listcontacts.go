package campaign

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ContactPageSize is how many contacts a page of a list shows unless asked
// for another number; MaxContactPageSize is the most it shows.
const (
	ContactPageSize    = 50
	MaxContactPageSize = 500
)

// ContactQuery selects a page of a list's contacts.
type ContactQuery struct {
	// Search keeps the contacts whose name, person_ref or external_ref
	// contains it (in any case), or whose phone contains its digits when it
	// has three or more; empty keeps every contact.
	Search string
	// Page is the page, from 1; 0 is the first.
	Page int
	// PageSize is the contacts a page holds: ContactPageSize when 0, at
	// most MaxContactPageSize.
	PageSize int
}

// Contact is a contact on a list, with its last attempt.
type Contact struct {
	ID            int64      `json:"id"`
	Name          string     `json:"name"`
	Phone         string     `json:"phone"`
	State         string     `json:"state"`
	ZIP           string     `json:"zip"`
	ExternalRef   string     `json:"external_ref"`
	AppointmentAt *time.Time `json:"appointment_at"`
	Place         string     `json:"place"`
	Matter        string     `json:"matter"`
	PersonRef     string     `json:"person_ref"`
	// AccidentDate is the contact's accident_date (rule E1), YYYY-MM-DD,
	// or "".
	AccidentDate string `json:"accident_date"`
	// LineType is the type of the contact's line as the list gives it:
	// wireless, landline or unknown.
	LineType string `json:"line_type"`
	// Last is the contact's latest attempt, in any campaign, or nil when
	// no campaign has tried to call it.
	Last *ContactAttempt `json:"last_attempt"`
	// OptedOutAt is when the contact's number was put on the internal
	// do-not-call list, or nil when it is not on it.
	OptedOutAt *time.Time `json:"opted_out_at"`
}

// ContactAttempt is a contact's attempt as its list shows it.
type ContactAttempt struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	CampaignID int64     `json:"campaign_id"`
	Campaign   string    `json:"campaign"`
	Decision   string    `json:"decision"`
	Reasons    []string  `json:"reasons"`
	Status     string    `json:"status"`
	Outcome    string    `json:"outcome"`
}

// ContactPage is a page of a list's contacts, by name.
type ContactPage struct {
	List ContactList `json:"list"`
	// Search is the query's search; Matching counts the list's contacts it
	// keeps (all of them without one).
	Search   string `json:"search,omitempty"`
	Matching int    `json:"matching"`
	// Page is this page, from 1, of Pages (at least 1), each of PageSize
	// contacts.
	Page     int       `json:"page"`
	Pages    int       `json:"pages"`
	PageSize int       `json:"page_size"`
	Contacts []Contact `json:"contacts"`
}

// ErrPage reports a page number or size out of range.
var ErrPage = errors.New("no such page")

// ListContacts returns a page of list id's contacts, by name then id, with
// each one's last attempt. It returns an error wrapping ErrNotFound when
// there is no such list, and ErrPage for a page beyond the last or a size
// out of range.
func (s *Service) ListContacts(ctx context.Context, id int64, q ContactQuery) (ContactPage, error) {
	p := ContactPage{Search: strings.TrimSpace(q.Search), Page: max(q.Page, 1), PageSize: q.PageSize}
	if p.PageSize == 0 {
		p.PageSize = ContactPageSize
	}
	if p.PageSize < 1 || p.PageSize > MaxContactPageSize || q.Page < 0 {
		return ContactPage{}, fmt.Errorf("campaign: contacts of list %d: page %d of %d contacts: %w", id, q.Page, q.PageSize, ErrPage)
	}
	err := s.db.QueryRow(ctx, `SELECT l.id, l.name, (SELECT count(*) FROM contacts c WHERE c.list_id = l.id) FROM contact_lists l WHERE l.id = $1`, id).
		Scan(&p.List.ID, &p.List.Name, &p.List.Contacts)
	if errors.Is(err, pgx.ErrNoRows) {
		return ContactPage{}, fmt.Errorf("campaign: list %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return ContactPage{}, fmt.Errorf("campaign: list %d: %w", id, err)
	}
	like, digits := searchPatterns(p.Search)
	const match = `c.list_id = $1 AND ` + contactMatches
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM contacts c WHERE `+match, id, like, digits).Scan(&p.Matching); err != nil {
		return ContactPage{}, fmt.Errorf("campaign: contacts of list %d: %w", id, err)
	}
	p.Pages = max(1, (p.Matching+p.PageSize-1)/p.PageSize)
	if p.Page > p.Pages {
		return ContactPage{}, fmt.Errorf("campaign: contacts of list %d: page %d of %d: %w", id, p.Page, p.Pages, ErrPage)
	}
	rows, err := s.db.Query(ctx, `
		SELECT c.id, c.name, c.phone, c.state, c.zip, c.external_ref, c.appointment_at, c.place, c.matter, c.person_ref,
		       coalesce(to_char(c.accident_date, 'YYYY-MM-DD'), ''), c.line_type, a.id, a.created_at, a.campaign_id, k.name, a.decision, a.reasons, a.status, a.outcome,
		       (SELECT min(d.added_at) FROM dnc_internal d WHERE d.phone = c.phone AND d.removed_at IS NULL)
		  FROM contacts c
		  LEFT JOIN LATERAL (SELECT * FROM attempts a WHERE a.contact_id = c.id ORDER BY a.id DESC LIMIT 1) a ON true
		  LEFT JOIN campaigns k ON k.id = a.campaign_id
		 WHERE `+match+`
		 ORDER BY c.name, c.id LIMIT $4 OFFSET $5`, id, like, digits, p.PageSize, (p.Page-1)*p.PageSize)
	if err != nil {
		return ContactPage{}, fmt.Errorf("campaign: contacts of list %d: %w", id, err)
	}
	p.Contacts, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Contact, error) {
		var (
			c                                   Contact
			aid, cid                            *int64
			at                                  *time.Time
			campaign, decision, status, outcome *string
			reasons                             []string
		)
		err := r.Scan(&c.ID, &c.Name, &c.Phone, &c.State, &c.ZIP, &c.ExternalRef, &c.AppointmentAt, &c.Place, &c.Matter, &c.PersonRef,
			&c.AccidentDate, &c.LineType, &aid, &at, &cid, &campaign, &decision, &reasons, &status, &outcome, &c.OptedOutAt)
		if err == nil && aid != nil {
			c.Last = &ContactAttempt{ID: *aid, At: *at, CampaignID: *cid, Campaign: *campaign, Decision: *decision,
				Reasons: reasons, Status: *status, Outcome: *outcome}
		}
		return c, err
	})
	if err != nil {
		return ContactPage{}, fmt.Errorf("campaign: contacts of list %d: %w", id, err)
	}
	return p, nil
}

// contactMatches is the condition that contact c matches a search: $2
// and $3 are searchPatterns' patterns.
const contactMatches = `($2 = '' OR c.name ILIKE $2 OR c.person_ref ILIKE $2 OR c.external_ref ILIKE $2 OR ($3 <> '' AND c.phone LIKE $3))`

// searchPatterns returns the patterns contactMatches matches a search by:
// the search as ILIKE's substring, and its digits as LIKE's substring of
// a phone when it has three or more (else ""). Both are "" without a
// search.
func searchPatterns(search string) (like, digits string) {
	if search == "" {
		return "", ""
	}
	like = "%" + likeEscaper.Replace(search) + "%"
	if d := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, search); len(d) >= 3 {
		digits = "%" + d + "%"
	}
	return like, digits
}

// likeEscaper escapes the characters LIKE and ILIKE give a meaning, so
// that a search matches them as written.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// ListContact returns list listID and its contact contactID, without the
// contact's last attempt. It returns an error wrapping ErrNotFound when the
// list has no such contact.
func (s *Service) ListContact(ctx context.Context, listID, contactID int64) (ContactList, Contact, error) {
	var (
		l ContactList
		c Contact
	)
	err := s.db.QueryRow(ctx, `
		SELECT l.id, l.name, c.id, c.name, c.phone, c.state, c.zip, c.external_ref, c.appointment_at, c.place, c.matter, c.person_ref,
		       coalesce(to_char(c.accident_date, 'YYYY-MM-DD'), ''), c.line_type, (SELECT min(d.added_at) FROM dnc_internal d WHERE d.phone = c.phone AND d.removed_at IS NULL)
		  FROM contacts c JOIN contact_lists l ON l.id = c.list_id
		 WHERE c.list_id = $1 AND c.id = $2`, listID, contactID).
		Scan(&l.ID, &l.Name, &c.ID, &c.Name, &c.Phone, &c.State, &c.ZIP, &c.ExternalRef, &c.AppointmentAt, &c.Place, &c.Matter, &c.PersonRef, &c.AccidentDate, &c.LineType, &c.OptedOutAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return l, c, fmt.Errorf("campaign: contact %d of list %d: %w", contactID, listID, ErrNotFound)
	}
	if err != nil {
		return l, c, fmt.Errorf("campaign: contact %d of list %d: %w", contactID, listID, err)
	}
	return l, c, nil
}
