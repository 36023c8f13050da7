package core

import (
	"encoding/json"
	"time"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/codec/legacy"
	"github.com/gomesos/gomesos/resources"
)

// Snapshot is a copy of what the read-only endpoints show, built by the
// core on request so that rendering never holds up the agent. It shares
// nothing that the core changes afterwards.
type Snapshot struct {
	State   *StateJSON         // the /state document
	Metrics map[string]float64 // the slave/* values of /metrics/snapshot
	V1      *V1State           // what the v1 operator API shows, when asked for (V1State)
}

// StateJSON is the /state document; field order follows Mesos's.
type StateJSON struct {
	Version                      string                            `json:"version"`
	GitSHA                       string                            `json:"git_sha,omitempty"`
	BuildDate                    string                            `json:"build_date"`
	BuildTime                    codec.Double                      `json:"build_time"`
	BuildUser                    string                            `json:"build_user"`
	StartTime                    codec.Double                      `json:"start_time"`
	ID                           string                            `json:"id,omitempty"`
	PID                          string                            `json:"pid"`
	Hostname                     string                            `json:"hostname"`
	Capabilities                 []string                          `json:"capabilities"`
	Resources                    resources.LegacyObject            `json:"resources"`
	ReservedResources            map[string]resources.LegacyObject `json:"reserved_resources"`
	UnreservedResources          resources.LegacyObject            `json:"unreserved_resources"`
	ReservedResourcesFull        map[string]json.RawMessage        `json:"reserved_resources_full"`
	UnreservedResourcesFull      json.RawMessage                   `json:"unreserved_resources_full"`
	ReservedResourcesAllocated   map[string]resources.LegacyObject `json:"reserved_resources_allocated"`
	UnreservedResourcesAllocated resources.LegacyObject            `json:"unreserved_resources_allocated"`
	ResourceProviders            []json.RawMessage                 `json:"resource_providers"`
	Attributes                   json.RawMessage                   `json:"attributes"`
	MasterHostname               string                            `json:"master_hostname,omitempty"`
	Flags                        map[string]string                 `json:"flags"`
	Frameworks                   []FrameworkJSON                   `json:"frameworks"`
	CompletedFrameworks          []FrameworkJSON                   `json:"completed_frameworks"`
}

// FrameworkJSON is a framework in /state.
type FrameworkJSON struct {
	ID                 string         `json:"id"`
	Name               string         `json:"name"`
	User               string         `json:"user"`
	FailoverTimeout    codec.Double   `json:"failover_timeout"`
	Checkpoint         bool           `json:"checkpoint"`
	Hostname           string         `json:"hostname"`
	Role               string         `json:"role,omitempty"`
	Roles              []string       `json:"roles,omitempty"`
	Executors          []ExecutorJSON `json:"executors"`
	CompletedExecutors []ExecutorJSON `json:"completed_executors"`
}

// ExecutorJSON is an executor in /state.
type ExecutorJSON struct {
	ID             string                 `json:"id"`
	Name           string                 `json:"name"`
	Source         string                 `json:"source"`
	Container      string                 `json:"container"`
	Directory      string                 `json:"directory"`
	Resources      resources.LegacyObject `json:"resources"`
	Role           string                 `json:"role,omitempty"`
	Type           string                 `json:"type,omitempty"`
	Labels         json.RawMessage        `json:"labels,omitempty"`
	Tasks          []TaskJSON             `json:"tasks"`
	QueuedTasks    []TaskJSON             `json:"queued_tasks"`
	CompletedTasks []TaskJSON             `json:"completed_tasks"`
}

// TaskJSON is a task in /state: its JSON, written by codec/legacy as the
// master writes its tasks, and the few fields readers of a snapshot look
// at.
type TaskJSON struct {
	ID        string
	State     string
	Resources resources.LegacyObject
	JSON      json.RawMessage
}

// MarshalJSON implements json.Marshaler: the task's JSON.
func (t TaskJSON) MarshalJSON() ([]byte, error) { return t.JSON, nil }

// agentCapabilities are reported in /state.
var agentCapabilities = []string{"MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT", "TASK_RESOURCE_LIMITS"}

// Snapshot builds the endpoints' view of the state at time now, as a
// SnapshotRequest does. It changes nothing; the driver calls it between
// steps to publish what readers see.
func (k *Core) Snapshot(now time.Time) *Snapshot { return k.c.snapshot(now) }

