package core

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/ids"
	"github.com/gomesos/gomesos/internal/taskenv"
)

// executorKindEnv is the variable that makes the gomesos binary run a
// built-in executor; it equals executor/builtin.EnvKind.
const executorKindEnv = "GOMESOS_EXECUTOR"

type execState int

const (
	execRegistering execState = iota // launched, not yet subscribed
	execRunning                      // subscribed
	execTerminating                  // being shut down or destroyed
	execTerminated                   // its container ended
)

func (s execState) String() string {
	return [...]string{"REGISTERING", "RUNNING", "TERMINATING", "TERMINATED"}[s]
}

type execKind int

const (
	kindCustom  execKind = iota // the framework's own executor
	kindCommand                 // built-in command executor, one task
	kindDefault                 // built-in default executor, task groups
)

// termination overrides how an executor's unfinished tasks end.
type termination struct {
	state   mesos.TaskState
	reason  mesos.TaskStatus_Reason
	message string
}

// queued is a launch waiting for the executor to subscribe.
type queued struct {
	task  *mesos.TaskInfo      // a LAUNCH
	group *mesos.TaskGroupInfo // or a LAUNCH_GROUP
}

func (q *queued) tasks() []*mesos.TaskInfo {
	if q.group != nil {
		return q.group.GetTasks()
	}
	return []*mesos.TaskInfo{q.task}
}

type framework struct {
	id                 string
	info               *mesos.FrameworkInfo
	terminating        bool
	executors          map[string]*executor
	completedExecutors []*executor
}

func (fw *framework) sortedExecutors() []*executor {
	out := make([]*executor, 0, len(fw.executors))
	for _, ex := range fw.executors {
		out = append(out, ex)
	}
	slices.SortFunc(out, func(a, b *executor) int { return cmp.Compare(a.id, b.id) })
	return out
}

// executorOf finds the executor that has (queued, launched or terminated
// but unacknowledged) the task.
func (fw *framework) executorOf(taskID string) *executor {
	// A command task's executor has the task's ID: with thousands of
	// command tasks, looking there first saves a scan of every executor.
	if ex := fw.executors[taskID]; ex != nil && ex.hasTask(taskID) {
		return ex
	}
	// Task IDs are unique within a framework, so the order does not matter.
	for _, ex := range fw.executors {
		if ex.hasTask(taskID) {
			return ex
		}
	}
	return nil
}

type executor struct {
	id          string
	frameworkID string
	info        *mesos.ExecutorInfo
	kind        execKind
	containerID string
	directory   string
	state       execState
	conn        int64 // the event stream; 0 when not connected
	pid         int

	queue      []*queued
	launched   map[string]*mesos.Task // sent to the executor, not terminal
	terminated map[string]*mesos.Task // terminal, update not yet acknowledged
	completed  []*mesos.Task          // terminal and acknowledged (bounded)
	killed     map[string]bool        // tasks a KILL was sent for

	recovered          bool // restored from the checkpoint
	shutdown           bool // a shutdown was asked for
	destroyed          bool // the container was told to die
	pendingTermination *termination
	registerBy         time.Time
	killAt             time.Time
	exitStatus         *int
}

func (ex *executor) hasTask(taskID string) bool {
	if ex.launched[taskID] != nil || ex.terminated[taskID] != nil {
		return true
	}
	return ex.queuedTask(taskID) != nil
}

func (ex *executor) queuedTask(taskID string) *queued {
	for _, q := range ex.queue {
		for _, t := range q.tasks() {
			if t.GetTaskId().GetValue() == taskID {
				return q
			}
		}
	}
	return nil
}

// incomplete reports whether any task still waits on something.
func (ex *executor) incomplete() bool {
	return len(ex.queue) > 0 || len(ex.launched) > 0 || len(ex.terminated) > 0
}

// allTasks is every task not yet completed, as Task records: queued ones in
// TASK_STAGING, then launched, then terminated ones.
func (ex *executor) allTasks(agentID string) []*mesos.Task {
	var out []*mesos.Task
	for _, q := range ex.queue {
		for _, t := range q.tasks() {
			out = append(out, newTask(t, ex, agentID))
		}
	}
	for _, m := range []map[string]*mesos.Task{ex.launched, ex.terminated} {
		for _, id := range sortedKeys(m) {
			out = append(out, proto.Clone(m[id]).(*mesos.Task))
		}
	}
	return out
}

