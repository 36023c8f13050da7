package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/executor/builtin"
	"github.com/gomesos/gomesos/internal/testutil"
)

// getJSON fetches an agent endpoint and decodes it.
func getJSON(t *testing.T, a *testAgent, path string, v any) int {
	t.Helper()
	resp, err := http.Get("http://" + a.Addr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, body)
		}
	}
	return resp.StatusCode
}

func getBody(t *testing.T, a *testAgent, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + a.Addr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// scalarSum adds up the scalar resources called name (revocable ones or
// the others).
func scalarSum(pbs []*mesos.Resource, name string, revocable bool) float64 {
	var sum float64
	for _, r := range pbs {
		if r.GetName() == name && r.GetType() == mesos.Value_SCALAR && (r.Revocable != nil) == revocable {
			sum += r.GetScalar().GetValue()
		}
	}
	return sum
}

func states(us []*agentproto.StatusUpdate) []mesos.TaskState {
	var out []mesos.TaskState
	for _, u := range us {
		out = append(out, u.GetStatus().GetState())
	}
	return out
}

// The agent registers with REGISTER carrying its resources and attributes,
// and adopts the ID in REGISTERED.
func TestRegisters(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	id := a.registered(t)

	sub := fm.subscriptions()[0]
	if sub.GetType() != agentproto.AgentMessage_REGISTER {
		t.Fatalf("first subscription is %s, want REGISTER", sub.GetType())
	}
	info := sub.GetRegister().GetAgentInfo()
	if info.Id != nil {
		t.Errorf("REGISTER carries an agent ID %v", info.GetId())
	}
	if info.GetHostname() != "agent-under-test" || int(info.GetPort()) != a.port {
		t.Errorf("agent_info hostname/port = %s/%d", info.GetHostname(), info.GetPort())
	}
	if got := scalarSum(info.GetResources(), "cpus", false); got != 2 {
		t.Errorf("cpus = %v, want 2", got)
	}
	if got := scalarSum(info.GetResources(), "disk", false); got != 2048 {
		t.Errorf("disk = %v, want 2048", got)
	}
	if len(info.GetAttributes()) != 2 {
		t.Errorf("attributes = %v", info.GetAttributes())
	}
	if sub.GetRegister().GetVersion() != MesosVersion {
		t.Errorf("version = %q", sub.GetRegister().GetVersion())
	}
	if id != "fake-master-S0" {
		t.Errorf("ID() = %q", id)
	}

	// PING is answered with PONG.
	fm.send(&agentproto.MasterMessage{Type: agentproto.MasterMessage_PING.Enum()})
	fm.waitFor("PONG", func() bool { return len(fm.messagesLocked(agentproto.AgentMessage_PONG)) > 0 })
}

// Mesos's command executor flow: STARTING, RUNNING, FINISHED reach the
// master in order, one at a time, each resent until acknowledged; the
// task's output is in the sandbox, readable through /files.
func TestCommandTaskRunsToCompletion(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	agentID := a.registered(t)

	fm.send(runTask(commandTask("hello", agentID, "echo hello")))

	// Withhold the acknowledgement of STARTING until it has been resent;
	// meanwhile nothing after it may be sent.
	starting := fm.waitUpdate("hello", mesos.TaskState_TASK_STARTING)
	fm.waitFor("STARTING to be resent", func() bool { return len(fm.updatesLocked("hello")) >= 3 })
	for _, u := range fm.updatesFor("hello") {
		if u.GetStatus().GetState() != mesos.TaskState_TASK_STARTING {
			t.Fatalf("%s sent before STARTING was acknowledged", u.GetStatus().GetState())
		}
		if !proto.Equal(u.GetStatus(), starting.GetStatus()) {
			t.Fatalf("retransmission differs: %v vs %v", u.GetStatus(), starting.GetStatus())
		}
	}
	st := starting.GetStatus()
	if st.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR || st.GetAgentId().GetValue() != agentID ||
		st.GetExecutorId().GetValue() != "hello" || len(st.GetUuid()) != 16 ||
		st.GetContainerStatus().GetContainerId().GetValue() == "" {
		t.Errorf("STARTING status = %v", st)
	}
	if starting.GetFrameworkId().GetValue() != "fw-1" {
		t.Errorf("framework_id = %v", starting.GetFrameworkId())
	}
	fm.ack(starting)

	got := fm.ackUntilTerminal("hello")
	want := []mesos.TaskState{mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED}
	if !slices.Equal(got, want) {
		t.Fatalf("distinct updates = %v, want %v", got, want)
	}
	// latest_state runs ahead of the update in flight.
	for _, u := range fm.updatesFor("hello") {
		if u.LatestState == nil {
			t.Fatalf("STATUS_UPDATE without latest_state: %v", u)
		}
	}
	fin := fm.waitUpdate("hello", mesos.TaskState_TASK_FINISHED)
	if fin.GetLatestState() != mesos.TaskState_TASK_FINISHED {
		t.Errorf("latest_state of FINISHED = %s", fin.GetLatestState())
	}

	// The executor exits and the master hears of it.
	fm.waitFor("EXECUTOR_EXITED", func() bool { return len(fm.messagesLocked(agentproto.AgentMessage_EXECUTOR_EXITED)) > 0 })
	exited := fm.messages(agentproto.AgentMessage_EXECUTOR_EXITED)[0].GetExecutorExited()
	if exited.GetExecutorId().GetValue() != "hello" || exited.GetStatus() != 0 {
		t.Errorf("EXECUTOR_EXITED = %v", exited)
	}

	// stdout through the virtual path and the real one.
	virtual := "/frameworks/fw-1/executors/hello/runs/latest/stdout"
	var read struct {
		Offset int64  `json:"offset"`
		Data   string `json:"data"`
	}
	if code := getJSON(t, a, "/files/read?offset=0&path="+url.QueryEscape(virtual), &read); code != 200 || read.Data != "hello\n" {
		t.Fatalf("read %s: %d %+v", virtual, code, read)
	}

	// Once everything is acknowledged, the executor and framework are done.
	var state stateJSONForTest
	eventually(t, "the framework to complete", func() bool {
		getJSON(t, a, "/state", &state)
		return len(state.Frameworks) == 0 && len(state.CompletedFrameworks) == 1
	})
	ce := state.CompletedFrameworks[0].CompletedExecutors
	if len(ce) != 1 || len(ce[0].CompletedTasks) != 1 || ce[0].CompletedTasks[0].State != "TASK_FINISHED" {
		t.Fatalf("completed executors = %+v", ce)
	}
	if !strings.HasPrefix(ce[0].Name, "Command Executor (Task: hello) (Command: sh -c 'echo hello')") {
		t.Errorf("executor name = %q", ce[0].Name)
	}
	real := filepath.Join(ce[0].Directory, "stdout")
	if code := getJSON(t, a, "/files/read?offset=0&path="+url.QueryEscape(real), &read); code != 200 || read.Data != "hello\n" {
		t.Fatalf("read %s: %d %+v", real, code, read)
	}
	wantDir := filepath.Join(a.cfg.WorkDir, "slaves", agentID, "frameworks", "fw-1", "executors", "hello", "runs", ce[0].Container)
	if ce[0].Directory != wantDir {
		t.Errorf("sandbox = %s, want %s", ce[0].Directory, wantDir)
	}

	var metrics map[string]float64
	getJSON(t, a, "/metrics/snapshot", &metrics)
	if metrics["slave/tasks_finished"] != 1 || metrics["slave/valid_status_updates"] != 3 || metrics["slave/registered"] != 1 {
		t.Errorf("metrics: finished=%v valid=%v registered=%v", metrics["slave/tasks_finished"],
			metrics["slave/valid_status_updates"], metrics["slave/registered"])
	}
}

// A command that exits 3 fails the task.
func TestCommandTaskFails(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	agentID := a.registered(t)

	fm.send(runTask(commandTask("bad", agentID, "exit 3")))
	got := fm.ackUntilTerminal("bad")
	if got[len(got)-1] != mesos.TaskState_TASK_FAILED {
		t.Fatalf("updates = %v, want TASK_FAILED last", got)
	}
	failed := fm.waitUpdate("bad", mesos.TaskState_TASK_FAILED).GetStatus()
	if !strings.Contains(failed.GetMessage(), "3") {
		t.Errorf("TASK_FAILED message = %q", failed.GetMessage())
	}
}

// KILL_TASK reaches the executor, which kills the task: SIGTERM first, then
// SIGKILL after the kill policy's grace period for a task that ignores it.
func TestKillTaskWithGracePeriod(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	agentID := a.registered(t)

	fm.send(runTask(commandTask("stubborn", agentID,
		`trap "" TERM; echo $$ > "$MESOS_SANDBOX/task.pid"; exec sleep 1000`)))
	running := waitRunning(t, fm, "stubborn")
	dir := sandboxOf(t, a, "stubborn")
	pid := testutil.WaitPIDFile(t, filepath.Join(dir, "task.pid"), patience)

	start := time.Now()
	fm.send(killTask("stubborn", 500*time.Millisecond))
	killed := fm.waitUpdate("stubborn", mesos.TaskState_TASK_KILLED)
	if time.Since(start) < 500*time.Millisecond {
		t.Errorf("task ignoring SIGTERM was killed after %v, before its grace period", time.Since(start))
	}
	if killed.GetStatus().GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("TASK_KILLED source = %s", killed.GetStatus().GetSource())
	}
	fm.ack(killed)
	eventually(t, "the task's process to die", func() bool { return !containerizer.ProcessAlive(pid) })
	_ = running
}

