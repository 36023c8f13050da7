package containerizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gomesos/gomesos/executor/builtin"
)

// hostSupported: the executor host runs on Linux.
const hostSupported = true

// hostPlacer is an isolator that says where the host must start a
// container's task process: the "tasks" files of its cgroups v1, or its
// cgroup v2 directory.
type hostPlacer interface {
	hostPlacement(id string) (tasks []string, dir string)
}

// hostClient is the containerizer's link to the executor host: the watch
// connection on which the host's events arrive.
type hostClient struct {
	dir   string // the runtime directory
	pid   int
	start uint64
	watch *net.UnixConn
	// reaped is closed once the host, when this containerizer started it
	// (so is its parent), has been reaped; nil otherwise.
	reaped chan struct{}
	closed atomic.Bool // by closeHost: the hang-up is ours
	// idle holds connections to the host that it keeps open for more
	// requests (launches): a connection per launch cost both sides a
	// socket, its accept and its checks.
	idle chan *net.UnixConn
}

// hostIdleConns bounds the idle connections a containerizer keeps to its
// host (as many launches are made at once as the agent has workers).
const hostIdleConns = 8

var packetBufs = sync.Pool{New: func() any { b := make([]byte, maxPacket); return &b }}

// hostAddr is the socket's address, through /proc/self/fd when its path is
// too long for one; the returned file (if any) must stay open while it is
// used.
func hostAddr(dir string) (string, *os.File, error) {
	path := filepath.Join(dir, hostSocket)
	if len(path) < 100 {
		return path, nil, nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return "", nil, err
	}
	return "/proc/self/fd/" + strconv.Itoa(int(d.Fd())) + "/" + hostSocket, d, nil
}

// dialHost connects to the host of the runtime directory dir.
func dialHost(dir string) (*net.UnixConn, error) {
	addr, d, err := hostAddr(dir)
	if err != nil {
		return nil, err
	}
	if d != nil {
		defer d.Close()
	}
	return net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: addr, Net: "unixpacket"})
}

// hostCall sends one request (with descriptors, if any) and reads its reply.
func hostCall(dir string, req hostRequest, files ...*os.File) (hostReply, error) {
	conn, err := dialHost(dir)
	if err != nil {
		return hostReply{}, fmt.Errorf("executor host: %w", err)
	}
	defer conn.Close()
	return exchange(conn, req, files...)
}

// call sends one request (with descriptors, if any) on a connection the
// host keeps open for more, when it has one idle, and reads its reply. A
// host of an earlier version answers and hangs up, as for hostCall; one
// that hung up an idle connection (on its way out, say) before the request
// was sent on it has it sent on a new one.
func (hc *hostClient) call(req hostRequest, files ...*os.File) (hostReply, error) {
	req.Keep = true
	for {
		var conn *net.UnixConn
		pooled := false
		select {
		case conn = <-hc.idle:
			pooled = true
		default:
			c, err := dialHost(hc.dir)
			if err != nil {
				return hostReply{}, fmt.Errorf("executor host: %w", err)
			}
			conn = c
		}
		reply, sent, err := roundTrip(conn, req, files...)
		if err != nil {
			conn.Close()
			if pooled && !sent {
				continue
			}
			return hostReply{}, err
		}
		if reply.Kept {
			select {
			case hc.idle <- conn:
			default:
				conn.Close()
			}
		} else {
			conn.Close()
		}
		if reply.Error != "" {
			return reply, errors.New(reply.Error)
		}
		return reply, nil
	}
}

// dropIdle closes the idle connections to a host no longer used.
func (hc *hostClient) dropIdle() {
	for {
		select {
		case conn := <-hc.idle:
			conn.Close()
		default:
			return
		}
	}
}

func exchange(conn *net.UnixConn, req hostRequest, files ...*os.File) (hostReply, error) {
	reply, _, err := roundTrip(conn, req, files...)
	if err != nil {
		return hostReply{}, err
	}
	if reply.Error != "" {
		return reply, errors.New(reply.Error)
	}
	return reply, nil
}

