package core

import (
	"cmp"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/ids"
	"github.com/gomesos/gomesos/resources"
)

// ---- Inputs ----

// Input is something that happened, fed to Core.Step.
type Input interface{ isInput() }

// Start begins registration with the master.
type Start struct{}

// Tick says time has passed; due timers fire.
type Tick struct{}

// Stop says the agent is stopping: everything is destroyed.
type Stop struct{}

// MasterStream says the subscribe request of attempt Gen was accepted.
type MasterStream struct {
	Gen      uint64
	StreamID string
}

// MasterMessage is a message read from the stream of attempt Gen.
type MasterMessage struct {
	Gen uint64
	Msg *agentproto.MasterMessage
}

// MasterStreamEnded says attempt Gen failed or its stream ended.
type MasterStreamEnded struct {
	Gen        uint64
	Err        error
	Redirected bool // the master redirected to another; retry at once
	// NextMaster says the driver has moved on to a master of its list not
	// yet tried in this round (several masters, one of them leading): a
	// registration attempt that failed is retried there at once, so that
	// one round over the list costs one backoff step, not one per master.
	NextMaster bool
}

// MasterRejected says the master refused a message sent on StreamID: the
// stream is stale. Status is the master's answer (an HTTP status), for the
// log.
type MasterRejected struct {
	StreamID string
	Status   int
}

// ExecutorCall is an executor API call that passed the driver's checks
// (decoding, content types). For SUBSCRIBE, Conn is the new event stream's
// ID. The core answers with an Answer output carrying Reply, which it never
// uses itself.
type ExecutorCall struct {
	Call  *execpb.Call
	Conn  int64
	Reply chan<- CallResult
}

// ExecutorDisconnected says an executor's event stream closed.
type ExecutorDisconnected struct{ Conn int64 }

// ContainerLaunched reports the outcome of a Launch.
type ContainerLaunched struct {
	ContainerID string
	Pid         int
	Err         error
}

// ContainerExited reports a container's end.
type ContainerExited struct{ Termination Termination }

// SnapshotRequest asks for a copy of the state, for the endpoints; the
// core answers with a SnapshotReply carrying Reply.
type SnapshotRequest struct {
	Reply chan<- *Snapshot
}

func (Start) isInput()                {}
func (Tick) isInput()                 {}
func (Stop) isInput()                 {}
func (MasterStream) isInput()         {}
func (MasterMessage) isInput()        {}
func (MasterStreamEnded) isInput()    {}
func (MasterRejected) isInput()       {}
func (ExecutorCall) isInput()         {}
func (ExecutorDisconnected) isInput() {}
func (ContainerLaunched) isInput()    {}
func (ContainerExited) isInput()      {}
func (SnapshotRequest) isInput()      {}

// Termination says how a container ended, as the driver observed it.
type Termination struct {
	ContainerID string
	// Status is the raw wait status of the executor process, as Mesos
	// reports it to the master; -1 when the process never started.
	Status int
	// How describes the end for the log ("exited with status 0").
	How string
	// Limitation is set when an isolator ended the container for going
	// over a limit: its tasks end TASK_FAILED with this reason and message
	// (Mesos's ContainerLimitation).
	Limitation *Limitation
}

// Limitation is why an isolator ended a container.
type Limitation struct {
	Reason  mesos.TaskStatus_Reason
	Message string
}

// CallStatus is the core's verdict on an executor call. The driver renders
// it in its protocol (the executor API answers with HTTP statuses).
type CallStatus int

const (
	CallOK             CallStatus = iota // SUBSCRIBE accepted: the event stream opens
	CallAccepted                         // the call was taken
	CallBadRequest                       // unknown framework or executor
	CallForbidden                        // the executor is not subscribed
	CallNotImplemented                   // a call type the agent does not handle
)

