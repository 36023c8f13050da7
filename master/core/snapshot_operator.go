package core

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gomesos/gomesos/api/v1/maintenance"
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/resources"
	"google.golang.org/protobuf/proto"
)

// The operator API's views (GET_STATE, GET_AGENTS, GET_FRAMEWORKS,
// GET_EXECUTORS, GET_TASKS, GET_ROLES, GET_MASTER) and the entities its
// event stream carries, built from the same records as the legacy
// endpoints. The messages share the records' protobuf parts (TaskInfo,
// AgentInfo, ...), which nobody changes: a reader that wants to change
// one must clone it.

func timeProto(t time.Time) *mesos.TimeInfo {
	if t.IsZero() {
		return nil
	}
	return timeInfo(t)
}

func frameworkIDProto(id string) *mesos.FrameworkID {
	return &mesos.FrameworkID{Value: proto.String(id)}
}

// proto is the task as the operator API shows it (mesos.v1.Task).
func (r *taskRec) proto() *mesos.Task {
	t := &mesos.Task{
		Name:        r.info.name,
		TaskId:      r.taskIDProto(),
		FrameworkId: frameworkIDProto(r.frameworkID),
		AgentId:     agentIDProto(r.agentID),
		State:       r.state.Enum(),
		Resources:   resources.ToProto(r.res),
		Labels:      r.info.GetLabels(),
		Container:   r.info.GetContainer(),
		HealthCheck: r.info.GetHealthCheck(),
		KillPolicy:  r.info.GetKillPolicy(),
		Limits:      r.info.GetLimits(),
	}
	t.Statuses = statusProtos(r.statuses, t.TaskId)
	if r.executorID != nil {
		t.ExecutorId = &mesos.ExecutorID{Value: proto.String(*r.executorID)}
	}
	if r.user != "" {
		t.User = proto.String(r.user)
	}
	if n := len(t.Statuses); n > 0 {
		last := t.Statuses[n-1]
		t.StatusUpdateState = last.State
		t.StatusUpdateUuid = last.Uuid
	}
	return t
}

// operatorAgent is the agent as GET_AGENTS and AGENT_ADDED show it.
func (a *agentRec) operatorAgent() *masterpb.Response_GetAgents_Agent {
	out := &masterpb.Response_GetAgents_Agent{
		AgentInfo:          a.info,
		Active:             proto.Bool(a.active),
		Deactivated:        proto.Bool(a.deactivated),
		DrainInfo:          a.drain,
		Version:            proto.String(a.version),
		Pid:                proto.String(a.pid),
		RegisteredTime:     timeProto(a.registered),
		ReregisteredTime:   timeProto(a.reregistered),
		TotalResources:     resources.ToProto(a.total),
		AllocatedResources: resources.ToProto(a.used),
		OfferedResources:   resources.ToProto(a.offered),
	}
	for _, c := range agentCapabilities {
		t := mesos.AgentInfo_Capability_Type(mesos.AgentInfo_Capability_Type_value[c])
		out.Capabilities = append(out.Capabilities, &mesos.AgentInfo_Capability{Type: t.Enum()})
	}
	return out
}

// operatorFramework is the framework as GET_FRAMEWORKS and the framework
// events show it.
func (r *frameworkRec) operatorFramework(s *Snapshot) *masterpb.Response_GetFrameworks_Framework {
	r.sumResources()
	out := &masterpb.Response_GetFrameworks_Framework{
		FrameworkInfo:      r.info,
		Active:             proto.Bool(r.active),
		Connected:          proto.Bool(r.connected),
		Recovered:          proto.Bool(r.recovered),
		RegisteredTime:     timeProto(r.registered),
		ReregisteredTime:   timeProto(r.reregistered),
		UnregisteredTime:   timeProto(r.unregistered),
		AllocatedResources: resources.ToProto(r.used),
		OfferedResources:   resources.ToProto(r.offered),
		OfferConstraints:   r.constraints,
	}
	r.offers.Walk(func(_ string, o *offerRec) bool {
		out.Offers = append(out.Offers, o.proto(s))
		return true
	})
	return out
}

// proto is the offer as GET_FRAMEWORKS shows it.
func (o *offerRec) proto(s *Snapshot) *mesos.Offer {
	var hostname string
	if a, ok := s.agents.Get(o.agentID); ok {
		hostname = a.info.GetHostname()
	}
	return offerProto(o.id, o.frameworkID, o.agentID, o.role, hostname, o.res)
}

