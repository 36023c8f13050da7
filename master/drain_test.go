package master_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gomesos/gomesos/api/agentproto"
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
)

// Agent deactivation and draining through the operator API (Mesos 1.9+:
// DEACTIVATE_AGENT, REACTIVATE_AGENT, DRAIN_AGENT).

func agentCall(typ masterpb.Call_Type, id string) *masterpb.Call {
	aid := &mesos.AgentID{Value: proto.String(id)}
	c := callOf(typ)
	switch typ {
	case masterpb.Call_DEACTIVATE_AGENT:
		c.DeactivateAgent = &masterpb.Call_DeactivateAgent{AgentId: aid}
	case masterpb.Call_REACTIVATE_AGENT:
		c.ReactivateAgent = &masterpb.Call_ReactivateAgent{AgentId: aid}
	case masterpb.Call_DRAIN_AGENT:
		c.DrainAgent = &masterpb.Call_DrainAgent{AgentId: aid}
	}
	return c
}

// mustOK sends a call that must answer 200.
func (m *testMaster) mustOK(call *masterpb.Call) {
	m.t.Helper()
	if status, body := m.operatorCall(call, codec.Protobuf); status != http.StatusOK {
		m.t.Fatalf("%s: status %d, body %q", call.GetType(), status, body)
	}
}

// noOffersAfterAllocations waits for a few allocation passes and checks
// that no offer is outstanding.
func (m *testMaster) noOffersAfterAllocations() {
	m.t.Helper()
	runs := m.metrics()["allocator/mesos/allocation_runs"]
	waitFor(m.t, "three allocation passes", func() bool { return m.metrics()["allocator/mesos/allocation_runs"] >= runs+3 })
	if n := m.metrics()["master/outstanding_offers"]; n != 0 {
		m.t.Fatalf("%v offers outstanding, want none", n)
	}
}

// agentView is the agent as GET_AGENTS shows it (nil when it is not
// listed).
func (m *testMaster) agentView(id string) *masterpb.Response_GetAgents_Agent {
	m.t.Helper()
	for _, a := range m.operator(callOf(masterpb.Call_GET_AGENTS), codec.Protobuf).GetGetAgents().GetAgents() {
		if a.GetAgentInfo().GetId().GetValue() == id {
			return a
		}
	}
	return nil
}

// DEACTIVATE_AGENT rescinds the agent's offers and stops new ones; GET_AGENTS
// and /master/state show it deactivated and not active; it stays so across a
// reconnection; REACTIVATE_AGENT makes it offered again.
func TestOperatorDeactivateAndReactivateAgent(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	s := subscribe(t, m, frameworkInfo("fw"), codec.JSON)
	offer := s.nextOffers()[0]

	m.mustOK(agentCall(masterpb.Call_DEACTIVATE_AGENT, a.ID))
	if got := s.next(schedpb.Event_RESCIND).GetRescind().GetOfferId().GetValue(); got != offer.GetId().GetValue() {
		t.Fatalf("RESCIND of %s, want %s", got, offer.GetId().GetValue())
	}
	if v := m.agentView(a.ID); v.GetActive() || !v.GetDeactivated() {
		t.Fatalf("GET_AGENTS after DEACTIVATE_AGENT: active %v deactivated %v", v.GetActive(), v.GetDeactivated())
	}
	state := m.getJSON("/master/state")
	slave := findByID(objects(state["slaves"]), a.ID)
	if slave["active"] != false || slave["deactivated"] != true || state["deactivated_slaves"] != 1.0 || state["activated_slaves"] != 0.0 {
		t.Fatalf("/master/state: slave active %v deactivated %v, activated_slaves %v deactivated_slaves %v",
			slave["active"], slave["deactivated"], state["activated_slaves"], state["deactivated_slaves"])
	}
	if caps, _ := state["capabilities"].([]any); len(caps) != 2 || caps[0] != "AGENT_DRAINING" || caps[1] != "QUOTA_V2" {
		t.Fatalf("/master/state capabilities = %v, want [AGENT_DRAINING QUOTA_V2]", state["capabilities"])
	}
	// Deactivating again changes nothing and is not an error.
	m.mustOK(agentCall(masterpb.Call_DEACTIVATE_AGENT, a.ID))
	m.noOffersAfterAllocations()

	// A reconnection does not reactivate it.
	a.disconnect()
	a = a.reregister()
	m.noOffersAfterAllocations()
	if v := m.agentView(a.ID); v.GetActive() || !v.GetDeactivated() {
		t.Fatalf("GET_AGENTS after a reconnection: active %v deactivated %v", v.GetActive(), v.GetDeactivated())
	}

	m.mustOK(agentCall(masterpb.Call_REACTIVATE_AGENT, a.ID))
	if got := s.nextOffers()[0].GetAgentId().GetValue(); got != a.ID {
		t.Fatalf("offer after REACTIVATE_AGENT of agent %s, want %s", got, a.ID)
	}
	if v := m.agentView(a.ID); !v.GetActive() || v.GetDeactivated() {
		t.Fatalf("GET_AGENTS after REACTIVATE_AGENT: active %v deactivated %v", v.GetActive(), v.GetDeactivated())
	}
}