func (s CallStatus) String() string {
	switch s {
	case CallOK:
		return "OK"
	case CallAccepted:
		return "Accepted"
	case CallBadRequest:
		return "BadRequest"
	case CallForbidden:
		return "Forbidden"
	case CallNotImplemented:
		return "NotImplemented"
	}
	return fmt.Sprintf("CallStatus(%d)", int(s))
}

// CallResult answers an executor call: a verdict and, for errors, the
// text to show.
type CallResult struct {
	Status CallStatus
	Msg    string
}

// ---- Outputs ----

// Output is something the core wants done.
type Output interface{ isOutput() }

// Connect opens a subscribe stream to the master (closing any other); the
// driver answers with MasterStream, MasterMessage and MasterStreamEnded
// carrying Gen.
type Connect struct {
	Gen uint64
	Msg *agentproto.AgentMessage
}

// Disconnect closes the stream of attempt Gen.
type Disconnect struct{ Gen uint64 }

// Send posts a message to the master on the given stream.
type Send struct {
	Msg      *agentproto.AgentMessage
	AgentID  string
	StreamID string
}

// Launch starts a container; the driver answers with ContainerLaunched.
type Launch struct{ Spec LaunchSpec }

// LaunchSpec describes an executor's container.
type LaunchSpec struct {
	// ID is the ContainerID value.
	ID string
	// Directory is the sandbox, also the executor's working directory.
	Directory string
	// Path is the program to run and Args its argv. An empty Path means
	// there is nothing to run: the launch fails.
	Path string
	Args []string
	// Env is the executor's whole environment, in "KEY=value" form.
	Env []string
	// Resources are what the container may use.
	Resources []*mesos.Resource
	// Container is the executor's ContainerInfo, else the agent's
	// --default_container_info, if any.
	Container *mesos.ContainerInfo
	// Limits are its cpus and mem limits beyond Resources (from the
	// tasks' TaskInfo.limits; +Inf for no limit at all); nil when none.
	Limits map[string]float64
	// URIs are the executor command's CommandInfo.uris, fetched into
	// Directory before the executor starts (a command task's own URIs are
	// its executor's, as in Mesos).
	URIs []*mesos.CommandInfo_URI
	// AgentID names the agent, whose fetcher cache the URIs use.
	AgentID string
}

// Destroy kills a container.
type Destroy struct{ ContainerID string }

// UpdateContainer tells the containerizer a container's new resources.
type UpdateContainer struct {
	ContainerID string
	Resources   []*mesos.Resource
	// Limits are as LaunchSpec's.
	Limits map[string]float64
}

// ExecutorEvent sends an event on an executor's stream.
type ExecutorEvent struct {
	Conn  int64
	Event *execpb.Event
}

// ExecutorClose closes an executor's stream.
type ExecutorClose struct{ Conn int64 }

// Answer answers an ExecutorCall.
type Answer struct {
	Reply  chan<- CallResult
	Result CallResult
}

// SnapshotReply answers a SnapshotRequest.
type SnapshotReply struct {
	Reply    chan<- *Snapshot
	Snapshot *Snapshot
}

// Attach makes a sandbox readable through /files under each of Paths.
type Attach struct {
	Dir   string
	Paths []string
}

// Detach removes every /files path of the given sandboxes.
type Detach struct{ Dirs []string }

// Collect schedules directories under the work directory for garbage
// collection (--gc_delay from now): the sandbox of an executor that was
// removed and the executor's directory above its runs, or the directory of
// a framework that left. A later launch below one of them takes it back.
type Collect struct{ Dirs []string }

func (Connect) isOutput()         {}
func (Disconnect) isOutput()      {}
func (Send) isOutput()            {}
func (Launch) isOutput()          {}
func (Destroy) isOutput()         {}
func (UpdateContainer) isOutput() {}
func (ExecutorEvent) isOutput()   {}
func (ExecutorClose) isOutput()   {}
func (Answer) isOutput()          {}
func (SnapshotReply) isOutput()   {}
func (Attach) isOutput()          {}
func (Detach) isOutput()          {}
func (Collect) isOutput()         {}

