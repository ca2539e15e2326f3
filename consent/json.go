package consent

import (
	"encoding/json"
	"fmt"
	"time"
)

// decisionJSON is the stable JSON form of a Decision:
//
//	{"decision":"allow|deny|defer","until":"RFC3339 or null","reasons":["code",...],"pack":"version","consent_id":123 or null}
type decisionJSON struct {
	Decision  Verdict  `json:"decision"`
	Until     *string  `json:"until"`
	Reasons   []Reason `json:"reasons"`
	Pack      string   `json:"pack"`
	ConsentID *int64   `json:"consent_id"`
}

// MarshalJSON writes the decision in its stable JSON form. until is an
// RFC 3339 UTC time for a defer and null otherwise; reasons is never null;
// consent_id is null when the decision relied on no consent.
func (d Decision) MarshalJSON() ([]byte, error) {
	j := decisionJSON{Decision: d.Verdict, Reasons: d.Reasons, Pack: d.Pack}
	if j.Reasons == nil {
		j.Reasons = []Reason{}
	}
	if d.Verdict == Defer && !d.Until.IsZero() {
		s := d.Until.UTC().Format(time.RFC3339)
		j.Until = &s
	}
	if d.ConsentID != 0 {
		id := d.ConsentID
		j.ConsentID = &id
	}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("marshal decision: %w", err)
	}
	return b, nil
}

// UnmarshalJSON reads a decision written by MarshalJSON.
func (d *Decision) UnmarshalJSON(b []byte) error {
	var j decisionJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("unmarshal decision: %w", err)
	}
	switch j.Decision {
	case Allow, Deny, Defer:
	default:
		return fmt.Errorf("unmarshal decision: verdict %q: want allow, deny or defer", j.Decision)
	}
	*d = Decision{Verdict: j.Decision, Pack: j.Pack}
	if len(j.Reasons) > 0 {
		d.Reasons = j.Reasons
	}
	if j.Until != nil {
		t, err := time.Parse(time.RFC3339, *j.Until)
		if err != nil {
			return fmt.Errorf("unmarshal decision: until: %w", err)
		}
		d.Until = t.UTC()
	}
	if j.ConsentID != nil {
		d.ConsentID = *j.ConsentID
	}
	return nil
}
