// Package audit verifies heed's hash-chained audit log. PostgreSQL triggers
// write the log in the same transaction as each consent, do-not-call, user
// and campaign change; Verify recomputes every hash and finds the first row
// that was changed, removed or inserted out of turn.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrTampered reports an audit log whose hash chain does not hold.
var ErrTampered = errors.New("audit log has been tampered with")

// genesis is the previous hash of the first row.
var genesis = strings.Repeat("0", 64)

// Report says what Verify checked.
type Report struct {
	// Rows is the number of rows checked.
	Rows int
	// Head is the hash of the last row: write it down somewhere else, and a
	// rewrite of the whole chain shows too (Holds).
	Head string
	// First and Last are the times of the first and last rows.
	First, Last time.Time
	// hashes are the rows' positions in the chain (from 1) by hash, for
	// Holds.
	hashes map[string]int
}

// Holds returns an error wrapping ErrTampered unless the chain Verify
// checked still holds the row whose hash is head: a head written down
// after an earlier check, so that a chain rewritten, or cut back to before
// that row, shows. It returns the row's position in the chain, from 1.
func (r *Report) Holds(head string) (int, error) {
	pos, ok := r.hashes[strings.ToLower(strings.TrimSpace(head))]
	if !ok {
		return 0, fmt.Errorf("no row has hash %s: the chain was rewritten or cut back since that head was written down: %w", head, ErrTampered)
	}
	return pos, nil
}

// Head is the chain's latest row: logged where the database cannot reach
// it (heed serve logs it every hour), it is a head `heed audit verify
// --head` can check later (Report.Holds).
type Head struct {
	// Seq is the row's position in the log (0: the log is empty).
	Seq int64
	// Hash is the row's hash (the genesis hash, all zeros, when the log is
	// empty).
	Hash string
}

// LatestHead reads the chain's latest row, without verifying the chain:
// one indexed read.
func LatestHead(ctx context.Context, db *pgxpool.Pool) (Head, error) {
	var h Head
	err := db.QueryRow(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&h.Seq, &h.Hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return Head{Hash: genesis}, nil
	}
	if err != nil {
		return Head{}, fmt.Errorf("audit: read the chain's head: %w", err)
	}
	return h, nil
}

// Verify recomputes the whole chain. It returns an error wrapping
// ErrTampered that names the first row that does not hold: one whose
// previous hash is not the hash of the row before it, whose content does
// not match its hash, or which is dated before the row before it.
func Verify(ctx context.Context, db *pgxpool.Pool) (Report, error) {
	rep := Report{hashes: map[string]int{}}
	rows, err := db.Query(ctx, `SELECT seq, at, tbl, op, row_id, details::text, prev_hash, hash FROM audit_log ORDER BY seq`)
	if err != nil {
		return rep, fmt.Errorf("audit: read: %w", err)
	}
	defer rows.Close()
	prev := genesis
	for rows.Next() {
		var (
			seq, rowID                       int64
			at                               time.Time
			tbl, op, details, prevHash, hash string
		)
		if err := rows.Scan(&seq, &at, &tbl, &op, &rowID, &details, &prevHash, &hash); err != nil {
			return rep, fmt.Errorf("audit: read: %w", err)
		}
		if prevHash != prev {
			return rep, fmt.Errorf("row %d: its previous hash does not match row before it (a row was removed or inserted): %w", seq, ErrTampered)
		}
		sum := sha256.Sum256([]byte(strings.Join([]string{
			prev, strconv.FormatInt(seq, 10), strconv.FormatInt(at.UnixMicro(), 10), tbl, op, strconv.FormatInt(rowID, 10), details,
		}, "|")))
		if got := hex.EncodeToString(sum[:]); got != hash {
			return rep, fmt.Errorf("row %d (%s %s %d at %s): content does not match its hash: %w", seq, op, tbl, rowID, at.UTC().Format(time.RFC3339), ErrTampered)
		}
		// The trigger dates each row by the database's clock once it holds
		// the log's lock, which it keeps until its transaction ends, and
		// takes the row's seq under that lock too: each row is dated at or
		// after the one before it.
		if rep.Rows > 0 && at.Before(rep.Last) {
			return rep, fmt.Errorf("row %d (%s %s %d at %s) is dated before the row before it (%s): a row was inserted out of turn or back-dated, "+
				"or the database server's clock was set back: %w", seq, op, tbl, rowID, at.UTC().Format(time.RFC3339Nano), rep.Last.UTC().Format(time.RFC3339Nano), ErrTampered)
		}
		if rep.Rows == 0 {
			rep.First = at
		}
		rep.Rows++
		rep.Last = at
		rep.hashes[hash] = rep.Rows
		prev = hash
	}
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("audit: read: %w", err)
	}
	rep.Head = prev
	return rep, nil
}
