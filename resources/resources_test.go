package resources

import (
	"slices"
	"testing"
)

func TestScalar(t *testing.T) {
	if ScalarFromFloat(0.1)+ScalarFromFloat(0.2) != ScalarFromFloat(0.3) {
		t.Fatal("0.1 + 0.2 != 0.3")
	}
	if 0.1+0.2 == 0.3 {
		t.Log("float64 agrees too")
	}
	sum := MustParse("cpus:0.1").Add(MustParse("cpus:0.2"))
	mustEqual(t, sum, MustParse("cpus:0.3"), "cpus 0.1+0.2")
	if got := sum.CPUs().Float64(); got != 0.3 {
		t.Fatalf("CPUs().Float64() = %v", got)
	}
	tests := []struct {
		f    float64
		want Scalar
		str  string
	}{
		{0, 0, "0"},
		{1, 1000, "1"},
		{0.1, 100, "0.1"},
		{1024.5, 1024500, "1024.5"},
		{0.0004, 0, "0"},
		{0.0005, 1, "0.001"},
		{-0.0005, -1, "-0.001"},
		{2.0049, 2005, "2.005"},
		{1.23456, 1235, "1.235"},
		{-2.5, -2500, "-2.5"},
		{1e30, MaxScalar, "9223372036854775.807"},
	}
	for _, tt := range tests {
		got := ScalarFromFloat(tt.f)
		if got != tt.want || got.String() != tt.str {
			t.Errorf("ScalarFromFloat(%v) = %d %q, want %d %q", tt.f, got, got, tt.want, tt.str)
		}
	}
	if ScalarFromInt(3) != 3*ScalarUnit {
		t.Error("ScalarFromInt")
	}
}

func TestArithmetic(t *testing.T) {
	mp := MustParse
	tests := []struct {
		a, b           string
		sum, diff      string
		aContainsB     bool
		bContainsA     bool
		diffIsEmptyish bool
	}{
		{"cpus:1;mem:10", "cpus:2", "cpus:3;mem:10", "mem:10", false, false, false},
		{"cpus:2;mem:10", "cpus:1.5;mem:10", "cpus:3.5;mem:20", "cpus:0.5", true, false, false},
		{"cpus:1", "cpus:1", "cpus:2", "", true, true, true},
		{"cpus:1", "", "cpus:1", "cpus:1", true, false, false},
		{"cpus:1", "mem:1", "cpus:1;mem:1", "cpus:1", false, false, false},
		{"cpus(a):1", "cpus:1", "cpus(a):1;cpus:1", "cpus(a):1", false, false, false},
		{"cpus(a):1;cpus:2", "cpus(a):0.5", "cpus(a):1.5;cpus:2", "cpus(a):0.5;cpus:2", true, false, false},
		{"ports:[1-10]", "ports:[5-20]", "ports:[1-20]", "ports:[1-4]", false, false, false},
		{"ports:[1-10]", "ports:[3-4,6-7]", "ports:[1-10]", "ports:[1-2,5-5,8-10]", true, false, false},
		{"ports:[1-10]", "ports:[11-12]", "ports:[1-12]", "ports:[1-10]", false, false, false},
		{"ports:[1-10]", "ports:[1-10]", "ports:[1-10]", "", true, true, true},
		{"zones:{a,b}", "zones:{b,c}", "zones:{a,b,c}", "zones:{a}", false, false, false},
		{"zones:{a,b}", "zones:{b}", "zones:{a,b}", "zones:{a}", true, false, false},
		{"cpus:24;mem:4096;disk:4096;ports:[31000-32000]", "cpus:16;mem:2014;disk:1024;ports:[31000-31000]",
			"cpus:40;mem:6110;disk:5120;ports:[31000-32000]", "cpus:8;mem:2082;disk:3072;ports:[31001-32000]", true, false, false},
	}
	for _, tt := range tests {
		a, b := mp(tt.a), mp(tt.b)
		ac, bc := a.Clone(), b.Clone()
		sum, diff := a.Add(b), a.Subtract(b)
		checkNormalized(t, sum)
		checkNormalized(t, diff)
		mustEqual(t, sum, mp(tt.sum), "%q + %q", tt.a, tt.b)
		mustEqual(t, diff, mp(tt.diff), "%q - %q", tt.a, tt.b)
		if a.Contains(b) != tt.aContainsB || b.Contains(a) != tt.bContainsA {
			t.Errorf("%q contains %q = %v, reverse = %v", tt.a, tt.b, a.Contains(b), b.Contains(a))
		}
		if diff.IsEmpty() != tt.diffIsEmptyish {
			t.Errorf("(%q - %q).IsEmpty() = %v", tt.a, tt.b, diff.IsEmpty())
		}
		unchanged(t, ac, a, "arithmetic")
		unchanged(t, bc, b, "arithmetic")
	}
}

