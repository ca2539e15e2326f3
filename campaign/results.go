package campaign

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heed-dialer/heed/dialer"
)

// A contact's result in a campaign says where its calls stand and, once
// they are over, how the last one ended. Besides the call outcomes
// (dialer.Outcome values, and "unknown" for a call whose end was never
// learnt), a result is one of these.
const (
	// ResultNotCalled is a contact the campaign has not tried to call yet.
	ResultNotCalled = "not_called"
	// ResultDeferred is a contact whose last attempt the law deferred (at its
	// decision or at the last look before its call was placed): it
	// is due again at the earliest lawful moment.
	ResultDeferred = "deferred"
	// ResultRetry is a contact whose last call did not reach the person
	// and that the retry rules call again.
	ResultRetry = "retry"
	// ResultCalling is a contact being called now.
	ResultCalling = "calling"
	// ResultExpired is a contact not reached before the campaign's end.
	ResultExpired = "expired"
	// ResultBlocked is a contact the gate refused to call, at its decision
	// or at the last look before its call was placed.
	ResultBlocked = "blocked"
	// ResultSkipped is a contact a person withdrew from the campaign
	// (SkipContact).
	ResultSkipped = "skipped"
	// ResultCancelled is a contact left to call when the campaign was
	// cancelled (Cancel): it will not be called.
	ResultCancelled = "cancelled"
)

// The filters that select several results at once.
const (
	// FilterReached keeps the contacts whose last call reached a person.
	FilterReached = "reached"
	// FilterNotReached keeps the contacts the campaign is done with
	// without reaching a person: its calls rang out, were busy, failed or
	// met a machine, or it ran out of time or was cancelled.
	FilterNotReached = "not_reached"
	// FilterOpen keeps the contacts still to be called: not called yet,
	// deferred, to be tried again, or being called.
	FilterOpen = "open"
)

// resultInfo is a result's wording and the filters that keep it besides
// its own.
type resultInfo struct {
	Result string
	Label  string
	// Filter is FilterReached, FilterNotReached, FilterOpen or "".
	Filter string
}

// resultOrder lists the results in the order they are shown: those that
// need a person's attention first.
var resultOrder = []resultInfo{
	{string(dialer.OutcomeConfirmed), "Confirmed", FilterReached},
	{string(dialer.OutcomeTransferred), "Transferred to the office", FilterReached},
	{string(dialer.OutcomeAbandoned), "Asked for the office, not connected", FilterReached},
	{string(dialer.OutcomeNoResponse), "Answered, pressed nothing", FilterReached},
	{string(dialer.OutcomeAnswered), "Answered", FilterReached},
	{string(dialer.OutcomeOptedOut), "Opted out", FilterReached},
	{string(dialer.OutcomeMachine), "Answering machine", FilterNotReached},
	{string(dialer.OutcomeNoAnswer), "No answer", FilterNotReached},
	{string(dialer.OutcomeBusy), "Busy", FilterNotReached},
	{string(dialer.OutcomeFailed), "Failed", FilterNotReached},
	{"unknown", "Unknown", FilterNotReached},
	{ResultExpired, "Not reached before the end", FilterNotReached},
	{ResultCancelled, "Not called: the campaign was cancelled", FilterNotReached},
	{ResultBlocked, "Blocked by the rules", ""},
	{ResultSkipped, "Skipped: not to be called", ""},
	{ResultCalling, "Being called", FilterOpen},
	{ResultRetry, "To be called again", FilterOpen},
	{ResultDeferred, "Deferred by the rules", FilterOpen},
	{ResultNotCalled, "Not called yet", FilterOpen},
}

// ResultLabel returns the wording of a result (or of a filter) for people,
// or the result itself when it has none.
func ResultLabel(result string) string {
	switch result {
	case FilterReached:
		return "Reached"
	case FilterNotReached:
		return "Not reached"
	case FilterOpen:
		return "Still to call"
	}
	for _, r := range resultOrder {
		if r.Result == result {
			return r.Label
		}
	}
	return result
}

