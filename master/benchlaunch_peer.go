package master

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/resources"
)

// The simulated agents and frameworks of `gomesos bench launch` run in a
// peer: a child process (the same binary, started with
// BenchLaunchPeerEnv set) that talks to the master's process over its
// standard input and output, so that the master's resident set is the
// master's alone. The link carries frames: a kind byte, a 4-byte index (of
// the agent or framework) and a 4-byte length, big-endian, then the
// payload.
//
// To the peer: frameSetup (JSON launchPeerSetup, first and once),
// frameToAgent (a MasterMessage the master queued for agent index, as its
// connection would carry it) and frameToFramework (a scheduler Event for
// framework index, as its subscription stream would).
//
// From the peer: frameFromAgent (an AgentMessage agent index sends, as its
// POST to /api/v1/agent would), frameFromFramework (a scheduler Call of
// framework index, as its POST to /api/v1/scheduler), frameProgress (the
// peer's counters, launchProgress, now and then) and frameDone (the same
// once every task finished), frameError (what went wrong, as text; the
// peer then exits).
const (
	frameSetup         = 'S'
	frameToAgent       = 'a'
	frameToFramework   = 'f'
	frameFromAgent     = 'A'
	frameFromFramework = 'C'
	frameProgress      = 'P'
	frameDone          = 'D'
	frameError         = 'E'
)

// BenchLaunchPeerEnv set to 1 makes MainIfBenchLaunchPeer run the peer.
const BenchLaunchPeerEnv = "GOMESOS_BENCH_LAUNCH_PEER"

// maxFrame bounds a frame's payload (a framework's offers event from a big
// cluster is the largest).
const maxFrame = 1 << 30

// MainIfBenchLaunchPeer runs the simulated agents and frameworks of
// BenchLaunch on standard input and output and exits, when the process was
// started as that peer (BenchLaunchPeerEnv=1); otherwise it returns. A
// binary that runs BenchLaunch calls it first thing in main (the test
// binaries in TestMain), as BenchLaunch starts its own executable as the
// peer.
func MainIfBenchLaunchPeer() {
	if os.Getenv(BenchLaunchPeerEnv) != "1" {
		return
	}
	if err := runLaunchPeer(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench launch peer:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// appendFrame appends a frame to buf.
func appendFrame(buf []byte, kind byte, index int, payload []byte) []byte {
	buf = append(buf, kind)
	buf = binary.BigEndian.AppendUint32(buf, uint32(index))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(payload)))
	return append(buf, payload...)
}

// readFrame reads the next frame into buf (grown as needed; the payload
// aliases it until the next read).
func readFrame(r *bufio.Reader, buf []byte) (kind byte, index int, payload, grown []byte, err error) {
	var hdr [9]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, 0, nil, buf, err
	}
	n := binary.BigEndian.Uint32(hdr[5:])
	if n > maxFrame {
		return 0, 0, nil, buf, fmt.Errorf("a frame of %d bytes (at most %d)", n, maxFrame)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, 0, nil, buf, err
	}
	return hdr[0], int(binary.BigEndian.Uint32(hdr[1:5])), buf, buf, nil
}

// frameWriter serialises whole batches of frames onto the link.
type frameWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func newFrameWriter(w io.Writer) *frameWriter {
	return &frameWriter{w: bufio.NewWriterSize(w, 1<<16)}
}

// write writes frames (one or more, encoded by appendFrame) and flushes.
func (fw *frameWriter) write(frames []byte) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if _, err := fw.w.Write(frames); err != nil {
		return err
	}
	return fw.w.Flush()
}

// launchPeerSetup is what the peer is told first.
type launchPeerSetup struct {
	// Agents are the registered agents' ids, by index.
	Agents []string
	// Tasks is how many tasks each framework launches, by index.
	Tasks []int
	// Workers is how many goroutines play the agents.
	Workers int
	// CPUs and Mem are each task's resources.
	CPUs, Mem float64
}

