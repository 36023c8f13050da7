package master_test

// Agents that die, frameworks that leave, fail over or come back, and the
// master's answers to KILL and RECONCILE (facts §1.4, §1.5, §7.2, §7.5).

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
)

// runTask launches a command task on the framework's next offer, reports it
// RUNNING from the agent and acknowledges that, leaving the rest of the
// offer to come back (refuse 0). It returns the offer it used.
func runTask(t *testing.T, s *scheduler, a *fakeAgent, taskID, res string) *mesos.Offer {
	t.Helper()
	o := s.nextOffers()[0]
	s.accept(offerIDs(o), 0, launchOp(commandTask(taskID, res, o)))
	if got := a.next(agentproto.MasterMessage_RUN_TASK).GetRunTask().GetTask().GetTaskId().GetValue(); got != taskID {
		t.Fatalf("agent got RUN_TASK for %s, want %s", got, taskID)
	}
	a.update(s.FrameworkID, taskID, mesos.TaskState_TASK_RUNNING)
	st := s.nextUpdate()
	if st.GetTaskId().GetValue() != taskID || st.GetState() != mesos.TaskState_TASK_RUNNING {
		t.Fatalf("UPDATE = %v, want TASK_RUNNING of %s", st, taskID)
	}
	s.acknowledge(st)
	a.next(agentproto.MasterMessage_ACKNOWLEDGE)
	return o
}

