package master_test

import (
	"net/http"
	"testing"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
)

// An agent's BATCH is taken message by message, in order, as if each had
// come alone; REGISTERED tells agents the master takes batches; a batch
// that is empty, nested or holds a registration is refused with 400 and
// changes nothing.
func TestAgentBatchIsTakenInOrder(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "batch-host", "cpus:4;mem:1024")
	if !a.registered.GetRegistered().GetAcceptsBatches() {
		t.Errorf("REGISTERED does not say the master accepts batches: %v", a.registered)
	}
	s := subscribe(t, m, frameworkInfo("batcher"), codec.JSON)
	o := s.nextOffers()[0]
	s.accept(offerIDs(o), 0, launchOp(commandTask("t1", "cpus:1;mem:64", o), commandTask("t2", "cpus:1;mem:64", o)))
	a.next(agentproto.MasterMessage_RUN_TASK)
	a.next(agentproto.MasterMessage_RUN_TASK)

	batch := func(msgs ...*agentproto.AgentMessage) *agentproto.AgentMessage {
		return &agentproto.AgentMessage{Type: agentproto.AgentMessage_BATCH.Enum(), Batch: msgs}
	}
	running := func(task string) *agentproto.AgentMessage {
		return a.statusUpdate(s.FrameworkID, task, mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_RUNNING)
	}
	register := &agentproto.AgentMessage{Type: agentproto.AgentMessage_REGISTER.Enum(), Register: &agentproto.AgentMessage_Register{AgentInfo: a.Info}}
	for name, bad := range map[string]*agentproto.AgentMessage{
		"empty":        batch(),
		"nested":       batch(running("t1"), batch(running("t2"))),
		"registration": batch(running("t1"), register),
	} {
		if status, err := a.trySend(bad); err != nil || status != http.StatusBadRequest {
			t.Errorf("%s batch: status %d, error %v; want 400", name, status, err)
		}
	}
	s.syncUpdates() // the refused batches' updates were not taken

	a.send(batch(running("t1"), running("t2"), a.statusUpdate(s.FrameworkID, "t1", mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_FINISHED)))
	var got []string
	for range 3 {
		st := s.nextUpdate()
		got = append(got, st.GetTaskId().GetValue()+" "+st.GetState().String())
	}
	want := []string{"t1 TASK_RUNNING", "t2 TASK_RUNNING", "t1 TASK_FINISHED"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("updates %q, want %q", got, want)
		}
	}
}
