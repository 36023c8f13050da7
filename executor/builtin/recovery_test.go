package builtin_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/executor/internal/fakeagent"
	"github.com/gomesos/gomesos/internal/testutil"
)

// loggedQueued reports whether the executor logged that it queued an
// update of the given state for lack of a subscription.
func loggedQueued(p *execProc, state mesos.TaskState) bool {
	for _, line := range strings.Split(p.file("stderr"), "\n") {
		if strings.Contains(line, "status update queued") && strings.Contains(line, "state="+state.String()) {
			return true
		}
	}
	return false
}

// A checkpointing command executor outlives its agent (Mesos's agent
// recovery): while the agent is gone its task keeps running and the
// executor keeps trying to subscribe; the task's end meanwhile is queued,
// and when the agent is back the executor re-subscribes with that update
// among its unacknowledged ones, and exits once it is acknowledged.
func TestCommandOutlivesItsAgent(t *testing.T) {
	a := fakeagent.New(t)
	p := startExecutor(t, "command", a,
		"MESOS_CHECKPOINT=1", "MESOS_RECOVERY_TIMEOUT=1mins", "MESOS_SUBSCRIPTION_BACKOFF_MAX=50ms")
	launch(t, a, shellTask("t1", `echo $$ > task.pid; while [ ! -e done ]; do sleep 0.01; done; exit 0`))
	a.WaitState(t, wait, "t1", running)
	task := testutil.WaitPIDFile(t, filepath.Join(p.sandbox, "task.pid"), wait)

	a.SetDown(true)
	a.Wait(t, wait, "attempts to re-subscribe", func() bool { return a.Refused() >= 3 })
	if p.exited() || testutil.ProcessGone(task) {
		t.Fatalf("the executor (exited: %v) or its task (gone: %v) did not outlive the agent", p.exited(), testutil.ProcessGone(task))
	}
	if err := os.WriteFile(filepath.Join(p.sandbox, "done"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "TASK_FINISHED to be queued", wait, func() bool { return loggedQueued(p, finished) })
	refused := a.Refused()
	a.Wait(t, wait, "attempts to go on", func() bool { return a.Refused() > refused })
	if p.exited() {
		t.Fatal("the executor exited while its agent was away")
	}

	a.SetDown(false)
	a.Wait(t, wait, "a re-subscription", func() bool { return len(a.Subscribes()) == 2 && a.Subscribed() })
	var carried []mesos.TaskState
	for _, u := range a.Subscribes()[1].GetSubscribe().GetUnacknowledgedUpdates() {
		carried = append(carried, u.GetStatus().GetState())
	}
	if len(carried) == 0 || carried[len(carried)-1] != finished {
		t.Errorf("the re-subscription carried updates %v, want TASK_FINISHED last", carried)
	}
	if err := a.AckAll(); err != nil {
		t.Fatal(err)
	}
	if code := p.exitCode(); code != 0 {
		t.Errorf("executor exited %d, want 0", code)
	}
	wantStates(t, a, "t1", starting, running, finished)
	noProblems(t, a)
}

// A checkpointing command executor whose agent stays away longer than
// MESOS_RECOVERY_TIMEOUT gives up: it kills its task and exits 1.
func TestCommandGivesUpAfterRecoveryTimeout(t *testing.T) {
	const recovery = time.Second
	a := fakeagent.New(t)
	p := startExecutor(t, "command", a,
		"MESOS_CHECKPOINT=1", "MESOS_RECOVERY_TIMEOUT=1secs", "MESOS_SUBSCRIPTION_BACKOFF_MAX=50ms")
	launch(t, a, shellTask("t1", "sleep 1000 & echo $! > child.pid; wait"))
	a.WaitState(t, wait, "t1", running)
	child := testutil.WaitPIDFile(t, filepath.Join(p.sandbox, "child.pid"), wait)

	lost := time.Now()
	a.SetDown(true)
	if code := p.exitCode(); code != 1 {
		t.Errorf("executor exited %d, want 1", code)
	}
	if elapsed := time.Since(lost); elapsed < recovery {
		t.Errorf("the executor gave up after %v, before the %v recovery timeout", elapsed, recovery)
	}
	if a.Refused() < 2 {
		t.Errorf("the executor tried to re-subscribe %d times, want several", a.Refused())
	}
	testutil.WaitFor(t, "the task to be killed", wait, func() bool { return testutil.ProcessGone(child) })
	if !loggedQueued(p, killed) {
		t.Errorf("the executor did not report its task TASK_KILLED:\n%s", p.file("stderr"))
	}
}
