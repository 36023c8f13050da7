package agent

import (
	"context"
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

	"github.com/gomesos/gomesos/agent/internal/agenttest"
	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
)

// fakeMaster speaks the master's side of the agent protocol over real HTTP:
// it registers agents, lets the test send any MasterMessage on the open
// stream, and records every message the agent sends.
type fakeMaster struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every change
	subs     []*agentproto.AgentMessage
	msgs     []*agentproto.AgentMessage
	streamID string
	out      chan *agentproto.MasterMessage // the open stream's outbox
	drop     chan struct{}                  // closing it ends the open stream
	streams  int
	nextID   int

	// Knobs, set before the agent connects.
	pingTimeout float64 // REGISTERED.ping_timeout_seconds
	rejectAll   bool    // answer every /message with 400
	badAgentID  string  // if set, the id the next REGISTER is given
	// failing answers 503 to that many more messages of failType.
	failing  int
	failType agentproto.AgentMessage_Type
	// hostname is REGISTERED.master_info.hostname.
	hostname string
	// successor is REGISTERED.successor.
	successor string
	// A master that does not lead answers 307 to leader ("//leader/path"),
	// or 503 "No leader elected" when leader is "-"; "" leads. SetLeader
	// changes it at any time.
	leader    string
	redirects int // subscribe requests answered 307 or 503

	closed    chan struct{}
	closeOnce sync.Once
}

func newFakeMaster(t *testing.T) *fakeMaster {
	fm := &fakeMaster{t: t, changed: make(chan struct{}), closed: make(chan struct{}), pingTimeout: 60, hostname: "fake-master-host"}
	mux := http.NewServeMux()
	mux.HandleFunc("/internal/agent/subscribe", fm.subscribe)
	mux.HandleFunc("/internal/agent/message", fm.message)
	fm.srv = httptest.NewServer(mux)
	t.Cleanup(fm.stop)
	return fm
}

// stop kills the master: its streams end and its port refuses connections.
func (fm *fakeMaster) stop() {
	fm.closeOnce.Do(func() {
		close(fm.closed)
		fm.srv.CloseClientConnections()
		fm.srv.Close()
	})
}

// setLeader makes this master lead ("") or follow leader (see the field).
func (fm *fakeMaster) setLeader(leader string) {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	fm.leader = leader
}

// notLeading answers a request as a master that does not lead would, and
// reports whether it did.
func (fm *fakeMaster) notLeading(w http.ResponseWriter, r *http.Request) bool {
	fm.mu.Lock()
	leader := fm.leader
	if leader != "" && r.URL.Path == "/internal/agent/subscribe" {
		fm.redirects++
		fm.notify()
	}
	fm.mu.Unlock()
	switch leader {
	case "":
		return false
	case "-":
		http.Error(w, "No leader elected", http.StatusServiceUnavailable)
	default:
		w.Header().Set("Location", "//"+leader+r.URL.Path)
		w.WriteHeader(http.StatusTemporaryRedirect)
	}
	return true
}

func (fm *fakeMaster) addr() string { return strings.TrimPrefix(fm.srv.URL, "http://") }

func (fm *fakeMaster) notify() {
	close(fm.changed)
	fm.changed = make(chan struct{})
}

// waitFor blocks until cond (evaluated under the lock) holds.
func (fm *fakeMaster) waitFor(what string, cond func() bool) {
	fm.t.Helper()
	timeout := time.After(patience)
	for {
		fm.mu.Lock()
		ok := cond()
		ch := fm.changed
		fm.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timeout:
			fm.t.Fatalf("fake master: timed out waiting for %s", what)
		}
	}
}

