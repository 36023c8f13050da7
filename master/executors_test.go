package master_test

// Executors, framework messages, offer timeouts and offer aggregation
// (facts §1.2, §1.5, §7.6).

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
	"github.com/gomesos/gomesos/master"
)

// Mesos: a task may name a custom executor; the agent gets it with the
// task, the master lists it under the framework's executors (with the
// agent's id) and charges its resources. MESSAGE reaches the executor
// through its agent and the executor's messages come back as MESSAGE
// events; SHUTDOWN asks the agent to stop the executor, and when an
// executor exits the framework gets FAILURE with the agent id, executor id
// and exit status.
func TestCustomExecutorLifecycle(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	s := subscribe(t, m, frameworkInfo("with-executor"), codec.Protobuf)

	o := s.nextOffers()[0]
	task := commandTask("t1", "cpus:0.5;mem:64", o)
	task.Command = nil
	task.Executor = &mesos.ExecutorInfo{
		ExecutorId: &mesos.ExecutorID{Value: proto.String("ex1")},
		Name:       proto.String("my executor"),
		Command:    &mesos.CommandInfo{Value: proto.String("./my-executor")},
		Resources:  resourcesProto("cpus:0.1;mem:32"),
	}
	s.accept(offerIDs(o), 0, launchOp(task))
	run := a.next(agentproto.MasterMessage_RUN_TASK).GetRunTask().GetTask()
	if run.GetExecutor().GetExecutorId().GetValue() != "ex1" || run.GetExecutor().GetFrameworkId().GetValue() != s.FrameworkID {
		t.Errorf("RUN_TASK executor = %v, want ex1 of framework %s", run.GetExecutor(), s.FrameworkID)
	}

	fw := findByID(objects(m.getJSON("/master/state")["frameworks"]), s.FrameworkID)
	executors := objects(fw["executors"])
	if len(executors) != 1 || executors[0]["executor_id"] != "ex1" || executors[0]["slave_id"] != a.ID || executors[0]["name"] != "my executor" {
		t.Errorf("framework executors = %v, want ex1 on %s", fw["executors"], a.ID)
	}
	if tasks := objects(fw["tasks"]); len(tasks) != 1 || tasks[0]["executor_id"] != "ex1" {
		t.Errorf("framework tasks = %v, want t1 with executor_id ex1", fw["tasks"])
	}
	if used, _ := fw["used_resources"].(map[string]any); used["cpus"] != 0.6 || used["mem"] != 96.0 {
		t.Errorf("framework used_resources = %v, want the task's and the executor's (cpus 0.6, mem 96)", used)
	}
	if got := m.metrics()["master/cpus_used"]; got != 0.6 {
		t.Errorf("master/cpus_used = %v, want 0.6", got)
	}

	// Scheduler -> executor.
	s.call(&schedpb.Call{Type: schedpb.Call_MESSAGE.Enum(), Message: &schedpb.Call_Message{
		AgentId: o.GetAgentId(), ExecutorId: &mesos.ExecutorID{Value: proto.String("ex1")}, Data: []byte("hello executor"),
	}})
	msg := a.next(agentproto.MasterMessage_FRAMEWORK_TO_EXECUTOR).GetFrameworkToExecutor()
	if msg.GetFrameworkId().GetValue() != s.FrameworkID || msg.GetExecutorId().GetValue() != "ex1" || string(msg.GetData()) != "hello executor" {
		t.Errorf("FRAMEWORK_TO_EXECUTOR = %v", msg)
	}
	// Executor -> scheduler.
	a.send(&agentproto.AgentMessage{
		Type: agentproto.AgentMessage_EXECUTOR_TO_FRAMEWORK.Enum(),
		ExecutorToFramework: &agentproto.AgentMessage_ExecutorToFramework{
			FrameworkId: &mesos.FrameworkID{Value: proto.String(s.FrameworkID)},
			ExecutorId:  &mesos.ExecutorID{Value: proto.String("ex1")},
			Data:        []byte("hello scheduler"),
		},
	})
	ev := s.next(schedpb.Event_MESSAGE).GetMessage()
	if ev.GetAgentId().GetValue() != a.ID || ev.GetExecutorId().GetValue() != "ex1" || !bytes.Equal(ev.GetData(), []byte("hello scheduler")) {
		t.Errorf("MESSAGE event = %v", ev)
	}

	s.call(&schedpb.Call{Type: schedpb.Call_SHUTDOWN.Enum(), Shutdown: &schedpb.Call_Shutdown{
		ExecutorId: &mesos.ExecutorID{Value: proto.String("ex1")}, AgentId: o.GetAgentId(),
	}})
	sd := a.next(agentproto.MasterMessage_SHUTDOWN_EXECUTOR).GetShutdownExecutor()
	if sd.GetFrameworkId().GetValue() != s.FrameworkID || sd.GetExecutorId().GetValue() != "ex1" {
		t.Errorf("SHUTDOWN_EXECUTOR = %v", sd)
	}
	a.update(s.FrameworkID, "t1", mesos.TaskState_TASK_KILLED)
	s.acknowledge(s.nextUpdate())
	a.send(&agentproto.AgentMessage{
		Type: agentproto.AgentMessage_EXECUTOR_EXITED.Enum(),
		ExecutorExited: &agentproto.AgentMessage_ExecutorExited{
			FrameworkId: &mesos.FrameworkID{Value: proto.String(s.FrameworkID)},
			ExecutorId:  &mesos.ExecutorID{Value: proto.String("ex1")},
			Status:      proto.Int32(0),
		},
	})
	failure := s.next(schedpb.Event_FAILURE).GetFailure()
	if failure.GetAgentId().GetValue() != a.ID || failure.GetExecutorId().GetValue() != "ex1" || failure.Status == nil {
		t.Errorf("FAILURE = %v, want agent %s, executor ex1 and a status", failure, a.ID)
	}
	fw = findByID(objects(m.getJSON("/master/state")["frameworks"]), s.FrameworkID)
	if len(objects(fw["executors"])) != 0 {
		t.Errorf("exited executor still listed: %v", fw["executors"])
	}
	m.waitMetric("master/cpus_used", 0)

	metrics := m.metrics()
	for name, want := range map[string]float64{
		"master/messages_framework_to_executor": 1, "master/valid_framework_to_executor_messages": 1,
		"master/messages_executor_to_framework": 1, "master/valid_executor_to_framework_messages": 1,
		"master/messages_exited_executor": 1, "master/tasks_killed": 1,
	} {
		if metrics[name] != want {
			t.Errorf("%s = %v, want %v", name, metrics[name], want)
		}
	}
}

