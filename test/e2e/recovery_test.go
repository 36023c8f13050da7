package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/testutil"
)

// killAndRecover kills the agent (SIGKILL) under running sleeper tasks of a
// checkpointing framework, checks the tasks outlive it, restarts it with
// the same flags and checks what Mesos promises: the same AgentID, every
// task RUNNING in the master's and the agent's state and in reconciliation,
// the same task processes, no terminal update and no FAILURE. It returns
// the agent's id.
func killAndRecover(t *testing.T, r *recoveryRig, fw *framework, taskIDs []string, pids map[string]int) string {
	t.Helper()
	before := r.waitRegistered()
	usedBefore := scalarsOf(r.masterSlaves()[0].UsedResources)
	r.killAgent()
	return restartAndCheck(t, r, fw, before, usedBefore, taskIDs, pids)
}

// restartAndCheck starts the killed agent again and checks what
// killAndRecover promises; before and usedBefore are the agent's id and
// used resources in the master before it was killed.
func restartAndCheck(t *testing.T, r *recoveryRig, fw *framework, before string, usedBefore map[string]float64, taskIDs []string, pids map[string]int) string {
	t.Helper()
	checkAlive(t, pids)
	restart := time.Now()
	after := r.startAgent()
	if after != before {
		t.Fatalf("the restarted agent registered as %s, want its old id %s", after, before)
	}
	r.waitMasterRunning(after, taskIDs)
	t.Logf("%d tasks: %v from the agent's restart to the master listing every task RUNNING on it again", len(taskIDs), time.Since(restart).Round(time.Millisecond))
	// The master accounts the recovered tasks' resources as it did before.
	if slaves := r.masterSlaves(); len(slaves) != 1 {
		t.Errorf("the master lists %d agents after the restart, want the one: %s", len(slaves), jsonString(slaves))
	} else if used := scalarsOf(slaves[0].UsedResources); !mapsEqual(used, usedBefore) {
		t.Errorf("the agent's used resources in the master: %v after the restart, %v before", used, usedBefore)
	}
	r.waitAgentRunning(taskIDs)
	checkAlive(t, pids)
	// The recovered agent knows the tasks' sandboxes, and they hold the
	// same processes.
	if again := r.commandTaskPIDs(taskIDs); !mapsEqual(again, pids) {
		t.Errorf("task pids after recovery %v, before %v", again, pids)
	}
	reconcileRunning(t, fw, taskIDs)
	noTerminalUpdates(t, fw)
	noFailureEvents(t, fw)
	return after
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// The outside check of agent recovery: SIGKILL the agent under 20 running
// tasks of a checkpointing framework and restart it with the same flags.
// The agent keeps its AgentID, every task stays RUNNING (master, agent,
// reconciliation) in the same process, and the framework sees no terminal
// update. Then the scheduler drops its stream, fails over to a new
// subscription with its FrameworkID within failover_timeout, reconciles,
// kills every task, and nothing is left behind: no task, executor or
// supervisor process of those containers.
func TestAgentSIGKILLUnder20TasksThenFailoverAndKillAll(t *testing.T) {
	r := startRig(t, rigOptions{})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true, failoverTimeout: 3600})
	agentID, taskIDs := launchSleepers(t, fw, "task", 20)
	pids := r.commandTaskPIDs(taskIDs)
	if id := killAndRecover(t, r, fw, taskIDs, pids); id != agentID.GetValue() {
		t.Fatalf("agent id %s, want %s (the offer's)", id, agentID.GetValue())
	}

	frameworkID := fw.client.FrameworkID()
	fw.stop()
	fw2 := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true, failoverTimeout: 3600, frameworkID: frameworkID})
	if got := fw2.client.FrameworkID(); got != frameworkID {
		t.Fatalf("resubscribed as framework %s, want %s", got, frameworkID)
	}
	reconcileRunning(t, fw2, taskIDs)
	for _, id := range taskIDs {
		if err := fw2.client.Kill(ctxT(t), &mesos.TaskID{Value: ptr(id)}, agentID); err != nil {
			t.Fatal(err)
		}
	}
	awaitStates(t, fw2, taskIDs, mesos.TaskState_TASK_KILLED)
	waitGone(t, "every task process to end", pids)
	r.waitNoContainerProcesses("after every task was killed")
	for id, st := range r.masterTasks() {
		if st[0] != "TASK_KILLED" {
			t.Errorf("the master lists task %s as %s after it was killed", id, st[0])
		}
	}
}

