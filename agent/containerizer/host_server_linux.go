package containerizer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gomesos/gomesos/executor/builtin"
)

// hostGCPercent is the host's GOGC.
const hostGCPercent = 300

// hostIdle is how long a host that has never been watched waits for a
// containerizer before it exits.
const hostIdle = 30 * time.Second

// maxPacket bounds one request or event.
const maxPacket = 1 << 20

// hostServer is the executor host's state.
type hostServer struct {
	dir  string // the runtime directory
	log  *slog.Logger
	self procRecord
	boot string
	uid  int
	// tasks is the journal of the task processes started (host_journal.go).
	tasks *hostTaskJournal

	mu      sync.Mutex
	execs   map[string]*hostedExec
	watcher *net.UnixConn
	watched bool // a watcher has connected once
	idleGen int  // bumped by each arming of the idle exit
	exit    chan struct{}
	exiting bool
	// events waits for eventWriter, which sends them in order without
	// holding mu (a write to a busy agent's socket, or a writer thread
	// descheduled on a loaded machine, must not hold up launches).
	events     []queuedEvent
	eventsWake chan struct{}
	eventsDone chan struct{} // closed by eventWriter once the host exits and all is sent
	// spawner starts tasks from a thread with a descriptor table of its
	// own (spawn_linux.go); nil when it could not be started.
	spawner *spawner
}

// queuedEvent is an event for the watcher it was meant for when it came.
type queuedEvent struct {
	conn *net.UnixConn
	ev   hostEvent
	// closeAfter closes conn once ev is sent (the "replaced" event).
	closeAfter bool
}

// hostedExec is one executor the host runs.
type hostedExec struct {
	id, runDir     string
	dir            string // the sandbox
	cancel         context.CancelFunc
	stdout, stderr *os.File
	task           procRecord // zero until the task started
	destroyed      bool
	oom            bool // its task was killed for its memory cgroup
	done           chan struct{}
}

// runHost is the host's life; it returns the process's exit status.
func runHost(args []string) int {
	// The main goroutine keeps the main thread to itself: a goroutine
	// that joins a container's cgroups to start a task (startInCgroups)
	// then never runs on it, and its thread, which ends with it, cannot
	// be the main thread, which Go never ends.
	runtime.LockOSThread()
	// The host's live heap is small (a few KiB per executor) and churns
	// with every launch and update: collecting it at four times its size
	// instead of twice halves the host's GC work for a few MiB.
	debug.SetGCPercent(hostGCPercent)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "executor host")
	tell := reporter()
	if len(args) != 1 {
		tell("error: usage: " + HostArg + " <runtime dir>")
		return 2
	}
	s := &hostServer{dir: args[0], log: log, self: recordProc(os.Getpid()), boot: bootID(), uid: os.Getuid(),
		execs: map[string]*hostedExec{}, exit: make(chan struct{}),
		eventsWake: make(chan struct{}, 1), eventsDone: make(chan struct{})}
	go s.eventWriter()
	// One host per runtime directory: the lock is held for the process's
	// life, and a host started while an earlier one exits waits for it.
	lock, err := os.OpenFile(filepath.Join(s.dir, hostLock), os.O_RDWR|os.O_CREATE, 0o600)
	if err == nil {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX)
	}
	if err != nil {
		tell("error: locking the runtime directory: " + err.Error())
		return 1
	}
	// Under the lock: the only writer of the journal.
	if s.tasks, err = openHostTaskJournal(s.dir, s.running); err != nil {
		tell("error: " + err.Error())
		return 1
	}
	defer s.tasks.close()
	path := filepath.Join(s.dir, hostSocket)
	_ = os.Remove(path) // a dead host's
	ln, err := listenHost(path)
	if err != nil {
		tell("error: " + err.Error())
		return 1
	}
	log.Info("serving", "socket", path, "pid", os.Getpid())
	tell("ready")
	// After the listener (which starts Go's poller, whose descriptors
	// the spawner keeps) and the report (whose pipe it must not keep).
	if sp, err := startSpawner(); err != nil {
		log.Warn("tasks will be forked from the host's own descriptor table", "err", err)
	} else {
		s.spawner = sp
	}
	go func() {
		idle := time.NewTimer(hostIdle)
		defer idle.Stop()
		select {
		case <-idle.C:
			s.mu.Lock()
			s.maybeExit()
			s.mu.Unlock()
		case <-s.exit:
		}
	}()
	go func() {
		for {
			conn, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	<-s.exit
	// The events (the last of them "idle") reach the watcher before the
	// host goes.
	select {
	case <-s.eventsDone:
	case <-time.After(10 * time.Second):
	}
	_ = ln.Close() // removes the socket
	log.Info("no container left and no agent watching; exiting")
	return 0
}

// listenHost binds the host's socket, by a short path through /proc when
// the runtime directory's is too long for a socket address.
func listenHost(path string) (*unlinkingListener, error) {
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	addr := path
	if len(addr) >= 100 {
		d, err := os.Open(filepath.Dir(path))
		if err != nil {
			return nil, err
		}
		defer d.Close()
		addr = "/proc/self/fd/" + strconv.Itoa(int(d.Fd())) + "/" + filepath.Base(path)
	}
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: addr, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(false)
	return &unlinkingListener{ln, path}, nil
}

// hostLinger is how long a host that runs nothing waits for a launch
// before it exits, watched or not. (A launch after that pays for a new
// host's start, tens of milliseconds; a longer wait would save it for
// agents that launch rarely, but leave a process behind the last task.)
const hostLinger = 2 * time.Second

// maybeExit ends the host when it runs nothing and no one watches, and
// arms its exit after hostLinger when it runs nothing; s.mu is held.
func (s *hostServer) maybeExit() {
	if len(s.execs) > 0 || s.exiting {
		return
	}
	if s.watcher == nil {
		s.exiting = true
		close(s.exit)
		s.wakeEvents()
		return
	}
	s.idleGen++
	gen := s.idleGen
	time.AfterFunc(hostLinger, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if gen != s.idleGen || len(s.execs) > 0 || s.exiting {
			return
		}
		// The watcher hears that this is no death: it starts a new host
		// at its next launch.
		s.notify(hostEvent{Event: "idle"})
		s.exiting = true
		close(s.exit)
		s.wakeEvents()
	})
}

