package sim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	agentcore "github.com/gomesos/gomesos/agent/core"
	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master/core"
	"google.golang.org/protobuf/proto"
)

// The agents' settings, the real agent's defaults (package agent).
const (
	agentRegistrationTimeout = time.Minute      // --executor_registration_timeout
	agentShutdownGrace       = 5 * time.Second  // --executor_shutdown_grace_period
	agentBackoffFactor       = time.Second      // --registration_backoff_factor
	agentRetryMin            = 10 * time.Second // status update retries
	agentRetryMax            = 10 * time.Minute
	executorAckTimeout       = time.Minute // the built-in executors' wait for acknowledgements
	executorResubscribeMax   = 2 * time.Second
)

// simAgent is one agent of the simulated cluster: the real agent state
// machine (agent/core.Core, the one the gomesos binary runs) and the
// simulated edge around it, which does what the binary's driver (package
// agent) does with real sockets and processes:
//
//   - the master link: Connect becomes a subscribe request to the master
//     Core over a simulated stream (agentConn), Send a POST of an
//     AgentMessage; what the master sends on the stream comes back as
//     MasterMessage inputs, and the end of the stream (closed, broken, or
//     the request failed) as MasterStreamEnded. Every message can be lost,
//     delayed or cut off by a partition (world.linkFault).
//   - the containerizer: Launch starts a simulated container; after a
//     short while it is reported launched (ContainerLaunched) and its
//     executor starts. Destroy kills it, and its end is reported
//     (ContainerExited).
//   - the executor API: the simulated executor (simExecutor) subscribes
//     and sends status updates with ExecutorCall inputs; the core's
//     ExecutorEvent outputs are delivered to it.
//   - the clock: the core is stepped at virtual times only, and ticked
//     at the deadlines it asks for (NextDeadline).
//
// A machine crash drops the Core, its containers and its durable store;
// the agent restarts with a new Core of the same Config, which has no
// checkpoint to recover from and so registers as a new agent. A process
// crash drops only the Core: the containers run on and the store (the
// checkpoint the core wrote through its Checkpoint outputs) stays; the new
// Core recovers from it (recover.go).
type simAgent struct {
	w   *world
	idx int
	cfg agentcore.Config

	core *agentcore.Core // nil while crashed
	// machine is the machine's incarnation, bumped by machine crashes
	// only: the containers' own timers belong to it, and outlive the
	// agent's process.
	machine int
	// store is the agent's durable store under --work_dir: every
	// Checkpoint output applied, in order. A machine crash wipes it.
	store map[string]map[string][]byte
	// exited are the containers whose executor ended while the agent's
	// process was down, with their wait status, for its recovery.
	exited map[string]int
	// acked are the uuids of the updates whose acknowledgement the agent
	// took from the master (no-resend-after-ack); they go with the store.
	acked map[string]bool
	// inc is the incarnation, bumped by crashes and restarts: events of an
	// older incarnation find a different one and do nothing.
	inc  int
	conn *agentConn // the stream of the core's current attempt
	hung *agentConn // the stream a hung crash left open
	a2m  link
	// partitionedUntil: until then nothing passes between the agent and
	// the master.
	partitionedUntil time.Duration

	// registered is set while the core is registered on conn (REGISTERED
	// arrived on it); everRegistered once it ever was.
	registered, everRegistered bool
	// inflight counts messages on their way between this agent and the
	// master, either way.
	inflight int
	// touched is set by anything but pings since the agent was last found
	// in agreement with the master (checkAgent); settled once it settled
	// after the workload (settleCheck).
	touched, settled bool
	// launchedAny is set once the running core launched a container.
	launchedAny bool
	// killing are the tasks the master asked the agent to kill, until
	// they are seen gone from it (checkAgent): the agent is not quiet
	// while it kills one.
	killing map[taskKey]bool

	wakeGen uint64 // stales scheduled ticks
	wakeAt  time.Duration
	waking  bool

	containers map[string]*simExecutor // by container ID, until it ends
	byConn     map[int64]*simExecutor  // executor event streams
	nextConn   int64
	nextPid    int
}

func newAgent(w *world, idx int, res []*mesos.Resource) *simAgent {
	host := fmt.Sprintf("agent-%05d.sim", idx)
	a := &simAgent{w: w, idx: idx, store: map[string]map[string][]byte{}, exited: map[string]int{}, acked: map[string]bool{}}
	endpoint := a.endpoint()
	a.cfg = agentcore.Config{
		WorkDir:             "/var/lib/gomesos/" + host,
		ExecutorBinary:      "/usr/bin/gomesos",
		Endpoint:            endpoint,
		PID:                 "slave(1)@" + endpoint,
		RegistrationTimeout: agentRegistrationTimeout,
		ShutdownGrace:       agentShutdownGrace,
		BackoffFactor:       agentBackoffFactor,
		RetryMin:            agentRetryMin,
		RetryMax:            agentRetryMax,
		RecoveryTimeout:     w.cfg.Faults.ExecutorRecoveryTimeout,
		AgentInfo:           &mesos.AgentInfo{Hostname: &host, Port: proto.Int32(5051), Resources: res},
	}
	return a
}

