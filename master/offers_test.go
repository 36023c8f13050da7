package master_test

// Offers, launches and status updates (facts §1.5, §7.1, §7.3).

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
)

const agentResources = "cpus:2;mem:1024;ports:[31000-32000]"

// Mesos: an agent's resources are offered to a framework (offer id
// <masterID>-O<n>, one agent and one role; this framework is not MULTI_ROLE,
// so neither the offer nor its resources carry allocation_info, while the
// task the agent gets is allocated to the offer's role). ACCEPT with a LAUNCH sends the task to the agent with
// the FrameworkInfo; the agent's status updates reach the framework in
// order, each acknowledgement is relayed to the agent, and once the
// terminal update is acknowledged the task is a completed task of the
// framework. Its resources and the unused ones are offered again.
func TestOfferLaunchAndStatusUpdates(t *testing.T) {
	for _, enc := range []codec.Encoding{codec.JSON, codec.Protobuf} {
		t.Run(enc.String(), func(t *testing.T) {
			m := startMaster(t)
			a := startAgent(t, m, "agent1.example.com", agentResources)
			s := subscribe(t, m, frameworkInfo("launcher"), enc)

			offers := s.nextOffers()
			if len(offers) != 1 {
				t.Fatalf("got %d offers, want 1 for the one agent", len(offers))
			}
			o := offers[0]
			if !strings.HasPrefix(o.GetId().GetValue(), m.masterID()+"-O") {
				t.Errorf("offer id %q does not have the form <masterID>-O<n>", o.GetId().GetValue())
			}
			if o.GetAgentId().GetValue() != a.ID || o.GetFrameworkId().GetValue() != s.FrameworkID {
				t.Errorf("offer names agent %s and framework %s, want %s and %s",
					o.GetAgentId().GetValue(), o.GetFrameworkId().GetValue(), a.ID, s.FrameworkID)
			}
			if o.GetHostname() != "agent1.example.com" {
				t.Errorf("offer hostname = %q", o.GetHostname())
			}
			if o.AllocationInfo != nil {
				t.Errorf("offer to a framework without MULTI_ROLE has allocation_info %v", o.GetAllocationInfo())
			}
			for _, r := range o.GetResources() {
				if r.AllocationInfo != nil || r.GetRole() != "*" {
					t.Errorf("offered resource %s has allocation_info %v and role %q, want none and role *", r.GetName(), r.GetAllocationInfo(), r.GetRole())
				}
			}
			if cpus, mem := offeredScalar("cpus", o), offeredScalar("mem", o); cpus != 2 || mem != 1024 {
				t.Errorf("offered cpus:%v mem:%v, want cpus:2 mem:1024", cpus, mem)
			}
			if got := offeredRanges("ports", o); got != "31000-32000" {
				t.Errorf("offered ports %s, want 31000-32000", got)
			}

			s.accept(offerIDs(o), 0, launchOp(commandTask("t1", "cpus:1;mem:128", o)))

			run := a.next(agentproto.MasterMessage_RUN_TASK).GetRunTask()
			if run.GetFrameworkInfo().GetId().GetValue() != s.FrameworkID || run.GetFrameworkInfo().GetName() != "launcher" {
				t.Errorf("RUN_TASK framework_info = %v, want framework %s", run.GetFrameworkInfo(), s.FrameworkID)
			}
			if run.GetTask().GetTaskId().GetValue() != "t1" || run.GetTask().GetAgentId().GetValue() != a.ID {
				t.Errorf("RUN_TASK task = %v", run.GetTask())
			}
			if cpus := scalarOf("cpus", run.GetTask().GetResources()); cpus != 1 {
				t.Errorf("RUN_TASK task cpus = %v, want 1", cpus)
			}
			for _, r := range run.GetTask().GetResources() {
				if r.GetAllocationInfo().GetRole() != "*" {
					t.Errorf("launched resource %s lacks allocation_info role *: %v", r.GetName(), r)
				}
			}
			if got := m.metrics()["master/tasks_staging"]; got != 1 {
				t.Errorf("master/tasks_staging = %v after the launch, want 1", got)
			}

			for _, state := range []mesos.TaskState{mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED} {
				id := a.update(s.FrameworkID, "t1", state)
				st := s.nextUpdate()
				if st.GetState() != state || st.GetTaskId().GetValue() != "t1" || !bytes.Equal(st.GetUuid(), id) {
					t.Fatalf("UPDATE = %v, want %s of t1 with the agent's uuid", st, state)
				}
				if st.GetAgentId().GetValue() != a.ID {
					t.Errorf("UPDATE agent_id = %q, want %q", st.GetAgentId().GetValue(), a.ID)
				}
				if state == mesos.TaskState_TASK_RUNNING {
					task := findByID(objects(findByID(objects(m.getJSON("/master/state")["frameworks"]), s.FrameworkID)["tasks"]), "t1")
					if task == nil || task["state"] != "TASK_RUNNING" {
						t.Errorf("/master/state task t1 = %v, want TASK_RUNNING", task)
					}
					m.waitMetric("master/tasks_running", 1)
				}
				s.acknowledge(st)
				ack := a.next(agentproto.MasterMessage_ACKNOWLEDGE).GetAcknowledge()
				if ack.GetFrameworkId().GetValue() != s.FrameworkID || ack.GetTaskId().GetValue() != "t1" || !bytes.Equal(ack.GetUuid(), id) {
					t.Errorf("ACKNOWLEDGE relayed as %v, want framework %s task t1 uuid %x", ack, s.FrameworkID, id)
				}
			}

			fw := findByID(objects(m.getJSON("/master/state")["frameworks"]), s.FrameworkID)
			if tasks := objects(fw["tasks"]); len(tasks) != 0 {
				t.Errorf("finished task still among active tasks: %v", ids(tasks))
			}
			done := findByID(objects(fw["completed_tasks"]), "t1")
			if done == nil || done["state"] != "TASK_FINISHED" {
				t.Fatalf("completed_tasks = %v, want t1 TASK_FINISHED", fw["completed_tasks"])
			}
			if got := statusStates(done); strings.Join(got, ",") != "TASK_STARTING,TASK_RUNNING,TASK_FINISHED" {
				t.Errorf("t1 statuses = %v", got)
			}
			listed := findByID(objects(m.getJSON("/master/tasks")["tasks"]), "t1")
			if listed == nil || listed["state"] != "TASK_FINISHED" || listed["framework_id"] != s.FrameworkID || listed["slave_id"] != a.ID {
				t.Errorf("/master/tasks t1 = %v", listed)
			}
			metrics := m.metrics()
			for name, want := range map[string]float64{
				"master/tasks_finished": 1, "master/tasks_running": 0, "master/tasks_staging": 0,
				"master/valid_status_updates": 3, "master/valid_status_update_acknowledgements": 3,
				"master/messages_launch_tasks": 1,
			} {
				if metrics[name] != want {
					t.Errorf("%s = %v, want %v", name, metrics[name], want)
				}
			}

			// Everything comes back: the unused part at once (refuse 0), the
			// task's share once it finished.
			var outstanding []*mesos.Offer
			waitFor(t, "all of the agent's cpus and mem to be offered again", func() bool {
				ev, ok := s.events.take(schedpb.Event_OFFERS.String(), 0)
				if ok {
					outstanding = append(outstanding, ev.GetOffers().GetOffers()...)
				}
				return offeredScalar("cpus", outstanding...) == 2 && offeredScalar("mem", outstanding...) == 1024
			})
		})
	}
}

