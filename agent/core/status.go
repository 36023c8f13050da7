package core

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// ---- Executor calls ----

// executorCall handles a call that passed the HTTP checks: the framework and
// executor must exist, and every call but SUBSCRIBE needs a subscribed
// executor.
func (c *core) executorCall(now time.Time, in ExecutorCall) {
	answer := func(status CallStatus, msg string) {
		c.emit(Answer{Reply: in.Reply, Result: CallResult{Status: status, Msg: msg}})
	}
	call := in.Call
	fw := c.frameworks[call.GetFrameworkId().GetValue()]
	if fw == nil {
		answer(CallBadRequest, "Framework cannot be found")
		return
	}
	ex := fw.executors[call.GetExecutorId().GetValue()]
	if ex == nil || ex.state == execTerminated {
		answer(CallBadRequest, "Executor cannot be found")
		return
	}
	if ex.state == execRegistering && call.GetType() != execpb.Call_SUBSCRIBE {
		answer(CallForbidden, "Executor is not subscribed")
		return
	}
	switch call.GetType() {
	case execpb.Call_SUBSCRIBE:
		answer(CallOK, "")
		c.subscribe(now, fw, ex, in.Conn, call.GetSubscribe())
	case execpb.Call_UPDATE:
		answer(CallAccepted, "")
		status := proto.Clone(call.GetUpdate().GetStatus()).(*mesos.TaskStatus)
		if err := c.statusUpdate(now, fw, ex, status, true); err != nil {
			c.log.Warn("dropping an invalid status update from an executor", "executor", ex.id,
				"task", status.GetTaskId().GetValue(), "state", status.GetState(), "err", err)
		}
	case execpb.Call_MESSAGE:
		answer(CallAccepted, "")
		if c.link != linkRegistered {
			c.metrics.invalidFrameworkMessages++
			return
		}
		c.metrics.validFrameworkMessages++
		c.sendToMaster(&agentproto.AgentMessage{
			Type: agentproto.AgentMessage_EXECUTOR_TO_FRAMEWORK.Enum(),
			ExecutorToFramework: &agentproto.AgentMessage_ExecutorToFramework{
				FrameworkId: &mesos.FrameworkID{Value: proto.String(fw.id)},
				ExecutorId:  &mesos.ExecutorID{Value: proto.String(ex.id)},
				Data:        call.GetMessage().GetData(),
			},
		})
	case execpb.Call_HEARTBEAT:
		answer(CallAccepted, "")
	default:
		answer(CallNotImplemented, "")
	}
}

// subscribe attaches an executor's event stream. A first subscription gets
// SUBSCRIBED and then every queued launch; a re-subscription replaces the
// old stream; an executor being shut down is told SHUTDOWN again. As in
// Mesos, the updates the executor lists as unacknowledged are handled as if
// sent again: an executor whose stream broke sends its updates made in the
// meantime only with SUBSCRIBE, and waits for their acknowledgements on the
// new stream (duplicates are acknowledged again and change nothing).
func (c *core) subscribe(now time.Time, fw *framework, ex *executor, conn int64, sub *execpb.Call_Subscribe) {
	if ex.conn != 0 {
		c.emit(ExecutorClose{Conn: ex.conn})
		delete(c.byConn, ex.conn)
	}
	ex.conn = conn
	c.byConn[conn] = ex
	if ex.state == execTerminating {
		c.emit(ExecutorEvent{Conn: conn, Event: &execpb.Event{Type: execpb.Event_SHUTDOWN.Enum()}})
		return
	}
	info := proto.Clone(c.cfg.AgentInfo).(*mesos.AgentInfo)
	info.Id = &mesos.AgentID{Value: proto.String(c.agentID)}
	c.emit(ExecutorEvent{Conn: conn, Event: &execpb.Event{
		Type: execpb.Event_SUBSCRIBED.Enum(),
		Subscribed: &execpb.Event_Subscribed{
			ExecutorInfo:  ex.info,
			FrameworkInfo: fw.info,
			AgentInfo:     info,
			ContainerId:   &mesos.ContainerID{Value: proto.String(ex.containerID)},
		},
	}})
	for _, u := range sub.GetUnacknowledgedUpdates() {
		status := proto.Clone(u.GetStatus()).(*mesos.TaskStatus)
		if err := c.statusUpdate(now, fw, ex, status, true); err != nil {
			c.log.Warn("dropping an invalid unacknowledged update of a subscribing executor", "executor", ex.id,
				"task", status.GetTaskId().GetValue(), "state", status.GetState(), "err", err)
		}
	}
	if ex.state == execRegistering && ex.recovered {
		c.droppedDuringRestart(now, fw, ex, sub)
	}
	if ex.state == execRegistering {
		c.log.Info("executor subscribed", "executor", ex.id, "framework", fw.id)
		ex.state = execRunning
		queue := ex.queue
		ex.queue = nil
		for _, q := range queue {
			c.deliver(ex, q)
		}
	}
}

