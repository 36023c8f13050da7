package containerizer

import (
	"errors"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// procWatch follows a process that is not a child of this one: a recovered
// container's first process, whose parent (the agent that launched it) is
// gone. On Linux it holds a pidfd, which says when the process has exited
// and, while open, keeps the process's pid (and so its session and group
// IDs) from being handed to another process; without pidfds it polls /proc
// and checks the process's start time on each look.
type procWatch struct {
	pid   int
	start uint64
	f     *os.File // the pidfd; nil when polling
}

// watchProc opens a watch on pid if pid is still the process that started
// at start (in clock ticks since boot) and has not exited; ok is false
// otherwise.
func watchProc(pid int, start uint64) (w *procWatch, ok bool) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.EINVAL) { // kernels before 5.10 know no flags
		fd, err = unix.PidfdOpen(pid, 0)
		if err == nil {
			if err = unix.SetNonblock(fd, true); err != nil {
				_ = unix.Close(fd)
			}
		}
	}
	switch {
	case errors.Is(err, unix.ESRCH):
		return nil, false
	case err != nil:
		if !sameProcess(pid, start) {
			return nil, false
		}
		return &procWatch{pid: pid, start: start}, true
	}
	// Checked after the open: had the pid been reused before it, the pidfd
	// would name the newcomer, whose start time differs.
	if !sameProcess(pid, start) {
		_ = unix.Close(fd)
		return nil, false
	}
	return &procWatch{pid: pid, start: start, f: os.NewFile(uintptr(fd), "pidfd")}, true
}

// wait blocks until the process has exited (it may not be reaped yet).
func (w *procWatch) wait() {
	if w.f != nil {
		if rc, err := w.f.SyscallConn(); err == nil {
			// A pidfd polls readable once its process has exited; the
			// runtime's poller waits for that without holding a thread.
			err = rc.Read(func(fd uintptr) bool {
				fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
				n, err := unix.Poll(fds, 0)
				return err == nil && n > 0
			})
			if err == nil {
				return
			}
		}
	}
	for delay := 10 * time.Millisecond; sameProcess(w.pid, w.start); delay = min(2*delay, 500*time.Millisecond) {
		time.Sleep(delay)
	}
}

// close releases the watch, and with it the pid.
func (w *procWatch) close() {
	if w.f != nil {
		_ = w.f.Close()
	}
}

// closeOnExecFrom marks every descriptor from fd up close-on-exec, so that
// a program this process executes inherits none of them.
func closeOnExecFrom(fd int) {
	if err := unix.CloseRange(uint(fd), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return
	}
	// Kernels before 5.11: each open descriptor in turn.
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && n >= fd {
			unix.CloseOnExec(n)
		}
	}
}