func TestSubtractNeverBelowZero(t *testing.T) {
	a := MustParse("cpus:1;mem:10;ports:[1-5]")
	got := a.Subtract(MustParse("cpus:5;mem:3;ports:[0-100];disk:7"))
	mustEqual(t, got, MustParse("mem:7"), "oversubtract")
	if got.CPUs() != 0 || got.Disk() != 0 {
		t.Fatalf("got %v", got)
	}
	// Subtracting from nothing is nothing.
	if got := Resources(nil).Subtract(a); !got.IsEmpty() {
		t.Fatalf("nil - a = %v", got)
	}
}

func TestIndivisibleResources(t *testing.T) {
	pv := func(id string, size Scalar, shared bool) Resource {
		return Resource{Name: "disk", Type: TypeScalar, Scalar: size, Reservations: static("db"),
			Disk: &DiskInfo{PersistenceID: id}, Shared: shared}
	}
	mount := Resource{Name: "disk", Type: TypeScalar, Scalar: 5000, Disk: &DiskInfo{Source: &DiskSource{Type: DiskSourceMount, Root: "/mnt/a"}}}
	raw := Resource{Name: "disk", Type: TypeScalar, Scalar: 5000, Disk: &DiskInfo{Source: &DiskSource{Type: DiskSourceRaw}}}
	path := Resource{Name: "disk", Type: TypeScalar, Scalar: 5000, Disk: &DiskInfo{Source: &DiskSource{Type: DiskSourcePath, Root: "/p"}}}

	for _, r := range []Resource{pv("v1", 1000, false), pv("v1", 1000, true), mount} {
		rs := New(r, r)
		if len(rs) != 2 {
			t.Errorf("%v added twice gave %d entries, want 2", &r, len(rs))
		}
		half := r
		half.Scalar /= 2
		if rs.ContainsResource(half) {
			t.Errorf("%v: part of an indivisible resource is contained", &r)
		}
		if got := rs.SubtractResource(half); !got.Equal(rs) {
			t.Errorf("%v: subtracting a part changed it: %v", &r, got)
		}
		if !rs.Contains(New(r, r)) || rs.Contains(New(r, r, r)) {
			t.Errorf("%v: multiset containment is wrong", &r)
		}
		if got := rs.SubtractResource(r); len(got) != 1 || !got[0].Equal(&r) {
			t.Errorf("%v: subtract one copy gave %v", &r, got)
		}
	}
	for _, r := range []Resource{raw, path} {
		if rs := New(r, r); len(rs) != 1 || rs[0].Scalar != 10000 {
			t.Errorf("%v should merge: %v", &r, rs)
		}
	}
	// Same persistence id, different size: distinct atoms.
	rs := New(pv("v1", 1000, false), pv("v1", 2000, false))
	if len(rs) != 2 || rs.Disk() != 3000 {
		t.Fatalf("got %v", rs)
	}
	if !rs.PersistentVolumes().Equal(rs) || !rs.Shared().IsEmpty() {
		t.Fatalf("filters wrong")
	}
	// Shared counts: two copies of a shared volume are offered to two
	// frameworks; recovering one leaves one.
	s := pv("v2", 1000, true)
	total := New(s)
	alloc := New(s).Add(New(s))
	if got := alloc.SubtractResource(s); !got.Equal(total) {
		t.Fatalf("shared: %v", got)
	}
	if mount.String() != "disk[MOUNT:/mnt/a]:5" || pv("v1", 1000, true).String() != "disk(db)[v1]<SHARED>:1" {
		t.Errorf("strings: %q %q", mount.String(), pv("v1", 1000, true).String())
	}
}

