package master_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
)

// operatorCall posts an operator call and returns the status and body.
func (m *testMaster) operatorCall(call *masterpb.Call, enc codec.Encoding) (int, []byte) {
	m.t.Helper()
	body, err := codec.Marshal(enc, call)
	if err != nil {
		m.t.Fatal(err)
	}
	return m.operatorRaw(body, enc.ContentType(), enc.ContentType())
}

func (m *testMaster) operatorRaw(body []byte, contentType, accept string) (int, []byte) {
	m.t.Helper()
	req, err := http.NewRequest(http.MethodPost, m.URL()+"/api/v1", bytes.NewReader(body))
	if err != nil {
		m.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// operator sends a call that must answer 200 with a typed response.
func (m *testMaster) operator(call *masterpb.Call, enc codec.Encoding) *masterpb.Response {
	m.t.Helper()
	status, body := m.operatorCall(call, enc)
	if status != http.StatusOK {
		m.t.Fatalf("%s: status %d, body %q", call.GetType(), status, body)
	}
	resp := &masterpb.Response{}
	if err := codec.Unmarshal(enc, body, resp); err != nil {
		m.t.Fatalf("%s: decoding %q: %v", call.GetType(), body, err)
	}
	return resp
}

func callOf(t masterpb.Call_Type) *masterpb.Call { return &masterpb.Call{Type: t.Enum()} }

// operatorStream is an operator SUBSCRIBE stream being read.
type operatorStream struct {
	t      testing.TB
	resp   *http.Response
	events *queue[*masterpb.Event]
	done   chan struct{}
}

func subscribeOperator(t testing.TB, m *testMaster, enc codec.Encoding) *operatorStream {
	t.Helper()
	body, _ := codec.Marshal(enc, callOf(masterpb.Call_SUBSCRIBE))
	req, _ := http.NewRequest(http.MethodPost, m.URL()+"/api/v1", bytes.NewReader(body))
	req.Header.Set("Content-Type", enc.ContentType())
	req.Header.Set("Accept", enc.ContentType())
	resp, err := m.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("SUBSCRIBE: status %d, body %q", resp.StatusCode, b)
	}
	s := &operatorStream{t: t, resp: resp, events: newQueue[*masterpb.Event](), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer s.events.close()
		rr := codec.NewRecordReader(resp.Body, 0)
		for {
			rec, err := rr.ReadRecord()
			if err != nil {
				return
			}
			ev := &masterpb.Event{}
			if err := codec.Unmarshal(enc, rec, ev); err != nil {
				s.events.push("DECODE_ERROR", ev)
				continue
			}
			s.events.push("event", ev)
		}
	}()
	t.Cleanup(func() { resp.Body.Close(); <-s.done })
	return s
}

// next returns the next event that is not a HEARTBEAT.
func (s *operatorStream) next() *masterpb.Event {
	s.t.Helper()
	for {
		ev, ok := s.events.take("event", waitTimeout)
		if !ok {
			s.t.Fatalf("no operator event within %v", waitTimeout)
		}
		if ev.GetType() != masterpb.Event_HEARTBEAT {
			return ev
		}
	}
}

func (s *operatorStream) expect(typ masterpb.Event_Type) *masterpb.Event {
	s.t.Helper()
	ev := s.next()
	if ev.GetType() != typ {
		s.t.Fatalf("operator event %s, want %s: %v", ev.GetType(), typ, ev)
	}
	return ev
}

// Mesos answers GET_HEALTH with exactly this body
// (mesos-samples/operator_get_health.txt).
func TestOperatorGetHealthAnswersAsMesos(t *testing.T) {
	m := startMaster(t)
	status, body := m.operatorRaw([]byte(`{"type":"GET_HEALTH"}`), "application/json", "application/json")
	if status != http.StatusOK || string(body) != `{"type":"GET_HEALTH","get_health":{"healthy":true}}` {
		t.Fatalf("GET_HEALTH: %d %s", status, body)
	}
}

// Every read call answers with its own response type, in JSON and in
// protobuf.
func TestOperatorReadCallsAnswerTheirOwnType(t *testing.T) {
	m := startMaster(t)
	startAgent(t, m, "host1", "cpus:2;mem:1024")
	want := map[masterpb.Call_Type]masterpb.Response_Type{
		masterpb.Call_GET_HEALTH: masterpb.Response_GET_HEALTH, masterpb.Call_GET_FLAGS: masterpb.Response_GET_FLAGS,
		masterpb.Call_GET_VERSION: masterpb.Response_GET_VERSION, masterpb.Call_GET_METRICS: masterpb.Response_GET_METRICS,
		masterpb.Call_GET_LOGGING_LEVEL: masterpb.Response_GET_LOGGING_LEVEL, masterpb.Call_GET_STATE: masterpb.Response_GET_STATE,
		masterpb.Call_GET_AGENTS: masterpb.Response_GET_AGENTS, masterpb.Call_GET_FRAMEWORKS: masterpb.Response_GET_FRAMEWORKS,
		masterpb.Call_GET_EXECUTORS: masterpb.Response_GET_EXECUTORS, masterpb.Call_GET_TASKS: masterpb.Response_GET_TASKS,
		masterpb.Call_GET_ROLES: masterpb.Response_GET_ROLES, masterpb.Call_GET_WEIGHTS: masterpb.Response_GET_WEIGHTS,
		masterpb.Call_GET_MASTER: masterpb.Response_GET_MASTER, masterpb.Call_GET_OPERATIONS: masterpb.Response_GET_OPERATIONS,
		masterpb.Call_GET_MAINTENANCE_STATUS:   masterpb.Response_GET_MAINTENANCE_STATUS,
		masterpb.Call_GET_MAINTENANCE_SCHEDULE: masterpb.Response_GET_MAINTENANCE_SCHEDULE,
	}
	for _, enc := range []codec.Encoding{codec.JSON, codec.Protobuf} {
		for call, rt := range want {
			if got := m.operator(callOf(call), enc).GetType(); got != rt {
				t.Errorf("%s (%s): response type %s, want %s", call, enc, got, rt)
			}
		}
	}
	agents := m.operator(callOf(masterpb.Call_GET_AGENTS), codec.Protobuf).GetGetAgents().GetAgents()
	if len(agents) != 1 || agents[0].GetAgentInfo().GetHostname() != "host1" || !agents[0].GetActive() {
		t.Fatalf("GET_AGENTS: %v", agents)
	}
	mi := m.operator(callOf(masterpb.Call_GET_MASTER), codec.JSON).GetGetMaster()
	if mi.GetMasterInfo().GetId() != m.masterID() || mi.GetElectedTime() == 0 {
		t.Fatalf("GET_MASTER: %v", mi)
	}
	status, body := m.operatorRaw([]byte(`{"type":"GET_METRICS","get_metrics":{"timeout":{"nanoseconds":-1}}}`), "application/json", "")
	if status != http.StatusBadRequest || !strings.Contains(string(body), "timeout") {
		t.Fatalf("GET_METRICS with a negative timeout: %d %s", status, body)
	}
	timed := &masterpb.Call{Type: masterpb.Call_GET_METRICS.Enum(), GetMetrics: &masterpb.Call_GetMetrics{Timeout: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(time.Second))}}}
	metrics := m.operator(timed, codec.JSON).GetGetMetrics().GetMetrics()
	found := false
	for _, mt := range metrics {
		if mt.GetName() == "master/slaves_active" {
			found = mt.GetValue() == 1
		}
	}
	if !found {
		t.Fatalf("GET_METRICS lacks master/slaves_active = 1: %v", metrics)
	}
}