// kill -9 of an agent under 50 running command tasks: all 50 are RUNNING
// after its restart, in the same processes, and the framework saw no
// terminal update.
func TestAgentSIGKILLUnder50Tasks(t *testing.T) {
	r := startRig(t, rigOptions{})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true, failoverTimeout: 3600})
	_, taskIDs := launchSleepers(t, fw, "task", 50)
	pids := r.commandTaskPIDs(taskIDs)
	killAndRecover(t, r, fw, taskIDs, pids)
}

// An agent killed again while it recovers (right after it is up, before or
// while it re-registers and its executors resubscribe) recovers on the
// next start all the same: recovery writes nothing that a crash in the
// middle could leave half done.
func TestAgentSIGKILLDuringRecovery(t *testing.T) {
	r := startRig(t, rigOptions{})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true, failoverTimeout: 3600})
	_, taskIDs := launchSleepers(t, fw, "task", 10)
	pids := r.commandTaskPIDs(taskIDs)
	before := r.waitRegistered()
	usedBefore := scalarsOf(r.masterSlaves()[0].UsedResources)
	r.killAgent()
	p := r.spawnAgent()
	p.expect(t, `Agent listening on`)
	r.killAgent()
	restartAndCheck(t, r, fw, before, usedBefore, taskIDs, pids)
}

// A framework's own executor (the executor SDK) outlives a SIGKILLed agent,
// resubscribes to the restarted one, and keeps serving its framework:
// messages reach it and its task can be killed.
func TestAgentSIGKILLCustomExecutorReconnects(t *testing.T) {
	r := startRig(t, rigOptions{})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true, failoverTimeout: 3600})
	o := fw.nextOffer()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ex := &mesos.ExecutorInfo{
		ExecutorId: &mesos.ExecutorID{Value: ptr("custom-ckpt")},
		Command: &mesos.CommandInfo{
			Value: ptr(self), Shell: ptr(false), Arguments: []string{self},
			Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{{Name: ptr(customExecutorEnv), Value: ptr("1")}}},
		},
		Resources: commandTask("x", o, "cpus:0.1;mem:32", "").GetResources(),
	}
	task := commandTask("custom-task", o, "cpus:0.1;mem:32", "")
	task.Command = nil
	task.Executor = ex
	if err := fw.client.Launch(ctxT(t), ids(o), []*mesos.TaskInfo{task}, nil); err != nil {
		t.Fatal(err)
	}
	taskIDs := []string{"custom-task"}
	awaitStates(t, fw, taskIDs, mesos.TaskState_TASK_RUNNING)
	var dir string
	waitFor(t, "the executor's sandbox in the agent's /state", func() bool {
		dir = r.sandboxes()["custom-ckpt"]
		return dir != ""
	})
	pid := testutil.WaitPIDFile(t, filepath.Join(dir, "executor.pid"), patience)

	before := r.waitRegistered()
	r.killAgent()
	if testutil.ProcessGone(pid) {
		t.Fatalf("the executor (pid %d) died with the agent", pid)
	}
	if after := r.startAgent(); after != before {
		t.Fatalf("the restarted agent registered as %s, want its old id %s", after, before)
	}
	r.waitMasterRunning(before, taskIDs)
	r.waitAgentRunning(taskIDs)
	reconcileRunning(t, fw, taskIDs)
	if testutil.ProcessGone(pid) {
		t.Fatalf("the executor (pid %d) is gone after the agent's recovery", pid)
	}
	// The executor resubscribed: the framework still reaches it.
	if err := fw.client.Message(ctxT(t), o.GetAgentId(), ex.GetExecutorId(), []byte("echo after-recovery")); err != nil {
		t.Fatal(err)
	}
	if msg := fw.nextEvent(schedpb.Event_MESSAGE); string(msg.GetMessage().GetData()) != "after-recovery" {
		t.Errorf("MESSAGE %v, want after-recovery from the executor", msg.GetMessage())
	}
	if err := fw.client.Kill(ctxT(t), task.GetTaskId(), o.GetAgentId()); err != nil {
		t.Fatal(err)
	}
	awaitStates(t, fw, taskIDs, mesos.TaskState_TASK_KILLED)
	if got := readPIDFile(t, filepath.Join(dir, "executor.pid")); got != pid {
		t.Errorf("executor.pid is %d, was %d: the executor was relaunched", got, pid)
	}
	noTerminalUpdates(t, fw)
}

