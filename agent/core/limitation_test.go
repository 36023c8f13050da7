package core

import (
	"testing"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// A container an isolator ended for a limitation fails its tasks with the
// limitation's reason and message, from the agent.
func TestCoreLimitationFailsTasks(t *testing.T) {
	h := newCoreHarness(t)
	h.register()
	launches := only[Launch](h.master(runTask(commandTask("t", "A-S1", "true"))))
	if len(launches) != 1 {
		t.Fatal("no launch")
	}
	id := launches[0].Spec.ID
	h.step(ContainerLaunched{ContainerID: id, Pid: 1234})
	const msg = "Memory limit exceeded: Requested: 64MB Maximum Used: 64MB"
	outs := h.step(ContainerExited{Termination: Termination{ContainerID: id, Status: 9,
		Limitation: &Limitation{Reason: mesos.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY, Message: msg}}})
	var found bool
	for _, s := range only[Send](outs) {
		st := s.Msg.GetStatusUpdate().GetStatus()
		if st == nil {
			continue
		}
		found = true
		if st.GetState() != mesos.TaskState_TASK_FAILED || st.GetReason() != mesos.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY ||
			st.GetSource() != mesos.TaskStatus_SOURCE_AGENT || st.GetMessage() != msg {
			t.Errorf("status = %v", st)
		}
	}
	if !found {
		t.Fatalf("no status update in %v", outs)
	}
}
