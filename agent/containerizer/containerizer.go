// Package containerizer owns the agent's containers: it creates an executor's
// sandbox (always inside the agent's work directory, which no sandbox path
// may leave, by ".." or by symbolic link), starts the executor in a session
// and process group of its own with its output in the sandbox's stdout and
// stderr files, watches it exit, and kills its whole process tree when asked.
// Isolation (cgroups v1 and v2 with their device lists, GPUs, namespaces,
// disk/du) plugs in as Isolator hooks around each launch; the posix launcher
// here isolates nothing by itself. Usage measures a container through the
// isolators that can (Measurer, ProcessMeasurer) and adds its cpus and mem
// limits, as Mesos's ResourceStatistics has them.
//
// Containers outlive the agent. Each runs under a small supervisor (this
// same binary run with SuperviseArg, see MainIfSupervisor) that is the
// executor's parent and records the executor's wait status in the runtime
// directory, beside a record of the container's processes (pid, start time,
// boot). Nothing ties a container to the agent process: no parent-death
// signal, no pipe the executor writes to. A restarted agent hands Recover the
// containers its own checkpoint knows: those still running are adopted
// (watched through a pidfd, signalled and destroyed as if launched), those
// that ended meanwhile are reported with the status the supervisor recorded,
// and every other container found in the runtime directory is killed.
//
// It must not know about frameworks, tasks, status updates or the master: the
// agent tells it what to run and hears back when a container has ended.
package containerizer

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/ids"
)

// Spec is what to run in one container.
type Spec struct {
	// ID is the ContainerID value; it names the container in every call.
	ID string
	// Directory is the sandbox. It is created when missing, and the
	// executor's standard output and error go to its "stdout" and "stderr"
	// files. It is also the executor's working directory.
	Directory string
	// Path is the program to run and Args its argv (Args[0] is the name the
	// program sees). When Args is empty, argv is just Path.
	Path string
	Args []string
	// Env is the executor's whole environment, in "KEY=value" form.
	// MESOS_SANDBOX is added (equal to Directory) when absent.
	Env []string
	// Resources are what the container may use, for isolators.
	Resources []*mesos.Resource
	// Container is the executor's ContainerInfo (or the agent's
	// --default_container_info), if any: its volumes and linux_info are
	// for the filesystem/linux and namespaces/pid isolators.
	Container *mesos.ContainerInfo
	// Limits are the container's cpus and mem limits above Resources
	// (from TaskInfo.limits; +Inf means no limit); nil when it has none.
	Limits map[string]float64
	// LinkLatest, when set, points the "latest" link beside the sandbox
	// (executors/<id>/runs/latest, for a sandbox .../runs/<container>) at
	// it once it is made, as Mesos's agent does when it creates a run's
	// directory. A failure to link is logged, not the launch's.
	LinkLatest bool
}

// Termination says how a container ended.
type Termination struct {
	ID string
	// Pid of the executor process; 0 when it never started.
	Pid int
	// Status is the raw wait(2) status of the executor process, as Mesos
	// reports it in ExitedExecutorMessage; -1 when it is unknown: the
	// process never started, or it ended while no containerizer watched it
	// and left no status behind.
	Status int
	// Destroyed is true when the container was ended by Destroy.
	Destroyed bool
	// LaunchErr is set when the container could not be started.
	LaunchErr error
	// Limitation is set when an isolator ended the container for going
	// over a limit (memory, say).
	Limitation *Limitation
}

// ExitCode is the process's exit code, or -1 when it did not exit normally.
func (t Termination) ExitCode() int {
	if t.Status < 0 {
		return -1
	}
	ws := syscall.WaitStatus(t.Status)
	if ws.Exited() {
		return ws.ExitStatus()
	}
	return -1
}

// Signaled reports the signal that ended the process, if any.
func (t Termination) Signaled() (syscall.Signal, bool) {
	if t.Status < 0 {
		return 0, false
	}
	ws := syscall.WaitStatus(t.Status)
	if ws.Signaled() {
		return ws.Signal(), true
	}
	return 0, false
}

// String describes the termination the way an operator wants to read it.
func (t Termination) String() string {
	switch {
	case t.LaunchErr != nil:
		return "failed to launch: " + t.LaunchErr.Error()
	case t.ExitCode() >= 0:
		return fmt.Sprintf("exited with status %d", t.ExitCode())
	case t.Status < 0:
		return "ended with an unknown status"
	default:
		if sig, ok := t.Signaled(); ok {
			return "terminated by signal " + sig.String()
		}
		return fmt.Sprintf("ended with wait status %d", t.Status)
	}
}

