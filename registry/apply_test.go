package registry

import (
	"testing"

	"google.golang.org/protobuf/proto"

	registrypb "github.com/gomesos/gomesos/api/registry"
	"github.com/gomesos/gomesos/api/v1/maintenance"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/api/v1/quota"
)

func agentInfo(id, host string) *mesos.AgentInfo {
	return &mesos.AgentInfo{Id: agentID(id), Hostname: proto.String(host)}
}

func ts(ns int64) *mesos.TimeInfo { return &mesos.TimeInfo{Nanoseconds: proto.Int64(ns)} }

func opAdmit(id, host string) *registrypb.Operation {
	return &registrypb.Operation{Type: registrypb.Operation_ADMIT_AGENT.Enum(), AgentInfo: agentInfo(id, host)}
}

func opOn(t registrypb.Operation_Type, id string, at int64) *registrypb.Operation {
	return &registrypb.Operation{Type: t.Enum(), AgentId: agentID(id), Timestamp: ts(at)}
}

func admittedIDs(reg *registrypb.Registry) []string {
	var ids []string
	for _, a := range reg.GetAgents().GetAgents() {
		ids = append(ids, a.GetInfo().GetId().GetValue()+"@"+a.GetInfo().GetHostname())
	}
	return ids
}

func unreachableIDs(reg *registrypb.Registry) []string {
	var ids []string
	for _, u := range reg.GetUnreachable().GetAgents() {
		ids = append(ids, u.GetId().GetValue())
	}
	return ids
}