// launchProgress is the peer's counters: tasks launched (sent in an
// ACCEPT), finished (TASK_FINISHED acknowledged to its agent), the most
// live at once, and offers received.
type launchProgress struct {
	Launched, Finished, PeakLive, Offers int64
}

func (p launchProgress) encode() []byte {
	b := make([]byte, 0, 32)
	for _, v := range []int64{p.Launched, p.Finished, p.PeakLive, p.Offers} {
		b = binary.BigEndian.AppendUint64(b, uint64(v))
	}
	return b
}

func decodeProgress(b []byte) (launchProgress, error) {
	if len(b) != 32 {
		return launchProgress{}, fmt.Errorf("a progress frame of %d bytes; want 32", len(b))
	}
	v := func(i int) int64 { return int64(binary.BigEndian.Uint64(b[8*i:])) }
	return launchProgress{Launched: v(0), Finished: v(1), PeakLive: v(2), Offers: v(3)}, nil
}

// launchPeer plays the agents and frameworks on the peer's side.
type launchPeer struct {
	setup   launchPeerSetup
	out     *frameWriter
	taskRes []*mesos.Resource
	total   int64

	agents []*peerAgent
	fws    []*peerFramework
	// shards[i] feeds the goroutine of the agents with index%Workers == i.
	shards []chan [][]byte

	launched, finished, peakLive, offers atomic.Int64
	uuids                                atomic.Uint64
	done                                 atomic.Bool

	errOnce sync.Once
	err     error
	failed  chan struct{}
}

// peerAgent is a simulated agent: it keeps, per unacknowledged update, its
// task's id and a framework id shared by all its updates.
type peerAgent struct {
	index   int
	agentID *mesos.AgentID
	pending map[uint64]pendingUpdate
}

// pendingUpdate is an update an agent sent and that is not acknowledged.
type pendingUpdate struct {
	fw      *mesos.FrameworkID
	task    string
	running bool // TASK_RUNNING, else TASK_FINISHED
}

// peerFramework is a simulated scheduler.
type peerFramework struct {
	index  int
	prefix string
	events chan [][]byte
	id     *mesos.FrameworkID
	// toLaunch is how many of its tasks are still to be launched, next
	// the number of the next one.
	toLaunch, next int
	suppressed     bool
}

// runLaunchPeer plays the agents and frameworks: it reads the master's
// frames from r and writes its answers to w until r ends (the master is
// done) or something goes wrong.
func runLaunchPeer(r io.Reader, w io.Writer) error {
	in := bufio.NewReaderSize(r, 1<<16)
	kind, _, payload, _, err := readFrame(in, nil)
	if err != nil {
		return fmt.Errorf("reading the setup: %w", err)
	}
	p := &launchPeer{out: newFrameWriter(w), failed: make(chan struct{})}
	if kind != frameSetup {
		return p.report(fmt.Errorf("the first frame is %q, not the setup", kind))
	}
	if err := json.Unmarshal(payload, &p.setup); err != nil {
		return p.report(fmt.Errorf("the setup: %w", err))
	}
	if p.setup.Workers <= 0 || p.setup.CPUs <= 0 || p.setup.Mem <= 0 {
		return p.report(fmt.Errorf("the setup: workers %d, cpus %g, mem %g must be positive", p.setup.Workers, p.setup.CPUs, p.setup.Mem))
	}
	p.taskRes = resources.ToProto(resources.MustParse(fmt.Sprintf("cpus:%g;mem:%g", p.setup.CPUs, p.setup.Mem)))
	for i, id := range p.setup.Agents {
		p.agents = append(p.agents, &peerAgent{index: i, agentID: &mesos.AgentID{Value: proto.String(id)}, pending: map[uint64]pendingUpdate{}})
	}
	var wg sync.WaitGroup
	for range p.setup.Workers {
		ch := make(chan [][]byte, 4)
		p.shards = append(p.shards, ch)
		wg.Add(1)
		go func() { defer wg.Done(); p.agentWorker(ch) }()
	}
	for i, n := range p.setup.Tasks {
		p.total += int64(n)
		f := &peerFramework{index: i, prefix: "bench-framework-" + strconv.Itoa(i) + "-task-", toLaunch: n, events: make(chan [][]byte, 4)}
		p.fws = append(p.fws, f)
		wg.Add(1)
		go func() { defer wg.Done(); p.framework(f) }()
	}
	stopTicker := make(chan struct{})
	defer close(stopTicker)
	go p.ticker(stopTicker)
	read := make(chan error, 1)
	go func() {
		err := p.readLoop(in)
		// The goroutines end once they have answered what they were
		// given.
		for _, ch := range p.shards {
			close(ch)
		}
		for _, f := range p.fws {
			close(f.events)
		}
		wg.Wait()
		read <- err
	}()
	select {
	case err := <-read:
		if err != nil {
			return p.report(err)
		}
		return p.err
	case <-p.failed:
		// The read goes on until the input ends (the process exits
		// first).
		return p.err
	}
}