// Bad calls get 400 with the reason; calls that come with quota and
// reservations get 501.
func TestOperatorRefusesBadCalls(t *testing.T) {
	m := startMaster(t)
	cases := []struct {
		body   string
		status int
		text   string
	}{
		{`{}`, 400, "Expecting 'type' to be present"},
		{`{"type":"NO_SUCH_CALL"}`, 400, ""},
		{`{"type":"TEARDOWN"}`, 400, "Expecting 'teardown' to be present"},
		{`{"type":"SET_LOGGING_LEVEL"}`, 400, "Expecting 'set_logging_level' to be present"},
		{`{"type":"UPDATE_WEIGHTS","update_weights":{"weight_infos":[{"role":"a","weight":-1}]}}`, 400, "weights must be positive"},
		{`{"type":"UPDATE_WEIGHTS","update_weights":{"weight_infos":[{"role":"a b","weight":2}]}}`, 400, "Invalid role"},
		{`{"type":"TEARDOWN","teardown":{"framework_id":{"value":"nope"}}}`, 400, "No framework found"},
		{`{"type":"MARK_AGENT_GONE","mark_agent_gone":{"agent_id":{"value":"nope"}}}`, 404, "not found"},
		{`{"type":"UPDATE_QUOTA"}`, 400, "Expecting 'update_quota' to be present"},
		{`{"type":"UPDATE_QUOTA","update_quota":{"quota_configs":[{"role":"a","limits":{"cpus":{"value":-1}}}]}}`, 400, "Negative values not supported"},
		{`{"type":`, 400, ""},
	}
	for _, c := range cases {
		status, body := m.operatorRaw([]byte(c.body), "application/json", "")
		if status != c.status || !strings.Contains(string(body), c.text) {
			t.Errorf("%s: %d %q, want %d with %q", c.body, status, body, c.status, c.text)
		}
	}
	if w := m.operator(callOf(masterpb.Call_GET_WEIGHTS), codec.JSON).GetGetWeights().GetWeightInfos(); len(w) != 0 {
		t.Fatalf("a refused UPDATE_WEIGHTS changed the weights: %v", w)
	}
}