// A task group runs in the default executor.
func TestTaskGroupRunsInDefaultExecutor(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	agentID := a.registered(t)

	exec := &mesos.ExecutorInfo{
		Type:        mesos.ExecutorInfo_DEFAULT.Enum(),
		ExecutorId:  &mesos.ExecutorID{Value: proto.String("group-exec")},
		FrameworkId: testFramework.GetId(),
		Resources:   []*mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)},
	}
	t1 := commandTask("g1", agentID, "echo one")
	t2 := commandTask("g2", agentID, "echo two")
	fm.send(&agentproto.MasterMessage{
		Type: agentproto.MasterMessage_RUN_TASK_GROUP.Enum(),
		RunTaskGroup: &agentproto.MasterMessage_RunTaskGroup{
			FrameworkInfo: testFramework, Executor: exec,
			TaskGroup: &mesos.TaskGroupInfo{Tasks: []*mesos.TaskInfo{t1, t2}},
		},
	})
	done := make(chan []mesos.TaskState, 2)
	for _, id := range []string{"g1", "g2"} {
		go func() { done <- fm.ackUntilTerminalQuiet(id) }()
	}
	for range 2 {
		got := <-done
		if len(got) == 0 || got[len(got)-1] != mesos.TaskState_TASK_FINISHED {
			t.Errorf("group task updates = %v", got)
		}
	}
	for _, id := range []string{"g1", "g2"} {
		u := fm.waitUpdate(id, mesos.TaskState_TASK_FINISHED)
		if u.GetStatus().GetExecutorId().GetValue() != "group-exec" {
			t.Errorf("executor of %s = %v", id, u.GetStatus().GetExecutorId())
		}
	}
	fm.waitFor("EXECUTOR_EXITED", func() bool { return len(fm.messagesLocked(agentproto.AgentMessage_EXECUTOR_EXITED)) > 0 })
}