// resources is what the executor holds: its own plus its live tasks'.
func (ex *executor) resources() []*mesos.Resource {
	out := slices.Clone(ex.info.GetResources())
	for _, q := range ex.queue {
		for _, t := range q.tasks() {
			out = append(out, t.GetResources()...)
		}
	}
	for _, id := range sortedKeys(ex.launched) {
		out = append(out, ex.launched[id].GetResources()...)
	}
	return out
}

// limits are the container's resource limits beyond its requests
// (TaskInfo.limits), as Mesos's agent computes an executor's: for cpus and
// for mem, when a task of the executor has a limit, the sum of the tasks'
// limits (a task without one counts its request) and the executor's own
// resources; infinite when a task's limit is. Nil when no task has one.
func (ex *executor) limits() map[string]float64 {
	type task struct {
		resources []*mesos.Resource
		limits    map[string]*mesos.Value_Scalar
	}
	var tasks []task
	for _, q := range ex.queue {
		for _, t := range q.tasks() {
			tasks = append(tasks, task{t.GetResources(), t.GetLimits()})
		}
	}
	for _, id := range sortedKeys(ex.launched) {
		t := ex.launched[id]
		tasks = append(tasks, task{t.GetResources(), t.GetLimits()})
	}
	var out map[string]float64
	for _, name := range []string{"cpus", "mem"} {
		limited := false
		sum := scalarSum(ex.info.GetResources(), name)
		for _, t := range tasks {
			if l, ok := t.limits[name]; ok {
				limited = true
				sum += l.GetValue()
			} else {
				sum += scalarSum(t.resources, name)
			}
		}
		if limited {
			if out == nil {
				out = map[string]float64{}
			}
			out[name] = sum
		}
	}
	return out
}

// scalarSum adds up the scalar resources of the name.
func scalarSum(rs []*mesos.Resource, name string) float64 {
	var sum float64
	for _, r := range rs {
		if r.GetName() == name && r.GetType() == mesos.Value_SCALAR {
			sum += r.GetScalar().GetValue()
		}
	}
	return sum
}

// filePaths are the /files paths the sandbox is attached under.
func (ex *executor) filePaths() []string {
	return []string{ex.directory, latestRunPath(ex.frameworkID, ex.id)}
}

func latestRunPath(fw, ex string) string {
	return "/frameworks/" + fw + "/executors/" + ex + "/runs/latest"
}

// newTask makes the agent's Task record of a TaskInfo, as Mesos's
// protobuf::createTask: the executor ID is set only for tasks that name
// their executor.
func newTask(t *mesos.TaskInfo, ex *executor, agentID string) *mesos.Task {
	task := &mesos.Task{
		Name:        t.Name,
		TaskId:      t.TaskId,
		FrameworkId: &mesos.FrameworkID{Value: proto.String(ex.frameworkID)},
		AgentId:     &mesos.AgentID{Value: proto.String(agentID)},
		State:       mesos.TaskState_TASK_STAGING.Enum(),
		Resources:   t.Resources,
		Labels:      t.Labels,
		Container:   t.Container,
		HealthCheck: t.HealthCheck,
		KillPolicy:  t.KillPolicy,
		Limits:      t.Limits,
	}
	if ex.kind != kindCommand {
		task.ExecutorId = &mesos.ExecutorID{Value: proto.String(ex.id)}
	}
	if u := t.GetCommand().GetUser(); u != "" {
		task.User = proto.String(u)
	}
	return proto.Clone(task).(*mesos.Task)
}

// ---- Running tasks ----

func (c *core) framework(info *mesos.FrameworkInfo) *framework {
	id := info.GetId().GetValue()
	fw := c.frameworks[id]
	if fw == nil {
		fw = &framework{id: id, executors: make(map[string]*executor)}
		c.frameworks[id] = fw
	}
	if fw.info != nil && fw.info.GetCheckpoint() != info.GetCheckpoint() {
		// What is durable of the framework changes wholesale.
		c.ckpt.all = true
	}
	fw.info = proto.Clone(info).(*mesos.FrameworkInfo)
	c.touchFw(id)
	return fw
}

