package allocator

import "github.com/gomesos/gomesos/resources"

// Operations that change what an agent's resources are without changing
// how much there is of them: RESERVE, UNRESERVE, CREATE, DESTROY,
// GROW_VOLUME and SHRINK_VOLUME convert some resources (consumed) into
// others (converted) of the same quantities. The master applies them to
// an agent's total, and here to the allocator's view of it: either to
// resources a framework holds (an accepted offer) or to resources nobody
// holds (the operator API).

// UpdateAllocation implements Allocator.
func (a *HierarchicalDRF) UpdateAllocation(frameworkID, agentID string, consumed, converted resources.Resources) bool {
	ag, fw := a.agents[agentID], a.frameworks[frameworkID]
	if ag == nil || fw == nil || consumed.IsEmpty() {
		return false
	}
	role := consumed[0].AllocationRole
	for i := range consumed {
		if consumed[i].AllocationRole != role {
			return false
		}
	}
	c := a.holder(fw, ag, role)
	if c == nil {
		return false
	}
	un, conv := consumed.Unallocated(), converted.Unallocated()
	held, i := ag.allocOf(c)
	if i < 0 || !held.Contains(un) || !ag.total.Contains(un) || !sameQuantities(a, un, conv) {
		return false
	}
	if ag.hasShared && !a.soleCopies(ag, un.Shared(), 1) {
		return false // others hold copies of a shared resource it consumes
	}
	ag.alloc[i].res = held.Subtract(un).Add(conv)
	ag.total = ag.total.Subtract(un).Add(conv)
	a.converted(ag)
	return true
}

// UpdateAvailable implements Allocator.
func (a *HierarchicalDRF) UpdateAvailable(agentID string, consumed, converted resources.Resources) bool {
	ag := a.agents[agentID]
	if ag == nil {
		return false
	}
	un, conv := consumed.Unallocated(), converted.Unallocated()
	if !ag.canHold(un) || !ag.total.Contains(un) || !sameQuantities(a, un, conv) {
		return false
	}
	if ag.hasShared && !a.soleCopies(ag, un.Shared(), 0) {
		return false // a shared resource it consumes is held
	}
	// Shared resources are never available (see shared.go).
	ag.available = ag.available.Subtract(un.NonShared()).Add(conv.NonShared())
	ag.availQ = a.toQty(ag.available)
	ag.total = ag.total.Subtract(un).Add(conv)
	a.converted(ag)
	return true
}

// sameQuantities reports whether x and y hold the same scalar quantities,
// so that a conversion leaves every share and sum as it was.
func sameQuantities(a *HierarchicalDRF, x, y resources.Resources) bool {
	qx, qy := a.toQty(x), a.toQty(y)
	qx.sub(qy)
	return qx.isZero()
}

// converted notes that an agent's resources changed shape: memoized
// offers and allocations no longer describe them, and reserved resources
// make it special (see agent.special).
func (a *HierarchicalDRF) converted(ag *agent) {
	ag.lastAlloc = lastAlloc{}
	ag.offered = offered{}
	ag.hasShared = false
	for i := range ag.total {
		if r := &ag.total[i]; r.IsReserved() || r.Revocable || r.Shared {
			ag.special = true
		}
		ag.hasShared = ag.hasShared || ag.total[i].Shared
	}
	ag.gen++
	ag.touch()
}
