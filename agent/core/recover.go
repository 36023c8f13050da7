package core

import (
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
)

// DefaultExecutorReregistrationTimeout is how long recovered executors
// have to subscribe again (--executor_reregistration_timeout).
const DefaultExecutorReregistrationTimeout = 2 * time.Second

// DefaultRecoveryTimeout is how long a checkpointing executor waits for a
// lost agent before it kills its tasks (--recovery_timeout).
const DefaultRecoveryTimeout = 15 * time.Minute

// Exit says the agent process is exiting to be restarted (SIGTERM): the
// executors of checkpointing frameworks are left running, with the
// checkpoint, for the next agent to recover; the others are destroyed. The
// master is not told (it sees the agent go, and the agent come back).
type Exit struct{}

func (Exit) isInput() {}

func (c *core) reregistrationTimeout() time.Duration {
	if c.cfg.ExecutorReregistrationTimeout > 0 {
		return c.cfg.ExecutorReregistrationTimeout
	}
	return DefaultExecutorReregistrationTimeout
}

// recover restores what a previous run of the agent checkpointed (Mesos's
// Slave::recover): the agent's id, its checkpointing frameworks, their
// executors and tasks, and their status update streams. Executors whose
// container ended are terminated at once; the others must subscribe again
// within the reregistration timeout. The agent registers only after that
// is settled.
func (c *core) recover(now time.Time, in Recover) {
	st := in.State
	if c.started || len(c.frameworks) > 0 || c.agentID != "" {
		c.log.Error("ignoring a recovery fed after the agent started")
		return
	}
	if st.Empty() {
		return
	}
	c.agentID = st.AgentID
	c.restarted = c.agentID != ""
	c.ckptRes = st.Resources
	if vols := c.recoveredVolumes(); len(vols) > 0 {
		// As Mesos's agent does, the volumes' directories are made
		// again should they be missing.
		c.emit(Volumes{Create: vols})
	}
	// What the checkpoint holds is what the tracker has written.
	for k, v := range c.encodedRecovered(st) {
		c.ckpt.written[k] = v
	}
	for _, info := range st.frameworks {
		c.framework(info)
	}
	for _, rec := range st.executors {
		fw := c.frameworks[rec.GetInfo().GetFrameworkId().GetValue()]
		ex := &executor{
			id:          rec.GetInfo().GetExecutorId().GetValue(),
			frameworkID: fw.id,
			info:        rec.GetInfo(),
			kind:        execKind(rec.GetKind()),
			containerID: rec.GetContainerId(),
			directory:   rec.GetDirectory(),
			state:       execRegistering,
			pid:         int(rec.GetPid()),
			launched:    make(map[string]*mesos.Task),
			terminated:  make(map[string]*mesos.Task),
			killed:      make(map[string]bool),
			recovered:   true,
			registerBy:  now.Add(c.reregistrationTimeout()),
		}
		for _, q := range rec.GetQueued() {
			ex.queue = append(ex.queue, &queued{task: q.GetTask(), group: q.GetTaskGroup()})
		}
		for _, t := range rec.GetTasks() {
			if t.GetState().IsTerminal() {
				ex.terminated[t.GetTaskId().GetValue()] = t
			} else {
				ex.launched[t.GetTaskId().GetValue()] = t
			}
		}
		for _, id := range rec.GetKilled() {
			ex.killed[id] = true
		}
		fw.executors[ex.id] = ex
		if ex.directory != "" {
			c.emit(Attach{Dir: ex.directory, Paths: ex.filePaths()})
		}
		if rec.GetTerminated() {
			ex.state = execTerminated
			status := int(rec.GetExitStatus())
			ex.exitStatus = &status
			if !ex.incomplete() {
				c.removeExecutor(fw, ex)
			}
			continue
		}
		c.byContainer[ex.containerID] = ex
		c.exTimers.push(ex.registerBy, ex.containerID)
		c.recoveryPending = true
	}
	for _, s := range st.streams {
		c.updates.restore(s)
	}
	for _, rc := range in.Containers {
		ex := c.byContainer[rc.ContainerID]
		if ex == nil {
			continue
		}
		if rc.Alive {
			if rc.Pid > 0 && rc.Pid != ex.pid {
				ex.pid = rc.Pid
				c.touchEx(ex)
			}
			// The containerizer knows an adopted container's resources
			// only from an update (Mesos updates a recovered executor's
			// container when it re-registers): its isolators measure and
			// limit by them.
			c.emit(UpdateContainer{ContainerID: ex.containerID, Resources: ex.resources()})
			continue
		}
		c.containerExited(now, Termination{ContainerID: rc.ContainerID, Status: rc.Status, How: "ended while the agent was away"})
	}
	for _, fw := range c.sortedFrameworks() {
		c.maybeRemoveFramework(fw)
	}
	c.log.Info("recovered the checkpoint", "agent", c.agentID, "frameworks", len(c.frameworks), "executors", len(c.byContainer))
}

