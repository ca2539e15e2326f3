package consent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// MaxSettingsNote bounds the note saved with a firm policy, in bytes.
const MaxSettingsNote = 2000

// MaxCapPeriod is the longest cap period a saved policy may set: the
// attempt history the dialer and `heed check` read (dialer.HistoryWindow).
// A longer period could not be enforced, so Save refuses it.
const MaxCapPeriod = 31 * 24 * time.Hour

// SettingsVersionName returns the FirmPolicy.Version that a stored policy
// of version n carries ("v3"); decisions made under it name it in their pack
// version ("heed-2026.2.firm-v3").
func SettingsVersionName(n int) string { return "v" + strconv.Itoa(n) }

// SettingsStore keeps the firm's policy in PostgreSQL (table firm_settings),
// versioned and append-only: every save is a new row with the next version
// number, the newest row is the policy in force, and no row is ever changed
// or removed. Each save is written to the audit log and announced with
// NOTIFY heed_settings in the saving transaction (by the table's triggers),
// so every heed process can rebuild its engine.
type SettingsStore struct {
	// Packs are the law packs a policy is validated against before it is
	// saved; nil means DefaultPacks. Give the same packs as the engine's
	// Config.Packs.
	Packs []*Pack

	db *pgxpool.Pool
}

// NewSettingsStore returns a settings store on db, validating against
// DefaultPacks.
func NewSettingsStore(db *pgxpool.Pool) *SettingsStore { return &SettingsStore{db: db} }

// SettingsVersion is one saved version of the firm policy.
type SettingsVersion struct {
	// Version is the version number, counting from 1.
	Version int
	// Policy is the policy saved, its Version set to SettingsVersionName(Version).
	Policy FirmPolicy
	// SavedBy is the id of the user who saved it, and SavedByEmail their email.
	SavedBy      int64
	SavedByEmail string
	// SavedAt is when it was saved.
	SavedAt time.Time
	// Note is the reason the user gave.
	Note string
}

func (s *SettingsStore) law() []*Pack {
	if s.Packs == nil {
		return DefaultPacks()
	}
	return s.Packs
}

// Current returns the policy in force and its version number. When no
// policy has ever been saved it returns the zero FirmPolicy (heed's
// defaults) and version 0, with a nil error. A stored policy that cannot be
// read is an error wrapping ErrInvalidPolicy, never a fallback to the
// defaults.
func (s *SettingsStore) Current(ctx context.Context) (FirmPolicy, int, error) {
	var (
		version int
		raw     []byte
	)
	err := s.db.QueryRow(ctx, `SELECT version, policy FROM firm_settings ORDER BY version DESC LIMIT 1`).Scan(&version, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return FirmPolicy{}, 0, nil
	}
	if err != nil {
		return FirmPolicy{}, 0, fmt.Errorf("firm settings: current: %w", err)
	}
	p, err := decodeStored(version, raw)
	if err != nil {
		return FirmPolicy{}, 0, err
	}
	return p, version, nil
}

func decodeStored(version int, raw []byte) (FirmPolicy, error) {
	var p FirmPolicy
	if err := json.Unmarshal(raw, &p); err != nil {
		return FirmPolicy{}, fmt.Errorf("firm settings: version %d: %w", version, err)
	}
	p.Version = SettingsVersionName(version)
	return p, nil
}