// snapshot builds the endpoints' view of the state at time now.
func (c *core) snapshot(now time.Time) *Snapshot {
	b := c.cfg.Build
	total := c.totalResources()
	st := &StateJSON{
		Version:                    MesosVersion,
		GitSHA:                     b.GitSHA,
		BuildDate:                  b.Date,
		BuildTime:                  codec.Double(b.Time),
		BuildUser:                  b.User,
		StartTime:                  codec.Double(seconds(c.startTime)),
		ID:                         c.agentID,
		PID:                        c.cfg.PID,
		Hostname:                   c.cfg.AgentInfo.GetHostname(),
		Capabilities:               agentCapabilities,
		Resources:                  legacy.ResourcesOf(total),
		ReservedResources:          map[string]resources.LegacyObject{},
		ReservedResourcesFull:      map[string]json.RawMessage{},
		ReservedResourcesAllocated: map[string]resources.LegacyObject{},
		ResourceProviders:          []json.RawMessage{},
		Attributes:                 legacy.AppendAttributes(nil, c.cfg.AgentInfo.GetAttributes()),
		Flags:                      c.cfg.Flags,
		Frameworks:                 []FrameworkJSON{},
		CompletedFrameworks:        []FrameworkJSON{},
	}
	if c.masterInfo != nil {
		st.MasterHostname = c.masterInfo.GetHostname()
	}
	reserved, unreserved := splitReserved(total)
	for role, rs := range reserved {
		st.ReservedResources[role] = legacy.ResourcesOf(rs)
		st.ReservedResourcesFull[role] = legacy.AppendResourcesFull(nil, rs)
	}
	st.UnreservedResources = legacy.ResourcesOf(unreserved)
	st.UnreservedResourcesFull = legacy.AppendResourcesFull(nil, unreserved)

	var used []*mesos.Resource
	for _, fw := range c.sortedFrameworks() {
		st.Frameworks = append(st.Frameworks, c.frameworkJSON(fw))
		for _, ex := range fw.sortedExecutors() {
			if ex.state != execTerminated {
				used = append(used, ex.resources()...)
			}
		}
	}
	for i := len(c.completedFrameworks) - 1; i >= 0; i-- {
		st.CompletedFrameworks = append(st.CompletedFrameworks, c.frameworkJSON(c.completedFrameworks[i]))
	}
	usedReserved, usedUnreserved := splitReserved(used)
	for role, rs := range usedReserved {
		st.ReservedResourcesAllocated[role] = legacy.ResourcesOf(rs)
	}
	st.UnreservedResourcesAllocated = legacy.ScalarsOnly(legacy.ResourcesOf(usedUnreserved))

	// The revocable totals of the metrics are the oversubscribed
	// resources (Mesos's slave/<name>_revocable_total).
	withRev := total
	if !c.oversubscribed.IsEmpty() {
		withRev = append(append([]*mesos.Resource(nil), total...), resources.ToProto(c.oversubscribed)...)
	}
	return &Snapshot{State: st, Metrics: c.metricsAt(now, withRev, used)}
}

func (c *core) frameworkJSON(fw *framework) FrameworkJSON {
	info := fw.info
	out := FrameworkJSON{
		ID:                 fw.id,
		Name:               info.GetName(),
		User:               info.GetUser(),
		FailoverTimeout:    codec.Double(info.GetFailoverTimeout()),
		Checkpoint:         info.GetCheckpoint(),
		Hostname:           info.GetHostname(),
		Executors:          []ExecutorJSON{},
		CompletedExecutors: []ExecutorJSON{},
	}
	out.Role, out.Roles = legacy.Roles(info)
	for _, ex := range fw.sortedExecutors() {
		out.Executors = append(out.Executors, c.executorJSON(fw, ex))
	}
	for i := len(fw.completedExecutors) - 1; i >= 0; i-- {
		out.CompletedExecutors = append(out.CompletedExecutors, c.executorJSON(fw, fw.completedExecutors[i]))
	}
	return out
}

func (c *core) executorJSON(fw *framework, ex *executor) ExecutorJSON {
	out := ExecutorJSON{
		ID:             ex.id,
		Name:           ex.info.GetName(),
		Source:         ex.info.GetSource(),
		Container:      ex.containerID,
		Directory:      ex.directory,
		Resources:      legacy.ResourcesOf(ex.resources()),
		Role:           roleOf(ex.info.GetResources(), fw.info),
		Tasks:          []TaskJSON{},
		QueuedTasks:    []TaskJSON{},
		CompletedTasks: []TaskJSON{},
	}
	if ex.info.Type != nil {
		out.Type = ex.info.GetType().String()
	}
	if l := ex.info.GetLabels(); l != nil {
		out.Labels = legacy.AppendLabels(nil, l)
	}
	for _, q := range ex.queue {
		for _, t := range q.tasks() {
			out.QueuedTasks = append(out.QueuedTasks, c.taskJSON(fw, newTask(t, ex, c.agentID)))
		}
	}
	for _, m := range []map[string]*mesos.Task{ex.launched, ex.terminated} {
		for _, id := range sortedKeys(m) {
			out.Tasks = append(out.Tasks, c.taskJSON(fw, m[id]))
		}
	}
	for i := len(ex.completed) - 1; i >= 0; i-- {
		out.CompletedTasks = append(out.CompletedTasks, c.taskJSON(fw, ex.completed[i]))
	}
	return out
}

