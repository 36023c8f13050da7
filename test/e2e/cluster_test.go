package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/testutil"
	"github.com/gomesos/gomesos/resources"
	"github.com/gomesos/gomesos/scheduler"
)

// A framework subscribes, accepts an offer, launches a command task and
// acknowledges its updates; the task runs as a real process in its sandbox
// and the master shows it completed. In both encodings of the v1 API.
func TestCommandTaskLifecycleOverRealHTTP(t *testing.T) {
	for _, enc := range []codec.Encoding{codec.JSON, codec.Protobuf} {
		t.Run(enc.ContentType(), func(t *testing.T) {
			c := startCluster(t, clusterOptions{agents: 1})
			fw := startFramework(t, c, frameworkOptions{enc: enc})
			o := fw.nextOffer()
			agentAddr := c.agents[0].Addr()
			if u := o.GetUrl(); u.GetScheme() != "http" || u.GetAddress().GetIp()+":"+fmt.Sprint(u.GetAddress().GetPort()) != agentAddr || u.GetPath() != "/slave(1)" {
				t.Errorf("offer url %v does not point at the agent %s", u, agentAddr)
			}
			var slaves struct {
				Slaves []struct{ PID string } `json:"slaves"`
			}
			c.getJSON("/master/slaves", &slaves)
			if len(slaves.Slaves) != 1 || slaves.Slaves[0].PID != "slave(1)@"+agentAddr {
				t.Errorf("/master/slaves pid %+v, want slave(1)@%s", slaves.Slaves, agentAddr)
			}
			task := commandTask("hello", o, "cpus:0.1;mem:32", "echo hello from $MESOS_TASK_ID")
			if err := fw.client.Launch(ctxT(t), ids(o), []*mesos.TaskInfo{task}, nil); err != nil {
				t.Fatal(err)
			}
			states, last := fw.waitTerminal("hello")
			want := []mesos.TaskState{mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED}
			if fmt.Sprint(states) != fmt.Sprint(want) {
				t.Fatalf("states = %v, want %v", states, want)
			}
			if last.GetMessage() != "Command exited with status 0" || last.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
				t.Errorf("final status: message %q source %s", last.GetMessage(), last.GetSource())
			}
			dir := sandboxOf(t, c.agents[0].Addr(), "hello")
			if got := readFile(t, c.agents[0].Addr(), dir+"/stdout"); got != "hello from hello\n" {
				t.Errorf("stdout via /files/read = %q", got)
			}
			waitFor(t, "the task under completed_tasks once acknowledged", func() bool {
				var st struct {
					Frameworks []struct {
						Tasks          []struct{ ID string }
						CompletedTasks []struct {
							ID    string `json:"id"`
							State string `json:"state"`
						} `json:"completed_tasks"`
					}
				}
				c.getJSON("/master/state", &st)
				return len(st.Frameworks) == 1 && len(st.Frameworks[0].Tasks) == 0 &&
					len(st.Frameworks[0].CompletedTasks) == 1 && st.Frameworks[0].CompletedTasks[0].State == "TASK_FINISHED"
			})
		})
	}
}

// A command that fails reports TASK_FAILED with its exit status.
func TestFailingCommandReportsExitStatus(t *testing.T) {
	c := startCluster(t, clusterOptions{agents: 1})
	fw := startFramework(t, c, frameworkOptions{})
	o := fw.nextOffer()
	if err := fw.client.Launch(ctxT(t), ids(o), []*mesos.TaskInfo{commandTask("bad", o, "cpus:0.1;mem:32", "echo oops >&2; exit 3")}, nil); err != nil {
		t.Fatal(err)
	}
	_, last := fw.waitTerminal("bad")
	if last.GetState() != mesos.TaskState_TASK_FAILED || last.GetMessage() != "Command exited with status 3" {
		t.Fatalf("final status %s %q; want TASK_FAILED \"Command exited with status 3\"", last.GetState(), last.GetMessage())
	}
	dir := sandboxOf(t, c.agents[0].Addr(), "bad")
	if got := readFile(t, c.agents[0].Addr(), dir+"/stderr"); !strings.Contains(got, "oops") {
		t.Errorf("stderr does not hold the task's output: %q", got)
	}
}

