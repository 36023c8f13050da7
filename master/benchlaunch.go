package master

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
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
	// Workers is how many goroutines play the agents in the peer, and
	// carry their messages to it in the master's process (4).
	Workers int
	// Timeout bounds the whole run (10m).
	Timeout time.Duration
	// InProcess runs the simulated agents and frameworks as goroutines of
	// this process, over pipes, instead of in a child process: the RSS
	// then counts them too. The child process is this executable, which
	// must call MainIfBenchLaunchPeer first thing.
	InProcess bool
	// Logger is the master's logger (nothing is logged when nil).
	Logger *slog.Logger
	// CPUProfile, when set, receives a CPU profile (pprof) of the launch,
	// from the first framework's subscription to the last task finished.
	CPUProfile io.Writer
	// MemProfile, when set, names where a heap profile (pprof) is
	// written once half the tasks finished.
	MemProfile string
	// MemoryLimit says how the caller set the process's soft memory limit
	// (as `gomesos master --memory_limit` would), for the first line;
	// when empty, the limit in force is read and printed.
	MemoryLimit string
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
	// PeakLive is the most tasks launched and not yet finished at once
	// (an ACCEPT sent, the TASK_FINISHED not yet acknowledged to its
	// agent).
	PeakLive int
	// RSS is the master process's peak resident set (VmHWM of
	// /proc/self/status; where there is none, the Go runtime's total
	// memory at the end). The simulated agents and frameworks are in
	// another process unless InProcess.
	RSS uint64
	// RSSSource says where RSS was read.
	RSSSource string
	// HeapLive is the most heap the collector found live (after a
	// marking) during the launch, HeapPeak the most the heap's objects
	// took, garbage not yet collected included.
	HeapLive, HeapPeak uint64
	// HeapAgents is the heap live once the agents registered, before any
	// task (the master's, the bench's own few structures and the
	// runtime's included).
	HeapAgents uint64
	// Steps is how many inputs the master's core took during the launch.
	Steps int64
	// CPU is the master process's CPU time during the launch, GC the part
	// of it spent collecting garbage.
	CPU, GC time.Duration
	// PeerCPU and PeerRSS are the CPU time and the peak resident set of
	// the peer process that played the agents and frameworks (zero when
	// InProcess or unknown).
	PeerCPU time.Duration
	PeerRSS uint64
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
// queues). The simulated agents and frameworks run in a peer, a child
// process (see MainIfBenchLaunchPeer), linked to the master's process by
// a pipe each way: the master's side writes what it queues for each
// agent's connection and each framework's subscription to the peer, and
// decodes what the peer answers (AgentMessages, scheduler Calls) as its
// HTTP handlers decode them, feeding them to the loop. The peer's
// frameworks make one ACCEPT per offer, launching as many tasks as fit,
// and an ACKNOWLEDGE for every update; its agents answer RUN_TASK with
// TASK_RUNNING and, once that is acknowledged, TASK_FINISHED, as an
// agent's status update manager would. What arrives together goes to the
// loop as one request: the loop serves requests in batches anyway.
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
	h.stop = stop
	defer func() {
		stop()
		<-ran
	}()
	where := "a child process"
	if opts.InProcess {
		where = "this process"
	}
	fmt.Fprintf(w, "launch: %d agents (%d tasks at once each, %d goroutines playing them), %d frameworks, %d tasks of cpus:%g;mem:%g; agents and frameworks in %s; master's garbage collector: %s\n",
		opts.Agents, opts.Slots, opts.Workers, opts.Frameworks, opts.Tasks, launchTaskCPUs, launchTaskMem, where, gcSettings(opts.MemoryLimit))

	start := time.Now()
	if err := h.registerAgents(); err != nil {
		return res, err
	}
	res.Registered = time.Since(start)
	// The heap the agents take before any task, collected (before the
	// clock starts): what of the master's memory is per agent.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapAgents = ms.HeapAlloc
	fmt.Fprintf(w, "launch: %d agents registered in %.3fs; heap live then %.1f MiB (%.0f bytes per agent)\n",
		opts.Agents, res.Registered.Seconds(), float64(ms.HeapAlloc)/(1<<20), float64(ms.HeapAlloc)/float64(opts.Agents))

	peer, err := startPeer(opts.InProcess)
	if err != nil {
		return res, err
	}
	peerEnded := false
	endPeer := func() error {
		if peerEnded {
			return nil
		}
		peerEnded = true
		// The peer ends when its input does; what it still writes is
		// read to the end before it is waited for.
		stop()
		peer.stdin.Close()
		h.wg.Wait()
		u, err := peer.wait()
		res.PeerCPU, res.PeerRSS = u.CPU, u.MaxRSS
		return err
	}
	defer endPeer()
	h.out = newFrameWriter(peer.stdin)
	setup := launchPeerSetup{Tasks: opts.tasksOf(), Workers: opts.Workers, CPUs: launchTaskCPUs, Mem: launchTaskMem}
	for _, a := range h.agents {
		setup.Agents = append(setup.Agents, a.id)
	}
	js, err := json.Marshal(setup)
	if err != nil {
		return res, fmt.Errorf("bench launch: %w", err)
	}
	if err := h.out.write(appendFrame(nil, frameSetup, 0, js)); err != nil {
		return res, fmt.Errorf("bench launch: the peer's setup: %w", err)
	}
	// One batch waits while the loop runs another: enough to keep the
	// decoding and the loop going together, and no more decoded messages
	// alive (each batch of ACCEPTs holds thousands of TaskInfos).
	feeds := make(chan []core.Input, 1)
	h.wg.Add(2)
	go h.readPeer(peer.stdout, feeds)
	go h.feedLoop(runCtx, feeds)
	for _, s := range h.shards {
		h.wg.Add(1)
		go h.agentPump(runCtx, s)
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
	heap := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	classes := newMemClasses()
	for running := true; running; {
		select {
		case <-tick.C:
		case <-h.done:
			running = false
		case <-h.failed:
			if err := endPeer(); err != nil {
				return res, fmt.Errorf("%w (%w)", h.err, err)
			}
			return res, h.err
		case <-ctx.Done():
			p := h.progress.Load()
			return res, fmt.Errorf("bench launch: %d of %d tasks finished after %.3fs: %w",
				p.Finished, opts.Tasks, time.Since(start).Seconds(), ctx.Err())
		}
		metrics.Read(heap)
		res.HeapLive = max(res.HeapLive, heapSample(heap[0]))
		res.HeapPeak = max(res.HeapPeak, heapSample(heap[1]))
		classes.sample()
		p := h.progress.Load()
		if memProfile != "" && p.Finished >= int64(opts.Tasks/2) {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if err := writeHeapProfile(memProfile); err != nil {
				return res, fmt.Errorf("bench launch: %w", err)
			}
			memProfile = ""
			fmt.Fprintf(w, "launch: heap profile written to %s: %d tasks live; before it collected, the heap held %.1f MiB in use, %.1f MiB in all\n",
				opts.MemProfile, p.Launched-p.Finished, float64(ms.HeapAlloc)/(1<<20), float64(ms.HeapSys)/(1<<20))
		}
		if since := time.Since(start); since >= next && running {
			next += time.Second
			fmt.Fprintf(w, "launch: +%.0fs: %d tasks launched, %d finished, %d live\n",
				since.Seconds(), p.Launched, p.Finished, p.Launched-p.Finished)
		}
	}
	res.Launched = time.Since(start)
	if opts.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	res.CPU, res.GC = cputime.Process()-cpu0, gcCPU()-gc0
	res.Steps = h.steps.Load() - steps0
	p := h.progress.Load()
	res.PeakLive = int(p.PeakLive)
	res.Offers = p.Offers
	res.RSS, res.RSSSource = peakRSS()
	snap := m.latest().Metrics()
	if err := endPeer(); err != nil {
		return res, fmt.Errorf("bench launch: %w", err)
	}
	if got := int(snap["master/tasks_finished"]); got != opts.Tasks {
		return res, fmt.Errorf("bench launch: the master counts %d finished tasks; want %d", got, opts.Tasks)
	}
	live := float64(max(res.PeakLive, 1))
	fmt.Fprintf(w, "launch: %d offers, %d inputs to the loop (%.0f/s); master %.2fs of CPU (%.2fs collecting garbage), peer %.2fs; %s\n",
		res.Offers, res.Steps, float64(res.Steps)/res.Launched.Seconds(), res.CPU.Seconds(), res.GC.Seconds(), res.PeerCPU.Seconds(), m.loopTimes())
	fmt.Fprintf(w, "launch: peak %d live tasks; master %s %.1f MiB (%.0f bytes per peak live task), heap live at most %.1f MiB (%.0f B/task), heap objects at most %.1f MiB (%.0f B/task); peer peak RSS %.1f MiB\n",
		res.PeakLive, res.RSSSource, float64(res.RSS)/(1<<20), float64(res.RSS)/live,
		float64(res.HeapLive)/(1<<20), float64(res.HeapLive)/live, float64(res.HeapPeak)/(1<<20), float64(res.HeapPeak)/live,
		float64(res.PeerRSS)/(1<<20))
	limit := "none"
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		limit = fmt.Sprintf("%.1f MiB", float64(l)/(1<<20))
	}
	fmt.Fprintf(w, "launch: the Go runtime's memory when it held the most (%.1f MiB, not counting what it returned to the system): %s; soft memory limit at the end %s\n",
		float64(classes.peak)/(1<<20), classes.String(), limit)
	_, err = fmt.Fprintln(w, res.Line())
	return res, err
}

