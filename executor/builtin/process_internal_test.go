package builtin

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/gomesos/gomesos/api/v1/mesos"
)

// A task started through a spawn hook is waited for and reaped by the
// executor itself; a hook that says it has no spawner sends the task
// through exec.Cmd instead.
func TestSpawnedTaskIsReapedAndFallsBack(t *testing.T) {
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	shell := true
	value := "exit 3"
	spec := procSpec{
		command: &mesos.CommandInfo{Shell: &shell, Value: &value},
		dir:     dir,
		env:     []string{"PATH=/bin:/usr/bin"},
		stdout:  out,
		stderr:  out,
		session: true,
	}
	spawned := 0
	spec.spawn = func(path string, argv, env []string, dir string, stdout, stderr *os.File) (int, error) {
		spawned++
		cmd := exec.Command(path, argv[1:]...)
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, stdout, stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		// The caller reaps it: exec.Cmd's own wait is not used.
		return cmd.Process.Pid, nil
	}
	p, err := startProcess(spec)
	if err != nil {
		t.Fatal(err)
	}
	if p.cmd != nil || spawned != 1 {
		t.Fatalf("the task was not spawned (cmd %v, spawned %d)", p.cmd, spawned)
	}
	res := p.wait()
	if !res.ok || !res.ws.Exited() || res.ws.ExitStatus() != 3 {
		t.Errorf("spawned task ended with %+v, want exit status 3", res)
	}
	if !p.reaped.Load() {
		t.Error("the spawned task is not marked reaped")
	}
	p.destroy() // after the reap: signals nothing

	spec.spawn = func(string, []string, []string, string, *os.File, *os.File) (int, error) {
		return 0, errors.Join(ErrNoSpawner, errors.New("broken"))
	}
	p, err = startProcess(spec)
	if err != nil {
		t.Fatal(err)
	}
	if p.cmd == nil {
		t.Fatal("without a spawner the task was not started through exec.Cmd")
	}
	if res := p.wait(); !res.ok || res.ws.ExitStatus() != 3 {
		t.Errorf("fallen-back task ended with %+v, want exit status 3", res)
	}
}
