package core

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/resources"
	"google.golang.org/protobuf/proto"
)

// The legacy JSON views (/master/state and friends). They are built inside
// the Core's goroutine into plain values that share nothing with the Core,
// so the HTTP layer can encode them without holding the master up.

type f = codec.Double

// BuildInfo describes the binary, for /version and /master/state.
type BuildInfo struct {
	Version   string
	BuildDate string
	BuildTime float64
	BuildUser string
	GitSHA    string
}

// StateView is /master/state.
type StateView struct {
	Version             string            `json:"version"`
	GitSHA              string            `json:"git_sha,omitempty"`
	BuildDate           string            `json:"build_date"`
	BuildTime           f                 `json:"build_time"`
	BuildUser           string            `json:"build_user"`
	StartTime           f                 `json:"start_time"`
	ElectedTime         f                 `json:"elected_time"`
	ID                  string            `json:"id"`
	PID                 string            `json:"pid"`
	Hostname            string            `json:"hostname"`
	Capabilities        []string          `json:"capabilities"`
	ActivatedSlaves     f                 `json:"activated_slaves"`
	DeactivatedSlaves   f                 `json:"deactivated_slaves"`
	UnreachableSlaves   f                 `json:"unreachable_slaves"`
	Cluster             string            `json:"cluster,omitempty"`
	Leader              string            `json:"leader"`
	LeaderInfo          json.RawMessage   `json:"leader_info"`
	Flags               map[string]string `json:"flags"`
	Slaves              []SlaveView       `json:"slaves"`
	RecoveredSlaves     []any             `json:"recovered_slaves"`
	Frameworks          []FrameworkView   `json:"frameworks"`
	CompletedFrameworks []FrameworkView   `json:"completed_frameworks"`
	OrphanTasks         []any             `json:"orphan_tasks"`
	UnregisteredFWs     []any             `json:"unregistered_frameworks"`
}

// SlaveView is an agent in the legacy endpoints.
type SlaveView struct {
	ID                  string                     `json:"id"`
	Hostname            string                     `json:"hostname"`
	Port                int32                      `json:"port"`
	Attributes          map[string]any             `json:"attributes"`
	PID                 string                     `json:"pid"`
	RegisteredTime      f                          `json:"registered_time"`
	ReregisteredTime    *f                         `json:"reregistered_time,omitempty"`
	Resources           json.RawMessage            `json:"resources"`
	UsedResources       json.RawMessage            `json:"used_resources"`
	OfferedResources    json.RawMessage            `json:"offered_resources"`
	ReservedResources   map[string]json.RawMessage `json:"reserved_resources"`
	UnreservedResources json.RawMessage            `json:"unreserved_resources"`
	Active              bool                       `json:"active"`
	Deactivated         bool                       `json:"deactivated"`
	Version             string                     `json:"version"`
	Capabilities        []string                   `json:"capabilities"`
}

// FrameworkView is a framework in the legacy endpoints.
type FrameworkView struct {
	ID               string          `json:"id"`
	Name             string          `json:"name"`
	PID              string          `json:"pid,omitempty"`
	UsedResources    json.RawMessage `json:"used_resources"`
	OfferedResources json.RawMessage `json:"offered_resources"`
	Capabilities     []string        `json:"capabilities"`
	Hostname         string          `json:"hostname"`
	WebUIURL         string          `json:"webui_url"`
	Active           bool            `json:"active"`
	Connected        bool            `json:"connected"`
	Recovered        bool            `json:"recovered"`
	User             string          `json:"user"`
	FailoverTimeout  f               `json:"failover_timeout"`
	Checkpoint       bool            `json:"checkpoint"`
	RegisteredTime   f               `json:"registered_time"`
	UnregisteredTime f               `json:"unregistered_time"` // 0 until it disconnects, as in Mesos
	ReregisteredTime *f              `json:"reregistered_time,omitempty"`
	Principal        string          `json:"principal,omitempty"`
	Resources        json.RawMessage `json:"resources"`
	Role             string          `json:"role,omitempty"`
	Roles            []string        `json:"roles,omitempty"`
	Tasks            []TaskView      `json:"tasks"`
	UnreachableTasks []TaskView      `json:"unreachable_tasks"`
	CompletedTasks   []TaskView      `json:"completed_tasks"`
	Offers           []OfferView     `json:"offers"`
	Executors        []ExecutorView  `json:"executors"`
	Labels           json.RawMessage `json:"labels,omitempty"`
	OfferConstraints map[string]any  `json:"offer_constraints"`
}

