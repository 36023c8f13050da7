package allocator

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/gomesos/gomesos/resources"
	"pgregory.net/rapid"
)

// The property model of property_test.go, with the conversions of
// reserve.go mixed in: frameworks reserve and unreserve what they hold
// (UpdateAllocation) and make persistent volumes of reserved disk they hold
// and destroy them (CREATE, DESTROY), the operator reserves and unreserves
// what nobody holds (UpdateAvailable). Besides the model's own checks
// (nothing allocated twice, every agent's sums), reserved resources are
// only ever allocated to their role or its sub-roles, every agent's total
// is what the conversions made it (no reservation or volume is lost while
// it stands), and a conversion of resources
// the framework does not hold, or that are not available, is refused and
// changes nothing.
func TestConversionsKeepTheBooks(t *testing.T) {
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "rapid.steps" })
	if !explicit {
		old := flag.Lookup("rapid.steps").Value.String()
		flag.Set("rapid.steps", "150")
		defer flag.Set("rapid.steps", old)
	}
	rapid.Check(t, func(t *rapid.T) {
		interval := time.Duration(rapid.IntRange(1, 3).Draw(t, "interval")) * time.Second
		m := &model{
			a:        New(Options{Seed: rapid.Int64().Draw(t, "seed"), AllocationInterval: interval}),
			now:      t0,
			interval: interval,
			agents:   map[string]*modelAgent{},
			fws:      map[string]*modelFramework{},
			held:     map[string]map[string]resources.Resources{},
			ghosts:   map[string]map[string]resources.Resources{},
		}
		t.Repeat(map[string]func(*rapid.T){
			"": func(t *rapid.T) {
				m.check(t)
				m.checkReservedRoles(t)
				m.checkTotals(t)
			},
			"AddAgent":        m.addAgent,
			"AddFramework":    m.addFramework,
			"RemoveFramework": m.removeFramework,
			"UpdateFramework": m.updateFramework,
			"Allocate":        m.allocate,
			"Recover":         m.recover,
			"DeclineAll":      m.declineAll,
			"ReserveHeld":     m.reserveHeld,
			"UnreserveHeld":   m.unreserveHeld,
			"ReserveFree":     m.reserveFree,
			"UnreserveFree":   m.unreserveFree,
			"BadConversion":   m.badConversion,
			"CreateHeld":      m.createHeld,
			"DestroyHeld":     m.destroyHeld,
		})
	})
}

// checkTotals checks that the allocator's total of every agent is the
// model's: no reservation or persistent volume is ever lost (or made up),
// whatever is allocated, recovered or declined, until it is converted back.
func (m *model) checkTotals(t *rapid.T) {
	for id, ma := range m.agents {
		if got := m.a.agents[id].total; !got.Equal(ma.total) {
			t.Fatalf("agent %s: the allocator's total is %v, want %v", id, got, ma.total)
		}
	}
}

// checkReservedRoles checks that every reserved resource a framework holds
// is held in its reservation's role or a sub-role of it.
func (m *model) checkReservedRoles(t *rapid.T) {
	for fw, byAgent := range m.held {
		for ag, res := range byAgent {
			for i := range res {
				r := &res[i]
				if role := r.ReservationRole(); r.IsReserved() && r.AllocationRole != role && !resources.IsStrictSubroleOf(r.AllocationRole, role) {
					t.Fatalf("framework %s holds %v on %s in role %s", fw, r, ag, r.AllocationRole)
				}
			}
		}
	}
}

// convertHeld converts one resource a framework holds with f and checks
// that the allocator takes it.
func (m *model) convertHeld(t *rapid.T, ok func(r *resources.Resource) bool, f func(r resources.Resource) resources.Resource) {
	fwID := pick(t, m.held, "framework")
	agentID := pick(t, m.held[fwID], "agent")
	held := m.held[fwID][agentID]
	var candidates []resources.Resource
	for i := range held {
		if ok(&held[i]) {
			candidates = append(candidates, held[i])
		}
	}
	if len(candidates) == 0 {
		t.Skip("nothing to convert")
	}
	r := rapid.SampledFrom(candidates).Draw(t, "resource")
	consumed, converted := resources.New(r), resources.New(f(r.Clone()))
	if !m.a.UpdateAllocation(fwID, agentID, consumed, converted) {
		t.Fatalf("UpdateAllocation(%s, %s, %v, %v) refused what the framework holds (%v)", fwID, agentID, consumed, converted, held)
	}
	m.held[fwID][agentID] = held.Subtract(consumed).Add(converted)
	ma := m.agents[agentID]
	ma.total = ma.total.Subtract(consumed.Unallocated()).Add(converted.Unallocated())
}

