package sim

import (
	"errors"
	"fmt"
	"time"

	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/resources"
)

// Config describes one simulated run. Zero values take the defaults named
// in the field comments; only Agents must be set.
type Config struct {
	// Seed drives everything random: latencies, faults, task durations and
	// outcomes, status update uuids and the allocator's agent shuffle.
	Seed int64
	// Agents is the number of simulated agents.
	Agents int
	// AgentResources is each agent's --resources text
	// (default "cpus:8;mem:16384;disk:65536"). Scalars only.
	AgentResources string
	// Frameworks is the number of simulated frameworks.
	Frameworks int
	// TasksPerFramework is each framework's workload.
	TasksPerFramework int
	// NoCheckpointShare is the fraction of frameworks (drawn from the seed)
	// that do not checkpoint (FrameworkInfo.checkpoint=false): their tasks
	// do not survive a restart of their agent's process. The others
	// checkpoint.
	NoCheckpointShare float64
	// TaskResources is what each task asks for (default "cpus:1;mem:512").
	// Scalars only.
	TaskResources string
	// Faults are the faults to inject; the zero value injects none.
	Faults FaultConfig
	// ProcessCrashes are agent process crashes at set times, on top of
	// the random faults (for tests of one scenario).
	ProcessCrashes []ProcessCrash
	// MasterFailovers are failovers of the leading master at set virtual
	// times, on top of the random ones (FaultConfig.MasterFailover).
	MasterFailovers []time.Duration
	// QuotaUpdates is, for each virtual second while the workload runs,
	// the probability that the operator sends UPDATE_QUOTA for a role no
	// framework uses (quota.go); 0 sends none.
	QuotaUpdates float64
	// MaxVirtualTime is the time limit (default 30 minutes). When it
	// passes, faults stop, frameworks launch nothing more and the run drains:
	// every task launched must still reach a terminal state within
	// DrainTimeout.
	MaxVirtualTime time.Duration

	// TaskDurationMin and TaskDurationMax bound how long a task runs
	// after TASK_RUNNING (defaults 1s and 30s).
	TaskDurationMin, TaskDurationMax time.Duration
	// FailRatio is the fraction of tasks that end TASK_FAILED instead of
	// TASK_FINISHED.
	FailRatio float64
	// KillRatio is the fraction of tasks a framework kills once it sees
	// them running; a quarter as many more are killed as soon as their
	// launch is accepted, while their executors may still be starting.
	KillRatio float64
	// LatencyMin and LatencyMax bound the one-way latency of a message
	// (defaults 500µs and 5ms).
	LatencyMin, LatencyMax time.Duration
	// AgentStartSpread spreads the agents' first registrations over this
	// long (default 1s).
	AgentStartSpread time.Duration
	// DeclineRefuse is the refuse filter of a framework's declines (default
	// 5s).
	DeclineRefuse time.Duration
	// ReconcileInterval is how often a framework reconciles its tasks that
	// are not terminal yet (default 1 minute); frameworks also reconcile
	// after every re-subscription.
	ReconcileInterval time.Duration
	// DrainTimeout bounds the drain after MaxVirtualTime (default 20
	// minutes).
	DrainTimeout time.Duration
	// TickInterval is how often the master's timers are fed a Tick
	// (default 100ms, the real driver's).
	TickInterval time.Duration
	// Master are the master's options (Mesos's defaults when zero). Logger
	// is ignored: the simulated master logs nothing.
	Master core.Options
	// CheckEvery runs the allocator's CheckInvariants after every
	// CheckEvery-th master step (default 1: every step). It walks all of
	// the allocator's state, so very large runs may check less often. The
	// other invariants are checked at every event regardless.
	CheckEvery int
	// TraceLimit caps Report.Trace: 0 keeps every line, a negative value
	// keeps none. Report.TraceHash always covers the whole trace.
	TraceLimit int
	// FailureTrace is how many of the last trace lines a Failure carries
	// (default 60).
	FailureTrace int
	// AgentCheckInterval is how often the agents are compared with the
	// master while the workload runs (default 10s; negative: only when it
	// ended). See checkAgent.
	AgentCheckInterval time.Duration
	// SettleTimeout bounds how long the agents may take to settle once
	// the workload ended (default 10 minutes). See checkSettled.
	SettleTimeout time.Duration
}

