package core

import (
	"fmt"
	"github.com/gomesos/gomesos/codec"
	"log/slog"
	"time"

	"github.com/gomesos/gomesos/api/agentproto"
	"github.com/gomesos/gomesos/api/v1/maintenance"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/api/v1/quota"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/master/allocator"
	"google.golang.org/protobuf/proto"
)

// Version is the Mesos version Gomesos reports (codec.MesosVersion).
const Version = codec.MesosVersion

// Options are the master's tunables, named after Mesos's flags.
type Options struct {
	AllocationInterval            time.Duration // --allocation_interval (1secs)
	AgentPingTimeout              time.Duration // --agent_ping_timeout (15secs)
	MaxAgentPingTimeouts          int           // --max_agent_ping_timeouts (5)
	OfferTimeout                  time.Duration // --offer_timeout (none)
	HeartbeatInterval             time.Duration // scheduler HEARTBEAT interval (15secs)
	MaxCompletedFrameworks        int           // --max_completed_frameworks (50)
	MaxCompletedTasksPerFramework int           // --max_completed_tasks_per_framework (1000)
	MaxUnreachableTasksPerFW      int           // --max_unreachable_tasks_per_framework (1000)
	// The unreachable agents the master remembers are garbage-collected
	// every RegistryGCInterval: those marked unreachable longer than
	// RegistryMaxAgentAge ago, and the oldest beyond RegistryMaxAgentCount.
	RegistryGCInterval    time.Duration // --registry_gc_interval (15mins)
	RegistryMaxAgentAge   time.Duration // --registry_max_agent_age (2weeks)
	RegistryMaxAgentCount int           // --registry_max_agent_count (102400)
	// AgentReregisterTimeout is how long a newly elected master waits for
	// the agents it recovered from the registry to re-register
	// (--agent_reregister_timeout, 10mins).
	AgentReregisterTimeout time.Duration
	// AgentRemovalInterval spaces the removals of agents marked unreachable
	// (--agent_removal_rate_limit: "1/10mins" is one per 10 minutes); zero
	// does not limit them.
	AgentRemovalInterval time.Duration
	// RecoveryAgentRemovalLimit is the largest fraction of the recovered
	// agents that may be marked unreachable for not re-registering; beyond
	// it the master gives up leading (--recovery_agent_removal_limit,
	// 100%). Zero means the default.
	RecoveryAgentRemovalLimit float64
	// StartTime is when the master process started, which uptime counts
	// from; zero is the Core's start.
	StartTime time.Time
	// Weights are the roles' weights a cluster starts with (--weights,
	// deprecated in Mesos in favour of UPDATE_WEIGHTS): applied, and
	// written to the registry, only when the registry holds no weights
	// yet; after that the registry's weights win.
	Weights map[string]float64
	Logger  *slog.Logger
	// Roles is the deprecated --roles whitelist: when set, frameworks may
	// subscribe only to these roles (and "*"). nil allows any role.
	Roles []string
}

