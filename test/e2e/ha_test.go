package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/internal/testutil"
)

// High availability, from outside: three `gomesos master --masters=...`
// processes on loopback elect a leader among themselves (Raft, no
// ZooKeeper); an agent and a framework are given all three addresses and
// find the leader. Killing the leader with SIGKILL while the framework
// launches tasks elects another within moments; the agent re-registers
// with it, the framework resubscribes and reconciles, and nothing that ran
// is killed or lost. Their registries are on disk: restarting every master
// restores the admitted agents.

// haCluster is a set of master processes that know each other.
type haCluster struct {
	t     *testing.T
	addrs []string
	dirs  []string
	procs []*proc
	extra []string
}

func startHA(t *testing.T, n int, extra ...string) *haCluster {
	t.Helper()
	h := &haCluster{t: t, extra: extra}
	root := t.TempDir()
	for i := range n {
		h.addrs = append(h.addrs, "127.0.0.1:"+strconv.Itoa(testutil.FreePort(t)))
		h.dirs = append(h.dirs, filepath.Join(root, fmt.Sprintf("master-%d", i)))
	}
	h.procs = make([]*proc, n)
	for i := range n {
		h.start(i)
	}
	return h
}

// list is the masters' addresses as agents and frameworks are given them.
func (h *haCluster) list() string { return strings.Join(h.addrs, ",") }

// start (re)starts master i with the same flags and directory.
func (h *haCluster) start(i int) {
	h.t.Helper()
	_, port, _ := strings.Cut(h.addrs[i], ":")
	args := append([]string{"master", "--ip=127.0.0.1", "--port=" + port, "--masters=" + h.list(),
		"--work_dir=" + h.dirs[i], "--allocation_interval=50ms", "--logging_level=WARNING",
		// Longer than the default: the other test packages share the
		// machine's processors, and a leader that misses its lease under
		// that load would start an election the test did not ask for.
		"--registry_election_timeout=1secs"}, h.extra...)
	h.procs[i] = startProc(h.t, args...)
	h.procs[i].expect(h.t, `listening on`)
}

// kill sends master i SIGKILL and waits for it to be gone.
func (h *haCluster) kill(i int) {
	h.t.Helper()
	_ = h.procs[i].cmd.Process.Signal(syscall.SIGKILL)
	h.procs[i].wait(h.t)
	h.procs[i] = nil
}

// elected reports whether master i says it leads.
func (h *haCluster) elected(i int) bool {
	var m map[string]float64
	if !tryGetJSON("http://"+h.addrs[i]+"/metrics/snapshot", &m) {
		return false
	}
	return m["master/elected"] == 1
}

// leader waits until exactly one running master leads and every running
// master redirects to it; it returns its index.
func (h *haCluster) leader() int {
	h.t.Helper()
	lead := -1
	ok := pollUntil(patience, func() bool {
		lead = -1
		for i, p := range h.procs {
			if p != nil && h.elected(i) {
				if lead >= 0 {
					return false
				}
				lead = i
			}
		}
		if lead < 0 {
			return false
		}
		for i, p := range h.procs {
			if p != nil && redirectOf(h.addrs[i]) != "//"+h.addrs[lead] {
				return false
			}
		}
		return true
	})
	if !ok {
		h.t.Fatalf("no single leader among %v within %v", h.addrs, patience)
	}
	return lead
}