func readPIDFile(t *testing.T, path string) int {
	t.Helper()
	return testutil.WaitPIDFile(t, path, patience)
}

// A task group on the default executor (LAUNCH_GROUP) outlives a SIGKILLed
// agent: after the restart both tasks are RUNNING in the same processes and
// the reconnected default executor kills them on request, then exits.
func TestAgentSIGKILLTaskGroupOnDefaultExecutor(t *testing.T) {
	r := startRig(t, rigOptions{})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true, failoverTimeout: 3600})
	o := fw.nextOffer()
	ex := &mesos.ExecutorInfo{
		Type:       mesos.ExecutorInfo_DEFAULT.Enum(),
		ExecutorId: &mesos.ExecutorID{Value: ptr("group-ckpt")},
		Resources:  commandTask("x", o, "cpus:0.1;mem:32", "").GetResources(),
	}
	taskIDs := []string{"group-0", "group-1"}
	group := &mesos.TaskGroupInfo{}
	for _, id := range taskIDs {
		group.Tasks = append(group.Tasks, commandTask(id, o, sleeperResources, sleeperCmd))
	}
	if err := fw.client.LaunchGroup(ctxT(t), ids(o), ex, group, nil); err != nil {
		t.Fatal(err)
	}
	awaitStates(t, fw, taskIDs, mesos.TaskState_TASK_RUNNING)
	var dir string
	waitFor(t, "the default executor's sandbox in the agent's /state", func() bool {
		dir = r.sandboxes()["group-ckpt"]
		return dir != ""
	})
	pids := map[string]int{}
	for _, id := range taskIDs {
		pids[id] = sleeperPID(t, filepath.Join(dir, "tasks", id, "pid"))
	}

	before := r.waitRegistered()
	r.killAgent()
	checkAlive(t, pids)
	if after := r.startAgent(); after != before {
		t.Fatalf("the restarted agent registered as %s, want its old id %s", after, before)
	}
	r.waitMasterRunning(before, taskIDs)
	r.waitAgentRunning(taskIDs)
	checkAlive(t, pids)
	reconcileRunning(t, fw, taskIDs)
	noTerminalUpdates(t, fw)
	noFailureEvents(t, fw)

	for _, id := range taskIDs {
		if err := fw.client.Kill(ctxT(t), &mesos.TaskID{Value: ptr(id)}, o.GetAgentId()); err != nil {
			t.Fatal(err)
		}
	}
	awaitStates(t, fw, taskIDs, mesos.TaskState_TASK_KILLED)
	waitGone(t, "the group's task processes to end", pids)
	r.waitNoContainerProcesses("after the group's tasks were killed")
}

