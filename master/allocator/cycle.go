package allocator

import (
	"iter"
	"slices"
	"time"

	"github.com/gomesos/gomesos/resources"
)

// Allocate implements Allocator.
//
// One cycle visits the active agents with available resources in a seeded
// random order (only those that changed since the last cycle when no
// framework became newly eligible: the others would give nothing). For each agent it walks the roles in weighted DRF order and,
// inside each role, the offerable frameworks in DRF order; the first
// framework that may take what the agent has for the role gets all of it.
// Shares are updated as allocations are made, so fairness holds inside the
// cycle too. A framework gets at most one allocation per agent and role.
func (a *HierarchicalDRF) Allocate(now time.Time) []Allocation {
	a.runs++
	a.expireFilters(now)
	a.refreshShares()
	if len(a.quotas) > 0 {
		return a.allocateWithQuota()
	}

	// The agents that may have something for someone: all of them when a
	// framework became newly eligible since the last cycle, else only
	// those that changed since (the others are blocked, or have nothing).
	cands := a.candidates[:0]
	if a.fullScan || a.eligibility != a.scanEpoch {
		for _, ag := range a.agentList {
			if ag.active && len(ag.available) > 0 {
				cands = append(cands, ag)
			}
		}
	} else {
		for _, ag := range a.touched {
			if !ag.removed && ag.active && len(ag.available) > 0 {
				cands = append(cands, ag)
			}
		}
	}
	for _, ag := range a.touched {
		ag.touched = false
	}
	clear(a.touched)
	a.touched = a.touched[:0]
	a.fullScan, a.scanEpoch = false, a.eligibility
	a.rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })

	// The allocations are gathered in a buffer kept across cycles and
	// copied out at the end into a slice of their exact size: growing the
	// result by appending made several times its size in garbage per cycle
	// (10,000 allocations, 720 KB, came with 3 MB of copies), and garbage
	// brings the collector, whose marking is most of a slow cycle.
	out := a.outBuf[:0]
	order := a.roleOrder[:0]
	computed, version := false, uint64(0)
	for _, ag := range cands {
		if ag.blocked && ag.blockedGen == ag.gen && a.stillBlocked(ag) {
			ag.blockedEpoch = a.eligibility
			continue
		}
		// Like Mesos, the roles are sorted afresh for every agent; the
		// version spares the walk when no share changed in between.
		if !computed || version != a.orderVersion {
			order = a.appendRoleOrder(order[:0], a.root)
			computed, version = true, a.orderVersion
		}
		made := len(out)
		for _, r := range order {
			if len(ag.available) == 0 {
				break
			}
			out = a.allocateRole(ag, r, out)
		}
		// Whether a framework takes what an agent has depends on the
		// agent's available resources, on the framework being offerable, on
		// its capabilities and minimums and on its filters on the agent, not
		// on shares. So if nobody took anything, nobody will until one of
		// those changes: the agent is blocked (see stillBlocked).
		ag.blocked = len(out) == made
		ag.blockedGen, ag.blockedEpoch = ag.gen, a.eligibility
	}

	clear(cands)
	a.candidates = cands[:0]
	clear(order)
	a.roleOrder = order[:0]
	if len(out) == 0 {
		a.outBuf = out
		return nil
	}
	res := slices.Clone(out)
	clear(out) // the buffer must not keep resources alive
	a.outBuf = out[:0]
	return res
}

// eligibilityLog is how many recent eligibility changes are remembered.
const eligibilityLog = 64

// noteEligible records that c may take resources it would not take
// before: it became offerable, or its capabilities or minimums changed.
// (Losing a filter unblocks just that filter's agent.)
func (a *HierarchicalDRF) noteEligible(c *client) {
	a.eligibility++
	a.eligible[a.eligibility%eligibilityLog] = c
}

