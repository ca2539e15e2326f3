package dialer

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOnePerPerson(t *testing.T) {
	ids := func(ts []Target) []int64 {
		var out []int64
		for _, t := range ts {
			out = append(out, t.ContactID)
		}
		return out
	}
	none := []Target{{ContactID: 1}, {ContactID: 2}}
	require.Equal(t, []int64{1, 2}, ids(onePerPerson(none)), "without persons the batch is kept whole")

	batch := []Target{
		{ContactID: 1, Person: "A"}, {ContactID: 2}, {ContactID: 3, Person: "B"}, {ContactID: 4, Person: "A"},
		{ContactID: 5}, {ContactID: 6, Person: "B"}, {ContactID: 7, Person: "C"},
	}
	require.Equal(t, []int64{1, 2, 3, 5, 7}, ids(onePerPerson(batch)), "the first of each person, in order")
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6, 7}, ids(batch), "the batch itself is left as it was")
}
