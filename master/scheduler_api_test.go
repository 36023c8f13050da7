package master_test

// The scheduler API's front door: SUBSCRIBE and the status codes Mesos
// answers malformed or misdirected calls with (mesos-v1-facts §0, §1.3).

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master"
)

// Mesos: SUBSCRIBE answers 200 with the negotiated Content-Type and a
// Mesos-Stream-Id (a UUID), then a RecordIO stream whose first event is
// SUBSCRIBED carrying the framework id <masterID>-<4 digits>, the heartbeat
// interval and the MasterInfo; HEARTBEAT events follow at that interval.
// Both JSON and protobuf work.
func TestSubscribeOpensEventStream(t *testing.T) {
	for _, enc := range []codec.Encoding{codec.JSON, codec.Protobuf} {
		t.Run(enc.String(), func(t *testing.T) {
			m := startMaster(t)
			s := openStream(t, m, frameworkInfo("first"), enc)

			if got := s.Header.Get("Content-Type"); got != enc.ContentType() {
				t.Errorf("Content-Type = %q, want %q", got, enc.ContentType())
			}
			if _, err := uuid.Parse(s.StreamID); err != nil {
				t.Errorf("Mesos-Stream-Id %q is not a UUID: %v", s.StreamID, err)
			}
			if !contains(s.resp.TransferEncoding, "chunked") {
				t.Errorf("Transfer-Encoding = %v, want chunked", s.resp.TransferEncoding)
			}

			sub := s.next(schedpb.Event_SUBSCRIBED).GetSubscribed()
			if first := s.events.all()[0].GetType(); first != schedpb.Event_SUBSCRIBED {
				t.Errorf("first event is %s, want SUBSCRIBED", first)
			}
			s.FrameworkID = sub.GetFrameworkId().GetValue()
			if want := m.masterID() + "-0000"; s.FrameworkID != want {
				t.Errorf("framework id = %q, want %q", s.FrameworkID, want)
			}
			if got := sub.GetHeartbeatIntervalSeconds(); got != 0.1 {
				t.Errorf("heartbeat_interval_seconds = %v, want 0.1", got)
			}
			mi := sub.GetMasterInfo()
			if mi.GetId() != m.masterID() || mi.GetPort() != m.Info().GetPort() || mi.GetHostname() == "" || mi.GetPid() == "" {
				t.Errorf("master_info = %v, want the master's own (id %s, port %d)", mi, m.masterID(), m.Info().GetPort())
			}

			s.next(schedpb.Event_HEARTBEAT)
			s.next(schedpb.Event_HEARTBEAT)

			// The next framework gets the next id.
			s2 := subscribe(t, m, frameworkInfo("second"), enc)
			if want := m.masterID() + "-0001"; s2.FrameworkID != want {
				t.Errorf("second framework id = %q, want %q", s2.FrameworkID, want)
			}
			if s2.StreamID == s.StreamID {
				t.Errorf("two subscriptions share the stream id %s", s.StreamID)
			}
		})
	}
}

// Mesos: an invalid FrameworkInfo is answered on the stream: 200, then an
// ERROR event, then the stream ends; no framework is created.
func TestSubscribeWithInvalidFrameworkInfoGetsErrorEvent(t *testing.T) {
	m := startMaster(t)
	fi := frameworkInfo("bad-role")
	fi.Role = proto.String("a/../b")
	s := openStream(t, m, fi, codec.JSON)
	ev := s.next(schedpb.Event_ERROR)
	if !strings.Contains(ev.GetError().GetMessage(), "a/../b") {
		t.Errorf("ERROR message %q does not name the bad role", ev.GetError().GetMessage())
	}
	s.waitClosed()
	if fws := objects(m.getJSON("/master/state")["frameworks"]); len(fws) != 0 {
		t.Errorf("frameworks after a rejected SUBSCRIBE: %v", ids(fws))
	}
}

