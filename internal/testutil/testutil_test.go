package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTB is a testing.TB that records failures and cleanups instead of
// acting on them, so that a test can check a helper's verdict. Methods it
// does not override panic (the embedded TB is nil).
type fakeTB struct {
	testing.TB

	mu       sync.Mutex
	errors   []string
	fatal    bool
	cleanups []func()
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

// Fatalf records the failure and ends the calling goroutine, as
// testing.T's does; run the code under test with f.run.
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
	f.fatal = true
	f.mu.Unlock()
	runtime.Goexit()
}

// run calls fn on a goroutine of its own, which Fatalf may end, and
// returns when that goroutine has.
func (f *fakeTB) run(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

// runCleanups runs the registered cleanups, last first, as testing does.
func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	f.cleanups = nil
}

func (f *fakeTB) failures() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.errors...)
}

// leakyWorker blocks until release is closed; its name marks its stack.
func leakyWorker(release <-chan struct{}) { <-release }

func TestCheckGoroutinesReportsLeak(t *testing.T) {
	CheckGoroutines(t)
	ft := &fakeTB{}
	checkGoroutines(ft, 50*time.Millisecond)
	release := make(chan struct{})
	defer close(release)
	go leakyWorker(release)
	start := time.Now()
	ft.runCleanups()
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("the check gave up after %v, before its deadline", waited)
	}
	errs := ft.failures()
	if len(errs) != 1 {
		t.Fatalf("failures = %q, want one", errs)
	}
	if !strings.HasPrefix(errs[0], "1 goroutines leaked:") || !strings.Contains(errs[0], "testutil.leakyWorker") {
		t.Errorf("failure does not name the leaked goroutine:\n%s", errs[0])
	}
}

func TestCheckGoroutinesWaitsForEndingGoroutines(t *testing.T) {
	CheckGoroutines(t)
	ft := &fakeTB{}
	checkGoroutines(ft, 10*time.Second)
	release := make(chan struct{})
	go leakyWorker(release)
	time.AfterFunc(20*time.Millisecond, func() { close(release) })
	ft.runCleanups()
	if errs := ft.failures(); len(errs) != 0 {
		t.Errorf("failures = %q, want none", errs)
	}
}

func TestCheckGoroutinesIgnoresEarlierAndBenignOnes(t *testing.T) {
	CheckGoroutines(t)
	release := make(chan struct{})
	defer close(release)
	go leakyWorker(release)
	ft := &fakeTB{}
	checkGoroutines(ft, 50*time.Millisecond)
	// A parallel subtest's goroutine runs testing.tRunner.
	t.Run("sibling", func(t *testing.T) {
		t.Parallel()
		<-release
	})
	ft.runCleanups()
	if errs := ft.failures(); len(errs) != 0 {
		t.Errorf("failures = %q, want none", errs)
	}
}

func TestCheckChildrenReportsLiveChild(t *testing.T) {
	needProc(t)
	CheckChildren(t)
	ft := &fakeTB{}
	checkChildren(ft, 50*time.Millisecond)
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	ft.runCleanups()
	errs := ft.failures()
	want := fmt.Sprintf("child processes left running: %d (sleep 60)", cmd.Process.Pid)
	if len(errs) != 1 || errs[0] != want {
		t.Errorf("failures = %q, want %q", errs, want)
	}
}

func TestCheckChildrenIgnoresZombiesAndEarlierChildren(t *testing.T) {
	needProc(t)
	earlier := exec.Command("sleep", "60")
	if err := earlier.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = earlier.Process.Kill()
		_ = earlier.Wait()
	}()
	ft := &fakeTB{}
	checkChildren(ft, 10*time.Second)
	zombie := exec.Command("true")
	if err := zombie.Start(); err != nil {
		t.Fatal(err)
	}
	defer zombie.Wait()
	WaitFor(t, "the child to exit", 10*time.Second, func() bool { return ProcessGone(zombie.Process.Pid) })
	ft.runCleanups()
	if errs := ft.failures(); len(errs) != 0 {
		t.Errorf("failures = %q, want none", errs)
	}
}

func TestProcessGone(t *testing.T) {
	needProc(t)
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if ProcessGone(pid) {
		t.Errorf("ProcessGone(%d) of a running child", pid)
	}
	_ = cmd.Process.Kill()
	WaitFor(t, "the killed child to be a zombie", 10*time.Second, func() bool {
		state, _, err := procStat(pid)
		return err == nil && state == "Z"
	})
	if !ProcessGone(pid) {
		t.Errorf("ProcessGone(%d) of a zombie is false", pid)
	}
	_ = cmd.Wait()
	if !ProcessGone(pid) {
		t.Errorf("ProcessGone(%d) of a reaped child is false", pid)
	}
}

func needProc(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc:", err)
	}
}

func TestWaitForReturnsOnceTheConditionHolds(t *testing.T) {
	ft := &fakeTB{}
	calls := 0
	ft.run(func() { WaitFor(ft, "the third call", 10*time.Second, func() bool { calls++; return calls == 3 }) })
	if errs := ft.failures(); len(errs) != 0 || calls != 3 {
		t.Errorf("failures = %q after %d calls, want none after 3", errs, calls)
	}
}

func TestWaitForFailsAtTheDeadline(t *testing.T) {
	ft := &fakeTB{}
	returned := false
	start := time.Now()
	ft.run(func() {
		WaitFor(ft, "the impossible", 30*time.Millisecond, func() bool { return false })
		returned = true
	})
	if waited := time.Since(start); waited < 30*time.Millisecond {
		t.Errorf("gave up after %v, before the deadline", waited)
	}
	errs := ft.failures()
	if returned || !ft.fatal || len(errs) != 1 || errs[0] != "timed out after 30ms waiting for the impossible" {
		t.Errorf("returned %v, fatal %v, failures %q", returned, ft.fatal, errs)
	}
}

func TestWaitPIDFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pid")
	// A partial write (no newline yet) is not taken.
	if err := os.WriteFile(path, []byte("12"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(20*time.Millisecond, func() { _ = os.WriteFile(path, []byte("1234\n"), 0o644) })
	if pid := WaitPIDFile(t, path, 10*time.Second); pid != 1234 {
		t.Errorf("pid = %d, want 1234", pid)
	}
}

// No package but this one may import testutil outside its tests.
func TestNotImportedByNonTestCode(t *testing.T) {
	// go test puts its own go command first on PATH.
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	const self = "github.com/gomesos/gomesos/internal/testutil"
	out, err := exec.Command(goBin, "list", "-f", "{{.ImportPath}}:{{range .Imports}} {{.}}{{end}}", "github.com/gomesos/gomesos/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		for _, imp := range strings.Fields(imports) {
			if imp == self {
				t.Errorf("%s imports %s outside its tests", pkg, self)
			}
		}
	}
}
