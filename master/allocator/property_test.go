package allocator

import (
	"flag"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gomesos/gomesos/resources"
	"pgregory.net/rapid"
)

// The model is a second, naive bookkeeping of what the master would know:
// every allocation handed out and not yet recovered, and every refuse
// filter. The allocator is driven with random operations and must agree.
type model struct {
	a        *HierarchicalDRF
	now      time.Time
	interval time.Duration

	agents     map[string]*modelAgent
	fws        map[string]*modelFramework
	nextAgent  int
	nextFw     int
	nextVolume int

	// held: framework -> agent -> allocated resources (with roles) that
	// the framework holds; ghosts holds usage of frameworks not yet added.
	held   map[string]map[string]resources.Resources
	ghosts map[string]map[string]resources.Resources

	filters []modelFilter
	rejects uint64
}

type modelAgent struct {
	total  resources.Resources
	active bool
}

type modelFramework struct {
	roles      []string
	suppressed []string
	active     bool
	gpu        bool
}

type modelFilter struct {
	fw, role, agent string
	res             resources.Resources // unallocated
	expires         time.Time
}

var (
	rolePool     = []string{"*", "a", "a/x", "b"}
	reservedPool = []string{"a", "b"}
)

func TestResourcesAreNeverDoubleAllocated(t *testing.T) {
	// Filters and suppression take several steps to matter (offer, decline,
	// wait, allocate again): run longer sequences than rapid's default
	// unless -rapid.steps says otherwise.
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
			"":                    m.check,
			"AddAgent":            m.addAgent,
			"RemoveAgent":         m.removeAgent,
			"ToggleAgent":         m.toggleAgent,
			"AddFramework":        m.addFramework,
			"RemoveFramework":     m.removeFramework,
			"ToggleFramework":     m.toggleFramework,
			"UpdateFramework":     m.updateFramework,
			"Suppress":            m.suppress,
			"Revive":              m.revive,
			"Allocate":            m.allocate,
			"AllocateTwice":       m.allocateTwice,
			"Recover":             m.recover,
			"Recover2":            m.recover,
			"RecoverUnallocated":  m.recoverUnallocated,
			"DeclineAll":          m.declineAll,
			"RemoveGhost":         m.removeGhost,
			"AddFrameworkOfGhost": m.addGhostFramework,
		})
	})
}

func (m *model) check(t *rapid.T) {
	if err := m.a.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	// What the model says is out, summed per agent, must be exactly what
	// the allocator took out of the agent's total, and fit in it.
	out := map[string]resources.Resources{}
	for _, byAgent := range []map[string]map[string]resources.Resources{m.held, m.ghosts} {
		for _, perAgent := range byAgent {
			for ag, r := range perAgent {
				out[ag] = out[ag].Add(r.Unallocated())
			}
		}
	}
	for id, ma := range m.agents {
		if !ma.total.Contains(out[id]) {
			t.Fatalf("agent %s: %v handed out, more than its total %v", id, out[id], ma.total)
		}
		ag := m.a.agents[id]
		if taken := ag.total.Subtract(ag.available); !taken.Equal(out[id]) {
			t.Fatalf("agent %s: allocator took %v, the master was handed %v", id, taken, out[id])
		}
	}
	if len(m.a.agents) != len(m.agents) || len(m.a.frameworks) != len(m.fws) {
		t.Fatalf("allocator knows %d agents and %d frameworks, want %d and %d",
			len(m.a.agents), len(m.a.frameworks), len(m.agents), len(m.fws))
	}
	if got := m.a.Stats().RejectedRecoveries; got != m.rejects {
		t.Fatalf("%d rejected recoveries, want %d", got, m.rejects)
	}
}

func pick[V any](t *rapid.T, m map[string]V, label string) string {
	keys := sortedKeys(m)
	if len(keys) == 0 {
		t.Skip("nothing to pick")
	}
	return rapid.SampledFrom(keys).Draw(t, label)
}

func scalar(name string, v int64) resources.Resource {
	return resources.ScalarResource(name, resources.ScalarFromInt(v))
}

