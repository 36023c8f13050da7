package builtin_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/executor/internal/fakeagent"
)

// pollFor polls cond (about files, which the agent is not told of) until
// it holds, failing the test after the harness's deadline.
func pollFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", wait, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func commandHealthCheck(cmd string, failures uint32) *mesos.HealthCheck {
	return &mesos.HealthCheck{
		Type:                mesos.HealthCheck_COMMAND.Enum(),
		Command:             &mesos.CommandInfo{Value: proto.String(cmd)},
		DelaySeconds:        proto.Float64(0),
		IntervalSeconds:     proto.Float64(0.05),
		GracePeriodSeconds:  proto.Float64(0),
		ConsecutiveFailures: proto.Uint32(failures),
	}
}

// healthUpdates are the task's updates that report its health.
func healthUpdates(a *fakeagent.Agent, id string) []*mesos.TaskStatus {
	var out []*mesos.TaskStatus
	for _, st := range a.Updates() {
		if st.GetTaskId().GetValue() == id && st.GetReason() == mesos.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED {
			out = append(out, st)
		}
	}
	return out
}

// A task that passes its COMMAND health check (run in the task's sandbox
// with the task's environment) is reported TASK_RUNNING with healthy=true,
// once.
func TestCommandHealthyTask(t *testing.T) {
	a := fakeagent.New(t)
	p := startExecutor(t, "command", a)
	task := shellTask("h", "touch ready; sleep 1000")
	task.HealthCheck = commandHealthCheck(`test -f ready && test "$MESOS_TASK_ID" = h && echo checked >> checks`, 3)
	// The task may not have made ready yet when the first check runs: the
	// grace period hides such failures until the first success.
	task.HealthCheck.GracePeriodSeconds = proto.Float64(30)
	launch(t, a, task)

	a.Wait(t, wait, "a health update", func() bool { return len(healthUpdates(a, "h")) > 0 })
	pollFor(t, "more health checks", func() bool { return strings.Count(p.file("checks"), "checked") >= 4 })
	hu := healthUpdates(a, "h")
	if len(hu) != 1 || hu[0].Healthy == nil || !hu[0].GetHealthy() || hu[0].GetState() != running {
		t.Fatalf("health updates = %v; want one TASK_RUNNING healthy=true", hu)
	}
	kill(t, a, "h", nil)
	k := a.WaitState(t, wait, "h", killed)
	if k.Healthy != nil {
		t.Errorf("TASK_KILLED of a healthy task carries healthy=%v", k.GetHealthy())
	}
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}
	noProblems(t, a)
}

// A task that fails consecutive_failures TCP health checks is reported
// unhealthy on each failure and killed: TASK_KILLING, then TASK_KILLED with
// healthy=false.
func TestCommandUnhealthyTaskIsKilled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there any more

	a := fakeagent.New(t)
	a.SetCapabilities(mesos.FrameworkInfo_Capability_TASK_KILLING_STATE)
	p := startExecutor(t, "command", a)
	task := shellTask("u", "sleep 1000")
	task.HealthCheck = &mesos.HealthCheck{
		Type:                mesos.HealthCheck_TCP.Enum(),
		Tcp:                 &mesos.HealthCheck_TCPCheckInfo{Port: proto.Uint32(uint32(port))},
		DelaySeconds:        proto.Float64(0),
		IntervalSeconds:     proto.Float64(0.05),
		GracePeriodSeconds:  proto.Float64(0),
		ConsecutiveFailures: proto.Uint32(2),
	}
	launch(t, a, task)

	k := a.WaitState(t, wait, "u", killed)
	if k.Healthy == nil || k.GetHealthy() {
		t.Errorf("TASK_KILLED healthy = %v, want false", k.Healthy)
	}
	if got, want := k.GetMessage(), "Command terminated with signal Terminated"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	hu := healthUpdates(a, "u")
	if len(hu) != 2 || hu[0].GetHealthy() || hu[1].GetHealthy() || hu[0].Healthy == nil || hu[0].GetState() != running {
		t.Errorf("health updates = %v; want two TASK_RUNNING healthy=false", hu)
	}
	wantStates(t, a, "u", starting, running, running, running, killing, killed)
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}
	noProblems(t, a)
}