// running reports whether the host runs container id (for the journal's
// compaction).
func (s *hostServer) running(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.execs[id] != nil
}

// serve answers a connection's request, or its requests one after
// another while each asks to keep it (Keep).
func (s *hostServer) serve(conn *net.UnixConn) {
	if !s.peerAllowed(conn) {
		s.log.Warn("refusing a connection from another user")
		conn.Close()
		return
	}
	oob := make([]byte, unix.CmsgSpace(2*4))
	for {
		again, watching := s.serveOne(conn, oob)
		if watching {
			return // the watch has it now
		}
		if !again {
			conn.Close()
			return
		}
	}
}

// serveOne reads and answers one request. again: the connection is kept
// for another; watching: it became the watch connection.
func (s *hostServer) serveOne(conn *net.UnixConn, oob []byte) (again, watching bool) {
	// The buffer is pooled (packetBufs): a fresh megabyte per request
	// was most of what the host allocated, and what its GC scanned.
	bp := packetBufs.Get().(*[]byte)
	buf := *bp
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil || n == 0 {
		packetBufs.Put(bp)
		return false, false // hung up (a read of nothing is the end)
	}
	files := receivedFiles(oob[:oobn])
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	var req hostRequest
	err = json.Unmarshal(buf[:n], &req)
	packetBufs.Put(bp)
	if err != nil {
		writePacket(conn, hostReply{Error: "bad request: " + err.Error()})
		return false, false
	}
	keep := req.Keep && (req.Op == "launch" || req.Op == "signal" || req.Op == "destroy")
	answer := func(r hostReply) bool {
		r.Kept = keep
		return writePacket(conn, r) == nil && keep
	}
	switch req.Op {
	case "launch":
		if len(files) != 2 {
			return answer(hostReply{Error: "launch needs the sandbox's stdout and stderr"}), false
		}
		run, err := s.launch(req, files[0], files[1])
		files = nil // the executor owns them now, or launch closed them
		if err != nil {
			return answer(hostReply{Error: err.Error()}), false
		}
		// The agent hears of the launch before the executor subscribes.
		again = answer(hostReply{Pid: os.Getpid()})
		run()
		return again, false
	case "signal":
		return answer(s.signal(req.ID, syscall.Signal(req.Signal))), false
	case "destroy":
		s.destroy(req.IDs, req.Wait)
		return answer(hostReply{}), false
	case "watch":
		s.mu.Lock()
		reply := hostReply{Pid: os.Getpid()}
		for id, ex := range s.execs {
			reply.Live = append(reply.Live, hostLive{ID: id, Task: ex.task, Dir: ex.dir})
		}
		if old := s.watcher; old != nil {
			// After what was queued for it: then it is closed.
			s.events = append(s.events, queuedEvent{conn: old, ev: hostEvent{Event: "replaced"}, closeAfter: true})
			s.wakeEvents()
		}
		if err := writePacket(conn, reply); err != nil {
			s.watcher = nil
			s.maybeExit()
			s.mu.Unlock()
			return false, false
		}
		s.watcher, s.watched = conn, true
		s.mu.Unlock()
		go s.watch(conn)
		return false, true
	default:
		writePacket(conn, hostReply{Error: fmt.Sprintf("unknown operation %q", req.Op)})
		return false, false
	}
}

