package core

import (
	"bytes"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// These tests drive the core alone, with a simulated clock: no sockets, no
// processes, no goroutines.

type coreHarness struct {
	t   testing.TB
	c   *core
	now time.Time
}

func newCoreHarness(t testing.TB) *coreHarness {
	start := time.Unix(1_700_000_000, 0)
	cfg := Config{
		WorkDir:             "/work",
		ExecutorBinary:      "/bin/gomesos",
		Endpoint:            "10.0.0.1:5051",
		PID:                 "slave(1)@10.0.0.1:5051",
		BaseEnv:             []string{"PATH=/bin", "GOMESOS_EXECUTOR=leaked"},
		RegistrationTimeout: time.Minute,
		ShutdownGrace:       5 * time.Second,
		BackoffFactor:       time.Second,
		RetryMin:            10 * time.Second,
		RetryMax:            10 * time.Minute,
		AgentInfo:           &mesos.AgentInfo{Hostname: proto.String("h"), Port: proto.Int32(5051)},
		Flags:               map[string]string{},
	}
	return &coreHarness{t: t, c: newCore(cfg, start, 42, slog.New(slog.NewTextHandler(io.Discard, nil))), now: start}
}

func (h *coreHarness) step(in Input) []Output { return h.c.step(h.now, in) }

// advance moves the clock to the next deadline (at most to limit) and ticks.
func (h *coreHarness) advanceTo(t time.Time) []Output {
	h.now = t
	return h.step(Tick{})
}

func only[T Output](outs []Output) []T {
	var r []T
	for _, o := range outs {
		if x, ok := o.(T); ok {
			r = append(r, x)
		}
	}
	return r
}

func (h *coreHarness) register() {
	h.t.Helper()
	conn := only[Connect](h.step(Start{}))
	if len(conn) != 1 || conn[0].Msg.GetType() != agentproto.AgentMessage_REGISTER {
		h.t.Fatalf("start: %v", conn)
	}
	h.step(MasterStream{Gen: conn[0].Gen, StreamID: "s1"})
	h.step(MasterMessage{Gen: conn[0].Gen, Msg: registered("A-S1", 3600)})
	if h.c.link != linkRegistered || h.c.agentID != "A-S1" {
		h.t.Fatalf("not registered: %s %q", h.c.link, h.c.agentID)
	}
}

func registered(id string, pingTimeout float64) *agentproto.MasterMessage {
	return &agentproto.MasterMessage{
		Type: agentproto.MasterMessage_REGISTERED.Enum(),
		Registered: &agentproto.MasterMessage_Registered{
			AgentId:            &mesos.AgentID{Value: proto.String(id)},
			MasterInfo:         &mesos.MasterInfo{Id: proto.String("m"), Ip: proto.Uint32(1), Port: proto.Uint32(5050)},
			PingTimeoutSeconds: proto.Float64(pingTimeout),
		},
	}
}

func (h *coreHarness) master(m *agentproto.MasterMessage) []Output {
	return h.step(MasterMessage{Gen: h.c.gen, Msg: m})
}

func (h *coreHarness) call(c *execpb.Call, conn int64) CallResult {
	h.t.Helper()
	reply := make(chan CallResult, 1)
	for _, o := range h.step(ExecutorCall{Call: c, Conn: conn, Reply: reply}) {
		if r, ok := o.(Answer); ok {
			return r.Result
		}
	}
	h.t.Fatal("no answer to the call")
	return CallResult{}
}

func sentUpdates(outs []Output) []mesos.TaskState {
	var r []mesos.TaskState
	for _, s := range only[Send](outs) {
		if s.Msg.GetType() == agentproto.AgentMessage_STATUS_UPDATE {
			r = append(r, s.Msg.GetStatusUpdate().GetStatus().GetState())
		}
	}
	return r
}

// A whole task life on simulated time: launch, subscribe, updates resent
// on the backoff schedule until acknowledged, in order.
func TestCoreTaskLifeOnSimulatedTime(t *testing.T) {
	h := newCoreHarness(t)
	h.register()

	outs := h.master(runTask(commandTask("t", "A-S1", "true")))
	launches := only[Launch](outs)
	if len(launches) != 1 {
		t.Fatalf("outputs %v", outs)
	}
	spec := launches[0].Spec
	if spec.Path != "/bin/gomesos" || !strings.HasPrefix(spec.Directory, "/work/slaves/A-S1/frameworks/fw-1/executors/t/runs/") {
		t.Errorf("spec = %+v", spec)
	}
	for _, want := range []string{"GOMESOS_EXECUTOR=command", "MESOS_FRAMEWORK_ID=fw-1", "MESOS_EXECUTOR_ID=t",
		"MESOS_AGENT_ENDPOINT=10.0.0.1:5051", "MESOS_SLAVE_ID=A-S1", "MESOS_SLAVE_PID=slave(1)@10.0.0.1:5051",
		"MESOS_CHECKPOINT=0", "MESOS_HTTP_COMMAND_EXECUTOR=1", "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD=5secs",
		"MESOS_DIRECTORY=" + spec.Directory, "MESOS_SANDBOX=" + spec.Directory} {
		if !slices.Contains(spec.Env, want) {
			t.Errorf("env lacks %s", want)
		}
	}
	if slices.Contains(spec.Env, "GOMESOS_EXECUTOR=leaked") {
		t.Error("the agent's own GOMESOS_EXECUTOR leaked into the executor")
	}
	h.step(ContainerLaunched{ContainerID: spec.ID, Pid: 1234})

	sub := execCall("fw-1", "t", execpb.Call_SUBSCRIBE)
	sub.Subscribe = &execpb.Call_Subscribe{}
	if r := h.call(sub, 7); r.Status != CallOK {
		t.Fatalf("subscribe: %+v", r)
	}

	uuids := [][]byte{bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 16), bytes.Repeat([]byte{3}, 16)}
	send := func(state mesos.TaskState, uuid []byte) []Output {
		reply := make(chan CallResult, 1)
		return h.step(ExecutorCall{Call: update("fw-1", "t", "t", state, uuid), Reply: reply})
	}
	if got := sentUpdates(send(mesos.TaskState_TASK_STARTING, uuids[0])); !slices.Equal(got, []mesos.TaskState{mesos.TaskState_TASK_STARTING}) {
		t.Fatalf("STARTING forwarded as %v", got)
	}
	if got := sentUpdates(send(mesos.TaskState_TASK_RUNNING, uuids[1])); len(got) != 0 {
		t.Fatalf("RUNNING sent while STARTING in flight: %v", got)
	}

	// Resent at +10s, +30s (then 20s later), +70s (40s later)...
	start := h.now
	for _, at := range []time.Duration{10 * time.Second, 30 * time.Second, 70 * time.Second, 150 * time.Second} {
		if d := h.c.nextDeadline(); !d.Equal(start.Add(at)) {
			t.Fatalf("next deadline %v after start, want %v", d.Sub(start), at)
		}
		if got := sentUpdates(h.advanceTo(start.Add(at))); !slices.Equal(got, []mesos.TaskState{mesos.TaskState_TASK_STARTING}) {
			t.Fatalf("at +%v resent %v", at, got)
		}
	}

	ack := func(uuid []byte) []Output {
		return h.master(&agentproto.MasterMessage{
			Type: agentproto.MasterMessage_ACKNOWLEDGE.Enum(),
			Acknowledge: &agentproto.MasterMessage_Acknowledge{
				FrameworkId: testFramework.GetId(), TaskId: &mesos.TaskID{Value: proto.String("t")}, Uuid: uuid,
			},
		})
	}
	// A stale acknowledgement changes nothing.
	if got := sentUpdates(ack(uuids[1])); len(got) != 0 {
		t.Fatalf("wrong ack released %v", got)
	}
	outs = ack(uuids[0])
	sends := only[Send](outs)
	if len(sends) != 1 || sends[0].Msg.GetStatusUpdate().GetStatus().GetState() != mesos.TaskState_TASK_RUNNING ||
		sends[0].StreamID != "s1" || sends[0].AgentID != "A-S1" {
		t.Fatalf("after ack: %v", outs)
	}

	send(mesos.TaskState_TASK_FINISHED, uuids[2])
	ack(uuids[1])
	// The executor exits; the task is terminal, so only EXECUTOR_EXITED.
	outs = h.step(ContainerExited{Termination: Termination{ContainerID: spec.ID, Status: 0}})
	if got := sentUpdates(outs); len(got) != 0 {
		t.Errorf("exit of a finished executor sent %v", got)
	}
	if ex := only[Send](outs); len(ex) != 1 || ex[0].Msg.GetType() != agentproto.AgentMessage_EXECUTOR_EXITED {
		t.Errorf("exit outputs %v", outs)
	}
	ack(uuids[2])
	if len(h.c.frameworks) != 0 || len(h.c.completedFrameworks) != 1 || len(h.c.updates.streams) != 0 {
		t.Errorf("after the last ack: %d frameworks, %d completed, %d streams",
			len(h.c.frameworks), len(h.c.completedFrameworks), len(h.c.updates.streams))
	}
	if d := h.c.nextDeadline(); !d.Equal(h.c.pingDeadline) {
		t.Errorf("a timer other than the ping is left: %v", d)
	}
}

