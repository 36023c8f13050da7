package core

// The registrar: what the Core commits to the registry before it acts, and
// how a newly elected Core recovers from the registry (Mesos's registrar,
// Master::recover, recoveredSlavesTimeout and the re-registration of
// recovered agents and frameworks).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	registrypb "github.com/gomesos/gomesos/api/registry"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master/allocator"
	"github.com/gomesos/gomesos/registry"
	"github.com/gomesos/gomesos/resources"
)

func plainAgent(host string) *mesos.AgentInfo {
	return &mesos.AgentInfo{
		Hostname: proto.String(host), Port: proto.Int32(5051),
		Resources: resources.ToProto(resources.MustParse("cpus:4;mem:4096")),
	}
}

func checkpointing(name string, partitionAware bool) *mesos.FrameworkInfo {
	fi := &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String(name), Checkpoint: proto.Bool(true)}
	if partitionAware {
		fi.Capabilities = []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()}}
	}
	return fi
}

// failover is what a newly elected master does: a new Core, with a new id,
// recovers the registry the old one left.
func (r *rig) failover(opts Options) *rig {
	r.t.Helper()
	id := "views-" + r.now.Format("150405.000")
	info := proto.Clone(r.c.Info()).(*mesos.MasterInfo)
	info.Id = &id
	if opts.AllocationInterval == 0 {
		opts.AllocationInterval = time.Second
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	alloc := allocator.New(allocator.Options{AllocationInterval: time.Second, Seed: 2})
	n := &rig{t: r.t, c: NewCore(info, opts, alloc, r.now), now: r.now, events: map[string][]*schedpb.Event{},
		reg: proto.Clone(r.reg).(*registrypb.Registry)}
	n.c.Recover(n.reg)
	for _, o := range n.c.Outputs() {
		n.outs = append(n.outs, o)
		if p, ok := o.(Persist); ok {
			for _, op := range p.Ops {
				registry.Apply(n.reg, op)
			}
		}
	}
	return n
}

// launchedBeforeFailover is a master with one agent (on connection "c1")
// and a checkpointing framework that launched task t1 there: it returns
// the rig, the framework, and the AgentInfo and FrameworkInfo (with their
// ids) the agent will re-register with after a failover.
func launchedBeforeFailover(t *testing.T) (*rig, rigFramework, *mesos.AgentInfo, *mesos.FrameworkInfo) {
	t.Helper()
	r := newRig(t)
	a := r.agent("c1", plainAgent("h1"), "10.0.0.2:5051")
	fi := checkpointing("svc", false)
	f := r.subscribe("s1", fi)
	r.tick()
	r.accept(f, r.offer(f, a, ""), launch(cmdTask("t1", a, "cpus:1;mem:128")))
	admitted := proto.Clone(r.reg.GetAgents().GetAgents()[0].GetInfo()).(*mesos.AgentInfo)
	registered := proto.Clone(fi).(*mesos.FrameworkInfo)
	registered.Id = &mesos.FrameworkID{Value: proto.String(f.id)}
	return r, f, admitted, registered
}

// reregister is an agent's REREGISTER on conn with what it runs.
func (r *rig) reregister(conn string, info *mesos.AgentInfo, fws []*mesos.FrameworkInfo, tasks []*mesos.Task) rigAgent {
	r.t.Helper()
	res := r.step(AgentSubscribe{Conn: conn, Msg: &agentproto.AgentMessage{
		Type: agentproto.AgentMessage_REREGISTER.Enum(),
		Register: &agentproto.AgentMessage_Register{
			AgentInfo: info, Version: proto.String(Version), Tasks: tasks, Frameworks: fws, Endpoint: proto.String("10.0.0.9:5051"),
		},
	}})
	return rigAgent{id: res.AgentID, conn: conn}
}

// since is the outputs after the first n.
func (r *rig) since(n int) []Output { return slices.Clone(r.outs[n:]) }

func opsOf(outs []Output) []*registrypb.Operation {
	var ops []*registrypb.Operation
	for _, o := range outs {
		if p, ok := o.(Persist); ok {
			ops = append(ops, p.Ops...)
		}
	}
	return ops
}

func agentMessages(outs []Output, conn string) []*agentproto.MasterMessage {
	var msgs []*agentproto.MasterMessage
	for _, o := range outs {
		if m, ok := o.(SendAgent); ok && (conn == "" || m.Conn == conn) {
			msgs = append(msgs, m.Msg)
		}
	}
	return msgs
}

func updatesOf(evs []*schedpb.Event) []*mesos.TaskStatus {
	var out []*mesos.TaskStatus
	for _, ev := range evs {
		if ev.GetType() == schedpb.Event_UPDATE {
			out = append(out, ev.GetUpdate().GetStatus())
		}
	}
	return out
}

// An agent hears REGISTERED only after its admission was said to the
// registry, and frameworks hear TASK_UNREACHABLE only after the agent's
// unreachability was.
func TestRegistryChangesComeBeforeTheirEffects(t *testing.T) {
	r := newRig(t)
	a := r.agent("c1", plainAgent("h1"), "10.0.0.2:5051")
	iPersist := slices.IndexFunc(r.outs, func(o Output) bool { _, ok := o.(Persist); return ok })
	iRegistered := slices.IndexFunc(r.outs, func(o Output) bool {
		m, ok := o.(SendAgent)
		return ok && m.Msg.GetType() == agentproto.MasterMessage_REGISTERED
	})
	if iPersist < 0 || iRegistered < 0 || iPersist > iRegistered {
		t.Fatalf("admission persisted at output %d, REGISTERED at %d: the admission must come first", iPersist, iRegistered)
	}
	if got := r.reg.GetAgents().GetAgents(); len(got) != 1 || got[0].GetInfo().GetId().GetValue() != a.id {
		t.Fatalf("registry agents = %v, want the one admitted (%s)", got, a.id)
	}

	f := r.subscribe("s1", checkpointing("pa", true))
	r.tick()
	r.accept(f, r.offer(f, a, ""), launch(cmdTask("t1", a, "cpus:1;mem:128")))
	r.update(a, f, "t1", mesos.TaskState_TASK_RUNNING, nil)

	n := len(r.outs)
	r.step(AgentMessage{AgentID: a.id, Conn: a.conn, Msg: &agentproto.AgentMessage{Type: agentproto.AgentMessage_UNREGISTER.Enum()}})
	outs := r.since(n)
	iMark := slices.IndexFunc(outs, func(o Output) bool {
		p, ok := o.(Persist)
		return ok && p.Ops[0].GetType() == registrypb.Operation_MARK_AGENT_UNREACHABLE
	})
	iUpdate := slices.IndexFunc(outs, func(o Output) bool {
		e, ok := o.(SendEvent)
		return ok && e.Event.GetUpdate().GetStatus().GetState() == mesos.TaskState_TASK_UNREACHABLE
	})
	if iMark < 0 || iUpdate < 0 || iMark > iUpdate {
		t.Fatalf("unreachable persisted at output %d, TASK_UNREACHABLE sent at %d: the registry must come first", iMark, iUpdate)
	}
	if len(r.reg.GetAgents().GetAgents()) != 0 || len(r.reg.GetUnreachable().GetAgents()) != 1 {
		t.Fatalf("registry after removal: %v", r.reg)
	}
}

// After a failover the new master knows the agents from its registry and
// the frameworks and tasks from the agents: a recovered agent re-registers
// with its tasks without anything being killed or written, its framework
// is recovered from it and resubscribes under its id, and reconciliation
// answers the task's real state. Before the agent is back, reconciling a
// task on it gets no answer.
func TestFailoverRecoversAgentsFrameworksAndTasks(t *testing.T) {
	for _, frameworkFirst := range []bool{true, false} {
		name := "agent first"
		if frameworkFirst {
			name = "framework first"
		}
		t.Run(name, func(t *testing.T) {
			r, f, admitted, registered := launchedBeforeFailover(t)
			r.update(rigAgent{id: admitted.GetId().GetValue(), conn: "c1"}, f, "t1", mesos.TaskState_TASK_RUNNING, nil)

			n := r.failover(Options{AgentReregisterTimeout: time.Minute})
			n.check = true
			if n.c.Recovered() != 1 {
				t.Fatalf("recovered %d agents, want 1", n.c.Recovered())
			}
			var slaves struct {
				Recovered []struct {
					ID       string `json:"id"`
					Hostname string `json:"hostname"`
				} `json:"recovered_slaves"`
				Slaves []any `json:"slaves"`
			}
			decodeState(t, n.c.Snapshot(), &slaves)
			if len(slaves.Recovered) != 1 || slaves.Recovered[0].ID != admitted.GetId().GetValue() || slaves.Recovered[0].Hostname != "h1" || len(slaves.Slaves) != 0 {
				t.Fatalf("/master/state before the agent is back: recovered_slaves %+v, slaves %v", slaves.Recovered, slaves.Slaves)
			}
			if ops := opsOf(n.outs); len(ops) != 1 || ops[0].GetType() != registrypb.Operation_UPDATE_MASTER {
				t.Fatalf("recovery persisted %v, want the new leader recorded", ops)
			}
			task := &mesos.Task{
				Name: proto.String("task t1"), TaskId: &mesos.TaskID{Value: proto.String("t1")},
				FrameworkId: registered.Id, AgentId: admitted.Id, State: mesos.TaskState_TASK_RUNNING.Enum(),
				Resources: resources.ToProto(resources.MustParse("cpus:1;mem:128")),
			}
			reconcile := func(f rigFramework) {
				n.call(f, &schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{
					Tasks: []*schedpb.Call_Reconcile_Task{{TaskId: task.TaskId, AgentId: task.AgentId}},
				}})
			}
			var f2 rigFramework
			if frameworkFirst {
				f2 = n.subscribe("s2", registered)
				reconcile(f2)
				if ups := updatesOf(n.events["s2"]); len(ups) != 0 {
					t.Fatalf("reconciling a task on a recovered agent answered %v; Mesos does not answer", ups)
				}
			}
			before := len(n.outs)
			n.reregister("c2", admitted, []*mesos.FrameworkInfo{registered}, []*mesos.Task{task})
			outs := n.since(before)
			if ops := opsOf(outs); len(ops) != 0 {
				t.Errorf("re-registering a recovered agent persisted %v; it is admitted already", ops)
			}
			for _, m := range agentMessages(outs, "") {
				switch m.GetType() {
				case agentproto.MasterMessage_REGISTERED:
				default:
					t.Errorf("the re-registered agent was sent %s: a failover must not touch its tasks", m.GetType())
				}
			}
			if n.c.Recovered() != 0 {
				t.Errorf("%d agents still recovered after the re-registration", n.c.Recovered())
			}
			if !frameworkFirst {
				var st struct {
					Recovered  []any `json:"recovered_slaves"`
					Frameworks []struct {
						ID        string `json:"id"`
						Active    bool   `json:"active"`
						Recovered bool   `json:"recovered"`
						Tasks     []struct {
							ID    string `json:"id"`
							State string `json:"state"`
						} `json:"tasks"`
					} `json:"frameworks"`
				}
				decodeState(t, n.c.Snapshot(), &st)
				if len(st.Recovered) != 0 {
					t.Errorf("recovered_slaves after the agent re-registered: %v", st.Recovered)
				}
				if len(st.Frameworks) != 1 || st.Frameworks[0].ID != f.id || st.Frameworks[0].Active || !st.Frameworks[0].Recovered ||
					len(st.Frameworks[0].Tasks) != 1 || st.Frameworks[0].Tasks[0].State != "TASK_RUNNING" {
					t.Fatalf("after the agent re-registered, /master/state frameworks = %+v; want %s recovered, inactive, with t1 running", st.Frameworks, f.id)
				}
				f2 = n.subscribe("s2", registered)
			}
			if f2.id != f.id {
				t.Fatalf("the framework resubscribed as %s, want its id %s", f2.id, f.id)
			}
			reconcile(f2)
			ups := updatesOf(n.events["s2"])
			if len(ups) != 1 || ups[0].GetState() != mesos.TaskState_TASK_RUNNING {
				t.Fatalf("reconciliation after the failover answered %v, want TASK_RUNNING", ups)
			}
		})
	}
}

