package allocator

import (
	"fmt"
	"testing"
	"time"

	"github.com/gomesos/gomesos/resources"
)

func sc(v float64) resources.Scalar { return resources.ScalarFromFloat(v) }

// cpusOf sums the cpus of the allocations to the frameworks named (all
// when none are named).
func cpusOf(out []Allocation, fws ...string) float64 {
	var s resources.Scalar
	for _, o := range out {
		if len(fws) == 0 || containsStr(fws, o.FrameworkID) {
			s += o.Resources.CPUs()
		}
	}
	return s.Float64()
}

func containsStr(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func (h *harness) agents(n int, total string) {
	h.t.Helper()
	for i := range n {
		h.agent(fmt.Sprintf("agent-%d", i), total)
	}
}

func TestAGuaranteeIsMetInOneCycleThoughAnotherRoleCameFirst(t *testing.T) {
	h := newHarness(t, Options{Seed: 1})
	h.agents(4, "cpus:2;mem:1024")
	// The framework of role b is added first and, without quota, would be
	// offered every agent (it is alone in the lowest-share role when the
	// agents are visited, and agents are given whole).
	h.framework("fw-b", "b")
	h.framework("fw-a", "a")
	h.a.UpdateQuota("a", Quota{Guarantees: map[string]resources.Scalar{"cpus": sc(6)}})
	out := h.allocate()
	if got := cpusOf(out, "fw-a"); got < 6 {
		t.Fatalf("role a got %g cpus in the cycle, want its guarantee of 6: %v", got, out)
	}
	if got := cpusOf(out); got != 8 {
		t.Fatalf("%g cpus offered, want all 8 (the rest goes to b): %v", got, out)
	}
}

func TestHeadroomKeepsOtherRolesFromAGuaranteesShare(t *testing.T) {
	h := newHarness(t, Options{Seed: 2})
	h.agents(4, "cpus:2;mem:1024")
	h.a.UpdateQuota("a", Quota{Guarantees: map[string]resources.Scalar{"cpus": sc(4)}})
	h.framework("fw-b", "b")
	// Role a has no framework yet: its guarantee is still held back.
	out := h.allocate()
	if got := cpusOf(out, "fw-b"); got != 4 {
		t.Fatalf("role b got %g cpus, want 4: the other 4 are headroom for a's guarantee: %v", got, out)
	}
	h.framework("fw-a", "a")
	out = h.allocate()
	if got := cpusOf(out, "fw-a"); got != 4 {
		t.Fatalf("role a got %g cpus once it has a framework, want 4: %v", got, out)
	}
}

func TestRemovingAGuaranteeReleasesItsHeadroom(t *testing.T) {
	h := newHarness(t, Options{Seed: 3})
	h.agents(4, "cpus:2;mem:1024")
	h.a.UpdateQuota("a", Quota{Guarantees: map[string]resources.Scalar{"cpus": sc(4)}})
	h.framework("fw-b", "b")
	out := h.allocate()
	if got := cpusOf(out, "fw-b"); got != 4 {
		t.Fatalf("role b got %g cpus, want 4: %v", got, out)
	}
	if out := h.allocate(); len(out) != 0 {
		t.Fatalf("a second cycle offered %v; the headroom is still needed", out)
	}
	h.a.UpdateQuota("a", Quota{})
	out = h.allocate()
	if got := cpusOf(out, "fw-b"); got != 4 {
		t.Fatalf("after the quota went, role b got %g more cpus, want the 4 held back: %v", got, out)
	}
}

func TestALimitHoldsThroughSubRolesUnderPressure(t *testing.T) {
	h := newHarness(t, Options{Seed: 4})
	h.agents(6, "cpus:2;mem:1024")
	h.agent("big", "cpus:8;mem:4096")
	h.a.UpdateQuota("eng", Quota{Limits: map[string]resources.Scalar{"cpus": sc(4)}})
	h.framework("fw-a", "eng/a")
	h.framework("fw-b", "eng/b")
	h.framework("fw-c", "eng/b")
	held := map[string][]Allocation{}
	for cycle := range 20 {
		h.advance(time.Second)
		for _, o := range h.allocate() {
			held[o.FrameworkID] = append(held[o.FrameworkID], o)
			if o.Resources.CPUs() > sc(4) {
				t.Fatalf("cycle %d: an offer of %v cpus, over the limit of 4", cycle, o.Resources.CPUs())
			}
		}
		var total resources.Scalar
		for _, os := range held {
			for _, o := range os {
				total += o.Resources.CPUs()
			}
		}
		if total > sc(4) {
			t.Fatalf("cycle %d: eng's sub-roles hold %v cpus, over eng's limit of 4", cycle, total)
		}
		if cycle == 0 && total != sc(4) {
			t.Fatalf("eng's sub-roles got %v cpus in the first cycle, want up to the limit of 4", total)
		}
		// Pressure: one framework hands back what it holds, and the others
		// want more.
		victim := []string{"fw-a", "fw-b", "fw-c"}[cycle%3]
		for _, o := range held[victim] {
			h.decline(o, 0)
		}
		delete(held, victim)
	}
	h.a.UpdateQuota("eng", Quota{})
	out := h.allocate()
	if got := cpusOf(out); got == 0 {
		t.Fatalf("nothing offered after the limit was removed: %v", out)
	}
}

func TestAGuaranteeOfAParentServesItsSubRoles(t *testing.T) {
	h := newHarness(t, Options{Seed: 5})
	h.agents(4, "cpus:2;mem:1024")
	h.framework("fw-x", "x")
	h.framework("fw-a", "eng/a")
	h.framework("fw-b", "eng/b")
	h.a.UpdateQuota("eng", Quota{Guarantees: map[string]resources.Scalar{"cpus": sc(4)}, Limits: map[string]resources.Scalar{"cpus": sc(4)}})
	h.a.UpdateQuota("eng/b", Quota{Guarantees: map[string]resources.Scalar{"cpus": sc(2)}})
	out := h.allocate()
	if got := cpusOf(out, "fw-a", "fw-b"); got != 4 {
		t.Fatalf("eng's sub-roles got %g cpus, want eng's guarantee of 4: %v", got, out)
	}
	if got := cpusOf(out, "fw-b"); got < 2 {
		t.Fatalf("eng/b got %g cpus, want at least its guarantee of 2: %v", got, out)
	}
	if got := cpusOf(out, "fw-x"); got != 4 {
		t.Fatalf("x got %g cpus, want the 4 left: %v", got, out)
	}
}

func TestReservationsCountTowardsAGuarantee(t *testing.T) {
	h := newHarness(t, Options{Seed: 6})
	h.agent("reserved", "cpus(a):2;mem(a):512")
	h.agents(2, "cpus:2;mem:1024")
	h.a.UpdateQuota("a", Quota{Guarantees: map[string]resources.Scalar{"cpus": sc(2)}})
	h.framework("fw-b", "b")
	// a's unallocated reservation meets its guarantee: nothing is held
	// back from b.
	out := h.allocate()
	if got := cpusOf(out, "fw-b"); got != 4 {
		t.Fatalf("role b got %g cpus, want the 4 unreserved: %v", got, out)
	}
}

func TestAQuotaChangeWakesBlockedAgents(t *testing.T) {
	h := newHarness(t, Options{Seed: 7})
	h.agents(3, "cpus:2;mem:1024")
	h.framework("fw-b", "b")
	h.a.UpdateQuota("b", Quota{Limits: map[string]resources.Scalar{"cpus": sc(2), "mem": sc(1024)}})
	out := h.allocate()
	if got := cpusOf(out); got != 2 {
		t.Fatalf("role b got %g cpus, want its limit of 2: %v", got, out)
	}
	if out := h.allocate(); len(out) != 0 {
		t.Fatalf("a role at its limit was offered %v", out)
	}
	// Raising the limit changes nothing on the agents themselves: the
	// next cycle must still look at them.
	h.a.UpdateQuota("b", Quota{Limits: map[string]resources.Scalar{"cpus": sc(6)}})
	out = h.allocate()
	if got := cpusOf(out); got != 4 {
		t.Fatalf("after the limit was raised role b got %g cpus, want the other 4: %v", got, out)
	}
}

func TestExplainNamesQuotaLimitAndHeadroom(t *testing.T) {
	h := newHarness(t, Options{Seed: 8})
	h.agents(3, "cpus:2;mem:1024")
	h.framework("fw-b", "b")
	h.framework("fw-e", "eng/a")
	h.a.UpdateQuota("a", Quota{Guarantees: map[string]resources.Scalar{"cpus": sc(2)}})
	h.a.UpdateQuota("eng", Quota{Limits: map[string]resources.Scalar{"cpus": sc(1)}})
	h.allocate()

	ex, ok := h.a.Explain("fw-b", h.now)
	if !ok || len(ex.Roles) != 1 {
		t.Fatalf("explain fw-b: %+v %v", ex, ok)
	}
	if got := ex.Roles[0].HeadroomHeld["cpus"]; got != 2 {
		t.Fatalf("headroom held from b: %v cpus, want 2 (a's unmet guarantee): %+v", got, ex.Roles[0])
	}
	if got := ex.Roles[0].HeadroomFor; len(got) != 1 || got[0] != "a" {
		t.Fatalf("headroom held for %v, want [a]", got)
	}

	ex, _ = h.a.Explain("fw-e", h.now)
	re := ex.Roles[0]
	if len(re.AtLimit) != 1 || re.AtLimit[0].Role != "eng" || re.AtLimit[0].Resource != "cpus" || re.AtLimit[0].Limit != 1 || re.AtLimit[0].Consumed != 1 {
		t.Fatalf("eng/a at limit: %+v, want eng's cpus at 1 of 1", re.AtLimit)
	}
	if len(re.Quotas) != 1 || re.Quotas[0].Role != "eng" || re.Quotas[0].Limits["cpus"] != 1 {
		t.Fatalf("quotas bearing on eng/a: %+v", re.Quotas)
	}
}

// Headroom only holds back a quantity: a framework of the guaranteed role
// that can use some agents only must be served before the others take
// those agents, which is why guarantees have a stage of their own.
func TestGuaranteesGoFirstForPickyFrameworks(t *testing.T) {
	for seed := range int64(8) {
		a := New(Options{Seed: seed})
		r1, _ := resources.ParseAttributes("rack:r1")
		r2, _ := resources.ParseAttributes("rack:r2")
		a.AddAgent("a1", Agent{Hostname: "h1", Attributes: r1}, res("cpus:4;mem:1024"), nil)
		a.AddAgent("a2", Agent{Hostname: "h2", Attributes: r2}, res("cpus:4;mem:1024"), nil)
		oc, err := NewOfferConstraints(map[string][][]AttributeConstraint{"z": {{{Name: "rack", Kind: TextEquals, Value: "r1"}}}})
		if err != nil {
			t.Fatal(err)
		}
		a.AddFramework("fw-b", Framework{Roles: []string{"b"}}, nil)
		a.AddFramework("fw-z", Framework{Roles: []string{"z"}, OfferConstraints: oc}, nil)
		a.UpdateQuota("z", Quota{Guarantees: map[string]resources.Scalar{"cpus": sc(4)}})
		out := a.Allocate(t0)
		if got := cpusOf(out, "fw-z"); got != 4 {
			t.Fatalf("seed %d: the picky framework of z got %g cpus, want its guarantee of 4 from rack r1: %v", seed, got, out)
		}
		if err := a.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStatsReportConsumedQuota(t *testing.T) {
	h := newHarness(t, Options{Seed: 9})
	h.agent("reserved", "cpus(eng/a):1;mem(eng/a):256;cpus:1;mem:256")
	h.agent("plain", "cpus:4;mem:1024;ports:[31000-31010]")
	h.framework("fw-a", "eng/b")
	h.a.UpdateQuota("eng", Quota{Limits: map[string]resources.Scalar{"cpus": sc(3)}})
	h.a.UpdateQuota("eng/a", Quota{Guarantees: map[string]resources.Scalar{"cpus": sc(1)}})
	h.allocate()
	s := h.a.Stats()
	// eng/b took 2 unreserved cpus (eng's limit less eng/a's reservation);
	// eng/a's unallocated reservation counts for it and for eng.
	eng, a := s.QuotaConsumed["eng"], s.QuotaConsumed["eng/a"]
	if eng["cpus"] != sc(3) || a["cpus"] != sc(1) || a["mem"] != sc(256) {
		t.Fatalf("consumed quota: eng %v, eng/a %v; want eng cpus:3, eng/a cpus:1;mem:256", eng, a)
	}
	if len(s.QuotaConsumed) != 2 {
		t.Fatalf("consumed reported for %v, want eng and eng/a", s.QuotaConsumed)
	}
}
