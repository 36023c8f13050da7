package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/internal/testutil"
)

// The agent recovery tests run a gomesos master and a gomesos agent as real
// processes, kill the agent with SIGKILL (no goodbye, no cleanup) and start
// it again with the same flags, as an operator's process supervisor would.
// Everything they check is observable from outside: the master's and the
// agent's endpoints, the framework's events and /proc.

// recoveryRig is a master process and one agent process, the agent's work
// directory, and the flags the agent is (re)started with.
type recoveryRig struct {
	t          *testing.T
	masterURL  string
	masterAddr string
	workDir    string
	// agentArgs are the agent's subcommand and flags, the same at every
	// start unless a test overrides one.
	agentArgs []string
	agent     *proc
	agentAddr string
}

type rigOptions struct {
	// resources of the agent; a roomy default.
	resources string
	// agentFlags are added to the agent's flags at every start.
	agentFlags []string
}

// startRig starts a master process and an agent process and waits for the
// agent to register.
func startRig(t *testing.T, opts rigOptions) *recoveryRig {
	t.Helper()
	workDir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &recoveryRig{t: t, workDir: workDir}
	// Registered before the processes are started, so run after they are
	// killed: whatever the agent left running (executors outlive it by
	// design) is killed too, and the work directory can be removed.
	t.Cleanup(r.sweep)
	mst := startProc(t, "master", "--port=0", "--work_dir="+filepath.Join(t.TempDir(), "master"), "--allocation_interval=50ms", "--logging_level=WARNING")
	r.masterURL = mst.expect(t, `listening on (http://\S+)`)[1]
	r.masterAddr = strings.TrimPrefix(r.masterURL, "http://")
	if opts.resources == "" {
		opts.resources = "cpus:16;mem:16384;disk:4096;ports:[31000-31100]"
	}
	r.agentArgs = append([]string{"agent",
		"--master=" + r.masterAddr,
		"--ip=127.0.0.1",
		"--port=" + strconv.Itoa(testutil.FreePort(t)),
		"--work_dir=" + workDir,
		"--resources=" + opts.resources,
		"--logging_level=INFO",
	}, opts.agentFlags...)
	r.startAgent()
	return r
}

// withFlags returns args with each of flags ("--name=value") replacing the
// flag of that name, or added.
func withFlags(args []string, flags ...string) []string {
	out := slices.Clone(args)
	for _, f := range flags {
		name, _, _ := strings.Cut(f, "=")
		i := slices.IndexFunc(out, func(a string) bool { return a == name || strings.HasPrefix(a, name+"=") })
		if i >= 0 {
			out[i] = f
		} else {
			out = append(out, f)
		}
	}
	return out
}

// spawnAgent starts the agent process with the rig's flags, overridden by
// flags, without waiting for anything.
func (r *recoveryRig) spawnAgent(flags ...string) *proc {
	r.t.Helper()
	r.agent = startProc(r.t, withFlags(r.agentArgs, flags...)...)
	return r.agent
}

// startAgent starts the agent process and waits until it listens and the
// master lists it as an active agent; it returns the agent's id.
func (r *recoveryRig) startAgent(flags ...string) string {
	r.t.Helper()
	p := r.spawnAgent(flags...)
	r.agentAddr = strings.TrimPrefix(p.expect(r.t, `Agent listening on (http://\S+)`)[1], "http://")
	return r.waitRegistered()
}

// waitRegistered waits until the agent's /state has an id and the master
// lists that agent as active; it returns the id.
func (r *recoveryRig) waitRegistered() string {
	r.t.Helper()
	var id string
	var slaves []masterSlave
	ok := pollUntil(patience, func() bool {
		var st struct {
			ID string `json:"id"`
		}
		getJSON(r.t, "http://"+r.agentAddr+"/state", &st)
		slaves = r.masterSlaves()
		if st.ID == "" {
			return false
		}
		for _, s := range slaves {
			if s.ID == st.ID && s.Active {
				id = st.ID
				return true
			}
		}
		return false
	})
	if !ok {
		r.t.Fatalf("the agent at %s is not registered and active after %v; the master lists %s", r.agentAddr, patience, jsonString(slaves))
	}
	return id
}

type masterSlave struct {
	ID     string `json:"id"`
	Active bool   `json:"active"`
	// UsedResources holds numbers and, for ports, a ranges string.
	UsedResources map[string]any `json:"used_resources"`
}

// scalarsOf keeps the scalar resources (cpus, mem, disk) of a legacy
// resources object.
func scalarsOf(m map[string]any) map[string]float64 {
	out := map[string]float64{}
	for _, k := range []string{"cpus", "mem", "disk"} {
		out[k], _ = m[k].(float64)
	}
	return out
}

