// Package fakeagent is a small stand-in for the agent side of the executor
// API (POST /api/v1/executor) over real HTTP, for tests of the executor SDK
// and the built-in executors. It keeps one event stream, answers UPDATE,
// MESSAGE and HEARTBEAT with 202, acknowledges updates when asked to, and
// records every call. It is test support only and implements nothing of the
// real agent beyond what those tests need.
package fakeagent

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	execpb "github.com/gomesos/gomesos/api/v1/executor"
	"github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/executor"
)

// IDs the fake agent expects and hands out.
const (
	FrameworkID = "framework-1"
	ExecutorID  = "executor-1"
	AgentID     = "agent-1"
	ContainerID = "container-1"
)

// Request is what the agent saw of one call.
type Request struct {
	Type        execpb.Call_Type
	ContentType string
	Accept      string
}

// Agent is the fake agent.
type Agent struct {
	srv  *httptest.Server
	quit chan struct{}
	once sync.Once

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every change
	caps       []mesos.FrameworkInfo_Capability_Type
	autoAck    bool
	down       bool
	refused    int // connections dropped while down
	reject     map[execpb.Call_Type]rejection
	stream     *stream
	streams    int
	subscribes []*execpb.Call
	updates    []*mesos.TaskStatus
	acked      map[string]bool
	requests   []Request
	problems   []string
}

type rejection struct {
	code int
	body string
}

type stream struct {
	events chan *execpb.Event
	drop   chan struct{}
	once   sync.Once
}

func (s *stream) close() { s.once.Do(func() { close(s.drop) }) }

// New starts a fake agent that acknowledges updates automatically; it is
// closed when the test ends.
func New(t testing.TB) *Agent {
	a := &Agent{
		quit:    make(chan struct{}),
		changed: make(chan struct{}),
		autoAck: true,
		acked:   map[string]bool{},
		reject:  map[execpb.Call_Type]rejection{},
	}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

// Close ends every stream and stops the server.
func (a *Agent) Close() {
	a.once.Do(func() {
		close(a.quit)
		a.srv.Close()
	})
}

// Endpoint is the agent's "ip:port".
func (a *Agent) Endpoint() string { return strings.TrimPrefix(a.srv.URL, "http://") }

// Config is an executor configuration pointing at this agent.
func (a *Agent) Config(sandbox string) executor.Config {
	return executor.Config{
		FrameworkID:            FrameworkID,
		ExecutorID:             ExecutorID,
		AgentEndpoint:          a.Endpoint(),
		Directory:              sandbox,
		Sandbox:                sandbox,
		RecoveryTimeout:        executor.DefaultRecoveryTimeout,
		SubscriptionBackoffMax: 50 * time.Millisecond,
		ShutdownGracePeriod:    executor.DefaultShutdownGracePeriod,
	}
}

// Env is the MESOS_* environment an agent would give an executor using this
// agent, with the given sandbox.
func (a *Agent) Env(sandbox string) []string {
	return []string{
		"MESOS_FRAMEWORK_ID=" + FrameworkID,
		"MESOS_EXECUTOR_ID=" + ExecutorID,
		"MESOS_AGENT_ENDPOINT=" + a.Endpoint(),
		"MESOS_DIRECTORY=" + sandbox,
		"MESOS_SANDBOX=" + sandbox,
		"MESOS_CHECKPOINT=0",
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD=5secs",
	}
}

// SetCapabilities sets the framework capabilities sent in SUBSCRIBED.
func (a *Agent) SetCapabilities(caps ...mesos.FrameworkInfo_Capability_Type) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.caps = caps
}

// SetAutoAck turns automatic acknowledgement of updates on or off.
func (a *Agent) SetAutoAck(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.autoAck = on
}

// SetDown makes the agent drop every connection it is handed, as if it had
// crashed, or serve again.
func (a *Agent) SetDown(down bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.down = down
	if down && a.stream != nil {
		a.stream.close()
	}
}

// Reject makes the next call of type t fail with the given status and body.
func (a *Agent) Reject(t execpb.Call_Type, code int, body string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reject[t] = rejection{code, body}
}

// Drop ends the current event stream, as an agent that fails over would.
func (a *Agent) Drop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stream != nil {
		a.stream.close()
		a.stream = nil
		a.notify()
	}
}

// Send puts an event on the current stream.
func (a *Agent) Send(ev *execpb.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stream == nil {
		return fmt.Errorf("fakeagent: no executor subscribed")
	}
	a.stream.events <- proto.Clone(ev).(*execpb.Event)
	return nil
}