// A framework that tore itself down just before its master failed over
// (its SHUTDOWN_FRAMEWORK went down with that master) comes back with the
// agent that still runs it: the registry holds no frameworks, so the next
// master recovers it. It never subscribes again. Mesos keeps such a
// framework for good (Master::recoverFramework starts no failover
// timeout); Gomesos's master removes it once its failover_timeout has
// passed, counted from when the recovered agents stop being waited for
// (recoveredFrameworkDeadline): its task is killed and the agent is told
// to shut it down.
func TestRecoveredFrameworkThatNeverResubscribesIsRemoved(t *testing.T) {
	r := newRig(t)
	a := r.agent("c1", plainAgent("h1"), "10.0.0.2:5051")
	admitted := proto.Clone(r.reg.GetAgents().GetAgents()[0].GetInfo()).(*mesos.AgentInfo)
	fi := checkpointing("svc", false)
	fi.FailoverTimeout = proto.Float64(30)
	f := r.subscribe("s1", fi)
	r.tick()
	r.accept(f, r.offer(f, a, ""), launch(cmdTask("t1", a, "cpus:1;mem:128")))
	r.call(f, &schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()})
	registered := proto.Clone(fi).(*mesos.FrameworkInfo)
	registered.Id = &mesos.FrameworkID{Value: proto.String(f.id)}

	n := r.failover(Options{AgentReregisterTimeout: time.Minute})
	n.check = true
	task := &mesos.Task{
		Name: proto.String("task t1"), TaskId: &mesos.TaskID{Value: proto.String("t1")},
		FrameworkId: registered.Id, AgentId: admitted.Id, State: mesos.TaskState_TASK_RUNNING.Enum(),
		Resources: resources.ToProto(resources.MustParse("cpus:1;mem:128")),
	}
	n.reregister("c2", admitted, []*mesos.FrameworkInfo{registered}, []*mesos.Task{task})
	reregistered := n.now

	type frameworks struct {
		Frameworks []struct {
			ID        string `json:"id"`
			Recovered bool   `json:"recovered"`
		} `json:"frameworks"`
		Completed []struct {
			ID             string `json:"id"`
			CompletedTasks []struct {
				ID    string `json:"id"`
				State string `json:"state"`
			} `json:"completed_tasks"`
		} `json:"completed_frameworks"`
	}
	var st frameworks
	decodeState(t, n.c.Snapshot(), &st)
	if len(st.Frameworks) != 1 || st.Frameworks[0].ID != f.id || !st.Frameworks[0].Recovered {
		t.Fatalf("after the agent re-registered, frameworks = %+v; want %s recovered", st.Frameworks, f.id)
	}

	// Its failover timeout counts from the end of --agent_reregister_timeout.
	n.now = reregistered.Add(time.Minute + 29*time.Second)
	before := len(n.outs)
	n.step(Tick{})
	for _, m := range agentMessages(n.since(before), "") {
		if m.GetType() == agentproto.MasterMessage_SHUTDOWN_FRAMEWORK || m.GetType() == agentproto.MasterMessage_KILL_TASK {
			t.Fatalf("the recovered framework was shut down before its failover timeout: %s", m.GetType())
		}
	}
	n.now = reregistered.Add(time.Minute + 30*time.Second)
	n.step(Tick{})
	shutdown := false
	for _, m := range agentMessages(n.since(before), "c2") {
		if m.GetType() == agentproto.MasterMessage_SHUTDOWN_FRAMEWORK && m.GetShutdownFramework().GetFrameworkId().GetValue() == f.id {
			shutdown = true
		}
	}
	if !shutdown {
		t.Errorf("the agent was not told to shut down the recovered framework %s once its failover timeout passed", f.id)
	}
	st = frameworks{}
	decodeState(t, n.c.Snapshot(), &st)
	if len(st.Frameworks) != 0 || len(st.Completed) != 1 || st.Completed[0].ID != f.id ||
		len(st.Completed[0].CompletedTasks) != 1 || st.Completed[0].CompletedTasks[0].State != "TASK_KILLED" {
		t.Errorf("after its failover timeout: frameworks %+v, completed %+v; want %s completed, t1 killed", st.Frameworks, st.Completed, f.id)
	}
	if used := n.c.Metrics()["master/cpus_used"]; used != 0 {
		t.Errorf("master/cpus_used = %v after the framework was removed, want 0", used)
	}
}