func (m *model) addAgent(t *rapid.T) {
	id := fmt.Sprintf("agent-%d", m.nextAgent)
	m.nextAgent++
	cpus := rapid.Int64Range(1, 16).Draw(t, "cpus")
	mem := rapid.Int64Range(1, 64).Draw(t, "mem") * 128
	parts := []resources.Resource{scalar("cpus", cpus), scalar("mem", mem)}
	if rapid.Bool().Draw(t, "ports") {
		parts = append(parts, resources.PortsResource(resources.Range{Begin: 31000, End: 31000 + rapid.Uint64Range(0, 100).Draw(t, "nports")}))
	}
	if rapid.IntRange(0, 4).Draw(t, "gpu") == 0 {
		parts = append(parts, scalar("gpus", 1))
	}
	if rapid.Bool().Draw(t, "disk") {
		parts = append(parts, scalar("disk", rapid.Int64Range(1, 8).Draw(t, "ndisk")*1024))
	}
	if rapid.Bool().Draw(t, "reserved") {
		r := scalar("cpus", rapid.Int64Range(1, 4).Draw(t, "rcpus"))
		r.Reservations = []resources.Reservation{{Type: resources.ReservationStatic, Role: rapid.SampledFrom(reservedPool).Draw(t, "rrole")}}
		parts = append(parts, r, scalar("mem", 256))
	}
	total := resources.New(parts...)

	// Some of it may already be in use, by a known framework or by one the
	// master has not seen again yet.
	used := map[string]resources.Resources{}
	if rapid.Bool().Draw(t, "used") {
		fw := fmt.Sprintf("ghost-%d", rapid.IntRange(0, 2).Draw(t, "ghost"))
		if len(m.fws) > 0 && rapid.Bool().Draw(t, "known") {
			fw = pick(t, m.fws, "user")
		}
		role := rapid.SampledFrom(rolePool).Draw(t, "usedRole")
		u := resources.New(scalar("cpus", rapid.Int64Range(1, cpus).Draw(t, "usedCpus"))).AllocatedTo(role)
		used[fw] = u
		if m.fws[fw] != nil {
			addTo(m.held, fw, id, u)
		} else {
			addTo(m.ghosts, fw, id, u)
		}
	}
	m.a.AddAgent(id, Agent{Hostname: id}, total, used)
	m.agents[id] = &modelAgent{total: total, active: true}
}

func addTo(mm map[string]map[string]resources.Resources, fw, agent string, r resources.Resources) {
	if mm[fw] == nil {
		mm[fw] = map[string]resources.Resources{}
	}
	mm[fw][agent] = mm[fw][agent].Add(r)
}

func (m *model) removeAgent(t *rapid.T) {
	id := pick(t, m.agents, "agent")
	m.a.RemoveAgent(id)
	delete(m.agents, id)
	for _, mm := range []map[string]map[string]resources.Resources{m.held, m.ghosts} {
		for fw := range mm {
			delete(mm[fw], id)
		}
	}
	m.dropFilters(func(f modelFilter) bool { return f.agent == id })
	m.forgetUntracked()
}

func (m *model) toggleAgent(t *rapid.T) {
	id := pick(t, m.agents, "agent")
	ag := m.agents[id]
	ag.active = !ag.active
	if ag.active {
		m.a.ActivateAgent(id)
	} else {
		m.a.DeactivateAgent(id)
	}
}

func drawRoles(t *rapid.T, label string) []string {
	return rapid.SliceOfNDistinct(rapid.SampledFrom(rolePool), 1, 3, rapid.ID[string]).Draw(t, label)
}

func drawSubset(t *rapid.T, of []string, label string) []string {
	var out []string
	for _, r := range of {
		if rapid.IntRange(0, 3).Draw(t, label+" "+r) == 0 {
			out = append(out, r)
		}
	}
	return out
}

func (m *model) newFramework(t *rapid.T, id string) {
	roles := drawRoles(t, "roles")
	fw := &modelFramework{
		roles:      roles,
		suppressed: drawSubset(t, roles, "suppressed"),
		active:     true,
		gpu:        rapid.Bool().Draw(t, "gpuCapable"),
	}
	m.a.AddFramework(id, Framework{Roles: fw.roles, SuppressedRoles: fw.suppressed, Capabilities: Capabilities{GPUResources: fw.gpu}}, nil)
	m.fws[id] = fw
}

func (m *model) addFramework(t *rapid.T) {
	id := fmt.Sprintf("fw-%d", m.nextFw)
	m.nextFw++
	m.newFramework(t, id)
}

func (m *model) addGhostFramework(t *rapid.T) {
	id := pick(t, m.ghosts, "ghost")
	m.newFramework(t, id)
	for ag, r := range m.ghosts[id] {
		addTo(m.held, id, ag, r)
	}
	delete(m.ghosts, id)
}

func (m *model) removeGhost(t *rapid.T) {
	id := pick(t, m.ghosts, "ghost")
	m.a.RemoveFramework(id)
	delete(m.ghosts, id)
}

func (m *model) removeFramework(t *rapid.T) {
	id := pick(t, m.fws, "framework")
	m.a.RemoveFramework(id)
	delete(m.fws, id)
	delete(m.held, id)
	m.dropFilters(func(f modelFilter) bool { return f.fw == id })
}

