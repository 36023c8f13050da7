package master_test

// Test helpers: a real master on a loopback port, a raw scheduler client
// speaking the v1 scheduler API (JSON or protobuf), a fake agent speaking
// the internal agent protocol, waits with deadlines and a key-set comparison
// for the legacy JSON endpoints. The goroutine leak check is
// internal/testutil's.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/google/uuid"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/testutil"
	"github.com/gomesos/gomesos/master"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/resources"
)

// waitTimeout bounds every wait for something the master should do soon.
const waitTimeout = 10 * time.Second

// ---------------------------------------------------------------------------
// Waiting.

// waitFor waits until cond holds, failing the test after waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, what, waitTimeout, cond)
}

// queue is a log of received messages that waiters can consume by kind,
// each kind in arrival order, without losing the others.
type queue[M any] struct {
	mu      sync.Mutex
	items   []M
	kinds   []string
	cursor  map[string]int
	changed chan struct{}
	closed  bool
}

func newQueue[M any]() *queue[M] {
	return &queue[M]{cursor: map[string]int{}, changed: make(chan struct{})}
}

func (q *queue[M]) push(kind string, m M) {
	q.mu.Lock()
	q.items = append(q.items, m)
	q.kinds = append(q.kinds, kind)
	close(q.changed)
	q.changed = make(chan struct{})
	q.mu.Unlock()
}

func (q *queue[M]) close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.changed)
		q.changed = make(chan struct{})
	}
	q.mu.Unlock()
}

func (q *queue[M]) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// take returns the next unconsumed item of kind, waiting up to d. ok is
// false when none came in time (or the queue closed without one).
func (q *queue[M]) take(kind string, d time.Duration) (m M, ok bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		q.mu.Lock()
		for i := q.cursor[kind]; i < len(q.items); i++ {
			if q.kinds[i] == kind {
				q.cursor[kind] = i + 1
				m := q.items[i]
				q.mu.Unlock()
				return m, true
			}
		}
		q.cursor[kind] = len(q.items)
		closed, changed := q.closed, q.changed
		q.mu.Unlock()
		if closed {
			return m, false
		}
		select {
		case <-changed:
		case <-timer.C:
			return m, false
		}
	}
}

// all returns every item received so far, in order.
func (q *queue[M]) all() []M {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.items)
}

// ---------------------------------------------------------------------------
// The master.

type testMaster struct {
	*master.Master
	t      testing.TB
	client *http.Client
	tr     *http.Transport
}

// testOptions are the master options of most tests: fast allocation and
// heartbeats, and agent health checks lenient enough for the race detector.
func testOptions() core.Options {
	return core.Options{
		AllocationInterval:   50 * time.Millisecond,
		HeartbeatInterval:    100 * time.Millisecond,
		AgentPingTimeout:     time.Second,
		MaxAgentPingTimeouts: 2,
	}
}