// offerProto is an offer as the operator API shows it.
func offerProto(id, frameworkID, agentID, role, hostname string, res resources.Resources) *mesos.Offer {
	return &mesos.Offer{
		Id:             &mesos.OfferID{Value: proto.String(id)},
		FrameworkId:    frameworkIDProto(frameworkID),
		AgentId:        agentIDProto(agentID),
		Hostname:       proto.String(hostname),
		Resources:      resources.ToProto(res),
		AllocationInfo: &mesos.Resource_AllocationInfo{Role: proto.String(role)},
	}
}

// OperatorAgents answers GET_AGENTS.
func (s *Snapshot) OperatorAgents() *masterpb.Response_GetAgents {
	out := &masterpb.Response_GetAgents{RecoveredAgents: s.recovered}
	s.agents.Walk(func(_ string, a *agentRec) bool {
		out.Agents = append(out.Agents, a.operatorAgent())
		return true
	})
	return out
}

// OperatorFrameworks answers GET_FRAMEWORKS.
func (s *Snapshot) OperatorFrameworks() *masterpb.Response_GetFrameworks {
	out := &masterpb.Response_GetFrameworks{}
	s.frameworks.Walk(func(_ string, fw *frameworkRec) bool {
		f := fw.operatorFramework(s)
		f.InverseOffers = s.inverseOffers[fw.id]
		out.Frameworks = append(out.Frameworks, f)
		return true
	})
	for _, fw := range s.completed {
		out.CompletedFrameworks = append(out.CompletedFrameworks, fw.operatorFramework(s))
	}
	return out
}

// OperatorExecutors answers GET_EXECUTORS: the custom and default
// executors of the active frameworks.
func (s *Snapshot) OperatorExecutors() *masterpb.Response_GetExecutors {
	out := &masterpb.Response_GetExecutors{}
	s.frameworks.Walk(func(_ string, fw *frameworkRec) bool {
		fw.executors.Walk(func(_ string, e *executorRec) bool {
			out.Executors = append(out.Executors, &masterpb.Response_GetExecutors_Executor{
				ExecutorInfo: e.info, AgentId: agentIDProto(e.agentID),
			})
			return true
		})
		return true
	})
	return out
}

// OperatorTasks answers GET_TASKS: the tasks of the active frameworks
// (live, unreachable and completed) and the completed frameworks'.
func (s *Snapshot) OperatorTasks() *masterpb.Response_GetTasks {
	out := &masterpb.Response_GetTasks{}
	add := func(fw *frameworkRec) {
		fw.tasks.Walk(func(_ string, t *taskRec) bool {
			out.Tasks = append(out.Tasks, t.proto())
			return true
		})
		for _, t := range fw.unreachable {
			out.UnreachableTasks = append(out.UnreachableTasks, t.proto())
		}
		for _, t := range fw.completed {
			out.CompletedTasks = append(out.CompletedTasks, t.proto())
		}
	}
	s.frameworks.Walk(func(_ string, fw *frameworkRec) bool {
		add(fw)
		return true
	})
	for _, fw := range s.completed {
		add(fw)
	}
	return out
}

// OperatorState answers GET_STATE, and is the state SUBSCRIBED carries.
func (s *Snapshot) OperatorState() *masterpb.Response_GetState {
	return &masterpb.Response_GetState{
		GetTasks:      s.OperatorTasks(),
		GetExecutors:  s.OperatorExecutors(),
		GetFrameworks: s.OperatorFrameworks(),
		GetAgents:     s.OperatorAgents(),
	}
}

// OperatorMaster answers GET_MASTER.
func (s *Snapshot) OperatorMaster() *masterpb.Response_GetMaster {
	out := &masterpb.Response_GetMaster{MasterInfo: s.info, StartTime: proto.Float64(secs(s.startTime))}
	if !s.electedTime.IsZero() {
		out.ElectedTime = proto.Float64(secs(s.electedTime))
	}
	return out
}

// Weights is the weight of every role whose weight is not the default 1,
// by role name.
func (s *Snapshot) Weights() map[string]float64 { return s.weights }

// OperatorWeights answers GET_WEIGHTS, in role order.
func (s *Snapshot) OperatorWeights() *masterpb.Response_GetWeights {
	out := &masterpb.Response_GetWeights{}
	for _, role := range sortedKeys(s.weights) {
		out.WeightInfos = append(out.WeightInfos, &mesos.WeightInfo{Weight: proto.Float64(s.weights[role]), Role: proto.String(role)})
	}
	return out
}

// RoleView is a role as GET_ROLES and /master/roles show it: the roles
// with frameworks subscribed, with resources allocated or offered, or with
// a weight that is not the default.
type RoleView struct {
	Name       string
	Weight     float64
	Frameworks []string
	Allocated  resources.Resources
	Offered    resources.Resources
}