// runTask is RUN_TASK: a task with a command goes to a new command executor
// (ExecutorID = TaskID); a task with an executor goes to that executor,
// started if it is not running.
func (c *core) runTask(now time.Time, fwInfo *mesos.FrameworkInfo, task *mesos.TaskInfo) {
	fwID := fwInfo.GetId().GetValue()
	taskID := task.GetTaskId().GetValue()
	if !c.idsFromMaster(fwID, taskID) {
		return
	}
	if fw := c.frameworks[fwID]; fw != nil && fw.terminating {
		c.log.Warn("ignoring a task of a framework being shut down", "task", taskID, "framework", fwID)
		return
	}
	fw := c.framework(fwInfo)
	if fw.executorOf(taskID) != nil {
		c.log.Warn("ignoring a task whose ID is already in use", "task", taskID, "framework", fwID)
		return
	}
	var info *mesos.ExecutorInfo
	kind := kindCustom
	switch {
	case task.GetExecutor() != nil:
		if err := ids.Validate(task.GetExecutor().GetExecutorId().GetValue()); err != nil {
			c.agentUpdate(now, fw, nil, taskID, mesos.TaskState_TASK_ERROR, mesos.TaskStatus_REASON_TASK_INVALID, err.Error())
			return
		}
		info = proto.Clone(task.GetExecutor()).(*mesos.ExecutorInfo)
		if info.GetType() == mesos.ExecutorInfo_DEFAULT {
			kind = kindDefault
		}
	case task.GetCommand() != nil:
		info = c.commandExecutorInfo(fwID, task)
		kind = kindCommand
	default:
		c.agentUpdate(now, fw, nil, taskID, mesos.TaskState_TASK_ERROR,
			mesos.TaskStatus_REASON_TASK_INVALID, "Task has neither a command nor an executor")
		return
	}
	if info.FrameworkId == nil {
		info.FrameworkId = &mesos.FrameworkID{Value: proto.String(fwID)}
	}
	c.launch(now, fw, info, kind, &queued{task: proto.Clone(task).(*mesos.TaskInfo)})
}

// runTaskGroup is RUN_TASK_GROUP: the group goes to the given (default)
// executor.
func (c *core) runTaskGroup(now time.Time, fwInfo *mesos.FrameworkInfo, info *mesos.ExecutorInfo, group *mesos.TaskGroupInfo) {
	fwID := fwInfo.GetId().GetValue()
	taskIDs := make([]string, len(group.GetTasks()))
	for i, t := range group.GetTasks() {
		taskIDs[i] = t.GetTaskId().GetValue()
	}
	if !c.idsFromMaster(fwID, taskIDs...) {
		return
	}
	if fw := c.frameworks[fwID]; fw != nil && fw.terminating {
		c.log.Warn("ignoring a task group of a framework being shut down", "framework", fwID)
		return
	}
	fw := c.framework(fwInfo)
	for _, t := range group.GetTasks() {
		if fw.executorOf(t.GetTaskId().GetValue()) != nil {
			c.log.Warn("ignoring a task group with a task ID already in use", "task", t.GetTaskId().GetValue(), "framework", fwID)
			return
		}
	}
	if err := ids.Validate(info.GetExecutorId().GetValue()); err != nil {
		for _, id := range taskIDs {
			c.agentUpdate(now, fw, nil, id, mesos.TaskState_TASK_ERROR, mesos.TaskStatus_REASON_TASK_GROUP_INVALID, err.Error())
		}
		return
	}
	info = proto.Clone(info).(*mesos.ExecutorInfo)
	if info.FrameworkId == nil {
		info.FrameworkId = &mesos.FrameworkID{Value: proto.String(fwID)}
	}
	kind := kindDefault
	if info.GetType() == mesos.ExecutorInfo_CUSTOM {
		kind = kindCustom
	}
	c.launch(now, fw, info, kind, &queued{group: proto.Clone(group).(*mesos.TaskGroupInfo)})
}

// idsFromMaster checks the framework and task ids of a RUN_TASK or
// RUN_TASK_GROUP. The master checks them too, but the agent does not take
// its word: they name directories here. A launch with a bad one is dropped
// (and logged) before it becomes state; no status update can name it
// safely. The master learns the tasks are gone when the agent reregisters.
func (c *core) idsFromMaster(fwID string, taskIDs ...string) bool {
	if err := ids.Validate(fwID); err != nil {
		c.log.Warn("dropping a launch with an invalid framework id from the master", "framework", fwID, "err", err)
		return false
	}
	for _, id := range taskIDs {
		if err := ids.Validate(id); err != nil {
			c.log.Warn("dropping a launch with an invalid task id from the master", "task", id, "framework", fwID, "err", err)
			return false
		}
	}
	return true
}