// memClasses follows the Go runtime's memory classes
// (/memory/classes/...) and keeps them as they were when the runtime held
// the most memory not returned to the system: what the resident set is
// made of, as the runtime sees it.
type memClasses struct {
	now, atPeak []metrics.Sample
	peak        uint64
}

// The classes memClasses reports, with their short names.
var memClassNames = [][2]string{
	{"/memory/classes/heap/objects:bytes", "heap objects"},
	{"/memory/classes/heap/unused:bytes", "unused in heap spans"},
	{"/memory/classes/heap/free:bytes", "free heap not returned"},
	{"/memory/classes/heap/stacks:bytes", "stacks"},
	{"/memory/classes/metadata/mspan/inuse:bytes", "span metadata"},
	{"/memory/classes/metadata/mcache/inuse:bytes", "mcache"},
	{"/memory/classes/metadata/other:bytes", "GC and other metadata"},
	{"/memory/classes/os-stacks:bytes", "OS stacks"},
	{"/memory/classes/other:bytes", "other"},
	{"/memory/classes/profiling/buckets:bytes", "profiling"},
}

func newMemClasses() *memClasses {
	c := &memClasses{}
	for _, n := range memClassNames {
		c.now = append(c.now, metrics.Sample{Name: n[0]})
	}
	c.atPeak = slices.Clone(c.now)
	return c
}

