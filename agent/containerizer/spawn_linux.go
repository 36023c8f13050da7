package containerizer

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gomesos/gomesos/executor/builtin"
)

// A spawner starts the executor host's task processes from a thread whose
// descriptor table is its own (unshare(CLONE_FILES)), holding only the
// standard descriptors, Go's poller and what one launch needs.
//
// Why: a fork copies the forking thread's descriptor table and the exec
// that follows closes every close-on-exec descriptor in the copy again.
// The host holds about four descriptors per running task (the sandbox's
// stdout and stderr its executor logs to, the pidfds its exit is awaited
// through), so with a thousand tasks running each new task's fork copied
// and closed some four thousand: perf over a launch of 1,000 tasks put
// half a millisecond of CPU per task there (dup_fd, do_close_on_exec,
// filp_flush, dnotify_flush), growing with the tasks already running.
// From the spawner's table a fork copies about ten.
//
// The thread's goroutine never unlocks it, so nothing else runs on it and
// no descriptor of the shared table is used from it: a launch's stdout and
// stderr reach it as copies over a socket pair (SCM_RIGHTS), the cgroup
// directory is opened on it, and the child is started with
// syscall.StartProcess (os.StartProcess would open a pidfd in this table
// that another thread would then use as if it were in the shared one).
// The child is the host's like any other: the caller awaits and reaps it.
type spawner struct {
	mu   sync.Mutex // one spawn at a time: its descriptors, then its request
	send int        // the shared table's end of the socket pair
	reqs chan spawnRequest
	tid  int // the spawner thread's ID (for tests)
	// broken is set once a launch's descriptors could not be passed
	// (or taken): the messages on the socket pair may no longer match
	// the requests, so no further task is started through it.
	broken atomic.Bool
}

// spawnRequest is one process to start.
type spawnRequest struct {
	path      string
	argv, env []string
	dir       string
	// cgroupDir, when set, is the cgroup v2 directory the process is born
	// in (CLONE_INTO_CGROUP).
	cgroupDir string
	done      chan spawnResult
}

type spawnResult struct {
	pid int
	err error
	// lost is set when the request's descriptors could not be taken.
	lost bool
}

// startSpawner starts the spawner thread. Go's network poller must be
// running already (the host's listener started it): the spawner's table
// keeps a copy of its descriptors, which the runtime may use from any
// thread.
func startSpawner() (*spawner, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("spawner: socket pair: %w", err)
	}
	s := &spawner{send: fds[0], reqs: make(chan spawnRequest)}
	ready := make(chan error, 1)
	go s.loop(fds[1], ready)
	err = <-ready
	// The spawner keeps its copy of the receiving end; the shared table
	// needs none.
	_ = unix.Close(fds[1])
	if err != nil {
		_ = unix.Close(fds[0])
		return nil, err
	}
	return s, nil
}

// loop is the spawner thread's life.
func (s *spawner) loop(recv int, ready chan<- error) {
	// Never unlocked: the thread, with its own table, ends with the
	// goroutine rather than going back to Go's pool.
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_FILES); err != nil {
		ready <- fmt.Errorf("spawner: unshare the descriptor table: %w", err)
		return
	}
	if err := closePrivateExcept(recv); err != nil {
		ready <- fmt.Errorf("spawner: %w", err)
		return
	}
	devNull, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		ready <- fmt.Errorf("spawner: %w", err)
		return
	}
	s.tid = unix.Gettid()
	ready <- nil
	for req := range s.reqs {
		out, errf, err := receiveTwo(recv)
		if err != nil {
			req.done <- spawnResult{err: err, lost: true}
			continue
		}
		pid, err := spawnOne(out, errf, devNull, req)
		req.done <- spawnResult{pid: pid, err: err}
	}
}

