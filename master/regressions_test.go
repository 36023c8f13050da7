package master_test

// Regressions the cluster simulator and the agent protocol fuzzer found:
// what a re-registering agent reports, acknowledgements, agents removed
// while task ends wait for acknowledgement, reconciliation of ended tasks
// (answered as for unknown ones) and task ids that come back from
// unreachable agents.

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master"
	"github.com/gomesos/gomesos/master/core"
)

// fastPings makes an agent that stops answering pings be removed within
// about half a second.
func fastPings(c *master.Config) {
	c.AgentPingTimeout = 200 * time.Millisecond
	c.MaxAgentPingTimeouts = 2
}

// agentTask is a task as an agent reports it when it re-registers.
func agentTask(frameworkID, taskID, agentID string, state mesos.TaskState, res string) *mesos.Task {
	return &mesos.Task{
		Name: proto.String(taskID), TaskId: &mesos.TaskID{Value: proto.String(taskID)},
		FrameworkId: &mesos.FrameworkID{Value: proto.String(frameworkID)},
		AgentId:     &mesos.AgentID{Value: proto.String(agentID)},
		State:       state.Enum(), Resources: resourcesProto(res),
	}
}

// frameworkState is the framework's entry in /master/state.
func frameworkState(t *testing.T, m *testMaster, frameworkID string) map[string]any {
	t.Helper()
	fw := findByID(objects(m.getJSON("/master/state")["frameworks"]), frameworkID)
	if fw == nil {
		t.Fatalf("/master/state does not list framework %s", frameworkID)
	}
	return fw
}

// tasksWithID lists the entries of a task list that have the given id.
func tasksWithID(list any, id string) []map[string]any {
	var out []map[string]any
	for _, task := range objects(list) {
		if task["id"] == id {
			out = append(out, task)
		}
	}
	return out
}

// usedResources is an agent's used_resources in /master/slaves.
func usedResources(t *testing.T, m *testMaster, agentID string) (cpus, mem any) {
	t.Helper()
	slave := findByID(objects(m.getJSON("/master/slaves")["slaves"]), agentID)
	if slave == nil {
		t.Fatalf("/master/slaves does not list agent %s", agentID)
	}
	used, _ := slave["used_resources"].(map[string]any)
	return used["cpus"], used["mem"]
}

// drainOffers consumes the OFFERS events received so far, so that the next
// one is made after this point.
func drainOffers(s *scheduler) {
	for {
		if _, ok := s.events.take(schedpb.Event_OFFERS.String(), 0); !ok {
			return
		}
	}
}

// removeByPings has an agent stop answering pings and waits until the
// framework hears that it was removed (FAILURE); the agent's stream ends.
func removeByPings(t *testing.T, s *scheduler, a *fakeAgent) {
	t.Helper()
	a.next(agentproto.MasterMessage_PING)
	a.pong.Store(false)
	if got := s.next(schedpb.Event_FAILURE).GetFailure().GetAgentId().GetValue(); got != a.ID {
		t.Fatalf("FAILURE for agent %s, want %s", got, a.ID)
	}
	a.next(agentproto.MasterMessage_SHUTDOWN)
	waitFor(t, "the master to close the removed agent's stream", a.msgs.isClosed)
}

