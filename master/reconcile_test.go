package master_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master/core"
)

// reregisterWith has an agent whose connection broke come back as a real
// agent does: with the tasks it runs, its custom and default executors
// and the frameworks it runs them for.
func (a *fakeAgent) reregisterWith(tasks []*mesos.Task, executors []*mesos.ExecutorInfo, frameworks ...*mesos.FrameworkInfo) *fakeAgent {
	a.t.Helper()
	info := proto.Clone(a.Info).(*mesos.AgentInfo)
	info.Id = &mesos.AgentID{Value: proto.String(a.ID)}
	reg := &agentproto.AgentMessage_Register{AgentInfo: info, Version: proto.String(core.Version), Tasks: tasks, Frameworks: frameworks}
	for _, ex := range executors {
		reg.Executors = append(reg.Executors, &agentproto.ExecutorRecord{
			Info: ex, ContainerId: &mesos.ContainerID{Value: proto.String("c-" + ex.GetExecutorId().GetValue())},
		})
	}
	return connectAgent(a.t, a.m, &agentproto.AgentMessage{Type: agentproto.AgentMessage_REREGISTER.Enum(), Register: reg})
}

// runTaskOn is runTask on a given agent's next offer.
func runTaskOn(t *testing.T, s *scheduler, a *fakeAgent, taskID, res string) {
	t.Helper()
	o := s.offersOf(a.ID, 1)[0]
	s.accept(offerIDs(o), 0, launchOp(commandTask(taskID, res, o)))
	if got := a.next(agentproto.MasterMessage_RUN_TASK).GetRunTask().GetTask().GetTaskId().GetValue(); got != taskID {
		t.Fatalf("agent got RUN_TASK for %s, want %s", got, taskID)
	}
	s.acknowledge(s.nextUpdateAfter(a, taskID, mesos.TaskState_TASK_RUNNING))
	a.next(agentproto.MasterMessage_ACKNOWLEDGE)
}

// disconnectAgent breaks an agent's connection and waits until the master
// has it deactivated.
func disconnectAgent(t *testing.T, m *testMaster, a *fakeAgent) {
	t.Helper()
	a.disconnect()
	waitFor(t, "the agent to be deactivated", func() bool {
		slave := findByID(objects(m.getJSON("/master/slaves")["slaves"]), a.ID)
		return slave != nil && slave["active"] == false
	})
}

// checkpointingInfo is a checkpointing framework, whose tasks survive a
// broken agent connection.
func checkpointingInfo(name string, caps ...mesos.FrameworkInfo_Capability_Type) *mesos.FrameworkInfo {
	fi := frameworkInfo(name, caps...)
	fi.Checkpoint = proto.Bool(true)
	return fi
}

// knownAs is a copy of fi with the framework id the agent knows it by.
func knownAs(fi *mesos.FrameworkInfo, id string) *mesos.FrameworkInfo {
	fi = proto.Clone(fi).(*mesos.FrameworkInfo)
	fi.Id = &mesos.FrameworkID{Value: proto.String(id)}
	return fi
}

// Mesos (Master::reconcileKnownSlave): a task the master holds on an agent
// that re-registers without it is reconciled through the agent, which
// answers TASK_LOST, or TASK_DROPPED to a partition-aware framework, with
// REASON_RECONCILIATION ("Reconciliation: task unknown to the agent"). The
// master gives that answer itself: the task ends and its resources are
// recovered, while the task the agent reports runs on, charged.
func TestReregisteredAgentWithoutATaskEndsIt(t *testing.T) {
	for _, tc := range []struct {
		name string
		caps []mesos.FrameworkInfo_Capability_Type
		want mesos.TaskState
	}{
		{"not partition-aware", nil, mesos.TaskState_TASK_LOST},
		{"PARTITION_AWARE", []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_PARTITION_AWARE}, mesos.TaskState_TASK_DROPPED},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := startMaster(t)
			a := startAgent(t, m, "agent1", agentResources)
			fi := checkpointingInfo("fw", tc.caps...)
			s := subscribe(t, m, fi, codec.JSON)
			runTaskOn(t, s, a, "kept", "cpus:0.5;mem:64")
			runTaskOn(t, s, a, "vanished", "cpus:1;mem:128")
			disconnectAgent(t, m, a)
			drainOffers(s)
			s.spare = nil

			back := a.reregisterWith([]*mesos.Task{agentTask(s.FrameworkID, "kept", a.ID, mesos.TaskState_TASK_RUNNING, "cpus:0.5;mem:64")},
				nil, knownAs(fi, s.FrameworkID))
			st := s.nextUpdate()
			if st.GetTaskId().GetValue() != "vanished" || st.GetState() != tc.want || st.GetReason() != mesos.TaskStatus_REASON_RECONCILIATION ||
				st.GetSource() != mesos.TaskStatus_SOURCE_MASTER || len(st.GetUuid()) != 0 || st.GetMessage() != "Reconciliation: task unknown to the agent" {
				t.Errorf("UPDATE = %v, want vanished %v, REASON_RECONCILIATION, from the master", st, tc.want)
			}
			fw := frameworkState(t, m, s.FrameworkID)
			if got := ids(objects(fw["tasks"])); len(got) != 1 || got[0] != "kept" {
				t.Errorf("active tasks = %v, want only kept", got)
			}
			if done := tasksWithID(fw["completed_tasks"], "vanished"); len(done) != 1 || done[0]["state"] != tc.want.String() {
				t.Errorf("vanished among the completed tasks: %v, want it %v", done, tc.want)
			}
			if cpus, _ := usedResources(t, m, a.ID); cpus != 0.5 {
				t.Errorf("used cpus = %v, want kept's 0.5", cpus)
			}
			if got := offeredScalar("cpus", s.offersOf(back.ID, 1)...); got != 1.5 {
				t.Errorf("offered %v cpus after the re-registration, want 1.5", got)
			}
			back.syncAgent(s)
			back.none(agentproto.MasterMessage_KILL_TASK, 0)
		})
	}
}