// stillBlocked reports whether a blocked agent whose available resources
// did not change stays blocked: no framework that became eligible since it
// was blocked would take anything. With more changes than the log holds,
// the agent is examined in full.
func (a *HierarchicalDRF) stillBlocked(ag *agent) bool {
	n := a.eligibility - ag.blockedEpoch
	if n > eligibilityLog {
		return false
	}
	for e := ag.blockedEpoch + 1; e <= a.eligibility; e++ {
		c := a.eligible[e%eligibilityLog]
		if !c.offerable {
			continue
		}
		avail, availQ := a.availableTo(ag, c.role)
		if len(avail) == 0 {
			continue
		}
		if _, ok := a.takes(c, ag, avail, availQ); ok {
			return false
		}
	}
	return true
}

// availableTo returns what ag has for role r, and its quantities.
func (a *HierarchicalDRF) availableTo(ag *agent, r *role) (resources.Resources, qty) {
	if !ag.special {
		return ag.available, ag.availQ
	}
	avail := ag.available.AllocatableTo(r.path)
	if avail.IsEmpty() {
		return nil, nil
	}
	if ag.hasShared {
		avail = a.withSharedOf(ag, avail, r.path)
	}
	return avail, a.toQty(avail)
}

// takes returns what c would be offered out of avail (what ag has for c's
// role, of quantities availQ), and whether c may be offered it: it reaches
// c's minimum, c may receive the agent's resources, and no filter covers it.
func (a *HierarchicalDRF) takes(c *client, ag *agent, avail resources.Resources, availQ qty) (resources.Resources, bool) {
	fw, role := c.fw, c.role.path
	if !a.allocatable(availQ, role, fw) {
		return nil, false
	}
	if a.filterGPU && ag.hasGPU && !fw.caps.GPUResources {
		return nil, false
	}
	if !fw.constraints.Allows(role, &ag.info) {
		return nil, false
	}
	offer := avail
	if ag.special {
		offer = stripIncapable(avail, fw.caps)
		if offer.IsEmpty() || !a.allocatable(a.toQty(offer), role, fw) {
			return nil, false
		}
	}
	if a.refused(c, ag, offer) {
		return nil, false
	}
	return offer, true
}

// allocateRole offers what ag has for role r to the first framework of r
// that may take it.
func (a *HierarchicalDRF) allocateRole(ag *agent, r *role, out []Allocation) []Allocation {
	avail, availQ := a.availableTo(ag, r)
	if len(avail) == 0 {
		return out
	}
	// An agent declined before usually has the declined resources again,
	// and most frameworks' newest filter there holds exactly them: one bit
	// test each (see refused).
	declined := !ag.special && sameSlice(ag.lastRefused(), avail)
	for _, c := range r.offerable.sorted(clientCmp) {
		if declined && ag.newestBits.has(c.idx) {
			continue
		}
		offer, ok := a.takes(c, ag, avail, availQ)
		if !ok {
			continue
		}
		given := ag.allocatedTo(offer, r.path)
		out = append(out, Allocation{
			FrameworkID: c.fw.id,
			AgentID:     ag.id,
			Role:        r.path,
			Resources:   given,
		})
		ag.lastAlloc = lastAlloc{c: c, out: given, un: offer}
		if !ag.special {
			// The framework takes everything the agent has: charge it
			// with the agent's quantities before they are cleared.
			a.charge(c, ag, offer, ag.availQ, false)
			ag.takeAll()
			return out
		}
		a.charge(c, ag, offer, a.toQty(offer), true)
		if avail, availQ = a.availableTo(ag, r); len(avail) == 0 {
			return out
		}
	}
	return out
}

// allocatable reports whether resources with quantities q reach the
// minimum allocatable size for fw in role (q is of non-empty resources).
func (a *HierarchicalDRF) allocatable(q qty, role string, fw *framework) bool {
	mins := a.minAlloc
	if len(fw.minAlloc) > 0 {
		if m, ok := fw.minAlloc[role]; ok {
			mins = m
		}
	}
	if len(mins) == 0 {
		return true
	}
	for _, m := range mins {
		if q.covers(m) {
			return true
		}
	}
	return false
}

