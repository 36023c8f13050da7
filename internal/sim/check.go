package sim

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	agentcore "github.com/gomesos/gomesos/agent/core"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/resources"
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
//     for a task, every later update for it repeats that state, save what
//     Mesos does too: the agent's own updates after the master reported
//     the task TASK_LOST, and the master's TASK_LOST (agent removed,
//     reconciliation) after the agent's end of it (simFramework.update).
//   - frameworks-survive: no framework is removed behind its back (it
//     checkpoints and has a long failover timeout).
//   - master-agrees: when a framework has seen all its tasks end, the
//     master holds none of them live, and those it still holds end as the
//     framework saw (checkFrameworkDone).
//   - snapshot-agrees: what the master publishes for readers (the legacy
//     endpoints and metrics, from core.Snapshot) equals what it builds
//     from its whole state (core.FullSnapshot) (every hundredth allocator
//     check, when a framework is done and at the end: checkSnapshot).
//   - operator-events: a client of the operator event stream, starting
//     from SUBSCRIBED and applying each event, holds the agents and
//     frameworks the master publishes, and every task in the master's
//     state for it (operator.go, with snapshot-agrees).
//   - every-task-ends: after the time limit, every launched task reaches a
//     terminal state within Config.DrainTimeout (world.drainTimedOut).
//   - views-agree: at the end, every task whose end its framework heard
//     from its agent ended so in the master's records too (checkEnd).
//   - metrics-agree: at the end, the master's task counters equal the
//     frameworks' counts of the terminal states they saw (after master
//     failovers: the masters' counters summed are at least those counts), every task the
//     master launched ended once as its framework saw it, and the master
//     counts nothing staging, starting, running or killing (checkEnd). A
//     task the master told its framework was TASK_LOST counts as the
//     master recorded its end (Mesos's TASK_LOST for a removed agent's
//     tasks does not change an end the agent had already reported).
//   - containers-known, agent-master-agree, resources-balance: the agent
//     cores hold what their containers and the master say (checkAgent,
//     every Config.AgentCheckInterval and while settling).
//   - executor-acknowledged: no executor waits in vain for the agent to
//     acknowledge its updates; executor-truth: a task ends for its
//     framework as its executor reported, when the agent acknowledged the
//     report (simExecutor.maybeExit, checkExecutorTruth).
//   - agents-settle: after the workload, every agent settles within
//     Config.SettleTimeout: registered, in agreement with the master,
//     holding no framework, executor, task or container, and the master
//     counts nothing used (settleCheck, checkSettled); save what belongs
//     to a framework that tore itself down and that a master recovered
//     again from an agent after a failover, which Mesos's master keeps as
//     well (leakedFrameworks).
//   - checkpoint-first: a Checkpoint is the first output of its step, so
//     the store has it before anything else of the step is done
//     (simAgent.apply); checkpoint-decodes: what the core wrote reads back
//     (recover); checkpoint-settles: a settled agent's checkpoint holds
//     no framework, executor or status update stream (agentSettled).
//   - task-runs-once: never do two live containers, on any agents, run
//     a task of one framework and id (taskStarts).
//   - no-resend-after-ack: an agent never sends an update again once it
//     took the framework's acknowledgement of it, across restarts of its
//     process (simAgent.apply).
//   - acked-delivered: every update an agent acknowledged to an executor
//     of a checkpointing framework reaches the framework, across crashes
//     of the agent's process; framework-acknowledges: every update a
//     framework received before it tore itself down it acknowledged, and
//     the master took it (checkAcknowledgements).
//   - registry-agrees: the agents the registry admits are the leading
//     master's agents and those it recovered and still waits for (every
//     hundredth allocator check, at every failover and election, and once
//     settled: checkRegistry). masters-know-agents: once settled, the
//     leading master has every agent that runs (checkMasterKnowsAgents).
//     frameworks-keep-ids: a framework that subscribes again, to the same
//     master or the next one, keeps its id (simFramework.subscribed).
//   - failover-harmless: in runs where agents leave the master only with
//     it or by lost messages and broken connections (strictFailover), no
//     task an agent has is reported lost, unreachable or gone by the
//     master, no agent that runs is marked unreachable or gone or shut
//     down, and no task or framework is killed that its framework did not
//     kill (failover.go).
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
	if w.failure != nil || !w.leading {
		return
	}
	w.checkAccounting()
	w.checkSnapshot()
	active, _ := w.core.FrameworkViews(f.id)
	var tasks []core.TaskView
	for _, fv := range active {
		tasks = append(tasks, fv.Tasks...)
	}
	for _, tv := range tasks {
		st := mesos.TaskState(mesos.TaskState_value[tv.State])
		t := f.byID[tv.ID]
		switch {
		case !isTerminal(st) && w.masters > 1 && t != nil && t.terminal && t.finalFromMaster && t.final == mesos.TaskState_TASK_LOST:
			// A task the framework heard lost from a master (its agent
			// disconnected, say) whose agent then re-registered, still
			// running it, with the next master: Mesos's master kills the
			// tasks of a framework that is not partition-aware on an agent
			// that comes back "unless the master has failed over", and so
			// does ours. The teardown that follows ends it.
		case !isTerminal(st):
			w.fail("master-agrees", "framework %s saw every task end, but the master still has %s in %s (the framework saw %s)",
				f.id, tv.ID, tv.State, compactStates(taskStates(t)))
			return
		case t != nil && t.terminal && st != t.final && !(w.masters > 1 && t.finalFromMaster && t.final == mesos.TaskState_TASK_LOST):
			// (After a failover, a task the framework heard lost from the
			// master before its agent's own updates came (see
			// simFramework.update) is learnt again from the agent by the
			// next master, with the end the agent reports.)
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
	w.checkOperatorEvents()
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
	recorded := w.masterTaskEnds()
	// What a master that crashed recorded counts as well: it may be the
	// master that told the framework TASK_LOST (and counted the end it
	// recorded), while the master now leading never knew the task.
	everRecorded := maps.Clone(w.pastRecorded)
	maps.Copy(everRecorded, recorded)
	for _, f := range w.frameworks {
		byID[f.id] = f
		for _, t := range f.tasks {
			if !t.terminal {
				continue
			}
			end := t.final
			if t.final == mesos.TaskState_TASK_LOST && t.finalFromMaster {
				// The master reports TASK_LOST for every task of an agent
				// it removes (Master::__removeSlave) and answers the
				// reconciliation of a task it no longer has by its agent
				// (Master::reconcile), whatever end it recorded: the agent
				// may have reported the task's end, unacknowledged, before
				// it went. The master counted the end it recorded: that
				// must be TASK_LOST or the end the executor reported.
				if rec, ok := everRecorded[f.id+"/"+t.id+"@"+t.agentID]; ok {
					if ex, ok := w.execEnds[f.id+"/"+t.id]; ok && rec != ex && rec != mesos.TaskState_TASK_LOST {
						w.fail("metrics-agree", "task %s/%s: its executor reported %v and the agent acknowledged it, the master recorded its end as %v",
							f.id, t.id, ex, rec)
						return
					}
					end = rec
				} else if w.masters > 1 && t.finalReason == mesos.TaskStatus_REASON_RECONCILIATION {
					// A master that does not know the task (its RUN_TASK
					// went down with the master that sent it) answers its
					// reconciliation TASK_LOST without counting it.
					continue
				}
			}
			if rec, ok := recorded[f.id+"/"+t.id+"@"+t.agentID]; ok && !t.finalFromMaster && !t.lostAfter && rec != t.final {
				w.fail("views-agree", "task %s/%s ended %v for its framework, as its agent reported, but the master recorded %v (states seen: %s)",
					f.id, t.id, t.final, rec, compactStates(t.states))
				return
			}
			if !t.finalFromMaster && t.lostAfter {
				// The master ended the task TASK_LOST on its own (its
				// agent disconnected, for a framework that does not
				// checkpoint), and the framework missed it (its stream
				// was down) before the agent's own end came: the master
				// counted TASK_LOST, and its reconciliation says so. That
				// master may since have crashed, its count carried over.
				if rec, ok := everRecorded[f.id+"/"+t.id+"@"+t.agentID]; ok && rec == mesos.TaskState_TASK_LOST {
					end = rec
				}
			}
			seen[end]++
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
		got := m[metricName(s)]
		if w.masters == 1 && got != float64(seen[s]) {
			diffs = append(diffs, fmt.Sprintf("%s = %v, frameworks saw %d", metricName(s), got, seen[s]))
		}
		// After failovers every master counts the ends it took: an end
		// the master that crashed had counted, but whose acknowledgement
		// the agent never got, the next master takes (and counts) again
		// when the agent re-registers. Each end must have been counted by
		// one master at least.
		if got += w.pastEnds[metricName(s)]; w.masters > 1 && got < float64(seen[s]) {
			diffs = append(diffs, fmt.Sprintf("%s = %v over %d masters, frameworks saw %d", metricName(s), got, w.masters, seen[s]))
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
	w.checkAcknowledgements()
}

// masterTaskEnds are the ends the master recorded for the tasks it no
// longer tracks (completed tasks of every framework), by "framework/task@agent".
func (w *world) masterTaskEnds() map[string]mesos.TaskState {
	ends := map[string]mesos.TaskState{}
	active, completed := w.core.FrameworkViews("")
	for _, fv := range append(active, completed...) {
		for _, tv := range fv.CompletedTasks {
			ends[fv.ID+"/"+tv.ID+"@"+tv.SlaveID] = mesos.TaskState(mesos.TaskState_value[tv.State])
		}
	}
	return ends
}

// ---- The agents against the master ----

// scalars are the scalar resources of something, by name.
type scalars map[string]float64

var scalarNames = []string{"cpus", "mem", "disk", "gpus"}

func (s scalars) add(o scalars) {
	for k, v := range o {
		s[k] += v
	}
}

// differs names the first resource on which s and o disagree.
func (s scalars) differs(o scalars) (string, bool) {
	for _, name := range scalarNames {
		if math.Abs(s[name]-o[name]) > 1e-6 {
			return name, true
		}
	}
	return "", false
}

func (s scalars) String() string {
	var parts []string
	for _, name := range scalarNames {
		if s[name] != 0 {
			parts = append(parts, fmt.Sprintf("%s:%g", name, s[name]))
		}
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func legacyScalars(o resources.LegacyObject) scalars {
	s := scalars{}
	for _, f := range o {
		if !f.IsText {
			s[f.Key] = f.Number
		}
	}
	return s
}

func jsonScalars(raw json.RawMessage) scalars {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	s := scalars{}
	for k, v := range m {
		if n, ok := v.(float64); ok {
			s[k] = n
		}
	}
	return s
}

// taskKey names a task of a framework.
type taskKey struct{ fw, task string }

func (k taskKey) String() string { return k.fw + "/" + k.task }

// masterAgents is what the master holds on each agent, read through its
// framework views: the live tasks and the executors it knows there, and
// what they use.
type masterAgents struct {
	used      map[string]scalars             // what its tasks and executors use on each
	tasks     map[string]map[taskKey]scalars // the live tasks on each
	executors map[string]map[string]bool     // "framework/executor" it knows on each
	leaked    map[string]scalars             // leakedFrameworks: torn down, recovered again
	// leakedUsed is what the leaked frameworks' tasks and executors use
	// on each agent (included in used).
	leakedUsed map[string]scalars
}

// masterAgents reads the master's views. What they say is used must add up
// to the master's own count of used resources (resources-balance).
func (w *world) masterAgents() *masterAgents {
	m := &masterAgents{used: map[string]scalars{}, tasks: map[string]map[taskKey]scalars{}, executors: map[string]map[string]bool{},
		leakedUsed: map[string]scalars{}}
	use := func(fwID, agentID string, r scalars) {
		if m.used[agentID] == nil {
			m.used[agentID] = scalars{}
		}
		m.used[agentID].add(r)
		if m.leaked[fwID] != nil {
			if m.leakedUsed[agentID] == nil {
				m.leakedUsed[agentID] = scalars{}
			}
			m.leakedUsed[agentID].add(r)
		}
	}
	// Only the frameworks that are still up: FrameworkViews renders every
	// task, also the completed ones, which a torn-down framework has the
	// most of. A torn-down framework that a later master recovered from an
	// agent (leakedFrameworks) is up again, as far as the master knows.
	m.leaked = w.leakedFrameworks()
	var active []core.FrameworkView
	for _, f := range w.frameworks {
		if f.id != "" && (f.state != fwDone || m.leaked[f.id] != nil) {
			fvs, _ := w.core.FrameworkViews(f.id)
			active = append(active, fvs...)
		}
	}
	for _, fv := range active {
		for _, tv := range fv.Tasks {
			if isTerminal(mesos.TaskState(mesos.TaskState_value[tv.State])) {
				continue
			}
			if m.tasks[tv.SlaveID] == nil {
				m.tasks[tv.SlaveID] = map[taskKey]scalars{}
			}
			r := jsonScalars(tv.Resources)
			m.tasks[tv.SlaveID][taskKey{fv.ID, tv.ID}] = r
			use(fv.ID, tv.SlaveID, r)
		}
		for _, ev := range fv.Executors {
			if m.executors[ev.SlaveID] == nil {
				m.executors[ev.SlaveID] = map[string]bool{}
			}
			m.executors[ev.SlaveID][fv.ID+"/"+ev.ExecutorID] = true
			use(fv.ID, ev.SlaveID, jsonScalars(ev.Resources))
		}
	}
	total := scalars{}
	for _, r := range m.used {
		total.add(r)
	}
	metrics := w.core.Metrics()
	counted := scalars{}
	for _, name := range scalarNames {
		counted[name] = metrics["master/"+name+"_used"]
	}
	if name, bad := counted.differs(total); bad {
		w.fail("resources-balance", "the master counts %s used, its live tasks and executors add up to %s (%s differs)", counted, total, name)
	}
	return m
}

// lazyMasterAgents reads the master's views when first asked, and nil
// once an invariant failed.
func (w *world) lazyMasterAgents() func() *masterAgents {
	var m *masterAgents
	return func() *masterAgents {
		if m == nil && w.failure == nil {
			m = w.masterAgents()
		}
		if w.failure != nil {
			return nil
		}
		return m
	}
}

// empty reports whether the master has nothing on the agent.
func (m *masterAgents) empty(agentID string) bool {
	return len(m.tasks[agentID]) == 0 && len(m.executors[agentID]) == 0
}

// agentHolds is what an agent core holds, read from its snapshot.
type agentHolds struct {
	tasks      map[taskKey]scalars // live: queued or launched, not terminal
	used       scalars             // the live tasks' resources
	unacked    []string            // terminal tasks whose end is not acknowledged
	executors  map[string]bool     // "framework/executor" of every executor it holds
	containers map[string]bool     // the containers of those executors
	frameworks []string            // the ids of the frameworks it holds
}

func holdsOf(s *agentcore.Snapshot) *agentHolds {
	h := &agentHolds{tasks: map[taskKey]scalars{}, used: scalars{}, executors: map[string]bool{}, containers: map[string]bool{}}
	for _, fw := range s.State.Frameworks {
		h.frameworks = append(h.frameworks, fw.ID)
		for _, ex := range fw.Executors {
			h.executors[fw.ID+"/"+ex.ID] = true
			h.containers[ex.Container] = true
			for _, t := range ex.QueuedTasks {
				h.tasks[taskKey{fw.ID, t.ID}] = legacyScalars(t.Resources)
			}
			for _, t := range ex.Tasks {
				if isTerminal(mesos.TaskState(mesos.TaskState_value[t.State])) {
					h.unacked = append(h.unacked, fw.ID+"/"+t.ID)
					continue
				}
				h.tasks[taskKey{fw.ID, t.ID}] = legacyScalars(t.Resources)
			}
		}
	}
	for _, r := range h.tasks {
		h.used.add(r)
	}
	return h
}

// linkQuiet reports whether nothing is pending between agent a and the
// master: the agent is registered on a stream the master holds open and no
// message is on its way either way.
func (a *simAgent) linkQuiet() bool {
	c := a.conn
	return a.core != nil && a.registered && c != nil && c.masterOpen && !c.broken && !c.closing && !c.agentDone &&
		!a.partitioned() && a.inflight == 0
}

// periodicAgentCheck compares the agents with the master (checkAgent)
// every Config.AgentCheckInterval while the workload runs. Only agents
// that something happened to since they last agreed are compared.
func (w *world) periodicAgentCheck() {
	if w.ended || w.failure != nil {
		return
	}
	if !w.leading {
		// No master to compare with: the next round.
		w.after(w.cfg.AgentCheckInterval, w.periodicAgentCheck)
		return
	}
	m := w.lazyMasterAgents()
	for _, a := range w.agents {
		if a.core == nil || (!a.touched && len(a.containers) == 0) {
			continue
		}
		if quiet, _ := w.checkAgent(a, m); quiet && len(a.containers) == 0 {
			a.touched = false
		}
		if w.failure != nil {
			return
		}
	}
	w.after(w.cfg.AgentCheckInterval, w.periodicAgentCheck)
}

// checkAgent holds agent a's core against the simulated containers and,
// when a is quiet, against the master. It returns whether a was quiet (and
// so compared with the master) and, if it had to read it, what the agent
// holds.
//
//   - containers-known: every container that runs on the agent (and is
//     not being destroyed) belongs to an executor the agent core holds:
//     the agent never loses track of a process it started.
//   - agent-master-agree: when quiet (nothing on its way between them,
//     every task's end acknowledged, no executor being shut down and no
//     task being killed), the
//     tasks the agent runs (queued or launched, not terminal) are exactly
//     the live tasks the master has on that agent, so that no executor
//     runs work the master does not know of (of a framework it removed,
//     say) and the master waits for no task the agent lacks; and every
//     executor the master knows on the agent, the agent holds.
//   - resources-balance: when quiet, what the master counts as used on
//     the agent equals the resources of the tasks the agent core reports
//     running there (and the master's views add up to its used-resource
//     counters: masterAgents).
//
// An agent without containers runs no task (an executor's tasks end when
// its container does), so when the master has nothing on it either, the
// two agree without reading the agent's snapshot.
func (w *world) checkAgent(a *simAgent, master func() *masterAgents) (bool, *agentHolds) {
	if a.core == nil {
		return false, nil
	}
	id := a.core.AgentID()
	var m *masterAgents
	if len(a.containers) == 0 {
		if !a.linkQuiet() {
			return false, nil
		}
		if m = master(); m == nil {
			return false, nil
		}
	}
	if m != nil && m.empty(id) {
		clear(a.killing) // it runs nothing
		w.report.AgentChecks++
		if name, bad := m.used[id].differs(scalars{}); bad {
			w.fail("resources-balance", "a%d (%s): the master counts %s used there, the agent runs nothing (%s differs)",
				a.idx, id, m.used[id], name)
		}
		return true, nil
	}
	s := a.snapshot()
	if s == nil {
		return false, nil
	}
	h := holdsOf(s)
	for _, cid := range sortedKeys(a.containers) {
		if e := a.containers[cid]; !e.destroyed && !h.containers[cid] {
			w.fail("containers-known", "a%d (%s): container %s of executor %s/%s runs, but the agent core holds no executor for it",
				a.idx, id, cid, e.fwID, e.id)
			return false, h
		}
	}
	for k := range a.killing {
		if _, live := h.tasks[k]; !live {
			delete(a.killing, k)
		}
	}
	if !a.linkQuiet() || s.Metrics["slave/executors_terminating"] > 0 || len(a.killing) > 0 {
		return false, h
	}
	if m = master(); m == nil {
		return false, h
	}
	// The ends of a leaked framework's tasks are never acknowledged: the
	// agent resends them (and the master lags behind with their states)
	// until the master removes the framework. An agent that waits only
	// for those is compared with the master without them.
	fwOf := func(k string) string { fw, _, _ := strings.Cut(k, "/"); return fw }
	if slices.ContainsFunc(h.unacked, func(k string) bool { return m.leaked[fwOf(k)] == nil }) {
		return false, h
	}
	skip := func(string) bool { return false }
	masterUsed, agentUsed := m.used[id], h.used
	if len(h.unacked) > 0 {
		skip = func(fw string) bool { return m.leaked[fw] != nil }
		masterUsed, agentUsed = scalars{}, scalars{}
		masterUsed.add(m.used[id])
		for _, name := range scalarNames {
			masterUsed[name] -= m.leakedUsed[id][name]
		}
		for k, r := range h.tasks {
			if !skip(k.fw) {
				agentUsed.add(r)
			}
		}
	}
	w.report.AgentChecks++
	mt := m.tasks[id]
	var extra, missing []string
	for k := range h.tasks {
		if _, ok := mt[k]; !ok && !skip(k.fw) {
			extra = append(extra, k.String())
		}
	}
	for k := range mt {
		if _, ok := h.tasks[k]; !ok && !skip(k.fw) {
			missing = append(missing, k.String())
		}
	}
	for ex := range m.executors[id] {
		if !h.executors[ex] && !skip(fwOf(ex)) {
			missing = append(missing, "executor "+ex)
		}
	}
	if len(extra) > 0 || len(missing) > 0 {
		slices.Sort(extra)
		slices.Sort(missing)
		w.fail("agent-master-agree", "a%d (%s) is quiet, but it runs %v, which the master does not have there, and lacks %v, which the master has there",
			a.idx, id, extra, missing)
		return true, h
	}
	if name, bad := masterUsed.differs(agentUsed); bad {
		w.fail("resources-balance", "a%d (%s): the master counts %s used there, the agent runs tasks of %s (%s differs)",
			a.idx, id, masterUsed, agentUsed, name)
	}
	return true, h
}

// ---- Executors ----

// executorEnded notes that a task's executor reported the task's end and
// exited cleanly, once the agent had acknowledged every one of its
// updates.
func (w *world) executorEnded(fwID, taskID string, st mesos.TaskState) {
	w.execEnds[fwID+"/"+taskID] = st
	w.checkExecutorTruth(fwID, taskID)
}

// checkExecutorTruth: executor-truth: a task whose executor reported its
// end, and had every update acknowledged by the agent, ends for its
// framework as the executor said, unless the master ended it on its own
// authority (an agent removed, reconciliation). The agent took the update
// from the executor, so it must deliver it: it may not lose it and report
// the task failed when the executor exits, say. (The executor that waits
// in vain for an acknowledgement fails executor-acknowledged.)
func (w *world) checkExecutorTruth(fwID, taskID string) {
	st, ok := w.execEnds[fwID+"/"+taskID]
	if !ok || w.failure != nil {
		return
	}
	for _, f := range w.frameworks {
		if f.id != fwID {
			continue
		}
		if t := f.byID[taskID]; t != nil && t.terminal && !t.finalFromMaster && t.final != st {
			w.fail("executor-truth", "task %s/%s: its executor reported %v and the agent acknowledged it, but the framework saw it end %v (states seen: %s)",
				fwID, taskID, st, t.final, compactStates(t.states))
		}
	}
}

// ---- Settling ----

// settle waits, after the workload ended (every framework tore itself
// down, or time ran out), for the agents to settle, then checks them
// (checkSettled). Faults have stopped.
func (w *world) settle() {
	w.phase = phaseSettle
	w.tracef("SETTLE: the workload ended; waiting for the agents")
	w.settleCheck()
}

func (w *world) settleCheck() {
	if w.failure != nil {
		w.finished = true
		return
	}
	if !w.leading {
		w.after(time.Second, w.settleCheck)
		return
	}
	m := w.lazyMasterAgents()
	var unsettled []string
	for _, a := range w.agents {
		if a.settled {
			continue
		}
		if why := w.agentSettled(a, m); why != "" {
			unsettled = append(unsettled, fmt.Sprintf("a%d (%s): %s", a.idx, a.id(), why))
		} else {
			a.settled = true
		}
		if w.failure != nil {
			w.finished = true
			return
		}
	}
	if len(unsettled) == 0 {
		w.checkSettled()
		w.finished = true
		return
	}
	if w.now-w.endedAt >= w.cfg.SettleTimeout {
		if len(unsettled) > 5 {
			unsettled = append(unsettled[:5], fmt.Sprintf("and %d more", len(unsettled)-5))
		}
		w.fail("agents-settle", "%v after the workload ended, agents still hold work: %s", w.cfg.SettleTimeout, strings.Join(unsettled, "; "))
		w.finished = true
		return
	}
	w.after(time.Second, w.settleCheck)
}

// agentSettled says why agent a has not settled, or "" once it has: it is
// down (its machine holds nothing), or it is quiet, agrees with the master
// and holds no framework, executor or container.
func (w *world) agentSettled(a *simAgent, m func() *masterAgents) string {
	if a.core == nil {
		if n := len(a.containers); n > 0 {
			return fmt.Sprintf("its process is down, %d containers run", n)
		}
		return ""
	}
	quiet, h := w.checkAgent(a, m)
	if !quiet {
		if !a.registered {
			return "not registered"
		}
		return "not quiet"
	}
	if h == nil && a.launchedAny {
		h = holdsOf(a.snapshot())
	}
	// What a framework the master recovered after it tore itself down
	// holds stays until the master removes it (leakedFrameworks).
	var leaked map[string]scalars
	if mm := m(); mm != nil {
		leaked = mm.leaked
	}
	if h != nil {
		if held := slices.DeleteFunc(slices.Clone(h.frameworks), func(id string) bool { return leaked[id] != nil }); len(held) > 0 {
			return fmt.Sprintf("holds %d frameworks %v: executors %v", len(held), held, sortedKeys(h.executors))
		}
	}
	n := 0
	for _, e := range a.containers {
		if leaked[e.fwID] == nil {
			n++
		}
	}
	if n > 0 {
		return fmt.Sprintf("%d containers run", n)
	}
	// checkpoint-settles: what the agent holds durably matches what it
	// holds: nothing but its identity (and what its leaked frameworks
	// hold).
	for _, b := range []string{agentcore.BucketFrameworks, agentcore.BucketExecutors, agentcore.BucketStreams} {
		keys := slices.DeleteFunc(sortedKeys(a.store[b]), func(k string) bool { fw, _, _ := strings.Cut(k, "/"); return leaked[fw] != nil })
		if len(keys) > 0 {
			w.fail("checkpoint-settles", "a%d (%s) holds nothing, but its checkpoint still holds %s %v", a.idx, a.id(), b, keys)
			return "checkpoint not clean"
		}
	}
	return ""
}

// checkSettled runs once every agent settled:
//
//   - agents-settle: within Config.SettleTimeout of the end of the
//     workload, every agent that runs is registered, agrees with the
//     master and holds no executor, task or container (every framework is
//     gone, so no executor may outlive it), and the master counts nothing
//     used anywhere (settleCheck, checkSettled).
func (w *world) checkSettled() {
	w.checkAccounting()
	if w.failure != nil {
		return
	}
	m := w.core.Metrics()
	leaked := w.leakedFrameworks()
	w.report.LeakedFrameworks = len(leaked)
	for _, name := range scalarNames {
		v := m["master/"+name+"_used"]
		for _, id := range sortedKeys(leaked) {
			v -= leaked[id][name]
		}
		if math.Abs(v) > 1e-6 {
			w.fail("agents-settle", "every agent settled, but the master counts %v %s used (not counting the frameworks it recovered after they tore themselves down: %v)", v, name, sortedKeys(leaked))
			return
		}
	}
	w.checkMasterKnowsAgents()
	w.checkRegistry()
	if w.strictFailover() {
		w.checkNoRemovals()
	}
	if w.failure != nil {
		return
	}
	w.tracef("SETTLED: every agent agrees with the master and holds nothing")
}

// ---- Agent restarts ----

// taskStarts: task-runs-once: an executor starts a task (its LAUNCH
// arrived) while no other live container runs a task of that framework and
// id, on any agent. Mesos's promise is at most one run of a task id; a
// recovering agent that relaunched a task its surviving executor still
// runs, or a master that sent it again elsewhere, would break it.
func (w *world) taskStarts(e *simExecutor) {
	k := taskKey{e.fwID, e.task.info.GetTaskId().GetValue()}
	if o := w.running[k]; o != nil && o != e && !o.gone && o.task != nil && !o.task.terminal {
		w.fail("task-runs-once", "task %s starts in container %s on a%d (%s) while container %s on a%d still runs it",
			k, e.containerID, e.a.idx, e.a.id(), o.containerID, o.a.idx)
		return
	}
	w.running[k] = e
}

// agentAck is an update an agent acknowledged to an executor.
type agentAck struct {
	uuid  string
	agent int
}

// agentAcknowledged records that agent e.a acknowledged update uuid of a
// task to its executor e: for a checkpointing framework, the agent has
// made the update durable and owes it to the framework, across restarts
// of its process (checkAckedDelivered).
func (w *world) agentAcknowledged(e *simExecutor, taskID string, uuid []byte) {
	if t := e.task; t != nil && t.terminal && t.endUUID == string(uuid) && t.info.GetTaskId().GetValue() == taskID {
		// The agent took the task's end from its executor: it owes the
		// framework that end (executor-truth), whatever becomes of the
		// executor.
		w.execEnds[e.fwID+"/"+taskID] = t.state
		w.checkExecutorTruth(e.fwID, taskID)
	}
	if !e.checkpoint {
		return
	}
	k := taskKey{e.fwID, taskID}
	w.agentAcks[k] = append(w.agentAcks[k], agentAck{uuid: string(uuid), agent: e.a.idx})
}

// checkAcknowledgements runs at the end of the workload:
//
//   - acked-delivered: every update an agent acknowledged to an executor
//     of a checkpointing framework reached the framework, crashes of the
//     agent's process included, unless the master ended the task on its
//     own authority (the agent was removed or its machine lost: the
//     framework saw TASK_LOST or TASK_GONE from the master).
//   - framework-acknowledges: every update carrying a uuid that a
//     framework received before it decided to tear itself down, it
//     acknowledged, and the master took the acknowledgement, unless the
//     master ended the task on its own authority (TASK_LOST: its agent
//     may be gone, and with it the retries of the update). (After the agents settle, none holds a framework,
//     so no update is pending in any agent's stream: agents-settle.)
func (w *world) checkAcknowledgements() {
	if w.failure != nil {
		return
	}
	byID := map[string]*simFramework{}
	for _, f := range w.frameworks {
		byID[f.id] = f
	}
	keys := make([]taskKey, 0, len(w.agentAcks))
	for k := range w.agentAcks {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b taskKey) int { return strings.Compare(a.String(), b.String()) })
	for _, k := range keys {
		f := byID[k.fw]
		if f == nil {
			continue
		}
		t := f.byID[k.task]
		if t != nil && t.terminal && t.finalFromMaster {
			continue
		}
		for _, ack := range w.agentAcks[k] {
			if _, ok := f.received[ack.uuid]; !ok {
				w.fail("acked-delivered", "task %s: a%d acknowledged update %x to its executor, but framework %s never received it (states seen: %s)",
					k, ack.agent, shortUUID([]byte(ack.uuid)), f.id, compactStates(taskStates(t)))
				return
			}
		}
	}
	for _, f := range w.frameworks {
		for _, u := range sortedKeys(f.owed) {
			if t := f.owed[u]; t != nil && (t.finalFromMaster || t.lostAfter) {
				// The master ended the task on its own: its agent may be
				// gone, with the update it would have retried.
				continue
			}
			if !f.acked[u] && !(f.ackLost[u] && f.tearingDown) {
				// (An acknowledgement lost with a master is owed no more
				// once the framework tore itself down before the agent
				// sent the update again.)
				w.fail("framework-acknowledges", "framework %s received update %x (%s) but never had an acknowledgement of it taken",
					f.id, shortUUID([]byte(u)), f.received[u])
				return
			}
		}
	}
}
