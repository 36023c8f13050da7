package master

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/resources"
)

// peerLink runs runLaunchPeer over pipes and is the master's end of them.
type peerLink struct {
	t    *testing.T
	toW  *io.PipeWriter
	from *bufio.Reader
	// ended closes when runLaunchPeer returned err.
	ended chan struct{}
	err   error
}

// wait is what runLaunchPeer returned.
func (l *peerLink) wait() error {
	l.t.Helper()
	select {
	case <-l.ended:
	case <-time.After(time.Minute):
		l.t.Fatal("the peer did not end")
	}
	return l.err
}

func startPeerLink(t *testing.T, setup launchPeerSetup) *peerLink {
	t.Helper()
	toR, toW := io.Pipe()
	fromR, fromW := io.Pipe()
	l := &peerLink{t: t, toW: toW, from: bufio.NewReader(fromR), ended: make(chan struct{})}
	go func() {
		l.err = runLaunchPeer(toR, fromW)
		fromW.Close()
		close(l.ended)
	}()
	t.Cleanup(func() {
		toW.Close()
		go io.Copy(io.Discard, fromR)
		select {
		case <-l.ended:
		case <-time.After(time.Minute):
			t.Error("the peer did not end when its input did")
		}
	})
	js, err := json.Marshal(setup)
	if err != nil {
		t.Fatal(err)
	}
	l.send(frameSetup, 0, js)
	return l
}

func (l *peerLink) send(kind byte, index int, payload []byte) {
	l.t.Helper()
	if _, err := l.toW.Write(appendFrame(nil, kind, index, payload)); err != nil {
		l.t.Fatal(err)
	}
}

func (l *peerLink) sendMsg(kind byte, index int, m proto.Message) {
	l.t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		l.t.Fatal(err)
	}
	l.send(kind, index, b)
}

// next is the peer's next frame other than progress.
func (l *peerLink) next() (kind byte, index int, payload []byte) {
	l.t.Helper()
	for {
		kind, index, payload, _, err := readFrame(l.from, nil)
		if err != nil {
			l.t.Fatalf("reading the peer: %v", err)
		}
		if kind != frameProgress {
			return kind, index, payload
		}
	}
}

func (l *peerLink) nextAgentMessage(wantIndex int) *agentproto.AgentMessage {
	l.t.Helper()
	kind, index, payload := l.next()
	if kind != frameFromAgent || index != wantIndex {
		l.t.Fatalf("frame %q of %d (%q); want a message from agent %d", kind, index, payload, wantIndex)
	}
	msg := &agentproto.AgentMessage{}
	if err := proto.Unmarshal(payload, msg); err != nil {
		l.t.Fatal(err)
	}
	return msg
}

func (l *peerLink) nextCall(wantIndex int) *schedpb.Call {
	l.t.Helper()
	kind, index, payload := l.next()
	if kind != frameFromFramework || index != wantIndex {
		l.t.Fatalf("frame %q of %d (%q); want a call of framework %d", kind, index, payload, wantIndex)
	}
	c := &schedpb.Call{}
	if err := proto.Unmarshal(payload, c); err != nil {
		l.t.Fatal(err)
	}
	return c
}