func (m *model) reserveHeld(t *rapid.T) {
	m.convertHeld(t, func(r *resources.Resource) bool {
		return r.AllocationRole != "*" && r.IsUnreserved() && r.Type == resources.TypeScalar
	},
		func(r resources.Resource) resources.Resource {
			r.Reservations = append(r.Reservations, resources.Reservation{Type: resources.ReservationDynamic, Role: r.AllocationRole})
			return r
		})
}

func (m *model) unreserveHeld(t *rapid.T) {
	m.convertHeld(t, func(r *resources.Resource) bool { return r.IsDynamicallyReserved() },
		func(r resources.Resource) resources.Resource {
			r.Reservations = r.Reservations[:len(r.Reservations)-1]
			return r
		})
}

// createHeld makes a persistent volume of reserved disk a framework
// holds (an accepted offer's CREATE), and destroyHeld makes one back into
// reserved disk (DESTROY). Between the two, the volume stays in the
// agent's total whatever else happens (the "" check compares totals).
func (m *model) createHeld(t *rapid.T) {
	m.convertHeld(t, func(r *resources.Resource) bool {
		return r.Name == "disk" && r.IsDynamicallyReserved() && r.Disk == nil
	},
		func(r resources.Resource) resources.Resource {
			m.nextVolume++
			r.Disk = &resources.DiskInfo{PersistenceID: fmt.Sprintf("volume-%d", m.nextVolume)}
			return r
		})
}

func (m *model) destroyHeld(t *rapid.T) {
	m.convertHeld(t, func(r *resources.Resource) bool { return r.IsPersistentVolume() && !r.Shared },
		func(r resources.Resource) resources.Resource {
			r.Disk = nil
			return r
		})
}

// free is what nobody holds on an agent, as the model sees it.
func (m *model) free(agentID string) resources.Resources {
	free := m.agents[agentID].total
	for _, byAgent := range []map[string]map[string]resources.Resources{m.held, m.ghosts} {
		for _, perAgent := range byAgent {
			free = free.Subtract(perAgent[agentID].Unallocated())
		}
	}
	return free
}

// convertFree converts one resource nobody holds with f.
func (m *model) convertFree(t *rapid.T, ok func(r *resources.Resource) bool, f func(r resources.Resource) resources.Resource) {
	agentID := pick(t, m.agents, "agent")
	free := m.free(agentID)
	var candidates []resources.Resource
	for i := range free {
		if ok(&free[i]) {
			candidates = append(candidates, free[i])
		}
	}
	if len(candidates) == 0 {
		t.Skip("nothing free to convert")
	}
	r := rapid.SampledFrom(candidates).Draw(t, "resource")
	consumed, converted := resources.New(r), resources.New(f(r.Clone()))
	if !m.a.UpdateAvailable(agentID, consumed, converted) {
		t.Fatalf("UpdateAvailable(%s, %v, %v) refused free resources (%v)", agentID, consumed, converted, free)
	}
	ma := m.agents[agentID]
	ma.total = ma.total.Subtract(consumed).Add(converted)
}

func (m *model) reserveFree(t *rapid.T) {
	role := rapid.SampledFrom(reservedPool).Draw(t, "role")
	m.convertFree(t, func(r *resources.Resource) bool { return r.IsUnreserved() && r.Type == resources.TypeScalar },
		func(r resources.Resource) resources.Resource {
			r.Reservations = []resources.Reservation{{Type: resources.ReservationDynamic, Role: role}}
			return r
		})
}

func (m *model) unreserveFree(t *rapid.T) {
	m.convertFree(t, func(r *resources.Resource) bool { return r.IsDynamicallyReserved() },
		func(r resources.Resource) resources.Resource {
			r.Reservations = r.Reservations[:len(r.Reservations)-1]
			return r
		})
}

// badConversion asks for conversions the allocator must refuse: of more
// than an agent has free, of resources a framework does not hold, and of
// different quantities. Nothing may change (the "" check sees to it).
func (m *model) badConversion(t *rapid.T) {
	agentID := pick(t, m.agents, "agent")
	tooMuch := resources.New(scalar("cpus", 1000))
	reserved := tooMuch.PushReservation(resources.Reservation{Type: resources.ReservationDynamic, Role: "a"})
	if m.a.UpdateAvailable(agentID, tooMuch, reserved) {
		t.Fatalf("UpdateAvailable took more than agent %s has", agentID)
	}
	if m.a.UpdateAvailable(agentID, resources.New(scalar("cpus", 1)), resources.New(scalar("cpus", 2))) {
		t.Fatalf("UpdateAvailable changed quantities on agent %s", agentID)
	}
	fwID := pick(t, m.fws, "framework")
	if m.a.UpdateAllocation(fwID, agentID, tooMuch.AllocatedTo("a"), reserved.AllocatedTo("a")) {
		t.Fatalf("UpdateAllocation converted what framework %s does not hold", fwID)
	}
}