// TaskView is a task in the legacy endpoints.
type TaskView struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	FrameworkID string            `json:"framework_id"`
	ExecutorID  string            `json:"executor_id"`
	SlaveID     string            `json:"slave_id"`
	State       string            `json:"state"`
	Resources   json.RawMessage   `json:"resources"`
	Role        string            `json:"role"`
	Statuses    []json.RawMessage `json:"statuses"`
	User        string            `json:"user,omitempty"`
	Labels      json.RawMessage   `json:"labels,omitempty"`
	Container   json.RawMessage   `json:"container,omitempty"`
	HealthCheck json.RawMessage   `json:"health_check,omitempty"`
}

// OfferView is an offer in the legacy endpoints.
type OfferView struct {
	ID             string          `json:"id"`
	FrameworkID    string          `json:"framework_id"`
	AllocationInfo json.RawMessage `json:"allocation_info"`
	SlaveID        string          `json:"slave_id"`
	Resources      json.RawMessage `json:"resources"`
}

// ExecutorView is an executor in the legacy endpoints.
type ExecutorView struct {
	ExecutorID  string          `json:"executor_id"`
	Name        string          `json:"name"`
	FrameworkID string          `json:"framework_id"`
	Command     json.RawMessage `json:"command,omitempty"`
	Resources   json.RawMessage `json:"resources"`
	Role        string          `json:"role,omitempty"`
	Labels      json.RawMessage `json:"labels,omitempty"`
	Type        string          `json:"type,omitempty"`
	SlaveID     string          `json:"slave_id"`
}

func legacy(r resources.Resources) json.RawMessage {
	b, err := json.Marshal(resources.LegacyJSON(r))
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}

func protoJSON(m proto.Message) json.RawMessage {
	if m == nil || !m.ProtoReflect().IsValid() {
		return nil
	}
	b, err := codec.MarshalJSON(m)
	if err != nil {
		return nil
	}
	return b
}

func optTime(t f) *f {
	if t == 0 {
		return nil
	}
	return &t
}

func (c *Core) slaveView(a *agent) SlaveView {
	attrs := map[string]any{}
	for _, at := range a.info.GetAttributes() {
		switch at.GetType() {
		case mesos.Value_SCALAR:
			attrs[at.GetName()] = f(at.GetScalar().GetValue())
		case mesos.Value_TEXT:
			attrs[at.GetName()] = at.GetText().GetValue()
		case mesos.Value_RANGES:
			var parts []string
			for _, r := range at.GetRanges().GetRange() {
				parts = append(parts, formatRange(r.GetBegin(), r.GetEnd()))
			}
			attrs[at.GetName()] = "[" + strings.Join(parts, ", ") + "]"
		case mesos.Value_SET:
			attrs[at.GetName()] = "{" + strings.Join(at.GetSet().GetItem(), ", ") + "}"
		}
	}
	reserved := map[string]json.RawMessage{}
	byRole := map[string]resources.Resources{}
	for _, r := range a.total {
		if role := r.ReservationRole(); role != "*" {
			byRole[role] = byRole[role].Add(resources.Resources{r})
		}
	}
	for role, r := range byRole {
		reserved[role] = legacy(r)
	}
	v := SlaveView{
		ID: a.id, Hostname: a.info.GetHostname(), Port: a.info.GetPort(), Attributes: attrs,
		PID: a.pid(), RegisteredTime: f(secs(a.registeredTime)),
		ReregisteredTime:    optTime(f(secs(a.reregisteredTime))),
		Resources:           legacy(a.total),
		UsedResources:       legacy(a.used()),
		OfferedResources:    legacy(a.offered()),
		ReservedResources:   reserved,
		UnreservedResources: legacy(a.total.Unreserved()),
		Active:              a.active,
		Deactivated:         false,
		Version:             a.version,
		Capabilities:        []string{"MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"},
	}
	return v
}

func formatRange(b, e uint64) string {
	return strconv.FormatUint(b, 10) + "-" + strconv.FormatUint(e, 10)
}

