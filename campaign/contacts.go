package campaign

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/phone"
	"github.com/heed-dialer/heed/internal/sheet"
)

// ErrImportRejected reports an import that was refused whole because some
// rows are invalid; the ImportError carries every rejected row.
var ErrImportRejected = errors.New("import rejected; nothing was imported")

// MaxImportRows bounds one contacts import.
const MaxImportRows = 200000

// RowError says why one line of an import was rejected or skipped.
type RowError = sheet.Problem

// ImportReport describes an import or a dry run, successful or not.
type ImportReport struct {
	// List is the list's name.
	List string `json:"list"`
	// ListID is the list's id, once the import is written.
	ListID int64 `json:"list_id,omitempty"`
	// DryRun reports that nothing was meant to be written.
	DryRun bool `json:"dry_run"`
	// Rows counts the data rows read; blank rows are not counted.
	Rows int `json:"rows"`
	// Valid counts the rows that pass every check, the list's included:
	// the rows an import writes (new contacts, and with UpdateExisting
	// the contacts it updates or finds unchanged), or a dry run would
	// write, when no row is rejected. Skipped rows are not counted.
	Valid int `json:"valid"`
	// Imported counts the contacts added to the list: the valid rows not
	// already on it, or 0 for a dry run or a rejected import.
	Imported int `json:"imported"`
	// Rejected lists every invalid row and why; any makes the import fail.
	Rejected []RowError `json:"rejected,omitempty"`
	// Skipped lists the rows not written because their number is already
	// on the list (with ImportOptions.SkipExisting).
	Skipped []RowError `json:"skipped,omitempty"`
	// Updated lists the rows that changed a contact already on the list
	// (with ImportOptions.UpdateExisting), each naming the fields it changes ("changes appointment_at, place").
	Updated []RowError `json:"updated,omitempty"`
	// Unchanged counts the rows that matched a contact already on the list
	// field for field (with ImportOptions.UpdateExisting).
	Unchanged int `json:"unchanged,omitempty"`
	// Ignored lists the columns heed does not read.
	Ignored []string `json:"ignored_columns,omitempty"`
}

// NewContacts counts the valid rows whose number is not on the list yet:
// the contacts the import adds, or a dry run would add.
func (r *ImportReport) NewContacts() int { return r.Valid - len(r.Updated) - r.Unchanged }

// ImportOptions tune a contacts import.
type ImportOptions struct {
	// Format is the file's: sheet.CSV (when empty) or sheet.XLSX, whose
	// first sheet is read.
	Format sheet.Format
	// Columns maps the file's headers (in any case) to the columns heed
	// reads, for files with other headers: {"Client Name": "name",
	// "Cell": "phone"} (sheet.ParseColumnMap reads it from text).
	Columns map[string]string
	// DryRun validates the file against the list as an import would, and
	// reports what it would write, writing nothing.
	DryRun bool
	// SkipExisting skips a row whose number is already on the list,
	// reporting it in Skipped, where the import would refuse it: for a
	// list kept up to date from a file that still holds its old rows. The
	// contact on the list is left as it is.
	SkipExisting bool
	// UpdateExisting makes a row whose number is already on the list
	// update that contact, where the import would refuse it: for a list
	// whose appointments, places or names changed in the firm's file. The
	// file's columns replace the contact's (an empty cell empties the
	// field); the fields of columns the file lacks are kept. It cannot be
	// combined with SkipExisting.
	UpdateExisting bool
	// UserID is the user making the import, stored as the list's creator
	// when the import creates it; 0 for none.
	UserID int64
}

// ImportError is returned when an import is refused. It wraps
// ErrImportRejected and carries the report of every rejected row.
type ImportError struct{ Report ImportReport }

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d row(s) rejected, nothing imported", len(e.Report.Rejected))
	for i, r := range e.Report.Rejected {
		if i == 20 {
			fmt.Fprintf(&b, "; and %d more", len(e.Report.Rejected)-20)
			break
		}
		fmt.Fprintf(&b, "; line %d: %s", r.Line, r.Reason)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrImportRejected) true.
func (e *ImportError) Unwrap() error { return ErrImportRejected }

// ContactList is a named list of contacts.
type ContactList struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Contacts int    `json:"contacts"`
}

var usStates = map[string]bool{}

// defaultZone reads appointments of rows without a time_zone.
var defaultZone = mustZone(DefaultTimeZone)

func init() {
	for _, s := range strings.Fields("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP") {
		usStates[s] = true
	}
}

type contactRow struct {
	name, phone, state, zip, ref string
	appointment                  *time.Time
	place, matter                string
	person                       string
	accident                     *time.Time // a date, at midnight UTC
	line                         string     // "wireless", "landline" or "unknown"
}

