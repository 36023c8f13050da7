package core

import (
	"bytes"
	"math"
	"slices"
	"time"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/resources"
)

// task is the master's record of a launched task.
type task struct {
	*taskFixed

	statusUpdateState *mesos.TaskState
	statusUpdateUUID  []byte
	statuses          []taskStatus
	unreachableTime   time.Time

	pub publishedTask
	// key is taskKey(frameworkID, id), its key among its agent's tasks,
	// made once (see agentKey).
	key string

	// The small fields last, together: the task takes 128 bytes, not 144.
	state              mesos.TaskState // the latest state known
	resourcesRecovered bool
	// counted is set once the task's end is counted in the metrics.
	counted bool
}

// taskFixed is what never changes of a task once the master knows it. The
// task and every record published of it share it, so that a master
// holding hundreds of thousands of tasks does not hold these 150 bytes in
// each record too (or make them again at every change of state).
type taskFixed struct {
	id          string
	frameworkID string
	agentID     string
	// executorID is the task's executor's id, nil for the built-in
	// command executor (a pointer, not a string, so that the record takes
	// 128 bytes, not 144: most tasks have none).
	executorID *string
	role       string
	user       string
	res        resources.Resources
	info       taskInfo
}

// executor is the task's executor's id, "" for the built-in command
// executor.
func (f *taskFixed) executor() string {
	if f.executorID == nil {
		return ""
	}
	return *f.executorID
}

// optionalString is &s, nil when s is empty.
func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// taskInfo is what the master keeps of a task's TaskInfo once it is
// launched: the parts the task views (mesos.v1.Task, /master/state) show
// and the kill policy draining uses. The command, data, executor, checks
// and resources (kept apart, in task.res) went to the agent and are not
// kept: a master holding hundreds of thousands of tasks would hold a
// TaskInfo and a CommandInfo, 300 bytes before their strings, for each.
// The parts most tasks lack sit apart, so that a task with none of them
// keeps two words; its TaskID is made from its id when a view shows it.
// Its getters are mesos.TaskInfo's.
type taskInfo struct {
	name  *string
	extra *taskInfoExtra // nil when it has none of them
}

type taskInfoExtra struct {
	labels      *mesos.Labels
	container   *mesos.ContainerInfo
	healthCheck *mesos.HealthCheck
	killPolicy  *mesos.KillPolicy
	limits      map[string]*mesos.Value_Scalar
}

// keepTaskInfo is what the master keeps of ti (it shares ti's parts).
func keepTaskInfo(ti *mesos.TaskInfo) taskInfo {
	return newTaskInfo(ti.Name, taskInfoExtra{
		labels: ti.Labels, container: ti.Container, healthCheck: ti.HealthCheck,
		killPolicy: ti.KillPolicy, limits: ti.Limits,
	})
}

func newTaskInfo(name *string, extra taskInfoExtra) taskInfo {
	ti := taskInfo{name: name}
	if extra.labels != nil || extra.container != nil || extra.healthCheck != nil || extra.killPolicy != nil || len(extra.limits) > 0 {
		// A copy: taking extra's address would move the parameter to
		// the heap at every call, extras or not.
		e := extra
		ti.extra = &e
	}
	return ti
}

func (ti *taskInfo) GetName() string {
	if ti == nil || ti.name == nil {
		return ""
	}
	return *ti.name
}

func (ti *taskInfo) extras() *taskInfoExtra {
	if ti == nil || ti.extra == nil {
		return &taskInfoExtra{}
	}
	return ti.extra
}

func (ti *taskInfo) GetLabels() *mesos.Labels                  { return ti.extras().labels }
func (ti *taskInfo) GetContainer() *mesos.ContainerInfo        { return ti.extras().container }
func (ti *taskInfo) GetHealthCheck() *mesos.HealthCheck        { return ti.extras().healthCheck }
func (ti *taskInfo) GetKillPolicy() *mesos.KillPolicy          { return ti.extras().killPolicy }
func (ti *taskInfo) GetLimits() map[string]*mesos.Value_Scalar { return ti.extras().limits }

// agentKey is the task's key among its agent's tasks. It is made on first
// use and kept: looking a task up on its agent, which the loop does several
// times for every task, then allocates nothing.
func (t *task) agentKey() string {
	if t.key == "" {
		t.key = taskKey(t.frameworkID, t.id)
	}
	return t.key
}

