package core

import (
	"time"

	registrypb "github.com/gomesos/gomesos/api/registry"
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"google.golang.org/protobuf/proto"
)

// Agent deactivation and draining (DEACTIVATE_AGENT, REACTIVATE_AGENT,
// DRAIN_AGENT), as in Mesos 1.9+. A deactivated agent is offered to
// nobody; a draining agent is deactivated and has every task killed, and
// once every task has ended and its end was acknowledged it is DRAINED
// (and, when asked, marked gone).
// Both are kept in the registry (UPDATE_AGENT_STATE) and survive a
// failover. REACTIVATE_AGENT ends either.

// defaultKillGracePeriod is the grace period of a task without a kill
// policy (the executors' default shutdown grace period).
const defaultKillGracePeriod = 3 * time.Second

// agentState is what the registry keeps of an agent's deactivation and
// drain, held for the agents recovered from it until they re-register.
type agentState struct {
	deactivated bool
	drain       *mesos.DrainInfo
}

// operatorAgent finds the admitted agent an operator call names.
func (c *Core) operatorAgent(call string, id *mesos.AgentID) (*agent, Result) {
	if id.GetValue() == "" {
		return nil, fail(Invalid, "Expecting '%s.agent_id' to be present", call)
	}
	a := c.agents[id.GetValue()]
	if a == nil {
		return nil, fail(NotFound, "Agent '%s' not found", id.GetValue())
	}
	return a, Result{Code: OK}
}

// setRecoveredState changes the deactivation or drain of an agent
// recovered from the registry that has not re-registered yet: the registry
// keeps the change, and it takes effect when the agent comes back (its
// tasks are killed then). It reports false for any other agent.
func (c *Core) setRecoveredState(id *mesos.AgentID, change func(*agentState) Result) (Result, bool) {
	if _, ok := c.recovered[id.GetValue()]; !ok || c.agents[id.GetValue()] != nil {
		return Result{}, false
	}
	st := c.recoveredState[id.GetValue()]
	if res := change(&st); res.Code.Failed() {
		return res, true
	}
	c.persistAgentState(id.GetValue(), st.deactivated, st.drain)
	if st.deactivated || st.drain != nil {
		c.recoveredState[id.GetValue()] = st
	} else {
		delete(c.recoveredState, id.GetValue())
	}
	c.log.Info("changed the state of a recovered agent; it applies when the agent re-registers",
		"agent", id.GetValue(), "deactivated", st.deactivated, "drain", st.drain.GetState().String())
	return Result{Code: OK}, true
}

// operatorDeactivateAgent stops the offers of an agent (DEACTIVATE_AGENT):
// its outstanding offers are rescinded and it gets none until it is
// reactivated. Its tasks keep running.
func (c *Core) operatorDeactivateAgent(d *masterpb.Call_DeactivateAgent) Result {
	if d == nil {
		return fail(Invalid, "Expecting 'deactivate_agent' to be present")
	}
	if res, ok := c.setRecoveredState(d.GetAgentId(), func(st *agentState) Result {
		st.deactivated = true
		return Result{Code: OK}
	}); ok {
		return res
	}
	a, res := c.operatorAgent("deactivate_agent", d.GetAgentId())
	if a == nil {
		return res
	}
	if a.deactivated {
		return Result{Code: OK}
	}
	c.persistAgentState(a.id, true, a.drain)
	c.deactivateAgent(a)
	c.log.Info("agent deactivated by the operator", "agent", a.id)
	return Result{Code: OK}
}

// operatorReactivateAgent lets an agent be offered again
// (REACTIVATE_AGENT), ending its drain if it was draining or drained.
func (c *Core) operatorReactivateAgent(r *masterpb.Call_ReactivateAgent) Result {
	if r == nil {
		return fail(Invalid, "Expecting 'reactivate_agent' to be present")
	}
	if res, ok := c.setRecoveredState(r.GetAgentId(), func(st *agentState) Result {
		if !st.deactivated {
			return fail(Invalid, "Agent '%s' is not deactivated", r.GetAgentId().GetValue())
		}
		*st = agentState{}
		return Result{Code: OK}
	}); ok {
		return res
	}
	a, res := c.operatorAgent("reactivate_agent", r.GetAgentId())
	if a == nil {
		return res
	}
	if !a.deactivated {
		return fail(Invalid, "Agent '%s' is not deactivated", a.id)
	}
	c.persistAgentState(a.id, false, nil)
	c.agentChanged(a)
	a.deactivated = false
	a.drain = nil
	if a.conn != "" && !a.active {
		a.active = true
		c.alloc.ActivateAgent(a.id)
	}
	c.allocateSoon = true
	c.log.Info("agent reactivated by the operator", "agent", a.id)
	return Result{Code: OK}
}