// executorDisconnected handles the end of an executor's event stream. The
// executor may subscribe again; if it is exiting instead, its container's
// end will tell.
func (c *core) executorDisconnected(now time.Time, conn int64) {
	ex := c.byConn[conn]
	if ex == nil {
		return
	}
	delete(c.byConn, conn)
	ex.conn = 0
	c.log.Info("executor disconnected", "executor", ex.id, "framework", ex.frameworkID)
}

// ---- Status updates ----

// agentUpdate makes a status update on the agent's own authority (source
// SOURCE_AGENT) and handles it like one from the executor.
func (c *core) agentUpdate(now time.Time, fw *framework, ex *executor, taskID string,
	state mesos.TaskState, reason mesos.TaskStatus_Reason, message string) {
	status := &mesos.TaskStatus{
		TaskId:  &mesos.TaskID{Value: proto.String(taskID)},
		State:   state.Enum(),
		Source:  mesos.TaskStatus_SOURCE_AGENT.Enum(),
		Reason:  reason.Enum(),
		Message: proto.String(message),
		Uuid:    c.newUUID(),
	}
	if err := c.statusUpdate(now, fw, ex, status, false); err != nil {
		c.log.Warn("dropping the agent's own status update", "task", taskID, "state", state, "err", err)
	}
}

// statusUpdate is Mesos's Slave::statusUpdate: the update is stamped,
// applied to the task, put in the task's stream (and sent when it is the
// head), and acknowledged to the executor it came from.
func (c *core) statusUpdate(now time.Time, fw *framework, ex *executor, status *mesos.TaskStatus, fromExecutor bool) error {
	taskID := status.GetTaskId().GetValue()
	status.AgentId = &mesos.AgentID{Value: proto.String(c.agentID)}
	if status.Timestamp == nil {
		status.Timestamp = proto.Float64(seconds(now))
	}
	if ex != nil {
		status.ExecutorId = &mesos.ExecutorID{Value: proto.String(ex.id)}
		if status.ContainerStatus == nil {
			status.ContainerStatus = &mesos.ContainerStatus{}
		}
		if status.ContainerStatus.ContainerId == nil {
			status.ContainerStatus.ContainerId = &mesos.ContainerID{Value: proto.String(ex.containerID)}
		}
		if ex.pid > 0 && status.ContainerStatus.ExecutorPid == nil {
			status.ContainerStatus.ExecutorPid = proto.Uint32(uint32(ex.pid))
		}
		// As Mesos's agent for a container on the host's network: the
		// container's address is the agent's.
		if len(status.ContainerStatus.NetworkInfos) == 0 && c.hostNetwork != nil {
			status.ContainerStatus.NetworkInfos = []*mesos.NetworkInfo{c.hostNetwork}
		}
	}
	key := updateKey{fw.id, taskID}
	if c.updates.isDuplicate(key, status.GetUuid()) {
		// A retransmission: acknowledge it again, change nothing.
		c.ackExecutor(ex, fromExecutor, status)
		return nil
	}
	if ex != nil {
		c.touchEx(ex)
		if err := c.updateTaskState(ex, status); err != nil {
			c.metrics.invalidStatusUpdates++
			return err
		}
	}
	u := &agentproto.StatusUpdate{
		FrameworkId: &mesos.FrameworkID{Value: proto.String(fw.id)},
		Status:      status,
	}
	send, err := c.updates.add(now, u)
	if err != nil {
		c.metrics.invalidStatusUpdates++
		return err
	}
	c.metrics.validStatusUpdates++
	if send != nil {
		c.forward(send)
	}
	c.ackExecutor(ex, fromExecutor, status)
	return nil
}

func (c *core) ackExecutor(ex *executor, fromExecutor bool, status *mesos.TaskStatus) {
	if !fromExecutor || ex == nil || ex.conn == 0 {
		return
	}
	c.emit(ExecutorEvent{Conn: ex.conn, Event: &execpb.Event{
		Type: execpb.Event_ACKNOWLEDGED.Enum(),
		Acknowledged: &execpb.Event_Acknowledged{
			TaskId: status.GetTaskId(),
			Uuid:   status.GetUuid(),
		},
	}})
}