// An update the framework has not acknowledged when the agent dies is sent
// again by the restarted agent, exactly once more; once acknowledged it is
// never sent again (not even after another restart), and the updates the
// framework acknowledged before the crash are not resent.
func TestAgentSIGKILLWithUnacknowledgedUpdate(t *testing.T) {
	r := startRig(t, rigOptions{})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true, failoverTimeout: 3600, noAutoAck: true})
	o := fw.nextOffer()
	if err := fw.client.Launch(ctxT(t), ids(o), []*mesos.TaskInfo{commandTask("quick", o, sleeperResources, "exit 0")}, nil); err != nil {
		t.Fatal(err)
	}
	// Every update before TASK_FINISHED (TASK_STARTING, TASK_RUNNING) is
	// acknowledged; TASK_FINISHED is not.
	var finished *mesos.TaskStatus
	for finished == nil {
		s := fw.nextUpdate()
		if len(s.GetUuid()) == 0 {
			t.Fatalf("update %s without a uuid", s.GetState())
		}
		switch s.GetState() {
		case mesos.TaskState_TASK_FINISHED:
			finished = s
		case mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING:
			if err := fw.client.Acknowledge(ctxT(t), s); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("update %s (reason %s), want TASK_STARTING, TASK_RUNNING or TASK_FINISHED", s.GetState(), s.GetReason())
		}
	}
	// TASK_FINISHED stays unacknowledged while the agent dies.
	before := r.waitRegistered()
	r.killAgent()
	if after := r.startAgent(); after != before {
		t.Fatalf("the restarted agent registered as %s, want its old id %s", after, before)
	}
	again := fw.nextUpdate()
	if again.GetTaskId().GetValue() != "quick" || again.GetState() != mesos.TaskState_TASK_FINISHED ||
		string(again.GetUuid()) != string(finished.GetUuid()) {
		t.Fatalf("after the restart: %s for %s (uuid %x), want TASK_FINISHED for quick with uuid %x (the earlier updates were acknowledged)",
			again.GetState(), again.GetTaskId().GetValue(), again.GetUuid(), finished.GetUuid())
	}
	if err := fw.client.Acknowledge(ctxT(t), again); err != nil {
		t.Fatal(err)
	}
	// The agent has applied the acknowledgement once it lists the task as
	// completed (Mesos completes a task when its terminal update is
	// acknowledged).
	var st agentState
	completed := pollUntil(patience, func() bool {
		st = r.agentState()
		for _, f := range slices.Concat(st.Frameworks, st.CompletedFrameworks) {
			for _, ex := range slices.Concat(f.Executors, f.CompletedExecutors) {
				for _, tk := range ex.CompletedTasks {
					if tk.ID == "quick" {
						return true
					}
				}
			}
		}
		return false
	})
	if !completed {
		t.Fatalf("the agent does not list quick as a completed task after its terminal update was acknowledged: %s", jsonString(st))
	}
	// The acknowledgement was checkpointed: another crash and restart does
	// not bring the update back. A restarted agent resends what is
	// unacknowledged as soon as it has re-registered, so a short window
	// after that shows whether anything is resent.
	r.killAgent()
	if after := r.startAgent(); after != before {
		t.Fatalf("the agent restarted a second time registered as %s, want %s", after, before)
	}
	select {
	case s := <-fw.updates:
		t.Errorf("after the acknowledgement and a second restart: %s for %s (uuid %x), want nothing", s.GetState(), s.GetTaskId().GetValue(), s.GetUuid())
	case <-time.After(2 * time.Second): // an observation window: nothing may arrive
	}
	if st := r.masterTasks()["quick"]; st[0] != "TASK_FINISHED" {
		t.Errorf("the master lists quick as %q, want TASK_FINISHED", st[0])
	}
}

