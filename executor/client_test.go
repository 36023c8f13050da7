package executor_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	execpb "github.com/gomesos/gomesos/api/v1/executor"
	"github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/executor"
	"github.com/gomesos/gomesos/executor/internal/fakeagent"
	"github.com/gomesos/gomesos/internal/testutil"
)

const wait = 10 * time.Second

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func status(id string, state mesos.TaskState) *mesos.TaskStatus {
	return &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String(id)}, State: state.Enum()}
}

func task(id string) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:    proto.String(id),
		TaskId:  &mesos.TaskID{Value: proto.String(id)},
		AgentId: &mesos.AgentID{Value: proto.String(fakeagent.AgentID)},
		Command: &mesos.CommandInfo{Value: proto.String("true")},
	}
}

// next returns the next event, skipping none.
func next(t *testing.T, events <-chan *execpb.Event) *execpb.Event {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("event channel closed")
		}
		return ev
	case <-time.After(wait):
		t.Fatal("no event within the deadline")
		return nil
	}
}

func nextOfType(t *testing.T, events <-chan *execpb.Event, typ execpb.Event_Type) *execpb.Event {
	t.Helper()
	for {
		if ev := next(t, events); ev.GetType() == typ {
			return ev
		}
	}
}

// closed waits for the event channel to close, discarding events.
func closed(t *testing.T, events <-chan *execpb.Event) {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("event channel not closed within the deadline")
		}
	}
}

// Subscribe, updates, acknowledgements and messages, in both encodings:
// Update fills uuid, source, timestamp and executor_id and keeps the update
// until it is acknowledged; Send reports the agent's refusal with its body.
func TestClientUpdatesAndAcknowledgements(t *testing.T) {
	for _, enc := range []codec.Encoding{codec.JSON, codec.Protobuf} {
		t.Run(enc.ContentType(), func(t *testing.T) {
			testutil.CheckGoroutines(t)
			a := fakeagent.New(t)
			a.SetAutoAck(false)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := executor.New(a.Config(t.TempDir()), executor.WithEncoding(enc), executor.WithLogger(quiet))
			events := c.Subscribe(ctx)

			sub := next(t, events)
			if sub.GetType() != execpb.Event_SUBSCRIBED || sub.GetSubscribed().GetAgentInfo().GetHostname() != "localhost" {
				t.Fatalf("first event %v, want SUBSCRIBED", sub)
			}
			if c.Subscribed().GetContainerId().GetValue() != fakeagent.ContainerID {
				t.Errorf("Subscribed() = %v", c.Subscribed())
			}

			in := status("t1", mesos.TaskState_TASK_RUNNING)
			in.Message = proto.String("up")
			if err := c.Update(ctx, in); err != nil {
				t.Fatal(err)
			}
			if in.Uuid != nil || in.Source != nil {
				t.Errorf("Update changed the caller's status: %v", in)
			}
			got := a.Updates()
			if len(got) != 1 {
				t.Fatalf("agent has %d updates, want 1", len(got))
			}
			st := got[0]
			if len(st.GetUuid()) != 16 || st.GetUuid()[6]>>4 != 4 || st.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR ||
				st.GetExecutorId().GetValue() != fakeagent.ExecutorID || st.GetMessage() != "up" ||
				time.Since(time.Unix(0, int64(st.GetTimestamp()*1e9))).Abs() > time.Minute {
				t.Errorf("update not filled in as expected: %v", st)
			}
			if _, pending := c.Unacknowledged(); len(pending) != 1 {
				t.Fatalf("%d unacknowledged updates, want 1", len(pending))
			}

			if err := a.AckAll(); err != nil {
				t.Fatal(err)
			}
			ack := nextOfType(t, events, execpb.Event_ACKNOWLEDGED)
			if !bytes.Equal(ack.GetAcknowledged().GetUuid(), st.GetUuid()) {
				t.Errorf("acknowledged %x, want %x", ack.GetAcknowledged().GetUuid(), st.GetUuid())
			}
			if _, pending := c.Unacknowledged(); len(pending) != 0 {
				t.Errorf("%d unacknowledged updates after the ACKNOWLEDGED event, want 0", len(pending))
			}

			if err := c.Message(ctx, []byte("hello")); err != nil {
				t.Errorf("Message: %v", err)
			}
			a.Reject(execpb.Call_MESSAGE, http.StatusBadRequest, "Failed to validate executor::Call: bad message")
			err := c.Send(ctx, &execpb.Call{Type: execpb.Call_MESSAGE.Enum(), Message: &execpb.Call_Message{Data: []byte("x")}})
			var herr *executor.HTTPError
			if !errors.As(err, &herr) || herr.StatusCode != http.StatusBadRequest ||
				!strings.Contains(err.Error(), "bad message") {
				t.Errorf("Send to a refusing agent: %v, want a 400 error with the body", err)
			}
			if err := c.Update(ctx, status("t1", mesos.TaskState_TASK_STAGING)); err == nil {
				t.Error("Update accepted TASK_STAGING")
			}

			for _, r := range a.Requests() {
				if r.ContentType != enc.ContentType() || r.Accept != enc.ContentType() {
					t.Errorf("%s sent as %q accepting %q", r.Type, r.ContentType, r.Accept)
				}
			}
			if p := a.Problems(); len(p) > 0 {
				t.Errorf("agent saw problems: %v", p)
			}

			cancel()
			closed(t, events)
			if !errors.Is(c.Err(), context.Canceled) {
				t.Errorf("Err() = %v, want context.Canceled", c.Err())
			}
		})
	}
}