func (t *task) setState(s mesos.TaskState, now time.Time) {
	t.state = s
	t.addStatus(taskStatus{state: s, timestamp: secs(now)})
}

// taskStatus is a status in a task's history. Most hold a state, a time,
// maybe whether the task is healthy and the container's status: those are
// kept as plain values and a pointer, 32 bytes instead of a TaskStatus's
// 200, and made into a TaskStatus (with the task's TaskID) only when a
// view shows them. A status holding more (labels, a check status, or a
// whole status an agent reported on re-registering) is kept as it came,
// in full.
type taskStatus struct {
	timestamp float64
	container *mesos.ContainerStatus
	state     mesos.TaskState
	healthy   int8 // 0: not said, 1: unhealthy, 2: healthy
	full      *mesos.TaskStatus
}

// keepStatus is what a task's history keeps of s: s itself when it holds
// more than a state, a time and a health (keep says which parts matter).
func keepStatus(s *mesos.TaskStatus, keep func(*mesos.TaskStatus) *mesos.TaskStatus) taskStatus {
	ts := taskStatus{timestamp: s.GetTimestamp(), state: s.GetState(), container: s.ContainerStatus}
	if s.Healthy != nil {
		ts.healthy = 1
		if s.GetHealthy() {
			ts.healthy = 2
		}
	}
	if s.State == nil || s.Timestamp == nil || s.Labels != nil || s.CheckStatus != nil {
		ts.full, ts.container = keep(s), nil
	}
	return ts
}

// proto is the status as the views show it; taskID is its task's.
func (s taskStatus) proto(taskID *mesos.TaskID) *mesos.TaskStatus {
	if s.full != nil {
		return s.full
	}
	st := &mesos.TaskStatus{TaskId: taskID, State: s.state.Enum(), Timestamp: ptr(s.timestamp), ContainerStatus: s.container}
	if s.healthy != 0 {
		st.Healthy = ptr(s.healthy == 2)
	}
	return st
}

// statusProtos is a task history as the views show it.
func statusProtos(list []taskStatus, taskID *mesos.TaskID) []*mesos.TaskStatus {
	if len(list) == 0 {
		return nil
	}
	out := make([]*mesos.TaskStatus, len(list))
	for i, s := range list {
		out[i] = s.proto(taskID)
	}
	return out
}

// taskIDProto is the task's TaskID, as the views show it.
func (f *taskFixed) taskIDProto() *mesos.TaskID {
	return &mesos.TaskID{Value: &f.id}
}

// addStatus records a status in the task's history. As in Mesos's
// Master::updateTask, a status in the same state as the last one replaces
// it, so that a task sending health or check updates does not grow its
// history without bound: it holds one status per change of state.
//
// The statuses a published record holds are the task's own (newTaskRec
// does not copy them): an append writes past what the record sees, and a
// replacement goes into a new array.
func (t *task) addStatus(st taskStatus) {
	if n := len(t.statuses); n > 0 && t.statuses[n-1].state == st.state {
		t.statuses = append(slices.Clip(t.statuses[:n-1]), st)
		return
	}
	t.statuses = append(t.statuses, st)
}

func newTaskFromAgent(rt *mesos.Task, agentID string, prev *adoptedResources) *task {
	res, role := prev.convert(rt.GetResources())
	// The task and its fixed part in one allocation: a failover adopts
	// every task of every agent at once.
	both := &struct {
		t task
		f taskFixed
	}{}
	both.f = taskFixed{
		id:          rt.GetTaskId().GetValue(),
		frameworkID: rt.GetFrameworkId().GetValue(),
		agentID:     agentID,
		info: newTaskInfo(rt.Name, taskInfoExtra{
			limits: rt.GetLimits(), labels: rt.Labels, healthCheck: rt.HealthCheck,
		}),
		executorID: optionalString(rt.GetExecutorId().GetValue()),
		res:        res,
		role:       role,
		user:       rt.GetUser(),
	}
	both.t = task{
		taskFixed: &both.f,
		state:     rt.GetState(),
		// The update the agent is delivering (the oldest its framework
		// has not acknowledged) is what reconciliation answers until the
		// framework acknowledges it, as Mesos keeps the re-registered
		// Task's status_update_state: answering the latest state instead
		// would show the framework a task end, then the agent's earlier
		// updates.
		statusUpdateState: rt.StatusUpdateState,
		statusUpdateUUID:  rt.GetStatusUpdateUuid(),
		statuses:          agentStatuses(rt.GetStatuses()),
	}
	return &both.t
}

