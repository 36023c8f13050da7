package allocator

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomesos/gomesos/resources"
)

var t0 = time.Unix(1_700_000_000, 0)

func res(s string) resources.Resources { return resources.MustParse(s) }

// harness is a stand-in for the master: it adds agents and frameworks,
// runs cycles and checks the allocator's bookkeeping after each step.
type harness struct {
	t   *testing.T
	a   *HierarchicalDRF
	now time.Time
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	return &harness{t: t, a: New(opts), now: t0}
}

func (h *harness) agent(id, total string) {
	h.t.Helper()
	h.a.AddAgent(id, Agent{Hostname: id}, res(total), nil)
	h.check()
}

func (h *harness) framework(id string, roles ...string) {
	h.t.Helper()
	h.a.AddFramework(id, Framework{Roles: roles}, nil)
	h.check()
}

func (h *harness) check() {
	h.t.Helper()
	if err := h.a.CheckInvariants(); err != nil {
		h.t.Fatal(err)
	}
}

// allocate runs a cycle at the harness's current time.
func (h *harness) allocate() []Allocation {
	h.t.Helper()
	out := h.a.Allocate(h.now)
	h.check()
	seen := map[string]bool{}
	for _, o := range out {
		key := o.FrameworkID + "|" + o.AgentID + "|" + o.Role
		if seen[key] {
			h.t.Fatalf("two allocations to %s on %s in role %s in one cycle", o.FrameworkID, o.AgentID, o.Role)
		}
		seen[key] = true
		for _, r := range o.Resources {
			if r.AllocationRole != o.Role {
				h.t.Fatalf("allocation %v: resource %v not allocated to %s", o, r, o.Role)
			}
		}
	}
	return out
}

func (h *harness) advance(d time.Duration) { h.now = h.now.Add(d) }

func (h *harness) decline(o Allocation, refuse time.Duration) {
	h.t.Helper()
	h.a.RecoverResources(o.FrameworkID, o.AgentID, o.Resources, refuse, h.now)
	h.check()
}

// expect checks that a cycle's allocations are exactly want, given as
// "framework@agent" (role and resources unchecked).
func expect(t *testing.T, got []Allocation, want ...string) {
	t.Helper()
	var g []string
	for _, o := range got {
		g = append(g, o.FrameworkID+"@"+o.AgentID)
	}
	slices.Sort(g)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(g, want) {
		t.Fatalf("allocations %v, want %v", g, want)
	}
}

func only(t *testing.T, got []Allocation) Allocation {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("got %d allocations %v, want 1", len(got), got)
	}
	return got[0]
}

func sameResources(t *testing.T, got, want resources.Resources) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("resources %v, want %v", got, want)
	}
}

// Each new agent goes whole to the framework of the role with the lowest
// dominant share, and inside the role to the framework with the lowest one.
func TestTwoRolesShareAClusterByDRF(t *testing.T) {
	h := newHarness(t, Options{})

	h.agent("a1", "cpus:2;mem:1024")
	h.framework("f1", "r1")
	o := only(t, h.allocate())
	if o.FrameworkID != "f1" || o.Role != "r1" {
		t.Fatalf("got %+v, want f1 in r1", o)
	}
	sameResources(t, o.Resources, res("cpus:2;mem:1024").AllocatedTo("r1"))

	// r1 holds everything; r2 has nothing, so it gets the next agent.
	h.framework("f2", "r2")
	h.agent("a2", "cpus:1;mem:512")
	expect(t, h.allocate(), "f2@a2")

	// Cluster cpus:6;mem:3584: r1 1/3, r2 1/6, so r2 again.
	h.agent("a3", "cpus:3;mem:2048")
	expect(t, h.allocate(), "f2@a3")

	// Cluster cpus:10;mem:7680: r1 0.2, r2 0.4; inside r1, f3 has nothing.
	h.framework("f3", "r1")
	h.agent("a4", "cpus:4;mem:4096")
	expect(t, h.allocate(), "f3@a4")

	// Cluster cpus:11;mem:8192: r1 0.625, r2 0.364. f4 in r1 has nothing,
	// but roles come first: r2's f2 gets it.
	h.framework("f4", "r1")
	h.agent("a5", "cpus:1;mem:512")
	expect(t, h.allocate(), "f2@a5")

	s := h.a.Stats()
	// r1 holds cpus 6/11 and mem 5120/8192: memory dominates.
	if got, want := s.DominantShares["r1"], 5120.0/8192; got != want {
		t.Errorf("r1 share %v, want %v", got, want)
	}
}