// roundTrip sends req and reads the reply; sent says whether the request
// went out. The error is the exchange's, not the one the reply may hold.
func roundTrip(conn *net.UnixConn, req hostRequest, files ...*os.File) (reply hostReply, sent bool, err error) {
	b, err := json.Marshal(req)
	if err != nil {
		return hostReply{}, false, err
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	if _, _, err := conn.WriteMsgUnix(b, oob, nil); err != nil {
		return hostReply{}, false, fmt.Errorf("executor host: sending %s: %w", req.Op, err)
	}
	bp := packetBufs.Get().(*[]byte)
	defer packetBufs.Put(bp)
	n, err := conn.Read(*bp)
	if err != nil {
		return hostReply{}, true, fmt.Errorf("executor host: reading the answer to %s: %w", req.Op, err)
	}
	if err := json.Unmarshal((*bp)[:n], &reply); err != nil {
		return hostReply{}, true, fmt.Errorf("executor host: answer to %s: %w", req.Op, err)
	}
	return reply, true, nil
}

// connectHost watches the running host, if any: it returns the client and
// the containers the host runs. Events wait in the socket until
// readHostEvents reads them.
func (p *Posix) connectHost() (*hostClient, []hostLive, error) {
	conn, err := dialHost(p.runtimeDir())
	if err != nil {
		return nil, nil, err
	}
	reply, err := exchange(conn, hostRequest{Op: "watch"})
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	hc := &hostClient{dir: p.runtimeDir(), pid: reply.Pid, watch: conn, idle: make(chan *net.UnixConn, hostIdleConns)}
	hc.start, _, _ = procIdentity(reply.Pid)
	return hc, reply.Live, nil
}

// ensureHost returns the watched host, starting one if none runs.
func (p *Posix) ensureHost() (*hostClient, error) {
	p.hostMu.Lock()
	defer p.hostMu.Unlock()
	if p.host != nil {
		return p.host, nil
	}
	hc, _, err := p.connectHost()
	if err != nil {
		var reaped chan struct{}
		if reaped, err = p.startHost(); err != nil {
			return nil, err
		}
		if hc, _, err = p.connectHost(); err != nil {
			return nil, fmt.Errorf("executor host: %w", err)
		}
		hc.reaped = reaped
	}
	p.host = hc
	go p.readHostEvents(hc)
	return hc, nil
}

// hostStartTimeout bounds the wait for a new host to listen.
const hostStartTimeout = 30 * time.Second

// startHost starts an executor host in a session of its own and waits
// until it listens. The returned channel is closed once it is reaped.
func (p *Posix) startHost() (chan struct{}, error) {
	dir := p.runtimeDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("executor host: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, hostLogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("executor host: %w", err)
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("executor host: %w", err)
	}
	defer r.Close()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOMESOS_EXECUTOR=") {
			env = append(env, kv)
		}
	}
	cmd := &exec.Cmd{
		Path:        p.opts.SupervisorPath,
		Args:        []string{p.opts.SupervisorPath, HostArg, dir},
		Env:         env,
		Dir:         "/", // a daemon's: it is no container's process
		Stdout:      logf,
		Stderr:      logf,
		ExtraFiles:  []*os.File{w},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("start the executor host: %w", err)
	}
	reaped := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(reaped)
	}()
	_ = r.SetReadDeadline(time.Now().Add(hostStartTimeout))
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	msg := strings.TrimSpace(string(b))
	if err != nil || msg != "ready" {
		_ = cmd.Process.Kill()
		<-reaped
		if rest, ok := strings.CutPrefix(msg, "error: "); ok {
			return nil, fmt.Errorf("start the executor host: %s", rest)
		}
		return nil, fmt.Errorf("the executor host %s did not start (said %q, %v; see %s)", p.opts.SupervisorPath, msg, err, filepath.Join(dir, hostLogFile))
	}
	p.log.Info("started the executor host", "pid", cmd.Process.Pid, "runtime_dir", dir)
	return reaped, nil
}

// readHostEvents follows the host's events until it hangs up.
func (p *Posix) readHostEvents(hc *hostClient) {
	buf := make([]byte, 64<<10)
	for {
		n, err := hc.watch.Read(buf)
		if err != nil {
			break
		}
		var ev hostEvent
		if json.Unmarshal(buf[:n], &ev) != nil {
			continue
		}
		switch ev.Event {
		case "started":
			p.mu.Lock()
			if c := p.containers[ev.ID]; c != nil && c.hosted {
				c.task = ev.Task
			}
			p.mu.Unlock()
		case "exited":
			p.endHosted(ev.ID, hostEnd{status: ev.Status, oom: ev.OOM})
		case "idle":
			// The host exits, running nothing: the next launch starts
			// another.
			hc.closed.Store(true)
			hc.dropIdle()
			p.hostMu.Lock()
			if p.host == hc {
				p.host = nil
			}
			p.hostMu.Unlock()
		case "replaced":
			// Another containerizer (a restarted agent's) watches the
			// host now, and owns its containers: this one lets go of
			// them without reporting or cleaning anything.
			hc.closed.Store(true)
			p.mu.Lock()
			var ids []string
			for id, c := range p.containers {
				if c.hosted {
					ids = append(ids, id)
				}
			}
			p.mu.Unlock()
			for _, id := range ids {
				p.endHosted(id, hostEnd{released: true})
			}
		}
	}
	hc.watch.Close()
	hc.dropIdle()
	if hc.closed.Load() {
		return
	}
	p.hostLost(hc)
}