// ---- State ----

type linkState int

const (
	linkIdle       linkState = iota // waiting to (re)connect
	linkConnecting                  // subscribe sent, waiting for REGISTERED
	linkRegistered
)

func (s linkState) String() string {
	return [...]string{"disconnected", "connecting", "registered"}[s]
}

// metrics are the agent's counters (gauges are computed from the state).
type metrics struct {
	validStatusUpdates       uint64
	invalidStatusUpdates     uint64
	validFrameworkMessages   uint64
	invalidFrameworkMessages uint64
	containerLaunchErrors    uint64
	executorsTerminated      uint64
	tasksFinished            uint64
	tasksFailed              uint64
	tasksKilled              uint64
	tasksLost                uint64
	tasksGone                uint64
	executorsPreempted       uint64
}

// core is the state machine behind Core. See the package comment.
type core struct {
	cfg  Config
	rand *rand.Rand
	log  *slog.Logger
	// hostNetwork is the NetworkInfo of a container on the host's
	// network: the agent's IP (nil when its endpoint has none). It is
	// shared by every status that carries it and never changed.
	hostNetwork *mesos.NetworkInfo

	startTime time.Time
	agentID   string

	link            linkState
	gen             uint64
	streamID        string
	masterInfo      *mesos.MasterInfo
	pingTimeout     time.Duration
	pingDeadline    time.Time // registered: no ping by then means the master is gone
	connectDeadline time.Time // connecting: no REGISTERED by then means retry
	reconnectAt     time.Time // idle: when to try again
	backoff         time.Duration
	redirects       int
	pingEarly       bool // connecting: a PING came before REGISTERED

	frameworks          map[string]*framework
	completedFrameworks []*framework
	byContainer         map[string]*executor
	byConn              map[int64]*executor
	// exTimers holds the executors' registration and kill deadlines, by
	// container ID (see timerHeap; exTimerLive tells a current one).
	exTimers timerHeap[string]

	updates *updateManager
	// ckptRes are the agent's checkpointed resources: its dynamic
	// reservations and persistent volumes (operations.go).
	ckptRes []*mesos.Resource
	metrics metrics
	// oversubscribed is the revocable total last worked out from the
	// resource estimator's estimate (oversubscription.go), sent to the
	// master when it changes and on every registration; oversubscribedSet
	// says there has been an estimate.
	oversubscribed    resources.Resources
	oversubscribedSet bool

	ckpt    *tracker
	started bool // Start came
	// recoveredAt is when recovery finished: at Start, or once the
	// recovered executors subscribed again or were given up on.
	recoveredAt     time.Time
	recoveryPending bool // recovered executors may yet subscribe again
	exited          bool // Exit came: nothing changes any more
	wiped           bool // Stop came: the checkpoint is removed
	restarted       bool // recovered an id, not yet registered with it

	out []Output
}

// Core is the agent's state machine (see the package comment). One
// goroutine owns it.
type Core struct{ c *core }

// New makes the state machine of an agent started at time now. seed feeds
// its randomness (container IDs, status update UUIDs, registration backoff):
// the same seed and inputs give the same outputs. A nil log discards.
func New(cfg Config, now time.Time, seed uint64, log *slog.Logger) *Core {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Core{c: newCore(cfg, now, seed, log)}
}

// Step feeds one input to the state machine at time now and returns what
// must be done, in order. now must not go backwards between calls.
func (k *Core) Step(now time.Time, in Input) []Output { return k.c.step(now, in) }

// NextDeadline is when the core next needs a Tick, or zero for never (until
// another input arrives).
func (k *Core) NextDeadline() time.Time { return k.c.nextDeadline() }

// AgentID is the ID the master gave this agent, or "" while it has none.
func (k *Core) AgentID() string { return k.c.agentID }

