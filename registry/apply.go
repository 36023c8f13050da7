package registry

import (
	"slices"

	"google.golang.org/protobuf/proto"

	registrypb "github.com/gomesos/gomesos/api/registry"
	"github.com/gomesos/gomesos/api/v1/maintenance"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/api/v1/quota"
)

// Apply applies op to reg in place. It is deterministic and total: an
// operation that finds the registry already as it asks leaves it so, and
// an operation of an unknown type changes nothing. It keeps a clone of
// whatever it stores, so the caller may go on using op.
func Apply(reg *registrypb.Registry, op *registrypb.Operation) {
	apply(reg, op, false)
}

// applyKeeping is Apply, except that it keeps an operation's AgentInfo as
// it is rather than a clone: the caller hands it over and never changes it
// after. An in-memory registry of 10,000 agents then holds their infos
// once, with the master, rather than twice (tens of MiB).
func applyKeeping(reg *registrypb.Registry, op *registrypb.Operation) {
	apply(reg, op, true)
}

func apply(reg *registrypb.Registry, op *registrypb.Operation, keepInfo bool) {
	admit := func(reg *registrypb.Registry, info *mesos.AgentInfo) {
		if !keepInfo {
			info = proto.Clone(info).(*mesos.AgentInfo)
		}
		admitInfo(reg, info)
	}
	switch op.GetType() {
	case registrypb.Operation_ADMIT_AGENT, registrypb.Operation_UPDATE_AGENT:
		admit(reg, op.GetAgentInfo())
	case registrypb.Operation_MARK_AGENT_UNREACHABLE:
		id := op.GetAgentId().GetValue()
		removeAdmitted(reg, id)
		if reg.Unreachable == nil {
			reg.Unreachable = &registrypb.Registry_UnreachableAgents{}
		}
		list := reg.Unreachable.Agents
		if i := slices.IndexFunc(list, func(u *registrypb.Registry_UnreachableAgent) bool { return u.GetId().GetValue() == id }); i >= 0 {
			list = slices.Delete(list, i, i+1)
		}
		reg.Unreachable.Agents = append(list, &registrypb.Registry_UnreachableAgent{
			Id: agentID(id), Timestamp: proto.Clone(timestampOf(op)).(*mesos.TimeInfo),
		})
	case registrypb.Operation_MARK_AGENT_REACHABLE:
		id := op.GetAgentInfo().GetId().GetValue()
		removeUnreachable(reg, id)
		admit(reg, op.GetAgentInfo())
	case registrypb.Operation_MARK_AGENT_GONE:
		id := op.GetAgentId().GetValue()
		removeAdmitted(reg, id)
		removeUnreachable(reg, id)
		if reg.Gone == nil {
			reg.Gone = &registrypb.Registry_GoneAgents{}
		}
		if !slices.ContainsFunc(reg.Gone.Agents, func(g *registrypb.Registry_GoneAgent) bool { return g.GetId().GetValue() == id }) {
			reg.Gone.Agents = append(reg.Gone.Agents, &registrypb.Registry_GoneAgent{
				Id: agentID(id), Timestamp: proto.Clone(timestampOf(op)).(*mesos.TimeInfo),
			})
		}
	case registrypb.Operation_REMOVE_AGENT:
		removeAdmitted(reg, op.GetAgentId().GetValue())
	case registrypb.Operation_PRUNE:
		for _, id := range op.GetPruneUnreachable() {
			removeUnreachable(reg, id.GetValue())
		}
		if reg.Gone != nil {
			prune := map[string]bool{}
			for _, id := range op.GetPruneGone() {
				prune[id.GetValue()] = true
			}
			reg.Gone.Agents = slices.DeleteFunc(reg.Gone.Agents, func(g *registrypb.Registry_GoneAgent) bool { return prune[g.GetId().GetValue()] })
		}
	case registrypb.Operation_UPDATE_WEIGHTS:
		for _, w := range op.GetWeights() {
			i := slices.IndexFunc(reg.Weights, func(x *registrypb.Registry_Weight) bool { return x.GetRole() == w.GetRole() })
			switch {
			case w.GetWeight() == 1 && i >= 0:
				reg.Weights = slices.Delete(reg.Weights, i, i+1)
			case w.GetWeight() == 1:
			case i >= 0:
				reg.Weights[i] = proto.Clone(w).(*registrypb.Registry_Weight)
			default:
				reg.Weights = append(reg.Weights, proto.Clone(w).(*registrypb.Registry_Weight))
			}
		}
	case registrypb.Operation_UPDATE_QUOTA:
		for _, qc := range op.GetQuotaConfigs() {
			i := slices.IndexFunc(reg.QuotaConfigs, func(x *quota.QuotaConfig) bool { return x.GetRole() == qc.GetRole() })
			switch {
			case len(qc.GetGuarantees()) == 0 && len(qc.GetLimits()) == 0 && i >= 0:
				reg.QuotaConfigs = slices.Delete(reg.QuotaConfigs, i, i+1)
			case len(qc.GetGuarantees()) == 0 && len(qc.GetLimits()) == 0:
			case i >= 0:
				reg.QuotaConfigs[i] = proto.Clone(qc).(*quota.QuotaConfig)
			default:
				reg.QuotaConfigs = append(reg.QuotaConfigs, proto.Clone(qc).(*quota.QuotaConfig))
			}
		}
	case registrypb.Operation_UPDATE_MASTER:
		reg.Master = &registrypb.Registry_Master{Info: proto.Clone(op.GetMasterInfo()).(*mesos.MasterInfo)}
	case registrypb.Operation_UPDATE_AGENT_STATE:
		id := op.GetAgentId().GetValue()
		for _, a := range reg.GetAgents().GetAgents() {
			if a.GetInfo().GetId().GetValue() == id {
				a.DrainInfo = nil
				if op.DrainInfo != nil {
					a.DrainInfo = proto.Clone(op.DrainInfo).(*registrypb.DrainInfo)
				}
				a.Deactivated = nil
				if op.GetDeactivated() {
					a.Deactivated = proto.Bool(true)
				}
			}
		}
	case registrypb.Operation_UPDATE_MAINTENANCE:
		reg.Schedules = nil
		if len(op.GetSchedule().GetWindows()) > 0 {
			reg.Schedules = []*maintenance.Schedule{proto.Clone(op.GetSchedule()).(*maintenance.Schedule)}
		}
		reg.Machines = nil
		if len(op.GetMachines().GetMachines()) > 0 {
			reg.Machines = proto.Clone(op.GetMachines()).(*registrypb.Registry_Machines)
		}
	}
}