// Bad deactivation, reactivation and drain calls are refused with what is
// wrong, and change nothing.
func TestOperatorAgentStateCallsRefuseBadInput(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	cases := []struct {
		body   string
		status int
		text   string
	}{
		{`{"type":"DEACTIVATE_AGENT"}`, 400, "Expecting 'deactivate_agent' to be present"},
		{`{"type":"DEACTIVATE_AGENT","deactivate_agent":{"agent_id":{"value":"nope"}}}`, 404, "Agent 'nope' not found"},
		{`{"type":"REACTIVATE_AGENT","reactivate_agent":{"agent_id":{"value":"nope"}}}`, 404, "Agent 'nope' not found"},
		{`{"type":"REACTIVATE_AGENT","reactivate_agent":{"agent_id":{"value":"` + a.ID + `"}}}`, 400, "is not deactivated"},
		{`{"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":"nope"}}}`, 404, "Agent 'nope' not found"},
		{`{"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":"` + a.ID + `"},"max_grace_period":{"seconds":-1}}}`, 400, "expecting a non-negative duration"},
	}
	for _, c := range cases {
		status, body := m.operatorRaw([]byte(c.body), "application/json", "")
		if status != c.status || !strings.Contains(string(body), c.text) {
			t.Errorf("%s: %d %q, want %d with %q", c.body, status, body, c.status, c.text)
		}
	}
	if v := m.agentView(a.ID); !v.GetActive() || v.GetDeactivated() || v.DrainInfo != nil {
		t.Fatalf("refused calls changed the agent: %v", v)
	}
	// In JSON, max_grace_period is a google.protobuf.Duration object. An
	// agent without tasks is drained at once.
	body := `{"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":"` + a.ID + `"},"max_grace_period":{"seconds":1,"nanos":500000000}}}`
	if status, text := m.operatorRaw([]byte(body), "application/json", ""); status != http.StatusOK {
		t.Fatalf("DRAIN_AGENT in JSON: %d %s", status, text)
	}
	v := m.agentView(a.ID)
	if v.GetDrainInfo().GetState() != mesos.DrainState_DRAINED ||
		time.Duration(v.GetDrainInfo().GetConfig().GetMaxGracePeriod().GetNanoseconds()) != 1500*time.Millisecond {
		t.Fatalf("GET_AGENTS after draining an idle agent: %v", v)
	}
}