// readLoop hands the master's frames to the goroutines until the input
// ends (nil) or is wrong (an error), in batches: as many as have arrived,
// each goroutine then answering them together.
func (p *launchPeer) readLoop(in *bufio.Reader) error {
	toAgents := make([][][]byte, len(p.shards))
	toFws := make([][][]byte, len(p.fws))
	var buf []byte
	for {
		kind, index, payload, grown, err := readFrame(in, buf)
		buf = grown
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading from the master: %w", err)
		}
		msg := append([]byte(nil), payload...)
		switch kind {
		case frameToAgent:
			if index >= len(p.agents) {
				return fmt.Errorf("a message to agent %d of %d", index, len(p.agents))
			}
			s := index % len(p.shards)
			toAgents[s] = append(toAgents[s], binary.BigEndian.AppendUint32(msg, uint32(index)))
		case frameToFramework:
			if index >= len(p.fws) {
				return fmt.Errorf("an event for framework %d of %d", index, len(p.fws))
			}
			toFws[index] = append(toFws[index], msg)
		default:
			return fmt.Errorf("an unexpected frame %q from the master", kind)
		}
		if in.Buffered() > 0 {
			continue
		}
		for i, b := range toAgents {
			if len(b) > 0 {
				select {
				case p.shards[i] <- b:
				case <-p.failed:
					return nil
				}
				toAgents[i] = nil
			}
		}
		for i, b := range toFws {
			if len(b) > 0 {
				select {
				case p.fws[i].events <- b:
				case <-p.failed:
					return nil
				}
				toFws[i] = nil
			}
		}
	}
}

// report sends err to the master (once) and returns it.
func (p *launchPeer) report(err error) error {
	p.errOnce.Do(func() {
		p.err = err
		// Written before the peer ends (once failed closes).
		_ = p.out.write(appendFrame(nil, frameError, 0, []byte(err.Error())))
		close(p.failed)
	})
	return p.err
}

// progress is the peer's counters now.
func (p *launchPeer) progress() launchProgress {
	return launchProgress{Launched: p.launched.Load(), Finished: p.finished.Load(), PeakLive: p.peakLive.Load(), Offers: p.offers.Load()}
}

// ticker sends the counters every 50ms until stop closes.
func (p *launchPeer) ticker(stop chan struct{}) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-p.failed:
			return
		case <-t.C:
			if p.out.write(appendFrame(nil, frameProgress, 0, p.progress().encode())) != nil {
				return
			}
		}
	}
}

// agentWorker answers the messages to its agents; each message carries
// its agent's index in its last 4 bytes.
func (p *launchPeer) agentWorker(in chan [][]byte) {
	frames := make(map[string]*mesos.FrameworkID)
	var out []byte
	for batch := range in {
		out = out[:0]
		for _, b := range batch {
			a := p.agents[binary.BigEndian.Uint32(b[len(b)-4:])]
			msg := &agentproto.MasterMessage{}
			if err := proto.Unmarshal(b[:len(b)-4], msg); err != nil {
				p.report(fmt.Errorf("agent %s: bad message: %w", a.agentID.GetValue(), err))
				return
			}
			reply, err := p.answer(frames, a, msg)
			if err != nil {
				p.report(fmt.Errorf("agent %s: %w", a.agentID.GetValue(), err))
				return
			}
			if reply != nil {
				enc, err := proto.Marshal(reply)
				if err != nil {
					p.report(fmt.Errorf("agent %s: %w", a.agentID.GetValue(), err))
					return
				}
				out = appendFrame(out, frameFromAgent, a.index, enc)
			}
		}
		if p.finished.Load() == p.total && p.done.CompareAndSwap(false, true) {
			out = appendFrame(out, frameDone, 0, p.progress().encode())
		}
		if len(out) > 0 && p.out.write(out) != nil {
			return
		}
	}
}