// watch waits for a watcher to hang up (it sends nothing after its
// request), then forgets it.
func (s *hostServer) watch(conn *net.UnixConn) {
	b := make([]byte, 64)
	for {
		if _, err := conn.Read(b); err != nil {
			break
		}
	}
	s.mu.Lock()
	if s.watcher == conn {
		s.watcher = nil
		s.maybeExit()
	}
	s.mu.Unlock()
	conn.Close()
}

// notify queues an event for the watcher, if any; s.mu is held.
func (s *hostServer) notify(ev hostEvent) {
	if s.watcher == nil {
		return
	}
	s.events = append(s.events, queuedEvent{conn: s.watcher, ev: ev})
	s.wakeEvents()
}

// wakeEvents pokes eventWriter; s.mu is held.
func (s *hostServer) wakeEvents() {
	select {
	case s.eventsWake <- struct{}{}:
	default:
	}
}

// eventWriter sends the queued events, in order, each to the watcher it
// was queued for. A watcher that does not take its events (for 10 s) is
// dropped. Once the host exits and the queue is empty it closes
// eventsDone.
func (s *hostServer) eventWriter() {
	for {
		s.mu.Lock()
		q := s.events
		s.events = nil
		exiting := s.exiting
		s.mu.Unlock()
		for _, e := range q {
			_ = e.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			err := writePacket(e.conn, e.ev)
			if e.closeAfter {
				e.conn.Close()
				continue
			}
			if err != nil {
				s.mu.Lock()
				if s.watcher == e.conn {
					s.log.Warn("the watching agent does not read its events; dropping it", "err", err)
					s.watcher.Close()
					s.watcher = nil
				}
				s.mu.Unlock()
			}
		}
		if len(q) > 0 {
			continue
		}
		if exiting {
			close(s.eventsDone)
			return
		}
		<-s.eventsWake
	}
}