// An agent that re-registers reports its tasks as it knows them, but the
// master does not take their state from there: how a task it knows changed
// while the agent was away arrives as the status updates the agent resends
// after REGISTERED, and only those end the task. So a task the agent
// reports TASK_FINISHED (its update still waiting, status_update_state
// TASK_RUNNING) stays TASK_RUNNING, its resources used, until the resent
// update (latest_state TASK_FINISHED) comes; then its resources are freed
// and it counts as finished, once however often the update comes.
func TestReregistrationDoesNotRewriteTaskState(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	fi := frameworkInfo("checkpointing")
	fi.Checkpoint = proto.Bool(true)
	s := subscribe(t, m, fi, codec.JSON)
	runTask(t, s, a, "t1", "cpus:1;mem:128")
	s.nextOffers() // the unused part, rescinded when the agent goes

	a.disconnect()
	waitFor(t, "the agent to be deactivated", func() bool {
		slave := findByID(objects(m.getJSON("/master/slaves")["slaves"]), a.ID)
		return slave != nil && slave["active"] == false
	})
	reported := agentTask(s.FrameworkID, "t1", a.ID, mesos.TaskState_TASK_FINISHED, "cpus:1;mem:128")
	reported.StatusUpdateState = mesos.TaskState_TASK_RUNNING.Enum()
	reported.StatusUpdateUuid = newUUID()
	back := a.reregister(reported)

	s.syncUpdates() // the re-registration itself tells the framework nothing
	checkRunning := func(when string) {
		t.Helper()
		tasks := tasksWithID(frameworkState(t, m, s.FrameworkID)["tasks"], "t1")
		if len(tasks) != 1 || tasks[0]["state"] != "TASK_RUNNING" {
			t.Errorf("%s: t1 among the active tasks = %v, want it once, TASK_RUNNING", when, tasks)
		}
		if cpus, mem := usedResources(t, m, a.ID); cpus != 1.0 || mem != 128.0 {
			t.Errorf("%s: the agent's used_resources are cpus:%v mem:%v, want t1's cpus:1 mem:128", when, cpus, mem)
		}
		metrics := m.metrics()
		if metrics["master/tasks_running"] != 1 || metrics["master/tasks_finished"] != 0 || metrics["master/cpus_used"] != 1 {
			t.Errorf("%s: tasks_running=%v tasks_finished=%v cpus_used=%v, want 1, 0 and 1", when,
				metrics["master/tasks_running"], metrics["master/tasks_finished"], metrics["master/cpus_used"])
		}
	}
	checkRunning("after the re-registration")
	// The agent's remaining cpu is offered, t1's is not.
	if got := offeredScalar("cpus", s.nextOffers()...); got != 1 {
		t.Errorf("offered %v cpus after the re-registration, want 1: t1 still holds one", got)
	}
	s.call(reconcileCall(reconcileTask("t1", a.ID)))
	if st := s.nextUpdate(); st.GetTaskId().GetValue() != "t1" || st.GetState() != mesos.TaskState_TASK_RUNNING {
		t.Errorf("reconciliation after the re-registration: %v, want t1 TASK_RUNNING", st)
	}
	checkRunning("after reconciliation")

	// The resent update, twice (each with a uuid of its own): the task
	// ends, and ends once.
	for i := range 2 {
		back.updateLatest(s.FrameworkID, "t1", mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED)
		if st := s.nextUpdate(); st.GetTaskId().GetValue() != "t1" || st.GetState() != mesos.TaskState_TASK_RUNNING {
			t.Fatalf("UPDATE = %v, want the resent TASK_RUNNING of t1", st)
		}
		tasks := tasksWithID(frameworkState(t, m, s.FrameworkID)["tasks"], "t1")
		if len(tasks) != 1 || tasks[0]["state"] != "TASK_FINISHED" {
			t.Errorf("resent update %d: t1 among the active tasks = %v, want it TASK_FINISHED (its end not yet acknowledged)", i+1, tasks)
		}
		if cpus, mem := usedResources(t, m, a.ID); cpus != 0.0 || mem != 0.0 {
			t.Errorf("resent update %d: the agent's used_resources are cpus:%v mem:%v, want none", i+1, cpus, mem)
		}
		metrics := m.metrics()
		if metrics["master/tasks_finished"] != 1 || metrics["master/tasks_running"] != 0 || metrics["master/cpus_used"] != 0 {
			t.Errorf("resent update %d: tasks_finished=%v tasks_running=%v cpus_used=%v, want 1, 0 and 0", i+1,
				metrics["master/tasks_finished"], metrics["master/tasks_running"], metrics["master/cpus_used"])
		}
	}
	// The freed cpu is offered again.
	var offers []*mesos.Offer
	waitFor(t, "the freed cpu to be offered", func() bool {
		if ev, ok := s.events.take(schedpb.Event_OFFERS.String(), 0); ok {
			offers = append(offers, ev.GetOffers().GetOffers()...)
		}
		return offeredScalar("cpus", offers...) == 1
	})

	// Its end delivered and acknowledged, the task is completed, still
	// counted once.
	finished := s.nextUpdateAfter(back, "t1", mesos.TaskState_TASK_FINISHED)
	s.acknowledge(finished)
	back.next(agentproto.MasterMessage_ACKNOWLEDGE)
	fw := frameworkState(t, m, s.FrameworkID)
	if done := tasksWithID(fw["completed_tasks"], "t1"); len(activeTasks(fw)) != 0 || len(done) != 1 || done[0]["state"] != "TASK_FINISHED" {
		t.Errorf("after acknowledging the end: tasks %v, completed t1 %v; want t1 completed once, TASK_FINISHED", ids(activeTasks(fw)), done)
	}
	if got := m.metrics()["master/tasks_finished"]; got != 1 {
		t.Errorf("master/tasks_finished = %v, want 1", got)
	}
}

func activeTasks(fw map[string]any) []map[string]any { return objects(fw["tasks"]) }

