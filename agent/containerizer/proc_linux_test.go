package containerizer

import (
	"os"
	"testing"
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