func (m *model) toggleFramework(t *rapid.T) {
	id := pick(t, m.fws, "framework")
	fw := m.fws[id]
	fw.active = !fw.active
	if fw.active {
		m.a.ActivateFramework(id)
	} else {
		m.a.DeactivateFramework(id)
		m.dropFilters(func(f modelFilter) bool { return f.fw == id })
	}
}

func (m *model) updateFramework(t *rapid.T) {
	id := pick(t, m.fws, "framework")
	fw := m.fws[id]
	roles := drawRoles(t, "roles")
	suppressed := drawSubset(t, roles, "suppressed")
	m.dropFilters(func(f modelFilter) bool {
		return f.fw == id && (!slices.Contains(roles, f.role) ||
			slices.Contains(fw.suppressed, f.role) && !slices.Contains(suppressed, f.role))
	})
	fw.roles, fw.suppressed = roles, suppressed
	fw.gpu = rapid.Bool().Draw(t, "gpuCapable")
	m.a.UpdateFramework(id, Framework{Roles: roles, SuppressedRoles: suppressed, Capabilities: Capabilities{GPUResources: fw.gpu}})
}

func (m *model) suppress(t *rapid.T) {
	id := pick(t, m.fws, "framework")
	fw := m.fws[id]
	roles := drawSubset(t, fw.roles, "roles")
	m.a.SuppressOffers(id, roles)
	if len(roles) == 0 {
		roles = fw.roles
	}
	for _, r := range roles {
		if !slices.Contains(fw.suppressed, r) {
			fw.suppressed = append(fw.suppressed, r)
		}
	}
}

func (m *model) revive(t *rapid.T) {
	id := pick(t, m.fws, "framework")
	fw := m.fws[id]
	roles := drawSubset(t, fw.roles, "roles")
	m.a.ReviveOffers(id, roles)
	if len(roles) == 0 {
		roles = fw.roles
	}
	fw.suppressed = slices.DeleteFunc(fw.suppressed, func(r string) bool { return slices.Contains(roles, r) })
	m.dropFilters(func(f modelFilter) bool { return f.fw == id && slices.Contains(roles, f.role) })
}

func (m *model) dropFilters(drop func(modelFilter) bool) {
	m.filters = slices.DeleteFunc(m.filters, drop)
}

// allocateTwice runs two cycles with nothing in between but time, long
// enough for short filters to expire.
func (m *model) allocateTwice(t *rapid.T) {
	m.allocate(t)
	m.allocate(t)
}

func (m *model) allocate(t *rapid.T) {
	m.now = m.now.Add(time.Duration(rapid.IntRange(0, 6000).Draw(t, "ms")) * time.Millisecond)
	m.dropFilters(func(f modelFilter) bool { return !m.now.Before(f.expires) })
	seen := map[string]bool{}
	for _, o := range m.a.Allocate(m.now) {
		key := o.FrameworkID + "|" + o.AgentID + "|" + o.Role
		switch fw, ag := m.fws[o.FrameworkID], m.agents[o.AgentID]; {
		case seen[key]:
			t.Fatalf("%v: a second allocation for the framework, agent and role", o)
		case fw == nil || ag == nil:
			t.Fatalf("%v: unknown framework or agent", o)
		case !fw.active || !ag.active:
			t.Fatalf("%v: inactive framework or agent", o)
		case !slices.Contains(fw.roles, o.Role) || slices.Contains(fw.suppressed, o.Role):
			t.Fatalf("%v: role not subscribed or suppressed", o)
		case !fw.gpu && ag.total.GPUs() > 0:
			t.Fatalf("%v: GPU agent for a framework without GPU_RESOURCES", o)
		case o.Resources.IsEmpty():
			t.Fatalf("%v: empty allocation", o)
		}
		seen[key] = true
		un := o.Resources.Unallocated()
		for _, r := range o.Resources {
			if r.AllocationRole != o.Role || !r.IsAllocatableTo(o.Role) {
				t.Fatalf("%v: resource %v may not be allocated to %s", o, r, o.Role)
			}
		}
		for _, f := range m.filters {
			if f.fw == o.FrameworkID && f.agent == o.AgentID && f.role == o.Role && f.res.Contains(un) {
				t.Fatalf("%v: offered despite a filter for %v until %v (now %v)", o, f.res, f.expires, m.now)
			}
		}
		addTo(m.held, o.FrameworkID, o.AgentID, o.Resources)
	}

	// And nothing is left that someone could take: whatever an active agent
	// still has is, for every framework that could be offered it, below
	// the minimum, on a GPU agent, or covered by one of its filters.
	for _, id := range sortedKeys(m.agents) {
		ma := m.agents[id]
		if !ma.active {
			continue
		}
		for _, fwID := range sortedKeys(m.fws) {
			fw := m.fws[fwID]
			if !fw.active || !fw.gpu && ma.total.GPUs() > 0 {
				continue
			}
			for _, role := range fw.roles {
				offer := m.a.agents[id].available.AllocatableTo(role)
				if slices.Contains(fw.suppressed, role) || offer.IsEmpty() ||
					offer.CPUs() < resources.ScalarFromFloat(0.01) && offer.Mem() < resources.ScalarFromInt(32) {
					continue
				}
				if !slices.ContainsFunc(m.filters, func(f modelFilter) bool {
					return f.fw == fwID && f.agent == id && f.role == role && f.res.Contains(offer)
				}) {
					t.Fatalf("agent %s: %v left unoffered, though %s could take it in %s", id, offer, fwID, role)
				}
			}
		}
	}
}

