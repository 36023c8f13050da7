package core

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gomesos/gomesos/api/agentproto"
	registrypb "github.com/gomesos/gomesos/api/registry"
	"github.com/gomesos/gomesos/api/v1/maintenance"
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/resources"
)

func (r *rig) operator(call *masterpb.Call) Result {
	r.t.Helper()
	return r.step(OperatorCall{Call: call})
}

func offersTo(evs []*schedpb.Event, agentID string) int {
	n := 0
	for _, ev := range evs {
		for _, o := range ev.GetOffers().GetOffers() {
			if o.GetAgentId().GetValue() == agentID {
				n++
			}
		}
	}
	return n
}

func operatorAgentOf(t *testing.T, c *Core, id string) *masterpb.Response_GetAgents_Agent {
	t.Helper()
	for _, a := range c.Snapshot().OperatorAgents().GetAgents() {
		if a.GetAgentInfo().GetId().GetValue() == id {
			return a
		}
	}
	t.Fatalf("agent %s not in GET_AGENTS", id)
	return nil
}

// The registry keeps a deactivated agent deactivated and a draining agent
// draining across a failover: the new leader restores both when the agent
// re-registers, offers it to nobody, and kills the tasks it still runs.
func TestDeactivationAndDrainSurviveFailover(t *testing.T) {
	r, f, admitted, registered := launchedBeforeFailover(t)
	drainID := admitted.GetId().GetValue()
	r.update(rigAgent{id: drainID, conn: "c1"}, f, "t1", mesos.TaskState_TASK_RUNNING, nil)
	idle := r.agent("c2", plainAgent("h2"), "10.0.0.3:5051")
	r.check = true

	r.operator(&masterpb.Call{Type: masterpb.Call_DEACTIVATE_AGENT.Enum(),
		DeactivateAgent: &masterpb.Call_DeactivateAgent{AgentId: agentIDProto(idle.id)}})
	r.operator(&masterpb.Call{Type: masterpb.Call_DRAIN_AGENT.Enum(), DrainAgent: &masterpb.Call_DrainAgent{
		AgentId: agentIDProto(drainID), MaxGracePeriod: durationpb.New(5 * time.Second),
	}})
	for _, a := range r.reg.GetAgents().GetAgents() {
		switch a.GetInfo().GetId().GetValue() {
		case idle.id:
			if !a.GetDeactivated() || a.DrainInfo != nil {
				t.Fatalf("registry: deactivated agent %v", a)
			}
		case drainID:
			if !a.GetDeactivated() || a.GetDrainInfo().GetState() != registrypb.DrainInfo_DRAINING ||
				a.GetDrainInfo().GetMaxGracePeriod().GetNanoseconds() != int64(5*time.Second) {
				t.Fatalf("registry: draining agent %v", a)
			}
		}
	}

	n := r.failover(Options{AgentReregisterTimeout: time.Minute})
	n.check = true
	f2 := n.subscribe("s2", registered)
	idleInfo := proto.Clone(plainAgent("h2")).(*mesos.AgentInfo)
	idleInfo.Id = agentIDProto(idle.id)
	n.reregister("c3", idleInfo, nil, nil)
	task := &mesos.Task{
		Name: proto.String("task t1"), TaskId: &mesos.TaskID{Value: proto.String("t1")},
		FrameworkId: registered.Id, AgentId: admitted.Id, State: mesos.TaskState_TASK_RUNNING.Enum(),
		Resources: resources.ToProto(resources.MustParse("cpus:1;mem:128")),
	}
	before := len(n.outs)
	back := n.reregister("c4", admitted, []*mesos.FrameworkInfo{registered}, []*mesos.Task{task})
	kills := 0
	for _, msg := range agentMessages(n.since(before), "c4") {
		if msg.GetType() == agentproto.MasterMessage_KILL_TASK {
			kills++
			if g := msg.GetKillTask().GetKillPolicy().GetGracePeriod().GetNanoseconds(); g != int64(3*time.Second) {
				t.Errorf("KILL_TASK grace period %v, want the default 3s (under the 5s cap)", time.Duration(g))
			}
		}
	}
	if kills != 1 {
		t.Fatalf("the draining agent's return sent %d KILL_TASKs, want 1", kills)
	}
	n.tick()
	n.tick()
	if got := offersTo(n.events["s2"], idle.id) + offersTo(n.events["s2"], drainID); got != 0 {
		t.Fatalf("%d offers of deactivated agents after the failover", got)
	}
	if v := operatorAgentOf(t, n.c, idle.id); !v.GetDeactivated() || v.GetActive() {
		t.Fatalf("GET_AGENTS after failover, deactivated agent: %v", v)
	}
	if v := operatorAgentOf(t, n.c, drainID); v.GetDrainInfo().GetState() != mesos.DrainState_DRAINING || !v.GetDeactivated() {
		t.Fatalf("GET_AGENTS after failover, draining agent: %v", v)
	}
	uuid := n.update(back, f2, "t1", mesos.TaskState_TASK_KILLED, nil)
	if v := operatorAgentOf(t, n.c, drainID); v.GetDrainInfo().GetState() != mesos.DrainState_DRAINING {
		t.Fatalf("GET_AGENTS before the last end is acknowledged: %v", v)
	}
	n.ack(back, f2, "t1", uuid)
	if v := operatorAgentOf(t, n.c, drainID); v.GetDrainInfo().GetState() != mesos.DrainState_DRAINED {
		t.Fatalf("GET_AGENTS once the last task ended: %v", v)
	}

	// Reactivated, both are offered again.
	for _, id := range []string{idle.id, drainID} {
		n.operator(&masterpb.Call{Type: masterpb.Call_REACTIVATE_AGENT.Enum(),
			ReactivateAgent: &masterpb.Call_ReactivateAgent{AgentId: agentIDProto(id)}})
	}
	n.tick()
	if offersTo(n.events["s2"], idle.id) == 0 || offersTo(n.events["s2"], drainID) == 0 {
		t.Fatalf("reactivated agents were not offered")
	}
	for _, a := range n.reg.GetAgents().GetAgents() {
		if a.GetDeactivated() || a.DrainInfo != nil {
			t.Fatalf("registry after REACTIVATE_AGENT: %v", a)
		}
	}
}