func (c *memClasses) sample() {
	metrics.Read(c.now)
	var total uint64
	for _, s := range c.now {
		total += heapSample(s)
	}
	if total > c.peak {
		c.peak = total
		copy(c.atPeak, c.now)
	}
}

func (c *memClasses) String() string {
	var b strings.Builder
	for i, s := range c.atPeak {
		if v := heapSample(s); v >= 1<<20 {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %.1f MiB", memClassNames[i][1], float64(v)/(1<<20))
		}
	}
	return b.String()
}

// gcSettings says how the process's garbage collector is set: GOGC and the
// soft memory limit (limit when the caller says how it set it).
func gcSettings(limit string) string {
	pct := debug.SetGCPercent(100)
	debug.SetGCPercent(pct)
	gogc := "off"
	if pct >= 0 {
		gogc = strconv.Itoa(pct)
	}
	if limit == "" {
		limit = "none"
		if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
			limit = fmt.Sprintf("%.1f MiB", float64(l)/(1<<20))
		}
	}
	return "GOGC=" + gogc + ", memory limit " + limit
}

// heapSample is a runtime/metrics sample's bytes (0 when the runtime does
// not have it).
func heapSample(s metrics.Sample) uint64 {
	if s.Value.Kind() == metrics.KindUint64 {
		return s.Value.Uint64()
	}
	return 0
}

const (
	launchTaskCPUs = 0.1
	launchTaskMem  = 32.0
)

// launchBench is the master's side of BenchLaunch: it carries the
// master's messages and events to the peer and the peer's messages and
// calls to the loop.
type launchBench struct {
	m      *Master
	opts   BenchLaunchOptions
	shards []*launchShard
	agents []*launchAgent
	fws    []*launchFramework
	out    *frameWriter

	wg   sync.WaitGroup
	stop context.CancelFunc

	steps atomic.Int64
	// progress is the peer's latest counters.
	progress atomic.Pointer[launchProgress]
	// done closes when the peer reports every task finished.
	done     chan struct{}
	doneOnce sync.Once

	failed  chan struct{}
	errOnce sync.Once
	err     error
}

// launchShard is the agents one goroutine carries the messages of: their
// queues all wake it.
type launchShard struct {
	notify chan struct{}
	agents []*launchAgent
}

// launchAgent is a simulated agent's connection, on the master's side.
type launchAgent struct {
	index    int
	id, conn string
	sink     *sink
}

// launchFramework is a simulated scheduler's subscription, on the
// master's side.
type launchFramework struct {
	index  int
	name   string
	stream string
	events *sink
}

