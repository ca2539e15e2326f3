package migrations_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/dbtest"
)

// TestAMDBounds runs migration 00043's statement again on campaigns saved
// before the AMD settings were bounded for rule F10: an after-greeting
// silence over campaign.MaxAfterGreetingSilence and a minimum word length
// over campaign.MaxMinWordLength become those maxima, whatever the
// campaign's status; the other settings, and the campaigns within the
// bounds, are left as they were. heed makes the change, and the audit log
// has it.
func TestAMDBounds(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	list := one(t, db, `INSERT INTO contact_lists (name) VALUES ('Docket') RETURNING id`)
	user := one(t, db, `INSERT INTO users (email, password_hash, role) VALUES ('pat@firm.test', 'x', 'paralegal') RETURNING id`)
	campaignWith := func(status, amd string) int64 {
		return one(t, db, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status, amd, updated_by, updated_at)
			VALUES ('c', 'informational', $1, 'Hello', '+18605550100', $2, $3, $4, '2026-01-01T00:00:00Z') RETURNING id`, list, status, amd, user)
	}
	silence := campaignWith("running", `{"after_greeting_silence_ms": 5000, "total_analysis_time_ms": 10000, "initial_silence_ms": 10000}`)
	words := campaignWith("draft", `{"min_word_length_ms": 1000, "greeting_ms": 1200}`)
	both := campaignWith("completed", `{"after_greeting_silence_ms": 1501, "min_word_length_ms": 201}`)
	within := campaignWith("paused", `{"after_greeting_silence_ms": 1500, "min_word_length_ms": 200}`)
	none := campaignWith("running", `{}`)
	audited := func(id int64) int64 {
		return one(t, db, `SELECT count(*) FROM audit_log WHERE tbl = 'campaigns' AND row_id = $1`, id)
	}
	before := map[int64]int64{}
	for _, id := range []int64{silence, words, both, within, none} {
		before[id] = audited(id)
	}

	exec(t, db, upStatement(t, "sql/00043_amd_f10_bounds.sql"))

	amd := func(id int64) dialer.AMDSettings {
		var raw []byte
		require.NoError(t, db.QueryRow(ctx, `SELECT amd FROM campaigns WHERE id = $1`, id).Scan(&raw))
		var a dialer.AMDSettings
		require.NoError(t, json.Unmarshal(raw, &a))
		return a
	}
	require.Equal(t, dialer.AMDSettings{AfterGreetingSilence: campaign.MaxAfterGreetingSilence, TotalAnalysisTime: 10000, InitialSilence: 10000}, amd(silence))
	require.Equal(t, dialer.AMDSettings{MinWordLength: campaign.MaxMinWordLength, Greeting: 1200}, amd(words))
	require.Equal(t, dialer.AMDSettings{AfterGreetingSilence: campaign.MaxAfterGreetingSilence, MinWordLength: campaign.MaxMinWordLength}, amd(both))
	require.Equal(t, dialer.AMDSettings{AfterGreetingSilence: 1500, MinWordLength: 200}, amd(within))
	require.Equal(t, dialer.AMDSettings{}, amd(none))
	for _, id := range []int64{silence, words, both} {
		require.Equal(t, before[id]+1, audited(id), "the change is audited")
		require.Zero(t, one(t, db, `SELECT count(*) FROM campaigns WHERE id = $1 AND (updated_by IS NOT NULL OR updated_at < now() - interval '1 hour')`, id),
			"heed changed it, now")
		require.Equal(t, int64(1), one(t, db, `SELECT count(*) FROM audit_log WHERE tbl = 'campaigns' AND row_id = $1 AND op = 'update'
			AND details->'updated_by' = 'null'::jsonb AND details->'amd' = (SELECT amd FROM campaigns WHERE id = $1)`, id), "the audit log has the change, by no one")
	}
	for _, id := range []int64{within, none} {
		require.Equal(t, before[id], audited(id), "left as it was")
		require.Equal(t, user, one(t, db, `SELECT updated_by FROM campaigns WHERE id = $1`, id))
	}
}
