package allocator

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// After any run of key changes, sorted returns what a full sort would,
// whether one key changed (reposition), a few did or many did.
func TestLazySortedMatchesFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	type item struct{ id, key int }
	items := make([]*item, 50)
	var l lazySorted[*item]
	for i := range items {
		items[i] = &item{id: i, key: rng.IntN(5)}
		l.add(items[i])
	}
	byKey := func(x, y *item) int {
		if c := cmp.Compare(x.key, y.key); c != 0 {
			return c
		}
		return cmp.Compare(x.id, y.id)
	}
	for round := range 2000 {
		for range []int{1, 1, 1, 2, 5, 20}[rng.IntN(6)] {
			x := items[rng.IntN(len(items))]
			x.key += rng.IntN(7) - 3 // up, down or the same
			l.touch(x)
		}
		got := slices.Clone(l.sorted(byKey))
		want := slices.SortedFunc(slices.Values(items), byKey)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: order differs from a full sort", round)
		}
	}
}
