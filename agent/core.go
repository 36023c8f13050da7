package agent

import (
	"cmp"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// ---- Inputs ----

// input is something that happened, fed to core.step.
type input interface{ isInput() }

// inStart begins registration with the master.
type inStart struct{}

// inTick says time has passed; due timers fire.
type inTick struct{}

// inStop says the agent is stopping: everything is destroyed.
type inStop struct{}

// inMasterStream says the subscribe request of attempt gen was accepted.
type inMasterStream struct {
	gen      uint64
	streamID string
}

// inMasterMessage is a message read from the stream of attempt gen.
type inMasterMessage struct {
	gen uint64
	msg *agentproto.MasterMessage
}

// inMasterStreamEnded says attempt gen failed or its stream ended.
type inMasterStreamEnded struct {
	gen        uint64
	err        error
	redirected bool // the master redirected to another; retry at once
}

// inMasterRejected says the master refused a message sent on streamID
// (4xx): the stream is stale.
type inMasterRejected struct {
	streamID string
	status   int
}

// inExecutorCall is a validated executor API call. For SUBSCRIBE, conn is
// the new event stream's ID. The answer goes to reply.
type inExecutorCall struct {
	call  *execpb.Call
	conn  int64
	reply chan<- callResult
}

// inExecutorDisconnected says an executor's event stream closed.
type inExecutorDisconnected struct{ conn int64 }

// inContainerLaunched reports the outcome of an outLaunch.
type inContainerLaunched struct {
	containerID string
	pid         int
	err         error
}

// inContainerExited reports a container's end.
type inContainerExited struct{ t containerizer.Termination }

// inSnapshot asks for a copy of the state, for the endpoints.
type inSnapshot struct {
	now   time.Time
	reply chan<- *snapshot
}

func (inStart) isInput()                {}
func (inTick) isInput()                 {}
func (inStop) isInput()                 {}
func (inMasterStream) isInput()         {}
func (inMasterMessage) isInput()        {}
func (inMasterStreamEnded) isInput()    {}
func (inMasterRejected) isInput()       {}
func (inExecutorCall) isInput()         {}
func (inExecutorDisconnected) isInput() {}
func (inContainerLaunched) isInput()    {}
func (inContainerExited) isInput()      {}
func (inSnapshot) isInput()             {}

// callResult answers an executor call: an HTTP status and, for errors, the
// body text.
type callResult struct {
	status int
	msg    string
}

// ---- Outputs ----

// output is something core wants done.
type output interface{ isOutput() }

// outConnect opens a subscribe stream to the master (closing any other).
type outConnect struct {
	gen uint64
	msg *agentproto.AgentMessage
}

// outDisconnect closes the stream of attempt gen.
type outDisconnect struct{ gen uint64 }

// outSend posts a message to the master on the given stream.
type outSend struct {
	msg      *agentproto.AgentMessage
	agentID  string
	streamID string
}

// outLaunch starts a container; the driver answers with inContainerLaunched.
type outLaunch struct{ spec containerizer.Spec }

// outDestroy kills a container.
type outDestroy struct{ containerID string }

// outUpdateContainer tells the containerizer a container's new resources.
type outUpdateContainer struct {
	containerID string
	resources   []*mesos.Resource
}

// outExecEvent sends an event on an executor's stream.
type outExecEvent struct {
	conn  int64
	event *execpb.Event
}

// outExecClose closes an executor's stream.
type outExecClose struct{ conn int64 }

// outCallResult answers an executor call.
type outCallResult struct {
	reply chan<- callResult
	res   callResult
}

// outSnapshot answers an inSnapshot.
type outSnapshot struct {
	reply chan<- *snapshot
	snap  *snapshot
}

// outAttach makes a sandbox readable through /files under each of paths.
type outAttach struct {
	dir   string
	paths []string
}

// outDetach removes every /files path of the given sandboxes.
type outDetach struct{ dirs []string }

func (outConnect) isOutput()         {}
func (outDisconnect) isOutput()      {}
func (outSend) isOutput()            {}
func (outLaunch) isOutput()          {}
func (outDestroy) isOutput()         {}
func (outUpdateContainer) isOutput() {}
func (outExecEvent) isOutput()       {}
func (outExecClose) isOutput()       {}
func (outCallResult) isOutput()      {}
func (outSnapshot) isOutput()        {}
func (outAttach) isOutput()          {}
func (outDetach) isOutput()          {}

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

// coreConfig is what core needs to know about its surroundings.
type coreConfig struct {
	workDir        string
	executorBinary string
	endpoint       string // "ip:port" of the executor API
	pid            string // "slave(1)@ip:port"
	baseEnv        []string

	registrationTimeout time.Duration
	shutdownGrace       time.Duration
	backoffFactor       time.Duration
	retryMin, retryMax  time.Duration

	agentInfo *mesos.AgentInfo // hostname, port, resources, attributes
	flags     map[string]string
	build     buildInfoT
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
}

// core is the agent's state machine. See the package comment.
type core struct {
	cfg  coreConfig
	rand *rand.Rand
	log  *slog.Logger

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

	frameworks          map[string]*framework
	completedFrameworks []*framework
	byContainer         map[string]*executor
	byConn              map[int64]*executor

	updates *updateManager
	metrics metrics

	out []output
}

func newCore(cfg coreConfig, now time.Time, seed uint64, log *slog.Logger) *core {
	return &core{
		cfg:         cfg,
		rand:        rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		log:         log,
		startTime:   now,
		backoff:     cfg.backoffFactor,
		pingTimeout: DefaultMasterPingTimeout,
		frameworks:  make(map[string]*framework),
		byContainer: make(map[string]*executor),
		byConn:      make(map[int64]*executor),
		updates:     newUpdateManager(cfg.retryMin, cfg.retryMax),
	}
}

func (c *core) emit(o output) { c.out = append(c.out, o) }

// step feeds one input to the state machine at time now and returns what
// must be done, in order.
func (c *core) step(now time.Time, in input) []output {
	c.out = nil
	switch in := in.(type) {
	case inStart:
		c.connect(now)
	case inTick:
		c.tick(now)
	case inStop:
		c.stop()
	case inMasterStream:
		if in.gen == c.gen && c.link == linkConnecting {
			c.streamID = in.streamID
		}
	case inMasterMessage:
		c.masterMessage(now, in)
	case inMasterStreamEnded:
		c.masterStreamEnded(now, in)
	case inMasterRejected:
		if c.link == linkRegistered && in.streamID == c.streamID {
			c.log.Warn("master refused a message; re-registering", "status", in.status)
			c.disconnected(now)
		}
	case inExecutorCall:
		c.executorCall(now, in)
	case inExecutorDisconnected:
		c.executorDisconnected(now, in.conn)
	case inContainerLaunched:
		c.containerLaunched(now, in)
	case inContainerExited:
		c.containerExited(now, in.t)
	case inSnapshot:
		c.emit(outSnapshot{reply: in.reply, snap: c.snapshot(in.now)})
	default:
		panic(fmt.Sprintf("agent: unknown input %T", in))
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
	for _, ex := range c.byContainer {
		if ex.state == execRegistering {
			at(ex.registerBy)
		}
		if ex.state == execTerminating && !ex.destroyed {
			at(ex.killAt)
		}
	}
	return d
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
	for _, ex := range c.sortedExecutors() {
		switch {
		case ex.state == execRegistering && !now.Before(ex.registerBy):
			c.log.Warn("executor did not subscribe in time; destroying it", "executor", ex.id, "framework", ex.frameworkID)
			ex.pendingTermination = &termination{
				state:   mesos.TaskState_TASK_FAILED,
				reason:  mesos.TaskStatus_REASON_EXECUTOR_REGISTRATION_TIMEOUT,
				message: "Executor did not register within " + formatDuration(c.cfg.registrationTimeout),
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
	c.reconnectAt = time.Time{}
	c.connectDeadline = now.Add(DefaultMasterPingTimeout)
	c.emit(outConnect{gen: c.gen, msg: c.registerMessage()})
}

// disconnected drops the current stream and schedules the next attempt
// after a random delay below the current backoff bound, which doubles up to
// RegistrationRetryIntervalMax.
func (c *core) disconnected(now time.Time) {
	if c.link == linkRegistered {
		c.updates.pause()
	}
	c.emit(outDisconnect{gen: c.gen})
	c.link = linkIdle
	c.streamID = ""
	delay := time.Duration(c.rand.Int64N(int64(c.backoff) + 1))
	c.backoff = min(2*c.backoff, RegistrationRetryIntervalMax)
	c.reconnectAt = now.Add(delay)
}

func (c *core) masterStreamEnded(now time.Time, in inMasterStreamEnded) {
	if in.gen != c.gen || c.link == linkIdle {
		return
	}
	if in.redirected && c.redirects < 3 {
		c.redirects++
		c.log.Info("master redirected the agent; following")
		c.connect(now)
		return
	}
	if c.link == linkRegistered {
		c.log.Warn("lost the master's stream; re-registering", "err", in.err)
	} else {
		c.log.Info("registration attempt failed", "err", in.err)
	}
	c.disconnected(now)
}

// registerMessage is REGISTER for a new agent, REREGISTER (with what runs
// here) for a known one.
func (c *core) registerMessage() *agentproto.AgentMessage {
	info := proto.Clone(c.cfg.agentInfo).(*mesos.AgentInfo)
	reg := &agentproto.AgentMessage_Register{AgentInfo: info, Version: proto.String(MesosVersion), Endpoint: proto.String(c.cfg.endpoint)}
	if c.agentID == "" {
		return &agentproto.AgentMessage{Type: agentproto.AgentMessage_REGISTER.Enum(), Register: reg}
	}
	info.Id = &mesos.AgentID{Value: proto.String(c.agentID)}
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

func (c *core) masterMessage(now time.Time, in inMasterMessage) {
	if in.gen != c.gen {
		return
	}
	m := in.msg
	if c.link == linkConnecting {
		if m.GetType() == agentproto.MasterMessage_SHUTDOWN {
			// The master refuses this agent's id (it removed the agent,
			// or a restarted master never knew it): start over.
			c.shutdownByMaster(now, m.GetMessage())
			return
		}
		if m.GetType() != agentproto.MasterMessage_REGISTERED || m.GetRegistered() == nil {
			c.log.Warn("expected REGISTERED first from the master", "type", m.GetType(), "message", m.GetMessage())
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
	c.emit(outDisconnect{gen: c.gen})
	c.backoff = c.cfg.backoffFactor
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
	c.link = linkRegistered
	c.masterInfo = r.GetMasterInfo()
	c.pingTimeout = DefaultMasterPingTimeout
	if s := r.GetPingTimeoutSeconds(); s > 0 {
		c.pingTimeout = time.Duration(s * float64(time.Second))
	}
	c.pingDeadline = now.Add(c.pingTimeout)
	c.backoff = c.cfg.backoffFactor
	c.redirects = 0
	if first {
		c.log.Info("registered with the master", "agent", id, "master", c.masterInfo.GetHostname())
	} else {
		c.log.Info("re-registered with the master", "agent", id, "master", c.masterInfo.GetHostname())
	}
	for _, u := range c.updates.resume(now) {
		c.forward(u)
	}
}

// sendToMaster posts a message on the current stream; without one the
// message is dropped (status updates are kept and retried by the update
// manager instead).
func (c *core) sendToMaster(m *agentproto.AgentMessage) {
	if c.link != linkRegistered {
		return
	}
	c.emit(outSend{msg: m, agentID: c.agentID, streamID: c.streamID})
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
			c.emit(outExecClose{conn: ex.conn})
			delete(c.byConn, ex.conn)
			ex.conn = 0
		}
		if !ex.destroyed && ex.state != execTerminated {
			c.emit(outDestroy{containerID: ex.containerID})
		}
	}
	var dirs []string
	for _, fw := range c.frameworks {
		for _, ex := range fw.executors {
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
		c.emit(outDetach{dirs: dirs})
	}
	c.frameworks = make(map[string]*framework)
	c.completedFrameworks = nil
	c.byContainer = make(map[string]*executor)
	c.byConn = make(map[int64]*executor)
	c.updates.reset()
	c.agentID = ""
}

// stop destroys everything as the agent exits, telling the master first.
func (c *core) stop() {
	if c.link == linkRegistered {
		c.sendToMaster(&agentproto.AgentMessage{Type: agentproto.AgentMessage_UNREGISTER.Enum()})
	}
	for _, ex := range c.sortedExecutors() {
		if ex.conn != 0 {
			c.emit(outExecClose{conn: ex.conn})
		}
		if !ex.destroyed && ex.state != execTerminated {
			ex.destroyed = true
			c.emit(outDestroy{containerID: ex.containerID})
		}
	}
	if c.link != linkIdle {
		c.emit(outDisconnect{gen: c.gen})
	}
	c.link = linkIdle
	c.reconnectAt = time.Time{}
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
