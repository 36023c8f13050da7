package cputime

import (
	"os"
	"syscall"
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

// A stat line's minor faults are its 10th field; a process that touches
// fresh memory takes one a page.
func TestMinorFaults(t *testing.T) {
	line := []byte("4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 9 0 1234 0 0\n")
	if n, err := parseMinorFaults(line); err != nil || n != 100 {
		t.Errorf("parseMinorFaults = %d, %v; want 100", n, err)
	}
	if _, err := parseMinorFaults([]byte("4242 (a) S 1 2")); err == nil {
		t.Error("parseMinorFaults of a short line: no error")
	}

	const size = 8 << 20
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip("no anonymous mapping:", err)
	}
	defer syscall.Munmap(mem)
	before, ok := MinorFaultsOf(os.Getpid())
	if !ok {
		t.Fatal("MinorFaultsOf(self) not measured")
	}
	for i := 0; i < size; i += 4096 {
		mem[i] = 1
	}
	after, _ := MinorFaultsOf(os.Getpid())
	if pages := int64(size / os.Getpagesize()); after-before < pages/2 {
		t.Errorf("touching %d fresh pages took %d minor faults; want about one a page", pages, after-before)
	}
}