// ackUntilTerminalQuiet is ackUntilTerminal for use off the test goroutine:
// it returns nil instead of failing.
func (fm *fakeMaster) ackUntilTerminalQuiet(task string) []mesos.TaskState {
	var states []mesos.TaskState
	seen := map[string]bool{}
	deadline := time.After(patience)
	for {
		var next *agentproto.StatusUpdate
		for next == nil {
			fm.mu.Lock()
			for _, u := range fm.updatesLocked(task) {
				if !seen[string(u.GetStatus().GetUuid())] {
					next = u
					break
				}
			}
			ch := fm.changed
			fm.mu.Unlock()
			if next != nil {
				break
			}
			select {
			case <-ch:
			case <-deadline:
				return states
			}
		}
		seen[string(next.GetStatus().GetUuid())] = true
		states = append(states, next.GetStatus().GetState())
		fm.ack(next)
		if next.GetStatus().GetState().IsTerminal() {
			return states
		}
	}
}

// When the master's stream breaks, the agent re-registers with its ID, its
// frameworks and its running tasks, and resends what was not acknowledged.
func TestReregistersAfterStreamLoss(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	agentID := a.registered(t)

	fm.send(runTask(commandTask("long", agentID, "exec sleep 1000")))
	fm.ack(fm.waitUpdate("long", mesos.TaskState_TASK_STARTING))
	running := fm.waitUpdate("long", mesos.TaskState_TASK_RUNNING)
	// RUNNING is not acknowledged: it must come again on the new stream.
	before := len(fm.updatesFor("long"))

	fm.dropStream()
	fm.waitFor("re-registration", func() bool { return len(fm.subs) >= 2 })
	re := fm.subscriptions()[1]
	if re.GetType() != agentproto.AgentMessage_REREGISTER {
		t.Fatalf("second subscription is %s, want REREGISTER", re.GetType())
	}
	reg := re.GetRegister()
	if reg.GetAgentInfo().GetId().GetValue() != agentID {
		t.Errorf("REREGISTER agent id = %v, want %s", reg.GetAgentInfo().GetId(), agentID)
	}
	if len(reg.GetFrameworks()) != 1 || reg.GetFrameworks()[0].GetId().GetValue() != "fw-1" {
		t.Errorf("REREGISTER frameworks = %v", reg.GetFrameworks())
	}
	if len(reg.GetTasks()) != 1 {
		t.Fatalf("REREGISTER tasks = %v", reg.GetTasks())
	}
	task := reg.GetTasks()[0]
	if task.GetTaskId().GetValue() != "long" || task.GetState() != mesos.TaskState_TASK_RUNNING ||
		task.GetStatusUpdateState() != mesos.TaskState_TASK_RUNNING ||
		string(task.GetStatusUpdateUuid()) != string(running.GetStatus().GetUuid()) ||
		task.GetAgentId().GetValue() != agentID || task.GetFrameworkId().GetValue() != "fw-1" {
		t.Errorf("REREGISTER task = %v", task)
	}
	if len(reg.GetExecutors()) != 0 {
		t.Errorf("command executors must not be reported: %v", reg.GetExecutors())
	}

	fm.waitFor("RUNNING resent on the new stream", func() bool { return len(fm.updatesLocked("long")) > before })
	fm.ack(running)
	var state stateJSONForTest
	eventually(t, "the task to be RUNNING in /state", func() bool {
		getJSON(t, a, "/state", &state)
		return len(state.Frameworks) == 1 && len(state.Frameworks[0].Executors) == 1 &&
			len(state.Frameworks[0].Executors[0].Tasks) == 1 && state.Frameworks[0].Executors[0].Tasks[0].State == "TASK_RUNNING"
	})
}

