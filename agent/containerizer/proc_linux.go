package containerizer

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// procInfo is one line of /proc/<pid>/stat that matters here.
type procInfo struct {
	pid, ppid, pgid, sid int
	zombie               bool
	stopped              bool // state T or t: it runs no more until continued
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
	buf := make([]byte, 512)
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		if pi, ok := readStatInto(pid, buf); ok {
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
	return readStatInto(pid, make([]byte, 512))
}

// readStatInto reads /proc/<pid>/stat into buf, which must hold the line
// up to the session ID (512 bytes do: the command name is short).
func readStatInto(pid int, buf []byte) (procInfo, bool) {
	fd, err := syscall.Open("/proc/"+strconv.Itoa(pid)+"/stat", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return procInfo{}, false
	}
	n, err := syscall.Read(fd, buf)
	_ = syscall.Close(fd)
	if err != nil || n <= 0 {
		return procInfo{}, false
	}
	return parseStat(pid, buf[:n])
}

// parseStat takes the state, parent, group and session from a stat line:
// "pid (comm) state ppid pgrp session ...". The command name is in
// parentheses and may itself hold any bytes.
func parseStat(pid int, b []byte) (procInfo, bool) {
	i := len(b) - 1
	for i >= 0 && b[i] != ')' {
		i--
	}
	if i < 0 || i+2 >= len(b) {
		return procInfo{}, false
	}
	var f [4][]byte
	rest := b[i+2:]
	for k := 0; k < 4; k++ {
		for len(rest) > 0 && rest[0] == ' ' {
			rest = rest[1:]
		}
		j := 0
		for j < len(rest) && rest[j] != ' ' && rest[j] != '\n' {
			j++
		}
		if j == 0 {
			return procInfo{}, false
		}
		f[k], rest = rest[:j], rest[j:]
	}
	ppid, _ := strconv.Atoi(string(f[1]))
	pgid, _ := strconv.Atoi(string(f[2]))
	sid, _ := strconv.Atoi(string(f[3]))
	state := string(f[0])
	return procInfo{pid: pid, ppid: ppid, pgid: pgid, sid: sid, zombie: state == "Z" || state == "X",
		stopped: state == "T" || state == "t"}, true
}

// procTable shares scans of /proc. Reading every process's stat line costs
// a few milliseconds per thousand processes, and when a thousand containers
// end together each wants its own look at the process table; instead,
// every caller that asks while a scan runs waits for the next one, and all
// of them share it.
type procTable struct {
	mu       sync.Mutex
	cond     sync.Cond
	started  uint64 // scans begun
	finished uint64 // the number of the last scan done
	scanning bool
	snap     *procSnapshot // what the last scan found; never modified
}

// procSnapshot is one scan of the process table, with an index of it by
// parent, session and group made once, on first use, and shared by every
// caller that looks at the scan: when a thousand containers end together,
// each one's sweep is a walk of its own processes, not a rebuild of a map
// of every process on the host.
type procSnapshot struct {
	procs []procInfo
	once  sync.Once
	// children maps every pid (zombies included) to its children;
	// bySid and byPgid map a session and a group to their live members;
	// zombie holds the zombies.
	children, bySid, byPgid map[int][]int
	zombie                  map[int]bool
}

func (s *procSnapshot) index() *procSnapshot {
	s.once.Do(func() {
		s.children = make(map[int][]int, len(s.procs))
		s.bySid = make(map[int][]int)
		s.byPgid = make(map[int][]int)
		s.zombie = make(map[int]bool)
		for _, p := range s.procs {
			s.children[p.ppid] = append(s.children[p.ppid], p.pid)
			if p.zombie {
				s.zombie[p.pid] = true
				continue
			}
			s.bySid[p.sid] = append(s.bySid[p.sid], p.pid)
			if p.pgid != p.sid {
				s.byPgid[p.pgid] = append(s.byPgid[p.pgid], p.pid)
			}
		}
	})
	return s
}

var table = func() *procTable {
	t := &procTable{}
	t.cond.L = &t.mu
	return t
}()

// fresh returns the process table as read by a scan that began after the
// call. The result is shared: callers must not modify it.
func (t *procTable) fresh() []procInfo { return t.freshSnapshot().procs }

// freshSnapshot is fresh with the scan's shared index.
func (t *procTable) freshSnapshot() *procSnapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	need := t.started + 1
	for t.finished < need {
		if t.scanning {
			t.cond.Wait()
			continue
		}
		t.started++
		t.scanning = true
		t.mu.Unlock()
		snap := &procSnapshot{procs: listProcs()}
		t.mu.Lock()
		t.snap, t.finished, t.scanning = snap, t.started, false
		t.cond.Broadcast()
	}
	return t.snap
}