// masterSlaves is the master's /master/slaves list.
func (r *recoveryRig) masterSlaves() []masterSlave {
	r.t.Helper()
	var sl struct {
		Slaves []masterSlave `json:"slaves"`
	}
	getJSON(r.t, r.masterURL+"/master/slaves", &sl)
	return sl.Slaves
}

// killAgent kills the agent process with SIGKILL and waits for it to be
// gone.
func (r *recoveryRig) killAgent() {
	r.t.Helper()
	if err := r.agent.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		r.t.Fatalf("killing the agent: %v", err)
	}
	r.agent.wait(r.t)
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// agentPID is the pid of the agent process running now.
func (r *recoveryRig) agentPID() int { return r.agent.cmd.Process.Pid }

// sweep kills every process left that belongs to the agent's containers.
func (r *recoveryRig) sweep() {
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := containerProcesses(r.workDir, 0)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Errorf("processes of the agent's containers survive SIGKILL: %v", left)
			return
		}
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond) // polling for the kills to land, bounded by the deadline
	}
}

// containerProcesses lists the live processes, other than exclude, that belong
// to a work directory: their command line, working directory or
// environment names it. That covers the agent's supervisors (their
// runtime directory is on their command line), executors (MESOS_SANDBOX,
// MESOS_DIRECTORY) and tasks (they run in their sandboxes), whatever the
// agent's own records say.
func containerProcesses(dir string, exclude int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == exclude || pid == os.Getpid() || testutil.ProcessGone(pid) {
			continue
		}
		base := "/proc/" + e.Name()
		cwd, _ := os.Readlink(base + "/cwd")
		cmd, _ := os.ReadFile(base + "/cmdline")
		env, _ := os.ReadFile(base + "/environ")
		if cwd == dir || strings.HasPrefix(cwd, dir+"/") || names(cmd, dir) || names(env, dir) {
			out = append(out, pid)
		}
	}
	return out
}

// names reports whether a NUL-separated list holds dir or a path under it.
func names(list []byte, dir string) bool {
	s := string(list)
	return strings.Contains(s, dir+"/") || strings.Contains(s, dir+"\x00") || strings.HasSuffix(s, dir)
}

// executorEnv maps the id of each executor running in the agent's
// containers to the value of the environment variable name in its
// processes (those with its MESOS_EXECUTOR_ID in their environment: the
// executor, and the tasks that inherit it), "" when unset; processes of
// one executor that disagree are all reported, joined by "|".
func (r *recoveryRig) executorEnv(name string) map[string]string {
	r.t.Helper()
	out := map[string]string{}
	for _, pid := range containerProcesses(r.workDir, r.agentPID()) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil {
			continue
		}
		var id, val string
		hasID := false
		for _, v := range strings.Split(string(b), "\x00") {
			if x, ok := strings.CutPrefix(v, "MESOS_EXECUTOR_ID="); ok {
				id, hasID = x, true
			}
			if x, ok := strings.CutPrefix(v, name+"="); ok {
				val = x
			}
		}
		if !hasID {
			continue
		}
		if old, seen := out[id]; seen && old != val {
			val = old + "|" + val
		}
		out[id] = val
	}
	return out
}

// executorPID is the pid of the executor process of the command task
// whose executor is id: the process with MESOS_EXECUTOR_ID=id in its
// environment that is neither the container's supervisor nor the task.
func (r *recoveryRig) executorPID(id string) int {
	r.t.Helper()
	var found []int
	for _, pid := range containerProcesses(r.workDir, r.agentPID()) {
		env, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if !slices.Contains(strings.Split(string(env), "\x00"), "MESOS_EXECUTOR_ID="+id) ||
			strings.Contains(string(cmd), "\x00_supervise\x00") ||
			strings.HasPrefix(string(cmd), "sleep\x00") || strings.HasPrefix(string(cmd), "sh\x00") {
			continue
		}
		found = append(found, pid)
	}
	if len(found) != 1 {
		r.t.Fatalf("executor %s: want one process, found %s", id, describe(found))
	}
	return found[0]
}

// describe names processes for messages.
func describe(pids []int) string {
	var parts []string
	for _, pid := range pids {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		parts = append(parts, fmt.Sprintf("%d (%s)", pid, strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))))
	}
	return strings.Join(parts, ", ")
}

// sleeperCmd writes the task's pid into pid in its sandbox and sleeps
// under that same pid.
const sleeperCmd = "echo $$ > pid; exec sleep 1000"

// sleeperResources are each sleeper task's resources.
const sleeperResources = "cpus:0.05;mem:16"