func (fm *fakeMaster) subscribe(w http.ResponseWriter, r *http.Request) {
	if fm.notLeading(w, r) {
		return
	}
	body, _ := io.ReadAll(r.Body)
	msg := &agentproto.AgentMessage{}
	if err := proto.Unmarshal(body, msg); err != nil || r.Header.Get("Content-Type") != codec.MediaProtobuf {
		http.Error(w, "bad subscribe", http.StatusBadRequest)
		return
	}
	id := msg.GetRegister().GetAgentInfo().GetId().GetValue()
	if msg.GetType() == agentproto.AgentMessage_REGISTER {
		id = fmt.Sprintf("fake-master-S%d", fm.nextID)
		fm.nextID++
	}
	out := make(chan *agentproto.MasterMessage, 64)
	drop := make(chan struct{})
	fm.mu.Lock()
	if fm.badAgentID != "" && msg.GetType() == agentproto.AgentMessage_REGISTER {
		id, fm.badAgentID = fm.badAgentID, ""
	}
	pingTimeout, hostname, successor := fm.pingTimeout, fm.hostname, fm.successor
	fm.subs = append(fm.subs, msg)
	fm.streams++
	fm.streamID = fmt.Sprintf("stream-%d", fm.streams)
	streamID := fm.streamID
	if fm.drop != nil {
		close(fm.drop)
	}
	fm.out, fm.drop = out, drop
	fm.notify()
	fm.mu.Unlock()

	w.Header().Set("Content-Type", codec.MediaProtobuf)
	w.Header().Set("Gomesos-Stream-Id", streamID)
	w.WriteHeader(http.StatusOK)
	rw := codec.NewRecordWriter(w)
	write := func(m *agentproto.MasterMessage) bool {
		b, _ := proto.Marshal(m)
		if rw.WriteRecord(b) != nil {
			return false
		}
		w.(http.Flusher).Flush()
		return true
	}
	write(&agentproto.MasterMessage{
		Type: agentproto.MasterMessage_REGISTERED.Enum(),
		Registered: &agentproto.MasterMessage_Registered{
			AgentId: &mesos.AgentID{Value: proto.String(id)},
			MasterInfo: &mesos.MasterInfo{
				Id: proto.String("fake-master"), Ip: proto.Uint32(0x7f000001), Port: proto.Uint32(5050),
				Hostname: proto.String(hostname),
			},
			PingIntervalSeconds: proto.Float64(pingTimeout / 5),
			PingTimeoutSeconds:  proto.Float64(pingTimeout),
			Successor:           proto.String(successor),
		},
	})
	for {
		select {
		case m := <-out:
			if !write(m) {
				return
			}
		case <-drop:
			return
		case <-r.Context().Done():
			return
		case <-fm.closed:
			return
		}
	}
}