// ApplyBatch applies every operation of b in order.
func ApplyBatch(reg *registrypb.Registry, b *registrypb.Batch) {
	for _, op := range b.GetOperations() {
		Apply(reg, op)
	}
}

// admitInfo admits the agent of info (kept as it is) or replaces its info.
func admitInfo(reg *registrypb.Registry, info *mesos.AgentInfo) {
	if info.GetId().GetValue() == "" {
		return
	}
	if reg.Agents == nil {
		reg.Agents = &registrypb.Registry_Agents{}
	}
	for _, a := range reg.Agents.Agents {
		if a.GetInfo().GetId().GetValue() == info.GetId().GetValue() {
			a.Info = info
			return
		}
	}
	reg.Agents.Agents = append(reg.Agents.Agents, &registrypb.Registry_Agent{Info: info})
}

func removeAdmitted(reg *registrypb.Registry, id string) {
	if reg.Agents == nil {
		return
	}
	reg.Agents.Agents = slices.DeleteFunc(reg.Agents.Agents, func(a *registrypb.Registry_Agent) bool {
		return a.GetInfo().GetId().GetValue() == id
	})
}

func removeUnreachable(reg *registrypb.Registry, id string) {
	if reg.Unreachable == nil {
		return
	}
	reg.Unreachable.Agents = slices.DeleteFunc(reg.Unreachable.Agents, func(u *registrypb.Registry_UnreachableAgent) bool {
		return u.GetId().GetValue() == id
	})
}

func agentID(id string) *mesos.AgentID { return &mesos.AgentID{Value: proto.String(id)} }

func timestampOf(op *registrypb.Operation) *mesos.TimeInfo {
	if op.Timestamp != nil {
		return op.Timestamp
	}
	return &mesos.TimeInfo{Nanoseconds: proto.Int64(0)}
}
