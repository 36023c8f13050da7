package benchtasks

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gomesos/gomesos/internal/cputime"
)

// The wall times of a run follow the machine's load (on a shared machine,
// mostly other processes'); the CPU time the launch and the bare fork/exec
// cost does not. A cpuMark is the CPU time used so far by this process,
// by its direct children (the executor host, supervisors) and by the
// processes given (the tasks, or the bare processes); the difference of
// two marks is what happened in between.
type cpuMark struct {
	self     time.Duration
	children map[int]time.Duration
	procs    map[int]time.Duration
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times (100 on
// every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

func markCPU(procs []int) cpuMark {
	m := cpuMark{self: cputime.Process(), children: map[int]time.Duration{}, procs: map[int]time.Duration{}}
	for _, pid := range procs {
		if d, ok := schedRuntime(pid); ok {
			m.procs[pid] = d
		}
	}
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, given := m.procs[pid]; given {
			continue
		}
		if ppid, cpu, ok := procStat(pid); ok && ppid == self {
			m.children[pid] = cpu
		}
	}
	return m
}

// since is the CPU time used from earlier to m: by this process, its
// children (what they used since earlier, or all of it for those started
// since) and m's processes (all their CPU time: they started after
// earlier).
func (m cpuMark) since(earlier cpuMark) time.Duration {
	self, children, procs := m.parts(earlier)
	return self + children + procs
}

// parts splits since's sum: this process's, its children's and the
// processes'.
func (m cpuMark) parts(earlier cpuMark) (self, children, procs time.Duration) {
	self = m.self - earlier.self
	for pid, cpu := range m.children {
		children += cpu - earlier.children[pid]
	}
	for _, cpu := range m.procs {
		procs += cpu
	}
	return self, children, procs
}

// procStat reads a process's parent and its CPU time (user and system,
// its own threads, live and ended) from /proc/<pid>/stat.
func procStat(pid int) (ppid int, cpu time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	// After the command: state(0) ppid(1) ... utime(11) stime(12).
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ppid, time.Duration(ut+st) * clockTick, true
}

// schedRuntime is the time a process's live threads have run on a CPU, in
// nanoseconds from /proc/<pid>/task/*/schedstat (finer than stat's ticks,
// which would round a short-lived process's few milliseconds to 0 or 10).
func schedRuntime(pid int) (time.Duration, bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	var sum time.Duration
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			sum += time.Duration(ns)
		}
	}
	return sum, true
}

// inGroups lists the live processes whose process group is one of pgids.
func inGroups(pgids map[int]bool) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 3 {
			continue
		}
		if pg, _ := strconv.Atoi(f[2]); pgids[pg] {
			out = append(out, pid)
		}
	}
	return out
}