// KILL honours the kill policy: a task that handles SIGTERM ends KILLED
// after running its handler; one that ignores SIGTERM is SIGKILLed, with
// its whole process tree, once the grace period is over.
func TestKillHonoursGracePeriod(t *testing.T) {
	c := startCluster(t, clusterOptions{agents: 1})
	fw := startFramework(t, c, frameworkOptions{capabilities: []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_TASK_KILLING_STATE}})
	o := fw.nextOffer()
	polite := commandTask("polite", o, "cpus:0.1;mem:32", `trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 0.05; done`)
	polite.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: ptr(int64(time.Minute))}}
	stubborn := commandTask("stubborn", o, "cpus:0.1;mem:32", `trap '' TERM; sleep 1000 & echo $! > child.pid; wait`)
	stubborn.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: ptr(int64(500 * time.Millisecond))}}
	if err := fw.client.Launch(ctxT(t), ids(o), []*mesos.TaskInfo{polite, stubborn}, nil); err != nil {
		t.Fatal(err)
	}
	running := map[string]bool{}
	for len(running) < 2 {
		if s := fw.nextUpdate(); s.GetState() == mesos.TaskState_TASK_RUNNING {
			running[s.GetTaskId().GetValue()] = true
		}
	}
	agentAddr := c.agents[0].Addr()
	politeDir := sandboxOf(t, agentAddr, "polite")
	stubbornDir := sandboxOf(t, agentAddr, "stubborn")
	waitFor(t, "the tasks to be ready", func() bool {
		_, err := os.Stat(stubbornDir + "/child.pid")
		return strings.Contains(readFile(t, agentAddr, politeDir+"/stdout"), "ready") && err == nil
	})
	for _, id := range []string{"polite", "stubborn"} {
		if err := fw.client.Kill(ctxT(t), &mesos.TaskID{Value: ptr(id)}, o.GetAgentId()); err != nil {
			t.Fatal(err)
		}
	}
	final := map[string]*mesos.TaskStatus{}
	sawKilling := map[string]bool{}
	for len(final) < 2 {
		s := fw.nextUpdate()
		switch {
		case s.GetState() == mesos.TaskState_TASK_KILLING:
			sawKilling[s.GetTaskId().GetValue()] = true
		case s.GetState().IsTerminal():
			final[s.GetTaskId().GetValue()] = s
		}
	}
	for id, s := range final {
		if s.GetState() != mesos.TaskState_TASK_KILLED {
			t.Errorf("%s ended %s, want TASK_KILLED", id, s.GetState())
		}
		if !sawKilling[id] {
			t.Errorf("%s: no TASK_KILLING before TASK_KILLED for a TASK_KILLING_STATE framework", id)
		}
	}
	if got := readFile(t, agentAddr, politeDir+"/stdout"); !strings.Contains(got, "got TERM") {
		t.Errorf("the polite task's TERM handler did not run: stdout %q", got)
	}
	pidText, err := os.ReadFile(stubbornDir + "/child.pid")
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(pidText), &pid)
	waitFor(t, "the stubborn task's child to be gone", func() bool { return testutil.ProcessGone(pid) })
}

