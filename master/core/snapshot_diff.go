package core

import (
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/gomesos/gomesos/internal/ptree"
	"github.com/gomesos/gomesos/resources"
	"google.golang.org/protobuf/proto"
)

// Diff describes the first difference between two snapshots' records, or
// returns "" when they show the same state. It compares what the views are
// made of without encoding them, so that the simulator can afford to check
// often that the published snapshot equals FullSnapshot.
func (s *Snapshot) Diff(o *Snapshot) string {
	switch {
	case s.info != o.info || !s.startTime.Equal(o.startTime) || !s.electedTime.Equal(o.electedTime) || !s.now.Equal(o.now):
		return "master info or times differ"
	case s.unreachableAgents != o.unreachableAgents:
		return fmt.Sprintf("unreachable agents %d, want %d", s.unreachableAgents, o.unreachableAgents)
	case s.outstandingOffers != o.outstandingOffers:
		return fmt.Sprintf("outstanding offers %d, want %d", s.outstandingOffers, o.outstandingOffers)
	case s.allocationRuns != o.allocationRuns:
		return fmt.Sprintf("allocation runs %d, want %d", s.allocationRuns, o.allocationRuns)
	case !slices.Equal(s.counterNames, o.counterNames) || !slices.Equal(s.counterValues, o.counterValues):
		return "counters differ"
	case s.leader != o.leader:
		return "leaders differ"
	case !slices.Equal(s.recovered, o.recovered):
		return fmt.Sprintf("recovered agents %d, want %d", len(s.recovered), len(o.recovered))
	}
	if d := diffTrees("agent", s.agents, o.agents, diffAgents); d != "" {
		return d
	}
	if !s.agentSums.same(o.agentSums) {
		return fmt.Sprintf("agents' sums %+v, want %+v", s.agentSums, o.agentSums)
	}
	if d := diffTrees("framework", s.frameworks, o.frameworks, diffFrameworks); d != "" {
		return d
	}
	if d := diffLists("completed framework", s.completed, o.completed, diffFrameworks); d != "" {
		return d
	}
	return ""
}

func diffTrees[T any](what string, a, b ptree.Map[T], diff func(x, y T) string) string {
	type entry struct {
		k string
		v T
	}
	entries := func(m ptree.Map[T]) []entry {
		var out []entry
		m.Walk(func(k string, v T) bool {
			out = append(out, entry{k, v})
			return true
		})
		return out
	}
	ea, eb := entries(a), entries(b)
	for i := range max(len(ea), len(eb)) {
		if i >= len(ea) || i >= len(eb) || ea[i].k != eb[i].k {
			return fmt.Sprintf("%ss differ at the %d-th of %d and %d", what, i, len(ea), len(eb))
		}
		if d := diff(ea[i].v, eb[i].v); d != "" {
			return fmt.Sprintf("%s %s: %s", what, ea[i].k, d)
		}
	}
	return ""
}

func diffLists[T any](what string, a, b []T, diff func(x, y T) string) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d %ss, want %d", len(a), what, len(b))
	}
	for i := range a {
		if d := diff(a[i], b[i]); d != "" {
			return fmt.Sprintf("%s %d: %s", what, i, d)
		}
	}
	return ""
}

func diffAgents(a, b *agentRec) string {
	if a.id != b.id || a.info != b.info || a.pid != b.pid || a.version != b.version || !a.registered.Equal(b.registered) ||
		!a.reregistered.Equal(b.reregistered) || a.active != b.active || a.connected != b.connected ||
		a.deactivated != b.deactivated || !proto.Equal(a.drain, b.drain) {
		return fmt.Sprintf("active/connected %v/%v, want %v/%v (or other fields differ)", a.active, a.connected, b.active, b.connected)
	}
	if !reflect.DeepEqual(a.total, b.total) || !reflect.DeepEqual(a.used, b.used) || !reflect.DeepEqual(a.offered, b.offered) {
		return fmt.Sprintf("total/used/offered %v/%v/%v, want %v/%v/%v", a.total, a.used, a.offered, b.total, b.used, b.offered)
	}
	return ""
}

func diffFrameworks(a, b *frameworkRec) string {
	if a.id != b.id || a.info != b.info || a.active != b.active || a.connected != b.connected || a.recovered != b.recovered ||
		!a.registered.Equal(b.registered) || !a.unregistered.Equal(b.unregistered) || !a.reregistered.Equal(b.reregistered) {
		return "fields differ"
	}
	if !slices.Equal(a.counters, b.counters) || !slices.Equal(a.suppressed, b.suppressed) {
		return fmt.Sprintf("counters %v and suppressed roles %v, want %v and %v", a.counters, a.suppressed, b.counters, b.suppressed)
	}
	if d := diffTrees("task", a.tasks, b.tasks, diffTasks); d != "" {
		return d
	}
	if a.states != b.states || !maps.Equal(a.offeredTotals, b.offeredTotals) {
		return fmt.Sprintf("tasks by state %v and offers' sums %v, want %v and %v", a.states, a.offeredTotals, b.states, b.offeredTotals)
	}
	if d := diffLists("completed task", a.completed, b.completed, diffTasks); d != "" {
		return d
	}
	if d := diffLists("unreachable task", a.unreachable, b.unreachable, diffTasks); d != "" {
		return d
	}
	if d := diffTrees("offer", a.offers, b.offers, func(x, y *offerRec) string {
		if x.id != y.id || x.frameworkID != y.frameworkID || x.agentID != y.agentID || x.role != y.role || !x.res.Equal(y.res) {
			return fmt.Sprintf("%s of %s on %s: %v, want %v", x.id, x.frameworkID, x.agentID, x.res, y.res)
		}
		return ""
	}); d != "" {
		return d
	}
	if d := diffTrees("executor", a.executors, b.executors, func(x, y *executorRec) string {
		if x.id != y.id || x.frameworkID != y.frameworkID || x.agentID != y.agentID || x.info != y.info {
			return "fields differ"
		}
		return ""
	}); d != "" {
		return d
	}
	// The parts of what it uses are kept by agent, and their order does
	// not show.
	return diffTrees("usage on agent", a.usage, b.usage, func(x, y resources.Resources) string {
		if !x.Equal(y) {
			return fmt.Sprintf("%v, want %v", x, y)
		}
		return ""
	})
}

func diffTasks(a, b *taskRec) string {
	if a.id != b.id || a.frameworkID != b.frameworkID || a.agentID != b.agentID || a.executor() != b.executor() ||
		a.role != b.role || a.user != b.user || a.info != b.info || a.state != b.state || a.recovered != b.recovered ||
		a.onAgent != b.onAgent || !slices.Equal(a.statuses, b.statuses) || !reflect.DeepEqual(a.res, b.res) {
		return fmt.Sprintf("%s in %s (%d statuses), want %s (%d statuses)", a.id, a.state, len(a.statuses), b.state, len(b.statuses))
	}
	return ""
}