// MaxPersonRef is the most characters a contact's person reference may have.
const MaxPersonRef = 100

// PersonColumns are the headers a contacts file may give the person
// reference under (in any case); the first is its own name. "client_id" is
// not one of them: in a debt collection list the firm's client is the
// creditor, and a creditor's id would make all of its debtors one person.
var PersonColumns = []string{"person_ref", "person", "debtor_id"}

// ContactColumns are the columns a contacts file must have, and
// OptionalContactColumns those it may have.
var (
	ContactColumns         = []string{"name", "phone"}
	OptionalContactColumns = []string{"state", "zip", "external_ref", "appointment_at", "place", "matter", "time_zone", "person_ref", "accident_date", "line_type"}
)

// ParsePersonRef returns a person reference (the firm's client or debtor id
// for the person a contact is) trimmed of surrounding space. It returns an
// error when the reference is longer than MaxPersonRef characters or holds
// a control character. The empty reference, a person unknown, is valid.
func ParsePersonRef(s string) (string, error) {
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n > MaxPersonRef {
		return "", fmt.Errorf("person reference has %d characters, at most %d", n, MaxPersonRef)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("person reference %q is not valid UTF-8", s)
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return "", fmt.Errorf("person reference %q holds a control character", s)
	}
	return s, nil
}

// AppointmentFormats are the accepted forms of a contact's appointment_at:
// RFC 3339 with its offset, or a local date and time read in the row's
// time_zone column (an IANA name; America/New_York when the column is
// absent or empty). AM/PM may be written in either case.
var AppointmentFormats = []string{
	"2006-01-02T15:04:05Z07:00", // RFC 3339: 2026-12-01T09:30:00-05:00
	"2006-01-02 15:04",          // 2026-12-01 09:30
	"2006-01-02T15:04",          // 2026-12-01T09:30
	"2006-01-02 3:04 PM",        // 2026-12-01 9:30 AM
	"1/2/2006 15:04",            // 12/1/2026 09:30
	"1/2/2006 3:04 PM",          // 12/1/2026 9:30 AM
}

// lineTypes maps the words a contacts file may give a line type in (in
// any case) to the type: the engine's own, and the usual other names.
var lineTypes = map[string]consent.LineType{
	"wireless": consent.LineWireless, "mobile": consent.LineWireless, "cell": consent.LineWireless, "cellular": consent.LineWireless,
	"landline": consent.LineLandline, "wireline": consent.LineLandline,
	"unknown": consent.LineUnknown, "": consent.LineUnknown,
}

// ParseLineType reads a contact's line_type cell: wireless (or mobile,
// cell, cellular), landline (or wireline), unknown or empty (unknown).
// Anything else is refused, "fixed" and "voip" too (lookups give them to
// internet lines, which may be anything): a wrong landline is the label
// that lets a call go without consent.
func ParseLineType(v string) (consent.LineType, error) {
	if l, ok := lineTypes[strings.ToLower(strings.TrimSpace(v))]; ok {
		return l, nil
	}
	return "", fmt.Errorf("line_type %q is not wireless, landline or unknown (write unknown for a VoIP or other line)", v)
}

// AccidentFormats are the accepted forms of a contact's accident_date
// (rule E1), besides a spreadsheet's date.
var AccidentFormats = []string{"2006-01-02", "1/2/2006"}

// accidentCell reads an accident_date cell: a spreadsheet's date (without
// a time of day) or one of AccidentFormats. A date after today (at) is
// refused: an accident has happened.
func accidentCell(sh *sheet.Sheet, v string, at time.Time) (time.Time, error) {
	d, prec, ok := sh.Serial(v, time.UTC)
	switch {
	case ok && prec != 24*time.Hour:
		return time.Time{}, fmt.Errorf("%q is a spreadsheet date and time; give the date alone", v)
	case !ok:
		var err error
		for _, l := range AccidentFormats {
			if d, err = time.Parse(l, strings.TrimSpace(v)); err == nil {
				break
			}
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not a date such as 2026-11-02 or 11/2/2026", v)
		}
	}
	if y, m, day := at.Date(); d.After(time.Date(y, m, day+1, 0, 0, 0, 0, time.UTC)) {
		return time.Time{}, fmt.Errorf("%s is in the future", d.Format(time.DateOnly))
	}
	return d, nil
}

// maxTextField bounds a contact's place and matter.
const maxTextField = 200

