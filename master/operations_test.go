package master_test

// Offer operations the master refuses (facts §1.5).

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
)

// An operation the master refuses (here a RESERVE and an UNRESERVE of
// unreserved resources, which Mesos's validation rejects) is answered,
// never silently dropped: with operation feedback asked for (an id), the framework gets
// UPDATE_OPERATION_STATUS with OPERATION_ERROR for that id, as Mesos's
// master reports a dropped operation; without an id it gets an ERROR event
// naming the operation. The LAUNCH beside it in the same ACCEPT still runs,
// the offer's other resources come back in a later offer, and the stream
// stays open.
func TestUnsupportedOperationsAreAnswered(t *testing.T) {
	for _, enc := range []codec.Encoding{codec.JSON, codec.Protobuf} {
		t.Run(enc.String(), func(t *testing.T) {
			m := startMaster(t)
			startAgent(t, m, "agent1.example.com", agentResources)
			s := subscribe(t, m, frameworkInfo("reserver"), enc)
			o := s.nextOffers()[0]

			reserve := &mesos.Offer_Operation{
				Type:    mesos.Offer_Operation_RESERVE.Enum(),
				Id:      &mesos.OperationID{Value: proto.String("op-1")},
				Reserve: &mesos.Offer_Operation_Reserve{Resources: resourcesProto("cpus:1")},
			}
			s.accept(offerIDs(o), 0, reserve, launchOp(commandTask("t1", "cpus:1;mem:128", o)))
			ev := s.next(schedpb.Event_UPDATE_OPERATION_STATUS)
			st := ev.GetUpdateOperationStatus().GetStatus()
			if st.GetOperationId().GetValue() != "op-1" || st.GetState() != mesos.OperationState_OPERATION_ERROR {
				t.Errorf("operation status = %v, want OPERATION_ERROR for op-1", st)
			}
			if !strings.Contains(st.GetMessage(), "RESERVE") || st.Uuid != nil {
				t.Errorf("operation status message %q (uuid %v): want it to name RESERVE, without a uuid", st.GetMessage(), st.GetUuid())
			}
			if got := m.metrics()["master/invalid_operations"]; got != 1 {
				t.Errorf("master/invalid_operations = %v, want 1", got)
			}
			if got := m.metrics()["master/tasks_staging"]; got != 1 {
				t.Errorf("master/tasks_staging = %v, want 1: the LAUNCH beside the dropped operation runs", got)
			}

			again := s.nextOffers()[0]
			if cpus := offeredScalar("cpus", again); cpus != 1 {
				t.Errorf("offered cpus %v after the launch, want the 1 the dropped RESERVE did not take", cpus)
			}
			unreserve := &mesos.Offer_Operation{
				Type:      mesos.Offer_Operation_UNRESERVE.Enum(),
				Unreserve: &mesos.Offer_Operation_Unreserve{Resources: resourcesProto("cpus:1")},
			}
			s.accept(offerIDs(again), 0, unreserve)
			msg := s.next(schedpb.Event_ERROR).GetError().GetMessage()
			if !strings.Contains(msg, "UNRESERVE") {
				t.Errorf("ERROR message %q does not name UNRESERVE", msg)
			}
			if cpus := offeredScalar("cpus", s.nextOffers()...); cpus != 1 {
				t.Errorf("offered cpus %v after the dropped UNRESERVE, want 1 back", cpus)
			}
		})
	}
}