func (a *simAgent) endpoint() string {
	return fmt.Sprintf("10.%d.%d.%d:5051", 1+a.idx>>16, a.idx>>8&0xff, a.idx&0xff)
}

func (a *simAgent) tracef(format string, args ...any) {
	a.w.tracef("a"+strconv.Itoa(a.idx)+" "+format, args...)
}

// later runs fn after d unless the agent crashed or restarted meanwhile.
func (a *simAgent) later(d time.Duration, fn func()) { a.at(a.w.now+d, fn) }

// at runs fn at virtual time t unless the agent crashed or restarted
// meanwhile.
func (a *simAgent) at(t time.Duration, fn func()) {
	inc := a.inc
	a.w.at(t, func() {
		if a.inc == inc && a.core != nil {
			fn()
		}
	})
}

// id is the ID the master gave the running core, if any.
func (a *simAgent) id() string {
	if a.core == nil {
		return "down"
	}
	return a.core.AgentID()
}

// up reports whether the agent runs (has not crashed).
func (a *simAgent) up() bool { return a.core != nil }

// boot starts the agent's first incarnation.
func (a *simAgent) boot() {
	if a.core == nil && a.inc == 0 {
		a.start(false)
	}
}

// start makes a new Core, seeded from the run's seed, and starts it. With
// recovering, the machine ran on while the agent's process was down: the
// core recovers from the store and the containers found (recover).
func (a *simAgent) start(recovering bool) {
	a.inc++
	a.core = agentcore.New(a.cfg, a.w.clock(), a.w.rng.Uint64(), nil)
	if !recovering {
		a.containers = map[string]*simExecutor{}
		a.exited = map[string]int{}
	}
	a.byConn = map[int64]*simExecutor{}
	a.killing = map[taskKey]bool{}
	a.touched, a.launchedAny = true, len(a.containers) > 0
	if recovering {
		a.recover()
		if a.core == nil || a.w.failure != nil {
			return
		}
	}
	a.step(agentcore.Start{})
}

// ---- Stepping the core ----

// step feeds the core one input at the current virtual time and carries
// out its outputs; the outputs are returned for the caller to read
// answers from.
func (a *simAgent) step(in agentcore.Input) []agentcore.Output {
	if a.core == nil {
		return nil
	}
	outs := a.core.Step(a.w.clock(), in)
	if a.crashMidStep(in, outs) {
		return nil
	}
	a.apply(outs)
	a.schedule()
	return outs
}

// crashMidStep decides whether the agent's process dies in the middle of
// carrying out a step (FaultConfig.CrashMidStep): right after it has
// persisted the step's Checkpoint, before anything else of the step is
// done. Then it does so, and reports true.
func (a *simAgent) crashMidStep(in agentcore.Input, outs []agentcore.Output) bool {
	w := a.w
	if w.phase != phaseRun || len(outs) < 2 {
		return false
	}
	if _, ok := outs[0].(agentcore.Checkpoint); !ok {
		return false
	}
	switch in.(type) {
	case agentcore.Exit, agentcore.SnapshotRequest:
		return false
	}
	if !w.chance(w.cfg.Faults.CrashMidStep) {
		return false
	}
	a.apply(outs[:1])
	w.report.Faults.MidStepCrashes++
	a.tracef("FAULT the agent's process dies having persisted the checkpoint of a step (%T), before %s", in, describeOutputs(outs[1:]))
	a.crashProcess(false, 0)
	return true
}

// schedule arranges a Tick for the core's next deadline.
func (a *simAgent) schedule() {
	if a.core == nil {
		return
	}
	d := a.core.NextDeadline()
	if d.IsZero() {
		return
	}
	at := max(d.Sub(a.w.epoch), a.w.now)
	if a.waking && a.wakeAt <= at {
		return // an earlier wake-up comes first and reschedules
	}
	a.wakeGen++
	gen, inc := a.wakeGen, a.inc
	a.waking, a.wakeAt = true, at
	a.w.at(at, func() {
		if a.inc != inc || a.wakeGen != gen || a.core == nil {
			return
		}
		a.waking = false
		if d := a.core.NextDeadline(); !d.IsZero() && !a.w.clock().Before(d) {
			a.step(agentcore.Tick{})
		} else {
			a.schedule()
		}
	})
}