// Mesos validates each task against what is left of the offers and answers
// an invalid one with TASK_ERROR (REASON_TASK_INVALID, or
// REASON_TASK_GROUP_INVALID for a group), from the master, with a message
// saying why; nothing reaches the agent. Offers that are unknown or already
// used make every task of the ACCEPT TASK_LOST (TASK_DROPPED for a
// PARTITION_AWARE framework) with REASON_INVALID_OFFERS.
func TestInvalidLaunches(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", "cpus:4;mem:4096;ports:[31000-32000]")
	s := subscribe(t, m, frameworkInfo("launcher"), codec.JSON)

	// nextOffer takes the next offer; every ACCEPT below refuses nothing,
	// so the agent's free resources always come straight back.
	nextOffer := func() *mesos.Offer {
		t.Helper()
		offers := s.nextOffers()
		if len(offers) != 1 {
			t.Fatalf("got %d offers, want 1", len(offers))
		}
		return offers[0]
	}
	expectError := func(taskID string, reason mesos.TaskStatus_Reason, message string) {
		t.Helper()
		st := s.nextUpdate()
		if st.GetTaskId().GetValue() != taskID || st.GetState() != mesos.TaskState_TASK_ERROR || st.GetReason() != reason {
			t.Fatalf("UPDATE = %v, want TASK_ERROR %s for %s", st, reason, taskID)
		}
		checkMasterUpdate(t, st)
		if !strings.Contains(st.GetMessage(), message) {
			t.Errorf("TASK_ERROR message %q does not say %q", st.GetMessage(), message)
		}
	}

	t.Run("more resources than offered", func(t *testing.T) {
		o := nextOffer()
		s.accept(offerIDs(o), 0, launchOp(commandTask("greedy", "cpus:5;mem:128", o)))
		expectError("greedy", mesos.TaskStatus_REASON_TASK_INVALID, "more resources")
	})

	t.Run("two tasks that together need more than offered", func(t *testing.T) {
		o := nextOffer()
		s.accept(offerIDs(o), 0, launchOp(commandTask("fits", "cpus:3;mem:128", o), commandTask("does-not-fit", "cpus:3;mem:128", o)))
		if run := a.next(agentproto.MasterMessage_RUN_TASK); run.GetRunTask().GetTask().GetTaskId().GetValue() != "fits" {
			t.Errorf("launched %v, want fits", run.GetRunTask().GetTask().GetTaskId())
		}
		expectError("does-not-fit", mesos.TaskStatus_REASON_TASK_INVALID, "more resources")
		s.call(&schedpb.Call{Type: schedpb.Call_KILL.Enum(), Kill: &schedpb.Call_Kill{TaskId: &mesos.TaskID{Value: proto.String("fits")}}})
		a.next(agentproto.MasterMessage_KILL_TASK)
		a.update(s.FrameworkID, "fits", mesos.TaskState_TASK_KILLED)
		s.acknowledge(s.nextUpdate())
	})

	t.Run("duplicate task id", func(t *testing.T) {
		o := nextOffer()
		s.accept(offerIDs(o), 0, launchOp(commandTask("dup", "cpus:0.5;mem:64", o)))
		a.next(agentproto.MasterMessage_RUN_TASK)
		o = nextOffer()
		s.accept(offerIDs(o), 0, launchOp(commandTask("dup", "cpus:0.5;mem:64", o)))
		expectError("dup", mesos.TaskStatus_REASON_TASK_INVALID, "duplicate ID")
	})

	t.Run("both command and executor", func(t *testing.T) {
		o := nextOffer()
		task := commandTask("both", "cpus:0.5;mem:64", o)
		task.Executor = &mesos.ExecutorInfo{
			ExecutorId: &mesos.ExecutorID{Value: proto.String("ex")},
			Command:    &mesos.CommandInfo{Value: proto.String("run-executor")},
		}
		s.accept(offerIDs(o), 0, launchOp(task))
		expectError("both", mesos.TaskStatus_REASON_TASK_INVALID, "at least one (but not both) of CommandInfo or ExecutorInfo")
	})

	t.Run("invalid health check", func(t *testing.T) {
		o := nextOffer()
		task := commandTask("bad-health", "cpus:0.5;mem:64", o)
		task.HealthCheck = &mesos.HealthCheck{
			Type: mesos.HealthCheck_HTTP.Enum(),
			Http: &mesos.HealthCheck_HTTPCheckInfo{Port: proto.Uint32(8080), Path: proto.String("healthz")},
		}
		s.accept(offerIDs(o), 0, launchOp(task))
		expectError("bad-health", mesos.TaskStatus_REASON_TASK_INVALID,
			"Task uses invalid health check: The path 'healthz' of HTTP health check must start with '/'")
	})

	t.Run("invalid check", func(t *testing.T) {
		o := nextOffer()
		task := commandTask("bad-check", "cpus:0.5;mem:64", o)
		task.Check = &mesos.CheckInfo{
			Type:            mesos.CheckInfo_TCP.Enum(),
			Tcp:             &mesos.CheckInfo_Tcp{Port: proto.Uint32(8080)},
			IntervalSeconds: proto.Float64(-1),
		}
		s.accept(offerIDs(o), 0, launchOp(task))
		expectError("bad-check", mesos.TaskStatus_REASON_TASK_INVALID,
			"Task uses invalid check: Expecting 'interval_seconds' to be non-negative")
	})

	t.Run("agent_id not the offer's agent", func(t *testing.T) {
		o := nextOffer()
		task := commandTask("elsewhere", "cpus:0.5;mem:64", o)
		task.AgentId = &mesos.AgentID{Value: proto.String(m.masterID() + "-S99")}
		s.accept(offerIDs(o), 0, launchOp(task))
		expectError("elsewhere", mesos.TaskStatus_REASON_TASK_INVALID, "invalid agent")
	})

	t.Run("unknown offer", func(t *testing.T) {
		o := nextOffer()
		fake := &mesos.Offer{Id: &mesos.OfferID{Value: proto.String(m.masterID() + "-O999")}, AgentId: o.GetAgentId()}
		s.accept(offerIDs(fake), 0, launchOp(commandTask("no-offer", "cpus:0.5;mem:64", o)))
		st := s.nextUpdate()
		if st.GetTaskId().GetValue() != "no-offer" || st.GetState() != mesos.TaskState_TASK_LOST || st.GetReason() != mesos.TaskStatus_REASON_INVALID_OFFERS {
			t.Fatalf("UPDATE = %v, want TASK_LOST REASON_INVALID_OFFERS", st)
		}
		checkMasterUpdate(t, st)
		s.decline(offerIDs(o), 0) // hand the real offer back
	})

	t.Run("offer already used", func(t *testing.T) {
		o := nextOffer()
		s.accept(offerIDs(o), 0, launchOp(commandTask("first-use", "cpus:0.5;mem:64", o)))
		a.next(agentproto.MasterMessage_RUN_TASK)
		s.accept(offerIDs(o), 0, launchOp(commandTask("second-use", "cpus:0.5;mem:64", o)))
		st := s.nextUpdate()
		if st.GetTaskId().GetValue() != "second-use" || st.GetState() != mesos.TaskState_TASK_LOST || st.GetReason() != mesos.TaskStatus_REASON_INVALID_OFFERS {
			t.Fatalf("UPDATE = %v, want TASK_LOST REASON_INVALID_OFFERS", st)
		}
		checkMasterUpdate(t, st)
	})

	t.Run("LAUNCH_GROUP with the default executor", func(t *testing.T) {
		o := nextOffer()
		ex := &mesos.ExecutorInfo{
			Type:       mesos.ExecutorInfo_DEFAULT.Enum(),
			ExecutorId: &mesos.ExecutorID{Value: proto.String("group-ex")},
			Resources:  resourcesProto("cpus:0.1;mem:32"),
		}
		s.accept(offerIDs(o), 0, launchGroupOp(ex, commandTask("g1", "cpus:0.1;mem:32", o), commandTask("g2", "cpus:0.1;mem:32", o)))
		group := a.next(agentproto.MasterMessage_RUN_TASK_GROUP).GetRunTaskGroup()
		if group.GetExecutor().GetExecutorId().GetValue() != "group-ex" || group.GetExecutor().GetType() != mesos.ExecutorInfo_DEFAULT {
			t.Errorf("RUN_TASK_GROUP executor = %v", group.GetExecutor())
		}
		if group.GetExecutor().GetFrameworkId().GetValue() != s.FrameworkID {
			t.Errorf("RUN_TASK_GROUP executor framework_id = %v, want %s", group.GetExecutor().GetFrameworkId(), s.FrameworkID)
		}
		if group.GetFrameworkInfo().GetId().GetValue() != s.FrameworkID {
			t.Errorf("RUN_TASK_GROUP framework_info = %v", group.GetFrameworkInfo())
		}
		var got []string
		for _, task := range group.GetTaskGroup().GetTasks() {
			got = append(got, task.GetTaskId().GetValue())
		}
		if strings.Join(got, ",") != "g1,g2" {
			t.Errorf("RUN_TASK_GROUP tasks = %v, want g1,g2", got)
		}
	})

	t.Run("LAUNCH_GROUP with a custom executor", func(t *testing.T) {
		o := nextOffer()
		ex := &mesos.ExecutorInfo{
			Type:       mesos.ExecutorInfo_CUSTOM.Enum(),
			ExecutorId: &mesos.ExecutorID{Value: proto.String("custom-ex")},
			Command:    &mesos.CommandInfo{Value: proto.String("run-executor")},
		}
		s.accept(offerIDs(o), 0, launchGroupOp(ex, commandTask("c1", "cpus:0.1;mem:32", o), commandTask("c2", "cpus:0.1;mem:32", o)))
		expectError("c1", mesos.TaskStatus_REASON_TASK_GROUP_INVALID, "DEFAULT")
		expectError("c2", mesos.TaskStatus_REASON_TASK_GROUP_INVALID, "DEFAULT")
	})

	// The rejected tasks never reached the agent.
	a.syncAgent(s)
	a.none(agentproto.MasterMessage_RUN_TASK, 0)
	a.none(agentproto.MasterMessage_RUN_TASK_GROUP, 0)
	metrics := m.metrics()
	if metrics["master/tasks_error"] != 9 || metrics["master/tasks_lost"] != 2 {
		t.Errorf("tasks_error = %v, tasks_lost = %v; want 9 and 2", metrics["master/tasks_error"], metrics["master/tasks_lost"])
	}

	t.Run("unknown offer, PARTITION_AWARE framework", func(t *testing.T) {
		pa := subscribe(t, m, frameworkInfo("partition-aware", mesos.FrameworkInfo_Capability_PARTITION_AWARE), codec.JSON)
		fake := &mesos.Offer{Id: &mesos.OfferID{Value: proto.String(m.masterID() + "-O998")}, AgentId: &mesos.AgentID{Value: proto.String(a.ID)}}
		pa.accept(offerIDs(fake), 0, launchOp(commandTask("dropped", "cpus:0.5;mem:64", fake)))
		st := pa.nextUpdate()
		if st.GetTaskId().GetValue() != "dropped" || st.GetState() != mesos.TaskState_TASK_DROPPED || st.GetReason() != mesos.TaskStatus_REASON_INVALID_OFFERS {
			t.Fatalf("UPDATE = %v, want TASK_DROPPED REASON_INVALID_OFFERS", st)
		}
		checkMasterUpdate(t, st)
	})
}