// An acknowledgement does not clear the task's status_update_state: the
// acknowledged update stays what reconciliation answers until the agent
// forwards the next one. So after the framework acknowledged TASK_RUNNING
// of a task that has since finished (its TASK_FINISHED not yet sent),
// reconciliation answers TASK_RUNNING, the update the framework has, not
// the latest state TASK_FINISHED, which it would otherwise learn twice.
func TestAcknowledgementKeepsStatusUpdateState(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	s := subscribe(t, m, frameworkInfo("acknowledger"), codec.JSON)
	o := s.nextOffers()[0]
	s.accept(offerIDs(o), 0, launchOp(commandTask("t1", "cpus:1;mem:128", o)))
	a.next(agentproto.MasterMessage_RUN_TASK)

	a.updateLatest(s.FrameworkID, "t1", mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED)
	running := s.nextUpdate()
	if running.GetTaskId().GetValue() != "t1" || running.GetState() != mesos.TaskState_TASK_RUNNING {
		t.Fatalf("UPDATE = %v, want TASK_RUNNING of t1", running)
	}
	s.acknowledge(running)
	a.next(agentproto.MasterMessage_ACKNOWLEDGE)

	reconciled := func(call *schedpb.Call) mesos.TaskState {
		t.Helper()
		s.call(call)
		st := s.nextUpdate()
		if st.GetTaskId().GetValue() != "t1" || st.GetReason() != mesos.TaskStatus_REASON_RECONCILIATION {
			t.Fatalf("reconciliation UPDATE = %v, want one for t1", st)
		}
		checkMasterUpdate(t, st)
		return st.GetState()
	}
	for _, tc := range []struct {
		name string
		call *schedpb.Call
	}{
		{"explicit, with the agent", reconcileCall(reconcileTask("t1", a.ID))},
		{"explicit, without the agent", reconcileCall(reconcileTask("t1", ""))},
		{"implicit", reconcileCall()},
	} {
		if got := reconciled(tc.call); got != mesos.TaskState_TASK_RUNNING {
			t.Errorf("%s reconciliation after acknowledging TASK_RUNNING answered %s, want TASK_RUNNING", tc.name, got)
		}
	}
	// The task's state is still the latest the agent knows.
	if done := tasksWithID(frameworkState(t, m, s.FrameworkID)["tasks"], "t1"); len(done) != 1 || done[0]["state"] != "TASK_FINISHED" {
		t.Errorf("t1 among the active tasks = %v, want TASK_FINISHED", done)
	}

	// Once the agent forwards TASK_FINISHED, that is the answer.
	finished := s.nextUpdateAfter(a, "t1", mesos.TaskState_TASK_FINISHED)
	if got := reconciled(reconcileCall(reconcileTask("t1", a.ID))); got != mesos.TaskState_TASK_FINISHED {
		t.Errorf("reconciliation while TASK_FINISHED is pending answered %s", got)
	}
	s.acknowledge(finished)
	a.next(agentproto.MasterMessage_ACKNOWLEDGE)
	if got := m.metrics()["master/tasks_finished"]; got != 1 {
		t.Errorf("master/tasks_finished = %v, want 1", got)
	}
}

// Mesos (Master::__removeSlave, Master::updateTask): when an agent is
// removed while a task's end waits for the framework's acknowledgement, the
// task is reported as every task on the agent is, TASK_LOST (TASK_UNREACHABLE
// to a partition-aware framework), from the master and without a uuid; its
// end is not dropped silently, and the master keeps it as the task's state:
// among the completed tasks (among the unreachable ones, for a
// partition-aware framework) in TASK_FINISHED, counted finished once and not
// lost. The agent, should it return, still has the end to deliver.
func TestRemovedAgentReportsUnacknowledgedEnds(t *testing.T) {
	for _, tc := range []struct {
		name        string
		caps        []mesos.FrameworkInfo_Capability_Type
		want        mesos.TaskState
		listedAs    string
		unreachable float64
	}{
		{"not partition-aware", nil, mesos.TaskState_TASK_LOST, "completed_tasks", 0},
		{"PARTITION_AWARE", []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_PARTITION_AWARE},
			mesos.TaskState_TASK_UNREACHABLE, "unreachable_tasks", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := startMaster(t, fastPings)
			a := startAgent(t, m, "doomed", agentResources)
			s := subscribe(t, m, frameworkInfo("forgetful", tc.caps...), codec.JSON)
			runTask(t, s, a, "t1", "cpus:1;mem:128")
			if st := s.nextUpdateAfter(a, "t1", mesos.TaskState_TASK_FINISHED); len(st.GetUuid()) == 0 {
				t.Fatalf("the agent's TASK_FINISHED reached the framework without its uuid: %v", st)
			}
			// Not acknowledged.

			a.next(agentproto.MasterMessage_PING)
			a.pong.Store(false)
			st := s.nextUpdate()
			if st.GetTaskId().GetValue() != "t1" || st.GetState() != tc.want || st.GetReason() != mesos.TaskStatus_REASON_AGENT_REMOVED {
				t.Fatalf("UPDATE on the agent's removal = %v, want %s of t1, REASON_AGENT_REMOVED", st, tc.want)
			}
			checkMasterUpdate(t, st)
			if st.GetAgentId().GetValue() != a.ID {
				t.Errorf("UPDATE agent_id = %q, want %q", st.GetAgentId().GetValue(), a.ID)
			}
			if got := s.next(schedpb.Event_FAILURE).GetFailure().GetAgentId().GetValue(); got != a.ID {
				t.Errorf("FAILURE for agent %s, want %s", got, a.ID)
			}
			s.syncUpdates() // and no other update

			fw := frameworkState(t, m, s.FrameworkID)
			if len(activeTasks(fw)) != 0 {
				t.Errorf("after the removal: tasks %v, want none", ids(activeTasks(fw)))
			}
			if done := tasksWithID(fw[tc.listedAs], "t1"); len(done) != 1 || done[0]["state"] != "TASK_FINISHED" {
				t.Errorf("%s t1 = %v, want it once, TASK_FINISHED", tc.listedAs, done)
			}
			metrics := m.metrics()
			for name, want := range map[string]float64{
				"master/tasks_finished": 1, "master/tasks_lost": 0, "master/tasks_unreachable": tc.unreachable,
				"master/slave_removals": 1, "master/cpus_used": 0,
			} {
				if metrics[name] != want {
					t.Errorf("%s = %v, want %v", name, metrics[name], want)
				}
			}
		})
	}
}