// apply carries out the core's outputs, as the driver's apply does. A
// Checkpoint goes to the durable store before anything else of the step is
// done: checkpoint-first holds that the core emits it first, and once.
func (a *simAgent) apply(outs []agentcore.Output) {
	for i, o := range outs {
		switch o := o.(type) {
		case agentcore.Checkpoint:
			if i != 0 {
				a.w.fail("checkpoint-first", "a%d (%s): a Checkpoint of %d ops is output %d of a step, after %s; the driver must persist it before anything else of the step",
					a.idx, a.id(), len(o.Ops), i, describeOutputs(outs[:i]))
				return
			}
			agentcore.ApplyCheckpoint(a.store, o.Ops)
		case agentcore.Connect:
			a.connect(o.Gen, o.Msg)
		case agentcore.Disconnect:
			if a.conn != nil && a.conn.gen == o.Gen {
				a.w.agentLetGo(a.conn)
				a.conn, a.registered = nil, false
			}
		case agentcore.Send:
			if u := o.Msg.GetStatusUpdate(); u != nil && a.acked[string(u.GetStatus().GetUuid())] {
				a.w.fail("no-resend-after-ack", "a%d (%s) sends update %s again after it took its acknowledgement",
					a.idx, a.id(), describeStatus(u.GetFrameworkId().GetValue(), u.GetStatus()))
				return
			}
			a.w.agentPost(a, o)
		case agentcore.Launch:
			a.launch(o.Spec)
		case agentcore.Destroy:
			if e := a.containers[o.ContainerID]; e != nil {
				e.destroy()
			}
		case agentcore.ExecutorEvent:
			if e := a.byConn[o.Conn]; e != nil {
				if ack := o.Event.GetAcknowledged(); ack != nil {
					a.w.agentAcknowledged(e, ack.GetTaskId().GetValue(), ack.GetUuid())
				}
				e.event(o.Conn, o.Event)
			}
		case agentcore.ExecutorClose:
			if e := a.byConn[o.Conn]; e != nil {
				e.streamClosed(o.Conn)
			}
		case agentcore.UpdateContainer, agentcore.Attach, agentcore.Detach, agentcore.Collect:
			// No isolation and no sandboxes to serve.
		case agentcore.Answer, agentcore.SnapshotReply:
			// Read by the caller of step from the outputs.
		default:
			a.w.fail("known-outputs", "agent %d: unknown output %T", a.idx, o)
		}
	}
}

// snapshot is the core's /state and /metrics view.
func (a *simAgent) snapshot() *agentcore.Snapshot {
	for _, o := range a.step(agentcore.SnapshotRequest{}) {
		if r, ok := o.(agentcore.SnapshotReply); ok {
			return r.Snapshot
		}
	}
	return nil
}

// call makes an executor API call and returns the core's answer.
func (a *simAgent) call(c *execpb.Call, conn int64) agentcore.CallResult {
	for _, o := range a.step(agentcore.ExecutorCall{Call: c, Conn: conn}) {
		if r, ok := o.(agentcore.Answer); ok {
			return r.Result
		}
	}
	return agentcore.CallResult{Status: agentcore.CallBadRequest, Msg: "no answer"}
}

// ---- The master link ----

// connect opens a subscribe stream for attempt gen, dropping any other,
// as the driver's masterLink does.
func (a *simAgent) connect(gen uint64, msg *agentproto.AgentMessage) {
	if a.conn != nil {
		a.w.agentLetGo(a.conn)
	}
	c := a.w.newConn(a)
	c.gen, c.inc = gen, a.inc
	a.conn, a.registered = c, false
	a.touched = true
	a.w.agentSubscribe(a, c, msg)
}

// mine reports whether stream c belongs to the running incarnation and
// the agent still holds it.
func (a *simAgent) mine(c *agentConn) bool {
	return a.core != nil && c.inc == a.inc && !c.agentDone
}

// subscribeAnswered is the answer to the subscribe request of stream c:
// the stream opens (MasterStream), or the request failed.
func (a *simAgent) subscribeAnswered(c *agentConn, refused string) {
	if !a.mine(c) || c.broken {
		return
	}
	if refused != "" {
		a.streamEnded(c, "subscribe refused: "+refused)
		return
	}
	a.step(agentcore.MasterStream{Gen: c.gen, StreamID: c.id})
}

// receive is a message from the master arriving on stream c.
func (a *simAgent) receive(c *agentConn, m *agentproto.MasterMessage) {
	if !a.mine(c) || c.broken {
		return // lost with its stream
	}
	a.tracef("<m %s", describeMaster(m))
	if m.GetType() != agentproto.MasterMessage_PING {
		a.touched = true
	}
	if rt := m.GetRunTask(); rt != nil {
		a.w.delivered[rt.GetFrameworkInfo().GetId().GetValue()+"/"+rt.GetTask().GetTaskId().GetValue()] = true
	}
	a.w.checkAgentKept(a, m)
	if k := m.GetKillTask(); k != nil {
		a.killing[taskKey{k.GetFrameworkId().GetValue(), k.GetTaskId().GetValue()}] = true
	}
	a.step(agentcore.MasterMessage{Gen: c.gen, Msg: m})
	if ack := m.GetAcknowledge(); ack != nil {
		// Taken, and checkpointed with the step (even if the process
		// died right after).
		a.acked[string(ack.GetUuid())] = true
	}
	if m.GetType() == agentproto.MasterMessage_REGISTERED && c == a.conn && !a.registered && a.core != nil && a.core.AgentID() != "" {
		a.registered, a.everRegistered = true, true
		a.w.report.Registrations++
	}
}

// streamEnded: the master closed the stream, the network cut it, or the
// subscribe request failed.
func (a *simAgent) streamEnded(c *agentConn, why string) {
	if !a.mine(c) {
		return
	}
	a.tracef("stream %s ended: %s", c.id, why)
	a.touched = true
	if c == a.conn {
		a.registered = false
	}
	a.step(agentcore.MasterStreamEnded{Gen: c.gen, Err: errors.New(why)})
}

