package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent/checkpoint"
	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/testutil"
)

// runTaskOf is RUN_TASK of task for a framework with the given id and
// checkpoint flag.
func runTaskOf(fwID string, checkpointing bool, task *mesos.TaskInfo) *agentproto.MasterMessage {
	m := runTask(task)
	fw := proto.Clone(m.RunTask.FrameworkInfo).(*mesos.FrameworkInfo)
	fw.Id = &mesos.FrameworkID{Value: proto.String(fwID)}
	fw.Checkpoint = proto.Bool(checkpointing)
	m.RunTask.FrameworkInfo = fw
	return m
}

// exitAgent makes Run return as on SIGTERM and waits for it.
func (ta *testAgent) exit(t *testing.T) {
	t.Helper()
	ta.Exit()
	ta.stopped = true
	select {
	case err := <-ta.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(patience):
		t.Fatal("Run did not return after Exit")
	}
}

// An agent that exits (SIGTERM) leaves the task of a checkpointing
// framework running and kills that of a non-checkpointing one; the next
// agent on the same work directory recovers the first with the same agent
// ID and the same processes, re-registers with it, and can kill it.
func TestRestartedAgentRecoversRunningTask(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	dir := t.TempDir()
	onDir := func(c *Config) { c.WorkDir = dir }
	a := startAgent(t, fm, onDir)
	agentID := a.registered(t)

	fm.send(runTaskOf("fw-1", true, commandTask("kept", agentID, `echo $$ > "$MESOS_SANDBOX/task.pid"; exec sleep 1000`)))
	fm.send(runTaskOf("fw-2", false, commandTask("lost", agentID, `echo $$ > "$MESOS_SANDBOX/task.pid"; exec sleep 1000`)))
	kept := waitRunning(t, fm, "kept")
	waitRunning(t, fm, "lost")
	keptPid := testutil.WaitPIDFile(t, filepath.Join(sandboxOf(t, a, "kept"), "task.pid"), patience)
	lostPid := testutil.WaitPIDFile(t, filepath.Join(sandboxOf(t, a, "lost"), "task.pid"), patience)
	execPid := int(kept.GetStatus().GetContainerStatus().GetExecutorPid())

	a.exit(t)
	if _, err := os.Stat(checkpoint.Path(dir)); err != nil {
		t.Fatalf("no checkpoint: %v", err)
	}
	eventually(t, "the non-checkpointing task to be killed", func() bool { return !containerizer.ProcessAlive(lostPid) })
	for _, pid := range []int{keptPid, execPid} {
		if !containerizer.ProcessAlive(pid) {
			t.Fatalf("pid %d died with the agent", pid)
		}
	}
	if n := len(fm.messages(agentproto.AgentMessage_UNREGISTER)); n != 0 {
		t.Fatalf("an exiting agent unregistered")
	}

	// Same work directory, same port: the executors look for the agent
	// where it was.
	subs := len(fm.subscriptions())
	port := a.port
	b := startAgent(t, fm, func(c *Config) { onDir(c); c.Port = port })
	fm.waitFor("re-registration", func() bool { return len(fm.subs) > subs })
	reg := fm.subscriptions()[subs]
	if reg.GetType() != agentproto.AgentMessage_REREGISTER || reg.GetRegister().GetAgentInfo().GetId().GetValue() != agentID {
		t.Fatalf("restarted agent sent %v", reg)
	}
	var tasks []string
	for _, task := range reg.GetRegister().GetTasks() {
		tasks = append(tasks, task.GetTaskId().GetValue()+"="+task.GetState().String())
	}
	if strings.Join(tasks, ",") != "kept=TASK_RUNNING" {
		t.Fatalf("REREGISTER tasks %v", tasks)
	}
	if id := b.registered(t); id != agentID {
		t.Fatalf("agent id %s, want %s", id, agentID)
	}
	for _, pid := range []int{keptPid, execPid} {
		if !containerizer.ProcessAlive(pid) {
			t.Fatalf("pid %d did not survive the restart", pid)
		}
	}
	// The executor is the same process and took up with the new agent:
	// a kill goes through it.
	var st stateJSONForTest
	eventually(t, "the recovered task in /state", func() bool {
		getJSON(t, b, "/state", &st)
		return len(st.Frameworks) == 1 && len(st.Frameworks[0].Executors) == 1 && len(st.Frameworks[0].Executors[0].Tasks) == 1
	})
	if task := st.Frameworks[0].Executors[0].Tasks[0]; task.ID != "kept" || task.State != "TASK_RUNNING" {
		t.Fatalf("/state task %+v", task)
	}
	before := len(fm.updatesFor("kept"))
	fm.send(killTask("kept", 0))
	killed := fm.waitUpdate("kept", mesos.TaskState_TASK_KILLED)
	if killed.GetStatus().GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("TASK_KILLED from %v, want the executor", killed.GetStatus().GetSource())
	}
	for _, u := range fm.updatesFor("kept")[before:] {
		if s := u.GetStatus().GetState(); s != mesos.TaskState_TASK_KILLED && s != mesos.TaskState_TASK_KILLING {
			t.Errorf("after the restart the task went %v", s)
		}
	}
	fm.ack(killed)
	eventually(t, "the task to die", func() bool { return !containerizer.ProcessAlive(keptPid) })
}
