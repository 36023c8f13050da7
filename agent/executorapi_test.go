package agent

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
)

type apiResp struct {
	code int
	body string
}

func postCall(t *testing.T, a *testAgent, path, ct, accept string, body []byte) apiResp {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+a.Addr()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return apiResp{resp.StatusCode, string(b)}
}

func callBytes(t *testing.T, enc codec.Encoding, c *execpb.Call) []byte {
	t.Helper()
	b, err := codec.Marshal(enc, c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The executor API answers with Mesos's status codes and messages, in
// Mesos's order of checks, and a refused call changes nothing. Then a
// hand-driven executor subscribes, gets its task, sends updates and
// messages, and is told to kill and to shut down.
func TestExecutorAPI(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, func(c *Config) { c.ExecutorShutdownGracePeriod = 300 * time.Millisecond })
	agentID := a.registered(t)
	fm.send(runTask(customTask("t1", agentID, "hand", "exec sleep 1000")))
	eventually(t, "the executor to be launched", func() bool {
		var st stateJSONForTest
		getJSON(t, a, "/state", &st)
		return len(st.Frameworks) == 1 && len(st.Frameworks[0].Executors) == 1
	})

	const pb, js = codec.MediaProtobuf, codec.MediaJSON
	uuid := bytes.Repeat([]byte{7}, 16)
	subscribe := execCall("fw-1", "hand", execpb.Call_SUBSCRIBE)
	subscribe.Subscribe = &execpb.Call_Subscribe{}
	noSubscribe := execCall("fw-1", "hand", execpb.Call_SUBSCRIBE)
	noUUID := update("fw-1", "hand", "t1", mesos.TaskState_TASK_RUNNING, nil)
	staging := update("fw-1", "hand", "t1", mesos.TaskState_TASK_STAGING, uuid)
	badSource := update("fw-1", "hand", "t1", mesos.TaskState_TASK_RUNNING, uuid)
	badSource.Update.Status.Source = mesos.TaskStatus_SOURCE_MASTER.Enum()
	otherFw := execCall("fw-2", "hand", execpb.Call_SUBSCRIBE)
	otherFw.Subscribe = &execpb.Call_Subscribe{}
	otherEx := execCall("fw-1", "other", execpb.Call_SUBSCRIBE)
	otherEx.Subscribe = &execpb.Call_Subscribe{}
	early := update("fw-1", "hand", "t1", mesos.TaskState_TASK_RUNNING, uuid)

	for _, prefix := range []string{"", "/slave(1)"} {
		path := prefix + "/api/v1/executor"
		cases := []struct {
			name     string
			method   string
			ct       string
			accept   string
			body     []byte
			code     int
			contains string
		}{
			{"GET", http.MethodGet, "", "", nil, 405, ""},
			{"no content type", "", "", "", callBytes(t, codec.Protobuf, subscribe), 400, "Expecting 'Content-Type' to be present"},
			{"unknown media type", "", "text/plain", "", []byte("x"), 415, "Expecting 'Content-Type' of application/json or application/x-protobuf"},
			{"bad protobuf", "", pb, "", []byte{0xff, 0xff, 0xff}, 400, "Failed to parse body into Call protobuf"},
			{"bad JSON", "", js, "", []byte("{nope"), 400, "Failed to parse body into JSON"},
			{"JSON not a Call", "", js, "", []byte(`{"type":"SUBSCRIBE"}`), 400, "Failed to convert JSON into Call protobuf"},
			{"SUBSCRIBE without subscribe", "", js, "", callBytes(t, codec.JSON, noSubscribe), 400, "Failed to validate Executor::Call: Expecting 'subscribe' to be present"},
			{"UPDATE without uuid", "", pb, "", callBytes(t, codec.Protobuf, noUUID), 400, "Expecting 'uuid' to be present"},
			{"UPDATE in TASK_STAGING", "", pb, "", callBytes(t, codec.Protobuf, staging), 400, "Received TASK_STAGING from executor hand of framework fw-1 which is not allowed"},
			{"UPDATE from the wrong source", "", pb, "", callBytes(t, codec.Protobuf, badSource), 400, "expecting 'SOURCE_EXECUTOR'"},
			{"unacceptable Accept", "", pb, "text/html", callBytes(t, codec.Protobuf, subscribe), 406, "Expecting 'Accept' to allow"},
			{"unknown framework", "", pb, "", callBytes(t, codec.Protobuf, otherFw), 400, "Framework cannot be found"},
			{"unknown executor", "", js, "", callBytes(t, codec.JSON, otherEx), 400, "Executor cannot be found"},
			{"UPDATE before SUBSCRIBE", "", pb, "", callBytes(t, codec.Protobuf, early), 403, "Executor is not subscribed"},
			{"HEARTBEAT", "", js, "", callBytes(t, codec.JSON, execCall("x", "y", execpb.Call_HEARTBEAT)), 202, ""},
		}
		for _, tc := range cases {
			var r apiResp
			if tc.method == http.MethodGet {
				code, body := getBody(t, a, path)
				r = apiResp{code, body}
			} else {
				r = postCall(t, a, path, tc.ct, tc.accept, tc.body)
			}
			if r.code != tc.code || !strings.Contains(r.body, tc.contains) {
				t.Errorf("%s %s: %d %q, want %d containing %q", path, tc.name, r.code, r.body, tc.code, tc.contains)
			}
		}
	}

	// Nothing changed.
	var st stateJSONForTest
	getJSON(t, a, "/state", &st)
	if ex := st.Frameworks[0].Executors[0]; len(ex.QueuedTasks) != 1 || len(ex.Tasks) != 0 {
		t.Fatalf("refused calls changed the executor: %+v", ex)
	}
	var metrics map[string]float64
	getJSON(t, a, "/metrics/snapshot", &metrics)
	if metrics["slave/valid_status_updates"] != 0 || metrics["slave/invalid_status_updates"] != 0 || metrics["slave/executors_registering"] != 1 {
		t.Fatalf("refused calls changed the metrics: %v", metrics)
	}
	if n := len(fm.messages(agentproto.AgentMessage_STATUS_UPDATE)); n != 0 {
		t.Fatalf("refused calls reached the master: %d updates", n)
	}

	// SUBSCRIBE (JSON) opens the event stream: SUBSCRIBED, then the queued task.
	events := subscribeStream(t, a, subscribe)
	sub := events.next(t, execpb.Event_SUBSCRIBED).GetSubscribed()
	if sub.GetAgentInfo().GetId().GetValue() != agentID || sub.GetFrameworkInfo().GetId().GetValue() != "fw-1" ||
		sub.GetExecutorInfo().GetExecutorId().GetValue() != "hand" || sub.GetContainerId().GetValue() == "" {
		t.Errorf("SUBSCRIBED = %v", sub)
	}
	launch := events.next(t, execpb.Event_LAUNCH).GetLaunch()
	if launch.GetTask().GetTaskId().GetValue() != "t1" {
		t.Errorf("LAUNCH = %v", launch)
	}

	// UPDATE (protobuf) is acknowledged to the executor and forwarded.
	running := update("fw-1", "hand", "t1", mesos.TaskState_TASK_RUNNING, uuid)
	if r := postCall(t, a, "/api/v1/executor", pb, "", callBytes(t, codec.Protobuf, running)); r.code != 202 {
		t.Fatalf("UPDATE: %d %s", r.code, r.body)
	}
	ack := events.next(t, execpb.Event_ACKNOWLEDGED).GetAcknowledged()
	if ack.GetTaskId().GetValue() != "t1" || !bytes.Equal(ack.GetUuid(), uuid) {
		t.Errorf("ACKNOWLEDGED = %v", ack)
	}
	fwd := fm.waitUpdate("t1", mesos.TaskState_TASK_RUNNING)
	if !bytes.Equal(fwd.GetStatus().GetUuid(), uuid) || fwd.GetStatus().GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("forwarded = %v", fwd)
	}
	// A retransmission is acknowledged again and changes nothing.
	if r := postCall(t, a, "/api/v1/executor", js, "", callBytes(t, codec.JSON, running)); r.code != 202 {
		t.Fatalf("UPDATE again: %d %s", r.code, r.body)
	}
	events.next(t, execpb.Event_ACKNOWLEDGED)
	getJSON(t, a, "/metrics/snapshot", &metrics)
	if metrics["slave/valid_status_updates"] != 1 {
		t.Errorf("valid_status_updates = %v after a retransmission", metrics["slave/valid_status_updates"])
	}
	fm.ack(fwd)

	// Messages both ways.
	msg := execCall("fw-1", "hand", execpb.Call_MESSAGE)
	msg.Message = &execpb.Call_Message{Data: []byte("to the framework")}
	if r := postCall(t, a, "/api/v1/executor", pb, "", callBytes(t, codec.Protobuf, msg)); r.code != 202 {
		t.Fatalf("MESSAGE: %d %s", r.code, r.body)
	}
	fm.waitFor("EXECUTOR_TO_FRAMEWORK", func() bool {
		ms := fm.messagesLocked(agentproto.AgentMessage_EXECUTOR_TO_FRAMEWORK)
		return len(ms) == 1 && string(ms[0].GetExecutorToFramework().GetData()) == "to the framework"
	})
	fm.send(&agentproto.MasterMessage{
		Type: agentproto.MasterMessage_FRAMEWORK_TO_EXECUTOR.Enum(),
		FrameworkToExecutor: &agentproto.MasterMessage_FrameworkToExecutor{
			FrameworkId: testFramework.GetId(),
			ExecutorId:  &mesos.ExecutorID{Value: proto.String("hand")},
			Data:        []byte("to the executor"),
		},
	})
	if m := events.next(t, execpb.Event_MESSAGE).GetMessage(); string(m.GetData()) != "to the executor" {
		t.Errorf("MESSAGE = %v", m)
	}

	// KILL_TASK becomes a KILL event with the kill policy.
	fm.send(killTask("t1", time.Second))
	kill := events.next(t, execpb.Event_KILL).GetKill()
	if kill.GetTaskId().GetValue() != "t1" || kill.GetKillPolicy().GetGracePeriod().GetNanoseconds() != int64(time.Second) {
		t.Errorf("KILL = %v", kill)
	}

	// SHUTDOWN_EXECUTOR: SHUTDOWN, then (this executor ignores it) the
	// container is destroyed after the grace period and the task is killed.
	fm.send(&agentproto.MasterMessage{
		Type: agentproto.MasterMessage_SHUTDOWN_EXECUTOR.Enum(),
		ShutdownExecutor: &agentproto.MasterMessage_ShutdownExecutor{
			FrameworkId: testFramework.GetId(),
			ExecutorId:  &mesos.ExecutorID{Value: proto.String("hand")},
		},
	})
	events.next(t, execpb.Event_SHUTDOWN)
	killed := fm.waitUpdate("t1", mesos.TaskState_TASK_KILLED).GetStatus()
	if killed.GetSource() != mesos.TaskStatus_SOURCE_AGENT || killed.GetReason() != mesos.TaskStatus_REASON_EXECUTOR_TERMINATED {
		t.Errorf("TASK_KILLED = %v", killed)
	}
	fm.waitFor("EXECUTOR_EXITED", func() bool { return len(fm.messagesLocked(agentproto.AgentMessage_EXECUTOR_EXITED)) == 1 })
	events.waitClosed(t)
}