// When the agent drops the stream, a checkpointing executor re-subscribes
// and sends its unacknowledged tasks and updates in the SUBSCRIBE call; an
// update made while disconnected is delivered too, in order.
func TestClientResubscribesWithUnacknowledged(t *testing.T) {
	testutil.CheckGoroutines(t)
	a := fakeagent.New(t)
	a.SetAutoAck(false)
	cfg := a.Config(t.TempDir())
	cfg.Checkpoint = true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := executor.New(cfg, executor.WithEncoding(codec.Protobuf), executor.WithLogger(quiet))
	events := c.Subscribe(ctx)
	nextOfType(t, events, execpb.Event_SUBSCRIBED)

	if err := a.Send(&execpb.Event{Type: execpb.Event_LAUNCH.Enum(), Launch: &execpb.Event_Launch{Task: task("t1")}}); err != nil {
		t.Fatal(err)
	}
	nextOfType(t, events, execpb.Event_LAUNCH)
	for _, s := range []mesos.TaskState{mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING} {
		if err := c.Update(ctx, status("t1", s)); err != nil {
			t.Fatal(err)
		}
	}
	sent := a.Updates()

	a.Drop()
	if err := c.Update(ctx, status("t1", mesos.TaskState_TASK_FINISHED)); err != nil {
		t.Fatal(err)
	}
	nextOfType(t, events, execpb.Event_SUBSCRIBED)
	subs := a.Subscribes()
	if len(subs) != 2 {
		t.Fatalf("%d subscriptions, want 2", len(subs))
	}
	re := subs[1].GetSubscribe()
	if ts := re.GetUnacknowledgedTasks(); len(ts) != 1 || ts[0].GetTaskId().GetValue() != "t1" {
		t.Errorf("re-subscription carried tasks %v, want [t1]", ts)
	}
	ups := re.GetUnacknowledgedUpdates()
	if len(ups) < 2 {
		t.Fatalf("re-subscription carried %d updates, want at least 2", len(ups))
	}
	for i := range sent {
		if !bytes.Equal(ups[i].GetStatus().GetUuid(), sent[i].GetUuid()) {
			t.Errorf("re-sent update %d is %v, want %v", i, ups[i].GetStatus(), sent[i])
		}
	}
	a.Wait(t, wait, "TASK_FINISHED to arrive", func() bool { return len(a.States("t1")) == 3 })
	if got := a.States("t1"); got[2] != mesos.TaskState_TASK_FINISHED {
		t.Errorf("states %v, want STARTING, RUNNING, FINISHED", got)
	}

	if err := a.AckAll(); err != nil {
		t.Fatal(err)
	}
	for {
		tasks, updates := c.Unacknowledged()
		if len(tasks) == 0 && len(updates) == 0 {
			break
		}
		nextOfType(t, events, execpb.Event_ACKNOWLEDGED)
	}
	cancel()
	closed(t, events)
}

// A non-checkpointing executor gives up as soon as the stream breaks: the
// handler gets a SHUTDOWN and Run reports ErrAgentLost.
func TestClientWithoutCheckpointGivesUp(t *testing.T) {
	testutil.CheckGoroutines(t)
	a := fakeagent.New(t)
	c := executor.New(a.Config(t.TempDir()), executor.WithLogger(quiet))
	events := c.Subscribe(context.Background())
	nextOfType(t, events, execpb.Event_SUBSCRIBED)
	a.Drop()
	if ev := next(t, events); ev.GetType() != execpb.Event_SHUTDOWN {
		t.Fatalf("event %v, want SHUTDOWN", ev)
	}
	closed(t, events)
	if !errors.Is(c.Err(), executor.ErrAgentLost) {
		t.Errorf("Err() = %v, want ErrAgentLost", c.Err())
	}
	if len(a.Subscribes()) != 1 {
		t.Errorf("%d subscriptions, want 1", len(a.Subscribes()))
	}
}