// Save validates p against the store's law packs and stores it as the next
// version, saved by the user userID with a note, and returns the version
// number. A policy that loosens a floor is refused with an error that holds
// each *FloorError (errors.As finds them; errors.Is finds ErrLoosensFloor);
// a malformed one with an error wrapping ErrInvalidPolicy. Nothing is stored
// when it fails. p.Version is ignored: the stored policy carries
// SettingsVersionName of its version number.
func (s *SettingsStore) Save(ctx context.Context, p FirmPolicy, userID int64, note string) (int, error) {
	if err := p.Validate(s.law()); err != nil {
		return 0, fmt.Errorf("firm settings: save: %w", err)
	}
	for _, code := range sortedCodes(p.Caps) {
		if d := p.Caps[code].Period; d > MaxCapPeriod {
			return 0, fmt.Errorf("firm settings: save: cap %s period %s: heed reads %s of call history, so a longer period cannot be enforced: %w",
				code, FormatDuration(d), FormatDuration(MaxCapPeriod), ErrInvalidPolicy)
		}
	}
	if len(note) > MaxSettingsNote {
		return 0, fmt.Errorf("firm settings: save: note is %d bytes, over %d: %w", len(note), MaxSettingsNote, ErrInvalidPolicy)
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("firm settings: save: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	// Readers go on; concurrent saves queue, so versions are gapless.
	if _, err := tx.Exec(ctx, `LOCK TABLE firm_settings IN EXCLUSIVE MODE`); err != nil {
		return 0, fmt.Errorf("firm settings: save: lock: %w", err)
	}
	var version int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) + 1 FROM firm_settings`).Scan(&version); err != nil {
		return 0, fmt.Errorf("firm settings: save: next version: %w", err)
	}
	p.Version = SettingsVersionName(version)
	raw, err := json.Marshal(p)
	if err != nil {
		return 0, fmt.Errorf("firm settings: save: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO firm_settings (version, policy, saved_by, note) VALUES ($1, $2, $3, $4)`,
		version, raw, userID, note)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation
		return 0, fmt.Errorf("firm settings: save: user %d: %w", userID, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("firm settings: save: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("firm settings: save: commit: %w", err)
	}
	return version, nil
}

// History returns every saved version, newest first, or an empty slice when
// none was saved.
func (s *SettingsStore) History(ctx context.Context) ([]SettingsVersion, error) {
	rows, err := s.db.Query(ctx, `SELECT f.version, f.policy, f.saved_by, coalesce(u.email, ''), f.saved_at, f.note
		FROM firm_settings f LEFT JOIN users u ON u.id = f.saved_by ORDER BY f.version DESC`)
	if err != nil {
		return nil, fmt.Errorf("firm settings: history: %w", err)
	}
	defer rows.Close()
	out := []SettingsVersion{}
	for rows.Next() {
		var (
			v   SettingsVersion
			raw []byte
		)
		if err := rows.Scan(&v.Version, &raw, &v.SavedBy, &v.SavedByEmail, &v.SavedAt, &v.Note); err != nil {
			return nil, fmt.Errorf("firm settings: history: %w", err)
		}
		if v.Policy, err = decodeStored(v.Version, raw); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("firm settings: history: %w", err)
	}
	return out, nil
}

// policyJSON is the stable JSON form of a FirmPolicy, the form `heed
// settings` reads and writes and firm_settings stores:
//
//	{"version": "v3",
//	 "windows": {"informational": "09:00-20:00"},
//	 "caps": {"R1": {"max": 5, "period": "7d"}},
//	 "no_sunday": true, "holidays": ["2026-12-25"],
//	 "residential_needs_pec": false, "national_max_age": "20d",
//	 "abandon_target": 0.01, "min_ring": "25s",
//	 "revocation_scope": "all", "check_reassigned": true}
//
// Durations are whole days ("20d") or Go durations ("36h", "25s"); an
// omitted or zero value keeps heed's default.
type policyJSON struct {
	Version             string             `json:"version,omitempty"`
	Windows             map[string]string  `json:"windows,omitempty"`
	Caps                map[string]capJSON `json:"caps,omitempty"`
	NoSunday            bool               `json:"no_sunday"`
	Holidays            []string           `json:"holidays,omitempty"`
	ResidentialNeedsPEC bool               `json:"residential_needs_pec"`
	NationalMaxAge      string             `json:"national_max_age,omitempty"`
	AbandonTarget       float64            `json:"abandon_target,omitempty"`
	MinRing             string             `json:"min_ring,omitempty"`
	RevocationScope     string             `json:"revocation_scope,omitempty"`
	CheckReassigned     bool               `json:"check_reassigned"`
}

type capJSON struct {
	Max    int    `json:"max"`
	Period string `json:"period"`
}

// MarshalJSON writes the policy in its stable JSON form (see `heed settings
// show --json`): windows as "HH:MM-HH:MM", durations as "20d" or "25s",
// the revocation scope as "all" or "purpose".
func (p FirmPolicy) MarshalJSON() ([]byte, error) {
	j := policyJSON{
		Version: p.Version, NoSunday: p.NoSunday, Holidays: p.Holidays,
		ResidentialNeedsPEC: p.ResidentialNeedsPEC, AbandonTarget: p.AbandonTarget,
		RevocationScope: p.RevocationScope.String(), CheckReassigned: p.CheckReassigned,
	}
	if len(p.Windows) > 0 {
		j.Windows = make(map[string]string, len(p.Windows))
		for pu, w := range p.Windows {
			j.Windows[string(pu)] = w.String()
		}
	}
	if len(p.Caps) > 0 {
		j.Caps = make(map[string]capJSON, len(p.Caps))
		for code, c := range p.Caps {
			j.Caps[code] = capJSON{Max: c.Max, Period: FormatDuration(c.Period)}
		}
	}
	if p.NationalMaxAge != 0 {
		j.NationalMaxAge = FormatDuration(p.NationalMaxAge)
	}
	if p.MinRing != 0 {
		j.MinRing = FormatDuration(p.MinRing)
	}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("marshal firm policy: %w", err)
	}
	return b, nil
}

