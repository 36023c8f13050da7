package core

import (
	"math"

	registrypb "github.com/gomesos/gomesos/api/registry"
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"google.golang.org/protobuf/proto"
)

// OperatorCall is a call on the operator API (POST /api/v1) that changes
// the master's state: the driver answers the read-only calls from the
// snapshot and feeds the rest here. The call is decoded; its type and
// sub-message are checked here.
type OperatorCall struct {
	Call *masterpb.Call
}

func (OperatorCall) isInput() {}

// operatorCall serves an operator call that changes state. It answers OK
// (200, as Mesos does for these calls) once the change is made; the
// registry operations it needs are among its outputs, committed before the
// driver answers.
func (c *Core) operatorCall(in OperatorCall) Result {
	call := in.Call
	switch call.GetType() {
	case masterpb.Call_TEARDOWN:
		return c.operatorTeardown(call.GetTeardown())
	case masterpb.Call_MARK_AGENT_GONE:
		return c.operatorMarkAgentGone(call.GetMarkAgentGone())
	case masterpb.Call_UPDATE_WEIGHTS:
		return c.operatorUpdateWeights(call.GetUpdateWeights())
	case masterpb.Call_UPDATE_QUOTA:
		return c.operatorUpdateQuota(call.GetUpdateQuota())
	case masterpb.Call_SET_QUOTA:
		return c.operatorSetQuota(call.GetSetQuota())
	case masterpb.Call_REMOVE_QUOTA:
		return c.operatorRemoveQuota(call.GetRemoveQuota())
	case masterpb.Call_DEACTIVATE_AGENT:
		return c.operatorDeactivateAgent(call.GetDeactivateAgent())
	case masterpb.Call_REACTIVATE_AGENT:
		return c.operatorReactivateAgent(call.GetReactivateAgent())
	case masterpb.Call_DRAIN_AGENT:
		return c.operatorDrainAgent(call.GetDrainAgent())
	case masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE:
		if call.UpdateMaintenanceSchedule == nil {
			return fail(Invalid, "Expecting 'update_maintenance_schedule' to be present")
		}
		return c.operatorUpdateSchedule(call.GetUpdateMaintenanceSchedule())
	case masterpb.Call_START_MAINTENANCE:
		return c.operatorStartMaintenance(call.GetStartMaintenance())
	case masterpb.Call_STOP_MAINTENANCE:
		return c.operatorStopMaintenance(call.GetStopMaintenance())
	case masterpb.Call_GET_OPERATIONS:
		return Result{Code: OK, Body: &masterpb.Response{Type: masterpb.Response_GET_OPERATIONS.Enum(), GetOperations: c.operationsProto()}}
	}
	if agentID, op, ok := operatorResourceCall(call); ok {
		return c.operatorOperation(agentID, op)
	}
	return fail(Unsupported, "Operator call %s is not supported", call.GetType())
}

// operatorTeardown removes a framework, as the scheduler's TEARDOWN does.
func (c *Core) operatorTeardown(t *masterpb.Call_Teardown) Result {
	if t == nil {
		return fail(Invalid, "Expecting 'teardown' to be present")
	}
	id := t.GetFrameworkId().GetValue()
	fw := c.frameworks[id]
	if fw == nil {
		return fail(Invalid, "No framework found with specified ID")
	}
	c.removeFramework(fw)
	return Result{Code: OK}
}

// operatorUpdateWeights sets roles' weights (UPDATE_WEIGHTS): each must be
// a valid role with a positive weight, or nothing changes.
func (c *Core) operatorUpdateWeights(u *masterpb.Call_UpdateWeights) Result {
	if u == nil {
		return fail(Invalid, "Expecting 'update_weights' to be present")
	}
	if len(u.GetWeightInfos()) == 0 {
		return fail(Invalid, "Expecting at least one weight in 'update_weights.weight_infos'")
	}
	update := map[string]float64{}
	for _, wi := range u.GetWeightInfos() {
		role, w := wi.GetRole(), wi.GetWeight()
		if err := validateRole(role); err != nil {
			return fail(Invalid, "Invalid role '%s': %s", role, err)
		}
		if role == "*" {
			return fail(Invalid, "Cannot update the weight of the default role '*'")
		}
		if !(w > 0) || math.IsInf(w, 0) {
			return fail(Invalid, "Invalid weight '%v' for role '%s': weights must be positive", w, role)
		}
		if _, dup := update[role]; dup {
			return fail(Invalid, "Role '%s' appears more than once", role)
		}
		update[role] = w
	}
	op := &registrypb.Operation{Type: registrypb.Operation_UPDATE_WEIGHTS.Enum()}
	for _, role := range sortedKeys(update) {
		op.Weights = append(op.Weights, &registrypb.Registry_Weight{Role: proto.String(role), Weight: proto.Float64(update[role])})
		if update[role] == 1 {
			delete(c.weights, role)
		} else {
			c.weights[role] = update[role]
		}
	}
	c.persist(op)
	c.alloc.UpdateWeights(update)
	c.weightsChanged = true
	c.allocateSoon = true
	return Result{Code: OK}
}

// operatorMarkAgentGone marks an agent gone (MARK_AGENT_GONE): the
// operator asserts it will never come back. Its tasks are reported gone
// by the operator (lost, to frameworks that are not partition-aware), it
// is told to shut down, and it is refused should it ever return.
func (c *Core) operatorMarkAgentGone(g *masterpb.Call_MarkAgentGone) Result {
	if g == nil {
		return fail(Invalid, "Expecting 'mark_agent_gone' to be present")
	}
	id := g.GetAgentId().GetValue()
	if _, gone := c.gone[id]; gone {
		return Result{Code: OK}
	}
	a := c.agents[id]
	_, unreachable := c.unreachable[id]
	if a == nil && !unreachable {
		return fail(NotFound, "Agent '%s' not found", id)
	}
	c.persist(&registrypb.Operation{
		Type: registrypb.Operation_MARK_AGENT_GONE.Enum(), AgentId: agentIDProto(id), Timestamp: timeInfo(c.now),
	})
	if a != nil {
		c.log.Info("agent marked gone by the operator", "agent", id)
		c.dropAgent(a, "marked gone by operator", mesos.TaskStatus_REASON_AGENT_REMOVED_BY_OPERATOR, true)
	}
	c.forgetUnreachable(id)
	c.markGone(id)
	return Result{Code: OK}
}