// A task that ends while its agent is down: the command executor keeps the
// terminal update (it cannot reach the agent), sends it as unacknowledged
// when it resubscribes to the restarted agent, and the framework receives
// TASK_FINISHED exactly once.
func TestAgentSIGKILLTaskEndsWhileAgentDown(t *testing.T) {
	r := startRig(t, rigOptions{})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true, failoverTimeout: 3600})
	o := fw.nextOffer()
	// The task ends when the test writes a line into its fifo.
	task := commandTask("gated", o, sleeperResources, "mkfifo gate && echo $$ > pid && read line < gate")
	if err := fw.client.Launch(ctxT(t), ids(o), []*mesos.TaskInfo{task}, nil); err != nil {
		t.Fatal(err)
	}
	awaitStates(t, fw, []string{"gated"}, mesos.TaskState_TASK_RUNNING)
	var dir string
	waitFor(t, "the task's sandbox in the agent's /state", func() bool {
		dir = r.sandboxes()["gated"]
		return dir != ""
	})
	pid := testutil.WaitPIDFile(t, filepath.Join(dir, "pid"), patience)
	before := r.waitRegistered()
	r.killAgent()

	// Non-blocking, the open fails until the task has the fifo open for
	// reading, and never hangs the test if the task is gone.
	var gate *os.File
	waitFor(t, "the task to open its fifo", func() bool {
		f, err := os.OpenFile(filepath.Join(dir, "gate"), os.O_WRONLY|syscall.O_NONBLOCK, 0)
		gate = f
		return err == nil
	})
	if _, err := gate.WriteString("go\n"); err != nil {
		t.Fatal(err)
	}
	gate.Close()
	waitGone(t, "the task to end while the agent is down", map[string]int{"gated": pid})

	if after := r.startAgent(); after != before {
		t.Fatalf("the restarted agent registered as %s, want its old id %s", after, before)
	}
	finished := awaitStates(t, fw, []string{"gated"}, mesos.TaskState_TASK_FINISHED)["gated"]
	if finished.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR || len(finished.GetUuid()) == 0 {
		t.Errorf("TASK_FINISHED from %s (uuid %x), want the executor's, with a uuid", finished.GetSource(), finished.GetUuid())
	}
	waitFor(t, "the agent to list gated as a completed task", func() bool {
		st := r.agentState()
		for _, f := range slices.Concat(st.Frameworks, st.CompletedFrameworks) {
			for _, ex := range slices.Concat(f.Executors, f.CompletedExecutors) {
				for _, tk := range ex.CompletedTasks {
					if tk.ID == "gated" {
						return true
					}
				}
			}
		}
		return false
	})
	// Acknowledged (the framework acknowledges every update), it is not
	// sent again: the head of a stream is retried after 10 s at the
	// earliest, a duplicate from the executor's resubscription would come
	// at once.
	deadline := time.After(2 * time.Second) // an observation window: no second TASK_FINISHED may arrive
	for {
		select {
		case s := <-fw.updates:
			if s.GetState().IsTerminal() {
				t.Errorf("a second terminal update: %s for %s (uuid %x; first %x)", s.GetState(), s.GetTaskId().GetValue(), s.GetUuid(), finished.GetUuid())
			}
			continue
		case <-deadline:
		}
		break
	}
	waitFor(t, "the master to list gated as finished", func() bool { return r.masterTasks()["gated"][0] == "TASK_FINISHED" })
	r.waitNoContainerProcesses("after the task ended and its update was acknowledged")
}

// SIGTERM makes the agent exit and leave the executors of checkpointing
// frameworks running for the next agent to recover (as Mesos's agent does
// on SIGTERM); the restarted agent finds the tasks RUNNING in the same
// processes.
func TestAgentSIGTERMLeavesTasksForTheNextAgent(t *testing.T) {
	r := startRig(t, rigOptions{})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true, failoverTimeout: 3600})
	_, taskIDs := launchSleepers(t, fw, "task", 3)
	pids := r.commandTaskPIDs(taskIDs)
	before := r.waitRegistered()
	if err := r.agent.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r.agent.wait(t)
	checkAlive(t, pids)
	if after := r.startAgent(); after != before {
		t.Fatalf("the restarted agent registered as %s, want its old id %s", after, before)
	}
	r.waitMasterRunning(before, taskIDs)
	r.waitAgentRunning(taskIDs)
	checkAlive(t, pids)
	reconcileRunning(t, fw, taskIDs)
	noTerminalUpdates(t, fw)
}

// SIGUSR1 shuts the agent down for good: it kills every executor and task,
// whatever the framework's checkpointing, and exits.
func TestAgentSIGUSR1KillsEverything(t *testing.T) {
	r := startRig(t, rigOptions{})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true, failoverTimeout: 3600})
	_, taskIDs := launchSleepers(t, fw, "task", 3)
	pids := r.commandTaskPIDs(taskIDs)
	if err := r.agent.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitGone(t, "every task process to be killed on SIGUSR1", pids)
	r.agent.wait(t)
	r.waitNoContainerProcesses("after SIGUSR1")
}

