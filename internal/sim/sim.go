package sim

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	agentcore "github.com/gomesos/gomesos/agent/core"
	"github.com/gomesos/gomesos/api/agentproto"
	registrypb "github.com/gomesos/gomesos/api/registry"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/master/allocator"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/resources"
)

// Report sums up a run. Two runs of the same Config have equal Reports.
type Report struct {
	Seed int64
	// Completed is set when every workload task reached a terminal state
	// (as its framework saw it) before MaxVirtualTime.
	Completed bool
	// Steps counts the inputs stepped into the master Core; Events counts
	// the simulator's events (deliveries, timers, faults).
	Steps, Events int
	// VirtualTime is how long the workload lasted on the virtual clock;
	// SettleTime how long the agents then took to settle (see checkSettled).
	VirtualTime, SettleTime time.Duration
	// Launched counts the tasks the master sent to agents (RUN_TASK).
	Launched int
	// TaskStates counts workload tasks by the terminal state their
	// framework saw ("TASK_FINISHED", ...); tasks never launched are under
	// "unlaunched" and launched tasks that never ended under "unfinished".
	TaskStates map[string]int
	// AgentsRegistered counts the agents that registered at least once;
	// Registrations counts every REGISTERED an agent received.
	AgentsRegistered, Registrations int
	// Offers counts the offers frameworks received; Subscriptions the
	// SUBSCRIBED events.
	Offers, Subscriptions int
	// Executors counts the containers the agents launched; AgentChecks
	// the times an agent was compared with the master (checkAgent).
	Executors, AgentChecks int
	// LeakedFrameworks counts the frameworks that tore themselves down
	// but that the master held again, recovered from an agent after a
	// failover, when the agents settled (leakedFrameworks).
	LeakedFrameworks int
	// QuotaUpdates counts the operator's UPDATE_QUOTA calls the master
	// took (Config.QuotaUpdates).
	QuotaUpdates int
	Messages     Messages
	Faults       Faults
	// Metrics are the master's task and agent counters at the end.
	Metrics map[string]float64
	// AllocatorRejectedRecoveries is the allocator's count of recoveries
	// it refused because the master's bookkeeping disagreed with its own.
	AllocatorRejectedRecoveries uint64
	// Trace is the run's events, one line each (see Config.TraceLimit);
	// TraceHash is an FNV-64a hash of every line.
	Trace      []string
	TraceLines int
	TraceHash  uint64
}

// Messages counts messages sent on each kind of link (including those
// later lost).
type Messages struct {
	MasterToAgent, AgentToMaster         int
	MasterToFramework, FrameworkToMaster int
}

// Faults counts the faults injected.
type Faults struct {
	Drops, Delays     int
	Crashes, Restarts int
	// ProcessCrashes counts the agent process crashes and deliberate
	// restarts (Crashes the machine crashes; Restarts the restarts after
	// either); ExecutorGiveUps
	// the executors that gave up on their agent; Orphans the containers
	// killed at recovery as unknown to the checkpoint; LostCheckpoints the
	// restarts that found the checkpoint gone; ExecutorStalls the
	// executors stalled past a restart of their agent; MidStepCrashes the
	// process crashes (among ProcessCrashes) between a step's checkpoint
	// and its other outputs.
	ProcessCrashes, ExecutorGiveUps, Orphans, LostCheckpoints, ExecutorStalls, MidStepCrashes int
	AgentDisconnects, FrameworkDisconnects                                                    int
	Partitions                                                                                int
	ExecutorDisconnects, ExecutorCrashes                                                      int
	LaunchFailures, ExecutorHangs                                                             int
	// MasterFailovers counts the crashes of the leading master, whatever
	// the cause: random (FaultConfig.MasterFailover) or scheduled ones,
	// failed registry writes (RegistryWriteFailures counts those) and
	// masters giving up leading (Aborts counts those); Elections the
	// masters elected after them.
	MasterFailovers, RegistryWriteFailures, Aborts, Elections int
}

// Failure is an invariant that failed. Running the same Config again
// replays the run up to the same failure.
type Failure struct {
	Seed      int64
	Step      int // master steps taken
	Event     int // simulator events processed
	Time      time.Duration
	Invariant string
	Detail    string
	Trace     []string // the last events before the failure
}