// Ack acknowledges one update.
func (a *Agent) Ack(st *mesos.TaskStatus) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ack(st)
}

// AckAll acknowledges every update not acknowledged yet.
func (a *Agent) AckAll() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, st := range a.updates {
		if !a.acked[string(st.GetUuid())] {
			if err := a.ack(st); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *Agent) ack(st *mesos.TaskStatus) error {
	if a.stream == nil {
		return fmt.Errorf("fakeagent: no executor subscribed")
	}
	a.acked[string(st.GetUuid())] = true
	a.stream.events <- &execpb.Event{
		Type: execpb.Event_ACKNOWLEDGED.Enum(),
		Acknowledged: &execpb.Event_Acknowledged{
			TaskId: proto.Clone(st.GetTaskId()).(*mesos.TaskID),
			Uuid:   bytes.Clone(st.GetUuid()),
		},
	}
	a.notify()
	return nil
}

// Subscribed reports whether an executor stream is open.
func (a *Agent) Subscribed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stream != nil
}

// Refused returns how many requests the agent dropped while down.
func (a *Agent) Refused() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.refused
}

// Subscribes returns every SUBSCRIBE call received.
func (a *Agent) Subscribes() []*execpb.Call {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*execpb.Call(nil), a.subscribes...)
}

// Updates returns every status update received, re-deliveries included.
func (a *Agent) Updates() []*mesos.TaskStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*mesos.TaskStatus(nil), a.updates...)
}

// States returns the states of a task's distinct updates, in arrival order.
func (a *Agent) States(taskID string) []mesos.TaskState {
	var out []mesos.TaskState
	seen := map[string]bool{}
	for _, st := range a.Updates() {
		if st.GetTaskId().GetValue() == taskID && !seen[string(st.GetUuid())] {
			seen[string(st.GetUuid())] = true
			out = append(out, st.GetState())
		}
	}
	return out
}

// Unacked returns the updates not acknowledged yet.
func (a *Agent) Unacked() []*mesos.TaskStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*mesos.TaskStatus
	seen := map[string]bool{}
	for _, st := range a.updates {
		if !a.acked[string(st.GetUuid())] && !seen[string(st.GetUuid())] {
			seen[string(st.GetUuid())] = true
			out = append(out, st)
		}
	}
	return out
}

// Requests returns what the agent saw of every call.
func (a *Agent) Requests() []Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Request(nil), a.requests...)
}

// Problems returns protocol violations the agent noticed.
func (a *Agent) Problems() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.problems...)
}

// Wait waits until cond holds, failing the test after timeout.
func (a *Agent) Wait(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		a.mu.Lock()
		ch := a.changed
		a.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("fakeagent: timed out after %v waiting for %s", timeout, what)
		}
	}
}

// WaitState waits for an update of the task in the given state and returns it.
func (a *Agent) WaitState(t testing.TB, timeout time.Duration, taskID string, state mesos.TaskState) *mesos.TaskStatus {
	t.Helper()
	var found *mesos.TaskStatus
	a.Wait(t, timeout, fmt.Sprintf("%s of task %s (have %v)", state, taskID, a.States(taskID)), func() bool {
		for _, st := range a.Updates() {
			if st.GetTaskId().GetValue() == taskID && st.GetState() == state {
				found = st
				return true
			}
		}
		return false
	})
	return found
}

func (a *Agent) notify() {
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *Agent) problem(format string, args ...any) {
	a.problems = append(a.problems, fmt.Sprintf(format, args...))
	a.notify()
}