// Mesos: an agent that misses max_agent_ping_timeouts pings in a row is
// removed (marked unreachable). Its running tasks become TASK_LOST for
// frameworks that are not partition-aware and TASK_UNREACHABLE for those
// that are, with REASON_AGENT_REMOVED, from the master and without a uuid;
// its outstanding offers are rescinded; every framework gets FAILURE with
// the agent id; the agent leaves /master/slaves and slave_removals counts it.
func TestAgentThatStopsAnsweringPingsIsRemoved(t *testing.T) {
	for _, tc := range []struct {
		name           string
		caps           []mesos.FrameworkInfo_Capability_Type
		state          mesos.TaskState
		stateInMetrics string
	}{
		{"not partition-aware", nil, mesos.TaskState_TASK_LOST, "master/tasks_lost"},
		{"PARTITION_AWARE", []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_PARTITION_AWARE},
			mesos.TaskState_TASK_UNREACHABLE, "master/tasks_unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := startMaster(t, func(c *master.Config) {
				c.AgentPingTimeout = 200 * time.Millisecond
				c.MaxAgentPingTimeouts = 2
			})
			a := startAgent(t, m, "doomed", agentResources)
			s := subscribe(t, m, frameworkInfo("victim", tc.caps...), codec.JSON)
			runTask(t, s, a, "t1", "cpus:1;mem:128")
			outstanding := s.nextOffers()[0] // the unused part, offered again
			a.next(agentproto.MasterMessage_PING)

			a.pong.Store(false)

			rescind := s.next(schedpb.Event_RESCIND).GetRescind()
			if rescind.GetOfferId().GetValue() != outstanding.GetId().GetValue() {
				t.Errorf("RESCIND of %s, want the outstanding offer %s", rescind.GetOfferId().GetValue(), outstanding.GetId().GetValue())
			}
			st := s.nextUpdate()
			if st.GetTaskId().GetValue() != "t1" || st.GetState() != tc.state || st.GetReason() != mesos.TaskStatus_REASON_AGENT_REMOVED {
				t.Fatalf("UPDATE = %v, want %s REASON_AGENT_REMOVED for t1", st, tc.state)
			}
			checkMasterUpdate(t, st)
			if st.GetAgentId().GetValue() != a.ID {
				t.Errorf("UPDATE agent_id = %q, want %q", st.GetAgentId().GetValue(), a.ID)
			}
			if tc.state == mesos.TaskState_TASK_UNREACHABLE && st.GetUnreachableTime().GetNanoseconds() == 0 {
				t.Errorf("TASK_UNREACHABLE without unreachable_time: %v", st)
			}
			failure := s.next(schedpb.Event_FAILURE).GetFailure()
			if failure.GetAgentId().GetValue() != a.ID || failure.ExecutorId != nil || failure.Status != nil {
				t.Errorf("FAILURE = %v, want only agent_id %s", failure, a.ID)
			}

			if slaves := objects(m.getJSON("/master/slaves")["slaves"]); len(slaves) != 0 {
				t.Errorf("/master/slaves still lists %v", ids(slaves))
			}
			state := m.getJSON("/master/state")
			if state["unreachable_slaves"] != 1.0 || state["activated_slaves"] != 0.0 {
				t.Errorf("unreachable_slaves = %v, activated_slaves = %v; want 1 and 0", state["unreachable_slaves"], state["activated_slaves"])
			}
			fw := findByID(objects(state["frameworks"]), s.FrameworkID)
			if len(objects(fw["tasks"])) != 0 {
				t.Errorf("the lost agent's task is still active: %v", fw["tasks"])
			}
			if tc.state == mesos.TaskState_TASK_UNREACHABLE {
				if task := findByID(objects(fw["unreachable_tasks"]), "t1"); task == nil || task["state"] != "TASK_UNREACHABLE" {
					t.Errorf("unreachable_tasks = %v, want t1", fw["unreachable_tasks"])
				}
			} else if task := findByID(objects(fw["completed_tasks"]), "t1"); task == nil || task["state"] != "TASK_LOST" {
				t.Errorf("completed_tasks = %v, want t1 TASK_LOST", fw["completed_tasks"])
			}
			metrics := m.metrics()
			if tc.state == mesos.TaskState_TASK_LOST {
				// Mesos names the counter after its internal enum: SLAVE, not AGENT.
				if got := metrics["master/task_lost/source_master/reason_slave_removed"]; got != 1 {
					t.Errorf("master/task_lost/source_master/reason_slave_removed = %v, want 1", got)
				}
			}
			for name, want := range map[string]float64{
				"master/slave_removals": 1, "master/slave_removals/reason_unhealthy": 1,
				"master/slaves_active": 0, "master/slaves_unreachable": 1, "master/outstanding_offers": 0,
				"master/cpus_total": 0, "master/tasks_running": 0, tc.stateInMetrics: 1,
			} {
				if metrics[name] != want {
					t.Errorf("%s = %v, want %v", name, metrics[name], want)
				}
			}

			// The agent is told, and its connection ends.
			a.next(agentproto.MasterMessage_SHUTDOWN)
			waitFor(t, "the master to close the agent's stream", a.msgs.isClosed)

			// Explicit reconciliation of a task the master does not know,
			// on the removed agent: TASK_UNREACHABLE for a partition-aware
			// framework, TASK_LOST otherwise.
			s.call(reconcileCall(reconcileTask("never-heard-of", a.ID)))
			st = s.nextUpdate()
			want := mesos.TaskState_TASK_LOST
			if tc.state == mesos.TaskState_TASK_UNREACHABLE {
				want = mesos.TaskState_TASK_UNREACHABLE
			}
			if st.GetTaskId().GetValue() != "never-heard-of" || st.GetState() != want || st.GetReason() != mesos.TaskStatus_REASON_RECONCILIATION {
				t.Errorf("reconciling an unknown task on the removed agent: %v, want %s", st, want)
			}
		})
	}
}

