package core

import (
	"github.com/gomesos/gomesos/codec"
	"io"
	"maps"
	"sort"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/ptree"
)

// The legacy endpoints, written from a snapshot. Every record brings its
// own JSON (encoded once, by the first reader that needs it), so writing a
// large state is mostly copying bytes. Tasks, statuses, labels and
// executors are written by codec/legacy, the model the agent's /state
// shares; the rest is encoding/json of the view types in state.go.
// testdata/views holds the whole output of every endpoint.

// jsonWriter writes pieces of JSON and keeps the first error.
type jsonWriter struct {
	w   io.Writer
	err error
}

func (j *jsonWriter) raw(b []byte) {
	if j.err == nil {
		_, j.err = j.w.Write(b)
	}
}

func (j *jsonWriter) str(s string) {
	if j.err == nil {
		_, j.err = io.WriteString(j.w, s)
	}
}

// item writes the separator before a list's i-th item, then the item.
func (j *jsonWriter) item(i int, b []byte) {
	if i > 0 {
		j.str(",")
	}
	j.raw(b)
}

// writeItems writes the records of m as the items of a JSON array, a leaf
// of the map at a time: a leaf read before has its items joined and kept
// (leaves never change), so a large map that changed in a few places is
// mostly copied in large pieces.
func writeItems[R any](j *jsonWriter, m ptree.Map[R], encode func(R) []byte) {
	first := true
	m.Leaves(func(l ptree.Leaf[R]) bool {
		if !first {
			j.str(",")
		}
		first = false
		if b, ok := l.Cached(func(l ptree.Leaf[R]) []byte { return joinItems(l, encode) }); ok {
			j.raw(b)
			return j.err == nil
		}
		for i := range l.Len() {
			j.item(i, encode(l.Value(i)))
		}
		return j.err == nil
	})
}

func joinItems[R any](l ptree.Leaf[R], encode func(R) []byte) []byte {
	n := l.Len() - 1
	for i := range l.Len() {
		n += len(encode(l.Value(i)))
	}
	b := make([]byte, 0, n)
	for i := range l.Len() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, encode(l.Value(i))...)
	}
	return b
}

// WriteState writes /master/state.
func (s *Snapshot) WriteState(w io.Writer, build codec.BuildInfo, flags map[string]string, cluster string) error {
	j := &jsonWriter{w: w}
	head := stateHead{
		Version: build.Version, GitSHA: build.GitSHA, BuildDate: build.Date, BuildTime: f(build.Time),
		BuildUser: build.User, StartTime: f(secs(s.startTime)),
		ID: s.info.GetId(), PID: s.info.GetPid(), Hostname: s.info.GetHostname(),
		Capabilities: masterCapabilities(s.info),
		Cluster:      cluster, Flags: flags,
		UnreachableSlaves: f(s.unreachableAgents),
	}
	if s.leader != nil {
		head.Leader, head.LeaderInfo = s.leader.GetPid(), protoJSON(s.leader)
	}
	if !s.electedTime.IsZero() {
		head.ElectedTime = ptr(f(secs(s.electedTime)))
	}
	s.agents.Walk(func(_ string, a *agentRec) bool {
		if a.active {
			head.ActivatedSlaves++
		} else {
			head.DeactivatedSlaves++
		}
		return true
	})
	b := marshal(head)
	j.raw(b[:len(b)-1])
	j.str(`,"slaves":[`)
	writeItems(j, s.agents, (*agentRec).encode)
	j.str(`],"recovered_slaves":[`)
	s.writeRecovered(j)
	j.str(`],"frameworks":[`)
	s.writeFrameworks(j, "")
	j.str(`],"completed_frameworks":[`)
	s.writeCompletedFrameworks(j, "")
	j.str(`],"orphan_tasks":[],"unregistered_frameworks":[]}`)
	return j.err
}

