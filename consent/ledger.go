package consent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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

// ErrInvalidRecord reports a consent or revocation that the ledger refuses
// to record; the error is a FieldErrors naming what is wrong.
var ErrInvalidRecord = errors.New("invalid consent record")

// ErrNotFound reports a ledger record that does not exist.
var ErrNotFound = errors.New("not found")

// ErrCorruptLedger reports a change log entry whose record is missing,
// which the append-only tables should make impossible.
var ErrCorruptLedger = errors.New("consent ledger is inconsistent")

// MaxClockSkew is how far in the future an obtained_at or revoked_at may lie
// (clocks of different machines disagree a little) before the ledger
// refuses it as being in the future.
const MaxClockSkew = time.Minute

// MaxEvidenceBytes bounds the evidence text of one consent.
const MaxEvidenceBytes = 1 << 20

// maxSourceBytes bounds a source description.
const maxSourceBytes = 1000

// earliest is the earliest time the ledger accepts: the index cannot hold
// earlier ones, and no consent under the TCPA (1991) predates it.
var earliest = time.Unix(0, 0)

// FieldErrors maps the fields of a consent or revocation to what is wrong
// with them. It wraps ErrInvalidRecord.
type FieldErrors map[string]string

// Error lists the problems in field order.
func (f FieldErrors) Error() string {
	parts := make([]string, 0, len(f))
	for _, k := range slices.Sorted(maps.Keys(f)) {
		parts = append(parts, f[k])
	}
	return strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalidRecord) true.
func (f FieldErrors) Unwrap() error { return ErrInvalidRecord }

// NewConsent is a consent to record.
type NewConsent struct {
	// Phone is the number as written; it is normalised to E.164 and must be
	// in the NANP.
	Phone string
	// ContactID names the contact the consent came with, or 0.
	ContactID int64
	// Kind is ConsentPEC or ConsentPEWC.
	Kind ConsentKind
	// Scope is the purpose the consent covers.
	Scope Purpose
	// Channel is the channel the consent covers.
	Channel Channel
	// ObtainedAt is when the consent was given; it may not be in the future.
	ObtainedAt time.Time
	// Source says where the consent comes from: an engagement letter, an
	// intake form, a recorded call. It is required.
	Source string
	// Evidence is the consent's text or a transcript, stored with its
	// SHA-256 hash, or "".
	Evidence string
	// CapturedBy is the user who recorded the consent, or 0.
	CapturedBy int64
	// ExpiresAt is the consent's own expiry, or zero for none.
	ExpiresAt time.Time
	// Document, when not nil, is the consent's evidence as a file
	// (NewDocument), kept with it and named by its hash.
	Document *Document
}

// ConsentRecord is a consent on file: the fields of NewConsent as stored,
// with the phone in E.164 form, the record's id, the hash of its evidence
// and when it was recorded.
type ConsentRecord struct {
	// ID is the consents row id, which decisions name as consent_id.
	ID         int64
	Phone      phone.Number
	ContactID  int64 // 0 for none
	Kind       ConsentKind
	Scope      Purpose
	Channel    Channel
	ObtainedAt time.Time
	Source     string
	Evidence   string
	// EvidenceHash is the hex SHA-256 of Evidence, or "" when there is none.
	EvidenceHash string
	CapturedBy   int64     // 0 for none
	ExpiresAt    time.Time // zero for none
	// CreatedAt is when the record was written.
	CreatedAt time.Time
	// Document is the hex SHA-256 of the consent's document, or "" when it
	// has none.
	Document string
	// DocumentName is the file name the consent's document came with, or
	// "" when it has none.
	DocumentName string
}