// Mesos: TEARDOWN removes the framework: its tasks' agents get
// SHUTDOWN_FRAMEWORK, its stream ends, it is listed among the completed
// frameworks with its tasks, and its id can never subscribe again
// ("Framework has been removed").
func TestTeardownRemovesFrameworkForGood(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	fi := frameworkInfo("short-lived")
	fi.FailoverTimeout = proto.Float64(3600)
	s := subscribe(t, m, fi, codec.JSON)
	runTask(t, s, a, "t1", "cpus:1;mem:128")

	s.call(&schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()})

	shutdown := a.next(agentproto.MasterMessage_SHUTDOWN_FRAMEWORK).GetShutdownFramework()
	if shutdown.GetFrameworkId().GetValue() != s.FrameworkID {
		t.Errorf("SHUTDOWN_FRAMEWORK for %v, want %s", shutdown.GetFrameworkId(), s.FrameworkID)
	}
	s.waitClosed()

	state := m.getJSON("/master/state")
	if fws := objects(state["frameworks"]); len(fws) != 0 {
		t.Errorf("frameworks after TEARDOWN: %v", ids(fws))
	}
	done := findByID(objects(state["completed_frameworks"]), s.FrameworkID)
	if done == nil {
		t.Fatalf("completed_frameworks = %v, want %s", ids(objects(state["completed_frameworks"])), s.FrameworkID)
	}
	if done["active"] != false || done["connected"] != false {
		t.Errorf("completed framework active=%v connected=%v", done["active"], done["connected"])
	}
	if task := findByID(objects(done["completed_tasks"]), "t1"); task == nil || task["state"] != "TASK_KILLED" {
		t.Errorf("completed framework's completed_tasks = %v, want t1 TASK_KILLED", done["completed_tasks"])
	}
	if fws := objects(m.getJSON("/master/frameworks")["completed_frameworks"]); findByID(fws, s.FrameworkID) == nil {
		t.Errorf("/master/frameworks completed_frameworks = %v", ids(fws))
	}
	metrics := m.metrics()
	if metrics["master/messages_unregister_framework"] != 1 || metrics["master/frameworks_active"] != 0 || metrics["master/cpus_used"] != 0 {
		t.Errorf("after TEARDOWN: messages_unregister_framework=%v frameworks_active=%v cpus_used=%v",
			metrics["master/messages_unregister_framework"], metrics["master/frameworks_active"], metrics["master/cpus_used"])
	}

	again := openStream(t, m, withID(frameworkInfo("short-lived"), s.FrameworkID), codec.JSON)
	ev := again.next(schedpb.Event_ERROR)
	if ev.GetError().GetMessage() != "Framework has been removed" {
		t.Errorf("resubscribing a removed framework: ERROR %q", ev.GetError().GetMessage())
	}
	again.waitClosed()
	if evs := again.events.all(); len(evs) != 1 {
		t.Errorf("events to a removed framework: %v, want only the ERROR", again.describe())
	}
}

// Mesos: a framework whose stream breaks with failover_timeout 0 (the
// default) is removed at once, its tasks killed.
func TestDisconnectWithoutFailoverTimeoutRemovesFramework(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	s := subscribe(t, m, frameworkInfo("fragile"), codec.Protobuf)
	runTask(t, s, a, "t1", "cpus:1;mem:128")

	s.disconnect()

	if got := a.next(agentproto.MasterMessage_SHUTDOWN_FRAMEWORK).GetShutdownFramework().GetFrameworkId().GetValue(); got != s.FrameworkID {
		t.Errorf("SHUTDOWN_FRAMEWORK for %s, want %s", got, s.FrameworkID)
	}
	waitFor(t, "the framework to be completed", func() bool {
		return findByID(objects(m.getJSON("/master/state")["completed_frameworks"]), s.FrameworkID) != nil
	})
	if fws := objects(m.getJSON("/master/state")["frameworks"]); len(fws) != 0 {
		t.Errorf("frameworks = %v, want none", ids(fws))
	}
}