// holds reports whether framework fw holds resources allocated to role.
func (m *model) holds(fw, role string) bool {
	for _, r := range m.held[fw] {
		if _, ok := r.Allocations()[role]; ok {
			return true
		}
	}
	return false
}

// forgetUntracked drops the filters of roles a framework neither subscribes
// to nor holds resources in: the allocator stops tracking it there.
func (m *model) forgetUntracked() {
	m.dropFilters(func(f modelFilter) bool {
		fw := m.fws[f.fw]
		return fw == nil || !slices.Contains(fw.roles, f.role) && !m.holds(f.fw, f.role)
	})
}

func (m *model) recover(t *rapid.T) {
	fwID := pick(t, m.held, "framework")
	agentID := pick(t, m.held[fwID], "agent")
	held := m.held[fwID][agentID]
	// All of it, one resource of it, or a part of a scalar.
	var part resources.Resources
	switch rapid.IntRange(0, 2).Draw(t, "how") {
	case 0:
		part = held
	case 1:
		part = resources.New(held[rapid.IntRange(0, len(held)-1).Draw(t, "which")])
	case 2:
		r := held[rapid.IntRange(0, len(held)-1).Draw(t, "which")]
		if r.Type != resources.TypeScalar || r.Scalar < 2 || r.IsPersistentVolume() {
			t.Skip("not a divisible scalar") // a volume is recovered whole
		}
		r.Scalar /= 2
		part = resources.New(r)
	}
	refuse := []time.Duration{0, time.Second, time.Hour, MaxRefuse}[rapid.IntRange(0, 3).Draw(t, "refuse")]
	m.a.RecoverResources(fwID, agentID, part, refuse, m.now)

	rest := held.Subtract(part)
	if rest.IsEmpty() {
		delete(m.held[fwID], agentID)
		if len(m.held[fwID]) == 0 {
			delete(m.held, fwID)
		}
	} else {
		m.held[fwID][agentID] = rest
	}
	m.forgetUntracked()
	fw := m.fws[fwID]
	if refuse <= 0 || fw == nil {
		return
	}
	for role, r := range part.Allocations() {
		if slices.Contains(fw.roles, role) || m.holds(fwID, role) {
			m.filters = append(m.filters, modelFilter{
				fw: fwID, role: role, agent: agentID,
				res:     resources.Resources(r).Unallocated(),
				expires: m.now.Add(max(min(refuse, MaxRefuse), m.interval)),
			})
		}
	}
}

func (m *model) recoverUnallocated(t *rapid.T) {
	fwID := pick(t, m.fws, "framework")
	agentID := pick(t, m.agents, "agent")
	role := rapid.SampledFrom(rolePool).Draw(t, "role")
	m.a.RecoverResources(fwID, agentID, resources.New(scalar("cpus", 1000)).AllocatedTo(role), time.Hour, m.now)
	m.rejects++
}

// declineAll is a framework declining every offer it holds, as frameworks
// with nothing to run do.
func (m *model) declineAll(t *rapid.T) {
	fwID := pick(t, m.held, "framework")
	refuse := []time.Duration{0, time.Second, 5 * time.Second, time.Hour}[rapid.IntRange(0, 3).Draw(t, "refuse")]
	fw := m.fws[fwID]
	for _, agentID := range sortedKeys(m.held[fwID]) {
		part := m.held[fwID][agentID]
		m.a.RecoverResources(fwID, agentID, part, refuse, m.now)
		delete(m.held[fwID], agentID)
		m.forgetUntracked()
		if refuse <= 0 {
			continue
		}
		for role, r := range part.Allocations() {
			if slices.Contains(fw.roles, role) || m.holds(fwID, role) {
				m.filters = append(m.filters, modelFilter{
					fw: fwID, role: role, agent: agentID,
					res:     resources.Resources(r).Unallocated(),
					expires: m.now.Add(max(refuse, m.interval)),
				})
			}
		}
	}
	delete(m.held, fwID)
}
