package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/agent/core"
	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
)

// gate is an isolator whose Prepare (which runs inside every launch, before
// the fork) waits until the test opens it: a launch as slow as the test
// likes.
type gate struct {
	open    chan struct{}
	once    sync.Once
	waiting chan string
}

func (g *gate) Name() string { return "gate" }
func (g *gate) Prepare(spec *containerizer.Spec, _ *exec.Cmd) error {
	g.waiting <- spec.ID
	<-g.open
	return nil
}
func (g *gate) Isolate(string, int) error              { return nil }
func (g *gate) Update(string, []*mesos.Resource) error { return nil }
func (g *gate) Cleanup(string) error                   { return nil }

func newGate() *gate { return &gate{open: make(chan struct{}), waiting: make(chan string, 16)} }

// release lets every launch through, once.
func (g *gate) release() {
	g.once.Do(func() { close(g.open) })
}

func pingMessage() *agentproto.MasterMessage {
	return &agentproto.MasterMessage{Type: agentproto.MasterMessage_PING.Enum()}
}

// While a launch is stuck (here in an isolator; in life in fork and exec,
// or a slow disk), the agent's loop goes on: it answers the master's pings,
// executors' calls and /state, and takes more tasks.
func TestLoopGoesOnWhileALaunchIsStuck(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	g := newGate()
	a := startAgent(t, fm, func(c *Config) { c.Isolators = []containerizer.Isolator{g} })
	agentID := a.registered(t)
	defer g.release()

	fm.send(runTask(commandTask("stuck", agentID, "exec sleep 1000")))
	select {
	case <-g.waiting:
	case <-time.After(patience):
		t.Fatal("the launch never started")
	}
	fm.send(pingMessage())
	fm.waitFor("a PONG while the launch is stuck", func() bool {
		return len(fm.messagesLocked(agentproto.AgentMessage_PONG)) > 0
	})
	var st stateJSONForTest
	getJSON(t, a, "/state", &st)
	if len(st.Frameworks) != 1 || len(st.Frameworks[0].Executors) != 1 {
		t.Fatalf("/state while the launch is stuck: %+v", st)
	}
	msg := execCall("no-such-framework", "x", execpb.Call_MESSAGE)
	msg.Message = &execpb.Call_Message{Data: []byte("hello")}
	if r := postCall(t, a, "/api/v1/executor", codec.MediaJSON, "", callBytes(t, codec.JSON, msg)); r.code != http.StatusBadRequest {
		t.Errorf("executor call while the launch is stuck: %d %s", r.code, r.body)
	}
	// Another task's launch queues behind no one's lock: it too reaches
	// the containerizer.
	fm.send(runTask(commandTask("second", agentID, "exec sleep 1000")))
	select {
	case <-g.waiting:
	case <-time.After(patience):
		t.Fatal("the second launch waited for the first")
	}

	g.release()
	waitRunning(t, fm, "stuck")
	waitRunning(t, fm, "second")
}