// Mesos: with a failover timeout, a disconnected framework is kept
// (inactive, its calls answered 403) and may re-subscribe with its id within
// the timeout, keeping its tasks; the master resends nothing, so it
// reconciles. A second SUBSCRIBE while connected fails the old stream over:
// it gets ERROR "Framework failed over" and ends.
func TestFailoverWithinTimeoutKeepsFrameworkAndTasks(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	fi := frameworkInfo("resilient")
	fi.FailoverTimeout = proto.Float64(3600)
	s := subscribe(t, m, fi, codec.JSON)
	runTask(t, s, a, "t1", "cpus:1;mem:128")

	s.disconnect()
	waitFor(t, "the framework to be marked disconnected", func() bool {
		fw := findByID(objects(m.getJSON("/master/state")["frameworks"]), s.FrameworkID)
		return fw != nil && fw["connected"] == false && fw["active"] == false
	})
	if status, body := s.post(&schedpb.Call{Type: schedpb.Call_REVIVE.Enum()}); status != 403 || body != "Framework is not subscribed" {
		t.Errorf("call while disconnected: %d %q, want 403 Framework is not subscribed", status, body)
	}
	metrics := m.metrics()
	if metrics["master/frameworks_disconnected"] != 1 || metrics["master/frameworks_inactive"] != 1 {
		t.Errorf("frameworks_disconnected=%v frameworks_inactive=%v, want 1 and 1",
			metrics["master/frameworks_disconnected"], metrics["master/frameworks_inactive"])
	}

	// The failover: same id, new stream, tasks intact.
	fi2 := withID(frameworkInfo("resilient"), s.FrameworkID)
	fi2.FailoverTimeout = proto.Float64(3600)
	s2 := subscribe(t, m, fi2, codec.JSON)
	if s2.FrameworkID != s.FrameworkID {
		t.Fatalf("resubscribed as %s, want %s", s2.FrameworkID, s.FrameworkID)
	}
	a.syncAgent(s2)
	a.none(agentproto.MasterMessage_SHUTDOWN_FRAMEWORK, 0) // its tasks were never killed
	fw := findByID(objects(m.getJSON("/master/state")["frameworks"]), s.FrameworkID)
	if fw["connected"] != true || fw["active"] != true {
		t.Errorf("after failover connected=%v active=%v", fw["connected"], fw["active"])
	}
	if task := findByID(objects(fw["tasks"]), "t1"); task == nil || task["state"] != "TASK_RUNNING" {
		t.Errorf("after failover tasks = %v, want t1 TASK_RUNNING", fw["tasks"])
	}
	if _, ok := fw["reregistered_time"]; !ok {
		t.Errorf("a failed-over framework has no reregistered_time")
	}
	s2.call(reconcileCall())
	if st := s2.nextUpdate(); st.GetTaskId().GetValue() != "t1" || st.GetState() != mesos.TaskState_TASK_RUNNING {
		t.Errorf("reconciliation after failover: %v, want t1 TASK_RUNNING", st)
	}
	if status, _ := s.post(&schedpb.Call{Type: schedpb.Call_REVIVE.Enum()}); status != 400 {
		t.Errorf("call on the old stream id: %d, want 400", status)
	}

	// A second SUBSCRIBE while connected takes over from s2.
	s3 := subscribe(t, m, fi2, codec.Protobuf)
	ev := s2.next(schedpb.Event_ERROR)
	if ev.GetError().GetMessage() != "Framework failed over" {
		t.Errorf("old stream got ERROR %q, want \"Framework failed over\"", ev.GetError().GetMessage())
	}
	s2.waitClosed()
	if s3.FrameworkID != s.FrameworkID {
		t.Errorf("second failover subscribed as %s", s3.FrameworkID)
	}
	s3.call(&schedpb.Call{Type: schedpb.Call_REVIVE.Enum()})
	if status, _ := s2.post(&schedpb.Call{Type: schedpb.Call_REVIVE.Enum()}); status != 400 {
		t.Errorf("call on the failed-over stream: %d, want 400", status)
	}
	if got := m.metrics()["master/messages_reregister_framework"]; got != 2 {
		t.Errorf("messages_reregister_framework = %v, want 2", got)
	}
}

