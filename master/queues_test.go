package master_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master"
	"github.com/gomesos/gomesos/master/core"
)

// Small queue bounds, so that a consumer falls behind after a few MiB.
const (
	testQueueRecords = 200
	testQueueBytes   = 1 << 20
	floodChunk       = 256 << 10 // bytes of data per flooding message
	floodMax         = 400       // flooding messages before giving up
)

// logBuffer collects a master's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// boundedQueues gives a master small stream queues and keeps its log.
func boundedQueues(log *logBuffer) func(*master.Config) {
	return func(c *master.Config) {
		c.StreamQueueRecords = testQueueRecords
		c.StreamQueueBytes = testQueueBytes
		c.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
}

// checkBounded fails if a queue ever held more than the bounds allow (a
// record bigger than the byte bound may wait alone).
func checkBounded(t *testing.T, who string, st master.QueueStats) {
	t.Helper()
	if st.Records > testQueueRecords || st.PeakRecords > testQueueRecords {
		t.Fatalf("%s's queue holds %d records (at most %d so far), beyond the bound of %d", who, st.Records, st.PeakRecords, testQueueRecords)
	}
	if limit := testQueueBytes + 2*floodChunk; st.Bytes > limit || st.PeakBytes > limit {
		t.Fatalf("%s's queue holds %d bytes (at most %d so far), beyond the bound of %d", who, st.Bytes, st.PeakBytes, testQueueBytes)
	}
}

// rawStream is a SUBSCRIBE whose event stream the test reads itself, or
// not at all.
type rawStream struct {
	resp        *http.Response
	frameworkID string
}

func openRawStream(t *testing.T, m *testMaster, fi *mesos.FrameworkInfo) *rawStream {
	t.Helper()
	body, err := codec.Marshal(codec.JSON, subscribeCall(fi))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, m.URL()+"/api/v1/scheduler", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", codec.MediaJSON)
	req.Header.Set("Accept", codec.MediaJSON)
	resp, err := m.client.Do(req)
	if err != nil {
		t.Fatalf("SUBSCRIBE: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SUBSCRIBE: status %d", resp.StatusCode)
	}
	// SUBSCRIBED comes first; then the test decides how to read.
	rec, err := codec.NewRecordReader(resp.Body, 0).ReadRecord()
	if err != nil {
		t.Fatalf("reading SUBSCRIBED: %v", err)
	}
	ev := &schedpb.Event{}
	if err := codec.Unmarshal(codec.JSON, rec, ev); err != nil || ev.GetType() != schedpb.Event_SUBSCRIBED {
		t.Fatalf("first event %q: %v, want SUBSCRIBED", rec, err)
	}
	return &rawStream{resp: resp, frameworkID: ev.GetSubscribed().GetFrameworkId().GetValue()}
}

// readSlowly reads the stream a KiB at a time, 20 times a second, until
// hurry is closed, then at full speed until it ends; done is closed then.
func (r *rawStream) readSlowly() (hurry, done chan struct{}) {
	hurry, done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1024)
		for {
			if _, err := r.resp.Body.Read(buf); err != nil {
				return
			}
			select {
			case <-hurry:
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return hurry, done
}

// waitEnded waits until the master has ended the stream: reading what is
// left gives EOF or a broken connection, not more and more events.
func (r *rawStream) waitEnded(t *testing.T) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, r.resp.Body)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "connection reset") {
			t.Logf("the stream ended with %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("the master did not end the event stream of %s", r.frameworkID)
	}
}

// executorMessage is a message of floodChunk bytes from an executor on the
// agent to the framework: the master relays it as a MESSAGE event.
func executorMessage(frameworkID string) *agentproto.AgentMessage {
	return &agentproto.AgentMessage{
		Type: agentproto.AgentMessage_EXECUTOR_TO_FRAMEWORK.Enum(),
		ExecutorToFramework: &agentproto.AgentMessage_ExecutorToFramework{
			FrameworkId: &mesos.FrameworkID{Value: proto.String(frameworkID)},
			ExecutorId:  &mesos.ExecutorID{Value: proto.String("chatty")},
			Data:        bytes.Repeat([]byte("x"), floodChunk),
		},
	}
}

