package allocator

import (
	"fmt"
	"testing"
	"time"

	"github.com/gomesos/gomesos/resources"
	"pgregory.net/rapid"
)

// sharedModel is the master's side of shared volumes for the property
// test: what each framework holds on each agent (with copies), as offers
// and tasks hold them.
type sharedModel struct {
	a      *HierarchicalDRF
	now    time.Time
	totals map[string]resources.Resources // by agent
	caps   map[string]bool                // framework -> SHARED_RESOURCES
	held   map[string]map[string]resources.Resources
	nextAg int
	nextFw int
	nextV  int
}

var sharedRoles = []string{"eng", "eng/x", "ops"}

// Shared volumes under allocation, recovery, extra copies (tasks of one
// ACCEPT), CREATE and DESTROY: the allocator's books stay right (its
// invariants, and what the master holds is what it took), a shared
// resource goes only to SHARED_RESOURCES frameworks of its role subtree
// and at most once per agent in a cycle, a DESTROY succeeds exactly when
// its holder has the only copy, and nothing is allocated beyond the total.
func TestSharedVolumesKeepTheBooks(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := &sharedModel{
			a:      New(Options{Seed: rapid.Int64().Draw(t, "seed")}),
			now:    t0,
			totals: map[string]resources.Resources{},
			caps:   map[string]bool{},
			held:   map[string]map[string]resources.Resources{},
		}
		t.Repeat(map[string]func(*rapid.T){
			"":                m.check,
			"AddAgent":        m.addAgent,
			"AddFramework":    m.addFramework,
			"Allocate":        m.allocate,
			"Recover":         m.recover,
			"ExtraCopy":       m.extraCopy,
			"CreateShared":    m.createShared,
			"DestroyShared":   m.destroyShared,
			"RemoveFramework": m.removeFramework,
		})
	})
}

func (m *sharedModel) check(t *rapid.T) {
	if err := m.a.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	for id, total := range m.totals {
		ag := m.a.agents[id]
		if !ag.total.Equal(total) {
			t.Fatalf("agent %s: allocator's total %v, want %v", id, ag.total, total)
		}
		var out resources.Resources
		for _, byAgent := range m.held {
			out = out.Add(byAgent[id].Unallocated())
		}
		if taken := total.NonShared().Subtract(ag.available); !taken.Equal(out.NonShared()) {
			t.Fatalf("agent %s: allocator took %v, the master holds %v", id, taken, out.NonShared())
		}
		for _, r := range out.Shared() {
			if !total.ContainsResource(r) {
				t.Fatalf("agent %s: shared %v held but not in the total %v", id, r, total)
			}
		}
	}
	s := m.a.Stats()
	for name, v := range s.Allocated {
		if v > s.Total[name] || v < 0 {
			t.Fatalf("allocated %s %v, total %v", name, v, s.Total[name])
		}
	}
}

func (m *sharedModel) addAgent(t *rapid.T) {
	id := fmt.Sprintf("agent-%d", m.nextAg)
	m.nextAg++
	disk := scalar("disk", 100)
	disk.Reservations = []resources.Reservation{{Type: resources.ReservationDynamic, Role: "eng"}}
	parts := []resources.Resource{scalar("cpus", rapid.Int64Range(1, 8).Draw(t, "cpus")), scalar("mem", 1024), disk}
	for range rapid.IntRange(0, 2).Draw(t, "volumes") {
		parts = append(parts, sharedVolume("eng", fmt.Sprintf("v%d", m.nextV), 50))
		m.nextV++
	}
	total := resources.New(parts...)
	m.a.AddAgent(id, Agent{Hostname: id}, total, nil)
	m.totals[id] = total
}

func (m *sharedModel) addFramework(t *rapid.T) {
	id := fmt.Sprintf("fw-%d", m.nextFw)
	m.nextFw++
	caps := rapid.Bool().Draw(t, "shared")
	role := rapid.SampledFrom(sharedRoles).Draw(t, "role")
	m.a.AddFramework(id, Framework{Roles: []string{role}, Capabilities: Capabilities{SharedResources: caps}}, nil)
	m.caps[id] = caps
}

func (m *sharedModel) allocate(t *rapid.T) {
	m.now = m.now.Add(time.Second)
	out := m.a.Allocate(m.now)
	perAgent := map[string]resources.Resources{}
	for _, o := range out {
		for i := range o.Resources {
			r := &o.Resources[i]
			if !r.Shared {
				continue
			}
			if !m.caps[o.FrameworkID] {
				t.Fatalf("%v: shared %v for a framework without SHARED_RESOURCES", o, r)
			}
			if !r.IsAllocatableTo(o.Role) {
				t.Fatalf("%v: shared %v outside its role", o, r)
			}
			un := resources.New(*r).Unallocated()
			if perAgent[o.AgentID].Contains(un) {
				t.Fatalf("%v: shared %v allocated twice on %s in one cycle", o, r, o.AgentID)
			}
			perAgent[o.AgentID] = perAgent[o.AgentID].Add(un)
		}
		m.hold(o.FrameworkID, o.AgentID, o.Resources)
	}
}