// rejected: the master refused a message posted on stream streamID.
func (a *simAgent) rejected(streamID string, code core.Code) {
	status := httpStatus(code)
	if status >= 500 {
		return // the driver only logs a server error
	}
	a.tracef("message on %s refused (%s)", streamID, code)
	a.touched = true
	a.step(agentcore.MasterRejected{StreamID: streamID, Status: status})
}

// httpStatus is the master driver's status for a refusal.
func httpStatus(c core.Code) int {
	switch c {
	case core.Invalid:
		return 400
	case core.NotSubscribed:
		return 403
	case core.Conflict:
		return 409
	case core.Unsupported:
		return 501
	}
	return 500
}

// ---- Faults ----

func (a *simAgent) partitioned() bool { return a.w.now < a.partitionedUntil }

// partition cuts the agent off from the master for d. Its stream goes
// dead silently.
func (a *simAgent) partition(d time.Duration) {
	a.w.report.Faults.Partitions++
	a.tracef("FAULT partitioned for %v", d)
	a.partitionedUntil = a.w.now + d
	if a.conn != nil {
		a.conn.broken = true
	}
}

// crash stops the agent's machine: the Core and every container are gone.
// With closeConn the stream closes; otherwise the agent hangs and the
// stream stays open until it restarts.
func (a *simAgent) crash(closeConn bool) {
	w := a.w
	w.report.Faults.Crashes++
	how := "hangs"
	if closeConn {
		how = "dies"
	}
	a.tracef("FAULT crash: the agent %s", how)
	if closeConn {
		w.agentLetGo(a.conn)
	} else if a.conn != nil {
		a.hung = a.conn
	}
	for _, e := range a.containers {
		e.gone = true
	}
	a.machine++
	a.store = map[string]map[string][]byte{} // the disk is lost with the machine
	a.acked = map[string]bool{}
	a.conn, a.registered, a.core = nil, false, nil
	a.containers, a.byConn, a.exited = nil, nil, map[string]int{}
	a.inc++
	a.waking = false
	inc := a.inc
	w.after(w.uniform(w.cfg.Faults.RestartMin, w.cfg.Faults.RestartMax), func() {
		if a.inc == inc && a.core == nil {
			a.restart()
		}
	})
}

// restart brings a crashed agent back: a new Core with the same Config.
func (a *simAgent) restart() {
	a.w.report.Faults.Restarts++
	a.tracef("restarts")
	if a.hung != nil {
		a.w.agentLetGo(a.hung) // the old process's connection resets
		a.hung = nil
	}
	a.start(false)
}

// crashProcess kills the agent's process, as kill -9 or the OOM killer
// does: the Core is gone and the kernel closes its connections (to the
// master and the executors' streams), but its containers run on and its
// durable store stays. With exit, the process is told to exit first
// (SIGTERM: Exit) and does what the core asks before it goes. It restarts
// and recovers after down or, when zero, after RestartMin..RestartMax.
func (a *simAgent) crashProcess(exit bool, down time.Duration) {
	w := a.w
	w.report.Faults.ProcessCrashes++
	if exit {
		a.tracef("FAULT the agent's process is restarted (SIGTERM)")
		a.step(agentcore.Exit{})
	}
	a.tracef("FAULT the agent's process dies; %d containers run on", len(a.containers))
	w.agentLetGo(a.conn)
	a.conn, a.registered, a.core = nil, false, nil
	a.inc++
	a.waking = false
	clear(a.byConn)
	for _, cid := range sortedKeys(a.containers) {
		e := a.containers[cid]
		if !e.launched {
			// The launch was under way: no executor runs in it. Had the
			// core recorded the container, it finds it ended.
			e.gone = true
			delete(a.containers, cid)
			a.exited[cid] = 9
			continue
		}
		e.agentLost()
	}
	inc := a.inc
	if down == 0 {
		down = w.uniform(w.cfg.Faults.RestartMin, w.cfg.Faults.RestartMax)
	}
	w.after(down, func() {
		if a.inc == inc && a.core == nil {
			w.report.Faults.Restarts++
			a.tracef("the agent's process restarts and recovers")
			if w.chance(w.cfg.Faults.LostCheckpoint) {
				w.report.Faults.LostCheckpoints++
				a.tracef("FAULT the agent's checkpoint is gone")
				a.store = map[string]map[string][]byte{}
				a.acked = map[string]bool{}
			}
			a.start(true)
		}
	})
}

// ---- Containers and executors ----

