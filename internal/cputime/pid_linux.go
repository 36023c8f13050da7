package cputime

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTick is the unit of the times in /proc/<pid>/stat (USER_HZ, 100
// on every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// OfProcess is the CPU time (user and system) the process pid has used,
// read from /proc/<pid>/stat to the clock tick (10ms). It reports false
// where that cannot be read (the process is gone, or no procfs).
func OfProcess(pid int) (time.Duration, bool) {
	d, err := ofProcess(pid)
	return d, err == nil
}

func ofProcess(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseStat(b)
}

// parseStat reads utime and stime (fields 14 and 15) from a stat line. The
// command name (field 2) is in parentheses and may hold spaces and
// parentheses itself: the fields are counted from its last ')'.
// MinorFaultsOf is how many minor page faults the process pid has taken
// (/proc/<pid>/stat's minflt): each is a page of memory it touched for the
// first time, which costs it CPU (in the kernel) however it was allocated.
// It reports false where that cannot be read.
func MinorFaultsOf(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	n, err := parseMinorFaults(b)
	return n, err == nil
}

// parseMinorFaults reads field 10 (minflt) of a /proc/<pid>/stat line.
func parseMinorFaults(b []byte) (int64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("cputime: no command name in %q", b)
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3
	if len(f) < 8 {
		return 0, fmt.Errorf("cputime: %d fields after the command name, want at least 8", len(f))
	}
	n, err := strconv.ParseInt(string(f[7]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cputime: %w", err)
	}
	return n, nil
}

func parseStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("cputime: no command name in %q", b)
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("cputime: %d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cputime: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}