// resultsOf returns the results a filter keeps, or nil for an unknown one.
func resultsOf(filter string) []string {
	var out []string
	for _, r := range resultOrder {
		if r.Result == filter || r.Filter == filter {
			out = append(out, r.Result)
		}
	}
	return out
}

// ErrFilter reports a result filter heed does not know.
var ErrFilter = errors.New("no such result")

// ResultQuery selects a page of a campaign's contacts.
type ResultQuery struct {
	// Result keeps the contacts with that result, or with a result the
	// filter FilterReached, FilterNotReached or FilterOpen names; empty
	// keeps them all.
	Result string
	// Search is ContactQuery's.
	Search string
	// Page and PageSize are ContactQuery's.
	Page, PageSize int
}

// ResultCount is one result and how many of a campaign's contacts have it.
type ResultCount struct {
	Result string `json:"result"`
	Label  string `json:"label"`
	Count  int    `json:"count"`
}

// Results counts a campaign's contacts by their result, in the order they
// are shown, leaving out the results no contact has; the filters'
// totals follow (FilterReached, FilterNotReached, FilterOpen) when a
// contact has a result they keep.
type Results struct {
	Results []ResultCount `json:"results"`
	Filters []ResultCount `json:"filters"`
	// Total counts the campaign's contacts.
	Total int `json:"total"`
}

// CampaignContact is one of a campaign's contacts and what became of it.
type CampaignContact struct {
	ID            int64      `json:"id"`
	Name          string     `json:"name"`
	Phone         string     `json:"phone"`
	ExternalRef   string     `json:"external_ref"`
	PersonRef     string     `json:"person_ref"`
	AppointmentAt *time.Time `json:"appointment_at"`
	// AccidentDate is the contact's accident_date (rule E1), YYYY-MM-DD,
	// or "".
	AccidentDate string `json:"accident_date"`
	// LineType is the type of the contact's line as its list gives it.
	LineType string `json:"line_type"`
	// Result is the contact's result, and Label its wording.
	Result string `json:"result"`
	Label  string `json:"label"`
	// Calls counts the calls placed to it; Attempts counts its attempts,
	// including those the rules blocked or deferred.
	Calls    int `json:"calls"`
	Attempts int `json:"attempts"`
	// Next is when it may be called next, while it is due: not before
	// now, and inside the campaign's calling window and days.
	Next *time.Time `json:"next_call_at"`
	// Last is its latest attempt in the campaign, or nil.
	Last *ResultAttempt `json:"last_attempt"`
	// Skipped says who withdrew it from the campaign, when and why, while
	// it is withdrawn, or is nil.
	Skipped *Skip `json:"skipped"`
	// Restored says who put it back after its latest withdrawal
	// (RestoreContact), and when, and what that withdrawal was, once it
	// is put back; or is nil.
	Restored *Restore `json:"restored"`
	// Added says who added it to the campaign after the campaign started
	// (AddNewContacts), and when, or is nil.
	Added *Added `json:"added"`
}

// Added is a contact's addition to a campaign that had started.
type Added struct {
	At time.Time `json:"at"`
	// By is the email of the user who added it.
	By string `json:"by"`
}

// Skip is a contact's withdrawal from a campaign.
type Skip struct {
	At time.Time `json:"at"`
	// By is the email of the user who withdrew it, or "".
	By   string `json:"by"`
	Note string `json:"note"`
}

// Restore is a withdrawn contact's return to a campaign.
type Restore struct {
	At time.Time `json:"at"`
	// By is the email of the user who put it back, or "".
	By string `json:"by"`
	// Withdrawal is the withdrawal it undid.
	Withdrawal Skip `json:"withdrawal"`
}