// UPDATE_WEIGHTS sets weights that GET_WEIGHTS and GET_ROLES show.
func TestOperatorUpdateWeights(t *testing.T) {
	m := startMaster(t)
	status, body := m.operatorRaw([]byte(`{"type":"UPDATE_WEIGHTS","update_weights":{"weight_infos":[{"role":"web","weight":2.5},{"role":"batch","weight":0.5}]}}`), "application/json", "")
	if status != http.StatusOK {
		t.Fatalf("UPDATE_WEIGHTS: %d %s", status, body)
	}
	ws := m.operator(callOf(masterpb.Call_GET_WEIGHTS), codec.JSON).GetGetWeights().GetWeightInfos()
	if len(ws) != 2 || ws[0].GetRole() != "batch" || ws[0].GetWeight() != 0.5 || ws[1].GetRole() != "web" || ws[1].GetWeight() != 2.5 {
		t.Fatalf("GET_WEIGHTS: %v", ws)
	}
	roles := m.operator(callOf(masterpb.Call_GET_ROLES), codec.JSON).GetGetRoles().GetRoles()
	if len(roles) != 2 || roles[1].GetName() != "web" || roles[1].GetWeight() != 2.5 {
		t.Fatalf("GET_ROLES: %v", roles)
	}
}

// SUBSCRIBE streams SUBSCRIBED with the state, then the agents,
// frameworks and tasks as the master learns of them, in order.
func TestOperatorSubscribeStreamsEvents(t *testing.T) {
	for _, enc := range []codec.Encoding{codec.JSON, codec.Protobuf} {
		t.Run(enc.String(), func(t *testing.T) {
			m := startMaster(t)
			a1 := startAgent(t, m, "host1", "cpus:2;mem:1024")
			ops := subscribeOperator(t, m, enc)
			sub := ops.expect(masterpb.Event_SUBSCRIBED).GetSubscribed()
			if got := sub.GetGetState().GetGetAgents().GetAgents(); len(got) != 1 || got[0].GetAgentInfo().GetId().GetValue() != a1.ID {
				t.Fatalf("SUBSCRIBED state agents: %v", got)
			}
			if sub.GetHeartbeatIntervalSeconds() <= 0 {
				t.Fatalf("SUBSCRIBED heartbeat_interval_seconds: %v", sub.GetHeartbeatIntervalSeconds())
			}
			a2 := startAgent(t, m, "host2", "cpus:1;mem:512")
			if ev := ops.expect(masterpb.Event_AGENT_ADDED); ev.GetAgentAdded().GetAgent().GetAgentInfo().GetId().GetValue() != a2.ID {
				t.Fatalf("AGENT_ADDED: %v", ev)
			}
			s := subscribe(t, m, frameworkInfo("ops"), codec.JSON)
			if ev := ops.expect(masterpb.Event_FRAMEWORK_ADDED); ev.GetFrameworkAdded().GetFramework().GetFrameworkInfo().GetId().GetValue() != s.FrameworkID {
				t.Fatalf("FRAMEWORK_ADDED: %v", ev)
			}
			offers := s.nextOffers()
			task := commandTask("t1", "cpus:0.5;mem:64", offers[0])
			s.accept(offerIDs(offers[0]), 0, launchOp(task))
			ev := ops.expect(masterpb.Event_TASK_ADDED)
			if added := ev.GetTaskAdded().GetTask(); added.GetTaskId().GetValue() != "t1" || added.GetState() != mesos.TaskState_TASK_STAGING || added.GetFrameworkId().GetValue() != s.FrameworkID {
				t.Fatalf("TASK_ADDED: %v", ev)
			}
			agent := a1
			if offers[0].GetAgentId().GetValue() == a2.ID {
				agent = a2
			}
			agent.next(agentproto.MasterMessage_RUN_TASK)
			agent.update(s.FrameworkID, "t1", mesos.TaskState_TASK_RUNNING)
			ev = ops.expect(masterpb.Event_TASK_UPDATED)
			if u := ev.GetTaskUpdated(); u.GetState() != mesos.TaskState_TASK_RUNNING || u.GetStatus().GetTaskId().GetValue() != "t1" || u.GetFrameworkId().GetValue() != s.FrameworkID {
				t.Fatalf("TASK_UPDATED: %v", ev)
			}
			// An update that does not change the state (a health check's
			// RUNNING) is not an event, as in Mesos: the next one is.
			agent.update(s.FrameworkID, "t1", mesos.TaskState_TASK_RUNNING)
			agent.update(s.FrameworkID, "t1", mesos.TaskState_TASK_FINISHED)
			if u := ops.expect(masterpb.Event_TASK_UPDATED).GetTaskUpdated(); u.GetState() != mesos.TaskState_TASK_FINISHED {
				t.Fatalf("TASK_UPDATED after RUNNING again and FINISHED: %v", u)
			}
			// TEARDOWN through the operator API removes the framework:
			// its task is killed and the framework reported removed.
			status, body := m.operatorCall(&masterpb.Call{Type: masterpb.Call_TEARDOWN.Enum(),
				Teardown: &masterpb.Call_Teardown{FrameworkId: &mesos.FrameworkID{Value: proto.String(s.FrameworkID)}}}, enc)
			if status != http.StatusOK {
				t.Fatalf("TEARDOWN: %d %s", status, body)
			}
			if ev := ops.expect(masterpb.Event_FRAMEWORK_REMOVED); ev.GetFrameworkRemoved().GetFrameworkInfo().GetId().GetValue() != s.FrameworkID {
				t.Fatalf("FRAMEWORK_REMOVED: %v", ev)
			}
			s.waitClosed()
			// MARK_AGENT_GONE removes the agent for good.
			status, body = m.operatorCall(&masterpb.Call{Type: masterpb.Call_MARK_AGENT_GONE.Enum(),
				MarkAgentGone: &masterpb.Call_MarkAgentGone{AgentId: &mesos.AgentID{Value: proto.String(a2.ID)}}}, enc)
			if status != http.StatusOK {
				t.Fatalf("MARK_AGENT_GONE: %d %s", status, body)
			}
			if ev := ops.expect(masterpb.Event_AGENT_REMOVED); ev.GetAgentRemoved().GetAgentId().GetValue() != a2.ID {
				t.Fatalf("AGENT_REMOVED: %v", ev)
			}
			a2.next(agentproto.MasterMessage_SHUTDOWN)
			if got := m.operator(callOf(masterpb.Call_GET_AGENTS), codec.JSON).GetGetAgents().GetAgents(); len(got) != 1 {
				t.Fatalf("agents after MARK_AGENT_GONE: %v", got)
			}
		})
	}
}

// The operator JSON is Mesos's: typed, with the call's field name.
func TestOperatorGetStateJSONShape(t *testing.T) {
	m := startMaster(t)
	startAgent(t, m, "host1", "cpus:2;mem:1024")
	status, body := m.operatorRaw([]byte(`{"type":"GET_STATE"}`), "application/json", "application/json")
	if status != http.StatusOK {
		t.Fatalf("GET_STATE: %d %s", status, body)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	st, _ := doc["get_state"].(map[string]any)
	if doc["type"] != "GET_STATE" || st == nil || st["get_agents"] == nil {
		t.Fatalf("GET_STATE: %s", body)
	}
}
