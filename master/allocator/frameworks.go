package allocator

import (
	"maps"
	"slices"

	"github.com/gomesos/gomesos/resources"
)

type framework struct {
	id         string
	roles      map[string]bool // subscribed roles
	firstRole  string          // charged with usage that names no role
	suppressed map[string]bool // subset of roles
	active     bool
	caps       Capabilities
	minAlloc   map[string][]qty // per-role override of the global minimum

	// constraints are its offer constraints (constraints.go).
	constraints *OfferConstraints
	// clients are the roles the framework is tracked under: its subscribed
	// roles and the roles where it still holds resources.
	clients map[string]*client
	// gen changes with the capabilities, which change what is offered, so
	// that memoized filter decisions are not reused across the change (see
	// refusal).
	gen uint64
}

// client is a framework inside one role: the unit the framework sorter of
// the role orders, and the holder of allocations and filters.
type client struct {
	fw        *framework
	role      *role
	alloc     qty
	share     float64
	offerable bool
	// holdsOn has bit agent.num set for the agents where it holds
	// resources, nAgents of them.
	holdsOn bitset
	nAgents int
	// refusedOn has bit agent.num set for the agents where it has filters.
	refusedOn bitset
	// idx numbers the client among the live ones (freed numbers are
	// reused), for the agents' refusal bitsets (see agent.refusedBits).
	idx int
}

