package core

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	registrypb "github.com/gomesos/gomesos/api/registry"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/master/allocator"
	"github.com/gomesos/gomesos/resources"
)

// agent is the master's record of an admitted agent.
type agent struct {
	id      string
	info    *mesos.AgentInfo
	total   resources.Resources
	version string
	// endpoint is "ip:port" where the agent serves HTTP (its libprocess
	// address in Mesos terms).
	endpoint string
	conn     string // "" while disconnected
	// active is whether the agent is offered: connected and not
	// deactivated by the operator.
	active bool
	// deactivated is set by DEACTIVATE_AGENT and DRAIN_AGENT, until
	// REACTIVATE_AGENT; drain is the agent's drain, nil when not drained.
	deactivated bool
	drain       *mesos.DrainInfo

	registeredTime   time.Time
	reregisteredTime time.Time

	lastPing      time.Time
	pongSincePing bool
	pingTimeouts  int

	tasks     map[string]*task // by framework id + "/" + task id
	offers    map[string]*offer
	executors map[string]*mesos.ExecutorInfo // by framework id + "/" + executor id
	// killed holds the kills of its tasks the master could not send while
	// the agent was disconnected, by task key: they go out when it
	// re-registers (Mesos's Slave::killedTasks). An entry goes with its task.
	killed map[string]*mesos.KillPolicy

	pub publishedAgent
}

func taskKey(fwID, taskID string) string   { return fwID + "/" + taskID }
func executorKey(fwID, exID string) string { return fwID + "/" + exID }
func (a *agent) pid() string               { return "slave(1)@" + a.endpointOrHost() }

// endpointOrHost is the agent's "ip:port", or "hostname:port" for agents
// that did not say where they listen.
func (a *agent) endpointOrHost() string {
	if a.endpoint != "" {
		return a.endpoint
	}
	return joinHostPort(a.info.GetHostname(), strconv.Itoa(int(a.info.GetPort())))
}

// ip is the agent's IP address (its hostname when it is not known).
func (a *agent) ip() string {
	host, ok := hostOf(a.endpointOrHost())
	if !ok {
		return a.info.GetHostname()
	}
	return host
}

func (a *agent) used() resources.Resources { return a.sumTasks() }
func shutdownFrameworkMsg(fwID string) *agentproto.MasterMessage {
	return &agentproto.MasterMessage{
		Type:              agentproto.MasterMessage_SHUTDOWN_FRAMEWORK.Enum(),
		ShutdownFramework: &agentproto.MasterMessage_ShutdownFramework{FrameworkId: &mesos.FrameworkID{Value: &fwID}},
	}
}

// sumTasks sums what the agent's live tasks and its executors use, in key
// order, so that the views list the sum's parts in a stable order.
func (a *agent) sumTasks() resources.Resources {
	var sum resources.Resources
	for _, key := range sortedKeys(a.tasks) {
		if t := a.tasks[key]; !t.resourcesRecovered {
			sum.AddInPlace(t.res)
		}
	}
	for _, key := range sortedKeys(a.executors) {
		if r, err := resources.FromProto(a.executors[key].GetResources()); err == nil {
			sum.AddInPlace(r)
		}
	}
	return sum
}

func (a *agent) offered() resources.Resources {
	var sum resources.Resources
	for _, id := range sortedKeys(a.offers) {
		sum.AddInPlace(a.offers[id].res)
	}
	return sum
}

func (c *Core) agentSubscribe(in AgentSubscribe) Result {
	msg := in.Msg
	reg := msg.GetRegister()
	if reg == nil || reg.GetAgentInfo() == nil {
		return fail(Invalid, "Expecting 'register' to be present")
	}
	if err := validateAgentRegistration(reg); err != nil {
		c.log.Warn("refusing an agent's registration with an invalid id", "type", msg.GetType().String(), "err", err)
		return fail(Invalid, "%s", err.Error())
	}
	// The core keeps what an agent reports, its tasks as they came
	// (newTaskFromAgent): the AgentInfo is copied only where it is changed
	// (a new agent's takes its id).
	info := reg.GetAgentInfo()
	if msg.GetType() == agentproto.AgentMessage_REGISTER {
		info = clone(info)
	}
	total, err := resources.FromProto(info.GetResources())
	if err != nil {
		return fail(Invalid, "Invalid agent resources: %v", err)
	}
	switch msg.GetType() {
	case agentproto.AgentMessage_REGISTER:
		c.metrics.inc("master/messages_register_slave")
		return c.registerAgent(in.Conn, info, total, reg)
	case agentproto.AgentMessage_REREGISTER:
		c.metrics.inc("master/messages_reregister_slave")
		return c.reregisterAgent(in.Conn, info, total, reg)
	}
	return fail(Invalid, "Expecting a REGISTER or REREGISTER message, got %s", msg.GetType())
}

func (c *Core) registerAgent(conn string, info *mesos.AgentInfo, total resources.Resources, reg *agentproto.AgentMessage_Register) Result {
	if c.refuseDownAgent(conn, info, reg.GetEndpoint()) {
		return Result{Code: OK}
	}
	id := fmt.Sprintf("%s-S%d", c.info.GetId(), c.nextAgent)
	c.nextAgent++
	info.Id = &mesos.AgentID{Value: &id}
	// The admission is durable before the agent hears REGISTERED.
	// The agent's info as the core keeps it (never changed, replaced when
	// it changes): an in-memory registry keeps the same message.
	c.persist(&registrypb.Operation{Type: registrypb.Operation_ADMIT_AGENT.Enum(), AgentInfo: info})
	a := c.newAgent(id, info, total, reg)
	c.admitAgent(a)
	c.connectAgent(a, conn)
	c.alloc.AddAgent(id, allocatorAgent(info), total, nil)
	c.metrics.inc("master/slave_registrations")
	c.log.Info("agent registered", "agent", id, "hostname", info.GetHostname(), "resources", total.String())
	c.allocateSoon = true
	return Result{Code: OK, AgentID: id}
}