func newCore(cfg Config, now time.Time, seed uint64, log *slog.Logger) *core {
	c := &core{
		cfg:         cfg,
		rand:        rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		log:         log,
		startTime:   now,
		backoff:     cfg.BackoffFactor,
		pingTimeout: DefaultMasterPingTimeout,
		frameworks:  make(map[string]*framework),
		byContainer: make(map[string]*executor),
		byConn:      make(map[int64]*executor),
		updates:     newUpdateManager(cfg.RetryMin, cfg.RetryMax),
		ckpt:        newTracker(),
	}
	c.updates.touch = func(k updateKey) { c.ckpt.streams[k] = true }
	c.hostNetwork = hostNetwork(cfg.Endpoint)
	return c
}

// hostNetwork is the NetworkInfo Mesos's agent gives a container on the
// host's network: one address, the agent's own.
func hostNetwork(endpoint string) *mesos.NetworkInfo {
	ap, err := netip.ParseAddrPort(endpoint)
	if err != nil {
		return nil
	}
	ip := ap.Addr().Unmap()
	family := mesos.NetworkInfo_IPv4
	if !ip.Is4() {
		family = mesos.NetworkInfo_IPv6
	}
	return &mesos.NetworkInfo{IpAddresses: []*mesos.NetworkInfo_IPAddress{{Protocol: family.Enum(), IpAddress: proto.String(ip.String())}}}
}

func (c *core) emit(o Output) { c.out = append(c.out, o) }

// step feeds one input to the state machine at time now and returns what
// must be done, in order.
func (c *core) step(now time.Time, in Input) []Output {
	c.out = nil
	switch in := in.(type) {
	case Recover:
		c.recover(now, in)
	case Start:
		c.started = true
		if !c.recoveryPending {
			c.recoveredAt = now
			c.connect(now)
		}
	case Tick:
		c.tick(now)
	case Stop:
		c.stop()
	case Exit:
		c.exit()
	case MasterStream:
		if in.Gen == c.gen && c.link == linkConnecting {
			c.streamID = in.StreamID
		}
	case MasterMessage:
		c.masterMessage(now, in)
	case MasterStreamEnded:
		c.masterStreamEnded(now, in)
	case MasterRejected:
		if c.link == linkRegistered && in.StreamID == c.streamID {
			c.log.Warn("master refused a message; re-registering", "status", in.Status)
			c.disconnected(now)
		}
	case ExecutorCall:
		c.executorCall(now, in)
	case ExecutorDisconnected:
		c.executorDisconnected(now, in.Conn)
	case ContainerLaunched:
		c.containerLaunched(now, in)
	case ContainerExited:
		c.containerExited(now, in.Termination)
	case SnapshotRequest:
		c.emit(SnapshotReply{Reply: in.Reply, Snapshot: c.snapshot(now)})
	case Oversubscribable:
		c.oversubscribable(in)
	case QoSCorrection:
		c.qosCorrection(in)
	default:
		panic(fmt.Sprintf("agent/core: unknown input %T", in))
	}
	c.settleRecovery(now)
	if c.exited {
		return c.out
	}
	if ops := c.flushCheckpoint(); len(ops) > 0 {
		c.out = append([]Output{Checkpoint{Ops: ops}}, c.out...)
	}
	return c.out
}

// nextDeadline is when the next timer is due, or zero for none.
func (c *core) nextDeadline() time.Time {
	var d time.Time
	at := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	switch c.link {
	case linkIdle:
		at(c.reconnectAt)
	case linkConnecting:
		at(c.connectDeadline)
	case linkRegistered:
		at(c.pingDeadline)
	}
	at(c.updates.nextDeadline())
	at(c.exTimers.next(c.exTimerLive))
	return d
}

// exTimerLive tells whether an executor deadline is still the executor's:
// its registration deadline while it registers, its kill deadline while it
// shuts down and has not been destroyed.
func (c *core) exTimerLive(e timer[string]) bool {
	ex := c.byContainer[e.key]
	if ex == nil {
		return false
	}
	switch ex.state {
	case execRegistering:
		return ex.registerBy.Equal(e.at)
	case execTerminating:
		return !ex.destroyed && ex.killAt.Equal(e.at)
	}
	return false
}