// ProcessCrash is an agent process crash at a set virtual time: agent
// Agent's process dies (or, with Exit, is restarted as on SIGTERM) At, and
// restarts Down later.
type ProcessCrash struct {
	At, Down time.Duration
	Agent    int
	Exit     bool
}

// FaultConfig sets the probability of each kind of fault. All are drawn
// from the run's seed.
type FaultConfig struct {
	// Drop is the probability that a message on an agent link is lost. An
	// agent's POST (a PONG, a status update, a registration) is lost on
	// its own. A record of the master's stream to an agent cannot be lost
	// on its own over HTTP, so a lost one cuts the stream there: the
	// master sees the connection close and the agent re-registers.
	Drop float64
	// Delay is the probability that a message on an agent link is held
	// back by up to MaxDelay (default 5s). Links stay first-in,
	// first-out, so later messages wait behind it.
	Delay    float64
	MaxDelay time.Duration
	// AgentCrash is, for each virtual second, the probability that one
	// agent's machine (chosen by the seed) crashes: its agent core, its
	// containers and its durable store (the checkpoint) are gone (no PONGs, its tasks and unacknowledged
	// updates are lost), half the time with its connection left open, half
	// the time closed. It restarts after RestartMin..RestartMax (defaults
	// 5s and 150s) with a new core, which, without a checkpoint to recover
	// from, registers as a new agent.
	AgentCrash             float64
	RestartMin, RestartMax time.Duration
	// AgentProcessCrash is, for each virtual second, the probability that
	// one agent's process (chosen by the seed) dies, as on kill -9 or an
	// OOM kill, while its machine runs on: the agent core is gone and its
	// connections to the master and to its executors break, but its
	// containers keep running and its durable store (the checkpoint)
	// stays. Executors of checkpointing frameworks retry subscribing
	// every MESOS_SUBSCRIPTION_BACKOFF_MAX, for MESOS_RECOVERY_TIMEOUT;
	// the others shut their tasks down at once. The agent restarts after
	// RestartMin..RestartMax with a new core fed Recover from the store and
	// the containers it finds; the containerizer kills the containers the
	// checkpoint does not know (orphans).
	AgentProcessCrash float64
	// AgentProcessRestart is, for each virtual second, the probability
	// that one agent's process is restarted on purpose (SIGTERM, as for
	// an upgrade): the core is told Exit, which leaves the executors of
	// checkpointing frameworks running and destroys the others, and the
	// process ends; then it goes as after AgentProcessCrash.
	AgentProcessRestart float64
	// LostCheckpoint is the probability that an agent whose process
	// crashed finds its durable store wiped when it restarts (an operator
	// removed it, a disk was replaced): it registers as a new agent and
	// every container it finds is an orphan, killed.
	LostCheckpoint float64
	// CrashMidStep is the probability that an agent's process dies in the
	// middle of a step that changed its checkpoint: right after persisting
	// it, before carrying out anything else of the step (the window the
	// checkpoint-first rule is about). It restarts as after
	// AgentProcessCrash.
	CrashMidStep float64
	// ExecutorStall is the probability that an executor whose agent's
	// process restarts is stalled (stopped, swapped out) for 2 to 10
	// seconds before it tries to subscribe again: longer than the agent's
	// --executor_reregistration_timeout, which then gives up on it.
	ExecutorStall float64
	// ExecutorRecoveryTimeout, when set, replaces the MESOS_RECOVERY_TIMEOUT
	// the agent gives checkpointing executors (15 minutes), so that short
	// runs see executors give up on an agent that stays down.
	ExecutorRecoveryTimeout time.Duration
	// AgentDisconnect is, for each virtual second, the probability that
	// one agent's connection breaks; the agent re-registers with
	// REREGISTER, reporting its tasks.
	AgentDisconnect float64
	// FrameworkDisconnect is, for each virtual second, the probability
	// that one framework's event stream breaks; the framework subscribes
	// again with its id (its failover timeout keeps it alive) and
	// reconciles.
	FrameworkDisconnect float64
	// AgentPartition is, for each virtual second, the probability that one
	// agent is cut off from the master for PartitionMin..PartitionMax
	// (defaults 30s and 180s): everything between them is lost, silently,
	// so each side finds out only by its timeouts. A partition longer than
	// the master's ping timeouts gets the agent removed while its tasks
	// run on; it re-registers when the partition heals.
	AgentPartition             float64
	PartitionMin, PartitionMax time.Duration
	// ExecutorDisconnect is, for each virtual second, the probability that
	// one executor's event stream from its agent breaks; the executor
	// subscribes again, carrying the updates not yet acknowledged.
	ExecutorDisconnect float64
	// ExecutorCrash is, for each virtual second, the probability that one
	// executor's process dies (killed by a signal) with its task.
	ExecutorCrash float64
	// LaunchFail is the probability that a container fails to launch;
	// ExecutorHang that the executor in a container that launched never
	// subscribes (the agent's registration timeout ends it).
	LaunchFail, ExecutorHang float64
	// MasterFailover is, for each virtual second, the probability that
	// the leading master crashes: whatever it had not committed to the
	// registry is lost, every agent connection and framework stream
	// breaks at once, and after ElectionMin..ElectionMax (defaults 300ms
	// and 1s) another master is elected: a new Core (a new master id, a
	// new allocator) recovers the registry, the agents re-register and
	// the frameworks subscribe again with their ids. What agents and
	// frameworks send meanwhile is refused, as a follower refuses it.
	MasterFailover           float64
	ElectionMin, ElectionMax time.Duration
	// RegistryWriteFailure is the probability that committing a Persist
	// of the master fails: its operations are not applied, what the Core
	// said after it is not carried out, and the master fails over as on
	// MasterFailover.
	RegistryWriteFailure float64
}