// newAgent is an agent admitted now, with no tasks, offers or executors.
func (c *Core) newAgent(id string, info *mesos.AgentInfo, total resources.Resources, reg *agentproto.AgentMessage_Register) *agent {
	return &agent{
		id: id, info: info, total: total, version: reg.GetVersion(), endpoint: reg.GetEndpoint(),
		registeredTime: c.now,
		// Room for the tasks a re-registering agent comes back with.
		tasks:     make(map[string]*task, len(reg.GetTasks())),
		offers:    map[string]*offer{},
		executors: map[string]*mesos.ExecutorInfo{},
		killed:    map[string]*mesos.KillPolicy{},
	}
}

func allocatorAgent(info *mesos.AgentInfo) allocator.Agent {
	// Attributes were validated when the agent registered; one that does
	// not convert is left out (no constraint can select it then).
	var attrs []resources.Attribute
	for _, pb := range info.GetAttributes() {
		if a, err := resources.AttributeFromProto(pb); err == nil {
			attrs = append(attrs, a)
		}
	}
	fd := info.GetDomain().GetFaultDomain()
	return allocator.Agent{
		Hostname:   info.GetHostname(),
		Attributes: attrs,
		Region:     fd.GetRegion().GetName(),
		Zone:       fd.GetZone().GetName(),
	}
}

// reregisterAgent admits an agent back with what it is running. It may be
// one the master has (it lost its connection), one recovered from the
// registry after a failover (which the registry admitted already), or one
// the master had marked unreachable: the registry takes that one back
// (MARK_AGENT_REACHABLE) before it hears REGISTERED. So does an agent on
// neither list (its unreachable entry was garbage collected, or the
// registry was in memory and the master restarted), as Mesos's registrar
// admits it anyway. An agent marked gone is told to shut down.
func (c *Core) reregisterAgent(conn string, info *mesos.AgentInfo, total resources.Resources, reg *agentproto.AgentMessage_Register) Result {
	id := info.GetId().GetValue()
	if _, gone := c.gone[id]; gone {
		c.log.Warn("refusing the re-registration of an agent marked gone", "agent", id)
		c.emit(SendAgent{Conn: conn, Msg: &agentproto.MasterMessage{
			Type:    agentproto.MasterMessage_SHUTDOWN.Enum(),
			Message: ptr("Agent has been marked gone"),
		}})
		c.emit(CloseAgent{Conn: conn})
		return Result{Code: OK, AgentID: id}
	}
	if c.refuseDownAgent(conn, info, reg.GetEndpoint()) {
		return Result{Code: OK, AgentID: id}
	}
	a := c.agents[id]
	// How the agent comes back: one the master has (known), one it had
	// marked unreachable (returning), one recovered from the registry
	// (recovering), or one on neither list (forgotten).
	back := known
	if a == nil {
		if known, ok := c.recovered[id]; ok {
			back = recovering
			c.forgetRecovered(id)
			c.cancelRemoval(id)
			if !c.sameAgentInfo(known, info) {
				c.persist(&registrypb.Operation{Type: registrypb.Operation_UPDATE_AGENT.Enum(), AgentInfo: clone(info)})
			}
		} else {
			c.persist(&registrypb.Operation{Type: registrypb.Operation_MARK_AGENT_REACHABLE.Enum(), AgentInfo: clone(info)})
			if _, wasUnreachable := c.unreachable[id]; wasUnreachable {
				back = returning
				c.forgetUnreachable(id)
			} else {
				// Unknown to the registry: its entry was garbage
				// collected, or the registry was in memory and the
				// master restarted. Nobody was told anything of its
				// tasks: they come back as a recovered agent's do.
				back = forgotten
			}
		}
		a = c.newAgent(id, info, total, reg)
		if back == recovering {
			c.restoreAgentState(a)
		}
		c.admitAgent(a)
	} else {
		c.cancelRemoval(id)
		if !c.sameAgentInfo(a.info, info) {
			c.persist(&registrypb.Operation{Type: registrypb.Operation_UPDATE_AGENT.Enum(), AgentInfo: clone(info)})
		}
		if a.conn != "" && a.conn != conn {
			delete(c.agentConns, a.conn)
			c.emit(CloseAgent{Conn: a.conn})
		}
	}
	a.info = info
	a.endpoint = reg.GetEndpoint()
	a.reregisteredTime = c.now
	// connectAgent marks the agent active; the allocator must hear of it
	// too, or a reconnected agent is never offered again.
	wasActive := a.active
	c.connectAgent(a, conn)
	c.metrics.inc("master/slave_reregistrations")
	adopted := c.reconcileAgent(a, reg, back)
	c.settleOperations(a, total)
	switch {
	case back != known:
		// What came back with it is charged again.
		a.total = withHeldRevocable(total, a)
		c.alloc.AddAgent(id, allocatorAgent(info), a.total, c.agentUsedByFramework(a))
	case adopted || !a.total.NonRevocable().Equal(total):
		// The agent's resources changed, or it runs executors the master
		// did not know of: start its accounting afresh. (Its revocable
		// resources are not in its AgentInfo: it sends them again,
		// UPDATE_AGENT, once registered.)
		c.rescindAgentOffers(a)
		c.alloc.RemoveAgent(id)
		a.total = withHeldRevocable(total, a)
		c.alloc.AddAgent(id, allocatorAgent(info), a.total, c.agentUsedByFramework(a))
	}
	switch {
	case a.deactivated:
		c.alloc.DeactivateAgent(id)
	case !wasActive:
		c.alloc.ActivateAgent(id)
	}
	if back == recovering {
		// The kills a draining agent missed while the master failed
		// over (those of a disconnected one wait in a.killed).
		c.killDrainingTasks(a)
	}
	c.checkDrained(a)
	if c.agents[id] == nil {
		// Drained and marked gone on its return.
		return Result{Code: OK, AgentID: id}
	}
	c.log.Info("agent reregistered", "agent", id, "hostname", info.GetHostname(), "as", back.String())
	c.allocateSoon = true
	return Result{Code: OK, AgentID: id}
}