// Recovered agents that do not come back within --agent_reregister_timeout
// are marked unreachable, in the registry first, at the pace of
// --agent_removal_rate_limit; if more of them are missing than
// --recovery_agent_removal_limit allows, the master gives up instead.
func TestRecoveredAgentsThatDoNotReturnAreMarkedUnreachable(t *testing.T) {
	r := newRig(t)
	var infos []*mesos.AgentInfo
	for i, h := range []string{"h1", "h2", "h3", "h4"} {
		r.agent("c"+string(rune('1'+i)), plainAgent(h), "")
		infos = append(infos, r.reg.GetAgents().GetAgents()[i].GetInfo())
	}

	t.Run("rate limited", func(t *testing.T) {
		n := r.failover(Options{AgentReregisterTimeout: time.Minute, AgentRemovalInterval: 10 * time.Second})
		n.reregister("c9", infos[0], nil, nil)
		n.now = n.now.Add(59 * time.Second)
		n.step(Tick{})
		if len(n.reg.GetUnreachable().GetAgents()) != 0 {
			t.Fatalf("agents marked unreachable before --agent_reregister_timeout")
		}
		n.now = n.now.Add(time.Second)
		n.step(Tick{})
		if got := len(n.reg.GetUnreachable().GetAgents()); got != 1 {
			t.Fatalf("%d agents unreachable right after the timeout, want 1 (one per 10s)", got)
		}
		// A removal waiting its turn is cancelled when the agent returns.
		n.reregister("c8", infos[3], nil, nil)
		for range 25 {
			n.now = n.now.Add(time.Second)
			n.step(Tick{})
		}
		var gone []string
		for _, u := range n.reg.GetUnreachable().GetAgents() {
			gone = append(gone, u.GetId().GetValue())
		}
		want := []string{infos[1].GetId().GetValue(), infos[2].GetId().GetValue()}
		if !slices.Equal(gone, want) {
			t.Fatalf("unreachable agents = %v, want %v", gone, want)
		}
		if got := len(n.reg.GetAgents().GetAgents()); got != 2 {
			t.Fatalf("%d agents admitted, want the 2 that came back", got)
		}
		m := n.c.Snapshot().Metrics()
		if m["master/recovery_slave_removals"] != 2 || m["master/slave_unreachable_canceled"] != 1 || m["master/slaves_unreachable"] != 2 {
			t.Fatalf("metrics: recovery_slave_removals=%v slave_unreachable_canceled=%v slaves_unreachable=%v, want 2, 1, 2",
				m["master/recovery_slave_removals"], m["master/slave_unreachable_canceled"], m["master/slaves_unreachable"])
		}
	})

	t.Run("over the removal limit", func(t *testing.T) {
		n := r.failover(Options{AgentReregisterTimeout: time.Minute, RecoveryAgentRemovalLimit: 0.5})
		n.reregister("c9", infos[0], nil, nil)
		n.now = n.now.Add(time.Minute)
		n.step(Tick{})
		i := slices.IndexFunc(n.outs, func(o Output) bool { _, ok := o.(Abort); return ok })
		if i < 0 {
			t.Fatalf("3 of 4 agents missing with a 50%% limit: no Abort")
		}
		if msg := n.outs[i].(Abort).Message; !strings.Contains(msg, "Post-recovery agent removal limit exceeded") {
			t.Errorf("Abort message %q", msg)
		}
		if len(n.reg.GetUnreachable().GetAgents()) != 0 {
			t.Errorf("agents were marked unreachable although the master gave up")
		}
	})
}