// launch gives work to an executor, starting the executor when needed.
func (c *core) launch(now time.Time, fw *framework, info *mesos.ExecutorInfo, kind execKind, q *queued) {
	execID := info.GetExecutorId().GetValue()
	ex := fw.executors[execID]
	if ex == nil {
		// The container starts with the first tasks' resources and limits
		// already (as Mesos's does), so that what is decided once, at
		// launch (its GPUs' CUDA_VISIBLE_DEVICES, say), counts them.
		c.newExecutor(now, fw, info, kind, q)
		return
	}
	c.touchEx(ex)
	switch ex.state {
	case execRegistering:
		ex.queue = append(ex.queue, q)
		c.emit(UpdateContainer{ContainerID: ex.containerID, Resources: ex.resources(), Limits: ex.limits()})
	case execRunning:
		c.deliver(ex, q)
		c.emit(UpdateContainer{ContainerID: ex.containerID, Resources: ex.resources(), Limits: ex.limits()})
	default:
		st := mesos.TaskState_TASK_LOST
		if partitionAware(fw.info) {
			st = mesos.TaskState_TASK_DROPPED
		}
		for _, t := range q.tasks() {
			c.agentUpdate(now, fw, nil, t.GetTaskId().GetValue(), st,
				mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, "Executor terminating")
		}
	}
}

// deliver sends a launch to a subscribed executor and records its tasks as
// launched, in TASK_STAGING.
func (c *core) deliver(ex *executor, q *queued) {
	c.touchEx(ex)
	for _, t := range q.tasks() {
		ex.launched[t.GetTaskId().GetValue()] = newTask(t, ex, c.agentID)
	}
	if q.group != nil {
		c.emit(ExecutorEvent{Conn: ex.conn, Event: &execpb.Event{
			Type:        execpb.Event_LAUNCH_GROUP.Enum(),
			LaunchGroup: &execpb.Event_LaunchGroup{TaskGroup: q.group},
		}})
		return
	}
	c.emit(ExecutorEvent{Conn: ex.conn, Event: &execpb.Event{
		Type:   execpb.Event_LAUNCH.Enum(),
		Launch: &execpb.Event_Launch{Task: q.task},
	}})
}

// commandExecutorInfo builds the ExecutorInfo of a command task's executor,
// as Mesos does: same ID as the task, a name describing the command, and
// 0.1 cpus and 32 MB on top of the task's resources.
func (c *core) commandExecutorInfo(fwID string, task *mesos.TaskInfo) *mesos.ExecutorInfo {
	cmd := task.GetCommand()
	var what string
	if cmd.Shell == nil || cmd.GetShell() {
		v := cmd.GetValue()
		if len(v) > 15 {
			v = v[:15] + "..."
		}
		what = "sh -c '" + v + "'"
	} else {
		what = "[" + strings.Join(cmd.GetArguments(), ", ") + "]"
	}
	var role *mesos.Resource_AllocationInfo
	for _, r := range task.GetResources() {
		if r.AllocationInfo != nil {
			role = r.AllocationInfo
			break
		}
	}
	scalar := func(name string, v float64) *mesos.Resource {
		return &mesos.Resource{
			Name:           proto.String(name),
			Type:           mesos.Value_SCALAR.Enum(),
			Scalar:         &mesos.Value_Scalar{Value: proto.Float64(v)},
			AllocationInfo: role,
		}
	}
	return &mesos.ExecutorInfo{
		ExecutorId:  &mesos.ExecutorID{Value: proto.String(task.GetTaskId().GetValue())},
		FrameworkId: &mesos.FrameworkID{Value: proto.String(fwID)},
		Name:        proto.String(fmt.Sprintf("Command Executor (Task: %s) (Command: %s)", task.GetTaskId().GetValue(), what)),
		Source:      proto.String(task.GetTaskId().GetValue()),
		Command: &mesos.CommandInfo{
			Value: proto.String(c.cfg.ExecutorBinary),
			Shell: proto.Bool(false),
			// As Mesos: the task's URIs are fetched into the executor's
			// sandbox, where the task runs.
			Uris: task.GetCommand().GetUris(),
		},
		Container: task.GetContainer(),
		Resources: []*mesos.Resource{scalar("cpus", commandExecutorCPUs), scalar("mem", commandExecutorMem)},
		Labels:    task.GetLabels(),
	}
}