// tick fires every timer that is due.
func (c *core) tick(now time.Time) {
	switch c.link {
	case linkIdle:
		if !c.reconnectAt.IsZero() && !now.Before(c.reconnectAt) {
			c.connect(now)
		}
	case linkConnecting:
		if !now.Before(c.connectDeadline) {
			c.log.Warn("no registration answer from the master; retrying")
			c.disconnected(now)
		}
	case linkRegistered:
		if !now.Before(c.pingDeadline) {
			c.log.Warn("no ping from the master; re-registering", "timeout", c.pingTimeout)
			c.disconnected(now)
		}
	}
	for _, u := range c.updates.due(now) {
		c.log.Debug("resending status update", "task", u.GetStatus().GetTaskId().GetValue(), "state", u.GetStatus().GetState())
		c.forward(u)
	}
	for _, ex := range c.dueExecutors(now) {
		switch {
		case ex.state == execRegistering && ex.recovered && !now.Before(ex.registerBy):
			c.reregistrationTimedOut(ex)
		case ex.state == execRegistering && !now.Before(ex.registerBy):
			c.log.Warn("executor did not subscribe in time; destroying it", "executor", ex.id, "framework", ex.frameworkID)
			ex.pendingTermination = &termination{
				state:   mesos.TaskState_TASK_FAILED,
				reason:  mesos.TaskStatus_REASON_EXECUTOR_REGISTRATION_TIMEOUT,
				message: "Executor did not register within " + codec.FormatDuration(c.cfg.RegistrationTimeout),
			}
			ex.state = execTerminating
			c.destroy(ex)
		case ex.state == execTerminating && !ex.destroyed && !now.Before(ex.killAt):
			c.log.Info("executor did not exit within its shutdown grace period; killing it", "executor", ex.id, "framework", ex.frameworkID)
			c.destroy(ex)
		}
	}
}

// ---- Master link ----

// connect starts a registration attempt.
func (c *core) connect(now time.Time) {
	c.gen++
	c.link = linkConnecting
	c.streamID = ""
	c.pingEarly = false
	c.reconnectAt = time.Time{}
	c.connectDeadline = now.Add(DefaultMasterPingTimeout)
	c.emit(Connect{Gen: c.gen, Msg: c.registerMessage()})
}

// disconnected drops the current stream and schedules the next attempt
// after a random delay below the current backoff bound, which doubles up to
// RegistrationRetryIntervalMax.
func (c *core) disconnected(now time.Time) {
	if c.link == linkRegistered {
		c.updates.pause()
	}
	c.emit(Disconnect{Gen: c.gen})
	c.link = linkIdle
	c.streamID = ""
	c.redirects = 0
	delay := time.Duration(c.rand.Int64N(int64(c.backoff) + 1))
	c.backoff = min(2*c.backoff, RegistrationRetryIntervalMax)
	c.reconnectAt = now.Add(delay)
}

func (c *core) masterStreamEnded(now time.Time, in MasterStreamEnded) {
	if in.Gen != c.gen || c.link == linkIdle {
		return
	}
	if in.Redirected && c.redirects < 3 {
		c.redirects++
		c.log.Info("master redirected the agent; following")
		c.connect(now)
		return
	}
	if in.NextMaster && c.link == linkConnecting {
		c.log.Info("registration attempt failed; trying the next master", "err", in.Err)
		c.connect(now)
		return
	}
	if c.link == linkRegistered {
		// Even with other masters to try, the first attempt after losing
		// a registered stream waits its random delay: every agent lost
		// the same master, and they should not all come back at once.
		c.log.Warn("lost the master's stream; re-registering", "err", in.Err)
	} else {
		c.log.Info("registration attempt failed", "err", in.Err)
	}
	c.disconnected(now)
}

