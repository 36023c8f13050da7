package core

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// BenchmarkUpdateAndAck is one status update and its acknowledgement on
// an agent running 1,000 command tasks, with and without checkpointing:
// what the checkpoint costs the core per update.
func BenchmarkUpdateAndAck(b *testing.B) {
	for _, checkpointing := range []bool{false, true} {
		b.Run(fmt.Sprintf("checkpoint=%v", checkpointing), func(b *testing.B) {
			h := &ckptHarness{coreHarness: newCoreHarness(b), disk: map[string]map[string][]byte{}}
			h.coreHarness.register()
			for i := range 1000 {
				id := fmt.Sprintf("t%d", i)
				m := runTask(commandTask(id, "A-S1", "sleep 1"))
				m.RunTask.FrameworkInfo = knownAs("fw-1", checkpointing)
				spec := only[Launch](h.coreHarness.master(m))[0].Spec
				h.coreHarness.step(ContainerLaunched{ContainerID: spec.ID, Pid: 1000 + i})
				sub := execCall("fw-1", id, execpb.Call_SUBSCRIBE)
				sub.Subscribe = &execpb.Call_Subscribe{}
				h.coreHarness.step(ExecutorCall{Call: sub, Conn: int64(i + 1), Reply: make(chan CallResult, 1)})
			}
			reply := make(chan CallResult, 1)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				uuid := []byte(fmt.Sprintf("%016d", i))
				task := fmt.Sprintf("t%d", i%1000)
				outs := h.coreHarness.step(ExecutorCall{Call: update("fw-1", task, task, mesos.TaskState_TASK_RUNNING, uuid), Reply: reply})
				for _, o := range outs {
					if c, ok := o.(Checkpoint); ok {
						ApplyCheckpoint(h.disk, c.Ops)
					}
				}
				h.coreHarness.master(ackOf("fw-1", task, uuid))
			}
		})
	}
}

func ackOf(fw, task string, uuid []byte) *agentproto.MasterMessage {
	return &agentproto.MasterMessage{
		Type: agentproto.MasterMessage_ACKNOWLEDGE.Enum(),
		Acknowledge: &agentproto.MasterMessage_Acknowledge{
			FrameworkId: &mesos.FrameworkID{Value: proto.String(fw)},
			TaskId:      &mesos.TaskID{Value: proto.String(task)},
			Uuid:        uuid,
		},
	}
}