// An agent the registry holds as gone may never come back; one the
// registry does not know at all (its unreachable entry was garbage
// collected) is admitted back, as Mesos's MarkSlaveReachable does.
func TestGoneAndForgottenAgentsReregistering(t *testing.T) {
	r := newRig(t)
	gone := "S-gone"
	r.reg.Gone = &registrypb.Registry_GoneAgents{Agents: []*registrypb.Registry_GoneAgent{{
		Id: agentIDProto(gone), Timestamp: timeInfo(r.now),
	}}}
	n := r.failover(Options{})
	info := plainAgent("h1")
	info.Id = agentIDProto(gone)
	before := len(n.outs)
	n.reregister("c1", info, nil, nil)
	msgs := agentMessages(n.since(before), "c1")
	if len(msgs) != 1 || msgs[0].GetType() != agentproto.MasterMessage_SHUTDOWN || msgs[0].GetMessage() != "Agent has been marked gone" {
		t.Fatalf("a gone agent re-registering was sent %v, want SHUTDOWN", msgs)
	}
	if len(n.reg.GetAgents().GetAgents()) != 0 {
		t.Fatalf("a gone agent was admitted")
	}

	forgotten := plainAgent("h2")
	forgotten.Id = agentIDProto("S-forgotten")
	before = len(n.outs)
	n.reregister("c2", forgotten, nil, nil)
	ops := opsOf(n.since(before))
	if len(ops) != 1 || ops[0].GetType() != registrypb.Operation_MARK_AGENT_REACHABLE {
		t.Fatalf("an unknown agent re-registering persisted %v, want MARK_AGENT_REACHABLE", ops)
	}
	if got := n.reg.GetAgents().GetAgents(); len(got) != 1 || got[0].GetInfo().GetId().GetValue() != "S-forgotten" {
		t.Fatalf("registry agents = %v", got)
	}
}