// Roles lists the known roles in name order.
func (s *Snapshot) Roles() []RoleView {
	byName := map[string]*RoleView{}
	get := func(name string) *RoleView {
		r := byName[name]
		if r == nil {
			r = &RoleView{Name: name, Weight: 1}
			if w, ok := s.weights[name]; ok {
				r.Weight = w
			}
			byName[name] = r
		}
		return r
	}
	for name := range s.weights {
		get(name)
	}
	for name := range s.quotas {
		get(name)
	}
	s.frameworks.Walk(func(_ string, fw *frameworkRec) bool {
		for _, role := range frameworkRoles(fw.info) {
			r := get(role)
			r.Frameworks = append(r.Frameworks, fw.id)
		}
		fw.tasks.Walk(func(_ string, t *taskRec) bool {
			if !t.recovered && t.role != "" {
				r := get(t.role)
				r.Allocated.AddInPlace(t.res)
			}
			return true
		})
		fw.offers.Walk(func(_ string, o *offerRec) bool {
			r := get(o.role)
			r.Offered.AddInPlace(o.res)
			return true
		})
		return true
	})
	out := make([]RoleView, 0, len(byName))
	for _, name := range sortedKeys(byName) {
		r := byName[name]
		sort.Strings(r.Frameworks)
		r.Frameworks = slices.Compact(r.Frameworks)
		out = append(out, *r)
	}
	return out
}

// subtreeUse sums, for each role of roles (as Roles lists them) and each
// of their ancestors, the non-revocable scalar resources allocated to and
// offered to the role and its sub-roles: O(roles × depth).
func subtreeUse(roles []RoleView) (allocated, offered map[string]map[string]resources.Scalar) {
	allocated, offered = map[string]map[string]resources.Scalar{}, map[string]map[string]resources.Scalar{}
	add := func(into map[string]map[string]resources.Scalar, role string, q map[string]resources.Scalar) {
		for r := role; ; {
			sum := into[r]
			if sum == nil {
				sum = map[string]resources.Scalar{}
				into[r] = sum
			}
			for name, v := range q {
				sum[name] += v
			}
			i := strings.LastIndexByte(r, '/')
			if i < 0 {
				return
			}
			r = r[:i]
		}
	}
	for _, r := range roles {
		add(allocated, r.Name, r.Allocated.NonRevocable().ToScalarQuantities())
		add(offered, r.Name, r.Offered.NonRevocable().ToScalarQuantities())
	}
	return allocated, offered
}

// RoleQuota is a role's quota as /roles shows it: its guarantees and
// limits (none when it has no quota), and what it and its sub-roles
// consume (their allocated scalar resources).
type RoleQuota struct {
	Guarantees, Limits, Consumed map[string]resources.Scalar
}

// RoleQuotas gives the quota of each role in roles (as Roles lists them).
func (s *Snapshot) RoleQuotas(roles []RoleView) map[string]RoleQuota {
	allocated, _ := subtreeUse(roles)
	out := make(map[string]RoleQuota, len(roles))
	for _, r := range roles {
		q := RoleQuota{Consumed: allocated[r.Name]}
		if qc := s.quotas[r.Name]; qc != nil {
			aq := quotaOf(qc)
			q.Guarantees, q.Limits = aq.Guarantees, aq.Limits
		}
		out[r.Name] = q
	}
	return out
}

// OperatorRoles answers GET_ROLES.
func (s *Snapshot) OperatorRoles() *masterpb.Response_GetRoles {
	out := &masterpb.Response_GetRoles{}
	for _, r := range s.Roles() {
		pr := &mesos.Role{Name: proto.String(r.Name), Weight: proto.Float64(r.Weight), Resources: resources.ToProto(r.Allocated)}
		for _, id := range r.Frameworks {
			pr.Frameworks = append(pr.Frameworks, frameworkIDProto(id))
		}
		out.Roles = append(out.Roles, pr)
	}
	return out
}

// MaintenanceSchedule is the maintenance schedule
// (GET_MAINTENANCE_SCHEDULE, /master/maintenance/schedule). Callers must
// not change it.
func (s *Snapshot) MaintenanceSchedule() *maintenance.Schedule {
	if s.schedule == nil {
		return &maintenance.Schedule{}
	}
	return s.schedule
}

// MaintenanceStatus is the machines in maintenance and the frameworks'
// answers to their inverse offers (GET_MAINTENANCE_STATUS,
// /master/maintenance/status). Callers must not change it.
func (s *Snapshot) MaintenanceStatus() *maintenance.ClusterStatus {
	if s.maintStatus == nil {
		return &maintenance.ClusterStatus{}
	}
	return s.maintStatus
}
