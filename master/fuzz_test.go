package master_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
)

// FuzzSchedulerHandler feeds raw bodies, as JSON or protobuf, to
// /api/v1/scheduler. Whatever comes in, the master must not panic, must
// answer with a 2xx, 4xx or 5xx status, and must keep serving.
func FuzzSchedulerHandler(f *testing.F) {
	m := startMaster(f)
	h := m.Handler()

	seed := func(c *schedpb.Call) {
		if b, err := codec.MarshalJSON(c); err == nil {
			f.Add(b, false, false)
		}
		if b, err := proto.Marshal(c); err == nil {
			f.Add(b, true, false)
		}
	}
	fwID := &mesos.FrameworkID{Value: proto.String("fuzz-0000")}
	seed(subscribeCall(frameworkInfo("fuzz")))
	seed(subscribeCall(withID(frameworkInfo("fuzz"), "fuzz-0000")))
	seed(&schedpb.Call{Type: schedpb.Call_SUBSCRIBE.Enum()})
	seed(&schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum(), FrameworkId: fwID})
	seed(&schedpb.Call{Type: schedpb.Call_UNKNOWN.Enum(), FrameworkId: fwID})
	seed(&schedpb.Call{Type: schedpb.Call_ACCEPT.Enum(), FrameworkId: fwID, Accept: &schedpb.Call_Accept{
		OfferIds: []*mesos.OfferID{{Value: proto.String("O1")}},
		Operations: []*mesos.Offer_Operation{launchOp(&mesos.TaskInfo{
			Name: proto.String("t"), TaskId: &mesos.TaskID{Value: proto.String("t")},
			AgentId: &mesos.AgentID{Value: proto.String("S0")}, Resources: resourcesProto("cpus:1;mem:32"),
			Command: &mesos.CommandInfo{Value: proto.String("true")},
		})},
		Filters: &mesos.Filters{RefuseSeconds: proto.Float64(-1)},
	}})
	seed(&schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(), FrameworkId: fwID, Acknowledge: &schedpb.Call_Acknowledge{
		AgentId: &mesos.AgentID{Value: proto.String("S0")}, TaskId: &mesos.TaskID{Value: proto.String("t")}, Uuid: newUUID(),
	}})
	seed(reconcileCall(reconcileTask("t", "S0")))
	f.Add([]byte(`not json`), false, false)
	f.Add([]byte(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","failover_timeout":-1}}}`), false, false)
	f.Add([]byte(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","role":"a/../b"}}}`), false, true)
	f.Add([]byte{0x08, 0x01, 0x1a, 0x00}, true, false)
	f.Add([]byte{0xff, 0xff}, true, true)

	f.Fuzz(func(t *testing.T, body []byte, protobuf, withStream bool) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/scheduler", bytes.NewReader(body))
		if protobuf {
			req.Header.Set("Content-Type", codec.MediaProtobuf)
		} else {
			req.Header.Set("Content-Type", codec.MediaJSON)
		}
		if withStream {
			req.Header.Set("Mesos-Stream-Id", "00000000-0000-4000-8000-000000000000")
		}
		// The client is already gone: a SUBSCRIBE that succeeds ends at
		// once instead of streaming forever.
		ctx, cancel := context.WithCancel(req.Context())
		cancel()
		req = req.WithContext(ctx)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch code := rec.Code; {
		case code >= 200 && code < 300, code >= 400 && code < 500:
		case code == http.StatusNotImplemented:
		default:
			t.Fatalf("status %d for %q (protobuf %v): %q", code, body, protobuf, rec.Body.String())
		}
		// Still serving: the master's loop answers.
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics/snapshot", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /metrics/snapshot after %q: %d", body, rec.Code)
		}
	})
}