// Without pings the agent gives up on the master and re-registers; a
// refused message (stale stream) does the same.
func TestReregistersWithoutPingsAndOnRefusal(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	fm.pingTimeout = 0.3
	a := startAgent(t, fm, nil)
	a.registered(t)
	fm.waitFor("re-registration after a ping timeout", func() bool { return len(fm.subs) >= 2 })
	if typ := fm.subscriptions()[1].GetType(); typ != agentproto.AgentMessage_REREGISTER {
		t.Fatalf("after ping timeout: %s", typ)
	}

	fm.mu.Lock()
	fm.pingTimeout = 60
	fm.rejectAll = true
	n := len(fm.subs)
	fm.mu.Unlock()
	fm.waitFor("a new stream", func() bool { return len(fm.subs) > n })
	// The PONG is refused; the agent must subscribe again.
	n = len(fm.subscriptions())
	fm.send(&agentproto.MasterMessage{Type: agentproto.MasterMessage_PING.Enum()})
	fm.waitFor("re-registration after a refused message", func() bool { return len(fm.subs) > n })
}

// SHUTDOWN from the master: executors are killed, and the agent registers
// again as a new agent.
func TestMasterShutdownMakesANewAgent(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	agentID := a.registered(t)
	fm.send(runTask(commandTask("doomed", agentID, `echo $$ > "$MESOS_SANDBOX/task.pid"; exec sleep 1000`)))
	waitRunning(t, fm, "doomed")
	pid := testutil.WaitPIDFile(t, filepath.Join(sandboxOf(t, a, "doomed"), "task.pid"), patience)

	fm.send(&agentproto.MasterMessage{Type: agentproto.MasterMessage_SHUTDOWN.Enum(), Message: proto.String("removed")})
	fm.waitFor("a new registration", func() bool { return len(fm.subs) >= 2 })
	if typ := fm.subscriptions()[1].GetType(); typ != agentproto.AgentMessage_REGISTER {
		t.Fatalf("after SHUTDOWN: %s, want REGISTER", typ)
	}
	eventually(t, "the new agent ID", func() bool { return a.ID() != "" && a.ID() != agentID })
	eventually(t, "the task to die", func() bool { return !containerizer.ProcessAlive(pid) })
	var state stateJSONForTest
	getJSON(t, a, "/state", &state)
	if len(state.Frameworks) != 0 || len(state.CompletedFrameworks) != 0 {
		t.Errorf("old frameworks survived SHUTDOWN: %+v", state)
	}
}

