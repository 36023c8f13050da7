package agent

// Ids cannot escape: the agent checks every id it is given again, whoever
// gives it (the master or an executor), before it becomes state or a path,
// and no sandbox is made outside the work directory.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/ids/idstest"
)

// An executor call naming a bad executor or framework id, or an UPDATE of a
// bad task id, is refused with 400 and the id rule's message before it
// reaches the agent's state.
func TestExecutorAPIRefusesBadIDs(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	a.registered(t)
	uuid := make([]byte, 16)
	for _, bad := range idstest.Bad {
		subscribeAs := func(fw, ex string) *execpb.Call {
			c := execCall(fw, ex, execpb.Call_SUBSCRIBE)
			c.Subscribe = &execpb.Call_Subscribe{}
			return c
		}
		for _, tc := range []struct {
			name string
			call *execpb.Call
			want string
		}{
			{"SUBSCRIBE as executor", subscribeAs("fw-1", bad.ID), "'executor_id' is invalid: " + bad.Msg},
			{"SUBSCRIBE of framework", subscribeAs(bad.ID, "ex"), "'framework_id' is invalid: " + bad.Msg},
			{"UPDATE of task", update("fw-1", "ex", bad.ID, mesos.TaskState_TASK_RUNNING, uuid), "'update.status.task_id' is invalid: " + bad.Msg},
			{"HEARTBEAT as executor", execCall("fw-1", bad.ID, execpb.Call_HEARTBEAT), "'executor_id' is invalid: " + bad.Msg},
		} {
			for _, enc := range []codec.Encoding{codec.JSON, codec.Protobuf} {
				r := postCall(t, a, "/api/v1/executor", enc.ContentType(), "", callBytes(t, enc, tc.call))
				if want := "Failed to validate Executor::Call: " + tc.want; r.code != 400 || r.body != want {
					t.Errorf("%s %q (%s): %d %q, want 400 %q", tc.name, bad.ID, enc.ContentType(), r.code, r.body, want)
				}
			}
		}
	}
	var metrics map[string]float64
	getJSON(t, a, "/metrics/snapshot", &metrics)
	if metrics["slave/valid_status_updates"] != 0 || metrics["slave/invalid_status_updates"] != 0 {
		t.Errorf("refused calls reached the status updates: %v", metrics)
	}
}