// A recovered executor that does not resubscribe within
// --executor_reregistration_timeout (here one stopped with SIGSTOP) is
// destroyed with its task, which the agent reports TASK_FAILED with
// REASON_EXECUTOR_REREGISTRATION_TIMEOUT; an executor that does resubscribe
// keeps its task RUNNING. Executors are processes of their own here
// (--command_executor_host=false), so that one can be stopped alone.
func TestAgentRecoveryDestroysExecutorThatDoesNotResubscribe(t *testing.T) {
	r := startRig(t, rigOptions{agentFlags: []string{"--executor_reregistration_timeout=1secs", "--command_executor_host=false"}})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true, failoverTimeout: 3600})
	_, taskIDs := launchSleepers(t, fw, "task", 2)
	pids := r.commandTaskPIDs(taskIDs)
	stuck, healthy := taskIDs[0], taskIDs[1]
	executor := r.executorPID(stuck)
	before := r.waitRegistered()
	r.killAgent()
	if err := syscall.Kill(executor, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if after := r.startAgent(); after != before {
		t.Fatalf("the restarted agent registered as %s, want its old id %s", after, before)
	}
	s := awaitStates(t, fw, []string{stuck}, mesos.TaskState_TASK_LOST)[stuck]
	t.Logf("task %s: %s from %s, reason %s: %s", stuck, s.GetState(), s.GetSource(), s.GetReason(), s.GetMessage())
	if s.GetSource() != mesos.TaskStatus_SOURCE_AGENT || s.GetReason() != mesos.TaskStatus_REASON_EXECUTOR_REREGISTRATION_TIMEOUT {
		t.Errorf("task %s: TASK_LOST from %s with reason %s, want SOURCE_AGENT and REASON_EXECUTOR_REREGISTRATION_TIMEOUT", stuck, s.GetSource(), s.GetReason())
	}
	waitGone(t, "the stuck executor and its task to be destroyed", map[string]int{"executor": executor, "task": pids[stuck]})
	r.waitMasterRunning(before, []string{healthy})
	checkAlive(t, map[string]int{healthy: pids[healthy]})
	reconcileRunning(t, fw, []string{healthy})
}

// --recover=cleanup: the restarted agent kills every executor and task the
// old one left, and then exits (as Mesos's does: "kill any old live
// executors and exit").
func TestAgentRecoverCleanupKillsEverything(t *testing.T) {
	r := startRig(t, rigOptions{})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true, failoverTimeout: 3600})
	_, taskIDs := launchSleepers(t, fw, "task", 3)
	pids := r.commandTaskPIDs(taskIDs)
	r.killAgent()
	checkAlive(t, pids)
	p := r.spawnAgent("--recover=cleanup")
	waitGone(t, "every task process to be killed by the cleanup", pids)
	r.waitNoContainerProcesses("after --recover=cleanup")
	if code := p.wait(t); code != 0 {
		t.Errorf("the agent exited %d after --recover=cleanup, want 0; stderr:\n%s", code, p.stderr.String())
	}
}