// UnmarshalJSON reads a policy in the form MarshalJSON writes. Unknown keys
// and malformed values are errors wrapping ErrInvalidPolicy; whether the
// values loosen a floor is Validate's question.
func (p *FirmPolicy) UnmarshalJSON(b []byte) error {
	var j policyJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("firm policy: %v: %w", err, ErrInvalidPolicy)
	}
	out := FirmPolicy{
		Version: j.Version, NoSunday: j.NoSunday, Holidays: j.Holidays,
		ResidentialNeedsPEC: j.ResidentialNeedsPEC, AbandonTarget: j.AbandonTarget,
		CheckReassigned: j.CheckReassigned,
	}
	var errs []error
	for name, s := range j.Windows {
		w, err := ParseWindow(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("window %s: %w", name, err))
			continue
		}
		if out.Windows == nil {
			out.Windows = map[Purpose]Window{}
		}
		out.Windows[Purpose(name)] = w
	}
	for code, c := range j.Caps {
		d, err := ParseDuration(c.Period)
		if err != nil {
			errs = append(errs, fmt.Errorf("cap %s period: %w", code, err))
			continue
		}
		if out.Caps == nil {
			out.Caps = map[string]Cap{}
		}
		out.Caps[code] = Cap{Max: c.Max, Period: d}
	}
	var err error
	if j.NationalMaxAge != "" {
		if out.NationalMaxAge, err = ParseDuration(j.NationalMaxAge); err != nil {
			errs = append(errs, fmt.Errorf("national_max_age: %w", err))
		}
	}
	if j.MinRing != "" {
		if out.MinRing, err = ParseDuration(j.MinRing); err != nil {
			errs = append(errs, fmt.Errorf("min_ring: %w", err))
		}
	}
	if out.RevocationScope, err = ParseRevocationScope(j.RevocationScope); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("firm policy: %w", err)
	}
	*p = out
	return nil
}

// ParseRevocationScope reads "all" or "purpose"; "" is the zero scope,
// which keeps heed's default (all). Other values are errors wrapping
// ErrInvalidPolicy.
func ParseRevocationScope(s string) (RevocationScope, error) {
	switch strings.TrimSpace(s) {
	case "":
		return 0, nil
	case "all":
		return RevokeAll, nil
	case "purpose":
		return RevokePurpose, nil
	}
	return 0, fmt.Errorf("revocation scope %q: want all or purpose: %w", s, ErrInvalidPolicy)
}

// ParseWindow reads a window written "HH:MM-HH:MM" (an en dash or "to" may
// stand for the hyphen; the end may be 24:00). Errors wrap ErrInvalidPolicy.
func ParseWindow(s string) (Window, error) {
	t := strings.TrimSpace(s)
	var a, b string
	var ok bool
	for _, sep := range []string{"–", "—", " to ", "-"} {
		if a, b, ok = strings.Cut(t, sep); ok {
			break
		}
	}
	if !ok {
		return Window{}, fmt.Errorf("window %q: want HH:MM-HH:MM: %w", s, ErrInvalidPolicy)
	}
	start, err1 := parseClock(a)
	end, err2 := parseClock(b)
	w := Window{Start: start, End: end}
	if err1 != nil || err2 != nil || !w.valid() {
		return Window{}, fmt.Errorf("window %q: want HH:MM-HH:MM, the start before the end: %w", s, ErrInvalidPolicy)
	}
	return w, nil
}

func parseClock(s string) (time.Duration, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(m) != 2 || len(h) < 1 || len(h) > 2 {
		return 0, fmt.Errorf("clock %q: want HH:MM: %w", s, ErrInvalidPolicy)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("clock %q: want HH:MM: %w", s, ErrInvalidPolicy)
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}

// ParseDuration reads whole days ("7d") or a Go duration ("36h", "25s").
// Errors wrap ErrInvalidPolicy.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(t, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100000 {
			return 0, fmt.Errorf("duration %q: want whole days such as 7d: %w", s, ErrInvalidPolicy)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want days (7d) or a duration (36h, 25s): %w", s, ErrInvalidPolicy)
	}
	return d, nil
}