// Mesos (Master::reconcile): explicit reconciliation answers a task's state
// only while the framework still has the task (Framework::getTask, its live
// tasks); a task that ended and is among the completed tasks is answered as
// an unknown task is, by where its agent is. Its agent registered: TASK_GONE
// to a partition-aware framework, TASK_LOST to others, "Reconciliation: Task
// is unknown to the agent". No agent named: TASK_UNKNOWN, or TASK_LOST.
// Implicit reconciliation covers only the tasks that have not ended.
func TestReconciliationOfEndedTasksAnswersAsForUnknownTasks(t *testing.T) {
	for _, tc := range []struct {
		name               string
		caps               []mesos.FrameworkInfo_Capability_Type
		onAgent, noAgentID mesos.TaskState
	}{
		{"not partition-aware", nil, mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_LOST},
		{"PARTITION_AWARE", []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_PARTITION_AWARE},
			mesos.TaskState_TASK_GONE, mesos.TaskState_TASK_UNKNOWN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := startMaster(t)
			a := startAgent(t, m, "agent1", agentResources)
			s := subscribe(t, m, frameworkInfo("reconciler", tc.caps...), codec.JSON)
			runTask(t, s, a, "t1", "cpus:1;mem:128")
			s.acknowledge(s.nextUpdateAfter(a, "t1", mesos.TaskState_TASK_FINISHED))
			a.next(agentproto.MasterMessage_ACKNOWLEDGE)
			if done := tasksWithID(frameworkState(t, m, s.FrameworkID)["completed_tasks"], "t1"); len(done) != 1 {
				t.Fatalf("completed t1 = %v, want it once", done)
			}

			s.call(reconcileCall(reconcileTask("t1", a.ID), reconcileTask("t1", "")))
			for _, want := range []struct {
				agentID string
				state   mesos.TaskState
			}{{a.ID, tc.onAgent}, {"", tc.noAgentID}} {
				st := s.nextUpdate()
				if st.GetTaskId().GetValue() != "t1" || st.GetState() != want.state ||
					st.GetReason() != mesos.TaskStatus_REASON_RECONCILIATION || st.GetAgentId().GetValue() != want.agentID {
					t.Errorf("reconciling the ended t1 on agent %q: %v, want %s REASON_RECONCILIATION", want.agentID, st, want.state)
				}
				checkMasterUpdate(t, st)
			}
			s.call(reconcileCall())
			s.syncUpdates() // implicit reconciliation: nothing about t1
		})
	}
}