// answer is the agent's answer to msg, if any.
func (p *launchPeer) answer(frames map[string]*mesos.FrameworkID, a *peerAgent, msg *agentproto.MasterMessage) (*agentproto.AgentMessage, error) {
	switch msg.GetType() {
	case agentproto.MasterMessage_RUN_TASK:
		rt := msg.GetRunTask()
		fwID := rt.GetFrameworkInfo().GetId()
		fw := frames[fwID.GetValue()]
		if fw == nil {
			fw = fwID
			frames[fwID.GetValue()] = fw
		}
		return p.update(a, pendingUpdate{fw: fw, task: rt.GetTask().GetTaskId().GetValue(), running: true}), nil
	case agentproto.MasterMessage_ACKNOWLEDGE:
		ack := msg.GetAcknowledge()
		uuid := ack.GetUuid()
		if len(uuid) != 16 {
			return nil, fmt.Errorf("acknowledgement of task %s with a uuid of %d bytes", ack.GetTaskId().GetValue(), len(uuid))
		}
		key := binary.BigEndian.Uint64(uuid[8:])
		u, ok := a.pending[key]
		if !ok {
			return nil, fmt.Errorf("acknowledgement of an unknown update of task %s", ack.GetTaskId().GetValue())
		}
		delete(a.pending, key)
		if u.running {
			u.running = false
			return p.update(a, u), nil
		}
		p.finished.Add(1)
		return nil, nil
	case agentproto.MasterMessage_PING:
		return &agentproto.AgentMessage{Type: agentproto.AgentMessage_PONG.Enum()}, nil
	case agentproto.MasterMessage_REGISTERED:
		return nil, nil
	}
	return nil, fmt.Errorf("unexpected %s: %s", msg.GetType(), prototextShort(msg))
}

// update is the agent's STATUS_UPDATE of the task (TASK_RUNNING or
// TASK_FINISHED), its uuid unique in the run; the agent remembers it until
// it is acknowledged.
func (p *launchPeer) update(a *peerAgent, u pendingUpdate) *agentproto.AgentMessage {
	n := p.uuids.Add(1)
	uuid := make([]byte, 16)
	binary.BigEndian.PutUint64(uuid[8:], n)
	a.pending[n] = u
	state := mesos.TaskState_TASK_FINISHED
	if u.running {
		state = mesos.TaskState_TASK_RUNNING
	}
	return &agentproto.AgentMessage{
		Type: agentproto.AgentMessage_STATUS_UPDATE.Enum(),
		StatusUpdate: &agentproto.StatusUpdate{
			FrameworkId: u.fw, LatestState: state.Enum(),
			Status: &mesos.TaskStatus{
				TaskId: &mesos.TaskID{Value: &u.task}, State: state.Enum(), Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
				AgentId: a.agentID, Uuid: uuid,
				Timestamp: proto.Float64(float64(time.Now().UnixNano()) / 1e9),
			},
		},
	}
}

