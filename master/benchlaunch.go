package master

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/cputime"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/resources"
)

// BenchLaunchOptions shapes BenchLaunch (`gomesos bench launch`).
type BenchLaunchOptions struct {
	Agents     int // simulated agents (10000)
	Tasks      int // short tasks to run, in all (1000000)
	Frameworks int // frameworks sharing the tasks (10)
	// Slots is how many tasks an agent runs at once: its resources hold
	// that many (10).
	Slots int
	// Workers is how many goroutines play the agents, each a share of
	// them (4).
	Workers int
	// Timeout bounds the whole run (10m).
	Timeout time.Duration
	// Logger is the master's logger (nothing is logged when nil).
	Logger *slog.Logger
	// CPUProfile, when set, receives a CPU profile (pprof) of the launch,
	// from the first framework's subscription to the last task finished.
	CPUProfile io.Writer
	// MemProfile, when set, names where a heap profile (pprof) is
	// written once half the tasks finished.
	MemProfile string
}

func (o *BenchLaunchOptions) setDefaults() {
	if o.Agents <= 0 {
		o.Agents = 10000
	}
	if o.Tasks <= 0 {
		o.Tasks = 1000000
	}
	if o.Frameworks <= 0 {
		o.Frameworks = 10
	}
	if o.Slots <= 0 {
		o.Slots = 10
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// BenchLaunchResult is what BenchLaunch measured.
type BenchLaunchResult struct {
	Agents, Tasks, Frameworks int
	// Registered is how long the agents took to register; Launched how
	// long the tasks then took, from the frameworks subscribing to the
	// last task's TASK_FINISHED acknowledged to its agent.
	Registered, Launched time.Duration
	// PeakLive is the most tasks launched and not yet finished at once.
	PeakLive int
	// RSS is the process's peak resident set (VmHWM of /proc/self/status;
	// where there is none, the Go runtime's total memory at the end). The
	// process holds the master and the simulated agents and frameworks.
	RSS uint64
	// RSSSource says where RSS was read.
	RSSSource string
	// Steps is how many inputs the master's core took during the launch.
	Steps int64
	// CPU is the process's CPU time during the launch, GC the part of it
	// spent collecting garbage.
	CPU, GC time.Duration
	// Offers is how many offers the frameworks were sent.
	Offers int64
}

// TasksPerSec is the launch's throughput.
func (r BenchLaunchResult) TasksPerSec() float64 {
	if r.Launched <= 0 {
		return 0
	}
	return float64(r.Tasks) / r.Launched.Seconds()
}

// Line is the summary's last line, the one an outside check reads.
func (r BenchLaunchResult) Line() string {
	return fmt.Sprintf("launched %d tasks on %d agents in %.3fs (%.0f tasks/s), master rss %.1f MiB",
		r.Tasks, r.Agents, r.Launched.Seconds(), r.TasksPerSec(), float64(r.RSS)/(1<<20))
}

// BenchLaunch runs opts.Tasks short tasks through a real master and writes
// progress and a summary to w, ending with Line (for `gomesos bench
// launch`). The master runs whole (its loop, core, allocator, registry and
// the driver that encodes its messages and events into the streams'
// queues), but the simulated agents and frameworks sit in process on the
// other side of those queues rather than behind HTTP: each agent's
// connection is a queue the driver fills with encoded MasterMessages, which
// the agent decodes and answers with AgentMessages fed to the loop, as the
// master's HTTP handlers feed them. Frameworks likewise read their encoded
// events and make v1 scheduler calls: one ACCEPT per offer, launching as
// many tasks as fit, and an ACKNOWLEDGE for every update. An agent answers
// RUN_TASK with TASK_RUNNING and, once that is acknowledged, TASK_FINISHED,
// as its status update manager would (one unacknowledged update per task).
// The messages an agent or a framework has to send at once go to the loop
// together, as one request: the loop serves requests in batches anyway.
func BenchLaunch(ctx context.Context, opts BenchLaunchOptions, w io.Writer) (BenchLaunchResult, error) {
	opts.setDefaults()
	res := BenchLaunchResult{Agents: opts.Agents, Tasks: opts.Tasks, Frameworks: opts.Frameworks}
	m, err := New(Config{
		IP: "127.0.0.1",
		Options: core.Options{
			// The simulated agents answer pings, but a busy loop on a
			// shared machine should not cost them their registration.
			AgentPingTimeout:  time.Hour,
			HeartbeatInterval: time.Hour,
			Logger:            opts.Logger,
		},
	})
	if err != nil {
		return res, fmt.Errorf("bench launch: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	h := newLaunchBench(m, opts)
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- m.Run(runCtx) }()
	defer func() {
		stop()
		<-ran
		h.wg.Wait()
	}()
	h.stop = stop
	fmt.Fprintf(w, "launch: %d agents (%d tasks at once each, %d goroutines playing them), %d frameworks, %d tasks of cpus:%g;mem:%g\n",
		opts.Agents, opts.Slots, opts.Workers, opts.Frameworks, opts.Tasks, launchTaskCPUs, launchTaskMem)

	start := time.Now()
	if err := h.registerAgents(); err != nil {
		return res, err
	}
	res.Registered = time.Since(start)
	fmt.Fprintf(w, "launch: %d agents registered in %.3fs\n", opts.Agents, res.Registered.Seconds())
	for _, s := range h.shards {
		h.wg.Add(1)
		go h.agentWorker(runCtx, s)
	}

	if opts.CPUProfile != nil {
		if err := pprof.StartCPUProfile(opts.CPUProfile); err != nil {
			return res, fmt.Errorf("bench launch: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	cpu0, gc0 := cputime.Process(), gcCPU()
	steps0 := h.steps.Load()
	start = time.Now()
	if err := h.subscribeFrameworks(runCtx); err != nil {
		return res, err
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	next := time.Second
	memProfile := opts.MemProfile
	for h.finished.Load() < int64(opts.Tasks) {
		if memProfile != "" && h.finished.Load() >= int64(opts.Tasks/2) {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if err := writeHeapProfile(memProfile); err != nil {
				return res, fmt.Errorf("bench launch: %w", err)
			}
			memProfile = ""
			fmt.Fprintf(w, "launch: heap profile written to %s: %d tasks live; before it collected, the heap held %.1f MiB in use, %.1f MiB in all\n",
				opts.MemProfile, h.launched.Load()-h.finished.Load(), float64(ms.HeapAlloc)/(1<<20), float64(ms.HeapSys)/(1<<20))
		}
		select {
		case <-tick.C:
		case <-h.failed:
			return res, h.err
		case <-ctx.Done():
			return res, fmt.Errorf("bench launch: %d of %d tasks finished after %.3fs: %w",
				h.finished.Load(), opts.Tasks, time.Since(start).Seconds(), ctx.Err())
		}
		if since := time.Since(start); since >= next {
			next += time.Second
			fmt.Fprintf(w, "launch: +%.0fs: %d tasks launched, %d finished, %d live\n",
				since.Seconds(), h.launched.Load(), h.finished.Load(), h.launched.Load()-h.finished.Load())
		}
	}
	res.Launched = time.Since(start)
	if opts.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	res.CPU, res.GC = cputime.Process()-cpu0, gcCPU()-gc0
	res.Steps = h.steps.Load() - steps0
	res.PeakLive = int(h.peakLive.Load())
	res.Offers = h.offers.Load()
	res.RSS, res.RSSSource = peakRSS()

	snap := m.latest().Metrics()
	if got := int(snap["master/tasks_finished"]); got != opts.Tasks {
		return res, fmt.Errorf("bench launch: the master counts %d finished tasks; want %d", got, opts.Tasks)
	}
	perTask := float64(res.RSS) / float64(max(res.PeakLive, 1))
	fmt.Fprintf(w, "launch: %d offers, %d inputs to the loop (%.0f/s); %.2fs of CPU (%.2fs collecting garbage); peak %d live tasks, %.0f bytes of %s each; %s\n",
		res.Offers, res.Steps, float64(res.Steps)/res.Launched.Seconds(), res.CPU.Seconds(), res.GC.Seconds(),
		res.PeakLive, perTask, res.RSSSource, m.loopTimes())
	_, err = fmt.Fprintln(w, res.Line())
	return res, err
}

const (
	launchTaskCPUs = 0.1
	launchTaskMem  = 32.0
)

// launchBench plays the agents and frameworks of BenchLaunch.
type launchBench struct {
	m      *Master
	opts   BenchLaunchOptions
	shards []*launchShard
	fws    []*launchFramework
	// taskRes is every task's resources (shared, never changed).
	taskRes []*mesos.Resource

	wg   sync.WaitGroup
	stop context.CancelFunc

	steps, launched, finished, peakLive, offers atomic.Int64
	uuids                                       atomic.Uint64

	failed  chan struct{}
	errOnce sync.Once
	err     error
}

// launchShard is the agents one goroutine plays: their queues all wake it.
type launchShard struct {
	notify chan struct{}
	agents []*launchAgent
	// frameworks holds one FrameworkID per framework, which the shard's
	// updates share.
	frameworks map[string]*mesos.FrameworkID
}

// launchAgent is a simulated agent. It keeps what it must of its tasks and
// nothing more, so that the process's memory is mostly the master's.
type launchAgent struct {
	id, conn string
	agentID  *mesos.AgentID // shared by its updates
	sink     *sink
	// pending maps the uuid (its last 8 bytes) of every update sent and
	// not yet acknowledged to its task.
	pending map[uint64]pendingUpdate
}

// pendingUpdate is an update an agent sent and that is not acknowledged.
type pendingUpdate struct {
	fw *mesos.FrameworkID
	// task is the task's id, copied out of the RUN_TASK message so that
	// the agent keeps none of the decoded message (which would count
	// against the master's memory per task).
	task    string
	running bool // TASK_RUNNING, else TASK_FINISHED
}

func newLaunchBench(m *Master, opts BenchLaunchOptions) *launchBench {
	h := &launchBench{m: m, opts: opts, failed: make(chan struct{})}
	h.taskRes = resources.ToProto(resources.MustParse(fmt.Sprintf("cpus:%g;mem:%g", launchTaskCPUs, launchTaskMem)))
	for range opts.Workers {
		h.shards = append(h.shards, &launchShard{notify: make(chan struct{}, 1), frameworks: map[string]*mesos.FrameworkID{}})
	}
	return h
}

func (h *launchBench) fail(err error) {
	h.errOnce.Do(func() {
		h.err = fmt.Errorf("bench launch: %w", err)
		close(h.failed)
		h.stop()
	})
}

// feed runs the inputs on the loop, as one request.
func (h *launchBench) feed(ins []core.Input) error {
	if len(ins) == 0 {
		return nil
	}
	var failed error
	err := h.m.do(func() {
		for _, in := range ins {
			if r := h.m.step(in); r.Code.Failed() && failed == nil {
				failed = fmt.Errorf("%T answered %s: %s", in, r.Code, r.Message)
			}
		}
	})
	h.steps.Add(int64(len(ins)))
	// The callers reuse ins: once fed, its inputs (a framework's launches
	// hold thousands of TaskInfos) must not stay alive in its array, where
	// they counted against the master's memory per task.
	clear(ins)
	if err == nil {
		err = failed
	}
	return err
}

// benchAgentRegistration is REGISTER for the i-th simulated agent of a
// bench, with total resources.
func benchAgentRegistration(i int, total []*mesos.Resource) *agentproto.AgentMessage {
	return &agentproto.AgentMessage{
		Type: agentproto.AgentMessage_REGISTER.Enum(),
		Register: &agentproto.AgentMessage_Register{
			AgentInfo: &mesos.AgentInfo{
				Hostname: proto.String(fmt.Sprintf("agent%05d.bench", i)), Port: proto.Int32(5051), Resources: total,
			},
			Version:  proto.String(core.Version),
			Endpoint: proto.String(fmt.Sprintf("10.%d.%d.%d:5051", i>>16&255, i>>8&255, i&255)),
		},
	}
}

// registerAgents registers every agent, each with its connection's queue
// in place as the subscription handler puts it, a few hundred per request.
func (h *launchBench) registerAgents() error {
	total := resources.ToProto(resources.MustParse(fmt.Sprintf("cpus:%g;mem:%g;disk:10000;ports:[31000-32000]",
		float64(h.opts.Slots)*launchTaskCPUs, float64(h.opts.Slots)*launchTaskMem)))
	const chunk = 256
	for first := 0; first < h.opts.Agents; first += chunk {
		var failed error
		err := h.m.do(func() {
			for i := first; i < min(first+chunk, h.opts.Agents); i++ {
				shard := h.shards[i%len(h.shards)]
				a := &launchAgent{conn: "bench-agent-" + strconv.Itoa(i), pending: map[uint64]pendingUpdate{}}
				// Bounded as the master bounds its agents' queues; all
				// of a shard's queues wake its goroutine.
				a.sink = h.m.newSink(codec.Protobuf)
				a.sink.kind = "agent"
				a.sink.notify = shard.notify
				h.m.agentSinks[a.conn] = a.sink
				r := h.m.step(core.AgentSubscribe{Conn: a.conn, Msg: benchAgentRegistration(i, total)})
				if r.Code.Failed() {
					failed = fmt.Errorf("registering agent %d: %s: %s", i, r.Code, r.Message)
					return
				}
				a.id = r.AgentID
				a.agentID = &mesos.AgentID{Value: &a.id}
				a.sink.id = a.id
				shard.agents = append(shard.agents, a)
			}
		})
		if err == nil {
			err = failed
		}
		if err != nil {
			return fmt.Errorf("bench launch: %w", err)
		}
	}
	return nil
}

// poll takes the queued records without waiting; they count against the
// sink's bounds until written is called.
func (s *sink) poll() [][]byte {
	s.mu.Lock()
	records := s.queue
	s.queue = nil
	s.inflightRecords, s.inflightBytes = len(records), s.queued
	s.queued = 0
	s.mu.Unlock()
	return records
}

// agentWorker plays a shard's agents: whenever one of their queues has
// records, it reads every agent's queue and answers.
func (h *launchBench) agentWorker(ctx context.Context, s *launchShard) {
	defer h.wg.Done()
	var ins []core.Input
	for {
		select {
		case <-s.notify:
		case <-ctx.Done():
			return
		}
		ins = ins[:0]
		for _, a := range s.agents {
			records := a.sink.poll()
			for i, rec := range records {
				records[i] = nil // done with once decoded
				msg := &agentproto.MasterMessage{}
				if err := proto.Unmarshal(rec, msg); err != nil {
					h.fail(fmt.Errorf("agent %s: bad message: %w", a.id, err))
					return
				}
				in, err := h.answer(s, a, msg)
				if err != nil {
					h.fail(fmt.Errorf("agent %s: %w", a.id, err))
					return
				}
				if in != nil {
					ins = append(ins, in)
				}
			}
			if len(records) > 0 {
				a.sink.written()
			}
			if len(ins) >= launchBatch {
				if !h.feedOrFail(ctx, ins) {
					return
				}
				ins = ins[:0]
			}
		}
		if !h.feedOrFail(ctx, ins) {
			return
		}
	}
}

// launchBatch bounds the inputs an agent worker or a framework sends the
// loop in one request: a framework reading a second's worth of events at
// once would otherwise hold tens of thousands of calls, and the loop their
// outputs, at the same time.
const launchBatch = 512

// feedOrFail feeds the inputs to the loop, reporting whether that went
// well; on an error it fails the bench unless ctx is done.
func (h *launchBench) feedOrFail(ctx context.Context, ins []core.Input) bool {
	if err := h.feed(ins); err != nil {
		if ctx.Err() == nil {
			h.fail(err)
		}
		return false
	}
	return true
}

// answer is the agent's answer to msg, if any.
func (h *launchBench) answer(s *launchShard, a *launchAgent, msg *agentproto.MasterMessage) (core.Input, error) {
	switch msg.GetType() {
	case agentproto.MasterMessage_RUN_TASK:
		rt := msg.GetRunTask()
		fwID := rt.GetFrameworkInfo().GetId()
		fw := s.frameworks[fwID.GetValue()]
		if fw == nil {
			fw = fwID
			s.frameworks[fwID.GetValue()] = fw
		}
		return h.update(a, pendingUpdate{fw: fw, task: strings.Clone(rt.GetTask().GetTaskId().GetValue()), running: true}), nil
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
			return h.update(a, u), nil
		}
		h.finished.Add(1)
		return nil, nil
	case agentproto.MasterMessage_PING:
		return core.AgentMessage{AgentID: a.id, Conn: a.conn, Msg: &agentproto.AgentMessage{Type: agentproto.AgentMessage_PONG.Enum()}}, nil
	case agentproto.MasterMessage_REGISTERED:
		return nil, nil
	}
	return nil, fmt.Errorf("unexpected %s: %s", msg.GetType(), prototextShort(msg))
}

// update is the agent's STATUS_UPDATE of the task (TASK_RUNNING or
// TASK_FINISHED), its uuid unique in the run; the agent remembers it until
// it is acknowledged.
func (h *launchBench) update(a *launchAgent, u pendingUpdate) core.Input {
	n := h.uuids.Add(1)
	uuid := make([]byte, 16)
	binary.BigEndian.PutUint64(uuid[8:], n)
	a.pending[n] = u
	state := mesos.TaskState_TASK_FINISHED
	if u.running {
		state = mesos.TaskState_TASK_RUNNING
	}
	return core.AgentMessage{AgentID: a.id, Conn: a.conn, Msg: &agentproto.AgentMessage{
		Type: agentproto.AgentMessage_STATUS_UPDATE.Enum(),
		StatusUpdate: &agentproto.StatusUpdate{
			FrameworkId: u.fw, LatestState: state.Enum(),
			Status: &mesos.TaskStatus{
				TaskId: &mesos.TaskID{Value: &u.task}, State: state.Enum(), Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
				AgentId: a.agentID, Uuid: uuid,
				Timestamp: proto.Float64(float64(time.Now().UnixNano()) / 1e9),
			},
		},
	}}
}

// launchFramework is a simulated scheduler.
type launchFramework struct {
	name   string
	stream string
	events *sink
	id     *mesos.FrameworkID
	info   *mesos.FrameworkInfo
	// toLaunch is how many of its tasks are still to be launched, next
	// the number of the next one.
	toLaunch, next int
	suppressed     bool
}

// subscribeFrameworks subscribes the frameworks, each sharing the tasks,
// and starts them.
func (h *launchBench) subscribeFrameworks(ctx context.Context) error {
	for i := range h.opts.Frameworks {
		n := h.opts.Tasks / h.opts.Frameworks
		if i < h.opts.Tasks%h.opts.Frameworks {
			n++
		}
		f := &launchFramework{
			name: "bench launch " + strconv.Itoa(i), stream: "bench-framework-" + strconv.Itoa(i), toLaunch: n,
			// The harness reads its events as fast as the loop makes
			// them, but a framework's queue holds a whole cluster's
			// offers at once.
			events: newSink(codec.Protobuf, 1<<22, 1<<32),
		}
		f.info = &mesos.FrameworkInfo{
			Name: proto.String(f.name), User: proto.String("bench"), FailoverTimeout: proto.Float64(3600),
		}
		h.fws = append(h.fws, f)
		var r core.Result
		if err := h.m.do(func() {
			h.m.frameworkSinks[f.stream] = f.events
			r = h.m.step(core.SchedulerCall{Stream: f.stream, Call: &schedpb.Call{
				Type: schedpb.Call_SUBSCRIBE.Enum(), Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: f.info},
			}})
		}); err != nil {
			return fmt.Errorf("bench launch: %w", err)
		}
		if r.Code.Failed() {
			return fmt.Errorf("bench launch: subscribing %s: %s: %s", f.name, r.Code, r.Message)
		}
		h.wg.Add(1)
		go h.framework(ctx, f)
	}
	return nil
}

// framework reads a framework's events and makes its calls.
func (h *launchBench) framework(ctx context.Context, f *launchFramework) {
	defer h.wg.Done()
	var calls []core.Input
	for {
		records, ok := f.events.next(ctx)
		if !ok {
			return
		}
		calls = calls[:0]
		for i, rec := range records {
			records[i] = nil // done with once decoded
			ev := &schedpb.Event{}
			if err := proto.Unmarshal(rec, ev); err != nil {
				h.fail(fmt.Errorf("%s: bad event: %w", f.name, err))
				return
			}
			var err error
			if calls, err = h.handle(f, ev, calls); err != nil {
				h.fail(fmt.Errorf("%s: %w", f.name, err))
				return
			}
			if len(calls) >= launchBatch {
				if !h.feedOrFail(ctx, calls) {
					return
				}
				calls = calls[:0]
			}
		}
		f.events.written()
		if !h.feedOrFail(ctx, calls) {
			return
		}
	}
}

// handle appends the framework's calls in answer to ev.
func (h *launchBench) handle(f *launchFramework, ev *schedpb.Event, calls []core.Input) ([]core.Input, error) {
	call := func(c *schedpb.Call) {
		c.FrameworkId = f.id
		calls = append(calls, core.SchedulerCall{Stream: f.stream, Call: c})
	}
	switch ev.GetType() {
	case schedpb.Event_SUBSCRIBED:
		f.id = ev.GetSubscribed().GetFrameworkId()
	case schedpb.Event_OFFERS:
		for _, o := range ev.GetOffers().GetOffers() {
			h.offers.Add(1)
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
			n := min(f.toLaunch, int(cpus/launchTaskCPUs+1e-6), int(mem/launchTaskMem+1e-6))
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
				id := f.stream + "-task-" + strconv.Itoa(f.next)
				f.next++
				tasks[i] = &mesos.TaskInfo{
					Name: proto.String(id), TaskId: &mesos.TaskID{Value: &id}, AgentId: o.GetAgentId(), Resources: h.taskRes,
					Command: &mesos.CommandInfo{Value: proto.String("true")},
				}
			}
			live := h.launched.Add(int64(n)) - h.finished.Load()
			for {
				peak := h.peakLive.Load()
				if live <= peak || h.peakLive.CompareAndSwap(peak, live) {
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

// peakRSS is the process's peak resident set: VmHWM from /proc/self/status,
// or, where there is none, the memory the Go runtime holds now.
func peakRSS() (uint64, string) {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmHWM:")); ok {
				f := bytes.Fields(v)
				if len(f) == 2 && string(f[1]) == "kB" {
					if kb, err := strconv.ParseUint(string(f[0]), 10, 64); err == nil {
						return kb << 10, "peak RSS (VmHWM)"
					}
				}
			}
		}
	}
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		return s[0].Value.Uint64(), "Go runtime memory"
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Sys, "Go runtime memory"
}
