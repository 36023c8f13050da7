// Package containerizer owns the agent's containers: it creates an executor's
// sandbox (always inside the agent's work directory, which no sandbox path
// may leave, by ".." or by symbolic link), starts the executor as a process in its own session and process
// group with its output in the sandbox's stdout and stderr files, watches it
// exit, and kills its whole process tree when asked. Isolation (cgroups v1 and
// v2, namespaces) plugs in as Isolator hooks around each launch; the posix
// launcher here isolates nothing by itself.
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
	"strings"
	"sync"
	"syscall"

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
}

// Termination says how a container ended.
type Termination struct {
	ID string
	// Pid of the executor process; 0 when it never started.
	Pid int
	// Status is the raw wait(2) status of the executor process, as Mesos
	// reports it in ExitedExecutorMessage; -1 when the process never started.
	Status int
	// Destroyed is true when the container was ended by Destroy.
	Destroyed bool
	// LaunchErr is set when the container could not be started.
	LaunchErr error
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
	// DestroyAll kills every container and returns once each end has been
	// reported.
	DestroyAll()
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
	// Isolate runs right after the process started.
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
	// OnExit receives each container's termination, on a goroutine of the
	// containerizer's own. It must not block for long.
	OnExit func(Termination)
	// Isolators run in order around each launch (and in reverse for Cleanup).
	Isolators []Isolator
	Logger    *slog.Logger
}

// Posix launches executors as plain processes, each the leader of its own
// session, and kills a container by stopping and killing every process in
// that session and below the executor. It is Mesos's posix launcher.
type Posix struct {
	opts Options
	log  *slog.Logger

	mu         sync.Mutex
	unpinned   sync.Cond // on mu: a container's pins dropped to zero
	containers map[string]*container
	starting   map[string]bool // IDs being launched
	wg         sync.WaitGroup
}

// target names a container's processes for killing: its executor (root)
// and the session the executor leads (sid).
type target struct{ root, sid int }

type container struct {
	spec      Spec
	cmd       *exec.Cmd
	pid       int
	destroyed bool
	done      chan struct{}
	// reaping is set once the executor has exited and is about to be
	// reaped, after which its pid may name another process. Signals go
	// only to a pinned container, which is not reaped until unpinned.
	reaping bool
	pins    int
}

