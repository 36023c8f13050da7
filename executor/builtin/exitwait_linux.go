package builtin

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// awaitExit parks the calling goroutine until the child process pid has
// exited, without reaping it, through a pidfd in Go's network poller: the
// wait that follows (exec.Cmd.Wait) then reaps at once. Without it, each
// task's Wait holds an OS thread blocked in waitid for the task's whole
// life: a thousand tasks in an executor host were a thousand threads. It
// returns at once when the pidfd cannot be had (the Wait then blocks as
// before).
func awaitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Read(func(fd uintptr) bool {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		// Done when it has exited (Linux fills info in; with nothing to
		// report it leaves it zero), or when waitid cannot tell (the
		// Wait that follows will).
		return err != nil && !errors.Is(err, unix.EINTR) || info.Signo == int32(unix.SIGCHLD)
	})
}