// adoptedResources is the resources of the task last adopted from an
// agent's report, as the agent sent them and as the master keeps them:
// the tasks an agent runs mostly use alike resources (a framework's tasks
// of one kind), and a failover adopts every task of every agent at once,
// so a task whose resources are those of the task before shares their
// conversion, which the master never changes in place, instead of making
// its own.
type adoptedResources struct {
	pb   []*mesos.Resource
	res  resources.Resources
	role string
}

// convert is the resources pbs, and the role they are allocated to.
func (p *adoptedResources) convert(pbs []*mesos.Resource) (resources.Resources, string) {
	if len(pbs) > 0 && len(pbs) == len(p.pb) && p.res != nil {
		same := true
		for i := range pbs {
			if !sameSimpleResource(pbs[i], p.pb[i]) {
				same = false
				break
			}
		}
		if same {
			return p.res, p.role
		}
	}
	res, _ := resources.FromProto(pbs)
	role := ""
	for _, r := range pbs {
		if ai := r.GetAllocationInfo(); ai != nil && ai.Role != nil {
			role = ai.GetRole()
			break
		}
	}
	p.pb, p.res, p.role = pbs, res, role
	return res, role
}

// sameSimpleResource reports whether a and b are the same scalar
// resource, of a name, maybe a role (the pre-refinement reservation field,
// "*" when unreserved) and maybe allocated to a role, and nothing more
// (what tasks mostly use): false for any other, even alike.
func sameSimpleResource(a, b *mesos.Resource) bool {
	if a == nil || b == nil {
		return false
	}
	simple := func(r *mesos.Resource) bool {
		return r.Name != nil && r.Type != nil && *r.Type == mesos.Value_SCALAR && r.Scalar != nil && r.Scalar.Value != nil &&
			r.Ranges == nil && r.Set == nil && r.Reservation == nil && len(r.Reservations) == 0 &&
			r.Disk == nil && r.Revocable == nil && r.Shared == nil && r.ProviderId == nil &&
			(r.AllocationInfo == nil || (r.AllocationInfo.Role != nil && len(r.AllocationInfo.ProtoReflect().GetUnknown()) == 0)) &&
			len(r.Scalar.ProtoReflect().GetUnknown()) == 0
	}
	if !simple(a) || !simple(b) || *a.Name != *b.Name || math.Float64bits(*a.Scalar.Value) != math.Float64bits(*b.Scalar.Value) {
		return false
	}
	if (a.Role == nil) != (b.Role == nil) || (a.Role != nil && *a.Role != *b.Role) {
		return false
	}
	if (a.AllocationInfo == nil) != (b.AllocationInfo == nil) {
		return false
	}
	return a.AllocationInfo == nil || *a.AllocationInfo.Role == *b.AllocationInfo.Role
}

// agentStatuses is the history of a task an agent reports, its statuses
// kept whole unless they hold just a state, a time and a health.
func agentStatuses(list []*mesos.TaskStatus) []taskStatus {
	if len(list) == 0 {
		return nil
	}
	out := make([]taskStatus, len(list))
	for i, s := range list {
		out[i] = keepStatus(s, func(s *mesos.TaskStatus) *mesos.TaskStatus { return s })
		if s.TaskId == nil || s.AgentId != nil || s.Uuid != nil || s.Source != nil || s.Reason != nil || s.Message != nil ||
			s.ExecutorId != nil || s.Data != nil || s.UnreachableTime != nil || len(s.ProtoReflect().GetUnknown()) > 0 {
			out[i].full, out[i].container = s, nil
		}
	}
	return out
}

func killTaskMsg(fwID, taskID string, policy *mesos.KillPolicy) *agentproto.MasterMessage {
	return &agentproto.MasterMessage{
		Type: agentproto.MasterMessage_KILL_TASK.Enum(),
		KillTask: &agentproto.MasterMessage_KillTask{
			FrameworkId: &mesos.FrameworkID{Value: &fwID},
			TaskId:      &mesos.TaskID{Value: &taskID},
			KillPolicy:  policy,
		},
	}
}

