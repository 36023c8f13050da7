//go:build linux

package containerizer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/testutil"
)

// envAllocMiB makes the test binary a helper that allocates (and touches)
// that many MiB, then sleeps.
const envAllocMiB = "GOMESOS_TEST_ALLOC_MIB"

func init() { mainHooks = append(mainHooks, mainIfAllocator) }

func mainIfAllocator() {
	v := os.Getenv(envAllocMiB)
	if v == "" {
		return
	}
	n, _ := strconv.Atoi(v)
	var keep [][]byte
	for i := 0; i < n; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			if j%4096 == 0 {
				b[j] = 1
			}
		}
		keep = append(keep, b)
	}
	fmt.Println("allocated", len(keep), "MiB")
	time.Sleep(time.Hour)
}

var cgroupTestSeq atomic.Int64

// newCgroupsTest returns a cgroups isolator below a root of the test's
// own, or skips the test when cgroups cannot be used here. At the end it
// checks that no cgroup is left below that root, and removes the root.
func newCgroupsTest(t *testing.T, opts CgroupsOptions) *Cgroups {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: cgroup tests need root (the agent writes cgroups only as root)")
	}
	host, err := DetectCgroups()
	if err != nil {
		t.Skipf("skipping: no usable cgroups here: %v", err)
	}
	opts.Root = fmt.Sprintf("gomesos-test-%d-%d", os.Getpid(), cgroupTestSeq.Add(1))
	if err := CgroupsWritable(host, opts.Root); err != nil {
		t.Skipf("skipping: cgroups are not writable here: %v", err)
	}
	g, err := NewCgroups(host, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, m := range host.Mounts {
			removeTestRoot(t, filepath.Join(m, opts.Root))
		}
	})
	return g
}

// removeTestRoot fails the test for each cgroup left below a test's
// cgroups root, and removes the root.
func removeTestRoot(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("cgroup %s left behind", filepath.Join(dir, e.Name()))
		}
	}
	if err := removeCgroupDir(dir); err != nil {
		t.Errorf("removing the test's cgroup root: %v", err)
	}
}

func scalars(kv ...any) []*mesos.Resource {
	var out []*mesos.Resource
	for i := 0; i < len(kv); i += 2 {
		out = append(out, &mesos.Resource{
			Name:   proto.String(kv[i].(string)),
			Type:   mesos.Value_SCALAR.Enum(),
			Scalar: &mesos.Value_Scalar{Value: proto.Float64(kv[i+1].(float64))},
		})
	}
	return out
}

func (h *harness) launchRes(id, script string, res []*mesos.Resource, env ...string) int {
	h.t.Helper()
	pid, err := h.p.Launch(Spec{ID: id, Directory: h.sandbox(id), Path: "/bin/sh", Args: []string{"sh", "-c", script},
		Env: append([]string{"PATH=" + os.Getenv("PATH")}, env...), Resources: res})
	if err != nil {
		h.t.Fatal(err)
	}
	return pid
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// procCgroup is the process's cgroup in the hierarchy that has controller.
func procCgroup(pid int, controller string) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && slices.Contains(strings.Split(parts[1], ","), controller) {
			return parts[2]
		}
	}
	return ""
}

