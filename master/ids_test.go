package master_test

// Ids cannot escape (Mesos's common::validation::validateID): the master
// refuses a bad framework, agent, executor or task id at every place one
// comes in, with Mesos's message, before it becomes state or reaches an
// agent, where it would name a sandbox directory.

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/ids/idstest"
	"github.com/gomesos/gomesos/master/core"
)

// Mesos: LAUNCH validates the task id, then the executor's, with
// validateID; a bad one makes the task TASK_ERROR (REASON_TASK_INVALID,
// SOURCE_MASTER) with validateID's message alone. Nothing reaches the
// agent and the master keeps no task or executor of it.
func TestLaunchRefusesBadTaskAndExecutorIDs(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	s := subscribe(t, m, frameworkInfo("bad-ids"), codec.JSON)

	expectError := func(taskID, msg string) {
		t.Helper()
		st := s.nextUpdate()
		if st.GetTaskId().GetValue() != taskID || st.GetState() != mesos.TaskState_TASK_ERROR ||
			st.GetReason() != mesos.TaskStatus_REASON_TASK_INVALID || st.GetSource() != mesos.TaskStatus_SOURCE_MASTER {
			t.Fatalf("UPDATE = %v, want TASK_ERROR REASON_TASK_INVALID from the master for %q", st, taskID)
		}
		if st.GetMessage() != msg {
			t.Errorf("TASK_ERROR message %q, want Mesos's %q", st.GetMessage(), msg)
		}
	}
	for _, bad := range idstest.Bad {
		o := s.nextOffers()[0]
		s.accept(offerIDs(o), 0, launchOp(commandTask(bad.ID, "cpus:0.5;mem:64", o)))
		expectError(bad.ID, bad.Msg)

		o = s.nextOffers()[0]
		task := commandTask("t-"+strings.Repeat("x", len(bad.ID)%7), "cpus:0.5;mem:64", o)
		task.Command = nil
		task.Executor = &mesos.ExecutorInfo{
			ExecutorId: &mesos.ExecutorID{Value: proto.String(bad.ID)},
			Command:    &mesos.CommandInfo{Value: proto.String("./my-executor")},
			Resources:  resourcesProto("cpus:0.1;mem:32"),
		}
		s.accept(offerIDs(o), 0, launchOp(task))
		expectError(task.GetTaskId().GetValue(), bad.Msg)
	}
	a.none(agentproto.MasterMessage_RUN_TASK, 100*time.Millisecond)
	fw := findByID(objects(m.getJSON("/master/state")["frameworks"]), s.FrameworkID)
	if n := len(objects(fw["tasks"])) + len(objects(fw["executors"])); n != 0 {
		t.Errorf("the master keeps tasks %v and executors %v of refused launches", fw["tasks"], fw["executors"])
	}
}