// noRedirects shows a redirect instead of following it.
var noRedirects = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// redirectOf is where /master/redirect of the master at addr points ("" when
// it answers anything but 307).
func redirectOf(addr string) string {
	resp, err := noRedirects.Get("http://" + addr + "/master/redirect")
	if err != nil {
		return ""
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect {
		return ""
	}
	return resp.Header.Get("Location")
}

// haRig is an agent process pointed at every master of h.
func haRig(t *testing.T, h *haCluster, lead int) *recoveryRig {
	t.Helper()
	workDir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &recoveryRig{t: t, workDir: workDir, masterAddr: h.list(), masterURL: "http://" + h.addrs[lead]}
	t.Cleanup(r.sweep)
	r.agentArgs = []string{"agent",
		"--master=" + h.list(),
		"--ip=127.0.0.1",
		"--port=" + strconv.Itoa(testutil.FreePort(t)),
		"--work_dir=" + workDir,
		"--resources=cpus:16;mem:16384;disk:4096;ports:[31000-31100]",
		// These tests are about masters: no cgroups, which an agent
		// killed at the end would leave below the tests' shared root.
		"--isolation=posix/cpu,posix/mem",
		"--logging_level=INFO",
	}
	r.startAgent()
	return r
}

func TestHAMastersFailOverWithoutLosingTasks(t *testing.T) {
	h := startHA(t, 3)
	lead := h.leader()
	r := haRig(t, h, lead)
	agentID := r.waitRegistered()

	fw := startFrameworkAt(t, h.list(), frameworkOptions{checkpoint: true, failoverTimeout: 3600})
	_, before := launchSleepers(t, fw, "before", 3)
	pids := r.commandTaskPIDs(before)
	frameworkID := fw.client.FrameworkID()

	// The leader dies while the framework launches more tasks.
	o := fw.nextOffer()
	var during []string
	var tasks []*mesos.TaskInfo
	for i := range 3 {
		ti := commandTask(fmt.Sprintf("during-%02d", i), o, sleeperResources, sleeperCmd)
		tasks = append(tasks, ti)
		during = append(during, ti.GetTaskId().GetValue())
	}
	launched := make(chan error, 1)
	go func() { launched <- fw.client.Launch(ctxT(t), ids(o), tasks, nil) }()
	h.kill(lead)
	<-launched // taken or not: reconciliation below says which

	newLead := h.leader()
	if newLead == lead {
		t.Fatalf("the killed master %s still leads", h.addrs[lead])
	}
	r.masterURL = "http://" + h.addrs[newLead]
	if id := r.waitRegistered(); id != agentID {
		t.Fatalf("the agent re-registered as %s, want its id %s", id, agentID)
	}
	waitFor(t, "the framework to resubscribe with the new leader", func() bool {
		var st struct {
			Frameworks []struct {
				ID        string `json:"id"`
				Connected bool   `json:"connected"`
				Active    bool   `json:"active"`
			} `json:"frameworks"`
		}
		if !tryGetJSON(r.masterURL+"/master/frameworks", &st) {
			return false
		}
		return len(st.Frameworks) == 1 && st.Frameworks[0].ID == frameworkID && st.Frameworks[0].Connected && st.Frameworks[0].Active
	})

	// Reconciliation: the tasks that ran before run on; each launched
	// during the failover either runs or was never launched.
	all := append(append([]string(nil), before...), during...)
	states := reconcileUntilAnswered(t, fw, agentID, all)
	for _, id := range before {
		if states[id] != mesos.TaskState_TASK_RUNNING {
			t.Errorf("task %s is %s after the failover, want TASK_RUNNING", id, states[id])
		}
	}
	for _, id := range during {
		if s := states[id]; s != mesos.TaskState_TASK_RUNNING && s != mesos.TaskState_TASK_LOST {
			t.Errorf("task %s launched during the failover is %s, want TASK_RUNNING (or TASK_LOST if the launch never reached the agent)", id, s)
		}
	}
	checkAlive(t, pids)

	// The killed master comes back from its disk as a follower.
	h.start(lead)
	if again := h.leader(); again != newLead {
		t.Errorf("after the old leader rejoined, %s leads, want %s still", h.addrs[again], h.addrs[newLead])
	}
	checkAlive(t, pids)
}

// reconcileUntilAnswered reconciles taskIDs until each has an answer (a
// master still waiting for the task's agent to re-register does not
// answer) and returns the latest state of each.
func reconcileUntilAnswered(t *testing.T, fw *framework, agentID string, taskIDs []string) map[string]mesos.TaskState {
	t.Helper()
	states := map[string]mesos.TaskState{}
	ok := pollUntil(patience, func() bool {
		var req []*schedpb.Call_Reconcile_Task
		for _, id := range taskIDs {
			req = append(req, &schedpb.Call_Reconcile_Task{TaskId: &mesos.TaskID{Value: ptr(id)}, AgentId: &mesos.AgentID{Value: ptr(agentID)}})
		}
		if err := fw.client.Reconcile(ctxT(t), req); err != nil {
			return false
		}
		for len(states) < len(taskIDs) {
			s, ok := fw.tryNextUpdate(patience / 10)
			if !ok {
				return false
			}
			states[s.GetTaskId().GetValue()] = s.GetState()
		}
		return true
	})
	if !ok {
		t.Fatalf("reconciliation answered only %v of %v", states, taskIDs)
	}
	return states
}

// Every master killed and restarted from its disk: the registry they
// replicated comes back whole. The new leader knows the agent it admitted
// before (listed among recovered_slaves while it is away), and takes it
// back under its id when it returns.
func TestHARegistrySurvivesARestartOfEveryMaster(t *testing.T) {
	h := startHA(t, 3)
	lead := h.leader()
	r := haRig(t, h, lead)
	agentID := r.waitRegistered()
	r.killAgent()
	for i := range h.procs {
		h.kill(i)
	}
	for i := range h.procs {
		h.start(i)
	}
	lead = h.leader()
	r.masterURL = "http://" + h.addrs[lead]
	var st struct {
		Recovered []struct {
			ID string `json:"id"`
		} `json:"recovered_slaves"`
	}
	getJSON(t, r.masterURL+"/master/slaves", &st)
	if len(st.Recovered) != 1 || st.Recovered[0].ID != agentID {
		t.Fatalf("after restarting every master, recovered_slaves = %+v, want the agent %s", st.Recovered, agentID)
	}
	r.startAgent()
	if id := r.waitRegistered(); id != agentID {
		t.Fatalf("the agent came back as %s, want %s", id, agentID)
	}
}

// tryGetJSON GETs url and decodes it, reporting whether that worked (a
// master that is down or restarting does not answer).
func tryGetJSON(url string, v any) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	return json.NewDecoder(resp.Body).Decode(v) == nil
}