// The ladder of rejections of /api/v1/scheduler (facts §0 and §1.3). Each
// is answered with its status and a message saying what is wrong, and none
// changes the master's state.
func TestSchedulerRejectsBadRequests(t *testing.T) {
	m := startMaster(t)
	connected := subscribe(t, m, frameworkInfo("connected"), codec.JSON)

	// A framework whose stream broke but whose failover timeout keeps it.
	fi := frameworkInfo("disconnected")
	fi.FailoverTimeout = proto.Float64(3600)
	gone := subscribe(t, m, fi, codec.JSON)
	gone.disconnect()
	waitFor(t, "the framework to be marked disconnected", func() bool {
		fw := findByID(objects(m.getJSON("/master/state")["frameworks"]), gone.FrameworkID)
		return fw != nil && fw["connected"] == false
	})

	stateBefore := frameworksState(t, m)
	metricsBefore := masterCounters(m.metrics())

	jsonCall := func(c *schedpb.Call) []byte {
		b, err := codec.MarshalJSON(c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	fwID := func(id string) *mesos.FrameworkID { return &mesos.FrameworkID{Value: proto.String(id)} }
	revive := func(id string) []byte {
		return jsonCall(&schedpb.Call{Type: schedpb.Call_REVIVE.Enum(), FrameworkId: fwID(id)})
	}
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	validSubscribe := jsonCall(subscribeCall(frameworkInfo("never")))
	badAck := &schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(), FrameworkId: fwID(connected.FrameworkID),
		Acknowledge: &schedpb.Call_Acknowledge{
			AgentId: &mesos.AgentID{Value: proto.String("a")}, TaskId: &mesos.TaskID{Value: proto.String("t")},
			Uuid: []byte("not-a-uuid"),
		}}
	protoAck, _ := proto.Marshal(badAck)

	cases := []struct {
		name    string
		method  string
		header  http.Header
		body    []byte
		status  int
		message string // a substring of the answer
	}{
		{"GET is not allowed", http.MethodGet, nil, nil, 405, "405 Method Not Allowed. Expecting one of { 'POST' }, but received 'GET'."},
		{"Content-Type missing", "POST", nil, validSubscribe, 400, "Expecting 'Content-Type' to be present"},
		{"Content-Type text/plain", "POST", hdr("Content-Type", "text/plain"), validSubscribe, 415,
			"Expecting 'Content-Type' of application/json or application/x-protobuf"},
		{"malformed JSON", "POST", hdr("Content-Type", "application/json"), []byte("not json"), 400,
			"Failed to parse body into JSON"},
		{"JSON that is not a Call", "POST", hdr("Content-Type", "application/json"),
			[]byte(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"no user"}}}`), 400,
			"Failed to convert JSON into Call protobuf"},
		{"JSON array", "POST", hdr("Content-Type", "application/json"), []byte(`[1,2]`), 400,
			"Failed to convert JSON into Call protobuf"},
		{"bad protobuf", "POST", hdr("Content-Type", "application/x-protobuf"), []byte{0xff, 0xff, 0xff, 0xff}, 400,
			"Failed to parse body into Call protobuf"},
		{"call without type", "POST", hdr("Content-Type", "application/json"), []byte(`{}`), 400,
			"Failed to validate scheduler::Call: Expecting 'type' to be present"},
		{"SUBSCRIBE without subscribe", "POST", hdr("Content-Type", "application/json"), []byte(`{"type":"SUBSCRIBE"}`), 400,
			"Failed to validate scheduler::Call: Expecting 'subscribe' to be present"},
		{"SUBSCRIBE whose framework_id differs from framework_info.id", "POST", hdr("Content-Type", "application/json"),
			jsonCall(&schedpb.Call{Type: schedpb.Call_SUBSCRIBE.Enum(), FrameworkId: fwID("x"),
				Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: frameworkInfo("y")}}), 400,
			"'framework_id' differs from 'subscribe.framework_info.id'"},
		{"SUBSCRIBE naming its framework only in framework_info", "POST", hdr("Content-Type", "application/json"),
			jsonCall(&schedpb.Call{Type: schedpb.Call_SUBSCRIBE.Enum(), Subscribe: &schedpb.Call_Subscribe{
				FrameworkInfo: withID(frameworkInfo("y"), connected.FrameworkID)}}), 400,
			"'framework_id' differs from 'subscribe.framework_info.id'"},
		{"SUBSCRIBE accepting only text/html", "POST", hdr("Content-Type", "application/json", "Accept", "text/html"),
			validSubscribe, 406, "Expecting 'Accept' to allow"},
		{"SUBSCRIBE carrying Mesos-Stream-Id", "POST", hdr("Content-Type", "application/json", "Mesos-Stream-Id", connected.StreamID),
			validSubscribe, 400, "Subscribe calls should not include the 'Mesos-Stream-Id' header"},
		{"call without framework_id", "POST", hdr("Content-Type", "application/json", "Mesos-Stream-Id", connected.StreamID),
			[]byte(`{"type":"REVIVE"}`), 400, "Expecting 'framework_id' to be present"},
		{"unknown framework", "POST", hdr("Content-Type", "application/json", "Mesos-Stream-Id", connected.StreamID),
			revive("no-such-framework"), 400, "Framework cannot be found"},
		{"missing Mesos-Stream-Id", "POST", hdr("Content-Type", "application/json"),
			revive(connected.FrameworkID), 400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header"},
		{"wrong Mesos-Stream-Id", "POST", hdr("Content-Type", "application/json", "Mesos-Stream-Id", uuid.NewString()),
			revive(connected.FrameworkID), 400, "didn't match the stream ID currently associated with framework ID " + connected.FrameworkID},
		{"another framework's Mesos-Stream-Id", "POST", hdr("Content-Type", "application/json", "Mesos-Stream-Id", gone.StreamID),
			revive(connected.FrameworkID), 400, "didn't match the stream ID"},
		{"disconnected framework", "POST", hdr("Content-Type", "application/json", "Mesos-Stream-Id", gone.StreamID),
			revive(gone.FrameworkID), 403, "Framework is not subscribed"},
		{"ACKNOWLEDGE with a bad uuid (JSON)", "POST", hdr("Content-Type", "application/json", "Mesos-Stream-Id", connected.StreamID),
			jsonCall(badAck), 400, "Failed to validate scheduler::Call"},
		{"ACKNOWLEDGE with a bad uuid (protobuf)", "POST", hdr("Content-Type", "application/x-protobuf", "Mesos-Stream-Id", connected.StreamID),
			protoAck, 400, "Failed to validate scheduler::Call"},
		{"ACCEPT without accept", "POST", hdr("Content-Type", "application/json", "Mesos-Stream-Id", connected.StreamID),
			jsonCall(&schedpb.Call{Type: schedpb.Call_ACCEPT.Enum(), FrameworkId: fwID(connected.FrameworkID)}), 400,
			"Expecting 'accept' to be present"},
		{"call type UNKNOWN of an unknown framework", "POST", hdr("Content-Type", "application/json", "Mesos-Stream-Id", connected.StreamID),
			jsonCall(&schedpb.Call{Type: schedpb.Call_UNKNOWN.Enum(), FrameworkId: fwID("no-such-framework")}), 400, "Framework cannot be found"},
		{"call type UNKNOWN", "POST", hdr("Content-Type", "application/json", "Mesos-Stream-Id", connected.StreamID),
			jsonCall(&schedpb.Call{Type: schedpb.Call_UNKNOWN.Enum(), FrameworkId: fwID(connected.FrameworkID)}), 501, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, header, body := m.do(tc.method, "/api/v1/scheduler", tc.header, tc.body)
			if status != tc.status {
				t.Fatalf("status = %d, want %d (body %q)", status, tc.status, body)
			}
			if !strings.Contains(body, tc.message) {
				t.Errorf("body = %q, want it to contain %q", body, tc.message)
			}
			if tc.status == 405 && header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", header.Get("Allow"))
			}
		})
	}

	if after := frameworksState(t, m); !reflect.DeepEqual(stateBefore, after) {
		t.Errorf("rejected calls changed /master/state frameworks:\nbefore %v\nafter  %v", stateBefore, after)
	}
	if after := masterCounters(m.metrics()); !reflect.DeepEqual(metricsBefore, after) {
		for k, v := range after {
			if metricsBefore[k] != v {
				t.Errorf("rejected calls changed metric %s: %v -> %v", k, metricsBefore[k], v)
			}
		}
	}
	// Both frameworks are still as they were: the connected one still works.
	connected.call(&schedpb.Call{Type: schedpb.Call_REVIVE.Enum()})
}

// The exact answer Mesos gives a SUBSCRIBE without `subscribe`
// (mesos-samples/scheduler_subscribe_invalid.txt), and to malformed JSON
// (scheduler_bad_json.txt): status, Content-Type and message prefix.
func TestSchedulerErrorsMatchMesosSamples(t *testing.T) {
	m := startMaster(t)
	h := http.Header{}
	h.Set("Content-Type", "application/json")

	want := readSampleResponse(t, "scheduler_subscribe_invalid.txt")
	status, header, body := m.do("POST", "/api/v1/scheduler", h, []byte(`{"type":"SUBSCRIBE"}`))
	if status != want.status || body != want.body {
		t.Errorf("SUBSCRIBE without subscribe: got %d %q, Mesos answers %d %q", status, body, want.status, want.body)
	}
	if got := header.Get("Content-Type"); got != want.header.Get("Content-Type") {
		t.Errorf("Content-Type = %q, Mesos sends %q", got, want.header.Get("Content-Type"))
	}

	want = readSampleResponse(t, "scheduler_bad_json.txt")
	status, _, body = m.do("POST", "/api/v1/scheduler", h, []byte(`not json`))
	// The parser's own words after the colon differ (Mesos's is stout's).
	prefix, _, _ := strings.Cut(want.body, ": ")
	if status != want.status || !strings.HasPrefix(body, prefix+": ") {
		t.Errorf("malformed JSON: got %d %q, Mesos answers %d %q", status, body, want.status, want.body)
	}
}

type sampleResponse struct {
	status int
	header http.Header
	body   string
}

// readSampleResponse parses a captured raw HTTP response.
func readSampleResponse(t *testing.T, name string) sampleResponse {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "mesos-samples", name))
	if err != nil {
		t.Fatalf("sample %s: %v", name, err)
	}
	defer f.Close()
	resp, err := http.ReadResponse(bufio.NewReader(f), nil)
	if err != nil {
		t.Fatalf("parsing sample %s: %v", name, err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&sb)
	return sampleResponse{status: resp.StatusCode, header: http.Header(textproto.MIMEHeader(resp.Header)), body: sb.String()}
}

// frameworksState is the part of /master/state that rejected calls must
// not change.
func frameworksState(t *testing.T, m *testMaster) string {
	st := m.getJSON("/master/state")
	b, err := json.Marshal(map[string]any{"frameworks": st["frameworks"], "completed_frameworks": st["completed_frameworks"]})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// masterCounters drops the metrics that change with time alone.
func masterCounters(all map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range all {
		if strings.HasPrefix(k, "master/") && k != "master/uptime_secs" {
			out[k] = v
		}
	}
	// The heartbeats the connected framework is sent every 100ms (the
	// tests' HeartbeatInterval) come whatever the calls: they are left out
	// of its event counters.
	for k, v := range all {
		if events, ok := strings.CutSuffix(k, "/events/heartbeat"); ok {
			delete(out, k)
			if _, ok := out[events+"/events"]; ok {
				out[events+"/events"] -= v
			}
		}
	}
	return out
}

func withID(fi *mesos.FrameworkInfo, id string) *mesos.FrameworkInfo {
	fi.Id = &mesos.FrameworkID{Value: proto.String(id)}
	return fi
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Mesos starts a framework's heartbeats with one right after SUBSCRIBED,
// before any offer (as in mesos-samples/scheduler_subscribe_stream.txt).
func TestFirstHeartbeatFollowsSubscribed(t *testing.T) {
	m := startMaster(t, func(c *master.Config) { c.HeartbeatInterval = time.Hour })
	startAgent(t, m, "agent1", agentResources)
	s := subscribe(t, m, frameworkInfo("eager"), codec.JSON)
	s.next(schedpb.Event_OFFERS)
	var types []string
	for _, ev := range s.events.all()[:3] {
		types = append(types, ev.GetType().String())
	}
	if got := strings.Join(types, " "); got != "SUBSCRIBED HEARTBEAT OFFERS" {
		t.Errorf("stream begins %s, want SUBSCRIBED HEARTBEAT OFFERS", got)
	}
}
