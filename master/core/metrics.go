package core

import (
	"maps"
	"slices"
	"strings"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// metrics holds the master's counters; gauges are computed from a
// snapshot when read. Counters are kept in the order they first counted,
// so that a snapshot can copy their values cheaply.
type metrics struct {
	index   map[string]int
	names   []string // append-only: snapshots share it
	values  []float64
	changed bool // since the last snapshot
}

func (m *metrics) inc(name string) {
	i, ok := m.index[name]
	if !ok {
		if m.index == nil {
			m.index = map[string]int{}
		}
		i = len(m.names)
		m.index[name] = i
		m.names = append(m.names, name)
		m.values = append(m.values, 0)
	}
	m.values[i]++
	m.changed = true
}

// taskTerminal counts a task reaching a terminal state, under the state and
// under Mesos's per source and reason counter.
func (m *metrics) taskTerminal(state mesos.TaskState, source mesos.TaskStatus_Source, reason mesos.TaskStatus_Reason) {
	s := strings.ToLower(strings.TrimPrefix(state.String(), "TASK_"))
	m.inc("master/tasks_" + s)
	// Mesos names these counters after its internal (v0) enums, in which
	// the v1 REASON_AGENT_* reasons are REASON_SLAVE_*.
	r := strings.ToLower(strings.TrimPrefix(reason.String(), "REASON_"))
	if rest, ok := strings.CutPrefix(r, "agent_"); ok {
		r = "slave_" + rest
	}
	m.inc("master/task_" + s + "/source_" + strings.ToLower(strings.TrimPrefix(source.String(), "SOURCE_")) + "/reason_" + r)
}

// Metrics is the flat name → value map of /metrics/snapshot, from a fresh
// snapshot.
func (c *Core) Metrics() map[string]float64 { return c.Snapshot().Metrics() }

// Metrics is the flat name → value map of /metrics/snapshot: the counters,
// and the gauges computed from the snapshot's records.
func (s *Snapshot) Metrics() map[string]float64 {
	out := map[string]float64{}
	for _, name := range counterNames {
		out[name] = 0
	}
	for i, name := range s.counterNames {
		out[name] = s.counterValues[i]
	}
	out["master/uptime_secs"] = s.now.Sub(s.startTime).Seconds()
	out["master/elected"] = 0
	if !s.electedTime.IsZero() {
		out["master/elected"] = 1
	}
	// The sums the publication keeps (sums.go).
	sums := s.agentSums
	if sums == nil {
		sums = &agentSums{}
	}
	agents := activity{active: float64(sums.active), inactive: float64(sums.inactive),
		connected: float64(sums.connected), disconnected: float64(sums.disconnected)}
	agents.put(out, "master/slaves_")
	// Mesos counts revocable resources apart: master/<name>_total and
	// _used are the non-revocable ones.
	total, used := sums.total[0], sums.used[0]
	revTotal, revUsed := sums.total[1], sums.used[1]
	out["master/slaves_unreachable"] = float64(s.unreachableAgents)
	out["master/outstanding_offers"] = float64(s.outstandingOffers)
	for _, st := range []string{"staging", "starting", "running", "killing", "unreachable"} {
		out["master/tasks_"+st] = 0
	}
	var frameworks activity
	var live taskCounts
	offered := scalarTotals{}
	s.frameworks.Walk(func(_ string, fw *frameworkRec) bool {
		frameworks.count(fw.active, fw.connected)
		for st, n := range fw.states {
			live[st] += n
		}
		out["master/tasks_unreachable"] += float64(len(fw.unreachable))
		for name, v := range fw.offeredTotals {
			offered[name] = offered[name].plus(v)
		}
		return true
	})
	out["master/tasks_staging"] += live.get(mesos.TaskState_TASK_STAGING)
	out["master/tasks_starting"] += live.get(mesos.TaskState_TASK_STARTING)
	out["master/tasks_running"] += live.get(mesos.TaskState_TASK_RUNNING)
	out["master/tasks_killing"] += live.get(mesos.TaskState_TASK_KILLING)
	frameworks.put(out, "master/frameworks_")
	s.frameworks.Walk(func(_ string, fw *frameworkRec) bool {
		fw.frameworkMetrics(out)
		return true
	})
	for _, fw := range s.completed {
		fw.frameworkMetrics(out)
	}
	for _, name := range []string{"cpus", "gpus", "mem", "disk"} {
		out["master/"+name+"_total"] = total.float(name)
		out["master/"+name+"_used"] = used.float(name)
		out["master/"+name+"_percent"] = 0
		if total.float(name) > 0 {
			out["master/"+name+"_percent"] = used.float(name) / total.float(name)
		}
		out["master/"+name+"_revocable_total"] = revTotal.float(name)
		out["master/"+name+"_revocable_used"] = revUsed.float(name)
		out["master/"+name+"_revocable_percent"] = 0
		if revTotal.float(name) > 0 {
			out["master/"+name+"_revocable_percent"] = revUsed.float(name) / revTotal.float(name)
		}
		out["allocator/mesos/resources/"+name+"/total"] = total.float(name)
		out["allocator/mesos/resources/"+name+"/offered_or_allocated"] = 0
	}
	out["allocator/mesos/allocation_runs"] = float64(s.allocationRuns)
	for name, v := range offered {
		out["allocator/mesos/resources/"+name+"/offered_or_allocated"] += v.float()
	}
	for name, v := range used {
		out["allocator/mesos/resources/"+name+"/offered_or_allocated"] += v.float()
	}
	s.quotaMetrics(out)
	return out
}

// quotaMetrics adds Mesos's per-role quota metrics for the quotas the
// allocator holds: allocator/mesos/quota/roles/<role>/resources/<name>/
// guarantee and /limit, and, for each name either sets, what the role
// (with its sub-roles) has offered or allocated (offered_or_allocated)
// and allocated (consumed).
func (s *Snapshot) quotaMetrics(out map[string]float64) {
	if len(s.allocQuotas) == 0 {
		return
	}
	allocatedBy, offeredBy := subtreeUse(s.Roles())
	for role, q := range s.allocQuotas {
		prefix := "allocator/mesos/quota/roles/" + role + "/resources/"
		names := map[string]bool{}
		for name, v := range q.Guarantees {
			out[prefix+name+"/guarantee"] = v.Float64()
			names[name] = true
		}
		for name, v := range q.Limits {
			out[prefix+name+"/limit"] = v.Float64()
			names[name] = true
		}
		allocated, offered := allocatedBy[role], offeredBy[role]
		for name := range names {
			out[prefix+name+"/offered_or_allocated"] = (allocated[name] + offered[name]).Float64()
			out[prefix+name+"/consumed"] = allocated[name].Float64()
		}
	}
}

// counterNames are reported as 0 before they first count, as Mesos does.
var counterNames = []string{
	"master/messages_register_framework", "master/messages_reregister_framework",
	"master/messages_unregister_framework", "master/messages_deactivate_framework",
	"master/messages_kill_task", "master/messages_status_update_acknowledgement",
	"master/messages_resource_request", "master/messages_launch_tasks",
	"master/messages_decline_offers", "master/messages_revive_offers",
	"master/messages_suppress_offers", "master/messages_reconcile_tasks",
	"master/messages_framework_to_executor", "master/messages_executor_to_framework",
	"master/messages_register_slave", "master/messages_reregister_slave",
	"master/messages_unregister_slave", "master/messages_status_update",
	"master/messages_exited_executor", "master/messages_update_slave", "master/messages_authenticate",
	"master/messages_reconcile_operations", "master/messages_operation_status_update",
	"master/messages_operation_status_update_acknowledgement",
	"master/valid_operation_status_updates", "master/invalid_operation_status_updates",
	"master/valid_operation_status_update_acknowledgements", "master/invalid_operation_status_update_acknowledgements",
	"master/slave_shutdowns_scheduled", "master/slave_shutdowns_completed", "master/slave_shutdowns_canceled",
	"master/recovery_slave_removals", "master/http_cache_hits", "master/operator_event_stream_subscribers",
	"master/valid_status_updates", "master/invalid_status_updates",
	"master/valid_status_update_acknowledgements", "master/invalid_status_update_acknowledgements",
	"master/valid_framework_to_executor_messages", "master/invalid_framework_to_executor_messages",
	"master/valid_executor_to_framework_messages", "master/invalid_executor_to_framework_messages",
	"master/slave_registrations", "master/slave_reregistrations", "master/slave_removals",
	"master/slave_removals/reason_registered", "master/slave_removals/reason_unhealthy",
	"master/slave_removals/reason_unregistered",
	"master/slave_unreachable_scheduled", "master/slave_unreachable_completed", "master/slave_unreachable_canceled",
	"master/tasks_finished", "master/tasks_failed", "master/tasks_killed", "master/tasks_lost",
	"master/tasks_error", "master/tasks_dropped", "master/tasks_gone", "master/tasks_gone_by_operator",
	"master/dropped_messages", "master/invalid_operations",
	"master/event_queue_messages", "master/event_queue_dispatches", "master/event_queue_http_requests",
}

// ActiveAgents is how many agents are active (master/slaves_active),
// counted without the rest of Metrics' walk over every task: cheap enough
// to poll.
func (s *Snapshot) ActiveAgents() int {
	n := 0
	s.agents.Walk(func(_ string, a *agentRec) bool {
		if a.active {
			n++
		}
		return true
	})
	return n
}

// activity counts agents or frameworks by whether they are active and
// whether they are connected.
type activity struct{ active, inactive, connected, disconnected float64 }

func (n *activity) count(active, connected bool) {
	if active {
		n.active++
	} else {
		n.inactive++
	}
	if connected {
		n.connected++
	} else {
		n.disconnected++
	}
}

// put sets the four gauges named prefix + "active" and so on.
func (n *activity) put(out map[string]float64, prefix string) {
	out[prefix+"active"] = n.active
	out[prefix+"inactive"] = n.inactive
	out[prefix+"connected"] = n.connected
	out[prefix+"disconnected"] = n.disconnected
}

// TaskCount is how many of a framework's tasks are in one state under one
// role.
type TaskCount struct {
	FrameworkID, Role string
	State             mesos.TaskState
	Tasks             int
}

// OfferCount is how many offers a framework holds for one role.
type OfferCount struct {
	FrameworkID, Role string
	Offers            int
}

// FrameworkCounts counts the tasks and offers of the active frameworks by
// framework, role and (for tasks) state: the tasks the master tracks
// (terminal ones whose update is not yet acknowledged too) and the
// unreachable ones, in framework, role and state order.
func (s *Snapshot) FrameworkCounts() ([]TaskCount, []OfferCount) {
	type taskKey struct {
		role  string
		state mesos.TaskState
	}
	var tasks []TaskCount
	var offers []OfferCount
	s.frameworks.Walk(func(_ string, fw *frameworkRec) bool {
		byState := map[taskKey]int{}
		fw.tasks.Walk(func(_ string, t *taskRec) bool {
			byState[taskKey{t.role, t.state}]++
			return true
		})
		for _, t := range fw.unreachable {
			byState[taskKey{t.role, mesos.TaskState_TASK_UNREACHABLE}]++
		}
		keys := make([]taskKey, 0, len(byState))
		for k := range byState {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b taskKey) int {
			if c := strings.Compare(a.role, b.role); c != 0 {
				return c
			}
			return int(a.state) - int(b.state)
		})
		for _, k := range keys {
			tasks = append(tasks, TaskCount{FrameworkID: fw.id, Role: k.role, State: k.state, Tasks: byState[k]})
		}
		byRole := map[string]int{}
		fw.offers.Walk(func(_ string, o *offerRec) bool {
			byRole[o.role]++
			return true
		})
		for _, role := range slices.Sorted(maps.Keys(byRole)) {
			offers = append(offers, OfferCount{FrameworkID: fw.id, Role: role, Offers: byRole[role]})
		}
		return true
	})
	return tasks, offers
}
