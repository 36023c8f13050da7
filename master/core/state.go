package core

import (
	"encoding/json"
	"fmt"
	"strconv"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/codec/legacy"
	"github.com/gomesos/gomesos/resources"
	"google.golang.org/protobuf/proto"
)

// The legacy JSON views (/master/state and friends): their shapes, and
// how each published record (snapshot.go) encodes itself. Tasks, statuses,
// labels, resources, attributes and executors are written by codec/legacy,
// the model the agent's /state shares; the encoding of whole endpoints from
// records is in snapshot_json.go. The view types document the shapes and
// decode them; a view value is its record's JSON, decoded.

type f = codec.Double

// StateView is /master/state. Snapshot.WriteState writes it; the type
// documents its shape and decodes it.
type StateView struct {
	stateHead
	Slaves              []SlaveView     `json:"slaves"`
	RecoveredSlaves     []any           `json:"recovered_slaves"`
	Frameworks          []FrameworkView `json:"frameworks"`
	CompletedFrameworks []FrameworkView `json:"completed_frameworks"`
	OrphanTasks         []any           `json:"orphan_tasks"`
	UnregisteredFWs     []any           `json:"unregistered_frameworks"`
}

// stateHead is /master/state up to its lists.
type stateHead struct {
	Version           string            `json:"version"`
	GitSHA            string            `json:"git_sha,omitempty"`
	BuildDate         string            `json:"build_date"`
	BuildTime         f                 `json:"build_time"`
	BuildUser         string            `json:"build_user"`
	StartTime         f                 `json:"start_time"`
	ElectedTime       *f                `json:"elected_time,omitempty"`
	ID                string            `json:"id"`
	PID               string            `json:"pid"`
	Hostname          string            `json:"hostname"`
	Capabilities      []string          `json:"capabilities"`
	ActivatedSlaves   f                 `json:"activated_slaves"`
	DeactivatedSlaves f                 `json:"deactivated_slaves"`
	UnreachableSlaves f                 `json:"unreachable_slaves"`
	Cluster           string            `json:"cluster,omitempty"`
	Leader            string            `json:"leader,omitempty"`
	LeaderInfo        json.RawMessage   `json:"leader_info,omitempty"`
	Flags             map[string]string `json:"flags"`
}

// SlaveView is an agent in the legacy endpoints.
type SlaveView struct {
	ID                  string                     `json:"id"`
	Hostname            string                     `json:"hostname"`
	Port                int32                      `json:"port"`
	Attributes          json.RawMessage            `json:"attributes"`
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
	frameworkHead
	Tasks            []TaskView     `json:"tasks"`
	UnreachableTasks []TaskView     `json:"unreachable_tasks"`
	CompletedTasks   []TaskView     `json:"completed_tasks"`
	Offers           []OfferView    `json:"offers"`
	Executors        []ExecutorView `json:"executors"`
	frameworkTail
}

// frameworkHead is a framework's view up to its lists.
type frameworkHead struct {
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
}

// frameworkTail is a framework's view after its lists.
type frameworkTail struct {
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
	Command     json.RawMessage `json:"command"`
	Resources   json.RawMessage `json:"resources"`
	Role        string          `json:"role,omitempty"`
	Labels      json.RawMessage `json:"labels,omitempty"`
	Type        string          `json:"type,omitempty"`
	SlaveID     string          `json:"slave_id"`
}

// legacyRes is r in the legacy endpoints' form. It is valid JSON, which
// the view that holds it compacts and escapes as encoding/json does.
func legacyRes(r resources.Resources) json.RawMessage {
	return legacy.AppendResources(nil, r)
}

// decode is the inverse of a record's encoding, for the view values; a
// record's JSON always decodes into its view.
func decode[V any](b []byte) V {
	var v V
	if err := json.Unmarshal(b, &v); err != nil {
		panic(fmt.Sprintf("core: decoding %T: %v", v, err))
	}
	return v
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

// marshal encodes a view; the views hold nothing encoding/json refuses.
func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("core: encoding %T: %v", v, err))
	}
	return b
}