// statusUpdate records an update an agent forwarded and relays it to the
// framework. The task's state becomes the latest state the agent knows;
// status_update_state is the update in flight until it is acknowledged.
func (c *Core) statusUpdate(a *agent, up *agentproto.StatusUpdate) {
	status := up.GetStatus()
	fw := c.frameworks[up.GetFrameworkId().GetValue()]
	if fw == nil || len(status.GetUuid()) == 0 {
		c.metrics.inc("master/invalid_status_updates")
		return
	}
	c.metrics.inc("master/valid_status_updates")
	t := fw.tasks[status.GetTaskId().GetValue()]
	if t != nil && t.agentID == a.id {
		c.taskChanged(fw, t)
		latest := status.GetState()
		if up.LatestState != nil {
			latest = up.GetLatestState()
		}
		// As Mesos, subscribers hear of an update that changes the task's
		// state (not, say, a health check's RUNNING after RUNNING); also,
		// unlike Mesos, of one that only brings a newer latest state (a
		// resent RUNNING from an agent whose task has since finished), or
		// they would never hear the task end.
		before := t.state
		changed := !before.IsTerminal() && (status.GetState() != before || latest != before)
		if !t.state.IsTerminal() || latest.IsTerminal() {
			t.state = latest
		}
		t.statusUpdateState = status.State
		t.statusUpdateUUID = status.GetUuid()
		if !containsStatus(t.statuses, status) {
			t.addStatus(keepStatus(status, func(s *mesos.TaskStatus) *mesos.TaskStatus {
				st := statusForState(s)
				st.TaskId = t.taskIDProto() // the same id: the update's is not kept
				return st
			}))
		}
		if latest.IsTerminal() {
			// Resources are free, and the task counted as ended, as soon as
			// the agent reports it done, even while earlier updates wait.
			c.recoverTaskResources(fw, t)
			c.countTerminal(t, latest, status.GetSource(), status.GetReason())
		}
		if changed {
			c.opTaskUpdated(t, status)
		}
	}
	// The status goes out as the agent sent it (the core keeps its parts
	// and changes none), with the agent's id added to a copy when missing.
	s := status
	if s.AgentId == nil {
		s = clone(status)
		s.AgentId = &mesos.AgentID{Value: &a.id}
	}
	c.sendToFramework(fw, &schedpb.Event{Type: schedpb.Event_UPDATE.Enum(), Update: &schedpb.Event_Update{Status: s}})
}

func containsStatus(list []taskStatus, s *mesos.TaskStatus) bool {
	for _, x := range list {
		if x.state == s.GetState() && x.timestamp == s.GetTimestamp() {
			return true
		}
	}
	return false
}

// statusForState is the part of a status that task views keep.
func statusForState(s *mesos.TaskStatus) *mesos.TaskStatus {
	return &mesos.TaskStatus{
		TaskId: s.TaskId, State: s.State, Timestamp: s.Timestamp, Healthy: s.Healthy,
		Labels: s.Labels, ContainerStatus: s.ContainerStatus, CheckStatus: s.CheckStatus,
	}
}

// countTerminal counts a task's end in the metrics, once.
func (c *Core) countTerminal(t *task, state mesos.TaskState, source mesos.TaskStatus_Source, reason mesos.TaskStatus_Reason) {
	if t.counted {
		return
	}
	t.counted = true
	c.metrics.taskTerminal(state, source, reason)
	c.countFrameworkTerminal(c.frameworks[t.frameworkID], state)
}

func (c *Core) recoverTaskResources(fw *framework, t *task) {
	if t.resourcesRecovered {
		return
	}
	t.resourcesRecovered = true
	c.taskChanged(fw, t)
	c.alloc.RecoverResources(fw.id, t.agentID, t.res, 0, c.now)
	c.allocateSoon = true
}

