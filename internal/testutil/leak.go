package testutil

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// leakTimeout is how long, after its other cleanups, a test's goroutines
// and child processes get to end before they count as leaked.
const leakTimeout = 10 * time.Second

// CheckGoroutines records the goroutines running now and, when the test's
// cleanups are done, waits up to 10 s for every goroutine started since to
// end; it fails the test with the stacks of those still running. Call it
// before anything else the test sets up, so that its cleanup runs last.
//
// Goroutines of the testing package (other tests and subtests running in
// parallel, fuzzing) and those the runtime and os/signal start for good are
// not counted.
func CheckGoroutines(t testing.TB) {
	t.Helper()
	checkGoroutines(t, leakTimeout)
}

func checkGoroutines(t testing.TB, timeout time.Duration) {
	t.Helper()
	before := goroutines()
	t.Cleanup(func() {
		var leaked []string
		poll(timeout, func() bool {
			leaked = leaked[:0]
			for id, stack := range goroutines() {
				if _, ok := before[id]; !ok && !benignGoroutine(stack) {
					leaked = append(leaked, stack)
				}
			}
			return len(leaked) == 0
		})
		if len(leaked) > 0 {
			slices.Sort(leaked)
			t.Errorf("%d goroutines leaked:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
	})
}

// benign holds what marks the stack of a goroutine that is not a leak.
var benign = []string{
	// The testing package: test runners, parallel tests and subtests, fuzzing.
	"testing.tRunner", "testing.(*T).Run", "testing.runTests", "testing.(*M).",
	"testing.(*F).Fuzz", "testing.runFuzzTests",
	// Started lazily by os/signal and the runtime and kept for the life of
	// the process.
	"os/signal.signal_recv", "runtime.ensureSigM",
}

func benignGoroutine(stack string) bool {
	for _, s := range benign {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}

// goroutines maps each goroutine's id ("goroutine 12") to its stack.
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
		head, _, _ := strings.Cut(g, " [")
		if strings.HasPrefix(head, "goroutine ") {
			out[head] = g
		}
	}
	return out
}