// Found by the simulator (soak seed 471). A task ends on an agent while its
// framework is away: the master knows the end (the agent's update carries
// it as latest_state) but the framework acknowledged none of it. The agent
// is removed; the master's TASK_LOST (TASK_UNREACHABLE) for the task is
// dropped, the framework being disconnected. The framework comes back and reconciles the task: as in
// Mesos (Master::reconcile), the master no longer has it, so the answer is
// by where its agent is: unreachable, TASK_LOST (TASK_UNREACHABLE to a
// partition-aware framework) with the time the agent was marked
// unreachable, and not the end the master recorded. That end is still to
// come from the agent, behind its older updates, should it return: had
// the master answered it, the framework would have seen TASK_RUNNING after
// a terminal state. The task is counted once, as it ended.
func TestReconciliationAfterAgentRemovedWhileFrameworkAway(t *testing.T) {
	for _, tc := range []struct {
		name        string
		caps        []mesos.FrameworkInfo_Capability_Type
		want        mesos.TaskState
		unreachable float64 // the ended task is kept among the unreachable ones
	}{
		{"not partition-aware", nil, mesos.TaskState_TASK_LOST, 0},
		{"PARTITION_AWARE", []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_PARTITION_AWARE},
			mesos.TaskState_TASK_UNREACHABLE, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := startMaster(t, fastPings)
			a := startAgent(t, m, "doomed", agentResources)
			fi := frameworkInfo("away", tc.caps...)
			fi.FailoverTimeout = proto.Float64(3600)
			s := subscribe(t, m, fi, codec.JSON)
			runTask(t, s, a, "t1", "cpus:1;mem:128")

			s.disconnect()
			waitFor(t, "the framework to be marked disconnected", func() bool {
				return frameworkState(t, m, s.FrameworkID)["connected"] == false
			})
			// The task fails; the framework hears nothing of it.
			a.update(s.FrameworkID, "t1", mesos.TaskState_TASK_FAILED)
			waitFor(t, "the master to count the task failed", func() bool {
				return m.metrics()["master/tasks_failed"] == 1
			})
			a.next(agentproto.MasterMessage_PING)
			a.pong.Store(false)
			a.next(agentproto.MasterMessage_SHUTDOWN)
			waitFor(t, "the master to close the removed agent's stream", a.msgs.isClosed)

			fi2 := withID(frameworkInfo("away", tc.caps...), s.FrameworkID)
			fi2.FailoverTimeout = proto.Float64(3600)
			s2 := subscribe(t, m, fi2, codec.JSON)
			s2.call(reconcileCall(reconcileTask("t1", a.ID)))
			st := s2.nextUpdate()
			if st.GetTaskId().GetValue() != "t1" || st.GetState() != tc.want ||
				st.GetReason() != mesos.TaskStatus_REASON_RECONCILIATION || st.GetAgentId().GetValue() != a.ID {
				t.Errorf("reconciling t1 of the removed agent: %v, want %s REASON_RECONCILIATION", st, tc.want)
			}
			checkMasterUpdate(t, st)
			if st.GetUnreachableTime().GetNanoseconds() == 0 {
				t.Errorf("reconciling t1 of the unreachable agent: no unreachable_time in %v", st)
			}
			metrics := m.metrics()
			for name, want := range map[string]float64{
				"master/tasks_failed": 1, "master/tasks_lost": 0, "master/tasks_unreachable": tc.unreachable,
			} {
				if metrics[name] != want {
					t.Errorf("%s = %v, want %v", name, metrics[name], want)
				}
			}
		})
	}
}

// unreachableTaskX runs a partition-aware framework's task X (cpus:1,
// mem:128) on agent s0 until s0 stops answering pings and X is
// TASK_UNREACHABLE.
func unreachableTaskX(t *testing.T) (*testMaster, *scheduler, *fakeAgent) {
	t.Helper()
	m := startMaster(t, fastPings)
	s0 := startAgent(t, m, "s0", agentResources)
	s := subscribe(t, m, frameworkInfo("partition-aware", mesos.FrameworkInfo_Capability_PARTITION_AWARE), codec.JSON)
	runTask(t, s, s0, "X", "cpus:1;mem:128")

	removeByPings(t, s, s0)
	if st := s.nextUpdate(); st.GetTaskId().GetValue() != "X" || st.GetState() != mesos.TaskState_TASK_UNREACHABLE {
		t.Fatalf("UPDATE = %v, want TASK_UNREACHABLE of X", st)
	}
	return m, s, s0
}