// A message the master fails (5xx) is sent again until the master takes
// it: EXECUTOR_EXITED, which nothing else would resend, reaches the master
// once, and the agent stays on its stream.
func TestMessagesAreRetriedUntilTheMasterTakesThem(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	fm.failing, fm.failType = 3, agentproto.AgentMessage_EXECUTOR_EXITED
	a := startAgent(t, fm, nil)
	agentID := a.registered(t)
	fm.send(runTask(commandTask("quick", agentID, "exit 0")))
	fm.ackUntilTerminal("quick")
	fm.waitFor("EXECUTOR_EXITED", func() bool {
		return len(fm.messagesLocked(agentproto.AgentMessage_EXECUTOR_EXITED)) > 0
	})
	fm.mu.Lock()
	failing, subs := fm.failing, len(fm.subs)
	fm.mu.Unlock()
	if failing != 0 || subs != 1 {
		t.Errorf("failures left %d, subscriptions %d; want 0 and 1", failing, subs)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(fm.messages(agentproto.AgentMessage_EXECUTOR_EXITED)); n != 1 {
		t.Errorf("EXECUTOR_EXITED arrived %d times", n)
	}
}

// The send queue: bounded, a PONG never waits in it, a retransmitted status
// update replaces its waiting copy, and the stream's end empties it.
func TestSendQueue(t *testing.T) {
	l := newMasterLink("127.0.0.1:1", []string{"127.0.0.1:1"}, slog.New(slog.DiscardHandler), func(core.Input) bool { return true }, func(core.Input) bool { return true })
	l.close() // no sender drains the queue
	l.mu.Lock()
	l.streamGen, l.live = 7, "s"
	l.mu.Unlock()
	send := func(m *agentproto.AgentMessage) (uint64, bool) {
		return l.send(core.Send{Msg: m, AgentID: "a", StreamID: "s"})
	}
	update := func(task string, uuid byte, latest mesos.TaskState) *agentproto.AgentMessage {
		return &agentproto.AgentMessage{Type: agentproto.AgentMessage_STATUS_UPDATE.Enum(), StatusUpdate: &agentproto.StatusUpdate{
			FrameworkId: &mesos.FrameworkID{Value: proto.String("f")},
			Status:      &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String(task)}, Uuid: []byte{uuid}},
			LatestState: latest.Enum(),
		}}
	}
	exited := func(ex string) *agentproto.AgentMessage {
		return &agentproto.AgentMessage{Type: agentproto.AgentMessage_EXECUTOR_EXITED.Enum(), ExecutorExited: &agentproto.AgentMessage_ExecutorExited{
			FrameworkId: &mesos.FrameworkID{Value: proto.String("f")}, ExecutorId: &mesos.ExecutorID{Value: proto.String(ex)},
		}}
	}
	if _, ok := send(&agentproto.AgentMessage{Type: agentproto.AgentMessage_PONG.Enum()}); !ok || l.queued != 0 {
		t.Fatalf("PONG: ok %v, queued %d", ok, l.queued)
	}
	send(update("t", 1, mesos.TaskState_TASK_RUNNING))
	send(update("t", 1, mesos.TaskState_TASK_FINISHED))
	if l.queued != 1 {
		t.Fatalf("a retransmission was queued again: %d queued", l.queued)
	}
	lane := &l.lanes[laneOf(update("t", 1, 0))]
	if got := lane.queue[0].send.Msg.GetStatusUpdate().GetLatestState(); got != mesos.TaskState_TASK_FINISHED {
		t.Errorf("the waiting copy has latest state %s, want the newer TASK_FINISHED", got)
	}
	if laneOf(exited("t")) != laneOf(update("t", 9, 0)) {
		t.Errorf("a command executor's exit and its task's updates take different lanes")
	}
	for i := 1; l.queued < sendQueueCapacity; i++ {
		if _, ok := send(exited(fmt.Sprint(i))); !ok {
			t.Fatalf("refused with %d queued", l.queued)
		}
	}
	if gen, ok := send(exited("one too many")); ok || gen != 7 {
		t.Fatalf("a full queue took a message (ok %v, gen %d)", ok, gen)
	}
	l.disconnect(7)
	if l.queued != 0 || len(l.byKey) != 0 || slices.ContainsFunc(l.lanes[:], func(s sendLane) bool { return len(s.queue) > 0 }) {
		t.Errorf("the stream's end left %d messages", l.queued)
	}
}

// A reader gets a snapshot that covers every change made before it asked;
// the loop builds one only for a reader, and no more often than its cost
// allows.
func TestPublisher(t *testing.T) {
	var p publisher
	p.init()
	c := core.New(core.Config{AgentInfo: &mesos.AgentInfo{Hostname: proto.String("h")}, Flags: map[string]string{}}, time.Now(), 1, nil)
	if due := p.publish(c); !due.IsZero() || p.current.Load() != nil {
		t.Fatalf("published with no reader waiting")
	}
	stopped := make(chan struct{})
	got := make(chan *core.Snapshot)
	go func() {
		s, _ := p.latest(t.Context(), stopped)
		got <- s
	}()
	select {
	case <-p.poke:
	case <-time.After(patience):
		t.Fatal("the reader did not wake the loop")
	}
	p.publish(c)
	first := <-got
	if first == nil || p.wanted.Load() {
		t.Fatalf("snapshot %v, still wanted %v", first, p.wanted.Load())
	}
	// No change since: the published one is served without the loop.
	if s, ok := p.latest(t.Context(), stopped); !ok || s != first {
		t.Errorf("an unchanged state was not served from the publication")
	}
	// A change and a reader: the next build waits out the gap.
	p.changed()
	p.lastBuild, p.gap = time.Now(), time.Hour
	go func() {
		s, _ := p.latest(t.Context(), stopped)
		got <- s
	}()
	<-p.poke
	if due := p.publish(c); due.IsZero() || time.Until(due) < 59*time.Minute {
		t.Errorf("built within the gap (due %v)", due)
	}
	p.gap = 0
	p.publish(c)
	if s := <-got; s == first {
		t.Errorf("the reader got a snapshot from before the change")
	}
	close(stopped)
	p.changed()
	if _, ok := p.latest(t.Context(), stopped); ok {
		t.Errorf("a reader waited on a stopped agent")
	}
}