// operatorDrainAgent drains an agent (DRAIN_AGENT): it is deactivated, and
// each of its tasks is killed with its kill policy, the grace period
// capped at max_grace_period when that is given. A disconnected agent's
// tasks are killed when it comes back.
func (c *Core) operatorDrainAgent(d *masterpb.Call_DrainAgent) Result {
	if d == nil {
		return fail(Invalid, "Expecting 'drain_agent' to be present")
	}
	var maxGrace *mesos.DurationInfo
	if g := d.GetMaxGracePeriod(); g != nil {
		if g.GetSeconds() < 0 || g.GetNanos() < 0 || g.GetNanos() >= 1e9 {
			return fail(Invalid, "Invalid 'drain_agent.max_grace_period': expecting a non-negative duration")
		}
		maxGrace = &mesos.DurationInfo{Nanoseconds: proto.Int64(g.GetSeconds()*int64(time.Second) + int64(g.GetNanos()))}
	}
	drain := &mesos.DrainInfo{
		State:  mesos.DrainState_DRAINING.Enum(),
		Config: &mesos.DrainConfig{MaxGracePeriod: maxGrace, MarkGone: proto.Bool(d.GetMarkGone())},
	}
	if res, ok := c.setRecoveredState(d.GetAgentId(), func(st *agentState) Result {
		*st = agentState{deactivated: true, drain: drain}
		return Result{Code: OK}
	}); ok {
		return res
	}
	a, res := c.operatorAgent("drain_agent", d.GetAgentId())
	if a == nil {
		return res
	}
	c.persistAgentState(a.id, true, drain)
	c.deactivateAgent(a)
	c.agentChanged(a)
	a.drain = drain
	c.log.Info("draining agent", "agent", a.id, "mark_gone", d.GetMarkGone())
	c.killDrainingTasks(a)
	c.checkDrained(a)
	return Result{Code: OK}
}

// deactivateAgent marks an agent deactivated: the allocator offers it no
// more and its offers are rescinded.
func (c *Core) deactivateAgent(a *agent) {
	c.agentChanged(a)
	a.deactivated = true
	if a.active {
		a.active = false
		c.alloc.DeactivateAgent(a.id)
	}
	c.rescindAgentOffers(a)
}

// persistAgentState records an agent's deactivation and drain.
func (c *Core) persistAgentState(id string, deactivated bool, drain *mesos.DrainInfo) {
	c.persist(&registrypb.Operation{
		Type: registrypb.Operation_UPDATE_AGENT_STATE.Enum(), AgentId: agentIDProto(id),
		Deactivated: proto.Bool(deactivated), DrainInfo: registryDrain(drain),
	})
}

// killDrainingTasks kills every live task of a draining agent: at once
// when it is connected, when it re-registers otherwise.
func (c *Core) killDrainingTasks(a *agent) {
	if a.drain.GetState() != mesos.DrainState_DRAINING {
		return
	}
	for _, key := range sortedKeys(a.tasks) {
		t := a.tasks[key]
		if t.state.IsTerminal() {
			continue
		}
		policy := drainKillPolicy(t.info.GetKillPolicy(), a.drain.GetConfig().GetMaxGracePeriod())
		if a.conn == "" {
			a.killed[key] = policy
			continue
		}
		c.sendToAgent(a, killTaskMsg(t.frameworkID, t.id, policy))
	}
}

// drainKillPolicy is a task's kill policy with its grace period capped at
// the drain's max_grace_period (unchanged without one).
func drainKillPolicy(policy *mesos.KillPolicy, maxGrace *mesos.DurationInfo) *mesos.KillPolicy {
	if maxGrace == nil {
		return policy
	}
	grace := int64(defaultKillGracePeriod)
	if policy.GetGracePeriod() != nil {
		grace = policy.GetGracePeriod().GetNanoseconds()
	}
	if grace <= maxGrace.GetNanoseconds() && policy.GetGracePeriod() != nil {
		return policy
	}
	out := &mesos.KillPolicy{}
	if policy != nil {
		out = clone(policy)
	}
	out.GracePeriod = &mesos.DurationInfo{Nanoseconds: proto.Int64(min(grace, maxGrace.GetNanoseconds()))}
	return out
}

// checkDrained makes a draining agent DRAINED once it holds no task: as
// in Mesos, its tasks have ended and their ends have been acknowledged by
// their frameworks. It then marks the agent gone if the drain asked for
// that.
func (c *Core) checkDrained(a *agent) {
	if a == nil || a.drain.GetState() != mesos.DrainState_DRAINING || len(a.tasks) > 0 {
		return
	}
	drained := &mesos.DrainInfo{State: mesos.DrainState_DRAINED.Enum(), Config: a.drain.GetConfig()}
	c.persistAgentState(a.id, true, drained)
	c.agentChanged(a)
	a.drain = drained
	c.log.Info("agent drained", "agent", a.id)
	if drained.GetConfig().GetMarkGone() {
		c.operatorMarkAgentGone(&masterpb.Call_MarkAgentGone{AgentId: agentIDProto(a.id)})
	}
}

// restoreAgentState gives an agent recovered from the registry back the
// deactivation and drain the registry kept of it.
func (c *Core) restoreAgentState(a *agent) {
	st, ok := c.recoveredState[a.id]
	if !ok {
		return
	}
	delete(c.recoveredState, a.id)
	a.deactivated = st.deactivated
	a.drain = st.drain
}

// registryDrain and drainInfo convert a DrainInfo between the operator
// API's form and the registry's.
func registryDrain(d *mesos.DrainInfo) *registrypb.DrainInfo {
	if d == nil {
		return nil
	}
	out := &registrypb.DrainInfo{State: registrypb.DrainInfo_State(d.GetState()).Enum()}
	if g := d.GetConfig().GetMaxGracePeriod(); g != nil {
		out.MaxGracePeriod = clone(g)
	}
	if d.GetConfig().GetMarkGone() {
		out.MarkGone = proto.Bool(true)
	}
	return out
}

func drainInfo(d *registrypb.DrainInfo) *mesos.DrainInfo {
	if d == nil {
		return nil
	}
	out := &mesos.DrainInfo{State: mesos.DrainState(d.GetState()).Enum(), Config: &mesos.DrainConfig{MarkGone: proto.Bool(d.GetMarkGone())}}
	if g := d.GetMaxGracePeriod(); g != nil {
		out.Config.MaxGracePeriod = clone(g)
	}
	return out
}