// any reports whether any fault is configured.
func (f FaultConfig) any() bool {
	return f.Drop > 0 || f.Delay > 0 || f.AgentCrash > 0 || f.AgentProcessCrash > 0 || f.AgentProcessRestart > 0 || f.CrashMidStep > 0 || f.AgentDisconnect > 0 || f.FrameworkDisconnect > 0 ||
		f.AgentPartition > 0 || f.ExecutorDisconnect > 0 || f.ExecutorCrash > 0 || f.LaunchFail > 0 || f.ExecutorHang > 0 ||
		f.MasterFailover > 0 || f.RegistryWriteFailure > 0
}

// DefaultFaults is a moderate mix of every fault, for tests.
func DefaultFaults() FaultConfig {
	return FaultConfig{
		Drop:                0.02,
		Delay:               0.05,
		MaxDelay:            3 * time.Second,
		AgentCrash:          0.02,
		AgentDisconnect:     0.05,
		FrameworkDisconnect: 0.02,
		ExecutorDisconnect:  0.05,
		ExecutorCrash:       0.01,
		LaunchFail:          0.01,
		ExecutorHang:        0.01,
	}
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.AgentResources == "" {
		c.AgentResources = "cpus:8;mem:16384;disk:65536"
	}
	if c.TaskResources == "" {
		c.TaskResources = "cpus:1;mem:512"
	}
	def(&c.MaxVirtualTime, 30*time.Minute)
	def(&c.TaskDurationMin, time.Second)
	def(&c.TaskDurationMax, 30*time.Second)
	def(&c.LatencyMin, 500*time.Microsecond)
	def(&c.LatencyMax, 5*time.Millisecond)
	def(&c.AgentStartSpread, time.Second)
	def(&c.DeclineRefuse, 5*time.Second)
	def(&c.ReconcileInterval, time.Minute)
	def(&c.DrainTimeout, 20*time.Minute)
	def(&c.TickInterval, 100*time.Millisecond)
	def(&c.SettleTimeout, 10*time.Minute)
	if c.AgentCheckInterval == 0 {
		c.AgentCheckInterval = 10 * time.Second
	}
	def(&c.Faults.MaxDelay, 5*time.Second)
	def(&c.Faults.RestartMin, 5*time.Second)
	def(&c.Faults.RestartMax, 150*time.Second)
	def(&c.Faults.PartitionMin, 30*time.Second)
	def(&c.Faults.PartitionMax, 180*time.Second)
	def(&c.Faults.ElectionMin, 300*time.Millisecond)
	def(&c.Faults.ElectionMax, time.Second)
	if c.CheckEvery <= 0 {
		c.CheckEvery = 1
	}
	if c.FailureTrace <= 0 {
		c.FailureTrace = 60
	}
}