func TestEqual(t *testing.T) {
	a := MustParse("cpus:1;mem:2;ports:[1-3]")
	b := MustParse("ports:[1-3];mem:2;cpus:1")
	if !a.Equal(b) {
		t.Fatal("order matters")
	}
	for _, other := range []string{"cpus:1;mem:2", "cpus:1;mem:2;ports:[1-4]", "cpus:1;mem:2;ports:[1-3];disk:1", "cpus(a):1;mem:2;ports:[1-3]"} {
		if a.Equal(MustParse(other)) {
			t.Errorf("%v equals %v", a, other)
		}
	}
	if !Resources(nil).Equal(Resources{}) {
		t.Error("nil != empty")
	}
}

func TestReservationsAndAllocation(t *testing.T) {
	rs := MustParse("cpus:8;cpus(prod):4;mem(prod):1024;mem(dev):512;ports:[1-10]")
	dyn := Reservation{Type: ReservationDynamic, Role: "prod/web", Principal: "alice"}
	refined := rs.Reserved("prod").PushReservation(dyn)
	all := rs.Add(refined)

	if got := rs.Reserved("prod"); !got.Equal(MustParse("cpus(prod):4;mem(prod):1024")) {
		t.Errorf("Reserved(prod) = %v", got)
	}
	if got := rs.Reserved(""); !got.Equal(MustParse("cpus(prod):4;mem(prod):1024;mem(dev):512")) {
		t.Errorf("Reserved() = %v", got)
	}
	if got := rs.Unreserved(); !got.Equal(MustParse("cpus:8;ports:[1-10]")) {
		t.Errorf("Unreserved = %v", got)
	}
	if got := all.ReservedToRoleSubtree("prod"); !got.Equal(rs.Reserved("prod").Add(refined)) {
		t.Errorf("ReservedToRoleSubtree = %v", got)
	}
	if got := all.AllocatableTo("prod/web"); !got.Equal(rs.Unreserved().Add(rs.Reserved("prod")).Add(refined)) {
		t.Errorf("AllocatableTo(prod/web) = %v", got)
	}
	if got := all.AllocatableTo("dev"); !got.Equal(MustParse("cpus:8;ports:[1-10];mem(dev):512")) {
		t.Errorf("AllocatableTo(dev) = %v", got)
	}
	if got := refined.PopReservation(); !got.Equal(rs.Reserved("prod")) {
		t.Errorf("PopReservation = %v", got)
	}
	if r := refined[0]; r.ReservationRole() != "prod/web" || !r.IsDynamicallyReserved() || r.Validate() != nil {
		t.Errorf("refined resource %v: role %q, err %v", &r, r.ReservationRole(), r.Validate())
	}
	if refined[0].String() != "cpus(reservations: [(STATIC,prod), (DYNAMIC,prod/web,alice)]):4" {
		t.Errorf("String = %q", refined[0].String())
	}
	if (&rs[0]).ReservationRole() != "*" {
		t.Error("unreserved role")
	}
	groups := rs.Reservations()
	if len(groups) != 2 || !groups["dev"].Equal(MustParse("mem(dev):512")) {
		t.Errorf("Reservations() = %v", groups)
	}

	// Flatten and ToUnreserved merge what becomes identical.
	if got := all.ToUnreserved(); !got.Equal(MustParse("cpus:16;mem:2560;ports:[1-10]")) || len(got) != 3 {
		t.Errorf("ToUnreserved = %v", got)
	}
	if got := all.Flatten("x"); !got.Equal(MustParse("cpus(x):16;mem(x):2560;ports(x):[1-10]")) {
		t.Errorf("Flatten(x) = %v", got)
	}

	// Allocation.
	a := rs.AllocatedTo("prod")
	for _, r := range a {
		if r.AllocationRole != "prod" {
			t.Fatalf("AllocatedTo: %v", &r)
		}
	}
	if a.Equal(rs) || !a.Unallocated().Equal(rs) {
		t.Errorf("allocation round trip")
	}
	if a[0].String() != "cpus(allocated: prod):8" {
		t.Errorf("String = %q", a[0].String())
	}
	mixed := MustParse("cpus:1").AllocatedTo("a").Add(MustParse("cpus:2").AllocatedTo("b"))
	if len(mixed) != 2 {
		t.Fatalf("different allocation roles merged: %v", mixed)
	}
	if got := mixed.Unallocated(); len(got) != 1 || got.CPUs() != 3000 {
		t.Errorf("Unallocated did not merge: %v", got)
	}
	if got := mixed.AllocatedTo("b"); len(got) != 1 || got[0].AllocationRole != "b" {
		t.Errorf("AllocatedTo(b) did not merge: %v", got)
	}
	if got := mixed.Allocations(); !got["a"].Equal(MustParse("cpus:1").AllocatedTo("a")) {
		t.Errorf("Allocations = %v", got)
	}
}