// sameAgentInfo reports whether an agent comes back with the AgentInfo the
// master has, so that the registry need not be updated: whether the two
// encode alike, which is much cheaper than proto.Equal's walk (a failover
// compares every agent's), and tells apart only what Equal would, but
// for a float's sign of zero (an update written for nothing).
func (c *Core) sameAgentInfo(a, b *mesos.AgentInfo) bool {
	opts := proto.MarshalOptions{Deterministic: true}
	var errA, errB error
	c.infoA, errA = opts.MarshalAppend(c.infoA[:0], a)
	c.infoB, errB = opts.MarshalAppend(c.infoB[:0], b)
	if errA != nil || errB != nil {
		return proto.Equal(a, b)
	}
	return bytes.Equal(c.infoA, c.infoB)
}

// agentReturn is how an agent comes back (reregisterAgent).
type agentReturn int

const (
	known agentReturn = iota
	returning
	recovering
	forgotten
)

func (b agentReturn) String() string {
	return [...]string{"known", "returning", "recovering", "forgotten"}[b]
}

// reconcileAgent brings the master's view of a re-registering agent in line
// with what the agent reports, both ways. Mesos does this in
// Master::reconcileKnownSlave for an agent it still has and in
// Master::__reregisterSlave for one it had removed (marked unreachable):
//
//   - Frameworks the agent runs that the master does not have are
//     recovered from the FrameworkInfo the agent reports (Mesos's
//     Master::recoverFramework): after a failover the new master learns
//     of frameworks from their agents first, and keeps them, disconnected,
//     for their schedulers to resubscribe. Completed frameworks, and any
//     the agent reports no FrameworkInfo for, are shut down on the agent.
//   - A task the master holds on the agent that the agent does not report
//     is gone. Mesos asks the agent, which answers TASK_DROPPED for a
//     partition-aware framework and TASK_LOST for others, reason
//     REASON_RECONCILIATION ("Reconciliation: task unknown to the
//     agent"); here the master gives that answer itself. A task that had
//     ended, its end not yet acknowledged, ends for good with the end the
//     master recorded, but the framework hears the agent's answer all the
//     same (as __removeSlave reports TASK_LOST whatever a task's end).
//     Either way its resources are recovered.
//   - If the agent says it restarted (it recovered its id from its
//     checkpoint), such a task died with it (its framework did not
//     checkpoint): TASK_LOST, or TASK_GONE to a partition-aware
//     framework, with REASON_AGENT_RESTARTED.
//   - An executor the master holds on the agent that the agent does not
//     report is removed and its resources recovered (removeExecutor).
//   - A task both know is left to the status updates the agent resends,
//     which carry what happened while it was away; a kill the master
//     could not deliver while the agent was disconnected goes to it now,
//     if the agent reports it still live (Mesos's killedTasks).
//   - A task the agent reports and the master does not hold: on an agent
//     the master had removed, a partition-aware framework's task is
//     adopted again (no longer unreachable, nor completed, MESOS-9940) and
//     the framework hears its state with REASON_AGENT_REREGISTERED. Any
//     other live one is killed: that of a framework that is not partition
//     aware, which was told TASK_LOST (Mesos before 1.5 did the same;
//     later versions re-add it, which would show the framework a task
//     come back from a terminal state), or one the master cannot place.
//     A task of a removed agent that the master has no record of at all
//     (it marked the agent unreachable without knowing its tasks, when it
//     did not come back after a failover) is booked first, live or ended,
//     so that its end is counted and its acknowledgement ends it.
//   - An executor the agent reports for a framework the master has and
//     that the master does not hold is adopted and charged, as Mesos adds
//     a returning agent's executors.
//   - The unreachable tasks a removed agent comes back without are
//     TASK_GONE (Mesos drops them silently; explicit reconciliation would
//     answer TASK_GONE).
//   - An agent recovered from the registry (recovering) brings back
//     everything it runs: the master knew none of it. Its tasks and
//     executors are added without an update, as Mesos adds them; the
//     agent resends the updates its frameworks have not acknowledged;
//     an ended one's end is counted then (adoptTask).
//     So does an agent on neither list (forgotten: the master garbage
//     collected its unreachable entry, or restarted with an in-memory
//     registry), none of whose tasks is killed (Mesos 1.5+ re-adds them
//     all); a partition-aware framework hears its tasks' state, since it
//     may have heard them unreachable.
//
// It reports whether it charged anything to an agent the master still had,
// which the allocator must then be told of.
func (c *Core) reconcileAgent(a *agent, reg *agentproto.AgentMessage_Register, back agentReturn) (adopted bool) {
	removed := back == returning
	reported := map[string]*mesos.Task{}
	for _, t := range reg.GetTasks() {
		reported[taskKey(t.GetFrameworkId().GetValue(), t.GetTaskId().GetValue())] = t
	}
	reportedExecutors := map[string]*mesos.ExecutorInfo{}
	for _, rec := range reg.GetExecutors() {
		info := rec.GetInfo()
		reportedExecutors[executorKey(info.GetFrameworkId().GetValue(), info.GetExecutorId().GetValue())] = info
	}

	// Frameworks the master does not have.
	unknown := map[string]bool{}
	for _, fi := range reg.GetFrameworks() {
		unknown[fi.GetId().GetValue()] = true
	}
	for _, t := range reg.GetTasks() {
		unknown[t.GetFrameworkId().GetValue()] = true
	}
	for _, info := range reportedExecutors {
		unknown[info.GetFrameworkId().GetValue()] = true
	}
	infos := map[string]*mesos.FrameworkInfo{}
	for _, fi := range reg.GetFrameworks() {
		infos[fi.GetId().GetValue()] = fi
	}
	for _, fwID := range sortedKeys(unknown) {
		if fwID == "" || c.frameworks[fwID] != nil {
			continue
		}
		if info := infos[fwID]; info != nil && !c.removedFWs[fwID] && validateFrameworkInfo(info, nil) == nil {
			c.recoverFramework(clone(info))
			continue
		}
		c.log.Info("shutting down a framework the master does not have on a re-registered agent", "agent", a.id, "framework", fwID)
		c.sendToAgent(a, shutdownFrameworkMsg(fwID))
	}

	// What the master holds and the agent does not.
	for _, key := range sortedKeys(a.tasks) {
		t := a.tasks[key]
		if _, ok := reported[key]; ok {
			continue
		}
		fw := c.frameworks[t.frameworkID]
		var state mesos.TaskState
		// What the framework hears is what the agent would answer for a
		// task it does not know, also for a task whose end the master
		// recorded (and keeps: masterTaskUpdate), as Mesos's
		// __removeSlave reports TASK_LOST whatever end a task had: the
		// framework may have heard the task lost from an earlier master,
		// and must not hear it end otherwise now.
		if reg.GetRestarted() {
			// The agent restarted and recovered only what its
			// checkpointing frameworks run: the task died with it.
			state = mesos.TaskState_TASK_LOST
			if fw != nil && fw.partitionAware() {
				state = mesos.TaskState_TASK_GONE
			}
			c.log.Warn("task lost in the restart of its agent", "agent", a.id, "framework", t.frameworkID, "task", t.id, "state", state.String())
			c.masterTaskUpdate(fw, t, state, mesos.TaskStatus_REASON_AGENT_RESTARTED, "Task lost: the agent restarted")
			continue
		}
		state = mesos.TaskState_TASK_LOST
		if fw != nil && fw.partitionAware() {
			state = mesos.TaskState_TASK_DROPPED
		}
		c.log.Warn("task unknown to the re-registered agent", "agent", a.id, "framework", t.frameworkID, "task", t.id, "state", state.String())
		c.masterTaskUpdate(fw, t, state, mesos.TaskStatus_REASON_RECONCILIATION, "Reconciliation: task unknown to the agent")
	}
	for _, key := range sortedKeys(a.executors) {
		if _, ok := reportedExecutors[key]; !ok {
			ex := a.executors[key]
			c.log.Warn("executor unknown to the re-registered agent", "agent", a.id,
				"framework", ex.GetFrameworkId().GetValue(), "executor", ex.GetExecutorId().GetValue())
			c.removeExecutor(a, ex.GetFrameworkId().GetValue(), ex.GetExecutorId().GetValue())
		}
	}

	// What the agent reports.
	for _, key := range sortedKeys(reported) {
		rt := reported[key]
		fw := c.frameworks[rt.GetFrameworkId().GetValue()]
		if fw == nil {
			continue // shut down above
		}
		taskID := rt.GetTaskId().GetValue()
		live := !rt.GetState().IsTerminal()
		if t := a.tasks[key]; t != nil {
			if _, killed := a.killed[key]; killed && live {
				c.sendToAgent(a, killTaskMsg(fw.id, taskID, a.killed[key]))
			}
			continue
		}
		if (back == recovering || back == forgotten) && fw.tasks[taskID] == nil {
			c.adoptTask(fw, a, rt, key, back == forgotten && fw.partitionAware())
			continue
		}
		if removed && fw.partitionAware() && fw.tasks[taskID] == nil {
			c.adoptTask(fw, a, rt, key, true)
			continue
		}
		if removed && fw.tasks[taskID] == nil && !hasTask(fw.unreachable, taskID, a.id) && !hasTask(fw.completed, taskID, a.id) {
			// A task this master never knew: it marked the agent
			// unreachable when it did not come back after a failover,
			// or the agent was unreachable in the registry it
			// recovered. It books the task, so that its end, which
			// the agent sends, is counted and its acknowledgement
			// ends it; one that runs is killed all the same (an
			// earlier master may have told the framework it was lost).
			c.adoptTask(fw, a, rt, key, false)
			if live {
				c.sendToAgent(a, killTaskMsg(fw.id, taskID, nil))
			}
			continue
		}
		if removed {
			fw.unreachable = removeAgentTask(fw.unreachable, taskID, a.id)
			c.taskListsChanged(fw)
		}
		if live {
			c.sendToAgent(a, killTaskMsg(fw.id, taskID, nil))
		}
	}
	for _, key := range sortedKeys(reportedExecutors) {
		info := reportedExecutors[key]
		fw := c.frameworks[info.GetFrameworkId().GetValue()]
		if fw == nil || a.executors[key] != nil {
			continue
		}
		c.addExecutor(fw, a, clone(info))
		adopted = back == known
	}

	if !removed {
		return adopted
	}
	// Unreachable tasks the removed agent no longer has are gone.
	for _, fwID := range sortedKeys(c.frameworks) {
		fw := c.frameworks[fwID]
		for _, t := range slices.Clone(fw.unreachable) {
			if _, ok := reported[taskKey(fwID, t.id)]; ok || t.agentID != a.id {
				continue
			}
			fw.unreachable = removeAgentTask(fw.unreachable, t.id, a.id)
			c.taskListsChanged(fw)
			c.masterTaskUpdate(fw, t, mesos.TaskState_TASK_GONE, mesos.TaskStatus_REASON_AGENT_REREGISTERED, "Task is unknown to the agent")
		}
	}
	return false
}