// fakeContainers records container calls; Launch waits while hold is set
// for that container.
type fakeContainers struct {
	mu    sync.Mutex
	calls []string
	hold  map[string]chan struct{}
}

func (f *fakeContainers) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}
func (f *fakeContainers) Launch(s containerizer.Spec) (int, error) {
	f.mu.Lock()
	h := f.hold[s.ID]
	f.mu.Unlock()
	if h != nil {
		<-h
	}
	f.record("launch " + s.ID)
	return 1, nil
}
func (f *fakeContainers) Signal(string, syscall.Signal) error { return nil }
func (f *fakeContainers) Destroy(id string) error {
	f.record("destroy " + id)
	return errors.New("nothing to destroy")
}
func (f *fakeContainers) Update(id string, rs []*mesos.Resource) error {
	f.record(fmt.Sprintf("update %s %d", id, len(rs)))
	return nil
}
func (f *fakeContainers) DestroyAll()                                         {}
func (f *fakeContainers) Recover([]string) ([]containerizer.Recovered, error) { return nil, nil }
func (f *fakeContainers) Usage(string) (*mesos.ResourceStatistics, error) {
	return nil, containerizer.ErrUnknownContainer
}
func (f *fakeContainers) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// One container's operations run in order, a waiting update gives way to a
// newer one, and a slow launch holds up no other container.
func TestContainerOps(t *testing.T) {
	f := &fakeContainers{hold: map[string]chan struct{}{"slow": make(chan struct{})}}
	launched := make(chan core.ContainerLaunched, 8)
	w := newContainerOps(f, nil, t.TempDir(), slog.New(slog.DiscardHandler), func(in core.Input) bool {
		launched <- in.(core.ContainerLaunched)
		return true
	})
	w.start()
	defer w.close()
	w.launch(core.LaunchSpec{ID: "slow"})
	w.update("slow", make([]*mesos.Resource, 1), nil)
	w.update("slow", make([]*mesos.Resource, 2), nil)
	w.destroy("slow")
	w.launch(core.LaunchSpec{ID: "quick"})
	if l := <-launched; l.ContainerID != "quick" {
		t.Fatalf("first launched: %+v", l)
	}
	close(f.hold["slow"])
	if l := <-launched; l.ContainerID != "slow" || l.Pid != 1 {
		t.Fatalf("then: %+v", l)
	}
	want := []string{"launch slow", "update slow 2", "destroy slow"}
	deadline := time.Now().Add(patience)
	for {
		var got []string
		for _, c := range f.log() {
			if c != "launch quick" {
				got = append(got, c)
			}
		}
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls for slow: %v, want %v", got, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// The agent's log: records keep their order through the queue; a full
// queue drops records and says how many once the writer catches up;
// before start and after stop, records are written at once.
func TestAsyncLog(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	block := make(chan struct{})
	h := recordHandler(func(r slog.Record) {
		if r.Message == "block" {
			<-block
		}
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, r.Message)
	})
	var q asyncLog
	log := slog.New(q.handler(h)).With("k", "v")
	log.Info("before")
	q.start()
	log.Info("block")
	for i := range logQueueCapacity + 10 {
		log.Info(fmt.Sprint(i))
	}
	close(block)
	log.Info("after the writer caught up")
	q.stop()
	log.Info("after stop")
	mu.Lock()
	defer mu.Unlock()
	if len(lines) < 3 || lines[0] != "before" || lines[1] != "block" || lines[len(lines)-1] != "after stop" {
		t.Fatalf("lines %v...%v", lines[:min(4, len(lines))], lines[max(0, len(lines)-3):])
	}
	// Every record after "block" was written in order, or counted.
	written, dropped, last := 0, 0, -1
	for _, l := range lines[2 : len(lines)-1] {
		var n int
		switch {
		case l == "after the writer caught up":
			written++
		case strings.HasPrefix(l, "dropped "):
			fmt.Sscanf(l, "dropped %d log records", &n)
			dropped += n
		default:
			n, _ = strconv.Atoi(l)
			if n <= last {
				t.Fatalf("%d after %d", n, last)
			}
			last = n
			written++
		}
	}
	if dropped < 10 || written+dropped != logQueueCapacity+11 {
		t.Errorf("%d written and %d dropped of %d", written, dropped, logQueueCapacity+11)
	}
}

type recordHandler func(slog.Record)

func (h recordHandler) Enabled(context.Context, slog.Level) bool      { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error { h(r); return nil }
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h recordHandler) WithGroup(string) slog.Handler                 { return h }
