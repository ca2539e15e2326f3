package dnc

import (
	"fmt"
	"iter"
	"math/bits"
	"strings"
	"time"
)

// ListID names one do-not-call list: the national registry, the firm's
// internal list, the litigator list or one state's list. IDs are small, so a
// set of lists fits in a Hits bitmask.
type ListID uint8

// The lists that are not state lists. State lists have IDs from
// StateList.
const (
	// National is the FTC's National Do Not Call Registry.
	National ListID = iota
	// Internal is the firm's own list, fed by opt-outs.
	Internal
	// Litigator is a list of known TCPA litigators.
	Litigator
	firstState
)

// stateCodes are the postal codes of the states, DC and the territories
// that can have do-not-call lists; state list i has ID firstState+i.
var stateCodes = [...]string{
	"AK", "AL", "AR", "AS", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "GU", "HI",
	"IA", "ID", "IL", "IN", "KS", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MP",
	"MS", "MT", "NC", "ND", "NE", "NH", "NJ", "NM", "NV", "NY", "OH", "OK", "OR", "PA",
	"PR", "RI", "SC", "SD", "TN", "TX", "UT", "VA", "VI", "VT", "WA", "WI", "WV", "WY",
}

// MaxLists is one past the largest ListID.
const MaxLists = int(firstState) + len(stateCodes)

// StateList returns the ID of the list of the state with the given postal
// code ("TX", case-insensitive), or an error wrapping ErrUnknownList.
func StateList(code string) (ListID, error) {
	c := strings.ToUpper(code)
	for i, s := range stateCodes {
		if s == c {
			return firstState + ListID(i), nil
		}
	}
	return 0, fmt.Errorf("state %q: %w", code, ErrUnknownList)
}

// ParseList reads a list name as the CLI writes it: "national", "internal",
// "litigator" or "state:XX". It returns an error wrapping ErrUnknownList
// for anything else.
func ParseList(s string) (ListID, error) {
	switch l := strings.ToLower(strings.TrimSpace(s)); {
	case l == "national":
		return National, nil
	case l == "internal":
		return Internal, nil
	case l == "litigator":
		return Litigator, nil
	case strings.HasPrefix(l, "state:"):
		id, err := StateList(l[len("state:"):])
		if err != nil {
			return 0, fmt.Errorf("list %q: %w", s, err)
		}
		return id, nil
	}
	return 0, fmt.Errorf("list %q: %w", s, ErrUnknownList)
}

// Valid reports whether l names a list.
func (l ListID) Valid() bool { return int(l) < MaxLists }

// State returns the postal code of a state list, or "" for another list.
func (l ListID) State() string {
	if l >= firstState && l.Valid() {
		return stateCodes[l-firstState]
	}
	return ""
}

// String returns the name ParseList reads.
func (l ListID) String() string {
	switch {
	case l == National:
		return "national"
	case l == Internal:
		return "internal"
	case l == Litigator:
		return "litigator"
	case l.Valid():
		return "state:" + l.State()
	}
	return fmt.Sprintf("list(%d)", uint8(l))
}

// Hits is a set of lists, one bit per ListID: the lists that hold a number.
type Hits uint64

// Has reports whether l is in h.
func (h Hits) Has(l ListID) bool { return l < 64 && h>>l&1 != 0 }

// Any reports whether h holds any list.
func (h Hits) Any() bool { return h != 0 }

// Lists returns an iterator over the lists in h, in ID order.
func (h Hits) Lists() iter.Seq[ListID] {
	return func(yield func(ListID) bool) {
		for h != 0 {
			l := ListID(bits.TrailingZeros64(uint64(h)))
			h &= h - 1
			if !yield(l) {
				return
			}
		}
	}
}

// String lists the names in h, comma-separated, or "none".
func (h Hits) String() string {
	if h == 0 {
		return "none"
	}
	var names []string
	for l := range h.Lists() {
		names = append(names, l.String())
	}
	return strings.Join(names, ",")
}

// Meta describes one installed list.
type Meta struct {
	// List is the list's ID.
	List ListID
	// Source says where the data came from, such as the imported file
	// names or "postgres".
	Source string
	// AsOf is the date the source's data is current as of (the registry's
	// download date); zero when unknown.
	AsOf time.Time
	// Updated is when the list was last installed or changed.
	Updated time.Time
	// Count is the number of numbers in the list.
	Count int
	// Version counts the changes installed since the list was first
	// installed; every Replace or Apply adds one.
	Version uint64
	// Seq is the change sequence number the list has reached (the
	// PostgreSQL change sequence for the internal list); 0 when unused.
	Seq uint64
}