// An agent that stays down longer than the executors' recovery timeout
// (--recovery_timeout, MESOS_RECOVERY_TIMEOUT for the executors): the
// executors kill their tasks and exit on their own; the restarted agent
// finds them gone and reports the tasks terminal, from the agent. Mesos's
// SlaveRecoveryTest.RecoverTerminatedExecutor (an executor that ended while
// the agent was down) expects TASK_LOST with
// REASON_EXECUTOR_REREGISTRATION_TIMEOUT: a Mesos agent cannot tell a dead
// executor from a slow one before that timeout. Its (disabled)
// RecoveryTimeout test and the issue expect TASK_FAILED; an agent that
// knows the executor exited (Gomesos's supervisors record it) reports that
// as Mesos reports an executor's end: TASK_FAILED with
// REASON_EXECUTOR_TERMINATED. Either pair is accepted, nothing else.
func TestAgentDownLongerThanRecoveryTimeout(t *testing.T) {
	r := startRig(t, rigOptions{agentFlags: []string{"--recovery_timeout=3secs"}})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true, failoverTimeout: 3600})
	_, taskIDs := launchSleepers(t, fw, "task", 2)
	pids := r.commandTaskPIDs(taskIDs)
	// The executors learn the timeout from their environment.
	envs := r.executorEnv("MESOS_RECOVERY_TIMEOUT")
	if len(envs) != len(taskIDs) {
		t.Fatalf("MESOS_RECOVERY_TIMEOUT of the executors: %v, want one per task", envs)
	}
	for id, v := range envs {
		if d, err := codec.ParseDuration(v); err != nil || d != 3*time.Second {
			t.Errorf("executor %s has MESOS_RECOVERY_TIMEOUT=%q, want 3secs (--recovery_timeout)", id, v)
		}
	}
	if t.Failed() {
		t.FailNow() // they would wait for the agent far longer than the test
	}
	before := r.waitRegistered()
	r.killAgent()
	waitGone(t, "the executors to kill their tasks after the recovery timeout", pids)
	r.waitNoContainerProcesses("while the agent is down past the recovery timeout")
	if after := r.startAgent(); after != before {
		t.Fatalf("the restarted agent registered as %s, want its old id %s", after, before)
	}
	final := map[string]*mesos.TaskStatus{}
	for len(final) < len(taskIDs) {
		s := fw.nextUpdate()
		if s.GetState().IsTerminal() {
			final[s.GetTaskId().GetValue()] = s
		}
	}
	for id, s := range final {
		t.Logf("task %s: %s from %s, reason %s: %s", id, s.GetState(), s.GetSource(), s.GetReason(), s.GetMessage())
		lost := s.GetState() == mesos.TaskState_TASK_LOST && s.GetReason() == mesos.TaskStatus_REASON_EXECUTOR_REREGISTRATION_TIMEOUT
		failed := s.GetState() == mesos.TaskState_TASK_FAILED && s.GetReason() == mesos.TaskStatus_REASON_EXECUTOR_TERMINATED
		if s.GetSource() != mesos.TaskStatus_SOURCE_AGENT || !(lost || failed) {
			t.Errorf("task %s: %s from %s with reason %s, want from SOURCE_AGENT either TASK_LOST with REASON_EXECUTOR_REREGISTRATION_TIMEOUT or TASK_FAILED with REASON_EXECUTOR_TERMINATED",
				id, s.GetState(), s.GetSource(), s.GetReason())
		}
	}
	waitFor(t, "the master to list the tasks in the states the framework was told", func() bool {
		tasks := r.masterTasks()
		for _, id := range taskIDs {
			if tasks[id][0] != final[id].GetState().String() {
				return false
			}
		}
		return true
	})
}

// A checkpoint file truncated as by a torn write: in strict mode (the
// default) the agent refuses to start, names the file and leaves it as it
// is; with --strict=false it starts, registers, and kills the containers
// it can no longer account for.
func TestAgentRefusesTruncatedCheckpoint(t *testing.T) {
	r := startRig(t, rigOptions{})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true, failoverTimeout: 3600})
	_, taskIDs := launchSleepers(t, fw, "task", 1)
	pids := r.commandTaskPIDs(taskIDs)
	before := r.waitRegistered()
	r.killAgent()
	files := r.checkpointFiles()
	if len(files) == 0 {
		t.Fatalf("no checkpoint file under %s", filepath.Join(r.workDir, "meta"))
	}
	// The store (meta/agent.db) if there is one, else the largest file.
	target := files[0]
	for _, f := range files {
		if filepath.Base(f) == "agent.db" {
			target = f
			break
		}
		if size(t, f) > size(t, target) {
			target = f
		}
	}
	truncated := size(t, target) / 2
	if err := os.Truncate(target, truncated); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(r.workDir, target)
	p := r.spawnAgent()
	if code := p.wait(t); code == 0 {
		t.Errorf("the agent exited 0 with %s truncated, want a refusal", rel)
	}
	if msg := p.stderr.String(); !strings.Contains(msg, rel) {
		t.Errorf("the agent's error does not name %s:\n%s", rel, msg)
	} else {
		t.Logf("the agent refused with: %s", lastLine(msg))
	}
	if got := size(t, target); got != truncated {
		t.Errorf("the refusing agent changed %s: %d bytes, was %d", rel, got, truncated)
	}

	// Not strict, the agent sets what it cannot read aside and starts
	// afresh; the containers it can no longer account for are orphans,
	// which it kills (as Mesos's containerizer destroys orphans).
	lenient := r.startAgent("--strict=false")
	t.Logf("with --strict=false and %s truncated the agent registered as %s (before: %s); the master's tasks: %v",
		rel, lenient, before, r.masterTasks())
	waitGone(t, "the orphaned task to be killed", pids)
	r.waitNoContainerProcesses("after a start afresh with --strict=false")
}

