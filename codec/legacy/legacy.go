// Package legacy writes the legacy JSON model of Mesos's state endpoints
// (the master's /master/state, /master/frameworks, /master/slaves,
// /master/tasks and the agent's /state): how a Task, a TaskStatus, Labels,
// a Resources object, full resources, agent attributes, a ContainerStatus,
// an ExecutorInfo and a CommandInfo are written there. It follows Mesos's
// src/common/http.cpp (json(const Task&) and friends) key for key and in
// the same order, and writes numbers and strings by codec's rules
// (codec.AppendDouble, codec.AppendString); nested messages that Mesos
// writes as plain protobuf JSON go through codec.MarshalJSON.
//
// Every writer appends to a byte slice and returns it, uses no reflection
// of its own, and always produces valid JSON, whatever the messages hold.
// The master and the agent both use these writers; neither has a copy.
package legacy

import (
	"maps"
	"math"
	"slices"
	"strconv"

	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/resources"
)

// Task is a task as the state endpoints show it. The master and the agent
// each fill it from their own records.
type Task struct {
	ID, Name, FrameworkID, ExecutorID, AgentID string
	State                                      mesos.TaskState
	// Resources is the task's resources in the legacy object form
	// (Resources or ResourcesOf make it).
	Resources resources.LegacyObject
	// Limits are the task's resource limits (TaskInfo.limits), written
	// after its resources when there are any, by name.
	Limits map[string]*mesos.Value_Scalar
	// Role is the role the task's resources are allocated to; Mesos
	// always writes it, empty if there is none.
	Role     string
	Statuses []*mesos.TaskStatus
	// User is written when HasUser is set, as Mesos writes it when the
	// task has one.
	User        string
	HasUser     bool
	Labels      *mesos.Labels
	Container   *mesos.ContainerInfo
	HealthCheck *mesos.HealthCheck
}

// AppendTask writes t as Mesos's json(const Task&) does: id, name,
// framework_id, executor_id, slave_id, state, resources, limits when there
// are any, role, statuses,
// then user, labels, container and health_check when present.
func AppendTask(b []byte, t *Task) []byte {
	b = append(b, `{"id":`...)
	b = codec.AppendString(b, t.ID)
	b = append(b, `,"name":`...)
	b = codec.AppendString(b, t.Name)
	b = append(b, `,"framework_id":`...)
	b = codec.AppendString(b, t.FrameworkID)
	b = append(b, `,"executor_id":`...)
	b = codec.AppendString(b, t.ExecutorID)
	b = append(b, `,"slave_id":`...)
	b = codec.AppendString(b, t.AgentID)
	b = append(b, `,"state":`...)
	b = codec.AppendString(b, t.State.String())
	b = append(b, `,"resources":`...)
	b = t.Resources.AppendJSON(b)
	if len(t.Limits) > 0 {
		b = append(b, `,"limits":{`...)
		for i, name := range slices.Sorted(maps.Keys(t.Limits)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = codec.AppendString(b, name)
			b = append(b, ':')
			b = codec.AppendDouble(b, t.Limits[name].GetValue())
		}
		b = append(b, '}')
	}
	b = append(b, `,"role":`...)
	b = codec.AppendString(b, t.Role)
	b = append(b, `,"statuses":[`...)
	for i, s := range t.Statuses {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendStatus(b, s)
	}
	b = append(b, ']')
	if t.HasUser {
		b = append(b, `,"user":`...)
		b = codec.AppendString(b, t.User)
	}
	if t.Labels != nil {
		b = append(b, `,"labels":`...)
		b = AppendLabels(b, t.Labels)
	}
	if t.Container != nil {
		b = append(b, `,"container":`...)
		b = appendProto(b, t.Container)
	}
	if t.HealthCheck != nil {
		b = append(b, `,"health_check":`...)
		b = appendProto(b, t.HealthCheck)
	}
	return append(b, '}')
}