// adoptTask takes back a task a removed agent returns with, for a
// partition-aware framework, or one a recovered agent runs: it is the
// framework's live task again (or, if it ended while away, one whose end
// is yet to be delivered). key is its key among the agent's tasks
// (taskKey). With notify, the framework hears its state.
func (c *Core) adoptTask(fw *framework, a *agent, rt *mesos.Task, key string, notify bool) {
	t := newTaskFromAgent(rt, a.id, &c.adopted)
	t.key = key // taskKey(fw.id, t.id), made once for the agent's report
	if t.state.IsTerminal() {
		// Its end was not counted against the agent while away; its
		// resources are free, and the update the agent resends ends it.
		t.resourcesRecovered = true
		// The master learns of the end now, and counts it now (unless it
		// counted it before the agent went away): the update the agent
		// resends may never reach this master, while the framework hears
		// the end from reconciliation and tears itself down. (Mesos's
		// master counts only the ends it sees happen, and so never this
		// one; a master that took over from one that counted it counts
		// it again.)
		if old := agentTaskIn(fw.unreachable, t.id, a.id); old != nil && old.counted {
			t.counted = true
		} else if old := agentTaskIn(fw.completed, t.id, a.id); old != nil && old.counted {
			t.counted = true
		}
		source, reason := endCause(rt)
		c.countTerminal(t, t.state, source, reason)
	}
	fw.tasks[t.id] = t
	a.tasks[t.agentKey()] = t
	fw.unreachable = removeAgentTask(fw.unreachable, t.id, a.id)
	fw.completed = removeAgentTask(fw.completed, t.id, a.id)
	c.taskChanged(fw, t)
	c.taskListsChanged(fw)
	c.opTaskAdded(t)
	if c.log.Enabled(context.Background(), slog.LevelDebug) {
		// Not built otherwise: a failover adopts every task of every
		// agent, and the arguments would cost an allocation each.
		c.log.Debug("task of a re-registered agent adopted", "agent", a.id, "framework", fw.id, "task", t.id, "state", t.state.String())
	}
	if !notify {
		return
	}
	status := &mesos.TaskStatus{
		TaskId:    &mesos.TaskID{Value: &t.id},
		State:     t.state.Enum(),
		Source:    mesos.TaskStatus_SOURCE_MASTER.Enum(),
		Reason:    mesos.TaskStatus_REASON_AGENT_REREGISTERED.Enum(),
		Message:   ptr("Unreachable agent re-registered"),
		AgentId:   &mesos.AgentID{Value: &a.id},
		Timestamp: ptr(secs(c.now)),
	}
	if t.executorID != nil {
		status.ExecutorId = &mesos.ExecutorID{Value: t.executorID}
	}
	c.sendToFramework(fw, &schedpb.Event{Type: schedpb.Event_UPDATE.Enum(), Update: &schedpb.Event_Update{Status: status}})
}