func (fm *fakeMaster) message(w http.ResponseWriter, r *http.Request) {
	if fm.notLeading(w, r) {
		return
	}
	body, _ := io.ReadAll(r.Body)
	msg := &agentproto.AgentMessage{}
	if err := proto.Unmarshal(body, msg); err != nil {
		http.Error(w, "bad message", http.StatusBadRequest)
		return
	}
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if fm.rejectAll || r.Header.Get("Gomesos-Stream-Id") != fm.streamID || r.Header.Get("Gomesos-Agent-Id") == "" {
		http.Error(w, "unknown stream", http.StatusBadRequest)
		return
	}
	if fm.failing > 0 && msg.GetType() == fm.failType {
		fm.failing--
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	fm.msgs = append(fm.msgs, msg)
	fm.notify()
	w.WriteHeader(http.StatusAccepted)
}

// send writes a message on the open stream.
func (fm *fakeMaster) send(m *agentproto.MasterMessage) {
	fm.mu.Lock()
	out := fm.out
	fm.mu.Unlock()
	if out == nil {
		fm.t.Fatal("fake master: no open stream")
	}
	out <- m
}

// dropStream ends the open stream, as a crashed master would.
func (fm *fakeMaster) dropStream() {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if fm.drop != nil {
		close(fm.drop)
		fm.drop, fm.out = nil, nil
	}
}

// subscriptions returns the REGISTER/REREGISTER messages so far.
func (fm *fakeMaster) subscriptions() []*agentproto.AgentMessage {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	return append([]*agentproto.AgentMessage(nil), fm.subs...)
}

// messages returns the messages of the given type so far.
func (fm *fakeMaster) messages(typ agentproto.AgentMessage_Type) []*agentproto.AgentMessage {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	return fm.messagesLocked(typ)
}

func (fm *fakeMaster) messagesLocked(typ agentproto.AgentMessage_Type) []*agentproto.AgentMessage {
	var out []*agentproto.AgentMessage
	for _, m := range fm.msgs {
		if m.GetType() == typ {
			out = append(out, m)
		}
	}
	return out
}

// updatesFor returns the STATUS_UPDATEs received for a task, in order,
// retransmissions included.
func (fm *fakeMaster) updatesFor(task string) []*agentproto.StatusUpdate {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	return fm.updatesLocked(task)
}

func (fm *fakeMaster) updatesLocked(task string) []*agentproto.StatusUpdate {
	var out []*agentproto.StatusUpdate
	for _, m := range fm.messagesLocked(agentproto.AgentMessage_STATUS_UPDATE) {
		if m.GetStatusUpdate().GetStatus().GetTaskId().GetValue() == task {
			out = append(out, m.GetStatusUpdate())
		}
	}
	return out
}

// waitUpdate waits for a status update of the task in the given state and
// returns it (the first one received).
func (fm *fakeMaster) waitUpdate(task string, state mesos.TaskState) *agentproto.StatusUpdate {
	fm.t.Helper()
	var found *agentproto.StatusUpdate
	fm.waitFor(fmt.Sprintf("%s of task %s", state, task), func() bool {
		for _, u := range fm.updatesLocked(task) {
			if u.GetStatus().GetState() == state {
				found = u
				return true
			}
		}
		return false
	})
	return found
}

// ack relays the framework's acknowledgement of an update.
func (fm *fakeMaster) ack(u *agentproto.StatusUpdate) {
	fm.send(&agentproto.MasterMessage{
		Type: agentproto.MasterMessage_ACKNOWLEDGE.Enum(),
		Acknowledge: &agentproto.MasterMessage_Acknowledge{
			FrameworkId: u.GetFrameworkId(),
			TaskId:      u.GetStatus().GetTaskId(),
			Uuid:        u.GetStatus().GetUuid(),
		},
	})
}

// ackUntil acknowledges the task's updates as they come until one in a
// terminal state has been acknowledged, and returns the states in order.
func (fm *fakeMaster) ackUntilTerminal(task string) []mesos.TaskState {
	fm.t.Helper()
	var states []mesos.TaskState
	seen := map[string]bool{}
	for {
		var next *agentproto.StatusUpdate
		fm.waitFor("the next update of task "+task, func() bool {
			for _, u := range fm.updatesLocked(task) {
				if !seen[string(u.GetStatus().GetUuid())] {
					next = u
					return true
				}
			}
			return false
		})
		seen[string(next.GetStatus().GetUuid())] = true
		states = append(states, next.GetStatus().GetState())
		fm.ack(next)
		if next.GetStatus().GetState().IsTerminal() {
			return states
		}
	}
}

// newRedirector serves 307 for the subscribe path, sending the agent to
// the master at addr the way Mesos redirects: Location //host:port/path.
func newRedirector(t *testing.T, addr string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "//"+addr+r.URL.Path)
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// ---- Agent under test ----

type testAgent struct {
	*Agent
	fm      *fakeMaster
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// startAgent runs an agent against fm until the test ends.
func startAgent(t *testing.T, fm *fakeMaster, tweak func(*Config)) *testAgent {
	t.Helper()
	cfg := Config{
		Master:                    fm.addr(),
		IP:                        "127.0.0.1",
		Port:                      0,
		Hostname:                  "agent-under-test",
		WorkDir:                   t.TempDir(),
		Resources:                 "cpus:2;mem:1024;disk:2048;ports:[31000-31099]",
		Attributes:                "rack:r1;zone:z9",
		RegistrationBackoffFactor: 10 * time.Millisecond,
		StatusUpdateRetryMin:      50 * time.Millisecond,
		StatusUpdateRetryMax:      200 * time.Millisecond,
		Logger:                    slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ta := &testAgent{Agent: a, fm: fm, cancel: cancel, done: make(chan error, 1)}
	go func() { ta.done <- a.Run(ctx) }()
	t.Cleanup(func() { ta.stop(t) })
	return ta
}

// stop cancels Run and waits for it to return.
func (ta *testAgent) stop(t *testing.T) {
	ta.cancel()
	if ta.stopped {
		return
	}
	ta.stopped = true
	select {
	case err := <-ta.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(patience):
		t.Fatal("Run did not return")
	}
}

// registered waits for the agent to register and returns its ID.
func (ta *testAgent) registered(t *testing.T) string {
	t.Helper()
	ta.fm.waitFor("registration", func() bool { return len(ta.fm.subs) > 0 })
	eventually(t, "agent ID", func() bool { return ta.ID() != "" })
	return ta.ID()
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// ---- Messages ----

// The messages and calls the tests feed in come from agenttest, shared by
// the core's tests and the driver's.
var (
	testFramework = agenttest.Framework
	scalar        = agenttest.Scalar
	commandTask   = agenttest.CommandTask
	runTask       = agenttest.RunTask
	execCall      = agenttest.ExecCall
	update        = agenttest.Update
)

func killTask(task string, grace time.Duration) *agentproto.MasterMessage {
	m := &agentproto.MasterMessage{
		Type: agentproto.MasterMessage_KILL_TASK.Enum(),
		KillTask: &agentproto.MasterMessage_KillTask{
			FrameworkId: testFramework.GetId(),
			TaskId:      &mesos.TaskID{Value: proto.String(task)},
		},
	}
	if grace > 0 {
		m.KillTask.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(grace))}}
	}
	return m
}