// Every process of the container (supervisor, executor, its children) is in
// the container's cgroup, whose limits come from the resources; the cgroup
// goes with the container.
func TestCgroupsLimitsAndMembership(t *testing.T) {
	g := newCgroupsTest(t, CgroupsOptions{CPU: true, Mem: true, Pids: true, PidsMax: 100})
	if g.Version() != 1 {
		t.Skip("skipping: the membership checks read cgroups v1 files")
	}
	h := newHarness(t, g)
	marker := filepath.Join(h.workDir, "child")
	pid := h.launchRes("c1", `sleep 300 & echo $! > `+marker+`.tmp; mv `+marker+`.tmp `+marker+`; wait`, scalars("cpus", 0.5, "mem", 64.0))
	child := testutil.WaitPIDFile(t, marker, patience)

	want := "/" + g.opts.Root + "/c1"
	sup := h.p.containers["c1"].root
	for _, p := range []int{sup, pid, child} {
		for _, ctl := range []string{"cpu", "memory", "pids", "freezer"} {
			if got := procCgroup(p, ctl); got != want {
				t.Errorf("pid %d is in %s cgroup %q, want %q", p, ctl, got, want)
			}
		}
	}
	pids, err := g.Pids("c1")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{sup, pid, child} {
		if !slices.Contains(pids, p) {
			t.Errorf("cgroup holds %v, not %d", pids, p)
		}
	}
	m := g.host.Mounts
	if got := readTrim(t, filepath.Join(m["cpu"], want, "cpu.shares")); got != "512" {
		t.Errorf("cpu.shares = %s, want 512", got)
	}
	if got := readTrim(t, filepath.Join(m["cpu"], want, "cpu.cfs_quota_us")); got != "-1" {
		t.Errorf("cpu.cfs_quota_us = %s without --cgroups_enable_cfs, want -1", got)
	}
	if got := readTrim(t, filepath.Join(m["memory"], want, "memory.limit_in_bytes")); got != strconv.Itoa(64<<20) {
		t.Errorf("memory.limit_in_bytes = %s, want %d", got, 64<<20)
	}
	if got := readTrim(t, filepath.Join(m["pids"], want, "pids.max")); got != "100" {
		t.Errorf("pids.max = %s, want 100", got)
	}
	if err := h.p.Update("c1", scalars("cpus", 0.001, "mem", 1.0)); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(m["cpu"], want, "cpu.shares")); got != "2" {
		t.Errorf("cpu.shares after an update to 0.001 cpus = %s, want Mesos's minimum 2", got)
	}
	if got := readTrim(t, filepath.Join(m["memory"], want, "memory.limit_in_bytes")); got != strconv.Itoa(32<<20) {
		t.Errorf("memory.limit_in_bytes after an update to 1 MB = %s, want Mesos's minimum 32 MB", got)
	}

	if err := h.p.Destroy("c1"); err != nil {
		t.Fatal(err)
	}
	if tm := h.exit(); !tm.Destroyed || tm.Limitation != nil {
		t.Errorf("termination = %+v", tm)
	}
	for _, p := range g.Paths("c1") {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("cgroup %s still exists after the container ended (%v)", p, err)
		}
	}
	if ProcessAlive(child) {
		t.Errorf("child %d survived", child)
	}
}

// A process that double-forks into a session of its own escapes the
// container's process group, not its cgroup: destroy kills it.
func TestCgroupsDestroyKillsDoubleForked(t *testing.T) {
	g := newCgroupsTest(t, CgroupsOptions{CPU: true, Mem: true, Pids: true})
	h := newHarness(t, g)
	marker := filepath.Join(h.workDir, "escaped")
	h.launchRes("c1", `setsid sh -c 'sleep 300 & echo $! > `+marker+`.tmp; mv `+marker+`.tmp `+marker+`' & wait; sleep 300`, scalars("cpus", 0.1, "mem", 32.0))
	escaped := testutil.WaitPIDFile(t, marker, patience)
	if !ProcessAlive(escaped) {
		t.Fatalf("escaped process %d is not running", escaped)
	}
	if err := h.p.Destroy("c1"); err != nil {
		t.Fatal(err)
	}
	h.exit()
	if ProcessAlive(escaped) {
		t.Errorf("double-forked process %d survived destroy", escaped)
		_ = syscallKill(escaped)
	}
}

// A process that double-forks and outlives its executor is killed when the
// executor exits: the container ends with all of its cgroup.
func TestCgroupsExitKillsLeftovers(t *testing.T) {
	g := newCgroupsTest(t, CgroupsOptions{Mem: true})
	h := newHarness(t, g)
	marker := filepath.Join(h.workDir, "escaped")
	h.launchRes("c1", `setsid sh -c 'sleep 300 & echo $! > `+marker+`.tmp; mv `+marker+`.tmp `+marker+`'; exit 3`, scalars("mem", 32.0))
	if tm := h.exit(); tm.ExitCode() != 3 {
		t.Errorf("termination = %s, want exit 3", tm)
	}
	escaped, _ := strconv.Atoi(readTrim(t, marker))
	if ProcessAlive(escaped) {
		t.Errorf("left-over process %d survived its container", escaped)
		_ = syscallKill(escaped)
	}
}

