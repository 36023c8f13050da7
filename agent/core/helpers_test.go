package core

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/executor/builtin"
)

// The messages and calls the core tests feed in.

var testFramework = &mesos.FrameworkInfo{
	User:     proto.String("tester"),
	Name:     proto.String("test framework"),
	Id:       &mesos.FrameworkID{Value: proto.String("fw-1")},
	Hostname: proto.String("scheduler-host"),
}

func scalar(name string, v float64) *mesos.Resource {
	return &mesos.Resource{
		Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(),
		Scalar:         &mesos.Value_Scalar{Value: proto.Float64(v)},
		AllocationInfo: &mesos.Resource_AllocationInfo{Role: proto.String("*")},
	}
}

func commandTask(id, agentID, shell string) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:      proto.String(id),
		TaskId:    &mesos.TaskID{Value: proto.String(id)},
		AgentId:   &mesos.AgentID{Value: proto.String(agentID)},
		Resources: []*mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)},
		Command:   &mesos.CommandInfo{Value: proto.String(shell)},
	}
}

func runTask(task *mesos.TaskInfo) *agentproto.MasterMessage {
	return &agentproto.MasterMessage{
		Type:    agentproto.MasterMessage_RUN_TASK.Enum(),
		RunTask: &agentproto.MasterMessage_RunTask{FrameworkInfo: testFramework, Task: task},
	}
}

func execCall(fw, ex string, typ execpb.Call_Type) *execpb.Call {
	return &execpb.Call{
		FrameworkId: &mesos.FrameworkID{Value: proto.String(fw)},
		ExecutorId:  &mesos.ExecutorID{Value: proto.String(ex)},
		Type:        typ.Enum(),
	}
}

func update(fw, ex, task string, state mesos.TaskState, uuid []byte) *execpb.Call {
	c := execCall(fw, ex, execpb.Call_UPDATE)
	c.Update = &execpb.Call_Update{Status: &mesos.TaskStatus{
		TaskId: &mesos.TaskID{Value: proto.String(task)},
		State:  state.Enum(),
		Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
		Uuid:   uuid,
	}}
	return c
}

// The variable the core sets to pick a built-in executor is the one the
// gomesos binary reads.
func TestExecutorKindEnvMatchesBuiltin(t *testing.T) {
	if executorKindEnv != builtin.EnvKind {
		t.Fatalf("executorKindEnv = %q, builtin.EnvKind = %q", executorKindEnv, builtin.EnvKind)
	}
}