// NewRevocation is a revocation to record.
type NewRevocation struct {
	// Phone is the number as written; it is normalised to E.164. Any valid
	// number is accepted: an opt-out is never refused. A North American
	// number written with a "+" but without its 1 ("+2035550199") is
	// recorded as that number, +12035550199 (phone.ParseMeant), never as
	// the other country's number the digits may also read as.
	Phone string
	// RevokedAt is when the person revoked consent; zero means now, by the
	// database's clock, which is what a live opt-out uses. It may not be in
	// the future.
	RevokedAt time.Time
	// Method says how the person revoked consent.
	Method RevocationMethod
	// Source adds detail: the campaign, the message, the email's sender.
	Source string
	// RecordedBy is the user who recorded the revocation, or 0 when the
	// person did it themselves (key press, STOP, web page).
	RecordedBy int64
	// Scope limits the revocation to one purpose; "" (the default) covers
	// every purpose.
	Scope Purpose
}

// RevocationRecord is a revocation on file: the fields of NewRevocation as
// stored, with the phone in E.164 form, the record's id and when it was
// recorded.
type RevocationRecord struct {
	// ID is the revocations row id.
	ID         int64
	Phone      phone.Number
	RevokedAt  time.Time
	Method     RevocationMethod
	Source     string
	RecordedBy int64   // 0 for none
	Scope      Purpose // "" for every purpose
	// CreatedAt is when the record was written.
	CreatedAt time.Time
}

// Record returns the index record of the consent.
func (c ConsentRecord) Record() Record {
	n, _ := c.Phone.NANP()
	return Record{Type: RecordConsent, ID: c.ID, Phone: c.Phone, Number: n, Kind: c.Kind, Scope: c.Scope,
		Channel: c.Channel, At: c.ObtainedAt, ExpiresAt: c.ExpiresAt}
}

// Record returns the index record of the revocation.
func (r RevocationRecord) Record() Record {
	n, _ := r.Phone.NANP()
	return Record{Type: RecordRevocation, ID: r.ID, Phone: r.Phone, Number: n, Scope: r.Scope, At: r.RevokedAt}
}

// Ledger keeps consents and revocations in PostgreSQL, their source of
// truth. Both tables are append-only; every insert is logged in
// index_changes, which the in-memory indexes follow.
type Ledger struct {
	db  *pgxpool.Pool
	now func() time.Time
}

// NewLedger returns a Ledger on db.
func NewLedger(db *pgxpool.Pool) *Ledger { return &Ledger{db: db, now: time.Now} }

// validate checks a consent and returns its normalised number. An
// obtained_at ahead of now, within MaxClockSkew, becomes now.
func (c *NewConsent) validate(now time.Time) (phone.Number, FieldErrors) {
	fe := FieldErrors{}
	n, err := phone.Parse(c.Phone)
	switch {
	case err != nil:
		fe["phone"] = fmt.Sprintf("phone %q is not a valid phone number", c.Phone)
	case n.AreaCode() == "":
		fe["phone"] = fmt.Sprintf("phone %s is outside the North American Numbering Plan, which heed does not call", n)
	}
	if c.Kind != ConsentPEC && c.Kind != ConsentPEWC {
		fe["kind"] = "kind must be pec or pewc"
	}
	if _, err := ParsePurpose(string(c.Scope)); err != nil {
		fe["scope"] = fmt.Sprintf("scope %q: want informational, telemarketing, debt_collection or solicitation", c.Scope)
	}
	if c.Channel != ChannelVoice && c.Channel != ChannelText {
		fe["channel"] = fmt.Sprintf("channel %q: want voice or text", c.Channel)
	}
	switch {
	case c.ObtainedAt.IsZero():
		fe["obtained_at"] = "obtained_at is required"
	case c.ObtainedAt.Before(earliest):
		fe["obtained_at"] = fmt.Sprintf("obtained_at %s is before 1970", c.ObtainedAt.Format(time.RFC3339))
	case c.ObtainedAt.After(now.Add(MaxClockSkew)):
		fe["obtained_at"] = fmt.Sprintf("obtained_at %s is in the future", c.ObtainedAt.Format(time.RFC3339))
	case c.ObtainedAt.After(now):
		// Within the clocks' skew: a consent was not given after it was
		// recorded, and a time ahead would beat an opt-out taken between
		// the two (F12 orders them by time).
		c.ObtainedAt = now
	}
	if !c.ExpiresAt.IsZero() && !c.ObtainedAt.IsZero() && !c.ExpiresAt.After(c.ObtainedAt) {
		fe["expires_at"] = fmt.Sprintf("expires_at %s is not after obtained_at", c.ExpiresAt.Format(time.RFC3339))
	}
	switch src := strings.TrimSpace(c.Source); {
	case src == "":
		fe["source"] = "source is required (for example: engagement letter, intake form, recorded call)"
	case len(src) > maxSourceBytes:
		fe["source"] = fmt.Sprintf("source is longer than %d bytes", maxSourceBytes)
	case !utf8.ValidString(src) || strings.ContainsFunc(src, isControl):
		fe["source"] = "source is not plain UTF-8 text on one line"
	}
	switch {
	case len(c.Evidence) > MaxEvidenceBytes:
		fe["evidence"] = fmt.Sprintf("evidence is longer than %d bytes", MaxEvidenceBytes)
	case !utf8.ValidString(c.Evidence) || strings.ContainsRune(c.Evidence, 0):
		fe["evidence"] = "evidence is not UTF-8 text (it holds a NUL byte or another encoding)"
	}
	return n, fe
}

