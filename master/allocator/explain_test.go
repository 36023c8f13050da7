package allocator

import (
	"slices"
	"testing"
	"time"

	"github.com/gomesos/gomesos/resources"
)

// Explain copies out what bears on a framework's offers: its filters (not
// the expired ones), the agents its constraints rule out or that are too
// small for its minimum, its share against its role's other frameworks
// and its role's weight and share against the sibling roles.
func TestExplain(t *testing.T) {
	a := New(Options{})
	now := time.Unix(1000, 0)
	a.UpdateWeights(map[string]float64{"eng": 3})
	r1, _ := resources.ParseAttributes("rack:r1")
	a.AddAgent("big", Agent{Hostname: "h1", Attributes: r1}, resources.MustParse("cpus:4;mem:4096"), nil)
	a.AddAgent("small", Agent{Hostname: "h2"}, resources.MustParse("cpus:1;mem:256"), nil)
	a.AddAgent("other", Agent{Hostname: "h3"}, resources.MustParse("cpus:2;mem:1024"), nil)
	a.AddFramework("rich", Framework{Roles: []string{"eng"}}, map[string]resources.Resources{
		"big": resources.MustParse("cpus:2;mem:2048").AllocatedTo("eng"),
	})
	oc, err := NewOfferConstraints(map[string][][]AttributeConstraint{"eng": {{{Name: "rack", Kind: Exists}}}})
	if err != nil {
		t.Fatal(err)
	}
	a.AddFramework("poor", Framework{
		Roles: []string{"eng", "ops"}, SuppressedRoles: []string{"ops"}, OfferConstraints: oc,
		MinAllocatable: map[string][]map[string]resources.Scalar{"ops": {{"cpus": resources.ScalarFromInt(2)}}},
	}, nil)
	a.AddFramework("ops-fw", Framework{Roles: []string{"ops"}}, nil)

	// poor is offered big (its constraints allow nothing else) and
	// declines it for an hour; a short filter expires unseen.
	// (The others decline what they are offered for a day.)
	var got []Allocation
	for i := 0; i < 5 && len(got) == 0; i++ {
		for _, al := range a.Allocate(now) {
			if al.FrameworkID == "poor" {
				got = append(got, al)
			} else {
				a.RecoverResources(al.FrameworkID, al.AgentID, al.Resources, 24*time.Hour, now)
			}
		}
	}
	if len(got) != 1 || got[0].AgentID != "big" {
		t.Fatalf("poor's allocations %+v, want one of big", got)
	}
	a.RecoverResources("poor", "big", got[0].Resources, time.Hour, now)

	ex, ok := a.Explain("poor", now.Add(time.Minute))
	if !ok {
		t.Fatal("poor unknown")
	}
	if _, ok := a.Explain("nobody", now); ok {
		t.Error("an unknown framework explained")
	}
	if len(ex.Roles) != 2 || ex.Roles[0].Role != "eng" || ex.Roles[1].Role != "ops" {
		t.Fatalf("roles %+v", ex.Roles)
	}
	eng, ops := ex.Roles[0], ex.Roles[1]
	if len(eng.Filters) != 1 || eng.Filters[0].AgentID != "big" || !eng.Filters[0].Expires.Equal(now.Add(time.Hour)) {
		t.Errorf("eng filters %+v, want one on big until now+1h", eng.Filters)
	}
	if !slices.Equal(eng.ConstrainedOut, []string{"other", "small"}) {
		t.Errorf("eng ruled out %v, want [other small]", eng.ConstrainedOut)
	}
	if len(ops.Filters) != 0 || len(ops.ConstrainedOut) != 0 || !ops.Suppressed || ops.Offerable {
		t.Errorf("ops %+v, want suppressed, no filters, no constraints", ops)
	}
	if len(ops.TooSmall) != 1 || ops.TooSmall[0].AgentID != "small" || ops.TooSmall[0].Free["cpus"] != 1 {
		t.Errorf("ops too small %+v, want small with 1 cpu free", ops.TooSmall)
	}
	if len(eng.Frameworks) != 2 || eng.Frameworks[0].FrameworkID != "poor" || eng.Frameworks[1].FrameworkID != "rich" || eng.Frameworks[1].Share <= 0 {
		t.Errorf("eng frameworks %+v, want poor (0) before rich", eng.Frameworks)
	}
	if eng.Weight != 3 || len(eng.SiblingRoles) != 2 {
		t.Errorf("eng weight %v, siblings %+v", eng.Weight, eng.SiblingRoles)
	}

	// Past its expiry the filter is not shown.
	ex, _ = a.Explain("poor", now.Add(2*time.Hour))
	if len(ex.Roles[0].Filters) != 0 {
		t.Errorf("expired filter shown: %+v", ex.Roles[0].Filters)
	}
	// The copy is the caller's: changing it leaves the allocator alone.
	ex.Roles[0].ConstrainedOut[0] = "changed"
	again, _ := a.Explain("poor", now.Add(time.Minute))
	if again.Roles[0].ConstrainedOut[0] != "other" {
		t.Error("Explain shares its slices with a previous answer")
	}
}