func decodeState(t *testing.T, s *Snapshot, v any) {
	t.Helper()
	var b bytes.Buffer
	if err := s.WriteState(&b, codec.BuildInfo{}, nil, ""); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b.Bytes(), v); err != nil {
		t.Fatalf("decoding /master/state: %v", err)
	}
}

// A recovered agent re-registers with a task that ended while the
// framework had not acknowledged its earlier updates: until it does,
// reconciliation answers the update the agent is delivering (the task's
// status_update_state), not the end the agent will send after it, as
// Mesos does. (Found by the simulator: the framework saw TASK_FINISHED
// answered, then the agent's resent TASK_RUNNING.)
func TestFailoverReconciliationAnswersTheUpdateOnItsWay(t *testing.T) {
	r, _, admitted, registered := launchedBeforeFailover(t)

	n := r.failover(Options{AgentReregisterTimeout: time.Minute})
	task := &mesos.Task{
		Name: proto.String("task t1"), TaskId: &mesos.TaskID{Value: proto.String("t1")},
		FrameworkId: registered.Id, AgentId: admitted.Id, State: mesos.TaskState_TASK_FINISHED.Enum(),
		StatusUpdateState: mesos.TaskState_TASK_RUNNING.Enum(), StatusUpdateUuid: []byte("0123456789abcdef"),
		Resources: resources.ToProto(resources.MustParse("cpus:1;mem:128")),
	}
	n.reregister("c2", admitted, []*mesos.FrameworkInfo{registered}, []*mesos.Task{task})
	f2 := n.subscribe("s2", registered)
	n.call(f2, &schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{
		Tasks: []*schedpb.Call_Reconcile_Task{{TaskId: task.TaskId, AgentId: task.AgentId}},
	}})
	ups := updatesOf(n.events["s2"])
	if len(ups) != 1 || ups[0].GetState() != mesos.TaskState_TASK_RUNNING {
		t.Fatalf("reconciliation answered %v, want TASK_RUNNING: the agent has yet to deliver TASK_RUNNING, then TASK_FINISHED", ups)
	}
}