// drainKillPolicy caps the grace period at max_grace_period and leaves
// shorter ones (and every one, without a cap) alone.
func TestDrainKillPolicy(t *testing.T) {
	dur := func(d time.Duration) *mesos.DurationInfo {
		return &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(d))}
	}
	policy := func(d time.Duration) *mesos.KillPolicy { return &mesos.KillPolicy{GracePeriod: dur(d)} }
	cases := []struct {
		policy *mesos.KillPolicy
		max    *mesos.DurationInfo
		want   time.Duration // -1: no kill policy
	}{
		{nil, nil, -1},
		{policy(time.Minute), nil, time.Minute},
		{policy(time.Minute), dur(10 * time.Second), 10 * time.Second},
		{policy(time.Second), dur(10 * time.Second), time.Second},
		{nil, dur(time.Second), time.Second},
		{nil, dur(time.Minute), 3 * time.Second},
		{policy(time.Minute), dur(0), 0},
	}
	for i, c := range cases {
		got := drainKillPolicy(c.policy, c.max)
		if c.want < 0 {
			if got != nil {
				t.Errorf("%d: %v, want no kill policy", i, got)
			}
			continue
		}
		if g := time.Duration(got.GetGracePeriod().GetNanoseconds()); got.GetGracePeriod() == nil || g != c.want {
			t.Errorf("%d: grace period %v, want %v", i, got.GetGracePeriod(), c.want)
		}
	}
}

// The schedule and the machines' modes survive a failover: the new leader
// shows them, keeps refusing agents of DOWN machines and keeps tagging the
// offers of DRAINING ones.
func TestMaintenanceSurvivesFailover(t *testing.T) {
	r := newRig(t)
	r.check = true
	r.agent("c1", plainAgent("h1"), "10.0.0.2:5051")
	draining := r.agent("c2", plainAgent("h2"), "10.0.0.3:5051")
	unavailability := &mesos.Unavailability{Start: &mesos.TimeInfo{Nanoseconds: proto.Int64(r.now.Add(time.Hour).UnixNano())}}
	schedule := &maintenance.Schedule{Windows: []*maintenance.Window{{
		MachineIds:     []*mesos.MachineID{{Ip: proto.String("10.0.0.2")}, {Hostname: proto.String("H2")}},
		Unavailability: unavailability,
	}}}
	r.operator(&masterpb.Call{Type: masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE.Enum(),
		UpdateMaintenanceSchedule: &masterpb.Call_UpdateMaintenanceSchedule{Schedule: schedule}})
	r.operator(&masterpb.Call{Type: masterpb.Call_START_MAINTENANCE.Enum(),
		StartMaintenance: &masterpb.Call_StartMaintenance{Machines: []*mesos.MachineID{{Ip: proto.String("10.0.0.2")}}}})
	if len(r.reg.GetSchedules()) != 1 || len(r.reg.GetMachines().GetMachines()) != 2 || len(r.reg.GetAgents().GetAgents()) != 1 {
		t.Fatalf("registry after START_MAINTENANCE: %v", r.reg)
	}

	n := r.failover(Options{AgentReregisterTimeout: time.Minute})
	n.check = true
	if got := n.c.Snapshot().MaintenanceSchedule(); !proto.Equal(got, schedule) {
		t.Fatalf("schedule after failover = %v, want %v", got, schedule)
	}
	st := n.c.Snapshot().MaintenanceStatus()
	if len(st.GetDownMachines()) != 1 || st.GetDownMachines()[0].GetIp() != "10.0.0.2" || len(st.GetDrainingMachines()) != 1 {
		t.Fatalf("status after failover = %v", st)
	}
	before := len(n.outs)
	n.step(AgentSubscribe{Conn: "c3", Msg: &agentproto.AgentMessage{Type: agentproto.AgentMessage_REGISTER.Enum(),
		Register: &agentproto.AgentMessage_Register{AgentInfo: plainAgent("other-name"), Version: proto.String(Version), Endpoint: proto.String("10.0.0.2:5051")}}})
	if msgs := agentMessages(n.since(before), "c3"); len(msgs) != 1 || msgs[0].GetType() != agentproto.MasterMessage_SHUTDOWN {
		t.Fatalf("an agent of a DOWN machine was sent %v, want SHUTDOWN", msgs)
	}
	info := plainAgent("h2")
	info.Id = agentIDProto(draining.id)
	n.reregister("c4", info, nil, nil)
	f := n.subscribe("s1", checkpointing("fw", false))
	n.tick()
	if o := n.offer(f, rigAgent{id: draining.id}, ""); !proto.Equal(o.GetUnavailability(), unavailability) {
		t.Fatalf("offer of a DRAINING machine's agent after failover: unavailability %v, want %v", o.GetUnavailability(), unavailability)
	}
}

