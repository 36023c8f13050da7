package allocator

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gomesos/gomesos/resources"
	"pgregory.net/rapid"
)

// The quota model drives the allocator with random agents (some with
// reservations), frameworks, quotas and recoveries, and checks after
// every cycle: nothing is handed out twice, reservations go only to their
// role's subtree, no cycle takes a role's consumed quota over its limit,
// and a quota role's guarantee is met whenever the cluster has what it
// lacks. Refuse filters, suppression, GPU filtering and minimum sizes are
// left out (the other property test covers them): they may rightly keep
// a guarantee unmet.
type quotaModel struct {
	a      *HierarchicalDRF
	now    time.Time
	agents map[string]resources.Resources // totals
	fws    map[string][]string            // roles
	held   map[string]map[string]resources.Resources
	quotas map[string]Quota
	nextAg int
	nextFw int
}

var (
	quotaFwRoles       = []string{"*", "a", "b", "eng", "eng/x", "eng/y"}
	quotaRoles         = []string{"a", "b", "eng", "eng/x"}
	quotaReservedRoles = []string{"a", "eng", "eng/x", "b"}
	quotaNames         = []string{"cpus", "mem"}
)

func TestQuotaProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := &quotaModel{
			a:      New(Options{Seed: rapid.Int64().Draw(t, "seed"), MinAllocatable: []map[string]resources.Scalar{}}),
			now:    t0,
			agents: map[string]resources.Resources{},
			fws:    map[string][]string{},
			held:   map[string]map[string]resources.Resources{},
			quotas: map[string]Quota{},
		}
		t.Repeat(map[string]func(*rapid.T){
			"":                m.check,
			"AddAgent":        m.addAgent,
			"RemoveAgent":     m.removeAgent,
			"AddFramework":    m.addFramework,
			"RemoveFramework": m.removeFramework,
			"SetQuota":        m.setQuota,
			"RemoveQuota":     m.removeQuota,
			"Allocate":        m.allocate,
			"Allocate2":       m.allocate,
			"Recover":         m.recover,
		})
	})
}

func (m *quotaModel) check(t *rapid.T) {
	if err := m.a.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	for id, total := range m.agents {
		var out resources.Resources
		for _, byAgent := range m.held {
			out = out.Add(byAgent[id].Unallocated())
		}
		if !total.Contains(out) {
			t.Fatalf("agent %s: %v handed out, more than its total %v", id, out, total)
		}
		ag := m.a.agents[id]
		if taken := ag.total.Subtract(ag.available); !taken.Equal(out) {
			t.Fatalf("agent %s: allocator took %v, the master was handed %v", id, taken, out)
		}
	}
}

func (m *quotaModel) addAgent(t *rapid.T) {
	id := fmt.Sprintf("agent-%d", m.nextAg)
	m.nextAg++
	parts := []resources.Resource{
		scalar("cpus", rapid.Int64Range(1, 8).Draw(t, "cpus")),
		scalar("mem", rapid.Int64Range(1, 8).Draw(t, "mem")*256),
	}
	if rapid.Bool().Draw(t, "ports") {
		parts = append(parts, resources.PortsResource(resources.Range{Begin: 31000, End: 31010}))
	}
	if rapid.IntRange(0, 2).Draw(t, "reserved") == 0 {
		role := rapid.SampledFrom(quotaReservedRoles).Draw(t, "rrole")
		for _, r := range []resources.Resource{scalar("cpus", rapid.Int64Range(1, 3).Draw(t, "rcpus")), scalar("mem", 256)} {
			r.Reservations = []resources.Reservation{{Type: resources.ReservationStatic, Role: role}}
			parts = append(parts, r)
		}
	}
	total := resources.New(parts...)
	m.a.AddAgent(id, Agent{Hostname: id}, total, nil)
	m.agents[id] = total
}

func (m *quotaModel) removeAgent(t *rapid.T) {
	id := pick(t, m.agents, "agent")
	m.a.RemoveAgent(id)
	delete(m.agents, id)
	for fw := range m.held {
		delete(m.held[fw], id)
	}
}

func (m *quotaModel) addFramework(t *rapid.T) {
	id := fmt.Sprintf("fw-%d", m.nextFw)
	m.nextFw++
	roles := rapid.SliceOfNDistinct(rapid.SampledFrom(quotaFwRoles), 1, 2, rapid.ID[string]).Draw(t, "roles")
	m.a.AddFramework(id, Framework{Roles: roles, Capabilities: Capabilities{GPUResources: true}}, nil)
	m.fws[id] = roles
}

func (m *quotaModel) removeFramework(t *rapid.T) {
	id := pick(t, m.fws, "framework")
	m.a.RemoveFramework(id)
	delete(m.fws, id)
	delete(m.held, id)
}