// NewPosix returns a posix containerizer.
func NewPosix(opts Options) *Posix {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p := &Posix{opts: opts, log: log, containers: make(map[string]*container), starting: make(map[string]bool)}
	p.unpinned.L = &p.mu
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

	stdout, stderr, err := p.makeSandbox(spec.Directory)
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
	cmd := &exec.Cmd{
		Path:        path,
		Args:        spec.Args,
		Env:         env,
		Dir:         spec.Directory,
		Stdin:       nil,
		Stdout:      stdout,
		Stderr:      stderr,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if len(cmd.Args) == 0 {
		cmd.Args = []string{spec.Path}
	}

	prepared := 0
	cleanup := func() {
		for i := prepared - 1; i >= 0; i-- {
			if err := p.opts.Isolators[i].Cleanup(spec.ID); err != nil {
				p.log.Warn("isolator cleanup failed", "isolator", p.opts.Isolators[i].Name(), "container", spec.ID, "err", err)
			}
		}
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
		return 0, fmt.Errorf("start executor: %w", err)
	}
	c := &container{spec: spec, cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	for _, iso := range p.opts.Isolators {
		if err := iso.Isolate(spec.ID, c.pid); err != nil {
			p.log.Error("isolator failed; destroying container", "isolator", iso.Name(), "container", spec.ID, "err", err)
			c.destroyed = true
			killNow([]target{{c.pid, c.pid}})
			break
		}
	}

	p.mu.Lock()
	p.containers[spec.ID] = c
	p.wg.Add(1)
	p.mu.Unlock()
	go p.wait(c)
	p.log.Info("launched container", "container", spec.ID, "pid", c.pid, "dir", spec.Directory)
	return c.pid, nil
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
// all through an os.Root on the work directory, so that neither ".." nor a
// symbolic link (one planted by an earlier executor, say) leads out of it.
func (p *Posix) makeSandbox(dir string) (stdout, stderr *os.File, err error) {
	rel, err := RelativeToWorkDir(p.opts.WorkDir, dir)
	if err != nil {
		return nil, nil, fmt.Errorf("create sandbox: %w", err)
	}
	root, err := os.OpenRoot(p.opts.WorkDir)
	if err != nil {
		return nil, nil, fmt.Errorf("create sandbox: %w", err)
	}
	defer root.Close()
	if err := root.MkdirAll(rel, 0o755); err != nil {
		return nil, nil, fmt.Errorf("create sandbox: %w", err)
	}
	const flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	stdout, err = root.OpenFile(filepath.Join(rel, "stdout"), flags, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open stdout: %w", err)
	}
	stderr, err = root.OpenFile(filepath.Join(rel, "stderr"), flags, 0o644)
	if err != nil {
		stdout.Close()
		return nil, nil, fmt.Errorf("open stderr: %w", err)
	}
	return stdout, stderr, nil
}

// wait reaps the executor, sweeps up whatever it left in its session, runs
// the isolators' cleanup and reports the termination.
func (p *Posix) wait(c *container) {
	defer p.wg.Done()
	// Wait for the exit without reaping, so that the pid (which is the
	// session and group ID of the container) cannot be reused before the
	// sweep below.
	waitExitNoReap(c.pid)
	left := killTrees([]target{{c.pid, c.pid}}, true)
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
	// Anything that escaped into the session after the reap. When the
	// sweep above found the session empty, with its leader gone, nothing
	// can have joined it since.
	if left > 0 {
		killTrees([]target{{0, c.pid}}, true)
	}
	for i := len(p.opts.Isolators) - 1; i >= 0; i-- {
		if err := p.opts.Isolators[i].Cleanup(c.spec.ID); err != nil {
			p.log.Warn("isolator cleanup failed", "isolator", p.opts.Isolators[i].Name(), "container", c.spec.ID, "err", err)
		}
	}

	p.mu.Lock()
	destroyed := c.destroyed
	delete(p.containers, c.spec.ID)
	p.mu.Unlock()
	close(c.done)

	t := Termination{ID: c.spec.ID, Pid: c.pid, Status: status, Destroyed: destroyed}
	p.log.Info("container ended", "container", c.spec.ID, "pid", c.pid, "how", t.String())
	if p.opts.OnExit != nil {
		p.opts.OnExit(t)
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

// Signal implements Containerizer.
func (p *Posix) Signal(id string, sig syscall.Signal) error {
	c, err := p.pin(id, false)
	if err != nil {
		return err
	}
	if c == nil {
		return ErrUnknownContainer
	}
	defer p.unpin(c)
	if err := syscall.Kill(-c.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
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
	killNow([]target{{c.pid, c.pid}})
	return nil
}

// Update implements Containerizer.
func (p *Posix) Update(id string, resources []*mesos.Resource) error {
	p.mu.Lock()
	_, ok := p.containers[id]
	p.mu.Unlock()
	if !ok {
		return ErrUnknownContainer
	}
	for _, iso := range p.opts.Isolators {
		if err := iso.Update(id, resources); err != nil {
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
	targets := make([]target, 0, len(p.containers))
	for _, c := range p.containers {
		c.destroyed = true
		if !c.reaping {
			c.pins++
			pinned = append(pinned, c)
			targets = append(targets, target{c.pid, c.pid})
		}
	}
	p.mu.Unlock()
	if len(targets) > 0 {
		killNow(targets)
	}
	for _, c := range pinned {
		p.unpin(c)
	}
	p.wg.Wait()
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if len(kv) > len(key) && kv[len(key)] == '=' && kv[:len(key)] == key {
			return true
		}
	}
	return false
}