// Cancelling Run kills every task's process tree and leaves no process.
func TestRunCancelKillsProcessTrees(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	agentID := a.registered(t)
	fm.send(runTask(commandTask("tree", agentID,
		`sleep 1000 & echo $! > "$MESOS_SANDBOX/bg.pid"; echo $$ > "$MESOS_SANDBOX/task.pid"; wait`)))
	running := waitRunning(t, fm, "tree")
	dir := sandboxOf(t, a, "tree")
	taskPid := testutil.WaitPIDFile(t, filepath.Join(dir, "task.pid"), patience)
	bgPid := testutil.WaitPIDFile(t, filepath.Join(dir, "bg.pid"), patience)
	execPid := int(running.GetStatus().GetContainerStatus().GetExecutorPid())
	if execPid == 0 {
		t.Fatal("no executor pid in container_status")
	}
	for _, pid := range []int{execPid, taskPid, bgPid} {
		if !containerizer.ProcessAlive(pid) {
			t.Fatalf("pid %d not running before cancel", pid)
		}
	}
	a.stop(t)
	for _, pid := range []int{execPid, taskPid, bgPid} {
		if containerizer.ProcessAlive(pid) {
			t.Errorf("pid %d still alive after Run returned", pid)
		}
	}
	fm.waitFor("UNREGISTER", func() bool { return len(fm.messagesLocked(agentproto.AgentMessage_UNREGISTER)) > 0 })
}

// An executor that never subscribes is destroyed after the registration
// timeout and its task fails with REASON_EXECUTOR_REGISTRATION_TIMEOUT.
func TestExecutorRegistrationTimeout(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, func(c *Config) { c.ExecutorRegistrationTimeout = 300 * time.Millisecond })
	agentID := a.registered(t)
	fm.send(runTask(customTask("silent", agentID, "silent-exec", "exec sleep 1000")))
	u := fm.waitUpdate("silent", mesos.TaskState_TASK_FAILED).GetStatus()
	if u.GetReason() != mesos.TaskStatus_REASON_EXECUTOR_REGISTRATION_TIMEOUT || u.GetSource() != mesos.TaskStatus_SOURCE_AGENT {
		t.Errorf("TASK_FAILED = %v", u)
	}
	fm.waitFor("EXECUTOR_EXITED", func() bool { return len(fm.messagesLocked(agentproto.AgentMessage_EXECUTOR_EXITED)) > 0 })
}