// addExecutor records a custom or default executor of fw on agent a.
func (c *Core) addExecutor(fw *framework, a *agent, info *mesos.ExecutorInfo) {
	exID := info.GetExecutorId().GetValue()
	a.executors[executorKey(fw.id, exID)] = info
	if fw.executors[a.id] == nil {
		fw.executors[a.id] = map[string]*mesos.ExecutorInfo{}
	}
	fw.executors[a.id][exID] = info
	c.executorsChanged(fw, a.id)
}

// removeExecutor forgets an executor on agent a and recovers its
// resources (Mesos's Master::removeExecutor).
func (c *Core) removeExecutor(a *agent, fwID, exID string) {
	ex := a.executors[executorKey(fwID, exID)]
	if ex == nil {
		return
	}
	delete(a.executors, executorKey(fwID, exID))
	c.agentChanged(a)
	if r, err := resources.FromProto(ex.GetResources()); err == nil {
		c.alloc.RecoverResources(fwID, a.id, r, 0, c.now)
		c.allocateSoon = true
	}
	if fw := c.frameworks[fwID]; fw != nil {
		c.executorsChanged(fw, a.id)
		if exs := fw.executors[a.id]; exs != nil {
			delete(exs, exID)
			if len(exs) == 0 {
				delete(fw.executors, a.id)
			}
		}
	}
}