// Losing the master: randomized, doubling backoff below 1 min, then
// REREGISTER; the pending update is resent once registered.
func TestCoreReregistrationBackoff(t *testing.T) {
	h := newCoreHarness(t)
	h.register()
	h.master(runTask(commandTask("t", "A-S1", "true")))

	bound := time.Second
	for i := range 10 {
		outs := h.step(MasterStreamEnded{Gen: h.c.gen})
		if len(only[Disconnect](outs)) != 1 || h.c.link != linkIdle {
			t.Fatalf("attempt %d: %v", i, outs)
		}
		delay := h.c.reconnectAt.Sub(h.now)
		if delay < 0 || delay > bound {
			t.Fatalf("attempt %d: delay %v outside [0, %v]", i, delay, bound)
		}
		conn := only[Connect](h.advanceTo(h.c.reconnectAt))
		if len(conn) != 1 || conn[0].Msg.GetType() != agentproto.AgentMessage_REREGISTER {
			t.Fatalf("attempt %d: %v", i, conn)
		}
		tasks := conn[0].Msg.GetRegister().GetTasks()
		if len(tasks) != 1 || tasks[0].GetState() != mesos.TaskState_TASK_STAGING || tasks[0].ExecutorId != nil {
			t.Fatalf("REREGISTER tasks = %v", tasks)
		}
		bound = min(2*bound, time.Minute)
	}
	h.step(MasterStream{Gen: h.c.gen, StreamID: "s2"})
	h.step(MasterMessage{Gen: h.c.gen, Msg: registered("A-S1", 15)})
	if h.c.link != linkRegistered || h.c.backoff != time.Second {
		t.Fatalf("after REGISTERED: %s, backoff %v", h.c.link, h.c.backoff)
	}

	// No ping for the ping timeout: disconnect and retry.
	outs := h.advanceTo(h.c.pingDeadline)
	if len(only[Disconnect](outs)) != 1 || h.c.link != linkIdle {
		t.Fatalf("ping timeout: %v", outs)
	}
}

