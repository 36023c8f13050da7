package containerizer

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/testutil"
)

const patience = 20 * time.Second

type harness struct {
	t       *testing.T
	p       *Posix
	workDir string
	exits   chan Termination
}

func newHarness(t *testing.T, isolators ...Isolator) *harness {
	h := &harness{t: t, workDir: t.TempDir(), exits: make(chan Termination, 16)}
	h.p = NewPosix(Options{WorkDir: h.workDir, SupervisorPath: supervisor(t), OnExit: func(tm Termination) { h.exits <- tm }, Isolators: isolators})
	t.Cleanup(h.p.DestroyAll)
	return h
}

// sandbox is a sandbox directory for container id, inside the work
// directory.
func (h *harness) sandbox(id string) string {
	return filepath.Join(h.workDir, "runs", id)
}

func (h *harness) launch(id, script string) (string, int) {
	h.t.Helper()
	dir := h.sandbox(id)
	pid, err := h.p.Launch(Spec{ID: id, Directory: dir, Path: "/bin/sh", Args: []string{"sh", "-c", script}, Env: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		h.t.Fatal(err)
	}
	return dir, pid
}

func (h *harness) exit() Termination {
	h.t.Helper()
	select {
	case tm := <-h.exits:
		return tm
	case <-time.After(patience):
		h.t.Fatal("no termination reported")
	}
	return Termination{}
}

// The executor runs in its sandbox with its output in stdout and stderr, and
// its exit status is reported.
func TestLaunchReportsExit(t *testing.T) {
	h := newHarness(t)
	dir, pid := h.launch("c1", `echo "out $MESOS_SANDBOX"; pwd >&2; exit 7`)
	tm := h.exit()
	if tm.ID != "c1" || tm.Pid != pid || tm.ExitCode() != 7 || tm.Destroyed || tm.LaunchErr != nil {
		t.Fatalf("termination = %+v (%s)", tm, tm)
	}
	out, _ := os.ReadFile(filepath.Join(dir, "stdout"))
	errOut, _ := os.ReadFile(filepath.Join(dir, "stderr"))
	if string(out) != "out "+dir+"\n" || strings.TrimSpace(string(errOut)) != dir {
		t.Errorf("stdout %q, stderr %q", out, errOut)
	}
	if err := h.p.Destroy("c1"); !errors.Is(err, ErrUnknownContainer) {
		t.Errorf("Destroy after exit: %v", err)
	}
}

// Destroy kills the whole tree, including a child that left the process
// group and one that started its own session.
func TestDestroyKillsTheTree(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid")
	}
	h := newHarness(t)
	dir, pid := h.launch("c2", `sleep 1000 & echo $! > bg.pid
setsid sleep 1000 & echo $! > ss.pid
exec sleep 1000`)
	bg := testutil.WaitPIDFile(t, filepath.Join(dir, "bg.pid"), patience)
	ss := testutil.WaitPIDFile(t, filepath.Join(dir, "ss.pid"), patience)
	for _, p := range []int{pid, bg, ss} {
		if !ProcessAlive(p) {
			t.Fatalf("%d not running", p)
		}
	}
	if err := h.p.Destroy("c2"); err != nil {
		t.Fatal(err)
	}
	tm := h.exit()
	if sig, ok := tm.Signaled(); !ok || sig != syscall.SIGKILL || !tm.Destroyed {
		t.Errorf("termination = %+v (%s)", tm, tm)
	}
	for _, p := range []int{pid, bg, ss} {
		if ProcessAlive(p) {
			t.Errorf("pid %d survived Destroy", p)
		}
	}
}

// When the executor exits on its own, what it left behind in its session
// is killed before the exit is reported.
func TestExitSweepsLeftovers(t *testing.T) {
	h := newHarness(t)
	dir, _ := h.launch("c3", `(sleep 1000 & echo $! > orphan.pid); exit 0`)
	tm := h.exit()
	if tm.ExitCode() != 0 {
		t.Fatalf("termination = %s", tm)
	}
	orphan := testutil.WaitPIDFile(t, filepath.Join(dir, "orphan.pid"), patience)
	if ProcessAlive(orphan) {
		t.Errorf("orphan %d survived its container", orphan)
	}
}

type recorder struct {
	mu      *sync.Mutex
	name    string
	calls   *[]string
	failOn  string
	pidSeen int
}

func (r *recorder) Name() string { return r.name }
func (r *recorder) record(what string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.calls = append(*r.calls, r.name+"."+what)
	if what == r.failOn {
		return errors.New("refused")
	}
	return nil
}
func (r *recorder) Prepare(spec *Spec, cmd *exec.Cmd) error {
	cmd.Env = append(cmd.Env, "ISOLATED_BY_"+r.name+"=1")
	return r.record("prepare")
}
func (r *recorder) Isolate(id string, pid int) error { r.pidSeen = pid; return r.record("isolate") }
func (r *recorder) Update(id string, _ []*mesos.Resource) error {
	return r.record("update")
}
func (r *recorder) Cleanup(id string) error { return r.record("cleanup") }

