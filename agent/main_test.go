package agent

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/executor/builtin"
)

// TestMain makes the test binary serve as the built-in executors: the agent
// under test starts it with builtin.EnvKind set, as it starts gomesos.
func TestMain(m *testing.M) {
	if kind := os.Getenv(builtin.EnvKind); kind != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		code := builtin.Run(ctx, kind)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func TestExecutorKindEnvMatchesBuiltin(t *testing.T) {
	if executorKindEnv != builtin.EnvKind {
		t.Fatalf("executorKindEnv = %q, builtin.EnvKind = %q", executorKindEnv, builtin.EnvKind)
	}
}

// patience bounds every wait for a condition.
const patience = 30 * time.Second

// eventually waits until cond holds, polling with a short backoff; it fails
// the test at the deadline. It is for conditions outside the test's reach
// (process death, files); protocol events are awaited on channels.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(delay)
	}
}

// checkLeaks records the goroutines running now and, at cleanup (which runs
// after the cleanups registered later, so after the agent and the fake
// master are stopped), fails if new ones are still running, and if any
// child process of the test is still alive.
func checkLeaks(t *testing.T) {
	before := goroutineIDs()
	t.Cleanup(func() {
		var extra []string
		deadline := time.Now().Add(10 * time.Second)
		for {
			extra = extra[:0]
			for id, stack := range goroutines() {
				if !before[id] && !benignGoroutine(stack) {
					extra = append(extra, stack)
				}
			}
			if len(extra) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if len(extra) > 0 {
			t.Errorf("%d goroutines leaked:\n%s", len(extra), strings.Join(extra, "\n\n"))
		}
		if kids := liveChildren(); len(kids) > 0 {
			t.Errorf("child processes left running: %v", kids)
		}
	})
}

func goroutineIDs() map[string]bool {
	out := map[string]bool{}
	for id := range goroutines() {
		out[id] = true
	}
	return out
}

// goroutines maps each goroutine's ID to its stack.
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		fields := strings.Fields(g)
		if len(fields) >= 2 && fields[0] == "goroutine" {
			out[fields[1]] = g
		}
	}
	return out
}

func benignGoroutine(stack string) bool {
	for _, s := range []string{
		"testing.(*T).Run", "testing.tRunner", "testing.runTests", "testing.(*M).",
		"runtime.goexit0", "os/signal.signal_recv", "runtime.ensureSigM",
		"checkLeaks.func1", "goroutines()",
	} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}

// liveChildren lists the test process's children that are not zombies.
func liveChildren() []int {
	self := os.Getpid()
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+2:])
		if len(f) > 1 && f[1] == strconv.Itoa(self) && containerizer.ProcessAlive(pid) {
			out = append(out, pid)
		}
	}
	return out
}