// framework reads a framework's events and makes its calls.
func (p *launchPeer) framework(f *peerFramework) {
	var out []byte
	var calls []*schedpb.Call
	for batch := range f.events {
		out, calls = out[:0], calls[:0]
		for _, b := range batch {
			ev := &schedpb.Event{}
			if err := proto.Unmarshal(b, ev); err != nil {
				p.report(fmt.Errorf("framework %d: bad event: %w", f.index, err))
				return
			}
			var err error
			if calls, err = p.handle(f, ev, calls); err != nil {
				p.report(fmt.Errorf("framework %d: %w", f.index, err))
				return
			}
		}
		for _, c := range calls {
			enc, err := proto.Marshal(c)
			if err != nil {
				p.report(fmt.Errorf("framework %d: %w", f.index, err))
				return
			}
			out = appendFrame(out, frameFromFramework, f.index, enc)
		}
		clear(calls)
		if len(out) > 0 && p.out.write(out) != nil {
			return
		}
	}
}

// handle appends the framework's calls in answer to ev.
func (p *launchPeer) handle(f *peerFramework, ev *schedpb.Event, calls []*schedpb.Call) ([]*schedpb.Call, error) {
	call := func(c *schedpb.Call) {
		c.FrameworkId = f.id
		calls = append(calls, c)
	}
	switch ev.GetType() {
	case schedpb.Event_SUBSCRIBED:
		f.id = ev.GetSubscribed().GetFrameworkId()
	case schedpb.Event_OFFERS:
		for _, o := range ev.GetOffers().GetOffers() {
			p.offers.Add(1)
			var cpus, mem float64
			for _, r := range o.GetResources() {
				switch r.GetName() {
				case "cpus":
					cpus += r.GetScalar().GetValue()
				case "mem":
					mem += r.GetScalar().GetValue()
				}
			}
			// A little slack: the offered cpus are sums of tenths.
			n := min(f.toLaunch, int(cpus/p.setup.CPUs+1e-6), int(mem/p.setup.Mem+1e-6))
			if n <= 0 {
				// Nothing left to launch (or nothing fits): declined,
				// for others to use.
				call(&schedpb.Call{Type: schedpb.Call_DECLINE.Enum(), Decline: &schedpb.Call_Decline{
					OfferIds: []*mesos.OfferID{o.GetId()}, Filters: &mesos.Filters{RefuseSeconds: proto.Float64(3600)},
				}})
				continue
			}
			f.toLaunch -= n
			tasks := make([]*mesos.TaskInfo, n)
			for i := range tasks {
				id := f.prefix + strconv.Itoa(f.next)
				f.next++
				tasks[i] = &mesos.TaskInfo{
					Name: proto.String(id), TaskId: &mesos.TaskID{Value: &id}, AgentId: o.GetAgentId(), Resources: p.taskRes,
					Command: &mesos.CommandInfo{Value: proto.String("true")},
				}
			}
			live := p.launched.Add(int64(n)) - p.finished.Load()
			for {
				peak := p.peakLive.Load()
				if live <= peak || p.peakLive.CompareAndSwap(peak, live) {
					break
				}
			}
			call(&schedpb.Call{Type: schedpb.Call_ACCEPT.Enum(), Accept: &schedpb.Call_Accept{
				OfferIds:   []*mesos.OfferID{o.GetId()},
				Operations: []*mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH.Enum(), Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks}}},
				Filters:    &mesos.Filters{RefuseSeconds: proto.Float64(0)},
			}})
		}
		if f.toLaunch == 0 && !f.suppressed {
			f.suppressed = true
			call(&schedpb.Call{Type: schedpb.Call_SUPPRESS.Enum()})
		}
	case schedpb.Event_UPDATE:
		st := ev.GetUpdate().GetStatus()
		switch st.GetState() {
		case mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_STARTING:
		default:
			return calls, fmt.Errorf("task %s is %s: %s (%s)", st.GetTaskId().GetValue(), st.GetState(), st.GetMessage(), st.GetReason())
		}
		if len(st.GetUuid()) > 0 {
			call(&schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedpb.Call_Acknowledge{
				AgentId: st.GetAgentId(), TaskId: st.GetTaskId(), Uuid: st.GetUuid(),
			}})
		}
	case schedpb.Event_ERROR:
		return calls, fmt.Errorf("ERROR event: %s", ev.GetError().GetMessage())
	}
	return calls, nil
}

// errPeerEnded is a peer's link ending before the launch did.
var errPeerEnded = errors.New("the peer ended its link")