// newExecutor creates an executor record, with first queued for it, and
// launches its container.
func (c *core) newExecutor(now time.Time, fw *framework, info *mesos.ExecutorInfo, kind execKind, first *queued) *executor {
	containerID := formatUUID(c.newUUID())
	execID := info.GetExecutorId().GetValue()
	dir, err := ids.Sandbox(c.cfg.WorkDir, c.agentID, fw.id, execID, containerID)
	if err != nil {
		// The ids were checked on the way in, so this does not happen; if
		// it did, the launch goes out without a sandbox and fails, and no
		// directory outside the work directory is named.
		c.log.Error("refusing a sandbox outside the work directory", "executor", execID, "framework", fw.id, "err", err)
		dir = ""
	}
	ex := &executor{
		id:          execID,
		frameworkID: fw.id,
		info:        info,
		kind:        kind,
		containerID: containerID,
		directory:   dir,
		state:       execRegistering,
		launched:    make(map[string]*mesos.Task),
		terminated:  make(map[string]*mesos.Task),
		killed:      make(map[string]bool),
		registerBy:  now.Add(c.cfg.RegistrationTimeout),
		queue:       []*queued{first},
	}
	fw.executors[execID] = ex
	c.byContainer[containerID] = ex
	c.exTimers.push(ex.registerBy, containerID)
	c.touchEx(ex)

	spec := LaunchSpec{
		ID:        containerID,
		Directory: dir,
		Env:       c.executorEnv(fw, ex),
		Resources: ex.resources(),
		Limits:    ex.limits(),
		URIs:      ex.info.GetCommand().GetUris(),
		AgentID:   c.agentID,
		Container: ex.info.GetContainer(),
	}
	if spec.Container == nil {
		spec.Container = c.cfg.DefaultContainerInfo
	}
	switch kind {
	case kindCommand, kindDefault:
		spec.Path = c.cfg.ExecutorBinary
		spec.Args = []string{c.cfg.ExecutorBinary}
	default:
		cmd := info.GetCommand()
		switch {
		case cmd == nil || (cmd.GetValue() == "" && len(cmd.GetArguments()) == 0):
			// No command: the launch fails and the tasks fail with it.
			spec.Path = ""
		case cmd.Shell == nil || cmd.GetShell():
			spec.Path = "/bin/sh"
			spec.Args = []string{"sh", "-c", cmd.GetValue()}
		default:
			spec.Path = cmd.GetValue()
			spec.Args = cmd.GetArguments()
			if len(spec.Args) == 0 {
				spec.Args = []string{cmd.GetValue()}
			}
		}
	}
	c.log.Info("launching executor", "executor", execID, "framework", fw.id, "container", containerID, "dir", dir)
	c.emit(Launch{Spec: spec})
	if dir != "" {
		c.emit(Attach{Dir: dir, Paths: ex.filePaths()})
	}
	return ex
}

