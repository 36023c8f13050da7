package builtin_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	execpb "github.com/gomesos/gomesos/api/v1/executor"
	"github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/executor/internal/fakeagent"
	"github.com/gomesos/gomesos/internal/testutil"
)

const (
	starting = mesos.TaskState_TASK_STARTING
	running  = mesos.TaskState_TASK_RUNNING
	killing  = mesos.TaskState_TASK_KILLING
	finished = mesos.TaskState_TASK_FINISHED
	failed   = mesos.TaskState_TASK_FAILED
	killed   = mesos.TaskState_TASK_KILLED
)

// A command task that exits 0 goes STARTING, RUNNING, FINISHED with Mesos's
// message, its output lands in the sandbox's stdout, and the executor exits
// 0 once the terminal update is acknowledged; in either encoding.
func TestCommandTaskFinishes(t *testing.T) {
	for _, enc := range []struct{ name, contentType string }{
		{"protobuf", "application/x-protobuf"},
		{"json", "application/json"},
	} {
		t.Run(enc.name, func(t *testing.T) {
			a := fakeagent.New(t)
			p := startExecutor(t, "command", a, "GOMESOS_EXECUTOR_ENCODING="+enc.name)
			launch(t, a, shellTask("t1", "echo hello from the task"))

			fin := a.WaitState(t, wait, "t1", finished)
			if got, want := fin.GetMessage(), "Command exited with status 0"; got != want {
				t.Errorf("message %q, want %q", got, want)
			}
			if code := p.exitCode(); code != 0 {
				t.Errorf("executor exited %d, want 0", code)
			}
			wantStates(t, a, "t1", starting, running, finished)
			for _, st := range a.Updates() {
				if len(st.GetUuid()) != 16 || st.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR ||
					st.GetExecutorId().GetValue() != fakeagent.ExecutorID || st.GetTimestamp() <= 0 {
					t.Errorf("update lacks uuid, source, executor_id or timestamp: %v", st)
				}
			}
			for _, r := range a.Requests() {
				if r.ContentType != enc.contentType || r.Accept != enc.contentType {
					t.Errorf("%s call sent as %q accepting %q, want %q", r.Type, r.ContentType, r.Accept, enc.contentType)
				}
			}
			if out := p.file("stdout"); !strings.Contains(out, "hello from the task") {
				t.Errorf("sandbox stdout %q lacks the task's output", out)
			}
			if len(a.Unacked()) != 0 {
				t.Errorf("unacknowledged updates left: %v", a.Unacked())
			}
			noProblems(t, a)
		})
	}
}

// A command that fails reports TASK_FAILED with its exit status, or with
// the signal that ended it, named as strsignal names it.
func TestCommandTaskFails(t *testing.T) {
	for _, tc := range []struct {
		command, message string
	}{
		{"exit 3", "Command exited with status 3"},
		{"kill -TERM $$", "Command terminated with signal Terminated"},
		{"kill -KILL $$", "Command terminated with signal Killed"},
	} {
		t.Run(tc.command, func(t *testing.T) {
			a := fakeagent.New(t)
			p := startExecutor(t, "command", a)
			launch(t, a, shellTask("t1", tc.command))

			st := a.WaitState(t, wait, "t1", failed)
			if st.GetMessage() != tc.message {
				t.Errorf("message %q, want %q", st.GetMessage(), tc.message)
			}
			if code := p.exitCode(); code != 0 {
				t.Errorf("executor exited %d, want 0", code)
			}
			wantStates(t, a, "t1", starting, running, failed)
		})
	}
}

