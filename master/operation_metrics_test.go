package master_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
)

// The operation gauges of Mesos 1.11's master (src/master/metrics.cpp):
// master/operations/<state> and <type>/<state> count the operations the
// master tracks by their latest state, with total their sum; an operation
// moves from pending to finished when its agent applied it and stops
// counting when its framework acknowledged that; a refused operation
// counts under error and stays counted. /metrics has them too.
func TestOperationMetrics(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1.example.com", "cpus:4;mem:1024;disk:1024")
	fi := frameworkInfo("eng")
	fi.Role = proto.String("eng")
	s := subscribe(t, m, fi, codec.JSON)

	// Every gauge is there at 0 before anything happens.
	for _, name := range []string{
		"master/operations/total", "master/operations/pending", "master/operations/recovering",
		"master/operations/unreachable", "master/operations/finished", "master/operations/failed",
		"master/operations/error", "master/operations/dropped", "master/operations/gone_by_operator",
		"master/operations/reserve/finished", "master/operations/unreserve/total", "master/operations/create/error",
		"master/operations/destroy/pending", "master/operations/grow_volume/dropped", "master/operations/shrink_volume/failed",
	} {
		if v, ok := m.metrics()[name]; !ok || v != 0 {
			t.Errorf("%s = %v (present %v), want 0", name, v, ok)
		}
	}

	o := s.nextOffers()[0]
	s.accept(offerIDs(o), 0, &mesos.Offer_Operation{Type: mesos.Offer_Operation_RESERVE.Enum(),
		Id: &mesos.OperationID{Value: proto.String("r1")}, Reserve: &mesos.Offer_Operation_Reserve{Resources: dynamic("disk:100", "eng", "")}})
	apply := a.next(agentproto.MasterMessage_APPLY_OPERATION)
	want := func(values map[string]float64) {
		t.Helper()
		for name, v := range values {
			m.waitMetric(name, v)
		}
	}
	want(map[string]float64{
		"master/operations/total": 1, "master/operations/pending": 1,
		"master/operations/reserve/total": 1, "master/operations/reserve/pending": 1,
		"master/operations/reserve/finished": 0,
	})

	a.finish(apply)
	st := s.next(schedpb.Event_UPDATE_OPERATION_STATUS).GetUpdateOperationStatus().GetStatus()
	if st.GetState() != mesos.OperationState_OPERATION_FINISHED {
		t.Fatalf("RESERVE: %v %q", st.GetState(), st.GetMessage())
	}
	want(map[string]float64{
		"master/operations/total": 1, "master/operations/pending": 0, "master/operations/finished": 1,
		"master/operations/reserve/pending": 0, "master/operations/reserve/finished": 1,
	})
	s.call(&schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE_OPERATION_STATUS.Enum(), AcknowledgeOperationStatus: &schedpb.Call_AcknowledgeOperationStatus{
		AgentId: st.GetAgentId(), Uuid: st.GetUuid().GetValue(), OperationId: st.GetOperationId(),
	}})
	want(map[string]float64{
		"master/operations/total": 0, "master/operations/finished": 0,
		"master/operations/reserve/total": 0, "master/operations/reserve/finished": 0,
	})

	// A refused DESTROY (no such volume) is an error, and stays counted.
	o = s.nextOffers()[0]
	s.accept(offerIDs(o), 0, &mesos.Offer_Operation{Type: mesos.Offer_Operation_DESTROY.Enum(),
		Id: &mesos.OperationID{Value: proto.String("d1")}, Destroy: &mesos.Offer_Operation_Destroy{Volumes: []*mesos.Resource{volumeProto("eng", 10, "nope", "data")}}})
	if st := s.next(schedpb.Event_UPDATE_OPERATION_STATUS).GetUpdateOperationStatus().GetStatus(); st.GetState() != mesos.OperationState_OPERATION_ERROR {
		t.Fatalf("DESTROY of a missing volume: %v %q", st.GetState(), st.GetMessage())
	}
	want(map[string]float64{
		"master/operations/total": 1, "master/operations/error": 1,
		"master/operations/destroy/total": 1, "master/operations/destroy/error": 1,
		"master/operations/reserve/error": 0,
	})

	// The Prometheus endpoint shows the same figures.
	families := m.scrape()
	for name, v := range map[string]float64{"mesos_master_operations_destroy_error": 1, "mesos_master_operations_reserve_finished": 0, "mesos_master_operations_total": 1} {
		got := sample(families, name, nil)
		if got == nil || got.GetGauge().GetValue() != v {
			t.Errorf("/metrics %s = %v, want %v", name, got, v)
		}
	}
}