// masterTaskUpdate is an update the master generates itself (agent lost,
// invalid offer, reconciliation of a task it tracks): it carries no uuid and
// is not acknowledged, so a terminal or unreachable one removes the task at
// once. As in Mesos's Master::updateTask, a task that already ended (its end
// not yet acknowledged) keeps its terminal state whatever the update says.
func (c *Core) masterTaskUpdate(fw *framework, t *task, state mesos.TaskState, reason mesos.TaskStatus_Reason, message string) {
	status := &mesos.TaskStatus{
		TaskId:    &mesos.TaskID{Value: &t.id},
		State:     state.Enum(),
		Message:   &message,
		Source:    mesos.TaskStatus_SOURCE_MASTER.Enum(),
		Reason:    reason.Enum(),
		AgentId:   &mesos.AgentID{Value: &t.agentID},
		Timestamp: ptr(secs(c.now)),
	}
	if t.executorID != nil {
		status.ExecutorId = &mesos.ExecutorID{Value: t.executorID}
	}
	if state == mesos.TaskState_TASK_UNREACHABLE {
		status.UnreachableTime = &mesos.TimeInfo{Nanoseconds: ptr(c.now.UnixNano())}
		t.unreachableTime = c.now
	}
	changed := !t.state.IsTerminal() && state != t.state
	if !t.state.IsTerminal() {
		t.state = state
	}
	t.addStatus(keepStatus(status, statusForState))
	if changed {
		c.opTaskUpdated(t, status)
	}
	if fw == nil {
		if a := c.agents[t.agentID]; a != nil {
			delete(a.tasks, t.agentKey())
			c.agentChanged(a)
		}
		return
	}
	c.taskChanged(fw, t)
	if state.IsTerminal() || state == mesos.TaskState_TASK_UNREACHABLE {
		c.recoverTaskResources(fw, t)
		if state.IsTerminal() {
			c.countTerminal(t, state, mesos.TaskStatus_SOURCE_MASTER, reason)
		}
		c.removeTaskAs(fw, t, state == mesos.TaskState_TASK_UNREACHABLE)
	}
	c.sendToFramework(fw, &schedpb.Event{Type: schedpb.Event_UPDATE.Enum(), Update: &schedpb.Event_Update{Status: status}})
}

// removeTask moves a task out of the active set: into the framework's
// unreachable tasks when it is unreachable, else its completed tasks.
func (c *Core) removeTask(fw *framework, t *task) {
	c.removeTaskAs(fw, t, t.state == mesos.TaskState_TASK_UNREACHABLE)
}

// removeTaskAs is removeTask, told whether the task is unreachable: one
// that ended on an agent marked unreachable before its end was
// acknowledged is kept among the unreachable tasks in its terminal state,
// as Mesos's Master::removeTask(task, unreachable) keeps it.
func (c *Core) removeTaskAs(fw *framework, t *task, unreachable bool) {
	c.taskChanged(fw, t)
	if fw.tasks[t.id] == t {
		delete(fw.tasks, t.id)
	}
	if a := c.agents[t.agentID]; a != nil && a.tasks[t.agentKey()] == t {
		delete(a.tasks, t.agentKey())
		delete(a.killed, t.agentKey())
	}
	if unreachable {
		fw.unreachable = trimOldest(append(fw.unreachable, t), c.opts.MaxUnreachableTasksPerFW)
		return
	}
	fw.completed = trimOldest(append(fw.completed, t), c.opts.MaxCompletedTasksPerFramework)
}

// trimOldest keeps the last limit tasks of list. It drops the oldest by
// moving the slice's start, clearing what it drops for the collector: once
// list is full, a task ending costs no copy and no allocation, but the one
// append in every limit or so that finds no room at the end of the array
// (which then copies the limit tasks kept into a new one).
func trimOldest(list []*task, limit int) []*task {
	if n := len(list) - limit; n > 0 {
		clear(list[:n])
		list = list[n:]
	}
	return list
}

// hasTask reports whether list holds task id of the given agent.
func hasTask(list []*task, id, agentID string) bool { return agentTaskIn(list, id, agentID) != nil }

// agentTaskIn is task id of the given agent in list, or nil.
func agentTaskIn(list []*task, id, agentID string) *task {
	for _, t := range list {
		if t.id == id && t.agentID == agentID {
			return t
		}
	}
	return nil
}

// endCause is the source and reason of the status that ended a task an
// agent reports: its last status in its terminal state (the agent keeps
// one per state); failing that, the agent's, learnt from reconciliation.
func endCause(rt *mesos.Task) (mesos.TaskStatus_Source, mesos.TaskStatus_Reason) {
	sts := rt.GetStatuses()
	for i := len(sts) - 1; i >= 0; i-- {
		if s := sts[i]; s.GetState() == rt.GetState() && s.Source != nil {
			return s.GetSource(), s.GetReason()
		}
	}
	return mesos.TaskStatus_SOURCE_AGENT, mesos.TaskStatus_REASON_RECONCILIATION
}

// removeAgentTask drops task id of the given agent from list.
func removeAgentTask(list []*task, id, agentID string) []*task {
	out := list[:0]
	for _, t := range list {
		if t.id != id || t.agentID != agentID {
			out = append(out, t)
		}
	}
	return out
}