// registerMessage is REGISTER for a new agent, REREGISTER (with what runs
// here) for a known one.
func (c *core) registerMessage() *agentproto.AgentMessage {
	info := proto.Clone(c.cfg.AgentInfo).(*mesos.AgentInfo)
	if len(c.ckptRes) > 0 {
		info.Resources = c.totalResources()
	}
	reg := &agentproto.AgentMessage_Register{AgentInfo: info, Version: proto.String(MesosVersion), Endpoint: proto.String(c.cfg.Endpoint)}
	if c.agentID == "" {
		return &agentproto.AgentMessage{Type: agentproto.AgentMessage_REGISTER.Enum(), Register: reg}
	}
	info.Id = &mesos.AgentID{Value: proto.String(c.agentID)}
	if c.restarted {
		reg.Restarted = proto.Bool(true)
	}
	for _, fw := range c.sortedFrameworks() {
		reg.Frameworks = append(reg.Frameworks, proto.Clone(fw.info).(*mesos.FrameworkInfo))
		for _, ex := range fw.sortedExecutors() {
			if ex.kind != kindCommand && ex.state != execTerminated {
				// Like Mesos, command executors are the agent's own
				// business: the master never learns of them. Ended
				// executors are reported only through their tasks.
				reg.Executors = append(reg.Executors, &agentproto.ExecutorRecord{
					Info:        proto.Clone(ex.info).(*mesos.ExecutorInfo),
					ContainerId: &mesos.ContainerID{Value: proto.String(ex.containerID)},
				})
			}
			for _, t := range ex.allTasks(c.agentID) {
				if h := c.updates.head(updateKey{fw.id, t.GetTaskId().GetValue()}); h != nil {
					t.StatusUpdateState = h.GetStatus().State
					t.StatusUpdateUuid = h.GetStatus().GetUuid()
				}
				reg.Tasks = append(reg.Tasks, t)
			}
		}
	}
	return &agentproto.AgentMessage{Type: agentproto.AgentMessage_REREGISTER.Enum(), Register: reg}
}

func (c *core) masterMessage(now time.Time, in MasterMessage) {
	if in.Gen != c.gen {
		return
	}
	m := in.Msg
	if c.link == linkConnecting {
		if m.GetType() == agentproto.MasterMessage_SHUTDOWN {
			// The master refuses this agent's id (it removed the agent,
			// or a restarted master never knew it): start over.
			c.shutdownByMaster(now, m.GetMessage())
			return
		}
		if m.GetType() == agentproto.MasterMessage_PING {
			// A driver may hand pings over ahead of the rest of the
			// stream, so one can overtake REGISTERED: it is answered
			// once REGISTERED is in.
			c.pingEarly = true
			return
		}
		if m.GetType() != agentproto.MasterMessage_REGISTERED || m.GetRegistered() == nil {
			c.log.Warn("expected REGISTERED first from the master", "type", m.GetType(), "message", m.GetMessage())
			c.disconnected(now)
			return
		}
		if err := ids.Validate(m.GetRegistered().GetAgentId().GetValue()); err != nil {
			// The agent id names the directory every sandbox is under.
			c.log.Warn("the master gave this agent an invalid id; not taking it", "err", err)
			c.disconnected(now)
			return
		}
		c.registered(now, m.GetRegistered())
		return
	}
	if c.link != linkRegistered {
		return
	}
	switch m.GetType() {
	case agentproto.MasterMessage_PING:
		c.pingDeadline = now.Add(c.pingTimeout)
		c.sendToMaster(&agentproto.AgentMessage{Type: agentproto.AgentMessage_PONG.Enum()})
	case agentproto.MasterMessage_RUN_TASK:
		if r := m.GetRunTask(); r != nil {
			c.runTask(now, r.GetFrameworkInfo(), r.GetTask())
		}
	case agentproto.MasterMessage_RUN_TASK_GROUP:
		if r := m.GetRunTaskGroup(); r != nil {
			c.runTaskGroup(now, r.GetFrameworkInfo(), r.GetExecutor(), r.GetTaskGroup())
		}
	case agentproto.MasterMessage_KILL_TASK:
		if k := m.GetKillTask(); k != nil {
			c.killTask(now, k.GetFrameworkId().GetValue(), k.GetTaskId().GetValue(), k.GetKillPolicy())
		}
	case agentproto.MasterMessage_ACKNOWLEDGE:
		if a := m.GetAcknowledge(); a != nil {
			c.acknowledge(now, a.GetFrameworkId().GetValue(), a.GetTaskId().GetValue(), a.GetUuid())
		}
	case agentproto.MasterMessage_SHUTDOWN_FRAMEWORK:
		c.shutdownFramework(now, m.GetShutdownFramework().GetFrameworkId().GetValue())
	case agentproto.MasterMessage_SHUTDOWN_EXECUTOR:
		s := m.GetShutdownExecutor()
		c.shutdownExecutorByID(now, s.GetFrameworkId().GetValue(), s.GetExecutorId().GetValue())
	case agentproto.MasterMessage_FRAMEWORK_TO_EXECUTOR:
		c.frameworkMessage(m.GetFrameworkToExecutor())
	case agentproto.MasterMessage_SHUTDOWN:
		c.shutdownByMaster(now, m.GetMessage())
	case agentproto.MasterMessage_APPLY_OPERATION:
		c.applyOperation(m.GetApplyOperation())
	case agentproto.MasterMessage_REGISTERED:
		// Already registered on this stream; nothing new.
	default:
		c.log.Warn("unknown message from the master", "type", m.GetType())
	}
}