func TestTwoFrameworksInARoleSplitACycleEvenly(t *testing.T) {
	h := newHarness(t, Options{Seed: 7})
	for i := range 10 {
		h.agent(fmt.Sprintf("a%d", i), "cpus:4;mem:4096")
	}
	h.framework("f1", "r")
	h.framework("f2", "r")
	count := map[string]int{}
	for _, o := range h.allocate() {
		count[o.FrameworkID]++
	}
	if count["f1"] != 5 || count["f2"] != 5 {
		t.Fatalf("agents per framework %v, want 5 each", count)
	}
}

func TestTheDominantResourceDecidesTheShare(t *testing.T) {
	// Cluster: cpus 10, mem 8192. f-cpu holds cpus 8 (0.8) and mem 1024
	// (0.125); f-mem holds cpus 1 (0.1) and mem 6144 (0.75). f-mem holds
	// more memory, but its dominant share is lower, so it goes first.
	h := newHarness(t, Options{})
	h.agent("cpu-box", "cpus:8;mem:1024")
	h.agent("mem-box", "cpus:1;mem:6144")
	h.a.AddFramework("f-cpu", Framework{Roles: []string{"r"}},
		map[string]resources.Resources{"cpu-box": res("cpus:8;mem:1024").AllocatedTo("r")})
	h.a.AddFramework("f-mem", Framework{Roles: []string{"r"}},
		map[string]resources.Resources{"mem-box": res("cpus:1;mem:6144").AllocatedTo("r")})
	h.check()
	h.agent("spare", "cpus:1;mem:1024")
	expect(t, h.allocate(), "f-mem@spare")
}

func TestWeightedRolesGetProportionalShares(t *testing.T) {
	h := newHarness(t, Options{Seed: 3})
	h.a.weights["heavy"] = 2 // weights arrive with UPDATE_WEIGHTS later
	for i := range 9 {
		h.agent(fmt.Sprintf("a%d", i), "cpus:1;mem:1024")
	}
	h.framework("f-heavy", "heavy")
	h.framework("f-light", "light")
	count := map[string]int{}
	for _, o := range h.allocate() {
		count[o.Role]++
	}
	if count["heavy"] != 6 || count["light"] != 3 {
		t.Fatalf("agents per role %v, want heavy 6, light 3", count)
	}
}

func TestSubRolesCompeteInsideTheirParent(t *testing.T) {
	h := newHarness(t, Options{Seed: 1})
	for i := range 4 {
		h.agent(fmt.Sprintf("a%d", i), "cpus:1;mem:1024")
	}
	h.framework("fx", "eng/x")
	h.framework("fy", "eng/y")
	h.framework("fb", "biz")
	count := map[string]int{}
	for _, o := range h.allocate() {
		count[o.Role]++
	}
	// eng and biz split the cluster; eng/x and eng/y split eng's half.
	if count["eng/x"] != 1 || count["eng/y"] != 1 || count["biz"] != 2 {
		t.Fatalf("agents per role %v, want eng/x 1, eng/y 1, biz 2", count)
	}
	if s := h.a.Stats().DominantShares; s["eng"] != 0.5 || s["eng/x"] != 0.25 {
		t.Fatalf("shares %v, want eng 0.5 and eng/x 0.25", s)
	}
}