// Containerizer is what the agent needs to run executors. Every method may
// block (on fork and exec, on the disk, on scanning processes) and may be
// called from many goroutines at once, for different containers.
type Containerizer interface {
	// Launch starts the container. Its end is reported once through the
	// OnExit hook the containerizer was built with, unless Launch itself
	// fails, in which case nothing is reported. The end may be reported
	// before Launch returns.
	Launch(spec Spec) (pid int, err error)
	// Signal sends sig to the container's process group.
	Signal(id string, sig syscall.Signal) error
	// Destroy kills every process of the container. It returns once the
	// processes have been sent SIGKILL; the end is reported through OnExit.
	Destroy(id string) error
	// Update tells the isolators the container's new resources.
	Update(id string, resources []*mesos.Resource) error
	// Usage measures what the container uses now (ResourceStatistics, as
	// /monitor/statistics and the operator API's GET_CONTAINERS report
	// it); ErrUnknownContainer for one that is not running.
	Usage(id string) (*mesos.ResourceStatistics, error)
	// DestroyAll kills every container and returns once each end has been
	// reported.
	DestroyAll()
	// Recover is called once by a restarted agent, before any Launch, with
	// the IDs of the containers its checkpoint knows. It adopts those still
	// running, returning them; those that ended while no agent watched are
	// reported through OnExit (possibly before Recover returns), as is each
	// one the runtime directory does not know at all (with an unknown
	// status). Every other container the runtime directory holds is an
	// orphan: its processes are killed and its records removed before
	// Recover returns, and nothing is reported for it. Recover(nil) thus
	// kills every container a previous agent left, which is what
	// --recover=cleanup asks for.
	Recover(known []string) ([]Recovered, error)
}

var _ Containerizer = (*Posix)(nil)

// Isolator is a hook around each container's life: cgroups, namespaces,
// volumes and the like are isolators. Every method runs on the caller's
// goroutine, possibly for several containers at once, and must return
// promptly.
type Isolator interface {
	Name() string
	// Prepare runs before the executor starts. It may adjust cmd, for
	// example set cmd.SysProcAttr.UseCgroupFD so the child starts inside a
	// cgroup. An error fails the launch.
	Prepare(spec *Spec, cmd *exec.Cmd) error
	// Isolate runs right after the process started, with the pid of the
	// container's first process (its supervisor, the executor's parent, or
	// the executor when there is no supervisor); every later process of
	// the container descends from it.
	Isolate(id string, pid int) error
	// Update applies new resource limits.
	Update(id string, resources []*mesos.Resource) error
	// Cleanup runs after every process of the container is gone (or
	// after a failed launch), and releases what Prepare made.
	Cleanup(id string) error
}

// Options configure a Posix containerizer.
type Options struct {
	// WorkDir is the agent's work directory (--work_dir). Every sandbox
	// must lie below it: Launch refuses a Directory outside it, and creates
	// the sandbox without following a symbolic link out of it. Without a
	// WorkDir every launch is refused.
	WorkDir string
	// RuntimeDir holds the records of running containers that Recover
	// reads (Mesos's --runtime_dir, whose default is /var/run/mesos); empty
	// means "runtime" in WorkDir. It must survive the agent's restarts; a
	// reboot it may or may not survive (records of an earlier boot never
	// name running processes).
	RuntimeDir string
	// ExecutorSocket is the unix socket on which the agent serves the
	// executor API in HTTP/2 as well ("" when it does not): executors in
	// the executor host are given it as MESOS_DOMAIN_SOCKET, and share
	// one connection on it.
	ExecutorSocket string
	// SupervisorPath is the binary that supervises each container: one
	// whose main calls MainIfSupervisor first, as gomesos's does (the agent
	// passes its executor binary). Empty starts executors directly, as
	// their own session leaders; their exit status is then known only to
	// the containerizer that launched them, and a recovered container that
	// ends is reported with an unknown status.
	SupervisorPath string
	// ExecutorHost runs built-in command executors (a launch of
	// SupervisorPath with GOMESOS_EXECUTOR=command) inside one executor
	// host process (see host.go), started at the first such launch, instead
	// of each under a supervisor of its own: where every isolator allows
	// it (posix/cpu, posix/mem, cgroups, disk/du) and on Linux. Every other
	// container keeps its supervisor.
	ExecutorHost bool
	// OnExit receives each container's termination, on a goroutine of the
	// containerizer's own. It must not block for long.
	OnExit func(Termination)
	// Isolators run in order around each launch (and in reverse for Cleanup).
	Isolators []Isolator
	Logger    *slog.Logger
}