// launch prepares a container's executor; run starts it.
func (s *hostServer) launch(req hostRequest, stdout, stderr *os.File) (run func(), err error) {
	fail := func(err error) (func(), error) {
		stdout.Close()
		stderr.Close()
		return nil, err
	}
	if req.ID == "" || req.RunDir == "" {
		return fail(errors.New("launch needs a container ID and a runtime directory"))
	}
	s.mu.Lock()
	if s.exiting {
		s.mu.Unlock()
		return fail(errors.New("the executor host is exiting"))
	}
	if _, dup := s.execs[req.ID]; dup {
		s.mu.Unlock()
		return fail(fmt.Errorf("container %s already runs", req.ID))
	}
	ctx, cancel := context.WithCancel(context.Background())
	ex := &hostedExec{id: req.ID, runDir: req.RunDir, dir: req.Dir, cancel: cancel, stdout: stdout, stderr: stderr, done: make(chan struct{})}
	s.execs[req.ID] = ex
	s.idleGen++
	s.mu.Unlock()
	// The launch's record, before the agent hears that it is under way:
	// the container is the host's, with no process of its own yet (its
	// task is recorded once it has started, Started below).
	launched := hostTaskEntry{ID: req.ID, RunDir: req.RunDir, BootID: s.boot, Host: s.self, Directory: req.Dir}
	if err := s.tasks.append(launched); err != nil {
		s.mu.Lock()
		delete(s.execs, req.ID)
		s.mu.Unlock()
		cancel()
		return fail(err)
	}
	start := func(cmd *exec.Cmd) error { return startInCgroups(cmd, req.CgroupTasks, req.CgroupDir) }
	var spawn func(path string, argv, env []string, dir string, stdout, stderr *os.File) (int, error)
	// With cgroups v1 a task is born in its cgroups by forking from a
	// thread that joined them (startInCgroups); else from the spawner.
	if s.spawner != nil && (req.CgroupDir != "" || len(req.CgroupTasks) == 0) {
		spawn = func(path string, argv, env []string, dir string, stdout, stderr *os.File) (int, error) {
			return s.spawner.spawn(path, argv, env, dir, req.CgroupDir, stdout, stderr)
		}
	}
	abandon := func(ws syscall.WaitStatus) bool {
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL || !oomKilled(req.CgroupTasks, req.CgroupDir) {
			return false
		}
		s.mu.Lock()
		ex.oom = true
		s.mu.Unlock()
		return true
	}
	h := builtin.Hosted{
		Env:     req.Env,
		Stdout:  stdout,
		Stderr:  stderr,
		Start:   start,
		Spawn:   spawn,
		Abandon: abandon,
		Started: func(pid int) {
			task := recordProc(pid)
			// One line appended to the host's journal rather than a file
			// of the container's own: no new directory entry per task.
			e := launched
			e.Task = task
			if err := s.tasks.append(e); err != nil {
				s.log.Warn("recording a task's process", "container", req.ID, "err", err)
			}
			s.mu.Lock()
			ex.task = task
			s.notify(hostEvent{Event: "started", ID: req.ID, Task: task})
			s.mu.Unlock()
		},
	}
	return func() { go s.run(ctx, ex, h) }, nil
}

// run runs one executor to its end and records how it ended.
func (s *hostServer) run(ctx context.Context, ex *hostedExec, h builtin.Hosted) {
	code := builtin.RunHosted(ctx, h)
	ex.stdout.Close()
	ex.stderr.Close()
	s.mu.Lock()
	status := code << 8 // the wait status of a process that exited with code
	if ex.destroyed || ex.oom {
		status = int(syscall.SIGKILL)
	}
	oom := ex.oom
	s.mu.Unlock()
	if err := recordEnd(ex.runDir, status); err != nil {
		s.log.Warn("recording an executor's end", "container", ex.id, "err", err)
	}
	s.mu.Lock()
	delete(s.execs, ex.id)
	close(ex.done)
	s.notify(hostEvent{Event: "exited", ID: ex.id, Status: status, Task: ex.task, OOM: oom})
	s.maybeExit()
	s.mu.Unlock()
	ex.cancel()
}

// recordEnd writes a hosted executor's wait status into its container's
// runtime directory, which it makes: the agent made none at launch (the
// launch's record is the journal's line), nor, when no other container
// did, their parent.
//
// It makes no more than those two: a runtime directory that is gone (its
// agent was stopped and its work directory removed while the executor was
// ending) is not made again, to be left behind.
func recordEnd(runDir string, status int) error {
	err := os.Mkdir(runDir, 0o755)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.Mkdir(filepath.Dir(runDir), 0o755); err == nil || errors.Is(err, fs.ErrExist) {
			err = os.Mkdir(runDir, 0o755)
		}
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", runDir, err)
	}
	return writeStatus(runDir, status)
}