// agentTask is a task as a re-registering agent reports it, in state, the
// update in flight (its oldest one not acknowledged) in that state too.
func agentTask(fwID *mesos.FrameworkID, agentID *mesos.AgentID, id string, state mesos.TaskState, uuid byte) *mesos.Task {
	return &mesos.Task{
		Name: proto.String("task " + id), TaskId: &mesos.TaskID{Value: proto.String(id)},
		FrameworkId: fwID, AgentId: agentID, State: state.Enum(),
		Resources:         resources.ToProto(resources.MustParse("cpus:1;mem:128")),
		StatusUpdateState: state.Enum(), StatusUpdateUuid: bytes.Repeat([]byte{uuid}, 16),
		Statuses: []*mesos.TaskStatus{{
			TaskId: &mesos.TaskID{Value: proto.String(id)}, State: state.Enum(),
			Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(), Reason: mesos.TaskStatus_REASON_COMMAND_EXECUTOR_FAILED.Enum(),
		}},
	}
}

// A master that learns a task's end from a re-registering agent (the task
// ended while no master had the agent, or before the master that counted
// it failed over) counts it then, once: the update the agent resends may
// never reach it (it fails over again; the framework hears the end by
// reconciliation and tears itself down), and the frameworks' counts of
// ends must be the masters' counts summed.
func TestEndsLearntFromAReregisteringAgentAreCountedOnce(t *testing.T) {
	r, f, admitted, registered := launchedBeforeFailover(t)
	n := r.failover(Options{AgentReregisterTimeout: time.Minute})
	n.check = true
	t1 := agentTask(registered.Id, admitted.Id, "t1", mesos.TaskState_TASK_FAILED, 7)
	a := n.reregister("c2", admitted, []*mesos.FrameworkInfo{registered}, []*mesos.Task{t1})
	m := n.c.Metrics()
	if m["master/tasks_failed"] != 1 || m["master/task_failed/source_executor/reason_command_executor_failed"] != 1 {
		t.Errorf("after the agent re-registered with t1 failed: tasks_failed = %v, by its source and reason %v; want 1, 1",
			m["master/tasks_failed"], m["master/task_failed/source_executor/reason_command_executor_failed"])
	}
	f2 := n.subscribe("s2", registered)
	n.call(f2, &schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{}})
	if ups := updatesOf(n.events["s2"]); len(ups) != 1 || ups[0].GetState() != mesos.TaskState_TASK_FAILED {
		t.Errorf("reconciliation answered %v, want t1 TASK_FAILED", ups)
	}
	// The agent resends the update: the end is not counted again.
	n.update(a, f, "t1", mesos.TaskState_TASK_FAILED, nil)
	if got := n.c.Metrics()["master/tasks_failed"]; got != 1 {
		t.Errorf("tasks_failed = %v after the agent resent t1's end, want 1", got)
	}
}

// An agent the master recovered from the registry and marked unreachable
// when it did not come back in time returns with tasks the master never
// knew. It books them: an ended one is counted (and its acknowledgement
// ends it), a live one of a framework that is not partition aware is
// killed (an earlier master may have told the framework it was lost) and
// its end counted when it comes.
func TestAReturningAgentsUnknownTasksAreBooked(t *testing.T) {
	r, _, admitted, registered := launchedBeforeFailover(t)
	n := r.failover(Options{AgentReregisterTimeout: time.Minute})
	n.check = true
	f := n.subscribe("s2", registered)
	n.now = n.now.Add(time.Minute)
	n.step(Tick{})
	if len(n.reg.GetUnreachable().GetAgents()) != 1 {
		t.Fatalf("the recovered agent was not marked unreachable: registry %v", n.reg.GetUnreachable())
	}
	before := len(n.outs)
	done := agentTask(registered.Id, admitted.Id, "t1", mesos.TaskState_TASK_FINISHED, 7)
	live := agentTask(registered.Id, admitted.Id, "t2", mesos.TaskState_TASK_RUNNING, 8)
	a := n.reregister("c2", admitted, []*mesos.FrameworkInfo{registered}, []*mesos.Task{done, live})
	var kills []string
	for _, m := range agentMessages(n.since(before), "c2") {
		if m.GetType() == agentproto.MasterMessage_KILL_TASK {
			kills = append(kills, m.GetKillTask().GetTaskId().GetValue())
		}
	}
	if !slices.Equal(kills, []string{"t2"}) {
		t.Errorf("the returning agent was told to kill %v, want [t2]", kills)
	}
	if got := n.c.Metrics()["master/tasks_finished"]; got != 1 {
		t.Errorf("tasks_finished = %v after the agent came back with t1 finished, want 1", got)
	}
	if got := n.c.Metrics()["master/cpus_used"]; got != 1 {
		t.Errorf("cpus_used = %v with t2 running, want 1", got)
	}
	uuid := n.update(a, f, "t1", mesos.TaskState_TASK_FINISHED, nil)
	n.ack(a, f, "t1", uuid)
	n.update(a, f, "t2", mesos.TaskState_TASK_KILLED, nil)
	m := n.c.Metrics()
	if m["master/tasks_finished"] != 1 || m["master/tasks_killed"] != 1 || m["master/tasks_running"] != 0 || m["master/cpus_used"] != 0 {
		t.Errorf("after t1's end was acknowledged and t2 killed: finished %v, killed %v, running %v, cpus_used %v; want 1, 1, 0, 0",
			m["master/tasks_finished"], m["master/tasks_killed"], m["master/tasks_running"], m["master/cpus_used"])
	}
	var st struct {
		Frameworks []struct {
			Tasks          []struct{ ID string } `json:"tasks"`
			CompletedTasks []struct{ ID string } `json:"completed_tasks"`
		} `json:"frameworks"`
	}
	decodeState(t, n.c.Snapshot(), &st)
	if len(st.Frameworks) != 1 || len(st.Frameworks[0].CompletedTasks) != 1 || st.Frameworks[0].CompletedTasks[0].ID != "t1" {
		t.Errorf("frameworks %+v; want t1 completed", st.Frameworks)
	}
}

