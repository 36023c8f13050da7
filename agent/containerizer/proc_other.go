//go:build !linux

package containerizer

import "syscall"

// ProcessAlive reports whether pid names a live process.
func ProcessAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// killTrees kills each target's process group and root; without /proc the
// posix launcher cannot follow processes that left it. It cannot tell how
// many there were, and says one per target.
func killTrees(targets []target, _ bool) int {
	for _, t := range targets {
		if t.sid > 1 {
			_ = syscall.Kill(-t.sid, syscall.SIGKILL)
		}
		if t.root > 1 {
			_ = syscall.Kill(t.root, syscall.SIGKILL)
		}
	}
	return len(targets)
}

func killNow(targets []target) { killTrees(targets, false) }

func waitExitNoReap(pid int) {}

// Without /proc a process's start time is unknown, so no recorded process
// is taken to be still running: recovered containers are reported ended.
func procIdentity(pid int) (start uint64, zombie, ok bool) { return 0, false, false }

func bootID() string { return "" }

type procWatch struct{}

func watchProc(pid int, start uint64) (*procWatch, bool) { return nil, false }
func (w *procWatch) wait()                               {}
func (w *procWatch) close()                              {}

// closeOnExecFrom marks descriptors from fd up (the first thousand)
// close-on-exec.
func closeOnExecFrom(fd int) {
	for n := fd; n < 1024; n++ {
		syscall.CloseOnExec(n)
	}
}

// processesOf finds nothing: without /proc a container's processes cannot
// be followed.
func processesOf(root int) []ProcessUsage { return nil }