// RecoverResources implements Allocator.
func (a *HierarchicalDRF) RecoverResources(frameworkID, agentID string, res resources.Resources, refuse time.Duration, now time.Time) {
	ag := a.agents[agentID]
	if ag == nil {
		return
	}
	fw := a.frameworks[frameworkID]
	if l := ag.lastAlloc; fw != nil && l.c != nil && l.c.fw == fw && sameSlice(res, l.out) && ag.holdsWhole(l.c, l.un) {
		// The very resources of the agent's last allocation, which their
		// holder still holds whole: the master handing back an offer, the
		// usual recovery. What they are made of is known.
		ag.lastAlloc = lastAlloc{}
		a.recoverPart(fw, l.c, ag, l.un, refuse, now)
		return
	}
	res = resources.New(res...)
	if res.IsEmpty() {
		return
	}
	if fw == nil {
		a.recoverHeld(frameworkID, ag, res)
		return
	}

	// Check everything before changing anything: a recovery is taken
	// whole or refused whole.
	type part struct {
		c   *client
		res resources.Resources
	}
	var parts []part
	for roleName, un := range byAllocationRole(res) {
		c := a.holder(fw, ag, roleName)
		if c == nil {
			a.rejected++
			return
		}
		found := false
		for i := range parts {
			if parts[i].c == c {
				parts[i].res = parts[i].res.Add(un)
				found = true
				break
			}
		}
		if !found {
			parts = append(parts, part{c, un})
		}
	}
	for _, p := range parts {
		if held, _ := ag.allocOf(p.c); !held.Contains(p.res) {
			a.rejected++
			return
		}
	}
	for _, p := range parts {
		a.recoverPart(fw, p.c, ag, p.res, refuse, now)
	}
}

// recoverPart gives back res (unallocated), which c of fw holds on ag, and
// installs a refuse filter on it when refuse > 0.
func (a *HierarchicalDRF) recoverPart(fw *framework, c *client, ag *agent, res resources.Resources, refuse time.Duration, now time.Time) {
	if refuse <= 0 {
		a.uncharge(c, ag, res, a.toQty(res), true)
		a.maybeDropClient(c)
		return
	}
	// Give back the very slice the filter will hold (see refused).
	id := ag.canonical(res)
	s := &ag.shapes[id]
	if s.q == nil {
		s.q = a.toQty(s.res)
	}
	a.uncharge(c, ag, s.res, s.q, true)
	a.maybeDropClient(c)
	if fw.clients[c.role.path] == c {
		a.addFilter(c, ag, id, refuse, now)
	}
}

// holder returns fw's client in roleName; for resources that name no role,
// the only client of fw holding resources on ag.
func (a *HierarchicalDRF) holder(fw *framework, ag *agent, roleName string) *client {
	if roleName != "" {
		return fw.clients[roleName]
	}
	var found *client
	for _, c := range fw.clients {
		if _, i := ag.allocOf(c); i >= 0 {
			if found != nil {
				return nil // ambiguous
			}
			found = c
		}
	}
	return found
}

// recoverHeld releases usage held on ag for a framework not yet added.
func (a *HierarchicalDRF) recoverHeld(frameworkID string, ag *agent, res resources.Resources) {
	held, ok := ag.pending[frameworkID]
	if !ok || !held.Contains(res) {
		a.rejected++
		return
	}
	if rest := held.Subtract(res); rest.IsEmpty() {
		delete(ag.pending, frameworkID)
		delete(a.pending[frameworkID], ag)
		if len(a.pending[frameworkID]) == 0 {
			delete(a.pending, frameworkID)
		}
	} else {
		ag.pending[frameworkID] = rest
	}
	un := res.Unallocated()
	ag.give(un, a.toQty(un))
}

// byAllocationRole yields res split by allocation role, each part without
// its allocation role, in role order.
func byAllocationRole(res resources.Resources) iter.Seq2[string, resources.Resources] {
	return func(yield func(string, resources.Resources) bool) {
		uniform := true
		for i := range res {
			if res[i].AllocationRole != res[0].AllocationRole {
				uniform = false
				break
			}
		}
		if uniform {
			if len(res) > 0 {
				yield(res[0].AllocationRole, res.Unallocated())
			}
			return
		}
		groups := res.Allocations()
		for _, role := range sortedKeys(groups) {
			if !yield(role, resources.Resources(groups[role]).Unallocated()) {
				return
			}
		}
	}
}