// agentCapabilities are the capabilities the legacy views show for every
// agent.
var agentCapabilities = []string{"MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT", "TASK_RESOURCE_LIMITS"}

// appendReserved writes the agent's reserved resources as an object by
// role, in the order of the roles, each written by write.
func (a *agentRec) appendReserved(b []byte, write func([]byte, resources.Resources) []byte) []byte {
	byRole := map[string]resources.Resources{}
	for _, r := range a.total {
		if role := r.ReservationRole(); role != "*" {
			byRole[role] = byRole[role].Add(resources.Resources{r})
		}
	}
	b = append(b, '{')
	for i, role := range sortedKeys(byRole) {
		if i > 0 {
			b = append(b, ',')
		}
		b = codec.AppendString(b, role)
		b = append(b, ':')
		b = write(b, byRole[role])
	}
	return append(b, '}')
}

// appendFields writes the agent as /master/state shows it (SlaveView),
// without the closing brace.
func (a *agentRec) appendFields(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = codec.AppendString(b, a.id)
	b = append(b, `,"hostname":`...)
	b = codec.AppendString(b, a.info.GetHostname())
	b = append(b, `,"port":`...)
	b = strconv.AppendInt(b, int64(a.info.GetPort()), 10)
	b = append(b, `,"attributes":`...)
	b = legacy.AppendAttributes(b, a.info.GetAttributes())
	b = append(b, `,"pid":`...)
	b = codec.AppendString(b, a.pid)
	b = append(b, `,"registered_time":`...)
	b = codec.AppendDouble(b, secs(a.registered))
	if !a.reregistered.IsZero() {
		b = append(b, `,"reregistered_time":`...)
		b = codec.AppendDouble(b, secs(a.reregistered))
	}
	b = append(b, `,"resources":`...)
	b = legacy.AppendResources(b, a.total)
	b = append(b, `,"used_resources":`...)
	b = legacy.AppendResources(b, a.used)
	b = append(b, `,"offered_resources":`...)
	b = legacy.AppendResources(b, a.offered)
	b = append(b, `,"reserved_resources":`...)
	b = a.appendReserved(b, legacy.AppendResources)
	b = append(b, `,"unreserved_resources":`...)
	b = legacy.AppendResources(b, a.total.Unreserved())
	b = append(b, `,"active":`...)
	b = strconv.AppendBool(b, a.active)
	b = append(b, `,"deactivated":`...)
	b = strconv.AppendBool(b, a.deactivated)
	if a.drain != nil {
		b = append(b, `,"drain_info":`...)
		b = append(b, protoJSON(a.drain)...)
	}
	b = append(b, `,"version":`...)
	b = codec.AppendString(b, a.version)
	b = append(b, `,"capabilities":[`...)
	for i, c := range agentCapabilities {
		if i > 0 {
			b = append(b, ',')
		}
		b = codec.AppendString(b, c)
	}
	return append(b, ']')
}

// appendRecoveredAgent writes an agent recovered from the registry that has
// not re-registered, as Mesos lists it in recovered_slaves: its AgentInfo.
func appendRecoveredAgent(b []byte, info *mesos.AgentInfo) []byte {
	b = append(b, `{"id":`...)
	b = codec.AppendString(b, info.GetId().GetValue())
	b = append(b, `,"hostname":`...)
	b = codec.AppendString(b, info.GetHostname())
	b = append(b, `,"port":`...)
	b = strconv.AppendInt(b, int64(info.GetPort()), 10)
	b = append(b, `,"attributes":`...)
	b = legacy.AppendAttributes(b, info.GetAttributes())
	if rs, err := resources.FromProto(info.GetResources()); err == nil {
		b = append(b, `,"resources":`...)
		b = legacy.AppendResources(b, rs)
	}
	return append(b, '}')
}

// encode is the agent in /master/state.
func (a *agentRec) encode() []byte {
	return a.json.get(func() []byte { return append(a.appendFields(nil), '}') })
}

func (a *agentRec) view() SlaveView { return decode[SlaveView](a.encode()) }

