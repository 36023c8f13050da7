package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/testutil"
)

// The executor the fuzzed calls speak for, and the placeholder task id that
// the fuzz function swaps for the task launched for each input.
const (
	fuzzExecutor = "fuzz-exec"
	fuzzTaskID   = "fuzz-task"
)

// FuzzExecutorAPI feeds raw bodies, as JSON or protobuf and with any Accept
// and Message-Accept headers, to the agent's /api/v1/executor. The agent
// runs against a fuzzMaster with one custom executor (a sleeping process)
// of the test framework, subscribed once at the start; every input gets a
// task of its own on that executor (named fuzz-task in inputs), so that
// what an input does to a task does not depend on the inputs before it.
// Whatever comes in, the agent must not panic, must answer 2xx or 4xx (or
// 501 for a call of unknown type, as Mesos does), must open an event stream
// only with SUBSCRIBED or SHUTDOWN, must send the master only messages that
// decode, and must keep serving a /state that still shows the executor.
func FuzzExecutorAPI(f *testing.F) {
	fm := newFuzzMaster(f)
	a, err := New(Config{
		Master:                      fm.addr(),
		IP:                          "127.0.0.1",
		Hostname:                    "fuzz-agent",
		WorkDir:                     f.TempDir(),
		Resources:                   "cpus:2;mem:1024;disk:2048;ports:[31000-31099]",
		RegistrationBackoffFactor:   10 * time.Millisecond,
		ExecutorRegistrationTimeout: time.Hour,
		// The master acknowledges every update: no retries needed.
		StatusUpdateRetryMin: time.Hour,
		StatusUpdateRetryMax: time.Hour,
		Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	f.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				f.Errorf("Run: %v", err)
			}
		case <-time.After(patience):
			f.Errorf("Run did not return")
		}
	})
	h := a.Handler()
	eventually(f, "the agent to register", func() bool { return a.ID() != "" })

	finishUUID := make([]byte, 16)
	if _, err := rand.Read(finishUUID); err != nil {
		f.Fatal(err)
	}

	// Launch the executor with a first task, and subscribe as it.
	var nextTask int
	launch := func() string {
		nextTask++
		id := fmt.Sprintf("%s-%d", fuzzTaskID, nextTask)
		fm.out <- runTask(customTask(id, a.ID(), fuzzExecutor, "exec sleep 1000"))
		return id
	}
	first := launch()
	eventually(f, "the executor to be launched", func() bool {
		ex, _ := fuzzExecutorState(h)
		return ex != nil && hasTask(ex.QueuedTasks, first)
	})
	sub := execCall(testFramework.GetId().GetValue(), fuzzExecutor, execpb.Call_SUBSCRIBE)
	sub.Subscribe = &execpb.Call_Subscribe{}
	if code, _ := fuzzPost(h, mustMarshal(f, codec.JSON, sub), codec.JSON, "", ""); code != http.StatusOK {
		f.Fatalf("SUBSCRIBE: %d", code)
	}
	eventually(f, "the executor to run its task", func() bool {
		ex, _ := fuzzExecutorState(h)
		return ex != nil && hasTask(ex.Tasks, first)
	})
	fuzzFinish(f, h, fm, first, finishUUID)

	// Seeds.
	const fw = "fw-1"
	uuid := bytes.Repeat([]byte{0x17}, 16)
	seed := func(c *execpb.Call, accept, messageAccept string) {
		for _, enc := range []codec.Encoding{codec.JSON, codec.Protobuf} {
			f.Add(mustMarshal(f, enc, c), enc == codec.JSON, accept, messageAccept)
		}
	}
	seed(sub, "", "")
	seed(sub, codec.MediaProtobuf, "")
	seed(sub, codec.MediaRecordIO, codec.MediaProtobuf)
	seed(sub, codec.MediaRecordIO+", text/html;q=0.5", "application/*")
	seed(sub, "text/html", "")
	seed(sub, "*/*;q=0", codec.MediaJSON)
	otherExecutor := proto.Clone(sub).(*execpb.Call)
	otherExecutor.ExecutorId = &mesos.ExecutorID{Value: proto.String("no-such-executor")}
	seed(otherExecutor, "", "")
	for _, state := range []mesos.TaskState{mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_STAGING, mesos.TaskState_TASK_UNREACHABLE} {
		seed(update(fw, fuzzExecutor, fuzzTaskID, state, uuid), "", "")
	}
	rich := update(fw, fuzzExecutor, fuzzTaskID, mesos.TaskState_TASK_RUNNING, uuid)
	rich.Update.Status.Message = proto.String("running \x00\xff")
	rich.Update.Status.Data = []byte{0, 1, 2}
	rich.Update.Status.Healthy = proto.Bool(true)
	rich.Update.Status.Timestamp = proto.Float64(1.7e9)
	rich.Update.Status.ExecutorId = &mesos.ExecutorID{Value: proto.String(fuzzExecutor)}
	rich.Update.Status.Labels = &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String("k"), Value: proto.String("v\xfe")}}}
	rich.Update.Status.ContainerStatus = &mesos.ContainerStatus{
		ContainerId: &mesos.ContainerID{Value: proto.String("c"), Parent: &mesos.ContainerID{Value: proto.String("p")}},
		ExecutorPid: proto.Uint32(1),
	}
	seed(rich, "", "")
	seed(update(fw, fuzzExecutor, "unknown-task", mesos.TaskState_TASK_RUNNING, uuid), "", "")
	seed(update(fw, fuzzExecutor, fuzzTaskID, mesos.TaskState_TASK_RUNNING, nil), "", "")
	seed(update("fw-2", fuzzExecutor, fuzzTaskID, mesos.TaskState_TASK_RUNNING, uuid), "", "")
	msg := execCall(fw, fuzzExecutor, execpb.Call_MESSAGE)
	msg.Message = &execpb.Call_Message{Data: []byte("to the framework \x00")}
	seed(msg, "", "")
	seed(execCall(fw, fuzzExecutor, execpb.Call_MESSAGE), "", "")
	seed(execCall(fw, fuzzExecutor, execpb.Call_HEARTBEAT), "", "")
	seed(execCall(fw, fuzzExecutor, execpb.Call_UNKNOWN), "", "")
	for _, b := range []string{"", "{}", "null", "[]", "not json", `{"type":"SUBSCRIBE"}`, `{"type":"UPDATE","framework_id":{"value":"fw-1"},"executor_id":{"value":"fuzz-exec"},"update":{"status":{"task_id":{"value":"fuzz-task"},"state":"TASK_RUNNING","source":"SOURCE_EXECUTOR","uuid":"AAAAAAAAAAAAAAAAAAAAAA=="}}}`} {
		f.Add([]byte(b), true, "", "")
	}
	for _, b := range [][]byte{nil, {0xff, 0xff}, {0x08, 0x04}, {0x08, 0x63}} {
		f.Add(b, false, "", "")
	}

	f.Fuzz(func(t *testing.T, body []byte, isJSON bool, accept, messageAccept string) {
		enc := codec.Protobuf
		if isJSON {
			enc = codec.JSON
		}
		// A call that gets past decoding and validation meets a connected
		// executor, as a real one is, with a task of its own for this
		// input. (Other calls are answered before: they need none, and
		// the fuzzer goes faster without.)
		var task string
		if call := (&execpb.Call{}); codec.Unmarshal(enc, body, call) == nil &&
			validateExecutorCall(call) == "" && call.GetType() != execpb.Call_HEARTBEAT {
			events := subscribeStream(t, &testAgent{Agent: a}, sub)
			events.next(t, execpb.Event_SUBSCRIBED)
			task = launch()
			if got := events.next(t, execpb.Event_LAUNCH).GetLaunch().GetTask().GetTaskId().GetValue(); got != task {
				t.Fatalf("LAUNCH of %q, want %q", got, task)
			}
			body = withTaskID(body, enc, call, task)
		}
		code, resp := fuzzPost(h, body, enc, accept, messageAccept)
		switch {
		case code >= 200 && code < 300, code >= 400 && code < 500:
		case code == http.StatusNotImplemented && fuzzUnknownCall(body, enc):
		default:
			t.Fatalf("status %d for %q (%s, Accept %q, Message-Accept %q): %q", code, body, enc, accept, messageAccept, resp.body)
		}
		if code == http.StatusOK {
			checkFuzzStream(t, resp)
		}
		if task != "" {
			fuzzFinish(t, h, fm, task, finishUUID)
		}
		if err := fm.err(); err != nil {
			t.Fatalf("after %q (%s): %v", body, enc, err)
		}
		if err := checkFuzzState(h); err != nil {
			t.Fatalf("after %q (%s): %v", body, enc, err)
		}
	})
}