// KILL of a task that handles SIGTERM: TASK_KILLING (the framework has the
// capability), SIGTERM, and TASK_KILLED as soon as the task exits, well
// before its grace period ends.
func TestCommandKillWithinGracePeriod(t *testing.T) {
	const grace = time.Minute
	a := fakeagent.New(t)
	a.SetCapabilities(mesos.FrameworkInfo_Capability_TASK_KILLING_STATE)
	p := startExecutor(t, "command", a)
	launch(t, a, withGrace(shellTask("t1", `trap 'echo got TERM; exit 0' TERM; echo > ready; sleep 1000 & wait`), grace))
	a.WaitState(t, wait, "t1", running)
	testutil.WaitFor(t, "the task to install its trap", wait, func() bool { return p.file("ready") != "" })

	start := time.Now()
	kill(t, a, "t1", nil)
	st := a.WaitState(t, wait, "t1", killed)
	if elapsed := time.Since(start); elapsed >= grace {
		t.Errorf("TASK_KILLED after %v, not before the %v grace period ended", elapsed, grace)
	}
	if got, want := st.GetMessage(), "Command exited with status 0"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}
	wantStates(t, a, "t1", starting, running, killing, killed)
	if out := p.file("stdout"); !strings.Contains(out, "got TERM") {
		t.Errorf("the task did not see SIGTERM; stdout %q", out)
	}
}

// KILL of a task that ignores SIGTERM: after the grace period the whole
// process group is SIGKILLed, grandchildren included. The grace period is
// the task's kill policy (an hour here), but a later KILL's kill policy may
// shorten it. Without TASK_KILLING_STATE there is no TASK_KILLING.
func TestCommandKillEscalatesToSIGKILL(t *testing.T) {
	grace := 500 * time.Millisecond
	a := fakeagent.New(t)
	p := startExecutor(t, "command", a)
	launch(t, a, withGrace(shellTask("t1", `trap '' TERM; sleep 1000 & echo $! > child.pid; wait`), time.Hour))
	a.WaitState(t, wait, "t1", running)
	child := testutil.WaitPIDFile(t, filepath.Join(p.sandbox, "child.pid"), wait)

	start := time.Now()
	kill(t, a, "t1", nil)
	kill(t, a, "t1", &grace)
	st := a.WaitState(t, wait, "t1", killed)
	if elapsed := time.Since(start); elapsed < grace {
		t.Errorf("TASK_KILLED after %v, before the %v grace period was over", elapsed, grace)
	}
	if got, want := st.GetMessage(), "Command terminated with signal Killed"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	testutil.WaitFor(t, "the task's grandchild to be killed", wait, func() bool { return testutil.ProcessGone(child) })
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}
	wantStates(t, a, "t1", starting, running, killed)
}

// With shell=false, value is the executable (found in PATH) and arguments
// are its argv, passed through untouched.
func TestCommandShellFalse(t *testing.T) {
	a := fakeagent.New(t)
	p := startExecutor(t, "command", a)
	task := shellTask("t1", "")
	task.Command = &mesos.CommandInfo{
		Shell:     proto.Bool(false),
		Value:     proto.String("sh"),
		Arguments: []string{"sh", "-c", `printf '%s|' "$0" "$@" > argv.txt`, "zero", "a b", "*"},
	}
	launch(t, a, task)
	a.WaitState(t, wait, "t1", finished)
	if got, want := p.file("argv.txt"), "zero|a b|*|"; got != want {
		t.Errorf("argv %q, want %q", got, want)
	}
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}
}