func TestDeclinedOfferWithRefuseIsNotReofferedUntilTheFilterExpires(t *testing.T) {
	h := newHarness(t, Options{})
	h.agent("a1", "cpus:2;mem:1024")
	h.framework("f1", "r")
	h.decline(only(t, h.allocate()), 10*time.Second)

	for _, d := range []time.Duration{time.Second, 9*time.Second - time.Millisecond} {
		h.advance(d)
		expect(t, h.allocate())
	}
	if got := h.a.Stats().ActiveFilters["r"]; got != 1 {
		t.Fatalf("active filters %d, want 1", got)
	}
	h.advance(time.Millisecond) // now+10s
	expect(t, h.allocate(), "f1@a1")
	if got := h.a.Stats().ActiveFilters["r"]; got != 0 {
		t.Fatalf("active filters %d after expiry, want 0", got)
	}
}

func TestAFilterLastsAtLeastOneAllocationInterval(t *testing.T) {
	h := newHarness(t, Options{AllocationInterval: 5 * time.Second})
	h.agent("a1", "cpus:2;mem:1024")
	h.framework("f1", "r")
	h.decline(only(t, h.allocate()), time.Second)
	h.advance(time.Second)
	expect(t, h.allocate())
	h.advance(4 * time.Second)
	expect(t, h.allocate(), "f1@a1")
}

func TestDeclinedResourcesGoToTheNextFramework(t *testing.T) {
	h := newHarness(t, Options{})
	h.agent("a1", "cpus:2;mem:1024")
	h.framework("f1", "r")
	h.framework("f2", "r")
	o := only(t, h.allocate())
	h.decline(o, time.Hour)
	other := map[string]string{"f1": "f2", "f2": "f1"}[o.FrameworkID]
	expect(t, h.allocate(), other+"@a1")
}

func TestAFilterDoesNotHideMoreThanWasRefused(t *testing.T) {
	h := newHarness(t, Options{})
	h.agent("a1", "cpus:2;mem:1024")
	h.framework("f1", "r")
	o := only(t, h.allocate())

	// Half is declined for an hour; the framework keeps the other half.
	half := res("cpus:1;mem:512").AllocatedTo("r")
	h.a.RecoverResources("f1", "a1", half, time.Hour, h.now)
	h.check()
	expect(t, h.allocate())

	// When the rest comes back too, the agent offers more than was
	// refused, so the filter does not apply.
	h.a.RecoverResources("f1", "a1", o.Resources.Subtract(half), 0, h.now)
	h.check()
	o2 := only(t, h.allocate())
	sameResources(t, o2.Resources, o.Resources)
}

func TestSuppressedFrameworkGetsNothingUntilRevive(t *testing.T) {
	h := newHarness(t, Options{})
	h.framework("f1", "r")
	h.a.SuppressOffers("f1", nil)
	h.agent("a1", "cpus:2;mem:1024")
	expect(t, h.allocate())
	h.advance(time.Hour)
	expect(t, h.allocate())

	h.a.ReviveOffers("f1", nil)
	expect(t, h.allocate(), "f1@a1")
}

func TestSuppressionIsPerRole(t *testing.T) {
	h := newHarness(t, Options{})
	h.framework("f1", "a", "b")
	h.a.SuppressOffers("f1", []string{"a"})
	h.agent("a1", "cpus:2;mem:1024")
	o := only(t, h.allocate())
	if o.Role != "b" {
		t.Fatalf("offered in role %s, want b", o.Role)
	}
}

func TestSuppressedRolesAtSubscription(t *testing.T) {
	h := newHarness(t, Options{})
	h.a.AddFramework("f1", Framework{Roles: []string{"a"}, SuppressedRoles: []string{"a"}}, nil)
	h.agent("a1", "cpus:2;mem:1024")
	expect(t, h.allocate())
	h.a.UpdateFramework("f1", Framework{Roles: []string{"a"}})
	expect(t, h.allocate(), "f1@a1")
}