// executorEnv is the executor's environment (Mesos's executorEnvironment):
// the agent's own, then the executor command's variables, then MESOS_*.
func (c *core) executorEnv(fw *framework, ex *executor) []string {
	env := make([]string, 0, len(c.cfg.BaseEnv)+20)
	for _, kv := range c.cfg.BaseEnv {
		if !strings.HasPrefix(kv, executorKindEnv+"=") {
			env = append(env, kv)
		}
	}
	if ex.kind == kindCustom {
		vars := ex.info.GetCommand().GetEnvironment().GetVariables()
		for _, v := range vars {
			if v.GetType() != mesos.Environment_Variable_SECRET {
				env = append(env, v.GetName()+"="+v.GetValue())
			}
		}
		// Gomesos's addition: the executor's own ports, unless its
		// command sets the variables.
		env = append(env, taskenv.PortsEnv(ex.info.GetResources(), func(name string) bool {
			return slices.ContainsFunc(vars, func(v *mesos.Environment_Variable) bool { return v.GetName() == name })
		})...)
	}
	grace := c.cfg.ShutdownGrace
	if d := ex.info.GetShutdownGracePeriod(); d != nil {
		grace = time.Duration(d.GetNanoseconds())
	}
	checkpoint := "0"
	if fw.info.GetCheckpoint() {
		checkpoint = "1"
	}
	env = append(env,
		"MESOS_FRAMEWORK_ID="+fw.id,
		"MESOS_EXECUTOR_ID="+ex.id,
		"MESOS_DIRECTORY="+ex.directory,
		"MESOS_SANDBOX="+ex.directory,
		"MESOS_AGENT_ENDPOINT="+c.cfg.Endpoint,
		"MESOS_SLAVE_ID="+c.agentID,
		"MESOS_SLAVE_PID="+c.cfg.PID,
		"MESOS_CHECKPOINT="+checkpoint,
		"MESOS_HTTP_COMMAND_EXECUTOR=1",
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD="+codec.FormatDuration(grace),
		"LIBPROCESS_PORT=0",
	)
	if fw.info.GetCheckpoint() {
		env = append(env,
			"MESOS_RECOVERY_TIMEOUT="+codec.FormatDuration(c.recoveryTimeout()),
			"MESOS_SUBSCRIPTION_BACKOFF_MAX="+codec.FormatDuration(c.subscriptionBackoffMax()))
	}
	switch ex.kind {
	case kindCommand:
		// (Type has no zero value: an unset one reads as DOCKER.)
		if ci := ex.info.GetContainer(); ci != nil && ci.Type != nil && ci.GetType() == mesos.ContainerInfo_DOCKER {
			// The docker executor: the command executor with its task
			// in a Docker container (Mesos's mesos-docker-executor).
			env = append(env, executorKindEnv+"=docker")
			break
		}
		env = append(env, executorKindEnv+"=command")
	case kindDefault:
		env = append(env, executorKindEnv+"=default")
	}
	return env
}

func (c *core) containerLaunched(now time.Time, in ContainerLaunched) {
	ex := c.byContainer[in.ContainerID]
	if ex == nil {
		return
	}
	if in.Err != nil {
		c.log.Error("failed to launch executor", "executor", ex.id, "framework", ex.frameworkID, "err", in.Err)
		c.metrics.containerLaunchErrors++
		ex.pendingTermination = &termination{
			state:   mesos.TaskState_TASK_FAILED,
			reason:  mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED,
			message: "Failed to launch container: " + in.Err.Error(),
		}
		c.containerExited(now, Termination{ContainerID: in.ContainerID, Status: -1, How: "failed to launch: " + in.Err.Error()})
		return
	}
	ex.pid = in.Pid
	c.touchEx(ex)
}

// ---- Killing and shutting down ----

// killTask is KILL_TASK (Mesos's Slave::killTask).
func (c *core) killTask(now time.Time, fwID, taskID string, policy *mesos.KillPolicy) {
	fw := c.frameworks[fwID]
	if fw == nil || fw.terminating {
		c.log.Warn("ignoring kill of a task of an unknown or terminating framework", "task", taskID, "framework", fwID)
		return
	}
	ex := fw.executorOf(taskID)
	if ex == nil {
		// The task never reached this agent, or is long gone.
		st := mesos.TaskState_TASK_LOST
		if partitionAware(fw.info) {
			st = mesos.TaskState_TASK_DROPPED
		}
		c.agentUpdate(now, fw, nil, taskID, st, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, "Cannot find executor")
		return
	}
	switch ex.state {
	case execRegistering:
		// Not delivered yet: the agent kills it (and the rest of its group).
		if q := ex.queuedTask(taskID); q != nil {
			for _, t := range q.tasks() {
				c.agentUpdate(now, fw, ex, t.GetTaskId().GetValue(), mesos.TaskState_TASK_KILLED,
					mesos.TaskStatus_REASON_EXECUTOR_UNREGISTERED, "Unregistered executor")
			}
		}
		if len(ex.queue) == 0 && len(ex.launched) == 0 {
			// Nothing left for it to run.
			c.shutdownExecutor(now, ex)
		}
	case execRunning:
		if ex.launched[taskID] == nil {
			c.log.Info("ignoring kill of a task that already ended", "task", taskID)
			return
		}
		ex.killed[taskID] = true
		c.touchEx(ex)
		c.emit(ExecutorEvent{Conn: ex.conn, Event: &execpb.Event{
			Type: execpb.Event_KILL.Enum(),
			Kill: &execpb.Event_Kill{TaskId: &mesos.TaskID{Value: proto.String(taskID)}, KillPolicy: policy},
		}})
	default:
		c.log.Info("ignoring kill: the executor is ending", "task", taskID, "executor", ex.id, "state", ex.state)
	}
}