// The peer's agents answer RUN_TASK with TASK_RUNNING, its
// acknowledgement with TASK_FINISHED, and report done once that is
// acknowledged; its frameworks launch what fits in an offer and suppress
// once all is launched.
func TestLaunchPeerPlaysAgentsAndFrameworks(t *testing.T) {
	l := startPeerLink(t, launchPeerSetup{Agents: []string{"A0", "A1"}, Tasks: []int{3}, Workers: 2, CPUs: 0.5, Mem: 10})

	// Framework 0 subscribes and is offered room for two of its three
	// tasks on agent A1: it launches two.
	fwID := &mesos.FrameworkID{Value: proto.String("F0")}
	l.sendMsg(frameToFramework, 0, &schedpb.Event{Type: schedpb.Event_SUBSCRIBED.Enum(),
		Subscribed: &schedpb.Event_Subscribed{FrameworkId: fwID}})
	offered := resources.ToProto(resources.MustParse("cpus:1.2;mem:100"))
	l.sendMsg(frameToFramework, 0, &schedpb.Event{Type: schedpb.Event_OFFERS.Enum(), Offers: &schedpb.Event_Offers{Offers: []*mesos.Offer{{
		Id: &mesos.OfferID{Value: proto.String("O1")}, FrameworkId: fwID, AgentId: &mesos.AgentID{Value: proto.String("A1")},
		Hostname: proto.String("h"), Resources: offered,
	}}}})
	accept := l.nextCall(0)
	if accept.GetType() != schedpb.Call_ACCEPT || accept.GetFrameworkId().GetValue() != "F0" ||
		accept.GetAccept().GetOfferIds()[0].GetValue() != "O1" {
		t.Fatalf("first call %v; want an ACCEPT of O1 by F0", accept)
	}
	tasks := accept.GetAccept().GetOperations()[0].GetLaunch().GetTaskInfos()
	if len(tasks) != 2 || tasks[0].GetAgentId().GetValue() != "A1" || tasks[0].GetTaskId().GetValue() == tasks[1].GetTaskId().GetValue() {
		t.Fatalf("launched %v; want two tasks of their own ids on A1", tasks)
	}

	// Agent 1 runs the first task.
	run := &agentproto.MasterMessage{Type: agentproto.MasterMessage_RUN_TASK.Enum(), RunTask: &agentproto.MasterMessage_RunTask{
		FrameworkInfo: &mesos.FrameworkInfo{Id: fwID, Name: proto.String("f"), User: proto.String("u")}, Task: tasks[0],
	}}
	l.sendMsg(frameToAgent, 1, run)
	up := l.nextAgentMessage(1).GetStatusUpdate()
	st := up.GetStatus()
	if st.GetState() != mesos.TaskState_TASK_RUNNING || st.GetTaskId().GetValue() != tasks[0].GetTaskId().GetValue() ||
		up.GetFrameworkId().GetValue() != "F0" || st.GetAgentId().GetValue() != "A1" || len(st.GetUuid()) != 16 {
		t.Fatalf("answer to RUN_TASK %v; want TASK_RUNNING of %s on A1 with a uuid", up, tasks[0].GetTaskId().GetValue())
	}
	ack := func(uuid []byte) {
		l.sendMsg(frameToAgent, 1, &agentproto.MasterMessage{Type: agentproto.MasterMessage_ACKNOWLEDGE.Enum(), Acknowledge: &agentproto.MasterMessage_Acknowledge{
			FrameworkId: fwID, TaskId: st.GetTaskId(), Uuid: uuid,
		}})
	}
	ack(st.GetUuid())
	fin := l.nextAgentMessage(1).GetStatusUpdate().GetStatus()
	if fin.GetState() != mesos.TaskState_TASK_FINISHED || fin.GetTaskId().GetValue() != st.GetTaskId().GetValue() || string(fin.GetUuid()) == string(st.GetUuid()) {
		t.Fatalf("answer to the acknowledgement %v; want TASK_FINISHED with a new uuid", fin)
	}
	// An acknowledgement of an update the agent does not have is an
	// error, reported to the master.
	ack(st.GetUuid())
	kind, _, payload := l.next()
	if kind != frameError || !strings.Contains(string(payload), "unknown update") {
		t.Fatalf("frame %q (%q) after a second acknowledgement; want an error", kind, payload)
	}
	if err := l.wait(); err == nil || !strings.Contains(err.Error(), "unknown update") {
		t.Errorf("runLaunchPeer = %v; want the error it reported", err)
	}
}