func (c *Core) taskView(t *task) TaskView {
	v := TaskView{
		ID: t.id, Name: t.info.GetName(), FrameworkID: t.frameworkID, ExecutorID: t.executorID,
		SlaveID: t.agentID, State: t.state.String(), Resources: legacy(t.res), Role: t.role,
		Statuses: []json.RawMessage{}, User: t.user,
		Labels: protoJSONOpt(t.info.GetLabels()), Container: protoJSONOpt(t.info.GetContainer()),
		HealthCheck: protoJSONOpt(t.info.GetHealthCheck()),
	}
	if v.Labels != nil {
		// The legacy endpoints render labels as the bare array.
		var l struct {
			Labels json.RawMessage `json:"labels"`
		}
		if json.Unmarshal(v.Labels, &l) == nil && l.Labels != nil {
			v.Labels = l.Labels
		}
	}
	for _, s := range t.statuses {
		entry := map[string]any{"state": s.GetState().String(), "timestamp": f(s.GetTimestamp())}
		if s.Healthy != nil {
			entry["healthy"] = s.GetHealthy()
		}
		if s.ContainerStatus != nil {
			entry["container_status"] = protoJSON(s.GetContainerStatus())
		}
		b, _ := json.Marshal(entry)
		v.Statuses = append(v.Statuses, b)
	}
	return v
}

func protoJSONOpt(m proto.Message) json.RawMessage { return protoJSON(m) }

func (c *Core) frameworkView(fw *framework) FrameworkView {
	var caps []string
	for _, cp := range fw.info.GetCapabilities() {
		caps = append(caps, cp.GetType().String())
	}
	if caps == nil {
		caps = []string{}
	}
	var used, offered resources.Resources
	tasks := []TaskView{}
	for _, id := range sortedKeys(fw.tasks) {
		t := fw.tasks[id]
		tasks = append(tasks, c.taskView(t))
		if !t.resourcesRecovered {
			used = used.Add(t.res)
		}
	}
	offers := []OfferView{}
	for _, id := range sortedKeys(fw.offers) {
		o := fw.offers[id]
		offered = offered.Add(o.res)
		offers = append(offers, OfferView{
			ID: o.id, FrameworkID: fw.id, SlaveID: o.agentID, Resources: legacy(o.res),
			AllocationInfo: protoJSON(&mesos.Resource_AllocationInfo{Role: ptr(o.role)}),
		})
	}
	executors := []ExecutorView{}
	for _, agentID := range sortedKeys(fw.executors) {
		for _, exID := range sortedKeys(fw.executors[agentID]) {
			ex := fw.executors[agentID][exID]
			res, _ := resources.FromProto(ex.GetResources())
			used = used.Add(res)
			ev := ExecutorView{
				ExecutorID: exID, Name: ex.GetName(), FrameworkID: fw.id, Command: protoJSONOpt(ex.GetCommand()),
				Resources: legacy(res), SlaveID: agentID,
			}
			if ex.Type != nil {
				ev.Type = ex.GetType().String()
			}
			executors = append(executors, ev)
		}
	}
	completed := []TaskView{}
	for _, t := range fw.completed {
		completed = append(completed, c.taskView(t))
	}
	unreachable := []TaskView{}
	for _, t := range fw.unreachable {
		unreachable = append(unreachable, c.taskView(t))
	}
	v := FrameworkView{
		ID: fw.id, Name: fw.info.GetName(),
		UsedResources: legacy(used), OfferedResources: legacy(offered), Capabilities: caps,
		Hostname: fw.info.GetHostname(), WebUIURL: fw.info.GetWebuiUrl(),
		Active: fw.active, Connected: fw.stream != "", User: fw.info.GetUser(),
		FailoverTimeout: f(fw.info.GetFailoverTimeout()), Checkpoint: fw.info.GetCheckpoint(),
		RegisteredTime:   f(secs(fw.registeredTime)),
		UnregisteredTime: f(secs(fw.unregisteredTime)),
		ReregisteredTime: optTime(f(secs(fw.reregisteredTime))),
		Principal:        fw.info.GetPrincipal(),
		Resources:        legacy(used.Add(offered)),
		Tasks:            tasks, UnreachableTasks: unreachable, CompletedTasks: completed,
		Offers: offers, Executors: executors, OfferConstraints: map[string]any{},
	}
	multi := false
	for _, cp := range fw.info.GetCapabilities() {
		if cp.GetType() == mesos.FrameworkInfo_Capability_MULTI_ROLE {
			multi = true
		}
	}
	if multi {
		v.Roles = fw.info.GetRoles()
		if v.Roles == nil {
			v.Roles = []string{}
		}
	} else {
		v.Role = fw.info.GetRole()
	}
	if l := fw.info.GetLabels(); l != nil {
		if b, err := json.Marshal(labelsArray(l)); err == nil {
			v.Labels = b
		}
	}
	return v
}

