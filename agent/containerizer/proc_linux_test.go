package containerizer

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// The fields after the command name are found whatever the name holds.
func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		line string
		want procInfo
		ok   bool
	}{
		{"42 (sleep) S 1 42 42 0 -1 4194560 98 0\n", procInfo{pid: 42, ppid: 1, pgid: 42, sid: 42}, true},
		{"43 (a) (b) c) Z 42 40 41 0\n", procInfo{pid: 43, ppid: 42, pgid: 40, sid: 41, zombie: true}, true},
		{"44 (x y) X 2 3 4", procInfo{pid: 44, ppid: 2, pgid: 3, sid: 4, zombie: true}, true},
		{"45 (short) S 1 2", procInfo{}, false},
		{"46 no parenthesis", procInfo{}, false},
	} {
		var pid int
		for _, c := range tc.line {
			if c < '0' || c > '9' {
				break
			}
			pid = pid*10 + int(c-'0')
		}
		got, ok := parseStat(pid, []byte(tc.line))
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseStat(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

// The shared scan of the process table finds this process.
func TestFreshProcessTable(t *testing.T) {
	procs := table.fresh()
	if len(procs) == 0 {
		t.Skip("no /proc")
	}
	self := false
	for _, p := range procs {
		self = self || p.pid == os.Getpid()
	}
	if !self {
		t.Errorf("the process table lacks this process")
	}
}

// A watch follows a process by pid and start time: it refuses a start time
// that is not the process's, and its wait returns once the process has
// exited, through a pidfd where the kernel has them.
func TestWatchProc(t *testing.T) {
	cmd := exec.Command("/bin/sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	start, zombie, ok := procIdentity(pid)
	if !ok || zombie || start == 0 {
		t.Fatalf("procIdentity(%d) = %d, %v, %v", pid, start, zombie, ok)
	}
	if w, ok := watchProc(pid, start+1); ok {
		w.close()
		t.Fatal("watchProc took a process with another start time")
	}
	w, ok := watchProc(pid, start)
	if !ok {
		t.Fatal("watchProc refused a live process")
	}
	defer w.close()
	if w.f == nil {
		t.Log("no pidfd; the watch polls /proc")
	}
	done := make(chan struct{})
	go func() { w.wait(); close(done) }()
	select {
	case <-done:
		t.Fatal("wait returned while the process runs")
	default:
	}
	_ = cmd.Process.Kill()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("wait did not return after the process was killed")
	}
}

// The start time is the 22nd field of a stat line, whatever the command
// name holds.
func TestParseStartTime(t *testing.T) {
	const tail = " 0 -1 4194560 98 0 0 0 0 0 0 0 20 0 1 0 123456 1000 200"
	for _, tc := range []struct {
		line   string
		start  uint64
		zombie bool
		ok     bool
	}{
		{"42 (sleep) S 1 42 42" + tail + "\n", 123456, false, true},
		{"43 (a) (b c) Z 1 42 42" + tail, 123456, true, true},
		{"44 (short) S 1 42 42 0", 0, false, false},
	} {
		start, zombie, ok := parseStartTime([]byte(tc.line))
		if start != tc.start || zombie != tc.zombie || ok != tc.ok {
			t.Errorf("parseStartTime(%q) = %d, %v, %v; want %d, %v, %v", tc.line, start, zombie, ok, tc.start, tc.zombie, tc.ok)
		}
	}
}