// A loop that forks without end is held by the pids limit, and destroyed.
func TestCgroupsPidsLimitStopsForkBomb(t *testing.T) {
	g := newCgroupsTest(t, CgroupsOptions{Pids: true, PidsMax: 20})
	h := newHarness(t, g)
	// Each round starts a sleeper; the shell cannot fork once the limit is
	// reached and says so on stderr.
	h.launchRes("c1", `i=0; while [ $i -lt 200 ]; do sleep 300 & i=$((i+1)); done; wait`, nil)
	stderr := filepath.Join(h.sandbox("c1"), "stderr")
	testutil.WaitFor(t, "the shell to fail to fork", patience, func() bool {
		b, _ := os.ReadFile(stderr)
		return len(b) > 0
	})
	pids, err := g.Pids("c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(pids) > 20 {
		t.Errorf("%d processes in a container limited to 20", len(pids))
	}
	if err := h.p.Destroy("c1"); err != nil {
		t.Fatal(err)
	}
	h.exit()
	for _, p := range pids {
		if ProcessAlive(p) && procCgroup(p, "pids") != "" && strings.Contains(procCgroup(p, "pids"), g.opts.Root) {
			t.Errorf("process %d survived", p)
		}
	}
}

// Recovery removes the cgroup of an orphan the runtime directory knows,
// killing its processes, and an empty cgroup no record names; a cgroup no
// record names that holds processes (another agent's) stays.
func TestCgroupsRecoverRemovesOrphans(t *testing.T) {
	g := newCgroupsTest(t, CgroupsOptions{Mem: true, Pids: true})
	workDir := t.TempDir()
	// An earlier containerizer's container, left running.
	earlier := NewPosix(Options{WorkDir: workDir, SupervisorPath: supervisor(t), Isolators: []Isolator{g}})
	pid, err := earlier.Launch(Spec{ID: "orphan", Directory: filepath.Join(workDir, "runs", "orphan"), Path: "/bin/sleep", Args: []string{"sleep", "300"}, Resources: scalars("mem", 32.0)})
	if err != nil {
		t.Fatal(err)
	}
	// A cgroup no record names, empty; and another, with a process.
	if err := g.Prepare(&Spec{ID: "empty"}, &exec.Cmd{}); err != nil {
		t.Fatal(err)
	}
	// ...made long ago: a fresh one may be another agent's, about to start.
	old := time.Now().Add(-time.Hour)
	for _, p := range g.Paths("empty") {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Skipf("skipping: cannot age cgroup %s: %v", p, err)
		}
	}
	if err := g.Prepare(&Spec{ID: "fresh"}, &exec.Cmd{}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = g.Cleanup("fresh") }()
	if err := g.Prepare(&Spec{ID: "foreign"}, &exec.Cmd{}); err != nil {
		t.Fatal(err)
	}
	foreign := exec.Command("sleep", "300")
	if err := foreign.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = foreign.Process.Kill(); _ = foreign.Wait(); _ = g.Cleanup("foreign") }()
	if err := g.Isolate("foreign", foreign.Process.Pid); err != nil {
		t.Fatal(err)
	}

	h := &harness{t: t, workDir: workDir, exits: make(chan Termination, 16)}
	h.p = NewPosix(Options{WorkDir: workDir, SupervisorPath: supervisor(t), OnExit: func(tm Termination) { h.exits <- tm }, Isolators: []Isolator{g}})
	t.Cleanup(h.p.DestroyAll)
	if _, err := h.p.Recover(nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"orphan", "empty"} {
		for _, p := range g.Paths(id) {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("cgroup %s survived recovery (%v)", p, err)
			}
		}
	}
	if ProcessAlive(pid) {
		t.Errorf("orphan's executor %d survived recovery", pid)
	}
	for _, p := range g.Paths("fresh") {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("a fresh empty cgroup %s was removed (%v)", p, err)
		}
	}
	if pids, _ := g.Pids("foreign"); !slices.Contains(pids, foreign.Process.Pid) {
		t.Errorf("the foreign cgroup lost its process: %v", pids)
	}
}