// AppendStatus writes a task status as Mesos's json(const TaskStatus&)
// does: state, timestamp, then labels, container_status and healthy when
// present. The rest of a status (message, reason, source, data...) is not
// part of the legacy model.
func AppendStatus(b []byte, s *mesos.TaskStatus) []byte {
	if s == nil {
		s = &mesos.TaskStatus{}
	}
	b = append(b, `{"state":`...)
	b = codec.AppendString(b, s.GetState().String())
	b = append(b, `,"timestamp":`...)
	b = codec.AppendDouble(b, s.GetTimestamp())
	if s.Labels != nil {
		b = append(b, `,"labels":`...)
		b = AppendLabels(b, s.Labels)
	}
	if s.ContainerStatus != nil {
		b = append(b, `,"container_status":`...)
		b = AppendContainerStatus(b, s.ContainerStatus)
	}
	if s.Healthy != nil {
		b = append(b, `,"healthy":`...)
		b = strconv.AppendBool(b, s.GetHealthy())
	}
	return append(b, '}')
}

// AppendContainerStatus writes a container status as Mesos's
// json(const ContainerStatus&) does: its container_id, network_infos and
// cgroup_info (each as protobuf JSON) when set. Mesos leaves the
// executor's pid out.
func AppendContainerStatus(b []byte, cs *mesos.ContainerStatus) []byte {
	b = append(b, '{')
	sep := func() {
		if b[len(b)-1] != '{' {
			b = append(b, ',')
		}
	}
	if cs.ContainerId != nil {
		b = append(b, `"container_id":`...)
		b = appendProto(b, cs.ContainerId)
	}
	if len(cs.NetworkInfos) > 0 {
		sep()
		b = append(b, `"network_infos":[`...)
		for i, n := range cs.NetworkInfos {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendProto(b, n)
		}
		b = append(b, ']')
	}
	if cs.CgroupInfo != nil {
		sep()
		b = append(b, `"cgroup_info":`...)
		b = appendProto(b, cs.CgroupInfo)
	}
	return append(b, '}')
}

