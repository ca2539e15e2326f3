package dnc

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/internal/phone"
)

// InternalEntry is one entry of the firm's internal do-not-call list.
type InternalEntry struct {
	ID      int64     `json:"id"`
	Phone   string    `json:"phone"`
	AddedAt time.Time `json:"added_at"`
	AddedBy *int64    `json:"added_by,omitempty"`
	Method  string    `json:"method"`
	Source  string    `json:"source"`
}

// PGStore keeps the internal do-not-call list in PostgreSQL, its source of
// truth. Entries are never deleted; every entry records who, when, how and
// from where.
type PGStore struct{ db *pgxpool.Pool }

// NewPGStore returns a PGStore on db.
func NewPGStore(db *pgxpool.Pool) *PGStore { return &PGStore{db: db} }

// ListInternal returns the newest entries of the internal list, at most limit.
func (s *PGStore) ListInternal(ctx context.Context, limit int) ([]InternalEntry, error) {
	rows, err := s.db.Query(ctx, `SELECT id, phone, added_at, added_by, method, source FROM dnc_internal
		WHERE removed_at IS NULL ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("internal dnc list: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[InternalEntry])
	if err != nil {
		return nil, fmt.Errorf("internal dnc list: %w", err)
	}
	return out, nil
}

// Listed is a number on the internal list and when its latest entry in
// force was made: a consent given after that may lift the entry for the
// calls it covers (rule F12).
type Listed struct {
	// Number is the number's ten NANP digits.
	Number uint64
	// At is when the number's latest entry in force was made.
	At time.Time
}

// InternalAll reads every number on the internal list, with when its
// latest entry in force was made, and the change sequence the read is
// consistent with, in one repeatable-read transaction. Numbers outside the
// NANP are not indexed (the gate refuses them anyway).
func (s *PGStore) InternalAll(ctx context.Context) ([]Listed, int64, error) {
	var (
		nums []Listed
		seq  int64
	)
	err := pgx.BeginTxFunc(ctx, s.db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM index_changes`).Scan(&seq); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT phone, max(added_at) FROM dnc_internal WHERE removed_at IS NULL GROUP BY phone`)
		if err != nil {
			return err
		}
		var (
			p  string
			at time.Time
		)
		_, err = pgx.ForEachRow(rows, []any{&p, &at}, func() error {
			if n, err := phone.Number(p).NANP(); err == nil {
				nums = append(nums, Listed{Number: n, At: at})
			}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("internal dnc load: %w", err)
	}
	return nums, seq, nil
}

// InternalChanges is the internal list's changes after a position, folded
// to their net effect per number.
type InternalChanges struct {
	// Change holds the numbers added and removed.
	Change
	// AddedAt holds when each added number's latest entry was made:
	// AddedAt[i] is Adds[i]'s.
	AddedAt []time.Time
}

// InternalSince reads the internal list's changes after seq, folded to their
// net effect per number, and the position in the change log (of every
// index) the read is consistent with: every internal-list change up to it
// is in the result (seq itself when nothing was logged since). It is one
// statement, so one snapshot; sequences commit in order, so no change
// below that position can appear later. The log's registry list installs
// (op install) are left out: a caller that moves to the position returned
// loads the registry copies current after this read (Registry.Installed),
// which holds every install logged up to it, before it reports that
// position.
func (s *PGStore) InternalSince(ctx context.Context, seq int64) (InternalChanges, int64, error) {
	rows, err := s.db.Query(ctx, `
		WITH top AS (SELECT coalesce(max(seq), 0) AS seq FROM index_changes)
		SELECT c.seq, c.phone, c.op, d.added_at, top.seq FROM top
		  LEFT JOIN index_changes c ON c.index = 'dnc' AND c.op IN ('add', 'remove') AND c.seq > $1
		  LEFT JOIN dnc_internal d ON d.id = c.ref_id
		 ORDER BY c.seq`, seq)
	if err != nil {
		return InternalChanges{}, seq, fmt.Errorf("internal dnc changes: %w", err)
	}
	type change struct {
		Seq     *int64
		Phone   *string
		Op      *string
		AddedAt *time.Time
		Top     int64
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[change])
	if err != nil {
		return InternalChanges{}, seq, fmt.Errorf("internal dnc changes: %w", err)
	}
	last := seq
	type netChange struct {
		add bool
		at  time.Time
	}
	net := map[uint64]netChange{}
	order := []uint64{}
	for _, c := range list {
		last = max(last, c.Top)
		if c.Seq == nil {
			continue // no internal-list change: the row carries the top alone
		}
		n, err := phone.Number(*c.Phone).NANP()
		if err != nil {
			continue
		}
		old, seen := net[n]
		if !seen {
			order = append(order, n)
		}
		nc := netChange{add: *c.Op == "add"}
		if nc.add && c.AddedAt != nil {
			nc.at = *c.AddedAt
			if old.add && old.at.After(nc.at) {
				nc.at = old.at // the latest entry in force
			}
		}
		net[n] = nc
	}
	var ch InternalChanges
	for _, n := range order {
		if nc := net[n]; nc.add {
			ch.Adds = append(ch.Adds, n)
			ch.AddedAt = append(ch.AddedAt, nc.at)
		} else {
			ch.Dels = append(ch.Dels, n)
		}
	}
	return ch, last, nil
}

// LatestSeq returns the newest change sequence number of any index.
func (s *PGStore) LatestSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.db.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM index_changes`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("latest change: %w", err)
	}
	return seq, nil
}