// Killing a task before its executor subscribed: the agent answers
// TASK_KILLED itself and, with nothing left to run, destroys the executor.
// Killing an unknown task answers TASK_LOST.
func TestKillBeforeSubscribeAndKillUnknown(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	agentID := a.registered(t)
	fm.send(runTask(customTask("queued", agentID, "lazy-exec", "exec sleep 1000")))
	eventually(t, "the executor to be launched", func() bool {
		var st stateJSONForTest
		getJSON(t, a, "/state", &st)
		return len(st.Frameworks) == 1 && len(st.Frameworks[0].Executors) == 1 &&
			len(st.Frameworks[0].Executors[0].QueuedTasks) == 1
	})
	fm.send(killTask("queued", 0))
	killed := fm.waitUpdate("queued", mesos.TaskState_TASK_KILLED).GetStatus()
	if killed.GetSource() != mesos.TaskStatus_SOURCE_AGENT || killed.GetReason() != mesos.TaskStatus_REASON_EXECUTOR_UNREGISTERED {
		t.Errorf("TASK_KILLED = %v", killed)
	}
	fm.waitFor("EXECUTOR_EXITED", func() bool { return len(fm.messagesLocked(agentproto.AgentMessage_EXECUTOR_EXITED)) > 0 })

	fm.send(killTask("nonexistent", 0))
	lost := fm.waitUpdate("nonexistent", mesos.TaskState_TASK_LOST).GetStatus()
	if lost.GetSource() != mesos.TaskStatus_SOURCE_AGENT || lost.GetReason() != mesos.TaskStatus_REASON_EXECUTOR_TERMINATED ||
		lost.GetMessage() != "Cannot find executor" {
		t.Errorf("TASK_LOST = %v", lost)
	}
}

// The master's 307 redirect is followed.
func TestFollowsRedirect(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	redirector := newRedirector(t, fm.addr())
	a := startAgent(t, fm, func(c *Config) { c.Master = redirector })
	a.registered(t)
}