// agentUsedByFramework is what each framework uses on an agent: its live
// tasks and its executors.
func (c *Core) agentUsedByFramework(a *agent) map[string]resources.Resources {
	used := map[string]resources.Resources{}
	add := func(fwID string, r resources.Resources) {
		sum := used[fwID]
		sum.AddInPlace(r)
		used[fwID] = sum
	}
	for _, t := range a.tasks {
		if !t.resourcesRecovered {
			add(t.frameworkID, t.res)
		}
	}
	for _, ex := range a.executors {
		if r, err := resources.FromProto(ex.GetResources()); err == nil {
			add(ex.GetFrameworkId().GetValue(), r)
		}
	}
	return used
}

func (c *Core) connectAgent(a *agent, conn string) {
	c.agentChanged(a)
	a.conn = conn
	a.active = !a.deactivated
	a.lastPing = c.now
	a.pongSincePing = true
	a.pingTimeouts = 0
	c.pingDueAt(a.lastPing.Add(c.opts.AgentPingTimeout))
	c.agentConns[conn] = a
	c.emit(SendAgent{Conn: conn, Msg: &agentproto.MasterMessage{
		Type: agentproto.MasterMessage_REGISTERED.Enum(),
		Registered: &agentproto.MasterMessage_Registered{
			AgentId: &mesos.AgentID{Value: &a.id},
			// The master's MasterInfo never changes: every REGISTERED
			// shares it rather than a copy per agent.
			MasterInfo:          c.info,
			PingIntervalSeconds: ptr(c.opts.AgentPingTimeout.Seconds()),
			PingTimeoutSeconds:  ptr(c.opts.AgentPingTimeout.Seconds() * float64(c.opts.MaxAgentPingTimeouts)),
			AcceptsBatches:      ptr(true),
			Successor:           c.successor,
		},
	}})
}

func (c *Core) agentMessage(in AgentMessage) Result {
	a := c.agents[in.AgentID]
	if a == nil || a.conn == "" || a.conn != in.Conn {
		return fail(Conflict, "Agent %s is not registered on stream %s", in.AgentID, in.Conn)
	}
	msg := in.Msg
	switch msg.GetType() {
	case agentproto.AgentMessage_PONG:
		a.pongSincePing = true
		a.pingTimeouts = 0
		c.cancelRemoval(a.id)
	case agentproto.AgentMessage_STATUS_UPDATE:
		c.metrics.inc("master/messages_status_update")
		c.statusUpdate(a, msg.GetStatusUpdate())
	case agentproto.AgentMessage_EXECUTOR_EXITED:
		c.metrics.inc("master/messages_exited_executor")
		c.executorExited(a, msg.GetExecutorExited())
	case agentproto.AgentMessage_EXECUTOR_TO_FRAMEWORK:
		c.metrics.inc("master/messages_executor_to_framework")
		m := msg.GetExecutorToFramework()
		fw := c.frameworks[m.GetFrameworkId().GetValue()]
		if fw == nil || fw.stream == "" {
			c.metrics.inc("master/invalid_executor_to_framework_messages")
			break
		}
		c.metrics.inc("master/valid_executor_to_framework_messages")
		c.sendToFramework(fw, &schedpb.Event{Type: schedpb.Event_MESSAGE.Enum(), Message: &schedpb.Event_Message{
			AgentId: &mesos.AgentID{Value: &a.id}, ExecutorId: m.GetExecutorId(), Data: m.GetData(),
		}})
	case agentproto.AgentMessage_OPERATION_STATUS:
		c.operationStatus(a, msg.GetOperationStatus())
	case agentproto.AgentMessage_UPDATE_AGENT:
		c.metrics.inc("master/messages_update_slave")
		return c.updateOversubscribed(a, msg.GetUpdateAgent())
	case agentproto.AgentMessage_UNREGISTER:
		c.metrics.inc("master/messages_unregister_slave")
		c.metrics.inc("master/slave_removals/reason_unregistered")
		c.cancelRemoval(a.id)
		c.removeAgent(a, "unregistered", mesos.TaskStatus_REASON_AGENT_REMOVED)
	default:
		return fail(Invalid, "Unexpected agent message type %s", msg.GetType())
	}
	return ok()
}

func (c *Core) executorExited(a *agent, m *agentproto.AgentMessage_ExecutorExited) {
	fwID := m.GetFrameworkId().GetValue()
	exID := m.GetExecutorId().GetValue()
	if _, ok := a.executors[executorKey(fwID, exID)]; !ok {
		return // the built-in command executor, which the master does not track
	}
	c.removeExecutor(a, fwID, exID)
	fw := c.frameworks[fwID]
	if fw == nil {
		return
	}
	c.sendToFramework(fw, &schedpb.Event{Type: schedpb.Event_FAILURE.Enum(), Failure: &schedpb.Event_Failure{
		AgentId: &mesos.AgentID{Value: &a.id}, ExecutorId: m.GetExecutorId(), Status: ptr(m.GetStatus()),
	}})
	c.allocateSoon = true
}