// DRAIN_AGENT deactivates the agent and kills each task with its kill
// policy, the grace period capped at max_grace_period; the agent is
// DRAINING until its last task ends, then DRAINED; REACTIVATE_AGENT ends
// the drain.
func TestOperatorDrainAgentKillsTasksThenDrains(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	s := subscribe(t, m, frameworkInfo("fw"), codec.JSON)
	o := s.nextOffers()[0]
	short, long := commandTask("short", "cpus:0.5;mem:128", o), commandTask("long", "cpus:0.5;mem:128", o)
	short.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(time.Second))}}
	long.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(time.Minute))}}
	plain := commandTask("plain", "cpus:0.5;mem:128", o)
	s.accept(offerIDs(o), 0, launchOp(short, long, plain))
	for range 3 {
		a.next(agentproto.MasterMessage_RUN_TASK)
	}
	for _, id := range []string{"short", "long", "plain"} {
		s.acknowledge(s.nextUpdateAfter(a, id, mesos.TaskState_TASK_RUNNING))
	}

	drain := agentCall(masterpb.Call_DRAIN_AGENT, a.ID)
	drain.DrainAgent.MaxGracePeriod = durationpb.New(2 * time.Second)
	m.mustOK(drain)
	want := map[string]time.Duration{"short": time.Second, "long": 2 * time.Second, "plain": 2 * time.Second}
	for range 3 {
		k := a.next(agentproto.MasterMessage_KILL_TASK).GetKillTask()
		id := k.GetTaskId().GetValue()
		if got := time.Duration(k.GetKillPolicy().GetGracePeriod().GetNanoseconds()); got != want[id] {
			t.Errorf("KILL_TASK %s: grace period %v, want %v", id, got, want[id])
		}
		delete(want, id)
	}
	v := m.agentView(a.ID)
	if v.GetDrainInfo().GetState() != mesos.DrainState_DRAINING || !v.GetDeactivated() || v.GetActive() ||
		time.Duration(v.GetDrainInfo().GetConfig().GetMaxGracePeriod().GetNanoseconds()) != 2*time.Second {
		t.Fatalf("GET_AGENTS while draining: %v", v)
	}

	for _, id := range []string{"short", "long"} {
		s.acknowledge(s.nextUpdateAfter(a, id, mesos.TaskState_TASK_KILLED))
	}
	s.syncUpdates()
	if st := m.agentView(a.ID).GetDrainInfo().GetState(); st != mesos.DrainState_DRAINING {
		t.Fatalf("drain state with a task left: %v, want DRAINING", st)
	}
	// Ended is not enough: its end must be acknowledged.
	last := s.nextUpdateAfter(a, "plain", mesos.TaskState_TASK_FINISHED)
	s.syncUpdates()
	if st := m.agentView(a.ID).GetDrainInfo().GetState(); st != mesos.DrainState_DRAINING {
		t.Fatalf("drain state before the last end is acknowledged: %v, want DRAINING", st)
	}
	s.acknowledge(last)
	waitFor(t, "the agent to be DRAINED", func() bool {
		return m.agentView(a.ID).GetDrainInfo().GetState() == mesos.DrainState_DRAINED
	})
	slave := findByID(objects(m.getJSON("/master/state")["slaves"]), a.ID)
	if di, _ := slave["drain_info"].(map[string]any); di["state"] != "DRAINED" {
		t.Fatalf("/master/state drain_info = %v, want DRAINED", slave["drain_info"])
	}
	m.noOffersAfterAllocations()

	m.mustOK(agentCall(masterpb.Call_REACTIVATE_AGENT, a.ID))
	if v := m.agentView(a.ID); v.DrainInfo != nil || v.GetDeactivated() || !v.GetActive() {
		t.Fatalf("GET_AGENTS after REACTIVATE_AGENT: %v", v)
	}
	if got := s.nextOffers()[0].GetAgentId().GetValue(); got != a.ID {
		t.Fatalf("offer after REACTIVATE_AGENT of agent %s, want %s", got, a.ID)
	}
}

// DRAIN_AGENT with mark_gone marks the drained agent gone: it is told to
// shut down and leaves GET_AGENTS (MARK_AGENT_GONE's path). An
// agent with no task is drained (and gone) at once.
func TestOperatorDrainAgentMarkGone(t *testing.T) {
	m := startMaster(t)
	busy := startAgent(t, m, "busy", agentResources)
	s := subscribe(t, m, frameworkInfo("fw"), codec.JSON)
	runTask(t, s, busy, "t1", "cpus:1;mem:128")
	idle := startAgent(t, m, "idle", agentResources)

	for _, a := range []*fakeAgent{busy, idle} {
		drain := agentCall(masterpb.Call_DRAIN_AGENT, a.ID)
		drain.DrainAgent.MarkGone = proto.Bool(true)
		m.mustOK(drain)
	}
	idle.next(agentproto.MasterMessage_SHUTDOWN)
	if m.agentView(idle.ID) != nil {
		t.Fatalf("an idle agent drained with mark_gone is still listed")
	}
	if k := busy.next(agentproto.MasterMessage_KILL_TASK).GetKillTask(); k.GetTaskId().GetValue() != "t1" {
		t.Fatalf("KILL_TASK of %v, want t1", k.GetTaskId())
	}
	if v := m.agentView(busy.ID); v.GetDrainInfo().GetState() != mesos.DrainState_DRAINING || !v.GetDrainInfo().GetConfig().GetMarkGone() {
		t.Fatalf("GET_AGENTS while draining: %v", v)
	}
	s.acknowledge(s.nextUpdateAfter(busy, "t1", mesos.TaskState_TASK_KILLED))
	busy.next(agentproto.MasterMessage_SHUTDOWN)
	waitFor(t, "the drained agent to leave GET_AGENTS", func() bool { return m.agentView(busy.ID) == nil })
	// Its task ended and was acknowledged: the framework hears nothing
	// more of it (no TASK_LOST from the agent's removal).
	s.syncUpdates()

}