// simExecutor is a container and the executor in it. It speaks the
// executor API as the built-in command executor does (package
// executor/builtin): it subscribes, runs the one task it is given
// (TASK_STARTING, TASK_RUNNING, then TASK_FINISHED or TASK_FAILED after
// the task's run time), sends every update with a fresh uuid and keeps it
// until the agent acknowledges it, kills its task on KILL and SHUTDOWN,
// and exits once its task is terminal and every update acknowledged (or
// after a minute subscribed without the acknowledgements). When it loses
// the agent (its stream breaks, the agent's process dies), a checkpointing
// executor (MESOS_CHECKPOINT=1) subscribes again after a random backoff of
// at most MESOS_SUBSCRIPTION_BACKOFF_MAX, until MESOS_RECOVERY_TIMEOUT has
// passed; then, and at once without checkpointing, it shuts down as on
// SHUTDOWN and exits 1 (package executor's connection policy).
//
// The process runs on the machine, not in the agent: its timers are the
// machine's (later) and outlive a crash of the agent's process.
type simExecutor struct {
	a           *simAgent
	containerID string
	fwID, id    string
	pid         int

	checkpoint      bool
	backoffMax      time.Duration // MESOS_SUBSCRIPTION_BACKOFF_MAX
	recoveryTimeout time.Duration // MESOS_RECOVERY_TIMEOUT
	everSubscribed  bool          // SUBSCRIBED ever arrived
	lost            bool          // it has no subscription and tries for one
	lostAt          time.Duration // since when
	givingUp        bool          // it gave up on the agent: it ends its task and exits 1
	retrying        bool          // an attempt to subscribe is due
	stalledUntil    time.Duration // it makes no attempt before then
	orphan          bool          // killed at recovery as unknown to the checkpoint

	launched   bool // ContainerLaunched was sent
	destroyed  bool // the agent killed it
	exiting    bool // it decided to exit
	gone       bool // its end was reported (or its machine crashed)
	conn       int64
	subscribed bool
	toExec     link // agent -> executor events
	toAgent    link // executor -> agent calls

	task         *simTask
	shuttingDown bool
	unacked      []*pendingUpdate
	ackWaitGen   int
}

// pendingUpdate is an update the executor keeps until acknowledged; sentOn
// is the stream it was last sent on (or carried by the SUBSCRIBE of).
type pendingUpdate struct {
	status *mesos.TaskStatus
	sentOn int64
}

type simTask struct {
	info     *mesos.TaskInfo
	state    mesos.TaskState
	terminal bool
	killing  bool
	gen      int    // stales the task's timers
	endUUID  string // the uuid of the update that reported its end
}

