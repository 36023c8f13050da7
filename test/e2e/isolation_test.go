package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomesos/gomesos/agent/containerizer"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/testutil"
)

// The isolation tests run a gomesos master and agent as processes, with the
// agent's default isolation (cgroups where it can write them), and check
// from outside, in the cgroup filesystem and /proc, what the issue asks:
// a task over its memory dies alone, a task's CPU is capped, a fork bomb is
// held by its pids limit, and nothing of any container is left behind.

// needCgroupsV1 skips the test unless this host has writable cgroups v1
// (where the agent's default isolation is cgroups), and returns the mounts.
func needCgroupsV1(t *testing.T) containerizer.CgroupHost {
	t.Helper()
	host, err := containerizer.DetectCgroups()
	if err == nil {
		err = containerizer.CgroupsWritable(host, os.Getenv("MESOS_CGROUPS_ROOT"))
	}
	if err != nil {
		t.Skipf("skipping: the agent cannot use cgroups here: %v", err)
	}
	if host.Version != 1 {
		t.Skip("skipping: these checks read cgroups v1 files; this host has cgroups v2")
	}
	return host
}

// cgroupOf is the path of pid's cgroup in the v1 hierarchy of controller,
// relative to the hierarchy's root.
func cgroupOf(t *testing.T, pid int, controller string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && (parts[1] == controller || strings.Contains(","+parts[1]+",", ","+controller+",")) {
			return parts[2]
		}
	}
	t.Fatalf("process %d is in no %s cgroup", pid, controller)
	return ""
}

func readInt(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return n
}

// launchSleeper launches a command task that writes its pid to the file
// "pid" in its sandbox and becomes a sleep, and returns the sleep's pid
// once it runs.
func launchSleeper(t *testing.T, r *recoveryRig, fw *framework, id, res string) int {
	t.Helper()
	o := fw.nextOffer()
	task := commandTask(id, o, res, `echo $$ > pid; exec sleep 1000`)
	if err := fw.client.Accept(ctxT(t), ids(o), []*mesos.Offer_Operation{launch(task)}, nil); err != nil {
		t.Fatal(err)
	}
	waitState(t, fw, id, mesos.TaskState_TASK_RUNNING)
	return r.commandTaskPIDs([]string{id})[id]
}

func launch(tasks ...*mesos.TaskInfo) *mesos.Offer_Operation {
	return &mesos.Offer_Operation{Type: mesos.Offer_Operation_LAUNCH.Enum(), Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks}}
}

// waitState reads the framework's updates until task id reaches state,
// failing on a terminal state that is not it.
func waitState(t *testing.T, fw *framework, id string, state mesos.TaskState) *mesos.TaskStatus {
	t.Helper()
	for {
		st := fw.nextUpdate()
		if st.GetTaskId().GetValue() != id {
			continue
		}
		if st.GetState() == state {
			return st
		}
		if st.GetState().IsTerminal() {
			t.Fatalf("task %s ended %s (%s: %q), want %s", id, st.GetState(), st.GetReason(), st.GetMessage(), state)
		}
	}
}

