package allocator

import (
	"testing"

	"github.com/gomesos/gomesos/resources"
)

// revocable is s parsed, every resource marked revocable.
func revocable(s string) resources.Resources {
	rs := res(s)
	for i := range rs {
		rs[i].Revocable = true
	}
	return resources.New(rs...)
}

// An agent's revocable resources go to the framework with
// REVOCABLE_RESOURCES only; an estimate that shrinks below what is held
// keeps the holding charged and frees nothing more, and one that grows
// frees the difference.
func TestUpdateAgentRevocable(t *testing.T) {
	h := newHarness(t, Options{})
	h.agent("a1", "cpus:4;mem:1024")
	h.a.UpdateAgentRevocable("a1", revocable("cpus:2"))
	h.check()
	h.a.AddFramework("plain", Framework{}, nil)
	h.check()
	out := h.allocate()
	if len(out) != 1 || out[0].FrameworkID != "plain" {
		t.Fatalf("allocations %v, want one to plain", out)
	}
	if got := out[0].Resources.Revocable(); !got.IsEmpty() {
		t.Fatalf("plain got revocable %v", got)
	}
	h.a.AddFramework("rev", Framework{Capabilities: Capabilities{RevocableResources: true}}, nil)
	h.check()
	out = h.allocate()
	if len(out) != 1 || out[0].FrameworkID != "rev" {
		t.Fatalf("allocations %v, want one to rev", out)
	}
	got := out[0].Resources.Unallocated()
	if !got.Equal(revocable("cpus:2")) {
		t.Fatalf("rev got %v, want the 2 revocable cpus", got)
	}

	// Shrinking under what rev holds: the holding stays charged, and
	// once given back only the new estimate is offered.
	h.a.UpdateAgentRevocable("a1", revocable("cpus:1"))
	h.check()
	h.a.RecoverResources("rev", "a1", out[0].Resources, 0, h.now)
	h.check()
	out = h.allocate()
	if len(out) != 1 || !out[0].Resources.Unallocated().Equal(revocable("cpus:1")) {
		t.Fatalf("after shrinking to 1 and recovering: %v, want 1 revocable cpu to rev", out)
	}
	// Growing: two more are free beyond the one held.
	h.a.UpdateAgentRevocable("a1", revocable("cpus:3"))
	h.check()
	h.a.RecoverResources("rev", "a1", out[0].Resources, 0, h.now)
	h.check()
	out = h.allocate()
	if len(out) != 1 || !out[0].Resources.Unallocated().Equal(revocable("cpus:3")) {
		t.Fatalf("after growing to 3 and recovering: %v, want 3 revocable cpus to rev", out)
	}
	// Recovered, then withdrawn: nothing is offered.
	h.a.RecoverResources("rev", "a1", out[0].Resources, 0, h.now)
	h.a.UpdateAgentRevocable("a1", nil)
	h.check()
	if out := h.allocate(); len(out) != 0 {
		t.Fatalf("after the estimate went to zero: %v, want nothing", out)
	}
	// Unknown agents are ignored.
	h.a.UpdateAgentRevocable("nobody", revocable("cpus:1"))
	h.check()
}