// tryNextUpdate waits up to d for a status update.
func (fw *framework) tryNextUpdate(d time.Duration) (*mesos.TaskStatus, bool) {
	select {
	case s := <-fw.updates:
		return s, true
	case <-time.After(d):
		return nil, false
	}
}

// One master, killed with SIGKILL and restarted with the same flags,
// recovers its registry from --work_dir: the agent it admitted is
// expected back (recovered_slaves) and re-registers under its id with its
// tasks, which keep running; the framework resubscribes with its id and
// reconciles them as running.
func TestLoneMasterRestartsFromItsRegistry(t *testing.T) {
	h := startHA(t, 1)
	lead := h.leader()
	r := haRig(t, h, lead)
	agentID := r.waitRegistered()
	fw := startFrameworkAt(t, h.list(), frameworkOptions{checkpoint: true, failoverTimeout: 3600})
	_, tasks := launchSleepers(t, fw, "sleeper", 3)
	pids := r.commandTaskPIDs(tasks)
	frameworkID := fw.client.FrameworkID()

	h.kill(0)
	h.start(0)
	h.leader()
	if id := r.waitRegistered(); id != agentID {
		t.Fatalf("the agent re-registered as %s, want %s", id, agentID)
	}
	states := reconcileUntilAnswered(t, fw, agentID, tasks)
	for _, id := range tasks {
		if states[id] != mesos.TaskState_TASK_RUNNING {
			t.Errorf("task %s is %s after the master's restart, want TASK_RUNNING", id, states[id])
		}
	}
	if got := fw.client.FrameworkID(); got != frameworkID {
		t.Errorf("the framework is %s after the master's restart, want %s", got, frameworkID)
	}
	checkAlive(t, pids)
}