// Mesos: when the failover timeout passes without a re-subscription the
// framework is removed, as by TEARDOWN.
func TestFailoverTimeoutExpiryRemovesFramework(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	fi := frameworkInfo("late")
	fi.FailoverTimeout = proto.Float64(0.3)
	s := subscribe(t, m, fi, codec.JSON)
	runTask(t, s, a, "t1", "cpus:1;mem:128")

	start := time.Now()
	s.disconnect()
	a.next(agentproto.MasterMessage_SHUTDOWN_FRAMEWORK)
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("framework removed %v after disconnecting, before its 0.3s failover timeout", waited)
	}
	waitFor(t, "the framework to be completed", func() bool {
		return findByID(objects(m.getJSON("/master/state")["completed_frameworks"]), s.FrameworkID) != nil
	})
	again := openStream(t, m, withID(frameworkInfo("late"), s.FrameworkID), codec.JSON)
	if msg := again.next(schedpb.Event_ERROR).GetError().GetMessage(); msg != "Framework has been removed" {
		t.Errorf("resubscribing after the timeout: ERROR %q", msg)
	}
}

// Mesos: KILL of a known task is sent to its agent as KILL_TASK (the task
// dies through its executor). KILL of a task the master does not know is
// answered by reconciliation: TASK_LOST with REASON_RECONCILIATION.
func TestKill(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	s := subscribe(t, m, frameworkInfo("killer"), codec.JSON)
	runTask(t, s, a, "t1", "cpus:1;mem:128")

	grace := &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(3 * time.Second))}}
	s.call(&schedpb.Call{Type: schedpb.Call_KILL.Enum(), Kill: &schedpb.Call_Kill{
		TaskId: &mesos.TaskID{Value: proto.String("t1")}, AgentId: &mesos.AgentID{Value: proto.String(a.ID)}, KillPolicy: grace,
	}})
	kill := a.next(agentproto.MasterMessage_KILL_TASK).GetKillTask()
	if kill.GetFrameworkId().GetValue() != s.FrameworkID || kill.GetTaskId().GetValue() != "t1" {
		t.Errorf("KILL_TASK = %v, want framework %s task t1", kill, s.FrameworkID)
	}
	if !proto.Equal(kill.GetKillPolicy(), grace) {
		t.Errorf("KILL_TASK kill_policy = %v, want %v", kill.GetKillPolicy(), grace)
	}
	// Killing is the executor's business: no update until the agent sends one.
	s.syncUpdates()
	a.update(s.FrameworkID, "t1", mesos.TaskState_TASK_KILLED)
	if st := s.nextUpdate(); st.GetState() != mesos.TaskState_TASK_KILLED {
		t.Errorf("UPDATE = %v, want TASK_KILLED", st)
	}

	s.call(&schedpb.Call{Type: schedpb.Call_KILL.Enum(), Kill: &schedpb.Call_Kill{TaskId: &mesos.TaskID{Value: proto.String("ghost")}}})
	st := s.nextUpdate()
	if st.GetTaskId().GetValue() != "ghost" || st.GetState() != mesos.TaskState_TASK_LOST || st.GetReason() != mesos.TaskStatus_REASON_RECONCILIATION {
		t.Errorf("KILL of an unknown task: %v, want TASK_LOST REASON_RECONCILIATION", st)
	}
	checkMasterUpdate(t, st)
	a.syncAgent(s)
	a.none(agentproto.MasterMessage_KILL_TASK, 0)
	if got := m.metrics()["master/messages_kill_task"]; got != 2 {
		t.Errorf("messages_kill_task = %v, want 2", got)
	}
}

