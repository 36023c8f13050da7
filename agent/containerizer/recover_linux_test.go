package containerizer

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomesos/gomesos/internal/testutil"
)

// Environment of the doomed agent: a child test process that launches one
// container, prints the executor's pid and waits to be killed.
const (
	envDoomedWorkDir = "CONTAINERIZER_TEST_DOOMED_WORK_DIR"
	envDoomedID      = "CONTAINERIZER_TEST_DOOMED_ID"
	envDoomedScript  = "CONTAINERIZER_TEST_DOOMED_SCRIPT"
	// envDoomedNamespaces, set, runs the container with filesystem/linux
	// and namespaces/pid.
	envDoomedNamespaces = "CONTAINERIZER_TEST_DOOMED_NAMESPACES"
)

func init() { mainHooks = append(mainHooks, mainIfDoomedAgent) }

func mainIfDoomedAgent() {
	workDir := os.Getenv(envDoomedWorkDir)
	if workDir == "" {
		return
	}
	self, err := os.Executable()
	if err != nil {
		os.Exit(3)
	}
	id := os.Getenv(envDoomedID)
	var isolators []Isolator
	if os.Getenv(envDoomedNamespaces) != "" {
		isolators = []Isolator{FilesystemLinux{}, PidNamespace{}}
	}
	p := NewPosix(Options{WorkDir: workDir, SupervisorPath: self, Isolators: isolators})
	pid, err := p.Launch(Spec{
		ID:        id,
		Directory: filepath.Join(workDir, "runs", id),
		Path:      "/bin/sh",
		Args:      []string{"sh", "-c", os.Getenv(envDoomedScript)},
		Env:       []string{"PATH=" + os.Getenv("PATH")},
	})
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(3)
	}
	os.Stdout.WriteString(strconv.Itoa(pid) + "\n")
	select {} // until killed
}

// launchThenDie launches script in container id from another process, a
// stand-in for an agent, which it then kills with SIGKILL, as an operator's
// kill -9 would. It returns the executor's pid.
func launchThenDie(t *testing.T, workDir, id, script string) int {
	t.Helper()
	cmd := exec.Command(supervisor(t))
	cmd.Env = append(os.Environ(), envDoomedWorkDir+"="+workDir, envDoomedID+"="+id, envDoomedScript+"="+script)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	pid, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		t.Fatalf("the doomed agent did not launch %s: %q %v", id, line, err)
	}
	t.Cleanup(func() {
		// Whatever a failed test left: the container's whole session.
		if pi, ok := readStat(pid); ok {
			killTrees([]target{{pid, pi.sid}}, true)
		}
	})
	return pid
}

// restarted is a containerizer on the work directory of an agent that died:
// the agent after its restart.
func restarted(t *testing.T, workDir string) *harness {
	h := &harness{t: t, workDir: workDir, exits: make(chan Termination, 16)}
	h.p = NewPosix(Options{WorkDir: workDir, SupervisorPath: supervisor(t), OnExit: func(tm Termination) { h.exits <- tm }})
	t.Cleanup(h.p.DestroyAll)
	return h
}

func (h *harness) runDir(id string) string {
	return filepath.Join(h.workDir, "runtime", containersDir, id)
}

func (h *harness) noExit() {
	h.t.Helper()
	select {
	case tm := <-h.exits:
		h.t.Fatalf("unexpected termination %+v (%s)", tm, tm)
	default:
	}
}