// FormatDuration writes d as ParseDuration reads it: whole days as "7d",
// anything else as a Go duration.
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d != 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}

func sortedCodes(m map[string]Cap) []string {
	out := make([]string, 0, len(m))
	for c := range m {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// PolicyFloors are the limits a firm policy may tighten but not loosen,
// computed from the law packs, for showing beside each setting.
type PolicyFloors struct {
	// Windows holds, for each purpose, the narrowest window the floors allow
	// and the codes of the rules that set it.
	Windows map[Purpose]FloorWindow
	// Caps lists the capped rules a firm may tighten, by code.
	Caps []FloorCap
	// NationalMaxAge is the oldest the national registry copy may be (F8).
	NationalMaxAge time.Duration
	// AbandonTarget is heed's default abandonment target (H2), and
	// AbandonFloor the legal ceiling (F10).
	AbandonTarget, AbandonFloor float64
	// MinRing is heed's default least ring time (H3), and MinRingFloor the
	// legal one (F10).
	MinRing, MinRingFloor time.Duration
}

// FloorWindow is the floor window of one purpose.
type FloorWindow struct {
	// Window is the intersection of the floor windows that apply.
	Window Window
	// Rules are the codes of the rules that apply ("H1", "F6").
	Rules []string
}

// FloorCap is the floor of one capped rule. When several packs have a rule
// with the code, Cap is the strictest (least Max, longest Period).
type FloorCap struct {
	// Rule is the rule's code, and Title its title.
	Rule, Title string
	// Cap is the floor cap.
	Cap Cap
}

// Floors returns the floors that Validate holds a policy to, for the law
// packs law (nil means DefaultPacks).
func Floors(law []*Pack) PolicyFloors {
	if law == nil {
		law = DefaultPacks()
	}
	f := PolicyFloors{
		Windows:       map[Purpose]FloorWindow{},
		AbandonTarget: heedAbandonTarget, MinRing: heedMinRing,
	}
	limits := []Rule{{Code: "H1", Purposes: []Purpose{PurposeInformational}, Window: &heedInformationalWindow}}
	for _, pk := range law {
		for _, r := range pk.Rules {
			if r.Kind == Floor && r.Window != nil && !r.InState {
				limits = append(limits, r)
			}
		}
	}
	for _, pu := range Purposes() {
		fw := FloorWindow{Window: Window{Start: 0, End: 24 * time.Hour}}
		for i := range limits {
			r := &limits[i]
			if !r.appliesTo(pu) {
				continue
			}
			fw.Window.Start = max(fw.Window.Start, r.Window.Start)
			fw.Window.End = min(fw.Window.End, r.Window.End)
			fw.Rules = append(fw.Rules, r.Code)
		}
		f.Windows[pu] = fw
	}
	caps := map[string]*FloorCap{}
	for _, pk := range law {
		for _, r := range pk.Rules {
			if r.Kind != Floor || r.Cap == nil {
				continue
			}
			fc, ok := caps[r.Code]
			if !ok {
				caps[r.Code] = &FloorCap{Rule: r.Code, Title: r.Title, Cap: Cap{Max: r.Cap.Max, Period: r.Cap.Period}}
				continue
			}
			fc.Cap.Max = min(fc.Cap.Max, r.Cap.Max)
			fc.Cap.Period = max(fc.Cap.Period, r.Cap.Period)
		}
	}
	for _, fc := range caps {
		f.Caps = append(f.Caps, *fc)
	}
	sort.Slice(f.Caps, func(i, j int) bool { return f.Caps[i].Rule < f.Caps[j].Rule })
	for _, r := range findRules(law, "F8") {
		if r.Kind == Floor && r.SnapshotMaxAge > 0 && (f.NationalMaxAge == 0 || r.SnapshotMaxAge < f.NationalMaxAge) {
			f.NationalMaxAge = r.SnapshotMaxAge
		}
	}
	f.AbandonFloor = math.Inf(1)
	for _, r := range findRules(law, "F10") {
		if r.Dialing == nil {
			continue
		}
		if r.Dialing.MaxAbandonRate > 0 {
			f.AbandonFloor = min(f.AbandonFloor, r.Dialing.MaxAbandonRate)
		}
		f.MinRingFloor = max(f.MinRingFloor, r.Dialing.MinRing)
	}
	if math.IsInf(f.AbandonFloor, 1) {
		f.AbandonFloor = 0
	}
	return f
}