// updateTaskState applies a status to the task's record (Mesos's
// Executor::updateTaskState). Queued tasks may only end; a terminal task
// takes no more updates.
func (c *core) updateTaskState(ex *executor, status *mesos.TaskStatus) error {
	taskID := status.GetTaskId().GetValue()
	terminal := status.GetState().IsTerminal()
	var task *mesos.Task
	switch {
	case ex.launched[taskID] != nil:
		task = ex.launched[taskID]
		if terminal {
			delete(ex.launched, taskID)
		}
	case ex.queuedTask(taskID) != nil:
		if !terminal {
			return errors.New("cannot send a non-terminal update for a queued task")
		}
		q := ex.queuedTask(taskID)
		for _, t := range q.tasks() {
			if t.GetTaskId().GetValue() == taskID {
				task = newTask(t, ex, c.agentID)
			}
		}
		ex.removeQueued(taskID)
	case ex.terminated[taskID] != nil:
		return fmt.Errorf("task is already terminated with state %s", ex.terminated[taskID].GetState())
	default:
		return errors.New("task is unknown")
	}
	// Keep the statuses short: the same state twice in a row is replaced.
	kept := trimStatus(status)
	if n := len(task.Statuses); n > 0 && task.Statuses[n-1].GetState() == status.GetState() {
		task.Statuses[n-1] = kept
	} else {
		task.Statuses = append(task.Statuses, kept)
	}
	task.State = status.State
	if terminal {
		ex.terminated[taskID] = task
		switch status.GetState() {
		case mesos.TaskState_TASK_FINISHED:
			c.metrics.tasksFinished++
		case mesos.TaskState_TASK_FAILED:
			c.metrics.tasksFailed++
		case mesos.TaskState_TASK_KILLED:
			c.metrics.tasksKilled++
		case mesos.TaskState_TASK_LOST:
			c.metrics.tasksLost++
		case mesos.TaskState_TASK_GONE:
			c.metrics.tasksGone++
		}
		if ex.containerID != "" && ex.state != execTerminated {
			c.emit(UpdateContainer{ContainerID: ex.containerID, Resources: ex.resources(), Limits: ex.limits()})
		}
	}
	return nil
}

// removeQueued drops a task from the launch queue; a group is dropped when
// its last task goes.
func (ex *executor) removeQueued(taskID string) {
	for i, q := range ex.queue {
		if q.group == nil {
			if q.task.GetTaskId().GetValue() == taskID {
				ex.queue = append(ex.queue[:i:i], ex.queue[i+1:]...)
				return
			}
			continue
		}
		for j, t := range q.group.Tasks {
			if t.GetTaskId().GetValue() == taskID {
				g := proto.Clone(q.group).(*mesos.TaskGroupInfo)
				g.Tasks = append(g.Tasks[:j:j], g.Tasks[j+1:]...)
				if len(g.Tasks) == 0 {
					ex.queue = append(ex.queue[:i:i], ex.queue[i+1:]...)
				} else {
					ex.queue[i] = &queued{group: g}
				}
				return
			}
		}
	}
}

// trimStatus is the part of a status kept in the task's history.
func trimStatus(s *mesos.TaskStatus) *mesos.TaskStatus {
	out := proto.Clone(s).(*mesos.TaskStatus)
	out.Data = nil
	return out
}

// acknowledge is ACKNOWLEDGE from the master: the head update of the task's
// stream is done; the next one goes out, or, after a terminal update, the
// task is complete.
func (c *core) acknowledge(now time.Time, fwID, taskID string, uuid []byte) {
	next, done, err := c.updates.ack(now, updateKey{fwID, taskID}, uuid)
	if errors.Is(err, errDuplicateAck) {
		c.log.Debug("ignoring a duplicate status update acknowledgement", "task", taskID, "framework", fwID)
		return
	}
	if err != nil {
		c.log.Warn("ignoring status update acknowledgement", "task", taskID, "framework", fwID, "err", err)
		return
	}
	if next != nil {
		c.forward(next)
	}
	if !done {
		return
	}
	fw := c.frameworks[fwID]
	if fw == nil {
		return
	}
	ex := fw.executorOf(taskID)
	if ex == nil {
		// A task the agent ended on its own (TASK_ERROR, TASK_LOST of
		// an unknown task): its framework may now have nothing left.
		c.maybeRemoveFramework(fw)
		return
	}
	c.touchEx(ex)
	ex.complete(taskID)
	if ex.state == execTerminated && !ex.incomplete() {
		c.removeExecutor(fw, ex)
		c.maybeRemoveFramework(fw)
	}
}

// latestState is the task's state as the agent knows it.
func (c *core) latestState(fwID, taskID string) (mesos.TaskState, bool) {
	fw := c.frameworks[fwID]
	if fw == nil {
		return 0, false
	}
	ex := fw.executorOf(taskID)
	if ex == nil {
		return 0, false
	}
	if t := ex.launched[taskID]; t != nil {
		return t.GetState(), true
	}
	if t := ex.terminated[taskID]; t != nil {
		return t.GetState(), true
	}
	return mesos.TaskState_TASK_STAGING, true
}