// Posix launches executors as plain processes, each under a supervisor that
// leads its own session, and kills a container by stopping and killing
// every process in that session and below the supervisor. It is Mesos's
// posix launcher.
type Posix struct {
	opts Options
	log  *slog.Logger

	mu         sync.Mutex
	unpinned   sync.Cond // on mu: a container's pins dropped to zero
	containers map[string]*container
	starting   map[string]bool // IDs being launched
	wg         sync.WaitGroup

	// hostable is set when command executors run in the executor host.
	hostable bool
	hostMu   sync.Mutex
	host     *hostClient // the host watched; nil before the first launch
}

// target names a container's processes for killing: its executor (root)
// and the session the executor leads (sid).
type target struct{ root, sid int }

type container struct {
	spec Spec
	// cmd is the started root process; nil for a recovered container,
	// which watch follows instead.
	cmd   *exec.Cmd
	watch *procWatch
	// pid is the executor's; root is the container's first process (the
	// supervisor, else the executor), whose pid is also the container's
	// session and process group ID.
	pid, root  int
	supervised bool
	// resources are the container's latest, from its launch or Update
	// (unknown, nil, for a recovered container until an Update); on mu.
	resources []*mesos.Resource
	runDir    string
	destroyed bool
	done      chan struct{}
	// hosted is set for a container whose executor runs in the executor
	// host: pid is then the host's, root 0, and task its task's process
	// once started (on mu). hostEnd hears how it ended.
	hosted  bool
	hc      *hostClient
	task    procRecord
	hostEnd chan hostEnd
	// reaping is set once the root process has exited and is about to be
	// reaped (or, recovered, its watch closed), after which its pid may
	// name another process. Signals go only to a pinned container, which
	// is not reaped until unpinned.
	reaping bool
	pins    int
}

// NewPosix returns a posix containerizer.
func NewPosix(opts Options) *Posix {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	// The supervisor starts in the sandbox: a relative path would be
	// looked for there.
	if sp := opts.SupervisorPath; sp != "" && !filepath.IsAbs(sp) {
		var err error
		if strings.Contains(sp, "/") {
			sp, err = filepath.Abs(sp)
		} else {
			sp, err = exec.LookPath(sp)
		}
		if err == nil {
			opts.SupervisorPath = sp
		} else {
			log.Warn("cannot make the supervisor's path absolute", "path", opts.SupervisorPath, "err", err)
		}
	}
	p := &Posix{opts: opts, log: log, containers: make(map[string]*container), starting: make(map[string]bool)}
	p.hostable = hostSupported && opts.ExecutorHost && opts.SupervisorPath != "" && hostSafe(opts.Isolators)
	p.unpinned.L = &p.mu
	for _, iso := range opts.Isolators {
		if l, ok := iso.(Limiter); ok {
			l.WatchLimits(p.limited)
		}
	}
	return p
}

// ErrUnknownContainer is returned for an ID that is not running.
var ErrUnknownContainer = errors.New("unknown container")