// eventStream reads an executor's SUBSCRIBE response.
type eventStream struct {
	events chan *execpb.Event
	done   chan struct{}
	body   io.Closer
}

func subscribeStream(t *testing.T, a *testAgent, call *execpb.Call) *eventStream {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+a.Addr()+"/api/v1/executor", bytes.NewReader(callBytes(t, codec.JSON, call)))
	req.Header.Set("Content-Type", codec.MediaJSON)
	req.Header.Set("Accept", codec.MediaJSON)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != codec.MediaJSON {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("SUBSCRIBE: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	s := &eventStream{events: make(chan *execpb.Event, 100), done: make(chan struct{}), body: resp.Body}
	go func() {
		defer close(s.done)
		rr := codec.NewRecordReader(resp.Body, 0)
		for {
			rec, err := rr.ReadRecord()
			if err != nil {
				return
			}
			ev := &execpb.Event{}
			if err := codec.Unmarshal(codec.JSON, rec, ev); err != nil {
				return
			}
			s.events <- ev
		}
	}()
	t.Cleanup(func() {
		resp.Body.Close()
		<-s.done
	})
	return s
}

func (s *eventStream) next(t *testing.T, typ execpb.Event_Type) *execpb.Event {
	t.Helper()
	select {
	case ev := <-s.events:
		if ev.GetType() != typ {
			t.Fatalf("event %s, want %s: %v", ev.GetType(), typ, ev)
		}
		return ev
	case <-s.done:
		t.Fatalf("stream ended waiting for %s", typ)
	case <-time.After(patience):
		t.Fatalf("timed out waiting for %s", typ)
	}
	return nil
}

func (s *eventStream) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(patience):
		t.Fatal("the event stream was not closed")
	}
}