// Mesos: DECLINE (and the unused part of ACCEPT) installs a filter for
// refuse_seconds, during which the framework is not offered those resources
// again; refuse_seconds 0 means no filter. SUPPRESS stops offers; REVIVE
// clears the filters and brings offers back.
func TestDeclineFiltersSuppressAndRevive(t *testing.T) {
	m := startMaster(t)
	startAgent(t, m, "agent1", agentResources)
	s := subscribe(t, m, frameworkInfo("decliner"), codec.JSON)
	quiet := 10 * testOptions().AllocationInterval // several allocation intervals

	o := s.nextOffers()[0]
	s.decline(offerIDs(o), 3600)
	s.none(schedpb.Event_OFFERS, quiet)

	s.call(&schedpb.Call{Type: schedpb.Call_REVIVE.Enum()})
	o = s.nextOffers()[0]

	// No filter: the next allocation offers it again (allow for a slow,
	// race-detecting machine).
	declined := time.Now()
	s.decline(offerIDs(o), 0)
	o = s.nextOffers()[0]
	if waited := time.Since(declined); waited > 40*testOptions().AllocationInterval {
		t.Errorf("re-offered %v after a DECLINE with refuse_seconds 0; want within a few allocation intervals", waited)
	}

	// A short filter holds for its whole duration, then lapses.
	start := time.Now()
	s.decline(offerIDs(o), 1)
	o = s.nextOffers()[0]
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("re-offered after %v, within the 1s refuse filter", waited)
	}

	s.call(&schedpb.Call{Type: schedpb.Call_SUPPRESS.Enum(), Suppress: &schedpb.Call_Suppress{}})
	s.decline(offerIDs(o), 0)
	s.none(schedpb.Event_OFFERS, quiet)

	s.call(&schedpb.Call{Type: schedpb.Call_REVIVE.Enum(), Revive: &schedpb.Call_Revive{}})
	s.nextOffers()

	metrics := m.metrics()
	if metrics["master/messages_decline_offers"] != 4 || metrics["master/messages_suppress_offers"] != 1 || metrics["master/messages_revive_offers"] != 2 {
		t.Errorf("decline/suppress/revive counters = %v/%v/%v, want 4/1/2", metrics["master/messages_decline_offers"],
			metrics["master/messages_suppress_offers"], metrics["master/messages_revive_offers"])
	}
}