// 200 short tasks over two agents: every one reaches a terminal state the
// master accounts for, and nothing is left running.
func TestTwoHundredShortTasksOverTwoAgents(t *testing.T) {
	const n = 200
	c := startCluster(t, clusterOptions{agents: 2, agentResources: "cpus:4;mem:4096;disk:1024;ports:[31000-31999]"})
	fw := startFramework(t, c, frameworkOptions{enc: codec.Protobuf})
	next := 0
	final := map[string]mesos.TaskState{}
	agentsUsed := map[string]bool{}
	deadline := time.After(5 * patience)
	for len(final) < n {
		select {
		case o := <-fw.offers:
			var tasks []*mesos.TaskInfo
			offered, err := resources.FromProto(o.GetResources())
			if err != nil {
				t.Fatal(err)
			}
			fit := int(min(offered.CPUs().Float64()/0.1, offered.Mem().Float64()/32))
			for next < n && len(tasks) < min(20, fit) {
				cmd := "true"
				if next%4 == 0 {
					cmd = "exit 1"
				}
				tasks = append(tasks, commandTask(fmt.Sprintf("t%03d", next), o, "cpus:0.1;mem:32", cmd))
				next++
			}
			if len(tasks) == 0 {
				if err := fw.client.Decline(ctxT(t), ids(o), time.Hour); err != nil {
					t.Fatal(err)
				}
				continue
			}
			agentsUsed[o.GetAgentId().GetValue()] = true
			if err := fw.client.Launch(ctxT(t), ids(o), tasks, scheduler.RefuseFor(0)); err != nil {
				t.Fatal(err)
			}
		case s := <-fw.updates:
			if s.GetState().IsTerminal() {
				final[s.GetTaskId().GetValue()] = s.GetState()
				if s.GetState() == mesos.TaskState_TASK_ERROR {
					t.Logf("%s: %s", s.GetTaskId().GetValue(), s.GetMessage())
				}
			}
		case <-deadline:
			t.Fatalf("only %d of %d tasks ended", len(final), n)
		}
	}
	count := map[mesos.TaskState]int{}
	for _, s := range final {
		count[s]++
	}
	if count[mesos.TaskState_TASK_FINISHED] != 150 || count[mesos.TaskState_TASK_FAILED] != 50 {
		t.Errorf("terminal states %v; want 150 TASK_FINISHED and 50 TASK_FAILED", count)
	}
	if len(agentsUsed) != 2 {
		t.Errorf("tasks ran on %d agents, want 2", len(agentsUsed))
	}
	waitFor(t, "the master to account for every task", func() bool {
		var m map[string]float64
		c.getJSON("/metrics/snapshot", &m)
		return m["master/tasks_finished"] == 150 && m["master/tasks_failed"] == 50 &&
			m["master/tasks_running"] == 0 && m["master/tasks_staging"] == 0 && m["master/tasks_starting"] == 0
	})
	var tasks struct {
		Tasks []struct{ State string } `json:"tasks"`
	}
	c.getJSON("/master/tasks?limit=1000", &tasks)
	if len(tasks.Tasks) != n {
		t.Errorf("/master/tasks lists %d tasks, want %d", len(tasks.Tasks), n)
	}
}

// LAUNCH_GROUP runs every task of the group through the default executor,
// each as its own process with its own sandbox.
func TestTaskGroupRunsInDefaultExecutor(t *testing.T) {
	c := startCluster(t, clusterOptions{agents: 1})
	fw := startFramework(t, c, frameworkOptions{})
	o := fw.nextOffer()
	ex := &mesos.ExecutorInfo{
		Type:       mesos.ExecutorInfo_DEFAULT.Enum(),
		ExecutorId: &mesos.ExecutorID{Value: ptr("group-executor")},
		Resources:  commandTask("x", o, "cpus:0.1;mem:32", "").GetResources(),
	}
	group := &mesos.TaskGroupInfo{Tasks: []*mesos.TaskInfo{
		commandTask("g1", o, "cpus:0.1;mem:32", "echo one > out"),
		commandTask("g2", o, "cpus:0.1;mem:32", "echo two > out"),
	}}
	if err := fw.client.LaunchGroup(ctxT(t), ids(o), ex, group, nil); err != nil {
		t.Fatal(err)
	}
	final := map[string]mesos.TaskState{}
	for len(final) < 2 {
		if s := fw.nextUpdate(); s.GetState().IsTerminal() {
			final[s.GetTaskId().GetValue()] = s.GetState()
		}
	}
	for id, s := range final {
		if s != mesos.TaskState_TASK_FINISHED {
			t.Errorf("%s ended %s", id, s)
		}
	}
	dir := sandboxOf(t, c.agents[0].Addr(), "group-executor")
	for id, want := range map[string]string{"g1": "one\n", "g2": "two\n"} {
		if got := readFile(t, c.agents[0].Addr(), dir+"/tasks/"+id+"/out"); got != want {
			t.Errorf("task %s wrote %q in its sandbox, want %q", id, got, want)
		}
	}
}