// Mesos: implicit reconciliation (no tasks named) answers with an UPDATE per
// task the master knows for the framework, from the master, with
// REASON_RECONCILIATION and no uuid, in the task's latest state. Explicit
// reconciliation of a task the master does not know answers TASK_LOST for
// a framework that is not partition-aware; a partition-aware one learns
// TASK_GONE (the agent is registered and does not have it) or TASK_UNKNOWN
// (the agent is unknown too).
func TestReconcile(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	s := subscribe(t, m, frameworkInfo("reconciler"), codec.JSON)
	runTask(t, s, a, "running", "cpus:0.5;mem:128")
	o := s.nextOffers()[0]
	s.accept(offerIDs(o), 0, launchOp(commandTask("staging", "cpus:0.5;mem:128", o)))
	a.next(agentproto.MasterMessage_RUN_TASK)

	s.call(reconcileCall())
	got := map[string]mesos.TaskState{}
	for range 2 {
		st := s.nextUpdate()
		if st.GetReason() != mesos.TaskStatus_REASON_RECONCILIATION {
			t.Errorf("reconciliation UPDATE for %s has reason %s", st.GetTaskId().GetValue(), st.GetReason())
		}
		if st.GetAgentId().GetValue() != a.ID {
			t.Errorf("reconciliation UPDATE for %s has agent_id %q", st.GetTaskId().GetValue(), st.GetAgentId().GetValue())
		}
		checkMasterUpdate(t, st)
		got[st.GetTaskId().GetValue()] = st.GetState()
	}
	if got["running"] != mesos.TaskState_TASK_RUNNING || got["staging"] != mesos.TaskState_TASK_STAGING {
		t.Errorf("implicit reconciliation answered %v, want running TASK_RUNNING and staging TASK_STAGING", got)
	}
	s.syncUpdates() // and nothing else

	// Explicit, for a known task: its state.
	s.call(reconcileCall(reconcileTask("running", a.ID)))
	if st := s.nextUpdate(); st.GetTaskId().GetValue() != "running" || st.GetState() != mesos.TaskState_TASK_RUNNING {
		t.Errorf("explicit reconciliation of a known task: %v", st)
	}
	// Explicit, for an unknown task: TASK_LOST.
	s.call(reconcileCall(reconcileTask("unknown", a.ID), reconcileTask("unknown-anywhere", "")))
	for _, id := range []string{"unknown", "unknown-anywhere"} {
		st := s.nextUpdate()
		if st.GetTaskId().GetValue() != id || st.GetState() != mesos.TaskState_TASK_LOST || st.GetReason() != mesos.TaskStatus_REASON_RECONCILIATION {
			t.Errorf("explicit reconciliation of unknown %s: %v, want TASK_LOST REASON_RECONCILIATION", id, st)
		}
		checkMasterUpdate(t, st)
	}

	pa := subscribe(t, m, frameworkInfo("partition-aware", mesos.FrameworkInfo_Capability_PARTITION_AWARE), codec.JSON)
	pa.call(reconcileCall(
		reconcileTask("on-registered-agent", a.ID),
		reconcileTask("on-unknown-agent", m.masterID()+"-S77"),
		reconcileTask("nowhere", ""),
	))
	for _, want := range []struct {
		id    string
		state mesos.TaskState
	}{
		{"on-registered-agent", mesos.TaskState_TASK_GONE},
		{"on-unknown-agent", mesos.TaskState_TASK_UNKNOWN},
		{"nowhere", mesos.TaskState_TASK_UNKNOWN},
	} {
		st := pa.nextUpdate()
		if st.GetTaskId().GetValue() != want.id || st.GetState() != want.state || st.GetReason() != mesos.TaskStatus_REASON_RECONCILIATION {
			t.Errorf("partition-aware explicit reconciliation: %v, want %s %s", st, want.id, want.state)
		}
		checkMasterUpdate(t, st)
	}
	// Implicit reconciliation of a framework without tasks says nothing.
	pa.call(reconcileCall())
	pa.none(schedpb.Event_UPDATE, 5*testOptions().AllocationInterval)
}

// Mesos: an update from the agent for a task whose framework the master
// does not know is dropped and counted as invalid; one without a uuid is
// invalid too (only the master makes uuid-less updates).
func TestInvalidStatusUpdatesAreCounted(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	s := subscribe(t, m, frameworkInfo("fw"), codec.JSON)
	a.update("no-such-framework", "t", mesos.TaskState_TASK_RUNNING)
	a.send(&agentproto.AgentMessage{
		Type: agentproto.AgentMessage_STATUS_UPDATE.Enum(),
		StatusUpdate: &agentproto.StatusUpdate{
			FrameworkId: &mesos.FrameworkID{Value: proto.String(s.FrameworkID)},
			Status:      &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String("t")}, State: mesos.TaskState_TASK_RUNNING.Enum()},
		},
	})
	m.waitMetric("master/invalid_status_updates", 2)
	s.syncUpdates() // neither reached the framework
}