// checkMasterUpdate checks what every update the master makes itself
// carries: source SOURCE_MASTER and no uuid (so it must not be
// acknowledged).
func checkMasterUpdate(t *testing.T, st *mesos.TaskStatus) {
	t.Helper()
	if st.GetSource() != mesos.TaskStatus_SOURCE_MASTER {
		t.Errorf("%s of %s: source %s, want SOURCE_MASTER", st.GetState(), st.GetTaskId().GetValue(), st.GetSource())
	}
	if st.Uuid != nil {
		t.Errorf("%s of %s from the master carries a uuid %x", st.GetState(), st.GetTaskId().GetValue(), st.GetUuid())
	}
}

func scalarOf(name string, rs []*mesos.Resource) float64 {
	var sum float64
	for _, r := range rs {
		if r.GetName() == name {
			sum += r.GetScalar().GetValue()
		}
	}
	return sum
}

func offeredRanges(name string, offers ...*mesos.Offer) string {
	var parts []string
	for _, o := range offers {
		for _, r := range o.GetResources() {
			if r.GetName() == name {
				for _, rg := range r.GetRanges().GetRange() {
					parts = append(parts, formatRange(rg.GetBegin(), rg.GetEnd()))
				}
			}
		}
	}
	return strings.Join(parts, ",")
}