// encodedRecovered is what the checkpoint holds, as the tracker would have
// written it.
func (c *core) encodedRecovered(st *Recovered) map[ckptKey][]byte {
	out := make(map[ckptKey][]byte)
	if st.AgentInfo != nil {
		out[ckptKey{BucketMeta, KeyAgent}] = mustMarshal(&agentproto.CheckpointedAgent{AgentInfo: st.AgentInfo, CheckpointedResources: st.Resources})
	}
	for _, info := range st.frameworks {
		out[ckptKey{BucketFrameworks, info.GetId().GetValue()}] = mustMarshal(&agentproto.CheckpointedFramework{Info: info})
	}
	for _, e := range st.executors {
		out[ckptKey{BucketExecutors, executorKey(e.GetInfo().GetFrameworkId().GetValue(), e.GetInfo().GetExecutorId().GetValue())}] = mustMarshal(e)
	}
	for _, s := range st.streams {
		out[ckptKey{BucketStreams, streamKey(updateKey{s.GetFrameworkId().GetValue(), s.GetTaskId().GetValue()})}] = mustMarshal(s)
	}
	// The agent's info is rewritten at once if the driver's differs from
	// the checkpointed one in what CheckCompatible lets through.
	c.ckpt.meta = true
	return out
}

// awaitingExecutors reports whether a recovered executor has yet to
// subscribe again or be given up on.
func (c *core) awaitingExecutors() bool {
	for _, ex := range c.byContainer {
		if ex.recovered && ex.state == execRegistering {
			return true
		}
	}
	return false
}

// settleRecovery registers with the master once recovery is settled.
func (c *core) settleRecovery(now time.Time) {
	if !c.recoveryPending || !c.started || c.awaitingExecutors() {
		return
	}
	c.recoveryPending = false
	c.recoveredAt = now
	c.log.Info("executor reregistration settled; registering with the master", "agent", c.agentID)
	c.connect(now)
}

// reregistrationTimedOut gives up on a recovered executor that did not
// subscribe again (Mesos's Slave::reregisterExecutorTimeout).
func (c *core) reregistrationTimedOut(ex *executor) {
	c.log.Warn("recovered executor did not subscribe again in time; destroying it", "executor", ex.id, "framework", ex.frameworkID)
	// What a framework of Mesos sees then (SlaveRecoveryTest's
	// RecoverUnregisteredExecutor and friends): TASK_LOST, or TASK_GONE
	// for a partition-aware framework, not TASK_FAILED.
	st := mesos.TaskState_TASK_LOST
	if fw := c.frameworks[ex.frameworkID]; fw != nil && partitionAware(fw.info) {
		st = mesos.TaskState_TASK_GONE
	}
	ex.pendingTermination = &termination{
		state:   st,
		reason:  mesos.TaskStatus_REASON_EXECUTOR_REREGISTRATION_TIMEOUT,
		message: "Executor did not reregister within " + codec.FormatDuration(c.reregistrationTimeout()),
	}
	ex.state = execTerminating
	c.destroy(ex)
}

