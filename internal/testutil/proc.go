package testutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// CheckChildren records the child processes of the test binary alive now
// and, when the test's cleanups are done, waits up to 10 s for every child
// started since to exit; it fails the test with those still alive. A zombie
// (exited, not yet reaped) does not count. Call it before anything else the
// test sets up, so that its cleanup runs last.
//
// It reads /proc; where there is none it finds no children.
func CheckChildren(t testing.TB) {
	t.Helper()
	checkChildren(t, leakTimeout)
}

func checkChildren(t testing.TB, timeout time.Duration) {
	t.Helper()
	before := map[int]bool{}
	for _, pid := range liveChildren() {
		before[pid] = true
	}
	t.Cleanup(func() {
		var left []int
		poll(timeout, func() bool {
			left = left[:0]
			for _, pid := range liveChildren() {
				if !before[pid] {
					left = append(left, pid)
				}
			}
			return len(left) == 0
		})
		if len(left) > 0 {
			desc := make([]string, len(left))
			for i, pid := range left {
				desc[i] = fmt.Sprintf("%d (%s)", pid, cmdline(pid))
			}
			t.Errorf("child processes left running: %s", strings.Join(desc, ", "))
		}
	})
}

// ProcessGone reports whether pid no longer names a running process: there
// is none, or it is a zombie waiting for its parent to reap it.
func ProcessGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	state, _, err := procStat(pid)
	if err != nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	return dead(state)
}

// liveChildren lists the children of this process that are not zombies.
func liveChildren() []int {
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, ppid, err := procStat(pid)
		if err == nil && ppid == self && !dead(state) {
			out = append(out, pid)
		}
	}
	return out
}

// dead reports whether a /proc state letter is a zombie's or a dead one's.
func dead(state string) bool { return state == "Z" || state == "X" }

// procStat reads a process's state letter and parent from /proc/<pid>/stat.
func procStat(pid int) (state string, ppid int, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, err
	}
	// The state and the parent follow the command name, which is in
	// parentheses and may itself hold any bytes.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return "", 0, fmt.Errorf("/proc/%d/stat: unexpected %q", pid, s)
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 2 {
		return "", 0, fmt.Errorf("/proc/%d/stat: unexpected %q", pid, s)
	}
	ppid, err = strconv.Atoi(f[1])
	return f[0], ppid, err
}

// cmdline is a process's command line, for messages.
func cmdline(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}
