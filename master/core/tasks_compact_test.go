package core

import (
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// A status holding a state, a time and a health is kept as plain values
// and shown exactly as the TaskStatus the views showed before; one holding
// more is kept whole.
func TestTaskStatusesKeptCompactShowAsBefore(t *testing.T) {
	id := &mesos.TaskID{Value: proto.String("t1")}
	update := &mesos.TaskStatus{
		TaskId: &mesos.TaskID{Value: proto.String("t1")}, State: mesos.TaskState_TASK_RUNNING.Enum(),
		Timestamp: proto.Float64(1700000000.25), Healthy: proto.Bool(false), Uuid: []byte("0123456789abcdef"),
		Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(), AgentId: &mesos.AgentID{Value: proto.String("a1")},
		ContainerStatus: &mesos.ContainerStatus{ContainerId: &mesos.ContainerID{Value: proto.String("c1")}},
	}
	viewOf := func(s *mesos.TaskStatus) *mesos.TaskStatus {
		st := statusForState(s)
		st.TaskId = id
		return st
	}
	ts := keepStatus(update, viewOf)
	if ts.full != nil {
		t.Fatalf("a plain update kept whole: %v", ts.full)
	}
	if got, want := ts.proto(id), viewOf(update); !proto.Equal(got, want) {
		t.Fatalf("shown as %v, want %v", got, want)
	}

	labelled := proto.Clone(update).(*mesos.TaskStatus)
	labelled.Labels = &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String("k"), Value: proto.String("v")}}}
	if ts := keepStatus(labelled, viewOf); ts.full == nil || !proto.Equal(ts.proto(id), viewOf(labelled)) {
		t.Fatalf("a status with labels shown as %v, want %v", ts.proto(id), viewOf(labelled))
	}
	untimed := &mesos.TaskStatus{TaskId: id, State: mesos.TaskState_TASK_STAGING.Enum()}
	if got := keepStatus(untimed, viewOf).proto(id); got.Timestamp != nil || got.GetState() != mesos.TaskState_TASK_STAGING {
		t.Fatalf("a status without a time shown as %v", got)
	}

	// An agent's history: its statuses with a uuid or a source stay as the
	// agent sent them; bare ones show as they came.
	bare := &mesos.TaskStatus{TaskId: id, State: mesos.TaskState_TASK_STARTING.Enum(), Timestamp: proto.Float64(3)}
	list := agentStatuses([]*mesos.TaskStatus{bare, update})
	if list[1].full != update {
		t.Fatalf("the agent's status with a uuid was not kept whole")
	}
	for i, want := range []*mesos.TaskStatus{bare, update} {
		if got := list[i].proto(id); !proto.Equal(got, want) {
			t.Errorf("agent status %d shown as %v, want %v", i, got, want)
		}
	}
}

// A task keeps of its TaskInfo its name and id, and what it has of the
// parts the views show; not its command.
func TestKeepTaskInfo(t *testing.T) {
	ti := &mesos.TaskInfo{
		Name: proto.String("n"), TaskId: &mesos.TaskID{Value: proto.String("t1")},
		Command: &mesos.CommandInfo{Value: proto.String("sleep 1000")},
	}
	kept := keepTaskInfo(ti)
	if kept.extra != nil || kept.GetName() != "n" || kept.GetLabels() != nil || kept.GetKillPolicy() != nil {
		t.Fatalf("kept %+v of a task with a command only", kept)
	}
	ti.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(5)}}
	ti.Limits = map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(2)}}
	kept = keepTaskInfo(ti)
	if kept.GetKillPolicy() != ti.KillPolicy || kept.GetLimits()["cpus"].GetValue() != 2 || kept.GetContainer() != nil {
		t.Fatalf("kept %+v of a task with a kill policy and limits", kept)
	}
}
