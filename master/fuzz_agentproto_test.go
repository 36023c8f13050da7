package master_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/testutil"
	"github.com/gomesos/gomesos/master"
	"github.com/gomesos/gomesos/master/core"
)

// The fixed names the agent protocol fuzzer's world is built from. Agent ids
// are the master's to choose, so inputs name the live agent with a
// placeholder that the fuzz function swaps for its real id.
const (
	fuzzFramework     = "fuzz-fw"
	fuzzTask          = "fuzz-task"
	fuzzAgentHolder   = "AGENT"
	fuzzUnknownStream = "00000000-0000-4000-8000-000000000000"
)

// How a fuzz input is delivered: its mode selects the endpoint and the
// connection headers.
const (
	modeSubscribe          = iota // /internal/agent/subscribe
	modeSubscribeWithAgent        // the same, with a live agent that AGENT names
	modeMessageNoHeaders          // /internal/agent/message without the headers
	modeMessageUnknown            // ... with an agent id and stream nobody has
	modeMessageLive               // ... as the live agent, on its stream
	modeMessageStale              // ... as the live agent, on a stream it does not have
	numModes
)

// FuzzAgentProtocolHandlers feeds raw bodies, as protobuf or JSON, to the
// agent protocol endpoints /internal/agent/subscribe and
// /internal/agent/message. The master knows a partition-aware framework;
// inputs of the live modes come while that framework is connected (reading
// its events as JSON) and from an agent that really registered and
// reregistered with a running task of the framework, so that they reach the
// Core. Whatever comes in, the master must not panic, must answer 2xx or
// 4xx, must send the framework only events that decode, and must keep
// serving a /master/state whose agents, frameworks and tasks hang together.
// Every agent an input admits is removed afterwards, so that inputs do not
// pile agents up.
func FuzzAgentProtocolHandlers(f *testing.F) {
	m := startMaster(f, func(c *master.Config) {
		// No timers: what an input does depends on the input alone, not
		// on pings, allocations and heartbeats that happen to fall within
		// it. (Timers have their own tests.)
		c.TickInterval = time.Hour
		// /master/state is rendered after every input: keep the history
		// of the framework's tasks short.
		c.MaxCompletedTasksPerFramework = 20
		c.MaxUnreachableTasksPerFW = 20
	})
	h := m.Handler()
	// The framework exists from the start; it is connected only while an
	// input of a live mode runs, so that its events do not pile up.
	subscribe(f, m, fuzzFrameworkInfo(), codec.JSON).disconnect()

	seed := func(mode int, msg *agentproto.AgentMessage) {
		if b, err := proto.Marshal(msg); err == nil {
			f.Add(b, false, uint8(mode))
		} else {
			f.Fatalf("seed %v: %v", msg, err)
		}
		if b, err := codec.MarshalJSON(msg); err == nil {
			f.Add(b, true, uint8(mode))
		} else {
			f.Fatalf("seed %v: %v", msg, err)
		}
	}
	agentID := func(id string) *mesos.AgentID { return &mesos.AgentID{Value: proto.String(id)} }
	fwID := &mesos.FrameworkID{Value: proto.String(fuzzFramework)}
	info := &mesos.AgentInfo{
		Hostname:  proto.String("fuzz-host"),
		Port:      proto.Int32(5051),
		Resources: resourcesProto("cpus:2;mem:256;disk:1024;ports:[31000-31009]"),
		Attributes: []*mesos.Attribute{
			{Name: proto.String("rack"), Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: proto.String("r1")}},
			{Name: proto.String("n"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(1.5)}},
			{Name: proto.String("r"), Type: mesos.Value_RANGES.Enum(), Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: proto.Uint64(1), End: proto.Uint64(2)}}}},
			{Name: proto.String("s"), Type: mesos.Value_SET.Enum(), Set: &mesos.Value_Set{Item: []string{"a", "b"}}},
		},
	}
	// Inputs are kept small where the rich one adds nothing: the fuzzer
	// minimizes every input that finds something new, at a cost that grows
	// with the square of its size.
	small := &mesos.AgentInfo{Hostname: proto.String("h"), Resources: resourcesProto("cpus:1")}
	register := func(typ agentproto.AgentMessage_Type, info *mesos.AgentInfo, tasks ...*mesos.Task) *agentproto.AgentMessage {
		return &agentproto.AgentMessage{Type: typ.Enum(), Register: &agentproto.AgentMessage_Register{
			AgentInfo: info, Version: proto.String(core.Version), Endpoint: proto.String("127.0.0.1:5051"), Tasks: tasks,
		}}
	}
	withAgentID := func(info *mesos.AgentInfo, id string) *mesos.AgentInfo {
		info = proto.Clone(info).(*mesos.AgentInfo)
		info.Id = agentID(id)
		return info
	}
	task := func(fw, id string, state mesos.TaskState) *mesos.Task {
		return &mesos.Task{
			Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)},
			FrameworkId: &mesos.FrameworkID{Value: proto.String(fw)}, AgentId: agentID(fuzzAgentHolder),
			State: state.Enum(), Resources: resourcesProto("cpus:1"),
		}
	}
	update := func(taskID string, state mesos.TaskState, latest *mesos.TaskState, uuid []byte) *agentproto.AgentMessage {
		return &agentproto.AgentMessage{
			Type: agentproto.AgentMessage_STATUS_UPDATE.Enum(),
			StatusUpdate: &agentproto.StatusUpdate{FrameworkId: fwID, LatestState: latest, Status: &mesos.TaskStatus{
				TaskId: &mesos.TaskID{Value: proto.String(taskID)}, State: state.Enum(),
				Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(), AgentId: agentID(fuzzAgentHolder),
				Uuid: uuid,
			}},
		}
	}
	uuid := bytes.Repeat([]byte{0x42}, 16)

	// REGISTER and REREGISTER.
	seed(modeSubscribe, register(agentproto.AgentMessage_REGISTER, info))
	seed(modeSubscribe, register(agentproto.AgentMessage_REREGISTER, withAgentID(small, "never-admitted"),
		task(fuzzFramework, "t", mesos.TaskState_TASK_RUNNING)))
	seed(modeSubscribe, &agentproto.AgentMessage{Type: agentproto.AgentMessage_REGISTER.Enum()})
	seed(modeSubscribe, register(agentproto.AgentMessage_PONG, small))
	bad := proto.Clone(small).(*mesos.AgentInfo)
	bad.Resources = append(bad.Resources, &mesos.Resource{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(-1)}})
	seed(modeSubscribe, register(agentproto.AgentMessage_REGISTER, bad))
	seed(modeSubscribeWithAgent, register(agentproto.AgentMessage_REREGISTER, withAgentID(small, fuzzAgentHolder),
		task(fuzzFramework, fuzzTask, mesos.TaskState_TASK_RUNNING), task("gone-fw", "t", mesos.TaskState_TASK_RUNNING)))
	seed(modeSubscribeWithAgent, register(agentproto.AgentMessage_REREGISTER, withAgentID(small, fuzzAgentHolder)))
	// Messages on a connection.
	pong := &agentproto.AgentMessage{Type: agentproto.AgentMessage_PONG.Enum()}
	for _, mode := range []int{modeMessageNoHeaders, modeMessageUnknown, modeMessageLive, modeMessageStale} {
		seed(mode, pong)
	}
	seed(modeMessageLive, update(fuzzTask, mesos.TaskState_TASK_RUNNING, nil, uuid))
	rich := update(fuzzTask, mesos.TaskState_TASK_RUNNING, nil, uuid)
	rich.StatusUpdate.Status.Timestamp = proto.Float64(1.7e9)
	rich.StatusUpdate.Status.Message = proto.String("fuzz \x00\xff")
	rich.StatusUpdate.Status.Data = []byte{0, 0xff}
	rich.StatusUpdate.Status.Labels = &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String("k"), Value: proto.String("v\xfe")}}}
	rich.StatusUpdate.Status.ContainerStatus = &mesos.ContainerStatus{ContainerId: &mesos.ContainerID{Value: proto.String("c")}}
	seed(modeMessageLive, rich)
	seed(modeMessageLive, update(fuzzTask, mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED.Enum(), uuid))
	seed(modeMessageLive, update(fuzzTask, mesos.TaskState_TASK_FAILED, nil, uuid))
	seed(modeMessageLive, update("other-task", mesos.TaskState_TASK_RUNNING, nil, uuid))
	seed(modeMessageLive, update(fuzzTask, mesos.TaskState_TASK_RUNNING, nil, nil))
	seed(modeMessageLive, &agentproto.AgentMessage{
		Type:           agentproto.AgentMessage_EXECUTOR_EXITED.Enum(),
		ExecutorExited: &agentproto.AgentMessage_ExecutorExited{FrameworkId: fwID, ExecutorId: &mesos.ExecutorID{Value: proto.String("e")}, Status: proto.Int32(1)},
	})
	seed(modeMessageLive, &agentproto.AgentMessage{
		Type:                agentproto.AgentMessage_EXECUTOR_TO_FRAMEWORK.Enum(),
		ExecutorToFramework: &agentproto.AgentMessage_ExecutorToFramework{FrameworkId: fwID, ExecutorId: &mesos.ExecutorID{Value: proto.String("e")}, Data: []byte("hello\x00\xff")},
	})
	revCPUs := func(v float64, revocable bool) *mesos.Resource {
		r := &mesos.Resource{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}}
		if revocable {
			r.Revocable = &mesos.Resource_RevocableInfo{}
		}
		return r
	}
	for _, res := range [][]*mesos.Resource{{revCPUs(2, true)}, {revCPUs(1, false)}, {revCPUs(-1, true)}, nil} {
		seed(modeMessageLive, &agentproto.AgentMessage{Type: agentproto.AgentMessage_UPDATE_AGENT.Enum(),
			UpdateAgent: &agentproto.UpdateAgent{UpdateOversubscribedResources: proto.Bool(true), OversubscribedResources: res}})
	}
	seed(modeMessageLive, &agentproto.AgentMessage{Type: agentproto.AgentMessage_UPDATE_AGENT.Enum()})
	seed(modeMessageLive, &agentproto.AgentMessage{Type: agentproto.AgentMessage_UNREGISTER.Enum()})
	seed(modeMessageLive, &agentproto.AgentMessage{Type: agentproto.AgentMessage_UNKNOWN.Enum()})
	seed(modeMessageLive, register(agentproto.AgentMessage_REGISTER, small))
	// Junk.
	for _, b := range [][]byte{nil, []byte("not json"), []byte(`{"type":"REGISTER","register":{}}`), []byte(`[]`), {0xff, 0xff}, {0x08, 0x04, 0x1a, 0x00}} {
		f.Add(b, true, uint8(modeSubscribe))
		f.Add(b, false, uint8(modeSubscribe))
		f.Add(b, false, uint8(modeMessageLive))
	}

	f.Fuzz(func(t *testing.T, body []byte, isJSON bool, mode uint8) {
		mode %= numModes
		m := fuzzInput(m, t, h)
		enc := codec.Protobuf
		if isJSON {
			enc = codec.JSON
		}
		path := "/internal/agent/message"
		if mode == modeSubscribe || mode == modeSubscribeWithAgent {
			path = "/internal/agent/subscribe"
		}
		var live *fakeAgent
		var sched *scheduler
		if mode == modeSubscribeWithAgent || mode == modeMessageLive || mode == modeMessageStale {
			sched = subscribe(t, m, fuzzFrameworkInfo(), codec.JSON)
			live = fuzzLiveAgent(t, m)
			body = withAgentIDs(body, enc, live.ID)
		}

		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", enc.ContentType())
		switch mode {
		case modeMessageUnknown:
			req.Header.Set(master.HeaderAgentID, "fuzz-agent")
			req.Header.Set(master.HeaderStreamID, fuzzUnknownStream)
		case modeMessageLive:
			req.Header.Set(master.HeaderAgentID, live.ID)
			req.Header.Set(master.HeaderStreamID, live.Conn)
		case modeMessageStale:
			req.Header.Set(master.HeaderAgentID, live.ID)
			req.Header.Set(master.HeaderStreamID, fuzzUnknownStream)
		}
		// The agent is already gone: a subscription that succeeds ends
		// after the messages queued for it instead of streaming forever.
		ctx, cancel := context.WithCancel(req.Context())
		cancel()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req.WithContext(ctx))
		switch code := rec.Code; {
		case code >= 200 && code < 300, code >= 400 && code < 500:
		default:
			t.Fatalf("POST %s (mode %d, %s): status %d for %q: %q", path, mode, enc, code, body, rec.Body.String())
		}
		if path == "/internal/agent/subscribe" && rec.Code == http.StatusOK {
			if id := checkFuzzSubscription(t, rec); id != "" && (live == nil || id != live.ID) {
				fuzzRemoveAgent(t, m, id)
			}
		}
		if live != nil {
			fuzzRetireAgent(t, live)
			fuzzSyncEvents(t, sched)
		}
		checkFuzzState(t, h, m.masterID())
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /health after %q: %d", body, rec.Code)
		}
	})
}