// launchSleepers launches n sleeper command tasks named prefix-NN on the
// next offer and waits until every one is RUNNING; it returns their ids.
func launchSleepers(t *testing.T, fw *framework, prefix string, n int) (agentID *mesos.AgentID, taskIDs []string) {
	t.Helper()
	o := fw.nextOffer()
	tasks := make([]*mesos.TaskInfo, n)
	for i := range tasks {
		tasks[i] = commandTask(fmt.Sprintf("%s-%02d", prefix, i), o, sleeperResources, sleeperCmd)
		taskIDs = append(taskIDs, tasks[i].GetTaskId().GetValue())
	}
	if err := fw.client.Launch(ctxT(t), ids(o), tasks, nil); err != nil {
		t.Fatal(err)
	}
	awaitStates(t, fw, taskIDs, mesos.TaskState_TASK_RUNNING)
	return o.GetAgentId(), taskIDs
}

// awaitStates reads updates until each of taskIDs reached want; any other
// terminal update fails the test.
func awaitStates(t *testing.T, fw *framework, taskIDs []string, want mesos.TaskState) map[string]*mesos.TaskStatus {
	t.Helper()
	pending := map[string]bool{}
	for _, id := range taskIDs {
		pending[id] = true
	}
	got := map[string]*mesos.TaskStatus{}
	for len(pending) > 0 {
		s := fw.nextUpdate()
		id := s.GetTaskId().GetValue()
		switch {
		case s.GetState() == want && pending[id]:
			delete(pending, id)
			got[id] = s
		case s.GetState().IsTerminal() && s.GetState() != want:
			t.Fatalf("task %s: unexpected %s (reason %s, source %s): %s", id, s.GetState(), s.GetReason(), s.GetSource(), s.GetMessage())
		}
	}
	return got
}

// agentState is the part of an agent's /state the recovery tests read.
type agentState struct {
	ID         string           `json:"id"`
	Frameworks []agentFramework `json:"frameworks"`
	// CompletedFrameworks have no executor left.
	CompletedFrameworks []agentFramework `json:"completed_frameworks"`
}

type agentFramework struct {
	ID        string          `json:"id"`
	Executors []agentExecutor `json:"executors"`
	// CompletedExecutors have terminated.
	CompletedExecutors []agentExecutor `json:"completed_executors"`
}

type agentExecutor struct {
	ID             string      `json:"id"`
	Directory      string      `json:"directory"`
	Tasks          []agentTask `json:"tasks"`
	CompletedTasks []agentTask `json:"completed_tasks"`
}

type agentTask struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

func (r *recoveryRig) agentState() agentState {
	r.t.Helper()
	var st agentState
	getJSON(r.t, "http://"+r.agentAddr+"/state", &st)
	return st
}

// sandboxes maps the ids of the agent's live executors to their sandboxes.
func (r *recoveryRig) sandboxes() map[string]string {
	r.t.Helper()
	out := map[string]string{}
	for _, fw := range r.agentState().Frameworks {
		for _, ex := range fw.Executors {
			out[ex.ID] = ex.Directory
		}
	}
	return out
}

// commandTaskPIDs reads the pid of each sleeper command task (whose
// executor has the task's id) from its sandbox.
func (r *recoveryRig) commandTaskPIDs(taskIDs []string) map[string]int {
	r.t.Helper()
	var dirs map[string]string
	waitFor(r.t, "every task's executor in the agent's /state", func() bool {
		dirs = r.sandboxes()
		for _, id := range taskIDs {
			if dirs[id] == "" {
				return false
			}
		}
		return true
	})
	pids := map[string]int{}
	for _, id := range taskIDs {
		pids[id] = sleeperPID(r.t, filepath.Join(dirs[id], "pid"))
	}
	return pids
}

// sleeperPID reads a sleeper task's pid file and waits until the shell
// that wrote it has become the sleep.
func sleeperPID(t *testing.T, path string) int {
	t.Helper()
	pid := testutil.WaitPIDFile(t, path, patience)
	waitFor(t, fmt.Sprintf("process %d (%s) to exec sleep", pid, path), func() bool {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		return strings.HasPrefix(string(b), "sleep\x00") || testutil.ProcessGone(pid)
	})
	return pid
}

// checkAlive fails the test for each task whose process is gone or is no
// longer the sleep it was.
func checkAlive(t *testing.T, pids map[string]int) {
	t.Helper()
	for id, pid := range pids {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if testutil.ProcessGone(pid) || !strings.HasPrefix(string(b), "sleep\x00") {
			t.Errorf("task %s: process %d is gone (cmdline %q)", id, pid, b)
		}
	}
}

// waitGone waits until every process in pids has ended.
func waitGone(t *testing.T, what string, pids map[string]int) {
	t.Helper()
	waitFor(t, what, func() bool {
		for _, pid := range pids {
			if !testutil.ProcessGone(pid) {
				return false
			}
		}
		return true
	})
}