// endHosted hands a hosted container its end.
func (p *Posix) endHosted(id string, end hostEnd) {
	p.mu.Lock()
	c := p.containers[id]
	p.mu.Unlock()
	if c != nil && c.hosted {
		select {
		case c.hostEnd <- end:
		default: // it has one already
		}
	}
}

// hostLost handles the host's hang-up: when the host still runs (it
// dropped a watcher that did not keep up, say), it is watched again and
// the containers it no longer runs end; when it is gone, every hosted
// container ends.
func (p *Posix) hostLost(hc *hostClient) {
	p.hostMu.Lock()
	defer p.hostMu.Unlock()
	if p.host == hc {
		p.host = nil
	}
	p.mu.Lock()
	var mine []string
	for id, c := range p.containers {
		if c.hosted && c.hc == hc {
			mine = append(mine, id)
		}
	}
	p.mu.Unlock()
	var live map[string]bool
	for deadline := time.Now().Add(5 * time.Second); live == nil && sameProcess(hc.pid, hc.start) && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		nhc, l, err := p.connectHost()
		if err != nil {
			p.log.Warn("the executor host hung up; watching it again", "pid", hc.pid, "err", err)
			continue
		}
		if nhc.pid != hc.pid {
			nhc.closed.Store(true)
			nhc.watch.Close()
			break
		}
		nhc.reaped = hc.reaped
		{
			p.host = nhc
			p.mu.Lock()
			for _, c := range p.containers {
				if c.hc == hc {
					c.hc = nhc
				}
			}
			p.mu.Unlock()
			live = map[string]bool{}
			for _, x := range l {
				live[x.ID] = true
			}
			defer func() { go p.readHostEvents(nhc) }()
		}
	}
	if live == nil {
		p.log.Error("the executor host is gone; every container it ran has ended", "pid", hc.pid, "log_tail", logTail(filepath.Join(hc.dir, hostLogFile)))
	}
	for _, id := range mine {
		if !live[id] {
			p.endHosted(id, hostEnd{status: -1, died: live == nil})
		}
	}
}

// closeHost stops watching the host, which then exits if it runs nothing.
// When this containerizer started it, it waits (a bounded time) for that.
func (p *Posix) closeHost() {
	p.hostMu.Lock()
	hc := p.host
	p.host = nil
	p.hostMu.Unlock()
	if hc == nil {
		return
	}
	hc.closed.Store(true)
	hc.watch.Close()
	hc.dropIdle()
	if hc.reaped != nil {
		select {
		case <-hc.reaped:
		case <-time.After(10 * time.Second):
		}
	}
}