// WriteFrameworks writes /master/frameworks: every framework, or the one
// named.
func (s *Snapshot) WriteFrameworks(w io.Writer, id string) error {
	j := &jsonWriter{w: w}
	j.str(`{"completed_frameworks":[`)
	s.writeCompletedFrameworks(j, id)
	j.str(`],"frameworks":[`)
	s.writeFrameworks(j, id)
	j.str(`],"unregistered_frameworks":[]}`)
	return j.err
}

// writeFrameworks lists the active frameworks (only id's, if set).
func (s *Snapshot) writeFrameworks(j *jsonWriter, id string) {
	i := 0
	s.frameworks.Walk(func(_ string, fw *frameworkRec) bool {
		if id == "" || id == fw.id {
			if i > 0 {
				j.str(",")
			}
			writeFramework(j, fw)
			i++
		}
		return j.err == nil
	})
}

// writeCompletedFrameworks lists the completed frameworks, the most
// recent first (only id's, if set).
func (s *Snapshot) writeCompletedFrameworks(j *jsonWriter, id string) {
	n := 0
	for i := len(s.completed) - 1; i >= 0; i-- {
		if fw := s.completed[i]; id == "" || id == fw.id {
			if n > 0 {
				j.str(",")
			}
			writeFramework(j, fw)
			n++
		}
	}
}

func writeFramework(j *jsonWriter, fw *frameworkRec) {
	j.raw(fw.encodeHead())
	j.str(`,"tasks":[`)
	writeItems(j, fw.tasks, (*taskRec).encode)
	j.str(`],"unreachable_tasks":[`)
	for i, t := range fw.unreachable {
		j.item(i, t.encode())
	}
	j.str(`],"completed_tasks":[`)
	for i, t := range fw.completed {
		j.item(i, t.encode())
	}
	j.str(`],"offers":[`)
	writeItems(j, fw.offers, (*offerRec).encode)
	j.str(`],"executors":[`)
	writeItems(j, fw.executors, (*executorRec).encode)
	j.str(`],`)
	j.raw(fw.encodeTail())
}

// writeRecovered writes the agents recovered from the registry that have
// not re-registered.
func (s *Snapshot) writeRecovered(j *jsonWriter) {
	for i, info := range s.recovered {
		j.item(i, appendRecoveredAgent(nil, info))
	}
}

// WriteSlaves writes /master/slaves: every agent, or the one named.
func (s *Snapshot) WriteSlaves(w io.Writer, id string) error {
	j := &jsonWriter{w: w}
	j.str(`{"recovered_slaves":[`)
	if id == "" {
		s.writeRecovered(j)
	}
	j.str(`],"slaves":[`)
	i := 0
	s.agents.Walk(func(_ string, a *agentRec) bool {
		if id == "" || id == a.id {
			j.item(i, a.encodeFull())
			i++
		}
		return j.err == nil
	})
	j.str(`]}`)
	return j.err
}

// WriteTasks writes /master/tasks: active and completed tasks (not
// unreachable ones, as in Mesos), ordered by when they started.
func (s *Snapshot) WriteTasks(w io.Writer, q TaskQuery) error {
	var all []*taskRec
	add := func(fw *frameworkRec) {
		if q.FrameworkID != "" && fw.id != q.FrameworkID {
			return
		}
		fw.tasks.Walk(func(_ string, t *taskRec) bool {
			if q.TaskID == "" || t.id == q.TaskID {
				all = append(all, t)
			}
			return true
		})
		for _, t := range fw.completed {
			if q.TaskID == "" || t.id == q.TaskID {
				all = append(all, t)
			}
		}
	}
	s.frameworks.Walk(func(_ string, fw *frameworkRec) bool {
		add(fw)
		return true
	})
	for _, fw := range s.completed {
		add(fw)
	}
	// Mesos orders by the earliest status's time, i.e. by when the task
	// started; tasks without statuses come first in ascending order.
	sort.SliceStable(all, func(i, j int) bool {
		li, lj := all[i].startTime(), all[j].startTime()
		if li == lj {
			if q.Ascending {
				return all[i].id < all[j].id
			}
			return all[i].id > all[j].id
		}
		if q.Ascending {
			return li < lj
		}
		return li > lj
	})
	j := &jsonWriter{w: w}
	j.str(`{"tasks":[`)
	for i, n := q.Offset, 0; i < len(all) && n < q.Limit; i, n = i+1, n+1 {
		j.item(n, all[i].encode())
	}
	j.str(`]}`)
	return j.err
}