// SlaveFullView is an agent in /master/slaves, which adds its resources
// as arrays of Resource protobuf JSON, as Mesos does.
type SlaveFullView struct {
	SlaveView
	ReservedResourcesFull   map[string]json.RawMessage `json:"reserved_resources_full"`
	UnreservedResourcesFull json.RawMessage            `json:"unreserved_resources_full"`
	UsedResourcesFull       json.RawMessage            `json:"used_resources_full"`
	OfferedResourcesFull    json.RawMessage            `json:"offered_resources_full"`
}

// encodeFull is the agent in /master/slaves.
func (a *agentRec) encodeFull() []byte {
	return a.fullJSON.get(func() []byte {
		b := a.appendFields(nil)
		b = append(b, `,"reserved_resources_full":`...)
		b = a.appendReserved(b, func(b []byte, rs resources.Resources) []byte {
			return legacy.AppendResourcesFull(b, resources.ToProto(rs))
		})
		b = append(b, `,"unreserved_resources_full":`...)
		b = legacy.AppendResourcesFull(b, resources.ToProto(a.total.Unreserved()))
		b = append(b, `,"used_resources_full":`...)
		b = legacy.AppendResourcesFull(b, resources.ToProto(a.used))
		b = append(b, `,"offered_resources_full":`...)
		b = legacy.AppendResourcesFull(b, resources.ToProto(a.offered))
		return append(b, '}')
	})
}

// appendJSON writes the task as every endpoint that lists tasks shows it.
func (t *taskRec) appendJSON(b []byte) []byte {
	return legacy.AppendTask(b, &legacy.Task{
		ID: t.id, Name: t.info.GetName(), FrameworkID: t.frameworkID, ExecutorID: t.executor(), AgentID: t.agentID,
		State: t.state, Resources: legacy.Resources(t.res), Limits: t.info.GetLimits(), Role: t.role, Statuses: statusProtos(t.statuses, t.taskIDProto()),
		User: t.user, HasUser: t.user != "", Labels: t.info.GetLabels(), Container: t.info.GetContainer(),
		HealthCheck: t.info.GetHealthCheck(),
	})
}

// encode is the task in every endpoint that lists tasks.
func (t *taskRec) encode() []byte {
	return t.json.get(func() []byte { return t.appendJSON(nil) })
}

func (t *taskRec) view() TaskView { return decode[TaskView](t.encode()) }

// startTime is when the task started, by its first status: what
// /master/tasks orders by.
func (t *taskRec) startTime() float64 {
	if len(t.statuses) > 0 {
		return t.statuses[0].timestamp
	}
	return 0
}

func (o *offerRec) view() OfferView {
	return OfferView{
		ID: o.id, FrameworkID: o.frameworkID, SlaveID: o.agentID, Resources: legacyRes(o.res),
		AllocationInfo: protoJSON(&mesos.Resource_AllocationInfo{Role: ptr(o.role)}),
	}
}

func (o *offerRec) encode() []byte {
	return o.json.get(func() []byte { return marshal(o.view()) })
}

// encode is the executor in the framework's executors.
func (e *executorRec) encode() []byte {
	return e.json.get(func() []byte { return legacy.AppendExecutorInfo(nil, e.info, e.frameworkID, e.agentID) })
}

func (e *executorRec) view() ExecutorView { return decode[ExecutorView](e.encode()) }

func (fw *frameworkRec) capabilities() []string {
	caps := []string{}
	for _, cp := range fw.info.GetCapabilities() {
		caps = append(caps, cp.GetType().String())
	}
	return caps
}

// encodeHead is the framework's view up to its lists, without the closing
// brace.
func (fw *frameworkRec) encodeHead() []byte {
	return fw.head.get(func() []byte {
		b := marshal(fw.headView())
		return b[:len(b)-1]
	})
}