// ResultAttempt is a contact's latest attempt in a campaign.
type ResultAttempt struct {
	ID       int64      `json:"id"`
	At       time.Time  `json:"at"`
	Decision string     `json:"decision"`
	Until    *time.Time `json:"until"`
	Reasons  []string   `json:"reasons"`
	Status   string     `json:"status"`
	Outcome  string     `json:"outcome"`
	DTMF     string     `json:"dtmf"`
}

// ResultPage is a page of a campaign's contacts, by name.
type ResultPage struct {
	Campaign struct {
		ID     int64  `json:"id"`
		Name   string `json:"name"`
		Status Status `json:"status"`
		// CallingLeft is Campaign.CallingLeft when the page was read:
		// whether a contact put back could be called.
		CallingLeft bool `json:"calling_left"`
	} `json:"campaign"`
	// Results counts all the campaign's contacts by result.
	Results Results `json:"counts"`
	// Result and Search are the query's; Matching counts the contacts
	// they keep.
	Result   string `json:"result,omitempty"`
	Search   string `json:"search,omitempty"`
	Matching int    `json:"matching"`
	// Page is this page, from 1, of Pages (at least 1), each of PageSize
	// contacts.
	Page     int               `json:"page"`
	Pages    int               `json:"pages"`
	PageSize int               `json:"page_size"`
	Contacts []CampaignContact `json:"contacts"`
}

// resultsFrom is the FROM clause of a campaign's contacts with their
// results, for campaign $1 (k): each target t with its contact c, its
// latest attempt a in the campaign (NULL columns without one), and its
// result r.result. The latest attempts are read in one backward pass over the
// campaign's entries in attempts_campaign_contact_idx, without a sort.
const resultsFrom = `
	  FROM campaign_targets t
	  JOIN campaigns k ON k.id = t.campaign_id
	  JOIN contacts c ON c.id = t.contact_id
	  LEFT JOIN (SELECT DISTINCT ON (a.contact_id) a.contact_id, a.id, a.created_at, a.decision, a.decided_until, a.reasons,
	                    a.status, a.outcome, a.dtmf, a.last_look->'decision'->>'decision' AS look
	               FROM attempts a WHERE a.campaign_id = $1
	              ORDER BY a.contact_id DESC, a.id DESC) a ON a.contact_id = t.contact_id
	  CROSS JOIN LATERAL (SELECT CASE
	           WHEN t.state = 'skipped' THEN 'skipped'
	           WHEN t.state = 'expired' THEN 'expired'
	           WHEN t.state = 'dialing' THEN 'calling'
	           WHEN t.state = 'pending' AND k.status = 'cancelled' THEN 'cancelled'
	           WHEN t.state = 'pending' AND a.id IS NULL THEN 'not_called'
	           WHEN t.state = 'pending' AND (a.decision = 'defer' OR a.look = 'defer') THEN 'deferred'
	           WHEN t.state = 'pending' THEN 'retry'
	           WHEN a.decision = 'deny' OR a.outcome = 'called_off' THEN 'blocked'
	           WHEN coalesce(a.outcome, '') IN ('', 'deferred') THEN 'unknown'
	           ELSE a.outcome END AS result) r
	 WHERE t.campaign_id = $1`

