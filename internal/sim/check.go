package sim

import (
	"fmt"
	"math"
	"slices"
	"strings"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// The invariants. Each failure names one of these (the first argument of
// w.fail), and the checks live next to what they watch:
//
//   - allocator-invariants: the allocator's CheckInvariants holds after
//     master steps (every Config.CheckEvery-th step).
//   - resource-accounting: what the allocator counts as offered or
//     allocated equals the master's outstanding offers plus the resources
//     of its live tasks, and the allocator never had to refuse a recovery
//     (checked every tenth allocator check, when a framework is done and
//     at the end: world.step, checkAccounting).
//   - launch-once: the master never sends RUN_TASK twice for one task id
//     of a framework (world.sendAgent).
//   - updates-for-launched-tasks: a framework only hears of tasks it
//     launched; terminal-is-final: once a framework saw a terminal state
//     for a task, every later update for it repeats that state
//     (simFramework.update).
//   - frameworks-survive: no framework is removed behind its back (it
//     checkpoints and has a long failover timeout).
//   - master-agrees: when a framework has seen all its tasks end, the
//     master holds none of them live, and those it still holds end as the
//     framework saw (checkFrameworkDone).
//   - snapshot-agrees: what the master publishes for readers (the legacy
//     endpoints and metrics, from core.Snapshot) equals what it builds
//     from its whole state (core.FullSnapshot) (every hundredth allocator
//     check, when a framework is done and at the end: checkSnapshot).
//   - every-task-ends: after the time limit, every launched task reaches a
//     terminal state within Config.DrainTimeout (world.drainTimedOut).
//   - metrics-agree: at the end, the master's task counters equal the
//     frameworks' counts of the terminal states they saw, every task the
//     master launched ended once as its framework saw it, and the master
//     counts nothing staging, starting, running or killing (checkEnd).
//   - valid-calls, known-outputs: the simulator's own sanity.

// checkAccounting compares the allocator's total allocation with the
// master's offers and live tasks.
func (w *world) checkAccounting() {
	if w.failure != nil {
		return
	}
	m := w.core.Metrics()
	stats := w.alloc.Stats()
	if stats.RejectedRecoveries > 0 {
		w.fail("resource-accounting", "the allocator refused %d recoveries of resources it had not allocated (since step %d)",
			stats.RejectedRecoveries, w.accountedAt)
		return
	}
	alloc := stats.Allocated
	for _, name := range []string{"cpus", "mem", "disk", "gpus"} {
		masterSays := m["allocator/mesos/resources/"+name+"/offered_or_allocated"]
		allocSays := alloc[name].Float64()
		if math.Abs(masterSays-allocSays) > 1e-6 {
			w.fail("resource-accounting", "the allocator has %v %s offered or allocated, the master's offers and live tasks hold %v (they agreed at step %d)",
				allocSays, name, masterSays, w.accountedAt)
			return
		}
	}
	w.accountedAt = w.steps
}

// checkFrameworkDone runs when a framework has seen every task it waits for
// end, before it tears itself down.
func (w *world) checkFrameworkDone(f *simFramework) {
	if w.failure != nil {
		return
	}
	w.checkAccounting()
	w.checkSnapshot()
	for _, tv := range w.core.Snapshot().FrameworkTasks(f.id) {
		st := mesos.TaskState(mesos.TaskState_value[tv.State])
		t := f.byID[tv.ID]
		switch {
		case !isTerminal(st):
			w.fail("master-agrees", "framework %s saw every task end, but the master still has %s in %s (the framework saw %s)",
				f.id, tv.ID, tv.State, compactStates(taskStates(t)))
			return
		case t != nil && t.terminal && st != t.final:
			w.fail("master-agrees", "framework %s saw task %s end %v, the master has it %s", f.id, tv.ID, t.final, tv.State)
			return
		}
	}
}

// checkSnapshot compares the snapshot the master publishes for readers
// with one it builds from scratch: a difference is a change the master
// made without publishing it.
func (w *world) checkSnapshot() {
	if w.failure != nil {
		return
	}
	if d := w.core.Snapshot().Diff(w.core.FullSnapshot()); d != "" {
		w.fail("snapshot-agrees", "what the master publishes differs from its state: %s", d)
	}
}

func taskStates(t *fwTask) []mesos.TaskState {
	if t == nil {
		return nil
	}
	return t.states
}

var terminalStates = []mesos.TaskState{
	mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_FAILED, mesos.TaskState_TASK_KILLED,
	mesos.TaskState_TASK_ERROR, mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_DROPPED,
	mesos.TaskState_TASK_GONE, mesos.TaskState_TASK_GONE_BY_OPERATOR,
}

// metricName is the master's counter for a task state: master/tasks_lost.
func metricName(s mesos.TaskState) string {
	return "master/tasks_" + strings.ToLower(strings.TrimPrefix(s.String(), "TASK_"))
}

// checkEnd runs once when the run ends.
func (w *world) checkEnd() {
	w.checkAccounting()
	w.checkSnapshot()
	if w.failure != nil || len(w.frameworks) == 0 {
		return
	}
	byID := map[string]*simFramework{}
	seen := map[mesos.TaskState]int{}
	for _, f := range w.frameworks {
		byID[f.id] = f
		for _, t := range f.tasks {
			if t.terminal {
				seen[t.final]++
			}
		}
	}
	keys := make([]string, 0, len(w.launched))
	for k := range w.launched {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fwID, taskID, _ := strings.Cut(k, "/")
		f := byID[fwID]
		if f == nil || f.byID[taskID] == nil || !f.byID[taskID].terminal {
			w.fail("metrics-agree", "the master launched %s, whose framework never saw it end", k)
			return
		}
	}
	m := w.core.Metrics()
	var diffs []string
	for _, s := range terminalStates {
		if got := m[metricName(s)]; got != float64(seen[s]) {
			diffs = append(diffs, fmt.Sprintf("%s = %v, frameworks saw %d", metricName(s), got, seen[s]))
		}
	}
	for _, s := range []string{"staging", "starting", "running", "killing"} {
		if got := m["master/tasks_"+s]; got != 0 {
			diffs = append(diffs, fmt.Sprintf("master/tasks_%s = %v at the end", s, got))
		}
	}
	if len(diffs) > 0 {
		w.fail("metrics-agree", "%s", strings.Join(diffs, "; "))
	}
}