func TestReviveClearsFilters(t *testing.T) {
	h := newHarness(t, Options{})
	h.agent("a1", "cpus:2;mem:1024")
	h.framework("f1", "r")
	h.decline(only(t, h.allocate()), MaxRefuse)
	expect(t, h.allocate())

	h.a.ReviveOffers("f1", []string{"r"})
	if got := h.a.Stats().ActiveFilters["r"]; got != 0 {
		t.Fatalf("active filters %d after revive, want 0", got)
	}
	expect(t, h.allocate(), "f1@a1")
}

func TestRecoveredResourcesAreOfferedAgain(t *testing.T) {
	h := newHarness(t, Options{})
	h.agent("a1", "cpus:4;mem:4096")
	h.framework("f1", "r")
	o := only(t, h.allocate())

	// The framework launches a task on part of the offer and declines the
	// rest without a filter; the rest is offered again.
	task := res("cpus:1;mem:1024").AllocatedTo("r")
	h.decline(Allocation{FrameworkID: "f1", AgentID: "a1", Resources: o.Resources.Subtract(task)}, 0)
	o2 := only(t, h.allocate())
	sameResources(t, o2.Resources, res("cpus:3;mem:3072").AllocatedTo("r"))

	// The task finishes: its resources come back too.
	h.a.RecoverResources("f1", "a1", task, 0, h.now)
	h.check()
	o3 := only(t, h.allocate())
	sameResources(t, o3.Resources, task)
}

func TestDeactivatedAgentsGetNoOffers(t *testing.T) {
	h := newHarness(t, Options{})
	h.framework("f1", "r")
	h.agent("a1", "cpus:2;mem:1024")
	h.agent("a2", "cpus:2;mem:1024")
	h.a.DeactivateAgent("a1")
	expect(t, h.allocate(), "f1@a2")
	expect(t, h.allocate())
	h.a.ActivateAgent("a1")
	expect(t, h.allocate(), "f1@a1")
}

func TestDeactivatedFrameworksGetNoOffers(t *testing.T) {
	h := newHarness(t, Options{})
	h.framework("f1", "r")
	h.agent("a1", "cpus:2;mem:1024")
	h.a.DeactivateFramework("f1")
	expect(t, h.allocate())
	h.a.ActivateFramework("f1")
	h.decline(only(t, h.allocate()), MaxRefuse)
	expect(t, h.allocate())

	// Deactivation also clears the framework's filters, as in Mesos.
	h.a.DeactivateFramework("f1")
	if got := h.a.Stats().ActiveFilters["r"]; got != 0 {
		t.Fatalf("active filters %d after deactivation, want 0", got)
	}
	expect(t, h.allocate())
	h.a.ActivateFramework("f1")
	expect(t, h.allocate(), "f1@a1")
}

func TestOffersBelowMinAllocatableAreNotMade(t *testing.T) {
	h := newHarness(t, Options{})
	h.framework("f1", "r")
	h.agent("tiny", "cpus:0.009;mem:31;disk:1000;ports:[1-10]")
	expect(t, h.allocate())
	h.agent("cpu-only", "cpus:0.01")
	h.agent("mem-only", "mem:32")
	expect(t, h.allocate(), "f1@cpu-only", "f1@mem-only")
}