// startMaster runs a real master on a free loopback port until the test
// ends, then stops it and checks that nothing it started is left running.
func startMaster(t testing.TB, opts ...func(*master.Config)) *testMaster {
	t.Helper()
	testutil.CheckGoroutines(t)
	cfg := master.Config{Port: 0, Options: testOptions(), TickInterval: 10 * time.Millisecond}
	cfg.Logger = testLogger(t)
	for _, o := range opts {
		o(&cfg)
	}
	m, err := master.New(cfg)
	if err != nil {
		t.Fatalf("master.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	tr := &http.Transport{}
	tm := &testMaster{Master: m, t: t, tr: tr, client: &http.Client{Transport: tr}}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("master.Run: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("master did not stop within %v", waitTimeout)
		}
		tr.CloseIdleConnections()
	})
	waitFor(t, "the master to serve /health", func() bool {
		resp, err := tm.client.Get(m.URL() + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return tm
}

// testLogger sends the master's log to the test log when GOMESOS_TEST_LOG
// is set, and nowhere otherwise.
func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("GOMESOS_TEST_LOG") == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(&tWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct {
	mu sync.Mutex
	t  testing.TB
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (m *testMaster) masterID() string { return m.Info().GetId() }

// do sends a request to the master and returns the status, headers and body.
func (m *testMaster) do(method, path string, header http.Header, body []byte) (int, http.Header, string) {
	m.t.Helper()
	req, err := http.NewRequest(method, m.URL()+path, bytes.NewReader(body))
	if err != nil {
		m.t.Fatalf("new request: %v", err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := m.client.Do(req)
	if err != nil {
		m.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		m.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// getJSON GETs a legacy JSON endpoint and decodes it.
func (m *testMaster) getJSON(path string) map[string]any {
	m.t.Helper()
	status, _, body := m.do(http.MethodGet, path, nil, nil)
	if status != http.StatusOK {
		m.t.Fatalf("GET %s: status %d, body %q", path, status, body)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		m.t.Fatalf("GET %s: decoding %q: %v", path, body, err)
	}
	return v
}

// metrics returns /metrics/snapshot.
func (m *testMaster) metrics() map[string]float64 {
	m.t.Helper()
	status, _, body := m.do(http.MethodGet, "/metrics/snapshot", nil, nil)
	if status != http.StatusOK {
		m.t.Fatalf("GET /metrics/snapshot: status %d", status)
	}
	var v map[string]float64
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		m.t.Fatalf("decoding /metrics/snapshot: %v", err)
	}
	return v
}

// waitMetric waits until a metric has the wanted value.
func (m *testMaster) waitMetric(name string, want float64) {
	m.t.Helper()
	var got float64
	waitFor(m.t, fmt.Sprintf("metric %s to be %v", name, want), func() bool {
		got = m.metrics()[name]
		return got == want
	})
}

// ---------------------------------------------------------------------------
// JSON helpers for the legacy endpoints.

func objects(v any) []map[string]any {
	arr, _ := v.([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, x := range arr {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func findByID(list []map[string]any, id string) map[string]any {
	for _, x := range list {
		if x["id"] == id {
			return x
		}
	}
	return nil
}

// ids lists the "id" fields of a list of JSON objects.
func ids(list []map[string]any) []string {
	var out []string
	for _, x := range list {
		out = append(out, fmt.Sprint(x["id"]))
	}
	return out
}

// loadSample reads one of the captured Mesos responses.
func loadSample(t testing.TB, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "mesos-samples", name))
	if err != nil {
		t.Fatalf("sample %s: %v", name, err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding sample %s: %v", name, err)
	}
	return v
}

// missingKeys lists the keys of want that got lacks, recursively: objects
// are compared key by key and arrays by their first elements. Keys in
// ignore (dotted paths such as "frameworks[].offer_constraints") are
// skipped with everything under them. Objects keyed by data (flags,
// attributes, roles) belong in ignore unless both sides hold the same data.
func missingKeys(want, got any, path string, ignore map[string]bool) []string {
	var out []string
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			if got == nil {
				return nil // absent values are reported by the parent
			}
			return []string{path + " (not an object)"}
		}
		for _, k := range sortedKeys(w) {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if ignore[p] {
				continue
			}
			gv, present := g[k]
			if !present {
				out = append(out, p)
				continue
			}
			out = append(out, missingKeys(w[k], gv, p, ignore)...)
		}
	case []any:
		g, _ := got.([]any)
		if len(w) > 0 && len(g) > 0 {
			out = append(out, missingKeys(w[0], g[0], path+"[]", ignore)...)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ---------------------------------------------------------------------------
// The scheduler client: raw HTTP, JSON or protobuf.

type scheduler struct {
	t           testing.TB
	m           *testMaster
	enc         codec.Encoding
	StreamID    string
	FrameworkID string
	Subscribed  *schedpb.Event_Subscribed
	Header      http.Header

	resp   *http.Response
	events *queue[*schedpb.Event]
	raw    *queue[[]byte] // each event's record as it came, by event type
	spare  []*mesos.Offer // offers received but not yet used by offersOf
	done   chan struct{}
	once   sync.Once
}

// frameworkInfo is a plain framework: role "*", no failover timeout.
func frameworkInfo(name string, caps ...mesos.FrameworkInfo_Capability_Type) *mesos.FrameworkInfo {
	fi := &mesos.FrameworkInfo{User: proto.String("test"), Name: proto.String(name)}
	for _, c := range caps {
		fi.Capabilities = append(fi.Capabilities, &mesos.FrameworkInfo_Capability{Type: c.Enum()})
	}
	return fi
}

func subscribeCall(fi *mesos.FrameworkInfo) *schedpb.Call {
	call := &schedpb.Call{
		Type:      schedpb.Call_SUBSCRIBE.Enum(),
		Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: fi},
	}
	if fi.Id != nil {
		call.FrameworkId = fi.Id
	}
	return call
}

// subscribe opens a SUBSCRIBE stream and waits for SUBSCRIBED.
func subscribe(t testing.TB, m *testMaster, fi *mesos.FrameworkInfo, enc codec.Encoding) *scheduler {
	t.Helper()
	s := openStream(t, m, fi, enc)
	ev := s.next(schedpb.Event_SUBSCRIBED)
	s.Subscribed = ev.GetSubscribed()
	s.FrameworkID = s.Subscribed.GetFrameworkId().GetValue()
	return s
}

// openStream sends SUBSCRIBE and starts reading its event stream, without
// waiting for any event.
func openStream(t testing.TB, m *testMaster, fi *mesos.FrameworkInfo, enc codec.Encoding) *scheduler {
	t.Helper()
	return openStreamBody(t, m, subscribeCall(fi), enc)
}

// openStreamBody sends a prepared SUBSCRIBE call and starts reading its
// event stream.
func openStreamBody(t testing.TB, m *testMaster, call *schedpb.Call, enc codec.Encoding) *scheduler {
	t.Helper()
	body, err := codec.Marshal(enc, call)
	if err != nil {
		t.Fatalf("encoding SUBSCRIBE: %v", err)
	}
	req, err := http.NewRequest(http.MethodPost, m.URL()+"/api/v1/scheduler", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", enc.ContentType())
	req.Header.Set("Accept", enc.ContentType())
	resp, err := m.client.Do(req)
	if err != nil {
		t.Fatalf("SUBSCRIBE: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("SUBSCRIBE: status %d, body %q", resp.StatusCode, b)
	}
	s := &scheduler{
		t: t, m: m, enc: enc, resp: resp, Header: resp.Header,
		StreamID: resp.Header.Get("Mesos-Stream-Id"),
		events:   newQueue[*schedpb.Event](), raw: newQueue[[]byte](), done: make(chan struct{}),
	}
	go s.read()
	t.Cleanup(s.disconnect)
	return s
}

func (s *scheduler) read() {
	defer close(s.done)
	defer s.events.close()
	defer s.raw.close()
	rr := codec.NewRecordReader(s.resp.Body, 0)
	for {
		rec, err := rr.ReadRecord()
		if err != nil {
			return
		}
		ev := &schedpb.Event{}
		if err := codec.Unmarshal(s.enc, rec, ev); err != nil {
			s.events.push("DECODE_ERROR", &schedpb.Event{Error: &schedpb.Event_Error{Message: proto.String(err.Error() + ": " + string(rec))}})
			continue
		}
		s.raw.push(ev.GetType().String(), rec)
		s.events.push(ev.GetType().String(), ev)
	}
}

// nextRaw returns the record of the next event of the given type exactly as
// the master sent it (the raw queue is consumed apart from next's).
func (s *scheduler) nextRaw(typ schedpb.Event_Type) []byte {
	s.t.Helper()
	rec, ok := s.raw.take(typ.String(), waitTimeout)
	if !ok {
		s.t.Fatalf("framework %s: no %s record within %v (stream closed: %v)", s.FrameworkID, typ, waitTimeout, s.raw.isClosed())
	}
	return rec
}

// disconnect closes the event stream from the scheduler's side and waits
// until the reader is done.
func (s *scheduler) disconnect() {
	s.once.Do(func() { s.resp.Body.Close() })
	<-s.done
}

// waitClosed waits until the master ends the event stream.
func (s *scheduler) waitClosed() {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(waitTimeout):
		s.t.Fatalf("the master did not close the event stream of %s", s.FrameworkID)
	}
}

// next returns the next event of the given type, failing the test when none
// comes within waitTimeout.
func (s *scheduler) next(typ schedpb.Event_Type) *schedpb.Event {
	s.t.Helper()
	if ev, ok := s.events.take("DECODE_ERROR", 0); ok {
		s.t.Fatalf("undecodable event: %s", ev.GetError().GetMessage())
	}
	ev, ok := s.events.take(typ.String(), waitTimeout)
	if !ok {
		s.t.Fatalf("framework %s: no %s event within %v (stream closed: %v); events so far: %s",
			s.FrameworkID, typ, waitTimeout, s.events.isClosed(), s.describe())
	}
	return ev
}

// none checks that no event of type typ arrives within d.
func (s *scheduler) none(typ schedpb.Event_Type, d time.Duration) {
	s.t.Helper()
	if ev, ok := s.events.take(typ.String(), d); ok {
		s.t.Fatalf("framework %s: unexpected %s event: %v", s.FrameworkID, typ, ev)
	}
}

func (s *scheduler) describe() string {
	var parts []string
	for _, ev := range s.events.all() {
		parts = append(parts, ev.GetType().String())
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// nextUpdate returns the next UPDATE's status.
func (s *scheduler) nextUpdate() *mesos.TaskStatus {
	s.t.Helper()
	return s.next(schedpb.Event_UPDATE).GetUpdate().GetStatus()
}

// nextOffers returns the offers of the next OFFERS event.
func (s *scheduler) nextOffers() []*mesos.Offer {
	s.t.Helper()
	return s.next(schedpb.Event_OFFERS).GetOffers().GetOffers()
}

// post sends a call on the framework's stream and returns the status and
// body of the answer.
func (s *scheduler) post(call *schedpb.Call) (int, string) {
	s.t.Helper()
	if call.FrameworkId == nil {
		call.FrameworkId = &mesos.FrameworkID{Value: proto.String(s.FrameworkID)}
	}
	body, err := codec.Marshal(s.enc, call)
	if err != nil {
		s.t.Fatalf("encoding %s: %v", call.GetType(), err)
	}
	h := http.Header{}
	h.Set("Content-Type", s.enc.ContentType())
	h.Set("Mesos-Stream-Id", s.StreamID)
	status, _, resp := s.m.do(http.MethodPost, "/api/v1/scheduler", h, body)
	return status, resp
}

// call sends a call that must be accepted (202).
func (s *scheduler) call(call *schedpb.Call) {
	s.t.Helper()
	status, body := s.post(call)
	if status != http.StatusAccepted {
		s.t.Fatalf("%s: status %d, body %q", call.GetType(), status, body)
	}
}

func (s *scheduler) accept(offerIDs []*mesos.OfferID, refuse float64, ops ...*mesos.Offer_Operation) {
	s.t.Helper()
	s.call(&schedpb.Call{Type: schedpb.Call_ACCEPT.Enum(), Accept: &schedpb.Call_Accept{
		OfferIds: offerIDs, Operations: ops, Filters: &mesos.Filters{RefuseSeconds: proto.Float64(refuse)},
	}})
}

func (s *scheduler) decline(offerIDs []*mesos.OfferID, refuse float64) {
	s.t.Helper()
	s.call(&schedpb.Call{Type: schedpb.Call_DECLINE.Enum(), Decline: &schedpb.Call_Decline{
		OfferIds: offerIDs, Filters: &mesos.Filters{RefuseSeconds: proto.Float64(refuse)},
	}})
}

func (s *scheduler) acknowledge(st *mesos.TaskStatus) {
	s.t.Helper()
	s.call(&schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedpb.Call_Acknowledge{
		AgentId: st.GetAgentId(), TaskId: st.GetTaskId(), Uuid: st.GetUuid(),
	}})
}

func offerIDs(offers ...*mesos.Offer) []*mesos.OfferID {
	var out []*mesos.OfferID
	for _, o := range offers {
		out = append(out, o.GetId())
	}
	return out
}

// commandTask is a command task for an offer's agent.
func commandTask(id, res string, o *mesos.Offer) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:      proto.String(id),
		TaskId:    &mesos.TaskID{Value: proto.String(id)},
		AgentId:   o.GetAgentId(),
		Resources: resources.ToProto(resources.MustParse(res)),
		Command:   &mesos.CommandInfo{Value: proto.String("sleep 1000")},
	}
}

func launchOp(tasks ...*mesos.TaskInfo) *mesos.Offer_Operation {
	return &mesos.Offer_Operation{Type: mesos.Offer_Operation_LAUNCH.Enum(), Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks}}
}

func launchGroupOp(ex *mesos.ExecutorInfo, tasks ...*mesos.TaskInfo) *mesos.Offer_Operation {
	return &mesos.Offer_Operation{Type: mesos.Offer_Operation_LAUNCH_GROUP.Enum(), LaunchGroup: &mesos.Offer_Operation_LaunchGroup{
		Executor: ex, TaskGroup: &mesos.TaskGroupInfo{Tasks: tasks},
	}}
}

// offeredScalar sums a scalar resource over offers.
func offeredScalar(name string, offers ...*mesos.Offer) float64 {
	var sum float64
	for _, o := range offers {
		for _, r := range o.GetResources() {
			if r.GetName() == name {
				sum += r.GetScalar().GetValue()
			}
		}
	}
	return sum
}

// ---------------------------------------------------------------------------
// The fake agent: speaks the internal agent protocol over real HTTP.

type fakeAgent struct {
	t    testing.TB
	m    *testMaster
	ID   string
	Conn string
	Info *mesos.AgentInfo

	// pong makes the agent answer PINGs (on by default).
	pong atomic.Bool

	resp *http.Response
	// registered is the master's REGISTERED.
	registered *agentproto.MasterMessage
	msgs       *queue[*agentproto.MasterMessage]
	done       chan struct{}
	once       sync.Once
}

// startAgent registers an agent with the given resources and waits for
// REGISTERED.
func startAgent(t testing.TB, m *testMaster, hostname, res string) *fakeAgent {
	t.Helper()
	info := &mesos.AgentInfo{
		Hostname:  proto.String(hostname),
		Port:      proto.Int32(5051),
		Resources: resources.ToProto(resources.MustParse(res)),
	}
	return connectAgent(t, m, &agentproto.AgentMessage{
		Type:     agentproto.AgentMessage_REGISTER.Enum(),
		Register: &agentproto.AgentMessage_Register{AgentInfo: info, Version: proto.String(core.Version)},
	})
}

// reregister has an agent whose connection broke come back with the
// tasks it runs, as after an agent restart with recovery.
func (a *fakeAgent) reregister(tasks ...*mesos.Task) *fakeAgent {
	a.t.Helper()
	info := proto.Clone(a.Info).(*mesos.AgentInfo)
	info.Id = &mesos.AgentID{Value: proto.String(a.ID)}
	return connectAgent(a.t, a.m, &agentproto.AgentMessage{
		Type: agentproto.AgentMessage_REREGISTER.Enum(),
		Register: &agentproto.AgentMessage_Register{
			AgentInfo: info, Version: proto.String(core.Version), Tasks: tasks,
		},
	})
}

// connectAgent opens an agent connection with REGISTER or REREGISTER and
// waits for REGISTERED.
func connectAgent(t testing.TB, m *testMaster, msg *agentproto.AgentMessage) *fakeAgent {
	t.Helper()
	info := msg.GetRegister().GetAgentInfo()
	body, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, m.URL()+"/internal/agent/subscribe", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", codec.MediaProtobuf)
	resp, err := m.client.Do(req)
	if err != nil {
		t.Fatalf("agent subscribe: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("agent subscribe: status %d, body %q", resp.StatusCode, b)
	}
	a := &fakeAgent{
		t: t, m: m, Info: info, resp: resp,
		ID:   resp.Header.Get(master.HeaderAgentID),
		Conn: resp.Header.Get(master.HeaderStreamID),
		msgs: newQueue[*agentproto.MasterMessage](),
		done: make(chan struct{}),
	}
	a.pong.Store(true)
	go a.read()
	t.Cleanup(a.disconnect)
	reg := a.next(agentproto.MasterMessage_REGISTERED)
	if got := reg.GetRegistered().GetAgentId().GetValue(); got != a.ID {
		t.Fatalf("REGISTERED names agent %q, header said %q", got, a.ID)
	}
	a.registered = reg
	return a
}

func (a *fakeAgent) read() {
	defer close(a.done)
	defer a.msgs.close()
	rr := codec.NewRecordReader(a.resp.Body, 0)
	for {
		rec, err := rr.ReadRecord()
		if err != nil {
			return
		}
		msg := &agentproto.MasterMessage{}
		if err := proto.Unmarshal(rec, msg); err != nil {
			a.msgs.push("DECODE_ERROR", msg)
			continue
		}
		if msg.GetType() == agentproto.MasterMessage_PING && a.pong.Load() {
			// Best effort, as over a real network: a failed pong is a
			// missed pong.
			_, _ = a.trySend(&agentproto.AgentMessage{Type: agentproto.AgentMessage_PONG.Enum()})
		}
		a.msgs.push(msg.GetType().String(), msg)
	}
}

func (a *fakeAgent) disconnect() {
	a.once.Do(func() { a.resp.Body.Close() })
	<-a.done
}

// next returns the next message of the given type from the master.
func (a *fakeAgent) next(typ agentproto.MasterMessage_Type) *agentproto.MasterMessage {
	a.t.Helper()
	msg, ok := a.msgs.take(typ.String(), waitTimeout)
	if !ok {
		a.t.Fatalf("agent %s: no %s from the master within %v (stream closed: %v)", a.ID, typ, waitTimeout, a.msgs.isClosed())
	}
	return msg
}

func (a *fakeAgent) none(typ agentproto.MasterMessage_Type, d time.Duration) {
	a.t.Helper()
	if msg, ok := a.msgs.take(typ.String(), d); ok {
		a.t.Fatalf("agent %s: unexpected %s: %v", a.ID, typ, msg)
	}
}

func (a *fakeAgent) trySend(msg *agentproto.AgentMessage) (int, error) {
	body, err := proto.Marshal(msg)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest(http.MethodPost, a.m.URL()+"/internal/agent/message", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", codec.MediaProtobuf)
	req.Header.Set(master.HeaderAgentID, a.ID)
	req.Header.Set(master.HeaderStreamID, a.Conn)
	resp, err := a.m.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (a *fakeAgent) send(msg *agentproto.AgentMessage) {
	a.t.Helper()
	status, err := a.trySend(msg)
	if err != nil || status != http.StatusAccepted {
		a.t.Fatalf("agent %s: sending %s: status %d, error %v", a.ID, msg.GetType(), status, err)
	}
}

// update sends a status update for a task, as the agent's status update
// manager forwards one from an executor, and returns its uuid.
func (a *fakeAgent) update(frameworkID, taskID string, state mesos.TaskState) []byte {
	a.t.Helper()
	return a.updateLatest(frameworkID, taskID, state, state)
}

// updateLatest sends an update whose task is already in state latest, as
// the agent does while earlier updates wait for acknowledgement.
func (a *fakeAgent) updateLatest(frameworkID, taskID string, state, latest mesos.TaskState) []byte {
	a.t.Helper()
	msg := a.statusUpdate(frameworkID, taskID, state, latest)
	a.send(msg)
	return msg.GetStatusUpdate().GetStatus().GetUuid()
}

// statusUpdate is the STATUS_UPDATE the agent sends for a task in state
// (latest, with updates waiting), with a new uuid.
func (a *fakeAgent) statusUpdate(frameworkID, taskID string, state, latest mesos.TaskState) *agentproto.AgentMessage {
	return &agentproto.AgentMessage{
		Type: agentproto.AgentMessage_STATUS_UPDATE.Enum(),
		StatusUpdate: &agentproto.StatusUpdate{
			LatestState: latest.Enum(),
			FrameworkId: &mesos.FrameworkID{Value: proto.String(frameworkID)},
			Status: &mesos.TaskStatus{
				TaskId:    &mesos.TaskID{Value: proto.String(taskID)},
				State:     state.Enum(),
				Source:    mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
				AgentId:   &mesos.AgentID{Value: proto.String(a.ID)},
				Timestamp: proto.Float64(float64(time.Now().UnixNano()) / 1e9),
				Uuid:      newUUID(),
				ContainerStatus: &mesos.ContainerStatus{
					ContainerId: &mesos.ContainerID{Value: proto.String(a.ID + "-" + taskID)},
				},
			},
		},
	}
}

func newUUID() []byte {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return b
}

func resourcesProto(text string) []*mesos.Resource {
	return resources.ToProto(resources.MustParse(text))
}

func formatRange(begin, end uint64) string { return fmt.Sprintf("%d-%d", begin, end) }

// syncUpdates makes sure every UPDATE the master sent the framework so far
// has arrived: it reconciles a task nobody has and waits for the answer,
// failing if any other UPDATE comes first. It makes "no update was sent"
// checks exact.
func (s *scheduler) syncUpdates() {
	s.t.Helper()
	id := "sync-" + uuid.NewString()
	s.call(&schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{
		Tasks: []*schedpb.Call_Reconcile_Task{{TaskId: &mesos.TaskID{Value: proto.String(id)}}},
	}})
	if st := s.nextUpdate(); st.GetTaskId().GetValue() != id {
		s.t.Fatalf("unexpected UPDATE before the sync point: %v", st)
	}
}

// syncAgent makes sure every message the master sent the agent so far has
// arrived: the framework sends the agent a message and the agent waits for
// it. It makes "the agent got no X" checks exact.
func (a *fakeAgent) syncAgent(s *scheduler) {
	a.t.Helper()
	data := "sync-" + uuid.NewString()
	s.call(&schedpb.Call{Type: schedpb.Call_MESSAGE.Enum(), Message: &schedpb.Call_Message{
		AgentId: &mesos.AgentID{Value: proto.String(a.ID)}, ExecutorId: &mesos.ExecutorID{Value: proto.String("sync")}, Data: []byte(data),
	}})
	for {
		if string(a.next(agentproto.MasterMessage_FRAMEWORK_TO_EXECUTOR).GetFrameworkToExecutor().GetData()) == data {
			return
		}
	}
}
