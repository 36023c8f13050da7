package allocator

import (
	"testing"
	"time"

	"github.com/gomesos/gomesos/resources"
)

// sharedVolume is a shared persistent volume of size MB on disk reserved to
// role (dynamically), with persistence id id.
func sharedVolume(role, id string, size int64) resources.Resource {
	r := scalar("disk", size)
	r.Reservations = []resources.Reservation{{Type: resources.ReservationDynamic, Role: role}}
	r.Disk = &resources.DiskInfo{PersistenceID: id}
	r.Shared = true
	return r
}

// sharedHarness has agent a1 with 4 cpus, 1024 mem and a shared volume of
// role eng, and frameworks in role eng: with SHARED_RESOURCES for the ids
// in sharing, without for the others.
func sharedHarness(t *testing.T, sharing []string, plain []string) (*harness, resources.Resource) {
	t.Helper()
	h := newHarness(t, Options{})
	vol := sharedVolume("eng", "v1", 64)
	h.a.AddAgent("a1", Agent{Hostname: "a1"}, res("cpus:4;mem:1024").AddResource(vol), nil)
	h.check()
	for _, id := range sharing {
		h.a.AddFramework(id, Framework{Roles: []string{"eng"}, Capabilities: Capabilities{SharedResources: true}}, nil)
	}
	for _, id := range plain {
		h.a.AddFramework(id, Framework{Roles: []string{"eng"}}, nil)
	}
	h.check()
	return h, vol
}

func hasShared(rs resources.Resources) int {
	n := 0
	for i := range rs {
		if rs[i].Shared {
			n++
		}
	}
	return n
}

// Frameworks without SHARED_RESOURCES are never offered a shared volume,
// even when it is the only framework of its role (Mesos's
// hierarchical.cpp strips shared resources for them).
func TestSharedVolumesAreNotOfferedWithoutTheCapability(t *testing.T) {
	h, _ := sharedHarness(t, nil, []string{"plain"})
	o := only(t, h.allocate())
	if n := hasShared(o.Resources); n != 0 {
		t.Fatalf("framework without SHARED_RESOURCES offered %d shared resources: %v", n, o.Resources)
	}
	sameResources(t, o.Resources.Unallocated(), res("cpus:4;mem:1024"))
}

// A shared volume is offered again while a copy is held (an outstanding
// offer, a task), at most once per agent in a cycle, and never twice in one
// offer; recovering a copy does not make two of it.
func TestSharedVolumeIsOfferedAgainWhileInUse(t *testing.T) {
	h, vol := sharedHarness(t, []string{"f1", "f2"}, nil)
	o1 := only(t, h.allocate())
	if n := hasShared(o1.Resources); n != 1 {
		t.Fatalf("first offer holds %d copies of the volume, want 1: %v", n, o1.Resources)
	}
	// The framework uses half the cpus and the volume (a task), and gives
	// the rest back.
	used := resources.New(scalar("cpus", 2), scalar("mem", 512), vol).AllocatedTo("eng")
	h.a.RecoverResources(o1.FrameworkID, "a1", o1.Resources.Subtract(used), 0, h.now)
	h.check()
	if got := h.a.Stats().Allocated["disk"]; got != resources.ScalarFromInt(64) {
		t.Fatalf("allocated disk %v, want 64 (one copy held)", got)
	}

	// The next cycle offers the rest and the volume again, to the other
	// framework (lower share).
	h.advance(time.Second)
	o2 := only(t, h.allocate())
	if o2.FrameworkID == o1.FrameworkID {
		t.Fatalf("offer went to %s again, want the other framework", o2.FrameworkID)
	}
	if n := hasShared(o2.Resources); n != 1 {
		t.Fatalf("second offer holds %d copies of the volume while the first framework holds one, want 1: %v", n, o2.Resources)
	}
	if got := h.a.Stats().Allocated["disk"]; got != resources.ScalarFromInt(64) {
		t.Fatalf("allocated disk %v, want 64 (two copies held count once)", got)
	}
	if c := h.a.frameworks[o2.FrameworkID].clients["eng"]; c.alloc.at(h.a.nameID("disk")) != resources.ScalarFromInt(64) {
		t.Fatalf("the second holder's allocation %v lacks its copy", c.alloc)
	}

	// Giving the second copy back leaves the first held: nothing doubles.
	h.advance(time.Second)
	h.decline(o2, 0)
	if ag := h.a.agents["a1"]; len(ag.available.Shared()) != 0 || !ag.available.Equal(res("cpus:2;mem:512")) {
		t.Fatalf("available %v after a copy came back, want cpus:2;mem:512 and no shared resource", ag.available)
	}
	if got := h.a.Stats().Allocated["disk"]; got != resources.ScalarFromInt(64) {
		t.Fatalf("allocated disk %v after a copy came back, want 64", got)
	}
	// The task ends: nothing holds the volume, and it is not allocated.
	h.a.RecoverResources(o1.FrameworkID, "a1", used, 0, h.now)
	h.check()
	if got := h.a.Stats().Allocated["disk"]; got != 0 {
		t.Fatalf("allocated disk %v with no copy held, want 0", got)
	}
}

