package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/testutil"
	"github.com/gomesos/gomesos/scheduler/schedulertest"
)

const waitTimeout = 10 * time.Second

func frameworkInfo() *mesos.FrameworkInfo {
	return &mesos.FrameworkInfo{
		User:            proto.String("tester"),
		Name:            proto.String("sdk-test"),
		FailoverTimeout: proto.Float64(3600),
	}
}

// runner is a Client running against fake masters, its events collected.
type runner struct {
	t      *testing.T
	c      *Client
	events chan *schedpb.Event
	done   chan error
	cancel context.CancelFunc
}

func testConfig(t *testing.T, masters ...string) Config {
	return Config{
		Masters:    masters,
		Framework:  frameworkInfo(),
		MinBackoff: 5 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond,
		Logger:     slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// newMaster starts a fake master closed at the end of the test.
func newMaster(t *testing.T) *schedulertest.Master {
	m := schedulertest.NewMaster()
	t.Cleanup(m.Close)
	return m
}

// start runs a Client with cfg; the test's cleanup cancels it and waits for
// Run to return.
func start(t *testing.T, cfg Config) *runner {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return startClient(t, c, nil)
}

func startClient(t *testing.T, c *Client, h Handler) *runner {
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{t: t, c: c, events: make(chan *schedpb.Event, 1024), done: make(chan error, 1), cancel: cancel}
	go func() {
		r.done <- c.Run(ctx, func(ctx context.Context, ev *schedpb.Event) error {
			r.events <- ev
			if h != nil {
				return h(ctx, ev)
			}
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(waitTimeout):
			t.Error("Run did not return after cancel")
		}
	})
	return r
}

// next returns the next event that is not a HEARTBEAT and checks its type.
func (r *runner) next(typ schedpb.Event_Type) *schedpb.Event {
	r.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		var ev *schedpb.Event
		select {
		case ev = <-r.events:
		case err := <-r.done:
			r.done <- err
			select {
			case ev = <-r.events: // delivered before Run returned
			default:
				r.t.Fatalf("Run returned %v while waiting for %s", err, typ)
			}
		case <-deadline:
			r.t.Fatalf("no %s event within %v", typ, waitTimeout)
		}
		if ev.GetType() == schedpb.Event_HEARTBEAT && typ != schedpb.Event_HEARTBEAT {
			continue
		}
		if ev.GetType() != typ {
			r.t.Fatalf("got %s event, want %s: %v", ev.GetType(), typ, ev)
		}
		return ev
	}
}

// result waits for Run to return.
func (r *runner) result() error {
	r.t.Helper()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(waitTimeout):
		r.t.Fatalf("Run did not return within %v", waitTimeout)
		return nil
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func nextStream(t *testing.T, m *schedulertest.Master) *schedulertest.Stream {
	t.Helper()
	s, err := m.NextStream(ctxT(t))
	if err != nil {
		t.Fatalf("no subscription: %v", err)
	}
	return s
}

func nextCall(t *testing.T, m *schedulertest.Master, typ schedpb.Call_Type) *schedulertest.Call {
	t.Helper()
	c, err := m.NextCall(ctxT(t), typ)
	if err != nil {
		t.Fatalf("no %s call: %v", typ, err)
	}
	return c
}

func offersEvent(ids ...string) *schedpb.Event {
	ev := &schedpb.Event{Type: schedpb.Event_OFFERS.Enum(), Offers: &schedpb.Event_Offers{}}
	for _, id := range ids {
		ev.Offers.Offers = append(ev.Offers.Offers, &mesos.Offer{
			Id:          &mesos.OfferID{Value: proto.String(id)},
			FrameworkId: &mesos.FrameworkID{Value: proto.String("fw")},
			AgentId:     &mesos.AgentID{Value: proto.String("agent-S0")},
			Hostname:    proto.String("localhost"),
			Resources: []*mesos.Resource{{
				Name:   proto.String("cpus"),
				Type:   mesos.Value_SCALAR.Enum(),
				Scalar: &mesos.Value_Scalar{Value: proto.Float64(2)},
			}},
		})
	}
	return ev
}

// Mesos: SUBSCRIBE is a POST carrying Content-Type and Accept and no
// Mesos-Stream-Id; the answer is a 200 RecordIO stream in the negotiated
// encoding, its first event SUBSCRIBED with the assigned framework id; every
// other call carries framework_id and the stream id and is answered 202.
func TestSubscribeStreamAndCalls(t *testing.T) {
	for _, enc := range []codec.Encoding{codec.JSON, codec.Protobuf} {
		t.Run(enc.ContentType(), func(t *testing.T) {
			testutil.CheckGoroutines(t)
			m := newMaster(t)
			cfg := testConfig(t, m.Addr())
			cfg.Encoding = enc
			r := start(t, cfg)

			s := nextStream(t, m)
			if got := s.Header.Get("Content-Type"); got != enc.ContentType() {
				t.Errorf("SUBSCRIBE Content-Type = %q, want %q", got, enc.ContentType())
			}
			if got := s.Header.Get("Accept"); got != enc.ContentType() {
				t.Errorf("SUBSCRIBE Accept = %q, want %q", got, enc.ContentType())
			}
			if s.Encoding != enc {
				t.Errorf("stream encoding = %v, want %v", s.Encoding, enc)
			}
			if s.Subscribe.GetFrameworkId() != nil {
				t.Errorf("a new framework's SUBSCRIBE carries framework_id %v", s.Subscribe.GetFrameworkId())
			}
			if got := s.Subscribe.GetSubscribe().GetFrameworkInfo().GetName(); got != "sdk-test" {
				t.Errorf("framework name = %q", got)
			}

			ev := r.next(schedpb.Event_SUBSCRIBED)
			wantID := m.ID() + "-0000"
			if got := ev.GetSubscribed().GetFrameworkId().GetValue(); got != wantID {
				t.Errorf("SUBSCRIBED framework id = %q, want %q", got, wantID)
			}
			if got := r.c.FrameworkID(); got != wantID {
				t.Errorf("FrameworkID() = %q, want %q", got, wantID)
			}
			if got := r.c.StreamID(); got != s.ID {
				t.Errorf("StreamID() = %q, want %q", got, s.ID)
			}
			if got, want := r.c.Master(), m.URL()+"/api/v1/scheduler"; got != want {
				t.Errorf("Master() = %q, want %q", got, want)
			}

			if err := s.Send(offersEvent("offer-1", "offer-2")); err != nil {
				t.Fatal(err)
			}
			offers := r.next(schedpb.Event_OFFERS).GetOffers().GetOffers()
			if len(offers) != 2 || offers[1].GetId().GetValue() != "offer-2" {
				t.Fatalf("OFFERS decoded as %v", offers)
			}

			if err := r.c.Decline(ctxT(t), []*mesos.OfferID{offers[0].GetId(), offers[1].GetId()}, time.Hour); err != nil {
				t.Fatalf("Decline: %v", err)
			}
			call := nextCall(t, m, schedpb.Call_DECLINE)
			if call.Status != http.StatusAccepted {
				t.Errorf("DECLINE answered %d", call.Status)
			}
			if got := call.Header.Get("Mesos-Stream-Id"); got != s.ID {
				t.Errorf("DECLINE Mesos-Stream-Id = %q, want %q", got, s.ID)
			}
			if call.Encoding != enc {
				t.Errorf("DECLINE sent as %v, want %v", call.Encoding, enc)
			}
			if got := call.Call.GetFrameworkId().GetValue(); got != wantID {
				t.Errorf("DECLINE framework_id = %q, want %q", got, wantID)
			}
			if got := call.Call.GetDecline().GetFilters().GetRefuseSeconds(); got != 3600 {
				t.Errorf("DECLINE refuse_seconds = %v, want 3600", got)
			}
			if n := len(call.Call.GetDecline().GetOfferIds()); n != 2 {
				t.Errorf("DECLINE carries %d offer ids, want 2", n)
			}

			r.cancel()
			if err := r.result(); !errors.Is(err, context.Canceled) {
				t.Errorf("Run after cancel = %v, want context.Canceled", err)
			}
			select {
			case <-s.Done():
			case <-time.After(waitTimeout):
				t.Error("the event stream stayed open after Run returned")
			}
		})
	}
}

// Each helper sends the call Mesos defines for it, with framework_id filled
// in and the caller's message left untouched.
func TestCallHelpers(t *testing.T) {
	testutil.CheckGoroutines(t)
	m := newMaster(t)
	r := start(t, testConfig(t, m.Addr()))
	r.next(schedpb.Event_SUBSCRIBED)
	ctx := ctxT(t)
	fwID := &mesos.FrameworkID{Value: proto.String(r.c.FrameworkID())}

	offerIDs := []*mesos.OfferID{{Value: proto.String("O1")}}
	agent := &mesos.AgentID{Value: proto.String("S1")}
	executor := &mesos.ExecutorID{Value: proto.String("E1")}
	task := &mesos.TaskInfo{
		Name:    proto.String("t"),
		TaskId:  &mesos.TaskID{Value: proto.String("t")},
		AgentId: agent,
		Command: &mesos.CommandInfo{Shell: proto.Bool(true), Value: proto.String("true")},
	}
	execInfo := &mesos.ExecutorInfo{Type: mesos.ExecutorInfo_DEFAULT.Enum(), ExecutorId: executor}
	group := &mesos.TaskGroupInfo{Tasks: []*mesos.TaskInfo{task}}
	reconcileTasks := []*schedpb.Call_Reconcile_Task{{TaskId: task.TaskId}}

	cases := []struct {
		name string
		send func() error
		want *schedpb.Call
	}{
		{"Launch", func() error { return r.c.Launch(ctx, offerIDs, []*mesos.TaskInfo{task}, RefuseFor(time.Minute)) },
			&schedpb.Call{Type: schedpb.Call_ACCEPT.Enum(), Accept: &schedpb.Call_Accept{
				OfferIds:   offerIDs,
				Operations: []*mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH.Enum(), Launch: &mesos.Offer_Operation_Launch{TaskInfos: []*mesos.TaskInfo{task}}}},
				Filters:    &mesos.Filters{RefuseSeconds: proto.Float64(60)},
			}}},
		{"LaunchGroup", func() error { return r.c.LaunchGroup(ctx, offerIDs, execInfo, group, nil) },
			&schedpb.Call{Type: schedpb.Call_ACCEPT.Enum(), Accept: &schedpb.Call_Accept{
				OfferIds: offerIDs,
				Operations: []*mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH_GROUP.Enum(),
					LaunchGroup: &mesos.Offer_Operation_LaunchGroup{Executor: execInfo, TaskGroup: group}}},
			}}},
		{"Decline", func() error { return r.c.Decline(ctx, offerIDs, 0) },
			&schedpb.Call{Type: schedpb.Call_DECLINE.Enum(), Decline: &schedpb.Call_Decline{
				OfferIds: offerIDs, Filters: &mesos.Filters{RefuseSeconds: proto.Float64(0)}}}},
		{"Acknowledge", func() error {
			return r.c.Acknowledge(ctx, &mesos.TaskStatus{TaskId: task.TaskId, State: mesos.TaskState_TASK_RUNNING.Enum(), AgentId: agent, Uuid: []byte("uuid-1")})
		}, &schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedpb.Call_Acknowledge{AgentId: agent, TaskId: task.TaskId, Uuid: []byte("uuid-1")}}},
		{"Kill", func() error { return r.c.Kill(ctx, task.TaskId, agent) },
			&schedpb.Call{Type: schedpb.Call_KILL.Enum(), Kill: &schedpb.Call_Kill{TaskId: task.TaskId, AgentId: agent}}},
		{"Shutdown", func() error { return r.c.Shutdown(ctx, executor, agent) },
			&schedpb.Call{Type: schedpb.Call_SHUTDOWN.Enum(), Shutdown: &schedpb.Call_Shutdown{ExecutorId: executor, AgentId: agent}}},
		{"Reconcile", func() error { return r.c.Reconcile(ctx, reconcileTasks) },
			&schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{Tasks: reconcileTasks}}},
		{"Revive", func() error { return r.c.Revive(ctx, "web") },
			&schedpb.Call{Type: schedpb.Call_REVIVE.Enum(), Revive: &schedpb.Call_Revive{Roles: []string{"web"}}}},
		{"Suppress", func() error { return r.c.Suppress(ctx) },
			&schedpb.Call{Type: schedpb.Call_SUPPRESS.Enum(), Suppress: &schedpb.Call_Suppress{}}},
		{"Message", func() error { return r.c.Message(ctx, agent, executor, []byte("hi")) },
			&schedpb.Call{Type: schedpb.Call_MESSAGE.Enum(), Message: &schedpb.Call_Message{AgentId: agent, ExecutorId: executor, Data: []byte("hi")}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.send(); err != nil {
				t.Fatal(err)
			}
			got := nextCall(t, m, tc.want.GetType())
			want := proto.Clone(tc.want).(*schedpb.Call)
			want.FrameworkId = fwID
			if !proto.Equal(got.Call, want) {
				t.Errorf("sent %v\nwant %v", got.Call, want)
			}
			if got.Status != http.StatusAccepted {
				t.Errorf("answered %d", got.Status)
			}
		})
	}

	// Call leaves the caller's message alone.
	call := &schedpb.Call{Type: schedpb.Call_REVIVE.Enum(), Revive: &schedpb.Call_Revive{}}
	if err := r.c.Call(ctx, call); err != nil {
		t.Fatal(err)
	}
	if call.FrameworkId != nil {
		t.Error("Call modified its argument")
	}

	// Updates without a uuid (from the master) are not acknowledged.
	if err := r.c.Acknowledge(ctx, &mesos.TaskStatus{TaskId: task.TaskId, State: mesos.TaskState_TASK_LOST.Enum(), AgentId: agent}); err != nil {
		t.Fatal(err)
	}
	if err := r.c.Revive(ctx); err != nil { // a marker after the skipped ACKNOWLEDGE
		t.Fatal(err)
	}
	nextCall(t, m, schedpb.Call_REVIVE)
	nextCall(t, m, schedpb.Call_REVIVE)
	acks := 0
	for _, c := range m.Calls() {
		if c.Call.GetType() == schedpb.Call_ACKNOWLEDGE {
			acks++
		}
	}
	if acks != 1 {
		t.Errorf("%d ACKNOWLEDGE calls, want 1 (the update without uuid must not be acknowledged)", acks)
	}
}