// `gomesos execute` of a task that allocates far beyond its mem ends
// TASK_FAILED with REASON_CONTAINER_LIMITATION_MEMORY from the agent, while
// a neighbour on the same agent keeps running in a cgroup of its own; after
// the run, no cgroup and no process of either container is left.
func TestIsolationMemoryHogDiesAloneThroughExecute(t *testing.T) {
	host := needCgroupsV1(t)
	r := startRig(t, rigOptions{})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{})
	neighbour := launchSleeper(t, r, fw, "neighbour", "cpus:0.1;mem:32")
	nbCgroup := cgroupOf(t, neighbour, "memory")
	if !strings.Contains(nbCgroup, "/"+os.Getenv("MESOS_CGROUPS_ROOT")+"/") {
		t.Fatalf("the neighbour runs in memory cgroup %s, not one below the agent's root %s", nbCgroup, os.Getenv("MESOS_CGROUPS_ROOT"))
	}
	// 32 MiB for the task and the command executor's 32 MiB.
	if got := readInt(t, filepath.Join(host.Mounts["memory"], nbCgroup, "memory.limit_in_bytes")); got != 64<<20 {
		t.Errorf("the neighbour's memory limit is %d, want %d", got, 64<<20)
	}
	if err := fw.client.Decline(ctxT(t), ids(fw.nextOffer()), time.Hour); err != nil {
		t.Fatal(err)
	}

	// perl is part of every Debian system (perl-base); it fills a 512 MiB
	// string in user space, so the kernel's OOM killer, not a failed
	// allocation inside a system call, ends it.
	exec := startProc(t, "execute", "--master="+r.masterAddr, "--name=hog",
		"--resources=cpus:0.1;mem:64", `--command=perl -e '$x = "x" x (512 << 20); print length($x)'`)
	code := exec.wait(t)
	out := exec.stdout.all.String()
	if code == 0 || !strings.Contains(out, "TASK_FAILED") || !strings.Contains(out, "reason: REASON_CONTAINER_LIMITATION_MEMORY") ||
		!strings.Contains(out, "source: SOURCE_AGENT") || !strings.Contains(out, "Memory limit exceeded: Requested: 96MB") {
		t.Fatalf("gomesos execute exited %d with:\n%s\nwant TASK_FAILED REASON_CONTAINER_LIMITATION_MEMORY from the agent naming the 96MB limit", code, out)
	}

	checkAlive(t, map[string]int{"neighbour": neighbour})
	if got := cgroupOf(t, neighbour, "memory"); got != nbCgroup {
		t.Errorf("the neighbour moved from cgroup %s to %s", nbCgroup, got)
	}
	// The hog's cgroup is gone; the neighbour's is the only one left below
	// the agent's root.
	waitFor(t, "the hog's cgroup to be removed", func() bool {
		entries, _ := os.ReadDir(filepath.Dir(filepath.Join(host.Mounts["memory"], nbCgroup)))
		n := 0
		for _, e := range entries {
			if e.IsDir() {
				n++
			}
		}
		return n == 1
	})

	if err := fw.client.Kill(ctxT(t), &mesos.TaskID{Value: ptr("neighbour")}, nil); err != nil {
		t.Fatal(err)
	}
	waitState(t, fw, "neighbour", mesos.TaskState_TASK_KILLED)
	r.waitNoContainerProcesses("after the neighbour was killed")
	for _, c := range []string{"memory", "cpu", "pids", "freezer"} {
		dir := filepath.Join(host.Mounts[c], nbCgroup)
		waitFor(t, "the neighbour's "+c+" cgroup to be removed", func() bool {
			_, err := os.Stat(dir)
			return os.IsNotExist(err)
		})
	}
}

// With --cgroups_enable_cfs, a cpu-bound task with cpus:0.5 (0.6 with the
// command executor's 0.1) gets a CFS quota of 60ms per 100ms and uses no
// more than that, measured from its cgroup's cpuacct.usage.
func TestIsolationCFSCapsACPUBoundTask(t *testing.T) {
	host := needCgroupsV1(t)
	r := startRig(t, rigOptions{agentFlags: []string{"--cgroups_enable_cfs"}})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{})
	o := fw.nextOffer()
	task := commandTask("spin", o, "cpus:0.5;mem:32", `echo $$ > pid; exec sh -c 'while :; do :; done'`)
	if err := fw.client.Accept(ctxT(t), ids(o), []*mesos.Offer_Operation{launch(task)}, nil); err != nil {
		t.Fatal(err)
	}
	waitState(t, fw, "spin", mesos.TaskState_TASK_RUNNING)
	pid := testutil.WaitPIDFile(t, filepath.Join(r.sandboxes()["spin"], "pid"), patience)
	cpu := filepath.Join(host.Mounts["cpu"], cgroupOf(t, pid, "cpu"))
	if got := readInt(t, filepath.Join(cpu, "cpu.cfs_quota_us")); got != 60000 {
		t.Errorf("cpu.cfs_quota_us = %d, want 60000 (0.6 cpus)", got)
	}
	if got := readInt(t, filepath.Join(cpu, "cpu.shares")); got != 614 {
		t.Errorf("cpu.shares = %d, want 614 (0.6 x 1024)", got)
	}
	usage := filepath.Join(host.Mounts["cpuacct"], cgroupOf(t, pid, "cpuacct"), "cpuacct.usage")
	before, start := readInt(t, usage), time.Now()
	time.Sleep(2 * time.Second) // the measurement window
	cores := float64(readInt(t, usage)-before) / float64(time.Since(start).Nanoseconds())
	t.Logf("a spinning task with cpus:0.5 (0.6 with its executor) and CFS used %.2f cores", cores)
	// The quota is a ceiling; a loaded machine may give less.
	if cores > 0.7 || cores < 0.05 {
		t.Errorf("used %.2f cores, want at most 0.6", cores)
	}
	if err := fw.client.Kill(ctxT(t), &mesos.TaskID{Value: ptr("spin")}, nil); err != nil {
		t.Fatal(err)
	}
	waitState(t, fw, "spin", mesos.TaskState_TASK_KILLED)
	r.waitNoContainerProcesses("after the spinner was killed")
}