// Messages from an old stream are ignored.
func TestCoreIgnoresStaleStreams(t *testing.T) {
	h := newCoreHarness(t)
	h.register()
	old := h.c.gen
	h.step(MasterStreamEnded{Gen: old})
	h.advanceTo(h.c.reconnectAt)
	if outs := h.step(MasterMessage{Gen: old, Msg: runTask(commandTask("t", "A-S1", "true"))}); len(outs) != 0 {
		t.Fatalf("stale stream's RUN_TASK acted on: %v", outs)
	}
	if outs := h.step(MasterRejected{StreamID: "s1", Status: 400}); len(outs) != 0 {
		t.Fatalf("stale rejection acted on: %v", outs)
	}
}

// A ping that overtakes REGISTERED (the driver hands pings over ahead of
// the rest of the stream) is answered once REGISTERED is in, and not
// before. Once registered, a ping is answered and moves the ping deadline.
func TestCorePingBeforeRegistered(t *testing.T) {
	h := newCoreHarness(t)
	conn := only[Connect](h.step(Start{}))
	h.step(MasterStream{Gen: conn[0].Gen, StreamID: "s1"})
	ping := &agentproto.MasterMessage{Type: agentproto.MasterMessage_PING.Enum()}
	if outs := h.step(MasterMessage{Gen: conn[0].Gen, Msg: ping}); len(outs) != 0 || h.c.link != linkConnecting {
		t.Fatalf("ping before REGISTERED: %v, link %s", outs, h.c.link)
	}
	sends := only[Send](h.step(MasterMessage{Gen: conn[0].Gen, Msg: registered("A-S1", 15)}))
	if len(sends) != 1 || sends[0].Msg.GetType() != agentproto.AgentMessage_PONG || sends[0].StreamID != "s1" {
		t.Fatalf("REGISTERED after an early ping: %v", sends)
	}
	h.now = h.now.Add(10 * time.Second)
	sends = only[Send](h.master(ping))
	if len(sends) != 1 || sends[0].Msg.GetType() != agentproto.AgentMessage_PONG {
		t.Fatalf("ping once registered: %v", sends)
	}
	if want := h.now.Add(15 * time.Second); !h.c.pingDeadline.Equal(want) {
		t.Errorf("ping deadline %v, want %v", h.c.pingDeadline, want)
	}
	// A new attempt forgets an early ping of the old one.
	h.step(MasterStreamEnded{Gen: h.c.gen})
	conn = only[Connect](h.advanceTo(h.c.reconnectAt))
	h.step(MasterStream{Gen: conn[0].Gen, StreamID: "s2"})
	if sends := only[Send](h.step(MasterMessage{Gen: conn[0].Gen, Msg: registered("A-S1", 15)})); len(sends) != 0 {
		t.Errorf("REGISTERED without an early ping sent %v", sends)
	}
}