// The master's queues are bounded, with one policy for a consumer that
// falls behind: a framework that does not read its event stream (or reads
// it too slowly) while the master produces events for it (offers,
// heartbeats and here large executor messages) is disconnected once its
// queue reaches its bound, with a log line naming it and the bound. The
// core hears of it as of any stream that went away: the framework is
// disconnected and its offers are recovered (and, with no failover timeout,
// it is removed), so another framework is offered the whole agent, and a
// framework with a failover timeout can subscribe again. What the master
// holds for the stream never grows past the bound, and is freed.
func TestFrameworkThatFallsBehindIsDisconnected(t *testing.T) {
	for _, tc := range []struct {
		name            string
		failoverTimeout float64
		slowReader      bool
	}{
		{"never reads, failover timeout", 3600, false},
		{"reads slowly, no failover timeout", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &logBuffer{}
			m := startMaster(t, boundedQueues(log))
			a := startAgent(t, m, "agent1", agentResources)
			fi := frameworkInfo("laggard")
			fi.FailoverTimeout = proto.Float64(tc.failoverTimeout)
			lag := openRawStream(t, m, fi)
			var hurry, readerDone chan struct{}
			if tc.slowReader {
				hurry, readerDone = lag.readSlowly()
			}
			waitFor(t, "the laggard to hold the agent's offers", func() bool {
				fw := findByID(objects(m.getJSON("/master/frameworks")["frameworks"]), lag.frameworkID)
				return fw != nil && len(objects(fw["offers"])) > 0
			})
			other := subscribe(t, m, frameworkInfo("keeps-up"), codec.JSON)

			flooded := false
			var prev master.QueueStats
			for i := range floodMax {
				a.send(executorMessage(lag.frameworkID))
				st, ok := m.FrameworkQueue(lag.frameworkID)
				if !ok {
					t.Logf("disconnected after %d messages; the queue held at most %d records, %d bytes", i+1, prev.PeakRecords, prev.PeakBytes)
					flooded = true
					break
				}
				prev = st
				checkBounded(t, "the laggard", st)
			}
			if !flooded {
				t.Fatalf("the laggard was not disconnected after %d messages of %d bytes", floodMax, floodChunk)
			}
			if readerDone == nil {
				lag.waitEnded(t)
			} else {
				// What the kernel buffered is read at once; then the
				// stream ends.
				close(hurry)
				select {
				case <-readerDone:
				case <-time.After(waitTimeout):
					t.Fatalf("the master did not end the event stream of %s", lag.frameworkID)
				}
			}

			line := ""
			for _, l := range strings.Split(log.String(), "\n") {
				if strings.Contains(l, "fell behind") {
					line = l
				}
			}
			for _, want := range []string{"framework=" + lag.frameworkID, "max_bytes=1048576", "max_records=200"} {
				if !strings.Contains(line, want) {
					t.Errorf("log line %q lacks %q", line, want)
				}
			}

			// The agent's resources are offered to the framework that
			// keeps up.
			if got := offeredScalar("cpus", other.offersOf(a.ID, 1)...); got != 2 {
				t.Errorf("the other framework was offered %v cpus, want the agent's 2", got)
			}
			if _, held := m.FrameworkQueue(lag.frameworkID); held {
				t.Errorf("the master still holds a queue for the laggard")
			}
			frameworks := m.getJSON("/master/frameworks")
			if tc.failoverTimeout == 0 {
				if fw := findByID(objects(frameworks["completed_frameworks"]), lag.frameworkID); fw == nil {
					t.Fatalf("the laggard, without a failover timeout, is not among the completed frameworks: %v", frameworks)
				}
				return
			}
			fw := findByID(objects(frameworks["frameworks"]), lag.frameworkID)
			if fw == nil || fw["connected"] != false || fw["active"] != false || len(objects(fw["offers"])) != 0 {
				t.Fatalf("the laggard after its disconnection: %v, want it disconnected, inactive and without offers", fw)
			}
			// It subscribes again, as after any broken connection.
			fi.Id = &mesos.FrameworkID{Value: proto.String(lag.frameworkID)}
			back := subscribe(t, m, fi, codec.JSON)
			if back.FrameworkID != lag.frameworkID {
				t.Errorf("resubscribed as %s, want %s", back.FrameworkID, lag.frameworkID)
			}
			back.next(schedpb.Event_HEARTBEAT)
		})
	}
}