// A fork bomb fills its container's pids limit and no more; the agent keeps
// answering and launches a neighbour meanwhile; killing the bomb's task
// ends every process it made, however many, and removes its cgroups.
func TestIsolationForkBombHeldByPidsLimit(t *testing.T) {
	host := needCgroupsV1(t)
	const max = 200
	r := startRig(t, rigOptions{agentFlags: []string{"--cgroups_enable_cfs", "--cgroups_pids_max=" + strconv.Itoa(max)}})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{capabilities: []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_TASK_KILLING_STATE}})
	o := fw.nextOffer()
	bomb := commandTask("bomb", o, "cpus:0.2;mem:256", `echo $$ > pid; bomb() { bomb | bomb & }; bomb; exec sleep 1000`)
	if err := fw.client.Accept(ctxT(t), ids(o), []*mesos.Offer_Operation{launch(bomb)}, &mesos.Filters{RefuseSeconds: ptr(0.0)}); err != nil {
		t.Fatal(err)
	}
	waitState(t, fw, "bomb", mesos.TaskState_TASK_RUNNING)
	pid := testutil.WaitPIDFile(t, filepath.Join(r.sandboxes()["bomb"], "pid"), patience)
	pids := filepath.Join(host.Mounts["pids"], cgroupOf(t, pid, "pids"))
	if got := readInt(t, filepath.Join(pids, "pids.max")); got != max {
		t.Fatalf("pids.max = %d, want %d", got, max)
	}
	waitFor(t, "the bomb to reach its pids limit and be refused forks", func() bool {
		ev, _ := os.ReadFile(filepath.Join(pids, "pids.events"))
		n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(string(ev), "max")))
		return n > 0
	})
	if got := readInt(t, filepath.Join(pids, "pids.current")); got > max {
		t.Errorf("pids.current = %d, over the limit %d", got, max)
	}

	// The agent is healthy: it answers, and runs a neighbour.
	resp, err := http.Get("http://" + r.agentAddr + "/health")
	if err != nil {
		t.Fatalf("the agent does not answer /health beside the bomb: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the agent's /health answers %d beside the bomb", resp.StatusCode)
	}
	neighbour := launchSleeper(t, r, fw, "neighbour", "cpus:0.1;mem:32")
	if cgroupOf(t, neighbour, "pids") == cgroupOf(t, pid, "pids") {
		t.Error("the neighbour shares the bomb's pids cgroup")
	}

	for _, id := range []string{"bomb", "neighbour"} {
		if err := fw.client.Kill(ctxT(t), &mesos.TaskID{Value: ptr(id)}, nil); err != nil {
			t.Fatal(err)
		}
		waitState(t, fw, id, mesos.TaskState_TASK_KILLED)
	}
	r.waitNoContainerProcesses("after the bomb and its neighbour were killed")
	waitFor(t, "the bomb's pids cgroup to be removed", func() bool {
		_, err := os.Stat(pids)
		return os.IsNotExist(err)
	})
}
