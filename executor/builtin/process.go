package builtin

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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
}

// process is a started task process, the leader of its own process group.
type process struct {
	cmd *exec.Cmd
	pid int
}

func startProcess(spec procSpec) (*process, error) {
	ci := spec.command
	if ci == nil {
		return nil, errors.New("task has no command")
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
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &process{cmd: cmd, pid: cmd.Process.Pid}, nil
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
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
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
// status 3", "Command terminated with signal Killed").
func describeExit(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("Command exited with status %d", ws.ExitStatus())
	case ws.Signaled():
		return "Command terminated with signal " + strsignal(ws.Signal())
	}
	return fmt.Sprintf("Command ended with wait status %#x", uint32(ws))
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