// A framework's own executor is launched from ExecutorInfo.command with the
// MESOS_* environment, receives LAUNCH, and exchanges messages with its
// framework through the master.
func TestCustomExecutorAndFrameworkMessages(t *testing.T) {
	c := startCluster(t, clusterOptions{agents: 1})
	fw := startFramework(t, c, frameworkOptions{})
	o := fw.nextOffer()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ex := &mesos.ExecutorInfo{
		ExecutorId: &mesos.ExecutorID{Value: ptr("custom")},
		Command: &mesos.CommandInfo{
			Value: ptr(self), Shell: ptr(false), Arguments: []string{self},
			Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{{Name: ptr(customExecutorEnv), Value: ptr("1")}}},
		},
		Resources: commandTask("x", o, "cpus:0.1;mem:32", "").GetResources(),
	}
	task := commandTask("work", o, "cpus:0.1;mem:32", "")
	task.Command = nil
	task.Executor = ex
	if err := fw.client.Launch(ctxT(t), ids(o), []*mesos.TaskInfo{task}, nil); err != nil {
		t.Fatal(err)
	}
	running := fw.nextUpdate()
	if running.GetState() != mesos.TaskState_TASK_RUNNING {
		t.Fatalf("first update %s, want TASK_RUNNING", running.GetState())
	}
	env := string(running.GetData())
	for _, want := range []string{"MESOS_FRAMEWORK_ID=" + fw.client.FrameworkID(), "MESOS_EXECUTOR_ID=custom", "MESOS_AGENT_ENDPOINT=" + c.agents[0].Addr(), "MESOS_SANDBOX=/"} {
		if !strings.Contains(env, want) {
			t.Errorf("executor environment %q lacks %q", env, want)
		}
	}
	if err := fw.client.Message(ctxT(t), o.GetAgentId(), ex.GetExecutorId(), []byte("echo ping")); err != nil {
		t.Fatal(err)
	}
	msg := fw.nextEvent(schedpb.Event_MESSAGE)
	if string(msg.GetMessage().GetData()) != "ping" || msg.GetMessage().GetExecutorId().GetValue() != "custom" {
		t.Errorf("MESSAGE event %v, want data ping from executor custom", msg.GetMessage())
	}
	if err := fw.client.Message(ctxT(t), o.GetAgentId(), ex.GetExecutorId(), []byte("finish work")); err != nil {
		t.Fatal(err)
	}
	if s := fw.nextUpdate(); s.GetState() != mesos.TaskState_TASK_FINISHED {
		t.Fatalf("after finish: %s", s.GetState())
	}
	// Shutting the executor down ends it; the framework learns it exited.
	if err := fw.client.Shutdown(ctxT(t), ex.GetExecutorId(), o.GetAgentId()); err != nil {
		t.Fatal(err)
	}
	failure := fw.nextEvent(schedpb.Event_FAILURE)
	if failure.GetFailure().GetExecutorId().GetValue() != "custom" {
		t.Errorf("FAILURE %v, want executor custom", failure.GetFailure())
	}
}

// Reconciliation: implicit reconciliation reports every live task, and an
// explicit one for a task nobody knows says TASK_LOST.
func TestReconciliation(t *testing.T) {
	c := startCluster(t, clusterOptions{agents: 1})
	fw := startFramework(t, c, frameworkOptions{})
	o := fw.nextOffer()
	if err := fw.client.Launch(ctxT(t), ids(o), []*mesos.TaskInfo{commandTask("long", o, "cpus:0.1;mem:32", "sleep 1000")}, nil); err != nil {
		t.Fatal(err)
	}
	for s := fw.nextUpdate(); s.GetState() != mesos.TaskState_TASK_RUNNING; s = fw.nextUpdate() {
	}
	if err := fw.client.Reconcile(ctxT(t), nil); err != nil {
		t.Fatal(err)
	}
	s := fw.nextUpdate()
	if s.GetTaskId().GetValue() != "long" || s.GetState() != mesos.TaskState_TASK_RUNNING ||
		s.GetReason() != mesos.TaskStatus_REASON_RECONCILIATION || len(s.GetUuid()) != 0 {
		t.Errorf("implicit reconciliation: %v", s)
	}
	if err := fw.client.Reconcile(ctxT(t), []*schedpb.Call_Reconcile_Task{{TaskId: &mesos.TaskID{Value: ptr("nobody")}}}); err != nil {
		t.Fatal(err)
	}
	s = fw.nextUpdate()
	if s.GetTaskId().GetValue() != "nobody" || s.GetState() != mesos.TaskState_TASK_LOST {
		t.Errorf("explicit reconciliation of an unknown task: %v", s)
	}
}