// shutdownFramework is SHUTDOWN_FRAMEWORK: every executor of the framework
// is shut down and the framework forgotten once they are gone.
func (c *core) shutdownFramework(now time.Time, fwID string) {
	fw := c.frameworks[fwID]
	if fw == nil || fw.terminating {
		return
	}
	c.log.Info("shutting down framework", "framework", fwID)
	fw.terminating = true
	for _, ex := range fw.sortedExecutors() {
		switch ex.state {
		case execRegistering, execRunning:
			c.shutdownExecutor(now, ex)
		case execTerminated:
			c.removeExecutor(fw, ex)
		}
	}
	c.maybeRemoveFramework(fw)
}

// shutdownExecutorByID is SHUTDOWN_EXECUTOR.
func (c *core) shutdownExecutorByID(now time.Time, fwID, execID string) {
	fw := c.frameworks[fwID]
	if fw == nil || fw.terminating {
		return
	}
	ex := fw.executors[execID]
	if ex == nil || ex.state == execTerminating || ex.state == execTerminated {
		return
	}
	c.shutdownExecutor(now, ex)
}

// shutdownExecutor asks a subscribed executor to shut down (SHUTDOWN event)
// and kills it after its grace period; one that never subscribed is killed
// at once.
func (c *core) shutdownExecutor(now time.Time, ex *executor) {
	c.log.Info("shutting down executor", "executor", ex.id, "framework", ex.frameworkID)
	ex.shutdown = true
	ex.state = execTerminating
	if ex.conn == 0 {
		c.destroy(ex)
		return
	}
	c.emit(ExecutorEvent{Conn: ex.conn, Event: &execpb.Event{Type: execpb.Event_SHUTDOWN.Enum()}})
	grace := c.cfg.ShutdownGrace
	if d := ex.info.GetShutdownGracePeriod(); d != nil {
		grace = time.Duration(d.GetNanoseconds())
	}
	ex.killAt = now.Add(grace)
	c.exTimers.push(ex.killAt, ex.containerID)
}

func (c *core) destroy(ex *executor) {
	if ex.destroyed || ex.state == execTerminated {
		return
	}
	ex.destroyed = true
	c.emit(Destroy{ContainerID: ex.containerID})
}

// containerExited is Mesos's executorTerminated: every unfinished task of
// the executor ends (TASK_FAILED, or TASK_KILLED if it was being killed),
// and the master hears EXECUTOR_EXITED.
func (c *core) containerExited(now time.Time, t Termination) {
	ex := c.byContainer[t.ContainerID]
	if ex == nil || ex.state == execTerminated {
		return
	}
	fw := c.frameworks[ex.frameworkID]
	c.log.Info("executor exited", "executor", ex.id, "framework", ex.frameworkID, "how", t.How)
	wasTerminating := ex.state == execTerminating
	c.touchEx(ex)
	ex.state = execTerminated
	status := t.Status
	ex.exitStatus = &status
	c.metrics.executorsTerminated++
	if ex.conn != 0 {
		c.emit(ExecutorClose{Conn: ex.conn})
		delete(c.byConn, ex.conn)
		ex.conn = 0
	}

	if fw != nil && !fw.terminating {
		var ids []string
		for _, q := range ex.queue {
			for _, task := range q.tasks() {
				ids = append(ids, task.GetTaskId().GetValue())
			}
		}
		ids = append(ids, sortedKeys(ex.launched)...)
		for _, id := range ids {
			st, reason, msg := mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, "Executor terminated"
			if p := ex.pendingTermination; p != nil {
				st, reason, msg = p.state, p.reason, p.message
			} else if l := t.Limitation; l != nil {
				reason, msg = l.Reason, l.Message
			} else if ex.killed[id] || ex.shutdown || (wasTerminating && ex.destroyed) {
				st = mesos.TaskState_TASK_KILLED
			}
			c.agentUpdate(now, fw, ex, id, st, reason, msg)
		}
		c.sendToMaster(&agentproto.AgentMessage{
			Type: agentproto.AgentMessage_EXECUTOR_EXITED.Enum(),
			ExecutorExited: &agentproto.AgentMessage_ExecutorExited{
				FrameworkId: &mesos.FrameworkID{Value: proto.String(ex.frameworkID)},
				ExecutorId:  &mesos.ExecutorID{Value: proto.String(ex.id)},
				Status:      proto.Int32(int32(status)),
			},
		})
	}
	delete(c.byContainer, ex.containerID)
	if fw == nil {
		return
	}
	if fw.terminating || !ex.incomplete() {
		c.removeExecutor(fw, ex)
	}
	c.maybeRemoveFramework(fw)
}

