package dialer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/consent"
)

// SkeletonPack names the rules the SQLGate applies, recorded on each attempt.
const SkeletonPack = "heed-skeleton/2026-11-26"

// SQLGate is the walking skeleton's gate: it denies numbers on the internal
// do-not-call list (dnc.internal) and numbers with no current voice consent
// for the campaign's purpose (consent.missing, consent.revoked,
// consent.expired). It reads PostgreSQL on every check and fails closed with
// index.stale when the database cannot answer. The in-memory DNC index and
// the policy engine replace it.
type SQLGate struct {
	DB  *pgxpool.Pool
	Log *slog.Logger
}

var _ Gate = (*SQLGate)(nil)

// Check decides one attempt.
func (g *SQLGate) Check(ctx context.Context, req Request) consent.Decision {
	if _, err := req.Phone.NANP(); err != nil {
		return deny(SkeletonPack, consent.ReasonNumberUnsupported)
	}
	d, err := g.check(ctx, req)
	if err != nil {
		if g.Log != nil {
			g.Log.Error("gate: failing closed", "phone", req.Phone, "err", err)
		}
		return deny(SkeletonPack, consent.ReasonIndexStale)
	}
	return d
}

func (g *SQLGate) check(ctx context.Context, req Request) (consent.Decision, error) {
	var onDNC bool
	err := g.DB.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM dnc_internal WHERE phone = $1 AND removed_at IS NULL)`,
		req.Phone.String()).Scan(&onDNC)
	if err != nil {
		return consent.Decision{}, fmt.Errorf("internal dnc lookup: %w", err)
	}
	if onDNC {
		return deny(SkeletonPack, consent.ReasonDNCInternal), nil
	}
	// The newest voice consent for this scope, and whether a revocation came after it.
	var (
		id               int64
		expired, revoked bool
	)
	err = g.DB.QueryRow(ctx, `
		SELECT c.id,
		       c.expires_at IS NOT NULL AND c.expires_at <= $3,
		       EXISTS (SELECT 1 FROM revocations r WHERE r.phone = c.phone AND r.revoked_at >= c.obtained_at AND r.revoked_at <= $3)
		  FROM consents c
		 WHERE c.phone = $1 AND c.scope = $2 AND c.channel = 'voice' AND c.obtained_at <= $3
		 ORDER BY c.obtained_at DESC, c.id DESC
		 LIMIT 1`, req.Phone.String(), string(req.Purpose), req.At).Scan(&id, &expired, &revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return deny(SkeletonPack, consent.ReasonConsentMissing), nil
	}
	if err != nil {
		return consent.Decision{}, fmt.Errorf("consent lookup: %w", err)
	}
	switch {
	case revoked:
		return consent.Decision{Verdict: consent.Deny, Reasons: []consent.Reason{consent.ReasonConsentRevoked}, Pack: SkeletonPack, ConsentID: id}, nil
	case expired:
		return consent.Decision{Verdict: consent.Deny, Reasons: []consent.Reason{consent.ReasonConsentExpired}, Pack: SkeletonPack, ConsentID: id}, nil
	}
	return consent.Decision{Verdict: consent.Allow, Pack: SkeletonPack, ConsentID: id}, nil
}