// When the master shuts the agent down, every sandbox is detached in one
// Detach whose order is the same from run to run (by framework, then
// executor), so that a simulator replaying a seed sees the same outputs.
func TestCoreForgetDetachesInOrder(t *testing.T) {
	var first []string
	for run := range 5 {
		h := newCoreHarness(t)
		h.register()
		for _, fwID := range []string{"fw-b", "fw-a", "fw-c"} {
			fw := proto.Clone(testFramework).(*mesos.FrameworkInfo)
			fw.Id = &mesos.FrameworkID{Value: proto.String(fwID)}
			for _, id := range []string{"t3", "t1", "t4", "t2"} {
				h.master(&agentproto.MasterMessage{
					Type:    agentproto.MasterMessage_RUN_TASK.Enum(),
					RunTask: &agentproto.MasterMessage_RunTask{FrameworkInfo: fw, Task: commandTask(id, "A-S1", "true")},
				})
			}
		}
		outs := h.master(&agentproto.MasterMessage{Type: agentproto.MasterMessage_SHUTDOWN.Enum(), Message: proto.String("removed")})
		detach := only[Detach](outs)
		if len(detach) != 1 || len(detach[0].Dirs) != 12 {
			t.Fatalf("SHUTDOWN detached %v", detach)
		}
		var order []string
		for _, d := range detach[0].Dirs {
			rel := strings.TrimPrefix(d, "/work/slaves/A-S1/frameworks/")
			fw, rest, _ := strings.Cut(rel, "/executors/")
			ex, _, _ := strings.Cut(rest, "/")
			order = append(order, fw+"/"+ex)
		}
		if !slices.IsSorted(order) {
			t.Fatalf("run %d: sandboxes detached out of order: %v", run, order)
		}
		if run == 0 {
			first = order
		} else if !slices.Equal(order, first) {
			t.Fatalf("run %d detached %v, run 0 %v", run, order, first)
		}
	}
}

// Mesos: an executor whose event stream broke subscribes again with the
// updates it has not seen acknowledged. The agent handles them as if sent
// again: one it never received (made while the stream was down) goes into
// the task's stream, one it already has is only acknowledged again, and
// both acknowledgements go out on the new stream. The simulator found the
// agent ignoring them: the executor waited for acknowledgements that never
// came, and its task's end was lost (the task failed when it exited).
func TestCoreResubscribeHandlesUnacknowledgedUpdates(t *testing.T) {
	h := newCoreHarness(t)
	h.register()
	spec := only[Launch](h.master(runTask(commandTask("t", "A-S1", "true"))))[0].Spec
	h.step(ContainerLaunched{ContainerID: spec.ID, Pid: 1234})
	sub := execCall("fw-1", "t", execpb.Call_SUBSCRIBE)
	sub.Subscribe = &execpb.Call_Subscribe{}
	if r := h.call(sub, 7); r.Status != CallOK {
		t.Fatalf("subscribe: %+v", r)
	}
	running, finished := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 16)
	outs := h.step(ExecutorCall{Call: update("fw-1", "t", "t", mesos.TaskState_TASK_RUNNING, running), Reply: make(chan CallResult, 1)})
	if got := sentUpdates(outs); !slices.Equal(got, []mesos.TaskState{mesos.TaskState_TASK_RUNNING}) {
		t.Fatalf("RUNNING forwarded as %v", got)
	}

	// The stream breaks before RUNNING's acknowledgement reaches the
	// executor; the task finishes meanwhile.
	h.step(ExecutorDisconnected{Conn: 7})
	resub := execCall("fw-1", "t", execpb.Call_SUBSCRIBE)
	resub.Subscribe = &execpb.Call_Subscribe{UnacknowledgedUpdates: []*execpb.Call_Update{
		update("fw-1", "t", "t", mesos.TaskState_TASK_RUNNING, running).GetUpdate(),
		update("fw-1", "t", "t", mesos.TaskState_TASK_FINISHED, finished).GetUpdate(),
	}}
	reply := make(chan CallResult, 1)
	outs = h.step(ExecutorCall{Call: resub, Conn: 8, Reply: reply})
	var acked [][]byte
	var types []execpb.Event_Type
	for _, e := range only[ExecutorEvent](outs) {
		if e.Conn != 8 {
			t.Errorf("%s on stream %d, want the new stream 8", e.Event.GetType(), e.Conn)
		}
		types = append(types, e.Event.GetType())
		if e.Event.GetType() == execpb.Event_ACKNOWLEDGED {
			acked = append(acked, e.Event.GetAcknowledged().GetUuid())
		}
	}
	if len(types) == 0 || types[0] != execpb.Event_SUBSCRIBED {
		t.Errorf("events after re-subscribing: %v, want SUBSCRIBED first", types)
	}
	if len(acked) != 2 || !bytes.Equal(acked[0], running) || !bytes.Equal(acked[1], finished) {
		t.Errorf("acknowledged %x, want RUNNING's and FINISHED's uuids", acked)
	}
	// RUNNING is still in flight to the master: FINISHED waits behind it,
	// and the task's record is terminal.
	if got := sentUpdates(outs); len(got) != 0 {
		t.Errorf("sent %v while RUNNING is unacknowledged", got)
	}
	if n := h.c.updates.pendingCount(updateKey{"fw-1", "t"}); n != 2 {
		t.Errorf("%d updates pending in the task's stream, want RUNNING and FINISHED", n)
	}
	if st, _ := h.c.latestState("fw-1", "t"); st != mesos.TaskState_TASK_FINISHED {
		t.Errorf("the agent knows the task as %s, want TASK_FINISHED", st)
	}
	outs = h.master(&agentproto.MasterMessage{
		Type: agentproto.MasterMessage_ACKNOWLEDGE.Enum(),
		Acknowledge: &agentproto.MasterMessage_Acknowledge{
			FrameworkId: testFramework.GetId(), TaskId: &mesos.TaskID{Value: proto.String("t")}, Uuid: running,
		},
	})
	if got := sentUpdates(outs); !slices.Equal(got, []mesos.TaskState{mesos.TaskState_TASK_FINISHED}) {
		t.Errorf("after RUNNING's acknowledgement sent %v, want TASK_FINISHED", got)
	}
}