// Mesos: with --offer_timeout, an offer not answered in time is rescinded
// (RESCIND) and its resources are offered again.
func TestOfferTimeoutRescindsOffers(t *testing.T) {
	m := startMaster(t, func(c *master.Config) { c.OfferTimeout = 200 * time.Millisecond })
	startAgent(t, m, "agent1", agentResources)
	// The offer may be made before subscribe returns, so the clock starts
	// before the framework subscribes.
	start := time.Now()
	s := subscribe(t, m, frameworkInfo("slow"), codec.JSON)
	o := s.nextOffers()[0]
	rescind := s.next(schedpb.Event_RESCIND).GetRescind()
	if rescind.GetOfferId().GetValue() != o.GetId().GetValue() {
		t.Errorf("RESCIND of %s, want %s", rescind.GetOfferId().GetValue(), o.GetId().GetValue())
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Errorf("offer rescinded after %v, before the 200ms offer timeout", waited)
	}
	again := s.nextOffers()[0]
	if again.GetId().GetValue() == o.GetId().GetValue() {
		t.Errorf("re-offered under the old offer id %s", o.GetId().GetValue())
	}
	// A rescinded offer cannot be used.
	s.accept(offerIDs(o), 0, launchOp(commandTask("late", "cpus:1;mem:32", o)))
	if st := s.nextUpdate(); st.GetState() != mesos.TaskState_TASK_LOST || st.GetReason() != mesos.TaskStatus_REASON_INVALID_OFFERS {
		t.Errorf("launch on a rescinded offer: %v, want TASK_LOST REASON_INVALID_OFFERS", st)
	}
}