// validate checks a revocation and returns its normalised number.
func (r *NewRevocation) validate(now time.Time) (phone.Number, FieldErrors) {
	fe := FieldErrors{}
	// A revocation is an opt-out: a number written with a "+" but without
	// the 1 ("+2035550199") is the North American number the person
	// meant (phone.ParseMeant).
	n, err := phone.ParseMeant(r.Phone)
	if err != nil {
		fe["phone"] = fmt.Sprintf("phone %q is not a valid phone number", r.Phone)
	}
	if !slices.Contains(revocationMethods, r.Method) {
		fe["method"] = fmt.Sprintf("method %q: want one of %s", r.Method, methodNames())
	}
	if r.Scope != "" {
		if _, err := ParsePurpose(string(r.Scope)); err != nil {
			fe["scope"] = fmt.Sprintf("scope %q: want informational, telemarketing, debt_collection, solicitation or empty for every purpose", r.Scope)
		}
	}
	switch {
	case r.RevokedAt.IsZero():
	case r.RevokedAt.Before(earliest):
		fe["revoked_at"] = fmt.Sprintf("revoked_at %s is before 1970", r.RevokedAt.Format(time.RFC3339))
	case r.RevokedAt.After(now.Add(MaxClockSkew)):
		fe["revoked_at"] = fmt.Sprintf("revoked_at %s is in the future", r.RevokedAt.Format(time.RFC3339))
	}
	if len(strings.TrimSpace(r.Source)) > maxSourceBytes {
		fe["source"] = fmt.Sprintf("source is longer than %d bytes", maxSourceBytes)
	}
	return n, fe
}