func removeTaskFrom(list []*task, id string) []*task {
	out := list[:0]
	for _, t := range list {
		if t.id != id {
			out = append(out, t)
		}
	}
	return out
}

// acknowledge relays a framework's acknowledgement to the agent. When it
// acknowledges a terminal update, the task is done for the master too.
func (c *Core) acknowledge(fw *framework, ack *schedpb.Call_Acknowledge) {
	agentID := ack.GetAgentId().GetValue()
	taskID := ack.GetTaskId().GetValue()
	a := c.agents[agentID]
	if a == nil {
		c.metrics.inc("master/invalid_status_update_acknowledgements")
		return
	}
	c.metrics.inc("master/valid_status_update_acknowledgements")
	c.sendToAgent(a, &agentproto.MasterMessage{
		Type: agentproto.MasterMessage_ACKNOWLEDGE.Enum(),
		Acknowledge: &agentproto.MasterMessage_Acknowledge{
			FrameworkId: fw.idProto(),
			TaskId:      ack.GetTaskId(),
			Uuid:        ack.GetUuid(),
		},
	})
	t := fw.tasks[taskID]
	if t == nil || t.agentID != agentID || !bytes.Equal(t.statusUpdateUUID, ack.GetUuid()) {
		return
	}
	// The acknowledged update stays the task's status_update_state (what
	// reconciliation answers) until the agent forwards the next one.
	if t.statusUpdateState != nil && t.statusUpdateState.IsTerminal() {
		c.removeTask(fw, t)
		c.checkDrained(a)
	}
}

// kill asks the task's agent to kill it. A task the master does not know
// is answered by explicit reconciliation, as in Mesos.
func (c *Core) kill(fw *framework, k *schedpb.Call_Kill) {
	taskID := k.GetTaskId().GetValue()
	t := fw.tasks[taskID]
	if t == nil {
		c.reconcileTask(fw, taskID, k.GetAgentId().GetValue())
		return
	}
	a := c.agents[t.agentID]
	if a == nil {
		c.reconcileTask(fw, taskID, t.agentID)
		return
	}
	if a.conn == "" {
		// Sent when the agent re-registers, if it still runs the task.
		c.log.Info("cannot kill a task on a disconnected agent yet; the kill goes when it re-registers",
			"framework", fw.id, "task", taskID, "agent", a.id)
		a.killed[taskKey(fw.id, taskID)] = k.GetKillPolicy()
		return
	}
	c.sendToAgent(a, killTaskMsg(fw.id, taskID, k.GetKillPolicy()))
}

func (c *Core) shutdownExecutor(fw *framework, s *schedpb.Call_Shutdown) {
	a := c.agents[s.GetAgentId().GetValue()]
	if a == nil {
		return
	}
	c.sendToAgent(a, &agentproto.MasterMessage{
		Type: agentproto.MasterMessage_SHUTDOWN_EXECUTOR.Enum(),
		ShutdownExecutor: &agentproto.MasterMessage_ShutdownExecutor{
			FrameworkId: &mesos.FrameworkID{Value: &fw.id}, ExecutorId: s.GetExecutorId(),
		},
	})
}

func (c *Core) frameworkMessage(fw *framework, m *schedpb.Call_Message) {
	a := c.agents[m.GetAgentId().GetValue()]
	if a == nil {
		c.metrics.inc("master/invalid_framework_to_executor_messages")
		return
	}
	c.metrics.inc("master/valid_framework_to_executor_messages")
	c.sendToAgent(a, &agentproto.MasterMessage{
		Type: agentproto.MasterMessage_FRAMEWORK_TO_EXECUTOR.Enum(),
		FrameworkToExecutor: &agentproto.MasterMessage_FrameworkToExecutor{
			FrameworkId: &mesos.FrameworkID{Value: &fw.id}, ExecutorId: m.GetExecutorId(), Data: m.GetData(),
		},
	})
}

// reconcile answers RECONCILE: implicitly (no tasks named) with the state of
// every task the master knows for the framework, explicitly task by task.
func (c *Core) reconcile(fw *framework, r *schedpb.Call_Reconcile) {
	if len(r.GetTasks()) == 0 {
		for _, id := range sortedKeys(fw.tasks) {
			c.sendReconciled(fw, fw.tasks[id])
		}
		for _, t := range fw.unreachable {
			c.sendReconciled(fw, t)
		}
		return
	}
	for _, rt := range r.GetTasks() {
		c.reconcileTask(fw, rt.GetTaskId().GetValue(), rt.GetAgentId().GetValue())
	}
}