// parseAppointment reads an appointment date and time in one of
// AppointmentFormats. A local time that does not exist in loc (clocks
// spring forward over it) is refused.
func parseAppointment(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	v := strings.ToUpper(strings.Join(strings.Fields(s), " "))
	// "9:30AM" is read as "9:30 AM".
	if strings.HasSuffix(v, "AM") || strings.HasSuffix(v, "PM") {
		if n := len(v) - 2; n > 0 && v[n-1] != ' ' {
			v = v[:n] + " " + v[n:]
		}
	}
	for _, l := range AppointmentFormats[1:] {
		wall, err := time.Parse(l, v)
		if err != nil {
			continue
		}
		t := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), 0, 0, loc)
		if t.Hour() != wall.Hour() || t.Minute() != wall.Minute() || t.Day() != wall.Day() {
			return time.Time{}, fmt.Errorf("%q does not exist in %s: the clocks skip that hour", s, loc)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time such as 2026-12-01 09:30, 12/1/2026 9:30 AM or 2026-12-01T09:30:00-05:00", s)
}

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("dry run")

// ImportContacts reads a CSV or XLSX file (opts.Format) with the columns
// name and phone, and optionally state, zip, external_ref, appointment_at,
// place, matter, time_zone and person_ref, into the named list (created if
// new); opts.Columns maps other headers to these. Phones are normalised to
// E.164. appointment_at takes one of AppointmentFormats, or a
// spreadsheet's date and time: a local date and time is read in the row's
// time_zone (an IANA name such as America/Chicago; America/New_York when
// empty). place and matter are free text of at most 200 characters.
// person_ref (also read under the other PersonColumns headers) names the
// person, as ParsePersonRef reads it: the call caps count a person's calls
// to all their numbers. A ZIP code a spreadsheet kept as a number gets its
// leading zeros back. The import is all-or-nothing: if any row is invalid,
// or the file is malformed, nothing is stored and the error reports each
// rejected line and why; a number already on the list is such a row,
// unless opts.SkipExisting skips it or opts.UpdateExisting updates the
// contact from the row's columns. A dry run (opts.DryRun) checks
// everything an import checks, the list's numbers included, and writes
// nothing.
func (s *Service) ImportContacts(ctx context.Context, listName string, r io.Reader, opts ImportOptions) (ImportReport, error) {
	rep := ImportReport{List: strings.TrimSpace(listName), DryRun: opts.DryRun}
	if rep.List == "" {
		return rep, fmt.Errorf("contacts import: a list name is required: %w", ErrInvalid)
	}
	if opts.SkipExisting && opts.UpdateExisting {
		return rep, fmt.Errorf("contacts import: skipping and updating the contacts already on the list are exclusive: %w", ErrInvalid)
	}
	if opts.Format == "" {
		opts.Format = sheet.CSV
	}
	rows, cols, err := parseContacts(r, opts, &rep)
	if err != nil {
		return rep, err
	}
	rep.Valid = len(rows)
	if opts.UpdateExisting {
		// An update may move contacts into Connecticut, which refuseMoved
		// checks with rule C4's timed disclosure: its audio is rendered
		// now, not in the transaction, which holds the list.
		if err := s.warmList(ctx, rep.List); err != nil {
			return rep, fmt.Errorf("contacts import: %w", err)
		}
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO contact_lists (name, created_by) VALUES ($1, NULLIF($2, 0))
			ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id`, rep.List, opts.UserID).Scan(&rep.ListID)
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		existing, err := listContacts(ctx, tx, rep.ListID, opts.UpdateExisting)
		if err != nil {
			return err
		}
		var (
			updates []storedContact
			emptied = map[int64]emptiedFields{} // the updates that empty a field a message may say
			moved   = map[int64]movedContact{}  // the updates that change where the contact is
		)
		for _, line := range slices.Sorted(maps.Keys(rows)) {
			c := rows[line]
			old, ok := existing[c.phone]
			if !ok {
				continue
			}
			delete(rows, line)
			switch {
			case opts.UpdateExisting:
				nc := old.merged(c, cols)
				if changed := old.changes(nc.contactRow); len(changed) > 0 {
					rep.Updated = append(rep.Updated, RowError{Line: line, Reason: "changes " + strings.Join(changed, ", ")})
					updates = append(updates, nc)
					if fs := nc.lacking(changed); len(fs) > 0 {
						emptied[nc.id] = emptiedFields{line, fs}
					}
					if slices.Contains(changed, "state") || slices.Contains(changed, "zip") {
						moved[nc.id] = movedContact{line, old.contactRow, nc.contactRow}
					}
				} else {
					rep.Unchanged++
				}
				continue
			case opts.SkipExisting:
				rep.Skipped = append(rep.Skipped, RowError{Line: line, Reason: fmt.Sprintf("phone %s is already on list %q", c.phone, rep.List)})
			default:
				rep.Rejected = append(rep.Rejected, RowError{Line: line, Reason: fmt.Sprintf("phone %s is already on list %q", c.phone, rep.List)})
			}
			rep.Valid--
		}
		if err := s.refuseMoved(ctx, tx, moved, &rep.Rejected); err != nil {
			return err
		}
		if err := refuseEmptied(ctx, tx, emptied, &rep.Rejected); err != nil {
			return err
		}
		if len(rep.Rejected) > 0 {
			// The file's own rejections and the list's, in line order.
			slices.SortStableFunc(rep.Rejected, func(a, b RowError) int { return a.Line - b.Line })
			return &ImportError{Report: rep}
		}
		if err := updateContacts(ctx, tx, updates, opts.UserID); err != nil {
			return err
		}
		src := make([][]any, 0, len(rows))
		for _, c := range sortedRows(rows) {
			src = append(src, []any{rep.ListID, c.name, c.phone, c.state, c.zip, c.ref, c.appointment, c.place, c.matter, c.person, c.accident, c.line})
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"contacts"},
			[]string{"list_id", "name", "phone", "state", "zip", "external_ref", "appointment_at", "place", "matter", "person_ref", "accident_date", "line_type"}, pgx.CopyFromRows(src))
		if err != nil {
			return fmt.Errorf("copy contacts: %w", err)
		}
		if opts.DryRun {
			return errDryRun
		}
		rep.Imported = int(n)
		return nil
	})
	switch {
	case errors.Is(err, errDryRun):
		rep.ListID = 0
		return rep, nil
	case err != nil:
		var ie *ImportError
		if errors.As(err, &ie) {
			// Nothing was written: no contact was updated either.
			rep.ListID, rep.Imported, rep.Updated, rep.Unchanged = 0, 0, nil, 0
			ie.Report = rep
			return rep, ie
		}
		return ImportReport{List: rep.List, DryRun: rep.DryRun}, fmt.Errorf("contacts import: %w", err)
	}
	return rep, nil
}

// storedContact is a contact already on a list.
type storedContact struct {
	id int64
	contactRow
}

// listContacts returns the contacts of list id by phone; forUpdate locks
// them against other changes until tx ends (imports into one list already
// wait for each other on its row). The lock lets campaigns go on reading
// them and recording attempts.
func listContacts(ctx context.Context, tx pgx.Tx, id int64, forUpdate bool) (map[string]storedContact, error) {
	lock := ""
	if forUpdate {
		lock = " FOR NO KEY UPDATE"
	}
	rows, err := tx.Query(ctx, `
		SELECT id, name, phone, state, zip, external_ref, appointment_at, place, matter, person_ref, accident_date, line_type
		FROM contacts WHERE list_id = $1`+lock, id)
	if err != nil {
		return nil, fmt.Errorf("existing contacts: %w", err)
	}
	out := map[string]storedContact{}
	var c storedContact
	_, err = pgx.ForEachRow(rows, []any{&c.id, &c.name, &c.phone, &c.state, &c.zip, &c.ref, &c.appointment, &c.place, &c.matter, &c.person, &c.accident, &c.line}, func() error {
		out[c.phone] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("existing contacts: %w", err)
	}
	return out, nil
}

// merged returns the contact as row r of a file with columns cols updates
// it: the fields of the file's columns are r's, the others the contact's.
func (c storedContact) merged(r contactRow, cols sheet.Columns) storedContact {
	out := c
	for _, f := range contactFields {
		if _, ok := cols[f.column]; ok {
			f.set(&out.contactRow, &r)
		}
	}
	return out
}

// changes names the columns whose fields differ between c and r, in
// contactFields' order.
func (c storedContact) changes(r contactRow) []string {
	var out []string
	for _, f := range contactFields {
		if !f.equal(&c.contactRow, &r) {
			out = append(out, f.column)
		}
	}
	return out
}

// contactField is a contact's field as an import updates it: the column
// that gives it, how to copy it and how to compare it.
type contactField struct {
	column string
	set    func(dst, src *contactRow)
	equal  func(a, b *contactRow) bool
}

// textField is the contactField of column whose field f returns.
func textField(column string, f func(*contactRow) *string) contactField {
	return contactField{column,
		func(dst, src *contactRow) { *f(dst) = *f(src) },
		func(a, b *contactRow) bool { return *f(a) == *f(b) }}
}

// contactFields are the fields an import may update; a contact's phone
// identifies it and is not one of them.
var contactFields = []contactField{
	textField("name", func(c *contactRow) *string { return &c.name }),
	textField("state", func(c *contactRow) *string { return &c.state }),
	textField("zip", func(c *contactRow) *string { return &c.zip }),
	textField("external_ref", func(c *contactRow) *string { return &c.ref }),
	timeField("appointment_at", func(c *contactRow) **time.Time { return &c.appointment }),
	textField("place", func(c *contactRow) *string { return &c.place }),
	textField("matter", func(c *contactRow) *string { return &c.matter }),
	textField("person_ref", func(c *contactRow) *string { return &c.person }),
	timeField("accident_date", func(c *contactRow) **time.Time { return &c.accident }),
	textField("line_type", func(c *contactRow) *string { return &c.line }),
}

// timeField is the contactField of column whose field, a time or nil, f
// returns.
func timeField(column string, f func(*contactRow) **time.Time) contactField {
	return contactField{column,
		func(dst, src *contactRow) { *f(dst) = *f(src) },
		func(a, b *contactRow) bool {
			x, y := *f(a), *f(b)
			if x == nil || y == nil {
				return x == y
			}
			return x.Equal(*y)
		}}
}

// emptiedFields are the fields a message may say (appointment_at, place,
// matter) that the update of the contact on a line empties.
type emptiedFields struct {
	line   int
	fields []string
}

// lacking returns the columns among changed whose field c lacks and a
// message may say.
func (c storedContact) lacking(changed []string) []string {
	var out []string
	for _, f := range changed {
		if f == "appointment_at" && c.appointment == nil || f == "place" && c.place == "" || f == "matter" && c.matter == "" || f == "accident_date" && c.accident == nil {
			out = append(out, f)
		}
	}
	return out
}

// refuseEmptied adds to rejected the updates (by contact id) that empty a
// field a campaign still needs for the contact: one not completed nor
// cancelled whose target is still pending or being dialed (a failed call
// is tried again), and whose message uses the field (its message could not
// be said, and the campaign's batches would fail), or that is about
// personal-injury or wrongful-death matters and loses the accident date
// (it could never call the contact, rule E1).
func refuseEmptied(ctx context.Context, tx pgx.Tx, emptied map[int64]emptiedFields, rejected *[]RowError) error {
	if len(emptied) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `
		SELECT t.contact_id, c.name, c.message_text, c.injury_matter FROM campaign_targets t JOIN campaigns c ON c.id = t.campaign_id
		 WHERE t.contact_id = ANY($1) AND t.state IN ('pending', 'dialing') AND c.status IN ('draft', 'running', 'paused')
		 ORDER BY t.contact_id, c.id`, slices.Collect(maps.Keys(emptied)))
	if err != nil {
		return fmt.Errorf("pending calls: %w", err)
	}
	var (
		id        int64
		name, msg string
		injury    bool
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &name, &msg, &injury}, func() error {
		e := emptied[id]
		if injury && slices.Contains(e.fields, "accident_date") {
			*rejected = append(*rejected, RowError{Line: e.line, Reason: fmt.Sprintf("accident_date is empty, but campaign %q, about personal-injury or wrongful-death matters, still has to call this contact",
				name)})
		}
		t, err := ParseTemplate(msg)
		if err != nil {
			return nil // said as it is, without placeholders (see DueTargets)
		}
		for _, f := range t.Needs() {
			if slices.Contains(e.fields, f) {
				*rejected = append(*rejected, RowError{Line: e.line, Reason: fmt.Sprintf("%s is empty, but campaign %q still has to call this contact and its message uses %s",
					f, name, fieldNeeds[f].uses)})
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pending calls: %w", err)
	}
	return nil
}

// movedContact is an update, on a file's line, that changes a contact's
// state or ZIP: the contact as it was and as it becomes.
type movedContact struct {
	line     int
	was, now contactRow
}

// warmList renders, before an import into list name that may update its
// contacts, the audio the launch checks of the list's running and paused
// campaigns time (Launch.warm), so that refuseMoved, in the import's
// transaction, reads it from the media cache.
func (s *Service) warmList(ctx context.Context, name string) error {
	if s.Launch == nil || s.Launch.Voice == nil {
		return nil
	}
	rows, err := s.db.Query(ctx, `SELECT `+campaignColumns+` FROM campaigns c JOIN contact_lists l ON l.id = c.list_id
		WHERE l.name = $1 AND c.status IN ('running', 'paused') ORDER BY c.id`, name)
	if err != nil {
		return fmt.Errorf("campaigns of list %q: %w", name, err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Campaign, error) { return scanCampaign(r) })
	if err != nil {
		return fmt.Errorf("campaigns of list %q: %w", name, err)
	}
	for _, c := range cs {
		s.Launch.warm(ctx, c)
	}
	return nil
}

// refuseMoved adds to rejected the updates (by contact id) that move a
// contact to where a campaign that still has to call it fails a launch
// check it passed where the contact was (Launch.Check): a sales campaign
// whose script lacks Connecticut's disclosure (rule C4), for a contact
// whose new address is in Connecticut. The campaign's checks ran on where
// its contacts were when it started; checks it fails wherever the contact
// is (a registry copy grown old) are not the update's doing. Each
// campaign's checks run once for each set of states its contacts are
// placed in, not once per contact: they depend on the contact only
// through those states (a message that says a contact's field before its
// disclosure cannot be timed for any contact, and is refused for all).
// The audio they time was rendered before the transaction (warmList).
// Where the launch checks cannot run (no Launch: heed import contacts on
// the command line, which has neither heed serve's voice nor its firm
// settings), every such update is refused: heed cannot tell whether the
// campaign may call the contact where it moves, and fails closed.
func (s *Service) refuseMoved(ctx context.Context, tx pgx.Tx, moved map[int64]movedContact, rejected *[]RowError) error {
	if len(moved) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `
		SELECT t.contact_id, c.id, c.name, c.purpose, c.message_text, c.message_audio, c.caller_id, coalesce(NULLIF(c.callback, ''), c.caller_id), c.transfer_to, c.record, c.amd
		  FROM campaign_targets t JOIN campaigns c ON c.id = t.campaign_id
		 WHERE t.contact_id = ANY($1) AND t.state IN ('pending', 'dialing') AND c.status IN ('running', 'paused')
		 ORDER BY t.contact_id, c.id`, slices.Collect(maps.Keys(moved)))
	if err != nil {
		return fmt.Errorf("pending calls: %w", err)
	}
	type pending struct {
		id int64
		c  Campaign
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pending, error) {
		var p pending
		err := r.Scan(&p.id, &p.c.ID, &p.c.Name, &p.c.Purpose, &p.c.Message, &p.c.Audio, &p.c.CallerID, &p.c.Callback, &p.c.TransferTo, &p.c.Record, &p.c.AMD)
		return p, err
	})
	if err != nil {
		return fmt.Errorf("pending calls: %w", err)
	}
	if s.Launch == nil || s.Launch.Engine == nil || s.Launch.Engine() == nil {
		for _, p := range ps {
			*rejected = append(*rejected, RowError{Line: moved[p.id].line, Reason: fmt.Sprintf(
				"moves a contact that campaign %q (running or paused) still has to call, and its launch checks do not run here, "+
					"so heed cannot tell whether it may call the contact where the update moves it: "+
					"import the update in the web UI (Lists), where they run, or once the campaign no longer has to call the contact", p.c.Name)})
		}
		return nil
	}
	type checked struct {
		campaign int64
		states   string
	}
	found := map[checked][]consent.Reason{}
	fails := func(c Campaign, r contactRow) ([]consent.Reason, error) {
		loc, err := s.Launch.Engine().Locate(phone.Number(r.phone), r.state, r.zip)
		if err != nil {
			return []consent.Reason{}, nil // the gate denies its calls: no launch check concerns it
		}
		key := checked{c.ID, strings.Join(slices.Sorted(slices.Values(loc.States)), ",")}
		if reasons, ok := found[key]; ok {
			return slices.Clone(reasons), nil
		}
		err = s.Launch.Check(ctx, c, loc.States, true)
		var le *LaunchError
		switch {
		case errors.As(err, &le):
			found[key] = le.Reasons
		case err != nil:
			return nil, err
		default:
			found[key] = []consent.Reason{}
		}
		return slices.Clone(found[key]), nil
	}
	for _, p := range ps {
		m := moved[p.id]
		was, err := fails(p.c, m.was)
		if err != nil {
			return fmt.Errorf("launch checks of campaign %q: %w", p.c.Name, err)
		}
		now, err := fails(p.c, m.now)
		if err != nil {
			return fmt.Errorf("launch checks of campaign %q: %w", p.c.Name, err)
		}
		if added := slices.DeleteFunc(now, func(r consent.Reason) bool { return slices.Contains(was, r) }); len(added) > 0 {
			*rejected = append(*rejected, RowError{Line: m.line, Reason: (&LaunchError{Reasons: added}).Error() +
				fmt.Sprintf(", for campaign %q, which still has to call the contact, where the update moves it", p.c.Name)})
		}
	}
	return nil
}

// updateContacts writes cs over the contacts with their ids, as changed
// now by user by (0: the heed command, run on the server). Each change is
// audited with the values it replaced (migration 00042).
func updateContacts(ctx context.Context, tx pgx.Tx, cs []storedContact, by int64) error {
	if len(cs) == 0 {
		return nil
	}
	ids, appts, accidents := make([]int64, len(cs)), make([]*time.Time, len(cs)), make([]*time.Time, len(cs))
	var text [8][]string // name, state, zip, external_ref, place, matter, person_ref, line_type
	for i, c := range cs {
		ids[i], appts[i], accidents[i] = c.id, c.appointment, c.accident
		for j, v := range [...]string{c.name, c.state, c.zip, c.ref, c.place, c.matter, c.person, c.line} {
			text[j] = append(text[j], v)
		}
	}
	_, err := tx.Exec(ctx, `
		UPDATE contacts c SET name = u.name, state = u.state, zip = u.zip, external_ref = u.ref,
			appointment_at = u.appt, place = u.place, matter = u.matter, person_ref = u.person, accident_date = u.accident,
			line_type = u.line, updated_by = NULLIF($12, 0), updated_at = now()
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::date[], $11::text[])
			AS u(id, name, state, zip, ref, appt, place, matter, person, accident, line)
		WHERE c.id = u.id`, ids, text[0], text[1], text[2], text[3], appts, text[4], text[5], text[6], accidents, text[7], by)
	if err != nil {
		return fmt.Errorf("update contacts: %w", err)
	}
	return nil
}

func sortedRows(rows map[int]contactRow) []contactRow {
	out := make([]contactRow, 0, len(rows))
	for _, line := range slices.Sorted(maps.Keys(rows)) {
		out = append(out, rows[line])
	}
	return out
}

// personAliases reads the other PersonColumns headers as person_ref.
var personAliases = func() map[string]string {
	m := map[string]string{}
	for _, h := range PersonColumns[1:] {
		m[h] = PersonColumns[0]
	}
	return m
}()

// parseContacts validates the whole file. It returns the valid rows by line
// number, with the invalid ones in rep.Rejected, and the file's columns, or
// an *ImportError when the file itself is refused or has no valid row.
func parseContacts(r io.Reader, opts ImportOptions, rep *ImportReport) (map[int]contactRow, sheet.Columns, error) {
	sh, err := sheet.Read(r, opts.Format, MaxImportRows)
	var p *sheet.Problem
	if errors.As(err, &p) {
		rep.Rejected = append(rep.Rejected, *p)
		return nil, nil, &ImportError{Report: *rep}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("contacts import: %w", err)
	}
	rep.Rows = len(sh.Rows)
	col, ignored, problems := sh.Columns(opts.Columns, personAliases, ContactColumns, OptionalContactColumns)
	rep.Ignored = ignored
	rep.Rejected = append(rep.Rejected, problems...)
	if len(rep.Rejected) > 0 {
		return nil, nil, &ImportError{Report: *rep}
	}
	// The header the person reference is read under, for its errors.
	personHeader := cmp.Or(sh.HeaderOf(col, PersonColumns[0]), PersonColumns[0])
	rows := map[int]contactRow{}
	seen := map[string]int{}
	for _, sr := range sh.Rows {
		line, rec := sr.Line, sr.Fields
		// A CSV row must have the header's fields; a spreadsheet leaves
		// out a row's empty cells at its end.
		if (!sh.Excel && len(rec) != len(sh.Header)) || sh.Extra(sr) {
			rep.Rejected = append(rep.Rejected, RowError{Line: line, Reason: fmt.Sprintf("has %d fields, the header has %d", len(rec), len(sh.Header))})
			continue
		}
		get := func(name string) string { return col.Get(rec, name) }
		c := contactRow{name: get("name"), state: strings.ToUpper(get("state")), zip: sh.ZIP(get("zip")), ref: get("external_ref")}
		var reasons []string
		if c.name == "" {
			reasons = append(reasons, "name is empty")
		}
		raw := sh.Phone(get("phone"))
		if p, err := phone.Parse(raw); err != nil {
			reasons = append(reasons, fmt.Sprintf("phone %q is not a valid phone number", raw))
		} else if why := notCallable(raw, p); why != "" {
			reasons = append(reasons, why)
		} else {
			c.phone = p.String()
			if first, dup := seen[c.phone]; dup {
				reasons = append(reasons, fmt.Sprintf("phone %s is also on line %d", c.phone, first))
			} else {
				seen[c.phone] = line
			}
		}
		if c.state != "" && !usStates[c.state] {
			reasons = append(reasons, fmt.Sprintf("state %q is not a two-letter US state code", get("state")))
		}
		if c.zip != "" && !validZIP(c.zip) {
			reasons = append(reasons, fmt.Sprintf("zip %q is not a 5-digit or ZIP+4 code", c.zip))
		}
		loc := defaultZone
		if tz := get("time_zone"); tz != "" {
			if l, err := loadZone(tz); err != nil {
				reasons = append(reasons, fmt.Sprintf("time_zone %q is not a time zone name such as America/Chicago", tz))
			} else {
				loc = l
			}
		}
		if v := get("appointment_at"); v != "" {
			if t, err := appointmentCell(sh, v, loc); err != nil {
				reasons = append(reasons, "appointment_at "+err.Error())
			} else {
				c.appointment = &t
			}
		}
		for _, f := range []struct {
			name string
			dst  *string
		}{{"place", &c.place}, {"matter", &c.matter}} {
			*f.dst = get(f.name)
			if n := utf8.RuneCountInString(*f.dst); n > maxTextField {
				reasons = append(reasons, fmt.Sprintf("%s has %d characters, at most %d", f.name, n, maxTextField))
			}
		}
		if v := get("accident_date"); v != "" {
			if d, err := accidentCell(sh, v, time.Now()); err != nil {
				reasons = append(reasons, "accident_date "+err.Error())
			} else {
				c.accident = &d
			}
		}
		if l, err := ParseLineType(get("line_type")); err != nil {
			reasons = append(reasons, err.Error())
		} else {
			c.line = string(l)
		}
		if ref, err := ParsePersonRef(get(PersonColumns[0])); err != nil {
			reasons = append(reasons, personHeader+": "+err.Error())
		} else {
			c.person = ref
		}
		if len(reasons) > 0 {
			rep.Rejected = append(rep.Rejected, RowError{Line: line, Reason: strings.Join(reasons, "; ")})
			continue
		}
		rows[line] = c
	}
	switch {
	case len(rows) == 0 && len(rep.Rejected) == 0:
		rep.Rejected = append(rep.Rejected, RowError{Line: 2, Reason: "the file has a header but no contacts"})
		return nil, nil, &ImportError{Report: *rep}
	case len(rows) == 0:
		return nil, nil, &ImportError{Report: *rep}
	}
	// With rejected rows, the valid ones are still checked against the
	// list, so that one report names every row to fix.
	return rows, col, nil
}

// appointmentCell reads an appointment_at cell: a spreadsheet's date and
// time, which must have both, or one of AppointmentFormats.
func appointmentCell(sh *sheet.Sheet, v string, loc *time.Location) (time.Time, error) {
	// The serial's wall clock, read in UTC (which skips no hour), then as
	// text in loc: a time the clocks skip is refused as it is when typed.
	wall, prec, ok := sh.Serial(v, time.UTC)
	if !ok {
		if f, err := strconv.ParseFloat(v, 64); sh.Excel && err == nil && f > 0 && f < 1 {
			return time.Time{}, fmt.Errorf("%q is a spreadsheet time of day without a date", v)
		}
		return parseAppointment(v, loc)
	}
	if prec == 24*time.Hour {
		// A spreadsheet keeps midnight as the date alone.
		return time.Time{}, fmt.Errorf("%q is a spreadsheet date (%s) without a time of day", v, wall.Format(time.DateOnly))
	}
	return parseAppointment(wall.Format("2006-01-02 15:04"), loc)
}

func validZIP(z string) bool {
	digits := func(s string) bool {
		for _, r := range s {
			if r < '0' || r > '9' {
				return false
			}
		}
		return true
	}
	switch len(z) {
	case 5:
		return digits(z)
	case 10:
		return z[5] == '-' && digits(z[:5]) && digits(z[6:])
	}
	return false
}

// Lists returns every contact list with its size.
func (s *Service) Lists(ctx context.Context) ([]ContactList, error) {
	rows, err := s.db.Query(ctx, `SELECT l.id, l.name, (SELECT count(*) FROM contacts c WHERE c.list_id = l.id) FROM contact_lists l ORDER BY l.name`)
	if err != nil {
		return nil, fmt.Errorf("campaign: lists: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ContactList])
	if err != nil {
		return nil, fmt.Errorf("campaign: lists: %w", err)
	}
	return out, nil
}

// notCallable says why a contact's valid number p, read from raw, is one
// heed never calls, or returns "" when it may be called. heed calls only
// North American numbers (the gate denies any other as
// number.unsupported), so an import refuses the others at once rather
// than keeping a contact no campaign can reach. Text such as
// "+203 555 0199" reads as another country's number (Egypt's +20), while
// the person almost certainly left out the 1 of +1 203-555-0199; the
// reason names that number so that the file can be corrected, but the
// import does not call it on a guess: a wrong guess would call a stranger
// about a client's matter.
func notCallable(raw string, p phone.Number) string {
	if _, err := p.NANP(); err == nil {
		return ""
	}
	if m, err := phone.ParseMeant(raw); err == nil && m != p {
		return fmt.Sprintf("phone %q reads as %s, outside North America, where heed does not call; if %s is meant, write its country code 1", raw, p.Display(), m.Display())
	}
	return fmt.Sprintf("phone %q is %s, outside North America, where heed does not call", raw, p.Display())
}
