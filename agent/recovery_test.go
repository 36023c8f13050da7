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

// --recover=cleanup kills the executors a previous agent left running,
// removes the checkpoint, and returns from Run without serving.
func TestRecoverCleanupKillsAndForgets(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	dir := t.TempDir()
	a := startAgent(t, fm, func(c *Config) { c.WorkDir = dir })
	agentID := a.registered(t)
	fm.send(runTaskOf("fw-1", true, commandTask("kept", agentID, `echo $$ > "$MESOS_SANDBOX/task.pid"; exec sleep 1000`)))
	waitRunning(t, fm, "kept")
	pid := testutil.WaitPIDFile(t, filepath.Join(sandboxOf(t, a, "kept"), "task.pid"), patience)
	a.exit(t)
	if !containerizer.ProcessAlive(pid) {
		t.Fatal("the task died with the agent")
	}

	subs := len(fm.subscriptions())
	b := startAgent(t, fm, func(c *Config) { c.WorkDir = dir; c.Recover = RecoverCleanup })
	select {
	case err := <-b.done:
		b.stopped = true
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(patience):
		t.Fatal("Run did not return in cleanup mode")
	}
	if containerizer.ProcessAlive(pid) {
		t.Error("the task survived --recover=cleanup")
	}
	if _, err := os.Stat(checkpoint.Path(dir)); !os.IsNotExist(err) {
		t.Errorf("the checkpoint is still there: %v", err)
	}
	if len(fm.subscriptions()) != subs {
		t.Error("an agent in cleanup mode contacted the master")
	}
	// The next agent starts afresh.
	c := startAgent(t, fm, func(c *Config) { c.WorkDir = dir })
	if id := c.registered(t); id == agentID {
		t.Errorf("the agent kept its id %s after cleanup", id)
	}
}

// A checkpoint that cannot be read fails the start, naming the file;
// with --strict=false it is set aside and the agent starts afresh.
func TestUnreadableCheckpoint(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	dir := t.TempDir()
	path := checkpoint.Path(dir)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Repeat("not a checkpoint ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Master: fm.addr(), IP: "127.0.0.1", WorkDir: dir, Resources: "cpus:1;mem:128;disk:128"}
	_, err := New(cfg)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "--strict=false") {
		t.Fatalf("New = %v, want an error naming %s", err, path)
	}

	a := startAgent(t, fm, func(c *Config) { c.WorkDir = dir; c.NotStrict = true })
	a.registered(t)
	if subs := fm.subscriptions(); subs[0].GetType() != agentproto.AgentMessage_REGISTER {
		t.Errorf("registered with %v", subs[0].GetType())
	}
	aside, _ := filepath.Glob(path + ".corrupt-*")
	if len(aside) != 1 {
		t.Fatalf("set aside: %v", aside)
	}
	if b, _ := os.ReadFile(aside[0]); !strings.HasPrefix(string(b), "not a checkpoint") {
		t.Error("the file set aside is not the unreadable one")
	}
}

// An agent whose resources or attributes changed refuses to recover,
// naming the flag and the checkpoint to remove.
func TestIncompatibleAgentInfoRefused(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	dir := t.TempDir()
	a := startAgent(t, fm, func(c *Config) { c.WorkDir = dir })
	a.registered(t)
	a.exit(t)
	for flag, tweak := range map[string]func(*Config){
		"--resources":  func(c *Config) { c.Resources = "cpus:3;mem:1024;disk:2048;ports:[31000-31099]" },
		"--attributes": func(c *Config) { c.Attributes = "rack:r2;zone:z9" },
	} {
		cfg := Config{Master: fm.addr(), IP: "127.0.0.1", WorkDir: dir,
			Resources: "cpus:2;mem:1024;disk:2048;ports:[31000-31099]", Attributes: "rack:r1;zone:z9"}
		tweak(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), flag) || !strings.Contains(err.Error(), checkpoint.Path(dir)) {
			t.Errorf("%s changed: New = %v", flag, err)
		}
	}
	// In another order, the same resources are compatible.
	b := startAgent(t, fm, func(c *Config) {
		c.WorkDir = dir
		c.Resources = "mem:1024;cpus:2;ports:[31000-31099];disk:2048"
		c.Attributes = "zone:z9;rack:r1"
	})
	if id := b.registered(t); id != a.ID() {
		t.Errorf("id %s after a compatible restart, want %s", id, a.ID())
	}
}

// Ending Run's context is Mesos's shutdown (SIGUSR1): every executor is
// killed and the checkpoint emptied, so the next agent starts afresh.
func TestShutdownRemovesTheCheckpoint(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	dir := t.TempDir()
	a := startAgent(t, fm, func(c *Config) { c.WorkDir = dir })
	agentID := a.registered(t)
	fm.send(runTaskOf("fw-1", true, commandTask("t", agentID, "sleep 1000")))
	waitRunning(t, fm, "t")
	a.stop(t)
	s, err := checkpoint.Open(checkpoint.Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	for bucket, kv := range b {
		if len(kv) != 0 {
			t.Errorf("bucket %s holds %d values after a shutdown", bucket, len(kv))
		}
	}
}