func labelsArray(l *mesos.Labels) []map[string]string {
	out := []map[string]string{}
	for _, x := range l.GetLabels() {
		m := map[string]string{"key": x.GetKey()}
		if x.Value != nil {
			m["value"] = x.GetValue()
		}
		out = append(out, m)
	}
	return out
}

// masterCapabilities names the capabilities the master advertises in its
// MasterInfo, for /master/state.
func masterCapabilities(info *mesos.MasterInfo) []string {
	names := []string{}
	for _, cp := range info.GetCapabilities() {
		names = append(names, cp.GetType().String())
	}
	return names
}

// State builds /master/state.
func (c *Core) State(build BuildInfo, flags map[string]string) StateView {
	v := StateView{
		Version: build.Version, GitSHA: build.GitSHA, BuildDate: build.BuildDate, BuildTime: f(build.BuildTime),
		BuildUser: build.BuildUser, StartTime: f(secs(c.startTime)), ElectedTime: f(secs(c.startTime)),
		ID: c.info.GetId(), PID: c.info.GetPid(), Hostname: c.info.GetHostname(),
		Capabilities: masterCapabilities(c.info),
		Leader:       c.info.GetPid(), LeaderInfo: protoJSON(c.info), Flags: flags,
		Slaves: c.SlaveViews(""), RecoveredSlaves: []any{},
		OrphanTasks: []any{}, UnregisteredFWs: []any{},
	}
	v.Frameworks, v.CompletedFrameworks = c.FrameworkViews("")
	for _, a := range c.agents {
		if a.active {
			v.ActivatedSlaves++
		} else {
			v.DeactivatedSlaves++
		}
	}
	v.UnreachableSlaves = f(len(c.unreachable))
	return v
}

// SlaveViews lists the admitted agents (one, if id is set).
func (c *Core) SlaveViews(id string) []SlaveView {
	out := []SlaveView{}
	for _, aid := range sortedKeys(c.agents) {
		if id == "" || id == aid {
			out = append(out, c.slaveView(c.agents[aid]))
		}
	}
	return out
}

// SlaveFullView is an agent in /master/slaves, which adds its resources
// as arrays of Resource protobuf JSON, as Mesos does.
type SlaveFullView struct {
	SlaveView
	ReservedResourcesFull   map[string][]json.RawMessage `json:"reserved_resources_full"`
	UnreservedResourcesFull []json.RawMessage            `json:"unreserved_resources_full"`
	UsedResourcesFull       []json.RawMessage            `json:"used_resources_full"`
	OfferedResourcesFull    []json.RawMessage            `json:"offered_resources_full"`
}

// SlaveFullViews lists the admitted agents (one, if id is set) for
// /master/slaves.
func (c *Core) SlaveFullViews(id string) []SlaveFullView {
	out := []SlaveFullView{}
	for _, aid := range sortedKeys(c.agents) {
		if id != "" && id != aid {
			continue
		}
		a := c.agents[aid]
		reserved := map[string][]json.RawMessage{}
		for _, r := range a.total {
			if role := r.ReservationRole(); role != "*" {
				reserved[role] = append(reserved[role], protoJSON(resources.ResourceToProto(&r)))
			}
		}
		out = append(out, SlaveFullView{
			SlaveView:               c.slaveView(a),
			ReservedResourcesFull:   reserved,
			UnreservedResourcesFull: resourcesFull(a.total.Unreserved()),
			UsedResourcesFull:       resourcesFull(a.used()),
			OfferedResourcesFull:    resourcesFull(a.offered()),
		})
	}
	return out
}

func resourcesFull(rs resources.Resources) []json.RawMessage {
	out := []json.RawMessage{}
	for _, pb := range resources.ToProto(rs) {
		out = append(out, protoJSON(pb))
	}
	return out
}

// FrameworkViews lists the frameworks and completed frameworks (only the
// one named, if id is set).
func (c *Core) FrameworkViews(id string) (active, completed []FrameworkView) {
	active, completed = []FrameworkView{}, []FrameworkView{}
	for _, fid := range sortedKeys(c.frameworks) {
		if id == "" || id == fid {
			active = append(active, c.frameworkView(c.frameworks[fid]))
		}
	}
	for i := len(c.completed) - 1; i >= 0; i-- {
		if fw := c.completed[i]; id == "" || id == fw.id {
			completed = append(completed, c.frameworkView(fw))
		}
	}
	return active, completed
}