// shutdownByMaster drops everything of this agent's identity, as the
// master asked, and registers as a new agent.
func (c *core) shutdownByMaster(now time.Time, why string) {
	c.log.Warn("the master removed this agent; starting over as a new agent", "agent", c.agentID, "message", why)
	c.forget()
	c.emit(Disconnect{Gen: c.gen})
	c.backoff = c.cfg.BackoffFactor
	c.connect(now)
}

func (c *core) registered(now time.Time, r *agentproto.MasterMessage_Registered) {
	id := r.GetAgentId().GetValue()
	if c.agentID != "" && id != c.agentID {
		c.log.Warn("the master gave this agent a new ID; dropping everything of the old one", "old", c.agentID, "new", id)
		c.forget()
	}
	first := c.agentID == ""
	c.agentID = id
	c.ckpt.meta = true
	c.restarted = false
	c.link = linkRegistered
	c.masterInfo = r.GetMasterInfo()
	c.pingTimeout = DefaultMasterPingTimeout
	if s := r.GetPingTimeoutSeconds(); s > 0 {
		c.pingTimeout = time.Duration(s * float64(time.Second))
	}
	c.pingDeadline = now.Add(c.pingTimeout)
	c.backoff = c.cfg.BackoffFactor
	c.redirects = 0
	if first {
		c.log.Info("registered with the master", "agent", id, "master", c.masterInfo.GetHostname())
	} else {
		c.log.Info("re-registered with the master", "agent", id, "master", c.masterInfo.GetHostname())
	}
	if c.pingEarly {
		c.pingEarly = false
		c.sendToMaster(&agentproto.AgentMessage{Type: agentproto.AgentMessage_PONG.Enum()})
	}
	for _, u := range c.updates.resume(now) {
		c.forward(u)
	}
	// The master starts from the agent's AgentInfo, without revocable
	// resources: it hears them again.
	c.sendOversubscribed()
}

// sendToMaster posts a message on the current stream; without one the
// message is dropped (status updates are kept and retried by the update
// manager instead).
func (c *core) sendToMaster(m *agentproto.AgentMessage) {
	if c.link != linkRegistered {
		return
	}
	c.emit(Send{Msg: m, AgentID: c.agentID, StreamID: c.streamID})
}

