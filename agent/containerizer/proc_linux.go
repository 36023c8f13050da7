package containerizer

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// procInfo is one line of /proc/<pid>/stat that matters here.
type procInfo struct {
	pid, ppid, pgid, sid int
	zombie               bool
}

// listProcs reads every process's parent, group and session from /proc.
func listProcs() []procInfo {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	out := make([]procInfo, 0, len(names))
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		if pi, ok := readStat(pid); ok {
			out = append(out, pi)
		}
	}
	return out
}

// ProcessAlive reports whether pid names a live (not zombie) process. Tests
// use it to check that a container left nothing behind.
func ProcessAlive(pid int) bool {
	pi, ok := readStat(pid)
	return ok && !pi.zombie
}

func readStat(pid int) (procInfo, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	s := string(b)
	// The command name is in parentheses and may itself hold any bytes.
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return procInfo{}, false
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 4 {
		return procInfo{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	pgid, _ := strconv.Atoi(f[2])
	sid, _ := strconv.Atoi(f[3])
	return procInfo{pid: pid, ppid: ppid, pgid: pgid, sid: sid, zombie: f[0] == "Z" || f[0] == "X"}, true
}

// members returns the live processes of a container: those in session or
// group sid, and every descendant of root or of another member.
func members(root, sid int) []int {
	procs := listProcs()
	self := os.Getpid()
	in := make(map[int]bool)
	children := make(map[int][]int)
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p.pid)
		if p.zombie || p.pid == self || p.pid <= 1 {
			continue
		}
		if sid > 1 && (p.sid == sid || p.pgid == sid) {
			in[p.pid] = true
		}
	}
	zombie := make(map[int]bool)
	for _, p := range procs {
		if p.zombie {
			zombie[p.pid] = true
		}
	}
	stack := make([]int, 0, len(in)+1)
	for pid := range in {
		stack = append(stack, pid)
	}
	if root > 1 && root != self {
		if !zombie[root] && !in[root] {
			if _, ok := readStat(root); ok {
				in[root] = true
			}
		}
		stack = append(stack, root)
	}
	for len(stack) > 0 {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range children[pid] {
			if in[c] || zombie[c] || c == self {
				continue
			}
			in[c] = true
			stack = append(stack, c)
		}
	}
	out := make([]int, 0, len(in))
	for pid := range in {
		out = append(out, pid)
	}
	return out
}

// killTree kills the processes of a container (see members). It first stops
// them all, rescanning until no new process appears, so that none can fork
// out of reach, then sends SIGKILL; with wait, it then waits (a bounded
// time) for them to be gone.
func killTree(root, sid int, wait bool) {
	stopped := make(map[int]bool)
	for round := 0; round < 100; round++ {
		fresh := 0
		for _, pid := range members(root, sid) {
			if stopped[pid] {
				continue
			}
			fresh++
			stopped[pid] = true
			_ = syscall.Kill(pid, syscall.SIGSTOP)
		}
		if fresh == 0 {
			break
		}
	}
	for pid := range stopped {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if !wait {
		return
	}
	// SIGKILL is delivered asynchronously; give the kernel a moment so that
	// callers see the processes gone. Bounded: a process in uninterruptible
	// sleep can take longer, and is left to die on its own.
	deadline := time.Now().Add(2 * time.Second)
	for delay := 100 * time.Microsecond; ; delay *= 2 {
		alive := false
		for pid := range stopped {
			if ProcessAlive(pid) {
				alive = true
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if !alive || time.Now().After(deadline) {
			return
		}
		time.Sleep(min(delay, 50*time.Millisecond))
	}
}

// waitExitNoReap blocks until pid has exited, leaving it a zombie so that
// its pid stays reserved until the caller reaps it.
func waitExitNoReap(pid int) {
	const (
		pPID    = 1
		wExited = 4
		wNoWait = 0x1000000
	)
	var info [128]byte // siginfo_t
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), wExited|wNoWait, 0, 0)
		if errno == 0 || !errors.Is(errno, syscall.EINTR) {
			return
		}
	}
}