// fuzzInput is the master as one input sees it: the helpers fail t, not
// the fuzz target, and reach the master through its handler in memory, so
// that what they start ends within the input (and the fuzzer does not see
// the coverage of sockets closing in the background as the next input's).
func fuzzInput(m *testMaster, t *testing.T, h http.Handler) *testMaster {
	in := *m
	in.t = t
	in.client = &http.Client{Transport: handlerTransport{h}}
	return &in
}

// handlerTransport is an http.RoundTripper that serves requests with a
// handler, in memory. The response comes as soon as the handler has
// written its header, and its body streams what the handler writes;
// closing the body cancels the request and returns once the handler has.
type handlerTransport struct{ h http.Handler }

func (tr handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, pw: pw, wrote: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer pw.Close()
		tr.h.ServeHTTP(w, req.WithContext(ctx))
		w.WriteHeader(http.StatusOK) // a handler that wrote nothing
	}()
	<-w.wrote
	return &http.Response{
		Status: strconv.Itoa(w.code) + " " + http.StatusText(w.code), StatusCode: w.code, Header: w.sent,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, ContentLength: -1,
		Body: &handlerBody{PipeReader: pr, cancel: cancel, done: done}, Request: req,
	}, nil
}

// pipeWriter is the handler's side of a handlerTransport response.
type pipeWriter struct {
	header http.Header
	sent   http.Header // the header as it was when written
	code   int
	pw     *io.PipeWriter
	wrote  chan struct{}
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	if w.sent != nil {
		return
	}
	w.code, w.sent = code, w.header.Clone()
	close(w.wrote)
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(p)
}