// Isolator hooks run around the container's life, cleanup in reverse; a
// failing Prepare fails the launch and cleans up what was prepared.
func TestIsolatorHooks(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	a := &recorder{mu: &mu, name: "a", calls: &calls}
	b := &recorder{mu: &mu, name: "b", calls: &calls}
	h := newHarness(t, a, b)
	dir, pid := h.launch("c4", `echo "$ISOLATED_BY_a$ISOLATED_BY_b"; exec sleep 1000`)
	if err := h.p.Update("c4", nil); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "output", patience, func() bool {
		out, _ := os.ReadFile(filepath.Join(dir, "stdout"))
		return string(out) == "11\n"
	})
	var rec pidsRecord
	if err := readJSON(filepath.Join(h.workDir, "runtime", containersDir, "c4", pidsFile), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Executor.Pid != pid {
		t.Errorf("the records name executor %d, Launch said %d", rec.Executor.Pid, pid)
	}
	supervisorOf := rec.Root.Pid
	if err := h.p.Destroy("c4"); err != nil {
		t.Fatal(err)
	}
	h.exit()
	want := []string{"a.prepare", "b.prepare", "a.isolate", "b.isolate", "a.update", "b.update", "b.cleanup", "a.cleanup"}
	if !slices.Equal(calls, want) {
		t.Errorf("calls = %v, want %v", calls, want)
	}
	// Isolate is given the container's first process: the executor's
	// supervisor.
	if a.pidSeen != supervisorOf {
		t.Errorf("Isolate saw pid %d, want the executor's (%d) parent %d", a.pidSeen, pid, supervisorOf)
	}

	calls = nil
	b.failOn = "prepare"
	_, err := h.p.Launch(Spec{ID: "c5", Directory: h.sandbox("c5"), Path: "/bin/true"})
	if err == nil {
		t.Fatal("launch succeeded despite a failing isolator")
	}
	if want := []string{"a.prepare", "b.prepare", "a.cleanup"}; !slices.Equal(calls, want) {
		t.Errorf("calls = %v, want %v", calls, want)
	}
}

// A program that cannot start fails Launch and reports nothing.
func TestLaunchFailure(t *testing.T) {
	h := newHarness(t)
	_, err := h.p.Launch(Spec{ID: "c6", Directory: h.sandbox("c6"), Path: "/nonexistent/executor"})
	if err == nil {
		t.Fatal("launch of a missing program succeeded")
	}
	select {
	case tm := <-h.exits:
		t.Fatalf("termination reported for a failed launch: %+v", tm)
	default:
	}
	if len(h.p.Pids()) != 0 {
		t.Errorf("failed launch left a container: %v", h.p.Pids())
	}
}

// DestroyAll kills everything and returns once every exit is reported.
func TestDestroyAll(t *testing.T) {
	h := newHarness(t)
	var pids []int
	for _, id := range []string{"x", "y", "z"} {
		_, pid := h.launch(id, "exec sleep 1000")
		pids = append(pids, pid)
	}
	h.p.DestroyAll()
	if len(h.exits) != 3 {
		t.Fatalf("%d exits reported", len(h.exits))
	}
	for _, p := range pids {
		if ProcessAlive(p) {
			t.Errorf("pid %d survived DestroyAll", p)
		}
	}
}

// Destroys that come at once, from many goroutines, kill every container
// (their kill passes are shared) and each end is reported once, as
// destroyed.
func TestConcurrentDestroys(t *testing.T) {
	const n = 40
	h := &harness{t: t, workDir: t.TempDir(), exits: make(chan Termination, n)}
	h.p = NewPosix(Options{WorkDir: h.workDir, SupervisorPath: supervisor(t), OnExit: func(tm Termination) { h.exits <- tm }})
	t.Cleanup(h.p.DestroyAll)
	pids := map[string]int{}
	for i := range n {
		id := "many-" + strconv.Itoa(i)
		_, pids[id] = h.launch(id, "sleep 1000 & exec sleep 1000")
	}
	var wg sync.WaitGroup
	for id := range pids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.p.Destroy(id); err != nil {
				t.Errorf("Destroy %s: %v", id, err)
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for range n {
		tm := h.exit()
		if seen[tm.ID] || !tm.Destroyed {
			t.Errorf("termination %+v (seen before: %v)", tm, seen[tm.ID])
		}
		seen[tm.ID] = true
	}
	for id, pid := range pids {
		if ProcessAlive(pid) {
			t.Errorf("%s: pid %d survived Destroy", id, pid)
		}
	}
	if left := h.p.Pids(); len(left) != 0 {
		t.Errorf("containers left: %v", left)
	}
}

// A supervisor binary that does not supervise (its main lacks
// MainIfSupervisor) fails the launch, which reports nothing and leaves no
// records.
func TestLaunchFailsWithABinaryThatDoesNotSupervise(t *testing.T) {
	h := &harness{t: t, workDir: t.TempDir(), exits: make(chan Termination, 1)}
	h.p = NewPosix(Options{WorkDir: h.workDir, SupervisorPath: "/bin/true", OnExit: func(tm Termination) { h.exits <- tm }})
	t.Cleanup(h.p.DestroyAll)
	_, err := h.p.Launch(Spec{ID: "c7", Directory: h.sandbox("c7"), Path: "/bin/sleep", Args: []string{"sleep", "1000"}})
	if err == nil || !strings.Contains(err.Error(), "without starting the executor") {
		t.Fatalf("Launch = %v, want a failure naming the supervisor", err)
	}
	if len(h.p.Pids()) != 0 || len(h.exits) != 0 {
		t.Errorf("a failed launch left containers %v or reported %d ends", h.p.Pids(), len(h.exits))
	}
	if _, err := os.Stat(filepath.Join(h.workDir, "runtime", containersDir, "c7")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed launch left its runtime directory: %v", err)
	}
}