func reconcileTask(taskID, agentID string) *schedpb.Call_Reconcile_Task {
	rt := &schedpb.Call_Reconcile_Task{TaskId: &mesos.TaskID{Value: proto.String(taskID)}}
	if agentID != "" {
		rt.AgentId = &mesos.AgentID{Value: proto.String(agentID)}
	}
	return rt
}

func reconcileCall(tasks ...*schedpb.Call_Reconcile_Task) *schedpb.Call {
	return &schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{Tasks: tasks}}
}

// Mesos: when an agent's connection breaks it is deactivated: its offers
// are rescinded and it gets no new ones. Tasks of frameworks that do not
// checkpoint cannot survive an agent failure and are lost at once
// (REASON_AGENT_DISCONNECTED); those of checkpointing frameworks stay.
// When the agent re-registers with its id and its tasks, it is active
// again and its resources are offered again.
func TestAgentDisconnectAndReregister(t *testing.T) {
	for _, checkpoint := range []bool{false, true} {
		name := "framework without checkpointing"
		if checkpoint {
			name = "checkpointing framework"
		}
		t.Run(name, func(t *testing.T) {
			m := startMaster(t)
			a := startAgent(t, m, "agent1", agentResources)
			fi := frameworkInfo("fw")
			fi.Checkpoint = proto.Bool(checkpoint)
			s := subscribe(t, m, fi, codec.JSON)
			runTask(t, s, a, "t1", "cpus:1;mem:128")
			outstanding := s.nextOffers()[0]

			a.disconnect()

			if got := s.next(schedpb.Event_RESCIND).GetRescind().GetOfferId().GetValue(); got != outstanding.GetId().GetValue() {
				t.Errorf("RESCIND of %s, want %s", got, outstanding.GetId().GetValue())
			}
			waitFor(t, "the agent to be deactivated", func() bool {
				slave := findByID(objects(m.getJSON("/master/slaves")["slaves"]), a.ID)
				return slave != nil && slave["active"] == false
			})
			fw := findByID(objects(m.getJSON("/master/state")["frameworks"]), s.FrameworkID)
			if checkpoint {
				s.syncUpdates() // no update for its task
				if task := findByID(objects(fw["tasks"]), "t1"); task == nil || task["state"] != "TASK_RUNNING" {
					t.Errorf("checkpointing framework's task after the disconnection: %v", fw["tasks"])
				}
			} else {
				st := s.nextUpdate()
				if st.GetTaskId().GetValue() != "t1" || st.GetState() != mesos.TaskState_TASK_LOST || st.GetReason() != mesos.TaskStatus_REASON_AGENT_DISCONNECTED {
					t.Errorf("UPDATE = %v, want TASK_LOST REASON_AGENT_DISCONNECTED", st)
				}
				if len(objects(fw["tasks"])) != 0 {
					t.Errorf("lost task still active: %v", fw["tasks"])
				}
			}
			s.none(schedpb.Event_OFFERS, 5*testOptions().AllocationInterval)

			var running []*mesos.Task
			if checkpoint {
				running = append(running, &mesos.Task{
					Name: proto.String("t1"), TaskId: &mesos.TaskID{Value: proto.String("t1")},
					FrameworkId: &mesos.FrameworkID{Value: proto.String(s.FrameworkID)},
					AgentId:     &mesos.AgentID{Value: proto.String(a.ID)},
					State:       mesos.TaskState_TASK_RUNNING.Enum(),
					Resources:   resourcesProto("cpus:1;mem:128"),
				})
			}
			back := a.reregister(running...)
			if back.ID != a.ID {
				t.Fatalf("re-registered as %s, want %s", back.ID, a.ID)
			}
			offers := s.nextOffers()
			want := 2.0
			if checkpoint {
				want = 1 // t1 still holds one cpu
			}
			if got := offeredScalar("cpus", offers...); got != want {
				t.Errorf("offered %v cpus after re-registration, want %v", got, want)
			}
			slave := findByID(objects(m.getJSON("/master/slaves")["slaves"]), a.ID)
			if slave == nil || slave["active"] != true {
				t.Errorf("re-registered agent = %v, want active", slave)
			}
			if got := m.metrics()["master/slave_reregistrations"]; got != 1 {
				t.Errorf("slave_reregistrations = %v, want 1", got)
			}
		})
	}
}