func (w *pipeWriter) Flush() {}

// handlerBody is a handlerTransport response body.
type handlerBody struct {
	*io.PipeReader
	cancel context.CancelFunc
	done   chan struct{}
}

func (b *handlerBody) Close() error {
	b.cancel()
	b.PipeReader.Close() // a handler blocked writing gives up
	<-b.done
	return nil
}

func fuzzFrameworkInfo() *mesos.FrameworkInfo {
	fi := withID(frameworkInfo("fuzz", mesos.FrameworkInfo_Capability_PARTITION_AWARE), fuzzFramework)
	fi.FailoverTimeout = proto.Float64(7 * 24 * 3600)
	return fi
}

// fuzzSyncEvents waits until every event the master sent the framework so
// far has arrived (the answer to a reconciliation of a task nobody has
// comes after them) and fails if one of them did not decode.
func fuzzSyncEvents(t *testing.T, s *scheduler) {
	t.Helper()
	id := "sync-" + uuid.NewString()
	s.call(&schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{
		Tasks: []*schedpb.Call_Reconcile_Task{{TaskId: &mesos.TaskID{Value: proto.String(id)}}},
	}})
	for s.nextUpdate().GetTaskId().GetValue() != id {
	}
	if ev, ok := s.events.take("DECODE_ERROR", 0); ok {
		t.Fatalf("the framework got an undecodable event: %s", ev.GetError().GetMessage())
	}
}