// /state has the keys of Mesos's agent state, for the agent, a framework,
// an executor and a task.
func TestStateKeysMatchMesos(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	agentID := a.registered(t)
	fm.send(runTask(commandTask("keys", agentID, "echo keys")))
	fm.ackUntilTerminal("keys")

	var ours map[string]any
	eventually(t, "a completed framework", func() bool {
		getJSON(t, a, "/slave(1)/state", &ours)
		cf, _ := ours["completed_frameworks"].([]any)
		return len(cf) == 1
	})
	sample := readSample(t, "after-task/agent_state_after_task.json")
	// log_dir only exists when logging to files.
	compareKeys(t, "state", sample, ours, "log_dir")
	sf := sample["completed_frameworks"].([]any)[0].(map[string]any)
	of := ours["completed_frameworks"].([]any)[0].(map[string]any)
	compareKeys(t, "framework", sf, of)
	se := sf["completed_executors"].([]any)[0].(map[string]any)
	oe := of["completed_executors"].([]any)[0].(map[string]any)
	compareKeys(t, "executor", se, oe)
	st := se["completed_tasks"].([]any)[0].(map[string]any)
	ot := oe["completed_tasks"].([]any)[0].(map[string]any)
	compareKeys(t, "task", st, ot)

	// Numbers are written as Mesos writes them.
	_, raw := getBody(t, a, "/state")
	for _, want := range []string{`"cpus":2.0`, `"failover_timeout":0.0`, `"pid":"slave(1)@` + a.Addr() + `"`, `"executor_id":""`} {
		if !strings.Contains(raw, want) {
			t.Errorf("/state lacks %s", want)
		}
	}
	if ours["id"] != agentID || ours["master_hostname"] != "fake-master-host" {
		t.Errorf("id/master_hostname = %v/%v", ours["id"], ours["master_hostname"])
	}
	attrs := ours["attributes"].(map[string]any)
	if attrs["rack"] != "r1" {
		t.Errorf("attributes = %v", attrs)
	}

	// The other endpoints.
	var flags struct{ Flags map[string]string }
	if getJSON(t, a, "/flags", &flags) != 200 || flags.Flags["work_dir"] != a.cfg.WorkDir || flags.Flags["executor_registration_timeout"] != "1mins" {
		t.Errorf("/flags = %v", flags)
	}
	// /flags shows the flags in force, nothing this agent does not have.
	for _, absent := range []string{"launcher", "docker_mesos_image", "switch_user"} {
		if v, ok := flags.Flags[absent]; ok {
			t.Errorf("/flags shows %s=%q, a flag this agent does not have", absent, v)
		}
	}
	for flag, want := range map[string]string{"recover": "reconnect", "strict": "true", "recovery_timeout": "15mins",
		"executor_reregistration_timeout": "2secs", "runtime_dir": filepath.Join(a.cfg.WorkDir, "runtime"),
		"fetcher_cache_size": "2GB", "fetcher_cache_dir": "/tmp/mesos/fetch", "fetcher_stall_timeout": "1mins",
		"containerizers": "mesos", "docker": "docker", "docker_socket": "/var/run/docker.sock"} {
		if got := flags.Flags[flag]; got != want {
			t.Errorf("/flags %s = %q, want %q", flag, got, want)
		}
	}
	if iso := flags.Flags["isolation"]; iso != "" {
		t.Errorf("/flags isolation = %q with no isolator configured, want empty", iso)
	}
	if code, body := getBody(t, a, "/slave(1)/health"); code != 200 || body != "" {
		t.Errorf("/health = %d %q", code, body)
	}
	var version map[string]any
	if getJSON(t, a, "/version", &version) != 200 || version["version"] != MesosVersion {
		t.Errorf("/version = %v", version)
	}
	var metrics map[string]any
	getJSON(t, a, "/metrics/snapshot", &metrics)
	sampleMetrics := readSample(t, "agent_metrics_snapshot.json")
	for k := range sampleMetrics {
		if strings.HasPrefix(k, "slave/") || strings.HasPrefix(k, "system/") || strings.HasPrefix(k, "containerizer/fetcher/") ||
			k == "containerizer/mesos/container_destroy_errors" {
			if _, ok := metrics[k]; !ok {
				t.Errorf("/metrics/snapshot lacks %s", k)
			}
		}
	}
	if rt, _ := metrics["slave/recovery_time_secs"].(float64); rt <= 0 || rt > metrics["slave/uptime_secs"].(float64) {
		t.Errorf("slave/recovery_time_secs = %v, uptime %v", metrics["slave/recovery_time_secs"], metrics["slave/uptime_secs"])
	}
	if v := metrics["containerizer/fetcher/cache_size_total_bytes"]; v != float64(2<<30) {
		t.Errorf("containerizer/fetcher/cache_size_total_bytes = %v, want 2GB", v)
	}
	_, rawMetrics := getBody(t, a, "/metrics/snapshot")
	if !strings.Contains(rawMetrics, `"slave/cpus_total":2.0`) || !strings.Contains(rawMetrics, `"slave/tasks_finished":1.0`) {
		t.Errorf("/metrics/snapshot = %s", rawMetrics)
	}
}

func readSample(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "mesos-samples", name))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func compareKeys(t *testing.T, what string, sample, ours map[string]any, optional ...string) {
	t.Helper()
	for k := range sample {
		if _, ok := ours[k]; !ok && !slices.Contains(optional, k) {
			t.Errorf("%s: missing key %q", what, k)
		}
	}
	for k := range ours {
		if _, ok := sample[k]; !ok {
			t.Errorf("%s: key %q not in the Mesos sample", what, k)
		}
	}
}