// fuzzResponse is a response of the executor API: its status, headers and
// body as far as the handler wrote it.
type fuzzResponse struct {
	header http.Header
	body   []byte
}

// firstRecordWriter records a response and cancels the request once the
// body holds a whole RecordIO record: an event stream is read up to its
// first event.
type firstRecordWriter struct {
	*httptest.ResponseRecorder
	cancel context.CancelFunc
}

func (w *firstRecordWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseRecorder.Write(p)
	if w.Code == http.StatusOK {
		if _, rerr := codec.NewRecordReader(bytes.NewReader(w.Body.Bytes()), 0).ReadRecord(); rerr == nil {
			w.cancel()
		}
	}
	return n, err
}

// fuzzPost sends a call to the executor API through the handler.
func fuzzPost(h http.Handler, body []byte, enc codec.Encoding, accept, messageAccept string) (int, fuzzResponse) {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/executor", bytes.NewReader(body))
	req.Header.Set("Content-Type", enc.ContentType())
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if messageAccept != "" {
		req.Header.Set("Message-Accept", messageAccept)
	}
	// An event stream that sends nothing ends after a while.
	ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
	defer cancel()
	w := &firstRecordWriter{ResponseRecorder: httptest.NewRecorder(), cancel: cancel}
	h.ServeHTTP(w, req.WithContext(ctx))
	return w.Code, fuzzResponse{header: w.Header(), body: w.Body.Bytes()}
}

