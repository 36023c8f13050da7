package resources

import (
	"fmt"
	"reflect"

	"pgregory.net/rapid"
)

// Generators for property tests. The identity space is small so that merges,
// collisions and indivisible duplicates happen often.

// universe selects disjoint value spaces for ranges and sets, so that tests
// can build resources whose values cannot overlap.
type universe struct {
	rangeLo, rangeHi uint64
	items            []string
}

var (
	uniA = universe{0, 199, []string{"a", "b", "c", "d"}}
	uniB = universe{1000, 1199, []string{"e", "f", "g", "h"}}
	// uniAll is used where overlaps are wanted; it includes the top of the
	// uint64 space to exercise overflow edges.
	uniAll = universe{0, 199, []string{"a", "b", "c", "d", "e"}}
)

var reservationStacks = [][]Reservation{
	nil,
	{{Type: ReservationStatic, Role: "prod"}},
	{{Type: ReservationDynamic, Role: "prod", Principal: "ops"}},
	{{Type: ReservationStatic, Role: "prod"}, {Type: ReservationDynamic, Role: "prod/web", Labels: EncodeLabels([]Label{{"k", "v"}})}},
}

func genRanges(t *rapid.T, u universe, label string) Ranges {
	n := rapid.IntRange(0, 4).Draw(t, label+"#n")
	rs := make([]Range, n)
	for i := range rs {
		b := rapid.Uint64Range(u.rangeLo, u.rangeHi).Draw(t, label+"#b")
		l := rapid.Uint64Range(0, 20).Draw(t, label+"#l")
		rs[i] = Range{b, min(b+l, u.rangeHi)}
	}
	if u.rangeLo == 0 && rapid.IntRange(0, 9).Draw(t, label+"#top") == 0 {
		top := ^uint64(0)
		rs = append(rs, Range{top - rapid.Uint64Range(0, 3).Draw(t, label+"#tl"), top})
	}
	return NewRanges(rs...)
}

func genSet(t *rapid.T, u universe, label string) Set {
	var items []string
	for _, it := range u.items {
		if rapid.Bool().Draw(t, label+"#"+it) {
			items = append(items, it)
		}
	}
	return NewSet(items...)
}

// genResource draws a valid, non-empty resource. When parseable is set it
// only has properties the --resources text form expresses.
func genResource(t *rapid.T, u universe, parseable bool) Resource {
	kind := rapid.SampledFrom([]string{"cpus", "mem", "ports", "zones", "disk", "pv", "mount"}).Draw(t, "kind")
	if parseable && (kind == "pv" || kind == "mount") {
		kind = "disk"
	}
	var r Resource
	switch kind {
	case "cpus", "mem", "disk", "pv", "mount":
		r.Name, r.Type = kind, TypeScalar
		r.Scalar = Scalar(rapid.Int64Range(1, 10000).Draw(t, "scalar"))
	case "ports":
		r.Name, r.Type = "ports", TypeRanges
		for len(r.Ranges) == 0 {
			r.Ranges = genRanges(t, u, "ports")
		}
	case "zones":
		r.Name, r.Type = "zones", TypeSet
		for len(r.Set) == 0 {
			r.Set = genSet(t, u, "zones")
		}
	}
	switch kind {
	case "pv":
		r.Name = "disk"
		r.Disk = &DiskInfo{PersistenceID: rapid.SampledFrom([]string{"v1", "v2"}).Draw(t, "pvid")}
		r.Scalar = Scalar(rapid.Int64Range(1, 3).Draw(t, "pvsize") * 1000)
		r.Shared = rapid.Bool().Draw(t, "shared")
	case "mount":
		r.Name = "disk"
		r.Disk = &DiskInfo{Source: &DiskSource{Type: DiskSourceMount, Root: "/mnt/" + rapid.SampledFrom([]string{"a", "b"}).Draw(t, "mnt")}}
		r.Scalar = Scalar(rapid.Int64Range(1, 3).Draw(t, "mntsize") * 1000)
	}
	if parseable {
		if rapid.Bool().Draw(t, "reserved") {
			r.Reservations = reservationStacks[1]
		}
		return r
	}
	r.Reservations = rapid.SampledFrom(reservationStacks).Draw(t, "reservations")
	r.AllocationRole = rapid.SampledFrom([]string{"", "", "prod", "*"}).Draw(t, "alloc")
	if r.Disk == nil {
		r.Revocable = rapid.IntRange(0, 4).Draw(t, "rev") == 0
	}
	return r
}

func genResources(u universe, parseable bool) *rapid.Generator[Resources] {
	return rapid.Custom(func(t *rapid.T) Resources {
		n := rapid.IntRange(0, 8).Draw(t, "len")
		var rs []Resource
		for range n {
			rs = append(rs, genResource(t, u, parseable))
		}
		return New(rs...)
	})
}

// genSubset draws resources that rs contains.
func genSubset(t *rapid.T, rs Resources) Resources {
	var out []Resource
	for _, r := range rs {
		if !rapid.Bool().Draw(t, "take") {
			continue
		}
		c := r.Clone()
		if c.mergeable() {
			switch c.Type {
			case TypeScalar:
				c.Scalar = Scalar(rapid.Int64Range(1, int64(c.Scalar)).Draw(t, "part"))
			case TypeRanges:
				x := c.Ranges[rapid.IntRange(0, len(c.Ranges)-1).Draw(t, "ri")]
				b := rapid.Uint64Range(x.Begin, x.End).Draw(t, "rb")
				e := rapid.Uint64Range(b, x.End).Draw(t, "re")
				c.Ranges = Ranges{{b, e}}
			case TypeSet:
				c.Set = Set{c.Set[rapid.IntRange(0, len(c.Set)-1).Draw(t, "si")]}
			}
		}
		out = append(out, c)
	}
	return New(out...)
}

// tb is what the checks need from *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// checkNormalized fails unless rs satisfies the package invariants.
func checkNormalized(t tb, rs Resources) {
	t.Helper()
	for i := range rs {
		r := &rs[i]
		if r.IsEmpty() {
			t.Fatalf("entry %d (%v) is empty in %v", i, r, rs)
		}
		if !r.Ranges.IsNormalized() || !r.Set.IsNormalized() {
			t.Fatalf("entry %d (%v) is not normalized", i, r)
		}
		if !r.mergeable() {
			continue
		}
		for j := i + 1; j < len(rs); j++ {
			if sameIdentity(r, &rs[j]) {
				t.Fatalf("entries %d and %d have the same identity in %v", i, j, rs)
			}
		}
	}
}

// mustEqual fails unless a and b hold the same resources.
func mustEqual(t tb, got, want Resources, format string, args ...any) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s:\n got  %v\n want %v", fmt.Sprintf(format, args...), got, want)
	}
}

// unchanged fails if an operation modified its input.
func unchanged(t tb, before, after Resources, what string) {
	t.Helper()
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("%s modified its input:\n before %v\n after  %v", what, before, after)
	}
}
