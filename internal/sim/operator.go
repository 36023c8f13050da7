package sim

import (
	"slices"

	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// operatorWatch follows the master's operator event stream as a SUBSCRIBE
// client does: it starts from the state SUBSCRIBED carries and applies
// each event. The invariant operator-events: what it holds agrees with
// what the master publishes (checkOperatorEvents): the same agents and
// frameworks, and every task in the state the master has it in.
type operatorWatch struct {
	agents     map[string]bool
	frameworks map[string]bool
	tasks      map[string]mesos.TaskState // by framework id + "/" + task id
}

func opTaskKey(fwID, taskID string) string { return fwID + "/" + taskID }

// watchOperator subscribes to a new master's operator events.
func (w *world) watchOperator() {
	w.core.WatchOperatorEvents(true)
	st := w.core.Snapshot().OperatorState()
	ow := &operatorWatch{agents: map[string]bool{}, frameworks: map[string]bool{}, tasks: map[string]mesos.TaskState{}}
	for _, a := range st.GetGetAgents().GetAgents() {
		ow.agents[a.GetAgentInfo().GetId().GetValue()] = true
	}
	for _, f := range st.GetGetFrameworks().GetFrameworks() {
		ow.frameworks[f.GetFrameworkInfo().GetId().GetValue()] = true
	}
	for _, list := range [][]*mesos.Task{st.GetGetTasks().GetTasks(), st.GetGetTasks().GetUnreachableTasks()} {
		for _, t := range list {
			ow.tasks[opTaskKey(t.GetFrameworkId().GetValue(), t.GetTaskId().GetValue())] = t.GetState()
		}
	}
	w.ops = ow
}

// operatorEvent applies an event the master sent its subscribers.
func (w *world) operatorEvent(ev *masterpb.Event) {
	ow := w.ops
	if ow == nil || w.failure != nil {
		return
	}
	switch ev.GetType() {
	case masterpb.Event_TASK_ADDED:
		t := ev.GetTaskAdded().GetTask()
		ow.tasks[opTaskKey(t.GetFrameworkId().GetValue(), t.GetTaskId().GetValue())] = t.GetState()
	case masterpb.Event_TASK_UPDATED:
		u := ev.GetTaskUpdated()
		fwID := u.GetFrameworkId().GetValue()
		key := opTaskKey(fwID, u.GetStatus().GetTaskId().GetValue())
		if _, known := ow.tasks[key]; !known {
			if ow.frameworks[fwID] {
				w.fail("operator-events", "TASK_UPDATED for task %s, which no TASK_ADDED announced", key)
			}
			return
		}
		ow.tasks[key] = u.GetState()
	case masterpb.Event_AGENT_ADDED:
		id := ev.GetAgentAdded().GetAgent().GetAgentInfo().GetId().GetValue()
		if ow.agents[id] {
			w.fail("operator-events", "AGENT_ADDED for agent %s, which is known", id)
		}
		ow.agents[id] = true
	case masterpb.Event_AGENT_REMOVED:
		id := ev.GetAgentRemoved().GetAgentId().GetValue()
		if !ow.agents[id] {
			w.fail("operator-events", "AGENT_REMOVED for agent %s, which is not known", id)
		}
		delete(ow.agents, id)
	case masterpb.Event_FRAMEWORK_ADDED:
		id := ev.GetFrameworkAdded().GetFramework().GetFrameworkInfo().GetId().GetValue()
		if ow.frameworks[id] {
			w.fail("operator-events", "FRAMEWORK_ADDED for framework %s, which is known", id)
		}
		ow.frameworks[id] = true
	case masterpb.Event_FRAMEWORK_UPDATED:
		id := ev.GetFrameworkUpdated().GetFramework().GetFrameworkInfo().GetId().GetValue()
		if !ow.frameworks[id] {
			w.fail("operator-events", "FRAMEWORK_UPDATED for framework %s, which is not known", id)
		}
	case masterpb.Event_FRAMEWORK_REMOVED:
		id := ev.GetFrameworkRemoved().GetFrameworkInfo().GetId().GetValue()
		delete(ow.frameworks, id)
		for key := range ow.tasks {
			if len(key) > len(id) && key[:len(id)+1] == id+"/" {
				delete(ow.tasks, key)
			}
		}
	default:
		w.fail("operator-events", "unexpected operator event %s", ev.GetType())
	}
}

// checkOperatorEvents compares what the event stream told with what the
// master publishes.
func (w *world) checkOperatorEvents() {
	ow := w.ops
	if ow == nil || w.failure != nil || !w.leading {
		return
	}
	st := w.core.Snapshot().OperatorState()
	var agents, frameworks []string
	for _, a := range st.GetGetAgents().GetAgents() {
		agents = append(agents, a.GetAgentInfo().GetId().GetValue())
	}
	for _, f := range st.GetGetFrameworks().GetFrameworks() {
		frameworks = append(frameworks, f.GetFrameworkInfo().GetId().GetValue())
	}
	if got, want := sortedKeys(ow.agents), sortedStrings(agents); !slices.Equal(got, want) {
		w.fail("operator-events", "the events tell agents %v, the master has %v", got, want)
		return
	}
	if got, want := sortedKeys(ow.frameworks), sortedStrings(frameworks); !slices.Equal(got, want) {
		w.fail("operator-events", "the events tell frameworks %v, the master has %v", got, want)
		return
	}
	live := map[string]bool{}
	for _, list := range [][]*mesos.Task{st.GetGetTasks().GetTasks(), st.GetGetTasks().GetUnreachableTasks()} {
		for _, t := range list {
			key := opTaskKey(t.GetFrameworkId().GetValue(), t.GetTaskId().GetValue())
			live[key] = true
			if got, ok := ow.tasks[key]; !ok || got != t.GetState() {
				w.fail("operator-events", "the events tell task %s %v (known: %v), the master has it %v", key, got, ok, t.GetState())
				return
			}
		}
	}
	for key, state := range ow.tasks {
		if !state.IsTerminal() && state != mesos.TaskState_TASK_UNREACHABLE && !live[key] {
			w.fail("operator-events", "the events tell task %s %v, the master holds it no more", key, state)
			return
		}
	}
}

func sortedStrings(s []string) []string {
	slices.Sort(s)
	return s
}