// ---- Helpers ----

type stateJSONForTest struct {
	ID                  string `json:"id"`
	Frameworks          []fwForTest
	CompletedFrameworks []fwForTest `json:"completed_frameworks"`
}

type fwForTest struct {
	ID                 string
	Executors          []execForTest
	CompletedExecutors []execForTest `json:"completed_executors"`
}

type execForTest struct {
	ID             string
	Name           string
	Container      string
	Directory      string
	Tasks          []taskForTest
	QueuedTasks    []taskForTest `json:"queued_tasks"`
	CompletedTasks []taskForTest `json:"completed_tasks"`
}

type taskForTest struct {
	ID    string
	State string
}

// waitRunning acknowledges STARTING and waits for RUNNING (acknowledged too).
func waitRunning(t *testing.T, fm *fakeMaster, task string) *agentproto.StatusUpdate {
	t.Helper()
	fm.ack(fm.waitUpdate(task, mesos.TaskState_TASK_STARTING))
	running := fm.waitUpdate(task, mesos.TaskState_TASK_RUNNING)
	fm.ack(running)
	return running
}

// sandboxOf finds a live executor's sandbox through /state.
func sandboxOf(t *testing.T, a *testAgent, execID string) string {
	t.Helper()
	var dir string
	eventually(t, "the sandbox of "+execID, func() bool {
		var st stateJSONForTest
		getJSON(t, a, "/state", &st)
		for _, fw := range st.Frameworks {
			for _, ex := range fw.Executors {
				if ex.ID == execID {
					dir = ex.Directory
					return true
				}
			}
		}
		return false
	})
	return dir
}

func customTask(id, agentID, execID, shell string) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:      proto.String(id),
		TaskId:    &mesos.TaskID{Value: proto.String(id)},
		AgentId:   &mesos.AgentID{Value: proto.String(agentID)},
		Resources: []*mesos.Resource{scalar("cpus", 0.1)},
		Executor: &mesos.ExecutorInfo{
			ExecutorId: &mesos.ExecutorID{Value: proto.String(execID)},
			Command:    &mesos.CommandInfo{Value: proto.String(shell)},
			Resources:  []*mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)},
		},
	}
}

// A custom executor is run as its CommandInfo says (here the test binary,
// told by its CommandInfo environment to be a command executor), with the
// MESOS_* environment.
func TestCustomExecutor(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	agentID := a.registered(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	task := commandTask("custom", agentID, `echo "$MESOS_EXECUTOR_ID $CUSTOM_VAR"`)
	task.Executor = &mesos.ExecutorInfo{
		Type:       mesos.ExecutorInfo_CUSTOM.Enum(),
		ExecutorId: &mesos.ExecutorID{Value: proto.String("custom-exec")},
		Command: &mesos.CommandInfo{
			Value: proto.String(self),
			Shell: proto.Bool(false),
			Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{
				{Name: proto.String(builtin.EnvKind), Value: proto.String("command")},
				{Name: proto.String("CUSTOM_VAR"), Value: proto.String("from-command-info")},
			}},
		},
	}
	fm.send(runTask(task))
	got := fm.ackUntilTerminal("custom")
	if got[len(got)-1] != mesos.TaskState_TASK_FINISHED {
		t.Fatalf("updates = %v", got)
	}
	if u := fm.waitUpdate("custom", mesos.TaskState_TASK_FINISHED); u.GetStatus().GetExecutorId().GetValue() != "custom-exec" {
		t.Errorf("executor id = %v", u.GetStatus().GetExecutorId())
	}
	var read struct{ Data string }
	eventually(t, "the task's output", func() bool {
		getJSON(t, a, "/files/read?offset=0&path="+url.QueryEscape("/frameworks/fw-1/executors/custom-exec/runs/latest/stdout"), &read)
		return strings.Contains(read.Data, "custom-exec from-command-info")
	})
}