// fuzzRemoveAgent removes an agent that an input admitted (and whose
// connection is gone with the input's request): it reconnects and
// unregisters.
func fuzzRemoveAgent(t *testing.T, m *testMaster, id string) {
	t.Helper()
	a := connectAgent(t, m, &agentproto.AgentMessage{
		Type: agentproto.AgentMessage_REREGISTER.Enum(),
		Register: &agentproto.AgentMessage_Register{AgentInfo: &mesos.AgentInfo{
			Hostname: proto.String("fuzz-admitted"), Id: &mesos.AgentID{Value: proto.String(id)},
		}},
	})
	a.send(&agentproto.AgentMessage{Type: agentproto.AgentMessage_UNREGISTER.Enum()})
}

// fuzzLiveAgent registers an agent and reregisters it running fuzzTask for
// fuzzFramework, which the partition-aware framework adopts.
func fuzzLiveAgent(t *testing.T, m *testMaster) *fakeAgent {
	t.Helper()
	a := startAgent(t, m, "fuzz-agent", "cpus:2;mem:256")
	return a.reregister(&mesos.Task{
		Name: proto.String(fuzzTask), TaskId: &mesos.TaskID{Value: proto.String(fuzzTask)},
		FrameworkId: &mesos.FrameworkID{Value: proto.String(fuzzFramework)},
		AgentId:     &mesos.AgentID{Value: proto.String(a.ID)},
		State:       mesos.TaskState_TASK_RUNNING.Enum(), Resources: resourcesProto("cpus:1;mem:32"),
	})
}