// A task whose end the master recorded, unacknowledged, on an agent that
// comes back restarted without it: the framework hears TASK_LOST (what the
// agent would answer, and what Mesos's master reports for every task of an
// agent it removes, whatever its end), not the end, which it may never
// have heard while an earlier master told it the task was lost; the
// master keeps the end it recorded and counted.
func TestARestartedAgentsEndedTaskIsReportedLost(t *testing.T) {
	r := newRig(t)
	a := r.agent("c1", plainAgent("h1"), "10.0.0.2:5051")
	f := r.subscribe("s1", &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("svc")})
	r.tick()
	r.accept(f, r.offer(f, a, ""), launch(cmdTask("t1", a, "cpus:1;mem:128")))
	r.update(a, f, "t1", mesos.TaskState_TASK_FINISHED, nil)
	info := proto.Clone(r.reg.GetAgents().GetAgents()[0].GetInfo()).(*mesos.AgentInfo)
	r.step(AgentClosed{Conn: "c1"})
	before := len(r.events["s1"])
	r.step(AgentSubscribe{Conn: "c2", Msg: &agentproto.AgentMessage{
		Type: agentproto.AgentMessage_REREGISTER.Enum(),
		Register: &agentproto.AgentMessage_Register{
			AgentInfo: info, Version: proto.String(Version), Restarted: proto.Bool(true), Endpoint: proto.String("10.0.0.2:5051"),
		},
	}})
	ups := updatesOf(r.events["s1"][before:])
	if len(ups) != 1 || ups[0].GetState() != mesos.TaskState_TASK_LOST || ups[0].GetReason() != mesos.TaskStatus_REASON_AGENT_RESTARTED {
		t.Fatalf("after the agent came back restarted without t1, the framework heard %v; want TASK_LOST (REASON_AGENT_RESTARTED)", ups)
	}
	var st struct {
		Frameworks []struct {
			CompletedTasks []struct {
				ID    string `json:"id"`
				State string `json:"state"`
			} `json:"completed_tasks"`
		} `json:"frameworks"`
	}
	decodeState(t, r.c.Snapshot(), &st)
	if len(st.Frameworks) != 1 || len(st.Frameworks[0].CompletedTasks) != 1 || st.Frameworks[0].CompletedTasks[0].State != "TASK_FINISHED" {
		t.Errorf("completed tasks %+v; want t1 TASK_FINISHED, the end the master recorded", st.Frameworks)
	}
	if m := r.c.Metrics(); m["master/tasks_finished"] != 1 || m["master/tasks_lost"] != 0 {
		t.Errorf("tasks_finished %v, tasks_lost %v; want 1, 0", m["master/tasks_finished"], m["master/tasks_lost"])
	}
}

// An agent that comes back with another AgentInfo than the registry's (new
// attributes, say), recovered after a failover or still known, has the
// registry updated (UPDATE_AGENT) before it hears REGISTERED; one that
// comes back with the same has nothing written, however its AgentInfo was
// built.
func TestReregisteredAgentInfoChangesAreWritten(t *testing.T) {
	r, _, admitted, registered := launchedBeforeFailover(t)
	n := r.failover(Options{AgentReregisterTimeout: time.Minute})

	changed := proto.Clone(admitted).(*mesos.AgentInfo)
	changed.Attributes = []*mesos.Attribute{{Name: proto.String("rack"), Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: proto.String("r1")}}}
	before := len(n.outs)
	n.reregister("c2", changed, []*mesos.FrameworkInfo{registered}, nil)
	ops := opsOf(n.since(before))
	if len(ops) != 1 || ops[0].GetType() != registrypb.Operation_UPDATE_AGENT || !proto.Equal(ops[0].GetAgentInfo(), changed) {
		t.Fatalf("a recovered agent back with new attributes wrote %v, want UPDATE_AGENT with its new AgentInfo", ops)
	}
	if got := n.reg.GetAgents().GetAgents()[0].GetInfo(); !proto.Equal(got, changed) {
		t.Fatalf("the registry holds %v, want %v", got, changed)
	}

	// The same again, encoded otherwise (its resources built anew): the
	// agent is known, nothing is written.
	same := proto.Clone(changed).(*mesos.AgentInfo)
	same.Resources = resources.ToProto(resources.MustParse("cpus:4;mem:4096"))
	if !proto.Equal(same, changed) {
		t.Fatalf("test setup: %v differs from %v", same, changed)
	}
	before = len(n.outs)
	n.reregister("c3", same, []*mesos.FrameworkInfo{registered}, nil)
	if ops := opsOf(n.since(before)); len(ops) != 0 {
		t.Fatalf("a known agent back with the same AgentInfo wrote %v, want nothing", ops)
	}
	changed.Port = proto.Int32(5052)
	before = len(n.outs)
	n.reregister("c4", changed, []*mesos.FrameworkInfo{registered}, nil)
	if ops := opsOf(n.since(before)); len(ops) != 1 || ops[0].GetType() != registrypb.Operation_UPDATE_AGENT || ops[0].GetAgentInfo().GetPort() != 5052 {
		t.Fatalf("a known agent back on another port wrote %v, want UPDATE_AGENT", ops)
	}
}

