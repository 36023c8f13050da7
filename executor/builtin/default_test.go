package builtin_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/executor/internal/fakeagent"
)

// When one task of a group fails, the default executor kills the rest of
// the group; each task runs in its own sandbox directory, tasks/<id>, with
// its own stdout and stderr; the executor exits once all are terminal and
// acknowledged.
func TestDefaultGroupTaskFailureKillsGroup(t *testing.T) {
	a := fakeagent.New(t)
	p := startExecutor(t, "default", a)
	launchGroup(t, a,
		shellTask("a", `echo "$MESOS_SANDBOX" > sandbox.txt; pwd > pwd.txt; echo out; echo err >&2; exit 1`),
		shellTask("b", "sleep 1000"))

	fa := a.WaitState(t, wait, "a", failed)
	if got, want := fa.GetMessage(), "Command exited with status 1"; got != want {
		t.Errorf("a: message %q, want %q", got, want)
	}
	kb := a.WaitState(t, wait, "b", killed)
	if got, want := kb.GetMessage(), "Command terminated with signal Terminated"; got != want {
		t.Errorf("b: message %q, want %q", got, want)
	}
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}
	wantStates(t, a, "a", starting, running, failed)
	wantStates(t, a, "b", starting, running, killed)

	dir := filepath.Join(p.sandbox, "tasks", "a")
	for file, want := range map[string]string{"sandbox.txt": dir, "pwd.txt": dir, "stdout": "out", "stderr": "err"} {
		if got := strings.TrimSpace(p.file(filepath.Join("tasks", "a", file))); got != want {
			t.Errorf("tasks/a/%s holds %q, want %q", file, got, want)
		}
	}
	noProblems(t, a)
}

// KILL of one task kills its whole group, TASK_KILLING first when the
// framework understands it.
func TestDefaultKillKillsGroup(t *testing.T) {
	a := fakeagent.New(t)
	a.SetCapabilities(mesos.FrameworkInfo_Capability_TASK_KILLING_STATE)
	p := startExecutor(t, "default", a)
	launchGroup(t, a, shellTask("a", "sleep 1000"), shellTask("b", "sleep 1000"))
	a.WaitState(t, wait, "a", running)
	a.WaitState(t, wait, "b", running)

	kill(t, a, "a", nil)
	a.WaitState(t, wait, "a", killed)
	a.WaitState(t, wait, "b", killed)
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}
	wantStates(t, a, "a", starting, running, killing, killed)
	wantStates(t, a, "b", starting, running, killing, killed)
}

// Groups are independent: a failure in one leaves another running, and the
// executor exits only when every task of every group is done.
func TestDefaultGroupsAreIndependent(t *testing.T) {
	a := fakeagent.New(t)
	p := startExecutor(t, "default", a)
	launchGroup(t, a, shellTask("long", "sleep 1000"))
	a.WaitState(t, wait, "long", running)
	launchGroup(t, a, shellTask("short", "exit 2"))
	st := a.WaitState(t, wait, "short", failed)
	if got, want := st.GetMessage(), "Command exited with status 2"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if p.exited() {
		t.Fatal("executor exited while a task was still running")
	}
	wantStates(t, a, "long", starting, running)

	kill(t, a, "long", nil)
	a.WaitState(t, wait, "long", killed)
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}
}

// The default executor fetches each task's URIs into the task's own
// sandbox, tasks/<id>, before it starts; a URI that cannot be fetched fails
// its task with REASON_CONTAINER_LAUNCH_FAILED and a message naming it,
// which ends the rest of the group as any failure does.
func TestDefaultFetchesEachTasksURIs(t *testing.T) {
	src := t.TempDir()
	script := filepath.Join(src, "hello.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho fetched-and-run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := fakeagent.New(t)
	p := startExecutor(t, "default", a)
	good := shellTask("good", "./hello.sh > ran.txt")
	good.Command.Uris = []*mesos.CommandInfo_URI{{Value: proto.String("file://" + script), Executable: proto.Bool(true)}}
	launchGroup(t, a, good)
	a.WaitState(t, wait, "good", finished)
	if got := strings.TrimSpace(p.file(filepath.Join("tasks", "good", "ran.txt"))); got != "fetched-and-run" {
		t.Errorf("tasks/good/ran.txt holds %q, want the fetched script's output", got)
	}
	if !strings.Contains(p.file(filepath.Join("tasks", "good", "stderr")), "Fetching URI 'file://"+script+"'") {
		t.Errorf("the task's stderr does not tell the fetch")
	}

	noProblems(t, a)

	// A second executor: the first exited with its last task.
	a = fakeagent.New(t)
	startExecutor(t, "default", a)
	missing := filepath.Join(src, "missing.tar.gz")
	bad := shellTask("bad", "true")
	bad.Command.Uris = []*mesos.CommandInfo_URI{{Value: proto.String(missing)}}
	launchGroup(t, a, shellTask("neighbour", "sleep 1000"), bad)
	st := a.WaitState(t, wait, "bad", failed)
	if st.GetReason() != mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED || !strings.Contains(st.GetMessage(), "Failed to fetch '"+missing+"'") {
		t.Errorf("bad: %s %q, want REASON_CONTAINER_LAUNCH_FAILED naming the URI", st.GetReason(), st.GetMessage())
	}
	a.WaitState(t, wait, "neighbour", killed)
	wantStates(t, a, "bad", starting, failed)
	noProblems(t, a)
}