func goneIDs(reg *registrypb.Registry) []string {
	var ids []string
	for _, g := range reg.GetGone().GetAgents() {
		ids = append(ids, g.GetId().GetValue())
	}
	return ids
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// applyTwice applies ops, checks the result, then applies the last
// operation again and checks that nothing moved (every operation is
// idempotent).
func applyTwice(t *testing.T, reg *registrypb.Registry, ops ...*registrypb.Operation) {
	t.Helper()
	for _, op := range ops {
		Apply(reg, op)
	}
	before := proto.Clone(reg)
	Apply(reg, ops[len(ops)-1])
	if !proto.Equal(before, reg) {
		t.Fatalf("applying %v twice changed the registry:\n%v\nthen\n%v", ops[len(ops)-1], before, reg)
	}
}

func TestApplyAdmitAndUpdateAgent(t *testing.T) {
	reg := &registrypb.Registry{}
	applyTwice(t, reg, opAdmit("a1", "h1"), opAdmit("a2", "h2"))
	if got := admittedIDs(reg); !equalStrings(got, []string{"a1@h1", "a2@h2"}) {
		t.Fatalf("admitted %v", got)
	}
	// Admitting an admitted agent replaces its info in place, and keeps
	// its drain state.
	Apply(reg, &registrypb.Operation{Type: registrypb.Operation_UPDATE_AGENT_STATE.Enum(), AgentId: agentID("a1"), Deactivated: proto.Bool(true)})
	applyTwice(t, reg, &registrypb.Operation{Type: registrypb.Operation_UPDATE_AGENT.Enum(), AgentInfo: agentInfo("a1", "h1b")})
	if got := admittedIDs(reg); !equalStrings(got, []string{"a1@h1b", "a2@h2"}) {
		t.Fatalf("after the update: %v", got)
	}
	if !reg.GetAgents().GetAgents()[0].GetDeactivated() {
		t.Error("the update lost the agent's deactivation")
	}
	// An agent with no id is not admitted.
	Apply(reg, opAdmit("", "h3"))
	if n := len(reg.GetAgents().GetAgents()); n != 2 {
		t.Errorf("%d agents after admitting one with no id", n)
	}
	// The registry keeps a clone: changing the operation afterwards does
	// not reach it.
	op := opAdmit("a3", "h3")
	Apply(reg, op)
	op.AgentInfo.Hostname = proto.String("changed")
	if got := admittedIDs(reg)[2]; got != "a3@h3" {
		t.Errorf("the registry shares the operation's info: %s", got)
	}
}

func TestApplyMarkUnreachableAndReachable(t *testing.T) {
	reg := &registrypb.Registry{}
	Apply(reg, opAdmit("a1", "h1"))
	Apply(reg, opAdmit("a2", "h2"))
	applyTwice(t, reg, opOn(registrypb.Operation_MARK_AGENT_UNREACHABLE, "a1", 10))
	applyTwice(t, reg, opOn(registrypb.Operation_MARK_AGENT_UNREACHABLE, "a2", 20))
	if got := admittedIDs(reg); len(got) != 0 {
		t.Fatalf("admitted %v after both were marked unreachable", got)
	}
	if got := unreachableIDs(reg); !equalStrings(got, []string{"a1", "a2"}) {
		t.Fatalf("unreachable %v", got)
	}
	// Marking again moves the agent to the end with the new time.
	Apply(reg, opOn(registrypb.Operation_MARK_AGENT_UNREACHABLE, "a1", 30))
	if got := unreachableIDs(reg); !equalStrings(got, []string{"a2", "a1"}) {
		t.Fatalf("unreachable %v after marking a1 again", got)
	}
	if at := reg.GetUnreachable().GetAgents()[1].GetTimestamp().GetNanoseconds(); at != 30 {
		t.Errorf("a1 marked unreachable at %d, want 30", at)
	}

	applyTwice(t, reg, &registrypb.Operation{Type: registrypb.Operation_MARK_AGENT_REACHABLE.Enum(), AgentInfo: agentInfo("a2", "h2b")})
	if got := unreachableIDs(reg); !equalStrings(got, []string{"a1"}) {
		t.Errorf("unreachable %v after a2 came back", got)
	}
	if got := admittedIDs(reg); !equalStrings(got, []string{"a2@h2b"}) {
		t.Errorf("admitted %v after a2 came back", got)
	}
	// An agent on neither list (its unreachable entry was pruned) is
	// admitted.
	Apply(reg, &registrypb.Operation{Type: registrypb.Operation_MARK_AGENT_REACHABLE.Enum(), AgentInfo: agentInfo("a9", "h9")})
	if got := admittedIDs(reg); !equalStrings(got, []string{"a2@h2b", "a9@h9"}) {
		t.Errorf("admitted %v after a9, on neither list, came back", got)
	}
}

func TestApplyMarkGoneRemoveAndPrune(t *testing.T) {
	reg := &registrypb.Registry{}
	for _, id := range []string{"a1", "a2", "a3", "a4"} {
		Apply(reg, opAdmit(id, "h"))
	}
	Apply(reg, opOn(registrypb.Operation_MARK_AGENT_UNREACHABLE, "a2", 5))
	applyTwice(t, reg, opOn(registrypb.Operation_MARK_AGENT_GONE, "a1", 10))
	applyTwice(t, reg, opOn(registrypb.Operation_MARK_AGENT_GONE, "a2", 20))
	// Gone again does not move the agent nor restamp it.
	Apply(reg, opOn(registrypb.Operation_MARK_AGENT_GONE, "a1", 99))
	if got := goneIDs(reg); !equalStrings(got, []string{"a1", "a2"}) {
		t.Fatalf("gone %v", got)
	}
	if at := reg.GetGone().GetAgents()[0].GetTimestamp().GetNanoseconds(); at != 10 {
		t.Errorf("a1 gone at %d, want 10", at)
	}
	if got := unreachableIDs(reg); len(got) != 0 {
		t.Errorf("unreachable %v: a2 is gone", got)
	}
	if got := admittedIDs(reg); !equalStrings(got, []string{"a3@h", "a4@h"}) {
		t.Errorf("admitted %v", got)
	}

	applyTwice(t, reg, opOn(registrypb.Operation_REMOVE_AGENT, "a3", 0))
	if got := admittedIDs(reg); !equalStrings(got, []string{"a4@h"}) {
		t.Errorf("admitted %v after removing a3", got)
	}

	Apply(reg, opOn(registrypb.Operation_MARK_AGENT_UNREACHABLE, "a4", 30))
	Apply(reg, opOn(registrypb.Operation_MARK_AGENT_UNREACHABLE, "a5", 40))
	applyTwice(t, reg, &registrypb.Operation{
		Type:             registrypb.Operation_PRUNE.Enum(),
		PruneUnreachable: []*mesos.AgentID{agentID("a4"), agentID("nobody")},
		PruneGone:        []*mesos.AgentID{agentID("a1")},
	})
	if got := unreachableIDs(reg); !equalStrings(got, []string{"a5"}) {
		t.Errorf("unreachable %v after the prune", got)
	}
	if got := goneIDs(reg); !equalStrings(got, []string{"a2"}) {
		t.Errorf("gone %v after the prune", got)
	}
}

func TestApplyWeightsMasterAndAgentState(t *testing.T) {
	reg := &registrypb.Registry{}
	w := func(role string, v float64) *registrypb.Registry_Weight {
		return &registrypb.Registry_Weight{Role: proto.String(role), Weight: proto.Float64(v)}
	}
	weights := func(ws ...*registrypb.Registry_Weight) *registrypb.Operation {
		return &registrypb.Operation{Type: registrypb.Operation_UPDATE_WEIGHTS.Enum(), Weights: ws}
	}
	applyTwice(t, reg, weights(w("a", 2), w("b", 3), w("c", 1)))
	applyTwice(t, reg, weights(w("a", 5), w("b", 1)))
	if len(reg.Weights) != 1 || reg.Weights[0].GetRole() != "a" || reg.Weights[0].GetWeight() != 5 {
		t.Errorf("weights %v: want only a=5 (1 removes, and c was never stored)", reg.Weights)
	}

	info := &mesos.MasterInfo{Id: proto.String("m1"), Ip: proto.Uint32(1), Port: proto.Uint32(5050)}
	applyTwice(t, reg, &registrypb.Operation{Type: registrypb.Operation_UPDATE_MASTER.Enum(), MasterInfo: info})
	if reg.GetMaster().GetInfo().GetId() != "m1" {
		t.Errorf("master %v", reg.GetMaster())
	}

	Apply(reg, opAdmit("a1", "h"))
	drain := &registrypb.DrainInfo{State: registrypb.DrainInfo_DRAINING.Enum(), MarkGone: proto.Bool(true)}
	applyTwice(t, reg, &registrypb.Operation{Type: registrypb.Operation_UPDATE_AGENT_STATE.Enum(), AgentId: agentID("a1"), DrainInfo: drain, Deactivated: proto.Bool(true)})
	a := reg.GetAgents().GetAgents()[0]
	if a.GetDrainInfo().GetState() != registrypb.DrainInfo_DRAINING || !a.GetDeactivated() {
		t.Errorf("agent state %v", a)
	}
	applyTwice(t, reg, &registrypb.Operation{Type: registrypb.Operation_UPDATE_AGENT_STATE.Enum(), AgentId: agentID("a1")})
	if a := reg.GetAgents().GetAgents()[0]; a.DrainInfo != nil || a.Deactivated != nil {
		t.Errorf("agent state %v: want cleared", a)
	}
	// An agent not admitted has no state to set.
	before := proto.Clone(reg)
	Apply(reg, &registrypb.Operation{Type: registrypb.Operation_UPDATE_AGENT_STATE.Enum(), AgentId: agentID("nobody"), Deactivated: proto.Bool(true)})
	Apply(reg, &registrypb.Operation{}) // UNKNOWN
	if !proto.Equal(before, reg) {
		t.Errorf("the registry changed:\n%v\n%v", before, reg)
	}
}

// UPDATE_QUOTA sets each role's configuration in place or appends it; a
// configuration with neither guarantees nor limits removes the role's.
func TestApplyUpdateQuota(t *testing.T) {
	reg := &registrypb.Registry{}
	scalar := func(v float64) *mesos.Value_Scalar { return &mesos.Value_Scalar{Value: proto.Float64(v)} }
	qc := func(role string, g, l map[string]*mesos.Value_Scalar) *quota.QuotaConfig {
		return &quota.QuotaConfig{Role: proto.String(role), Guarantees: g, Limits: l}
	}
	op := func(cs ...*quota.QuotaConfig) *registrypb.Operation {
		return &registrypb.Operation{Type: registrypb.Operation_UPDATE_QUOTA.Enum(), QuotaConfigs: cs}
	}
	applyTwice(t, reg, op(
		qc("a", map[string]*mesos.Value_Scalar{"cpus": scalar(2)}, map[string]*mesos.Value_Scalar{"cpus": scalar(4)}),
		qc("b", nil, map[string]*mesos.Value_Scalar{"mem": scalar(512)}),
		qc("c", nil, nil),
	))
	if len(reg.QuotaConfigs) != 2 || reg.QuotaConfigs[0].GetRole() != "a" || reg.QuotaConfigs[1].GetRole() != "b" {
		t.Fatalf("quota configs %v: want a and b (c has no quota)", reg.QuotaConfigs)
	}
	applyTwice(t, reg, op(qc("a", nil, nil), qc("b", map[string]*mesos.Value_Scalar{"mem": scalar(256)}, nil)))
	if len(reg.QuotaConfigs) != 1 || reg.QuotaConfigs[0].GetRole() != "b" ||
		reg.QuotaConfigs[0].GetGuarantees()["mem"].GetValue() != 256 || len(reg.QuotaConfigs[0].GetLimits()) != 0 {
		t.Errorf("quota configs %v: want only b with mem 256 guaranteed (a removed, b replaced)", reg.QuotaConfigs)
	}
}

// UPDATE_MAINTENANCE replaces the schedule and the machines; an empty
// schedule and no machines leave none.
func TestApplyUpdateMaintenance(t *testing.T) {
	reg := &registrypb.Registry{}
	machine := &mesos.MachineID{Hostname: proto.String("h1")}
	schedule := &maintenance.Schedule{Windows: []*maintenance.Window{{
		MachineIds: []*mesos.MachineID{machine}, Unavailability: &mesos.Unavailability{Start: &mesos.TimeInfo{Nanoseconds: proto.Int64(1)}},
	}}}
	machines := &registrypb.Registry_Machines{Machines: []*registrypb.Registry_Machine{{Info: &mesos.MachineInfo{Id: machine, Mode: mesos.MachineInfo_DRAINING.Enum()}}}}
	op := &registrypb.Operation{Type: registrypb.Operation_UPDATE_MAINTENANCE.Enum(), Schedule: schedule, Machines: machines}
	applyTwice(t, reg, op)
	if len(reg.Schedules) != 1 || !proto.Equal(reg.Schedules[0], schedule) || !proto.Equal(reg.Machines, machines) {
		t.Fatalf("registry after UPDATE_MAINTENANCE: %v", reg)
	}
	schedule.Windows = nil // Apply kept its own copy
	if len(reg.Schedules[0].Windows) != 1 {
		t.Fatalf("Apply shares the operation's schedule")
	}
	applyTwice(t, reg, &registrypb.Operation{Type: registrypb.Operation_UPDATE_MAINTENANCE.Enum(), Schedule: &maintenance.Schedule{}})
	if reg.Schedules != nil || reg.Machines != nil {
		t.Fatalf("registry after an empty UPDATE_MAINTENANCE: %v", reg)
	}
}

func TestApplyBatchAppliesInOrder(t *testing.T) {
	reg := &registrypb.Registry{}
	ApplyBatch(reg, &registrypb.Batch{Operations: []*registrypb.Operation{
		opAdmit("a1", "h"), opOn(registrypb.Operation_MARK_AGENT_UNREACHABLE, "a1", 1),
		{Type: registrypb.Operation_MARK_AGENT_REACHABLE.Enum(), AgentInfo: agentInfo("a1", "h2")},
	}})
	if got := admittedIDs(reg); !equalStrings(got, []string{"a1@h2"}) || len(unreachableIDs(reg)) != 0 {
		t.Errorf("registry %v", reg)
	}
}