// AppendLabels writes labels as Mesos's json(const Labels&) does: the bare
// array of the labels, each {"key":..,"value":..} (value only when set).
func AppendLabels(b []byte, l *mesos.Labels) []byte {
	b = append(b, '[')
	for i, x := range l.GetLabels() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = codec.AppendString(b, x.GetKey())
		if x.Value != nil {
			b = append(b, `,"value":`...)
			b = codec.AppendString(b, x.GetValue())
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// AppendCommand writes a command as Mesos's json(const CommandInfo&) does:
// shell and value when set, argv (always), environment (as protobuf JSON)
// when set, and uris (always), each with its value and executable.
func AppendCommand(b []byte, c *mesos.CommandInfo) []byte {
	if c == nil {
		c = &mesos.CommandInfo{}
	}
	b = append(b, '{')
	if c.Shell != nil {
		b = append(b, `"shell":`...)
		b = strconv.AppendBool(b, c.GetShell())
		b = append(b, ',')
	}
	if c.Value != nil {
		b = append(b, `"value":`...)
		b = codec.AppendString(b, c.GetValue())
		b = append(b, ',')
	}
	b = append(b, `"argv":[`...)
	for i, a := range c.GetArguments() {
		if i > 0 {
			b = append(b, ',')
		}
		b = codec.AppendString(b, a)
	}
	b = append(b, ']')
	if c.Environment != nil {
		b = append(b, `,"environment":`...)
		b = appendProto(b, c.Environment)
	}
	b = append(b, `,"uris":[`...)
	for i, u := range c.GetUris() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"value":`...)
		b = codec.AppendString(b, u.GetValue())
		b = append(b, `,"executable":`...)
		b = strconv.AppendBool(b, u.GetExecutable())
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// AppendExecutorInfo writes an executor as the master's state endpoints
// show it, Mesos's json(const ExecutorInfo&) followed by the agent it runs
// on: executor_id, name, framework_id, command, resources, role (when it
// has resources: the role they are allocated to), labels and type when
// set, then slave_id. frameworkID stands in for the info's own, which the
// master's copy may lack.
func AppendExecutorInfo(b []byte, ex *mesos.ExecutorInfo, frameworkID, agentID string) []byte {
	b = append(b, `{"executor_id":`...)
	b = codec.AppendString(b, ex.GetExecutorId().GetValue())
	b = append(b, `,"name":`...)
	b = codec.AppendString(b, ex.GetName())
	b = append(b, `,"framework_id":`...)
	b = codec.AppendString(b, frameworkID)
	b = append(b, `,"command":`...)
	b = AppendCommand(b, ex.GetCommand())
	b = append(b, `,"resources":`...)
	b = ResourcesOf(ex.GetResources()).AppendJSON(b)
	if rs := ex.GetResources(); len(rs) > 0 {
		b = append(b, `,"role":`...)
		b = codec.AppendString(b, rs[0].GetAllocationInfo().GetRole())
	}
	if ex.Labels != nil {
		b = append(b, `,"labels":`...)
		b = AppendLabels(b, ex.Labels)
	}
	if ex.Type != nil {
		b = append(b, `,"type":`...)
		b = codec.AppendString(b, ex.GetType().String())
	}
	b = append(b, `,"slave_id":`...)
	b = codec.AppendString(b, agentID)
	return append(b, '}')
}

// Resources is rs in the legacy object form (resources.LegacyJSON: cpus,
// gpus, mem and disk always, ranges and sets as strings, revocable ones
// under name+"_revocable").
func Resources(rs resources.Resources) resources.LegacyObject {
	return resources.LegacyJSON(rs)
}

// AppendResources writes rs in the legacy object form.
func AppendResources(b []byte, rs resources.Resources) []byte {
	return resources.LegacyJSON(rs).AppendJSON(b)
}

// ResourcesOf is the legacy object form of resources in protobuf form.
// Resources that do not validate are summed as Mesos sums them, by name,
// scalars only: what a state endpoint can still say of them.
func ResourcesOf(pbs []*mesos.Resource) resources.LegacyObject {
	if rs, err := resources.FromProto(pbs); err == nil {
		return resources.LegacyJSON(rs)
	}
	out := resources.LegacyObject{}
	for _, name := range [...]string{"disk", "mem", "gpus", "cpus"} {
		out = append(out, resources.LegacyField{Key: name, Number: ScalarSum(pbs, name, false)})
	}
	return out
}

// ScalarsOnly is o without its ranges and sets, as Mesos's
// *_resources_allocated fields show resources.
func ScalarsOnly(o resources.LegacyObject) resources.LegacyObject {
	out := make(resources.LegacyObject, 0, len(o))
	for _, f := range o {
		if !f.IsText {
			out = append(out, f)
		}
	}
	return out
}

// ScalarSum sums the scalar resources named name, revocable or not, to
// three decimal places (Mesos's fixed-point precision for scalars).
func ScalarSum(pbs []*mesos.Resource, name string, revocable bool) float64 {
	var sum float64
	for _, r := range pbs {
		if r.GetName() == name && r.GetType() == mesos.Value_SCALAR && (r.Revocable != nil) == revocable {
			sum += r.GetScalar().GetValue()
		}
	}
	return math.Round(sum*1000) / 1000
}

// AppendResourcesFull writes resources as the *_resources_full fields do:
// an array of each Resource's protobuf JSON.
func AppendResourcesFull(b []byte, pbs []*mesos.Resource) []byte {
	b = append(b, '[')
	for i, r := range pbs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendProto(b, r)
	}
	return append(b, ']')
}

// AppendAttributes writes agent attributes as Mesos's
// json(const Attributes&) does: an object with a member per attribute, in
// the agent's order, a scalar as a number, ranges ("[1-2, 5-6]"), a set
// ("{a, b}") or text as a string. Attributes that do not validate are
// written as an empty object.
func AppendAttributes(b []byte, pbs []*mesos.Attribute) []byte {
	attrs, err := resources.AttributesFromProto(pbs)
	if err != nil {
		return append(b, "{}"...)
	}
	return resources.LegacyAttributesJSON(attrs).AppendJSON(b)
}

// appendProto writes m as Mesos-style protobuf JSON (codec.MarshalJSON,
// which writes whatever a message holds).
func appendProto(b []byte, m proto.Message) []byte {
	j, _ := codec.MarshalJSON(m)
	return append(b, j...)
}

// Roles is how the state endpoints show a framework's roles: a MULTI_ROLE
// framework has "roles" (never null), any other "role".
func Roles(info *mesos.FrameworkInfo) (role string, roles []string) {
	for _, cp := range info.GetCapabilities() {
		if cp.GetType() == mesos.FrameworkInfo_Capability_MULTI_ROLE {
			if roles = info.GetRoles(); roles == nil {
				roles = []string{}
			}
			return "", roles
		}
	}
	return info.GetRole(), nil
}