// SetDefaults fills unset options with Mesos's defaults.
func (o *Options) SetDefaults() {
	if o.AllocationInterval <= 0 {
		o.AllocationInterval = time.Second
	}
	if o.AgentPingTimeout <= 0 {
		o.AgentPingTimeout = 15 * time.Second
	}
	if o.MaxAgentPingTimeouts <= 0 {
		o.MaxAgentPingTimeouts = 5
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 15 * time.Second
	}
	if o.MaxCompletedFrameworks <= 0 {
		o.MaxCompletedFrameworks = 50
	}
	if o.MaxCompletedTasksPerFramework <= 0 {
		o.MaxCompletedTasksPerFramework = 1000
	}
	if o.MaxUnreachableTasksPerFW <= 0 {
		o.MaxUnreachableTasksPerFW = 1000
	}
	if o.RegistryGCInterval <= 0 {
		o.RegistryGCInterval = 15 * time.Minute
	}
	if o.RegistryMaxAgentAge <= 0 {
		o.RegistryMaxAgentAge = 14 * 24 * time.Hour
	}
	if o.RegistryMaxAgentCount <= 0 {
		o.RegistryMaxAgentCount = 100 * 1024
	}
	if o.AgentReregisterTimeout <= 0 {
		o.AgentReregisterTimeout = 10 * time.Minute
	}
	if o.RecoveryAgentRemovalLimit <= 0 {
		o.RecoveryAgentRemovalLimit = 1
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Input is anything the Core can be fed. The concrete types are below.
type Input interface{ isInput() }

// SchedulerCall is a decoded, validated call on /api/v1/scheduler. For
// SUBSCRIBE, Stream is the id of the new event stream the driver has opened;
// for other calls it is the Mesos-Stream-Id header (empty when absent).
type SchedulerCall struct {
	Call   *schedpb.Call
	Stream string
}

// StreamClosed reports that a framework's event stream went away.
type StreamClosed struct{ Stream string }

// AgentSubscribe is an agent's REGISTER or REREGISTER on a new connection.
type AgentSubscribe struct {
	Conn string
	Msg  *agentproto.AgentMessage
}

// AgentMessage is any other message from an agent, on the connection Conn.
type AgentMessage struct {
	AgentID string
	Conn    string
	Msg     *agentproto.AgentMessage
}

// AgentClosed reports that an agent's connection went away.
type AgentClosed struct{ Conn string }

// Tick lets timers fire: heartbeats, pings, failover timeouts, offer
// timeouts, allocation.
type Tick struct{}

func (SchedulerCall) isInput()  {}
func (StreamClosed) isInput()   {}
func (AgentSubscribe) isInput() {}
func (AgentMessage) isInput()   {}
func (AgentClosed) isInput()    {}
func (Tick) isInput()           {}

// Code says how the core answered an input. The driver maps it to the
// transport's status (HTTP for the scheduler API and the agent protocol).
type Code int

const (
	// Accepted: the call was taken; its effects follow as outputs (202).
	Accepted Code = iota
	// OK: the call was taken and answered synchronously (200), e.g. an
	// agent admitted or a stream subscribed.
	OK
	// Invalid: the input is malformed or refers to nothing (400).
	Invalid
	// NotSubscribed: the framework is known but not subscribed (403).
	NotSubscribed
	// Conflict: the sender's connection is stale (409).
	Conflict
	// Unsupported: a call the master does not implement (501).
	Unsupported
	// Internal: the core cannot handle the input at all (500).
	Internal
	// NotFound: the call names something the master does not know (404).
	NotFound
)

// Failed reports whether the code refuses the input.
func (c Code) Failed() bool { return c >= Invalid }

// String names the code, for logs and traces.
func (c Code) String() string {
	switch c {
	case Accepted:
		return "accepted"
	case OK:
		return "ok"
	case Invalid:
		return "invalid"
	case NotSubscribed:
		return "not subscribed"
	case Conflict:
		return "conflict"
	case Unsupported:
		return "unsupported"
	case Internal:
		return "internal"
	case NotFound:
		return "not found"
	}
	return fmt.Sprintf("code(%d)", int(c))
}

// Result is the synchronous answer to an input: a code and, for refusals,
// the message that says what is wrong. AgentID is the id assigned to an
// agent that registered; FrameworkID is the id of a framework that
// subscribed.
type Result struct {
	Code        Code
	Message     string
	AgentID     string
	FrameworkID string
	// Body is the response of a call answered with a message (the
	// operator API's GET_OPERATIONS), nil for the others.
	Body proto.Message
}

func ok() Result { return Result{Code: Accepted} }

func fail(code Code, format string, args ...any) Result {
	return Result{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Output is an effect the driver must carry out, in order.
type Output interface{ isOutput() }

// SendEvent sends an event on a framework's stream.
type SendEvent struct {
	Stream string
	Event  *schedpb.Event
}

// CloseStream ends a framework's stream after the events before it.
type CloseStream struct{ Stream string }

// SendAgent sends a message on an agent's connection.
type SendAgent struct {
	Conn string
	Msg  *agentproto.MasterMessage
}

// CloseAgent ends an agent's connection.
type CloseAgent struct{ Conn string }

func (SendEvent) isOutput()   {}
func (CloseStream) isOutput() {}
func (SendAgent) isOutput()   {}
func (CloseAgent) isOutput()  {}

// Core is the master's state machine. It is not safe for concurrent use:
// exactly one goroutine (the driver's) calls Step and reads its state.
type Core struct {
	// infoA and infoB are sameAgentInfo's buffers.
	infoA, infoB []byte
	// adopted is the resources of the task last adopted from an agent's
	// report, for the next one's (adoptTask).
	adopted adoptedResources
	// ahead is what PublishAhead made of the next publication.
	ahead publication

	opts  Options
	info  *mesos.MasterInfo
	log   *slog.Logger
	alloc allocator.Allocator

	now       time.Time
	startTime time.Time
	// electedTime is when this master became the leader (zero while it is
	// not): a master without peers leads from its start.
	electedTime time.Time
	// leader is the leading master's MasterInfo: this master's own while
	// it leads, nil while no leader is known (Follow).
	leader *mesos.MasterInfo
	// successor is the master the agents should try first when this one
	// is gone ("" when none): REGISTERED names it (SetSuccessor).
	successor *string

	frameworks map[string]*framework
	completed  []*framework // oldest first, at most MaxCompletedFrameworks
	// lastTaskRes is the resources of the last task launched, in both
	// forms, shared by the tasks launched with the same (launch.go).
	lastTaskRes sharedTaskRes
	// removedFWs are the ids of the completed frameworks, which may not
	// subscribe again. Like Mesos, the master remembers only those: an id
	// that has left the completed frameworks is no longer refused.
	removedFWs map[string]bool
	streams    map[string]*framework // stream id -> framework

	agents     map[string]*agent
	agentOrder []string // the agents' ids: the order timers visit them in, sorted up to agentOrderSorted
	// agentOrderSorted is how many of agentOrder's first ids are sorted:
	// agents admitted since are appended, and merged in on the next visit
	// (thousands of agents re-registering after a failover cost a merge
	// per tick, not an insertion each).
	agentOrderSorted int
	agentConns       map[string]*agent // connection id -> agent
	// unreachable holds when each agent was marked unreachable, and
	// unreachableOrder the same ids in the order they were: the registry's
	// unreachable list, garbage-collected by age and count.
	unreachable      map[string]time.Time
	unreachableOrder []string
	lastRegistryGC   time.Time
	// recovered holds the agents recovered from the registry that have not
	// re-registered (recoveredOrder: the same ids in the registry's order),
	// until recoveryDeadline; recoveredTotal is how many were recovered.
	recovered map[string]*mesos.AgentInfo
	// recoveredState is the deactivation and drain the registry kept of
	// recovered agents, restored when they re-register (drain.go).
	recoveredState   map[string]agentState
	recoveredOrder   []string
	recoveredTotal   int
	recoveryDeadline time.Time
	// recoveredPub is the recovered agents as the last snapshot published
	// them, rebuilt when recoveredChanged.
	recoveredPub     []*mesos.AgentInfo
	recoveredChanged bool
	// gone holds when each agent was marked gone (goneOrder: in order);
	// such an agent may never come back.
	gone      map[string]time.Time
	goneOrder []string
	// removals are the agents waiting to be marked unreachable, oldest
	// first; lastRemoval is when the last one was (registrar.go).
	removals    []pendingRemoval
	lastRemoval time.Time
	offers      map[string]*offer
	// weights is each role's weight that is not the default 1 (the
	// registry's weights; UPDATE_WEIGHTS).
	weights map[string]float64
	// weightsPub is weights as the snapshots show it, copied when
	// weightsChanged.
	weightsPub     map[string]float64
	weightsChanged bool
	// quotas is each role's quota (the registry's quota_configs;
	// UPDATE_QUOTA), normalized (quota.go); quotasPub and allocQuotasPub
	// are the snapshots' copies of it and of the allocator's, taken when
	// quotasChanged.
	quotas         map[string]*quota.QuotaConfig
	quotasPub      map[string]*quota.QuotaConfig
	allocQuotasPub map[string]allocator.Quota
	quotasChanged  bool
	// schedule is the maintenance schedule (nil: none), machines the
	// machines in it and their modes, by machineKey, and inverseOffers the
	// outstanding inverse offers (maintenance.go). maintChanged says the
	// snapshots' copies are stale.
	schedule      *maintenance.Schedule
	machines      map[string]*machine
	inverseOffers map[string]*inverseOffer
	// inverseFilters holds, by framework id + "/" + agent id, until when
	// an answered inverse offer is not sent again.
	inverseFilters   map[string]time.Time
	nextInverseOffer int
	maintChanged     bool
	schedulePub      *maintenance.Schedule
	maintStatusPub   *maintenance.ClusterStatus
	inverseOffersPub map[string][]*mesos.InverseOffer
	// operatorEvents is set while the driver has operator subscribers
	// (events.go).
	operatorEvents bool

	nextFramework int
	nextAgent     int
	nextOffer     int
	// operations are the resource operations the master tracks, by
	// uuid (operations.go); nextOperation numbers their uuids.
	operations    map[string]*operation
	nextOperation uint64

	// pingsDue is when the earliest agent ping falls due (zero: at the
	// next tick); checkAgentPings walks the agents only from then.
	pingsDue time.Time

	nextAllocation time.Time
	allocateSoon   bool
	lastHeartbeat  time.Time
	metrics        metrics
	pendingOutputs []Output
	allocationRuns int64

	// changes is what the views show that changed since snap, the last
	// snapshot published (snapshot.go).
	changes changes
	snap    *Snapshot
}

// NewCore returns a master core with the given identity, its clock starting
// at now. Everything it does follows from its inputs (stream and connection
// ids come from the driver), so the same inputs replay the same run.
func NewCore(info *mesos.MasterInfo, opts Options, alloc allocator.Allocator, now time.Time) *Core {
	opts.SetDefaults()
	c := &Core{
		opts:           opts,
		info:           info,
		log:            opts.Logger,
		alloc:          alloc,
		now:            now,
		startTime:      opts.StartTime,
		electedTime:    now,
		leader:         info,
		frameworks:     map[string]*framework{},
		removedFWs:     map[string]bool{},
		streams:        map[string]*framework{},
		agents:         map[string]*agent{},
		agentConns:     map[string]*agent{},
		unreachable:    map[string]time.Time{},
		recovered:      map[string]*mesos.AgentInfo{},
		recoveredState: map[string]agentState{},
		gone:           map[string]time.Time{},
		offers:         map[string]*offer{},
		weights:        map[string]float64{},
		quotas:         map[string]*quota.QuotaConfig{},
		machines:       map[string]*machine{},
		inverseOffers:  map[string]*inverseOffer{},
		inverseFilters: map[string]time.Time{},
	}
	if c.startTime.IsZero() {
		c.startTime = now
	}
	c.nextAllocation = now.Add(opts.AllocationInterval)
	c.lastHeartbeat = now
	c.lastRegistryGC = now
	return c
}

// Info is the master's MasterInfo.
func (c *Core) Info() *mesos.MasterInfo { return c.info }

// SetSuccessor names, in the REGISTERED of every agent from now on, the
// master ("host:port") that the agent should try first should this one's
// stream end: the one expected to take over (the registry store's
// successor). "" names none.
func (c *Core) SetSuccessor(addr string) {
	c.successor = nil
	if addr != "" {
		c.successor = &addr
	}
}

// Follow makes the Core that of a master that does not lead: it shows
// leader as the leading master (nil: none is known) and itself as not
// elected. Such a Core is fed no inputs; its snapshot serves the
// non-leading master's views.
func (c *Core) Follow(leader *mesos.MasterInfo) {
	c.electedTime = time.Time{}
	c.leader = leader
}

// Step feeds one input at time now and returns its synchronous result. The
// outputs it produced are collected with Outputs.
func (c *Core) Step(now time.Time, in Input) Result {
	if now.After(c.now) {
		c.now = now
	}
	var r Result
	switch in := in.(type) {
	case SchedulerCall:
		r = c.schedulerCall(in)
	case StreamClosed:
		c.streamClosed(in.Stream)
		r = ok()
	case AgentSubscribe:
		r = c.agentSubscribe(in)
	case AgentMessage:
		r = c.agentMessage(in)
	case AgentClosed:
		c.agentClosed(in.Conn)
		r = ok()
	case Tick:
		c.tick()
		r = ok()
	case OperatorCall:
		r = c.operatorCall(in)
	default:
		r = fail(Internal, "unknown input %T", in)
	}
	return r
}

// Outputs returns and clears the outputs produced since the last call.
func (c *Core) Outputs() []Output {
	out := c.pendingOutputs
	c.pendingOutputs = nil
	return out
}

func (c *Core) emit(o Output) { c.pendingOutputs = append(c.pendingOutputs, o) }

// sendToFramework queues an event for a framework if it is connected.
// Events for disconnected frameworks are dropped, as Mesos does; reliable
// delivery of status updates comes from the agent's retries.
func (c *Core) sendToFramework(fw *framework, ev *schedpb.Event) {
	if fw == nil || fw.stream == "" {
		return
	}
	c.countEvent(fw, ev.GetType())
	c.emit(SendEvent{Stream: fw.stream, Event: ev})
}

func (c *Core) sendToAgent(a *agent, msg *agentproto.MasterMessage) {
	if a == nil || a.conn == "" {
		return
	}
	c.emit(SendAgent{Conn: a.conn, Msg: msg})
}

func (c *Core) tick() {
	now := c.now
	// Scheduler heartbeats.
	if now.Sub(c.lastHeartbeat) >= c.opts.HeartbeatInterval {
		c.lastHeartbeat = now
		for _, id := range sortedKeys(c.frameworks) {
			c.sendToFramework(c.frameworks[id], &schedpb.Event{Type: schedpb.Event_HEARTBEAT.Enum()})
		}
	}
	c.checkAgentPings()
	c.checkRecoveredAgents()
	c.runRemovals()
	c.checkFailoverTimeouts()
	c.checkOfferTimeouts()
	if now.Sub(c.lastRegistryGC) >= c.opts.RegistryGCInterval {
		c.lastRegistryGC = now
		c.registryGC()
	}
	if c.allocateSoon || !now.Before(c.nextAllocation) {
		c.allocate()
	}
}

func (c *Core) durationSince(t time.Time) time.Duration { return c.now.Sub(t) }

func secs(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func clone[T proto.Message](m T) T { return proto.Clone(m).(T) }