// The task sees the executor's environment, the command's variables, and
// MESOS_TASK_ID, MESOS_SANDBOX and MESOS_ALLOCATION_ROLE set by the
// executor; it runs in the sandbox; GOMESOS_EXECUTOR is not passed on.
func TestCommandEnvironment(t *testing.T) {
	a := fakeagent.New(t)
	p := startExecutor(t, "command", a, "FROM_AGENT=yes")
	task := shellTask("t1", `env > env.txt; pwd > pwd.txt`)
	task.Command.Environment = &mesos.Environment{Variables: []*mesos.Environment_Variable{
		{Name: proto.String("FOO"), Value: proto.String("bar baz")},
		{Name: proto.String("FROM_AGENT"), Value: proto.String("overridden")},
		{Name: proto.String("MESOS_TASK_ID"), Value: proto.String("not this")},
		{Name: proto.String("A_SECRET"), Type: mesos.Environment_Variable_SECRET.Enum()},
	}}
	task.Resources = []*mesos.Resource{{
		Name:           proto.String("cpus"),
		Type:           mesos.Value_SCALAR.Enum(),
		Scalar:         &mesos.Value_Scalar{Value: proto.Float64(0.1)},
		AllocationInfo: &mesos.Resource_AllocationInfo{Role: proto.String("web")},
	}}
	launch(t, a, task)
	a.WaitState(t, wait, "t1", finished)

	env := map[string]string{}
	for _, line := range strings.Split(p.file("env.txt"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	for k, want := range map[string]string{
		"FOO":                   "bar baz",
		"FROM_AGENT":            "overridden",
		"MESOS_TASK_ID":         "t1",
		"MESOS_SANDBOX":         p.sandbox,
		"MESOS_ALLOCATION_ROLE": "web",
		"MESOS_EXECUTOR_ID":     fakeagent.ExecutorID,
	} {
		if env[k] != want {
			t.Errorf("task saw %s=%q, want %q", k, env[k], want)
		}
	}
	for _, k := range []string{"GOMESOS_EXECUTOR", "A_SECRET"} {
		if v, ok := env[k]; ok {
			t.Errorf("task saw %s=%q, want it unset", k, v)
		}
	}
	if got := strings.TrimSpace(p.file("pwd.txt")); got != p.sandbox {
		t.Errorf("task ran in %q, want the sandbox %q", got, p.sandbox)
	}
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}
}

// The task gets its ports as Marathon gives them (Gomesos's addition):
// PORT0..n in the order of its ranges, PORT, PORTS; a variable its command
// sets itself wins.
func TestCommandPortsEnvironment(t *testing.T) {
	a := fakeagent.New(t)
	p := startExecutor(t, "command", a)
	task := shellTask("t1", `env > env.txt`)
	task.Command.Environment = &mesos.Environment{Variables: []*mesos.Environment_Variable{
		{Name: proto.String("PORT2"), Value: proto.String("mine")},
	}}
	task.Resources = []*mesos.Resource{{
		Name: proto.String("ports"),
		Type: mesos.Value_RANGES.Enum(),
		Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{
			{Begin: proto.Uint64(31005), End: proto.Uint64(31006)},
			{Begin: proto.Uint64(31000), End: proto.Uint64(31000)},
		}},
	}}
	launch(t, a, task)
	a.WaitState(t, wait, "t1", finished)
	env := map[string]string{}
	for _, line := range strings.Split(p.file("env.txt"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	for k, want := range map[string]string{
		"PORT":  "31005",
		"PORT0": "31005",
		"PORT1": "31006",
		"PORT2": "mine",
		"PORTS": "31005,31006,31000",
	} {
		if env[k] != want {
			t.Errorf("task saw %s=%q, want %q", k, env[k], want)
		}
	}
	if v, ok := env["PORT3"]; ok {
		t.Errorf("task saw PORT3=%q", v)
	}
}

// SHUTDOWN kills the task (TASK_KILLED) and the executor exits.
func TestCommandShutdown(t *testing.T) {
	a := fakeagent.New(t)
	p := startExecutor(t, "command", a)
	launch(t, a, shellTask("t1", "sleep 1000"))
	a.WaitState(t, wait, "t1", running)
	send(t, a, &execpb.Event{Type: execpb.Event_SHUTDOWN.Enum()})
	st := a.WaitState(t, wait, "t1", killed)
	if got, want := st.GetMessage(), "Command terminated with signal Terminated"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}
}

// A second LAUNCH to a command executor fails that task and leaves the
// first alone.
func TestCommandSecondLaunchFails(t *testing.T) {
	a := fakeagent.New(t)
	p := startExecutor(t, "command", a)
	launch(t, a, shellTask("t1", "sleep 1000"))
	a.WaitState(t, wait, "t1", running)
	launch(t, a, shellTask("t2", "true"))
	st := a.WaitState(t, wait, "t2", failed)
	if got, want := st.GetMessage(), `Attempted to run multiple tasks using a "command" executor`; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	kill(t, a, "t1", nil)
	a.WaitState(t, wait, "t1", killed)
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}
	wantStates(t, a, "t1", starting, running, killed)
}