func (m *sharedModel) hold(fw, agent string, r resources.Resources) {
	if m.held[fw] == nil {
		m.held[fw] = map[string]resources.Resources{}
	}
	m.held[fw][agent] = m.held[fw][agent].Add(r)
}

func (m *sharedModel) drop(fw, agent string, r resources.Resources) {
	rest := m.held[fw][agent].Subtract(r)
	if rest.IsEmpty() {
		delete(m.held[fw], agent)
		if len(m.held[fw]) == 0 {
			delete(m.held, fw)
		}
		return
	}
	m.held[fw][agent] = rest
}

// pickHeld picks one resource some framework holds for which ok holds.
func (m *sharedModel) pickHeld(t *rapid.T, ok func(r *resources.Resource) bool) (fw, agent string, r resources.Resource) {
	type choice struct {
		fw, agent string
		r         resources.Resource
	}
	var cs []choice
	for _, f := range sortedKeys(m.held) {
		for _, ag := range sortedKeys(m.held[f]) {
			for _, r := range m.held[f][ag] {
				if ok(&r) {
					cs = append(cs, choice{f, ag, r})
				}
			}
		}
	}
	if len(cs) == 0 {
		t.Skip("nothing to pick")
	}
	c := cs[rapid.IntRange(0, len(cs)-1).Draw(t, "held")]
	return c.fw, c.agent, c.r
}

func (m *sharedModel) recover(t *rapid.T) {
	fw, agent, r := m.pickHeld(t, func(*resources.Resource) bool { return true })
	part := resources.New(r)
	if rapid.Bool().Draw(t, "all") {
		part = m.held[fw][agent]
	}
	refuse := []time.Duration{0, time.Second}[rapid.IntRange(0, 1).Draw(t, "refuse")]
	before := m.a.Stats().RejectedRecoveries
	m.a.RecoverResources(fw, agent, part, refuse, m.now)
	if m.a.Stats().RejectedRecoveries != before {
		t.Fatalf("recovery of %v, which %s holds on %s, rejected", part, fw, agent)
	}
	m.drop(fw, agent, part)
}

func (m *sharedModel) extraCopy(t *rapid.T) {
	fw, agent, r := m.pickHeld(t, func(r *resources.Resource) bool { return r.Shared })
	if !m.caps[fw] {
		// Only a framework with the capability holds shared resources
		// (the master refuses CREATE of one without it).
		t.Fatalf("%s holds shared %v without SHARED_RESOURCES", fw, r)
	}
	if !m.a.AllocateSharedCopies(fw, agent, resources.New(r)) {
		t.Fatalf("another copy of %v for %s on %s refused", r, fw, agent)
	}
	m.hold(fw, agent, resources.New(r))
}

func (m *sharedModel) createShared(t *rapid.T) {
	fw, agent, r := m.pickHeld(t, func(r *resources.Resource) bool {
		return r.Name == "disk" && r.IsReserved() && !r.IsPersistentVolume()
	})
	if !m.caps[fw] {
		t.Skip("the master refuses CREATE of a shared volume without SHARED_RESOURCES")
	}
	consumed := resources.New(r)
	vol := r.Clone()
	vol.Disk = &resources.DiskInfo{PersistenceID: fmt.Sprintf("v%d", m.nextV)}
	vol.Shared = true
	m.nextV++
	converted := resources.New(vol)
	if !m.a.UpdateAllocation(fw, agent, consumed, converted) {
		t.Fatalf("CREATE of a shared volume from %v, held by %s on %s, refused", r, fw, agent)
	}
	m.drop(fw, agent, consumed)
	m.hold(fw, agent, converted)
	m.totals[agent] = m.totals[agent].Subtract(consumed.Unallocated()).Add(converted.Unallocated())
}

func (m *sharedModel) destroyShared(t *rapid.T) {
	fw, agent, r := m.pickHeld(t, func(r *resources.Resource) bool { return r.Shared })
	un := resources.New(r).Unallocated()[0]
	copies := 0
	for _, byAgent := range m.held {
		for _, x := range byAgent[agent] {
			if x.Shared && resources.New(x).Unallocated()[0].Equal(&un) {
				copies++
			}
		}
	}
	consumed := resources.New(r)
	converted := consumed.StripPersistence()
	got := m.a.UpdateAllocation(fw, agent, consumed, converted)
	if got != (copies == 1) {
		t.Fatalf("DESTROY of %v by %s with %d copies held: allocator said %v", r, fw, copies, got)
	}
	if !got {
		return
	}
	m.drop(fw, agent, consumed)
	m.hold(fw, agent, converted)
	m.totals[agent] = m.totals[agent].Subtract(consumed.Unallocated()).Add(converted.Unallocated())
}

func (m *sharedModel) removeFramework(t *rapid.T) {
	ids := sortedKeys(m.caps)
	if len(ids) == 0 {
		t.Skip("no framework")
	}
	id := rapid.SampledFrom(ids).Draw(t, "framework")
	m.a.RemoveFramework(id)
	delete(m.caps, id)
	delete(m.held, id)
}