func (c *Config) validate() (agentRes, taskRes resources.Resources, err error) {
	if c.Agents <= 0 {
		return nil, nil, errors.New("sim: Agents must be positive")
	}
	if c.Frameworks < 0 || c.TasksPerFramework < 0 {
		return nil, nil, errors.New("sim: Frameworks and TasksPerFramework must not be negative")
	}
	for _, p := range []float64{c.FailRatio, c.KillRatio, c.Faults.Drop, c.Faults.Delay,
		c.Faults.AgentCrash, c.Faults.AgentProcessCrash, c.Faults.AgentProcessRestart, c.Faults.LostCheckpoint, c.Faults.ExecutorStall, c.Faults.CrashMidStep, c.NoCheckpointShare, c.Faults.AgentDisconnect, c.Faults.FrameworkDisconnect, c.Faults.AgentPartition,
		c.Faults.ExecutorDisconnect, c.Faults.ExecutorCrash, c.Faults.LaunchFail, c.Faults.ExecutorHang,
		c.Faults.MasterFailover, c.Faults.RegistryWriteFailure, c.QuotaUpdates} {
		if p < 0 || p > 1 || p != p {
			return nil, nil, fmt.Errorf("sim: probability %v out of [0, 1]", p)
		}
	}
	if c.TaskDurationMax < c.TaskDurationMin || c.LatencyMax < c.LatencyMin || c.Faults.RestartMax < c.Faults.RestartMin ||
		c.Faults.PartitionMax < c.Faults.PartitionMin || c.Faults.ElectionMax < c.Faults.ElectionMin {
		return nil, nil, errors.New("sim: a maximum is below its minimum")
	}
	for _, pc := range c.ProcessCrashes {
		if pc.Agent < 0 || pc.Agent >= c.Agents || pc.At < 0 || pc.Down < 0 {
			return nil, nil, fmt.Errorf("sim: ProcessCrashes: %+v names no agent or a negative time", pc)
		}
	}
	for _, at := range c.MasterFailovers {
		if at < 0 {
			return nil, nil, fmt.Errorf("sim: MasterFailovers: negative time %v", at)
		}
	}
	if agentRes, err = parseScalars(c.AgentResources); err != nil {
		return nil, nil, fmt.Errorf("sim: AgentResources: %w", err)
	}
	if taskRes, err = parseScalars(c.TaskResources); err != nil {
		return nil, nil, fmt.Errorf("sim: TaskResources: %w", err)
	}
	return agentRes, taskRes, nil
}

func parseScalars(text string) (resources.Resources, error) {
	rs, err := resources.Parse(text)
	if err != nil {
		return nil, err
	}
	if rs.IsEmpty() {
		return nil, errors.New("no resources")
	}
	for _, r := range rs {
		if r.Type != resources.TypeScalar {
			return nil, fmt.Errorf("%s: only scalar resources are simulated", r.Name)
		}
	}
	return rs, nil
}