// A checkpointing executor whose agent stays away gives up after the
// recovery timeout.
func TestClientRecoveryTimeout(t *testing.T) {
	testutil.CheckGoroutines(t)
	a := fakeagent.New(t)
	cfg := a.Config(t.TempDir())
	cfg.Checkpoint = true
	cfg.RecoveryTimeout = 300 * time.Millisecond
	cfg.SubscriptionBackoffMax = 20 * time.Millisecond
	c := executor.New(cfg, executor.WithLogger(quiet))
	events := c.Subscribe(context.Background())
	nextOfType(t, events, execpb.Event_SUBSCRIBED)

	lost := time.Now()
	a.SetDown(true)
	nextOfType(t, events, execpb.Event_SHUTDOWN)
	if elapsed := time.Since(lost); elapsed < cfg.RecoveryTimeout {
		t.Errorf("gave up after %v, before the %v recovery timeout", elapsed, cfg.RecoveryTimeout)
	}
	closed(t, events)
	if !errors.Is(c.Err(), executor.ErrAgentLost) {
		t.Errorf("Err() = %v, want ErrAgentLost", c.Err())
	}
}

// An agent that refuses the subscription for good (not 503/404) is given up
// on at once, with its answer in the error.
func TestClientSubscriptionRefused(t *testing.T) {
	testutil.CheckGoroutines(t)
	a := fakeagent.New(t)
	a.Reject(execpb.Call_SUBSCRIBE, http.StatusBadRequest, "Executor cannot be found")
	c := executor.New(a.Config(t.TempDir()), executor.WithLogger(quiet))
	var got []execpb.Event_Type
	err := c.Run(context.Background(), executor.HandlerFunc(func(_ context.Context, ev *execpb.Event) error {
		got = append(got, ev.GetType())
		return nil
	}))
	var herr *executor.HTTPError
	if !errors.Is(err, executor.ErrAgentLost) || !errors.As(err, &herr) || herr.StatusCode != http.StatusBadRequest ||
		!strings.Contains(err.Error(), "Executor cannot be found") {
		t.Errorf("Run = %v, want ErrAgentLost with the 400 and its body", err)
	}
	if len(got) != 1 || got[0] != execpb.Event_SHUTDOWN {
		t.Errorf("events %v, want [SHUTDOWN]", got)
	}
}

// Before the first subscription a recovering agent (503) is retried.
func TestClientRetriesRecoveringAgent(t *testing.T) {
	testutil.CheckGoroutines(t)
	a := fakeagent.New(t)
	a.Reject(execpb.Call_SUBSCRIBE, http.StatusServiceUnavailable, "Agent has not finished recovery")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := executor.New(a.Config(t.TempDir()), executor.WithLogger(quiet))
	events := c.Subscribe(ctx)
	nextOfType(t, events, execpb.Event_SUBSCRIBED)
	if n := len(a.Subscribes()); n != 1 {
		t.Errorf("%d accepted subscriptions, want 1", n)
	}
	cancel()
	closed(t, events)
}

// A handler's error ends Run with that error; HEARTBEAT calls go out while
// subscribed; Run does not run twice at once.
func TestClientHandlerErrorAndHeartbeats(t *testing.T) {
	testutil.CheckGoroutines(t)
	a := fakeagent.New(t)
	c := executor.New(a.Config(t.TempDir()), executor.WithLogger(quiet), executor.WithHeartbeatInterval(5*time.Millisecond))
	stop := errors.New("stop")
	inside := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- c.Run(context.Background(), executor.HandlerFunc(func(ctx context.Context, ev *execpb.Event) error {
			if ev.GetType() == execpb.Event_SUBSCRIBED {
				return nil
			}
			close(inside)
			return stop
		}))
	}()
	a.Wait(t, wait, "heartbeats", func() bool {
		n := 0
		for _, r := range a.Requests() {
			if r.Type == execpb.Call_HEARTBEAT {
				n++
			}
		}
		return n >= 2
	})
	if err := c.Run(context.Background(), executor.HandlerFunc(func(context.Context, *execpb.Event) error { return nil })); !errors.Is(err, executor.ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
	if err := a.Send(&execpb.Event{Type: execpb.Event_MESSAGE.Enum(), Message: &execpb.Event_Message{Data: []byte("hi")}}); err != nil {
		t.Fatal(err)
	}
	<-inside
	select {
	case err := <-done:
		if err != stop {
			t.Errorf("Run = %v, want the handler's error", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return after the handler failed")
	}
}