// In one cycle frameworks of two sub-roles of the volume's role split an
// agent (each takes what is reserved to its own role): only one of them
// gets the volume in that cycle.
func TestSharedVolumeAtMostOncePerAgentInACycle(t *testing.T) {
	h := newHarness(t, Options{MinAllocatable: []map[string]resources.Scalar{}})
	vol := sharedVolume("eng", "v1", 64)
	cpusA, cpusB := scalar("cpus", 1), scalar("cpus", 1)
	cpusA.Reservations = []resources.Reservation{{Type: resources.ReservationStatic, Role: "eng/a"}}
	cpusB.Reservations = []resources.Reservation{{Type: resources.ReservationStatic, Role: "eng/b"}}
	h.a.AddAgent("a1", Agent{}, resources.New(cpusA, cpusB, vol), nil)
	h.a.AddFramework("fa", Framework{Roles: []string{"eng/a"}, Capabilities: Capabilities{SharedResources: true}}, nil)
	h.a.AddFramework("fb", Framework{Roles: []string{"eng/b"}, Capabilities: Capabilities{SharedResources: true}}, nil)
	h.check()
	for cycle := range 3 {
		out := h.allocate()
		if len(out) != 2 {
			t.Fatalf("cycle %d: %d allocations %v, want one per sub-role", cycle, len(out), out)
		}
		copies := 0
		for _, o := range out {
			copies += hasShared(o.Resources)
		}
		if copies != 1 {
			t.Fatalf("cycle %d: the volume was allocated %d times in one cycle: %v", cycle, copies, out)
		}
		for _, o := range out {
			h.decline(o, 0)
		}
		h.advance(time.Second)
	}
}

// DESTROY of a shared volume (UpdateAllocation) is refused while another
// holder has a copy, and taken once the holder is the only one. The
// operator's DESTROY_VOLUMES (UpdateAvailable) needs nobody to hold it.
func TestDestroyingASharedVolumeNeedsItsOnlyCopy(t *testing.T) {
	h, vol := sharedHarness(t, []string{"f1", "f2"}, nil)
	o1 := only(t, h.allocate())
	part := res("cpus:2;mem:512").AllocatedTo("eng")
	h.a.RecoverResources(o1.FrameworkID, "a1", part, 0, h.now)
	o1.Resources = o1.Resources.Subtract(part)
	h.advance(time.Second)
	o2 := only(t, h.allocate())
	h.check()

	consumed := resources.New(vol).AllocatedTo("eng")
	converted := resources.New(vol).StripPersistence().AllocatedTo("eng")
	if h.a.UpdateAllocation(o2.FrameworkID, "a1", consumed, converted) {
		t.Fatal("a shared volume was destroyed while another framework held a copy")
	}
	if h.a.UpdateAvailable("a1", consumed.Unallocated(), converted.Unallocated()) {
		t.Fatal("the operator destroyed a shared volume that frameworks hold")
	}
	h.check()
	h.decline(o1, 0) // the first framework's copy goes back
	if !h.a.UpdateAllocation(o2.FrameworkID, "a1", consumed, converted) {
		t.Fatal("the only holder of a shared volume could not destroy it")
	}
	h.check()
	if ag := h.a.agents["a1"]; ag.hasShared || len(ag.total.Shared()) != 0 {
		t.Fatalf("agent total %v still holds a shared volume", ag.total)
	}
	// The disk is the framework's now, as plain reserved disk.
	h.decline(Allocation{FrameworkID: o2.FrameworkID, AgentID: "a1", Resources: converted}, 0)
	if ag := h.a.agents["a1"]; !ag.available.Contains(converted.Unallocated()) {
		t.Fatalf("available %v lacks the destroyed volume's disk %v", ag.available, converted.Unallocated())
	}
}