func newLaunchBench(m *Master, opts BenchLaunchOptions) *launchBench {
	h := &launchBench{m: m, opts: opts, failed: make(chan struct{}), done: make(chan struct{})}
	h.progress.Store(&launchProgress{})
	for range opts.Workers {
		h.shards = append(h.shards, &launchShard{notify: make(chan struct{}, 1)})
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
				a := &launchAgent{index: i, conn: "bench-agent-" + strconv.Itoa(i)}
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
				a.sink.id = a.id
				shard.agents = append(shard.agents, a)
				h.agents = append(h.agents, a)
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

// agentPump carries a shard's agents' messages to the peer: whenever one
// of their queues has records, it takes every agent's queue and writes
// them to the link, as their connections' writers would write them.
func (h *launchBench) agentPump(ctx context.Context, s *launchShard) {
	defer h.wg.Done()
	var out []byte
	for {
		select {
		case <-s.notify:
		case <-ctx.Done():
			return
		}
		out = out[:0]
		var taken []*launchAgent
		for _, a := range s.agents {
			records := a.sink.poll()
			for i, rec := range records {
				out = appendFrame(out, frameToAgent, a.index, rec)
				records[i] = nil
			}
			if len(records) > 0 {
				taken = append(taken, a)
			}
			if len(out) >= 1<<16 {
				if !h.write(ctx, out) {
					return
				}
				out = out[:0]
			}
		}
		if len(out) > 0 && !h.write(ctx, out) {
			return
		}
		for _, a := range taken {
			a.sink.written()
		}
		out = dropLarge(out)
	}
}

// dropLarge is buf, or nil when it grew past 64 KiB: a pump's buffer that
// once held a big batch (a framework's offers from a whole cluster) is
// not kept alive between batches.
func dropLarge(buf []byte) []byte {
	if cap(buf) > 1<<16 {
		return nil
	}
	return buf
}

// write writes frames to the peer; on an error it fails the bench unless
// ctx is done.
func (h *launchBench) write(ctx context.Context, frames []byte) bool {
	if err := h.out.write(frames); err != nil {
		if ctx.Err() == nil {
			h.fail(fmt.Errorf("writing to the peer: %w", err))
		}
		return false
	}
	return true
}

// frameworkPump carries a framework's events to the peer, as its
// subscription's writer would.
func (h *launchBench) frameworkPump(ctx context.Context, f *launchFramework) {
	defer h.wg.Done()
	var out []byte
	for {
		records, ok := f.events.next(ctx)
		if !ok {
			return
		}
		out = out[:0]
		for i, rec := range records {
			out = appendFrame(out, frameToFramework, f.index, rec)
			records[i] = nil
		}
		if !h.write(ctx, out) {
			return
		}
		f.events.written()
		out = dropLarge(out)
	}
}

// readPeer reads the peer's frames until the link ends: each agent
// message and scheduler call is decoded, as the master's HTTP handlers
// decode them, and the inputs that arrived together go to feeds as one
// batch (at most launchBatch).
func (h *launchBench) readPeer(r io.Reader, feeds chan<- []core.Input) {
	defer h.wg.Done()
	defer close(feeds)
	in := bufio.NewReaderSize(r, 1<<16)
	// Whatever the peer still writes is read, so that it never blocks
	// writing and ends once its input does.
	defer io.Copy(io.Discard, in)
	var buf []byte
	var ins []core.Input
	for {
		kind, index, payload, grown, err := readFrame(in, buf)
		buf = grown
		if err != nil {
			select {
			case <-h.done:
			default:
				if err == io.EOF {
					err = errPeerEnded
				}
				h.fail(fmt.Errorf("reading from the peer: %w", err))
			}
			return
		}
		switch kind {
		case frameFromAgent:
			if index >= len(h.agents) {
				h.fail(fmt.Errorf("the peer sent a message from agent %d of %d", index, len(h.agents)))
				return
			}
			msg := &agentproto.AgentMessage{}
			if err := agentproto.UnmarshalAgentMessage(payload, msg); err != nil {
				h.fail(fmt.Errorf("agent %d: bad message: %w", index, err))
				return
			}
			a := h.agents[index]
			ins = append(ins, core.AgentMessage{AgentID: a.id, Conn: a.conn, Msg: msg})
		case frameFromFramework:
			if index >= len(h.fws) {
				h.fail(fmt.Errorf("the peer sent a call of framework %d of %d", index, len(h.fws)))
				return
			}
			call := &schedpb.Call{}
			if err := proto.Unmarshal(payload, call); err != nil {
				h.fail(fmt.Errorf("framework %d: bad call: %w", index, err))
				return
			}
			ins = append(ins, core.SchedulerCall{Stream: h.fws[index].stream, Call: call})
		case frameProgress, frameDone:
			p, err := decodeProgress(payload)
			if err != nil {
				h.fail(err)
				return
			}
			h.progress.Store(&p)
			if kind == frameDone {
				h.doneOnce.Do(func() { close(h.done) })
			}
		case frameError:
			h.fail(fmt.Errorf("the peer: %s", payload))
			return
		default:
			h.fail(fmt.Errorf("an unexpected frame %q from the peer (does this executable call master.MainIfBenchLaunchPeer first thing?)", kind))
			return
		}
		if len(ins) > 0 && (len(ins) >= launchBatch || in.Buffered() == 0) {
			feeds <- ins
			ins = nil
		}
	}
}

// feedLoop feeds the batches to the loop, one request each.
func (h *launchBench) feedLoop(ctx context.Context, feeds <-chan []core.Input) {
	defer h.wg.Done()
	for ins := range feeds {
		if err := h.feed(ins); err != nil {
			if ctx.Err() == nil {
				h.fail(err)
			}
			for range feeds {
			}
			return
		}
	}
}

// launchBatch bounds the inputs sent to the loop in one request, so that
// the loop does not hold the outputs of tens of thousands at once.
const launchBatch = 512

// subscribeFrameworks subscribes the frameworks and starts carrying their
// events to the peer.
func (h *launchBench) subscribeFrameworks(ctx context.Context) error {
	for i := range h.opts.Frameworks {
		f := &launchFramework{
			index: i, name: "bench launch " + strconv.Itoa(i), stream: "bench-framework-" + strconv.Itoa(i),
			// The peer reads its events as fast as the loop makes them,
			// but a framework's queue holds a whole cluster's offers at
			// once.
			events: newSink(codec.Protobuf, 1<<22, 1<<32),
		}
		info := &mesos.FrameworkInfo{
			Name: proto.String(f.name), User: proto.String("bench"), FailoverTimeout: proto.Float64(3600),
		}
		h.fws = append(h.fws, f)
		var r core.Result
		if err := h.m.do(func() {
			h.m.frameworkSinks[f.stream] = f.events
			r = h.m.step(core.SchedulerCall{Stream: f.stream, Call: &schedpb.Call{
				Type: schedpb.Call_SUBSCRIBE.Enum(), Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: info},
			}})
		}); err != nil {
			return fmt.Errorf("bench launch: %w", err)
		}
		if r.Code.Failed() {
			return fmt.Errorf("bench launch: subscribing %s: %s: %s", f.name, r.Code, r.Message)
		}
		h.wg.Add(1)
		go h.frameworkPump(ctx, f)
	}
	return nil
}

// tasksOf is how many tasks each framework launches.
func (o BenchLaunchOptions) tasksOf() []int {
	n := make([]int, o.Frameworks)
	for i := range n {
		n[i] = o.Tasks / o.Frameworks
		if i < o.Tasks%o.Frameworks {
			n[i]++
		}
	}
	return n
}

// launchPeerProc is the running peer.
type launchPeerProc struct {
	stdin  io.WriteCloser
	stdout io.ReadCloser
	// wait ends the peer (its input closed) and waits for it.
	wait func() (launchPeerUsage, error)
}

// launchPeerUsage is what the peer process used, when it is one.
type launchPeerUsage struct {
	CPU    time.Duration
	MaxRSS uint64
}

// startPeer starts the peer: a child process running this executable with
// BenchLaunchPeerEnv=1, or, in process, a goroutine over pipes.
func startPeer(inProcess bool) (*launchPeerProc, error) {
	if inProcess {
		toR, toW := io.Pipe()
		fromR, fromW := io.Pipe()
		ended := make(chan error, 1)
		go func() {
			err := runLaunchPeer(toR, fromW)
			fromW.Close()
			toR.CloseWithError(io.ErrClosedPipe)
			ended <- err
		}()
		return &launchPeerProc{stdin: toW, stdout: fromR, wait: func() (launchPeerUsage, error) {
			toW.Close()
			err := <-ended
			return launchPeerUsage{}, err
		}}, nil
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench launch: the peer: %w", err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), BenchLaunchPeerEnv+"=1")
	stderr := &tailBuffer{max: 4096}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("bench launch: the peer: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bench launch: the peer: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench launch: starting the peer: %w", err)
	}
	return &launchPeerProc{stdin: stdin, stdout: stdout, wait: func() (launchPeerUsage, error) {
		stdin.Close()
		err := cmd.Wait()
		var u launchPeerUsage
		if ps := cmd.ProcessState; ps != nil {
			u.CPU = ps.UserTime() + ps.SystemTime()
			u.MaxRSS = maxRSSOf(ps)
		}
		if err != nil {
			err = fmt.Errorf("the peer: %w: %s", err, strings.TrimSpace(stderr.String()))
		}
		return u, err
	}}, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
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
