package allocator

import (
	"strings"
	"testing"
	"time"

	"github.com/gomesos/gomesos/resources"
)

func TestOfferConstraintsAllows(t *testing.T) {
	attrs, err := resources.ParseAttributes("rack:r1;gpu:{a,b};os:ubuntu-22")
	if err != nil {
		t.Fatal(err)
	}
	ag := &Agent{Hostname: "node-7.dc1", Attributes: attrs, Region: "eu", Zone: ""}
	c := func(pseudo Pseudoattribute, name string, kind PredicateKind, v string) AttributeConstraint {
		return AttributeConstraint{Pseudo: pseudo, Name: name, Kind: kind, Value: v}
	}
	cases := []struct {
		name string
		c    AttributeConstraint
		want bool
	}{
		{"exists", c(0, "rack", Exists, ""), true},
		{"exists absent", c(0, "disk", Exists, ""), false},
		{"not_exists absent", c(0, "disk", NotExists, ""), true},
		{"text_equals", c(0, "rack", TextEquals, "r1"), true},
		{"text_equals other", c(0, "rack", TextEquals, "r2"), false},
		{"text_equals absent", c(0, "disk", TextEquals, "x"), false},
		{"text_not_equals absent", c(0, "disk", TextNotEquals, "x"), true},
		{"text_not_equals", c(0, "rack", TextNotEquals, "r1"), false},
		{"text on non-TEXT", c(0, "gpu", TextEquals, "nothing"), true},
		{"matches whole value", c(0, "os", TextMatches, "ubuntu-[0-9]+"), true},
		{"matches is anchored", c(0, "os", TextMatches, "ubuntu"), false},
		{"not_matches", c(0, "os", TextNotMatches, "debian.*"), true},
		{"not_matches absent", c(0, "disk", TextNotMatches, ".*"), true},
		{"hostname", c(PseudoHostname, "", TextMatches, `node-\d+\.dc1`), true},
		{"region", c(PseudoRegion, "", TextEquals, "eu"), true},
		{"zone absent", c(PseudoZone, "", Exists, ""), false},
	}
	for _, tc := range cases {
		oc, err := NewOfferConstraints(map[string][][]AttributeConstraint{"eng": {{tc.c}}})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := oc.Allows("eng", ag); got != tc.want {
			t.Errorf("%s: Allows = %v, want %v", tc.name, got, tc.want)
		}
		if !oc.Allows("ops", ag) {
			t.Errorf("%s: a role without constraints is restricted", tc.name)
		}
	}
	// Groups are ORed, the constraints of a group ANDed.
	oc, err := NewOfferConstraints(map[string][][]AttributeConstraint{"eng": {
		{c(0, "rack", TextEquals, "r2"), c(0, "os", Exists, "")},
		{c(0, "rack", TextEquals, "r1"), c(0, "os", NotExists, "")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if oc.Allows("eng", ag) {
		t.Error("an agent failing one constraint of each group is allowed")
	}
	oc, _ = NewOfferConstraints(map[string][][]AttributeConstraint{"eng": {
		{c(0, "rack", TextEquals, "r2")},
		{c(0, "rack", TextEquals, "r1"), c(0, "os", Exists, "")},
	}})
	if !oc.Allows("eng", ag) {
		t.Error("an agent satisfying the second group is ruled out")
	}
	var none *OfferConstraints
	if !none.Allows("eng", ag) {
		t.Error("nil constraints rule an agent out")
	}
}

func TestOfferConstraintsInvalid(t *testing.T) {
	for _, tc := range []struct {
		c    AttributeConstraint
		want string
	}{
		{AttributeConstraint{Name: "os", Kind: TextMatches, Value: "("}, "invalid regex '('"},
		{AttributeConstraint{Name: "os", Kind: TextMatches, Value: strings.Repeat("a", 200)}, "too complex"},
		{AttributeConstraint{Kind: Exists}, "names no attribute"},
		{AttributeConstraint{Name: "os"}, "predicate is not set"},
	} {
		_, err := NewOfferConstraints(map[string][][]AttributeConstraint{"eng": {{tc.c}}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one containing %q", tc.c, err, tc.want)
		}
	}
}

// The allocator offers a constrained role only agents that satisfy its
// constraints; replacing the constraints lets the other agents in.
func TestAllocateHonoursOfferConstraints(t *testing.T) {
	a := New(Options{})
	now := time.Unix(1000, 0)
	r1, _ := resources.ParseAttributes("rack:r1")
	r2, _ := resources.ParseAttributes("rack:r2")
	a.AddAgent("a1", Agent{Hostname: "h1", Attributes: r1}, resources.MustParse("cpus:1;mem:128"), nil)
	a.AddAgent("a2", Agent{Hostname: "h2", Attributes: r2}, resources.MustParse("cpus:1;mem:128"), nil)
	oc, err := NewOfferConstraints(map[string][][]AttributeConstraint{"eng": {{{Name: "rack", Kind: TextEquals, Value: "r1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	a.AddFramework("f1", Framework{Roles: []string{"eng"}, OfferConstraints: oc}, nil)
	got := a.Allocate(now)
	if len(got) != 1 || got[0].AgentID != "a1" {
		t.Fatalf("allocations %+v, want a1 alone", got)
	}
	if more := a.Allocate(now.Add(time.Second)); len(more) != 0 {
		t.Fatalf("a2 offered against the constraint: %+v", more)
	}
	a.UpdateFramework("f1", Framework{Roles: []string{"eng"}})
	if more := a.Allocate(now.Add(2 * time.Second)); len(more) != 1 || more[0].AgentID != "a2" {
		t.Fatalf("after dropping the constraints: %+v, want a2", more)
	}
}

// BenchmarkOfferConstraintsAllows is the cost the allocator pays per
// (framework, role, agent) candidate with constraints: two groups, a text
// equality and an anchored regex on the hostname.
func BenchmarkOfferConstraintsAllows(b *testing.B) {
	attrs, _ := resources.ParseAttributes("rack:r7;os:ubuntu-22;zone:a")
	ag := &Agent{Hostname: "node-123.dc1", Attributes: attrs}
	oc, err := NewOfferConstraints(map[string][][]AttributeConstraint{"eng": {
		{{Name: "rack", Kind: TextEquals, Value: "r1"}},
		{{Name: "os", Kind: Exists}, {Pseudo: PseudoHostname, Kind: TextMatches, Value: `node-\d+\.dc1`}},
	}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !oc.Allows("eng", ag) {
			b.Fatal("ruled out")
		}
	}
}