// Launch implements Containerizer.
func (p *Posix) Launch(spec Spec) (int, error) {
	if spec.ID == "" || spec.Directory == "" || spec.Path == "" {
		return 0, errors.New("containerizer: spec needs ID, Directory and Path")
	}
	p.mu.Lock()
	if _, ok := p.containers[spec.ID]; ok || p.starting[spec.ID] {
		p.mu.Unlock()
		return 0, fmt.Errorf("containerizer: container %s already exists", spec.ID)
	}
	p.starting[spec.ID] = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.starting, spec.ID)
		p.mu.Unlock()
	}()

	stdout, stderr, err := p.makeSandbox(spec.Directory, spec.LinkLatest)
	if err != nil {
		return 0, err
	}
	defer stdout.Close()
	defer stderr.Close()

	path := spec.Path
	if !strings.Contains(path, "/") {
		found, err := exec.LookPath(path)
		if err != nil {
			return 0, fmt.Errorf("find executor %q: %w", path, err)
		}
		path = found
	}
	env := spec.Env
	if !hasEnv(env, "MESOS_SANDBOX") {
		env = append(env[:len(env):len(env)], "MESOS_SANDBOX="+spec.Directory)
	}
	argv := spec.Args
	if len(argv) == 0 {
		argv = []string{spec.Path}
	}
	hosted := p.hostable && path == p.opts.SupervisorPath && slices.Contains(env, commandKindEnv)
	runDir, err := p.makeRunDir(spec, hosted)
	if err != nil {
		return 0, err
	}
	if hosted {
		return p.launchHosted(spec, path, argv, env, runDir, stdout, stderr)
	}
	supervised := p.opts.SupervisorPath != ""
	cmd := &exec.Cmd{
		Path:        path,
		Args:        argv,
		Env:         env,
		Dir:         spec.Directory,
		Stdin:       nil,
		Stdout:      stdout,
		Stderr:      stderr,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	var report *os.File
	if supervised {
		r, w, err := os.Pipe()
		if err != nil {
			_ = os.RemoveAll(runDir)
			return 0, fmt.Errorf("start supervisor: %w", err)
		}
		defer r.Close()
		defer w.Close()
		report = r
		cmd.Path = p.opts.SupervisorPath
		cmd.Args = superviseArgs(p.opts.SupervisorPath, runDir, path, argv)
		cmd.ExtraFiles = []*os.File{w} // the supervisor's reportFD
	}

	prepared := 0
	cleanup := func() {
		for i := prepared - 1; i >= 0; i-- {
			if err := p.opts.Isolators[i].Cleanup(spec.ID); err != nil {
				p.log.Warn("isolator cleanup failed", "isolator", p.opts.Isolators[i].Name(), "container", spec.ID, "err", err)
			}
		}
		_ = os.RemoveAll(runDir)
	}
	for _, iso := range p.opts.Isolators {
		if err := iso.Prepare(&spec, cmd); err != nil {
			cleanup()
			return 0, fmt.Errorf("isolator %s: %w", iso.Name(), err)
		}
		prepared++
	}

	if err := cmd.Start(); err != nil {
		cleanup()
		if supervised {
			return 0, fmt.Errorf("start supervisor: %w", err)
		}
		return 0, fmt.Errorf("start executor: %w", err)
	}
	root := cmd.Process.Pid
	pid := root
	if supervised {
		_ = cmd.ExtraFiles[0].Close()
		pid, err = p.supervisorReport(report, root)
		if err != nil {
			killTrees([]target{{root, root}}, true)
			_ = cmd.Wait()
			cleanup()
			// How the supervisor ended tells a crash (its stderr is the
			// sandbox's) from a kill by someone else.
			if st := cmd.ProcessState; st != nil {
				err = fmt.Errorf("%w (the supervisor %s)", err, st)
			}
			return 0, err
		}
	} else {
		rec := pidsRecord{BootID: bootID(), Root: recordProc(pid), Executor: recordProc(pid)}
		if err := writeJSON(filepath.Join(runDir, pidsFile), rec); err != nil {
			p.log.Warn("recording the container's processes failed; it cannot be recovered", "container", spec.ID, "err", err)
		}
	}
	c := &container{spec: spec, cmd: cmd, pid: pid, root: root, supervised: supervised, runDir: runDir, done: make(chan struct{}), resources: spec.Resources}
	for _, iso := range p.opts.Isolators {
		if err := iso.Isolate(spec.ID, c.root); err != nil {
			p.log.Error("isolator failed; destroying container", "isolator", iso.Name(), "container", spec.ID, "err", err)
			c.destroyed = true
			killNow([]target{{c.root, c.root}})
			break
		}
	}

	p.mu.Lock()
	p.containers[spec.ID] = c
	p.wg.Add(1)
	p.mu.Unlock()
	go p.wait(c)
	if p.limitation(spec.ID) != nil {
		p.limited(spec.ID) // an isolator ended it before it was known
	}
	p.log.Info("launched container", "container", spec.ID, "pid", c.pid, "supervisor", supervisorPid(c), "dir", spec.Directory)
	return c.pid, nil
}

// supervisorTimeout bounds the wait for a supervisor to report the
// executor's pid: it only starts a process and writes a small file.
const supervisorTimeout = 30 * time.Second