// TaskQuery selects tasks for /master/tasks.
type TaskQuery struct {
	FrameworkID, TaskID string
	Limit, Offset       int
	Ascending           bool
}

// Tasks lists tasks for /master/tasks: active and completed, ordered by
// their first status's time.
func (c *Core) Tasks(q TaskQuery) []TaskView {
	var all []*task
	add := func(fw *framework) {
		if q.FrameworkID != "" && fw.id != q.FrameworkID {
			return
		}
		// Like Mesos: active and completed tasks, not unreachable ones.
		for _, t := range fw.tasks {
			all = append(all, t)
		}
		all = append(all, fw.completed...)
	}
	for _, fw := range c.frameworks {
		add(fw)
	}
	for _, fw := range c.completed {
		add(fw)
	}
	if q.TaskID != "" {
		kept := all[:0]
		for _, t := range all {
			if t.id == q.TaskID {
				kept = append(kept, t)
			}
		}
		all = kept
	}
	// Mesos orders by the earliest status's time, i.e. by when the task
	// started; tasks without statuses come first in ascending order.
	first := func(t *task) float64 {
		if len(t.statuses) > 0 {
			return t.statuses[0].GetTimestamp()
		}
		return 0
	}
	sort.SliceStable(all, func(i, j int) bool {
		li, lj := first(all[i]), first(all[j])
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
	out := []TaskView{}
	for i := q.Offset; i < len(all) && len(out) < q.Limit; i++ {
		out = append(out, c.taskView(all[i]))
	}
	return out
}

// SummaryView is /master/state-summary.
type SummaryView struct {
	Hostname   string           `json:"hostname"`
	Cluster    string           `json:"cluster,omitempty"`
	Slaves     []map[string]any `json:"slaves"`
	Frameworks []map[string]any `json:"frameworks"`
}

var summaryStates = []mesos.TaskState{
	mesos.TaskState_TASK_STAGING, mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING,
	mesos.TaskState_TASK_KILLING, mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_KILLED,
	mesos.TaskState_TASK_FAILED, mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_ERROR,
	mesos.TaskState_TASK_UNREACHABLE,
}

// Summary builds /master/state-summary.
func (c *Core) Summary(cluster string) SummaryView {
	v := SummaryView{Hostname: c.info.GetHostname(), Cluster: cluster, Slaves: []map[string]any{}, Frameworks: []map[string]any{}}
	agentCounts := map[string]map[mesos.TaskState]int{}
	agentFWs := map[string]map[string]bool{}
	fwCounts := map[string]map[mesos.TaskState]int{}
	fwAgents := map[string]map[string]bool{}
	count := func(fwID string, t *task) {
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
	for _, fw := range c.frameworks {
		for _, t := range fw.tasks {
			count(fw.id, t)
		}
		for _, t := range fw.unreachable {
			count(fw.id, t)
		}
		for _, t := range fw.completed {
			count(fw.id, t)
		}
	}
	toMap := func(x any) map[string]any {
		b, _ := json.Marshal(x)
		m := map[string]any{}
		_ = json.Unmarshal(b, &m)
		return m
	}
	for _, sv := range c.SlaveViews("") {
		m := toMap(sv)
		for _, s := range summaryStates {
			m[s.String()] = agentCounts[sv.ID][s]
		}
		m["framework_ids"] = sortedKeysOrEmpty(agentFWs[sv.ID])
		v.Slaves = append(v.Slaves, m)
	}
	for _, fid := range sortedKeys(c.frameworks) {
		fw := c.frameworks[fid]
		m := map[string]any{
			"id": fw.id, "name": fw.info.GetName(), "hostname": fw.info.GetHostname(),
			"webui_url": fw.info.GetWebuiUrl(), "active": fw.active, "connected": fw.stream != "",
			"recovered": false, "user": fw.info.GetUser(),
		}
		fv := c.frameworkView(fw)
		m["used_resources"] = fv.UsedResources
		m["offered_resources"] = fv.OfferedResources
		m["capabilities"] = fv.Capabilities
		for _, s := range summaryStates {
			m[s.String()] = fwCounts[fw.id][s]
		}
		m["slave_ids"] = sortedKeysOrEmpty(fwAgents[fw.id])
		v.Frameworks = append(v.Frameworks, m)
	}
	return v
}

func sortedKeysOrEmpty(m map[string]bool) []string {
	if m == nil {
		return []string{}
	}
	return sortedKeys(m)
}
