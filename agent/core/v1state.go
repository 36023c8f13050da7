package core

import (
	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// V1State is the state as the v1 operator API shows it (GET_STATE,
// GET_FRAMEWORKS, GET_EXECUTORS, GET_TASKS, GET_AGENT, GET_CONTAINERS): the
// agent's own protobuf messages, copied so that the core's later changes
// do not reach them.
type V1State struct {
	AgentInfo           *mesos.AgentInfo // with the agent's id once registered
	Frameworks          []*mesos.FrameworkInfo
	CompletedFrameworks []*mesos.FrameworkInfo
	Executors           []*mesos.ExecutorInfo // of the frameworks and completed frameworks
	CompletedExecutors  []*mesos.ExecutorInfo

	// The tasks, as Mesos sorts them: queued for an executor that has not
	// subscribed yet, launched on it, terminal with the update not yet
	// acknowledged, and completed (terminal and acknowledged).
	QueuedTasks     []*mesos.Task
	LaunchedTasks   []*mesos.Task
	TerminatedTasks []*mesos.Task
	CompletedTasks  []*mesos.Task

	// Containers are the containers of the running frameworks' executors.
	Containers []V1Container
}

// V1Container is one executor's container.
type V1Container struct {
	FrameworkID  string
	ExecutorID   string
	ExecutorName string
	ContainerID  string
	Pid          int // the executor's process, 0 when not known
}

// V1State builds the operator API's view of the state. Like Snapshot it
// changes nothing; it costs more than Snapshot (a copy of every task), so
// the driver builds it only for the readers that want it.
func (k *Core) V1State() *V1State { return k.c.v1State() }

// v1State builds the V1State.
func (c *core) v1State() *V1State {
	s := &V1State{AgentInfo: proto.Clone(c.cfg.AgentInfo).(*mesos.AgentInfo)}
	if len(c.ckptRes) > 0 {
		s.AgentInfo.Resources = c.totalResources()
	}
	if c.agentID != "" {
		s.AgentInfo.Id = &mesos.AgentID{Value: proto.String(c.agentID)}
	}
	clone := func(t *mesos.Task) *mesos.Task { return proto.Clone(t).(*mesos.Task) }
	addExecutor := func(ex *executor, completed bool) {
		info := proto.Clone(ex.info).(*mesos.ExecutorInfo)
		if completed {
			s.CompletedExecutors = append(s.CompletedExecutors, info)
		} else {
			s.Executors = append(s.Executors, info)
		}
		for _, q := range ex.queue {
			for _, t := range q.tasks() {
				s.QueuedTasks = append(s.QueuedTasks, newTask(t, ex, c.agentID))
			}
		}
		for _, id := range sortedKeys(ex.launched) {
			s.LaunchedTasks = append(s.LaunchedTasks, clone(ex.launched[id]))
		}
		for _, id := range sortedKeys(ex.terminated) {
			s.TerminatedTasks = append(s.TerminatedTasks, clone(ex.terminated[id]))
		}
		for i := len(ex.completed) - 1; i >= 0; i-- {
			s.CompletedTasks = append(s.CompletedTasks, clone(ex.completed[i]))
		}
	}
	addFramework := func(fw *framework, completed bool) {
		info := proto.Clone(fw.info).(*mesos.FrameworkInfo)
		if completed {
			s.CompletedFrameworks = append(s.CompletedFrameworks, info)
		} else {
			s.Frameworks = append(s.Frameworks, info)
		}
		for _, ex := range fw.sortedExecutors() {
			addExecutor(ex, completed)
			if !completed && ex.containerID != "" && ex.state != execTerminated {
				s.Containers = append(s.Containers, V1Container{
					FrameworkID: fw.id, ExecutorID: ex.id, ExecutorName: ex.info.GetName(),
					ContainerID: ex.containerID, Pid: ex.pid,
				})
			}
		}
		for i := len(fw.completedExecutors) - 1; i >= 0; i-- {
			addExecutor(fw.completedExecutors[i], true)
		}
	}
	for _, fw := range c.sortedFrameworks() {
		addFramework(fw, false)
	}
	for i := len(c.completedFrameworks) - 1; i >= 0; i-- {
		addFramework(c.completedFrameworks[i], true)
	}
	return s
}