// Mesos: LAUNCH_GROUP names the task whose id is bad ("Task '<id>' is
// invalid: <validateID's message>") and reports a bad executor id with
// validateID's message; every task of the group ends TASK_ERROR with
// REASON_TASK_GROUP_INVALID, and none reaches the agent.
func TestLaunchGroupRefusesBadTaskAndExecutorIDs(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	s := subscribe(t, m, frameworkInfo("bad-group-ids"), codec.Protobuf)

	defaultExecutor := func(id string) *mesos.ExecutorInfo {
		return &mesos.ExecutorInfo{
			Type:       mesos.ExecutorInfo_DEFAULT.Enum(),
			ExecutorId: &mesos.ExecutorID{Value: proto.String(id)},
			Resources:  resourcesProto("cpus:0.1;mem:32"),
		}
	}
	expectErrors := func(msg string, taskIDs ...string) {
		t.Helper()
		for _, id := range taskIDs {
			st := s.nextUpdate()
			if st.GetTaskId().GetValue() != id || st.GetState() != mesos.TaskState_TASK_ERROR ||
				st.GetReason() != mesos.TaskStatus_REASON_TASK_GROUP_INVALID || st.GetSource() != mesos.TaskStatus_SOURCE_MASTER {
				t.Fatalf("UPDATE = %v, want TASK_ERROR REASON_TASK_GROUP_INVALID from the master for %q", st, id)
			}
			if st.GetMessage() != msg {
				t.Errorf("TASK_ERROR message %q, want Mesos's %q", st.GetMessage(), msg)
			}
		}
	}
	for _, bad := range idstest.Bad {
		o := s.nextOffers()[0]
		s.accept(offerIDs(o), 0, launchGroupOp(defaultExecutor("group-ex"),
			commandTask("g-ok", "cpus:0.1;mem:32", o), commandTask(bad.ID, "cpus:0.1;mem:32", o)))
		expectErrors("Task '"+bad.ID+"' is invalid: "+bad.Msg, "g-ok", bad.ID)

		o = s.nextOffers()[0]
		s.accept(offerIDs(o), 0, launchGroupOp(defaultExecutor(bad.ID), commandTask("g1", "cpus:0.1;mem:32", o)))
		expectErrors(bad.Msg, "g1")
	}
	a.none(agentproto.MasterMessage_RUN_TASK_GROUP, 100*time.Millisecond)
	fw := findByID(objects(m.getJSON("/master/state")["frameworks"]), s.FrameworkID)
	if n := len(objects(fw["tasks"])) + len(objects(fw["executors"])); n != 0 {
		t.Errorf("the master keeps tasks %v and executors %v of refused groups", fw["tasks"], fw["executors"])
	}
}

// Mesos validates FrameworkInfo.id on SUBSCRIBE (validateFrameworkId) and
// refuses the subscription as it refuses any invalid FrameworkInfo: the
// stream opens, carries one ERROR event with validateID's message and
// closes, and no framework is created. A call of any other type names its
// framework by id, and an id no framework has answers 400.
func TestSubscribeRefusesBadFrameworkID(t *testing.T) {
	m := startMaster(t)
	for _, bad := range idstest.Bad {
		if bad.ID == "" {
			continue // no id: a new framework
		}
		fi := frameworkInfo("bad-framework-id")
		fi.Id = &mesos.FrameworkID{Value: proto.String(bad.ID)}
		s := openStream(t, m, fi, codec.JSON)
		if got := s.next(schedpb.Event_ERROR).GetError().GetMessage(); got != bad.Msg {
			t.Errorf("SUBSCRIBE as %q: ERROR %q, want Mesos's %q", bad.ID, got, bad.Msg)
		}
		s.waitClosed()

		body, err := codec.Marshal(codec.JSON, &schedpb.Call{
			Type: schedpb.Call_TEARDOWN.Enum(), FrameworkId: &mesos.FrameworkID{Value: proto.String(bad.ID)},
		})
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("Content-Type", codec.MediaJSON)
		h.Set("Mesos-Stream-Id", s.StreamID)
		if status, _, resp := m.do(http.MethodPost, "/api/v1/scheduler", h, body); status != http.StatusBadRequest || !strings.Contains(resp, "Framework cannot be found") {
			t.Errorf("TEARDOWN as %q: %d %q, want 400 Framework cannot be found", bad.ID, status, resp)
		}
	}
	if fws := objects(m.getJSON("/master/state")["frameworks"]); len(fws) != 0 {
		t.Errorf("frameworks %v, want none", fws)
	}
	if got := m.metrics()["master/frameworks_active"]; got != 0 {
		t.Errorf("master/frameworks_active = %v, want 0", got)
	}
}