func syscallKill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// A container that allocates 256 MiB under mem:64 ends with the memory
// limitation, worded as Mesos words it, while its neighbour keeps running.
func TestCgroupsOOMEndsWithMemoryLimitation(t *testing.T) {
	g := newCgroupsTest(t, CgroupsOptions{CPU: true, Mem: true, Pids: true})
	h := newHarness(t, g)
	self := supervisor(t)
	h.launchRes("neighbour", `exec sleep 300`, scalars("cpus", 0.1, "mem", 64.0))
	h.launchRes("hog", `exec "$HELPER"`, scalars("cpus", 0.1, "mem", 64.0), envAllocMiB+"=256", "HELPER="+self)
	tm := h.exit()
	if tm.ID != "hog" {
		t.Fatalf("container %s ended first (%s), want hog", tm.ID, tm)
	}
	if tm.Limitation == nil {
		t.Fatalf("termination %+v has no limitation", tm)
	}
	if tm.Limitation.Reason != mesos.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY {
		t.Errorf("reason = %v", tm.Limitation.Reason)
	}
	if !strings.HasPrefix(tm.Limitation.Message, "Memory limit exceeded: Requested: 64MB Maximum Used: ") || !strings.Contains(tm.Limitation.Message, "MEMORY STATISTICS") {
		t.Errorf("message = %q", tm.Limitation.Message)
	}
	if pids := h.p.Pids(); pids["neighbour"] == 0 || !ProcessAlive(pids["neighbour"]) {
		t.Errorf("the neighbour is not running: %v", pids)
	}
	if err := h.p.Destroy("neighbour"); err != nil {
		t.Fatal(err)
	}
	if tm := h.exit(); tm.ID != "neighbour" || tm.Limitation != nil {
		t.Errorf("neighbour's termination = %+v", tm)
	}
}

// With CFS on, a cpu-bound container with cpus:0.5 gets a quota of 50ms per
// 100ms period and uses about half a core, measured from its cgroup.
func TestCgroupsCFSQuota(t *testing.T) {
	g := newCgroupsTest(t, CgroupsOptions{CPU: true, EnableCFS: true})
	if g.Version() != 1 {
		t.Skip("skipping: the CFS checks read cgroups v1 files")
	}
	h := newHarness(t, g)
	h.launchRes("spin", `while :; do :; done`, scalars("cpus", 0.5))
	dir := filepath.Join(g.host.Mounts["cpu"], g.rel("spin"))
	if got := readTrim(t, filepath.Join(dir, "cpu.cfs_quota_us")); got != "50000" {
		t.Errorf("cpu.cfs_quota_us = %s, want 50000", got)
	}
	if got := readTrim(t, filepath.Join(dir, "cpu.cfs_period_us")); got != "100000" {
		t.Errorf("cpu.cfs_period_us = %s, want 100000", got)
	}
	usage := filepath.Join(g.host.Mounts["cpuacct"], g.rel("spin"), "cpuacct.usage")
	before, _ := strconv.ParseInt(readTrim(t, usage), 10, 64)
	start := time.Now()
	time.Sleep(2 * time.Second) // the measurement window
	after, _ := strconv.ParseInt(readTrim(t, usage), 10, 64)
	cores := float64(after-before) / float64(time.Since(start).Nanoseconds())
	t.Logf("a spinning container with cpus:0.5 and CFS used %.2f cores", cores)
	if cores > 0.6 || cores < 0.05 {
		t.Errorf("used %.2f cores, want about 0.5", cores)
	}
	if err := h.p.Update("spin", scalars("cpus", 0.0001)); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(dir, "cpu.cfs_quota_us")); got != "1000" {
		t.Errorf("cpu.cfs_quota_us for 0.0001 cpus = %s, want Mesos's minimum 1000 (1ms)", got)
	}
	if err := h.p.Destroy("spin"); err != nil {
		t.Fatal(err)
	}
	h.exit()
}