// CampaignResults counts campaign id's contacts by result: none for a
// campaign without contacts, or with no such campaign (the campaign page,
// which has read the campaign, asks for them at every refresh).
func (s *Service) CampaignResults(ctx context.Context, id int64) (Results, error) {
	rows, err := s.db.Query(ctx, `SELECT r.result, count(*) `+resultsFrom+` GROUP BY r.result`, id)
	if err != nil {
		return Results{}, fmt.Errorf("campaign %d: results: %w", id, err)
	}
	counts := map[string]int{}
	var (
		result string
		n      int
	)
	_, err = pgx.ForEachRow(rows, []any{&result, &n}, func() error {
		counts[result] = n
		return nil
	})
	if err != nil {
		return Results{}, fmt.Errorf("campaign %d: results: %w", id, err)
	}
	var out Results
	filters := map[string]int{}
	for _, r := range resultOrder {
		n := counts[r.Result]
		delete(counts, r.Result)
		out.Total += n
		if n == 0 {
			continue
		}
		out.Results = append(out.Results, ResultCount{Result: r.Result, Label: r.Label, Count: n})
		if r.Filter != "" {
			filters[r.Filter] += n
		}
	}
	for _, r := range slices.Sorted(maps.Keys(counts)) { // outcomes heed does not list: shown as they are
		out.Total += counts[r]
		out.Results = append(out.Results, ResultCount{Result: r, Label: r, Count: counts[r]})
	}
	for _, f := range []string{FilterReached, FilterNotReached, FilterOpen} {
		if n := filters[f]; n > 0 {
			out.Filters = append(out.Filters, ResultCount{Result: f, Label: ResultLabel(f), Count: n})
		}
	}
	return out, nil
}

// resultMatch is the condition that a contact matches a ResultQuery: $2
// and $3 are searchPatterns' patterns, $4 the results kept (NULL: all).
const resultMatch = ` AND ` + contactMatches + ` AND ($4::text[] IS NULL OR r.result = ANY($4))`

// resultArgs returns the arguments of resultMatch after the campaign's id,
// or ErrFilter.
func resultArgs(q ResultQuery) ([]any, error) {
	like, digits := searchPatterns(strings.TrimSpace(q.Search))
	var keep []string
	if q.Result != "" {
		if keep = resultsOf(q.Result); keep == nil {
			return nil, fmt.Errorf("result %q: %w", q.Result, ErrFilter)
		}
	}
	return []any{like, digits, keep}, nil
}

// CampaignContacts returns a page of campaign id's contacts, by name then
// id, with each one's result, calls and latest attempt, and the counts of
// all its contacts' results. It returns an error wrapping ErrNotFound when
// there is no such campaign, ErrFilter for an unknown result, and ErrPage
// as ListContacts does.
func (s *Service) CampaignContacts(ctx context.Context, id int64, q ResultQuery) (ResultPage, error) {
	p := ResultPage{Result: q.Result, Search: strings.TrimSpace(q.Search), Page: max(q.Page, 1), PageSize: q.PageSize}
	if p.PageSize == 0 {
		p.PageSize = ContactPageSize
	}
	c, err := s.Get(ctx, id)
	if err != nil {
		return ResultPage{}, err
	}
	if p.PageSize < 1 || p.PageSize > MaxContactPageSize || q.Page < 0 {
		return ResultPage{}, fmt.Errorf("campaign %d: contacts: page %d of %d contacts: %w", id, q.Page, q.PageSize, ErrPage)
	}
	args, err := resultArgs(q)
	if err != nil {
		return ResultPage{}, fmt.Errorf("campaign %d: contacts: %w", id, err)
	}
	p.Campaign.ID, p.Campaign.Name, p.Campaign.Status, p.Campaign.CallingLeft = c.ID, c.Name, c.Status, c.CallingLeft(time.Now())
	if p.Results, err = s.CampaignResults(ctx, id); err != nil {
		return ResultPage{}, err
	}
	all := append([]any{id}, args...)
	if p.Search == "" {
		// The counts by result have it: no other pass over the attempts.
		keep := resultsOf(p.Result)
		for _, rc := range p.Results.Results {
			if p.Result == "" || slices.Contains(keep, rc.Result) {
				p.Matching += rc.Count
			}
		}
	} else if err := s.db.QueryRow(ctx, `SELECT count(*) `+resultsFrom+resultMatch, all...).Scan(&p.Matching); err != nil {
		return ResultPage{}, fmt.Errorf("campaign %d: contacts: %w", id, err)
	}
	p.Pages = max(1, (p.Matching+p.PageSize-1)/p.PageSize)
	if p.Page > p.Pages {
		return ResultPage{}, fmt.Errorf("campaign %d: contacts: page %d of %d: %w", id, p.Page, p.Pages, ErrPage)
	}
	rows, err := s.db.Query(ctx, resultColumns+resultsFrom+resultMatch+` ORDER BY c.name, c.id LIMIT $5 OFFSET $6`,
		append(all, p.PageSize, (p.Page-1)*p.PageSize)...)
	if err != nil {
		return ResultPage{}, fmt.Errorf("campaign %d: contacts: %w", id, err)
	}
	p.Contacts, err = pgx.CollectRows(rows, scanCampaignContact)
	if err != nil {
		return ResultPage{}, fmt.Errorf("campaign %d: contacts: %w", id, err)
	}
	now := s.now()
	for i := range p.Contacts {
		p.Contacts[i].Next = c.nextCall(p.Contacts[i].Next, now)
	}
	return p, nil
}

