package campaign

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Recover closes the attempts that a stopped process left in flight. The
// campaign's run lease guarantees no other process follows them. Their
// targets are finished, never redialed, so that a crash cannot cause a
// second call for the same attempt; the outcome is recorded as unknown.
func (s *Store) Recover(ctx context.Context, campaignID int64) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			UPDATE attempts SET status = 'ended', outcome = 'unknown', ended_at = now()
			 WHERE campaign_id = $1 AND status IN ('originating', 'ringing', 'answered') RETURNING contact_id`, campaignID)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		n = len(ids)
		_, err = tx.Exec(ctx, `UPDATE campaign_targets SET state = 'done' WHERE campaign_id = $1 AND (state = 'dialing' OR contact_id = ANY($2))`, campaignID, ids)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("recover campaign %d: %w", campaignID, err)
	}
	return n, nil
}