// agentClosed marks an agent disconnected: it gets no offers and its
// outstanding offers are rescinded. Tasks of frameworks that do not
// checkpoint cannot survive an agent failure, so they are lost right away.
// If the agent does not come back, the ping timeouts remove it.
func (c *Core) agentClosed(conn string) {
	a := c.agentConns[conn]
	if a == nil {
		return
	}
	delete(c.agentConns, conn)
	if a.conn != conn {
		return
	}
	c.log.Info("agent disconnected", "agent", a.id)
	c.agentChanged(a)
	a.conn = ""
	if a.active {
		a.active = false
		c.alloc.DeactivateAgent(a.id)
	}
	c.rescindAgentOffers(a)
	for _, key := range sortedKeys(a.tasks) {
		t := a.tasks[key]
		fw := c.frameworks[t.frameworkID]
		if fw != nil && !fw.info.GetCheckpoint() && !t.state.IsTerminal() {
			c.masterTaskUpdate(fw, t, mesos.TaskState_TASK_LOST, mesos.TaskStatus_REASON_AGENT_DISCONNECTED, "Agent disconnected")
		}
	}
}

// checkAgentPings pings every agent each agent_ping_timeout; an agent that
// misses max_agent_ping_timeouts pongs in a row is removed.
//
// The walk over every agent is skipped until the earliest ping falls due
// (pingsDue): after a failover 10,000 agents are back within seconds, and
// a tick walking them all every 100ms would compete with their
// re-registrations for nothing.
func (c *Core) checkAgentPings() {
	if !c.pingsDue.IsZero() && c.now.Before(c.pingsDue) {
		return
	}
	c.pingsDue = time.Time{}
	var unhealthy []*agent
	for _, id := range c.sortedAgentOrder() {
		a := c.agents[id]
		if c.now.Sub(a.lastPing) < c.opts.AgentPingTimeout {
			c.pingDueAt(a.lastPing.Add(c.opts.AgentPingTimeout))
			continue
		}
		if !a.pongSincePing {
			a.pingTimeouts++
		}
		if a.pingTimeouts >= c.opts.MaxAgentPingTimeouts {
			unhealthy = append(unhealthy, a)
			continue
		}
		a.lastPing = c.now
		a.pongSincePing = false
		c.pingDueAt(a.lastPing.Add(c.opts.AgentPingTimeout))
		c.sendToAgent(a, &agentproto.MasterMessage{Type: agentproto.MasterMessage_PING.Enum()})
	}
	for _, a := range unhealthy {
		// Due again at the next tick, as before.
		c.pingDueAt(c.now)
		c.log.Warn("agent failed health checks", "agent", a.id, "timeouts", a.pingTimeouts)
		c.scheduleRemoval(a.id, "health check timed out")
	}
}

// pingDueAt notes that an agent's ping falls due at t.
func (c *Core) pingDueAt(t time.Time) {
	if c.pingsDue.IsZero() || t.Before(c.pingsDue) {
		c.pingsDue = t
	}
}

// admitAgent adds an agent to the master's books.
func (c *Core) admitAgent(a *agent) {
	_, known := c.agents[a.id]
	if !known {
		c.agentOrder = append(c.agentOrder, a.id)
	}
	c.agents[a.id] = a
	c.agentChanged(a)
	if !known {
		c.opAgentAdded(a)
	}
}

// forgetAgent removes an agent from the master's books.
func (c *Core) forgetAgent(id string) {
	if _, known := c.agents[id]; !known {
		return
	}
	c.agentChanged(c.agents[id])
	delete(c.agents, id)
	c.opAgentRemoved(id)
	if i, found := slices.BinarySearch(c.sortedAgentOrder(), id); found {
		c.agentOrder = slices.Delete(c.agentOrder, i, i+1)
		c.agentOrderSorted--
	}
}

// sortedAgentOrder is every agent's id, sorted.
func (c *Core) sortedAgentOrder() []string {
	n := c.agentOrderSorted
	if n == len(c.agentOrder) {
		return c.agentOrder
	}
	head, tail := c.agentOrder[:n], slices.Clone(c.agentOrder[n:])
	slices.Sort(tail)
	merged := make([]string, 0, len(c.agentOrder))
	for len(head) > 0 && len(tail) > 0 {
		if head[0] < tail[0] {
			merged, head = append(merged, head[0]), head[1:]
		} else {
			merged, tail = append(merged, tail[0]), tail[1:]
		}
	}
	merged = append(append(merged, head...), tail...)
	c.agentOrder, c.agentOrderSorted = merged, len(merged)
	return merged
}

// removeAgent marks an agent unreachable and removes it: partition-aware
// frameworks learn TASK_UNREACHABLE for its tasks (those that ended too),
// others TASK_LOST; offers
// on it are rescinded and every framework gets FAILURE{agent_id}.
func (c *Core) removeAgent(a *agent, why string, reason mesos.TaskStatus_Reason) {
	c.log.Info("removing agent", "agent", a.id, "reason", why)
	// The registry knows the agent unreachable before anyone hears of it.
	c.persist(&registrypb.Operation{
		Type: registrypb.Operation_MARK_AGENT_UNREACHABLE.Enum(), AgentId: agentIDProto(a.id), Timestamp: timeInfo(c.now),
	})
	c.dropAgent(a, why, reason, false)
	c.markUnreachable(a.id)
}