// setQuota sets a quota that the operator side would accept: guarantees
// within limits, and eng/x's within eng's.
func (m *quotaModel) setQuota(t *rapid.T) {
	role := rapid.SampledFrom(quotaRoles).Draw(t, "quotaRole")
	q := Quota{Guarantees: map[string]resources.Scalar{}, Limits: map[string]resources.Scalar{}}
	parent, child := m.quotas["eng"], m.quotas["eng/x"]
	for _, name := range quotaNames {
		unit := int64(1)
		if name == "mem" {
			unit = 256
		}
		g := resources.ScalarFromInt(rapid.Int64Range(0, 8).Draw(t, "g "+name) * unit)
		var lim resources.Scalar = -1
		if rapid.Bool().Draw(t, "limited "+name) {
			lim = g + resources.ScalarFromInt(rapid.Int64Range(0, 8).Draw(t, "l "+name)*unit)
		}
		switch role {
		case "eng/x":
			if pg, ok := parent.Guarantees[name]; ok || !parent.IsZero() {
				g = min(g, pg)
			}
			if pl, ok := parent.Limits[name]; ok {
				if lim < 0 || lim > pl {
					lim = pl
				}
				g = min(g, lim)
			}
		case "eng":
			g = max(g, child.Guarantees[name])
			if cl, ok := child.Limits[name]; ok && lim >= 0 {
				lim = max(lim, cl, g)
			} else if ok {
				lim = -1
			}
		}
		if g > 0 {
			q.Guarantees[name] = g
		}
		if lim >= 0 {
			q.Limits[name] = lim
		}
	}
	m.a.UpdateQuota(role, q)
	if q.IsZero() {
		delete(m.quotas, role)
	} else {
		m.quotas[role] = q
	}
}

func (m *quotaModel) removeQuota(t *rapid.T) {
	role := pick(t, m.quotas, "quotaRole")
	if role == "eng" {
		// eng/x's quota must stay within eng's: it goes too.
		m.a.UpdateQuota("eng/x", Quota{})
		delete(m.quotas, "eng/x")
	}
	m.a.UpdateQuota(role, Quota{})
	delete(m.quotas, role)
}

func (m *quotaModel) recover(t *rapid.T) {
	fw := pick(t, m.held, "framework")
	agent := pick(t, m.held[fw], "agent")
	held := m.held[fw][agent]
	part := held
	if rapid.Bool().Draw(t, "part") {
		part = resources.New(held[rapid.IntRange(0, len(held)-1).Draw(t, "which")])
	}
	m.a.RecoverResources(fw, agent, part, 0, m.now)
	if rest := held.Subtract(part); rest.IsEmpty() {
		delete(m.held[fw], agent)
		if len(m.held[fw]) == 0 {
			delete(m.held, fw)
		}
	} else {
		m.held[fw][agent] = rest
	}
}

// consumed is a role's consumed quota as Mesos counts it: what its
// subtree holds of unreserved non-revocable scalars plus every
// reservation to a role of its subtree.
func (m *quotaModel) consumed(role string) map[string]resources.Scalar {
	out := map[string]resources.Scalar{}
	for _, byAgent := range m.held {
		for _, rs := range byAgent {
			for _, r := range rs {
				if under(r.AllocationRole, role) && quotaResource(&r) {
					out[r.Name] += r.Scalar
				}
			}
		}
	}
	for _, total := range m.agents {
		for _, r := range total {
			if r.Type == resources.TypeScalar && r.IsReserved() && under(r.ReservationRole(), role) {
				out[r.Name] += r.Scalar
			}
		}
	}
	return out
}

func (m *quotaModel) allocate(t *rapid.T) {
	m.now = m.now.Add(time.Second)
	availBefore, reqBefore := m.headroom()
	before := map[string]map[string]resources.Scalar{}
	for role := range m.quotas {
		before[role] = m.consumed(role)
	}
	seen := map[string]bool{}
	for _, o := range m.a.Allocate(m.now) {
		key := o.FrameworkID + "|" + o.AgentID + "|" + o.Role
		if seen[key] {
			t.Fatalf("%v: a second allocation for the framework, agent and role in one cycle", o)
		}
		seen[key] = true
		if m.fws[o.FrameworkID] == nil || m.agents[o.AgentID] == nil || !slices.Contains(m.fws[o.FrameworkID], o.Role) {
			t.Fatalf("%v: unknown framework or agent, or role not subscribed", o)
		}
		for _, r := range o.Resources {
			if r.AllocationRole != o.Role || !r.IsAllocatableTo(o.Role) {
				t.Fatalf("%v: resource %v may not be offered to role %s", o, r, o.Role)
			}
		}
		addTo(m.held, o.FrameworkID, o.AgentID, o.Resources)
	}
	m.check(t)

	// Headroom: a cycle leaves the free unreserved resources at least at
	// what unmet guarantees still need, or, when they were short of it
	// already, no shorter.
	availAfter, reqAfter := m.headroom()
	for _, name := range quotaNames {
		if availAfter[name]-reqAfter[name] < min(0, availBefore[name]-reqBefore[name]) {
			t.Fatalf("%s: %v free and %v needed for guarantees after the cycle, %v and %v before", name, availAfter[name], reqAfter[name], availBefore[name], reqBefore[name])
		}
	}

	// Limits: no cycle takes a role over its limit (a role already over
	// it, its limit lowered, may stay there).
	for role, q := range m.quotas {
		after := m.consumed(role)
		for name, lim := range q.Limits {
			if after[name] > max(lim, before[role][name]) {
				t.Fatalf("role %s consumes %v %s after the cycle (%v before), over its limit %v", role, after[name], name, before[role][name], lim)
			}
		}
	}

	// Guarantees: a quota role without quota sub-roles, with a framework
	// subscribed to it, has its guarantee met unless no agent has any of
	// what it lacks (for names no limit on its chain bounds).
	for role, q := range m.quotas {
		if role == "eng" && !m.quotas["eng/x"].IsZero() {
			continue
		}
		if !slices.ContainsFunc(sortedKeys(m.fws), func(fw string) bool { return slices.Contains(m.fws[fw], role) }) {
			continue
		}
		got := m.consumed(role)
		for name, g := range q.Guarantees {
			if got[name] >= g || m.limitedOnChain(role, name) {
				continue
			}
			for _, id := range sortedKeys(m.agents) {
				free := m.a.agents[id].available.Filter(quotaResource).ScalarQuantity(name)
				if free > 0 {
					t.Fatalf("role %s consumes %v %s, under its guarantee %v, while agent %s has %v free", role, got[name], name, g, id, free)
				}
			}
		}
	}
}