// supervisorReport reads what the supervisor (pid sup) says on its report
// descriptor: the executor's pid, or why the executor did not start.
func (p *Posix) supervisorReport(r *os.File, sup int) (int, error) {
	_ = r.SetReadDeadline(time.Now().Add(supervisorTimeout))
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return 0, fmt.Errorf("supervisor %s (pid %d) did not report the executor's pid (does its main call containerizer.MainIfSupervisor?): %w",
			p.opts.SupervisorPath, sup, err)
	}
	msg := strings.TrimSpace(string(b))
	if rest, ok := strings.CutPrefix(msg, "error: "); ok {
		return 0, fmt.Errorf("start executor: %s", rest)
	}
	pid, err := strconv.Atoi(msg)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("supervisor %s (pid %d) ended without starting the executor (said %q)", p.opts.SupervisorPath, sup, msg)
	}
	return pid, nil
}

func supervisorPid(c *container) int {
	if c.supervised {
		return c.root
	}
	return 0
}

// runtimeDir is where containers' records live.
func (p *Posix) runtimeDir() string {
	if p.opts.RuntimeDir != "" {
		return p.opts.RuntimeDir
	}
	return filepath.Join(p.opts.WorkDir, "runtime")
}

// makeRunDir creates the container's runtime directory, anew, and records
// the launch in it (launch.json). A hosted container's is only named: its
// launch is recorded in the executor host's journal, which the host writes
// as it takes the launch, and the host makes the directory when the
// executor ends, for its status; a launch saves a directory entry.
func (p *Posix) makeRunDir(spec Spec, hosted bool) (string, error) {
	if err := ids.Validate(spec.ID); err != nil {
		return "", fmt.Errorf("containerizer: container ID %q: %w", spec.ID, err)
	}
	dir := filepath.Join(p.runtimeDir(), containersDir, spec.ID)
	if hosted {
		return dir, nil
	}
	// The common case, a new container's directory beside existing
	// ones, takes one mkdir; an old directory of the same ID goes first.
	if err := os.Mkdir(dir, 0o755); err != nil {
		if err := os.RemoveAll(dir); err != nil {
			return "", fmt.Errorf("create runtime directory: %w", err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("create runtime directory: %w", err)
		}
	}
	rec := launchRecord{ID: spec.ID, Directory: spec.Directory, Supervised: p.opts.SupervisorPath != ""}
	if err := writeNewJSON(filepath.Join(dir, launchFile), rec); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// RelativeToWorkDir returns dir relative to workDir when dir, cleaned, lies
// strictly below workDir; otherwise it refuses it. It is how the agent checks
// a path made of ids before it creates or links anything there.
func RelativeToWorkDir(workDir, dir string) (string, error) {
	if workDir == "" {
		return "", errors.New("no work directory to keep sandboxes in")
	}
	rel, err := filepath.Rel(filepath.Clean(workDir), filepath.Clean(dir))
	if err != nil || rel == "." || !filepath.IsLocal(rel) || !ids.Within(workDir, dir) {
		return "", fmt.Errorf("'%s' is not inside the work directory '%s'", dir, workDir)
	}
	return rel, nil
}

// makeSandbox creates the sandbox and opens its stdout and stderr files,
// without following a symbolic link (one planted by an earlier executor,
// say) or ".." out of the work directory; with linkLatest it also points
// the "latest" link beside the sandbox (runs/latest) at it.
func (p *Posix) makeSandbox(dir string, linkLatest bool) (stdout, stderr *os.File, err error) {
	rel, err := RelativeToWorkDir(p.opts.WorkDir, dir)
	if err != nil {
		return nil, nil, fmt.Errorf("create sandbox: %w", err)
	}
	stdout, stderr, err = makeSandboxAt(p.opts.WorkDir, rel, linkLatest, p.log)
	if err != nil {
		return nil, nil, err
	}
	return stdout, stderr, nil
}

// latestLink is the name of the link beside an executor's runs that
// points at its latest run, as Mesos's agent makes it; latestTmp is the
// link that replaces it, so that "latest" is never missing.
const (
	latestLink = "latest"
	latestTmp  = "latest.tmp"
)

// wait reaps the container's root process, sweeps up whatever was left in
// its session, and reports the end.
func (p *Posix) wait(c *container) {
	defer p.wg.Done()
	// Wait for the exit without reaping, so that the pid (which is the
	// session and group ID of the container) cannot be reused before the
	// sweep below.
	waitExitNoReap(c.root)
	left := killTrees([]target{{c.root, c.root}}, true)
	p.mu.Lock()
	c.reaping = true
	for c.pins > 0 {
		p.unpinned.Wait()
	}
	p.mu.Unlock()
	err := c.cmd.Wait()
	status := -1
	if c.cmd.ProcessState != nil {
		if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
			status = int(ws)
		}
	} else if err != nil {
		p.log.Warn("wait for executor failed", "container", c.spec.ID, "err", err)
	}
	if c.supervised {
		// The executor's own status, unless the supervisor died first
		// (killed with the container, say): then the supervisor's.
		if st, ok := readStatus(c.runDir); ok {
			status = st
		}
	}
	// Anything that escaped into the session after the reap. When the
	// sweep above found the session empty, with its leader gone, nothing
	// can have joined it since.
	if left > 0 {
		killTrees([]target{{0, c.root}}, true)
	}
	p.finish(c, status)
}

// finish runs the isolators' cleanup, forgets the container, reports its
// end and removes its records.
func (p *Posix) finish(c *container, status int) {
	lim := p.limitation(c.spec.ID)
	p.cleanupIsolators(c.spec.ID)
	p.mu.Lock()
	destroyed := c.destroyed
	delete(p.containers, c.spec.ID)
	p.mu.Unlock()
	close(c.done)

	t := Termination{ID: c.spec.ID, Pid: c.pid, Status: status, Destroyed: destroyed, Limitation: lim}
	p.report(t)
	p.removeRunDir(c.runDir)
}

func (p *Posix) cleanupIsolators(id string) {
	for i := len(p.opts.Isolators) - 1; i >= 0; i-- {
		if err := p.opts.Isolators[i].Cleanup(id); err != nil {
			p.log.Warn("isolator cleanup failed", "isolator", p.opts.Isolators[i].Name(), "container", id, "err", err)
		}
	}
}

func (p *Posix) report(t Termination) {
	p.log.Info("container ended", "container", t.ID, "pid", t.Pid, "how", t.String())
	if p.opts.OnExit != nil {
		p.opts.OnExit(t)
	}
}

// removeRunDir drops a container's records once its end is reported.
func (p *Posix) removeRunDir(dir string) {
	if dir == "" {
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		p.log.Warn("removing a container's runtime directory", "dir", dir, "err", err)
	}
}

// pin finds a running container and keeps its executor from being reaped
// (so that its pid stays its own) until unpin. It returns nil and no error
// for a container whose executor has exited and is being reaped, and
// ErrUnknownContainer for one that is not running at all. With destroy, the
// container is marked destroyed.
func (p *Posix) pin(id string, destroy bool) (*container, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.containers[id]
	if !ok {
		return nil, ErrUnknownContainer
	}
	if destroy {
		c.destroyed = true
	}
	if c.reaping {
		return nil, nil
	}
	c.pins++
	return c, nil
}

func (p *Posix) unpin(c *container) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.pins--; c.pins == 0 {
		p.unpinned.Broadcast()
	}
}