// fuzzRetireAgent removes the live agent, so that its task cannot outlive
// the input and collide with the next input's agent, which runs a task of
// the same id. When the input took the agent's connection away (or removed
// the agent), the agent reregisters first.
func fuzzRetireAgent(t *testing.T, a *fakeAgent) {
	t.Helper()
	unregister := &agentproto.AgentMessage{Type: agentproto.AgentMessage_UNREGISTER.Enum()}
	if status, err := a.trySend(unregister); err == nil && status == http.StatusAccepted {
		return
	}
	if status, err := a.reregister().trySend(unregister); err != nil || status != http.StatusAccepted {
		t.Fatalf("unregistering agent %s: status %d, error %v", a.ID, status, err)
	}
}

// withAgentIDs replaces the placeholder agent id in a body that decodes with
// the live agent's id; other bodies go as they are.
func withAgentIDs(body []byte, enc codec.Encoding, id string) []byte {
	msg := &agentproto.AgentMessage{}
	if codec.Unmarshal(enc, body, msg) != nil || !testutil.ReplaceIDs(msg.ProtoReflect(), "mesos.v1.AgentID", fuzzAgentHolder, id) {
		return body
	}
	out, err := codec.Marshal(enc, msg)
	if err != nil {
		return body
	}
	return out
}

// checkFuzzSubscription checks an accepted subscription: it names an agent
// and its stream, and its first record is REGISTERED naming the same agent,
// or SHUTDOWN for an agent the master does not know. It returns the id of
// the agent admitted, or "".
func checkFuzzSubscription(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	id, conn := rec.Header().Get(master.HeaderAgentID), rec.Header().Get(master.HeaderStreamID)
	if conn == "" {
		t.Fatalf("subscription accepted without a %s header", master.HeaderStreamID)
	}
	first, err := codec.NewRecordReader(bytes.NewReader(rec.Body.Bytes()), 0).ReadRecord()
	if err != nil {
		t.Fatalf("subscription accepted, but its stream has no record: %v (%q)", err, rec.Body.Bytes())
	}
	msg := &agentproto.MasterMessage{}
	if err := proto.Unmarshal(first, msg); err != nil {
		t.Fatalf("subscription's first record does not decode: %v", err)
	}
	switch msg.GetType() {
	case agentproto.MasterMessage_REGISTERED:
		if id == "" || msg.GetRegistered().GetAgentId().GetValue() != id {
			t.Fatalf("REGISTERED names agent %q, header %q", msg.GetRegistered().GetAgentId().GetValue(), id)
		}
		return id
	case agentproto.MasterMessage_SHUTDOWN:
		return ""
	default:
		t.Fatalf("subscription's first message is %s", msg.GetType())
		return ""
	}
}

// checkFuzzState checks what /master/state shows: it decodes, the agents
// have distinct ids and are counted, the framework is still there, and
// every active task belongs to its framework and to a listed agent.
func checkFuzzState(t *testing.T, h http.Handler, masterID string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/master/state", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /master/state: %d %q", rec.Code, rec.Body.String())
	}
	var st core.StateView
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatalf("GET /master/state: %v in %q", err, rec.Body.String())
	}
	if st.ID != masterID {
		t.Fatalf("/master/state id %q, want %q", st.ID, masterID)
	}
	agents := map[string]bool{}
	for _, s := range st.Slaves {
		if s.ID == "" || agents[s.ID] {
			t.Fatalf("/master/state lists agent %q twice or without an id: %v", s.ID, agentIDs(st))
		}
		agents[s.ID] = true
	}
	if n := float64(st.ActivatedSlaves + st.DeactivatedSlaves); n != float64(len(st.Slaves)) {
		t.Fatalf("/master/state counts %v agents, lists %d", n, len(st.Slaves))
	}
	found := false
	for _, fw := range st.Frameworks {
		if fw.ID == "" {
			t.Fatalf("/master/state lists a framework without an id")
		}
		found = found || fw.ID == fuzzFramework
		for _, task := range fw.Tasks {
			if task.ID == "" || task.FrameworkID != fw.ID || !agents[task.SlaveID] {
				t.Fatalf("active task %q of framework %q: framework %q, agent %q (agents %v)",
					task.ID, fw.ID, task.FrameworkID, task.SlaveID, agentIDs(st))
			}
		}
	}
	if !found {
		t.Fatalf("framework %s is gone from /master/state", fuzzFramework)
	}
}

func agentIDs(st core.StateView) []string {
	var out []string
	for _, s := range st.Slaves {
		out = append(out, s.ID)
	}
	return out
}
