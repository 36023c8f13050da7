package allocator

import (
	"fmt"

	"github.com/gomesos/gomesos/resources"
)

// Shared resources (shared persistent volumes, SHARED_RESOURCES), as
// Mesos's hierarchical allocator treats them: a shared resource of an
// agent's total is offered to frameworks with the capability even while
// others hold copies of it (tasks use it, offers carry it), at most once
// per agent in an allocation cycle, so one offer never holds two copies.
// Frameworks without the capability are never offered it.
//
// The books: shared resources are never in an agent's available
// resources. Every holder (an offer, a task) holds a copy, charged to its
// framework and role like any resource, so a framework's and a role's
// allocations count each copy they hold; the agent's total holds the
// resource once. Taking a copy takes nothing from the agent's available
// resources, and giving one back gives nothing back (a recovered copy is
// never counted twice). The invariant is then: available plus everything
// allocated or held equals the total for the resources that are not
// shared, and every shared resource held is in the total (see
// CheckInvariants). A shared resource consumed by an operation (DESTROY)
// must be held by nobody else: the master rescinds the other offers that
// carry it first, and refuses while tasks use it.

// withSharedOf returns avail (what ag has for role, not empty) with the
// shared resources of ag allocatable to role that this cycle has not
// handed out on ag yet.
func (a *HierarchicalDRF) withSharedOf(ag *agent, avail resources.Resources, role string) resources.Resources {
	sh := ag.total.Shared().AllocatableTo(role)
	if ag.sharedRun == a.runs && len(ag.sharedOut) > 0 {
		sh = sh.Subtract(ag.sharedOut)
	}
	if len(sh) == 0 {
		return avail
	}
	return avail.Add(sh)
}

// takeShared records the shared resources of res (taken from ag) as
// handed out in this cycle, and returns res without them, with its
// quantities q less theirs (q itself is not changed).
func (a *HierarchicalDRF) takeShared(ag *agent, res resources.Resources, q qty) (resources.Resources, qty) {
	sh := res.Shared()
	if len(sh) == 0 {
		return res, q
	}
	if ag.sharedRun != a.runs {
		ag.sharedRun, ag.sharedOut = a.runs, nil
	}
	ag.sharedOut = ag.sharedOut.Add(sh)
	return a.withoutShared(res, q)
}

// withoutShared returns res without its shared resources, and q less
// their quantities (q itself is not changed).
func (a *HierarchicalDRF) withoutShared(res resources.Resources, q qty) (resources.Resources, qty) {
	sh := res.Shared()
	if len(sh) == 0 {
		return res, q
	}
	rest := make(qty, len(q))
	copy(rest, q)
	rest.sub(a.toQty(sh))
	return res.NonShared(), rest
}

// canHold reports whether un (unallocated) may be charged to a holder on
// ag: its resources that are not shared are available, and each shared
// one is in the agent's total (copies may be held any number of times).
func (ag *agent) canHold(un resources.Resources) bool {
	if !ag.hasShared {
		return ag.available.Contains(un)
	}
	if !ag.available.Contains(un.NonShared()) {
		return false
	}
	for _, r := range un.Shared() {
		if !ag.total.ContainsResource(r) {
			return false
		}
	}
	return true
}

// copiesHeld counts the copies of the shared resource r held on ag, by
// frameworks and for frameworks not yet added.
func (ag *agent) copiesHeld(r resources.Resource) int {
	n := 0
	count := func(res resources.Resources) {
		for i := range res {
			if res[i].Shared && res[i].Equal(&r) {
				n++
			}
		}
	}
	for _, h := range ag.alloc {
		count(h.res)
	}
	for _, res := range ag.pending {
		count(res.Unallocated())
	}
	return n
}

// soleCopies reports whether each shared resource of sh (unallocated) is
// held exactly want times on ag (0: by nobody; 1: only by the one
// consuming it).
func (a *HierarchicalDRF) soleCopies(ag *agent, sh resources.Resources, want int) bool {
	for _, r := range sh {
		if ag.copiesHeld(r) != want {
			return false
		}
	}
	return true
}

// AllocateSharedCopies implements Allocator.
func (a *HierarchicalDRF) AllocateSharedCopies(frameworkID, agentID string, res resources.Resources) bool {
	ag, fw := a.agents[agentID], a.frameworks[frameworkID]
	if ag == nil || fw == nil || res.IsEmpty() || !ag.hasShared || !fw.caps.SharedResources {
		return false
	}
	role := res[0].AllocationRole
	for i := range res {
		if !res[i].Shared || res[i].AllocationRole != role {
			return false
		}
	}
	c := a.holder(fw, ag, role)
	if c == nil {
		return false
	}
	un := res.Unallocated()
	if !ag.canHold(un) {
		return false
	}
	a.charge(c, ag, un, a.toQty(un), false)
	return true
}

// unheldSharedQ returns the quantities of ag's shared resources that
// nobody holds: they are free, though never in ag's available resources.
// (Stats counts a shared resource held any number of times once in the
// allocated sums, which never exceed the total; each holder's and role's
// allocation, which DRF compares, counts every copy it holds.)
func (a *HierarchicalDRF) unheldSharedQ(ag *agent) qty {
	var q qty
	for _, r := range ag.total.Shared() {
		if ag.copiesHeld(r) == 0 {
			q.add(a.toQty(resources.Resources{r}))
		}
	}
	return q
}

// checkShared verifies an agent's books for shared resources (see the
// comment at the top): the caller has summed available and every holding.
func checkShared(ag *agent, sum resources.Resources) error {
	if len(ag.available.Shared()) > 0 {
		return fmt.Errorf("shared resources %v among the available ones", ag.available.Shared())
	}
	if !sum.NonShared().Equal(ag.total.NonShared()) {
		return fmt.Errorf("available %v + allocated = %v, want total %v (not shared)", ag.available, sum.NonShared(), ag.total.NonShared())
	}
	for _, r := range sum.Shared() {
		if !ag.total.ContainsResource(r) {
			return fmt.Errorf("shared %v held but not in the total %v", r, ag.total)
		}
	}
	return nil
}