// launchHosted launches a command executor in the host. The sandbox and
// runtime directory exist; stdout and stderr are the sandbox's.
func (p *Posix) launchHosted(spec Spec, path string, argv, env []string, runDir string, stdout, stderr *os.File) (int, error) {
	cmd := &exec.Cmd{Path: path, Args: argv, Env: env, Dir: spec.Directory}
	prepared := 0
	cleanup := func() {
		for i := prepared - 1; i >= 0; i-- {
			if err := p.opts.Isolators[i].Cleanup(spec.ID); err != nil {
				p.log.Warn("isolator cleanup failed", "isolator", p.opts.Isolators[i].Name(), "container", spec.ID, "err", err)
			}
		}
		_ = os.RemoveAll(runDir)
	}
	req := hostRequest{Op: "launch", ID: spec.ID, RunDir: runDir, Dir: spec.Directory}
	for _, iso := range p.opts.Isolators {
		if err := iso.Prepare(&spec, cmd); err != nil {
			cleanup()
			return 0, fmt.Errorf("isolator %s: %w", iso.Name(), err)
		}
		prepared++
		if pl, ok := iso.(hostPlacer); ok {
			tasks, dir := pl.hostPlacement(spec.ID)
			req.CgroupTasks = append(req.CgroupTasks, tasks...)
			if dir != "" {
				req.CgroupDir = dir
			}
		}
	}
	req.Env = cmd.Env
	if p.opts.ExecutorSocket != "" {
		req.Env = append(req.Env[:len(req.Env):len(req.Env)], builtin.EnvDomainSocket+"="+p.opts.ExecutorSocket)
	}
	var c *container
	for attempt := 0; ; attempt++ {
		hc, err := p.ensureHost()
		if err != nil {
			cleanup()
			return 0, err
		}
		c = &container{spec: spec, pid: hc.pid, hosted: true, hc: hc, runDir: runDir, done: make(chan struct{}),
			resources: spec.Resources, hostEnd: make(chan hostEnd, 1)}
		// Known before the host is asked, so that no event finds it missing.
		p.mu.Lock()
		p.containers[spec.ID] = c
		p.mu.Unlock()
		_, err = hc.call(req, stdout, stderr)
		if err == nil {
			break
		}
		p.mu.Lock()
		delete(p.containers, spec.ID)
		p.mu.Unlock()
		if attempt == 0 && !sameProcessOrExiting(hc, err) {
			// The host went idle and exited as the launch came: once
			// more, with a new one.
			p.forgetHost(hc)
			continue
		}
		cleanup()
		return 0, fmt.Errorf("launch in the executor host: %w", err)
	}
	p.mu.Lock()
	p.wg.Add(1)
	p.mu.Unlock()
	go p.waitHosted(c)
	if p.limitation(spec.ID) != nil {
		p.limited(spec.ID)
	}
	p.log.Info("launched container in the executor host", "container", spec.ID, "host", c.hc.pid, "dir", spec.Directory)
	return c.pid, nil
}

// waitHosted waits for a hosted container's end, sweeps up what its task
// left when the host died, and reports the end.
func (p *Posix) waitHosted(c *container) {
	defer p.wg.Done()
	end := <-c.hostEnd
	if end.oom {
		// The memory isolator hears of the OOM from the kernel as the
		// host did; its limitation is the container's end.
		for deadline := time.Now().Add(5 * time.Second); p.limitation(c.spec.ID) == nil && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
	}
	p.mu.Lock()
	c.reaping = true
	for c.pins > 0 {
		p.unpinned.Wait()
	}
	if end.released {
		delete(p.containers, c.spec.ID)
		p.mu.Unlock()
		close(c.done)
		// What isolators keep in this process goes; what they made in
		// the kernel (cgroups) is the new owner's now.
		for _, iso := range p.opts.Isolators {
			if _, inKernel := iso.(*Cgroups); !inKernel {
				if err := iso.Cleanup(c.spec.ID); err != nil {
					p.log.Warn("isolator cleanup failed", "isolator", iso.Name(), "container", c.spec.ID, "err", err)
				}
			}
		}
		return
	}
	destroyed, task := c.destroyed, c.task
	p.mu.Unlock()
	status := end.status
	if end.died || status < 0 {
		if end.died {
			if task.Pid == 0 {
				task = p.recordedTask(c)
			}
			sweepTask(task)
		}
		st, ok := readStatus(c.runDir)
		switch {
		case ok:
			status = st
		case destroyed:
			status = int(syscall.SIGKILL)
		default:
			status = -1
		}
	}
	p.finish(c, status)
}

// sweepTask kills what is left of a hosted task whose host is gone: while
// the task's process lives (its start time says it is the same process),
// it, its descendants and every process in the session it leads. Once it
// is gone its pid may lead another session (another task's), which is left
// alone; a cgroups isolator's cleanup still kills what is in the cgroup.
func sweepTask(task procRecord) {
	if task.Pid > 0 && sameProcess(task.Pid, task.StartTime) {
		killTrees([]target{{root: task.Pid, sid: task.Pid}}, true)
	}
}

// hostSignal has the host deliver a signal meant for a container's executor.
func (p *Posix) hostSignal(id string, sig syscall.Signal) error {
	_, err := hostCall(p.runtimeDir(), hostRequest{Op: "signal", ID: id, Signal: int(sig)})
	if err != nil && strings.Contains(err.Error(), ErrUnknownContainer.Error()) {
		return ErrUnknownContainer
	}
	return err
}

// hostDestroy has the host kill the containers' tasks and end their
// executors. A host that cannot be reached has died, or is about to be
// found dead, which ends the containers as well.
func (p *Posix) hostDestroy(ids []string, wait bool) {
	if _, err := hostCall(p.runtimeDir(), hostRequest{Op: "destroy", IDs: ids, Wait: wait}); err != nil {
		p.log.Warn("asking the executor host to destroy containers", "containers", len(ids), "err", err)
	}
}

