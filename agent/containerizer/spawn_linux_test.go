package containerizer

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomesos/gomesos/executor/builtin"
)

// The spawner starts a process as the executor host starts a task (in its
// directory, with its environment, stdin /dev/null, its stdout and stderr,
// leading a session of its own, a child of this process), from a thread
// whose descriptor table does not grow with the process's.
func TestSpawnerStartsFromItsOwnTable(t *testing.T) {
	dir := t.TempDir()
	// Go's poller runs before the spawner starts, as in the host.
	ln, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sp, err := startSpawner()
	if err != nil {
		t.Fatal(err)
	}
	// Descriptors the process opens afterwards stay out of the spawner's
	// table.
	for range 50 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
	}
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()

	script := `read -r pid comm state ppid pgrp sid rest < /proc/$$/stat; echo "$$ $sid $FOO $(pwd) $(cat)"; echo oops >&2`
	pid, err := sp.spawn("/bin/sh", []string{"sh", "-c", script}, []string{"FOO=bar", "PATH=/bin:/usr/bin"}, dir, "", stdout, stderr)
	if err != nil {
		t.Fatal(err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatalf("the spawned process is not this one's child: %v", err)
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("the process ended with %v", ws)
	}
	out, _ := os.ReadFile(stdout.Name())
	want := strconv.Itoa(pid) + " " + strconv.Itoa(pid) + " bar " + dir + " \n"
	if string(out) != want {
		t.Errorf("stdout = %q, want %q (pid, session, environment, directory, empty stdin)", out, want)
	}
	if errOut, _ := os.ReadFile(stderr.Name()); string(errOut) != "oops\n" {
		t.Errorf("stderr = %q", errOut)
	}

	ents, err := os.ReadDir("/proc/self/task/" + strconv.Itoa(sp.tid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	// The process's table is read from this goroutine's own thread:
	// /proc/self is the main thread's, and the spawner's thread may be
	// the main thread.
	runtime.LockOSThread()
	shared, err := os.ReadDir("/proc/thread-self/fd")
	runtime.UnlockOSThread()
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) > 12 || len(shared) < 50 {
		t.Errorf("the spawner's table holds %d descriptors, the process's %d", len(ents), len(shared))
	}

	// A command that cannot be executed is an error, as os.StartProcess
	// words it, and the spawner goes on.
	_, err = sp.spawn(filepath.Join(dir, "missing"), []string{"missing"}, nil, dir, "", stdout, stderr)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "fork/exec") {
		t.Errorf("spawning a missing command: %v", err)
	}
	pid, err = sp.spawn("/bin/true", []string{"true"}, nil, dir, "", stdout, stderr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 0 {
		t.Errorf("after a failed spawn: %v, %v", err, ws)
	}
}

// BenchmarkStartTask starts /bin/true from a process holding 4,000 more
// descriptors of as many files (what an executor host holds with a thousand tasks running:
// each one's stdout, stderr and pidfds), through os/exec as before and
// through the spawner, and reports the CPU time (this process's and its
// children's, user and system) per start.
//
//	go test ./agent/containerizer/ -run '^$' -bench StartTask -benchtime 500x
func BenchmarkStartTask(b *testing.B) {
	dir := b.TempDir()
	ln, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	sp, err := startSpawner()
	if err != nil {
		b.Fatal(err)
	}
	// Files of their own, as the sandboxes' are: closing a thousand
	// descriptors of one file costs less (its inode stays in the cache).
	for i := range 4000 {
		f, err := os.Create(filepath.Join(dir, strconv.Itoa(i)))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
	}
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	cpu := func() time.Duration {
		var self, children syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
		_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
		return time.Duration(self.Utime.Nano() + self.Stime.Nano() + children.Utime.Nano() + children.Stime.Nano())
	}
	b.Run("exec.Cmd", func(b *testing.B) {
		before := cpu()
		for b.Loop() {
			cmd := exec.Command("/bin/true")
			cmd.Stdout, cmd.Stderr = out, out
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64((cpu()-before).Microseconds())/float64(b.N), "cpu-µs/op")
	})
	b.Run("spawner", func(b *testing.B) {
		before := cpu()
		for b.Loop() {
			pid, err := sp.spawn("/bin/true", []string{"true"}, nil, dir, "", out, out)
			if err != nil {
				b.Fatal(err)
			}
			var ws syscall.WaitStatus
			if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64((cpu()-before).Microseconds())/float64(b.N), "cpu-µs/op")
	})
}

// A spawner that could not take a launch's descriptors starts nothing
// more, and says so in a way that sends tasks the other way.
func TestBrokenSpawnerSaysSo(t *testing.T) {
	sp, err := startSpawner()
	if err != nil {
		t.Fatal(err)
	}
	sp.broken.Store(true)
	_, err = sp.spawn("/bin/true", []string{"true"}, nil, t.TempDir(), "", os.Stdout, os.Stderr)
	if !errors.Is(err, builtin.ErrNoSpawner) {
		t.Errorf("spawn from a broken spawner: %v", err)
	}
}
