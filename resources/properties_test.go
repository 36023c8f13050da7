package resources

import (
	"testing"

	"pgregory.net/rapid"
)

func TestPropertySubtractAfterAddIsIdentity(t *testing.T) {
	// With disjoint ranges and sets (scalars and indivisible resources may
	// collide freely), (a + b) - b == a.
	rapid.Check(t, func(t *rapid.T) {
		a := genResources(uniA, false).Draw(t, "a")
		b := genResources(uniB, false).Draw(t, "b")
		ac, bc := a.Clone(), b.Clone()
		sum := a.Add(b)
		checkNormalized(t, sum)
		got := sum.Subtract(b)
		checkNormalized(t, got)
		mustEqual(t, got, a, "(a+b)-b with a=%v b=%v", a, b)
		unchanged(t, ac, a, "Add/Subtract")
		unchanged(t, bc, b, "Add/Subtract")

		// The in-place forms agree.
		ip := a.Clone()
		ip.AddInPlace(b)
		mustEqual(t, ip, sum, "AddInPlace")
		ip.SubtractInPlace(b)
		mustEqual(t, ip, a, "SubtractInPlace")
	})
}

func TestPropertySubtractAfterAddOverlapping(t *testing.T) {
	// In general (a + b) - b == a - b for ranges and sets, and contains a - b.
	rapid.Check(t, func(t *rapid.T) {
		a := genResources(uniAll, false).Draw(t, "a")
		b := genResources(uniAll, false).Draw(t, "b")
		got := a.Add(b).Subtract(b)
		checkNormalized(t, got)
		if !got.Contains(a.Subtract(b)) {
			t.Fatalf("(a+b)-b = %v does not contain a-b = %v", got, a.Subtract(b))
		}
		if !a.Contains(got) {
			t.Fatalf("a = %v does not contain (a+b)-b = %v", a, got)
		}
	})
}

func TestPropertyContains(t *testing.T) {
	// a.Contains(b) iff (a - b) + b == a.
	rapid.Check(t, func(t *rapid.T) {
		a := genResources(uniAll, false).Draw(t, "a")
		var b Resources
		if rapid.Bool().Draw(t, "subset") {
			b = genSubset(t, a)
			if !a.Contains(b) {
				t.Fatalf("a = %v does not contain its part b = %v", a, b)
			}
		} else {
			b = genResources(uniAll, false).Draw(t, "b")
		}
		ac, bc := a.Clone(), b.Clone()
		contains := a.Contains(b)
		restored := a.Subtract(b).Add(b)
		checkNormalized(t, restored)
		if contains != restored.Equal(a) {
			t.Fatalf("Contains = %v but (a-b)+b == a is %v\n a = %v\n b = %v\n (a-b)+b = %v",
				contains, !contains, a, b, restored)
		}
		if !a.Add(b).Contains(a) || !a.Add(b).Contains(b) {
			t.Fatalf("a+b must contain a and b")
		}
		if !a.Contains(a.Subtract(b)) {
			t.Fatalf("a must contain a-b")
		}
		if !a.Contains(nil) || !a.Contains(a) {
			t.Fatalf("a must contain nothing and itself")
		}
		unchanged(t, ac, a, "Contains/Subtract")
		unchanged(t, bc, b, "Contains/Subtract")
	})
}

func TestPropertyAddCommutativeAssociative(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := genResources(uniAll, false).Draw(t, "a")
		b := genResources(uniAll, false).Draw(t, "b")
		c := genResources(uniAll, false).Draw(t, "c")
		mustEqual(t, a.Add(b), b.Add(a), "a+b vs b+a")
		mustEqual(t, a.Add(b).Add(c), a.Add(b.Add(c)), "(a+b)+c vs a+(b+c)")
		mustEqual(t, a.Add(nil), a, "a+0")
	})
}

func TestPropertyEqualIgnoresOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := genResources(uniAll, false).Draw(t, "a")
		p := rapid.Permutation(a).Draw(t, "perm")
		if !a.Equal(p) || !p.Equal(a) {
			t.Fatalf("%v and its permutation %v differ", a, p)
		}
		if a.Equal(p.Clone()) != true {
			t.Fatal("clone differs")
		}
	})
}

func TestPropertyStringRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := genResources(uniAll, true).Draw(t, "a")
		got, err := Parse(a.String())
		if err != nil {
			t.Fatalf("Parse(%q): %v", a.String(), err)
		}
		mustEqual(t, got, a, "Parse(%q)", a.String())
	})
}

func TestPropertyProtoRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := genResources(uniAll, false).Draw(t, "a")
		got, err := FromProto(ToProto(a))
		if err != nil {
			t.Fatalf("FromProto(ToProto(%v)): %v", a, err)
		}
		mustEqual(t, got, a, "proto round trip")
	})
}

// Every format reads back to what was written (pre-refinement only for
// resources without a refined reservation, and failing for the others).
func TestPropertyProtoFormatRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := genResources(uniAll, false).Draw(t, "a")
		f := rapid.SampledFrom([]Format{EndpointFormat, PostRefinementFormat, PreRefinementFormat}).Draw(t, "format")
		refined := false
		for i := range a {
			refined = refined || len(a[i].Reservations) > 1
		}
		pbs, err := ToProtoFormat(a, f)
		if f == PreRefinementFormat && refined {
			if err == nil {
				t.Fatalf("ToProtoFormat(%v, %s) wrote a refined reservation", a, f)
			}
			return
		}
		if err != nil {
			t.Fatalf("ToProtoFormat(%v, %s): %v", a, f, err)
		}
		for _, pb := range pbs {
			if f == PostRefinementFormat && (pb.Role != nil || pb.Reservation != nil) {
				t.Fatalf("%s wrote role or reservation: %v", f, pb)
			}
			if f == PreRefinementFormat && (pb.Role == nil || len(pb.Reservations) > 0) {
				t.Fatalf("%s wrote no role, or reservations: %v", f, pb)
			}
		}
		got, err := FromProto(pbs)
		if err != nil {
			t.Fatalf("FromProto(ToProtoFormat(%v, %s)): %v", a, f, err)
		}
		mustEqual(t, got, a, "%s round trip", f)
	})
}

func TestPropertyFlattenAndAllocation(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := genResources(uniAll, false).Draw(t, "a")
		ac := a.Clone()
		for _, rs := range []Resources{a.Flatten("*"), a.Flatten("web"), a.AllocatedTo("web"), a.Unallocated(), a.ToUnreserved()} {
			checkNormalized(t, rs)
		}
		// Quantities are kept by every relabelling.
		q := a.ToScalarQuantities()
		for _, rs := range []Resources{a.Flatten("*"), a.Flatten("web"), a.AllocatedTo("web"), a.Unallocated()} {
			got := rs.ToScalarQuantities()
			if len(got) != len(q) {
				t.Fatalf("quantities changed: %v vs %v", got, q)
			}
			for k, v := range q {
				if got[k] != v {
					t.Fatalf("quantity %s changed: %v vs %v", k, got[k], v)
				}
			}
		}
		for _, r := range a.Flatten("web") {
			if r.ReservationRole() != "web" {
				t.Fatalf("Flatten(web) left %v", &r)
			}
		}
		if !a.Reserved("").Add(a.Unreserved()).Equal(a) {
			t.Fatalf("reserved + unreserved != all")
		}
		if !a.AllocatedTo("x").Unallocated().Equal(a.Unallocated()) {
			t.Fatalf("AllocatedTo then Unallocated")
		}
		unchanged(t, ac, a, "relabelling")
	})
}

// model is a reference implementation of Ranges over a bitmap of a small
// universe [0, 256).
type model [256]bool

func toModel(r Ranges) (m model) {
	for _, x := range r {
		for v := x.Begin; v <= x.End; v++ {
			m[v] = true
		}
	}
	return m
}