// signal delivers a signal meant for a container's executor.
func (s *hostServer) signal(id string, sig syscall.Signal) hostReply {
	s.mu.Lock()
	ex := s.execs[id]
	var task int
	if ex != nil {
		task = ex.task.Pid
	}
	s.mu.Unlock()
	if ex == nil {
		return hostReply{Error: ErrUnknownContainer.Error()}
	}
	switch sig {
	case syscall.SIGKILL:
		s.destroy([]string{id}, false)
	case syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT:
		ex.cancel()
	default:
		if task > 0 {
			if err := syscall.Kill(-task, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
				return hostReply{Error: err.Error()}
			}
		}
	}
	return hostReply{}
}

// destroy kills the containers' tasks and ends their executors; with
// wait, it returns once they have ended.
func (s *hostServer) destroy(ids []string, wait bool) {
	var dones []chan struct{}
	for _, id := range ids {
		s.mu.Lock()
		ex := s.execs[id]
		if ex != nil {
			ex.destroyed = true
			// The executor is cancelled before its task is killed, so
			// that it takes the task's end for the destruction's and
			// reports nothing: the agent reports the container's end, as
			// when a container with its executor inside is destroyed.
			ex.cancel()
			if t := ex.task.Pid; t > 0 {
				_ = syscall.Kill(-t, syscall.SIGKILL)
			}
			dones = append(dones, ex.done)
		}
		s.mu.Unlock()
	}
	if wait {
		for _, d := range dones {
			<-d
		}
	}
}

// peerAllowed admits connections from the host's own user and root.
func (s *hostServer) peerAllowed(conn *net.UnixConn) bool {
	rc, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	var cred *unix.Ucred
	_ = rc.Control(func(fd uintptr) {
		cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	return err == nil && cred != nil && (int(cred.Uid) == s.uid || cred.Uid == 0)
}

// receivedFiles are the descriptors a packet carried.
func receivedFiles(oob []byte) []*os.File {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var out []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			out = append(out, os.NewFile(uintptr(fd), "received"))
		}
	}
	return out
}

// startInCgroups starts a task's process born inside the container's
// cgroups, so that nothing it forks can escape them. With cgroups v2 the
// clone itself places it (CLONE_INTO_CGROUP). With v1 the thread that
// forks joins the cgroups first (v1 moves single threads: the "tasks"
// file), so the child starts there; that thread is then left locked to
// its goroutine, which ends, and Go's runtime ends the thread with it
// instead of reusing it outside the cgroups.
func startInCgroups(cmd *exec.Cmd, tasks []string, dir string) error {
	if dir != "" {
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open the container's cgroup: %w", err)
		}
		defer unix.Close(fd)
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
		return cmd.Start()
	}
	if len(tasks) == 0 {
		return cmd.Start()
	}
	res := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		tid := []byte(strconv.Itoa(unix.Gettid()))
		for _, f := range tasks {
			if err := os.WriteFile(f, tid, 0); err != nil {
				res <- fmt.Errorf("join the container's cgroup %s: %w", filepath.Dir(f), err)
				return
			}
		}
		res <- cmd.Start()
	}()
	return <-res
}

// writePacket sends v as one JSON packet.
func writePacket(conn *net.UnixConn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = conn.Write(b)
	return err
}

// unlinkingListener removes the socket by its real path on Close (the
// address it was bound by may be a /proc/self/fd one).
type unlinkingListener struct {
	*net.UnixListener
	path string
}

func (l *unlinkingListener) Close() error {
	err := l.UnixListener.Close()
	_ = os.Remove(l.path)
	return err
}

// oomKilled reports whether the kernel has killed a process of the
// container's memory cgroup for its limit: oom_kill in the v2 cgroup's
// memory.events, or in the v1 memory hierarchy's memory.oom_control.
func oomKilled(tasks []string, dir string) bool {
	var file string
	if dir != "" {
		file = filepath.Join(dir, "memory.events")
	} else {
		for _, t := range tasks {
			if f := filepath.Join(filepath.Dir(t), "memory.oom_control"); fileExists(f) {
				file = f
			}
		}
	}
	if file == "" {
		return false
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "oom_kill "); ok {
			if n, _ := strconv.Atoi(strings.TrimSpace(rest)); n > 0 {
				return true
			}
		}
		if strings.TrimSpace(line) == "under_oom 1" {
			return true
		}
	}
	return false
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