// sendReconciled answers reconciliation of a task the framework has: live,
// its status_update_state (the update on its way) or else its state; an
// unreachable one TASK_UNREACHABLE, even if it ended before its agent was
// marked unreachable (Mesos's Master::reconcile answers those by their
// agent).
func (c *Core) sendReconciled(fw *framework, t *task) {
	state := t.state
	switch {
	case fw.tasks[t.id] != t:
		state = mesos.TaskState_TASK_UNREACHABLE
	case t.statusUpdateState != nil:
		state = *t.statusUpdateState
	}
	status := &mesos.TaskStatus{
		TaskId:    &mesos.TaskID{Value: &t.id},
		State:     state.Enum(),
		Source:    mesos.TaskStatus_SOURCE_MASTER.Enum(),
		Reason:    mesos.TaskStatus_REASON_RECONCILIATION.Enum(),
		Message:   ptr("Reconciliation: Latest task state"),
		AgentId:   &mesos.AgentID{Value: &t.agentID},
		Timestamp: ptr(secs(c.now)),
	}
	if t.executorID != nil {
		status.ExecutorId = &mesos.ExecutorID{Value: t.executorID}
	}
	if !t.unreachableTime.IsZero() {
		status.UnreachableTime = &mesos.TimeInfo{Nanoseconds: ptr(t.unreachableTime.UnixNano())}
	}
	c.sendToFramework(fw, &schedpb.Event{Type: schedpb.Event_UPDATE.Enum(), Update: &schedpb.Event_Update{Status: status}})
}

// reconcileTask answers explicit reconciliation for one task, as Mesos's
// Master::reconcile does: the task's state while the framework has it
// (live, or unreachable), otherwise by where its agent is. A task that
// ended is answered so too, even when the master recorded how it ended:
// its end may never have reached the framework (removeAgent's update is
// dropped while the framework is away), and the agent, should it return,
// replays its stream of updates from the oldest one not acknowledged,
// which would show the framework a live state after a terminal one.
func (c *Core) reconcileTask(fw *framework, taskID, agentID string) {
	if t := fw.tasks[taskID]; t != nil {
		c.sendReconciled(fw, t)
		return
	}
	for _, t := range fw.unreachable {
		if t.id == taskID {
			c.sendReconciled(fw, t)
			return
		}
	}
	if _, ok := c.recovered[agentID]; ok && agentID != "" {
		// Its agent was recovered from the registry and has not
		// re-registered yet: the task may well be running there. Mesos
		// does not answer; the framework asks again later.
		return
	}
	var state mesos.TaskState
	var msg string
	var unreachableTime *mesos.TimeInfo
	switch {
	case agentID != "" && c.agents[agentID] != nil:
		state, msg = mesos.TaskState_TASK_GONE, "Reconciliation: Task is unknown to the agent"
	case agentID != "" && !c.unreachable[agentID].IsZero():
		state, msg = mesos.TaskState_TASK_UNREACHABLE, "Reconciliation: Task is unreachable"
		unreachableTime = &mesos.TimeInfo{Nanoseconds: ptr(c.unreachable[agentID].UnixNano())}
	case agentID != "" && !c.gone[agentID].IsZero():
		state, msg = mesos.TaskState_TASK_GONE_BY_OPERATOR, "Reconciliation: Task is gone"
	default:
		state, msg = mesos.TaskState_TASK_UNKNOWN, "Reconciliation: Task is unknown"
	}
	if !fw.partitionAware() {
		state = mesos.TaskState_TASK_LOST
	}
	status := &mesos.TaskStatus{
		TaskId:          &mesos.TaskID{Value: &taskID},
		State:           state.Enum(),
		Source:          mesos.TaskStatus_SOURCE_MASTER.Enum(),
		Reason:          mesos.TaskStatus_REASON_RECONCILIATION.Enum(),
		Message:         &msg,
		Timestamp:       ptr(secs(c.now)),
		UnreachableTime: unreachableTime,
	}
	if agentID != "" {
		status.AgentId = &mesos.AgentID{Value: &agentID}
	}
	c.sendToFramework(fw, &schedpb.Event{Type: schedpb.Event_UPDATE.Enum(), Update: &schedpb.Event_Update{Status: status}})
}
