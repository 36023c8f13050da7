// Package agenttest holds the messages and calls that the agent's tests,
// those of its core and those of its driver, feed in: a framework, command
// tasks, RUN_TASK messages and executor calls.
package agenttest

import (
	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// Framework is the framework the tests' tasks belong to.
var Framework = &mesos.FrameworkInfo{
	User:     proto.String("tester"),
	Name:     proto.String("test framework"),
	Id:       &mesos.FrameworkID{Value: proto.String("fw-1")},
	Hostname: proto.String("scheduler-host"),
}

// Scalar is a scalar resource allocated to role "*".
func Scalar(name string, v float64) *mesos.Resource {
	return &mesos.Resource{
		Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(),
		Scalar:         &mesos.Value_Scalar{Value: proto.Float64(v)},
		AllocationInfo: &mesos.Resource_AllocationInfo{Role: proto.String("*")},
	}
}

// CommandTask is a task of cpus:0.1;mem:32 that runs shell.
func CommandTask(id, agentID, shell string) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:      proto.String(id),
		TaskId:    &mesos.TaskID{Value: proto.String(id)},
		AgentId:   &mesos.AgentID{Value: proto.String(agentID)},
		Resources: []*mesos.Resource{Scalar("cpus", 0.1), Scalar("mem", 32)},
		Command:   &mesos.CommandInfo{Value: proto.String(shell)},
	}
}

// RunTask is the master's RUN_TASK of task for Framework.
func RunTask(task *mesos.TaskInfo) *agentproto.MasterMessage {
	return &agentproto.MasterMessage{
		Type:    agentproto.MasterMessage_RUN_TASK.Enum(),
		RunTask: &agentproto.MasterMessage_RunTask{FrameworkInfo: Framework, Task: task},
	}
}

// ExecCall is an executor call of type typ from executor ex of framework fw.
func ExecCall(fw, ex string, typ execpb.Call_Type) *execpb.Call {
	return &execpb.Call{
		FrameworkId: &mesos.FrameworkID{Value: proto.String(fw)},
		ExecutorId:  &mesos.ExecutorID{Value: proto.String(ex)},
		Type:        typ.Enum(),
	}
}

// Update is an executor's UPDATE of task to state, with uuid.
func Update(fw, ex, task string, state mesos.TaskState, uuid []byte) *execpb.Call {
	c := ExecCall(fw, ex, execpb.Call_UPDATE)
	c.Update = &execpb.Call_Update{Status: &mesos.TaskStatus{
		TaskId: &mesos.TaskID{Value: proto.String(task)},
		State:  state.Enum(),
		Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
		Uuid:   uuid,
	}}
	return c
}