// Once every task is finished the peer says so, with its counters.
func TestLaunchPeerReportsDone(t *testing.T) {
	l := startPeerLink(t, launchPeerSetup{Agents: []string{"A0"}, Tasks: []int{1}, Workers: 1, CPUs: 1, Mem: 1})
	fwID := &mesos.FrameworkID{Value: proto.String("F0")}
	task := &mesos.TaskInfo{Name: proto.String("t"), TaskId: &mesos.TaskID{Value: proto.String("t")}, AgentId: &mesos.AgentID{Value: proto.String("A0")}}
	l.sendMsg(frameToAgent, 0, &agentproto.MasterMessage{Type: agentproto.MasterMessage_RUN_TASK.Enum(), RunTask: &agentproto.MasterMessage_RunTask{
		FrameworkInfo: &mesos.FrameworkInfo{Id: fwID, Name: proto.String("f"), User: proto.String("u")}, Task: task,
	}})
	for range 2 {
		st := l.nextAgentMessage(0).GetStatusUpdate().GetStatus()
		l.sendMsg(frameToAgent, 0, &agentproto.MasterMessage{Type: agentproto.MasterMessage_ACKNOWLEDGE.Enum(), Acknowledge: &agentproto.MasterMessage_Acknowledge{
			FrameworkId: fwID, TaskId: st.GetTaskId(), Uuid: st.GetUuid(),
		}})
	}
	kind, _, payload := l.next()
	if kind != frameDone {
		t.Fatalf("frame %q (%q); want done", kind, payload)
	}
	p, err := decodeProgress(payload)
	if err != nil || p.Finished != 1 {
		t.Errorf("done with %+v, %v; want 1 finished", p, err)
	}
	// A ping is answered with a pong.
	l.sendMsg(frameToAgent, 0, &agentproto.MasterMessage{Type: agentproto.MasterMessage_PING.Enum()})
	if got := l.nextAgentMessage(0).GetType(); got != agentproto.AgentMessage_PONG {
		t.Errorf("answer to PING %s; want PONG", got)
	}
	l.toW.Close()
	if err := l.wait(); err != nil {
		t.Errorf("runLaunchPeer = %v after its input ended; want nil", err)
	}
}

// Bad input is refused with an error frame saying what is wrong: a first
// frame that is not the setup, a message to an agent that does not exist,
// bytes that are no message, a frame too long.
func TestLaunchPeerRefusesBadFrames(t *testing.T) {
	setup, _ := json.Marshal(launchPeerSetup{Agents: []string{"A0"}, Tasks: []int{1}, Workers: 1, CPUs: 1, Mem: 1})
	huge := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32([]byte{frameToAgent}, 0), maxFrame+1)
	for _, tc := range []struct {
		name   string
		frames []byte
		want   string
	}{
		{"no setup", appendFrame(nil, frameToAgent, 0, nil), "not the setup"},
		{"bad setup", appendFrame(nil, frameSetup, 0, []byte(`{"Workers":0}`)), "must be positive"},
		{"unknown agent", appendFrame(appendFrame(nil, frameSetup, 0, setup), frameToAgent, 5, nil), "agent 5 of 1"},
		{"not a message", appendFrame(appendFrame(nil, frameSetup, 0, setup), frameToAgent, 0, []byte{0xff, 0xff}), "bad message"},
		{"too long", append(appendFrame(nil, frameSetup, 0, setup), huge...), "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			toR, toW := io.Pipe()
			var out strings.Builder
			ended := make(chan error, 1)
			go func() { ended <- runLaunchPeer(toR, &out) }()
			go func() { toW.Write(tc.frames) }()
			var err error
			select {
			case err = <-ended:
			case <-time.After(time.Minute):
				t.Fatal("the peer did not end on bad input")
			}
			toW.Close()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("runLaunchPeer = %v; want an error saying %q", err, tc.want)
			}
			r := bufio.NewReader(strings.NewReader(out.String()))
			kind, _, payload, _, rerr := readFrame(r, nil)
			for rerr == nil && kind == frameProgress {
				kind, _, payload, _, rerr = readFrame(r, nil)
			}
			if rerr != nil || kind != frameError || !strings.Contains(string(payload), tc.want) {
				t.Errorf("peer wrote %q %q (%v); want an error frame saying %q", kind, payload, rerr, tc.want)
			}
		})
	}
}
