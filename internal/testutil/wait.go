// Package testutil holds helpers for tests only: waiting for conditions
// with deadlines instead of sleeping, and checking that a test left no
// goroutines or child processes behind.
//
// It must not be imported by non-test code (its own test checks this): it
// fails tests through testing.TB and has no place in a binary.
package testutil

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// maxPoll caps the backoff between two checks of a condition.
const maxPoll = 20 * time.Millisecond

// WaitFor waits until cond holds, checking it at once and then with a short
// backoff (1 ms doubling up to 20 ms); it fails the test with Fatalf if cond
// does not hold within timeout. Like Fatalf, it must be called from the
// goroutine running the test.
//
// It is for conditions outside the test's reach (process death, files,
// another component's state); events the test can be told of are better
// awaited on channels.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	if !poll(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// poll reports whether cond held within timeout, checking it at least once
// and once more at the deadline.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for delay := time.Millisecond; ; delay = min(2*delay, maxPoll) {
		if cond() {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(delay, left)) // polling a condition, bounded by the deadline
	}
}

// WaitPIDFile waits until the file at path holds a process id followed by a
// newline (as `echo $$ > path` writes it) and returns the id; it fails the
// test after timeout.
func WaitPIDFile(t testing.TB, path string, timeout time.Duration) int {
	t.Helper()
	var pid int
	WaitFor(t, path, timeout, func() bool {
		b, err := os.ReadFile(path)
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}