// A task's check result is reported with REASON_TASK_CHECK_STATUS_UPDATED
// only when it changes; its state updates carry an empty check status of
// the check's type, as Mesos's do.
func TestCommandCheckStatus(t *testing.T) {
	a := fakeagent.New(t)
	p := startExecutor(t, "command", a)
	task := shellTask("c", "sleep 1000")
	task.Check = &mesos.CheckInfo{
		Type:            mesos.CheckInfo_COMMAND.Enum(),
		Command:         &mesos.CheckInfo_Command{Command: &mesos.CommandInfo{Value: proto.String("echo run >> runs; exit 7")}},
		DelaySeconds:    proto.Float64(0),
		IntervalSeconds: proto.Float64(0.05),
	}
	launch(t, a, task)
	pollFor(t, "several checks", func() bool { return strings.Count(p.file("runs"), "run") >= 4 })
	kill(t, a, "c", nil)
	k := a.WaitState(t, wait, "c", killed)
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}

	var checkUpdates []*mesos.TaskStatus
	for _, st := range a.Updates() {
		if st.GetReason() == mesos.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED {
			checkUpdates = append(checkUpdates, st)
		}
	}
	if len(checkUpdates) != 1 || checkUpdates[0].GetState() != running ||
		checkUpdates[0].GetCheckStatus().GetCommand().GetExitCode() != 7 ||
		checkUpdates[0].GetCheckStatus().GetType() != mesos.CheckInfo_COMMAND {
		t.Errorf("check updates = %v; want one TASK_RUNNING with exit_code 7", checkUpdates)
	}
	for _, st := range a.Updates() {
		if st.GetState() == starting || (st.GetState() == running && st.Reason == nil) {
			cs := st.GetCheckStatus()
			if cs.GetType() != mesos.CheckInfo_COMMAND || cs.GetCommand() == nil || cs.GetCommand().ExitCode != nil {
				t.Errorf("%v carries check_status %v; want an empty COMMAND result", st.GetState(), cs)
			}
		}
	}
	if cs := k.GetCheckStatus(); cs.GetType() != mesos.CheckInfo_COMMAND || cs.GetCommand() == nil || cs.GetCommand().ExitCode != nil {
		t.Errorf("TASK_KILLED check_status = %v; want an empty COMMAND result, as Mesos builds state updates afresh", cs)
	}
	noProblems(t, a)
}

// In a task group, a task that fails its health check is killed with
// healthy=false and takes its group with it.
func TestDefaultUnhealthyTaskKillsGroup(t *testing.T) {
	a := fakeagent.New(t)
	p := startExecutor(t, "default", a)
	bad := shellTask("bad", "sleep 1000")
	// The check runs in the task's own sandbox, tasks/bad.
	bad.HealthCheck = commandHealthCheck(`pwd > checked-in; exit 1`, 1)
	launchGroup(t, a, bad, shellTask("good", "sleep 1000"))

	k := a.WaitState(t, wait, "bad", killed)
	if k.Healthy == nil || k.GetHealthy() {
		t.Errorf("TASK_KILLED healthy = %v, want false", k.Healthy)
	}
	a.WaitState(t, wait, "good", killed)
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}
	if got, want := strings.TrimSpace(p.file("tasks/bad/checked-in")), p.sandbox+"/tasks/bad"; got != want {
		t.Errorf("health check ran in %q, want %q", got, want)
	}
	if hu := healthUpdates(a, "bad"); len(hu) != 1 || hu[0].GetHealthy() {
		t.Errorf("health updates = %v; want one healthy=false", hu)
	}
}

// An invalid health check fails the task at launch with Mesos's validation
// message.
func TestCommandInvalidHealthCheckFailsTask(t *testing.T) {
	a := fakeagent.New(t)
	p := startExecutor(t, "command", a)
	task := shellTask("i", "sleep 1000")
	task.HealthCheck = &mesos.HealthCheck{Type: mesos.HealthCheck_HTTP.Enum(),
		Http: &mesos.HealthCheck_HTTPCheckInfo{Port: proto.Uint32(80), Path: proto.String("health")}}
	launch(t, a, task)
	f := a.WaitState(t, wait, "i", failed)
	want := "Failed to launch task: Task's health check is invalid: The path 'health' of HTTP health check must start with '/'"
	if f.GetMessage() != want {
		t.Errorf("message %q, want %q", f.GetMessage(), want)
	}
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}
}

// Health and check updates are copies of the task's latest update: a check
// result that comes after the task was found healthy says healthy=true too.
func TestCommandCheckUpdateKeepsHealth(t *testing.T) {
	a := fakeagent.New(t)
	p := startExecutor(t, "command", a)
	task := shellTask("both", "sleep 1000")
	task.HealthCheck = commandHealthCheck("true", 3)
	task.Check = &mesos.CheckInfo{
		Type:            mesos.CheckInfo_COMMAND.Enum(),
		Command:         &mesos.CheckInfo_Command{Command: &mesos.CommandInfo{Value: proto.String("exit 4")}},
		DelaySeconds:    proto.Float64(1), // well after the first health check
		IntervalSeconds: proto.Float64(0.05),
	}
	launch(t, a, task)
	var check *mesos.TaskStatus
	a.Wait(t, wait, "a check update", func() bool {
		for _, st := range a.Updates() {
			if st.GetReason() == mesos.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED {
				check = st
				return true
			}
		}
		return false
	})
	if check.Healthy == nil || !check.GetHealthy() || check.GetCheckStatus().GetCommand().GetExitCode() != 4 || check.GetState() != running {
		t.Errorf("check update %v; want TASK_RUNNING, healthy=true, exit_code 4", check)
	}
	kill(t, a, "both", nil)
	a.WaitState(t, wait, "both", killed)
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}
}