// Mesos (Master::reconcileKnownSlave): an executor the master holds on an
// agent that re-registers without it is removed and its resources are
// recovered.
func TestReregisteredAgentWithoutAnExecutorRemovesIt(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	fi := checkpointingInfo("fw")
	s := subscribe(t, m, fi, codec.JSON)
	o := s.offersOf(a.ID, 1)[0]
	task := commandTask("X", "cpus:0.5;mem:64", o)
	task.Command = nil
	task.Executor = &mesos.ExecutorInfo{
		ExecutorId: &mesos.ExecutorID{Value: proto.String("ex1")},
		Command:    &mesos.CommandInfo{Value: proto.String("./my-executor")},
		Resources:  resourcesProto("cpus:0.1;mem:32"),
	}
	s.accept(offerIDs(o), 0, launchOp(task))
	a.next(agentproto.MasterMessage_RUN_TASK)
	s.acknowledge(s.nextUpdateAfter(a, "X", mesos.TaskState_TASK_FINISHED))
	a.next(agentproto.MasterMessage_ACKNOWLEDGE)
	if cpus, _ := usedResources(t, m, a.ID); cpus != 0.1 {
		t.Fatalf("used cpus = %v before the re-registration, want ex1's 0.1", cpus)
	}
	disconnectAgent(t, m, a)
	drainOffers(s)
	s.spare = nil

	back := a.reregisterWith(nil, nil, knownAs(fi, s.FrameworkID))
	if exs := objects(frameworkState(t, m, s.FrameworkID)["executors"]); len(exs) != 0 {
		t.Errorf("the framework's executors after the re-registration: %v, want none", exs)
	}
	if cpus, mem := usedResources(t, m, a.ID); cpus != 0.0 || mem != 0.0 {
		t.Errorf("used resources = cpus:%v mem:%v, want none", cpus, mem)
	}
	// Offers made before the disconnection (of what the task left, and of
	// what it gave back) may still be in flight; they were rescinded. The
	// agent's id did not change, so skip at most those two.
	got := 0.0
	for range 3 {
		if got = offeredScalar("cpus", s.offersOf(back.ID, 1)...); got == 2 {
			break
		}
	}
	if got != 2 {
		t.Errorf("offered %v cpus after the re-registration, want all 2", got)
	}
}

// An executor the agent reports, of a framework the master has, that the
// master does not hold (its launch raced with the disconnection, say) is
// adopted: listed, charged and left out of offers, as Mesos adds the
// executors of a re-registering agent.
func TestReregisteredAgentWithAnUnknownExecutorAdoptsIt(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	fi := checkpointingInfo("fw")
	s := subscribe(t, m, fi, codec.JSON)
	s.nextOffers()
	disconnectAgent(t, m, a)
	drainOffers(s)

	ex := &mesos.ExecutorInfo{
		ExecutorId:  &mesos.ExecutorID{Value: proto.String("stray")},
		FrameworkId: &mesos.FrameworkID{Value: proto.String(s.FrameworkID)},
		Command:     &mesos.CommandInfo{Value: proto.String("./my-executor")},
		Resources:   resourcesProto("cpus:0.25;mem:32"),
	}
	ex.Resources[0].AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String("*")}
	ex.Resources[1].AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String("*")}
	back := a.reregisterWith(nil, []*mesos.ExecutorInfo{ex}, knownAs(fi, s.FrameworkID))
	exs := objects(frameworkState(t, m, s.FrameworkID)["executors"])
	if len(exs) != 1 || exs[0]["executor_id"] != "stray" || exs[0]["slave_id"] != a.ID {
		t.Errorf("the framework's executors: %v, want stray on %s", exs, a.ID)
	}
	if cpus, _ := usedResources(t, m, a.ID); cpus != 0.25 {
		t.Errorf("used cpus = %v, want stray's 0.25", cpus)
	}
	if got := offeredScalar("cpus", s.offersOf(back.ID, 1)...); got != 1.75 {
		t.Errorf("offered %v cpus, want 1.75", got)
	}
}