func (fw *frameworkRec) headView() frameworkHead {
	fw.sumResources()
	v := frameworkHead{
		ID: fw.id, Name: fw.info.GetName(),
		UsedResources: legacyRes(fw.used), OfferedResources: legacyRes(fw.offered), Capabilities: fw.capabilities(),
		Hostname: fw.info.GetHostname(), WebUIURL: fw.info.GetWebuiUrl(),
		Active: fw.active, Connected: fw.connected, Recovered: fw.recovered, User: fw.info.GetUser(),
		FailoverTimeout: f(fw.info.GetFailoverTimeout()), Checkpoint: fw.info.GetCheckpoint(),
		RegisteredTime:   f(secs(fw.registered)),
		UnregisteredTime: f(secs(fw.unregistered)),
		ReregisteredTime: optTime(f(secs(fw.reregistered))),
		Principal:        fw.info.GetPrincipal(),
		Resources:        legacyRes(fw.used.Add(fw.offered)),
	}
	v.Role, v.Roles = legacy.Roles(fw.info)
	return v
}

func (fw *frameworkRec) tailView() frameworkTail {
	v := frameworkTail{OfferConstraints: map[string]any{}}
	if fw.constraints != nil {
		// As Mesos: the OfferConstraints message in its JSON form.
		if b, err := codec.Marshal(codec.JSON, fw.constraints); err == nil {
			_ = json.Unmarshal(b, &v.OfferConstraints)
		}
	}
	if l := fw.info.GetLabels(); l != nil {
		v.Labels = legacy.AppendLabels(nil, l)
	}
	return v
}

// encodeTail is the framework's view after its lists, without the opening
// brace.
func (fw *frameworkRec) encodeTail() []byte {
	return fw.tail.get(func() []byte { return marshal(fw.tailView())[1:] })
}

// view is the framework's whole view, as a value.
func (fw *frameworkRec) view() FrameworkView {
	v := FrameworkView{frameworkHead: fw.headView(), frameworkTail: fw.tailView(),
		Tasks: []TaskView{}, UnreachableTasks: []TaskView{}, CompletedTasks: []TaskView{}, Offers: []OfferView{}, Executors: []ExecutorView{}}
	fw.tasks.Walk(func(_ string, t *taskRec) bool {
		v.Tasks = append(v.Tasks, t.view())
		return true
	})
	for _, t := range fw.unreachable {
		v.UnreachableTasks = append(v.UnreachableTasks, t.view())
	}
	for _, t := range fw.completed {
		v.CompletedTasks = append(v.CompletedTasks, t.view())
	}
	fw.offers.Walk(func(_ string, o *offerRec) bool {
		v.Offers = append(v.Offers, o.view())
		return true
	})
	fw.executors.Walk(func(_ string, e *executorRec) bool {
		v.Executors = append(v.Executors, e.view())
		return true
	})
	return v
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

// TaskQuery selects tasks for /master/tasks.
type TaskQuery struct {
	FrameworkID, TaskID string
	Limit, Offset       int
	Ascending           bool
}

// SummaryView is /master/state-summary. Snapshot.WriteSummary writes it.
type SummaryView struct {
	summaryHead
	Slaves     []map[string]any `json:"slaves"`
	Frameworks []map[string]any `json:"frameworks"`
}

type summaryHead struct {
	Hostname string `json:"hostname"`
	Cluster  string `json:"cluster,omitempty"`
}

var summaryStates = []mesos.TaskState{
	mesos.TaskState_TASK_STAGING, mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING,
	mesos.TaskState_TASK_KILLING, mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_KILLED,
	mesos.TaskState_TASK_FAILED, mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_ERROR,
	mesos.TaskState_TASK_UNREACHABLE,
}

// summaryBase is the agent's entry in /master/state-summary before its
// task counts: its view, decoded (Mesos's summary has the agent's keys).
func (a *agentRec) summaryBase() map[string]any {
	a.summary.Do(func() {
		a.summaryMap = map[string]any{}
		_ = json.Unmarshal(a.encode(), &a.summaryMap)
	})
	return a.summaryMap
}

func sortedKeysOrEmpty(m map[string]bool) []string {
	if m == nil {
		return []string{}
	}
	return sortedKeys(m)
}