func genModelRanges(t *rapid.T, label string) Ranges {
	n := rapid.IntRange(0, 6).Draw(t, label+"#n")
	var rs []Range
	for range n {
		b := rapid.Uint64Range(0, 255).Draw(t, label+"#b")
		e := rapid.Uint64Range(b, min(b+40, 255)).Draw(t, label+"#e")
		rs = append(rs, Range{b, e})
	}
	return NewRanges(rs...)
}

func TestPropertyRangesAgainstModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := genModelRanges(t, "a")
		b := genModelRanges(t, "b")
		ma, mb := toModel(a), toModel(b)
		ac, bc := append(Ranges(nil), a...), append(Ranges(nil), b...)

		u, d, i := a.Union(b), a.Difference(b), a.Intersect(b)
		for name, r := range map[string]Ranges{"union": u, "difference": d, "intersect": i} {
			if !r.IsNormalized() {
				t.Fatalf("%s %v is not normalized", name, r)
			}
		}
		mu, md, mi := toModel(u), toModel(d), toModel(i)
		var count uint64
		contains := true
		for v := range 256 {
			if mu[v] != (ma[v] || mb[v]) || md[v] != (ma[v] && !mb[v]) || mi[v] != (ma[v] && mb[v]) {
				t.Fatalf("value %d: a=%v b=%v union=%v diff=%v inter=%v", v, a, b, u, d, i)
			}
			if a.ContainsValue(uint64(v)) != ma[v] {
				t.Fatalf("ContainsValue(%d) on %v", v, a)
			}
			if ma[v] {
				count++
			}
			if mb[v] && !ma[v] {
				contains = false
			}
		}
		if a.Count() != count {
			t.Fatalf("Count(%v) = %d, want %d", a, a.Count(), count)
		}
		if a.Contains(b) != contains {
			t.Fatalf("%v.Contains(%v) = %v", a, b, !contains)
		}
		// Invariants.
		if !u.Difference(b).Equal(d) || !d.Union(i).Equal(a) || !u.Contains(a) || !a.Contains(d) {
			t.Fatalf("invariants fail for a=%v b=%v", a, b)
		}
		if !a.Equal(ac) || !b.Equal(bc) {
			t.Fatalf("inputs modified")
		}
		// Parse round trip.
		p, err := ParseRanges(a.String())
		if err != nil || !p.Equal(a) {
			t.Fatalf("ParseRanges(%q) = %v, %v", a.String(), p, err)
		}
	})
}

func TestPropertySetAgainstModel(t *testing.T) {
	items := []string{"a", "b", "c", "d", "e", "f"}
	rapid.Check(t, func(t *rapid.T) {
		a := NewSet(rapid.SliceOf(rapid.SampledFrom(items)).Draw(t, "a")...)
		b := NewSet(rapid.SliceOf(rapid.SampledFrom(items)).Draw(t, "b")...)
		u, d := a.Union(b), a.Difference(b)
		if !u.IsNormalized() || !d.IsNormalized() {
			t.Fatalf("not normalized: %v %v", u, d)
		}
		contains := true
		for _, it := range items {
			if u.Has(it) != (a.Has(it) || b.Has(it)) || d.Has(it) != (a.Has(it) && !b.Has(it)) {
				t.Fatalf("item %s: a=%v b=%v u=%v d=%v", it, a, b, u, d)
			}
			if b.Has(it) && !a.Has(it) {
				contains = false
			}
		}
		if a.Contains(b) != contains {
			t.Fatalf("%v.Contains(%v)", a, b)
		}
	})
}

func TestPropertyScalarFloatRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := Scalar(rapid.Int64Range(-1<<50, 1<<50).Draw(t, "s"))
		if got := ScalarFromFloat(s.Float64()); got != s {
			t.Fatalf("ScalarFromFloat(%v.Float64()) = %v", s, got)
		}
		p, err := ParseScalar(s.String())
		if s >= 0 && (err != nil || p != s) {
			t.Fatalf("ParseScalar(%q) = %v, %v", s.String(), p, err)
		}
	})
}