// nextCall returns when a contact due at due (nil: not due) may be called
// next: not before now, and when the campaign's schedule (its window,
// days and end) lets it, as the pacing loop calls; nil when the schedule
// ends first.
func (c Campaign) nextCall(due *time.Time, now time.Time) *time.Time {
	if due == nil {
		return nil
	}
	t, ok := c.plan.next(maxTime(*due, now))
	if !ok {
		return nil
	}
	return &t
}

// maxTime returns the later of a and b.
func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// resultColumns selects what scanCampaignContact reads, from resultsFrom.
// Its counts are subqueries, which PostgreSQL evaluates after a page's
// sort and limit, for that page's contacts alone.
const resultColumns = `
	SELECT c.id, c.name, c.phone, c.external_ref, c.person_ref, c.appointment_at, r.result,
	       (SELECT count(*) FILTER (WHERE x.decision = 'allow' AND x.outcome <> 'called_off' AND x.not_placed = '') FROM attempts x WHERE x.campaign_id = t.campaign_id AND x.contact_id = t.contact_id),
	       (SELECT count(*) FROM attempts x WHERE x.campaign_id = t.campaign_id AND x.contact_id = t.contact_id),
	       CASE WHEN t.state = 'pending' AND k.status <> 'cancelled' THEN t.next_attempt_at END,
	       a.id, a.created_at, a.decision, a.decided_until, a.reasons, a.status, a.outcome, a.dtmf,
	       t.skipped_at, coalesce((SELECT u.email FROM users u WHERE u.id = t.skipped_by), ''), t.skip_note,
	       t.added_at, (SELECT u.email FROM users u WHERE u.id = t.added_by),
	       t.restored_at, coalesce((SELECT u.email FROM users u WHERE u.id = t.restored_by), ''),
	       coalesce(to_char(c.accident_date, 'YYYY-MM-DD'), ''), c.line_type`

// scanCampaignContact reads a row of resultColumns.
func scanCampaignContact(r pgx.CollectableRow) (CampaignContact, error) {
	var (
		c                               CampaignContact
		aid                             *int64
		at                              *time.Time
		decision, status, outcome, dtmf *string
		until                           *time.Time
		reasons                         []string
		skippedAt                       *time.Time
		skippedBy, skipNote             string
		addedAt                         time.Time
		addedBy                         *string
		restoredAt                      *time.Time
		restoredBy                      string
	)
	err := r.Scan(&c.ID, &c.Name, &c.Phone, &c.ExternalRef, &c.PersonRef, &c.AppointmentAt, &c.Result, &c.Calls, &c.Attempts, &c.Next,
		&aid, &at, &decision, &until, &reasons, &status, &outcome, &dtmf, &skippedAt, &skippedBy, &skipNote, &addedAt, &addedBy,
		&restoredAt, &restoredBy, &c.AccidentDate, &c.LineType)
	if err != nil {
		return c, err
	}
	if addedBy != nil {
		c.Added = &Added{At: addedAt, By: *addedBy}
	}
	// A target put back keeps its withdrawal's columns: its result says
	// which of the two is in force.
	if skippedAt != nil {
		k := Skip{At: *skippedAt, By: skippedBy, Note: skipNote}
		switch {
		case c.Result == ResultSkipped:
			c.Skipped = &k
		case restoredAt != nil:
			c.Restored = &Restore{At: *restoredAt, By: restoredBy, Withdrawal: k}
		}
	}
	c.Label = ResultLabel(c.Result)
	if aid != nil {
		c.Last = &ResultAttempt{ID: *aid, At: *at, Decision: *decision, Until: until, Reasons: reasons,
			Status: *status, Outcome: *outcome, DTMF: *dtmf}
	}
	return c, nil
}