func (a *Agent) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	down := a.down
	if down {
		a.refused++
		a.notify()
	}
	a.mu.Unlock()
	if down {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path != "/api/v1/executor" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "Expecting a 'POST' request", http.StatusMethodNotAllowed)
		return
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		http.Error(w, "Expecting 'Content-Type' to be present", http.StatusBadRequest)
		return
	}
	enc, err := codec.FromContentType(ct)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	call := new(execpb.Call)
	if err := codec.Unmarshal(enc, body, call); err != nil {
		http.Error(w, "Failed to parse body into Call: "+err.Error(), http.StatusBadRequest)
		return
	}

	a.mu.Lock()
	a.requests = append(a.requests, Request{Type: call.GetType(), ContentType: ct, Accept: r.Header.Get("Accept")})
	if call.GetExecutorId().GetValue() != ExecutorID || call.GetFrameworkId().GetValue() != FrameworkID {
		a.problem("%s call with executor %q framework %q", call.GetType(), call.GetExecutorId().GetValue(), call.GetFrameworkId().GetValue())
	}
	rej, rejected := a.reject[call.GetType()]
	delete(a.reject, call.GetType())
	a.notify()
	a.mu.Unlock()
	if rejected {
		http.Error(w, rej.body, rej.code)
		return
	}

	switch call.GetType() {
	case execpb.Call_SUBSCRIBE:
		a.subscribe(w, r, call)
	case execpb.Call_UPDATE:
		a.update(w, call)
	case execpb.Call_MESSAGE, execpb.Call_HEARTBEAT:
		a.mu.Lock()
		subscribed := a.stream != nil
		a.mu.Unlock()
		if !subscribed {
			http.Error(w, "Executor is not subscribed", http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		http.Error(w, "Unknown call", http.StatusNotImplemented)
	}
}

func (a *Agent) update(w http.ResponseWriter, call *execpb.Call) {
	st := call.GetUpdate().GetStatus()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stream == nil {
		http.Error(w, "Executor is not subscribed", http.StatusForbidden)
		return
	}
	if len(st.GetUuid()) != 16 {
		http.Error(w, "Failed to validate executor::Call: uuid is not 16 bytes", http.StatusBadRequest)
		return
	}
	if st.GetState() == mesos.TaskState_TASK_STAGING {
		http.Error(w, "Failed to validate executor::Call: state is TASK_STAGING", http.StatusBadRequest)
		return
	}
	if st.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
		a.problem("update with source %v", st.GetSource())
	}
	if st.GetExecutorId().GetValue() != ExecutorID {
		a.problem("update with executor_id %q", st.GetExecutorId().GetValue())
	}
	a.updates = append(a.updates, st)
	if a.autoAck {
		_ = a.ack(st)
	}
	a.notify()
	w.WriteHeader(http.StatusAccepted)
}

func (a *Agent) subscribe(w http.ResponseWriter, r *http.Request, call *execpb.Call) {
	enc, recordio, ok := codec.Negotiate(r.Header.Get("Accept"), r.Header.Get("Message-Accept"))
	if !ok || recordio {
		http.Error(w, "Not acceptable", http.StatusNotAcceptable)
		return
	}
	s := &stream{events: make(chan *execpb.Event, 1024), drop: make(chan struct{})}
	a.mu.Lock()
	if a.stream != nil {
		a.stream.close()
	}
	a.stream = s
	a.streams++
	a.subscribes = append(a.subscribes, call)
	// Updates re-sent in SUBSCRIBE count as received, as on a real agent.
	for _, u := range call.GetSubscribe().GetUnacknowledgedUpdates() {
		a.updates = append(a.updates, u.GetStatus())
	}
	caps := a.caps
	a.notify()
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		if a.stream == s {
			a.stream = nil
			a.notify()
		}
		a.mu.Unlock()
	}()

	fw := &mesos.FrameworkInfo{
		User: proto.String("nobody"),
		Name: proto.String("fake framework"),
		Id:   &mesos.FrameworkID{Value: proto.String(FrameworkID)},
	}
	for _, c := range caps {
		fw.Capabilities = append(fw.Capabilities, &mesos.FrameworkInfo_Capability{Type: c.Enum()})
	}
	subscribed := &execpb.Event{
		Type: execpb.Event_SUBSCRIBED.Enum(),
		Subscribed: &execpb.Event_Subscribed{
			ExecutorInfo: &mesos.ExecutorInfo{
				ExecutorId:  &mesos.ExecutorID{Value: proto.String(ExecutorID)},
				FrameworkId: &mesos.FrameworkID{Value: proto.String(FrameworkID)},
			},
			FrameworkInfo: fw,
			AgentInfo: &mesos.AgentInfo{
				Hostname: proto.String("localhost"),
				Id:       &mesos.AgentID{Value: proto.String(AgentID)},
			},
			ContainerId: &mesos.ContainerID{Value: proto.String(ContainerID)},
		},
	}

	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", enc.ContentType())
	w.WriteHeader(http.StatusOK)
	rw := codec.NewRecordWriter(w)
	write := func(ev *execpb.Event) bool {
		data, err := codec.Marshal(enc, ev)
		if err != nil {
			a.mu.Lock()
			a.problem("encoding %s: %v", ev.GetType(), err)
			a.mu.Unlock()
			return false
		}
		if err := rw.WriteRecord(data); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	if !write(subscribed) {
		return
	}
	for {
		select {
		case ev := <-s.events:
			if !write(ev) {
				return
			}
		case <-s.drop:
			return
		case <-a.quit:
			return
		case <-r.Context().Done():
			return
		}
	}
}