// checkFuzzStream checks an accepted SUBSCRIBE: the stream's first event
// decodes in the announced encoding and is SUBSCRIBED or SHUTDOWN.
func checkFuzzStream(t *testing.T, resp fuzzResponse) {
	t.Helper()
	ct := resp.header.Get("Content-Type")
	if ct == codec.MediaRecordIO {
		ct = resp.header.Get("Message-Content-Type")
	}
	enc, err := codec.FromContentType(ct)
	if err != nil {
		t.Fatalf("event stream of type %q", ct)
	}
	rec, err := codec.NewRecordReader(bytes.NewReader(resp.body), 0).ReadRecord()
	if err != nil {
		t.Fatalf("event stream without an event: %v (%q)", err, resp.body)
	}
	ev := &execpb.Event{}
	if err := codec.Unmarshal(enc, rec, ev); err != nil {
		t.Fatalf("first event does not decode as %s: %v (%q)", enc, err, rec)
	}
	if typ := ev.GetType(); typ != execpb.Event_SUBSCRIBED && typ != execpb.Event_SHUTDOWN {
		t.Fatalf("first event is %s", typ)
	}
}

// fuzzUnknownCall reports whether body is a call of no type the agent
// knows, which Mesos answers with 501.
func fuzzUnknownCall(body []byte, enc codec.Encoding) bool {
	call := &execpb.Call{}
	if codec.Unmarshal(enc, body, call) != nil {
		return false
	}
	switch call.GetType() {
	case execpb.Call_SUBSCRIBE, execpb.Call_UPDATE, execpb.Call_MESSAGE, execpb.Call_HEARTBEAT:
		return false
	}
	return true
}