// resultsCSVHeader is the header of ExportCampaignContacts' CSV.
var resultsCSVHeader = []string{"contact_id", "name", "phone", "external_ref", "person_ref", "appointment_at", "result",
	"calls", "attempts", "last_attempt_at", "last_decision", "last_outcome", "keys", "reasons", "next_call_at",
	"skipped_at", "skipped_by", "skip_note", "added_at", "added_by", "restored_at", "restored_by", "accident_date", "line_type"}

// ExportCampaignContacts writes campaign id's contacts that q keeps (its
// page and page size aside), by name, as CSV: one row each, with its
// result, calls and latest attempt. Cells that a spreadsheet would read
// as a formula are quoted with a leading apostrophe. It returns an error
// wrapping ErrNotFound or ErrFilter as CampaignContacts does.
func (s *Service) ExportCampaignContacts(ctx context.Context, id int64, q ResultQuery, w io.Writer) error {
	cp, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	now := s.now()
	args, err := resultArgs(q)
	if err != nil {
		return fmt.Errorf("campaign %d: export contacts: %w", id, err)
	}
	rows, err := s.db.Query(ctx, resultColumns+resultsFrom+resultMatch+` ORDER BY c.name, c.id`, append([]any{id}, args...)...)
	if err != nil {
		return fmt.Errorf("campaign %d: export contacts: %w", id, err)
	}
	defer rows.Close()
	cw := csv.NewWriter(w)
	if err := cw.Write(resultsCSVHeader); err != nil {
		return fmt.Errorf("campaign %d: export contacts: %w", id, err)
	}
	for rows.Next() {
		c, err := scanCampaignContact(rows)
		if err != nil {
			return fmt.Errorf("campaign %d: export contacts: %w", id, err)
		}
		c.Next = cp.nextCall(c.Next, now)
		var last ResultAttempt
		var lastAt *time.Time
		if c.Last != nil {
			last, lastAt = *c.Last, &c.Last.At
		}
		rec := []string{strconv.FormatInt(c.ID, 10), safeCell(c.Name), c.Phone, safeCell(c.ExternalRef), safeCell(c.PersonRef),
			csvTime(c.AppointmentAt), c.Result, strconv.Itoa(c.Calls), strconv.Itoa(c.Attempts), csvTime(lastAt), last.Decision, last.Outcome,
			safeCell(last.DTMF), strings.Join(last.Reasons, " "), csvTime(c.Next), "", "", "", "", "", "", "", c.AccidentDate, c.LineType}
		if k := c.Skipped; k != nil {
			rec[15], rec[16], rec[17] = csvTime(&k.At), safeCell(k.By), safeCell(k.Note)
		}
		if a := c.Added; a != nil {
			rec[18], rec[19] = csvTime(&a.At), safeCell(a.By)
		}
		if r := c.Restored; r != nil {
			// The withdrawal it undid stays in the case system's copy: the
			// result column says it is no longer in force.
			k := r.Withdrawal
			rec[15], rec[16], rec[17] = csvTime(&k.At), safeCell(k.By), safeCell(k.Note)
			rec[20], rec[21] = csvTime(&r.At), safeCell(r.By)
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("campaign %d: export contacts: %w", id, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("campaign %d: export contacts: %w", id, err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("campaign %d: export contacts: %w", id, err)
	}
	return nil
}