// DestroyAll of many containers (their isolators kill them several at a
// time) ends every one, with every process of theirs gone, and leaves no
// cgroup and no OOM watch behind (newCgroupsTest checks the cgroups root
// is empty at the end).
func TestCgroupsDestroyAllLeavesNothing(t *testing.T) {
	g := newCgroupsTest(t, CgroupsOptions{CPU: true, Mem: true, Pids: true})
	h := newHarness(t, g)
	const n = 12
	var pids []int
	for i := range n {
		marker := filepath.Join(h.workDir, fmt.Sprintf("child%d", i))
		h.launchRes(fmt.Sprintf("c%d", i), `setsid sleep 300 & echo $! > `+marker+`.tmp; mv `+marker+`.tmp `+marker+`; exec sleep 300`,
			scalars("cpus", 0.1, "mem", 32.0))
		pids = append(pids, testutil.WaitPIDFile(t, marker, patience))
	}
	for id, pid := range h.p.Pids() {
		pids = append(pids, pid)
		cg, err := g.Pids(id)
		if err != nil || len(cg) < 3 {
			t.Fatalf("cgroup of %s holds %v (%v), want its supervisor, executor and child", id, cg, err)
		}
	}
	h.p.DestroyAll()
	ended := map[string]bool{}
	for range n {
		tm := h.exit()
		if !tm.Destroyed {
			t.Errorf("%s: termination %+v not marked destroyed", tm.ID, tm)
		}
		ended[tm.ID] = true
	}
	if len(ended) != n {
		t.Errorf("%d containers reported ended, want %d", len(ended), n)
	}
	for _, pid := range pids {
		if ProcessAlive(pid) {
			t.Errorf("process %d survived DestroyAll", pid)
			_ = syscallKill(pid)
		}
	}
	for i := range n {
		for _, p := range g.Paths(fmt.Sprintf("c%d", i)) {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("cgroup %s still exists (%v)", p, err)
			}
		}
	}
	g.mu.Lock()
	watched, joined := len(g.watched), len(g.joined)
	g.mu.Unlock()
	if watched != 0 || joined != 0 {
		t.Errorf("after every cleanup: %d OOM watches, %d joined records left", watched, joined)
	}
}

// BenchmarkCgroupsContainer is one container's life as the cgroups
// isolator sees it: Prepare (create the cgroups, watch for OOM), Isolate
// of a started process, KillAll, and Cleanup once the process is reaped.
//
//	go test ./agent/containerizer/ -run '^$' -bench CgroupsContainer -benchtime 200x
func BenchmarkCgroupsContainer(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("skipping: needs root")
	}
	host, err := DetectCgroups()
	if err != nil {
		b.Skipf("skipping: %v", err)
	}
	root := fmt.Sprintf("gomesos-bench-%d", os.Getpid())
	if err := CgroupsWritable(host, root); err != nil {
		b.Skipf("skipping: %v", err)
	}
	g, err := NewCgroups(host, CgroupsOptions{Root: root, CPU: true, Mem: true, Pids: true})
	if err != nil {
		b.Fatal(err)
	}
	defer RemoveCgroupsRoot(root)
	res := scalars("cpus", 0.1, "mem", 32.0)
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("c%d", i)
		cmd := exec.Command("/bin/sleep", "1000")
		if err := g.Prepare(&Spec{ID: id, Resources: res}, cmd); err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		if err := g.Isolate(id, cmd.Process.Pid); err != nil {
			b.Fatal(err)
		}
		if err := g.KillAll(id); err != nil {
			b.Fatal(err)
		}
		_ = cmd.Wait()
		if err := g.Cleanup(id); err != nil {
			b.Fatal(err)
		}
	}
}