// droppedDuringRestart ends the tasks a recovered executor does not know
// of: they were sent to it (they are STAGING) but it never got them, as
// the agent went away (Mesos's Slave::reregisterExecutor).
func (c *core) droppedDuringRestart(now time.Time, fw *framework, ex *executor, sub *execpb.Call_Subscribe) {
	known := make(map[string]bool)
	for _, t := range sub.GetUnacknowledgedTasks() {
		known[t.GetTaskId().GetValue()] = true
	}
	for _, id := range sortedKeys(ex.launched) {
		t := ex.launched[id]
		if t.GetState() != mesos.TaskState_TASK_STAGING || known[id] || c.updates.pendingCount(updateKey{fw.id, id}) > 0 {
			continue
		}
		st := mesos.TaskState_TASK_LOST
		if partitionAware(fw.info) {
			st = mesos.TaskState_TASK_DROPPED
		}
		c.agentUpdate(now, fw, ex, id, st, mesos.TaskStatus_REASON_AGENT_RESTARTED, "Task launched during agent restart")
	}
}

// exit leaves the executors of checkpointing frameworks running and
// destroys the others, as the agent process exits to be restarted.
func (c *core) exit() {
	c.leave(func(ex *executor) bool {
		fw := c.frameworks[ex.frameworkID]
		return fw != nil && fw.info.GetCheckpoint()
	})
	c.exited = true
}

// leave closes every executor stream and the master link, and destroys
// every live container but those keep says to leave running.
func (c *core) leave(keep func(*executor) bool) {
	for _, ex := range c.sortedExecutors() {
		if ex.conn != 0 {
			c.emit(ExecutorClose{Conn: ex.conn})
			delete(c.byConn, ex.conn)
			ex.conn = 0
		}
		if keep(ex) {
			continue
		}
		if !ex.destroyed && ex.state != execTerminated {
			ex.destroyed = true
			c.emit(Destroy{ContainerID: ex.containerID})
		}
	}
	if c.link != linkIdle {
		c.emit(Disconnect{Gen: c.gen})
	}
	c.link = linkIdle
	c.reconnectAt = time.Time{}
}

// restore puts back a checkpointed stream: acknowledged updates, then the
// pending ones, the first of which goes out once the agent registers.
func (m *updateManager) restore(r *agentproto.CheckpointedStream) {
	k := updateKey{r.GetFrameworkId().GetValue(), r.GetTaskId().GetValue()}
	s := &updateStream{key: k, received: make(map[string]bool)}
	n := int(r.GetAcknowledged())
	for i, u := range r.GetUpdates() {
		u = proto.Clone(u).(*agentproto.StatusUpdate)
		s.received[string(u.GetStatus().GetUuid())] = true
		if u.GetStatus().GetState().IsTerminal() {
			s.terminal = true
		}
		if i < n {
			s.acked = append(s.acked, u)
		} else {
			s.pending = append(s.pending, u)
		}
	}
	if s.terminal && len(s.pending) == 0 {
		return // complete: nothing to resend, nothing to keep
	}
	m.put(s)
}

func (c *core) recoveryTimeout() time.Duration {
	if c.cfg.RecoveryTimeout > 0 {
		return c.cfg.RecoveryTimeout
	}
	return DefaultRecoveryTimeout
}

// subscriptionBackoffMax bounds the wait between a disconnected
// executor's subscription attempts. Mesos gives 2 seconds, its default
// reregistration timeout, which leaves a recovered executor's last attempt
// racing the timeout; half the timeout (at most 2 seconds) gives it two.
func (c *core) subscriptionBackoffMax() time.Duration {
	return min(c.reregistrationTimeout()/2, 2*time.Second)
}