func TestQuantitiesAndHelpers(t *testing.T) {
	rs := MustParse("cpus:2;cpus(a):1.5;mem:1024;gpus:1;ports:[1-10];ports(a):[20-30];zones:{x};zones(a):{y}")
	q := rs.ToScalarQuantities()
	if len(q) != 3 || q["cpus"] != 3500 || q["mem"] != 1024000 || q["gpus"] != 1000 {
		t.Errorf("ToScalarQuantities = %v", q)
	}
	if rs.CPUs() != 3500 || rs.Mem() != 1024000 || rs.GPUs() != 1000 || rs.Disk() != 0 {
		t.Error("quantity helpers")
	}
	if got := rs.Ports(); !got.Equal(Ranges{{1, 10}, {20, 30}}) || got.Count() != 21 || !got.ContainsValue(25) || got.ContainsValue(15) {
		t.Errorf("Ports = %v", got)
	}
	if got := rs.SetOf("zones"); !got.Equal(Set{"x", "y"}) {
		t.Errorf("SetOf = %v", got)
	}
	if got := rs.Names(); !slices.Equal(got, []string{"cpus", "gpus", "mem", "ports", "zones"}) {
		t.Errorf("Names = %v", got)
	}
	if got := rs.Get("cpus"); !got.Equal(MustParse("cpus:2;cpus(a):1.5")) {
		t.Errorf("Get = %v", got)
	}
	if got := rs.Scalars(); !got.Equal(MustParse("cpus:2;cpus(a):1.5;mem:1024;gpus:1")) {
		t.Errorf("Scalars = %v", got)
	}
	if rs.Filter(func(*Resource) bool { return false }) != nil {
		t.Error("empty filter should be nil")
	}
	rev := MustParse("cpus:1").remap(func(r *Resource) { r.Revocable = true })
	both := rs.Add(rev)
	if !both.Revocable().Equal(rev) || !both.NonRevocable().Equal(rs) || both.CPUs() != 4500 {
		t.Errorf("revocable filters: %v", both)
	}
	if rev.String() != "cpus{REV}:1" {
		t.Errorf("String = %q", rev.String())
	}
}

func TestInPlaceDoesNotLeakIntoOthers(t *testing.T) {
	a := MustParse("cpus:1;ports:[1-10]")
	b := a.Clone()
	c := a.Add(nil) // fresh outer slice sharing the ranges
	c.SubtractInPlace(MustParse("ports:[5-5];cpus:0.5"))
	c.AddInPlace(MustParse("ports:[20-20]"))
	unchanged(t, b, a, "in-place on a derived value")
	mustEqual(t, c, MustParse("cpus:0.5;ports:[1-4,6-10,20-20]"), "in place")
}

func TestNewDropsEmptyAndInvalid(t *testing.T) {
	rs := New(
		ScalarResource("cpus", 0),
		ScalarResource("cpus", -5),
		Resource{Name: "x", Type: TypeText},
		Resource{Name: "ports", Type: TypeRanges, Ranges: Ranges{{10, 12}, {1, 3}, {4, 5}}},
		Resource{Name: "s", Type: TypeSet, Set: Set{"b", "a", "b"}},
		Resource{Name: "mem", Type: TypeScalar, Scalar: 5, Ranges: Ranges{{1, 2}}},
	)
	checkNormalized(t, rs)
	if rs.String() != "ports:[1-5,10-12];s:{a,b};mem:0.005" {
		t.Fatalf("New = %q", rs.String())
	}
	if rs[2].Ranges != nil {
		t.Error("stray value fields kept")
	}
}