// The same policy holds for an agent's connection: an agent that does not
// read what the master sends it is disconnected once its queue is full,
// with a log line naming it and the bound. The core treats it as an agent
// whose connection broke: it is deactivated and its offers rescinded, a
// checkpointing framework's task stays. What the agent did not get is not
// lost: it re-registers with what it runs, and the status update the old
// connection refused (409) reaches the framework once it is resent.
func TestAgentThatFallsBehindIsDisconnected(t *testing.T) {
	log := &logBuffer{}
	// The stalled agent does not answer pings; health checks must not
	// remove it first.
	m := startMaster(t, boundedQueues(log), func(c *master.Config) { c.AgentPingTimeout = time.Minute })
	a := startAgent(t, m, "agent1", agentResources)
	fi := frameworkInfo("checkpointing")
	fi.Checkpoint = proto.Bool(true)
	s := subscribe(t, m, fi, codec.JSON)
	runTask(t, s, a, "t1", "cpus:1;mem:128")
	a.disconnect()
	waitFor(t, "the agent to be deactivated", func() bool {
		slave := findByID(objects(m.getJSON("/master/slaves")["slaves"]), a.ID)
		return slave != nil && slave["active"] == false
	})
	drainOffers(s)

	// It comes back on a connection it reads only the REGISTERED of.
	running := agentTask(s.FrameworkID, "t1", a.ID, mesos.TaskState_TASK_RUNNING, "cpus:1;mem:128")
	lag := stalledAgent(t, m, a, running)
	offer := s.offersOf(a.ID, 1)[0]

	flooded := false
	for range floodMax {
		s.call(&schedpb.Call{Type: schedpb.Call_MESSAGE.Enum(), Message: &schedpb.Call_Message{
			AgentId:    &mesos.AgentID{Value: proto.String(a.ID)},
			ExecutorId: &mesos.ExecutorID{Value: proto.String("chatty")},
			Data:       bytes.Repeat([]byte("x"), floodChunk),
		}})
		st, ok := m.AgentQueue(a.ID)
		if !ok {
			flooded = true
			break
		}
		checkBounded(t, "the agent", st)
	}
	if !flooded {
		t.Fatalf("the agent was not disconnected after %d messages of %d bytes", floodMax, floodChunk)
	}
	if !strings.Contains(log.String(), "agent="+a.ID) || !strings.Contains(log.String(), "fell behind") {
		t.Errorf("no log line says agent %s fell behind:\n%s", a.ID, log.String())
	}
	// (Rescinds of offers made before the first disconnection may come
	// first.)
	for rescinded := ""; rescinded != offer.GetId().GetValue(); {
		rescinded = s.next(schedpb.Event_RESCIND).GetRescind().GetOfferId().GetValue()
	}
	slave := findByID(objects(m.getJSON("/master/slaves")["slaves"]), a.ID)
	if slave == nil || slave["active"] != false {
		t.Errorf("the agent after falling behind: %v, want it listed and inactive", slave)
	}
	if task := tasksWithID(frameworkState(t, m, s.FrameworkID)["tasks"], "t1"); len(task) != 1 || task[0]["state"] != "TASK_RUNNING" {
		t.Errorf("t1 after the agent fell behind: %v, want it TASK_RUNNING", task)
	}

	// An update on the dropped connection is refused; the agent resends
	// it after re-registering.
	update := statusUpdateMsg(s.FrameworkID, a.ID, "t1", mesos.TaskState_TASK_FINISHED)
	if status, err := lag.trySend(update); err != nil || status != http.StatusConflict {
		t.Errorf("update on the dropped connection: %d %v, want 409", status, err)
	}
	back := a.reregister(running)
	back.send(update)
	st := s.nextUpdate()
	if st.GetTaskId().GetValue() != "t1" || st.GetState() != mesos.TaskState_TASK_FINISHED {
		t.Errorf("UPDATE = %v, want t1 TASK_FINISHED", st)
	}
	s.acknowledge(st)
	back.next(agentproto.MasterMessage_ACKNOWLEDGE)
}

// stalledAgent re-registers agent a with the given tasks on a connection
// of which it reads only REGISTERED. Its messages go out on that
// connection.
func stalledAgent(t *testing.T, m *testMaster, a *fakeAgent, tasks ...*mesos.Task) *fakeAgent {
	t.Helper()
	info := proto.Clone(a.Info).(*mesos.AgentInfo)
	info.Id = &mesos.AgentID{Value: proto.String(a.ID)}
	body, err := proto.Marshal(&agentproto.AgentMessage{
		Type:     agentproto.AgentMessage_REREGISTER.Enum(),
		Register: &agentproto.AgentMessage_Register{AgentInfo: info, Version: proto.String(core.Version), Tasks: tasks},
	})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, m.URL()+"/internal/agent/subscribe", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", codec.MediaProtobuf)
	resp, err := m.client.Do(req)
	if err != nil {
		t.Fatalf("agent subscribe: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("agent subscribe: status %d", resp.StatusCode)
	}
	rec, err := codec.NewRecordReader(resp.Body, 0).ReadRecord()
	msg := &agentproto.MasterMessage{}
	if err != nil || proto.Unmarshal(rec, msg) != nil || msg.GetType() != agentproto.MasterMessage_REGISTERED {
		t.Fatalf("first message on the stalled connection: %v %v, want REGISTERED", msg, err)
	}
	return &fakeAgent{t: t, m: m, ID: a.ID, Info: a.Info, Conn: resp.Header.Get(master.HeaderStreamID)}
}

// statusUpdateMsg is an agent's status update for a task, with a uuid.
func statusUpdateMsg(frameworkID, agentID, taskID string, state mesos.TaskState) *agentproto.AgentMessage {
	return &agentproto.AgentMessage{
		Type: agentproto.AgentMessage_STATUS_UPDATE.Enum(),
		StatusUpdate: &agentproto.StatusUpdate{
			LatestState: state.Enum(),
			FrameworkId: &mesos.FrameworkID{Value: proto.String(frameworkID)},
			Status: &mesos.TaskStatus{
				TaskId:    &mesos.TaskID{Value: proto.String(taskID)},
				State:     state.Enum(),
				Source:    mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
				AgentId:   &mesos.AgentID{Value: proto.String(agentID)},
				Timestamp: proto.Float64(float64(time.Now().UnixNano()) / 1e9),
				Uuid:      newUUID(),
			},
		},
	}
}