// Each framework with tasks on a DRAINING machine's agent gets its own
// inverse offer; its answer is recorded for it alone, and an answer to
// another framework's inverse offer is ignored.
func TestInverseOfferAnswersArePerFramework(t *testing.T) {
	r := newRig(t)
	r.check = true
	a := r.agent("c1", plainAgent("h1"), "10.0.0.2:5051")
	f1 := r.subscribe("s1", checkpointing("one", false))
	f2 := r.subscribe("s2", checkpointing("two", false))
	r.tick()
	for i, f := range []rigFramework{f1, f2} {
		r.tick()
		r.accept(f, r.offer(f, a, ""), launch(cmdTask(fmt.Sprintf("t%d", i), a, "cpus:1;mem:128")))
	}
	r.operator(&masterpb.Call{Type: masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE.Enum(),
		UpdateMaintenanceSchedule: &masterpb.Call_UpdateMaintenanceSchedule{Schedule: &maintenance.Schedule{Windows: []*maintenance.Window{{
			MachineIds: []*mesos.MachineID{{Hostname: proto.String("h1")}}, Unavailability: &mesos.Unavailability{Start: timeInfo(r.now)},
		}}}}})
	inverse := func(f rigFramework) *mesos.InverseOffer {
		for _, ev := range r.events[f.stream] {
			if ev.GetType() == schedpb.Event_INVERSE_OFFERS {
				return ev.GetInverseOffers().GetInverseOffers()[0]
			}
		}
		t.Fatalf("framework %s got no inverse offer", f.id)
		return nil
	}
	io1, io2 := inverse(f1), inverse(f2)
	if io1.GetId().GetValue() == io2.GetId().GetValue() || io1.GetAgentId().GetValue() != a.id {
		t.Fatalf("inverse offers %v and %v", io1, io2)
	}
	r.call(f2, &schedpb.Call{Type: schedpb.Call_ACCEPT_INVERSE_OFFERS.Enum(),
		AcceptInverseOffers: &schedpb.Call_AcceptInverseOffers{InverseOfferIds: []*mesos.OfferID{io1.GetId()}}})
	r.call(f1, &schedpb.Call{Type: schedpb.Call_DECLINE_INVERSE_OFFERS.Enum(),
		DeclineInverseOffers: &schedpb.Call_DeclineInverseOffers{InverseOfferIds: []*mesos.OfferID{io1.GetId()}}})
	statuses := r.c.Snapshot().MaintenanceStatus().GetDrainingMachines()[0].GetStatuses()
	got := map[string]maintenance.InverseOfferStatus_Status{}
	for _, st := range statuses {
		got[st.GetFrameworkId().GetValue()] = st.GetStatus()
	}
	if len(got) != 2 || got[f1.id] != maintenance.InverseOfferStatus_DECLINE || got[f2.id] != maintenance.InverseOfferStatus_UNKNOWN {
		t.Fatalf("inverse offer statuses %v: want %s DECLINE and %s UNKNOWN", statuses, f1.id, f2.id)
	}
	// Answered, f1 is not asked again until its filter (5 s by default)
	// expires; f2 still holds its inverse offer and gets no other.
	n1, n2 := len(r.events[f1.stream]), len(r.events[f2.stream])
	inverseSince := func(f rigFramework, n int) int {
		k := 0
		for _, ev := range r.events[f.stream][n:] {
			if ev.GetType() == schedpb.Event_INVERSE_OFFERS {
				k++
			}
		}
		return k
	}
	r.tick()
	if k := inverseSince(f1, n1); k != 0 {
		t.Fatalf("an answered framework was asked again within its filter (%d inverse offers)", k)
	}
	for range 5 {
		r.tick()
	}
	if k := inverseSince(f1, n1); k != 1 {
		t.Fatalf("after the filter expired, %d inverse offers, want 1", k)
	}
	if k := inverseSince(f2, n2); k != 0 {
		t.Fatalf("a framework holding an inverse offer got %d more", k)
	}
	for _, st := range r.c.Snapshot().MaintenanceStatus().GetDrainingMachines()[0].GetStatuses() {
		if st.GetFrameworkId().GetValue() == f1.id && st.GetStatus() != maintenance.InverseOfferStatus_DECLINE {
			t.Fatalf("asking again forgot the answer: %v", st)
		}
	}
}

