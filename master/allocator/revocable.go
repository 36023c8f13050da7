package allocator

import (
	"slices"

	"github.com/gomesos/gomesos/resources"
)

// Revocable resources (oversubscription): an agent's resource estimator
// says how much more than its allocation it may offer, and the master
// passes the agent's whole revocable total on to the allocator here (as
// Mesos's allocator takes a new total in updateSlave). Revocable
// resources are offered only to frameworks with REVOCABLE_RESOURCES (see
// stripIncapable).

// UpdateAgentRevocable implements Allocator.
func (a *HierarchicalDRF) UpdateAgentRevocable(id string, revocable resources.Resources) {
	ag := a.agents[id]
	if ag == nil {
		return
	}
	revocable = resources.New(revocable...).Unallocated().Revocable()
	// What is held of the revocable resources now: allocated, offered or
	// in use by frameworks not yet added. It stays charged; only what is
	// free follows the estimate, and never goes below nothing (Mesos's
	// available is likewise total minus allocated, floored at zero, while
	// the QoS controller evicts what no longer fits).
	oldRev := ag.total.Revocable()
	held := oldRev.Subtract(ag.available.Revocable())
	free := revocable.Subtract(held)
	newRev := held.Add(free)
	ag.revExcess = held.Subtract(revocable)
	if newRev.Equal(oldRev) {
		return
	}
	oldQ, newQ := a.toQty(oldRev), a.toQty(newRev)
	ag.total = ag.total.NonRevocable().Add(newRev)
	ag.totalQ.sub(oldQ)
	ag.totalQ.add(newQ)
	a.totalQ.sub(oldQ)
	a.totalQ.add(newQ)
	freeQ, oldFreeQ := a.toQty(free), a.toQty(ag.available.Revocable())
	ag.available = ag.available.NonRevocable().Add(free)
	ag.availQ.sub(oldFreeQ)
	ag.availQ.add(freeQ)
	a.sharesStale = true
	a.converted(ag)
}

// dropExcess takes out of res, resources given back on ag, the revocable
// ones beyond the agent's estimate (ag.revExcess): they leave the agent's
// total. It returns what remains to be made available.
func (ag *agent) dropExcess(res resources.Resources, q qty) (resources.Resources, qty) {
	var drop resources.Resources
	for i := range res {
		r := res[i]
		if !r.Revocable || r.Type != resources.TypeScalar {
			continue
		}
		ex := ag.revExcess.Filter(func(x *resources.Resource) bool { return x.Name == r.Name && x.Type == resources.TypeScalar })
		if ex.IsEmpty() {
			continue
		}
		if amount := ex.ScalarQuantity(r.Name); amount < r.Scalar {
			r.Scalar = amount
		}
		drop = drop.AddResource(r)
	}
	if drop.IsEmpty() {
		return res, q
	}
	a := ag.drf
	dq := a.toQty(drop)
	ag.revExcess = ag.revExcess.Subtract(drop)
	ag.total = ag.total.Subtract(drop)
	ag.totalQ.sub(dq)
	a.totalQ.sub(dq)
	a.sharesStale = true
	ag.lastAlloc = lastAlloc{}
	ag.offered = offered{}
	q = slices.Clone(q)
	q.sub(dq)
	return res.Subtract(drop), q
}