// The operator creates a shared volume from reserved disk nobody holds and
// destroys it again (UpdateAvailable).
func TestOperatorCreatesAndDestroysASharedVolume(t *testing.T) {
	h := newHarness(t, Options{})
	disk := scalar("disk", 100)
	disk.Reservations = []resources.Reservation{{Type: resources.ReservationDynamic, Role: "eng"}}
	h.a.AddAgent("a1", Agent{Hostname: "a1"}, resources.New(scalar("cpus", 1), scalar("mem", 128), disk), nil)
	vol := sharedVolume("eng", "v1", 100)
	if !h.a.UpdateAvailable("a1", resources.New(disk), resources.New(vol)) {
		t.Fatal("CREATE of a shared volume on free reserved disk refused")
	}
	h.check()
	h.a.AddFramework("f", Framework{Roles: []string{"eng"}, Capabilities: Capabilities{SharedResources: true}}, nil)
	o := only(t, h.allocate())
	if hasShared(o.Resources) != 1 {
		t.Fatalf("offer %v lacks the shared volume", o.Resources)
	}
	h.decline(o, 0)
	if !h.a.UpdateAvailable("a1", resources.New(vol), resources.New(disk)) {
		t.Fatal("DESTROY of a shared volume nobody holds refused")
	}
	h.check()
	if ag := h.a.agents["a1"]; !ag.available.Equal(resources.New(scalar("cpus", 1), scalar("mem", 128), disk)) {
		t.Fatalf("available %v after DESTROY", ag.available)
	}
}

// Tasks of one ACCEPT sharing a volume each hold a copy
// (AllocateSharedCopies); each copy comes back with its task.
func TestExtraSharedCopiesAreChargedAndRecovered(t *testing.T) {
	h, vol := sharedHarness(t, []string{"f1"}, []string{"plain"})
	out := h.allocate()
	var o Allocation
	for _, x := range out {
		if x.FrameworkID == "f1" {
			o = x
		}
	}
	if o.FrameworkID == "" {
		h.a.RecoverResources(out[0].FrameworkID, "a1", out[0].Resources, time.Hour, h.now)
		h.advance(time.Second)
		o = only(t, h.allocate())
	}
	copyOf := resources.New(vol).AllocatedTo("eng")
	if h.a.AllocateSharedCopies("plain", "a1", copyOf) {
		t.Fatal("a framework holding nothing in the role got a copy")
	}
	if h.a.AllocateSharedCopies("f1", "a1", res("cpus:1").AllocatedTo("eng")) {
		t.Fatal("AllocateSharedCopies took resources that are not shared")
	}
	if !h.a.AllocateSharedCopies("f1", "a1", copyOf) {
		t.Fatal("AllocateSharedCopies refused a copy of a shared volume the framework holds")
	}
	h.check()
	task1 := resources.New(scalar("cpus", 1), scalar("mem", 128), vol).AllocatedTo("eng")
	task2 := task1
	rest := o.Resources.Add(copyOf).Subtract(task1).Subtract(task2)
	h.a.RecoverResources("f1", "a1", rest, 0, h.now)
	h.check()
	for _, task := range []resources.Resources{task1, task2} {
		before := h.a.Stats().RejectedRecoveries
		h.a.RecoverResources("f1", "a1", task, 0, h.now)
		h.check()
		if h.a.Stats().RejectedRecoveries != before {
			t.Fatalf("recovery of a task with its copy of the volume rejected")
		}
	}
	if ag := h.a.agents["a1"]; len(ag.alloc) != 0 {
		t.Fatalf("agent still has holdings %v", ag.alloc)
	}
}

// An agent re-registering with tasks of two frameworks using one shared
// volume charges each framework its copy.
func TestUsedSharedCopiesOnReregistration(t *testing.T) {
	h := newHarness(t, Options{})
	vol := sharedVolume("eng", "v1", 64)
	h.a.AddFramework("f1", Framework{Roles: []string{"eng"}, Capabilities: Capabilities{SharedResources: true}}, nil)
	task := resources.New(scalar("cpus", 1), vol).AllocatedTo("eng")
	h.a.AddAgent("a1", Agent{}, res("cpus:4;mem:1024").AddResource(vol), map[string]resources.Resources{"f1": task, "ghost": task})
	h.check()
	if got := h.a.Stats().RejectedRecoveries; got != 0 {
		t.Fatalf("%d usages rejected", got)
	}
	h.a.AddFramework("ghost", Framework{Roles: []string{"eng"}, Capabilities: Capabilities{SharedResources: true}}, nil)
	h.check()
	for _, id := range []string{"f1", "ghost"} {
		if c := h.a.frameworks[id].clients["eng"]; c.alloc.at(h.a.nameID("disk")) != resources.ScalarFromInt(64) {
			t.Fatalf("framework %s: allocation %v lacks its copy of the volume", id, c.alloc)
		}
	}
}