// Signal implements Containerizer. The signal goes to the container's
// process group, which the executor shares with its supervisor; the
// supervisor lets it pass.
func (p *Posix) Signal(id string, sig syscall.Signal) error {
	c, err := p.pin(id, false)
	if err != nil {
		return err
	}
	if c == nil {
		return ErrUnknownContainer
	}
	defer p.unpin(c)
	if c.hosted {
		return p.hostSignal(id, sig)
	}
	if err := syscall.Kill(-c.root, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// Destroy implements Containerizer. Destroys that come together share their
// scans of the process table.
func (p *Posix) Destroy(id string) error {
	c, err := p.pin(id, true)
	if err != nil || c == nil {
		return err // nil: the executor has exited, and the end is being reported
	}
	defer p.unpin(c)
	if c.hosted {
		// The host first: its executor, told the container is being
		// destroyed, does not report the task's death as its own.
		p.hostDestroy([]string{id}, false)
		p.killIsolated(id)
		return nil
	}
	p.killIsolated(id)
	killNow([]target{{c.root, c.root}})
	return nil
}

// killIsolated has the isolators that can kill a container whole (its
// cgroup) do so.
func (p *Posix) killIsolated(id string) {
	for _, iso := range p.opts.Isolators {
		if k, ok := iso.(Killer); ok {
			if err := k.KillAll(id); err != nil {
				p.log.Warn("isolator failed to kill the container", "isolator", iso.Name(), "container", id, "err", err)
			}
		}
	}
}

// limitation is the limitation an isolator ended the container for, if any.
func (p *Posix) limitation(id string) *Limitation {
	for _, iso := range p.opts.Isolators {
		if l, ok := iso.(Limiter); ok {
			if lim := l.Limitation(id); lim != nil {
				return lim
			}
		}
	}
	return nil
}

// limited is called by an isolator that has found the container over a
// limit: the container is destroyed.
func (p *Posix) limited(id string) {
	if err := p.Destroy(id); err != nil && !errors.Is(err, ErrUnknownContainer) {
		p.log.Warn("destroying a container over its limit", "container", id, "err", err)
	}
}

// Update implements Containerizer.
func (p *Posix) Update(id string, resources []*mesos.Resource) error {
	return p.UpdateLimits(id, resources, nil)
}

// UpdateLimits implements LimitsUpdater: isolators that apply limits beyond
// the requests (LimitsIsolator) get them, the others the resources alone.
func (p *Posix) UpdateLimits(id string, resources []*mesos.Resource, limits map[string]float64) error {
	p.mu.Lock()
	c, ok := p.containers[id]
	if ok {
		c.resources = resources
	}
	p.mu.Unlock()
	if !ok {
		return ErrUnknownContainer
	}
	for _, iso := range p.opts.Isolators {
		var err error
		if li, ok := iso.(LimitsIsolator); ok {
			err = li.UpdateLimits(id, resources, limits)
		} else {
			err = iso.Update(id, resources)
		}
		if err != nil {
			return fmt.Errorf("isolator %s: %w", iso.Name(), err)
		}
	}
	return nil
}

// Pids returns the executor pid of every live container, by container ID.
func (p *Posix) Pids() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.containers))
	for id, c := range p.containers {
		out[id] = c.pid
	}
	return out
}