func (c *core) taskJSON(fw *framework, t *mesos.Task) TaskJSON {
	res := legacy.ResourcesOf(t.GetResources())
	return TaskJSON{
		ID: t.GetTaskId().GetValue(), State: t.GetState().String(), Resources: res,
		JSON: legacy.AppendTask(nil, &legacy.Task{
			ID: t.GetTaskId().GetValue(), Name: t.GetName(), FrameworkID: t.GetFrameworkId().GetValue(),
			ExecutorID: t.GetExecutorId().GetValue(), AgentID: t.GetAgentId().GetValue(),
			State: t.GetState(), Resources: res, Limits: t.GetLimits(), Role: roleOf(t.GetResources(), fw.info),
			Statuses: t.GetStatuses(), User: t.GetUser(), HasUser: t.User != nil,
			Labels: t.GetLabels(), Container: t.GetContainer(), HealthCheck: t.GetHealthCheck(),
		}),
	}
}

// metricsAt computes /metrics/snapshot's slave/* values.
func (c *core) metricsAt(now time.Time, total, used []*mesos.Resource) map[string]float64 {
	m := map[string]float64{
		"slave/uptime_secs":                             now.Sub(c.startTime).Seconds(),
		"slave/registered":                              b2f(c.link == linkRegistered),
		"slave/recovery_errors":                         0,
		"slave/recovery_time_secs":                      0,
		"slave/frameworks_active":                       float64(len(c.frameworks)),
		"slave/executors_preempted":                     float64(c.metrics.executorsPreempted),
		"slave/executors_terminated":                    float64(c.metrics.executorsTerminated),
		"slave/tasks_finished":                          float64(c.metrics.tasksFinished),
		"slave/tasks_failed":                            float64(c.metrics.tasksFailed),
		"slave/tasks_killed":                            float64(c.metrics.tasksKilled),
		"slave/tasks_lost":                              float64(c.metrics.tasksLost),
		"slave/tasks_gone":                              float64(c.metrics.tasksGone),
		"slave/valid_status_updates":                    float64(c.metrics.validStatusUpdates),
		"slave/invalid_status_updates":                  float64(c.metrics.invalidStatusUpdates),
		"slave/valid_framework_messages":                float64(c.metrics.validFrameworkMessages),
		"slave/invalid_framework_messages":              float64(c.metrics.invalidFrameworkMessages),
		"slave/container_launch_errors":                 float64(c.metrics.containerLaunchErrors),
		"slave/executor_directory_max_allowed_age_secs": 0, // the driver's garbage collector knows it
	}
	var registering, running, terminating, staging, starting, taskRunning, killing float64
	for _, ex := range c.byContainer {
		switch ex.state {
		case execRegistering:
			registering++
		case execRunning:
			running++
		case execTerminating:
			terminating++
		}
		for _, q := range ex.queue {
			staging += float64(len(q.tasks()))
		}
		for _, t := range ex.launched {
			switch t.GetState() {
			case mesos.TaskState_TASK_STAGING:
				staging++
			case mesos.TaskState_TASK_STARTING:
				starting++
			case mesos.TaskState_TASK_RUNNING:
				taskRunning++
			case mesos.TaskState_TASK_KILLING:
				killing++
			}
		}
	}
	if !c.recoveredAt.IsZero() {
		m["slave/recovery_time_secs"] = c.recoveredAt.Sub(c.startTime).Seconds()
	}
	m["slave/executors_registering"] = registering
	m["slave/executors_running"] = running
	m["slave/executors_terminating"] = terminating
	m["slave/tasks_staging"] = staging
	m["slave/tasks_starting"] = starting
	m["slave/tasks_running"] = taskRunning
	m["slave/tasks_killing"] = killing
	for _, name := range []string{"cpus", "mem", "disk", "gpus"} {
		t, u := legacy.ScalarSum(total, name, false), legacy.ScalarSum(used, name, false)
		m["slave/"+name+"_total"] = t
		m["slave/"+name+"_used"] = u
		m["slave/"+name+"_percent"] = percent(u, t)
		rt, ru := legacy.ScalarSum(total, name, true), legacy.ScalarSum(used, name, true)
		m["slave/"+name+"_revocable_total"] = rt
		m["slave/"+name+"_revocable_used"] = ru
		m["slave/"+name+"_revocable_percent"] = percent(ru, rt)
	}
	return m
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func percent(used, total float64) float64 {
	if total == 0 {
		return 0
	}
	return used / total
}

// roleOf is the role resources are allocated to, else the framework's.
func roleOf(rs []*mesos.Resource, info *mesos.FrameworkInfo) string {
	for _, r := range rs {
		if r.GetAllocationInfo() != nil && r.GetAllocationInfo().Role != nil {
			return r.GetAllocationInfo().GetRole()
		}
	}
	role, roles := legacy.Roles(info)
	if len(roles) > 0 {
		return roles[0]
	}
	return role
}

// splitReserved separates reserved resources, by role, from unreserved.
func splitReserved(pbs []*mesos.Resource) (map[string][]*mesos.Resource, []*mesos.Resource) {
	reserved := map[string][]*mesos.Resource{}
	var unreserved []*mesos.Resource
	for _, r := range pbs {
		role := ""
		if n := len(r.GetReservations()); n > 0 {
			role = r.GetReservations()[n-1].GetRole()
		} else if r.Role != nil && r.GetRole() != "*" {
			role = r.GetRole()
		}
		if role == "" {
			unreserved = append(unreserved, r)
		} else {
			reserved[role] = append(reserved[role], r)
		}
	}
	return reserved, unreserved
}
