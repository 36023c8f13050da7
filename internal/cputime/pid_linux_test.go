package cputime

import (
	"os"
	"testing"
	"time"
)

// A stat line's CPU times are its 14th and 15th fields, counted after a
// command name that may hold spaces and parentheses.
func TestParseStat(t *testing.T) {
	line := []byte("4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 9 0 1234 0 0\n")
	got, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := 287 * 10 * time.Millisecond; got != want {
		t.Errorf("parseStat = %v; want %v", got, want)
	}
	if _, err := parseStat([]byte("4242 (a) S 1 2")); err == nil {
		t.Error("parseStat of a short line: no error")
	}
}

// This process's own CPU time, read through procfs, grows as it spins and
// agrees with getrusage to a few ticks.
func TestOfProcessSelf(t *testing.T) {
	before, ok := OfProcess(os.Getpid())
	if !ok {
		t.Fatal("OfProcess(self) not measured")
	}
	for spin := time.Now(); time.Since(spin) < 10*time.Second; {
		if d, _ := OfProcess(os.Getpid()); d >= before+50*time.Millisecond {
			break
		}
	}
	after, _ := OfProcess(os.Getpid())
	if after <= before {
		t.Errorf("OfProcess(self) went from %v to %v while spinning", before, after)
	}
	if r := Process(); r+50*time.Millisecond < after {
		t.Errorf("OfProcess(self) = %v, more than getrusage's %v", after, r)
	}
	if _, ok := OfProcess(-1); ok {
		t.Error("OfProcess(-1) measured")
	}
}