func methodNames() string {
	names := make([]string, len(revocationMethods))
	for i, m := range revocationMethods {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

// evidenceHash returns the hex SHA-256 of evidence, or "" for none.
func evidenceHash(evidence string) string {
	if evidence == "" {
		return ""
	}
	h := sha256.Sum256([]byte(evidence))
	return hex.EncodeToString(h[:])
}

// nullID returns nil for 0, so that an optional reference is stored as NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// nullTime returns nil for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// referenceError turns a foreign-key violation into FieldErrors.
func referenceError(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23503" {
		return err
	}
	switch {
	case strings.Contains(pe.ConstraintName, "contact_id"):
		return FieldErrors{"contact_id": "no such contact"}
	case strings.Contains(pe.ConstraintName, "captured_by"), strings.Contains(pe.ConstraintName, "recorded_by"):
		return FieldErrors{"user": "no such user"}
	}
	return err
}

const consentColumns = `id, phone, coalesce(contact_id, 0), kind, scope, channel, obtained_at, source, evidence, evidence_hash, coalesce(captured_by, 0), expires_at, created_at,
	coalesce(document, ''), document_name`

func scanConsent(row pgx.Row) (ConsentRecord, error) {
	var (
		c               ConsentRecord
		p, kind, sc, ch string
		expires         *time.Time
	)
	err := row.Scan(&c.ID, &p, &c.ContactID, &kind, &sc, &ch, &c.ObtainedAt, &c.Source, &c.Evidence, &c.EvidenceHash, &c.CapturedBy, &expires, &c.CreatedAt,
		&c.Document, &c.DocumentName)
	if err != nil {
		return ConsentRecord{}, err
	}
	if c.Kind, err = ParseConsentKind(kind); err != nil {
		return ConsentRecord{}, fmt.Errorf("consent %d: %w", c.ID, err)
	}
	c.Phone, c.Scope, c.Channel = phone.Number(p), internPurpose(sc), internChannel(ch)
	if expires != nil {
		c.ExpiresAt = *expires
	}
	return c, nil
}

// internPurpose returns the Purpose constant named by s, sharing its
// string, or Purpose(s) when s names none.
func internPurpose(s string) Purpose {
	for _, p := range Purposes() {
		if string(p) == s {
			return p
		}
	}
	return Purpose(s)
}

func internChannel(s string) Channel {
	switch Channel(s) {
	case ChannelVoice:
		return ChannelVoice
	case ChannelText:
		return ChannelText
	}
	return Channel(s)
}

// AddConsent validates and records one consent, with its document when it
// has one, in one transaction. The evidence text is stored with its SHA-256
// hash, the document under its own. Recorded one at a time, written
// consent (PEWC) needs its evidence: the signed agreement as a document or
// as text. An invalid consent is refused with FieldErrors wrapping
// ErrInvalidRecord.
func (l *Ledger) AddConsent(ctx context.Context, in NewConsent) (ConsentRecord, error) {
	n, fe := l.check(&in)
	if len(fe) > 0 {
		return ConsentRecord{}, fmt.Errorf("add consent: %w", fe)
	}
	var c ConsentRecord
	err := pgx.BeginFunc(ctx, l.db, func(tx pgx.Tx) error {
		var doc any
		name := ""
		if d := in.Document; d != nil {
			if err := storeDocument(ctx, tx, d); err != nil {
				return err
			}
			doc, name = d.SHA256, d.Name
		}
		row := tx.QueryRow(ctx, `
			INSERT INTO consents (phone, contact_id, kind, scope, channel, obtained_at, source, evidence, evidence_hash, captured_by, expires_at, document, document_name)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			RETURNING `+consentColumns,
			n.String(), nullID(in.ContactID), in.Kind.String(), string(in.Scope), string(in.Channel), in.ObtainedAt,
			strings.TrimSpace(in.Source), in.Evidence, evidenceHash(in.Evidence), nullID(in.CapturedBy), nullTime(in.ExpiresAt), doc, name)
		var err error
		c, err = scanConsent(row)
		return err
	})
	if err != nil {
		return ConsentRecord{}, fmt.Errorf("add consent: %w", referenceError(err))
	}
	return c, nil
}

// Check returns what AddConsent would refuse in a consent, by field,
// without recording anything: a form shows every wrong field at once.
func (l *Ledger) Check(in NewConsent) FieldErrors {
	_, fe := l.check(&in)
	return fe
}

// check validates a consent to record one at a time, and returns its
// normalised number: written consent (PEWC) needs its evidence.
func (l *Ledger) check(in *NewConsent) (phone.Number, FieldErrors) {
	n, fe := in.validate(l.now())
	if in.Kind == ConsentPEWC && strings.TrimSpace(in.Evidence) == "" && in.Document == nil && fe["evidence"] == "" {
		fe["evidence"] = "written consent (pewc) needs its evidence: attach the signed agreement or paste its text"
	}
	return n, fe
}

// Consent returns the consent with the given id, or an error wrapping
// ErrNotFound.
func (l *Ledger) Consent(ctx context.Context, id int64) (ConsentRecord, error) {
	c, err := scanConsent(l.db.QueryRow(ctx, `SELECT `+consentColumns+` FROM consents WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return ConsentRecord{}, fmt.Errorf("consent %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return ConsentRecord{}, fmt.Errorf("consent %d: %w", id, err)
	}
	return c, nil
}

const revocationColumns = `id, phone, revoked_at, method, source, coalesce(recorded_by, 0), scope, created_at`

func scanRevocation(row pgx.Row) (RevocationRecord, error) {
	var (
		r         RevocationRecord
		p, m, sc  string
		recorded  int64
		revokedAt time.Time
	)
	if err := row.Scan(&r.ID, &p, &revokedAt, &m, &r.Source, &recorded, &sc, &r.CreatedAt); err != nil {
		return r, err
	}
	r.Phone, r.RevokedAt, r.Method, r.RecordedBy, r.Scope = phone.Number(p), revokedAt, RevocationMethod(m), recorded, internPurpose(sc)
	return r, nil
}

// AddRevocation validates and records a revocation, at the moment it is
// made unless RevokedAt says otherwise. An invalid revocation is refused
// with FieldErrors wrapping ErrInvalidRecord.
func (l *Ledger) AddRevocation(ctx context.Context, in NewRevocation) (RevocationRecord, error) {
	n, fe := in.validate(l.now())
	if len(fe) > 0 {
		return RevocationRecord{}, fmt.Errorf("add revocation: %w", fe)
	}
	row := l.db.QueryRow(ctx, `
		INSERT INTO revocations (phone, revoked_at, method, source, recorded_by, scope)
		VALUES ($1, coalesce($2, clock_timestamp()), $3, $4, $5, $6)
		RETURNING `+revocationColumns,
		n.String(), nullTime(in.RevokedAt), string(in.Method), strings.TrimSpace(in.Source), nullID(in.RecordedBy), string(in.Scope))
	r, err := scanRevocation(row)
	if err != nil {
		return RevocationRecord{}, fmt.Errorf("add revocation: %w", referenceError(err))
	}
	return r, nil
}

// History returns every consent and revocation of a number, oldest first.
func (l *Ledger) History(ctx context.Context, n phone.Number) ([]ConsentRecord, []RevocationRecord, error) {
	rows, err := l.db.Query(ctx, `SELECT `+consentColumns+` FROM consents WHERE phone = $1 ORDER BY obtained_at, id`, n.String())
	if err != nil {
		return nil, nil, fmt.Errorf("consent history %s: %w", n, err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ConsentRecord, error) { return scanConsent(r) })
	if err != nil {
		return nil, nil, fmt.Errorf("consent history %s: %w", n, err)
	}
	rows, err = l.db.Query(ctx, `SELECT `+revocationColumns+` FROM revocations WHERE phone = $1 ORDER BY revoked_at, id`, n.String())
	if err != nil {
		return nil, nil, fmt.Errorf("consent history %s: %w", n, err)
	}
	rs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RevocationRecord, error) { return scanRevocation(r) })
	if err != nil {
		return nil, nil, fmt.Errorf("consent history %s: %w", n, err)
	}
	return cs, rs, nil
}

// Scan calls fn with every consent and revocation on file, consents first,
// and returns the change sequence number the read is consistent with: every
// change up to it is included and none after it. It reads in one
// repeatable-read transaction and keeps no records itself, so it suits
// loading a large index (see LoadSnapshot). An error from fn stops the
// scan and is returned wrapped.
func (l *Ledger) Scan(ctx context.Context, fn func(Record) error) (int64, error) {
	var seq int64
	err := pgx.BeginTxFunc(ctx, l.db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM index_changes`).Scan(&seq); err != nil {
			return fmt.Errorf("change sequence: %w", err)
		}
		if err := scanRecords(ctx, tx, `
			SELECT 0::bigint, 'consent', id, phone, kind, scope, channel, obtained_at, expires_at
			  FROM consents`, fn); err != nil {
			return fmt.Errorf("consents: %w", err)
		}
		if err := scanRecords(ctx, tx, `
			SELECT 0::bigint, 'revocation', id, phone, '', scope, '', revoked_at, NULL::timestamptz
			  FROM revocations`, fn); err != nil {
			return fmt.Errorf("revocations: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("consent ledger scan: %w", err)
	}
	return seq, nil
}

// scanRecords runs a query whose rows are (seq, op, id, phone, kind, scope,
// channel, at, expires_at) and calls fn with each record.
func scanRecords(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, sql string, fn func(Record) error, args ...any) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		r                   Record
		op, p, kind, sc, ch string
		at                  time.Time
		expires             *time.Time
	)
	for rows.Next() {
		if err := rows.Scan(&r.Seq, &op, &r.ID, &p, &kind, &sc, &ch, &at, &expires); err != nil {
			return err
		}
		r.Phone, r.At, r.ExpiresAt, r.Scope = phone.Number(p), at, time.Time{}, internPurpose(sc)
		if expires != nil {
			r.ExpiresAt = *expires
		}
		r.Number, _ = r.Phone.NANP()
		r.Kind, r.Channel = ConsentNone, ""
		switch op {
		case "consent":
			r.Type = RecordConsent
			if r.Kind, err = ParseConsentKind(kind); err != nil {
				return fmt.Errorf("consent %d: %w", r.ID, err)
			}
			r.Channel = internChannel(ch)
		case "revocation":
			r.Type = RecordRevocation
		case "missing":
			return fmt.Errorf("change %d refers to %s %d, which does not exist: %w", r.Seq, kind, r.ID, ErrCorruptLedger)
		default:
			return fmt.Errorf("change %d: op %q: %w", r.Seq, op, ErrCorruptLedger)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// All returns every consent and revocation on file, and the change sequence
// number the read is consistent with (see Scan). At ten million records the
// slice takes over a gigabyte; LoadSnapshot builds an index without it.
func (l *Ledger) All(ctx context.Context) ([]Record, int64, error) {
	var out []Record
	seq, err := l.Scan(ctx, func(r Record) error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, seq, nil
}

// LoadSnapshot reads the whole ledger into a new index snapshot whose Seq is
// the change sequence number the read is consistent with.
func (l *Ledger) LoadSnapshot(ctx context.Context) (*Snapshot, error) {
	var b Builder
	seq, err := l.Scan(ctx, func(r Record) error {
		b.Add(r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b.Build(seq), nil
}

// Since returns the consents and revocations whose change sequence number
// is greater than afterSeq, in sequence order, and the last change sequence
// number committed when it read them (of any index, so that a follower
// moves past other indexes' changes too; afterSeq itself when there is
// nothing new). Writers take seqs under a lock held until they commit, so a
// change numbered below lastSeq can never appear later.
func (l *Ledger) Since(ctx context.Context, afterSeq int64) ([]Record, int64, error) {
	var out []Record
	last := afterSeq
	err := pgx.BeginTxFunc(ctx, l.db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), $1) FROM index_changes WHERE seq > $1`, afterSeq).Scan(&last); err != nil {
			return fmt.Errorf("change sequence: %w", err)
		}
		return scanRecords(ctx, tx, `
			SELECT ic.seq, CASE WHEN c.id IS NULL AND r.id IS NULL THEN 'missing' ELSE ic.op END, ic.ref_id, ic.phone,
			       CASE WHEN c.id IS NULL AND r.id IS NULL THEN ic.op ELSE coalesce(c.kind, '') END,
			       coalesce(c.scope, r.scope, ''), coalesce(c.channel, ''),
			       coalesce(c.obtained_at, r.revoked_at, 'epoch'), c.expires_at
			  FROM index_changes ic
			  LEFT JOIN consents c ON ic.op = 'consent' AND c.id = ic.ref_id
			  LEFT JOIN revocations r ON ic.op = 'revocation' AND r.id = ic.ref_id
			 WHERE ic.index = 'consent' AND ic.seq > $1 AND ic.seq <= $2
			 ORDER BY ic.seq`, func(r Record) error {
			out = append(out, r)
			return nil
		}, afterSeq, last)
	})
	if err != nil {
		return nil, afterSeq, fmt.Errorf("consent ledger changes since %d: %w", afterSeq, err)
	}
	return out, last, nil
}