// Mesos: a re-registering agent that runs a framework the master has
// removed is told to shut that framework down (once, however many of its
// tasks and executors it reports); a task it reports that the master does
// not hold, of a framework it has, is killed.
func TestReregisteredAgentWithWhatTheMasterDoesNotKnow(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	gone := subscribe(t, m, frameworkInfo("gone"), codec.JSON)
	gone.call(&schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()})
	gone.waitClosed()
	fi := checkpointingInfo("fw")
	s := subscribe(t, m, fi, codec.JSON)
	drainOffers(s)
	disconnectAgent(t, m, a)

	back := a.reregisterWith([]*mesos.Task{
		agentTask(gone.FrameworkID, "g1", a.ID, mesos.TaskState_TASK_RUNNING, "cpus:0.1;mem:32"),
		agentTask(gone.FrameworkID, "g2", a.ID, mesos.TaskState_TASK_RUNNING, "cpus:0.1;mem:32"),
		agentTask(s.FrameworkID, "stranger", a.ID, mesos.TaskState_TASK_RUNNING, "cpus:0.1;mem:32"),
	}, nil, knownAs(frameworkInfo("gone"), gone.FrameworkID), knownAs(fi, s.FrameworkID))
	if got := back.next(agentproto.MasterMessage_SHUTDOWN_FRAMEWORK).GetShutdownFramework().GetFrameworkId().GetValue(); got != gone.FrameworkID {
		t.Errorf("SHUTDOWN_FRAMEWORK for %s, want %s", got, gone.FrameworkID)
	}
	kill := back.next(agentproto.MasterMessage_KILL_TASK).GetKillTask()
	if kill.GetTaskId().GetValue() != "stranger" || kill.GetFrameworkId().GetValue() != s.FrameworkID {
		t.Errorf("KILL_TASK = %v, want stranger of %s", kill, s.FrameworkID)
	}
	back.syncAgent(s)
	back.none(agentproto.MasterMessage_SHUTDOWN_FRAMEWORK, 0)
	back.none(agentproto.MasterMessage_KILL_TASK, 0)
	if active := objects(frameworkState(t, m, s.FrameworkID)["tasks"]); len(active) != 0 {
		t.Errorf("the framework's tasks: %v, want none adopted", ids(active))
	}
}

// Mesos (Slave::killedTasks): a KILL for a task on a disconnected agent
// cannot be sent; it is remembered and sent when the agent re-registers
// still running the task, and not when it reports the task ended.
func TestKillOfATaskOnADisconnectedAgentIsSentWhenItReturns(t *testing.T) {
	for _, tc := range []struct {
		name     string
		reported mesos.TaskState
		killed   bool
	}{
		{"still running", mesos.TaskState_TASK_RUNNING, true},
		{"ended meanwhile", mesos.TaskState_TASK_FINISHED, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := startMaster(t)
			a := startAgent(t, m, "agent1", agentResources)
			fi := checkpointingInfo("fw")
			s := subscribe(t, m, fi, codec.JSON)
			runTaskOn(t, s, a, "t1", "cpus:1;mem:128")
			disconnectAgent(t, m, a)

			s.call(&schedpb.Call{Type: schedpb.Call_KILL.Enum(), Kill: &schedpb.Call_Kill{TaskId: &mesos.TaskID{Value: proto.String("t1")}}})
			back := a.reregisterWith([]*mesos.Task{agentTask(s.FrameworkID, "t1", a.ID, tc.reported, "cpus:1;mem:128")}, nil, knownAs(fi, s.FrameworkID))
			if !tc.killed {
				back.syncAgent(s)
				back.none(agentproto.MasterMessage_KILL_TASK, 0)
				return
			}
			if got := back.next(agentproto.MasterMessage_KILL_TASK).GetKillTask().GetTaskId().GetValue(); got != "t1" {
				t.Errorf("KILL_TASK for %s, want t1", got)
			}
			// Once the task ends, the kill is forgotten.
			s.acknowledge(s.nextUpdateAfter(back, "t1", mesos.TaskState_TASK_KILLED))
			back.next(agentproto.MasterMessage_ACKNOWLEDGE)
			disconnectAgent(t, m, back)
			again := back.reregisterWith(nil, nil, knownAs(fi, s.FrameworkID))
			again.syncAgent(s)
			again.none(agentproto.MasterMessage_KILL_TASK, 0)
		})
	}
}