// With several masters, a registration attempt that failed goes on at once
// to the next master the driver names (NextMaster), without a backoff step
// and without growing the backoff; the failure that ends the round waits
// one. Losing a registered stream waits its random delay even with other
// masters to try.
func TestCoreNextMasterWithinOneBackoffStep(t *testing.T) {
	h := newCoreHarness(t)
	first := only[Connect](h.step(Start{}))
	outs := h.step(MasterStreamEnded{Gen: first[0].Gen, NextMaster: true})
	conn := only[Connect](outs)
	if len(conn) != 1 || conn[0].Gen != first[0].Gen+1 || h.c.link != linkConnecting || h.c.backoff != time.Second {
		t.Fatalf("next master: %v, link %s, backoff %v", outs, h.c.link, h.c.backoff)
	}
	outs = h.step(MasterStreamEnded{Gen: conn[0].Gen, Redirected: true})
	conn = only[Connect](outs)
	if len(conn) != 1 {
		t.Fatalf("redirect: %v", outs)
	}
	// The round is over: a backoff step, below the first bound.
	outs = h.step(MasterStreamEnded{Gen: conn[0].Gen})
	if len(only[Connect](outs)) != 0 || h.c.link != linkIdle || h.c.reconnectAt.Sub(h.now) > time.Second || h.c.backoff != 2*time.Second {
		t.Fatalf("end of the round: %v, link %s, delay %v, backoff %v", outs, h.c.link, h.c.reconnectAt.Sub(h.now), h.c.backoff)
	}
	conn = only[Connect](h.advanceTo(h.c.reconnectAt))
	h.step(MasterStream{Gen: conn[0].Gen, StreamID: "s1"})
	h.step(MasterMessage{Gen: conn[0].Gen, Msg: registered("A-S1", 15)})
	if h.c.link != linkRegistered {
		t.Fatalf("not registered: %s", h.c.link)
	}
	outs = h.step(MasterStreamEnded{Gen: h.c.gen, NextMaster: true})
	if len(only[Connect](outs)) != 0 || len(only[Disconnect](outs)) != 1 || h.c.link != linkIdle {
		t.Fatalf("lost stream with another master to try: %v, link %s", outs, h.c.link)
	}
	if conn := only[Connect](h.advanceTo(h.c.reconnectAt)); len(conn) != 1 || conn[0].Msg.GetType() != agentproto.AgentMessage_REREGISTER {
		t.Fatalf("after the delay: %v", conn)
	}
}
