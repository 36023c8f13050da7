package core

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/resources"
)

// applyMsg is APPLY_OPERATION with the given checkpointed resources.
func applyMsg(uuid byte, ckpt resources.Resources) *agentproto.MasterMessage {
	return &agentproto.MasterMessage{Type: agentproto.MasterMessage_APPLY_OPERATION.Enum(), ApplyOperation: &agentproto.ApplyOperation{
		OperationUuid: []byte{uuid}, Operation: &mesos.Offer_Operation{Type: mesos.Offer_Operation_CREATE.Enum()},
		Resources: resources.ToProto(ckpt),
	}}
}

// operationAnswers lists the OPERATION_STATUS messages sent.
func operationAnswers(outs []Output) []*agentproto.OperationStatusUpdate {
	var out []*agentproto.OperationStatusUpdate
	for _, s := range only[Send](outs) {
		if s.Msg.GetType() == agentproto.AgentMessage_OPERATION_STATUS {
			out = append(out, s.Msg.GetOperationStatus())
		}
	}
	return out
}

// An agent applies the checkpointed resources the master sends: they are
// checkpointed before it answers OPERATION_FINISHED, the volume
// directories are made (and removed when a later operation drops the
// volume), its total is --resources with them applied, and a restarted
// agent recovers them, reports them on re-registration and has the
// volumes' directories made again. Resources its --resources cannot hold
// are refused with OPERATION_FAILED and change nothing.
func TestApplyOperationCheckpointsAndRecovers(t *testing.T) {
	flags := resources.MustParse("cpus:2;mem:512;disk:1024")
	withFlags := func(h *ckptHarness) *ckptHarness {
		h.c.cfg.AgentInfo = proto.Clone(h.c.cfg.AgentInfo).(*mesos.AgentInfo)
		h.c.cfg.AgentInfo.Resources = resources.ToProto(flags)
		return h
	}
	h := withFlags(newCkptHarness(t))
	h.register()

	reserved := resources.MustParse("disk:100").PushReservation(resources.Reservation{Type: resources.ReservationDynamic, Role: "eng"})
	vol := reserved.Clone()
	vol[0].Disk = &resources.DiskInfo{PersistenceID: "v1"}
	outs := h.master(applyMsg(1, vol))
	if ans := operationAnswers(outs); len(ans) != 1 || ans[0].GetState() != mesos.OperationState_OPERATION_FINISHED || string(ans[0].GetOperationUuid()) != "\x01" {
		t.Fatalf("answers %v, want one OPERATION_FINISHED", ans)
	}
	if len(only[Checkpoint](outs)) != 1 {
		t.Fatalf("no checkpoint before the answer: %v", outs)
	}
	if v := only[Volumes](outs); len(v) != 1 || !slices.Equal(v[0].Create, []Volume{{Role: "eng", ID: "v1"}}) || len(v[0].Remove) != 0 {
		t.Fatalf("volume outputs %v, want v1 made", v)
	}
	want := flags.Subtract(resources.MustParse("disk:100")).Add(vol)
	if got, _ := resources.FromProto(h.c.totalResources()); !got.Equal(want) {
		t.Fatalf("total %v, want %v", got, want)
	}

	// Too much disk: refused, nothing changes.
	tooMuch := resources.MustParse("disk:5000").PushReservation(resources.Reservation{Type: resources.ReservationDynamic, Role: "eng"})
	outs = h.master(applyMsg(2, tooMuch))
	if ans := operationAnswers(outs); len(ans) != 1 || ans[0].GetState() != mesos.OperationState_OPERATION_FAILED {
		t.Fatalf("answers %v, want OPERATION_FAILED", ans)
	}
	if len(only[Checkpoint](outs))+len(only[Volumes](outs)) != 0 {
		t.Fatalf("a refused operation changed something: %v", outs)
	}

	// A restarted agent keeps them.
	st, err := DecodeCheckpoint(h.disk)
	if err != nil {
		t.Fatal(err)
	}
	n := withFlags(&ckptHarness{coreHarness: newCoreHarness(t), disk: h.disk})
	n.now = h.now
	outs = n.step(Recover{State: st})
	if v := only[Volumes](outs); len(v) != 1 || !slices.Equal(v[0].Create, []Volume{{Role: "eng", ID: "v1"}}) {
		t.Fatalf("recovery outputs %v, want v1's directory made again", outs)
	}
	conns := only[Connect](n.step(Start{}))
	if len(conns) != 1 {
		t.Fatalf("start: %v", conns)
	}
	if got, _ := resources.FromProto(conns[0].Msg.GetRegister().GetAgentInfo().GetResources()); !got.Equal(want) {
		t.Fatalf("REREGISTER reports %v, want %v", got, want)
	}
	n.step(MasterStream{Gen: conns[0].Gen, StreamID: "s2"})
	n.step(MasterMessage{Gen: conns[0].Gen, Msg: registered("A-S1", 3600)})

	// DESTROY and UNRESERVE: the volume's directory goes.
	outs = n.master(applyMsg(3, nil))
	if v := only[Volumes](outs); len(v) != 1 || !slices.Equal(v[0].Remove, []Volume{{Role: "eng", ID: "v1"}}) {
		t.Fatalf("volume outputs %v, want v1 removed", v)
	}
	if got, _ := resources.FromProto(n.c.totalResources()); !got.Equal(flags) {
		t.Fatalf("total %v after everything was undone, want %v", got, flags)
	}
}