// closePrivateExcept closes, in the calling thread's own table, every
// descriptor but the standard three, keep and Go's poller's (an epoll
// instance and an eventfd, which the runtime may use on any thread).
func closePrivateExcept(keep int) error {
	dir := "/proc/thread-self/fd"
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	var names []string
	buf := make([]byte, 4096)
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err != nil {
			_ = unix.Close(fd)
			return fmt.Errorf("read %s: %w", dir, err)
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	_ = unix.Close(fd)
	for _, name := range names {
		n, err := strconv.Atoi(name)
		if err != nil || n <= 2 || n == keep || n == fd {
			continue
		}
		target, err := os.Readlink(dir + "/" + name)
		if err != nil {
			continue // the directory's own descriptor, now closed
		}
		switch target {
		case "anon_inode:[eventpoll]", "anon_inode:[eventfd]":
			continue
		}
		_ = unix.Close(n)
	}
	return nil
}

// spawnOne starts one process with out and errf (the spawner's copies,
// which it closes) as its stdout and stderr.
func spawnOne(out, errf, devNull int, req spawnRequest) (int, error) {
	defer unix.Close(out)
	defer unix.Close(errf)
	sys := &syscall.SysProcAttr{Setsid: true}
	if req.cgroupDir != "" {
		cg, err := unix.Open(req.cgroupDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return 0, fmt.Errorf("open the container's cgroup: %w", err)
		}
		defer unix.Close(cg)
		sys.UseCgroupFD, sys.CgroupFD = true, cg
	}
	pid, _, err := syscall.StartProcess(req.path, req.argv, &syscall.ProcAttr{
		Dir:   req.dir,
		Env:   req.env,
		Files: []uintptr{uintptr(devNull), uintptr(out), uintptr(errf)},
		Sys:   sys,
	})
	if err != nil {
		// As os.StartProcess words it.
		return 0, &os.PathError{Op: "fork/exec", Path: req.path, Err: err}
	}
	return pid, nil
}

// receiveTwo takes the two descriptors of the next message on recv.
func receiveTwo(recv int) (a, b int, err error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(2*4))
	var oobn int
	for {
		_, oobn, _, _, err = unix.Recvmsg(recv, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return 0, 0, fmt.Errorf("spawner: receive descriptors: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return 0, 0, fmt.Errorf("spawner: receive descriptors: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		if got, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, got...)
		}
	}
	if len(fds) != 2 {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
		return 0, 0, fmt.Errorf("spawner: received %d descriptors, not 2", len(fds))
	}
	return fds[0], fds[1], nil
}

// spawn starts path with argv and env in dir, as the leader of a session
// of its own, its stdin /dev/null and its stdout and stderr the files
// given, in cgroupDir (a cgroup v2 directory) when set; it returns the
// child's pid. The caller reaps the child. An error that wraps
// builtin.ErrNoSpawner means that the spawner cannot be used (any more):
// the process was not started, and may be started otherwise.
func (s *spawner) spawn(path string, argv, env []string, dir, cgroupDir string, stdout, stderr *os.File) (int, error) {
	if s.broken.Load() {
		return 0, builtin.ErrNoSpawner
	}
	outFd, err := rawFd(stdout)
	if err != nil {
		return 0, err
	}
	errFd, err := rawFd(stderr)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The files stay open while their numbers are sent (runtime.KeepAlive
	// below): the spawner's copies are made by the send itself.
	err = unix.Sendmsg(s.send, []byte{0}, unix.UnixRights(outFd, errFd), nil, 0)
	runtime.KeepAlive(stdout)
	runtime.KeepAlive(stderr)
	if err != nil {
		// A socket pair's message goes whole or not at all: nothing is
		// left for the next request to take by mistake.
		return 0, fmt.Errorf("%w: send descriptors: %w", builtin.ErrNoSpawner, err)
	}
	req := spawnRequest{path: path, argv: argv, env: env, dir: dir, cgroupDir: cgroupDir, done: make(chan spawnResult, 1)}
	s.reqs <- req
	res := <-req.done
	if res.lost {
		s.broken.Store(true)
		return 0, fmt.Errorf("%w: %w", builtin.ErrNoSpawner, res.err)
	}
	return res.pid, res.err
}

// rawFd is f's descriptor, without os.File.Fd's switch to blocking mode.
func rawFd(f *os.File) (int, error) {
	if f == nil {
		return 0, errors.New("spawner: no file")
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("spawner: %w", err)
	}
	fd := -1
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		return 0, fmt.Errorf("spawner: %w", err)
	}
	return fd, nil
}