// WriteSummary writes /master/state-summary: the agents and the active
// frameworks with their resources and task counts by state.
func (s *Snapshot) WriteSummary(w io.Writer, cluster string) error {
	agentCounts := map[string]map[mesos.TaskState]int{}
	agentFWs := map[string]map[string]bool{}
	fwCounts := map[string]map[mesos.TaskState]int{}
	fwAgents := map[string]map[string]bool{}
	count := func(fwID string, t *taskRec) {
		if agentCounts[t.agentID] == nil {
			agentCounts[t.agentID] = map[mesos.TaskState]int{}
			agentFWs[t.agentID] = map[string]bool{}
		}
		if fwCounts[fwID] == nil {
			fwCounts[fwID] = map[mesos.TaskState]int{}
			fwAgents[fwID] = map[string]bool{}
		}
		agentCounts[t.agentID][t.state]++
		fwCounts[fwID][t.state]++
		agentFWs[t.agentID][fwID] = true
		fwAgents[fwID][t.agentID] = true
	}
	s.frameworks.Walk(func(_ string, fw *frameworkRec) bool {
		fw.tasks.Walk(func(_ string, t *taskRec) bool {
			count(fw.id, t)
			return true
		})
		for _, t := range fw.unreachable {
			count(fw.id, t)
		}
		for _, t := range fw.completed {
			count(fw.id, t)
		}
		return true
	})
	j := &jsonWriter{w: w}
	b := marshal(summaryHead{Hostname: s.info.GetHostname(), Cluster: cluster})
	j.raw(b[:len(b)-1])
	j.str(`,"slaves":[`)
	i := 0
	s.agents.Walk(func(_ string, a *agentRec) bool {
		m := maps.Clone(a.summaryBase())
		for _, st := range summaryStates {
			m[st.String()] = agentCounts[a.id][st]
		}
		m["framework_ids"] = sortedKeysOrEmpty(agentFWs[a.id])
		j.item(i, marshal(m))
		i++
		return j.err == nil
	})
	j.str(`],"frameworks":[`)
	i = 0
	s.frameworks.Walk(func(_ string, fw *frameworkRec) bool {
		fw.sumResources()
		m := map[string]any{
			"id": fw.id, "name": fw.info.GetName(), "hostname": fw.info.GetHostname(),
			"webui_url": fw.info.GetWebuiUrl(), "active": fw.active, "connected": fw.connected,
			"recovered": fw.recovered, "user": fw.info.GetUser(),
			"used_resources": legacyRes(fw.used), "offered_resources": legacyRes(fw.offered), "capabilities": fw.capabilities(),
		}
		for _, st := range summaryStates {
			m[st.String()] = fwCounts[fw.id][st]
		}
		m["slave_ids"] = sortedKeysOrEmpty(fwAgents[fw.id])
		j.item(i, marshal(m))
		i++
		return j.err == nil
	})
	j.str(`]}`)
	return j.err
}

// FrameworkViews returns the frameworks and completed frameworks (only the
// one named, if id is set) as values, what /master/frameworks shows.
func (s *Snapshot) FrameworkViews(id string) (active, completed []FrameworkView) {
	active, completed = []FrameworkView{}, []FrameworkView{}
	s.frameworks.Walk(func(_ string, fw *frameworkRec) bool {
		if id == "" || id == fw.id {
			active = append(active, fw.view())
		}
		return true
	})
	for i := len(s.completed) - 1; i >= 0; i-- {
		if fw := s.completed[i]; id == "" || id == fw.id {
			completed = append(completed, fw.view())
		}
	}
	return active, completed
}

// FrameworkViews is Snapshot().FrameworkViews(id).
func (c *Core) FrameworkViews(id string) (active, completed []FrameworkView) {
	return c.Snapshot().FrameworkViews(id)
}