func TestMinAllocatableIsConfigurableAndOverriddenPerRole(t *testing.T) {
	min, err := ParseMinAllocatable("cpus:2;mem:512|gpus:1")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{MinAllocatable: min})
	h.a.AddFramework("picky", Framework{
		Roles:          []string{"r"},
		MinAllocatable: map[string][]map[string]resources.Scalar{"r": {{"cpus": resources.ScalarFromInt(8)}}},
	}, nil)
	h.agent("small", "cpus:1;mem:4096")
	h.agent("medium", "cpus:4;mem:4096")
	expect(t, h.allocate())

	h.framework("f2", "r")
	expect(t, h.allocate(), "f2@medium")

	h.agent("large", "cpus:8;mem:4096")
	expect(t, h.allocate(), "picky@large")

	// An empty list means no minimum.
	h2 := newHarness(t, Options{MinAllocatable: []map[string]resources.Scalar{}})
	h2.framework("f", "r")
	h2.agent("ports", "ports:[1-2]")
	expect(t, h2.allocate(), "f@ports")
}

func TestGPUAgentsAreOfferedOnlyToGPUCapableFrameworks(t *testing.T) {
	h := newHarness(t, Options{})
	h.framework("plain", "r")
	h.agent("gpu", "cpus:4;mem:4096;gpus:1")
	expect(t, h.allocate())
	h.a.AddFramework("gpu-aware", Framework{Roles: []string{"r"}, Capabilities: Capabilities{GPUResources: true}}, nil)
	expect(t, h.allocate(), "gpu-aware@gpu")

	off := false
	h2 := newHarness(t, Options{FilterGPUResources: &off})
	h2.framework("plain", "r")
	h2.agent("gpu", "cpus:4;mem:4096;gpus:1")
	expect(t, h2.allocate(), "plain@gpu")
}

func TestIncapableFrameworksAreNotOfferedRevocableResources(t *testing.T) {
	h := newHarness(t, Options{})
	total := res("cpus:4;mem:4096").Add(resources.New(resources.Resource{
		Name: "cpus", Type: resources.TypeScalar, Scalar: resources.ScalarFromInt(8), Revocable: true,
	}))
	h.a.AddAgent("a1", Agent{}, total, nil)
	h.framework("plain", "r")
	o := only(t, h.allocate())
	sameResources(t, o.Resources, res("cpus:4;mem:4096").AllocatedTo("r"))

	h.a.AddFramework("oversubscriber", Framework{Roles: []string{"r"}, Capabilities: Capabilities{RevocableResources: true}}, nil)
	h.check()
	o2 := only(t, h.allocate())
	if o2.FrameworkID != "oversubscriber" || !o2.Resources.Equal(total.Subtract(res("cpus:4;mem:4096")).AllocatedTo("r")) {
		t.Fatalf("got %+v, want the revocable cpus for oversubscriber", o2)
	}
}

func TestReservedResourcesAreOfferedOnlyToTheirRoleAndSubRoles(t *testing.T) {
	h := newHarness(t, Options{})
	h.framework("web", "web")
	h.agent("a1", "cpus:2;mem:1024;cpus(ads):4;mem(ads):2048")
	o := only(t, h.allocate())
	sameResources(t, o.Resources, res("cpus:2;mem:1024").AllocatedTo("web"))

	h.framework("ads-team", "ads/team")
	o = only(t, h.allocate())
	if o.FrameworkID != "ads-team" || o.Role != "ads/team" {
		t.Fatalf("got %+v, want ads-team in ads/team", o)
	}
	sameResources(t, o.Resources, res("cpus(ads):4;mem(ads):2048").AllocatedTo("ads/team"))
}

func TestARemovedFrameworksResourcesAreReleased(t *testing.T) {
	h := newHarness(t, Options{})
	h.framework("f1", "r")
	h.agent("a1", "cpus:2;mem:1024")
	h.decline(only(t, h.allocate()), 0) // offered, declined,
	only(t, h.allocate())               // offered again and kept
	h.framework("f2", "r")
	expect(t, h.allocate())

	h.a.RemoveFramework("f1")
	h.check()
	expect(t, h.allocate(), "f2@a1")
	if s := h.a.Stats(); s.Frameworks != 1 || s.Allocated["cpus"] != resources.ScalarFromInt(2) {
		t.Fatalf("stats %+v, want 1 framework and 2 cpus allocated", s)
	}
}