// An executor keeps running when its agent is killed; the restarted agent
// adopts it with the same pid, and Destroy then kills it and reports it,
// as a launched one.
func TestRecoverAdoptsRunningContainer(t *testing.T) {
	workDir := t.TempDir()
	pid := launchThenDie(t, workDir, "alive", `sleep 1000 & echo $! > bg.pid; exec sleep 1000`)
	h := restarted(t, workDir)
	bg := testutil.WaitPIDFile(t, filepath.Join(h.sandbox("alive"), "bg.pid"), patience)
	if !ProcessAlive(pid) || !ProcessAlive(bg) {
		t.Fatalf("the executor (%d) or its child (%d) died with the agent", pid, bg)
	}
	// Nothing ties the executor to the agent: it holds no descriptor but
	// its standard input (/dev/null), output and error (sandbox files).
	// The shell may still be turning into sleep (the loader holds libc
	// open for a moment), so the check is repeated until it holds or the
	// patience runs out.
	var stray []string
	for deadline := time.Now().Add(patience); ; {
		stray = strayDescriptors(t, pid, h.sandbox("alive"))
		if len(stray) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, d := range stray {
		t.Errorf("the executor holds descriptor %s", d)
	}

	got, err := h.p.Recover([]string{"alive"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "alive" || got[0].Pid != pid || got[0].Directory != h.sandbox("alive") {
		t.Fatalf("Recover = %+v, want container alive with pid %d in %s", got, pid, h.sandbox("alive"))
	}
	if pids := h.p.Pids(); pids["alive"] != pid {
		t.Errorf("Pids = %v", pids)
	}
	h.noExit()
	if err := h.p.Update("alive", nil); err != nil {
		t.Errorf("Update: %v", err)
	}

	if err := h.p.Destroy("alive"); err != nil {
		t.Fatal(err)
	}
	tm := h.exit()
	if sig, ok := tm.Signaled(); tm.ID != "alive" || tm.Pid != pid || !tm.Destroyed || !ok || sig != syscall.SIGKILL {
		t.Errorf("termination = %+v (%s)", tm, tm)
	}
	for _, p := range []int{pid, bg} {
		if ProcessAlive(p) {
			t.Errorf("pid %d survived Destroy", p)
		}
	}
	testutil.WaitFor(t, "the runtime directory to go", patience, func() bool {
		_, err := os.Stat(h.runDir("alive"))
		return errors.Is(err, os.ErrNotExist)
	})
}

// An adopted executor that ends later is reported with its real exit
// status, which its supervisor recorded; signals reach it as before.
func TestRecoveredContainerReportsItsExitStatus(t *testing.T) {
	workDir := t.TempDir()
	pid := launchThenDie(t, workDir, "later", `trap 'exit 5' TERM; echo > ready; sleep 1000 & wait`)
	h := restarted(t, workDir)
	testutil.WaitFor(t, "the trap", patience, func() bool {
		_, err := os.Stat(filepath.Join(h.sandbox("later"), "ready"))
		return err == nil
	})
	if got, err := h.p.Recover([]string{"later"}); err != nil || len(got) != 1 || got[0].Pid != pid {
		t.Fatalf("Recover = %+v, %v", got, err)
	}
	if err := h.p.Signal("later", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	tm := h.exit()
	if tm.ID != "later" || tm.Pid != pid || tm.Destroyed || tm.ExitCode() != 5 {
		t.Errorf("termination = %+v (%s), want exit status 5", tm, tm)
	}
	if ProcessAlive(pid) {
		t.Errorf("pid %d still running", pid)
	}
}

// An executor that exits while no agent runs is reported on Recover with
// the exit status its supervisor recorded, and what it left running in its
// session is killed.
func TestRecoverReportsExitWhileAgentAway(t *testing.T) {
	workDir := t.TempDir()
	pid := launchThenDie(t, workDir, "gone",
		`(trap '' TERM; exec sleep 1000) & echo $! > left.pid; while [ ! -e go ]; do sleep 0.01; done; exit 7`)
	h := restarted(t, workDir)
	left := testutil.WaitPIDFile(t, filepath.Join(h.sandbox("gone"), "left.pid"), patience)
	if err := os.WriteFile(filepath.Join(h.sandbox("gone"), "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var rec pidsRecord
	if err := readJSON(filepath.Join(h.runDir("gone"), pidsFile), &rec); err != nil {
		t.Fatal(err)
	}
	// The supervisor records the status, then exits.
	testutil.WaitFor(t, "the executor and its supervisor to exit", patience, func() bool {
		return !ProcessAlive(pid) && !ProcessAlive(rec.Root.Pid)
	})
	if _, ok := readStatus(h.runDir("gone")); !ok {
		t.Fatal("the supervisor exited without recording the executor's status")
	}

	got, err := h.p.Recover([]string{"gone"})
	if err != nil || len(got) != 0 {
		t.Fatalf("Recover = %+v, %v; want nothing adopted", got, err)
	}
	tm := h.exit()
	if tm.ID != "gone" || tm.Pid != pid || tm.Destroyed || tm.ExitCode() != 7 {
		t.Errorf("termination = %+v (%s), want exit status 7", tm, tm)
	}
	if ProcessAlive(left) {
		t.Errorf("pid %d, left in the ended container's session, survived recovery", left)
	}
	testutil.WaitFor(t, "the runtime directory to go", patience, func() bool {
		_, err := os.Stat(h.runDir("gone"))
		return errors.Is(err, os.ErrNotExist)
	})
}

// A container in the runtime directory that the agent does not know is an
// orphan: Recover kills its whole tree and removes its records, reporting
// nothing. A container the agent knows but the runtime directory does not
// is reported ended, with an unknown status.
func TestRecoverKillsOrphansAndReportsUnknown(t *testing.T) {
	workDir := t.TempDir()
	pid := launchThenDie(t, workDir, "orphan", `setsid sleep 1000 & echo $! > ss.pid; sleep 1000 & echo $! > bg.pid; exec sleep 1000`)
	h := restarted(t, workDir)
	bg := testutil.WaitPIDFile(t, filepath.Join(h.sandbox("orphan"), "bg.pid"), patience)
	ss := testutil.WaitPIDFile(t, filepath.Join(h.sandbox("orphan"), "ss.pid"), patience)

	got, err := h.p.Recover([]string{"unrecorded"})
	if err != nil || len(got) != 0 {
		t.Fatalf("Recover = %+v, %v; want nothing adopted", got, err)
	}
	for _, p := range []int{pid, bg, ss} {
		if ProcessAlive(p) {
			t.Errorf("orphan's pid %d survived recovery", p)
		}
	}
	if _, err := os.Stat(h.runDir("orphan")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the orphan's runtime directory is left: %v", err)
	}
	tm := h.exit()
	if tm.ID != "unrecorded" || tm.Status != -1 || tm.Destroyed || tm.String() != "ended with an unknown status" {
		t.Errorf("termination = %+v (%s)", tm, tm)
	}
	h.noExit()
}

// A recorded pid that now names another process (its start time differs)
// is not taken for the container: the container is reported ended, and
// the process that has the pid is left alone.
func TestRecoverIsNotFooledByPidReuse(t *testing.T) {
	workDir := t.TempDir()
	pid := launchThenDie(t, workDir, "reused", `exec sleep 1000`)
	h := restarted(t, workDir)
	// Make the records say the processes started a tick earlier than the
	// ones that have their pids now.
	path := filepath.Join(h.runDir("reused"), pidsFile)
	var rec pidsRecord
	if err := readJSON(path, &rec); err != nil {
		t.Fatal(err)
	}
	rec.Root.StartTime--
	rec.Executor.StartTime--
	if err := writeJSON(path, rec); err != nil {
		t.Fatal(err)
	}

	got, err := h.p.Recover([]string{"reused"})
	if err != nil || len(got) != 0 {
		t.Fatalf("Recover = %+v, %v; want nothing adopted", got, err)
	}
	tm := h.exit()
	if tm.ID != "reused" || tm.Status != -1 || tm.Destroyed {
		t.Errorf("termination = %+v (%s)", tm, tm)
	}
	if !ProcessAlive(pid) || !ProcessAlive(rec.Root.Pid) {
		t.Errorf("the processes that now have the recorded pids (%d, %d) were killed", pid, rec.Root.Pid)
	}
}

// A container the containerizer runs itself is never taken for an orphan,
// nor adopted a second time, by a later Recover.
func TestRecoverLeavesItsOwnContainersAlone(t *testing.T) {
	h := newHarness(t)
	_, pid := h.launch("mine", "exec sleep 1000")
	for _, known := range [][]string{nil, {"mine"}} {
		got, err := h.p.Recover(known)
		if err != nil || len(got) != 0 {
			t.Fatalf("Recover(%v) = %+v, %v; want nothing adopted", known, got, err)
		}
		if !ProcessAlive(pid) || h.p.Pids()["mine"] != pid {
			t.Fatalf("Recover(%v) disturbed a running container (alive: %v, pids %v)", known, ProcessAlive(pid), h.p.Pids())
		}
	}
	h.noExit()
}

// strayDescriptors lists the descriptors pid holds beyond standard input
// on /dev/null and standard output and error in sandbox.
func strayDescriptors(t *testing.T, pid int, sandbox string) []string {
	t.Helper()
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	fds, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var stray []string
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(dir, fd.Name()))
		if err != nil {
			continue // closed since the listing
		}
		switch {
		case fd.Name() == "0" && target == os.DevNull:
		case (fd.Name() == "1" || fd.Name() == "2") && strings.HasPrefix(target, sandbox+"/"):
		default:
			stray = append(stray, fd.Name()+" -> "+target)
		}
	}
	return stray
}