// The agent does not take the master's word for ids: RUN_TASK and
// RUN_TASK_GROUP with a bad executor id end their tasks TASK_ERROR from the
// agent (REASON_TASK_INVALID, REASON_TASK_GROUP_INVALID for a group); with
// a bad task or framework id, which no status update can safely name, they
// are dropped. Nothing is launched and nothing is created outside the work
// directory; a good task after them runs in a sandbox inside it, with its
// runs/latest link.
func TestRunTaskRefusesBadIDs(t *testing.T) {
	checkLeaks(t)
	parent := t.TempDir()
	work := filepath.Join(parent, "work")
	fm := newFakeMaster(t)
	a := startAgent(t, fm, func(c *Config) { c.WorkDir = work })
	agentID := a.registered(t)

	groupOf := func(fwInfo *mesos.FrameworkInfo, execID string, tasks ...*mesos.TaskInfo) *agentproto.MasterMessage {
		return &agentproto.MasterMessage{
			Type: agentproto.MasterMessage_RUN_TASK_GROUP.Enum(),
			RunTaskGroup: &agentproto.MasterMessage_RunTaskGroup{
				FrameworkInfo: fwInfo,
				Executor: &mesos.ExecutorInfo{
					Type:       mesos.ExecutorInfo_DEFAULT.Enum(),
					ExecutorId: &mesos.ExecutorID{Value: proto.String(execID)},
					Resources:  []*mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)},
				},
				TaskGroup: &mesos.TaskGroupInfo{Tasks: tasks},
			},
		}
	}
	expectError := func(taskID string, reason mesos.TaskStatus_Reason, msg string) {
		t.Helper()
		u := fm.waitUpdate(taskID, mesos.TaskState_TASK_ERROR)
		st := u.GetStatus()
		if st.GetReason() != reason || st.GetSource() != mesos.TaskStatus_SOURCE_AGENT || st.GetMessage() != msg {
			t.Errorf("TASK_ERROR of %s = %v, want %s from the agent saying %q", taskID, st, reason, msg)
		}
		fm.ack(u)
	}
	var dropped []string
	for i, bad := range idstest.Bad {
		n := string(rune('a' + i))
		fm.send(runTask(customTask("custom-"+n, agentID, bad.ID, "exec sleep 1000")))
		expectError("custom-"+n, mesos.TaskStatus_REASON_TASK_INVALID, bad.Msg)

		fm.send(groupOf(testFramework, bad.ID, commandTask("group-"+n, agentID, "true")))
		expectError("group-"+n, mesos.TaskStatus_REASON_TASK_GROUP_INVALID, bad.Msg)

		fm.send(runTask(commandTask(bad.ID, agentID, "true")))
		fm.send(runTask(customTask(bad.ID, agentID, "ex-"+n, "exec sleep 1000")))
		fm.send(groupOf(testFramework, "group-ex-"+n, commandTask("member-"+n, agentID, "true"), commandTask(bad.ID, agentID, "true")))
		otherFw := proto.Clone(testFramework).(*mesos.FrameworkInfo)
		otherFw.Id = &mesos.FrameworkID{Value: proto.String(bad.ID)}
		fm.send(&agentproto.MasterMessage{
			Type:    agentproto.MasterMessage_RUN_TASK.Enum(),
			RunTask: &agentproto.MasterMessage_RunTask{FrameworkInfo: otherFw, Task: commandTask("fw-"+n, agentID, "true")},
		})
		fm.send(groupOf(otherFw, "group-ex-"+n, commandTask("fw-group-"+n, agentID, "true")))
		dropped = append(dropped, bad.ID, "member-"+n, "fw-"+n, "fw-group-"+n)
	}

	// A good task after them: once it runs, every message before it was
	// handled.
	fm.send(runTask(commandTask("good", agentID, "exec sleep 1000")))
	waitRunning(t, fm, "good")
	for _, id := range dropped {
		if us := fm.updatesFor(id); len(us) != 0 {
			t.Errorf("a dropped task %q has updates %v", id, us)
		}
	}
	var st stateJSONForTest
	getJSON(t, a, "/state", &st)
	if len(st.Frameworks) != 1 || len(st.Frameworks[0].Executors) != 1 || st.Frameworks[0].Executors[0].ID != "good" {
		t.Errorf("executors %+v, want only the good task's", st.Frameworks)
	}
	dir := sandboxOf(t, a, "good")
	if rel, err := filepath.Rel(work, dir); err != nil || !filepath.IsLocal(rel) {
		t.Errorf("sandbox %s is not inside the work directory %s", dir, work)
	}
	if target, err := os.Readlink(filepath.Join(filepath.Dir(dir), "latest")); err != nil || target != filepath.Base(dir) {
		t.Errorf("runs/latest -> %q (%v), want %q", target, err, filepath.Base(dir))
	}

	entries, err := os.ReadDir(parent)
	if err != nil || len(entries) != 1 || entries[0].Name() != "work" {
		t.Errorf("beside the work directory: %v (%v), want only work", entries, err)
	}
	executors, _ := filepath.Glob(filepath.Join(work, "slaves", "*", "frameworks", "*", "executors", "*"))
	if len(executors) != 1 || filepath.Base(executors[0]) != "good" {
		t.Errorf("executor directories %v, want only good's", executors)
	}
	fm.send(killTask("good", 0))
	fm.ackUntilTerminal("good")
}

// An agent id from the master names the directory of every sandbox: a bad
// one is not taken, and the agent registers again.
func TestRefusesBadAgentIDFromMaster(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	fm.badAgentID = "../../x"
	a := startAgent(t, fm, nil)
	fm.waitFor("a second registration", func() bool { return len(fm.subs) >= 2 })
	id := a.registered(t)
	if id == "../../x" || !strings.HasPrefix(id, "fake-master-S") {
		t.Errorf("agent id %q, want one the fake master gave after the bad one", id)
	}
	for _, sub := range fm.subscriptions() {
		if sub.GetType() != agentproto.AgentMessage_REGISTER {
			t.Errorf("the agent sent %s, want REGISTER each time (it never took the bad id)", sub.GetType())
		}
	}
}