// headroom returns the free unreserved non-revocable resources and what
// the quota roles still need of their guarantees: a role with quota
// sub-roles needs the larger of its own unmet guarantee and what they
// need.
func (m *quotaModel) headroom() (avail, required map[string]resources.Scalar) {
	avail, required = map[string]resources.Scalar{}, map[string]resources.Scalar{}
	for id := range m.agents {
		for _, r := range m.a.agents[id].available.Filter(quotaResource) {
			avail[r.Name] += r.Scalar
		}
	}
	need := func(role string) map[string]resources.Scalar {
		out := map[string]resources.Scalar{}
		got := m.consumed(role)
		for name, g := range m.quotas[role].Guarantees {
			out[name] = max(g-got[name], 0)
		}
		return out
	}
	for _, role := range []string{"a", "b"} {
		for name, v := range need(role) {
			required[name] += v
		}
	}
	x := need("eng/x")
	if m.quotas["eng"].IsZero() {
		for name, v := range x {
			required[name] += v
		}
		return avail, required
	}
	for name, v := range need("eng") {
		x[name] = max(x[name], v)
	}
	for name, v := range x {
		required[name] += v
	}
	return avail, required
}

func (m *quotaModel) limitedOnChain(role, name string) bool {
	for r := role; r != ""; r = parentPath(r) {
		if _, ok := m.quotas[r].Limits[name]; ok {
			return true
		}
	}
	return false
}

// Without quota, weighted DRF holds within a cycle: whenever an agent went
// to a role, that role had the lowest weighted share, so at the end no
// role's weighted share exceeds another's by more than one agent's worth.
func TestWeightedDRFHoldsWithoutQuota(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := New(Options{Seed: rapid.Int64().Draw(t, "seed")})
		nAgents := rapid.IntRange(1, 40).Draw(t, "agents")
		cpus := rapid.Int64Range(1, 4).Draw(t, "cpus")
		mem := rapid.Int64Range(1, 8).Draw(t, "mem") * 256
		for i := range nAgents {
			a.AddAgent(fmt.Sprintf("agent-%d", i), Agent{}, resources.New(scalar("cpus", cpus), scalar("mem", mem)), nil)
		}
		roles := rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"a", "b", "c", "d/x"}), 1, 4, rapid.ID[string]).Draw(t, "roles")
		weights := map[string]float64{}
		for _, r := range roles {
			weights[r] = float64(rapid.IntRange(1, 4).Draw(t, "weight "+r))
		}
		weights["d"] = weights["d/x"]
		a.UpdateWeights(weights)
		for i, r := range roles {
			for j := range rapid.IntRange(1, 3).Draw(t, "frameworks "+r) {
				a.AddFramework(fmt.Sprintf("fw-%d-%d", i, j), Framework{Roles: []string{r}}, nil)
			}
		}
		got := map[string]int{}
		for range rapid.IntRange(1, 3).Draw(t, "cycles") {
			for _, o := range a.Allocate(t0) {
				got[o.Role]++
			}
		}
		total := 0
		for _, n := range got {
			total += n
		}
		if total != nAgents {
			t.Fatalf("%d agents offered, want all %d", total, nAgents)
		}
		// Each agent is the same share of the cluster, so shares compare
		// as agent counts.
		for _, x := range roles {
			for _, y := range roles {
				if float64(got[x]-1)/weights[x] > float64(got[y])/weights[y]+1e-9 {
					t.Fatalf("role %s (weight %g) got %d agents, role %s (weight %g) %d: unfair", x, weights[x], got[x], y, weights[y], got[y])
				}
			}
		}
	})
}