func TestValidate(t *testing.T) {
	pv := &DiskInfo{PersistenceID: "v"}
	tests := []struct {
		r   Resource
		err string
	}{
		{ScalarResource("cpus", 1), ""},
		{Resource{Type: TypeScalar}, "empty resource name"},
		{ScalarResource("cpus", -1), "scalar value must not be negative"},
		{Resource{Name: "p", Type: TypeRanges, Ranges: Ranges{{2, 1}}}, "range 2-1 has begin > end"},
		{Resource{Name: "s", Type: TypeSet, Set: Set{"a", "a"}}, `set has duplicate item "a"`},
		{Resource{Name: "t", Type: TypeText}, "unsupported resource type TEXT"},
		{Resource{Name: "cpus", Reservations: []Reservation{{Role: "a"}}}, "reservation type must be STATIC or DYNAMIC, not UNKNOWN"},
		{Resource{Name: "cpus", Reservations: []Reservation{{Type: ReservationStatic, Role: "a"}, {Type: ReservationStatic, Role: "a/b"}}}, "invalid refined reservation: a refined reservation cannot be STATIC"},
		{Resource{Name: "cpus", AllocationRole: "a b"}, `invalid allocation role: role "a b" contains whitespace or DEL`},
		{Resource{Name: "cpus", Disk: pv}, `disk information is not allowed on resource "cpus"`},
		{Resource{Name: "disk", Shared: true}, "only persistent volumes can be shared"},
		{Resource{Name: "disk", Shared: true, Disk: pv}, ""},
		{Resource{Name: "disk", Disk: &DiskInfo{Source: &DiskSource{Type: DiskSourceBlock, Root: "/x"}}}, "BLOCK disk source must not have a path or mount root"},
		{Resource{Name: "disk", Disk: &DiskInfo{Source: &DiskSource{}}}, "unsupported disk source type UNKNOWN"},
	}
	for _, tt := range tests {
		err := tt.r.Validate()
		if (err == nil) != (tt.err == "") || (err != nil && err.Error() != tt.err) {
			t.Errorf("Validate(%v) = %v, want %q", &tt.r, err, tt.err)
		}
	}
}

func TestRoles(t *testing.T) {
	for _, ok := range []string{"*", "a", "a/b", "a.b", "a-b", "a/b/c", "_x"} {
		if err := ValidateRole(ok); err != nil {
			t.Errorf("ValidateRole(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "-a", "a/-b", "/a", "a/", "a//b", "a/./b", "*/a", "a b", "a\tb", "a\x7f"} {
		if ValidateRole(bad) == nil {
			t.Errorf("ValidateRole(%q) accepted", bad)
		}
	}
	if !IsStrictSubroleOf("a/b", "a") || !IsStrictSubroleOf("a/b/c", "a") || IsStrictSubroleOf("a", "a") ||
		IsStrictSubroleOf("ab", "a") || IsStrictSubroleOf("a", "a/b") {
		t.Error("IsStrictSubroleOf")
	}
}

func TestLabels(t *testing.T) {
	ls := []Label{{"z", "1"}, {"a", `q"uote`}, {"m", ""}}
	enc := EncodeLabels(ls)
	if enc != `"a":"q\"uote","m":"","z":"1"` {
		t.Fatalf("EncodeLabels = %s", enc)
	}
	if EncodeLabels([]Label{ls[2], ls[0], ls[1]}) != enc {
		t.Fatal("label order matters")
	}
	dec, err := DecodeLabels(enc)
	if err != nil || len(dec) != 3 || dec[0] != (Label{"a", `q"uote`}) {
		t.Fatalf("DecodeLabels = %v, %v", dec, err)
	}
	for _, bad := range []string{`"a"`, `"a":`, `"a":"b""c":"d"`, `a:b`} {
		if _, err := DecodeLabels(bad); err == nil {
			t.Errorf("DecodeLabels(%s) accepted", bad)
		}
	}
}