// As in Mesos (MESOS-6785), a framework may not reuse the id of a task
// that is unreachable: it may yet come back. The launch gets TASK_ERROR
// (REASON_TASK_INVALID) saying so, and when the agent returns its task is
// the framework's again, no longer unreachable.
func TestUnreachableTaskIDsCannotBeReused(t *testing.T) {
	m, s, s0 := unreachableTaskX(t)
	drainOffers(s) // every offer of s0 came before its FAILURE

	s1 := startAgent(t, m, "s1", agentResources)
	o := s.nextOffers()[0]
	s.accept(offerIDs(o), 0, launchOp(commandTask("X", "cpus:1;mem:128", o)))
	st := s.nextUpdate()
	if st.GetTaskId().GetValue() != "X" || st.GetState() != mesos.TaskState_TASK_ERROR ||
		st.GetReason() != mesos.TaskStatus_REASON_TASK_INVALID || !strings.Contains(st.GetMessage(), "reuses the ID of an unreachable task") {
		t.Fatalf("launching X again: %v, want TASK_ERROR saying it reuses an unreachable task's id", st)
	}
	s1.syncAgent(s)
	s1.none(agentproto.MasterMessage_RUN_TASK, 0)

	back := s0.reregister(agentTask(s.FrameworkID, "X", s0.ID, mesos.TaskState_TASK_RUNNING, "cpus:1;mem:128"))
	back.syncAgent(s)
	back.none(agentproto.MasterMessage_KILL_TASK, 0)
	fw := frameworkState(t, m, s.FrameworkID)
	if active := tasksWithID(fw["tasks"], "X"); len(active) != 1 || active[0]["slave_id"] != s0.ID {
		t.Errorf("after s0 came back, X among the active tasks = %v, want it on s0 %s", active, s0.ID)
	}
	if left := tasksWithID(fw["unreachable_tasks"], "X"); len(left) != 0 {
		t.Errorf("X is still among the unreachable tasks: %v", left)
	}
	if got := m.metrics()["master/tasks_unreachable"]; got != 0 {
		t.Errorf("master/tasks_unreachable = %v, want 0", got)
	}
}

// A partition-aware framework's task that comes back with its unreachable
// agent is adopted and charged to the agent again: /master/slaves shows it
// in the agent's used_resources, and the agent's offers leave it out.
func TestReturningAgentIsChargedForAdoptedTasks(t *testing.T) {
	m, s, s0 := unreachableTaskX(t)
	drainOffers(s) // every offer of s0 came before its FAILURE

	back := s0.reregister(agentTask(s.FrameworkID, "X", s0.ID, mesos.TaskState_TASK_RUNNING, "cpus:1;mem:128"))
	back.syncAgent(s)
	back.none(agentproto.MasterMessage_KILL_TASK, 0) // adopted, not killed

	fw := frameworkState(t, m, s.FrameworkID)
	if active := tasksWithID(fw["tasks"], "X"); len(active) != 1 || active[0]["slave_id"] != s0.ID || active[0]["state"] != "TASK_RUNNING" {
		t.Errorf("X among the active tasks = %v, want it once, TASK_RUNNING on s0", active)
	}
	if left := tasksWithID(fw["unreachable_tasks"], "X"); len(left) != 0 {
		t.Errorf("X is still among the unreachable tasks: %v", left)
	}
	if cpus, mem := usedResources(t, m, s0.ID); cpus != 1.0 || mem != 128.0 {
		t.Errorf("s0's used_resources are cpus:%v mem:%v, want X's cpus:1 mem:128", cpus, mem)
	}
	offers := s.offersOf(s0.ID, 1)
	if cpus, mem := offeredScalar("cpus", offers...), offeredScalar("mem", offers...); cpus != 1 || mem != 896 {
		t.Errorf("s0 offered cpus:%v mem:%v after its return, want cpus:1 mem:896 (X holds the rest)", cpus, mem)
	}
	metrics := m.metrics()
	if metrics["master/tasks_running"] != 1 || metrics["master/tasks_unreachable"] != 0 || metrics["master/cpus_used"] != 1 {
		t.Errorf("tasks_running=%v tasks_unreachable=%v cpus_used=%v, want 1, 0 and 1",
			metrics["master/tasks_running"], metrics["master/tasks_unreachable"], metrics["master/cpus_used"])
	}
}