// Mesos: an agent that unregisters (a graceful shutdown) is removed: its
// tasks are lost, frameworks get FAILURE, and slave_removals counts it under
// reason_unregistered.
func TestAgentUnregisters(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "leaving", agentResources)
	s := subscribe(t, m, frameworkInfo("fw"), codec.JSON)
	runTask(t, s, a, "t1", "cpus:1;mem:128")

	a.send(&agentproto.AgentMessage{Type: agentproto.AgentMessage_UNREGISTER.Enum()})

	st := s.nextUpdate()
	if st.GetTaskId().GetValue() != "t1" || st.GetState() != mesos.TaskState_TASK_LOST {
		t.Errorf("UPDATE = %v, want TASK_LOST for t1", st)
	}
	checkMasterUpdate(t, st)
	if got := s.next(schedpb.Event_FAILURE).GetFailure().GetAgentId().GetValue(); got != a.ID {
		t.Errorf("FAILURE for agent %s, want %s", got, a.ID)
	}
	if slaves := objects(m.getJSON("/master/slaves")["slaves"]); len(slaves) != 0 {
		t.Errorf("/master/slaves = %v, want none", ids(slaves))
	}
	metrics := m.metrics()
	if metrics["master/slave_removals"] != 1 || metrics["master/slave_removals/reason_unregistered"] != 1 || metrics["master/messages_unregister_slave"] != 1 {
		t.Errorf("slave_removals=%v reason_unregistered=%v messages_unregister_slave=%v, want 1 each", metrics["master/slave_removals"],
			metrics["master/slave_removals/reason_unregistered"], metrics["master/messages_unregister_slave"])
	}
	// A message on the closed connection is refused.
	waitFor(t, "the master to close the agent's stream", a.msgs.isClosed)
	if status, err := a.trySend(&agentproto.AgentMessage{Type: agentproto.AgentMessage_PONG.Enum()}); err != nil || status != 409 {
		t.Errorf("message from a removed agent: %d %v, want 409", status, err)
	}
}

// Mesos takes failover_timeout as a duration: one too long to be a
// duration (here about 31,700 years) is invalid and the SUBSCRIBE is
// answered with ERROR. It must never be read as "no timeout" and remove
// the framework on its first disconnection.
func TestFailoverTimeoutTooLongIsRejected(t *testing.T) {
	m := startMaster(t)
	fi := frameworkInfo("forever")
	fi.FailoverTimeout = proto.Float64(1e12)
	s := openStream(t, m, fi, codec.JSON)
	if msg := s.next(schedpb.Event_ERROR).GetError().GetMessage(); !strings.Contains(msg, "failover_timeout") {
		t.Errorf("ERROR %q does not name failover_timeout", msg)
	}
	s.waitClosed()

	// The longest valid one keeps the framework when it disconnects.
	fi = frameworkInfo("long")
	fi.FailoverTimeout = proto.Float64(9e9) // about 285 years
	s = subscribe(t, m, fi, codec.JSON)
	s.disconnect()
	waitFor(t, "the framework to be marked disconnected", func() bool {
		fw := findByID(objects(m.getJSON("/master/state")["frameworks"]), s.FrameworkID)
		return fw != nil && fw["connected"] == false
	})
	if done := objects(m.getJSON("/master/state")["completed_frameworks"]); len(done) != 0 {
		t.Errorf("framework with a 285-year failover timeout was removed: %v", ids(done))
	}
}