// After the terminal update the executor stays until the agent acknowledges
// it.
func TestCommandWaitsForAcknowledgement(t *testing.T) {
	a := fakeagent.New(t)
	a.SetAutoAck(false)
	p := startExecutor(t, "command", a)
	launch(t, a, shellTask("t1", "true"))
	a.WaitState(t, wait, "t1", finished)
	if p.exited() {
		t.Fatalf("executor exited before its updates were acknowledged")
	}
	if err := a.AckAll(); err != nil {
		t.Fatal(err)
	}
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}
}

// A checkpointing executor whose agent drops the stream re-subscribes,
// sending the task and the updates not acknowledged yet, and carries on.
func TestCommandResubscribesAfterAgentFailover(t *testing.T) {
	a := fakeagent.New(t)
	a.SetAutoAck(false)
	p := startExecutor(t, "command", a,
		"MESOS_CHECKPOINT=1", "MESOS_RECOVERY_TIMEOUT=1mins", "MESOS_SUBSCRIPTION_BACKOFF_MAX=100ms")
	launch(t, a, shellTask("t1", "sleep 1000"))
	a.WaitState(t, wait, "t1", running)
	before := a.Unacked()

	a.Drop()
	a.Wait(t, wait, "a second subscription", func() bool { return len(a.Subscribes()) == 2 && a.Subscribed() })
	sub := a.Subscribes()[1].GetSubscribe()
	if got := sub.GetUnacknowledgedTasks(); len(got) != 1 || got[0].GetTaskId().GetValue() != "t1" {
		t.Errorf("re-subscription carried tasks %v, want t1", got)
	}
	var uuids [][]byte
	for _, u := range sub.GetUnacknowledgedUpdates() {
		uuids = append(uuids, u.GetStatus().GetUuid())
	}
	if len(uuids) != len(before) {
		t.Fatalf("re-subscription carried %d updates, want %d", len(uuids), len(before))
	}
	for i := range before {
		if !bytes.Equal(uuids[i], before[i].GetUuid()) {
			t.Errorf("re-sent update %d has uuid %x, want %x", i, uuids[i], before[i].GetUuid())
		}
	}

	a.SetAutoAck(true)
	if err := a.AckAll(); err != nil {
		t.Fatal(err)
	}
	kill(t, a, "t1", nil)
	a.WaitState(t, wait, "t1", killed)
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}
	wantStates(t, a, "t1", starting, running, killed)
}

// A non-checkpointing executor that loses its agent kills its task and
// exits.
func TestCommandExitsWhenAgentLost(t *testing.T) {
	a := fakeagent.New(t)
	p := startExecutor(t, "command", a)
	launch(t, a, shellTask("t1", "sleep 1000 & echo $! > child.pid; wait"))
	a.WaitState(t, wait, "t1", running)
	child := testutil.WaitPIDFile(t, filepath.Join(p.sandbox, "child.pid"), wait)
	a.Drop()
	if code := p.exitCode(); code != 1 {
		t.Errorf("executor exited %d, want 1", code)
	}
	testutil.WaitFor(t, "the task to be killed", wait, func() bool { return testutil.ProcessGone(child) })
}

// A task that outlives its max_completion_time is killed and reported as
// TASK_FAILED with REASON_MAX_COMPLETION_TIME_REACHED, without TASK_KILLING.
func TestCommandMaxCompletionTime(t *testing.T) {
	a := fakeagent.New(t)
	a.SetCapabilities(mesos.FrameworkInfo_Capability_TASK_KILLING_STATE)
	p := startExecutor(t, "command", a)
	task := shellTask("t1", "sleep 1000")
	task.MaxCompletionTime = &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(200 * time.Millisecond))}
	launch(t, a, task)
	st := a.WaitState(t, wait, "t1", failed)
	if st.GetReason() != mesos.TaskStatus_REASON_MAX_COMPLETION_TIME_REACHED {
		t.Errorf("reason %v, want REASON_MAX_COMPLETION_TIME_REACHED", st.GetReason())
	}
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}
	wantStates(t, a, "t1", starting, running, failed)
}