// dropAgent takes an agent off the master's books: its offers rescinded,
// its tasks reported lost (unreachable or, when it is gone, gone by
// operator, to the partition-aware frameworks), its connection shut down.
func (c *Core) dropAgent(a *agent, why string, reason mesos.TaskStatus_Reason, gone bool) {
	c.operationsRemovedWith(a.id, gone)
	c.rescindAgentOffers(a)
	c.rescindInverseOffers(func(io *inverseOffer) bool { return io.agentID == a.id }, false)
	for _, key := range sortedKeys(a.tasks) {
		t := a.tasks[key]
		fw := c.frameworks[t.frameworkID]
		// As in Mesos's Master::__removeSlave, every task the agent holds
		// is reported lost (unreachable), also one that ended without its
		// end acknowledged: that end, which the master keeps and counted,
		// is still to come from the agent should it return, behind the
		// older updates the agent will resend first.
		switch {
		case fw != nil && fw.partitionAware() && gone:
			c.masterTaskUpdate(fw, t, mesos.TaskState_TASK_GONE_BY_OPERATOR, reason, "Agent "+why)
		case fw != nil && fw.partitionAware():
			c.masterTaskUpdate(fw, t, mesos.TaskState_TASK_UNREACHABLE, reason, "Agent "+why)
		default:
			c.masterTaskUpdate(fw, t, mesos.TaskState_TASK_LOST, reason, "Agent "+why)
		}
	}
	for _, fwID := range sortedKeys(c.frameworks) {
		fw := c.frameworks[fwID]
		if _, ok := fw.executors[a.id]; ok {
			delete(fw.executors, a.id)
			c.executorsChanged(fw, a.id)
		}
		c.sendToFramework(fw, &schedpb.Event{Type: schedpb.Event_FAILURE.Enum(), Failure: &schedpb.Event_Failure{
			AgentId: &mesos.AgentID{Value: &a.id},
		}})
	}
	if a.conn != "" {
		c.sendToAgent(a, &agentproto.MasterMessage{Type: agentproto.MasterMessage_SHUTDOWN.Enum(), Message: ptr("Agent removed: " + why)})
		c.emit(CloseAgent{Conn: a.conn})
		delete(c.agentConns, a.conn)
		a.conn = ""
	}
	c.alloc.RemoveAgent(a.id)
	c.forgetAgent(a.id)
	c.metrics.inc("master/slave_removals")
	c.allocateSoon = true
}

// markGone adds an agent to the gone list: it may never come back.
func (c *Core) markGone(id string) {
	if _, ok := c.gone[id]; !ok {
		c.goneOrder = append(c.goneOrder, id)
	}
	c.gone[id] = c.now
}

// joinHostPort makes "host:port", bracketing IPv6 literals, as the address
// parts of Mesos's pids are written.
func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// hostOf is the host part of "host:port" or "[v6]:port".
func hostOf(hostport string) (string, bool) {
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 {
		return "", false
	}
	host := hostport[:i]
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return "", false
		}
		host = host[1 : len(host)-1]
	} else if strings.Contains(host, ":") {
		return "", false
	}
	return host, true
}

// markUnreachable adds an agent to the unreachable list.
func (c *Core) markUnreachable(id string) {
	delete(c.recoveredState, id)
	if _, ok := c.unreachable[id]; !ok {
		c.unreachableOrder = append(c.unreachableOrder, id)
	}
	c.unreachable[id] = c.now
}

// forgetUnreachable takes an agent off the unreachable list.
func (c *Core) forgetUnreachable(id string) {
	if _, ok := c.unreachable[id]; !ok {
		return
	}
	delete(c.unreachable, id)
	if i := slices.Index(c.unreachableOrder, id); i >= 0 {
		c.unreachableOrder = slices.Delete(c.unreachableOrder, i, i+1)
	}
}

// registryGC garbage-collects the unreachable list as Mesos's master does
// every --registry_gc_interval (Master::doRegistryGc): walking it oldest
// first, an entry goes while more than --registry_max_agent_count would
// remain, and any entry older than --registry_max_agent_age goes. The
// frameworks forget the unreachable tasks of the agents that go, without
// an update: reconciling them answers TASK_UNKNOWN (TASK_LOST for a
// framework that is not partition-aware). Such an agent may still come
// back (reregisterAgent).
func (c *Core) registryGC() {
	var gone []string
	for _, id := range c.unreachableOrder {
		if len(c.unreachableOrder)-len(gone) > c.opts.RegistryMaxAgentCount ||
			c.now.Sub(c.unreachable[id]) > c.opts.RegistryMaxAgentAge {
			gone = append(gone, id)
		}
	}
	if len(gone) == 0 {
		return
	}
	op := &registrypb.Operation{Type: registrypb.Operation_PRUNE.Enum()}
	for _, id := range gone {
		op.PruneUnreachable = append(op.PruneUnreachable, agentIDProto(id))
	}
	c.persist(op)
	collected := map[string]bool{}
	for _, id := range gone {
		collected[id] = true
		delete(c.unreachable, id)
	}
	c.unreachableOrder = slices.DeleteFunc(c.unreachableOrder, func(id string) bool { return collected[id] })
	for _, fwID := range sortedKeys(c.frameworks) {
		fw := c.frameworks[fwID]
		kept := slices.DeleteFunc(fw.unreachable, func(t *task) bool { return collected[t.agentID] })
		if len(kept) != len(fw.unreachable) {
			c.taskListsChanged(fw)
		}
		fw.unreachable = kept
	}
	c.log.Info("garbage collected unreachable agents", "agents", len(gone), "left", len(c.unreachableOrder))
}