func TestARemovedAgentTakesItsAllocationsAndFilters(t *testing.T) {
	h := newHarness(t, Options{})
	h.framework("f1", "r")
	h.agent("a1", "cpus:2;mem:1024")
	h.agent("a2", "cpus:2;mem:1024")
	out := h.allocate()
	h.decline(out[0], time.Hour)
	h.a.RemoveAgent("a1")
	h.a.RemoveAgent("a2")
	h.check()
	s := h.a.Stats()
	if s.Agents != 0 || s.ActiveFilters["r"] != 0 || len(s.Allocated) != 0 || len(s.Total) != 0 {
		t.Fatalf("stats %+v after removing every agent", s)
	}
	// Recovering resources of a removed agent is a no-op, as in Mesos.
	h.a.RecoverResources("f1", "a2", out[1].Resources, 0, h.now)
	h.check()
}

func TestUsageReportedOnReregistrationIsCharged(t *testing.T) {
	h := newHarness(t, Options{})
	h.framework("f-new", "r")
	// After a master failover the agent comes back first, running a task of
	// f-old, which has not re-registered yet.
	task := res("cpus:3;mem:3072").AllocatedTo("r")
	h.a.AddAgent("a1", Agent{}, res("cpus:4;mem:4096"), map[string]resources.Resources{"f-old": task})
	h.check()
	o := only(t, h.allocate())
	sameResources(t, o.Resources, res("cpus:1;mem:1024").AllocatedTo("r"))

	// When f-old re-registers, its usage counts towards its share.
	h.a.AddFramework("f-old", Framework{Roles: []string{"r"}}, map[string]resources.Resources{"a1": task})
	h.check()
	if got := h.a.frameworks["f-old"].clients["r"].share; got != 0.75 {
		t.Fatalf("f-old share %v, want 0.75", got)
	}

	// A task of a framework that has not come back yet ends; then the
	// framework is removed for good, and the rest of its usage is freed.
	h.a.AddAgent("a2", Agent{}, res("cpus:4;mem:4096"), map[string]resources.Resources{"f-gone": task})
	ended := res("cpus:1;mem:1024").AllocatedTo("r")
	h.a.RecoverResources("f-gone", "a2", ended, 0, h.now)
	h.check()
	o = only(t, h.allocate()) // what a2 had free, and the task's resources
	sameResources(t, o.Resources, res("cpus:2;mem:2048").AllocatedTo("r"))
	h.a.RecoverResources("f-new", "a2", o.Resources, 0, h.now)
	h.a.RemoveFramework("f-gone")
	h.check()
	o = only(t, h.allocate())
	if o.AgentID != "a2" || !o.Resources.Equal(res("cpus:4;mem:4096").AllocatedTo("r")) {
		t.Fatalf("got %+v, want all of a2", o)
	}
}

func TestUnsubscribedRolesKeepTheirResourcesUntilRecovered(t *testing.T) {
	h := newHarness(t, Options{})
	h.framework("f1", "a")
	h.agent("a1", "cpus:2;mem:1024")
	o := only(t, h.allocate())

	h.a.UpdateFramework("f1", Framework{Roles: []string{"b"}})
	h.check()
	if s := h.a.Stats().DominantShares; s["a"] != 1 {
		t.Fatalf("role a share %v, want 1 while f1 holds its resources", s["a"])
	}
	h.a.RecoverResources("f1", "a1", o.Resources, 0, h.now)
	h.check()
	if _, ok := h.a.roles["a"]; ok {
		t.Fatalf("role a still tracked after its last resources came back")
	}
	o = only(t, h.allocate())
	if o.Role != "b" {
		t.Fatalf("offered in role %s, want b", o.Role)
	}
}

