package core

import (
	"github.com/gomesos/gomesos/api/agentproto"
	"github.com/gomesos/gomesos/resources"
)

// updateOversubscribed is UPDATE_AGENT (Mesos's Master::updateSlave for
// oversubscribed resources): the agent's revocable total is replaced by
// the one it sent, in the master's record and in the allocator. When the
// new total no longer covers what the agent's tasks and outstanding offers
// hold of its revocable resources, the offers holding revocable resources
// are rescinded (their resources return to the allocator first, so that
// only what tasks use stays charged). Mesos rescinds them on every update;
// Gomesos only when the estimate shrank below what is held, so that a
// framework keeps an offer the agent can still honour.
func (c *Core) updateOversubscribed(a *agent, m *agentproto.UpdateAgent) Result {
	if m == nil {
		return fail(Invalid, "Expecting 'update_agent' to be present")
	}
	if !m.GetUpdateOversubscribedResources() {
		return ok()
	}
	rev, err := resources.FromProto(m.GetOversubscribedResources())
	if err != nil {
		return fail(Invalid, "Invalid oversubscribed resources: %v", err)
	}
	for i := range rev {
		if !rev[i].Revocable {
			return fail(Invalid, "Oversubscribed resources must be revocable, %s is not", rev[i].Name)
		}
		if rev[i].IsReserved() {
			return fail(Invalid, "Oversubscribed resources must be unreserved, %s is reserved", rev[i].Name)
		}
	}
	rev = resources.New(rev...).Unallocated()
	old := a.total.Revocable()
	if old.Equal(rev) {
		return ok()
	}
	held := a.used().Revocable().Unallocated().Add(a.offered().Revocable().Unallocated())
	if !rev.Contains(held) {
		for _, id := range sortedKeys(a.offers) {
			if o := a.offers[id]; !o.res.Revocable().IsEmpty() {
				c.rescindOffer(o, true)
			}
		}
	}
	a.total = a.total.NonRevocable().Add(rev)
	c.alloc.UpdateAgentRevocable(a.id, rev)
	c.agentChanged(a)
	c.allocateSoon = true
	c.log.Info("agent's oversubscribed resources updated", "agent", a.id, "oversubscribed", rev.String(), "previous", old.String())
	return ok()
}

// withHeldRevocable is an agent's total as its AgentInfo gives it (without
// revocable resources: the agent sends those with UPDATE_AGENT once
// registered) plus the revocable resources its tasks and executors hold,
// so that what they use is charged when the agent is added back.
func withHeldRevocable(total resources.Resources, a *agent) resources.Resources {
	if !holdsRevocable(a) {
		// Nearly always: the sum of what the agent's tasks use, made
		// only to be filtered away, is not made (a failover adds back
		// every agent).
		return total
	}
	held := a.used().Revocable().Unallocated()
	if held.IsEmpty() {
		return total
	}
	return total.Add(held)
}

// holdsRevocable reports whether any live task or executor of the agent
// uses a revocable resource.
func holdsRevocable(a *agent) bool {
	for _, t := range a.tasks {
		if t.resourcesRecovered {
			continue
		}
		for i := range t.res {
			if t.res[i].Revocable {
				return true
			}
		}
	}
	for _, ex := range a.executors {
		for _, r := range ex.GetResources() {
			if r.Revocable != nil {
				return true
			}
		}
	}
	return false
}