// Mesos validates a (re-)registering agent's id and, on re-registration,
// the ids of the frameworks, executors and tasks it reports; one bad id
// refuses the whole message. Here the refusal is a 400 with Mesos's
// message: no REGISTERED, no agent, no task.
func TestAgentRegistrationRefusesBadIDs(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	s := subscribe(t, m, frameworkInfo("fw"), codec.JSON)
	a.disconnect()

	info := func(id string) *mesos.AgentInfo {
		return &mesos.AgentInfo{Hostname: proto.String("agent1"), Port: proto.Int32(5051),
			Resources: resourcesProto(agentResources), Id: &mesos.AgentID{Value: proto.String(id)}}
	}
	task := func(fw, id string) *mesos.Task {
		return agentTask(fw, id, a.ID, mesos.TaskState_TASK_RUNNING, "cpus:0.5;mem:64")
	}
	msg := func(typ agentproto.AgentMessage_Type, reg *agentproto.AgentMessage_Register) *agentproto.AgentMessage {
		reg.Version = proto.String(core.Version)
		return &agentproto.AgentMessage{Type: typ.Enum(), Register: reg}
	}
	const rereg = agentproto.AgentMessage_REREGISTER
	for _, bad := range idstest.Bad {
		withExecutor := task(s.FrameworkID, "t1")
		withExecutor.ExecutorId = &mesos.ExecutorID{Value: proto.String(bad.ID)}
		for _, tc := range []struct {
			name string
			msg  *agentproto.AgentMessage
			want string
		}{
			{"REGISTER with an agent id", msg(agentproto.AgentMessage_REGISTER, &agentproto.AgentMessage_Register{AgentInfo: info(bad.ID)}), bad.Msg},
			{"REREGISTER as the agent", msg(rereg, &agentproto.AgentMessage_Register{AgentInfo: info(bad.ID)}), bad.Msg},
			{"a task", msg(rereg, &agentproto.AgentMessage_Register{AgentInfo: info(a.ID),
				Tasks: []*mesos.Task{task(s.FrameworkID, bad.ID)}}), "Task has an invalid TaskID: " + bad.Msg},
			{"a task's framework", msg(rereg, &agentproto.AgentMessage_Register{AgentInfo: info(a.ID),
				Tasks: []*mesos.Task{task(bad.ID, "t1")}}), "Task has an invalid FrameworkID '" + bad.ID + "'"},
			{"a task's executor", msg(rereg, &agentproto.AgentMessage_Register{AgentInfo: info(a.ID),
				Tasks: []*mesos.Task{withExecutor}}), "Task has an invalid ExecutorID '" + bad.ID + "'"},
			{"an executor", msg(rereg, &agentproto.AgentMessage_Register{AgentInfo: info(a.ID),
				Executors: []*agentproto.ExecutorRecord{{Info: &mesos.ExecutorInfo{
					ExecutorId:  &mesos.ExecutorID{Value: proto.String(bad.ID)},
					FrameworkId: &mesos.FrameworkID{Value: proto.String(s.FrameworkID)},
				}}}}), bad.Msg},
			{"a framework", msg(rereg, &agentproto.AgentMessage_Register{AgentInfo: info(a.ID),
				Frameworks: []*mesos.FrameworkInfo{{User: proto.String("u"), Name: proto.String("n"),
					Id: &mesos.FrameworkID{Value: proto.String(bad.ID)}}}}), bad.Msg},
		} {
			if bad.ID == "" && tc.name == "a framework" {
				continue // Mesos checks a framework's id only when it has one
			}
			status, body := postAgentSubscribe(t, m, tc.msg)
			if status != http.StatusBadRequest || body != tc.want {
				t.Errorf("%s %q: %d %q, want 400 %q", tc.name, bad.ID, status, body, tc.want)
			}
		}
	}
	state := m.getJSON("/master/state")
	if agents := objects(state["slaves"]); len(agents) != 1 || agents[0]["id"] != a.ID || agents[0]["active"] != false {
		t.Errorf("agents %v, want only the disconnected %s", state["slaves"], a.ID)
	}
	fw := findByID(objects(state["frameworks"]), s.FrameworkID)
	if n := len(objects(fw["tasks"])) + len(objects(fw["executors"])); n != 0 {
		t.Errorf("the master took tasks %v and executors %v from refused registrations", fw["tasks"], fw["executors"])
	}
}

// postAgentSubscribe sends a REGISTER or REREGISTER and returns the answer's
// status and body, closing any stream it opened.
func postAgentSubscribe(t *testing.T, m *testMaster, msg *agentproto.AgentMessage) (int, string) {
	t.Helper()
	body, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, m.URL()+"/internal/agent/subscribe", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", codec.MediaProtobuf)
	resp, err := m.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, "(a stream)"
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
