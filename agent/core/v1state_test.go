package core_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent/core"
	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// The operator API's view: a task is queued until its executor subscribes,
// then launched; the view is a copy the core's later changes do not reach.
func TestV1StateSortsTasksAndIsACopy(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := core.New(core.Config{
		WorkDir: "/var/agent", ExecutorBinary: "/bin/gomesos", Endpoint: "10.0.0.2:5051", PID: "slave(1)@10.0.0.2:5051",
		RegistrationTimeout: time.Minute, ShutdownGrace: 5 * time.Second, BackoffFactor: time.Second,
		RetryMin: 10 * time.Second, RetryMax: 10 * time.Minute,
		AgentInfo: &mesos.AgentInfo{Hostname: proto.String("sim-1"), Port: proto.Int32(5051)},
	}, now, 7, nil)
	snapshot := func() *core.V1State {
		t.Helper()
		return c.V1State()
	}
	if v := snapshot(); v.AgentInfo.GetHostname() != "sim-1" || v.AgentInfo.Id != nil || len(v.Frameworks) != 0 {
		t.Errorf("before registering: %+v", v)
	}

	gen := outputsOf[core.Connect](c.Step(now, core.Start{}))[0].Gen
	c.Step(now, core.MasterStream{Gen: gen, StreamID: "s"})
	c.Step(now, core.MasterMessage{Gen: gen, Msg: &agentproto.MasterMessage{
		Type:       agentproto.MasterMessage_REGISTERED.Enum(),
		Registered: &agentproto.MasterMessage_Registered{AgentId: &mesos.AgentID{Value: proto.String("A1")}, PingTimeoutSeconds: proto.Float64(30)},
	}})
	fw := &mesos.FrameworkInfo{Id: &mesos.FrameworkID{Value: proto.String("F")}, User: proto.String("u"), Name: proto.String("f")}
	outs := c.Step(now, core.MasterMessage{Gen: gen, Msg: &agentproto.MasterMessage{
		Type: agentproto.MasterMessage_RUN_TASK.Enum(),
		RunTask: &agentproto.MasterMessage_RunTask{FrameworkInfo: fw, Task: &mesos.TaskInfo{
			Name: proto.String("t"), TaskId: &mesos.TaskID{Value: proto.String("t")},
			AgentId: &mesos.AgentID{Value: proto.String("A1")}, Command: &mesos.CommandInfo{Value: proto.String("sleep 1")},
		}},
	}})
	spec := outputsOf[core.Launch](outs)[0].Spec
	c.Step(now, core.ContainerLaunched{ContainerID: spec.ID, Pid: 100})

	queued := snapshot()
	if queued.AgentInfo.GetId().GetValue() != "A1" || len(queued.Frameworks) != 1 || queued.Frameworks[0].GetName() != "f" ||
		len(queued.Executors) != 1 || queued.Executors[0].GetExecutorId().GetValue() != "t" {
		t.Errorf("queued: agent %v, frameworks %v, executors %v", queued.AgentInfo, queued.Frameworks, queued.Executors)
	}
	if len(queued.QueuedTasks) != 1 || len(queued.LaunchedTasks) != 0 || queued.QueuedTasks[0].GetState() != mesos.TaskState_TASK_STAGING ||
		queued.QueuedTasks[0].GetAgentId().GetValue() != "A1" {
		t.Errorf("queued: tasks %v / %v", queued.QueuedTasks, queued.LaunchedTasks)
	}
	if len(queued.Containers) != 1 || queued.Containers[0] != (core.V1Container{FrameworkID: "F", ExecutorID: "t",
		ExecutorName: queued.Executors[0].GetName(), ContainerID: spec.ID, Pid: 100}) {
		t.Errorf("queued: containers %+v", queued.Containers)
	}

	// The executor subscribes and the task is launched on it.
	call := func(typ execpb.Call_Type, set func(*execpb.Call)) {
		c2 := &execpb.Call{FrameworkId: fw.Id, ExecutorId: &mesos.ExecutorID{Value: proto.String("t")}, Type: typ.Enum()}
		set(c2)
		reply := make(chan core.CallResult, 1)
		c.Step(now, core.ExecutorCall{Call: c2, Conn: 1, Reply: reply})
	}
	call(execpb.Call_SUBSCRIBE, func(c *execpb.Call) { c.Subscribe = &execpb.Call_Subscribe{} })
	launched := snapshot()
	if len(launched.QueuedTasks) != 0 || len(launched.LaunchedTasks) != 1 || launched.LaunchedTasks[0].GetState() != mesos.TaskState_TASK_STAGING {
		t.Errorf("launched: tasks %v / %v", launched.QueuedTasks, launched.LaunchedTasks)
	}
	if len(queued.QueuedTasks) != 1 {
		t.Errorf("the earlier view changed: %v", queued.QueuedTasks)
	}

	// An update changes the core's task, not the view taken before.
	call(execpb.Call_UPDATE, func(c *execpb.Call) {
		c.Update = &execpb.Call_Update{Status: &mesos.TaskStatus{
			TaskId: &mesos.TaskID{Value: proto.String("t")}, State: mesos.TaskState_TASK_RUNNING.Enum(),
			Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(), Uuid: make([]byte, 16),
		}}
	})
	if running := snapshot(); len(running.LaunchedTasks) != 1 || running.LaunchedTasks[0].GetState() != mesos.TaskState_TASK_RUNNING {
		t.Errorf("running: %v", running.LaunchedTasks)
	}
	if launched.LaunchedTasks[0].GetState() != mesos.TaskState_TASK_STAGING || len(launched.LaunchedTasks[0].GetStatuses()) != 0 {
		t.Errorf("the earlier view changed: %v", launched.LaunchedTasks[0])
	}
}