func statusStates(task map[string]any) []string {
	var out []string
	for _, s := range objects(task["statuses"]) {
		out = append(out, s["state"].(string))
	}
	return out
}

// Mesos (§7.3): while an update waits for acknowledgement the master shows
// the latest state the agent knows for the task, and reconciliation answers
// with the update being delivered. A terminal state frees the task's
// resources as soon as the agent reports it, but the task stays among the
// framework's tasks until its terminal update is acknowledged.
func TestPendingStatusUpdates(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	s := subscribe(t, m, frameworkInfo("patient"), codec.JSON)
	o := s.nextOffers()[0]
	s.accept(offerIDs(o), 0, launchOp(commandTask("t1", "cpus:1;mem:128", o)))
	a.next(agentproto.MasterMessage_RUN_TASK)

	taskState := func() (state string, active bool) {
		fw := findByID(objects(m.getJSON("/master/state")["frameworks"]), s.FrameworkID)
		if task := findByID(objects(fw["tasks"]), "t1"); task != nil {
			return task["state"].(string), true
		}
		if task := findByID(objects(fw["completed_tasks"]), "t1"); task != nil {
			return task["state"].(string), false
		}
		return "", false
	}
	reconciled := func() mesos.TaskState {
		s.call(reconcileCall(reconcileTask("t1", a.ID)))
		st := s.nextUpdate()
		if st.GetTaskId().GetValue() != "t1" || st.GetReason() != mesos.TaskStatus_REASON_RECONCILIATION {
			t.Fatalf("reconciliation UPDATE = %v", st)
		}
		return st.GetState()
	}

	// The task started and finished; STARTING is being delivered.
	a.updateLatest(s.FrameworkID, "t1", mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_FINISHED)
	starting := s.nextUpdate()
	if starting.GetState() != mesos.TaskState_TASK_STARTING {
		t.Fatalf("UPDATE = %v, want TASK_STARTING", starting)
	}
	if state, active := taskState(); state != "TASK_FINISHED" || !active {
		t.Errorf("t1 is %s (active %v), want TASK_FINISHED among the active tasks", state, active)
	}
	metrics := m.metrics()
	if metrics["master/cpus_used"] != 0 || metrics["master/tasks_finished"] != 1 {
		t.Errorf("cpus_used = %v, tasks_finished = %v; want the resources freed and the task counted finished",
			metrics["master/cpus_used"], metrics["master/tasks_finished"])
	}
	if got := reconciled(); got != mesos.TaskState_TASK_STARTING {
		t.Errorf("reconciliation while STARTING is pending answered %s, want TASK_STARTING", got)
	}

	s.acknowledge(starting)
	a.next(agentproto.MasterMessage_ACKNOWLEDGE)
	if state, active := taskState(); state != "TASK_FINISHED" || !active {
		t.Errorf("after acknowledging STARTING, t1 is %s (active %v), want TASK_FINISHED, still active", state, active)
	}

	finished := s.nextUpdateAfter(a, "t1", mesos.TaskState_TASK_FINISHED)
	if got := reconciled(); got != mesos.TaskState_TASK_FINISHED {
		t.Errorf("reconciliation while FINISHED is pending answered %s", got)
	}
	s.acknowledge(finished)
	a.next(agentproto.MasterMessage_ACKNOWLEDGE)
	if state, active := taskState(); state != "TASK_FINISHED" || active {
		t.Errorf("after acknowledging FINISHED, t1 is %s (active %v), want a completed TASK_FINISHED", state, active)
	}
	if got := m.metrics()["master/tasks_finished"]; got != 1 {
		t.Errorf("tasks_finished = %v, want 1: a task finishes once", got)
	}
}