// DestroyAll kills every container and waits until each has been reaped and
// reported. The agent calls it when it stops.
func (p *Posix) DestroyAll() {
	p.mu.Lock()
	var pinned []*container
	var hosted []string
	targets := make([]target, 0, len(p.containers))
	for _, c := range p.containers {
		c.destroyed = true
		if !c.reaping {
			c.pins++
			pinned = append(pinned, c)
			if c.hosted {
				hosted = append(hosted, c.spec.ID)
			} else {
				targets = append(targets, target{c.root, c.root})
			}
		}
	}
	p.mu.Unlock()
	// The host hears of its containers' end first, so their executors do
	// not report the kill themselves; then the isolators kill each
	// container whole (its cgroup) on a few goroutines at once, outside
	// the lock, and the session sweep of every other container is one
	// shared pass meanwhile.
	if len(hosted) > 0 {
		p.hostDestroy(hosted, false)
	}
	var wg sync.WaitGroup
	if len(targets) > 0 {
		wg.Go(func() { killNow(targets) })
	}
	p.eachParallel(pinned, func(c *container) { p.killIsolated(c.spec.ID) })
	wg.Wait()
	for _, c := range pinned {
		p.unpin(c)
	}
	p.wg.Wait()
	// With no container left, the host exits once it is not watched.
	p.closeHost()
}

// killWorkers is how many containers' isolators kill at once in
// DestroyAll: a kill is mostly waiting on the kernel.
const killWorkers = 16

// eachParallel calls f for every container, on up to killWorkers
// goroutines.
func (p *Posix) eachParallel(cs []*container, f func(*container)) {
	if !p.hasKiller() {
		return
	}
	next := make(chan *container)
	var wg sync.WaitGroup
	for range min(killWorkers, len(cs)) {
		wg.Go(func() {
			for c := range next {
				f(c)
			}
		})
	}
	for _, c := range cs {
		next <- c
	}
	close(next)
	wg.Wait()
}

// hasKiller reports whether an isolator kills containers whole.
func (p *Posix) hasKiller() bool {
	for _, iso := range p.opts.Isolators {
		if _, ok := iso.(Killer); ok {
			return true
		}
	}
	return false
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if len(kv) > len(key) && kv[len(key)] == '=' && kv[:len(key)] == key {
			return true
		}
	}
	return false
}