// removeExecutor moves an executor to the framework's completed list.
func (c *core) removeExecutor(fw *framework, ex *executor) {
	if fw.executors[ex.id] != ex {
		return
	}
	c.touchEx(ex)
	delete(fw.executors, ex.id)
	delete(c.byContainer, ex.containerID)
	// Unacknowledged tasks of a removed executor count as completed.
	for _, id := range sortedKeys(ex.terminated) {
		ex.complete(id)
	}
	ex.queue = nil
	if ex.directory != "" {
		// The run's sandbox, and <executor>/ above runs/<run>.
		c.emit(Collect{Dirs: []string{ex.directory, filepath.Dir(filepath.Dir(ex.directory))}})
	}
	fw.completedExecutors = append(fw.completedExecutors, ex)
	if n := len(fw.completedExecutors) - MaxCompletedExecutorsPerFramework; n > 0 {
		for _, old := range fw.completedExecutors[:n] {
			c.emit(Detach{Dirs: []string{old.directory}})
		}
		fw.completedExecutors = slices.Delete(fw.completedExecutors, 0, n)
	}
}

// maybeRemoveFramework forgets a framework with no executors left.
func (c *core) maybeRemoveFramework(fw *framework) {
	if len(fw.executors) > 0 || c.frameworks[fw.id] != fw {
		return
	}
	if !fw.terminating && c.updates.hasFramework(fw.id) {
		// Updates of tasks without an executor wait for their
		// acknowledgements; the framework goes with the last.
		return
	}
	c.touchFw(fw.id)
	delete(c.frameworks, fw.id)
	c.updates.removeFramework(fw.id)
	if dir, err := ids.Framework(c.cfg.WorkDir, c.agentID, fw.id); err == nil {
		c.emit(Collect{Dirs: []string{dir}})
	}
	c.completedFrameworks = append(c.completedFrameworks, fw)
	if n := len(c.completedFrameworks) - MaxCompletedFrameworks; n > 0 {
		for _, old := range c.completedFrameworks[:n] {
			for _, ex := range old.completedExecutors {
				c.emit(Detach{Dirs: []string{ex.directory}})
			}
		}
		c.completedFrameworks = slices.Delete(c.completedFrameworks, 0, n)
	}
}

// complete moves a terminated task to the completed list.
func (ex *executor) complete(taskID string) {
	t := ex.terminated[taskID]
	if t == nil {
		return
	}
	delete(ex.terminated, taskID)
	ex.completed = append(ex.completed, t)
	if n := len(ex.completed) - MaxCompletedTasksPerExecutor; n > 0 {
		ex.completed = slices.Delete(ex.completed, 0, n)
	}
}

// ---- Framework messages ----

// frameworkMessage is FRAMEWORK_TO_EXECUTOR: a MESSAGE event for a
// subscribed executor, else dropped.
func (c *core) frameworkMessage(m *agentproto.MasterMessage_FrameworkToExecutor) {
	fw := c.frameworks[m.GetFrameworkId().GetValue()]
	var ex *executor
	if fw != nil && !fw.terminating {
		ex = fw.executors[m.GetExecutorId().GetValue()]
	}
	if ex == nil || ex.state != execRunning {
		c.log.Warn("dropping a framework message for an executor that is not running",
			"executor", m.GetExecutorId().GetValue(), "framework", m.GetFrameworkId().GetValue())
		c.metrics.invalidFrameworkMessages++
		return
	}
	c.metrics.validFrameworkMessages++
	c.emit(ExecutorEvent{Conn: ex.conn, Event: &execpb.Event{
		Type:    execpb.Event_MESSAGE.Enum(),
		Message: &execpb.Event_Message{Data: m.GetData()},
	}})
}

func partitionAware(info *mesos.FrameworkInfo) bool {
	for _, cp := range info.GetCapabilities() {
		if cp.GetType() == mesos.FrameworkInfo_Capability_PARTITION_AWARE {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