func (f *Failure) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sim: invariant %q failed: %s\n(seed %d, step %d, event %d, virtual time %v); the last events:\n",
		f.Invariant, f.Detail, f.Seed, f.Step, f.Event, f.Time)
	for _, l := range f.Trace {
		b.WriteString("  ")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

type phase int

const (
	phaseRun    phase = iota // the workload runs, faults are injected
	phaseDrain               // past MaxVirtualTime: no faults, no launches
	phaseSettle              // the workload ended: the agents settle
)

const (
	faultPeriod         = time.Second
	frameworkBackoffMax = 2 * time.Second
	accountingEvery     = 10  // checkAccounting runs every tenth check
	snapshotEvery       = 100 // checkSnapshot runs every hundredth check
	failoverTimeout     = 7 * 24 * time.Hour
)

// world is the simulated cluster and its event loop.
type world struct {
	cfg Config
	// ops follows the master's operator event stream (operator.go).
	ops   *operatorWatch
	rng   *rand.Rand
	epoch time.Time
	now   time.Duration
	seq   uint64
	queue eventQueue
	phase phase

	core  *core.Core
	alloc *allocator.HierarchicalDRF
	// opts are the master's options, the same for every master elected.
	opts core.Options
	// leading is set while a master leads: cleared when the leading
	// master crashes, set again when the next one is elected
	// (failover.go). term counts both changes: what was sent to one
	// master finds another term when it arrives, and is refused.
	leading bool
	term    int
	masters int // the masters elected so far
	// rejectedRecoveries are the allocator's refused recoveries of the
	// masters that crashed.
	rejectedRecoveries uint64
	// delivered are the tasks ("framework/task") whose RUN_TASK reached
	// their agent.
	delivered map[string]bool
	// pastEnds are the task counters (master/tasks_finished, ...) of the
	// masters that crashed, summed.
	pastEnds map[string]float64
	// pastRecorded are the ends the masters that crashed had recorded for
	// the tasks they no longer tracked (masterTaskEnds), the latest
	// master's record of a task winning.
	pastRecorded map[string]mesos.TaskState
	// registry is the master's durable registry, as its Persist outputs
	// left it.
	registry *registrypb.Registry

	agents     []*simAgent
	frameworks []*simFramework
	conns      map[string]*agentConn
	streams    map[string]*fwStream
	nextConn   int
	nextStream int

	taskQty   map[string]resources.Scalar
	taskProto []*mesos.Resource
	launched  map[string]bool // "framework/task" of every RUN_TASK sent
	// execEnds are the ends executors reported and the agents took.
	execEnds map[string]mesos.TaskState
	// running is the executor that last started each task (taskStarts);
	// agentAcks the updates agents acknowledged to executors of
	// checkpointing frameworks, by task (agentAcknowledged).
	running   map[taskKey]*simExecutor
	agentAcks map[taskKey][]agentAck

	frameworksDone int
	ended          bool          // the workload ended (every framework is done, or time is up)
	endedAt        time.Duration // when
	finished       bool          // the run is over: the agents settled, or an invariant failed
	failure        *Failure

	steps, events int
	accountedAt   int // the last step after which checkAccounting passed
	report        Report
	trace         tracer
}

// agentConn is an agent's subscription stream (the master's "Conn").
type agentConn struct {
	id         string
	agent      *simAgent
	gen        uint64 // the agent core's attempt
	inc        int    // the agent's incarnation
	masterOpen bool   // the master's driver holds it open
	closing    bool   // the master will be told it closed
	broken     bool   // the network cut it: nothing more gets through
	agentDone  bool   // the agent let go of it
	m2a        link
}

// fwStream is a framework's event stream (the master's "Stream").
type fwStream struct {
	id         string
	fw         *simFramework
	masterOpen bool
	closing    bool
	broken     bool
	m2f        link
}

// Run simulates the configured cluster. It returns the run's Report and,
// when an invariant fails, a *Failure (with the Report so far). Other
// errors mean the Config is invalid.
func Run(cfg Config) (Report, error) {
	cfg.setDefaults()
	agentRes, taskRes, err := cfg.validate()
	if err != nil {
		return Report{}, err
	}
	w := newWorld(cfg, agentRes, taskRes)
	w.start()
	for w.failure == nil && !w.finished && len(w.queue) > 0 {
		e := w.queue.pop()
		w.now = e.at
		w.events++
		e.fn()
	}
	w.fillReport()
	if w.failure != nil {
		return w.report, w.failure
	}
	return w.report, nil
}

func newWorld(cfg Config, agentRes, taskRes resources.Resources) *world {
	w := &world{
		cfg:          cfg,
		rng:          rand.New(rand.NewPCG(uint64(cfg.Seed), 0x51_6d_75_6c_61_74_65)),
		epoch:        time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		conns:        map[string]*agentConn{},
		streams:      map[string]*fwStream{},
		launched:     map[string]bool{},
		execEnds:     map[string]mesos.TaskState{},
		running:      map[taskKey]*simExecutor{},
		agentAcks:    map[taskKey][]agentAck{},
		taskQty:      taskRes.ToScalarQuantities(),
		registry:     &registrypb.Registry{},
		delivered:    map[string]bool{},
		pastEnds:     map[string]float64{},
		pastRecorded: map[string]mesos.TaskState{},
	}
	w.taskProto = resources.ToProto(taskRes)
	w.trace.init(cfg.TraceLimit, cfg.FailureTrace)
	w.report.Seed = cfg.Seed

	w.opts = cfg.Master
	w.opts.Logger = slog.New(slog.DiscardHandler)
	if w.opts.AllocationInterval <= 0 {
		w.opts.AllocationInterval = allocator.DefaultAllocationInterval
	}
	w.newMaster()
	w.leading = true

	agentProto := resources.ToProto(agentRes)
	for i := range cfg.Agents {
		w.agents = append(w.agents, newAgent(w, i, agentProto))
	}
	for i := range cfg.Frameworks {
		w.frameworks = append(w.frameworks, newFramework(w, i))
	}
	return w
}

func (w *world) start() {
	w.after(w.cfg.TickInterval, w.tick)
	for _, a := range w.agents {
		w.after(w.uniform(0, w.cfg.AgentStartSpread), a.boot)
	}
	for _, f := range w.frameworks {
		w.after(w.uniform(0, w.cfg.AgentStartSpread), f.subscribe)
	}
	if w.cfg.Faults.any() {
		w.after(faultPeriod, w.injectFaults)
	}
	if w.cfg.AgentCheckInterval > 0 {
		w.after(w.cfg.AgentCheckInterval, w.periodicAgentCheck)
	}
	if w.cfg.QuotaUpdates > 0 {
		w.after(time.Second, w.quotaOperator)
	}
	for _, at := range w.cfg.MasterFailovers {
		w.at(at, func() {
			if w.leading {
				w.checkRegistry()
				w.masterCrash("scheduled failover")
			}
		})
	}
	for _, pc := range w.cfg.ProcessCrashes {
		w.at(pc.At, func() {
			if a := w.agents[pc.Agent]; a.up() {
				a.crashProcess(pc.Exit, max(pc.Down, time.Nanosecond))
			}
		})
	}
	w.after(w.cfg.MaxVirtualTime, w.drain)
	w.after(w.cfg.MaxVirtualTime+w.cfg.DrainTimeout, w.drainTimedOut)
	if len(w.frameworks) == 0 {
		// Nothing to wait for but the time limit.
		w.after(w.cfg.MaxVirtualTime, func() { w.end() })
	}
}

// ---- Scheduling and randomness ----

func (w *world) at(t time.Duration, fn func()) {
	w.seq++
	w.queue.push(event{at: t, seq: w.seq, fn: fn})
}

func (w *world) after(d time.Duration, fn func()) { w.at(w.now+d, fn) }

// carry schedules fn at t as a message between agent a and the master:
// until then it counts as in flight (simAgent.inflight).
func (w *world) carry(a *simAgent, t time.Duration, fn func()) {
	a.inflight++
	w.at(t, func() {
		a.inflight--
		fn()
	})
}

// carryMsg is carry, except that pings and pongs (heartbeat) are not
// counted: they change nothing the agent-side checks compare, and with
// short ping intervals one is nearly always on its way.
func (w *world) carryMsg(a *simAgent, t time.Duration, heartbeat bool, fn func()) {
	if heartbeat {
		w.at(t, fn)
		return
	}
	w.carry(a, t, fn)
}

func (w *world) clock() time.Time { return w.epoch.Add(w.now) }

// uniform draws a duration in [lo, hi].
func (w *world) uniform(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(w.rng.Int64N(int64(hi-lo)+1))
}

func (w *world) latency() time.Duration { return w.uniform(w.cfg.LatencyMin, w.cfg.LatencyMax) }

// detectDelay is how long it takes an end of a broken connection to notice.
func (w *world) detectDelay() time.Duration { return w.uniform(w.cfg.LatencyMin, 2*time.Second) }

func (w *world) chance(p float64) bool { return p > 0 && w.rng.Float64() < p }

// newUUID returns 16 bytes shaped as a version 4 UUID, from the seed.
func (w *world) newUUID() []byte {
	b := make([]byte, 16)
	for i := 0; i < 16; i += 8 {
		v := w.rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

// linkFault decides the fate of one message on agent a's link.
func (w *world) linkFault(a *simAgent) (drop bool, extra time.Duration) {
	if a.partitioned() {
		return true, 0
	}
	if w.phase != phaseRun {
		return false, 0
	}
	if w.chance(w.cfg.Faults.Drop) {
		w.report.Faults.Drops++
		return true, 0
	}
	if w.chance(w.cfg.Faults.Delay) {
		w.report.Faults.Delays++
		return false, w.uniform(0, w.cfg.Faults.MaxDelay)
	}
	return false, 0
}

// ---- The master ----

// step feeds the master one input and carries out its outputs.
func (w *world) step(in core.Input, desc string) core.Result {
	if !w.leading {
		return core.Result{Code: core.Internal, Message: noLeader}
	}
	w.steps++
	r := w.core.Step(w.clock(), in)
	outs := w.core.Outputs()
	if _, tick := in.(core.Tick); !tick || len(outs) > 0 {
		w.tracef("m<%s = %s (%d out)", desc, r.Code, len(outs))
	}
	w.dispatch(outs)
	if w.steps%w.cfg.CheckEvery == 0 && w.failure == nil && w.leading {
		if err := w.alloc.CheckInvariants(); err != nil {
			w.fail("allocator-invariants", "%v", err)
		}
		// The master's side of the comparison is its metrics snapshot,
		// which costs more than the step: every tenth check is enough
		// to catch a leak (leaks stay).
		if w.steps%(accountingEvery*w.cfg.CheckEvery) == 0 {
			w.checkAccounting()
		}
		if w.steps%(snapshotEvery*w.cfg.CheckEvery) == 0 {
			w.checkSnapshot()
			w.checkRegistry()
		}
	}
	return r
}

func (w *world) tick() {
	if w.leading {
		w.step(core.Tick{}, "tick")
	}
	w.after(w.cfg.TickInterval, w.tick)
}

// dispatch carries out the master's outputs, as the driver does: a
// Persist is a barrier (the registry operations of every Persist of the
// step are committed before anything after the first one is carried out,
// and if the commit fails, nothing after it is: commitAndCarryOut), and an
// Abort ends the master's leadership there.
func (w *world) dispatch(outs []core.Output) {
	first := slices.IndexFunc(outs, isBarrier)
	if first < 0 {
		w.carryOut(outs)
		return
	}
	w.carryOut(outs[:first])
	w.commitAndCarryOut(outs[first:])
}

// carryOut carries out outputs between barriers. Outputs for different
// connections are independent, so they are taken connection by connection
// (keeping their order on each): the Core may emit them in map order.
func (w *world) carryOut(outs []core.Output) {
	if len(outs) > 1 {
		outs = slices.Clone(outs)
		slices.SortStableFunc(outs, func(a, b core.Output) int { return strings.Compare(outputKey(a), outputKey(b)) })
	}
	for _, o := range outs {
		switch o := o.(type) {
		case core.SendEvent:
			w.sendEvent(o.Stream, o.Event)
		case core.CloseStream:
			w.closeStream(o.Stream)
		case core.SendAgent:
			w.sendAgent(o.Conn, o.Msg)
		case core.CloseAgent:
			w.closeAgent(o.Conn)
		case core.OperatorEvent:
			w.operatorEvent(o.Event)
		default:
			w.fail("known-outputs", "unknown output %T", o)
		}
	}
}

func outputKey(o core.Output) string {
	switch o := o.(type) {
	case core.SendEvent:
		return "s" + o.Stream
	case core.CloseStream:
		return "s" + o.Stream
	case core.SendAgent:
		return "c" + o.Conn
	case core.CloseAgent:
		return "c" + o.Conn
	}
	return ""
}

// ---- Agent links ----

func (w *world) newConn(a *simAgent) *agentConn {
	w.nextConn++
	c := &agentConn{id: "c" + strconv.Itoa(w.nextConn), agent: a}
	w.conns[c.id] = c
	return c
}

func (w *world) sendAgent(connID string, msg *agentproto.MasterMessage) {
	c := w.conns[connID]
	if c == nil || !c.masterOpen {
		return // the driver has no such stream
	}
	w.report.Messages.MasterToAgent++
	if rt := msg.GetRunTask(); rt != nil {
		key := rt.GetFrameworkInfo().GetId().GetValue() + "/" + rt.GetTask().GetTaskId().GetValue()
		if w.launched[key] {
			w.fail("launch-once", "task %s launched a second time (RUN_TASK on %s for agent %s)", key, connID, c.agent.id())
			return
		}
		w.launched[key] = true
		w.report.Launched++
	}
	if c.broken {
		return
	}
	drop, extra := w.linkFault(c.agent)
	if drop && c.agent.partitioned() {
		c.broken = true // silently: each end finds out by its timeouts
		return
	}
	if drop {
		w.tracef("FAULT lost m>a%d %s; stream %s breaks", c.agent.idx, describeMaster(msg), c.id)
		w.breakConn(c)
		return
	}
	if extra > 0 {
		w.tracef("FAULT delay m>a%d %s by %v", c.agent.idx, describeMaster(msg), extra)
	}
	w.carryMsg(c.agent, c.m2a.arrival(w.now, w.latency()+extra), msg.GetType() == agentproto.MasterMessage_PING,
		func() { c.agent.receive(c, msg) })
}

func (w *world) closeAgent(connID string) {
	c := w.conns[connID]
	if c == nil || !c.masterOpen {
		return
	}
	c.masterOpen = false
	if c.broken {
		return
	}
	w.carry(c.agent, c.m2a.arrival(w.now, w.latency()), func() { c.agent.streamEnded(c, "closed by the master") })
}

// breakConn cuts an agent's stream: each end notices after a while.
func (w *world) breakConn(c *agentConn) {
	if c.broken {
		return
	}
	c.broken = true
	w.masterLoses(c, w.detectDelay())
	w.carry(c.agent, w.now+w.detectDelay(), func() { c.agent.streamEnded(c, "connection broken") })
}

// masterLoses tells the master, after d, that the agent's stream closed.
func (w *world) masterLoses(c *agentConn, d time.Duration) {
	if !c.masterOpen || c.closing {
		return
	}
	c.closing = true
	if until := c.agent.partitionedUntil; until > w.now+d {
		d = until - w.now // nothing gets through before the partition heals
	}
	w.carry(c.agent, w.now+d, func() {
		if !c.masterOpen {
			return
		}
		c.masterOpen = false
		w.step(core.AgentClosed{Conn: c.id}, "AgentClosed "+c.id)
	})
}

// agentLetGo is the agent closing its end of a stream.
func (w *world) agentLetGo(c *agentConn) {
	if c == nil || c.agentDone {
		return
	}
	c.agentDone = true
	w.masterLoses(c, w.latency())
}

// agentSubscribe is an agent's POST /internal/agent/subscribe, opening
// stream c.
func (w *world) agentSubscribe(a *simAgent, c *agentConn, msg *agentproto.AgentMessage) {
	w.report.Messages.AgentToMaster++
	term := w.term
	drop, extra := w.linkFault(a)
	desc := fmt.Sprintf("a%d %s on %s", a.idx, msg.GetType(), c.id)
	if drop && a.partitioned() {
		w.carry(a, w.now+10*time.Second, func() { a.streamEnded(c, "subscribe request timed out") })
		return
	}
	if drop {
		w.tracef("FAULT lost %s", desc)
		w.carry(a, w.now+2*w.latency(), func() { a.streamEnded(c, "subscribe request failed") })
		return
	}
	if extra > 0 {
		w.tracef("FAULT delay %s by %v", desc, extra)
	}
	w.carry(a, a.a2m.arrival(w.now, w.latency()+extra), func() {
		if c.agentDone {
			return // the agent gave up on the request
		}
		if w.refused(term, desc) {
			w.carry(a, w.now+w.latency(), func() { a.streamEnded(c, "subscribe request failed: no leading master") })
			return
		}
		c.masterOpen = true
		// The answer goes back on the stream ahead of what the master
		// sends on it.
		refused := ""
		w.carry(a, c.m2a.arrival(w.now, w.latency()), func() { a.subscribeAnswered(c, refused) })
		if r := w.step(core.AgentSubscribe{Conn: c.id, Msg: msg}, desc); r.Code.Failed() {
			c.masterOpen = false
			refused = cmp.Or(r.Message, r.Code.String())
		}
	})
}

// agentPost is an agent's POST /internal/agent/message.
func (w *world) agentPost(a *simAgent, s agentcore.Send) {
	w.report.Messages.AgentToMaster++
	drop, extra := w.linkFault(a)
	desc := fmt.Sprintf("a%d %s", a.idx, describeAgent(s.Msg))
	if drop && a.partitioned() {
		return
	}
	if drop {
		w.tracef("FAULT lost %s", desc)
		return
	}
	if extra > 0 {
		w.tracef("FAULT delay %s by %v", desc, extra)
	}
	inc, term := a.inc, w.term
	w.carryMsg(a, a.a2m.arrival(w.now, w.latency()+extra), s.Msg.GetType() == agentproto.AgentMessage_PONG, func() {
		if w.refused(term, desc) {
			return // the POST failed; the driver only logs it
		}
		r := w.step(core.AgentMessage{AgentID: s.AgentID, Conn: s.StreamID, Msg: s.Msg}, desc)
		if r.Code.Failed() {
			w.carry(a, w.now+w.latency(), func() {
				if a.inc == inc {
					a.rejected(s.StreamID, r.Code)
				}
			})
		}
	})
}

// ---- Framework links ----

func (w *world) newStream(f *simFramework) *fwStream {
	w.nextStream++
	s := &fwStream{id: "s" + strconv.Itoa(w.nextStream), fw: f}
	w.streams[s.id] = s
	return s
}

func (w *world) sendEvent(streamID string, ev *schedpb.Event) {
	s := w.streams[streamID]
	if s == nil || !s.masterOpen {
		return
	}
	w.report.Messages.MasterToFramework++
	if s.broken {
		return
	}
	w.at(s.m2f.arrival(w.now, w.latency()), func() { s.fw.receive(s, ev) })
}

func (w *world) closeStream(streamID string) {
	s := w.streams[streamID]
	if s == nil || !s.masterOpen {
		return
	}
	s.masterOpen = false
	if s.broken {
		return
	}
	w.at(s.m2f.arrival(w.now, w.latency()), func() { s.fw.streamEnded(s, "closed by the master") })
}

// breakStream cuts a framework's event stream.
func (w *world) breakStream(s *fwStream) {
	if s.broken {
		return
	}
	s.broken = true
	if s.masterOpen && !s.closing {
		s.closing = true
		w.after(w.detectDelay(), func() {
			if !s.masterOpen {
				return
			}
			s.masterOpen = false
			w.step(core.StreamClosed{Stream: s.id}, "StreamClosed "+s.id)
		})
	}
	w.after(w.detectDelay(), func() { s.fw.streamEnded(s, "stream broken") })
}

// schedulerCall is a framework's POST /api/v1/scheduler. For SUBSCRIBE,
// stream is the stream it opens; otherwise the Mesos-Stream-Id it sends.
// done, if set, gets the call's result back.
func (w *world) schedulerCall(f *simFramework, stream *fwStream, call *schedpb.Call, desc string, done func(core.Result)) {
	w.schedulerCallTaken(f, stream, call, desc, done, nil)
}

// schedulerCallTaken is schedulerCall; taken, if set, learns the call's
// result as the master answers it (the simulator's bookkeeping, not the
// framework's).
func (w *world) schedulerCallTaken(f *simFramework, stream *fwStream, call *schedpb.Call, desc string, done, taken func(core.Result)) {
	if err := core.ValidateSchedulerCall(call); err != nil {
		w.fail("valid-calls", "framework %d made an invalid %s call: %v", f.idx, call.GetType(), err)
		return
	}
	w.report.Messages.FrameworkToMaster++
	desc = fmt.Sprintf("f%d %s", f.idx, desc)
	term := w.term
	w.at(f.f2m.arrival(w.now, w.latency()), func() {
		if w.refused(term, desc) {
			// The request failed: the connection was refused, or it
			// went to a master that is not (or no longer) the leader.
			r := core.Result{Code: core.Internal, Message: noLeader}
			if call.GetType() == schedpb.Call_SUBSCRIBE {
				w.after(w.latency(), func() { f.streamEnded(stream, "subscribe failed: no leading master") })
				return
			}
			if taken != nil {
				taken(r)
			}
			if done != nil {
				w.after(w.latency(), func() { done(r) })
			}
			return
		}
		var r core.Result
		if call.GetType() == schedpb.Call_SUBSCRIBE {
			if stream.broken {
				return
			}
			stream.masterOpen = true
			r = w.step(core.SchedulerCall{Call: call, Stream: stream.id}, desc+" on "+stream.id)
			if r.Code.Failed() {
				stream.masterOpen = false
			}
		} else {
			id := ""
			if stream != nil {
				id = stream.id
			}
			r = w.step(core.SchedulerCall{Call: call, Stream: id}, desc)
		}
		if taken != nil {
			taken(r)
		}
		if done != nil {
			w.after(w.latency(), func() { done(r) })
		}
	})
}

// ---- Faults ----

func (w *world) injectFaults() {
	if w.phase != phaseRun || w.ended {
		return
	}
	fc := w.cfg.Faults
	if w.chance(fc.MasterFailover) && w.leading {
		w.checkRegistry()
		w.masterCrash("FAULT")
	}
	if w.chance(fc.AgentCrash) {
		if a := w.pickAgent(func(a *simAgent) bool { return a.up() }); a != nil {
			a.crash(w.rng.IntN(2) == 0)
		}
	}
	if w.chance(fc.AgentProcessCrash) {
		if a := w.pickAgent(func(a *simAgent) bool { return a.up() }); a != nil {
			a.crashProcess(false, 0)
		}
	}
	if w.chance(fc.AgentProcessRestart) {
		if a := w.pickAgent(func(a *simAgent) bool { return a.up() }); a != nil {
			a.crashProcess(true, 0)
		}
	}
	if w.chance(fc.AgentDisconnect) {
		if a := w.pickAgent(func(a *simAgent) bool {
			return a.registered && a.conn != nil && a.conn.masterOpen && !a.conn.broken
		}); a != nil {
			w.report.Faults.AgentDisconnects++
			w.tracef("FAULT stream %s of a%d breaks", a.conn.id, a.idx)
			w.breakConn(a.conn)
		}
	}
	if w.chance(fc.AgentPartition) {
		if a := w.pickAgent(func(a *simAgent) bool { return a.up() && !a.partitioned() }); a != nil {
			a.partition(w.uniform(fc.PartitionMin, fc.PartitionMax))
		}
	}
	if w.chance(fc.ExecutorDisconnect) {
		if e := w.pickExecutor(func(e *simExecutor) bool { return e.alive() && e.subscribed && e.conn != 0 }); e != nil {
			w.report.Faults.ExecutorDisconnects++
			e.tracef("FAULT its event stream breaks")
			e.breakStream()
		}
	}
	if w.chance(fc.ExecutorCrash) {
		if e := w.pickExecutor(func(e *simExecutor) bool { return e.alive() && e.launched }); e != nil {
			w.report.Faults.ExecutorCrashes++
			e.tracef("FAULT its process dies")
			e.crash()
		}
	}
	if w.chance(fc.FrameworkDisconnect) {
		var live []*simFramework
		for _, f := range w.frameworks {
			if f.state == fwSubscribed && !f.finished && f.stream != nil && !f.stream.broken {
				live = append(live, f)
			}
		}
		if len(live) > 0 {
			f := live[w.rng.IntN(len(live))]
			w.report.Faults.FrameworkDisconnects++
			w.tracef("FAULT stream %s of f%d breaks", f.stream.id, f.idx)
			w.breakStream(f.stream)
		}
	}
	w.after(faultPeriod, w.injectFaults)
}

// pickAgent picks one agent that passes ok, by the seed.
func (w *world) pickAgent(ok func(*simAgent) bool) *simAgent {
	// Try a few random agents first: cheap with many agents.
	for range 8 {
		if a := w.agents[w.rng.IntN(len(w.agents))]; ok(a) {
			return a
		}
	}
	var cands []*simAgent
	for _, a := range w.agents {
		if ok(a) {
			cands = append(cands, a)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	return cands[w.rng.IntN(len(cands))]
}

// pickExecutor picks, by the seed, one executor that passes ok on an agent
// that has one.
func (w *world) pickExecutor(ok func(*simExecutor) bool) *simExecutor {
	a := w.pickAgent(func(a *simAgent) bool {
		for _, e := range a.containers {
			if ok(e) {
				return true
			}
		}
		return false
	})
	if a == nil {
		return nil
	}
	var cands []*simExecutor
	for _, id := range sortedKeys(a.containers) {
		if e := a.containers[id]; ok(e) {
			cands = append(cands, e)
		}
	}
	return cands[w.rng.IntN(len(cands))]
}

// ---- Phases ----

// drain starts the end of a run that hit MaxVirtualTime.
func (w *world) drain() {
	if w.ended {
		return
	}
	w.phase = phaseDrain
	w.tracef("DRAIN: time limit reached; faults stop, no more launches")
	for _, f := range w.frameworks {
		f.drain()
	}
}

func (w *world) drainTimedOut() {
	if w.ended || w.failure != nil {
		return
	}
	var stuck []string
	for _, f := range w.frameworks {
		for _, t := range f.tasks {
			if t.confirmed && !t.terminal {
				stuck = append(stuck, fmt.Sprintf("%s/%s on %s (seen %s)", f.id, t.id, t.agentID, compactStates(t.states)))
			}
		}
		if !f.finished && len(stuck) == 0 {
			stuck = append(stuck, fmt.Sprintf("framework %d not done (state %d)", f.idx, f.state))
		}
	}
	if len(stuck) > 5 {
		stuck = append(stuck[:5], fmt.Sprintf("and %d more", len(stuck)-5))
	}
	w.fail("every-task-ends", "%v after the time limit, launched tasks still not terminal: %s",
		w.cfg.DrainTimeout, strings.Join(stuck, "; "))
}

// frameworkDone notes a framework torn down; when all are, the run ends.
func (w *world) frameworkDone() {
	w.frameworksDone++
	if w.frameworksDone == len(w.frameworks) {
		w.end()
	}
}

// end ends the workload with the end-of-run checks, then lets the agents
// settle (settle).
func (w *world) end() {
	if w.ended {
		return
	}
	if !w.leading {
		// The end-of-run checks read the leading master: wait for one.
		w.after(100*time.Millisecond, w.end)
		return
	}
	w.ended, w.endedAt = true, w.now
	w.report.Completed = w.phase == phaseRun
	w.checkEnd()
	if w.failure != nil {
		w.finished = true
		return
	}
	w.settle()
}

func (w *world) fillReport() {
	r := &w.report
	r.Steps, r.Events, r.VirtualTime = w.steps, w.events, w.now
	if w.ended {
		r.VirtualTime, r.SettleTime = w.endedAt, w.now-w.endedAt
	}
	r.TaskStates = map[string]int{}
	for _, f := range w.frameworks {
		r.Subscriptions += f.subscriptions
		for _, t := range f.tasks {
			switch {
			case t.terminal:
				r.TaskStates[t.final.String()]++
			case t.confirmed:
				r.TaskStates["unfinished"]++
			default:
				r.TaskStates["unlaunched"]++
			}
		}
	}
	for _, a := range w.agents {
		if a.everRegistered {
			r.AgentsRegistered++
		}
	}
	m := w.core.Metrics()
	r.Metrics = map[string]float64{}
	for name, v := range m {
		if strings.HasPrefix(name, "master/tasks_") || strings.HasPrefix(name, "master/slave") ||
			strings.HasPrefix(name, "master/messages_") || strings.HasPrefix(name, "master/frameworks_") ||
			strings.HasSuffix(name, "status_updates") || name == "master/offers_rescinded" {
			r.Metrics[name] = v
		}
	}
	r.AllocatorRejectedRecoveries = w.rejectedRecoveries + w.alloc.Stats().RejectedRecoveries
	r.Trace = w.trace.lines
	r.TraceLines = w.trace.n
	r.TraceHash = w.trace.hash.Sum64()
}

// ---- Trace ----

type tracer struct {
	limit int
	lines []string
	n     int
	ring  []string
	pos   int
	hash  interface {
		Write([]byte) (int, error)
		Sum64() uint64
	}
}

func (t *tracer) init(limit, ring int) {
	t.limit = limit
	t.ring = make([]string, 0, ring)
	t.hash = fnv.New64a()
}

func (t *tracer) add(line string) {
	t.n++
	_, _ = t.hash.Write([]byte(line))
	_, _ = t.hash.Write([]byte{'\n'})
	if t.limit == 0 || (t.limit > 0 && len(t.lines) < t.limit) {
		t.lines = append(t.lines, line)
	}
	if len(t.ring) < cap(t.ring) {
		t.ring = append(t.ring, line)
	} else if cap(t.ring) > 0 {
		t.ring[t.pos] = line
		t.pos = (t.pos + 1) % cap(t.ring)
	}
}

// last returns the ring's lines, oldest first.
func (t *tracer) last() []string {
	out := make([]string, 0, len(t.ring))
	out = append(out, t.ring[t.pos:]...)
	return append(out, t.ring[:t.pos]...)
}

func (w *world) tracef(format string, args ...any) {
	line := strconv.Itoa(w.events) + " " + strconv.FormatFloat(w.now.Seconds(), 'f', 6, 64) + " " + fmt.Sprintf(format, args...)
	w.trace.add(line)
}

// fail records the first invariant that failed; the run stops.
func (w *world) fail(invariant, format string, args ...any) {
	if w.failure != nil {
		return
	}
	detail := fmt.Sprintf(format, args...)
	w.tracef("FAIL %s: %s", invariant, detail)
	w.failure = &Failure{
		Seed: w.cfg.Seed, Step: w.steps, Event: w.events, Time: w.now,
		Invariant: invariant, Detail: detail, Trace: w.trace.last(),
	}
}

// ---- Descriptions for the trace ----

func describeMaster(m *agentproto.MasterMessage) string {
	switch m.GetType() {
	case agentproto.MasterMessage_RUN_TASK:
		return "RUN_TASK " + m.GetRunTask().GetFrameworkInfo().GetId().GetValue() + "/" + m.GetRunTask().GetTask().GetTaskId().GetValue()
	case agentproto.MasterMessage_KILL_TASK:
		return "KILL_TASK " + m.GetKillTask().GetFrameworkId().GetValue() + "/" + m.GetKillTask().GetTaskId().GetValue()
	case agentproto.MasterMessage_ACKNOWLEDGE:
		a := m.GetAcknowledge()
		return fmt.Sprintf("ACKNOWLEDGE %s/%s %x", a.GetFrameworkId().GetValue(), a.GetTaskId().GetValue(), shortUUID(a.GetUuid()))
	case agentproto.MasterMessage_SHUTDOWN_FRAMEWORK:
		return "SHUTDOWN_FRAMEWORK " + m.GetShutdownFramework().GetFrameworkId().GetValue()
	case agentproto.MasterMessage_REGISTERED:
		return "REGISTERED " + m.GetRegistered().GetAgentId().GetValue()
	case agentproto.MasterMessage_SHUTDOWN:
		return "SHUTDOWN (" + m.GetMessage() + ")"
	}
	return m.GetType().String()
}

func describeAgent(m *agentproto.AgentMessage) string {
	switch m.GetType() {
	case agentproto.AgentMessage_STATUS_UPDATE:
		u := m.GetStatusUpdate()
		return "STATUS_UPDATE " + describeStatus(u.GetFrameworkId().GetValue(), u.GetStatus()) + " latest " + u.GetLatestState().String()
	case agentproto.AgentMessage_EXECUTOR_EXITED:
		e := m.GetExecutorExited()
		return fmt.Sprintf("EXECUTOR_EXITED %s/%s status %d", e.GetFrameworkId().GetValue(), e.GetExecutorId().GetValue(), e.GetStatus())
	}
	return m.GetType().String()
}

func describeStatus(fwID string, s *mesos.TaskStatus) string {
	out := fmt.Sprintf("%s/%s %s", fwID, s.GetTaskId().GetValue(), s.GetState())
	if len(s.GetUuid()) > 0 {
		out += fmt.Sprintf(" %x", shortUUID(s.GetUuid()))
	}
	if s.GetSource() == mesos.TaskStatus_SOURCE_MASTER {
		out += " (master: " + s.GetReason().String() + ")"
	}
	return out
}

func shortUUID(b []byte) []byte {
	if len(b) > 4 {
		return b[:4]
	}
	return b
}

// isTerminal reports whether a task state is final.
func isTerminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_FAILED, mesos.TaskState_TASK_KILLED,
		mesos.TaskState_TASK_ERROR, mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_DROPPED,
		mesos.TaskState_TASK_GONE, mesos.TaskState_TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}

// compactStates renders a task's states, each run of one state once with
// its count: [TASK_STARTING TASK_RUNNING×12].
func compactStates(states []mesos.TaskState) string {
	var parts []string
	for i := 0; i < len(states); {
		j := i
		for j < len(states) && states[j] == states[i] {
			j++
		}
		p := states[i].String()
		if j-i > 1 {
			p += "×" + strconv.Itoa(j-i)
		}
		parts = append(parts, p)
		i = j
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