// REGISTERED names the successor the master was given, and none before.
func TestRegisteredNamesTheSuccessor(t *testing.T) {
	r := newRig(t)
	registered := func() *agentproto.MasterMessage_Registered {
		for i := len(r.outs) - 1; i >= 0; i-- {
			if m, ok := r.outs[i].(SendAgent); ok && m.Msg.GetType() == agentproto.MasterMessage_REGISTERED {
				return m.Msg.GetRegistered()
			}
		}
		t.Fatal("no REGISTERED")
		return nil
	}
	r.agent("c1", plainAgent("h1"), "10.0.0.2:5051")
	if reg := registered(); reg.Successor != nil {
		t.Errorf("REGISTERED names successor %q, and none was given", reg.GetSuccessor())
	}
	r.c.SetSuccessor("10.0.0.3:5050")
	r.agent("c2", plainAgent("h2"), "10.0.0.3:5051")
	if got := registered().GetSuccessor(); got != "10.0.0.3:5050" {
		t.Errorf("REGISTERED names successor %q, want 10.0.0.3:5050", got)
	}
}

// After a failover the master publishes ahead (PublishAhead) the records
// of the tasks that come back, between batches of re-registrations: what
// it publishes is what a snapshot built from scratch shows, also when a
// task changes again after its record was made (an update, a task the
// agent no longer has, an agent whose stream ends) and when the framework
// comes back meanwhile.
func TestFailoverPublishedAheadEqualsFullSnapshot(t *testing.T) {
	r := newRig(t)
	fi := checkpointing("svc", true)
	f := r.subscribe("s1", fi)
	var agents []rigAgent
	for i := range 4 {
		agents = append(agents, r.agent(fmt.Sprintf("c%d", i), plainAgent(fmt.Sprintf("h%d", i)), "10.0.0.2:5051"))
	}
	r.tick()
	for i, a := range agents {
		r.accept(f, r.offer(f, a, ""), launch(cmdTask(fmt.Sprintf("t%d-0", i), a, "cpus:1;mem:128"), cmdTask(fmt.Sprintf("t%d-1", i), a, "cpus:1;mem:128")))
	}
	registered := proto.Clone(fi).(*mesos.FrameworkInfo)
	registered.Id = &mesos.FrameworkID{Value: proto.String(f.id)}

	n := r.failover(Options{AgentReregisterTimeout: time.Minute})
	n.check, n.aheadEvery = true, 3
	infos := map[string]*mesos.AgentInfo{}
	for _, ag := range r.reg.GetAgents().GetAgents() {
		infos[ag.GetInfo().GetId().GetValue()] = ag.GetInfo()
	}
	var back []rigAgent
	for i, a := range agents {
		info := infos[a.id]
		tasks := []*mesos.Task{agentTask(registered.Id, info.Id, fmt.Sprintf("t%d-0", i), mesos.TaskState_TASK_RUNNING, byte(2*i))}
		if i != 1 { // agent 1 lost its second task
			tasks = append(tasks, agentTask(registered.Id, info.Id, fmt.Sprintf("t%d-1", i), mesos.TaskState_TASK_RUNNING, byte(2*i+1)))
		}
		back = append(back, n.reregister(fmt.Sprintf("d%d", i), info, []*mesos.FrameworkInfo{registered}, tasks))
		if i == 1 {
			n.c.PublishAhead()
			f = n.subscribe("s2", registered)
		}
	}
	n.c.PublishAhead()
	n.update(back[0], f, "t0-0", mesos.TaskState_TASK_FINISHED, nil)
	n.step(AgentClosed{Conn: back[2].conn})
	n.c.PublishAhead()
	n.tick()
	if d := n.c.Snapshot().Diff(n.c.FullSnapshot()); d != "" {
		t.Fatalf("at the end: the published snapshot differs from a full one: %s", d)
	}
	if n.c.Recovered() != 0 {
		t.Fatalf("%d agents still to come back", n.c.Recovered())
	}
}