// waitNoContainerProcesses waits until no process belongs to the agent's
// containers any more (the agent itself aside).
func (r *recoveryRig) waitNoContainerProcesses(what string) {
	r.t.Helper()
	var left []int
	ok := pollUntil(patience, func() bool {
		exclude := 0
		if r.agent != nil && !r.agent.exited() {
			exclude = r.agentPID()
		}
		left = containerProcesses(r.workDir, exclude)
		return len(left) == 0
	})
	if !ok {
		r.t.Fatalf("%s: processes of the agent's containers still running after %v: %s", what, patience, describe(left))
	}
}

// pollUntil checks cond until it holds or timeout passes.
func pollUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, bounded by the deadline
	}
}

// masterTaskStates maps the master's tasks to their states and agents.
func (r *recoveryRig) masterTasks() map[string][2]string {
	r.t.Helper()
	var tasks struct {
		Tasks []struct {
			ID      string `json:"id"`
			State   string `json:"state"`
			SlaveID string `json:"slave_id"`
		} `json:"tasks"`
	}
	getJSON(r.t, r.masterURL+"/master/tasks?limit=1000", &tasks)
	out := map[string][2]string{}
	for _, tk := range tasks.Tasks {
		out[tk.ID] = [2]string{tk.State, tk.SlaveID}
	}
	return out
}

// waitMasterRunning waits until the master lists every task RUNNING on
// agentID.
func (r *recoveryRig) waitMasterRunning(agentID string, taskIDs []string) {
	r.t.Helper()
	var tasks map[string][2]string
	ok := pollUntil(patience, func() bool {
		tasks = r.masterTasks()
		for _, id := range taskIDs {
			if tasks[id] != [2]string{"TASK_RUNNING", agentID} {
				return false
			}
		}
		return true
	})
	if !ok {
		r.t.Fatalf("the master does not list every task RUNNING on agent %s: %v", agentID, tasks)
	}
}

// waitAgentRunning waits until the agent's /state lists every task RUNNING.
func (r *recoveryRig) waitAgentRunning(taskIDs []string) {
	r.t.Helper()
	var states map[string]string
	ok := pollUntil(patience, func() bool {
		states = map[string]string{}
		for _, fw := range r.agentState().Frameworks {
			for _, ex := range fw.Executors {
				for _, tk := range ex.Tasks {
					states[tk.ID] = tk.State
				}
			}
		}
		for _, id := range taskIDs {
			if states[id] != "TASK_RUNNING" {
				return false
			}
		}
		return true
	})
	if !ok {
		r.t.Fatalf("the agent's /state does not list every task RUNNING: %v", states)
	}
}

// reconcileRunning asks the master for every task of the framework
// (implicit reconciliation) and checks that each of taskIDs is answered
// RUNNING; updates that are not answers are passed over, but a terminal
// one fails the test.
func reconcileRunning(t *testing.T, fw *framework, taskIDs []string) {
	t.Helper()
	if err := fw.client.Reconcile(ctxT(t), nil); err != nil {
		t.Fatal(err)
	}
	answers := map[string]mesos.TaskState{}
	for len(answers) < len(taskIDs) {
		s := fw.nextUpdate()
		if s.GetState().IsTerminal() {
			t.Fatalf("task %s: %s (reason %s) while reconciling", s.GetTaskId().GetValue(), s.GetState(), s.GetReason())
		}
		if s.GetReason() == mesos.TaskStatus_REASON_RECONCILIATION {
			answers[s.GetTaskId().GetValue()] = s.GetState()
		}
	}
	for _, id := range taskIDs {
		if answers[id] != mesos.TaskState_TASK_RUNNING {
			t.Errorf("reconciliation answers %s for task %s, want TASK_RUNNING", answers[id], id)
		}
	}
}

// noTerminalUpdates fails the test for each terminal update the framework
// has received and not yet read.
func noTerminalUpdates(t *testing.T, fw *framework) {
	t.Helper()
	for {
		select {
		case s := <-fw.updates:
			if s.GetState().IsTerminal() {
				t.Errorf("the framework saw %s for task %s (reason %s, source %s): %s",
					s.GetState(), s.GetTaskId().GetValue(), s.GetReason(), s.GetSource(), s.GetMessage())
			}
		default:
			return
		}
	}
}

// noFailureEvents fails the test for each FAILURE event the framework has
// received and not yet read (an executor or agent it lost).
func noFailureEvents(t *testing.T, fw *framework) {
	t.Helper()
	for {
		select {
		case ev := <-fw.events:
			if ev.GetType() == schedpb.Event_FAILURE {
				t.Errorf("the framework saw FAILURE %v", ev.GetFailure())
			}
		default:
			return
		}
	}
}

// checkpointFiles lists the regular files under the agent's meta directory.
func (r *recoveryRig) checkpointFiles() []string {
	r.t.Helper()
	var files []string
	_ = filepath.WalkDir(filepath.Join(r.workDir, "meta"), func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	return files
}

// jsonString is v as JSON, for messages.
func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