// A record of the checkpoint altered on disk (bytes of a stored value
// changed, as by a bad sector or a stray write): the agent detects it and
// refuses to start in strict mode, naming the file, rather than recover
// something else than what it wrote.
func TestAgentRefusesCorruptCheckpointRecord(t *testing.T) {
	r := startRig(t, rigOptions{})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true, failoverTimeout: 3600})
	launchSleepers(t, fw, "task", 1)
	r.killAgent()
	db := filepath.Join(r.workDir, "meta", "agent.db")
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatalf("the checkpoint store: %v", err)
	}
	// The framework's name is in its checkpointed FrameworkInfo; every copy
	// of it in the file (the live record and any stale page) is altered.
	name := []byte("e2e-" + t.Name())
	n := 0
	for i := 0; ; {
		j := bytes.Index(b[i:], name)
		if j < 0 {
			break
		}
		b[i+j] ^= 0x20 // 'e' becomes 'E'
		i += j + len(name)
		n++
	}
	if n == 0 {
		t.Fatalf("the framework's name %q is nowhere in %s", name, db)
	}
	if err := os.WriteFile(db, b, 0o600); err != nil {
		t.Fatal(err)
	}
	p := r.spawnAgent()
	if code := p.wait(t); code == 0 {
		t.Errorf("the agent exited 0 with a corrupt record in meta/agent.db, want a refusal")
	}
	msg := p.stderr.String()
	if !strings.Contains(msg, filepath.Join("meta", "agent.db")) {
		t.Errorf("the agent's error does not name meta/agent.db:\n%s", msg)
	}
	t.Logf("the agent refused with: %s", lastLine(msg))
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func size(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// A framework that does not checkpoint loses its tasks when the agent is
// killed and restarted: the framework learns they are TASK_LOST and their
// processes are gone. Mesos's master sends TASK_LOST with
// REASON_AGENT_DISCONNECTED when the agent's connection breaks; the issue
// names REASON_AGENT_RESTARTED; either is accepted.
func TestAgentSIGKILLNonCheckpointingFrameworkLosesTasks(t *testing.T) {
	r := startRig(t, rigOptions{})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: false})
	_, taskIDs := launchSleepers(t, fw, "task", 2)
	pids := r.commandTaskPIDs(taskIDs)
	r.killAgent()
	r.startAgent()
	for id, s := range awaitStates(t, fw, taskIDs, mesos.TaskState_TASK_LOST) {
		t.Logf("task %s: %s from %s, reason %s: %s", id, s.GetState(), s.GetSource(), s.GetReason(), s.GetMessage())
		if r := s.GetReason(); r != mesos.TaskStatus_REASON_AGENT_RESTARTED && r != mesos.TaskStatus_REASON_AGENT_DISCONNECTED {
			t.Errorf("task %s: TASK_LOST with reason %s, want REASON_AGENT_RESTARTED or REASON_AGENT_DISCONNECTED", id, r)
		}
	}
	waitGone(t, "the non-checkpointing framework's task processes to end", pids)
	r.waitNoContainerProcesses("after the restart, for a framework that does not checkpoint")
	for _, id := range taskIDs {
		if st, ok := r.masterTasks()[id]; ok && st[0] == "TASK_RUNNING" {
			t.Errorf("the master still lists %s RUNNING", id)
		}
	}
}

// An agent restarted with different --resources refuses to recover and
// names the flag; its checkpoint is untouched, so a restart with the old
// flags recovers under the same AgentID.
func TestAgentRefusesChangedResources(t *testing.T) {
	r := startRig(t, rigOptions{})
	before := r.waitRegistered()
	r.killAgent()
	p := r.spawnAgent("--resources=cpus:8;mem:16384;disk:4096;ports:[31000-31100]")
	if code := p.wait(t); code == 0 {
		t.Errorf("the agent exited 0 with changed --resources, want a refusal")
	}
	if msg := p.stderr.String(); !strings.Contains(msg, "--resources") {
		t.Errorf("the agent's error does not name --resources:\n%s", msg)
	} else {
		t.Logf("the agent refused with: %s", lastLine(msg))
	}
	if after := r.startAgent(); after != before {
		t.Errorf("restarted with the old flags the agent registered as %s, want %s", after, before)
	}
}