// recoverHosted recovers the containers whose executors ran in the host:
// it adopts those the agent knows (want) that the host still runs, reports
// those that ended, and destroys the others (orphans).
func (p *Posix) recoverHosted(recs []recovery, want map[string]bool, boot string) []Recovered {
	if len(recs) == 0 {
		return nil
	}
	hc, live, err := p.connectHost()
	if err != nil {
		p.log.Info("no executor host runs; its containers have ended", "err", err)
	}
	running := map[string]hostLive{}
	for _, l := range live {
		running[l.ID] = l
	}
	var adopted []Recovered
	var orphans []recovery
	for _, r := range recs {
		l, isLive := running[r.id]
		switch {
		case !want[r.id]:
			orphans = append(orphans, r)
		case isLive:
			dir := r.launch.Directory
			if dir == "" {
				dir = l.Dir // its record was not yet written
			}
			task := l.Task
			c := &container{spec: Spec{ID: r.id, Directory: dir}, pid: hc.pid, hosted: true, hc: hc,
				task: task, runDir: r.dir, done: make(chan struct{}), hostEnd: make(chan hostEnd, 1)}
			p.adopt(c, task.Pid, p.waitHosted)
			p.log.Info("recovered container in the executor host", "container", r.id, "host", hc.pid, "dir", c.spec.Directory)
			adopted = append(adopted, Recovered{ID: r.id, Pid: hc.pid, Directory: c.spec.Directory})
		default:
			p.endedAway(r, func() {
				if hc == nil {
					p.sweepHostedEnded(r, boot)
				}
			})
		}
	}
	var kill []string
	orphans = slices.DeleteFunc(orphans, func(r recovery) bool {
		_, isLive := running[r.id]
		if isLive {
			kill = append(kill, r.id)
		}
		// Only the journal knows it, the host does not run it and its
		// task is gone: it ended and was forgotten (its lines are
		// dropped at the journal's next rewrite).
		return r.journalOnly && !isLive && !(r.pids.Task != nil && r.pids.Task.Pid > 0 && sameProcess(r.pids.Task.Pid, r.pids.Task.StartTime))
	})
	if len(kill) > 0 {
		p.log.Info("destroying orphaned containers in the executor host", "containers", len(kill))
		if _, err := hostCall(hc.dir, hostRequest{Op: "destroy", IDs: kill, Wait: true}); err != nil {
			p.log.Warn("destroying orphaned containers in the executor host", "err", err)
		}
	}
	for _, r := range orphans {
		if hc == nil {
			p.sweepHostedEnded(r, boot)
		}
		p.cleanupIsolators(r.id)
		p.removeRunDir(r.dir)
	}
	if hc != nil {
		p.hostMu.Lock()
		if p.host == nil {
			p.host = hc
			go p.readHostEvents(hc)
		} else {
			hc.closed.Store(true)
			hc.watch.Close()
		}
		p.hostMu.Unlock()
	}
	return adopted
}

// sweepHostedEnded kills what a hosted container's task may have left
// (when its host died with it running).
func (p *Posix) sweepHostedEnded(r recovery, boot string) {
	if !r.havePids || r.pids.Task == nil || r.pids.BootID == "" || r.pids.BootID != boot {
		return
	}
	sweepTask(*r.pids.Task)
}

// sameProcessOrExiting reports whether a failed launch is the host's answer
// to it (false when the host is exiting or gone, and another may be tried).
func sameProcessOrExiting(hc *hostClient, err error) bool {
	if strings.Contains(err.Error(), "exiting") {
		return false
	}
	var op *net.OpError
	return sameProcess(hc.pid, hc.start) && !(errors.As(err, &op) && op.Op == "dial")
}

// forgetHost drops a host that is exiting, so that ensureHost starts
// another.
func (p *Posix) forgetHost(hc *hostClient) {
	p.hostMu.Lock()
	if p.host == hc {
		p.host = nil
	}
	p.hostMu.Unlock()
	if !sameProcess(hc.pid, hc.start) {
		// Dead, not exiting: the end of its watch reports every
		// container it ran as ended (hostLost), which marking the watch
		// closed here would stop (their ends would never come, and the
		// agent's stop would wait for them for ever).
		return
	}
	hc.closed.Store(true)
	hc.watch.Close()
	hc.dropIdle()
	// Wait (briefly) for it to be gone: a new host waits on its lock.
	for deadline := time.Now().Add(5 * time.Second); sameProcess(hc.pid, hc.start) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

// logTail is the end of a log file, for an error message.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return string(b)
}