// members returns the live processes of the targets: those in each
// target's session or group, and every descendant of a target's root or of
// another member.
func members(snap *procSnapshot, targets []target) []int {
	ix := snap.index()
	self := os.Getpid()
	in := make(map[int]bool)
	var stack []int
	for _, t := range targets {
		if t.sid <= 1 {
			continue
		}
		for _, group := range [][]int{ix.bySid[t.sid], ix.byPgid[t.sid]} {
			for _, pid := range group {
				if pid != self && pid > 1 && !in[pid] {
					in[pid] = true
					stack = append(stack, pid)
				}
			}
		}
	}
	for _, t := range targets {
		if t.root <= 1 || t.root == self {
			continue
		}
		if !ix.zombie[t.root] && !in[t.root] {
			if pi, ok := readStat(t.root); ok && !pi.zombie {
				in[t.root] = true
			}
		}
		stack = append(stack, t.root)
	}
	for len(stack) > 0 {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range ix.children[pid] {
			if in[c] || ix.zombie[c] || c == self {
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

// killTrees kills the processes of the targets (see members) and returns
// how many it found. It first stops them all, rescanning until no new
// process appears, so that none can fork out of reach, then sends SIGKILL;
// with wait, it then waits (a bounded time) for them to be gone.
func killTrees(targets []target, wait bool) int {
	stopped := make(map[int]bool)
	var round []int
	for pass := 0; pass < 100; pass++ {
		fresh := 0
		for _, pid := range members(table.freshSnapshot(), targets) {
			if stopped[pid] {
				continue
			}
			fresh++
			stopped[pid] = true
			round = append(round, pid)
			_ = syscall.Kill(pid, syscall.SIGSTOP)
		}
		if fresh == 0 {
			break
		}
		// SIGSTOP is delivered asynchronously: until a process has
		// stopped it may still fork, and a child born after the next scan
		// would escape it. So the next scan waits for this round's
		// processes to be stopped (or dead).
		awaitStopped(round)
		round = round[:0]
	}
	for pid := range stopped {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if !wait {
		return len(stopped)
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
			return len(stopped)
		}
		time.Sleep(min(delay, 50*time.Millisecond))
	}
}

// awaitStopped waits, briefly, until each of pids is stopped, a zombie or
// gone. Bounded: a process in uninterruptible sleep stops only when it
// wakes, and the scans that follow still catch what it forks.
func awaitStopped(pids []int) {
	deadline := time.Now().Add(time.Second)
	for delay := 20 * time.Microsecond; ; delay *= 2 {
		pending := pids[:0]
		for _, pid := range pids {
			if pi, ok := readStat(pid); ok && !pi.zombie && !pi.stopped {
				pending = append(pending, pid)
			}
		}
		pids = pending
		if len(pids) == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(min(delay, 10*time.Millisecond))
	}
}

// killer batches destroys: a kill pass covers every container asked for
// while the previous pass ran, so a thousand destroys at once cost a few
// passes over /proc, not a thousand.
type killer struct {
	mu       sync.Mutex
	cond     sync.Cond
	pending  []target
	started  uint64
	finished uint64
	running  bool
}

var kills = func() *killer {
	k := &killer{}
	k.cond.L = &k.mu
	return k
}()

// kill returns once a pass that began after the call has sent SIGKILL to
// every process of the targets.
func (k *killer) kill(targets []target) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pending = append(k.pending, targets...)
	need := k.started + 1
	for k.finished < need {
		if k.running {
			k.cond.Wait()
			continue
		}
		batch := k.pending
		k.pending = nil
		k.started++
		k.running = true
		k.mu.Unlock()
		killTrees(batch, false)
		k.mu.Lock()
		k.finished, k.running = k.started, false
		k.cond.Broadcast()
	}
}

// killNow kills the targets' processes without waiting for them to die,
// in a pass shared with concurrent callers.
func killNow(targets []target) { kills.kill(targets) }

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

// procIdentity is what tells one process from a later one that was given
// the same pid: its start time, in clock ticks since boot (field 22 of
// /proc/<pid>/stat), and whether it has already exited (a zombie).
func procIdentity(pid int) (start uint64, zombie, ok bool) {
	if pid <= 0 {
		return 0, false, false
	}
	buf := make([]byte, 1024)
	fd, err := syscall.Open("/proc/"+strconv.Itoa(pid)+"/stat", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, false, false
	}
	n, err := syscall.Read(fd, buf)
	_ = syscall.Close(fd)
	if err != nil || n <= 0 {
		return 0, false, false
	}
	return parseStartTime(buf[:n])
}

// parseStartTime takes the state and the start time from a stat line. The
// start time is the 20th field after the parenthesized command name.
func parseStartTime(b []byte) (start uint64, zombie, ok bool) {
	i := len(b) - 1
	for i >= 0 && b[i] != ')' {
		i--
	}
	if i < 0 {
		return 0, false, false
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return 0, false, false
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, false, false
	}
	return start, fields[0] == "Z" || fields[0] == "X", true
}

// bootID names the running boot of the machine, so that pids recorded
// before a reboot are never taken for processes after it.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat and cpuacct.stat
// (USER_HZ, which Linux fixes at 100 for user space on every architecture).
const userHZ = 100

// processesOf reads what each live process of the container whose first
// process is root (its session, and every descendant) has used.
func processesOf(root int) []ProcessUsage {
	pids := members(table.freshSnapshot(), []target{{root, root}})
	out := make([]ProcessUsage, 0, len(pids))
	for _, pid := range pids {
		if u, ok := readProcUsage(pid); ok {
			out = append(out, u)
		}
	}
	return out
}

// readProcUsage reads a process's CPU times, threads and resident set from
// /proc/<pid>/stat.
func readProcUsage(pid int) (ProcessUsage, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ProcessUsage{}, false
	}
	return parseProcUsage(pid, b, os.Getpagesize())
}

// parseProcUsage takes utime, stime, num_threads and rss (fields 14, 15,
// 20 and 24 of proc(5)'s stat line) from a stat line.
func parseProcUsage(pid int, b []byte, pageSize int) (ProcessUsage, bool) {
	i := len(b) - 1
	for i >= 0 && b[i] != ')' {
		i--
	}
	if i < 0 {
		return ProcessUsage{}, false
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3, the state
	if len(f) < 22 || f[0] == "Z" || f[0] == "X" {
		return ProcessUsage{}, false
	}
	num := func(k int) uint64 {
		n, _ := strconv.ParseUint(f[k-3], 10, 64)
		return n
	}
	return ProcessUsage{
		Pid:        pid,
		UserTime:   time.Duration(num(14)) * (time.Second / userHZ),
		SystemTime: time.Duration(num(15)) * (time.Second / userHZ),
		Threads:    int(num(20)),
		RSSBytes:   num(24) * uint64(pageSize),
	}, true
}