// A returning unreachable agent is charged for the executors of the tasks
// it brings back, too: the custom executor it reports with an adopted task
// is the framework's executor on that agent again, counted in the agent's
// used_resources and left out of its offers, as before the agent went.
func TestReturningAgentIsChargedForAdoptedExecutors(t *testing.T) {
	m := startMaster(t, fastPings)
	s0 := startAgent(t, m, "s0", agentResources)
	s := subscribe(t, m, frameworkInfo("partition-aware", mesos.FrameworkInfo_Capability_PARTITION_AWARE), codec.JSON)
	o := s.nextOffers()[0]
	task := commandTask("X", "cpus:0.5;mem:64", o)
	task.Command = nil
	task.Executor = &mesos.ExecutorInfo{
		ExecutorId: &mesos.ExecutorID{Value: proto.String("ex1")},
		Command:    &mesos.CommandInfo{Value: proto.String("./my-executor")},
		Resources:  resourcesProto("cpus:0.1;mem:32"),
	}
	s.accept(offerIDs(o), 0, launchOp(task))
	executor := s0.next(agentproto.MasterMessage_RUN_TASK).GetRunTask().GetTask().GetExecutor()
	s.acknowledge(s.nextUpdateAfter(s0, "X", mesos.TaskState_TASK_RUNNING))
	s0.next(agentproto.MasterMessage_ACKNOWLEDGE)
	checkCharged := func(when string) {
		t.Helper()
		if cpus, mem := usedResources(t, m, s0.ID); cpus != 0.6 || mem != 96.0 {
			t.Errorf("%s: s0's used_resources are cpus:%v mem:%v, want X's and ex1's, cpus:0.6 mem:96", when, cpus, mem)
		}
		exs := objects(frameworkState(t, m, s.FrameworkID)["executors"])
		if len(exs) != 1 || exs[0]["executor_id"] != "ex1" || exs[0]["slave_id"] != s0.ID {
			t.Errorf("%s: the framework's executors are %v, want ex1 on s0", when, exs)
		}
	}
	checkCharged("before s0 went")

	removeByPings(t, s, s0)
	if st := s.nextUpdate(); st.GetTaskId().GetValue() != "X" || st.GetState() != mesos.TaskState_TASK_UNREACHABLE {
		t.Fatalf("UPDATE = %v, want TASK_UNREACHABLE of X", st)
	}
	drainOffers(s)

	// s0 comes back with X and its executor, as a real agent reports them.
	info := proto.Clone(s0.Info).(*mesos.AgentInfo)
	info.Id = &mesos.AgentID{Value: proto.String(s0.ID)}
	reported := agentTask(s.FrameworkID, "X", s0.ID, mesos.TaskState_TASK_RUNNING, "cpus:0.5;mem:64")
	reported.ExecutorId = executor.GetExecutorId()
	back := connectAgent(t, m, &agentproto.AgentMessage{
		Type: agentproto.AgentMessage_REREGISTER.Enum(),
		Register: &agentproto.AgentMessage_Register{
			AgentInfo: info, Version: proto.String(core.Version), Tasks: []*mesos.Task{reported},
			Executors: []*agentproto.ExecutorRecord{{Info: executor, ContainerId: &mesos.ContainerID{Value: proto.String("c-ex1")}}},
		},
	})
	back.syncAgent(s)
	back.none(agentproto.MasterMessage_KILL_TASK, 0) // adopted
	// As in Mesos, the framework hears that its task is back.
	if st := s.nextUpdate(); st.GetTaskId().GetValue() != "X" || st.GetState() != mesos.TaskState_TASK_RUNNING ||
		st.GetReason() != mesos.TaskStatus_REASON_AGENT_REREGISTERED {
		t.Errorf("UPDATE = %v, want X TASK_RUNNING with REASON_AGENT_REREGISTERED", st)
	}

	checkCharged("after s0 came back")
	offers := s.offersOf(s0.ID, 1)
	if cpus, mem := offeredScalar("cpus", offers...), offeredScalar("mem", offers...); cpus != 1.4 || mem != 928 {
		t.Errorf("s0 offered cpus:%v mem:%v after its return, want cpus:1.4 mem:928 (X and ex1 hold the rest)", cpus, mem)
	}

	// Its end is the framework's to hear of, as for any executor.
	back.update(s.FrameworkID, "X", mesos.TaskState_TASK_FINISHED)
	s.acknowledge(s.nextUpdate())
	back.send(&agentproto.AgentMessage{
		Type: agentproto.AgentMessage_EXECUTOR_EXITED.Enum(),
		ExecutorExited: &agentproto.AgentMessage_ExecutorExited{
			FrameworkId: &mesos.FrameworkID{Value: proto.String(s.FrameworkID)},
			ExecutorId:  executor.GetExecutorId(), Status: proto.Int32(0),
		},
	})
	if failure := s.next(schedpb.Event_FAILURE).GetFailure(); failure.GetAgentId().GetValue() != s0.ID || failure.GetExecutorId().GetValue() != "ex1" {
		t.Errorf("FAILURE = %v, want executor ex1 on s0", failure)
	}
}