// ImportInternal applies an import to the internal list in one
// transaction: every added number not already listed gets an entry with the
// given method and source, and a revocation of every purpose, as a staff
// entry of an opt-out records one (an admin lists the number: every
// consent given before is revoked, and one given after lifts the entry for
// what it covers, rule F12); a number already listed gets the revocation
// alone (the file says it is opted out now); every deleted number's
// entries are marked removed, by userID (0: the heed command, recorded as
// no one). It returns how many entries it added and removed.
func (s *PGStore) ImportInternal(ctx context.Context, adds, dels []uint64, userID int64, source string) (added, removed int, err error) {
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT DISTINCT phone FROM dnc_internal WHERE removed_at IS NULL`)
		if err != nil {
			return err
		}
		listed, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		have := make(map[string]bool, len(listed))
		for _, p := range listed {
			have[p] = true
		}
		// The user, or NULL for none (NULLIF does not fit COPY).
		by := any(userID)
		if userID == 0 {
			by = nil
		}
		var src [][]any
		var again []any // numbers listed already, which the file lists again
		seen := make(map[string]bool, len(adds))
		for _, n := range adds {
			p := fmt.Sprintf("+1%010d", n)
			switch {
			case seen[p]:
			case have[p]:
				again = append(again, p)
			default:
				src = append(src, []any{p, by, "import", source})
			}
			seen[p] = true
		}
		if len(src) > 0 {
			n, err := tx.CopyFrom(ctx, pgx.Identifier{"dnc_internal"}, []string{"phone", "added_by", "method", "source"}, pgx.CopyFromRows(src))
			if err != nil {
				return err
			}
			added = int(n)
		}
		// The revocations, dated with the entries (the transaction's
		// time), so that no consent falls between an entry and its
		// revocation. A number listed already gets one too: the file says
		// it is opted out now, and a consent given since its entry, which
		// lifted it for what it covers (rule F12), no longer does.
		if len(src)+len(again) > 0 {
			var now time.Time
			if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
				return err
			}
			revs := make([][]any, 0, len(src)+len(again))
			for _, r := range src {
				revs = append(revs, []any{r[0], now, "staff", "internal list import: " + source, by})
			}
			for _, p := range again {
				revs = append(revs, []any{p, now, "staff", "internal list import, listed already: " + source, by})
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"revocations"}, []string{"phone", "revoked_at", "method", "source", "recorded_by"}, pgx.CopyFromRows(revs)); err != nil {
				return err
			}
		}
		if len(dels) > 0 {
			phones := make([]string, len(dels))
			for i, n := range dels {
				phones[i] = fmt.Sprintf("+1%010d", n)
			}
			tag, err := tx.Exec(ctx, `UPDATE dnc_internal SET removed_at = now(), removed_by = NULLIF($2::bigint, 0)
				WHERE removed_at IS NULL AND phone = ANY($1)`, phones, userID)
			if err != nil {
				return err
			}
			removed = int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("internal dnc import: %w", err)
	}
	return added, removed, nil
}

// InternalEntries returns a number's current entries on the internal list,
// oldest first, for `heed dnc check`.
func (s *PGStore) InternalEntries(ctx context.Context, n phone.Number) ([]InternalEntry, error) {
	rows, err := s.db.Query(ctx, `SELECT id, phone, added_at, added_by, method, source FROM dnc_internal
		WHERE phone = $1 AND removed_at IS NULL ORDER BY added_at`, n.String())
	if err != nil {
		return nil, fmt.Errorf("internal dnc entries: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[InternalEntry])
	if err != nil {
		return nil, fmt.Errorf("internal dnc entries: %w", err)
	}
	return out, nil
}