// fuzzFinish ends an input's task, as its executor would, so that tasks do
// not pile up, and waits until the master has the task's terminal update
// (this one, or the input's): what the agent does for an input is done
// within it. uuid is the update's, one that inputs cannot know.
func fuzzFinish(tb testing.TB, h http.Handler, fm *fuzzMaster, task string, uuid []byte) {
	tb.Helper()
	body := mustMarshal(tb, codec.Protobuf, update(testFramework.GetId().GetValue(), fuzzExecutor, task, mesos.TaskState_TASK_FINISHED, uuid))
	if code, resp := fuzzPost(h, body, codec.Protobuf, "", ""); code != http.StatusAccepted {
		tb.Fatalf("finishing %s: %d %q", task, code, resp.body)
	}
	fm.waitTerminal(tb, task)
}

// fuzzExecutorState reads /state through the handler and returns the fuzz
// executor of the test framework (nil when it is not there).
func fuzzExecutorState(h http.Handler) (*execForTest, error) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/state", nil))
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("GET /state: %d %q", rec.Code, rec.Body.String())
	}
	var st stateJSONForTest
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		return nil, fmt.Errorf("GET /state: %v", err)
	}
	for _, fw := range st.Frameworks {
		if fw.ID != testFramework.GetId().GetValue() {
			continue
		}
		for i := range fw.Executors {
			if fw.Executors[i].ID == fuzzExecutor {
				return &fw.Executors[i], nil
			}
		}
	}
	return nil, nil
}