func roleList(info Framework) []string {
	roles := make([]string, 0, len(info.Roles))
	for _, r := range info.Roles {
		if r == "" {
			r = "*"
		}
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	if len(roles) == 0 {
		roles = append(roles, "*")
	}
	return roles
}

// configure applies info to fw, apart from suppression. It returns the
// roles, and whether the capabilities or minimums changed.
func (a *HierarchicalDRF) configure(fw *framework, info Framework) ([]string, bool) {
	roles := roleList(info)
	fw.roles = make(map[string]bool, len(roles))
	for _, r := range roles {
		fw.roles[r] = true
	}
	fw.firstRole = roles[0]
	minAlloc := make(map[string][]qty, len(info.MinAllocatable))
	for role, sets := range info.MinAllocatable {
		minAlloc[role] = a.compileMin(sets)
	}
	changed := !maps.EqualFunc(fw.minAlloc, minAlloc, func(x, y []qty) bool {
		return slices.EqualFunc(x, y, func(p, q qty) bool { return slices.Equal(trim(p), trim(q)) })
	})
	fw.minAlloc = minAlloc
	if fw.constraints != info.OfferConstraints {
		changed = true // an agent ruled out before may be allowed now
		fw.constraints = info.OfferConstraints
	}
	if fw.gen == 0 || fw.caps != info.Capabilities {
		changed = true
		fw.caps = info.Capabilities
		a.seq++
		fw.gen = a.seq
	}
	return roles, changed
}

// AddFramework implements Allocator.
func (a *HierarchicalDRF) AddFramework(id string, info Framework, used map[string]resources.Resources) {
	if _, ok := a.frameworks[id]; ok {
		return
	}
	fw := &framework{
		id:         id,
		suppressed: map[string]bool{},
		active:     true,
		clients:    map[string]*client{},
	}
	roles, _ := a.configure(fw, info)
	for _, r := range info.SuppressedRoles {
		if fw.roles[r] {
			fw.suppressed[r] = true
		}
	}
	a.frameworks[id] = fw
	for _, r := range roles {
		a.ensureClient(fw, r)
	}

	// Usage that agents reported before the framework came back.
	held := a.pending[id]
	delete(a.pending, id)
	for _, ag := range sortedAgents(held) {
		res := ag.pending[id]
		delete(ag.pending, id)
		un := res.Unallocated()
		ag.give(un, a.toQty(un))
		a.chargeUsed(fw, ag, res)
	}
	// Usage the master reports; an agent that reported the framework's usage
	// itself is authoritative.
	for _, agentID := range sortedKeys(used) {
		ag := a.agents[agentID]
		if ag == nil {
			continue
		}
		if _, ok := held[ag]; ok {
			continue
		}
		a.chargeUsed(fw, ag, resources.New(used[agentID]...))
	}
}

// chargeUsed charges resources already in use on ag to fw, by their
// allocation roles, taking them from the agent's available resources.
func (a *HierarchicalDRF) chargeUsed(fw *framework, ag *agent, res resources.Resources) {
	for roleName, part := range byAllocationRole(res) {
		if part.IsEmpty() {
			continue
		}
		if roleName == "" {
			roleName = fw.firstRole
		}
		if !ag.canHold(part) {
			a.rejected++
			continue
		}
		a.charge(a.ensureClient(fw, roleName), ag, part, a.toQty(part), true)
	}
}

// UpdateFramework implements Allocator.
func (a *HierarchicalDRF) UpdateFramework(id string, info Framework) {
	fw := a.frameworks[id]
	if fw == nil {
		return
	}
	oldRoles, oldSuppressed := fw.roles, fw.suppressed
	roles, changed := a.configure(fw, info)

	suppressed := map[string]bool{}
	for _, r := range info.SuppressedRoles {
		if fw.roles[r] {
			suppressed[r] = true
		}
	}
	fw.suppressed = suppressed

	for _, r := range roles {
		c := a.ensureClient(fw, r)
		if oldSuppressed[r] && !suppressed[r] {
			a.clearFilters(c) // revived
		}
	}
	for _, r := range sortedKeys(oldRoles) {
		if fw.roles[r] {
			continue
		}
		if c := fw.clients[r]; c != nil {
			a.clearFilters(c)
			a.maybeDropClient(c)
		}
	}
	for _, r := range sortedKeys(fw.clients) {
		c := fw.clients[r]
		a.updateOfferable(c)
		if changed && c.offerable {
			a.noteEligible(c) // it may take what it would not take before
		}
	}
}

// RemoveFramework implements Allocator.
func (a *HierarchicalDRF) RemoveFramework(id string) {
	fw := a.frameworks[id]
	if fw == nil {
		// Release usage held for a framework that never came back.
		held := a.pending[id]
		delete(a.pending, id)
		for _, ag := range sortedAgents(held) {
			un := ag.pending[id].Unallocated()
			ag.give(un, a.toQty(un))
			delete(ag.pending, id)
		}
		return
	}
	for _, r := range sortedKeys(fw.clients) {
		c := fw.clients[r]
		for _, ag := range a.agentsOf(c) {
			res, _ := ag.allocOf(c)
			a.uncharge(c, ag, res, a.toQty(res), true)
		}
		a.clearFilters(c)
		a.dropClient(c)
	}
	delete(a.frameworks, id)
}

// ActivateFramework implements Allocator.
func (a *HierarchicalDRF) ActivateFramework(id string) {
	fw := a.frameworks[id]
	if fw == nil || fw.active {
		return
	}
	fw.active = true
	for _, r := range sortedKeys(fw.clients) {
		a.updateOfferable(fw.clients[r])
	}
}

// DeactivateFramework implements Allocator.
func (a *HierarchicalDRF) DeactivateFramework(id string) {
	fw := a.frameworks[id]
	if fw == nil {
		return
	}
	fw.active = false
	for _, r := range sortedKeys(fw.clients) {
		c := fw.clients[r]
		a.clearFilters(c)
		a.updateOfferable(c)
	}
}

// SuppressOffers implements Allocator.
func (a *HierarchicalDRF) SuppressOffers(frameworkID string, roles []string) {
	fw := a.frameworks[frameworkID]
	if fw == nil {
		return
	}
	if len(roles) == 0 {
		roles = sortedKeys(fw.roles)
	}
	for _, r := range roles {
		if !fw.roles[r] {
			continue
		}
		fw.suppressed[r] = true
		a.updateOfferable(fw.clients[r])
	}
}

// ReviveOffers implements Allocator.
func (a *HierarchicalDRF) ReviveOffers(frameworkID string, roles []string) {
	fw := a.frameworks[frameworkID]
	if fw == nil {
		return
	}
	if len(roles) == 0 {
		roles = sortedKeys(fw.roles)
	}
	for _, r := range roles {
		if !fw.roles[r] {
			continue
		}
		delete(fw.suppressed, r)
		c := fw.clients[r]
		a.clearFilters(c)
		a.updateOfferable(c)
	}
}

// ensureClient returns fw's client in role path, tracking fw under it.
func (a *HierarchicalDRF) ensureClient(fw *framework, path string) *client {
	if c := fw.clients[path]; c != nil {
		return c
	}
	r := a.ensureRole(path)
	c := &client{
		fw:   fw,
		role: r,
		idx:  a.newClientIdx(),
	}
	a.clientByIdx[c.idx] = c
	c.share = a.dominantShare(c.alloc)
	r.clients[fw.id] = c
	fw.clients[path] = c
	a.updateOfferable(c)
	return c
}

// maybeDropClient stops tracking a framework under a role it no longer
// subscribes to once it holds nothing there.
func (a *HierarchicalDRF) maybeDropClient(c *client) {
	if c.fw.roles[c.role.path] || c.nAgents > 0 {
		return
	}
	if a.frameworks[c.fw.id] != c.fw || c.fw.clients[c.role.path] != c {
		return // already dropped
	}
	a.clearFilters(c)
	a.dropClient(c)
}

func (a *HierarchicalDRF) dropClient(c *client) {
	if c.offerable {
		a.setOfferable(c, false)
	}
	delete(c.role.clients, c.fw.id)
	delete(c.fw.clients, c.role.path)
	a.maybeRemoveRole(c.role)
	// Its filters are gone, and with them its bits on every agent.
	a.clientByIdx[c.idx] = nil
	a.freeIdx = append(a.freeIdx, c.idx)
}

// newClientIdx returns the lowest free client number.
func (a *HierarchicalDRF) newClientIdx() int {
	if n := len(a.freeIdx); n > 0 {
		i := slices.Index(a.freeIdx, slices.Min(a.freeIdx))
		idx := a.freeIdx[i]
		a.freeIdx = slices.Delete(a.freeIdx, i, i+1)
		return idx
	}
	a.nextIdx++
	a.clientByIdx = append(a.clientByIdx, nil)
	return a.nextIdx - 1
}

// updateOfferable recomputes whether c may be offered resources.
func (a *HierarchicalDRF) updateOfferable(c *client) {
	fw := c.fw
	path := c.role.path
	a.setOfferable(c, fw.active && fw.roles[path] && !fw.suppressed[path])
}

func (a *HierarchicalDRF) setOfferable(c *client, on bool) {
	if c.offerable == on {
		return
	}
	c.offerable = on
	r := c.role
	if on {
		r.offerable.add(c)
		a.addActive(r, 1)
		a.noteEligible(c)
		return
	}
	r.offerable.remove(c)
	a.addActive(r, -1)
}

// clientShareChanged recomputes c's share after its allocation changed.
func (a *HierarchicalDRF) clientShareChanged(c *client) {
	c.share = a.dominantShare(c.alloc)
	if c.offerable {
		c.role.offerable.touch(c)
	}
}

// charge allocates res (unallocated resources, of quantities q) on ag to c;
// with take they are taken out of the agent's available resources.
func (a *HierarchicalDRF) charge(c *client, ag *agent, res resources.Resources, q qty, take bool) {
	if take {
		ag.take(res, q)
	}
	if cur, i := ag.allocOf(c); i >= 0 {
		ag.alloc[i].res = cur.Add(res)
	} else {
		ag.alloc = append(ag.alloc, holding{c: c, res: res})
		c.holdsOn.set(int(ag.num), true)
		c.nAgents++
	}
	c.alloc.add(q)
	a.clientShareChanged(c)
	a.chargeRole(c.role, q, +1)
}

// uncharge releases res (of quantities q), which what c holds on ag must
// contain; with giveBack the resources become available on the agent again.
func (a *HierarchicalDRF) uncharge(c *client, ag *agent, res resources.Resources, q qty, giveBack bool) {
	if ag.lastAlloc.c == c {
		// c's holding changes: it is no longer the last allocation
		// whole, which is all lastAlloc recognizes, so its slices need
		// not be kept (on 10,000 agents running tasks, tens of MiB).
		ag.lastAlloc = lastAlloc{}
	}
	cur, i := ag.allocOf(c)
	switch {
	case i < 0:
	case sameSlice(cur, res) || len(cur) == len(res) && cur.Equal(res):
		ag.dropAlloc(i)
		c.holdsOn.set(int(ag.num), false)
		c.nAgents--
	default:
		if rest := cur.Subtract(res); rest.IsEmpty() {
			ag.dropAlloc(i)
			c.holdsOn.set(int(ag.num), false)
			c.nAgents--
		} else {
			ag.alloc[i].res = rest
		}
	}
	if giveBack {
		ag.give(res, q)
	}
	c.alloc.sub(q)
	a.clientShareChanged(c)
	a.chargeRole(c.role, q, -1)
}