// A task of a framework that is not partition-aware, which was told
// TASK_LOST when its agent was removed, is killed when the agent comes
// back with it (as Mesos did before 1.5): the framework's TASK_LOST stays
// the task's end. A partition-aware framework's task is adopted instead
// (see TestReturningAgentIsChargedForAdoptedTasks).
func TestReturningAgentKillsTasksOfFrameworksNotPartitionAware(t *testing.T) {
	m := startMaster(t, fastPings)
	s0 := startAgent(t, m, "s0", agentResources)
	fi := checkpointingInfo("not partition-aware")
	s := subscribe(t, m, fi, codec.JSON)
	runTaskOn(t, s, s0, "X", "cpus:1;mem:128")
	removeByPings(t, s, s0)
	if st := s.nextUpdate(); st.GetTaskId().GetValue() != "X" || st.GetState() != mesos.TaskState_TASK_LOST {
		t.Fatalf("UPDATE = %v, want TASK_LOST of X", st)
	}

	back := s0.reregisterWith([]*mesos.Task{agentTask(s.FrameworkID, "X", s0.ID, mesos.TaskState_TASK_RUNNING, "cpus:1;mem:128")}, nil, knownAs(fi, s.FrameworkID))
	if got := back.next(agentproto.MasterMessage_KILL_TASK).GetKillTask().GetTaskId().GetValue(); got != "X" {
		t.Errorf("KILL_TASK for %s, want X", got)
	}
	s.syncUpdates() // no update says X is back
	if active := tasksWithID(frameworkState(t, m, s.FrameworkID)["tasks"], "X"); len(active) != 0 {
		t.Errorf("X among the active tasks: %v, want it not adopted", active)
	}
}

// An agent that restarted and recovered its id re-registers saying so
// (Register.restarted): a task it no longer has died in the restart, and
// the framework hears TASK_LOST, or TASK_GONE if partition-aware, with
// REASON_AGENT_RESTARTED. (The tasks of frameworks that do not checkpoint
// are lost as soon as the agent disconnects, as Mesos's Master::exited
// does; a checkpointing framework's task missing after a restart is the
// case here.)
func TestRestartedAgentWithoutATaskLostIt(t *testing.T) {
	for _, tc := range []struct {
		name string
		caps []mesos.FrameworkInfo_Capability_Type
		want mesos.TaskState
	}{
		{"not partition-aware", nil, mesos.TaskState_TASK_LOST},
		{"PARTITION_AWARE", []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_PARTITION_AWARE}, mesos.TaskState_TASK_GONE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := startMaster(t)
			a := startAgent(t, m, "agent1", agentResources)
			fi := checkpointingInfo("fw", tc.caps...)
			s := subscribe(t, m, fi, codec.JSON)
			runTaskOn(t, s, a, "gone", "cpus:1;mem:128")
			disconnectAgent(t, m, a)
			drainOffers(s)
			s.spare = nil

			info := proto.Clone(a.Info).(*mesos.AgentInfo)
			info.Id = &mesos.AgentID{Value: proto.String(a.ID)}
			reg := &agentproto.AgentMessage_Register{AgentInfo: info, Version: proto.String(core.Version), Restarted: proto.Bool(true)}
			back := connectAgent(t, m, &agentproto.AgentMessage{Type: agentproto.AgentMessage_REREGISTER.Enum(), Register: reg})
			st := s.nextUpdate()
			if st.GetTaskId().GetValue() != "gone" || st.GetState() != tc.want || st.GetReason() != mesos.TaskStatus_REASON_AGENT_RESTARTED ||
				st.GetSource() != mesos.TaskStatus_SOURCE_MASTER {
				t.Errorf("UPDATE = %v, want gone %v, REASON_AGENT_RESTARTED, from the master", st, tc.want)
			}
			if cpus, _ := usedResources(t, m, back.ID); cpus != 0.0 {
				t.Errorf("used cpus = %v after the task was lost", cpus)
			}
		})
	}
}