func TestRecoveringWhatIsNotAllocatedIsRefused(t *testing.T) {
	h := newHarness(t, Options{})
	h.framework("f1", "r")
	h.framework("f2", "r")
	h.agent("a1", "cpus:2;mem:1024")
	o := only(t, h.allocate())
	other := map[string]string{"f1": "f2", "f2": "f1"}[o.FrameworkID]

	bad := []struct {
		fw  string
		res resources.Resources
	}{
		{o.FrameworkID, res("cpus:3").AllocatedTo("r")},         // more than allocated
		{o.FrameworkID, res("cpus:1").AllocatedTo("elsewhere")}, // wrong role
		{other, o.Resources}, // wrong framework
		{o.FrameworkID, o.Resources.Add(res("cpus:1").AllocatedTo("r"))}, // partly allocated
	}
	for i, b := range bad {
		h.a.RecoverResources(b.fw, "a1", b.res, 0, h.now)
		h.check()
		if got := h.a.Stats().RejectedRecoveries; got != uint64(i+1) {
			t.Fatalf("case %d: %d rejected recoveries, want %d", i, got, i+1)
		}
	}
	expect(t, h.allocate())
}

func TestSameSeedSameAllocations(t *testing.T) {
	run := func(seed int64) string {
		a := New(Options{Seed: seed})
		for i := range 5 {
			a.AddFramework(fmt.Sprintf("f%d", i), Framework{Roles: []string{fmt.Sprintf("r%d", i%2)}}, nil)
		}
		for i := range 50 {
			a.AddAgent(fmt.Sprintf("a%d", i), Agent{}, res("cpus:4;mem:4096"), nil)
		}
		var b strings.Builder
		for _, o := range a.Allocate(t0) {
			fmt.Fprintf(&b, "%s@%s ", o.FrameworkID, o.AgentID)
		}
		return b.String()
	}
	if run(42) != run(42) {
		t.Fatal("the same seed gave different allocations")
	}
	if run(42) == run(43) {
		t.Fatal("different seeds gave the same agent order")
	}
}

func TestStats(t *testing.T) {
	h := newHarness(t, Options{})
	h.framework("f1", "r")
	h.agent("a1", "cpus:2;mem:1024;ports:[1-10]")
	h.agent("a2", "cpus:2;mem:1024")
	h.a.DeactivateAgent("a2")
	h.decline(only(t, h.allocate()), time.Minute)
	expect(t, h.allocate())
	s := h.a.Stats()
	want := Stats{
		Agents: 2, ActiveAgents: 1, Frameworks: 1, ActiveFrameworks: 1,
		Total:          map[string]resources.Scalar{"cpus": resources.ScalarFromInt(4), "mem": resources.ScalarFromInt(2048)},
		Allocated:      map[string]resources.Scalar{},
		DominantShares: map[string]float64{"r": 0},
		AllocationRuns: 2,
		ActiveFilters:  map[string]int{"r": 1},
	}
	if fmt.Sprint(s) != fmt.Sprint(want) {
		t.Fatalf("stats\n%+v\nwant\n%+v", s, want)
	}
}

func TestRefuseDuration(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want time.Duration
	}{
		{5, 5 * time.Second},
		{0, 0},
		{0.5, 500 * time.Millisecond},
		{-1, DefaultRefuse},
		{1e12, MaxRefuse},
	} {
		if got := RefuseDuration(c.in); got != c.want {
			t.Errorf("RefuseDuration(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestParseMinAllocatable(t *testing.T) {
	got, err := ParseMinAllocatable("cpus:0.01|mem:32")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(DefaultMinAllocatable()) {
		t.Fatalf("got %v, want the default %v", got, DefaultMinAllocatable())
	}
	for _, bad := range []string{"", "cpus", "cpus:x", "cpus:-1", "cpus:1;cpus:2", "cpus:1|"} {
		if _, err := ParseMinAllocatable(bad); err == nil {
			t.Errorf("ParseMinAllocatable(%q) succeeded", bad)
		}
	}
}