// checkFuzzState checks that /state is served, is JSON, and still shows
// the fuzz executor of the test framework. (It decodes only what it checks:
// /state is read after every input.)
func checkFuzzState(h http.Handler) error {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/state", nil))
	if rec.Code != http.StatusOK {
		return fmt.Errorf("GET /state: %d %q", rec.Code, rec.Body.String())
	}
	var st struct {
		Frameworks []struct {
			ID        string
			Executors []struct{ ID string }
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		return fmt.Errorf("GET /state: %v", err)
	}
	for _, fw := range st.Frameworks {
		for _, ex := range fw.Executors {
			if fw.ID == testFramework.GetId().GetValue() && ex.ID == fuzzExecutor {
				return nil
			}
		}
	}
	return fmt.Errorf("GET /state: executor %s of framework %s is gone", fuzzExecutor, testFramework.GetId().GetValue())
}

func hasTask(tasks []taskForTest, id string) bool {
	for _, t := range tasks {
		if t.ID == id {
			return true
		}
	}
	return false
}

func mustMarshal(tb testing.TB, enc codec.Encoding, m proto.Message) []byte {
	tb.Helper()
	b, err := codec.Marshal(enc, m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// withTaskID replaces the placeholder task id in a body, decoded as call,
// with the input's task; a body without the placeholder goes as it is.
func withTaskID(body []byte, enc codec.Encoding, call *execpb.Call, id string) []byte {
	if !testutil.ReplaceIDs(call.ProtoReflect(), "mesos.v1.TaskID", fuzzTaskID, id) {
		return body
	}
	out, err := codec.Marshal(enc, call)
	if err != nil {
		return body
	}
	return out
}

// fuzzMaster is as much of a master as the fuzzed agent needs: it registers
// the agent (and never pings: the agent waits an hour for that), sends on
// the stream what the test puts in out, acknowledges every status update,
// and remembers the first message from the agent that did not decode.
type fuzzMaster struct {
	srv    *httptest.Server
	out    chan *agentproto.MasterMessage
	closed chan struct{}

	mu       sync.Mutex
	bad      error
	terminal map[string]bool // tasks whose terminal update came
	changed  chan struct{}   // closed and replaced when terminal grows
}

func newFuzzMaster(tb testing.TB) *fuzzMaster {
	fm := &fuzzMaster{
		out: make(chan *agentproto.MasterMessage, 1024), closed: make(chan struct{}),
		terminal: map[string]bool{}, changed: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/internal/agent/subscribe", fm.subscribe)
	mux.HandleFunc("/internal/agent/message", fm.message)
	fm.srv = httptest.NewServer(mux)
	tb.Cleanup(func() {
		close(fm.closed)
		fm.srv.Close()
	})
	return fm
}

func (fm *fuzzMaster) addr() string { return strings.TrimPrefix(fm.srv.URL, "http://") }

// waitTerminal waits until a terminal update of the task has come.
func (fm *fuzzMaster) waitTerminal(tb testing.TB, task string) {
	tb.Helper()
	timeout := time.After(patience)
	for {
		fm.mu.Lock()
		ok, ch := fm.terminal[task], fm.changed
		fm.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timeout:
			tb.Fatalf("the master got no terminal update of task %s within %v", task, patience)
		}
	}
}

func (fm *fuzzMaster) err() error {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	return fm.bad
}

func (fm *fuzzMaster) fail(err error) {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if fm.bad == nil {
		fm.bad = err
	}
}

func (fm *fuzzMaster) decode(r *http.Request) (*agentproto.AgentMessage, bool) {
	body, err := io.ReadAll(r.Body)
	msg := &agentproto.AgentMessage{}
	if err == nil {
		err = proto.Unmarshal(body, msg)
	}
	if err != nil {
		fm.fail(fmt.Errorf("the agent sent %s a message that does not decode: %v (%q)", r.URL.Path, err, body))
		return nil, false
	}
	return msg, true
}

func (fm *fuzzMaster) subscribe(w http.ResponseWriter, r *http.Request) {
	msg, ok := fm.decode(r)
	if !ok {
		http.Error(w, "bad subscribe", http.StatusBadRequest)
		return
	}
	id := msg.GetRegister().GetAgentInfo().GetId().GetValue()
	if id == "" {
		id = "fuzz-agent-S0"
	}
	w.Header().Set("Content-Type", codec.MediaProtobuf)
	w.Header().Set("Gomesos-Stream-Id", "fuzz-stream")
	w.WriteHeader(http.StatusOK)
	rw := codec.NewRecordWriter(w)
	write := func(m *agentproto.MasterMessage) bool {
		b, err := proto.Marshal(m)
		if err != nil || rw.WriteRecord(b) != nil {
			return false
		}
		w.(http.Flusher).Flush()
		return true
	}
	write(&agentproto.MasterMessage{
		Type: agentproto.MasterMessage_REGISTERED.Enum(),
		Registered: &agentproto.MasterMessage_Registered{
			AgentId:             &mesos.AgentID{Value: proto.String(id)},
			MasterInfo:          &mesos.MasterInfo{Id: proto.String("fuzz-master"), Ip: proto.Uint32(0x7f000001), Port: proto.Uint32(5050)},
			PingIntervalSeconds: proto.Float64(3600),
			PingTimeoutSeconds:  proto.Float64(3600),
		},
	})
	for {
		select {
		case m := <-fm.out:
			if !write(m) {
				return
			}
		case <-r.Context().Done():
			return
		case <-fm.closed:
			return
		}
	}
}

func (fm *fuzzMaster) message(w http.ResponseWriter, r *http.Request) {
	msg, ok := fm.decode(r)
	if !ok {
		http.Error(w, "bad message", http.StatusBadRequest)
		return
	}
	if u := msg.GetStatusUpdate(); u != nil {
		// The acknowledgement goes first: what the test sends once it
		// learns of the terminal update comes after it.
		fm.out <- &agentproto.MasterMessage{
			Type: agentproto.MasterMessage_ACKNOWLEDGE.Enum(),
			Acknowledge: &agentproto.MasterMessage_Acknowledge{
				FrameworkId: u.GetFrameworkId(), TaskId: u.GetStatus().GetTaskId(), Uuid: u.GetStatus().GetUuid(),
			},
		}
		switch u.GetStatus().GetState() {
		case mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_FAILED, mesos.TaskState_TASK_KILLED,
			mesos.TaskState_TASK_ERROR, mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_DROPPED,
			mesos.TaskState_TASK_GONE, mesos.TaskState_TASK_GONE_BY_OPERATOR:
			fm.mu.Lock()
			fm.terminal[u.GetStatus().GetTaskId().GetValue()] = true
			close(fm.changed)
			fm.changed = make(chan struct{})
			fm.mu.Unlock()
		}
	}
	w.WriteHeader(http.StatusAccepted)
}