// Mesos: a framework that subscribes with its role in suppressed_roles
// gets no offers until it revives. (MULTI_ROLE, so that the offer says its
// role in allocation_info.)
func TestSubscribeSuppressed(t *testing.T) {
	m := startMaster(t)
	startAgent(t, m, "agent1", agentResources)
	fi := frameworkInfo("quiet", mesos.FrameworkInfo_Capability_MULTI_ROLE)
	fi.Roles = []string{"quiet-role"}
	call := subscribeCall(fi)
	call.Subscribe.SuppressedRoles = []string{"quiet-role"}
	s := openStreamCall(t, m, call, codec.JSON)
	s.FrameworkID = s.next(schedpb.Event_SUBSCRIBED).GetSubscribed().GetFrameworkId().GetValue()
	s.none(schedpb.Event_OFFERS, 5*testOptions().AllocationInterval)

	s.call(&schedpb.Call{Type: schedpb.Call_REVIVE.Enum(), Revive: &schedpb.Call_Revive{Roles: []string{"quiet-role"}}})
	o := s.nextOffers()[0]
	if o.GetAllocationInfo().GetRole() != "quiet-role" {
		t.Errorf("offer allocation role = %q, want quiet-role", o.GetAllocationInfo().GetRole())
	}

	// Suppressing a role the framework does not have is invalid.
	fi2 := frameworkInfo("confused")
	call2 := subscribeCall(fi2)
	call2.Subscribe.SuppressedRoles = []string{"not-mine"}
	bad := openStreamCall(t, m, call2, codec.JSON)
	if msg := bad.next(schedpb.Event_ERROR).GetError().GetMessage(); !strings.Contains(msg, "not-mine") {
		t.Errorf("ERROR %q does not name the bad suppressed role", msg)
	}
}

// Mesos: offers of one agent may be accepted together, their resources
// pooled; offers of different agents may not (TASK_LOST,
// REASON_INVALID_OFFERS), and the offers named are used up either way.
func TestAcceptAggregatesOffersOfOneAgentOnly(t *testing.T) {
	m := startMaster(t)
	a1 := startAgent(t, m, "agent1", "cpus:1;mem:256")
	a2 := startAgent(t, m, "agent2", "cpus:1;mem:256")
	s := subscribe(t, m, frameworkInfo("aggregator"), codec.JSON)

	both := append(s.offersOf(a1.ID, 1), s.offersOf(a2.ID, 1)...)
	s.accept(offerIDs(both...), 0, launchOp(commandTask("straddle", "cpus:1.5;mem:64", both[0])))
	st := s.nextUpdate()
	if st.GetTaskId().GetValue() != "straddle" || st.GetState() != mesos.TaskState_TASK_LOST || st.GetReason() != mesos.TaskStatus_REASON_INVALID_OFFERS {
		t.Errorf("ACCEPT of two agents' offers: %v, want TASK_LOST REASON_INVALID_OFFERS", st)
	}
	checkMasterUpdate(t, st)
	a1.syncAgent(s)
	a2.syncAgent(s)
	a1.none(agentproto.MasterMessage_RUN_TASK, 0)
	a2.none(agentproto.MasterMessage_RUN_TASK, 0)

	// Make agent1's resources come in two offers: launch half of them,
	// take the other half's offer, then finish the task.
	o := s.offersOf(a1.ID, 1)[0]
	s.accept(offerIDs(o), 0, launchOp(commandTask("half", "cpus:0.5;mem:128", o)))
	a1.next(agentproto.MasterMessage_RUN_TASK)
	first := s.offersOf(a1.ID, 1)
	s.acknowledge(s.nextUpdateAfter(a1, "half", mesos.TaskState_TASK_FINISHED))
	second := s.offersOf(a1.ID, 1)

	s.accept(offerIDs(first[0], second[0]), 0, launchOp(commandTask("whole", "cpus:1;mem:256", o)))
	run := a1.next(agentproto.MasterMessage_RUN_TASK).GetRunTask().GetTask()
	if run.GetTaskId().GetValue() != "whole" || scalarOf("cpus", run.GetResources()) != 1 {
		t.Errorf("RUN_TASK = %v, want whole with 1 cpu from both offers", run)
	}
}

// offersOf collects the next n offers of one agent; offers of other agents
// are kept for later calls.
func (s *scheduler) offersOf(agentID string, n int) []*mesos.Offer {
	s.t.Helper()
	var out []*mesos.Offer
	for len(out) < n {
		if len(s.spare) == 0 {
			s.spare = s.nextOffers()
		}
		var rest []*mesos.Offer
		for _, o := range s.spare {
			if o.GetAgentId().GetValue() == agentID && len(out) < n {
				out = append(out, o)
			} else {
				rest = append(rest, o)
			}
		}
		s.spare = rest
		if len(out) < n {
			s.spare = append(s.spare, s.nextOffers()...)
		}
	}
	return out
}

// openStreamCall is openStream for a prepared SUBSCRIBE call.
func openStreamCall(t *testing.T, m *testMaster, call *schedpb.Call, enc codec.Encoding) *scheduler {
	t.Helper()
	return openStreamBody(t, m, call, enc)
}