// An agent that re-registers with other resources is accounted afresh, and
// what runs on it is charged again: its custom executors as well as its
// tasks, so that its offers leave out both.
func TestReregistrationWithNewResourcesKeepsExecutorsCharged(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	fi := frameworkInfo("checkpointing")
	fi.Checkpoint = proto.Bool(true)
	s := subscribe(t, m, fi, codec.JSON)
	o := s.nextOffers()[0]
	task := commandTask("X", "cpus:0.5;mem:64", o)
	task.Command = nil
	task.Executor = &mesos.ExecutorInfo{
		ExecutorId: &mesos.ExecutorID{Value: proto.String("ex1")},
		Command:    &mesos.CommandInfo{Value: proto.String("./my-executor")},
		Resources:  resourcesProto("cpus:0.1;mem:32"),
	}
	s.accept(offerIDs(o), 0, launchOp(task))
	executor := a.next(agentproto.MasterMessage_RUN_TASK).GetRunTask().GetTask().GetExecutor()
	s.acknowledge(s.nextUpdateAfter(a, "X", mesos.TaskState_TASK_RUNNING))
	a.next(agentproto.MasterMessage_ACKNOWLEDGE)

	a.disconnect()
	waitFor(t, "the agent to be deactivated", func() bool {
		slave := findByID(objects(m.getJSON("/master/slaves")["slaves"]), a.ID)
		return slave != nil && slave["active"] == false
	})
	drainOffers(s)
	a.Info.Resources = resourcesProto("cpus:3;mem:1024;ports:[31000-32000]")
	reported := agentTask(s.FrameworkID, "X", a.ID, mesos.TaskState_TASK_RUNNING, "cpus:0.5;mem:64")
	reported.ExecutorId = executor.GetExecutorId()
	a.reregisterWith([]*mesos.Task{reported}, []*mesos.ExecutorInfo{executor}, fi)

	if cpus, mem := usedResources(t, m, a.ID); cpus != 0.6 || mem != 96.0 {
		t.Errorf("used_resources are cpus:%v mem:%v, want X's and ex1's, cpus:0.6 mem:96", cpus, mem)
	}
	offers := s.offersOf(a.ID, 1)
	if cpus, mem := offeredScalar("cpus", offers...), offeredScalar("mem", offers...); cpus != 2.4 || mem != 928 {
		t.Errorf("offered cpus:%v mem:%v after the re-registration, want cpus:2.4 mem:928 (X and ex1 hold the rest)", cpus, mem)
	}
}

// An unreachable agent that comes back without one of its unreachable
// tasks has lost it: a partition-aware framework learns TASK_GONE for it,
// from the master, and it is no longer listed as unreachable.
func TestReturningAgentWithoutAnUnreachableTaskReportsItGone(t *testing.T) {
	m, s, s0 := unreachableTaskX(t)
	s0.reregister()
	st := s.nextUpdate()
	if st.GetTaskId().GetValue() != "X" || st.GetState() != mesos.TaskState_TASK_GONE || st.GetSource() != mesos.TaskStatus_SOURCE_MASTER {
		t.Fatalf("after s0 came back without X: %v, want TASK_GONE from the master", st)
	}
	fw := frameworkState(t, m, s.FrameworkID)
	if left := tasksWithID(fw["unreachable_tasks"], "X"); len(left) != 0 {
		t.Errorf("X is still among the unreachable tasks: %v", left)
	}
	if got := m.metrics()["master/tasks_gone"]; got != 1 {
		t.Errorf("master/tasks_gone = %v, want 1", got)
	}
}

// Mesos: TEARDOWN tells every agent to shut the framework down, also an
// agent on which the master knows no task of the framework any more. The
// simulator found an agent whose acknowledgement of a task's end was lost
// while the framework's was taken: the master forgot the task, and when
// the framework then tore itself down the agent was not told, so it kept
// the framework and resent the task's end forever.
func TestTeardownTellsEveryAgent(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	b := startAgent(t, m, "agent2", agentResources)
	fi := frameworkInfo("leaves")
	fi.FailoverTimeout = proto.Float64(3600)
	s := subscribe(t, m, fi, codec.JSON)
	o := s.nextOffers()
	var offer *mesos.Offer
	for _, x := range o {
		if x.GetAgentId().GetValue() == a.ID {
			offer = x
		}
	}
	if offer == nil {
		t.Fatalf("no offer for agent1 among %v", o)
	}
	s.accept(offerIDs(offer), 0, launchOp(commandTask("t1", "cpus:1;mem:128", offer)))
	a.next(agentproto.MasterMessage_RUN_TASK)
	a.update(s.FrameworkID, "t1", mesos.TaskState_TASK_FINISHED)
	st := s.nextUpdate()
	s.acknowledge(st)
	// The master forwards the acknowledgement (which the agent may never
	// get) and forgets the task.
	a.next(agentproto.MasterMessage_ACKNOWLEDGE)
	waitFor(t, "the master to forget the ended task", func() bool {
		return len(tasksWithID(frameworkState(t, m, s.FrameworkID)["completed_tasks"], "t1")) == 1
	})

	s.call(&schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()})
	for _, ag := range []*fakeAgent{a, b} {
		if got := ag.next(agentproto.MasterMessage_SHUTDOWN_FRAMEWORK).GetShutdownFramework().GetFrameworkId().GetValue(); got != s.FrameworkID {
			t.Errorf("SHUTDOWN_FRAMEWORK for %s, want %s", got, s.FrameworkID)
		}
	}
}