// An agent recovered from the registry may be drained before it
// re-registers: the registry keeps the drain, and the agent's tasks are
// killed when it comes back.
func TestDrainingARecoveredAgent(t *testing.T) {
	r, f, admitted, registered := launchedBeforeFailover(t)
	id := admitted.GetId().GetValue()
	r.update(rigAgent{id: id, conn: "c1"}, f, "t1", mesos.TaskState_TASK_RUNNING, nil)
	n := r.failover(Options{AgentReregisterTimeout: time.Minute})
	n.check = true
	n.operator(&masterpb.Call{Type: masterpb.Call_DRAIN_AGENT.Enum(), DrainAgent: &masterpb.Call_DrainAgent{AgentId: admitted.Id}})
	if a := n.reg.GetAgents().GetAgents()[0]; a.GetDrainInfo().GetState() != registrypb.DrainInfo_DRAINING || !a.GetDeactivated() {
		t.Fatalf("registry after draining a recovered agent: %v", a)
	}
	if res := n.c.Step(n.now, OperatorCall{Call: &masterpb.Call{Type: masterpb.Call_DRAIN_AGENT.Enum(),
		DrainAgent: &masterpb.Call_DrainAgent{AgentId: agentIDProto("nobody")}}}); res.Code != NotFound {
		t.Fatalf("draining an unknown agent: %v, want not found", res)
	}
	f2 := n.subscribe("s2", registered)
	task := &mesos.Task{
		Name: proto.String("task t1"), TaskId: &mesos.TaskID{Value: proto.String("t1")},
		FrameworkId: registered.Id, AgentId: admitted.Id, State: mesos.TaskState_TASK_RUNNING.Enum(),
		Resources: resources.ToProto(resources.MustParse("cpus:1;mem:128")),
	}
	before := len(n.outs)
	back := n.reregister("c2", admitted, []*mesos.FrameworkInfo{registered}, []*mesos.Task{task})
	msgs := agentMessages(n.since(before), "c2")
	if i := slices.IndexFunc(msgs, func(m *agentproto.MasterMessage) bool { return m.GetType() == agentproto.MasterMessage_KILL_TASK }); i < 0 {
		t.Fatalf("the drained agent's return sent %v, want a KILL_TASK", msgs)
	}
	n.ack(back, f2, "t1", n.update(back, f2, "t1", mesos.TaskState_TASK_KILLED, nil))
	if v := operatorAgentOf(t, n.c, id); v.GetDrainInfo().GetState() != mesos.DrainState_DRAINED || !v.GetDeactivated() {
		t.Fatalf("GET_AGENTS once drained: %v", v)
	}
}

// A draining agent whose last tasks belonged to a framework that is torn
// down is drained.
func TestTeardownDrainsADrainingAgent(t *testing.T) {
	r, f, admitted, _ := launchedBeforeFailover(t)
	r.check = true
	id := admitted.GetId().GetValue()
	r.operator(&masterpb.Call{Type: masterpb.Call_DRAIN_AGENT.Enum(), DrainAgent: &masterpb.Call_DrainAgent{AgentId: admitted.Id}})
	if v := operatorAgentOf(t, r.c, id); v.GetDrainInfo().GetState() != mesos.DrainState_DRAINING {
		t.Fatalf("GET_AGENTS with a task left: %v", v)
	}
	r.call(f, &schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()})
	if v := operatorAgentOf(t, r.c, id); v.GetDrainInfo().GetState() != mesos.DrainState_DRAINED {
		t.Fatalf("GET_AGENTS after the teardown: %v", v)
	}
	if a := r.reg.GetAgents().GetAgents()[0]; a.GetDrainInfo().GetState() != registrypb.DrainInfo_DRAINED {
		t.Fatalf("registry after the teardown: %v", a)
	}
}
