package builtin

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/executor"
)

// procSpec is what it takes to start one task's process.
type procSpec struct {
	command        *mesos.CommandInfo
	dir            string
	env            []string
	stdout, stderr *os.File
	// session starts the process as the leader of a session of its own
	// (not only of a process group), as an executor host runs tasks.
	session bool
	// start starts the prepared command; nil is cmd.Start.
	start func(*exec.Cmd) error
	// spawn, when set, starts the process instead of an exec.Cmd (see
	// Hosted.Spawn); the process then leads a session of its own.
	spawn func(path string, argv, env []string, dir string, stdout, stderr *os.File) (int, error)
}

// runner is a started task: a process of the executor's own, or a Docker
// container.
type runner interface {
	// id names the task's process (or container) in logs.
	id() string
	// terminate asks the task to end within grace: SIGTERM to its process
	// group, or `docker stop` with the grace period as its timeout.
	terminate(grace time.Duration) error
	// kill kills the task at once (SIGKILL).
	kill() error
	// wait blocks until the task has ended and tells how.
	wait() exitResult
	// destroy kills whatever is left of the task, when the executor exits.
	destroy()
}

// exitResult is how a task ended: its wait status when known (a Docker
// container's exit code n is reported as a process that exited with n).
type exitResult struct {
	ws  syscall.WaitStatus
	ok  bool
	err error
}

// process is a started task process, the leader of its own process group.
type process struct {
	// cmd started it; nil when it was spawned (procSpec.spawn): wait
	// then reaps it itself.
	cmd *exec.Cmd
	pid int
	// reaped is set once a spawned process has been waited for: its pid
	// may then be another process's.
	reaped atomic.Bool
}

var _ runner = (*process)(nil)

func (p *process) id() string { return "pid " + strconv.Itoa(p.pid) }

func (p *process) terminate(time.Duration) error { return p.signal(syscall.SIGTERM) }

func (p *process) kill() error { return p.signal(syscall.SIGKILL) }

func (p *process) wait() exitResult {
	awaitExit(p.pid)
	if p.cmd == nil {
		var ws syscall.WaitStatus
		var err error
		for {
			_, err = syscall.Wait4(p.pid, &ws, 0, nil)
			if !errors.Is(err, syscall.EINTR) {
				break
			}
		}
		p.reaped.Store(true)
		if err != nil {
			return exitResult{err: fmt.Errorf("wait for pid %d: %w", p.pid, err)}
		}
		return exitResult{ws: ws, ok: true}
	}
	err := p.cmd.Wait()
	if st := p.cmd.ProcessState; st != nil {
		if ws, ok := st.Sys().(syscall.WaitStatus); ok {
			return exitResult{ws: ws, ok: true, err: err}
		}
	}
	return exitResult{err: err}
}

func startProcess(spec procSpec) (*process, error) {
	ci := spec.command
	if ci == nil {
		return nil, errors.New("task has no command")
	}
	if spec.spawn != nil {
		p, err := spawnProcess(spec)
		if !errors.Is(err, ErrNoSpawner) {
			return p, err
		}
		// Started as below instead.
	}
	var cmd *exec.Cmd
	if ci.GetShell() {
		if ci.Value == nil {
			return nil, errors.New("shell command is not specified")
		}
		cmd = &exec.Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", ci.GetValue()}}
	} else {
		if ci.GetValue() == "" {
			return nil, errors.New("executable is not specified")
		}
		path, err := lookPath(ci.GetValue(), spec.env)
		if err != nil {
			return nil, err
		}
		args := ci.GetArguments()
		if len(args) == 0 {
			args = []string{ci.GetValue()}
		}
		cmd = &exec.Cmd{Path: path, Args: args}
	}
	cmd.Dir = spec.dir
	cmd.Env = spec.env
	cmd.Stdout = spec.stdout
	cmd.Stderr = spec.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: !spec.session, Setsid: spec.session}
	start := cmd.Start
	if spec.start != nil {
		start = func() error { return spec.start(cmd) }
	}
	if err := start(); err != nil {
		return nil, err
	}
	return &process{cmd: cmd, pid: cmd.Process.Pid}, nil
}

// ErrNoSpawner is what a Hosted.Spawn's error wraps when it did not start
// the process and cannot: the task is then started through Start.
var ErrNoSpawner = errors.New("no spawner")

// spawnProcess starts spec's command through spec.spawn.
func spawnProcess(spec procSpec) (*process, error) {
	ci := spec.command
	path, argv := "/bin/sh", []string{"sh", "-c", ci.GetValue()}
	if ci.GetShell() {
		if ci.Value == nil {
			return nil, errors.New("shell command is not specified")
		}
	} else {
		if ci.GetValue() == "" {
			return nil, errors.New("executable is not specified")
		}
		var err error
		if path, err = lookPath(ci.GetValue(), spec.env); err != nil {
			return nil, err
		}
		if argv = ci.GetArguments(); len(argv) == 0 {
			argv = []string{ci.GetValue()}
		}
	}
	pid, err := spec.spawn(path, argv, spec.env, spec.dir, spec.stdout, spec.stderr)
	if err != nil {
		return nil, err
	}
	return &process{pid: pid}, nil
}

// signal signals the task's whole process group.
func (p *process) signal(sig syscall.Signal) error {
	err := syscall.Kill(-p.pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// destroy kills whatever is left of the task: its process group, and its
// leader directly in case it left the group.
func (p *process) destroy() {
	_ = p.signal(syscall.SIGKILL)
	if p.cmd != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	} else if !p.reaped.Load() {
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
}

// lookPath finds an executable the way execvp does, but in the task's PATH.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	path := "/bin:/usr/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &exec.Error{Name: file, Err: fs.ErrNotExist}
}

// taskEnv builds a task's environment: base (the executor's, less the
// variables meant for the executor alone), then the command's VALUE
// variables, then extra, later ones winning.
func taskEnv(base []string, ci *mesos.CommandInfo, extra ...string) []string {
	vals := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	for _, kv := range base {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch k {
		case EnvKind, EnvEncoding, executor.EnvAuthenticationToken:
			continue
		}
		set(k, v)
	}
	for _, v := range ci.GetEnvironment().GetVariables() {
		if v.GetType() == mesos.Environment_Variable_SECRET {
			continue
		}
		set(v.GetName(), v.GetValue())
	}
	for i := 0; i+1 < len(extra); i += 2 {
		set(extra[i], extra[i+1])
	}
	env := make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+vals[k])
	}
	return env
}

// allocationRole is the role the task's resources are allocated to, if any.
func allocationRole(t *mesos.TaskInfo) string {
	for _, r := range t.GetResources() {
		if role := r.GetAllocationInfo().GetRole(); role != "" {
			return role
		}
	}
	return ""
}

// describeExit words a wait status as Mesos does ("Command exited with
// status 3", "Command terminated with signal Killed"; the docker executor
// says "Container" for "Command").
func describeExit(what string, ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("%s exited with status %d", what, ws.ExitStatus())
	case ws.Signaled():
		return what + " terminated with signal " + strsignal(ws.Signal())
	}
	return fmt.Sprintf("%s ended with wait status %#x", what, uint32(ws))
}

// strsignal names a signal the way glibc's strsignal(3) does.
func strsignal(sig syscall.Signal) string {
	const sigrtmin, sigrtmax = 34, 64
	if sig >= sigrtmin && sig <= sigrtmax {
		return fmt.Sprintf("Real-time signal %d", int(sig)-sigrtmin)
	}
	s := sig.String()
	if strings.HasPrefix(s, "signal ") {
		return fmt.Sprintf("Unknown signal %d", int(sig))
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