// launch starts a container for spec.
func (a *simAgent) launch(spec agentcore.LaunchSpec) {
	w := a.w
	e := &simExecutor{a: a, containerID: spec.ID, fwID: envValue(spec.Env, "MESOS_FRAMEWORK_ID"), id: envValue(spec.Env, "MESOS_EXECUTOR_ID"),
		checkpoint: envValue(spec.Env, "MESOS_CHECKPOINT") == "1", backoffMax: executorResubscribeMax, recoveryTimeout: 15 * time.Minute}
	if d, err := codec.ParseDuration(envValue(spec.Env, "MESOS_SUBSCRIPTION_BACKOFF_MAX")); err == nil && d > 0 {
		e.backoffMax = d
	}
	if d, err := codec.ParseDuration(envValue(spec.Env, "MESOS_RECOVERY_TIMEOUT")); err == nil && d > 0 {
		e.recoveryTimeout = d
	}
	if d := w.cfg.Faults.ExecutorRecoveryTimeout; d > 0 {
		e.recoveryTimeout = d
	}
	a.containers[spec.ID] = e
	a.touched, a.launchedAny = true, true
	w.report.Executors++
	a.tracef("launches container %s: executor %s of %s", shortID(spec.ID), e.id, e.fwID)
	faults := w.phase == phaseRun
	fail := faults && w.chance(w.cfg.Faults.LaunchFail)
	hang := faults && !fail && w.chance(w.cfg.Faults.ExecutorHang)
	a.later(w.uniform(time.Millisecond, 20*time.Millisecond), func() {
		if e.gone || e.destroyed {
			return
		}
		if spec.Path == "" || fail {
			why := "nothing to run"
			if fail {
				w.report.Faults.LaunchFailures++
				why = "simulated launch failure"
				e.tracef("FAULT the container fails to launch")
			}
			e.gone = true
			delete(a.containers, e.containerID)
			a.step(agentcore.ContainerLaunched{ContainerID: spec.ID, Err: errors.New(why)})
			return
		}
		a.nextPid++
		e.launched = true
		e.pid = 1000 + a.nextPid
		a.step(agentcore.ContainerLaunched{ContainerID: spec.ID, Pid: e.pid})
		if hang {
			// The executor process hangs before it subscribes: the agent's
			// registration timeout has to end it.
			w.report.Faults.ExecutorHangs++
			e.tracef("FAULT the executor hangs before subscribing")
			return
		}
		// The executor process starts and subscribes.
		e.later(w.uniform(10*time.Millisecond, 300*time.Millisecond), e.subscribe)
	})
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func (e *simExecutor) tracef(format string, args ...any) {
	e.a.tracef("e:"+e.fwID+"/"+e.id+" "+format, args...)
}

// alive reports whether the executor's process still runs.
func (e *simExecutor) alive() bool { return !e.gone && !e.exiting && !e.destroyed }

// later runs fn after d unless the container ended or its machine crashed
// meanwhile: the executor's process does not depend on the agent's.
func (e *simExecutor) later(d time.Duration, fn func()) {
	a, m := e.a, e.a.machine
	a.w.after(d, func() {
		if a.machine == m && !e.gone {
			fn()
		}
	})
}

// local is the latency of the executor API (the agent's own host).
func (e *simExecutor) local() time.Duration {
	return e.a.w.uniform(50*time.Microsecond, time.Millisecond)
}

func (e *simExecutor) newCall(t execpb.Call_Type) *execpb.Call {
	return &execpb.Call{
		FrameworkId: &mesos.FrameworkID{Value: proto.String(e.fwID)},
		ExecutorId:  &mesos.ExecutorID{Value: proto.String(e.id)},
		Type:        t.Enum(),
	}
}

// subscribe is SUBSCRIBE, carrying what the executor holds unacknowledged.
func (e *simExecutor) subscribe() {
	if !e.alive() {
		return
	}
	a := e.a
	if a.core == nil {
		// The agent's process is down: the connection is refused.
		e.tracef("SUBSCRIBE: the agent is down")
		e.disconnected()
		return
	}
	sub := &execpb.Call_Subscribe{}
	if e.task != nil && (!e.task.terminal || len(e.unacked) > 0) {
		sub.UnacknowledgedTasks = []*mesos.TaskInfo{e.task.info}
	}
	a.nextConn++
	conn := a.nextConn
	for _, u := range e.unacked {
		sub.UnacknowledgedUpdates = append(sub.UnacknowledgedUpdates, &execpb.Call_Update{Status: u.status})
		u.sentOn = conn
	}
	call := e.newCall(execpb.Call_SUBSCRIBE)
	call.Subscribe = sub
	e.tracef("SUBSCRIBE on %d with %d unacknowledged updates", conn, len(sub.UnacknowledgedUpdates))
	a.byConn[conn] = e
	e.conn = conn
	r := a.call(call, conn)
	if a.core == nil {
		return // the agent's process died answering: the connection broke (agentLost)
	}
	if r.Status != agentcore.CallOK {
		delete(a.byConn, conn)
		e.conn = 0
		e.tracef("SUBSCRIBE refused (%s: %s)", r.Status, r.Msg)
		if retryable(r.Status) {
			e.disconnected()
			return
		}
		// The executor cannot work without the agent: it exits.
		e.exit(1)
		return
	}
	// The events the core sent with its answer (SUBSCRIBED and any queued
	// LAUNCH) are on their way on the stream.
}

// event is an executor event arriving on stream conn.
func (e *simExecutor) event(conn int64, ev *execpb.Event) {
	a := e.a
	a.at(e.toExec.arrival(a.w.now, e.local()), func() {
		if e.conn != conn || e.gone || e.destroyed {
			return
		}
		e.handle(ev)
	})
}

func (e *simExecutor) handle(ev *execpb.Event) {
	switch ev.GetType() {
	case execpb.Event_SUBSCRIBED:
		// Like the executor library: the updates not yet acknowledged went
		// with SUBSCRIBE; those made since go out now.
		e.subscribed, e.everSubscribed, e.lost = true, true, false
		for _, u := range e.unacked {
			if u.sentOn != e.conn {
				e.send(u)
			}
		}
		// The wait for acknowledgements runs while subscribed: it starts
		// again.
		e.maybeExit()
	case execpb.Event_LAUNCH:
		e.launch(ev.GetLaunch().GetTask())
	case execpb.Event_LAUNCH_GROUP:
		e.tracef("LAUNCH_GROUP is not for a command executor; shutting down")
		e.shutdown()
	case execpb.Event_KILL:
		if t := e.task; t != nil && t.info.GetTaskId().GetValue() == ev.GetKill().GetTaskId().GetValue() {
			e.kill(t)
		}
	case execpb.Event_SHUTDOWN:
		e.shutdown()
	case execpb.Event_ACKNOWLEDGED:
		e.acknowledged(ev.GetAcknowledged().GetUuid())
	case execpb.Event_MESSAGE, execpb.Event_HEARTBEAT, execpb.Event_ERROR:
	}
}

// launch runs the executor's one task.
func (e *simExecutor) launch(info *mesos.TaskInfo) {
	w := e.a.w
	if e.task != nil {
		e.update(info.GetTaskId(), mesos.TaskState_TASK_FAILED, `Attempted to run multiple tasks using a "command" executor`)
		return
	}
	if e.shuttingDown {
		e.update(info.GetTaskId(), mesos.TaskState_TASK_KILLED, "Executor is shutting down")
		return
	}
	t := &simTask{info: info}
	e.task = t
	w.taskStarts(e)
	e.setState(t, mesos.TaskState_TASK_STARTING)
	e.taskLater(t, w.uniform(time.Millisecond, 200*time.Millisecond), func() {
		e.setState(t, mesos.TaskState_TASK_RUNNING)
		e.taskLater(t, w.uniform(w.cfg.TaskDurationMin, w.cfg.TaskDurationMax), func() {
			if w.chance(w.cfg.FailRatio) {
				e.finish(t, mesos.TaskState_TASK_FAILED)
			} else {
				e.finish(t, mesos.TaskState_TASK_FINISHED)
			}
		})
	})
}

// taskLater runs fn after d if the task still runs as it was.
func (e *simExecutor) taskLater(t *simTask, d time.Duration, fn func()) {
	gen := t.gen
	e.later(d, func() {
		if t.gen == gen && !t.terminal && !e.destroyed {
			fn()
		}
	})
}

func (e *simExecutor) setState(t *simTask, st mesos.TaskState) {
	t.state = st
	e.update(t.info.GetTaskId(), st, "")
}

// kill is SIGTERM to the task's process, which ends it shortly.
func (e *simExecutor) kill(t *simTask) {
	if t.terminal || t.killing {
		return
	}
	t.killing = true
	t.gen++
	e.taskLater(t, e.a.w.uniform(time.Millisecond, 100*time.Millisecond), func() {
		e.finish(t, mesos.TaskState_TASK_KILLED)
	})
}

func (e *simExecutor) finish(t *simTask, st mesos.TaskState) {
	t.terminal = true
	t.gen++
	t.state = st
	t.endUUID = string(e.update(t.info.GetTaskId(), st, ""))
	e.maybeExit()
}

// shutdown kills the task and exits once it is reported.
func (e *simExecutor) shutdown() {
	if e.shuttingDown {
		return
	}
	e.shuttingDown = true
	if e.task != nil {
		e.kill(e.task)
	}
	e.maybeExit()
}

// update makes a status update and sends it when subscribed; it is kept
// until acknowledged. It returns the update's uuid.
func (e *simExecutor) update(id *mesos.TaskID, st mesos.TaskState, message string) []byte {
	w := e.a.w
	s := &mesos.TaskStatus{
		TaskId:     id,
		State:      st.Enum(),
		Source:     mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
		ExecutorId: &mesos.ExecutorID{Value: proto.String(e.id)},
		Timestamp:  proto.Float64(float64(w.clock().UnixNano()) / 1e9),
		Uuid:       w.newUUID(),
	}
	if message != "" {
		s.Message = proto.String(message)
	}
	u := &pendingUpdate{status: s}
	e.unacked = append(e.unacked, u)
	if e.subscribed && e.conn != 0 {
		e.send(u)
	}
	return s.Uuid
}

// send posts UPDATE to the agent (a request of its own, which does not
// depend on the event stream).
func (e *simExecutor) send(u *pendingUpdate) {
	a := e.a
	u.sentOn = e.conn
	s := u.status
	a.at(e.toAgent.arrival(a.w.now, e.local()), func() {
		if e.gone {
			return
		}
		a.touched = true
		e.tracef("UPDATE %s %x", s.GetState(), shortUUID(s.GetUuid()))
		call := e.newCall(execpb.Call_UPDATE)
		call.Update = &execpb.Call_Update{Status: s}
		r := a.call(call, 0)
		if a.core == nil {
			return // the agent's process died answering: kept for re-delivery
		}
		switch r.Status {
		case agentcore.CallAccepted:
		case agentcore.CallForbidden:
			// Kept for re-delivery after the next subscription.
		default:
			// Refused for good: the built-in executor's client drops it.
			e.tracef("UPDATE %s refused (%s: %s)", s.GetState(), r.Status, r.Msg)
			e.forget(s.GetUuid())
			e.maybeExit()
		}
	})
}

func (e *simExecutor) acknowledged(uuid []byte) {
	if e.forget(uuid) {
		e.maybeExit()
	}
}

func (e *simExecutor) forget(uuid []byte) bool {
	for i, u := range e.unacked {
		if string(u.status.GetUuid()) == string(uuid) {
			e.unacked = append(e.unacked[:i:i], e.unacked[i+1:]...)
			return true
		}
	}
	return false
}

// maybeExit exits once the task is done and every update acknowledged; a
// minute subscribed without the acknowledgements, it gives up and exits
// with 1. An executor that gave up on the agent exits 1 once its task
// ended.
func (e *simExecutor) maybeExit() {
	if !e.alive() || (e.task == nil && !e.shuttingDown) || (e.task != nil && !e.task.terminal) {
		return
	}
	if e.givingUp {
		e.exit(1)
		return
	}
	if len(e.unacked) == 0 {
		e.exit(0)
		return
	}
	e.ackWaitGen++
	if !e.subscribed {
		return // it waits for a subscription first
	}
	gen := e.ackWaitGen
	e.later(executorAckTimeout, func() {
		if e.ackWaitGen == gen && e.alive() && e.subscribed {
			e.tracef("no acknowledgement for %d updates; exiting", len(e.unacked))
			e.a.w.fail("executor-acknowledged", "a%d (%s): executor %s/%s waited %v for the agent to acknowledge %s",
				e.a.idx, e.a.id(), e.fwID, e.id, executorAckTimeout, describeUnacked(e.unacked))
			e.exit(1)
		}
	})
}

func describeUnacked(us []*pendingUpdate) string {
	var parts []string
	for _, u := range us {
		parts = append(parts, fmt.Sprintf("%s %x", u.status.GetState(), shortUUID(u.status.GetUuid())))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// exit ends the executor's process with status code.
func (e *simExecutor) exit(code int) {
	if e.exiting || e.gone {
		return
	}
	e.exiting = true
	if code == 0 && e.task != nil && e.task.terminal {
		// Every update acknowledged: the agent took the task's end.
		e.a.w.executorEnded(e.fwID, e.task.info.GetTaskId().GetValue(), e.task.state)
	}
	e.later(e.local(), func() { e.ended(code<<8, fmt.Sprintf("exited with status %d", code)) })
}

// destroy is the containerizer killing the container.
func (e *simExecutor) destroy() {
	if e.destroyed || e.gone {
		return
	}
	e.destroyed = true
	e.later(e.a.w.uniform(time.Millisecond, 100*time.Millisecond), func() { e.ended(9, "killed by signal 9") })
}

// ended reports the container's end to the agent: its stream closes and
// the containerizer reaps it.
func (e *simExecutor) ended(status int, how string) {
	if e.gone {
		return
	}
	a := e.a
	e.gone = true
	delete(a.containers, e.containerID)
	a.touched = true
	e.tracef("container %s ended: %s", shortID(e.containerID), how)
	if e.conn != 0 {
		conn := e.conn
		e.conn = 0
		delete(a.byConn, conn)
		a.step(agentcore.ExecutorDisconnected{Conn: conn})
	}
	switch {
	case e.orphan:
		// Killed at recovery: the core never knew it.
	case a.core == nil:
		// The agent's process is down: the containerizer's records keep
		// the end for its recovery.
		a.exited[e.containerID] = status
	default:
		a.step(agentcore.ContainerExited{Termination: agentcore.Termination{ContainerID: e.containerID, Status: status, How: how}})
	}
}

// breakStream: the executor's event stream breaks. Both ends notice.
func (e *simExecutor) breakStream() {
	a := e.a
	conn := e.conn
	a.later(e.local(), func() { a.step(agentcore.ExecutorDisconnected{Conn: conn}) })
	e.streamClosed(conn)
}

// crash: the executor's process dies of a signal, with its task.
func (e *simExecutor) crash() {
	e.exiting = true
	e.later(e.local(), func() { e.ended(9, "killed by signal 9") })
}

// agentLost: the agent's process died, and with it the executor's stream.
func (e *simExecutor) agentLost() {
	e.conn, e.subscribed = 0, false
	e.ackWaitGen++ // the wait for acknowledgements runs only while subscribed
	if e.alive() {
		e.disconnected()
	}
}

// disconnected: the executor has no subscription (its stream ended, or an
// attempt failed). A checkpointing executor, or one that never subscribed
// yet, tries again after a random backoff, until MESOS_RECOVERY_TIMEOUT
// (before the first subscription: the registration timeout) has passed
// since it lost the agent; then, and at once for an executor that does
// not checkpoint, it gives up: it shuts down as on SHUTDOWN and exits 1.
func (e *simExecutor) disconnected() {
	if !e.alive() {
		return
	}
	w := e.a.w
	if !e.checkpoint && e.everSubscribed {
		e.tracef("lost the agent; not checkpointing, so it shuts down")
		e.giveUp()
		return
	}
	if !e.lost {
		e.lost, e.lostAt = true, w.now
	}
	limit := e.recoveryTimeout
	if !e.everSubscribed {
		limit = agentRegistrationTimeout
	}
	if w.now-e.lostAt >= limit {
		e.tracef("no subscription for %v; giving up on the agent", w.now-e.lostAt)
		e.giveUp()
		return
	}
	if e.retrying {
		return
	}
	e.retrying = true
	e.later(w.uniform(0, e.backoffMax), e.attempt)
}

// attempt is a due attempt to subscribe, unless the process is stalled.
func (e *simExecutor) attempt() {
	if w := e.a.w; w.now < e.stalledUntil {
		e.later(e.stalledUntil-w.now, e.attempt)
		return
	}
	e.retrying = false
	if e.conn == 0 && e.alive() {
		e.subscribe()
	}
}

// giveUp: the executor gave up on the agent: it kills its task (whose end
// no agent hears of) and exits 1.
func (e *simExecutor) giveUp() {
	if e.givingUp {
		return
	}
	e.givingUp = true
	e.a.w.report.Faults.ExecutorGiveUps++
	e.shutdown()
	e.maybeExit()
}

// retryable reports whether a refused SUBSCRIBE is worth trying again
// (the executor library retries server errors and an agent not ready).
func retryable(s agentcore.CallStatus) bool {
	return s > agentcore.CallNotImplemented
}

// streamClosed: the agent closed the executor's event stream, or it broke.
// A live executor subscribes again, as the executor library does.
func (e *simExecutor) streamClosed(conn int64) {
	a := e.a
	delete(a.byConn, conn)
	if e.conn != conn {
		return
	}
	e.conn = 0
	e.subscribed = false
	e.ackWaitGen++ // the wait for acknowledgements runs only while subscribed
	e.disconnected()
}

// describeOutputs names the types of outputs, for a failure.
func describeOutputs(outs []agentcore.Output) string {
	var parts []string
	for _, o := range outs {
		parts = append(parts, fmt.Sprintf("%T", o))
	}
	return "[" + strings.Join(parts, " ") + "]"
}
