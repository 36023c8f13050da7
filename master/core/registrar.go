package core

import (
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	registrypb "github.com/gomesos/gomesos/api/registry"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// The registrar: what the Core writes to the registry, and what it
// recovers from it.
//
// The registry (api/registry) holds the admitted agents, the agents marked
// unreachable and gone, the weights and the quotas; the Core keeps its own copy of
// these (agents, recovered, unreachable, gone) and says every change to
// them with a Persist output, before the outputs that act on the change.
// The driver commits a Persist's operations and carries out nothing after
// it until they are durable: an agent hears REGISTERED only once its
// admission is committed, and frameworks hear TASK_UNREACHABLE only once
// the agent's unreachability is. Should a commit fail (this master lost
// its leadership, or the store timed out), the driver drops the outputs
// that follow it and the Core with them: the master that is elected next
// rebuilds its state from the registry (Recover) and from what agents and
// frameworks tell it when they come back. So the Core may change its own
// state at once, as Mesos's master does not (it waits for the registrar's
// answer); nobody outside sees the change before it is durable.

// Persist is a barrier: its operations must be committed to the registry
// before any output after it is carried out.
type Persist struct {
	Ops []*registrypb.Operation
}

// Abort says that this master must stop leading: Mesos's master exits in
// the same cases (too many recovered agents to remove).
type Abort struct{ Message string }

func (Persist) isOutput() {}
func (Abort) isOutput()   {}

// persist says a registry operation, joining it to the Persist just
// emitted when nothing came between them.
func (c *Core) persist(op *registrypb.Operation) {
	if n := len(c.pendingOutputs); n > 0 {
		if p, ok := c.pendingOutputs[n-1].(Persist); ok {
			p.Ops = append(p.Ops, op)
			c.pendingOutputs[n-1] = p
			return
		}
	}
	c.emit(Persist{Ops: []*registrypb.Operation{op}})
}

func timeInfo(t time.Time) *mesos.TimeInfo {
	return &mesos.TimeInfo{Nanoseconds: proto.Int64(t.UnixNano())}
}

func agentIDProto(id string) *mesos.AgentID { return &mesos.AgentID{Value: proto.String(id)} }

// Recover loads the registry a newly elected master starts from, before
// any input: its admitted agents are expected back within
// --agent_reregister_timeout (they are "recovered": known, but neither
// offered nor reported until they re-register), and its unreachable and
// gone agents are remembered. The master records itself as the leader.
func (c *Core) Recover(reg *registrypb.Registry) {
	for _, a := range reg.GetAgents().GetAgents() {
		id := a.GetInfo().GetId().GetValue()
		if id == "" {
			continue
		}
		c.recovered[id] = a.GetInfo()
		if a.GetDeactivated() || a.DrainInfo != nil {
			c.recoveredState[id] = agentState{deactivated: a.GetDeactivated(), drain: drainInfo(a.GetDrainInfo())}
		}
		c.recoveredOrder = append(c.recoveredOrder, id)
	}
	for _, u := range reg.GetUnreachable().GetAgents() {
		id := u.GetId().GetValue()
		if _, ok := c.unreachable[id]; !ok {
			c.unreachableOrder = append(c.unreachableOrder, id)
		}
		c.unreachable[id] = time.Unix(0, u.GetTimestamp().GetNanoseconds())
	}
	for _, g := range reg.GetGone().GetAgents() {
		id := g.GetId().GetValue()
		if _, ok := c.gone[id]; !ok {
			c.goneOrder = append(c.goneOrder, id)
		}
		c.gone[id] = time.Unix(0, g.GetTimestamp().GetNanoseconds())
	}
	if len(reg.GetWeights()) > 0 {
		for _, w := range reg.GetWeights() {
			c.weights[w.GetRole()] = w.GetWeight()
		}
		c.alloc.UpdateWeights(c.weights)
		c.weightsChanged = true
		if len(c.opts.Weights) > 0 {
			c.log.Warn("ignoring --weights: the registry holds weights, which UPDATE_WEIGHTS (or /weights) changes")
		}
	} else if len(c.opts.Weights) > 0 {
		c.bootstrapWeights(c.opts.Weights)
	}
	c.recoverQuotas(reg)
	c.recoverMaintenance(reg)
	c.recoveredTotal = len(c.recovered)
	c.recoveredChanged = true
	if len(c.recovered) > 0 {
		c.recoveryDeadline = c.now.Add(c.opts.AgentReregisterTimeout)
		c.log.Info("recovered the registry; waiting for its agents to re-register",
			"agents", len(c.recovered), "unreachable", len(c.unreachable), "gone", len(c.gone),
			"agent_reregister_timeout", c.opts.AgentReregisterTimeout.String())
	}
	c.persist(&registrypb.Operation{Type: registrypb.Operation_UPDATE_MASTER.Enum(), MasterInfo: clone(c.info)})
}

// Recovered is the number of agents recovered from the registry that have
// not re-registered yet.
func (c *Core) Recovered() int { return len(c.recovered) }

// recoveredFrameworkDeadline is when a framework recovered from an agent's
// re-registration is removed if it has not resubscribed: its failover
// timeout, counted from when the agents recovered from the registry stop
// being waited for, and never sooner than --agent_reregister_timeout from
// now. Mesos never removes such a framework; counting its failover timeout
// from there ends the tasks of a framework that is gone for good, and gives
// one that fails over with its master (failover_timeout 0 included) as
// long as its agents get.
func (c *Core) recoveredFrameworkDeadline(info *mesos.FrameworkInfo) time.Time {
	from := c.now.Add(c.opts.AgentReregisterTimeout)
	if c.recoveryDeadline.After(from) {
		from = c.recoveryDeadline
	}
	return from.Add(time.Duration(info.GetFailoverTimeout() * float64(time.Second)))
}

// checkRecoveredAgents marks unreachable, once --agent_reregister_timeout
// has passed since recovery, the recovered agents that did not come back,
// as Mesos's Master::recoveredSlavesTimeout does; unless more of them
// than --recovery_agent_removal_limit allows are missing, when the master
// gives up leading instead.
func (c *Core) checkRecoveredAgents() {
	if c.recoveryDeadline.IsZero() || c.now.Before(c.recoveryDeadline) {
		return
	}
	c.recoveryDeadline = time.Time{}
	if len(c.recovered) == 0 {
		return
	}
	missing := float64(len(c.recovered)) / float64(c.recoveredTotal)
	if missing > c.opts.RecoveryAgentRemovalLimit {
		msg := fmt.Sprintf("Post-recovery agent removal limit exceeded: %d of %d agents (%.0f%%) did not re-register within %s, above --recovery_agent_removal_limit=%.0f%%",
			len(c.recovered), c.recoveredTotal, missing*100, c.opts.AgentReregisterTimeout, c.opts.RecoveryAgentRemovalLimit*100)
		c.log.Error(msg)
		c.emit(Abort{Message: msg})
		return
	}
	// Removing one takes it off recoveredOrder: walk a copy.
	for _, id := range slices.Clone(c.recoveredOrder) {
		if _, ok := c.recovered[id]; ok {
			c.scheduleRemoval(id, fmt.Sprintf("did not re-register within %s after master failover", c.opts.AgentReregisterTimeout))
		}
	}
}

// recoveredList is the recovered agents' AgentInfos, in the registry's
// order.
func (c *Core) recoveredList() []*mesos.AgentInfo {
	out := make([]*mesos.AgentInfo, 0, len(c.recovered))
	for _, id := range c.recoveredOrder {
		if info, ok := c.recovered[id]; ok {
			out = append(out, info)
		}
	}
	return out
}

// forgetRecovered takes an agent off the recovered list (it came back, or
// it is being removed). recoveredOrder may still name it: readers of
// recoveredOrder skip the ids recovered no longer has.
func (c *Core) forgetRecovered(id string) {
	if _, ok := c.recovered[id]; !ok {
		return
	}
	delete(c.recovered, id)
	// recoveredOrder keeps the id until it is mostly stale: removing it
	// now would cost O(agents) for each of 10,000 agents coming back.
	if len(c.recoveredOrder) > 2*len(c.recovered)+64 {
		c.recoveredOrder = slices.DeleteFunc(c.recoveredOrder, func(id string) bool { _, ok := c.recovered[id]; return !ok })
	}
	c.recoveredChanged = true
}

// Agent removals (marking an agent unreachable after it failed its health
// checks, or after it did not come back from a failover) go through one
// queue, rate-limited by --agent_removal_rate_limit as in Mesos: at most
// one removal per AgentRemovalInterval. A removal is cancelled when the
// agent answers a ping or re-registers before its turn.
type pendingRemoval struct {
	id  string
	why string
}

// scheduleRemoval queues the removal of an admitted or recovered agent.
func (c *Core) scheduleRemoval(id, why string) {
	if slices.ContainsFunc(c.removals, func(r pendingRemoval) bool { return r.id == id }) {
		return
	}
	c.metrics.inc("master/slave_unreachable_scheduled")
	c.removals = append(c.removals, pendingRemoval{id: id, why: why})
	c.runRemovals()
}

// cancelRemoval drops an agent's queued removal.
func (c *Core) cancelRemoval(id string) {
	if i := slices.IndexFunc(c.removals, func(r pendingRemoval) bool { return r.id == id }); i >= 0 {
		c.removals = slices.Delete(c.removals, i, i+1)
		c.metrics.inc("master/slave_unreachable_canceled")
	}
}

// runRemovals carries out the queued removals the rate limit allows now.
func (c *Core) runRemovals() {
	for len(c.removals) > 0 {
		if c.opts.AgentRemovalInterval > 0 && !c.lastRemoval.IsZero() && c.now.Sub(c.lastRemoval) < c.opts.AgentRemovalInterval {
			return
		}
		r := c.removals[0]
		c.removals = c.removals[1:]
		c.lastRemoval = c.now
		c.metrics.inc("master/slave_unreachable_completed")
		if a := c.agents[r.id]; a != nil {
			c.metrics.inc("master/slave_removals/reason_unhealthy")
			c.log.Warn("marking agent unreachable", "agent", r.id, "reason", r.why)
			c.removeAgent(a, r.why, mesos.TaskStatus_REASON_AGENT_REMOVED)
			continue
		}
		if _, ok := c.recovered[r.id]; ok {
			c.metrics.inc("master/recovery_slave_removals")
			c.log.Warn("marking a recovered agent unreachable", "agent", r.id, "reason", r.why)
			c.forgetRecovered(r.id)
			c.persist(&registrypb.Operation{
				Type: registrypb.Operation_MARK_AGENT_UNREACHABLE.Enum(), AgentId: agentIDProto(r.id), Timestamp: timeInfo(c.now),
			})
			c.markUnreachable(r.id)
			c.metrics.inc("master/slave_removals")
		}
	}
}

// bootstrapWeights applies the --weights of a cluster whose registry holds
// none yet, and writes them there, so that from then on the registry is
// where weights come from (as Mesos does with its deprecated flag).
func (c *Core) bootstrapWeights(w map[string]float64) {
	op := &registrypb.Operation{Type: registrypb.Operation_UPDATE_WEIGHTS.Enum()}
	for _, role := range sortedKeys(w) {
		if w[role] == 1 {
			continue
		}
		c.weights[role] = w[role]
		op.Weights = append(op.Weights, &registrypb.Registry_Weight{Role: proto.String(role), Weight: proto.Float64(w[role])})
	}
	if len(op.Weights) == 0 {
		return
	}
	c.persist(op)
	c.alloc.UpdateWeights(c.weights)
	c.weightsChanged = true
}
