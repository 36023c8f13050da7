package testutil

import (
	"testing"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"google.golang.org/protobuf/proto"
)

func TestReplaceIDsReachesNestedListsAndLeavesOthers(t *testing.T) {
	call := &schedpb.Call{Reconcile: &schedpb.Call_Reconcile{Tasks: []*schedpb.Call_Reconcile_Task{
		{TaskId: &mesos.TaskID{Value: proto.String("PLACEHOLDER")}, AgentId: &mesos.AgentID{Value: proto.String("PLACEHOLDER")}},
		{TaskId: &mesos.TaskID{Value: proto.String("other")}},
	}}}
	if !ReplaceIDs(call.ProtoReflect(), "mesos.v1.TaskID", "PLACEHOLDER", "t1") {
		t.Fatal("nothing replaced")
	}
	tasks := call.GetReconcile().GetTasks()
	if tasks[0].GetTaskId().GetValue() != "t1" || tasks[1].GetTaskId().GetValue() != "other" || tasks[0].GetAgentId().GetValue() != "PLACEHOLDER" {
		t.Errorf("after ReplaceIDs: %v", tasks)
	}
	if ReplaceIDs(call.ProtoReflect(), "mesos.v1.TaskID", "PLACEHOLDER", "t2") {
		t.Error("replaced again with no placeholder left")
	}
}