// forward sends a status update, with the task's latest state.
func (c *core) forward(u *agentproto.StatusUpdate) {
	if c.link != linkRegistered {
		return
	}
	m := proto.Clone(u).(*agentproto.StatusUpdate)
	if st, ok := c.latestState(u.GetFrameworkId().GetValue(), u.GetStatus().GetTaskId().GetValue()); ok {
		m.LatestState = st.Enum()
	} else {
		m.LatestState = u.GetStatus().State
	}
	c.sendToMaster(&agentproto.AgentMessage{Type: agentproto.AgentMessage_STATUS_UPDATE.Enum(), StatusUpdate: m})
}

// forget destroys every executor and drops every record and pending update:
// the agent is becoming a new one.
func (c *core) forget() {
	for _, ex := range c.sortedExecutors() {
		if ex.conn != 0 {
			c.emit(ExecutorClose{Conn: ex.conn})
			delete(c.byConn, ex.conn)
			ex.conn = 0
		}
		if !ex.destroyed && ex.state != execTerminated {
			c.emit(Destroy{ContainerID: ex.containerID})
		}
	}
	var dirs []string
	for _, fw := range c.sortedFrameworks() {
		for _, ex := range fw.sortedExecutors() {
			dirs = append(dirs, ex.directory)
		}
		for _, ex := range fw.completedExecutors {
			dirs = append(dirs, ex.directory)
		}
	}
	for _, fw := range c.completedFrameworks {
		for _, ex := range fw.completedExecutors {
			dirs = append(dirs, ex.directory)
		}
	}
	if len(dirs) > 0 {
		c.emit(Detach{Dirs: dirs})
	}
	c.frameworks = make(map[string]*framework)
	c.completedFrameworks = nil
	c.byContainer = make(map[string]*executor)
	c.byConn = make(map[int64]*executor)
	c.exTimers.clear()
	c.updates.reset()
	c.agentID = ""
	c.ckpt.all = true
}

// stop destroys everything as the agent exits, telling the master first.
func (c *core) stop() {
	if c.link == linkRegistered {
		c.sendToMaster(&agentproto.AgentMessage{Type: agentproto.AgentMessage_UNREGISTER.Enum()})
	}
	c.leave(func(*executor) bool { return false })
	// As Mesos's agent when it shuts down, the checkpoint goes: the next
	// agent starts afresh.
	c.wiped = true
	c.ckpt.all = true
}

// ---- Helpers ----

func (c *core) sortedFrameworks() []*framework {
	out := make([]*framework, 0, len(c.frameworks))
	for _, fw := range c.frameworks {
		out = append(out, fw)
	}
	slices.SortFunc(out, func(a, b *framework) int { return cmp.Compare(a.id, b.id) })
	return out
}

// dueExecutors are the executors whose registration or kill timer has
// come, in container order.
func (c *core) dueExecutors(now time.Time) []*executor {
	var out []*executor
	for _, id := range c.exTimers.due(now, c.exTimerLive) {
		out = append(out, c.byContainer[id])
	}
	slices.SortFunc(out, func(a, b *executor) int { return cmp.Compare(a.containerID, b.containerID) })
	return out
}

func (c *core) sortedExecutors() []*executor {
	out := make([]*executor, 0, len(c.byContainer))
	for _, ex := range c.byContainer {
		out = append(out, ex)
	}
	slices.SortFunc(out, func(a, b *executor) int { return cmp.Compare(a.containerID, b.containerID) })
	return out
}

// newUUID returns 16 random bytes shaped as a version 4 UUID.
func (c *core) newUUID() []byte {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := c.rand.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b[:]
}

// formatUUID renders 16 bytes in the canonical 8-4-4-4-12 form.
func formatUUID(b []byte) string {
	if len(b) != 16 {
		return fmt.Sprintf("%x", b)
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// seconds converts a time to Mesos's float seconds.
func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