// Mesos: a master that is not the leader answers 307 with a protocol-relative
// Location "//leader:port/api/v1/scheduler"; the client subscribes there and
// sends its calls to the leader.
func TestFollowsRedirectToLeader(t *testing.T) {
	testutil.CheckGoroutines(t)
	leader := newMaster(t)
	follower := newMaster(t)
	follower.RedirectTo(leader.Addr())
	r := start(t, testConfig(t, "http://"+follower.Addr()))

	s := nextStream(t, leader)
	r.next(schedpb.Event_SUBSCRIBED)
	if n := follower.Subscribes(); n != 1 {
		t.Errorf("follower saw %d SUBSCRIBEs, want 1", n)
	}
	if got, want := r.c.Master(), leader.URL()+"/api/v1/scheduler"; got != want {
		t.Errorf("Master() = %q, want the leader %q", got, want)
	}
	if err := r.c.Revive(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	call := nextCall(t, leader, schedpb.Call_REVIVE)
	if call.Header.Get("Mesos-Stream-Id") != s.ID {
		t.Errorf("REVIVE stream id %q, want %q", call.Header.Get("Mesos-Stream-Id"), s.ID)
	}
	if n := len(follower.Calls()); n != 0 {
		t.Errorf("follower received %d calls", n)
	}
}

// A call redirected by a non-leader is re-sent to the Location.
func TestCallFollowsRedirect(t *testing.T) {
	testutil.CheckGoroutines(t)
	m := newMaster(t)
	r := start(t, testConfig(t, m.Addr()))
	r.next(schedpb.Event_SUBSCRIBED)

	// Point the client's calls at a non-leader that redirects to m.
	other := newMaster(t)
	other.RedirectTo(m.Addr())
	r.c.mu.Lock()
	r.c.leader, _ = endpointURL(other.Addr())
	r.c.mu.Unlock()
	if err := r.c.Kill(ctxT(t), &mesos.TaskID{Value: proto.String("t1")}, nil); err != nil {
		t.Fatalf("Kill through a redirect: %v", err)
	}
	if got := nextCall(t, m, schedpb.Call_KILL); got.Status != http.StatusAccepted {
		t.Errorf("KILL answered %d", got.Status)
	}
}

// The client tries the configured masters in turn while one is unreachable.
func TestTriesNextMaster(t *testing.T) {
	testutil.CheckGoroutines(t)
	dead := deadAddr(t)
	m := newMaster(t)
	r := start(t, testConfig(t, dead, m.Addr()))
	nextStream(t, m)
	r.next(schedpb.Event_SUBSCRIBED)
}

func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// When the master closes the stream the client re-subscribes as the same
// framework (framework_id in the call and in framework_info) and uses the new
// stream id for its calls.
func TestResubscribesAfterStreamDrop(t *testing.T) {
	testutil.CheckGoroutines(t)
	m := newMaster(t)
	r := start(t, testConfig(t, m.Addr()))
	s1 := nextStream(t, m)
	r.next(schedpb.Event_SUBSCRIBED)
	id := r.c.FrameworkID()

	s1.Drop()
	s2 := nextStream(t, m)
	if got := s2.Subscribe.GetFrameworkId().GetValue(); got != id {
		t.Errorf("re-SUBSCRIBE framework_id = %q, want %q", got, id)
	}
	if got := s2.Subscribe.GetSubscribe().GetFrameworkInfo().GetId().GetValue(); got != id {
		t.Errorf("re-SUBSCRIBE framework_info.id = %q, want %q", got, id)
	}
	if s2.Header.Get("Mesos-Stream-Id") != "" {
		t.Error("re-SUBSCRIBE carries a Mesos-Stream-Id header")
	}
	ev := r.next(schedpb.Event_SUBSCRIBED)
	if got := ev.GetSubscribed().GetFrameworkId().GetValue(); got != id {
		t.Errorf("second SUBSCRIBED framework id = %q, want %q", got, id)
	}
	if s1.ID == s2.ID || r.c.StreamID() != s2.ID {
		t.Errorf("StreamID() = %q; streams %q then %q", r.c.StreamID(), s1.ID, s2.ID)
	}
	if err := r.c.Suppress(ctxT(t)); err != nil {
		t.Fatalf("Suppress on the new stream: %v", err)
	}
	if got := nextCall(t, m, schedpb.Call_SUPPRESS).Header.Get("Mesos-Stream-Id"); got != s2.ID {
		t.Errorf("SUPPRESS stream id %q, want %q", got, s2.ID)
	}
}

// Mesos advises treating ~5 missed heartbeats as a broken connection: with
// a 20ms interval and a silent master the client abandons the stream and
// re-subscribes.
func TestHeartbeatTimeoutReconnects(t *testing.T) {
	testutil.CheckGoroutines(t)
	m := newMaster(t)
	m.SetHeartbeat(20*time.Millisecond, false)
	r := start(t, testConfig(t, m.Addr()))
	s1 := nextStream(t, m)
	r.next(schedpb.Event_SUBSCRIBED)
	subscribed := time.Now()

	select {
	case <-s1.Done():
	case <-time.After(waitTimeout):
		t.Fatal("the client kept a silent stream open")
	}
	if d := time.Since(subscribed); d < 5*20*time.Millisecond*8/10 {
		t.Errorf("stream abandoned after %v, before 5 heartbeat intervals", d)
	}
	s2 := nextStream(t, m)
	if got, want := s2.Subscribe.GetFrameworkId().GetValue(), r.c.FrameworkID(); got != want {
		t.Errorf("re-SUBSCRIBE framework_id = %q, want %q", got, want)
	}
	r.next(schedpb.Event_SUBSCRIBED)
}

// Heartbeats keep a quiet stream alive: many heartbeat intervals pass and
// the client stays on its first subscription.
func TestHeartbeatsKeepStreamAlive(t *testing.T) {
	testutil.CheckGoroutines(t)
	m := newMaster(t)
	m.SetHeartbeat(100*time.Millisecond, true)
	r := start(t, testConfig(t, m.Addr()))
	r.next(schedpb.Event_SUBSCRIBED)
	for range 15 { // 15 intervals, three times the watchdog's limit
		r.next(schedpb.Event_HEARTBEAT)
	}
	if n := m.Subscribes(); n != 1 {
		t.Errorf("%d SUBSCRIBEs, want 1", n)
	}
}

// Mesos answers SUBSCRIBE of a removed framework with an ERROR event; the
// client hands it to the handler and Run ends with it instead of retrying.
func TestErrorEventEndsRun(t *testing.T) {
	testutil.CheckGoroutines(t)
	m := newMaster(t)
	m.OnSubscribe(func(*schedpb.Call) *schedpb.Event {
		return &schedpb.Event{Type: schedpb.Event_ERROR.Enum(), Error: &schedpb.Event_Error{Message: proto.String("Framework has been removed")}}
	})
	r := start(t, testConfig(t, m.Addr()))
	ev := r.next(schedpb.Event_ERROR)
	if ev.GetError().GetMessage() != "Framework has been removed" {
		t.Errorf("ERROR message %q", ev.GetError().GetMessage())
	}
	err := r.result()
	var merr *MasterError
	if !errors.As(err, &merr) || merr.Message != "Framework has been removed" {
		t.Fatalf("Run = %v, want *MasterError(Framework has been removed)", err)
	}
	if n := m.Subscribes(); n != 1 {
		t.Errorf("%d SUBSCRIBEs, want 1", n)
	}
}

// Mesos: a second SUBSCRIBE with the same framework id takes the framework
// over; the old stream gets ERROR "Framework failed over" and is closed.
func TestFailedOverEndsOldRun(t *testing.T) {
	testutil.CheckGoroutines(t)
	m := newMaster(t)
	first := start(t, testConfig(t, m.Addr()))
	first.next(schedpb.Event_SUBSCRIBED)

	cfg := testConfig(t, m.Addr())
	cfg.Framework.Id = &mesos.FrameworkID{Value: proto.String(first.c.FrameworkID())}
	second := start(t, cfg)
	second.next(schedpb.Event_SUBSCRIBED)

	err := first.result()
	var merr *MasterError
	if !errors.As(err, &merr) || merr.Message != "Framework failed over" {
		t.Fatalf("first Run = %v, want *MasterError(Framework failed over)", err)
	}
	if got := second.c.FrameworkID(); got != first.c.FrameworkID() {
		t.Errorf("second client has framework %q, want %q", got, first.c.FrameworkID())
	}
}

// Rejected calls come back as *HTTPError with the status and the master's
// text.
func TestCallErrorsCarryStatusAndBody(t *testing.T) {
	testutil.CheckGoroutines(t)
	m := newMaster(t)
	r := start(t, testConfig(t, m.Addr()))
	r.next(schedpb.Event_SUBSCRIBED)
	m.OnCall(func(c *schedulertest.Call) (int, string) {
		switch c.Call.GetType() {
		case schedpb.Call_KILL:
			return http.StatusForbidden, "Framework is not subscribed"
		case schedpb.Call_REVIVE:
			return http.StatusBadRequest, "Framework cannot be found"
		}
		return 0, ""
	})
	for _, tc := range []struct {
		send func() error
		code int
		body string
	}{
		{func() error { return r.c.Kill(ctxT(t), &mesos.TaskID{Value: proto.String("t")}, nil) }, 403, "Framework is not subscribed"},
		{func() error { return r.c.Revive(ctxT(t)) }, 400, "Framework cannot be found"},
	} {
		err := tc.send()
		var herr *HTTPError
		if !errors.As(err, &herr) {
			t.Fatalf("got %v, want *HTTPError", err)
		}
		if herr.StatusCode != tc.code || herr.Body != tc.body {
			t.Errorf("HTTPError{%d, %q}, want {%d, %q}", herr.StatusCode, herr.Body, tc.code, tc.body)
		}
		if !strings.Contains(err.Error(), tc.body) || !strings.Contains(err.Error(), m.Addr()) {
			t.Errorf("error text %q lacks the body or the master", err)
		}
	}

	// The master's own check: a wrong stream id is a 400.
	m.OnCall(nil)
	r.c.mu.Lock()
	r.c.streamID = "not-the-stream"
	r.c.mu.Unlock()
	err := r.c.Revive(ctxT(t))
	var herr *HTTPError
	if !errors.As(err, &herr) || herr.StatusCode != http.StatusBadRequest || !strings.Contains(herr.Body, "didn't match") {
		t.Errorf("call with a wrong stream id: %v", err)
	}
}

// A 4xx answer to SUBSCRIBE is final: Run returns it without retrying.
func TestSubscribeRejectedEndsRun(t *testing.T) {
	testutil.CheckGoroutines(t)
	m := newMaster(t)
	m.RejectSubscribe(http.StatusBadRequest, "Failed to validate scheduler::Call: Expecting 'subscribe' to be present")
	r := start(t, testConfig(t, m.Addr()))
	err := r.result()
	var herr *HTTPError
	if !errors.As(err, &herr) || herr.StatusCode != 400 || herr.Call != schedpb.Call_SUBSCRIBE ||
		herr.Body != "Failed to validate scheduler::Call: Expecting 'subscribe' to be present" {
		t.Fatalf("Run = %#v, want the 400 as *HTTPError", err)
	}
	if n := m.Subscribes(); n != 1 {
		t.Errorf("%d SUBSCRIBEs, want 1", n)
	}
}

// A 503 ("Master has not finished recovery") is retried with backoff until
// the master accepts.
func TestSubscribeRetriesUnavailable(t *testing.T) {
	testutil.CheckGoroutines(t)
	m := newMaster(t)
	m.RejectSubscribe(http.StatusServiceUnavailable, "Master has not finished recovery")
	r := start(t, testConfig(t, m.Addr()))
	if err := m.WaitSubscribes(ctxT(t), 3); err != nil {
		t.Fatalf("the client stopped retrying: %v", err)
	}
	m.RejectSubscribe(0, "")
	nextStream(t, m)
	r.next(schedpb.Event_SUBSCRIBED)
}

// After TEARDOWN the master closes the stream and Run returns nil; the
// client does not subscribe again.
func TestTeardownEndsRun(t *testing.T) {
	testutil.CheckGoroutines(t)
	m := newMaster(t)
	r := start(t, testConfig(t, m.Addr()))
	r.next(schedpb.Event_SUBSCRIBED)
	if err := r.c.Teardown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := r.result(); err != nil {
		t.Fatalf("Run after Teardown = %v, want nil", err)
	}
	if got := nextCall(t, m, schedpb.Call_TEARDOWN); got.Status != http.StatusAccepted {
		t.Errorf("TEARDOWN answered %d", got.Status)
	}
	if err := r.c.Revive(ctxT(t)); !errors.Is(err, ErrNotSubscribed) {
		t.Errorf("call after Teardown = %v, want ErrNotSubscribed", err)
	}
	if err := r.c.Run(ctxT(t), nil); err == nil {
		t.Error("Run after Teardown succeeded")
	}
	if n := m.Subscribes(); n != 1 {
		t.Errorf("%d SUBSCRIBEs, want 1", n)
	}
}

// Teardown from inside the handler ends Run too.
func TestTeardownFromHandler(t *testing.T) {
	testutil.CheckGoroutines(t)
	m := newMaster(t)
	c, err := New(testConfig(t, m.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	r := startClient(t, c, func(ctx context.Context, ev *schedpb.Event) error {
		if ev.GetType() == schedpb.Event_SUBSCRIBED {
			return c.Teardown(ctx)
		}
		return nil
	})
	if err := r.result(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
}

// A handler's error ends Run with that error.
func TestHandlerErrorEndsRun(t *testing.T) {
	testutil.CheckGoroutines(t)
	m := newMaster(t)
	c, err := New(testConfig(t, m.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	r := startClient(t, c, func(ctx context.Context, ev *schedpb.Event) error {
		if ev.GetType() == schedpb.Event_OFFERS {
			return boom
		}
		return nil
	})
	r.next(schedpb.Event_SUBSCRIBED)
	if err := m.Send("", offersEvent("o1")); err != nil {
		t.Fatal(err)
	}
	if err := r.result(); !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
}

func TestCallWithoutSubscription(t *testing.T) {
	m := newMaster(t)
	c, err := New(testConfig(t, m.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Revive(context.Background()); !errors.Is(err, ErrNotSubscribed) {
		t.Errorf("Revive before Run = %v, want ErrNotSubscribed", err)
	}
	if err := c.Call(context.Background(), &schedpb.Call{Type: schedpb.Call_SUBSCRIBE.Enum()}); err == nil {
		t.Error("Call(SUBSCRIBE) succeeded")
	}
}

func TestNewValidates(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no masters":   {Framework: frameworkInfo()},
		"bad master":   {Masters: []string{"zk://host:2181/mesos"}, Framework: frameworkInfo()},
		"no framework": {Masters: []string{"localhost:5050"}},
		"no user":      {Masters: []string{"localhost:5050"}, Framework: &mesos.FrameworkInfo{Name: proto.String("x")}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestEndpointURL(t *testing.T) {
	for in, want := range map[string]string{
		"localhost:5050":                 "http://localhost:5050/api/v1/scheduler",
		"http://10.0.0.1:5050":           "http://10.0.0.1:5050/api/v1/scheduler",
		"https://m.example:5050/":        "https://m.example:5050/api/v1/scheduler",
		"http://m:5050/master/state":     "http://m:5050/api/v1/scheduler",
		" //m:5050 ":                     "http://m:5050/api/v1/scheduler",
		"[::1]:5050":                     "http://[::1]:5050/api/v1/scheduler",
		"http://m:5050/api/v1/scheduler": "http://m:5050/api/v1/scheduler",
	} {
		u, err := endpointURL(in)
		if err != nil || u.String() != want {
			t.Errorf("endpointURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, in := range []string{"", "zk://a:2181/mesos", "http://"} {
		if u, err := endpointURL(in); err == nil {
			t.Errorf("endpointURL(%q) = %v, want an error", in, u)
		}
	}
}

func TestResolveRedirect(t *testing.T) {
	from, _ := endpointURL("m1:5050")
	for loc, want := range map[string]string{
		"//m2:5050/api/v1/scheduler":      "http://m2:5050/api/v1/scheduler",
		"//m2:5050":                       "http://m2:5050/api/v1/scheduler",
		"m2:5050":                         "http://m2:5050/api/v1/scheduler",
		"http://m2:5050/api/v1/scheduler": "http://m2:5050/api/v1/scheduler",
		"/api/v1/scheduler":               "http://m1:5050/api/v1/scheduler",
	} {
		u, err := resolveRedirect(from, loc)
		if err != nil || u.String() != want {
			t.Errorf("resolveRedirect(%q) = %v, %v; want %s", loc, u, err, want)
		}
	}
	if _, err := resolveRedirect(from, ""); err == nil {
		t.Error("empty Location accepted")
	}
}

// Backoff doubles from min to max, each delay jittered within [d/2, d].
func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: 15 * time.Second}
	ceiling := 100 * time.Millisecond
	for i := range 20 {
		d := b.next()
		if d < ceiling/2 || d > ceiling {
			t.Fatalf("attempt %d: delay %v outside [%v, %v]", i, d, ceiling/2, ceiling)
		}
		ceiling = min(2*ceiling, 15*time.Second)
	}
	b.reset()
	if d := b.next(); d > 100*time.Millisecond {
		t.Errorf("after reset: %v", d)
	}
	// Jitter: many draws at the cap are not all equal.
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[b.next()] = true
	}
	if len(seen) < 2 {
		t.Error("delays are not jittered")
	}
}

// resetAddr is a master whose every connection is reset at once.
func resetAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return l.Addr().String()
}

// A master that refuses the connection, resets it or answers 503 ("No
// leader elected") is left for the next one at once: one round over the
// masters costs at most one backoff step (here a minute, which the test
// would not wait).
func TestFailingMastersCostOneBackoffStep(t *testing.T) {
	testutil.CheckGoroutines(t)
	noLeader := newMaster(t)
	noLeader.RejectSubscribe(http.StatusServiceUnavailable, "No leader elected")
	leader := newMaster(t)
	cfg := testConfig(t, deadAddr(t), resetAddr(t), noLeader.Addr(), leader.Addr())
	cfg.MinBackoff, cfg.MaxBackoff = time.Minute, time.Minute
	r := start(t, cfg)
	nextStream(t, leader)
	r.next(schedpb.Event_SUBSCRIBED)
	if n := noLeader.Subscribes(); n != 1 {
		t.Errorf("the master without a leader saw %d SUBSCRIBEs, want 1", n)
	}
}

// Mesos's high availability as a framework sees it: three masters, the
// leader dies, another is elected. The client finds the new leader through
// the list (and the followers' redirects) and re-subscribes there with the
// same framework id; its calls go to the new leader.
func TestFindsNewLeaderAfterFailover(t *testing.T) {
	testutil.CheckGoroutines(t)
	m1, m2, m3 := newMaster(t), newMaster(t), newMaster(t)
	m1.RedirectTo(m3.Addr())
	m2.RedirectTo(m3.Addr())
	r := start(t, testConfig(t, m1.Addr(), m2.Addr(), m3.Addr()))
	s := nextStream(t, m3)
	id := r.next(schedpb.Event_SUBSCRIBED).GetSubscribed().GetFrameworkId().GetValue()
	if s.FrameworkID != id || id == "" {
		t.Fatalf("framework id %q, stream's %q", id, s.FrameworkID)
	}

	// The leader dies; m2 is elected, and m1 learns it.
	m3.Close()
	m2.RedirectTo("")
	m1.RedirectTo(m2.Addr())
	s2 := nextStream(t, m2)
	if got := s2.Subscribe.GetFrameworkId().GetValue(); got != id {
		t.Errorf("SUBSCRIBE at the new leader as %q, want %q", got, id)
	}
	if got := s2.Subscribe.GetSubscribe().GetFrameworkInfo().GetId().GetValue(); got != id {
		t.Errorf("framework_info.id at the new leader = %q, want %q", got, id)
	}
	if got := r.next(schedpb.Event_SUBSCRIBED).GetSubscribed().GetFrameworkId().GetValue(); got != id {
		t.Errorf("SUBSCRIBED from the new leader with %q, want %q", got, id)
	}
	if got, want := r.c.Master(), m2.URL()+"/api/v1/scheduler"; got != want {
		t.Errorf("Master() = %q, want %q", got, want)
	}
	if err := r.c.Revive(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := nextCall(t, m2, schedpb.Call_REVIVE).Header.Get("Mesos-Stream-Id"); got != s2.ID {
		t.Errorf("REVIVE at the new leader on stream %q, want %q", got, s2.ID)
	}

	// And again: m2 dies, m1 takes over.
	m2.Close()
	m1.RedirectTo("")
	if got := nextStream(t, m1).Subscribe.GetFrameworkId().GetValue(); got != id {
		t.Errorf("SUBSCRIBE at the third leader as %q, want %q", got, id)
	}
}
